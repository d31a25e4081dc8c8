"""DynamoDB attribute values: validation, numbers, sizes and key bytes.

Items travel through cloudlet in their wire form, as the JSON codec parses
them: ``{"S": str}``, ``{"N": str}``, ``{"B": bytes}``, ``{"SS"|"NS": [str]}``,
``{"BS": [bytes]}``, ``{"M": {name: value}}``, ``{"L": [value]}``,
``{"NULL": True}``, ``{"BOOL": bool}``. Keeping that form means a stored item
goes back to the client without conversion.

Numbers are DynamoDB's decimals: 38 significant digits, magnitudes from 1E-130
to below 1E126, stored and returned in canonical text (no exponent, no leading
or trailing zeros: "1.50" comes back as "1.5", "1E2" as "100"). Their text is
read as DynamoDB (Java's BigDecimal) reads it: ASCII digits, no spaces or ``_``,
and the range is checked before any arithmetic, since ``decimal`` accepts
exponents (``1e999999999999``) that no context can then compute with.

Key bytes (``key_bytes``) sort exactly as DynamoDB orders keys, so SQLite's
``memcmp`` over BLOB columns gives range queries in DynamoDB order: strings by
UTF-8 bytes, binaries by bytes, numbers numerically.
"""

from __future__ import annotations

import base64
import decimal
import re
from decimal import Decimal
from typing import Any

from cloudlet.services.dynamodb import errors

AV = dict[str, Any]
Item = dict[str, AV]

TYPES = frozenset(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))
KEY_TYPES = frozenset(("S", "N", "B"))
MAX_ITEM_SIZE = 400 * 1024
MAX_DIGITS = 38
"""Significant digits a number holds."""
MAX_DEPTH = 32
"""Nesting levels of a document, the attribute itself being level 1: a value wrapped in 31
maps or lists (its leaf at level 32) is the deepest AWS stores."""
_DEEPEST_CONTAINER = MAX_DEPTH - 1
"""The depth (0 for an attribute) of the deepest map or list that may hold anything."""
MAX_NAME_BYTES = 65535
"""The longest attribute name, in UTF-8 bytes (AWS refuses 65536, though its text says
"less than 65536"; Alternator's test_limits.py, validated against AWS)."""
_LONG = 2**63

CONTEXT = decimal.Context(
    prec=38, rounding=decimal.ROUND_HALF_EVEN, Emax=125, Emin=-130, traps=[decimal.InvalidOperation]
)
"""Arithmetic in update expressions (``SET a = a + :n``) runs in this context."""
_EXACT = decimal.Context(prec=38, Emax=200, Emin=-200)
"""Normalizing a number already checked to 38 digits within DynamoDB's range is exact here."""

_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}


def _number_error(message: str) -> Exception:
    return errors.request_validation(message, "number")


def _not_a_number(text: object) -> Exception:
    # An empty text is named by nothing (dynalite's getItem.js, AWS-checked).
    shown = f": {text}" if text != "" else ""
    return _number_error(f"The parameter cannot be converted to a numeric value{shown}")


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
"""A number's text as DynamoDB reads it (Java's BigDecimal syntax): ASCII digits only, no
spaces, no ``_`` separators, no NaN or Infinity, all of which Python's ``Decimal`` takes."""


