"""How DynamoDB compares attribute values: order, equality, containment, size.

Shared by expressions, the legacy ComparisonOperator forms and Query (which
orders and filters on key values). Values are in wire form (``{"N": "1.5"}``).

* Order exists only between two values of the same scalar type: S by UTF-8
  bytes (which is code-point order, so Python's ``str`` order), N numerically,
  B by unsigned bytes. Anything else is unordered: ``compare`` returns None and
  every ordering comparison is false.
* Equality needs the same type; sets compare as sets, numbers numerically,
  lists and maps deeply.
"""

from __future__ import annotations

from decimal import Decimal

from cloudlet.services.dynamodb.values import AV

_SETS = frozenset(("SS", "NS", "BS"))


def compare(a: AV, b: AV) -> int | None:
    """-1, 0 or 1 when ``a`` and ``b`` are ordered (same type among S, N, B), else None."""
    for ta, va in a.items():
        vb = b.get(ta)
        if vb is None:
            return None
        if ta == "S" or ta == "B":
            return -1 if va < vb else (1 if va > vb else 0)
        if ta == "N":
            if va == vb:
                return 0
            da, db = Decimal(va), Decimal(vb)
            return -1 if da < db else (1 if da > db else 0)
        return None
    return None


def equals(a: AV, b: AV) -> bool:
    """DynamoDB equality: same type and same value (sets unordered, numbers numeric)."""
    for ta, va in a.items():
        vb = b.get(ta)
        if vb is None:
            return False
        if ta == "S" or ta == "B" or ta == "BOOL" or ta == "NULL":
            return va == vb
        if ta == "N":
            return va == vb or Decimal(va) == Decimal(vb)
        if ta == "SS" or ta == "BS":
            return len(va) == len(vb) and set(va) == set(vb)
        if ta == "NS":
            return len(va) == len(vb) and {Decimal(x) for x in va} == {Decimal(x) for x in vb}
        if ta == "L":
            return len(va) == len(vb) and all(equals(x, y) for x, y in zip(va, vb, strict=True))
        if ta == "M":
            return va.keys() == vb.keys() and all(equals(v, vb[k]) for k, v in va.items())
        return False
    return False


def contains(container: AV, item: AV) -> bool:
    """``contains(a, b)``: substring of a string, subsequence of a binary, member of a
    set of the matching type, or element of a list."""
    for tc, vc in container.items():
        if tc == "S":
            vi = item.get("S")
            return vi is not None and vi in vc
        if tc == "B":
            vi = item.get("B")
            return vi is not None and bytes(vi) in bytes(vc)
        if tc == "SS":
            vi = item.get("S")
            return vi is not None and vi in vc
        if tc == "BS":
            vi = item.get("B")
            return vi is not None and vi in vc
        if tc == "NS":
            vi = item.get("N")
            if vi is None:
                return False
            if vi in vc:
                return True
            d = Decimal(vi)
            return any(Decimal(x) == d for x in vc)
        if tc == "L":
            return any(equals(x, item) for x in vc)
        return False
    return False


def begins_with(value: AV, prefix: AV) -> bool:
    for t, v in value.items():
        if t == "S" or t == "B":
            p = prefix.get(t)
            return p is not None and v[: len(p)] == p
        return False
    return False


def size(value: AV | None) -> AV | None:
    """``size(path)`` as a number value; None for a missing path or a type without a size
    (N, BOOL, NULL), which makes any comparison with it false."""
    if value is None:
        return None
    for t, v in value.items():
        if t == "S":
            # DynamoDB counts UTF-16 code units (Java's String.length): an emoji is 2
            return {"N": str(len(v) if v.isascii() else len(v.encode("utf-16-le")) // 2)}
        if t in ("B", "L", "M") or t in _SETS:
            return {"N": str(len(v))}
        return None
    return None


def type_of(value: AV) -> str:
    for t in value:
        return t
    return ""


def key_of(value: AV) -> tuple | None:
    """A hashable identity for S/N/B values (IN lists of literals become set lookups)."""
    for t, v in value.items():
        if t == "S":
            return ("S", v)
        if t == "N":
            return ("N", Decimal(v))
        if t == "B":
            return ("B", bytes(v))
        return None
    return None
