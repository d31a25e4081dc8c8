"""Consumed capacity as DynamoDB counts it, for ``ReturnConsumedCapacity``.

Reads cost one unit per 4 KB of item read (half for eventually consistent
reads), writes one unit per 1 KB of the larger of the old and new item;
a Query or Scan rounds the total size read, not each item, except the table items
a local secondary index read fetches (attributes the index does not project), which
are charged one by one, each rounded up to 4 KB (developer guide, LSI.html,
"Provisioned throughput considerations": "The size of each matching item in the base
table, with each item individually rounded up to the next 4 KB"); transactions cost
double. Index writes are counted per index touched.
"""

from __future__ import annotations

from typing import Any


def read_units(size: int, consistent: bool) -> float:
    units = max(1, -(-size // 4096))
    return float(units) if consistent else units / 2


def write_units(size: int) -> float:
    return float(max(1, -(-size // 1024)))


def consumed(
    mode: str | None,
    table: str,
    units: float,
    *,
    kind: str,
    indexes: dict[str, float] | None = None,
    index_kinds: dict[str, str] | None = None,
    split: bool = False,
) -> dict[str, Any] | None:
    """The ConsumedCapacity member for one table, or None when not asked for.

    ``kind`` is "read" or "write"; ``indexes`` holds units per index name and
    ``index_kinds`` says which are local ("LSI") or global ("GSI"). ``split``: the
    units are also given as ``ReadCapacityUnits``/``WriteCapacityUnits`` (by
    ``kind``), which only the transactions do; the other operations report the
    aggregate alone (paritysuite/dynamodb-conformance issue 69, characterised
    against DynamoDB in 2026; aws-sdk-go issue 2699).
    """
    if mode is None or mode == "NONE":
        return None
    indexes = indexes or {}
    word = ("ReadCapacityUnits" if kind == "read" else "WriteCapacityUnits") if split else None

    def units_of(n: float) -> dict[str, float]:
        return {"CapacityUnits": n, word: n} if word else {"CapacityUnits": n}

    out: dict[str, Any] = {"TableName": table, **units_of(units + sum(indexes.values()))}
    if mode == "INDEXES":
        out["Table"] = units_of(units)
        kinds = index_kinds or {}
        gsi = {n: units_of(u) for n, u in indexes.items() if kinds.get(n) != "LSI"}
        lsi = {n: units_of(u) for n, u in indexes.items() if kinds.get(n) == "LSI"}
        if gsi:
            out["GlobalSecondaryIndexes"] = gsi
        if lsi:
            out["LocalSecondaryIndexes"] = lsi
    return out
