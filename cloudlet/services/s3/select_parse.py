"""S3 Select's SQL text to a syntax tree, refusing what S3 refuses before it reads data.

S3 Select speaks a small PartiQL dialect with its own error codes (the API reference's
"List of SELECT Object Content Error Codes"); which code a bad query gets is what clients
see, so the lexer and the recursive-descent parser raise those codes at the point AWS's
parser would. The tree is plain tuples-with-names (``Node``); ``select_eval`` turns it
into closures. ``SelectError``, its messages and ``MISSING`` are ``select_errors``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudlet.services.s3.select_errors import MISSING, fail

MAX_EXPRESSION_BYTES = 256 * 1024


# The reserved words of the S3 Select reference: unquoted, none names a column.
RESERVED = frozenset(
    """absolute action add all allocate alter and any are as asc assertion at authorization
    avg bag begin between bit bit_length blob bool boolean both by cascade cascaded case cast
    catalog char char_length character character_length check clob close coalesce collate
    collation column commit connect connection constraint constraints continue convert
    corresponding count create cross current current_date current_time current_timestamp
    current_user cursor date day deallocate dec decimal declare default deferrable deferred
    delete desc describe descriptor diagnostics disconnect distinct domain double drop else
    end end-exec escape except exception exec execute exists external extract false fetch
    first float for foreign found from full get global go goto grant group having hour
    identity immediate in indicator initially inner input insensitive insert int integer
    intersect interval into is isolation join key language last leading left level like
    limit list local lower match max min minute missing module month names national natural
    nchar next no not null nullif numeric octet_length of on only open option or order outer
    output overlaps pad partial pivot position precision prepare preserve primary prior
    privileges procedure public read real references relative restrict revoke right rollback
    rows schema scroll second section select session session_user set sexp size smallint
    some space sql sqlcode sqlerror sqlstate string struct substring sum symbol system_user
    table temporary then time timestamp timezone_hour timezone_minute to trailing
    transaction translate translation trim true tuple union unique unknown unpivot update
    upper usage user using value values varchar varying view when whenever where with work
    write year zone""".split()
)
# Words that end an expression: seeing one where an expression should start means none was.
_CLAUSE_WORDS = frozenset(
    "from where limit group order having and or as by then when else end union intersect "
    "except join inner left right cross full outer on escape for".split()
)
AGGREGATES = frozenset({"avg", "count", "max", "min", "sum"})
DATE_PARTS = ("year", "month", "day", "hour", "minute", "second")
EXTRACT_PARTS = (*DATE_PARTS, "timezone_hour", "timezone_minute")
# name -> (min args, max args); None max = any.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "char_length": (1, 1),
    "character_length": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "coalesce": (1, None),
    "nullif": (2, 2),
    "to_string": (2, 2),
    "to_timestamp": (1, 1),
    "utcnow": (0, 0),
    "date_add": (3, 3),
    "date_diff": (3, 3),
    "substring": (2, 3),
}
# CAST target names S3 documents, and SQL type names it knows but refuses.
CAST_TYPES = {
    "bool": "bool",
    "boolean": "bool",
    "int": "int",
    "integer": "int",
    "string": "string",
    "float": "float",
    "decimal": "decimal",
    "numeric": "decimal",
    "timestamp": "timestamp",
}
_REFUSED_TYPES = frozenset(
    "varchar char character smallint real double dec date time blob clob bit list bag "
    "struct tuple symbol sexp interval".split()
)


@dataclass
class Node:
    """One syntax-tree node: ``kind`` names it, ``args`` hold children or values."""

    kind: str
    args: tuple[Any, ...] = ()


@dataclass
class PathStep:
    kind: str  # "name" | "index" | "wild" (``[*]``) | "star" (``.*``)
    value: Any = None
    quoted: bool = False


@dataclass
class SelectItem:
    expr: Node | None  # None: the lone ``*``
    alias: str | None = None
    star_path: Node | None = None  # ``alias.*`` / ``path.*``


@dataclass
class Statement:
    items: list[SelectItem]
    from_steps: list[PathStep] = field(default_factory=list)
    from_wild: bool = False  # ``S3Object[*]``
    alias: str | None = None
    alias_quoted: bool = False
    where: Node | None = None
    limit: int | None = None


# ---------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*|/\*.*?\*/)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<str>'(?:[^']|'')*')
    |(?P<qid>"(?:[^"]|"")*")
    |(?P<ion>`[^`]*`)
    |(?P<id>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<op><>|!=|<=|>=|\|\||[-+*/%=<>(),.\[\]])""",
    re.X | re.S,
)


