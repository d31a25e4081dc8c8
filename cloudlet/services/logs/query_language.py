"""The Logs Insights query language: tokens, expressions and the values they work on.

Plain Python. ``Parser`` reads one command's text into ``Expr`` closures
(comparisons, arithmetic, ``like``/``=~``, ``in``, ``and/or/not``, scalar
functions, aggregate calls that ``stats`` evaluates); ``show`` renders a value
as Insights shows it (timestamps as ``2024-01-01 12:00:00.000``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.logs import errors

Record = dict[str, Any]
Fn = Callable[[Record], Any]
UNMASKED = "\x00unmasked"
"""A record's key for its fields as ingested, when data protection masked the event."""
_FIELD = re.compile(r"@?[\w.\-]+")


class Stamp(int):
    """A millisecond timestamp value, shown as AWS shows times."""


def show(value: Any) -> str:
    if isinstance(value, Stamp):
        dt = datetime.fromtimestamp(int(value) / 1000, UTC)
        return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(value) % 1000:03d}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(round(value, 6))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def flatten(doc: Any, prefix: str = "", out: Record | None = None, depth: int = 0) -> Record:
    """JSON fields as Insights discovers them: ``a.b``, ``list.0``."""
    out = {} if out is None else out
    if isinstance(doc, dict) and depth < 8:
        for k, v in doc.items():
            flatten(v, f"{prefix}{k}.", out, depth + 1)
    elif isinstance(doc, list) and depth < 8:
        for i, v in enumerate(doc):
            flatten(v, f"{prefix}{i}.", out, depth + 1)
    elif prefix:
        out[prefix[:-1]] = doc
    return out