def to_decimal(text: str) -> Decimal:
    """A number's text (client or stored) as a ``Decimal``, validated against DynamoDB's range.

    The range is checked on the parsed digits and exponent before any arithmetic: a text
    such as ``1e999999999999`` is valid syntax whose exponent no ``decimal`` context holds.
    As in AWS (Java's BigDecimal), an exponent must fit a 64-bit integer, and zero is
    range-checked by the exponent it is written with (``0e126`` overflows).
    """
    if type(text) is not str or not _NUMBER.match(text):
        raise _not_a_number(text)
    _, e, exponent = text.lower().partition("e")
    if e:
        digits = exponent.lstrip("+-").lstrip("0")
        limit = _LONG if exponent.startswith("-") else _LONG - 1
        if len(digits) > 19 or (digits and int(digits) > limit):
            raise _not_a_number(text)
    try:
        d = Decimal(text)
    except decimal.InvalidOperation:
        # Valid syntax, but an exponent past what ``decimal`` itself holds.
        raise (_underflow() if exponent.startswith("-") else _overflow()) from None
    if not d:
        magnitude = d.adjusted()
        if magnitude > 125:
            raise _overflow()
        if magnitude < -130:
            raise _underflow()
        return Decimal(0)
    digits = d.as_tuple().digits
    significant = len(digits)
    while digits[significant - 1] == 0:
        significant -= 1
    if significant > MAX_DIGITS:
        raise _number_error("Attempting to store more than 38 significant digits in a Number")
    magnitude = d.adjusted()
    if magnitude > 125:
        raise _overflow()
    if magnitude < -130:
        raise _underflow()
    return d.normalize(_EXACT)


def _overflow() -> Exception:
    return _number_error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )


def _underflow() -> Exception:
    return _number_error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )


def number_text(d: Decimal) -> str:
    """DynamoDB's canonical text for a number: plain notation, no redundant zeros."""
    if not d:
        return "0"
    return format(d.normalize(decimal.Context(prec=200)), "f")


def normalize_number(text: str) -> str:
    """Validate a client's number and return the text DynamoDB would store."""
    if (
        type(text) is str
        and text.isascii()
        and text.isdigit()
        and len(text) < 39
        and (text[0] != "0" or text == "0")
    ):
        return text  # the common case: a plain integer already canonical
    return number_text(to_decimal(text))


def type_of(value: AV) -> str:
    for k in value:
        return k
    return ""


def _one_type(value: Any) -> tuple[str, Any]:
    if type(value) is not dict or not value:
        raise errors.validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        # AWS reads a number as it binds the value, before it counts the types:
        # {"S": "a", "N": "b"} is a bad number (dynalite's getItem.js, AWS-checked).
        for n in ([value["N"]] if "N" in value else []) + list(value.get("NS") or ()):
            normalize_number(n)
        raise errors.validation(
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes"
        )
    for k, v in value.items():
        return k, v
    raise AssertionError


def _duplicates(set_type: str, members: list[Any]) -> str:
    """AWS's text for a set holding a repeat. A string set's and a binary set's name their
    members, quoted: those before the first repeat in byte order, then the repeat and the
    rest as sent; a binary set's in base64, without spaces, and with its type after
    (AWS's missing space before "of" included); a number set's names none
    (paritysuite/dynamodb-conformance valueLayers.test.ts DUPE_CURRENT, four regions,
    2026-10-09)."""
    if set_type == "NS":
        return "Input collection contains duplicates."
    binary = set_type == "BS"
    seen: set[Any] = set()
    listed = members
    for i, member in enumerate(members):
        if member in seen:
            byte_order = sorted(seen, key=None if binary else lambda m: m.encode("utf-8"))
            listed = byte_order + members[i:]
            break
        seen.add(member)
    if binary:
        shown = ",".join(f'"{base64.b64encode(m).decode("ascii")}"' for m in listed)
        return f"Input collection [{shown}]of type BS contains duplicates."
    shown = ", ".join(f'"{m}"' for m in listed)
    return f"Input collection [{shown}] contains duplicates."


def check_name(name: str) -> None:
    """Refuse an attribute name past ``MAX_NAME_BYTES``, at any depth and wherever the
    request names it, with AWS's text (captured against DynamoDB in ExtendDB issue #365;
    DynamoDB Local's ATTRIBUTE_NAME_TOO_LARGE). The family ``name`` keeps it unwrapped
    inside ExpressionAttributeValues, as AWS reports it."""
    if len(name) > MAX_NAME_BYTES // 4 and _name_size(name) > MAX_NAME_BYTES:
        raise errors.request_validation(
            "Attribute name is too large, must be less than 65536 bytes", "name"
        )


