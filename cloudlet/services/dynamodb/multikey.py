"""Multi-attribute GSI keys: the KeySchema rules, the stored key bytes, the sort-key ranges.

Since November 2025 a global secondary index's partition key and sort key may each be made
of up to four attributes (AWS What's New, 2025-11, "Amazon DynamoDB introduces
multi-attribute composite keys in global secondary indexes"; developer guide page
GSI.DesignPattern.MultiAttributeKeys). Tables and local secondary indexes keep one HASH and
at most one RANGE attribute.

Why the key bytes look like this: an index row is keyed ``(iid, h, hk, rk, ...)`` and a
Query is a range scan over ``rk`` (``store.py``). A key part of one attribute keeps the bytes
it always had (``values.key_bytes``), so single-attribute indexes and existing data
directories are untouched. A key part of several attributes is the concatenation of each
attribute's ``key_bytes`` *escaped and terminated*: every 0x00 byte becomes 0x00 0xFF and
each attribute ends with 0x00 0x01. That encoding is

- **order-preserving**: comparing two encodings byte by byte compares the attribute tuples
  element by element, each in DynamoDB's order (numbers numerically, strings and binaries
  by bytes; a shorter value that is a prefix of a longer one sorts first because its
  terminator 0x00 0x01 is below any escaped byte that can follow, 0x00 0xFF included);
- **prefix-free per attribute**: no attribute's encoding is a prefix of another's, so the
  rows whose first k sort attributes equal given values are exactly the rows whose ``rk``
  starts with the encoding of those k values, and a comparison on attribute k+1 is a byte
  range after that prefix (``sort_range``).

The rules for a KeySchema and the error texts are AWS's, from live captures
(ack-api-quirks DDB-TABLE-123; error catalogue DDB-TABLE-442).
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudlet.services.dynamodb import errors

MAX_KEY_ATTRIBUTES = 4
"""HASH attributes, and separately RANGE attributes, a GSI key may have."""
_ESCAPE = b"\x00\xff"
_END = b"\x00\x01"


# --------------------------------------------------------------------------- KeySchema


def is_multi_schema(schema: list[dict[str, str]]) -> bool:
    """Whether a GSI KeySchema is checked by ``check_gsi_key_schema``: more than two
    elements, or two HASH elements. Any other (a HASH, a HASH and a RANGE, or a malformed
    pair) keeps the checks and texts single-attribute keys always had."""
    return len(schema) > 2 or [e.get("KeyType") for e in schema] == ["HASH", "HASH"]


def check_gsi_key_schema(schema: list[dict[str, str]]) -> None:
    """A multi-attribute GSI KeySchema's shape: 1-4 HASH elements then 0-4 RANGE elements,
    names unique.

    Texts: DDB-TABLE-123 (counts, order, duplicates) and DDB-TABLE-124 (a RANGE first). The
    order in which AWS applies these checks to a schema breaking several is not captured,
    nor the member path of an unknown KeyType's enum error.
    """
    types = [e.get("KeyType") for e in schema]
    for i, kind in enumerate(types, 1):
        errors.check_enum(kind, f"keySchema.{i}.member.keyType", ("HASH", "RANGE"))
    if types[0] != "HASH":
        raise errors.validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    first_range = types.index("RANGE") if "RANGE" in types else len(types)
    if "HASH" in types[first_range:]:
        raise errors.invalid_parameter(
            "All HASH key attributes must precede RANGE key attributes in the KeySchema"
        )
    for kind in ("HASH", "RANGE"):
        if types.count(kind) > MAX_KEY_ATTRIBUTES:
            raise errors.invalid_parameter(
                f"The KeySchema exceeds the maximum allowed number of {kind} key attributes"
            )
    _check_unique(schema)


def _check_unique(schema: list[dict[str, str]]) -> None:
    names = [e["AttributeName"] for e in schema]
    if len(set(names)) != len(names):
        raise errors.validation("The KeySchema contains multiple key attributes with the same name")


# --------------------------------------------------------------------------- key bytes


def encode(parts: Sequence[bytes]) -> bytes:
    """Several attributes' ``key_bytes`` as one order-preserving, prefix-free byte string."""
    return b"".join(p.replace(b"\x00", _ESCAPE) + _END for p in parts)


def join(parts: Sequence[bytes]) -> bytes:
    """A key part's stored bytes: one attribute's own bytes, several attributes ``encode``d
    (none: empty, as for a table or index without a sort key)."""
    if len(parts) == 1:
        return parts[0]
    return encode(parts)


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``
    (None: there is none, every byte was 0xFF)."""
    b = bytearray(prefix)
    while b and b[-1] == 0xFF:
        b.pop()
    if not b:
        return None
    b[-1] += 1
    return bytes(b)


Range = list[tuple[str, bytes]]
"""SQL conditions on ``rk``, each ``("rk >= ?" | "rk < ?", bound)``, to AND together."""


def sort_range(prefix: Sequence[bytes], op: str | None, bounds: Sequence[bytes]) -> Range:
    """The conditions on an encoded ``rk`` for: the sort attributes before the last one
    conditioned equal ``prefix`` (their ``key_bytes``) and the last one satisfies ``op``
    with ``bounds`` (its values' ``key_bytes``; for ``begins_with`` the raw prefix).
    """
    head = encode(prefix)
    if op is None:
        return _within(head)
    if op == "begins_with":
        return _within(head + bounds[0].replace(b"\x00", _ESCAPE))
    value = head + encode(bounds[:1])
    if op == "=":
        return _within(value)
    if op == "<":
        return _at_least(head) + [("rk < ?", value)]
    if op == "<=":
        return _at_least(head) + _below_all_after(value)
    if op == ">":
        after = successor(value)
        assert after is not None  # ``value`` ends with a terminator's 0x01
        return _at_least(after) + _below_all_after(head)
    if op == ">=":
        return _at_least(value) + _below_all_after(head)
    assert op == "BETWEEN", op
    return _at_least(value) + _below_all_after(head + encode(bounds[1:]))


def _within(prefix: bytes) -> Range:
    """Every ``rk`` starting with ``prefix``."""
    return _at_least(prefix) + _below_all_after(prefix)


def _at_least(low: bytes) -> Range:
    return [("rk >= ?", low)] if low else []


def _below_all_after(prefix: bytes) -> Range:
    """``rk`` below everything past the strings starting with ``prefix`` (no condition for
    an empty prefix, or one of 0xFF bytes only)."""
    end = successor(prefix) if prefix else None
    return [("rk < ?", end)] if end is not None else []
