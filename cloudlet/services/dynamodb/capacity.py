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
) -> dict[str, Any] | None:
    """The ConsumedCapacity member for one table, or None when not asked for.

    ``kind`` is "read" or "write"; ``indexes`` holds units per index name and
    ``index_kinds`` says which are local ("LSI") or global ("GSI").
    """
    if mode is None or mode == "NONE":
        return None
    indexes = indexes or {}
    total = units + sum(indexes.values())
    word = "ReadCapacityUnits" if kind == "read" else "WriteCapacityUnits"
    out: dict[str, Any] = {"TableName": table, "CapacityUnits": total, word: total}
    if mode == "INDEXES":
        out["Table"] = {"CapacityUnits": units, word: units}
        kinds = index_kinds or {}
        gsi = {
            n: {"CapacityUnits": u, word: u} for n, u in indexes.items() if kinds.get(n) != "LSI"
        }
        lsi = {
            n: {"CapacityUnits": u, word: u} for n, u in indexes.items() if kinds.get(n) == "LSI"
        }
        if gsi:
            out["GlobalSecondaryIndexes"] = gsi
        if lsi:
            out["LocalSecondaryIndexes"] = lsi
    return out
