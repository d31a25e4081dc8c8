"""S3 Select's scalar functions (string, date, conditional) as closures over their arguments.

The parser has already checked names and argument counts; here each call becomes one
closure. NULL or MISSING arguments give NULL or MISSING (COALESCE and NULLIF excepted);
a value of the wrong type is S3's IncorrectSqlFunctionArgumentType. A TO_STRING pattern
given as a literal is compiled once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudlet.services.s3 import select_time as st
from cloudlet.services.s3.select_errors import SelectError
from cloudlet.services.s3.select_eval import MISSING, Fn, utcnow
from cloudlet.services.s3.select_parse import Node
from cloudlet.services.s3.select_values import as_number, equal


def compile_call(name: str, fns: list[Fn], nodes: tuple[Node, ...]) -> Fn:
    if name == "coalesce":
        return _coalesce(fns)
    if name == "nullif":
        a, b = fns
        return lambda r: None if equal(v := a(r), b(r)) else v
    if name == "utcnow":
        return lambda _r: utcnow()
    if name == "to_string" and nodes[1].kind == "lit" and type(nodes[1].args[0]) is str:
        fmt = st.compile_pattern(nodes[1].args[0])
        return _strict([fns[0]], lambda ts: fmt(_timestamp(ts)))
    if name in ("date_add", "date_diff", "extract"):
        part = nodes[0].args[0]
        impl = _DATED[name]
        return _strict(fns[1:], lambda *args: impl(part, *args))
    return _strict(fns, _SIMPLE[name])


def _strict(fns: list[Fn], impl: Callable[..., Any]) -> Fn:
    """Call ``impl`` with the argument values, unless one is NULL or MISSING."""
    if len(fns) == 1:
        (f,) = fns

        def one(r: Any) -> Any:
            v = f(r)
            if v is None or v is MISSING:
                return v
            return impl(v)

        return one

    def many(r: Any) -> Any:
        values = [f(r) for f in fns]
        for v in values:
            if v is MISSING:
                return MISSING
        for v in values:
            if v is None:
                return None
        return impl(*values)

    return many


def _coalesce(fns: list[Fn]) -> Fn:
    def f(r: Any) -> Any:
        for g in fns:
            v = g(r)
            if v is not None and v is not MISSING:
                return v
        return None

    return f


def _text(v: Any) -> str:
    if type(v) is not str:
        raise SelectError("IncorrectSqlFunctionArgumentType")
    return v


def _integer(v: Any) -> int:
    n = as_number(v)
    if type(n) is Decimal and n == n.to_integral_value():
        n = int(n)
    if type(n) is not int:
        raise SelectError("IncorrectSqlFunctionArgumentType")
    return n


def _timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return st.ensure_aware(v)
    if type(v) is str:
        ts = st.parse_timestamp(v)
        if ts is not None:
            return ts
        raise SelectError("ValueParseFailure")
    raise SelectError("IncorrectSqlFunctionArgumentType")


def _substring(s: Any, start: Any, length: Any = None) -> str:
    text, begin = _text(s), _integer(start)
    if length is None:
        return text[max(begin, 1) - 1 :]
    count = _integer(length)
    if count < 0:
        raise SelectError("IllegalSqlFunctionArgument")
    end = begin + count  # SQL: the window [start, start+length) clipped to the string
    first = max(begin, 1)
    return text[first - 1 : max(end - 1, first - 1)]


def _to_string(ts: Any, pattern: Any) -> str:
    return st.compile_pattern(_text(pattern))(_timestamp(ts))


def _to_timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return st.ensure_aware(v)
    return _timestamp(_text(v))


_SIMPLE: dict[str, Callable[..., Any]] = {
    "char_length": lambda s: len(_text(s)),
    "character_length": lambda s: len(_text(s)),
    "lower": lambda s: _text(s).lower(),
    "upper": lambda s: _text(s).upper(),
    "substring": _substring,
    "to_string": _to_string,
    "to_timestamp": _to_timestamp,
}
_DATED: dict[str, Callable[..., Any]] = {
    "date_add": lambda part, q, ts: st.date_add(part, _integer(q), _timestamp(ts)),
    "date_diff": lambda part, a, b: st.date_diff(part, _timestamp(a), _timestamp(b)),
    "extract": lambda part, ts: st.extract(part, _timestamp(ts)),
}
