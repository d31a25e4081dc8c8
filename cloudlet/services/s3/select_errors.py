"""S3 Select's errors: ``SelectError``, the table of codes and texts, and ``MISSING``.

Why one table: which code and text a bad query or object gets is what a client sees,
and the API reference lists them all in one place ("List of SELECT Object Content Error
Codes"); the SQL engine (``select_parse``, ``select_eval``, ...) and the wire side
(``select.py``, ``select_io.py``) raise by code, ``fail("CastFailed")``, and never
spell a text themselves. ``SelectError`` is a ``ServiceError``: raised before the event
stream begins, it answers as an ordinary S3 error document; after, ``select.py`` sends
it as the stream's error message.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError

# Code -> message, from AWS's table (its texts kept even where they read oddly).
MESSAGES = {
    "AmbiguousFieldName": "The field name matches to multiple fields in the file. Check the "
    "SQL expression and the file, and try again.",
    "CastFailed": "An attempt to convert from one data type to another using CAST failed in "
    "the SQL expression.",
    "EvaluatorBindingDoesNotExist": "A column name or a path provided does not exist in the "
    "SQL expression.",
    "EvaluatorInvalidArguments": "There is an incorrect number of arguments in the function "
    "call in the SQL expression.",
    "EvaluatorInvalidTimestampFormatPatternSymbol": "The timestamp format pattern contains a "
    "symbol in the SQL expression that is not valid.",
    "EvaluatorInvalidTimestampFormatPatternToken": "The timestamp format pattern contains a "
    "token in the SQL expression that is not valid.",
    "EvaluatorLikePatternInvalidEscapeSequence": "An argument given to the LIKE expression "
    "was not valid.",
    "EvaluatorNegativeLimit": "LIMIT must not be negative.",
    "EvaluatorUnterminatedTimestampFormatPatternToken": "The timestamp format pattern "
    "contains an unterminated token in the SQL expression.",
    "ExpressionTooLong": "The SQL expression is too long. The maximum byte-length for an SQL "
    "expression is 256 KB.",
    "ExternalEvalException": "The query cannot be evaluated. Check the file and try again.",
    "IllegalSqlFunctionArgument": "An illegal argument was used in the SQL function.",
    "IncorrectSqlFunctionArgumentType": "An incorrect argument type was specified in a "
    "function call in the SQL expression.",
    "IntegerOverflow": "An integer overflow or underflow occurred in the SQL expression.",
    "InvalidColumnIndex": "The column index in the SQL expression is not valid.",
    "InvalidDataType": "The SQL expression contains a data type that is not valid.",
    "InvalidKeyPath": "The key path in the SQL expression is not valid.",
    "LexerInvalidChar": "The SQL expression contains a character that is not valid.",
    "LexerInvalidIONLiteral": "The SQL expression contains an operator that is not valid.",
    "LexerInvalidLiteral": "The SQL expression contains an operator that is not valid.",
    "LexerInvalidOperator": "The SQL expression contains a literal that is not valid.",
    "LikeInvalidInputs": "The argument given to the LIKE clause in the SQL expression is not "
    "valid.",
    "MissingHeaders": "Some headers in the query are missing from the file. Check the file "
    "and try again.",
    "MissingHeaderName": "Some headers in the query are missing from the file. Check the "
    "file and try again.",
    "MultipleDataSourcesUnsupported": "Multiple data sources are not supported.",
    "ParseAsteriskIsNotAloneInSelectList": "Other expressions are not allowed in the SELECT "
    "list when * is used without dot notation in the SQL expression.",
    "ParseCannotMixSqbAndWildcardInSelectList": "Cannot mix [] and * in the same expression "
    "in a SELECT list in the SQL expression.",
    "ParseCastArity": "The SQL expression CAST has incorrect arity.",
    "ParseEmptySelect": "The SQL expression contains an empty SELECT clause.",
    "ParseExpectedArgumentDelimiter": "The expected argument delimiter in the SQL expression "
    "was not found.",
    "ParseExpectedDatePart": "The expected date part in the SQL expression was not found.",
    "ParseExpectedExpression": "The expected SQL expression was not found.",
    "ParseExpectedIdentForAlias": "The expected identifier for the alias in the SQL "
    "expression was not found.",
    "ParseExpectedIdentForGroupName": "GROUP is not supported in the SQL expression.",
    "ParseExpectedKeyword": "The expected keyword in the SQL expression was not found.",
    "ParseExpectedLeftParenAfterCast": "The expected left parenthesis after CAST in the SQL "
    "expression was not found.",
    "ParseExpectedLeftParenValueConstructor": "The expected left parenthesis in the SQL "
    "expression was not found.",
    "ParseExpectedNumber": "The expected number in the SQL expression was not found.",
    "ParseExpectedRightParenBuiltinFunctionCall": "The expected right parenthesis character "
    "in the SQL expression was not found.",
    "ParseExpectedTokenType": "The expected token in the SQL expression was not found.",
    "ParseExpectedTypeName": "The expected type name in the SQL expression was not found.",
    "ParseExpectedWhenClause": "The expected WHEN clause in the SQL expression was not found. "
    "CASE is not supported.",
    "ParseInvalidContextForWildcardInSelectList": "The use of * in the SELECT list in the "
    "SQL expression is not valid.",
    "ParseInvalidPathComponent": "The SQL expression contains a path component that is not valid.",
    "ParseInvalidTypeParam": "The SQL expression contains a parameter value that is not valid.",
    "ParseMalformedJoin": "JOIN is not supported in the SQL expression.",
    "ParseNonUnaryAgregateFunctionCall": "Only one argument is supported for aggregate "
    "functions in the SQL expression.",
    "ParseSelectMissingFrom": "The SQL expression contains a missing FROM after the SELECT list.",
    "ParseUnExpectedKeyword": "The SQL expression contains an unexpected keyword.",
    "ParseUnexpectedToken": "The SQL expression contains an unexpected token.",
    "ParseUnsupportedCallWithStar": "Only COUNT with (*) as a parameter is supported in the "
    "SQL expression.",
    "ParseUnsupportedSelect": "The SQL expression contains an unsupported use of SELECT.",
    "ParseUnsupportedSyntax": "The SQL expression contains unsupported syntax.",
    "UnsupportedFunction": "We encountered an unsupported SQL function.",
    "UnsupportedSqlStructure": "We encountered an unsupported SQL structure. Check the SQL "
    "Reference.",
    "ValueParseFailure": "A timestamp parse failure occurred in the SQL expression.",
    # The wire side's (select.py, select_io.py): the table's texts as MinIO keeps them.
    "CSVParsingError": "Encountered an error parsing the CSV file. Check the file and try again.",
    "InvalidCompressionFormat": "The file is not in a supported compression format. Only GZIP "
    "and BZIP2 are supported.",
    "InvalidExpressionType": "The ExpressionType is invalid. Only SQL expressions are supported.",
    "InvalidFileHeaderInfo": "The FileHeaderInfo is invalid. Only NONE, USE, and IGNORE are "
    "supported.",
    "InvalidJsonType": "The JsonType is invalid. Only DOCUMENT and LINES are supported.",
    "InvalidQuoteFields": "The QuoteFields is invalid. Only ALWAYS and ASNEEDED are supported.",
    "InvalidRequestParameter": "The value of a parameter in SelectRequest element is invalid. "
    "Check the service API documentation and try again.",
    "InvalidTextEncoding": "Invalid encoding type. Only UTF-8 encoding is supported.",
    "JSONParsingError": "Encountered an error parsing the JSON file. Check the file and try again.",
    "MissingRequiredParameter": "The SelectRequest entity is missing a required parameter. "
    "Check the service documentation and try again.",
    "ObjectSerializationConflict": "InputSerialization specifies more than one format (CSV, "
    "JSON, or Parquet), or OutputSerialization specifies more than one format (CSV or JSON). "
    "InputSerialization and OutputSerialization can only specify one format each.",
    "OverMaxRecordSize": "The length of a record in the input or result is greater than "
    "maxCharsPerRecord of 1 MB.",
    "TruncatedInput": "Object decompression failed. Check that the object is properly "
    "compressed using the format specified in the request.",
    "UnrecognizedFormatException": "Encountered an invalid record type.",
    "UnsupportedScanRangeInput": "Scan range queries are not supported on this type of object.",
}


class SelectError(ServiceError):
    """An S3 Select failure: S3's error code and message (HTTP status 400 unless AWS says
    otherwise). A ServiceError, so raised before the event stream starts it renders as
    an ordinary S3 error document."""

    def __init__(self, code: str, message: str | None = None, status: int = 400) -> None:
        super().__init__(code, message if message is not None else MESSAGES[code], status)


def fail(code: str) -> SelectError:
    return SelectError(code)


class _Missing:
    """PartiQL's MISSING: an absent path, distinct from NULL (``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
