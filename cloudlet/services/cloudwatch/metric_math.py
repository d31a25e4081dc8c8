"""Metric math: the expression language of GetMetricData and metric-math alarms.

Supported: numbers, query ids, ``+ - * / ^`` and unary minus between series
and scalars; ``METRICS()`` / ``METRICS('prefix')``; ``SUM AVG MIN MAX`` (over a
list of series → one series per timestamp; over one series → a scalar, as
AWS's ``m1/MAX(m1)`` idiom needs); ``ABS CEIL FLOOR RATE DIFF`` and
``FILL(s, value | REPEAT | LINEAR)``; ``FIRST``/``LAST`` of an array; and
``ANOMALY_DETECTION_BAND(id[, stddevs])``, which names a query (not any series:
the band is the model of that query's metric or expression) and returns two
series, the upper bound then the lower, as AWS documents
(``LAST(ANOMALY_DETECTION_BAND(m1))`` is the lower bound). Two series combine on
the timestamps they share; a division by zero leaves that timestamp out.

``evaluate`` takes the expression and a resolver for ids, so it is independent
of where the series come from (tests feed literals).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field


class MathError(Exception):
    """An expression that cannot be parsed or evaluated; the message is AWS-style."""


@dataclass
class Series:
    label: str
    points: dict[float, float] = field(default_factory=dict)


Value = float | Series | list[Series]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/^(),]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise MathError(f"Unexpected character at position {pos + 1}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, env: Env) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.env = env

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise MathError(f"Expected {value or 'a value'} at token {self.i + 1}")
        self.i += 1
        return tok

    def parse(self) -> Value:
        value = self.expr()
        if self.peek() is not None:
            raise MathError(f"Unexpected token '{self.peek()[1]}'")  # type: ignore[index]
        return value

    def expr(self) -> Value:
        left = self.term()
        while (tok := self.peek()) and tok[1] in "+-" and tok[0] == "op":
            self.i += 1
            left = binary(tok[1], left, self.term())
        return left

    def term(self) -> Value:
        left = self.unary()
        while (tok := self.peek()) and tok[1] in ("*", "/") and tok[0] == "op":
            self.i += 1
            left = binary(tok[1], left, self.unary())
        return left

    def unary(self) -> Value:
        tok = self.peek()
        if tok and tok == ("op", "-"):
            self.i += 1
            return binary("*", -1.0, self.unary())
        base = self.atom()
        if (tok := self.peek()) and tok == ("op", "^"):
            self.i += 1
            return binary("^", base, self.unary())
        return base

    def atom(self) -> Value:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1]  # type: ignore[return-value] - only METRICS() takes one
        if kind == "op" and text == "(":
            value = self.expr()
            self.take(")")
            return value
        if kind == "name":
            if (tok := self.peek()) and tok == ("op", "("):
                self.i += 1
                if text.upper() == "ANOMALY_DETECTION_BAND":
                    return self._band()
                args: list = []
                if self.peek() != ("op", ")"):
                    args.append(self._arg())
                    while self.peek() == ("op", ","):
                        self.i += 1
                        args.append(self._arg())
                self.take(")")
                return call(text.upper(), args, self.env)
            return self.env.resolve(text)
        raise MathError(f"Unexpected token '{text}'")

    def _band(self) -> Value:
        first = self.toks[self.i : self.i + 2]
        bare = len(first) == 2 and first[0][0] == "name" and first[1] in (("op", ","), ("op", ")"))
        args: list = [self._arg()]
        while self.peek() == ("op", ","):
            self.i += 1
            args.append(self._arg())
        self.take(")")
        stddevs = args[1] if len(args) == 2 else 2.0
        typed = isinstance(args[0], Series) and isinstance(stddevs, float)
        if not (bare and len(args) <= 2 and typed):
            kinds = ", ".join(_kind(a) for a in args)
            raise MathError(f"Unsupported operand type(s) for ANOMALY_DETECTION_BAND: '[{kinds}]'")
        if self.env.band is None:
            raise MathError("ANOMALY_DETECTION_BAND is not supported in this expression")
        return self.env.band(first[0][1], stddevs)

    def _arg(self) -> Value | str:
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].upper() in ("REPEAT", "LINEAR"):
            self.i += 1
            return tok[1].upper()
        return self.expr()


@dataclass
class Env:
    """What an expression can see: ids, METRICS(), and the period grid."""

    resolve: Callable[[str], Value]
    metrics: Callable[[str], list[Series]]
    grid: list[float]
    label: str = ""
    band: Callable[[str, float], list[Series]] | None = None
    """``(query id, stddevs) -> [upper, lower]``: the anomaly model's band."""


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "Array[TimeSeries]"
    if isinstance(value, Series):
        return "TimeSeries"
    return "String" if isinstance(value, str) else "Scalar"


