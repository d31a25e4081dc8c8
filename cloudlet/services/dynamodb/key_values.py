"""What a key attribute may hold, and where an item goes in a secondary index.

Why: every write checks its key values (not empty, within DynamoDB's 2048-byte partition
and 1024-byte sort key limits) and computes each index's key, and a GSI backfill skips
the items whose index key a write would refuse. The rules live once, here, for writes,
key conditions and backfills alike; ``tables.py`` keeps the table's definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloudlet.services.dynamodb import errors, multikey
from cloudlet.services.dynamodb.expressions.ordering import type_of
from cloudlet.services.dynamodb.store import base_hash, hash_of
from cloudlet.services.dynamodb.values import AV, Item, key_bytes

if TYPE_CHECKING:
    from cloudlet.services.dynamodb.tables import Index, Table

MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024


def check_not_empty(name: str, value: AV) -> None:
    """A key attribute's value (an item's, or one a Query's key condition compares with)
    may not be an empty string or binary."""
    word = _empty_word(value)
    if word is not None:
        raise errors.validation(
            "One or more parameter values are not valid. The AttributeValue for a key "
            f"attribute cannot contain an empty {word} value. Key: {name}"
        )


def check_key_size(value: AV, is_hash: bool) -> None:
    """DynamoDB's key size limits: 2048 bytes for a partition key, 1024 for a sort key
    (UTF-8 bytes of a string, bytes of a binary; numbers are always small enough).
    The messages are AWS's own, the missing space in "of2048" included."""
    if _key_size(value) <= _key_limit(is_hash):
        return
    if is_hash:
        raise errors.invalid_parameter(
            f"Size of hashkey has exceeded the maximum size limit of{MAX_HASH_KEY_BYTES} bytes"
        )
    raise errors.invalid_parameter(
        "Aggregated size of all range keys has exceeded the size limit of "
        f"{MAX_RANGE_KEY_BYTES} bytes"
    )


def fits_key(value: AV, is_hash: bool) -> bool:
    """Whether ``value`` may be a key attribute's: what ``check_not_empty`` and
    ``check_key_size`` accept, asked without raising."""
    return _empty_word(value) is None and _key_size(value) <= _key_limit(is_hash)


def _empty_word(value: AV) -> str | None:
    """The word for an empty S or B value ("string", "binary"; no key may hold one), else None."""
    s = value.get("S")
    if s is not None:
        return "string" if s == "" else None
    b = value.get("B")
    return "binary" if b is not None and not b else None


def _key_size(value: AV) -> int:
    """The bytes a key value counts against its limit (0 for a number)."""
    v = value.get("S")
    if v is not None:
        return len(v) if v.isascii() else len(v.encode("utf-8"))
    b = value.get("B")
    return 0 if b is None else len(b)


def _key_limit(is_hash: bool) -> int:
    return MAX_HASH_KEY_BYTES if is_hash else MAX_RANGE_KEY_BYTES


def index_key_of(ix: Index, item: Item) -> tuple[int, bytes, bytes] | None:
    """The index key of an item, or None when the item is not in the (sparse) index: it
    is in only when every key attribute is there with its declared type (for a
    multi-attribute key too: GSI.DesignPattern.MultiAttributeKeys, "Sparse multi-attribute
    keys") and a value a key may hold. Writes of an empty or oversized index key are
    refused (``check_index_types``), so only a backfill meets them in items written before
    the index existed, and AWS leaves those items out of the index (Alternator's
    test_gsi_updatetable.py::test_gsi_backfill_empty_string and ::test_gsi_backfill_key_limits,
    validated against DynamoDB: such items "should be skipped while filling the GSI")."""
    if not ix.multi:
        hv = _index_value(item, ix.hash, True)
        if hv is None:
            return None
        if ix.range is not None:
            rv = _index_value(item, ix.range, False)
            if rv is None:
                return None
            rk = key_bytes(rv)
        else:
            rk = b""
        hk = key_bytes(hv)
        return hash_of(hk, number_partition([ix.hash])), hk, rk
    hparts = _index_parts(ix.hash_keys(), item, True)
    rparts = _index_parts(ix.range_keys(), item, False)
    if hparts is None or rparts is None:
        return None
    hk = multikey.join(hparts)
    return hash_of(hk, number_partition(ix.hash_keys())), hk, multikey.join(rparts)


