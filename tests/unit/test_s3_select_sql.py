"""S3 Select's SQL engine without a server: the dialect, the output names and S3's error codes.

Expected values come from the S3 User Guide's SQL reference examples where it gives them
(date and string functions, JSON FROM paths, header case sensitivity).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from cloudlet.services.s3.select_sql import MISSING, SelectError, compile_query

CSV = [["1", "alice", "30", "NY"], ["2", "Bob", "25", ""], ["3", "carol", "41", "LA"]]
HEADER = ["id", "Name", "age", "city"]


def rows(sql: str, records: list[Any], fmt: str = "CSV", **kw: Any) -> list[list[tuple[str, Any]]]:
    header = kw.pop("columns", None)
    return list(compile_query(sql, fmt, header is not None).run(records, header))


def values(sql: str, records: list[Any] | None = None, fmt: str = "CSV", **kw: Any) -> list[Any]:
    out = rows(sql, records if records is not None else [[]], fmt, **kw)
    return [[v for _, v in row] for row in out]


def one(expr: str) -> Any:
    return values(f"SELECT {expr} FROM S3Object")[0][0]


def error(sql: str, fmt: str = "CSV", header: bool = False) -> str:
    with pytest.raises(SelectError) as info:
        compile_query(sql, fmt, header)
    assert info.value.status == 400
    assert info.value.message
    return info.value.code


def run_error(
    sql: str, records: list[Any], fmt: str = "CSV", columns: list[str] | None = None
) -> str:
    with pytest.raises(SelectError) as info:
        list(compile_query(sql, fmt, columns is not None).run(records, columns))
    return info.value.code


# ---------------------------------------------------------------- SELECT, FROM, WHERE, LIMIT


def test_select_star_csv_positional_names():
    assert rows("SELECT * FROM S3Object", CSV[:1]) == [
        [("_1", "1"), ("_2", "alice"), ("_3", "30"), ("_4", "NY")]
    ]


def test_select_star_csv_header_names():
    out = rows("select * from s3object", CSV[:1], columns=HEADER)
    assert out == [[("id", "1"), ("Name", "alice"), ("age", "30"), ("city", "NY")]]


def test_columns_by_position_alias_and_name():
    sql = "SELECT s._2, _1, s.name AS who, s.\"Name\" FROM S3Object AS s WHERE s.id = '2'"
    assert rows(sql, CSV, columns=HEADER) == [
        [("_2", "Bob"), ("_1", "2"), ("who", "Bob"), ("Name", "Bob")]
    ]


def test_alias_without_as_and_keywords_any_case():
    assert values("sElEcT x._1 FrOm s3OBJECT x wHeRe x._1 = '3'", CSV) == [["3"]]


def test_other_expressions_are_named_by_position():
    out = rows("SELECT UPPER(s._2), s._1 || 'x' AS tag, 7 FROM S3Object s LIMIT 1", CSV)
    assert out == [[("_1", "ALICE"), ("tag", "1x"), ("_3", 7)]]


def test_limit_stops_pulling_records():
    pulled = []

    def source():
        for r in CSV:
            pulled.append(r)
            yield r

    assert values("SELECT _1 FROM S3Object LIMIT 1", source()) == [["1"]]
    assert len(pulled) == 1
    assert values("SELECT _1 FROM S3Object LIMIT 0", CSV) == []
    assert compile_query("SELECT * FROM S3Object LIMIT 5", "CSV").limit == 5


def test_short_csv_rows_give_missing():
    assert values("SELECT _5 FROM S3Object", CSV[:1]) == [[MISSING]]


def test_json_paths_and_output_names():
    doc = {
        "name": "Susan Smith",
        "org": "engineering",
        "projects": [{"project_name": "project1"}, {"project_name": "project2"}],
    }
    assert rows("Select s.projects[0].project_name from S3Object s", [doc], "JSON") == [
        [("project_name", "project1")]
    ]
    assert values("SELECT s.projects[5], s.nope.deeper FROM S3Object s", [doc], "JSON") == [
        [MISSING, MISSING]
    ]
    assert rows("SELECT s.name FROM S3Object s", [{"NAME": "x"}], "JSON") == [[("name", "x")]]


def test_json_star_and_non_object_records():
    assert rows("SELECT * FROM S3Object", [{"a": 1, "b": [2]}, 5], "JSON") == [
        [("a", 1), ("b", [2])],
        [("_1", 5)],
    ]


def test_alias_dot_star():
    assert rows("SELECT s.* FROM S3Object s", [{"a": 1}], "JSON") == [[("a", 1)]]
    assert rows("SELECT s.* FROM S3Object s", CSV[:1])[0][0] == ("_1", "1")


def test_from_path_wildcards_emit_missing():
    data = [
        {"Rules": [{"id": "1"}, {"expr": "y > x"}, {"id": "2", "expr": "z = DEBUG"}]},
        {"created": "June 27", "modified": "July 6"},
    ]
    assert rows("SELECT id FROM S3Object[*].Rules[*].id", data, "JSON") == [
        [("id", "1")],
        [("id", MISSING)],
        [("id", "2")],
        [("id", MISSING)],
    ]
    sql = "SELECT id FROM S3Object[*].Rules[*].id WHERE id IS NOT MISSING"
    assert values(sql, data, "JSON") == [["1"], ["2"]]
    assert values("SELECT _1.created FROM S3Object[*]", data, "JSON") == [[MISSING], ["June 27"]]
    assert values("SELECT r.id FROM S3Object[*].Rules[*] r", data[:1], "JSON") == [
        ["1"],
        [MISSING],
        ["2"],
    ]


def test_quoted_names_are_case_sensitive_unquoted_are_not():
    assert values('SELECT s."NAME" FROM S3Object s', [{"NAME": 1}], "JSON") == [[1]]
    assert values('SELECT s."name" FROM S3Object s', [{"NAME": 1}], "JSON") == [[MISSING]]
    assert run_error('SELECT s."name" FROM S3Object s', [["x"]], columns=["NAME"]) == (
        "MissingHeaderName"
    )
    assert run_error("SELECT s.name FROM S3Object s", [{"NAME": 1, "name": 2}], "JSON") == (
        "AmbiguousFieldName"
    )
    assert values('SELECT s."NAME" FROM S3Object s', [{"NAME": 1, "name": 2}], "JSON") == [[1]]
    assert run_error("SELECT s.name FROM S3Object s", [["x", "y"]], columns=["NAME", "name"]) == (
        "AmbiguousFieldName"
    )
    assert values('SELECT s."CAST" FROM S3Object s', [{"CAST": 1}], "JSON") == [[1]]
    assert error("SELECT s.at FROM S3Object s", "JSON") == "ParseInvalidPathComponent"  # reserved


def test_unknown_header_is_missing_headers():
    assert run_error("SELECT s.nope FROM S3Object s", CSV, columns=HEADER) == "MissingHeaders"


# ---------------------------------------------------------------- literals and operators


def test_literals():
    assert one("'it''s'") == "it's"
    assert one("42") == 42 and one("-7") == -7
    assert one("1.50") == Decimal("1.50")
    assert one("1e3") == 1000.0
    assert one("TRUE") is True and one("false") is False
    assert one("NULL") is None and one("MISSING") is MISSING
    assert one("`2007-02-23T12:14:33.079-08:00`") == datetime(
        2007, 2, 23, 12, 14, 33, 79000, timezone(-timedelta(hours=8))
    )
    assert one("`2007T`") == datetime(2007, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("1.5 + 1", Decimal("2.5")),
        ("1e0 + 1.5", 2.5),
        ("- (2 - 5)", 3),
        ("'a' || 'b' || 'c'", "abc"),
        ("'5' + 1", 6),
        ("1 = 1.0", True),
        ("1 <> 2", True),
        ("1 != 1", False),
        ("2 >= 2 AND 3 > 2", True),
        ("'10' > 9", True),
        ("'abc' = 1", False),
        ("1 < 2 = true", True),
        ("NOT 1 = 2", True),
        ("1 = NULL", None),
        ("NULL AND FALSE", False),
        ("NULL OR TRUE", True),
        ("NULL AND TRUE", None),
        ("NOT NULL", None),
        ("MISSING IS NULL", True),
        ("NULL IS MISSING", False),
        ("MISSING IS MISSING", True),
        ("1 IS NOT NULL", True),
        ("2 BETWEEN 1 AND 3", True),
        ("5 NOT BETWEEN 1 AND 3", True),
        ("'b' IN ('a', 'b')", True),
        ("3 IN (1, 2)", False),
        ("3 IN (1, NULL)", None),
        ("3 NOT IN (1, 2)", True),
        ("'abc' LIKE 'a%'", True),
        ("'abc' LIKE '_b_'", True),
        ("'abc' NOT LIKE 'b%'", True),
        ("'a%c' LIKE 'a!%c' ESCAPE '!'", True),
        ("'abc' LIKE 'a!%c' ESCAPE '!'", False),
        ("`2010T` < `2011T`", True),
        ("'2010-01-01T' < `2011T`", True),
        ("TRUE = 1", False),
    ],
)
def test_operators(expr: str, expected: Any):
    got = one(expr)
    assert got == expected and type(got) is type(expected)


def test_csv_strings_compare_as_strings_and_meet_numbers_as_numbers():
    assert values("SELECT _1 FROM S3Object WHERE _3 >= '4'", CSV) == [["3"]]  # string order
    assert values("SELECT _1 FROM S3Object WHERE _3 > 26", CSV) == [["1"], ["3"]]
    assert values("SELECT _1 FROM S3Object WHERE _4 = ''", CSV) == [["2"]]


def test_where_keeps_only_true():
    assert values("SELECT _1 FROM S3Object WHERE _2 > 5", CSV) == []  # 'alice' vs 5: no order
    assert values("SELECT s.a FROM S3Object s WHERE s.b", [{"a": 1, "b": "x"}], "JSON") == []


def test_integer_overflow():
    assert run_error("SELECT 9223372036854775807 + 1 FROM S3Object", [[]]) == "IntegerOverflow"


def test_division_by_zero_fails():
    assert run_error("SELECT 1 / 0 FROM S3Object", [[]]) == "ExternalEvalException"


# ---------------------------------------------------------------- CAST


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("CAST('12' AS INT)", 12),
        ("CAST(' 12 ' AS INTEGER)", 12),
        ("CAST('12.9' AS INT)", 12),
        ("CAST(12.9 AS INT)", 12),
        ("CAST(-2.5e0 AS INT)", -2),
        ("CAST('1.25' AS FLOAT)", 1.25),
        ("CAST('1.25' AS DECIMAL)", Decimal("1.25")),
        ("CAST('1.25' AS NUMERIC(10, 2))", Decimal("1.25")),
        ("CAST(5 AS STRING)", "5"),
        ("CAST(TRUE AS STRING)", "true"),
        ("CAST('true' AS BOOL)", True),
        ("CAST('FALSE' AS BOOLEAN)", False),
        ("CAST(0 AS BOOL)", False),
        ("CAST('2007-04-05T14:30Z' AS TIMESTAMP)", datetime(2007, 4, 5, 14, 30, tzinfo=UTC)),
        ("CAST(NULL AS INT)", None),
    ],
)
def test_cast(expr: str, expected: Any):
    got = one(expr)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "expr",
    [
        "CAST('abc' AS INT)",
        "CAST('x' AS FLOAT)",
        "CAST('maybe' AS BOOL)",
        "CAST('2007' AS TIMESTAMP)",
    ],
)
def test_cast_failures(expr: str):
    assert run_error(f"SELECT {expr} FROM S3Object", [[]]) == "CastFailed"


def test_cast_on_csv_filters():
    sql = "SELECT * FROM S3Object s WHERE CAST(s._3 AS INT) > 26"
    assert [r[0][1] for r in rows(sql, CSV)] == ["1", "3"]
    assert run_error("SELECT CAST(s._2 AS INT) FROM S3Object s", CSV) == "CastFailed"


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("CHAR_LENGTH('')", 0),
        ("CHARACTER_LENGTH('abcdefg')", 7),
        ("LOWER('AbCdEfG!@#$')", "abcdefg!@#$"),
        ("UPPER('AbCdEfG!@#$')", "ABCDEFG!@#$"),
        ("SUBSTRING('123456789', 0)", "123456789"),
        ("SUBSTRING('123456789', 2)", "23456789"),
        ("SUBSTRING('123456789', -4)", "123456789"),
        ("SUBSTRING('123456789', 0, 999)", "123456789"),
        ("SUBSTRING('123456789', 1, 5)", "12345"),
        ("SUBSTRING('123456789' FROM 2 FOR 3)", "234"),
        ("TRIM('       foobar         ')", "foobar"),
        ("TRIM('      \tfoobar\t         ')", "\tfoobar\t"),
        ("TRIM(LEADING FROM '       foobar         ')", "foobar         "),
        ("TRIM(TRAILING FROM '       foobar         ')", "       foobar"),
        ("TRIM(BOTH FROM '       foobar         ')", "foobar"),
        ("TRIM(BOTH '12' FROM '1112211foobar22211122')", "foobar"),
        ("TRIM('x' FROM 'xxaxx')", "a"),
        ("COALESCE(NULL, MISSING, 3)", 3),
        ("COALESCE(NULL)", None),
        ("NULLIF(1, 1)", None),
        ("NULLIF(1, 2)", 1),
        ("CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END", "b"),
        ("CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END", "two"),
        ("CASE 9 WHEN 1 THEN 'one' ELSE 'many' END", "many"),
        ("CASE WHEN FALSE THEN 1 END", None),
        ("UPPER(NULL)", None),
    ],
)
def test_string_and_conditional_functions(expr: str, expected: Any):
    assert one(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("DATE_ADD(year, 5, `2010-01-01T`)", datetime(2015, 1, 1, tzinfo=UTC)),
        ("DATE_ADD(month, 13, `2010T`)", datetime(2011, 2, 1, tzinfo=UTC)),
        ("DATE_ADD(day, -1, `2017-01-10T`)", datetime(2017, 1, 9, tzinfo=UTC)),
        ("DATE_ADD(hour, 1, `2017-01-02T03:04Z`)", datetime(2017, 1, 2, 4, 4, tzinfo=UTC)),
        (
            "DATE_ADD(second, 1, `2017-01-02T03:04:05.006Z`)",
            datetime(2017, 1, 2, 3, 4, 6, 6000, tzinfo=UTC),
        ),
        ("DATE_ADD(month, 1, `2011-01-31T`)", datetime(2011, 2, 28, tzinfo=UTC)),
        ("DATE_DIFF(year, `2010-01-01T`, `2011-01-01T`)", 1),
        ("DATE_DIFF(month, `2010T`, `2011T`)", 12),
        ("DATE_DIFF(month, `2011T`, `2010T`)", -12),
        ("DATE_DIFF(day, `2010-01-01T23:00Z`, `2010-01-02T01:00Z`)", 0),
        ("EXTRACT(YEAR FROM `2010-01-01T`)", 2010),
        ("EXTRACT(MONTH FROM `2010-10T`)", 10),
        ("EXTRACT(HOUR FROM `2017-01-02T03:04:05+07:08`)", 3),
        ("EXTRACT(MINUTE FROM `2017-01-02T03:04:05+07:08`)", 4),
        ("EXTRACT(TIMEZONE_HOUR FROM `2017-01-02T03:04:05+07:08`)", 7),
        ("EXTRACT(TIMEZONE_MINUTE FROM `2017-01-02T03:04:05+07:08`)", 8),
        ("TO_STRING(`1969-07-20T20:18Z`, 'MMMM d, y')", "July 20, 1969"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'MMM d, yyyy')", "Jul 20, 1969"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'M-d-yy')", "7-20-69"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'MM-d-y')", "07-20-1969"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'MMMM d, y h:m a')", "July 20, 1969 8:18 PM"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'y-MM-dd''T''H:m:ssX')", "1969-07-20T20:18:00Z"),
        (
            "TO_STRING(`1969-07-20T20:18+08:00`, 'y-MM-dd''T''H:m:ssXXXX')",
            "1969-07-20T20:18:00+0800",
        ),
        (
            "TO_STRING(`1969-07-20T20:18+08:00`, 'y-MM-dd''T''H:m:ssXXXXX')",
            "1969-07-20T20:18:00+08:00",
        ),
        ("TO_TIMESTAMP('2007T')", datetime(2007, 1, 1, tzinfo=UTC)),
        (
            "TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00')",
            datetime(2007, 2, 23, 20, 14, 33, 79000, tzinfo=UTC),
        ),
    ],
)
def test_date_functions(expr: str, expected: Any):
    assert one(expr) == expected


def test_utcnow_is_an_aware_timestamp():
    now = one("UTCNOW()")
    assert isinstance(now, datetime) and now.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("TO_STRING(`2010T`, 'yyyy q')", "EvaluatorInvalidTimestampFormatPatternSymbol"),
        ("TO_STRING(`2010T`, 'yyyy ''T')", "EvaluatorUnterminatedTimestampFormatPatternToken"),
        ("TO_STRING(`2010T`, 'MMMMMMM')", "EvaluatorInvalidTimestampFormatPatternToken"),
    ],
)
def test_timestamp_pattern_errors(expr: str, code: str):
    assert run_error(f"SELECT {expr} FROM S3Object", [[]]) == code


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("TO_TIMESTAMP('yesterday')", "ValueParseFailure"),
        ("UPPER(5)", "IncorrectSqlFunctionArgumentType"),
        ("SUBSTRING('abc', 1, -1)", "IllegalSqlFunctionArgument"),
        ("'a' LIKE 'a' ESCAPE 'xy'", "LikeInvalidInputs"),
        ("'a' LIKE 'a!' ESCAPE '!'", "EvaluatorLikePatternInvalidEscapeSequence"),
    ],
)
def test_function_evaluation_errors(expr: str, code: str):
    assert run_error(f"SELECT {expr} FROM S3Object", [[]]) == code


# ---------------------------------------------------------------- aggregates


def test_aggregates_over_csv():
    q = compile_query(
        "SELECT COUNT(*), COUNT(s._4), SUM(CAST(s._3 AS INT)), AVG(s._3), MIN(s._2), "
        "MAX(s._2) FROM S3Object s",
        "CSV",
    )
    assert q.is_aggregate
    assert [v for _, v in next(iter(q.run(CSV)))] == [3, 3, 96, Decimal(32), "Bob", "carol"]


def test_aggregates_skip_null_and_missing_and_empty_input():
    data = [{"a": 1}, {"a": None}, {}, {"a": 2.5}]
    assert values(
        "SELECT COUNT(s.a), SUM(s.a), MIN(s.a), MAX(s.a) FROM S3Object s", data, "JSON"
    ) == [[2, 3.5, 1, 2.5]]
    assert values("SELECT COUNT(*), SUM(s.a), AVG(s.a) FROM S3Object s", [], "JSON") == [
        [0, None, None]
    ]


def test_aggregate_expressions_and_where():
    sql = "SELECT COUNT(*) + 1 AS n, SUM(s._1) / COUNT(*) FROM S3Object s WHERE s._4 <> ''"
    assert rows(sql, CSV) == [[("n", 3), ("_2", 2)]]


def test_aggregate_on_non_numbers_fails():
    assert run_error("SELECT SUM(s._2) FROM S3Object s", CSV) == "IncorrectSqlFunctionArgumentType"


# ---------------------------------------------------------------- errors S3 raises before reading


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM S3Object WHERE", "ParseExpectedExpression"),
        ("SELECT * FROM S3Object WHERE _1 = ", "ParseExpectedExpression"),
        ("SELECT *", "ParseSelectMissingFrom"),
        ("SELECT _1 WHERE _1 = 1", "ParseSelectMissingFrom"),
        ("SELECT FROM S3Object", "ParseEmptySelect"),
        ("SELECT * FROM S3Object extra junk", "ParseUnexpectedToken"),
        ("SELECT * FROM S3Object WHERE _1 = 1)", "ParseUnexpectedToken"),
        ("SELECT _0 FROM S3Object", "InvalidColumnIndex"),
        ("SELECT s._0 FROM S3Object s", "InvalidColumnIndex"),
        ("SELECT s.name FROM S3Object s", "MissingHeaders"),
        ("SELECT FOO(_1) FROM S3Object", "UnsupportedFunction"),
        ("SELECT POSITION('a', _1) FROM S3Object", "UnsupportedFunction"),
        ("SELECT * FROM S3Object GROUP BY _1", "ParseExpectedIdentForGroupName"),
        ("SELECT * FROM S3Object ORDER BY _1", "ParseUnsupportedSyntax"),
        ("SELECT * FROM S3Object WHERE _1 = '1' HAVING _1", "ParseUnsupportedSyntax"),
        ("SELECT * FROM S3Object s JOIN S3Object t", "ParseMalformedJoin"),
        ("SELECT * FROM S3Object s, S3Object t", "MultipleDataSourcesUnsupported"),
        ("SELECT * FROM (SELECT * FROM S3Object)", "ParseUnsupportedSelect"),
        ("SELECT * FROM S3Object WHERE _1 IN (SELECT _1 FROM S3Object)", "ParseUnsupportedSelect"),
        ("SELECT DISTINCT _1 FROM S3Object", "ParseUnsupportedSyntax"),
        ("UPDATE S3Object SET x = 1", "ParseUnsupportedSyntax"),
        ("SELECT * FROM S3Object LIMIT -1", "EvaluatorNegativeLimit"),
        ("SELECT * FROM S3Object LIMIT x", "ParseExpectedNumber"),
        ("SELECT *, _1 FROM S3Object", "ParseAsteriskIsNotAloneInSelectList"),
        ("SELECT COUNT(*), _1 FROM S3Object", "UnsupportedSqlStructure"),
        ("SELECT _1 FROM S3Object WHERE COUNT(*) > 1", "UnsupportedSqlStructure"),
        ("SELECT SUM(COUNT(*)) FROM S3Object", "UnsupportedSqlStructure"),
        ("SELECT SUM(*) FROM S3Object", "ParseUnsupportedCallWithStar"),
        ("SELECT SUM(_1, _2) FROM S3Object", "ParseNonUnaryAgregateFunctionCall"),
        ("SELECT COUNT() FROM S3Object", "ParseNonUnaryAgregateFunctionCall"),
        ("SELECT UPPER(_1, _2) FROM S3Object", "EvaluatorInvalidArguments"),
        ("SELECT UTCNOW(1) FROM S3Object", "EvaluatorInvalidArguments"),
        ("SELECT COALESCE() FROM S3Object", "EvaluatorInvalidArguments"),
        ("SELECT DATE_ADD(year, 1) FROM S3Object", "EvaluatorInvalidArguments"),
        ("SELECT DATE_ADD(week, 1, `2010T`) FROM S3Object", "ParseExpectedDatePart"),
        ("SELECT EXTRACT(YEAR `2010T`) FROM S3Object", "ParseExpectedKeyword"),
        ("SELECT UPPER(_1 FROM S3Object", "ParseExpectedArgumentDelimiter"),
        ("SELECT UPPER(_1", "ParseExpectedRightParenBuiltinFunctionCall"),
        ("SELECT CAST _1 AS INT FROM S3Object", "ParseExpectedLeftParenAfterCast"),
        ("SELECT CAST(_1, INT) FROM S3Object", "ParseCastArity"),
        ("SELECT CAST(_1 INT) FROM S3Object", "ParseExpectedKeyword"),
        ("SELECT CAST(_1 AS WIDGET) FROM S3Object", "ParseExpectedTypeName"),
        ("SELECT CAST(_1 AS VARCHAR) FROM S3Object", "InvalidDataType"),
        ("SELECT CASE END FROM S3Object", "ParseExpectedWhenClause"),
        ("SELECT CASE WHEN 1 = 1 THEN 2 FROM S3Object", "ParseExpectedKeyword"),
        ("SELECT _1 AS FROM S3Object", "ParseExpectedIdentForAlias"),
        ("SELECT _1 AS 5 FROM S3Object", "ParseExpectedIdentForAlias"),
        ("SELECT s.cast FROM S3Object s", "ParseInvalidPathComponent"),
        ("SELECT s.a[_1] FROM S3Object s", "ParseInvalidPathComponent"),
        ("SELECT * FROM S3Object WHERE value = 1", "ParseUnExpectedKeyword"),
        ("SELECT 'abc FROM S3Object", "LexerInvalidLiteral"),
        ("SELECT _1 FROM S3Object WHERE _1 # 2", "LexerInvalidChar"),
        ("SELECT _1 FROM S3Object WHERE _1 ! 2", "LexerInvalidOperator"),
        ("SELECT `not a timestamp` FROM S3Object", "LexerInvalidIONLiteral"),
        ("SELECT * FROM Elsewhere", "EvaluatorBindingDoesNotExist"),
        ("SELECT * FROM S3Object[*].a", "InvalidKeyPath"),
        ("SELECT _1 FROM S3Object WHERE _1 IS 5", "ParseUnexpectedToken"),
        ("SELECT * FROM S3Object WHERE _1 LIKE 'a' ESCAPE 'ab'", "LikeInvalidInputs"),
        (
            "SELECT * FROM S3Object WHERE _1 LIKE 'a!' ESCAPE '!'",
            "EvaluatorLikePatternInvalidEscapeSequence",
        ),
    ],
)
def test_compile_errors(sql: str, code: str):
    assert error(sql) == code


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT s.a[*] FROM S3Object s", "ParseCannotMixSqbAndWildcardInSelectList"),
        ("SELECT s.a.*.b FROM S3Object s", "ParseInvalidContextForWildcardInSelectList"),
        ("SELECT * FROM S3Object s WHERE s.a[*] = 1", "ParseUnsupportedSyntax"),
        ("SELECT * FROM S3Object.a", "InvalidKeyPath"),
        ("SELECT COUNT(*), s.* FROM S3Object s", "UnsupportedSqlStructure"),
    ],
)
def test_json_compile_errors(sql: str, code: str):
    assert error(sql, "JSON") == code


def test_expression_too_long():
    sql = "SELECT * FROM S3Object WHERE _1 = '" + "x" * (256 * 1024) + "'"
    assert error(sql) == "ExpressionTooLong"


def test_names_need_a_header_but_positions_do_not():
    assert compile_query("SELECT s.name FROM S3Object s", "CSV", header=True)
    assert compile_query("SELECT s.name FROM S3Object s", "JSON")
    assert compile_query("SELECT s.name FROM S3Object s", "Parquet")


def test_parquet_records_and_timestamps():
    ts = datetime(2024, 5, 1, 12, tzinfo=UTC)
    data = [{"id": 1, "ts": ts, "price": Decimal("9.50")}]
    sql = "SELECT s.id, EXTRACT(YEAR FROM s.ts) AS y FROM S3Object s WHERE s.price > 9"
    assert rows(sql, data, "Parquet") == [[("id", 1), ("y", 2024)]]
