"""S3 Select's syntax tree to Python closures.

Each expression becomes one closure ``fn(row) -> value`` built once per run (CSV header
names are only known then), so filtering a record costs a few calls and no parsing. The
value rules the closures follow (comparison, arithmetic, CAST, LIKE) are
``select_values``'s; aggregates and FROM paths are here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.s3 import select_time as st
from cloudlet.services.s3.select_errors import MISSING, SelectError
from cloudlet.services.s3.select_parse import Node, PathStep, Statement
from cloudlet.services.s3.select_values import (
    FAST_OPS,
    and3,
    arith,
    as_number,
    cast,
    check_int,
    compare,
    compare_op,
    equal,
    is_num,
    like_regex,
    negate,
    not3,
    or3,
)

Fn = Callable[[Any], Any]
_POSITIONAL = re.compile(r"_(\d+)")
_ABSENT = object()
_AMBIGUOUS = object()


# ---------------------------------------------------------------- aggregates


class Aggregate:
    """One aggregate call's running state; NULL and MISSING inputs are skipped."""

    def __init__(self, name: str, arg: Fn | None) -> None:
        self.name, self.arg = name, arg
        self.count = 0
        self.total: Any = 0
        self.best: Any = None

    def feed(self, row: Any) -> None:
        if self.arg is None:
            self.count += 1
            return
        v = self.arg(row)
        if v is None or v is MISSING:
            return
        self.count += 1
        if self.name in ("sum", "avg"):
            self._add(v)
        elif self.name in ("min", "max"):
            self._keep(v)

    def _add(self, v: Any) -> None:
        n = as_number(v)
        if n is None:
            raise SelectError("IncorrectSqlFunctionArgumentType")
        if type(n) is float or type(self.total) is float:
            self.total = float(self.total) + float(n)
        else:
            self.total += n

    def _keep(self, v: Any) -> None:
        if self.best is None:
            self.best = v
            return
        c = compare(v, self.best)
        if c is None:
            c = _type_rank(v) - _type_rank(self.best)
        if (c < 0) if self.name == "min" else (c > 0):
            self.best = v

    def result(self) -> Any:
        if self.name == "count":
            return self.count
        if self.count == 0:
            return None
        if self.name == "sum":
            return check_int(self.total) if type(self.total) is int else self.total
        if self.name == "avg":
            if type(self.total) is float:
                return self.total / self.count
            return Decimal(self.total) / self.count
        return self.best


def _type_rank(v: Any) -> int:
    if type(v) is bool:
        return 0
    if is_num(v):
        return 1
    if isinstance(v, datetime):
        return 2
    return 3 if type(v) is str else 4


# ---------------------------------------------------------------- the compiler