def references(expression: str) -> tuple[set[str], set[str]]:
    """(names used as ids, functions called) in ``expression``: what it depends on."""
    toks = _tokens(expression)
    ids, funcs = set(), set()
    for i, (kind, text) in enumerate(toks):
        if kind == "name":
            called = i + 1 < len(toks) and toks[i + 1] == ("op", "(")
            (funcs if called else ids).add(text.upper() if called else text)
    return ids, funcs


def evaluate(expression: str, env: Env) -> Value:
    return _Parser(expression, env).parse()


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": lambda a, b: a**b,
}


def _apply(op: str, a: float, b: float) -> float | None:
    try:
        out = _OPS[op](a, b)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    return out if isinstance(out, float | int) and math.isfinite(out) else None


def binary(op: str, left: Value, right: Value) -> Value:
    if isinstance(left, list) and isinstance(right, list):
        raise MathError("Operations between two arrays of time series are not supported")
    if isinstance(left, list):
        return [binary(op, s, right) for s in left]  # type: ignore[misc]
    if isinstance(right, list):
        return [binary(op, left, s) for s in right]  # type: ignore[misc]
    if isinstance(left, str) or isinstance(right, str):
        raise MathError("A string is only allowed as the argument of METRICS()")
    if isinstance(left, Series) and isinstance(right, Series):
        pts = {
            t: v
            for t in left.points.keys() & right.points.keys()
            if (v := _apply(op, left.points[t], right.points[t])) is not None
        }
        return Series(left.label, pts)
    if isinstance(left, Series):
        return Series(left.label, _map(left.points, lambda v: _apply(op, v, right)))  # type: ignore[arg-type]
    if isinstance(right, Series):
        return Series(right.label, _map(right.points, lambda v: _apply(op, left, v)))  # type: ignore[arg-type]
    out = _apply(op, left, right)
    if out is None:
        raise MathError("Arithmetic error between scalars")
    return out


def _map(points: dict[float, float], fn: Callable[[float], float | None]) -> dict[float, float]:
    return {t: r for t, v in points.items() if (r := fn(v)) is not None}


_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda xs: sum(xs) / len(xs),
    "MIN": min,
    "MAX": max,
}


def call(name: str, args: list, env: Env) -> Value:
    if name == "METRICS":
        prefix = args[0] if args else ""
        if not isinstance(prefix, str):
            raise MathError("METRICS() takes an optional string argument")
        return env.metrics(prefix)
    if name in _REDUCE:
        if len(args) != 1:
            raise MathError(f"{name} takes exactly one argument")
        arg, reduce = args[0], _REDUCE[name]
        if isinstance(arg, list):
            stamps = sorted({t for s in arg for t in s.points})
            return Series(
                env.label or name,
                {t: reduce([s.points[t] for s in arg if t in s.points]) for t in stamps},
            )
        if isinstance(arg, Series):
            if not arg.points:
                raise MathError(f"{name} of an empty time series")
            return reduce(list(arg.points.values()))
        return float(arg)
    if name in ("ABS", "CEIL", "FLOOR"):
        fn = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor}[name]
        return _each(args, name, lambda s: Series(s.label, _map(s.points, lambda v: float(fn(v)))))
    if name in ("RATE", "DIFF"):
        return _each(args, name, lambda s: _change(s, name == "RATE"))
    if name in ("FIRST", "LAST"):
        if len(args) != 1 or not isinstance(args[0], list) or not args[0]:
            raise MathError(f"{name} takes a non-empty array of time series")
        return args[0][0] if name == "FIRST" else args[0][-1]
    if name == "FILL":
        if len(args) != 2:
            raise MathError("FILL takes two arguments")
        how = args[1]
        return _each(args[:1], name, lambda s: _fill(s, how, env.grid))
    raise MathError(f"Unknown function {name}")


def _each(args: list, name: str, fn: Callable[[Series], Series]) -> Value:
    if len(args) != 1:
        raise MathError(f"{name} takes exactly one time series")
    arg = args[0]
    if isinstance(arg, list):
        return [fn(s) for s in arg]
    if isinstance(arg, Series):
        return fn(arg)
    raise MathError(f"{name} takes a time series")


def _change(s: Series, per_second: bool) -> Series:
    stamps = sorted(s.points)
    out = {}
    for prev, cur in zip(stamps, stamps[1:], strict=False):
        delta = s.points[cur] - s.points[prev]
        out[cur] = delta / (cur - prev) if per_second else delta
    return Series(s.label, out)


def _fill(s: Series, how: Value | str, grid: list[float]) -> Series:
    out = dict(s.points)
    known = sorted(s.points)
    for t in grid:
        if t in out:
            continue
        before = [k for k in known if k < t]
        after = [k for k in known if k > t]
        if how == "REPEAT":
            if before:
                out[t] = s.points[before[-1]]
        elif how == "LINEAR":
            if before and after:
                a, b = before[-1], after[0]
                out[t] = s.points[a] + (s.points[b] - s.points[a]) * (t - a) / (b - a)
        elif isinstance(how, float | int):
            out[t] = float(how)
        else:
            raise MathError("FILL takes a number, REPEAT or LINEAR")
    return Series(s.label, dict(sorted(out.items())))