def validate_value(value: Any, depth: int = 0) -> AV:
    """Check one attribute value and return it with numbers in canonical text.

    ``depth`` counts the maps and lists around the value (0 for an attribute, which is
    nesting level 1): a non-empty container at depth ``MAX_DEPTH - 1`` would hold values
    past level ``MAX_DEPTH``.

    Raises ``ValidationException`` with DynamoDB's messages for an empty or
    ambiguous value, a bad number, an empty or duplicated set, ``NULL: false``.
    """
    t, v = _one_type(value)
    if t == "S" or t == "B" or t == "BOOL":
        return value
    if t == "N":
        n = normalize_number(v)
        return value if n == v else {"N": n}
    if t == "M":
        if depth >= _DEEPEST_CONTAINER and v:
            raise _too_deep()
        out = {}
        changed = False
        for name, inner in v.items():
            check_name(name)
            checked = validate_value(inner, depth + 1)
            changed = changed or checked is not inner
            out[name] = checked
        return {"M": out} if changed else value
    if t == "L":
        if depth >= _DEEPEST_CONTAINER and v:
            raise _too_deep()
        checked_list = [validate_value(inner, depth + 1) for inner in v]
        if any(a is not b for a, b in zip(checked_list, v, strict=True)):
            return {"L": checked_list}
        return value
    if t == "NULL":
        if v is not True:
            raise errors.invalid_parameter("Null attribute value types must have the value of true")
        return value
    if t in _SET_NAMES:
        if not v:
            raise errors.request_validation(
                "One or more parameter values were invalid: "
                + (
                    "Binary sets should not be empty"
                    if t == "BS"
                    else f"An {_SET_NAMES[t]} set  may not be empty"
                )
            )
        members = [normalize_number(n) for n in v] if t == "NS" else v
        if len(set(members)) != len(members):
            raise errors.request_validation(
                "One or more parameter values were invalid: " + _duplicates(t, v)
            )
        return {"NS": members} if t == "NS" and members != v else value
    raise errors.validation(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    )


def check_depth(item: Item) -> None:
    """Refuse an item nested deeper than DynamoDB allows, as ``validate_value`` does.

    For items an update made: each value of the request was checked, but setting a
    nested map into a path already deep in the stored item can still go past the limit.
    """
    stack = [(value, 0) for value in item.values()]
    while stack:
        value, depth = stack.pop()
        for t, v in value.items():
            if t == "M" or t == "L":
                if depth >= _DEEPEST_CONTAINER and v:
                    raise _too_deep()
                inner = v.values() if t == "M" else v
                stack.extend((x, depth + 1) for x in inner)


def _too_deep() -> Exception:
    return errors.validation(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested "
        "levels beyond supported limit"
    )


def validate_item(item: Item) -> Item:
    """Every attribute of an item checked and numbers made canonical (a new dict if any changed)."""
    out: Item | None = None
    for name, value in item.items():
        check_name(name)
        checked = validate_value(value)
        if checked is not value:
            if out is None:
                out = dict(item)
            out[name] = checked
    return item if out is None else out


# --------------------------------------------------------------------------- sizes


def number_size(text: str) -> int:
    """The bytes AWS counts for a number in canonical text (``number_text``).

    Not the developer guide's "1 byte per two significant digits, plus 1": AWS counts
    the integer and the fraction digits separately, each rounded up to whole bytes, and
    adds a byte for the sign (captured: ``3.14159`` costs 5, ``123456`` 4, ``-42`` 3,
    ``100.5`` 4, ``0.0000001`` 2). Leading and trailing zeros are not counted, except
    the integer's trailing zeros when a fraction follows them.
    """
    if text.isdigit():  # the common case: a non-negative integer
        digits = len(text.rstrip("0"))
        return (digits + 1) // 2 + 1 if digits else 1
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    whole = whole.lstrip("0")
    if fraction:
        int_digits = len(whole)
        frac_digits = len(fraction) if whole else len(fraction.lstrip("0"))
    else:
        int_digits = len(whole.rstrip("0"))
        frac_digits = 0
    if not int_digits and not frac_digits:
        return 1  # zero
    return 1 + (int_digits + 1) // 2 + (frac_digits + 1) // 2 + negative