class Binder:
    """Compiles one statement's expressions for one input format (and header list)."""

    def __init__(self, stmt: Statement, fmt: str, header: bool, columns: list[str] | None) -> None:
        self.stmt, self.csv, self.header = stmt, fmt == "CSV", header
        self.columns = columns
        self.aggs: list[Aggregate] = []
        self.results: list[Any] = []
        self.in_agg = False
        self.agg_allowed = False
        self.alias, self.alias_quoted = _row_alias(stmt, self.csv)
        # ``FROM S3Object[*].a.b`` names its rows ``b``; selecting them outputs ``b`` too.
        self.alias_from_path = (
            stmt.alias is None and bool(stmt.from_steps) and (stmt.from_steps[-1].kind == "name")
        )

    # -- paths
    def is_alias(self, step: PathStep) -> bool:
        if step.quoted or self.alias_quoted:
            return step.value == self.alias
        return step.value.lower() == self.alias.lower()

    def path(self, node: Node) -> Fn:
        root, steps = node.args
        rest = list(steps) if self.is_alias(root) else [root, *steps]
        if not rest:
            return _identity
        if self.csv:
            index = self.csv_index(rest[0])
            head = _column(index)
            rest = rest[1:]
            if not rest:
                return head
            tail = _chain([_step(s) for s in rest])
            return lambda r: tail(head(r))
        return _chain([_step(s) for s in rest])

    def csv_index(self, step: PathStep) -> int:
        if step.kind == "index":
            return step.value
        m = _POSITIONAL.fullmatch(step.value) if not step.quoted else None
        if m:
            n = int(m.group(1))
            if n < 1:
                raise SelectError("InvalidColumnIndex")
            return n - 1
        if not self.header:
            raise SelectError("MissingHeaders")
        if self.columns is None:
            return -1  # checked again once the header is read
        return _header_index(self.columns, step)

    # -- expressions
    def expr(self, node: Node) -> Fn:
        return getattr(self, "_" + node.kind)(node)

    def _lit(self, node: Node) -> Fn:
        value = node.args[0]
        return lambda _r: value

    def _ion(self, node: Node) -> Fn:
        ts = st.parse_timestamp(node.args[0])
        if ts is None:
            raise SelectError("LexerInvalidIONLiteral")
        return lambda _r: ts

    def _path(self, node: Node) -> Fn:
        if self.agg_allowed and not self.in_agg:
            raise SelectError("UnsupportedSqlStructure")
        return self.path(node)

    def _neg(self, node: Node) -> Fn:
        f = self.expr(node.args[0])
        return lambda r: negate(f(r))

    def _not(self, node: Node) -> Fn:
        f = self.expr(node.args[0])
        return lambda r: not3(f(r))

    def _and(self, node: Node) -> Fn:
        lf, rf = self.expr(node.args[0]), self.expr(node.args[1])

        def f(r: Any) -> Any:
            a = lf(r)
            if a is False:
                return False
            return and3(a, rf(r))

        return f

    def _or(self, node: Node) -> Fn:
        lf, rf = self.expr(node.args[0]), self.expr(node.args[1])

        def f(r: Any) -> Any:
            a = lf(r)
            if a is True:
                return True
            return or3(a, rf(r))

        return f

    def _is(self, node: Node) -> Fn:
        what, operand = node.args
        f = self.expr(operand)
        if what == "missing":
            return lambda r: f(r) is MISSING
        return lambda r: (v := f(r)) is None or v is MISSING

    def _cmp(self, node: Node) -> Fn:
        op, left, right = node.args
        lf = self.expr(left)
        fast = FAST_OPS[op]
        if right.kind == "lit":
            b = right.args[0]
            tb = type(b)

            def const(r: Any) -> Any:
                a = lf(r)
                if type(a) is tb:
                    return (
                        fast(a, b) if tb is not bool or op in ("=", "<>") else compare_op(op, a, b)
                    )
                return compare_op(op, a, b)

            return const if tb in (int, str, float, bool) else (lambda r: compare_op(op, lf(r), b))
        rf = self.expr(right)

        def general(r: Any) -> Any:
            a, b = lf(r), rf(r)
            ta = type(a)
            if ta is type(b) and (ta is int or ta is str or ta is float):
                return fast(a, b)
            return compare_op(op, a, b)

        return general

    def _arith(self, node: Node) -> Fn:
        op, left, right = node.args
        lf, rf = self.expr(left), self.expr(right)
        if op in ("+", "-", "*"):
            fast = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

            def f(r: Any) -> Any:
                a, b = lf(r), rf(r)
                if type(a) is int and type(b) is int:
                    return check_int(fast(a, b))
                return arith(op, a, b)

            return f
        return lambda r: arith(op, lf(r), rf(r))

    def _between(self, node: Node) -> Fn:
        vf, lo, hi = (self.expr(n) for n in node.args)

        def f(r: Any) -> Any:
            v = vf(r)
            return and3(compare_op(">=", v, lo(r)), compare_op("<=", v, hi(r)))

        return f

    def _in(self, node: Node) -> Fn:
        vf = self.expr(node.args[0])
        items = node.args[1]
        if all(n.kind == "lit" and type(n.args[0]) is str for n in items):
            strings = frozenset(n.args[0] for n in items)
            fns = [self.expr(n) for n in items]

            def fast(r: Any) -> Any:
                v = vf(r)
                if type(v) is str:
                    return v in strings
                return _in_general(v, [g(r) for g in fns])

            return fast
        fns = [self.expr(n) for n in items]
        return lambda r: _in_general(vf(r), [g(r) for g in fns])

    def _like(self, node: Node) -> Fn:
        vf = self.expr(node.args[0])
        pattern, escape = node.args[1], node.args[2]
        esc = None if escape is None else self._constant(escape)
        if pattern.kind == "lit" and (escape is None or esc is not _ABSENT):
            rx = like_regex(pattern.args[0], esc)
            return lambda r: _like_match(rx, vf(r))
        pf = self.expr(pattern)
        ef = None if escape is None else self.expr(escape)
        cache: dict[tuple[Any, Any], re.Pattern[str]] = {}

        def dynamic(r: Any) -> Any:
            p, e = pf(r), (None if ef is None else ef(r))
            if p is None or p is MISSING or e is MISSING:
                return p if p is not None or e is not MISSING else MISSING
            key = (p, e)
            rx = cache.get(key)
            if rx is None:
                rx = cache[key] = like_regex(p, e)
            return _like_match(rx, vf(r))

        return dynamic

    @staticmethod
    def _constant(node: Node) -> Any:
        return node.args[0] if node.kind == "lit" else _ABSENT

    def _cast(self, node: Node) -> Fn:
        f = self.expr(node.args[0])
        target = node.args[1]
        if target == "int":

            def to_int(r: Any) -> Any:
                v = f(r)
                if type(v) is str:
                    try:
                        return check_int(int(v))
                    except ValueError:
                        pass
                return cast(v, "int")

            return to_int
        return lambda r: cast(f(r), target)

    def _case(self, node: Node) -> Fn:
        operand, whens, default = node.args
        of = None if operand is None else self.expr(operand)
        pairs = [(self.expr(c), self.expr(v)) for c, v in whens]
        df = (lambda _r: None) if default is None else self.expr(default)

        def f(r: Any) -> Any:
            subject = of(r) if of is not None else None
            for cond, value in pairs:
                c = cond(r)
                if equal(subject, c) if of is not None else c is True:
                    return value(r)
            return df(r)

        return f

    def _trim(self, node: Node) -> Fn:
        spec, chars, operand = node.args
        cf = (lambda _r: " ") if chars is None else self.expr(chars)
        vf = self.expr(operand)
        strip = {"both": str.strip, "leading": str.lstrip, "trailing": str.rstrip}[spec]

        def f(r: Any) -> Any:
            v, c = vf(r), cf(r)
            for x in (v, c):
                if x is None or x is MISSING:
                    return x
            if type(v) is not str or type(c) is not str:
                raise SelectError("IncorrectSqlFunctionArgumentType")
            return strip(v, c)

        return f

    def _agg(self, node: Node) -> Fn:
        if not self.agg_allowed or self.in_agg:
            raise SelectError("UnsupportedSqlStructure")
        name, arg = node.args
        self.in_agg = True
        try:
            af = None if arg is None else self.expr(arg)
        finally:
            self.in_agg = False
        index = len(self.aggs)
        self.aggs.append(Aggregate(name, af))
        self.results.append(None)
        results = self.results
        return lambda _r: results[index]

    def _call(self, node: Node) -> Fn:
        from cloudlet.services.s3.select_funcs import compile_call

        name, args = node.args
        return compile_call(name, [self.expr(a) for a in args], args)