def index_base(table: Table, key: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
    """``(bh, hk, rk)``: where an item of table key ``key`` (``Table.key_of``) sorts among
    index entries of equal index key (``store.base_hash``). Computed once per item written,
    whatever the number of indexes; a hash-only table's is its key, ``h`` being the hash."""
    if table.range is None:
        return key
    return base_hash(key[1], key[2], base_numbers(table)), key[1], key[2]


def base_numbers(table: Table) -> tuple[bool, bool]:
    """Whether ``table``'s hash and range keys are numbers (``store.base_hash``)."""
    return number_partition([table.hash]), table.range is not None and table.range[1] == "N"


def _name(ix: Index) -> str:
    return ix.name


def number_partition(attrs: list[tuple[str, str]]) -> bool:
    """Whether a partition key of these (name, type) attributes is one number: its bytes
    are then a ``number_key``, which ``hash_of`` hashes in DynamoDB's encoding (a
    multi-attribute key's ``multikey`` bytes are hashed as they are)."""
    return len(attrs) == 1 and attrs[0][1] == "N"


def _index_value(item: Item, attr: tuple[str, str], is_hash: bool) -> AV | None:
    """``item``'s value of the index key attribute ``attr`` (name, type); None when it is
    missing, of another type, or not a value a key may hold (``fits_key``)."""
    name, want = attr
    v = item.get(name)
    if v is None or want not in v or not fits_key(v, is_hash):
        return None
    return v


def _index_parts(attrs: list[tuple[str, str]], item: Item, is_hash: bool) -> list[bytes] | None:
    """The ``key_bytes`` of ``attrs`` in ``item`` (None: one is not there as ``_index_value``
    wants it)."""
    parts = []
    for attr in attrs:
        v = _index_value(item, attr, is_hash)
        if v is None:
            return None
        parts.append(key_bytes(v))
    return parts


def check_index_types(table: Table, item: Item, *, update: bool = False) -> None:
    """An item whose index key attribute has the wrong type, is empty or too long is refused,
    as AWS does. ``update``: the item an UpdateExpression made, whose empty index key AWS
    words its own way, naming no index, and refuses as the whole request even inside a
    transaction (nubo-db/dynamodb-conformance transactWriteItems.test.ts and
    updateItem.test.ts, real DynamoDB). The indexes are checked in the order of their
    names: of an attribute several indexes key on, AWS names the alphabetically first
    (``gsi1`` of lsi1, gsi1 and gsi2: that suite's four-region capture of 2026-06-23)."""
    for ix in sorted(table.indexes, key=_name):
        hashes = {name for name, _ in ix.hash_keys()}
        for name, want in ix.hash_keys() + ix.range_keys():
            v = item.get(name)
            if v is None:
                continue
            if name in table.key_names:
                # Checked as a table key already, but a sort key of the table may be
                # an index's partition key and the other way round.
                if type_of(v) == want:
                    check_key_size(v, name in hashes)
                continue
            actual = type_of(v)
            if actual != want:
                raise errors.per_item(
                    errors.invalid_parameter(
                        f"Type mismatch for Index Key {name} Expected: {want} Actual: {actual} "
                        f"IndexName: {ix.name}"
                    )
                )
            word = _empty_word(v)
            if word is not None:
                if update:
                    raise errors.whole_request(
                        errors.validation(
                            "One or more parameter values are not valid. The update expression "
                            "attempted to update a secondary index key to a value that is not "
                            "supported. The AttributeValue for a key attribute cannot contain "
                            f"an empty {word} value."
                        )
                    )
                raise errors.validation(
                    "One or more parameter values are not valid. A value specified for a "
                    f"secondary index key is not supported. The AttributeValue for a key attribute "
                    f"cannot contain an empty {word} value. IndexName: {ix.name}, "
                    f"IndexKey: {name}"
                )
            check_key_size(v, name in hashes)