def value_size(value: AV) -> int:
    """The size AWS counts for one value (names excluded), per the DynamoDB item-size docs."""
    for t, v in value.items():
        if t == "S":
            return len(v.encode("utf-8")) if not v.isascii() else len(v)
        if t == "N":
            return number_size(v)
        if t == "B":
            return len(v)
        if t == "BOOL" or t == "NULL":
            return 1
        if t == "M":
            total = 3
            for name, inner in v.items():
                total += _name_size(name) + value_size(inner) + 1
            return total
        if t == "L":
            total = 3
            for inner in v:
                total += value_size(inner) + 1
            return total
        if t == "SS":
            return sum(len(s.encode("utf-8")) for s in v)
        if t == "NS":
            return sum(number_size(n) for n in v)
        if t == "BS":
            return sum(len(b) for b in v)
    return 0


def _name_size(name: str) -> int:
    return len(name) if name.isascii() else len(name.encode("utf-8"))


def item_size(item: Item) -> int:
    total = 0
    for name, value in item.items():
        total += _name_size(name) + value_size(value)
    return total


# --------------------------------------------------------------------------- key bytes


def number_key(d: Decimal) -> bytes:
    """Order-preserving bytes for a number: sign, exponent, digits (negatives inverted)."""
    if not d:
        return b"\x02"
    sign, digits, _exp = d.as_tuple()
    adjusted = d.adjusted() + 200  # 70..325: two bytes
    text = bytes(48 + x for x in digits).rstrip(b"0")
    if not sign:
        return b"\x03" + adjusted.to_bytes(2, "big") + text
    inverted = bytes(105 - c for c in text)  # '0'..'9' -> '9'..'0'
    return b"\x01" + (0xFFFF - adjusted).to_bytes(2, "big") + inverted + b"\xff"


def number_hash_bytes(key: bytes) -> bytes:
    """The bytes DynamoDB hashes a number partition key as, from its ``number_key``.

    Base-100 digits behind an exponent byte, as Oracle's NUMBER stores them: the exponent
    byte is ``0xC0 + e`` for a positive ``0.dd... x 100^e`` (complemented when negative),
    each digit pair is stored plus one (a negative's as 101 minus the pair, then a 102
    terminator when under 20 pairs), and zero is ``0x80``. Hashed with
    ``store.hash_of``, this orders number keys as DynamoDB's Scan does (dynalite's
    scan.js "should return items in number hash order" and "...from correct number hash
    segments", recorded against DynamoDB)."""
    if key[0] == 2:
        return b"\x80"
    negative = key[0] == 1
    if negative:
        adjusted = 0xFFFF - int.from_bytes(key[1:3], "big") - 200
        text = bytes(105 - c for c in key[3:-1]).decode()
    else:
        adjusted = int.from_bytes(key[1:3], "big") - 200
        text = key[3:].decode()
    exponent = adjusted + 1
    if exponent % 2:
        text, exponent = "0" + text, exponent + 1
    if len(text) % 2:
        text += "0"
    pairs = [int(text[i : i + 2]) for i in range(0, len(text), 2)]
    head = exponent // 2 - 64
    if not negative:
        return bytes([head & 0xFF, *(p + 1 for p in pairs)])
    tail = [102] if len(pairs) < 20 else []
    return bytes([~head & 0xFF, *(101 - p for p in pairs), *tail])


def key_bytes(value: AV) -> bytes:
    """The sortable bytes of a key attribute value (S, N or B)."""
    for t, v in value.items():
        if t == "S":
            return v.encode("utf-8")
        if t == "B":
            return bytes(v)
        if t == "N":
            return number_key(Decimal(v))
    raise AssertionError(f"not a key value: {value!r}")