# --- tokens --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<re>/(?:[^/\\]|\\.)+/[a-z]*)
    |(?P<dur>\d+(?:ms|s|m|h|d|w)\b)
    |(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<name>`[^`]+`|@?[A-Za-z_][\w.@$]*)
    |(?P<op>=~|!=|<=|>=|==|[=<>+\-*/%(),\[\]])
    )""",
    re.X,
)
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(slots=True)
class Tok:
    kind: str
    text: str
    start: int
    end: int


def _tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise errors.malformed_query(f"unexpected symbol found {text[pos:].strip()[:1]!r}")
        kind = m.lastgroup or ""
        prev = out[-1] if out else None
        operand = prev is not None and prev.kind in ("num", "name", "str", "dur")
        after_parse = len(out) >= 2 and out[-2].text.lower() == "parse"
        if (
            kind == "re"
            and operand
            and prev.text.lower() not in ("like", "parse", "filter")
            and not after_parse
        ):
            # "/" after an operand is division, not a regex
            out.append(Tok("op", "/", m.start(kind), m.start(kind) + 1))
            pos = m.start(kind) + 1
            continue
        out.append(Tok(kind, m.group(kind), m.start(kind), m.end(kind)))
        pos = m.end()
    return out


def split_commands(query: str) -> list[str]:
    parts, cur, quote = [], [], ""
    for c in query:
        if quote:
            cur.append(c)
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
            cur.append(c)
        elif c == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


# --- expressions ---------------------------------------------------------------------


def num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _cmp(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return op == "!=" and (a is None) != (b is None)
    na, nb = num(a), num(b)
    if na is not None and nb is not None:
        a, b = na, nb
    else:
        a, b = show(a), show(b)
    return {
        "=": a == b,
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        ">": a > b,
        "<=": a <= b,
        ">=": a >= b,
    }[op]


def regex(tok: Tok) -> re.Pattern:
    body, _, flags = tok.text[1:].rpartition("/")
    try:
        return re.compile(
            body.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"),
            re.I if "i" in flags else 0,
        )
    except re.error as exc:
        raise errors.malformed_query(f"invalid regex {tok.text}: {exc}") from None


_SCALAR: dict[str, Callable[..., Any]] = {
    "ispresent": lambda v: v is not None,
    "isempty": lambda v: v is None or v == "",
    "isblank": lambda v: v is None or str(v).strip() == "",
    "strlen": lambda v: None if v is None else len(show(v)),
    "toupper": lambda v: None if v is None else show(v).upper(),
    "tolower": lambda v: None if v is None else show(v).lower(),
    "trim": lambda v: None if v is None else show(v).strip(),
    "abs": lambda v: None if num(v) is None else abs(num(v)),
    "floor": lambda v: None if num(v) is None else math.floor(num(v)),
    "ceil": lambda v: None if num(v) is None else math.ceil(num(v)),
    "concat": lambda *vs: "".join(show(v) for v in vs if v is not None),
    "coalesce": lambda *vs: next((v for v in vs if v is not None), None),
    "tonumber": lambda v: num(v),
    "tostring": lambda v: None if v is None else show(v),
}
AGGREGATES = {
    "count", "count_distinct", "sum", "avg", "min", "max", "earliest", "latest", "stddev",
    "pct", "percentile",
}  # fmt: skip


@dataclass(slots=True)
class Expr:
    fn: Fn
    text: str
    agg: tuple[str, list[Expr]] | None = None


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.unmasks = False
        """Whether the text calls ``unmask`` (the query then needs events as ingested)."""

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def word(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "name" and t.text.lower() in words

    def op(self, *ops: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "op" and t.text in ops

    def take(self) -> Tok:
        t = self.peek()
        if t is None:
            raise errors.malformed_query("unexpected end of query")
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text != text:
            raise errors.malformed_query(f"expected {text!r} but found {t.text!r}")

    def done(self) -> bool:
        return self.peek() is None

    def span(self, start: int) -> str:
        return re.sub(r"\s+", " ", self.text[self.toks[start].start : self.toks[self.i - 1].end])

    # expression grammar: or > and > not > comparison > additive > multiplicative > unary
    def expr(self) -> Expr:
        s = self.i
        left = self.and_()
        while self.word("or"):
            self.take()
            right, a = self.and_(), left.fn
            left = Expr(lambda r, a=a, b=right.fn: bool(a(r)) or bool(b(r)), "")
        left.text = left.text or self.span(s)
        return left

    def and_(self) -> Expr:
        s = self.i
        left = self.not_()
        while self.word("and"):
            self.take()
            right, a = self.not_(), left.fn
            left = Expr(lambda r, a=a, b=right.fn: bool(a(r)) and bool(b(r)), "")
        left.text = left.text or self.span(s)
        return left

    def not_(self) -> Expr:
        if self.word("not"):
            s = self.i
            self.take()
            inner = self.not_()
            return Expr(lambda r, f=inner.fn: not f(r), self.span(s))
        return self.comparison()

    def comparison(self) -> Expr:
        s = self.i
        left = self.additive()
        negate = False
        if self.word("not") and self.peek(1) and self.peek(1).text.lower() in ("like", "in"):
            self.take()
            negate = True
        if self.word("like") or self.op("=~"):
            self.take()
            t = self.take()
            if t.kind == "re":
                rx = regex(t)
                test = lambda v, rx=rx: v is not None and rx.search(show(v)) is not None  # noqa: E731
            elif t.kind == "str":
                sub = t.text[1:-1]
                test = lambda v, sub=sub: v is not None and sub in show(v)  # noqa: E731
            else:
                raise errors.malformed_query(f"expected a regex or string after like: {t.text}")
            fn = lambda r, f=left.fn, t=test: t(f(r))  # noqa: E731
        elif self.word("in"):
            self.take()
            self.expect("[")
            items: list[Expr] = []
            while not self.op("]"):
                items.append(self.additive())
                if self.op(","):
                    self.take()
            self.expect("]")
            fn = lambda r, f=left.fn, it=items: any(_cmp("=", f(r), x.fn(r)) for x in it)  # noqa: E731
        elif self.op("=", "==", "!=", "<", ">", "<=", ">="):
            op = self.take().text
            right = self.additive()
            fn = lambda r, a=left.fn, b=right.fn, op=op: _cmp(op, a(r), b(r))  # noqa: E731
        else:
            return left
        if negate:
            fn = lambda r, f=fn: not f(r)  # noqa: E731
        return Expr(fn, self.span(s))

    def additive(self) -> Expr:
        s = self.i
        left = self.multiplicative()
        while self.op("+", "-"):
            op = self.take().text
            right = self.multiplicative()
            left = Expr(_arith(op, left.fn, right.fn), self.span(s))
        return left

    def multiplicative(self) -> Expr:
        s = self.i
        left = self.unary()
        while self.op("*", "/", "%"):
            op = self.take().text
            right = self.unary()
            left = Expr(_arith(op, left.fn, right.fn), self.span(s))
        return left

    def unary(self) -> Expr:
        if self.op("-"):
            s = self.i
            self.take()
            inner = self.unary()
            return Expr(
                lambda r, f=inner.fn: None if num(f(r)) is None else -num(f(r)), self.span(s)
            )
        return self.primary()

    def primary(self) -> Expr:
        s = self.i
        t = self.take()
        if t.kind == "num":
            v = float(t.text) if "." in t.text or "e" in t.text.lower() else int(t.text)
            return Expr(lambda r, v=v: v, t.text)
        if t.kind == "str":
            v = t.text[1:-1].replace("\\'", "'").replace('\\"', '"')
            return Expr(lambda r, v=v: v, t.text)
        if t.kind == "dur":
            unit = re.sub(r"^\d+", "", t.text)
            ms = int(t.text[: -len(unit)]) * _UNITS[unit]
            return Expr(lambda r, v=ms: v, t.text)
        if t.kind == "op" and t.text == "(":
            inner = self.expr()
            self.expect(")")
            return Expr(inner.fn, self.span(s))
        if t.kind == "op" and t.text == "*":
            return Expr(lambda r: True, "*")
        if t.kind != "name":
            raise errors.malformed_query(f"unexpected symbol found {t.text!r}")
        name = t.text.strip("`")
        if self.op("("):
            return self.call(name.lower(), s)
        if name.lower() in ("true", "false"):
            v = name.lower() == "true"
            return Expr(lambda r, v=v: v, name)
        return Expr(lambda r, n=name: r.get(n), name)

    def call(self, name: str, start: int) -> Expr:
        self.expect("(")
        args: list[Expr] = []
        while not self.op(")"):
            args.append(self.expr())
            if self.op(","):
                self.take()
        self.expect(")")
        text = self.span(start)
        if name in AGGREGATES:
            return Expr(lambda r, t=text: r.get(t), text, (name, args))
        if name == "bin":
            if len(args) != 1:
                raise errors.malformed_query("bin takes one argument: a period such as 5m")
            size = args[0].fn({})
            if not isinstance(size, int) or size <= 0:
                raise errors.malformed_query(f"invalid period in {text}")
            return Expr(
                lambda r, n=size: (
                    None if r.get("@timestamp") is None else Stamp(int(r["@timestamp"]) // n * n)
                ),
                text,
            )
        if name == "unmask":
            field = args[0].text.strip("`") if len(args) == 1 else ""
            if not _FIELD.fullmatch(field):
                raise errors.malformed_query("unmask takes one argument: a field such as @message")
            self.unmasks = True
            return Expr(lambda r, n=field: (r.get(UNMASKED) or r).get(n), text)
        fn = _SCALAR.get(name)
        if fn is None:
            raise errors.malformed_query(f"unknown function {name}")
        return Expr(lambda r, f=fn, a=args: f(*(x.fn(r) for x in a)), text)

    def alias(self, e: Expr) -> str:
        if self.word("as"):
            self.take()
            return self.take().text.strip("`")
        return e.text


def _arith(op: str, a: Fn, b: Fn) -> Fn:
    def run(r: Record) -> Any:
        x, y = num(a(r)), num(b(r))
        if x is None or y is None:
            return None
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if y == 0:
            return None
        return x / y if op == "/" else x % y

    return run