@dataclass
class Token:
    kind: str  # num str qid ion id op eof
    text: str
    value: Any = None

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "id" else ""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise fail(_bad_char_code(text[pos]))
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "ws":
            continue
        tokens.append(_token(kind, raw))
    tokens.append(Token("eof", ""))
    return tokens


def _bad_char_code(ch: str) -> str:
    if ch in "'\"`":
        return "LexerInvalidLiteral"
    if ch in "!|&^~":
        return "LexerInvalidOperator"
    return "LexerInvalidChar"


def _token(kind: str, raw: str) -> Token:
    if kind == "num":
        return Token("num", raw, _number(raw))
    if kind == "str":
        return Token("str", raw, raw[1:-1].replace("''", "'"))
    if kind == "qid":
        return Token("qid", raw, raw[1:-1].replace('""', '"'))
    if kind == "ion":
        return Token("ion", raw, raw[1:-1].strip())
    return Token(kind, raw)


def _number(raw: str) -> int | Decimal | float:
    if "e" in raw or "E" in raw:
        return float(raw)
    if "." in raw:
        return Decimal(raw)
    return int(raw)


# ---------------------------------------------------------------- parser


class Parser:
    """Recursive descent over the token list; one method per grammar level."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.in_select = False

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "id" and self.tok.word in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_op(self, op: str, code: str) -> None:
        if not self.at_op(op):
            raise fail(code)
        self.advance()

    def expect_word(self, word: str, code: str = "ParseExpectedKeyword") -> None:
        if not self.at_word(word):
            raise fail(code)
        self.advance()

    # -- statement
    def statement(self) -> Statement:
        if not self.at_word("select"):
            raise fail(
                "ParseUnsupportedSyntax" if self.tok.kind == "id" else "ParseUnexpectedToken"
            )
        self.advance()
        items = self.select_list()
        stmt = Statement(items)
        self.from_clause(stmt)
        self.tail(stmt)
        return stmt

    def select_list(self) -> list[SelectItem]:
        if self.at_word("from"):
            raise fail("ParseEmptySelect")
        if self.tok.kind == "eof":
            raise fail("ParseSelectMissingFrom")
        if self.at_word("distinct", "all", "value"):
            raise fail("ParseUnsupportedSyntax")
        items: list[SelectItem] = []
        while True:
            items.append(self.select_item())
            if self.at_op(","):
                self.advance()
                continue
            break
        if len(items) > 1 and any(it.expr is None and it.star_path is None for it in items):
            raise fail("ParseAsteriskIsNotAloneInSelectList")
        if not self.at_word("from"):
            if self.tok.kind in ("eof", "id"):
                raise fail("ParseSelectMissingFrom")
            raise fail("ParseUnexpectedToken")
        self.advance()
        return items

    def select_item(self) -> SelectItem:
        if self.at_op("*"):
            self.advance()
            return SelectItem(None)
        self.in_select = True
        expr = self.expr()
        self.in_select = False
        if expr.kind == "path" and expr.args[1] and expr.args[1][-1].kind == "star":
            return SelectItem(None, star_path=Node("path", (expr.args[0], expr.args[1][:-1])))
        return SelectItem(expr, self.alias_opt())

    def alias_opt(self) -> str | None:
        if self.at_word("as"):
            self.advance()
            if self.tok.kind == "qid" or (self.tok.kind == "id" and self.tok.word not in RESERVED):
                t = self.advance()
                return t.value if t.kind == "qid" else t.text
            raise fail("ParseExpectedIdentForAlias")
        if self.tok.kind == "qid":
            return self.advance().value
        if self.tok.kind == "id" and self.tok.word not in RESERVED:
            return self.advance().text
        return None

    def from_clause(self, stmt: Statement) -> None:
        if self.at_op("(") or self.at_word("select"):
            raise fail("ParseUnsupportedSelect")
        if self.tok.kind not in ("id", "qid"):
            raise fail(
                "ParseExpectedExpression" if self.tok.kind == "eof" else "ParseUnexpectedToken"
            )
        if self.advance().text.lower() != "s3object":
            raise fail("EvaluatorBindingDoesNotExist")
        if self.at_op("[") and self.peek().text == "*" and self.peek(2).text == "]":
            self.i += 3
            stmt.from_wild = True
            stmt.from_steps = self.from_path()
        elif self.at_op(".", "["):
            raise fail("InvalidKeyPath")
        alias = self.alias_opt()
        if alias is not None:
            stmt.alias, stmt.alias_quoted = alias, self.tokens[self.i - 1].kind == "qid"
        if self.at_op(","):
            raise fail("MultipleDataSourcesUnsupported")
        if self.at_word("join", "inner", "left", "right", "cross", "full", "outer", "natural"):
            raise fail("ParseMalformedJoin")

    def from_path(self) -> list[PathStep]:
        steps: list[PathStep] = []
        while self.at_op(".", "["):
            steps.append(self.path_step(in_from=True))
        return steps

    def tail(self, stmt: Statement) -> None:
        if self.at_word("where"):
            self.advance()
            stmt.where = self.expr()
        self.refuse_clauses()
        if self.at_word("limit"):
            self.advance()
            stmt.limit = self.limit_value()
        self.refuse_clauses()
        if self.tok.kind != "eof":
            raise fail("ParseUnexpectedToken")

    def refuse_clauses(self) -> None:
        if self.at_word("group"):
            raise fail("ParseExpectedIdentForGroupName")
        if self.at_word("order", "having", "union", "intersect", "except", "pivot", "unpivot"):
            raise fail("ParseUnsupportedSyntax")
        if self.at_word("join", "inner", "left", "right", "cross", "full", "outer"):
            raise fail("ParseMalformedJoin")

    def limit_value(self) -> int:
        if self.at_op("-") and self.peek().kind == "num":
            raise fail("EvaluatorNegativeLimit")
        if self.tok.kind != "num" or type(self.tok.value) is not int:
            raise fail("ParseExpectedNumber")
        return self.advance().value

    # -- expressions, loosest first
    def expr(self) -> Node:
        left = self.and_expr()
        while self.at_word("or"):
            self.advance()
            left = Node("or", (left, self.and_expr()))
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.at_word("and"):
            self.advance()
            left = Node("and", (left, self.not_expr()))
        return left

    def not_expr(self) -> Node:
        if self.at_word("not"):
            self.advance()
            return Node("not", (self.not_expr(),))
        return self.predicate()

    def predicate(self) -> Node:
        left = self.concat()
        while True:
            if self.at_op("=", "<>", "!=", "<", "<=", ">", ">="):
                op = self.advance().text
                left = Node("cmp", ("<>" if op == "!=" else op, left, self.concat()))
            elif self.at_word("is"):
                left = self.is_test(left)
            elif self.at_word("not") and self.peek().word in ("in", "like", "between"):
                self.advance()
                left = Node("not", (self.special(left),))
            elif self.at_word("in", "like", "between"):
                left = self.special(left)
            else:
                return left

    def is_test(self, left: Node) -> Node:
        self.advance()
        negated = self.at_word("not")
        if negated:
            self.advance()
        if not self.at_word("null", "missing"):
            raise fail("ParseExpectedKeyword" if self.tok.kind == "id" else "ParseUnexpectedToken")
        node = Node("is", (self.advance().word, left))
        return Node("not", (node,)) if negated else node

    def special(self, left: Node) -> Node:
        word = self.advance().word
        if word == "between":
            low = self.concat()
            self.expect_word("and")
            return Node("between", (left, low, self.concat()))
        if word == "like":
            pattern = self.concat()
            escape = None
            if self.at_word("escape"):
                self.advance()
                escape = self.concat()
            return Node("like", (left, pattern, escape))
        return Node("in", (left, tuple(self.in_list())))

    def in_list(self) -> list[Node]:
        self.expect_op("(", "ParseExpectedLeftParenValueConstructor")
        if self.at_word("select"):
            raise fail("ParseUnsupportedSelect")
        items = [self.expr()]
        while self.at_op(","):
            self.advance()
            items.append(self.expr())
        self.expect_op(")", "ParseExpectedTokenType")
        return items

    def concat(self) -> Node:
        left = self.additive()
        while self.at_op("||"):
            self.advance()
            left = Node("arith", ("||", left, self.additive()))
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            left = Node("arith", (op, left, self.multiplicative()))
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            left = Node("arith", (op, left, self.unary()))
        return left

    def unary(self) -> Node:
        if self.at_op("-", "+"):
            op = self.advance().text
            operand = self.unary()
            if operand.kind == "lit" and _is_number(operand.args[0]):
                return operand if op == "+" else Node("lit", (-operand.args[0],))
            return operand if op == "+" else Node("neg", (operand,))
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind in ("num", "str"):
            self.advance()
            return Node("lit", (t.value,))
        if t.kind == "ion":
            self.advance()
            return Node("ion", (t.value,))
        if t.kind == "op" and t.text == "(":
            return self.parenthesised()
        if t.kind == "qid":
            return self.path()
        if t.kind == "id":
            return self.word_primary()
        if t.kind == "op" and t.text in (")", ",") or t.kind == "eof":
            raise fail("ParseExpectedExpression")
        raise fail("ParseUnexpectedToken")

    def parenthesised(self) -> Node:
        self.advance()
        if self.at_word("select"):
            raise fail("ParseUnsupportedSelect")
        inner = self.expr()
        self.expect_op(")", "ParseExpectedTokenType")
        return inner

    def word_primary(self) -> Node:
        word = self.tok.word
        if word in ("true", "false"):
            self.advance()
            return Node("lit", (word == "true",))
        if word == "null":
            self.advance()
            return Node("lit", (None,))
        if word == "missing":
            self.advance()
            return Node("lit", (MISSING,))
        if word == "cast":
            return self.cast()
        if word == "case":
            return self.case()
        if self.peek().kind == "op" and self.peek().text == "(":
            return self.call()
        if word in RESERVED:
            raise fail(
                "ParseExpectedExpression" if word in _CLAUSE_WORDS else "ParseUnExpectedKeyword"
            )
        return self.path()

    # -- paths
    def path(self) -> Node:
        root = self.advance()
        root_name = root.value if root.kind == "qid" else root.text
        steps: list[PathStep] = []
        while self.at_op(".", "["):
            steps.append(self.path_step(in_from=False))
        return Node("path", (PathStep("name", root_name, root.kind == "qid"), steps))

    def path_step(self, in_from: bool) -> PathStep:
        if self.advance().text == ".":
            t = self.advance()
            if t.kind == "op" and t.text == "*":
                if not in_from and not self._star_ends_item():
                    raise fail(self._wild_code())
                return PathStep("star")
            if t.kind == "qid":
                return PathStep("name", t.value, True)
            if t.kind == "id" and t.word not in RESERVED:
                return PathStep("name", t.text)
            raise fail("ParseInvalidPathComponent")
        t = self.advance()
        if t.kind == "op" and t.text == "*":
            self.expect_op("]", "ParseInvalidPathComponent")
            if not in_from:
                raise fail(
                    "ParseCannotMixSqbAndWildcardInSelectList"
                    if self.in_select
                    else "ParseUnsupportedSyntax"
                )
            return PathStep("wild")
        if t.kind == "num" and type(t.value) is int:
            step = PathStep("index", t.value)
        elif t.kind == "str":
            step = PathStep("name", t.value, True)
        else:
            raise fail("ParseInvalidPathComponent")
        self.expect_op("]", "ParseInvalidPathComponent")
        return step

    def _star_ends_item(self) -> bool:
        nxt = self.tok
        return self.in_select and (
            nxt.kind == "eof" or (nxt.kind == "op" and nxt.text == ",") or nxt.word == "from"
        )

    def _wild_code(self) -> str:
        return (
            "ParseInvalidContextForWildcardInSelectList"
            if self.in_select
            else "ParseUnsupportedSyntax"
        )

    # -- CAST and CASE
    def cast(self) -> Node:
        self.advance()
        self.expect_op("(", "ParseExpectedLeftParenAfterCast")
        operand = self.expr()
        if self.at_op(","):
            raise fail("ParseCastArity")
        self.expect_word("as")
        target = self.type_name()
        self.expect_op(")", "ParseExpectedRightParenBuiltinFunctionCall")
        return Node("cast", (operand, target))

    def type_name(self) -> str:
        t = self.tok
        if t.kind != "id":
            raise fail("ParseExpectedTypeName")
        self.advance()
        name = CAST_TYPES.get(t.word)
        if name is None:
            raise fail("InvalidDataType" if t.word in _REFUSED_TYPES else "ParseExpectedTypeName")
        if name == "decimal" and self.at_op("("):
            self.type_params()
        return name

    def type_params(self) -> None:
        # S3 ignores DECIMAL's precision and scale; they still have to be numbers.
        self.advance()
        while True:
            if self.tok.kind != "num" or type(self.tok.value) is not int:
                raise fail(
                    "ParseInvalidTypeParam" if self.tok.kind != "eof" else "ParseExpectedTokenType"
                )
            self.advance()
            if not self.at_op(","):
                break
            self.advance()
        self.expect_op(")", "ParseExpectedTokenType")

    def case(self) -> Node:
        self.advance()
        if self.at_word("end") or self.tok.kind == "eof":
            raise fail("ParseExpectedWhenClause")
        operand = None if self.at_word("when") else self.expr()
        whens: list[tuple[Node, Node]] = []
        while self.at_word("when"):
            self.advance()
            cond = self.expr()
            self.expect_word("then")
            whens.append((cond, self.expr()))
        if not whens:
            raise fail("ParseExpectedWhenClause")
        default = None
        if self.at_word("else"):
            self.advance()
            default = self.expr()
        self.expect_word("end")
        return Node("case", (operand, tuple(whens), default))

    # -- function calls
    def call(self) -> Node:
        name = self.advance().word
        self.advance()  # (
        if name in AGGREGATES:
            return self.aggregate(name)
        if name == "extract":
            return self.extract()
        if name == "trim":
            return self.trim()
        if name == "substring":
            return self.substring()
        if name in ("date_add", "date_diff"):
            return self.date_call(name)
        if name not in FUNCTIONS:
            raise fail("UnsupportedFunction")
        args = self.arguments()
        low, high = FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            raise fail("EvaluatorInvalidArguments")
        return Node("call", (name, tuple(args)))

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.at_op(")"):
            self.advance()
            return args
        while True:
            args.append(self.expr())
            if self.at_op(","):
                self.advance()
                continue
            self.close_call()
            return args

    def close_call(self) -> None:
        if self.at_op(")"):
            self.advance()
            return
        raise fail(
            "ParseExpectedRightParenBuiltinFunctionCall"
            if self.tok.kind == "eof"
            else "ParseExpectedArgumentDelimiter"
        )

    def aggregate(self, name: str) -> Node:
        if self.at_op("*"):
            self.advance()
            if name != "count":
                raise fail("ParseUnsupportedCallWithStar")
            self.close_call()
            return Node("agg", (name, None))
        if self.at_word("distinct", "all"):
            raise fail("ParseUnsupportedSyntax")
        args = self.arguments()
        if len(args) != 1:
            raise fail("ParseNonUnaryAgregateFunctionCall")
        return Node("agg", (name, args[0]))

    def date_part(self, parts: tuple[str, ...]) -> str:
        if self.tok.kind != "id" or self.tok.word not in parts:
            raise fail("ParseExpectedDatePart")
        return self.advance().word

    def extract(self) -> Node:
        part = self.date_part(EXTRACT_PARTS)
        self.expect_word("from")
        operand = self.expr()
        self.close_call()
        return Node("call", ("extract", (Node("lit", (part,)), operand)))

    def date_call(self, name: str) -> Node:
        part = self.date_part(DATE_PARTS)
        args = [Node("lit", (part,))]
        if not self.at_op(","):
            if self.at_op(")"):
                raise fail("EvaluatorInvalidArguments")
            raise fail("ParseExpectedArgumentDelimiter")
        self.advance()
        args += self.arguments()
        if len(args) != 3:
            raise fail("EvaluatorInvalidArguments")
        return Node("call", (name, tuple(args)))

    def substring(self) -> Node:
        operand = self.expr()
        if self.at_word("from"):
            self.advance()
            args = [operand, self.expr()]
            if self.at_word("for"):
                self.advance()
                args.append(self.expr())
            self.close_call()
        elif self.at_op(","):
            self.advance()
            args = [operand, *self.arguments()]
        else:
            raise fail(
                "EvaluatorInvalidArguments" if self.at_op(")") else "ParseExpectedArgumentDelimiter"
            )
        if len(args) > 3:
            raise fail("EvaluatorInvalidArguments")
        return Node("call", ("substring", tuple(args)))

    def trim(self) -> Node:
        spec = "both"
        chars: Node | None = None
        if self.at_word("leading", "trailing", "both"):
            spec = self.advance().word
            if not self.at_word("from"):
                chars = self.expr()
            self.expect_word("from")
            operand = self.expr()
        else:
            operand = self.expr()
            if self.at_word("from"):
                self.advance()
                chars, operand = operand, self.expr()
        self.close_call()
        return Node("trim", (spec, chars, operand))


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, Decimal)


def parse(text: str) -> Statement:
    """Parse one S3 Select statement; raise SelectError with S3's code for what it refuses."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_EXPRESSION_BYTES:
        raise fail("ExpressionTooLong")
    return Parser(text).statement()
