"""S3 Select's value rules: comparison, arithmetic, three-valued logic, CAST and LIKE.

Values are str, int, float, Decimal, bool, None (NULL), MISSING, datetime, list and
dict. Comparisons and arithmetic take the common same-type path first and fall back to
the general rules: NULL/MISSING propagate, numbers compare across int/Decimal/float,
and a string met by a number or a timestamp is read as one (CSV fields are all
strings). ``select_eval`` compiles expressions into closures that call these.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cloudlet.services.s3 import select_time as st
from cloudlet.services.s3.select_errors import MISSING, SelectError

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_ABSENT = object()


# ---------------------------------------------------------------- value rules


def parse_number(text: str) -> int | Decimal | None:
    s = text.strip()
    if not s or "_" in s:
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        d = Decimal(s)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def as_number(v: Any) -> Any:
    t = type(v)
    if t is int or t is float or t is Decimal:
        return v
    if t is str:
        return parse_number(v)
    return None


def is_num(v: Any) -> bool:
    t = type(v)
    return t is int or t is float or t is Decimal


def compare(a: Any, b: Any) -> int | None:
    """-1/0/1, or None when the two values have no order between them."""
    x, y = _comparable(a, b)
    if x is _ABSENT:
        return None
    try:
        return (x > y) - (x < y)
    except TypeError:
        return None


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    ta, tb = type(a), type(b)
    if is_num(a) and is_num(b):
        return (float(a), float(b)) if Decimal in (ta, tb) and float in (ta, tb) else (a, b)
    if ta is tb and ta in (str, bool, list, dict):
        return a, b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return st.ensure_aware(a), st.ensure_aware(b)
    if ta is str and (is_num(b) or isinstance(b, datetime)):
        x = as_number(a) if is_num(b) else st.parse_timestamp(a)
        return (x, b) if x is not None else (_ABSENT, None)
    if tb is str and (is_num(a) or isinstance(a, datetime)):
        y = as_number(b) if is_num(a) else st.parse_timestamp(b)
        return (a, y) if y is not None else (_ABSENT, None)
    return _ABSENT, None


_ORDER_TESTS = {
    "=": lambda c: c == 0,
    "<>": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}
FAST_OPS = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compare_op(op: str, a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if a is None or b is None:
        return None
    if op in ("=", "<>") and type(a) in (list, dict):
        return (a == b) == (op == "=")
    c = compare(a, b)
    if c is None:  # values of unrelated types: never equal, never ordered
        return {"=": False, "<>": True}.get(op, MISSING)
    return _ORDER_TESTS[op](c)


def equal(a: Any, b: Any) -> bool:
    return compare_op("=", a, b) is True


def check_int(v: int) -> int:
    if v < _INT_MIN or v > _INT_MAX:
        raise SelectError("IntegerOverflow")
    return v


def arith(op: str, a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if a is None or b is None:
        return None
    if op == "||":
        return a + b if type(a) is str and type(b) is str else MISSING
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return MISSING
    if type(x) is float or type(y) is float:
        x, y = float(x), float(y)
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    else:
        r = _divide(op, x, y)
    return check_int(r) if type(r) is int else r


def _divide(op: str, x: Any, y: Any) -> Any:
    if y == 0:
        raise SelectError("ExternalEvalException")
    if type(x) is int and type(y) is int:
        q = abs(x) // abs(y)
        q = q if (x < 0) == (y < 0) else -q
        return q if op == "/" else x - y * q
    if op == "/":
        return x / y
    if type(x) is float:
        import math

        return math.fmod(x, y)
    return x % y  # Decimal's % keeps the dividend's sign, as SQL does


def negate(v: Any) -> Any:
    if v is MISSING or v is None:
        return v
    n = as_number(v)
    if n is None:
        return MISSING
    return check_int(-n) if type(n) is int else -n


def and3(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    if a is True and b is True:
        return True
    return MISSING if a is MISSING or b is MISSING else None


def or3(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    if a is False and b is False:
        return False
    return MISSING if a is MISSING or b is MISSING else None


def not3(v: Any) -> Any:
    if v is True:
        return False
    if v is False:
        return True
    return MISSING if v is MISSING else None


# ---------------------------------------------------------------- CAST


def cast(value: Any, target: str) -> Any:
    if value is None or value is MISSING:
        return value
    try:
        return _CASTS[target](value)
    except SelectError:
        raise
    except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
        raise SelectError("CastFailed") from exc


def _to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    if t is str:
        n = parse_number(v)
        if n is None:
            raise ValueError(v)
        v = n
    if isinstance(v, float | Decimal):
        return check_int(int(v))
    if type(v) is int:
        return check_int(v)
    raise TypeError(v)


def _to_float(v: Any) -> float:
    if type(v) is str:
        return float(v.strip())
    if isinstance(v, datetime) or type(v) in (list, dict):
        raise TypeError(v)
    return float(v)


def _to_decimal(v: Any) -> Decimal:
    if type(v) is str:
        d = Decimal(v.strip())
        if not d.is_finite():
            raise ValueError(v)
        return d
    if type(v) is bool or is_num(v):
        return Decimal(int(v) if type(v) is bool else v)
    raise TypeError(v)


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    if type(v) is str:
        word = v.strip().lower()
        if word in ("true", "false"):
            return word == "true"
        raise ValueError(v)
    if is_num(v):
        return v != 0
    raise TypeError(v)


def to_text(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int or t is Decimal:
        return str(v)
    if t is float:
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    raise TypeError(v)


def _to_timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return st.ensure_aware(v)
    if type(v) is str:
        ts = st.parse_timestamp(v)
        if ts is None:
            raise ValueError(v)
        return ts
    raise TypeError(v)


_CASTS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "float": _to_float,
    "decimal": _to_decimal,
    "bool": _to_bool,
    "string": to_text,
    "timestamp": _to_timestamp,
}


# ---------------------------------------------------------------- LIKE


def like_regex(pattern: Any, escape: Any) -> re.Pattern[str]:
    if type(pattern) is not str or (
        escape is not None and (type(escape) is not str or len(escape) != 1)
    ):
        raise SelectError("LikeInvalidInputs")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escape is not None and c == escape:
            if i + 1 >= len(pattern) or pattern[i + 1] not in ("%", "_", escape):
                raise SelectError("EvaluatorLikePatternInvalidEscapeSequence")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)
