"""A Query's key range on a GSI whose key has several HASH or RANGE attributes.

Why it is a range like any other: the index rows of a multi-attribute key store the
partition attributes as one ``hk`` and the sort attributes as one ``rk``, both encoded by
``multikey`` so that byte order is the attributes' tuple order. The partition values give
the one ``hk`` a Query reads; the sort condition (equalities on leading sort attributes, then
at most one comparison) is a byte range of ``rk`` (``multikey.sort_range``), so results come
back ordered by the sort attributes in KeySchema order, each in DynamoDB's order for its
type, and reversed by ScanIndexForward=false, as AWS documents (developer guide,
GSI.DesignPattern.MultiAttributeKeys).
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import errors, multikey
from cloudlet.services.dynamodb.expressions.multikeys import MultiKeyCondition
from cloudlet.services.dynamodb.key_values import check_not_empty, number_partition
from cloudlet.services.dynamodb.store import hash_of
from cloudlet.services.dynamodb.values import AV, key_bytes

Attrs = list[tuple[str, str]]


def key_range(hashes: Attrs, ranges: Attrs, kc: MultiKeyCondition) -> tuple[bytes, str, list[Any]]:
    """``(hk, where, args)``: the partition's key bytes and the SQL that selects the
    condition's rows of ``index_items`` (after ``iid = ?``)."""
    hk = multikey.join([_part(attr, v) for attr, v in zip(hashes, kc.hash_values, strict=True)])
    prefix = [_part(ranges[i], v) for i, v in enumerate(kc.prefix)]
    bounds: list[bytes] = []
    if kc.range_op is not None:
        last = ranges[len(kc.prefix)]
        bounds = [_part(last, v) for v in kc.range_values]
        if kc.range_op == "BETWEEN" and bounds[0] > bounds[1]:
            raise errors.between_bounds(kc.range_values[0], kc.range_values[1])
    where = " AND h = ? AND hk = ?"
    args: list[Any] = [hash_of(hk, number_partition(hashes)), hk]
    for sql, arg in multikey.sort_range(prefix, kc.range_op, bounds):
        where += f" AND {sql}"
        args.append(arg)
    return hk, where, args


def _part(attr: tuple[str, str], value: AV) -> bytes:
    """A condition value's key bytes, of the attribute's type and not empty."""
    name, want = attr
    if want not in value:
        raise errors.invalid_parameter("Condition parameter type does not match schema type")
    check_not_empty(name, value)
    return key_bytes(value)