def _row_alias(stmt: Statement, csv: bool) -> tuple[str, bool]:
    if stmt.alias is not None:
        return stmt.alias, stmt.alias_quoted
    if not csv and stmt.from_wild:
        last = stmt.from_steps[-1] if stmt.from_steps else None
        if last is not None and last.kind == "name":
            return last.value, last.quoted
        return "_1", False
    return "S3Object", False


def _header_index(columns: list[str], step: PathStep) -> int:
    if step.quoted:
        hits = [i for i, c in enumerate(columns) if c == step.value]
        if not hits:
            raise SelectError("MissingHeaderName")
    else:
        name = step.value.lower()
        hits = [i for i, c in enumerate(columns) if c.lower() == name]
        if not hits:
            raise SelectError("MissingHeaders")
    if len(hits) > 1:
        raise SelectError("AmbiguousFieldName")
    return hits[0]


def _identity(r: Any) -> Any:
    return r


def _column(index: int) -> Fn:
    def get(r: Any) -> Any:
        try:
            return r[index]
        except IndexError:
            return MISSING

    return get


def _chain(getters: list[Fn]) -> Fn:
    if len(getters) == 1:
        return getters[0]

    def f(r: Any) -> Any:
        for g in getters:
            r = g(r)
        return r

    return f


def _step(step: PathStep) -> Fn:
    if step.kind == "index":
        i = step.value

        def index(v: Any) -> Any:
            if type(v) is list and 0 <= i < len(v):
                return v[i]
            return MISSING

        return index
    name = step.value
    if step.quoted:
        return lambda v: v.get(name, MISSING) if isinstance(v, dict) else MISSING
    return _name_getter(name)


def _name_getter(name: str) -> Fn:
    """Unquoted names match keys case-insensitively; two matches are ambiguous. The key a
    name resolves to is cached per key set, so records of one shape cost a dict lookup."""
    lower = name.lower()
    cache: dict[tuple[str, ...], Any] = {}

    def get(v: Any) -> Any:
        if not isinstance(v, dict):
            return MISSING
        keys = tuple(v)
        key = cache.get(keys, _ABSENT)
        if key is _ABSENT:
            if len(cache) > 4096:
                cache.clear()
            hits = [k for k in keys if isinstance(k, str) and k.lower() == lower]
            key = cache[keys] = hits[0] if len(hits) == 1 else (_AMBIGUOUS if hits else None)
        if key is None:
            return MISSING
        if key is _AMBIGUOUS:
            raise SelectError("AmbiguousFieldName")
        return v[key]

    return get


def _in_general(v: Any, items: list[Any]) -> Any:
    if v is MISSING:
        return MISSING
    if v is None:
        return None
    unknown = False
    for w in items:
        if w is None or w is MISSING:
            unknown = True
        elif equal(v, w):
            return True
    return None if unknown else False


def _like_match(rx: re.Pattern[str], v: Any) -> Any:
    if type(v) is str:
        return rx.fullmatch(v) is not None
    if v is None or v is MISSING:
        return v
    return MISSING


def utcnow() -> datetime:
    return clock.now()


# ---------------------------------------------------------------- FROM paths


def expander(steps: list[PathStep]) -> Callable[[Any], Iterable[Any]]:
    """``S3Object[*].path``: every value the path reaches in one record, or MISSING."""
    getters = [None if s.kind in ("wild", "star") else _step(s) for s in steps]

    def expand(record: Any) -> Iterator[Any]:
        values = [record]
        for s, g in zip(steps, getters, strict=True):
            nxt: list[Any] = []
            for v in values:
                if g is not None:
                    nxt.append(g(v))
                elif s.kind == "wild":
                    nxt.extend(v if type(v) is list and v else [MISSING])
                else:
                    nxt.extend(v.values() if isinstance(v, dict) and v else [MISSING])
            values = nxt
        return values

    return expand
