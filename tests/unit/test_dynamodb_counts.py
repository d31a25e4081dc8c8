"""The item and index counts DescribeTable reports are counted once and then kept by the
writes (``Engine.counts``): after any mix of writes they equal a fresh count, and a
transaction that rolls back leaves them to be counted again."""

from __future__ import annotations

import random
import sqlite3

import pytest

from cloudlet.services.dynamodb.engine import Engine, Stored
from cloudlet.services.dynamodb.tables import Table, parse_create


@pytest.fixture
def engine() -> Engine:
    return Engine(sqlite3.connect(":memory:", isolation_level=None))


def indexed_table(engine: Engine) -> Table:
    attrs = [("pk", "S"), ("sk", "N"), ("g", "S"), ("l", "N")]

    def gsi(name: str, projection: dict) -> dict:
        return {
            "IndexName": name,
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": projection,
        }

    params = {
        "TableName": "counted",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attrs],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            gsi("all", {"ProjectionType": "ALL"}),
            gsi("keys", {"ProjectionType": "KEYS_ONLY"}),
            gsi("some", {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}),
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "local",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
    return engine.add_table(parse_create(params, "000000000000", "us-east-1", 0.0))


def write(engine: Engine, t: Table, item: dict | None, key_item: dict) -> None:
    key = t.key_of(key_item)
    row = engine.store.get(t.tid, *key)
    with engine.store.transaction():
        engine.write(t, key, Stored(row[0], row[1]) if row else None, item)


def fresh(engine: Engine, t: Table) -> dict[str, tuple[int, int]]:
    t.item_count = t.size_bytes = None
    t.index_counts = None
    return engine.counts(t)


def random_item(rng: random.Random) -> dict:
    item: dict = {"pk": {"S": f"p{rng.randrange(5)}"}, "sk": {"N": str(rng.randrange(30))}}
    if rng.random() < 0.7:  # sparse: some items are in no GSI
        item["g"] = {"S": f"g{rng.randrange(4)}"}
    if rng.random() < 0.6:
        item["l"] = {"N": str(rng.randrange(10))}
    for name in ("x", "y"):
        if rng.random() < 0.5:
            item[name] = {"S": "v" * rng.randrange(1, 200)}
    return item


def test_counts_kept_by_writes_equal_a_fresh_count(engine: Engine) -> None:
    t = indexed_table(engine)
    rng = random.Random(7)
    engine.counts(t)  # counted once; from here on the writes keep them
    for _ in range(600):
        item = random_item(rng)
        write(engine, t, None if rng.random() < 0.2 else item, item)
    kept = engine.counts(t)
    assert kept == fresh(engine, t)
    assert kept["all"][0] > 0
    assert kept["keys"][1] < kept["all"][1]


def test_a_rolled_back_write_is_counted_again(engine: Engine) -> None:
    t = indexed_table(engine)
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "x"}, "l": {"N": "2"}}
    write(engine, t, item, item)
    before = engine.counts(t)
    key = t.key_of(item)
    with pytest.raises(RuntimeError), engine.store.transaction():
        other = {**item, "sk": {"N": "2"}}
        engine.write(t, t.key_of(other), None, other)
        raise RuntimeError("the caller fails after the write")
    assert engine.store.get(t.tid, *key) is not None
    assert engine.counts(t) == before == fresh(engine, t)
