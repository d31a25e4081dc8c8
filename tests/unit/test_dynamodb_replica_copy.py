"""A new replica's copy (``replicas.py``) against the real engine: writes made while
the copy runs (before and after its cursor, to and from either replica) leave both
tables equal, indexes included; a restart carries a half-done copy on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import replicas, updatetable
from cloudlet.services.dynamodb.engine import Engine, Stored
from cloudlet.services.dynamodb.tables import Table, parse_create

ACCOUNT = "000000000000"
clock = [1000.0]


def connect(path: Path) -> Engine:
    return Engine(sqlite3.connect(path, isolation_level=None), clock=lambda: clock[0])


def global_source(engine: Engine) -> Table:
    params = {
        "TableName": "gtab",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
    return engine.add_table(parse_create(params, ACCOUNT, "us-east-1", clock[0]))


def put(engine: Engine, t: Table, n: int, value: str | None) -> None:
    item = {"pk": {"S": f"k{n:04d}"}, "g": {"S": f"g{n % 3}"}, "v": {"S": value or "-"}}
    key = t.key_of(item)
    row = engine.store.get(t.tid, *key)
    with engine.store.transaction():
        engine.write(t, key, Stored(row[0], row[1]) if row else None, item if value else None)


def contents(engine: Engine, t: Table) -> tuple[list, list]:
    conn = engine.store.conn
    items = conn.execute("SELECT hk, body FROM items WHERE tid = ? ORDER BY hk", (t.tid,))
    ix = t.indexes[0].iid
    entries = conn.execute("SELECT bhk, body FROM index_items WHERE iid = ? ORDER BY bhk", (ix,))
    return items.fetchall(), entries.fetchall()


def test_writes_during_the_copy_reach_the_replica_once(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    source = global_source(engine)
    for n in range(300):
        put(engine, source, n, "v0")
    (replica,), _ = replicas.apply(
        engine, source, {"ReplicaUpdates": [{"Create": {"RegionName": "us-west-2"}}]}
    )
    assert replica.status == "CREATING" and replica.region == "us-west-2"
    assert source.replicas == replica.replicas == ["us-east-1", "us-west-2"]
    step = replicas.steps(engine, replica)
    assert not step(100)  # a third copied: its cursor is somewhere in the key space
    for n in range(0, 300, 7):  # before and after the cursor; some deleted
        put(engine, source, n, None if n % 2 else "v1")
    for n in range(300, 320):
        put(engine, source, n, "new")
    while not step(50):
        pass
    assert replica.status == "ACTIVE" and replica.replicating is None
    assert all(ix.status == "ACTIVE" for ix in replica.indexes)
    assert contents(engine, source) == contents(engine, replica)
    for n in range(0, 320, 5):  # both ways once ACTIVE
        put(engine, replica if n % 2 else source, n, "v2")
    assert contents(engine, source) == contents(engine, replica)
    assert engine.counts(source) == engine.counts(replica)


def test_a_restart_carries_a_half_done_copy_on(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    source = global_source(engine)
    for n in range(200):
        put(engine, source, n, "v0")
    (replica,), _ = replicas.apply(
        engine, source, {"ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]}
    )
    assert not replicas.steps(engine, replica)(64)
    engine.store.conn.close()

    engine = connect(tmp_path / "db")
    source = engine.tables[(ACCOUNT, "us-east-1", "gtab")]
    replica = engine.tables[(ACCOUNT, "eu-west-1", "gtab")]
    assert replica.status == "CREATING" and replica.replicating["after"] is not None
    put(engine, source, 1, "after-restart")
    step = replicas.steps(engine, replica)
    while not step(64):
        pass
    assert contents(engine, source) == contents(engine, replica)
    assert (
        engine.counts(source)[""]
        == engine.counts(replica)[""]
        == (200, engine.counts(source)[""][1])
    )


def test_changes_every_replica_takes_wait_for_the_copy(tmp_path: Path) -> None:
    """An index added while a replica is still being copied is refused as AWS refuses it
    (ResourceInUseException, DDB-TABLE-310); a change of the table's own (deletion
    protection) is not."""
    engine = connect(tmp_path / "db")
    source = global_source(engine)
    for n in range(100):
        put(engine, source, n, "v0")
    (replica,), _ = replicas.apply(
        engine, source, {"ReplicaUpdates": [{"Create": {"RegionName": "us-west-2"}}]}
    )
    assert not replicas.steps(engine, replica)(10)
    gsi = {
        "TableName": "gtab",
        "AttributeDefinitions": [{"AttributeName": "v", "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [
            {
                "Create": {
                    "IndexName": "by-v",
                    "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    }
    with pytest.raises(ServiceError) as exc:
        updatetable.update_table(engine, source, gsi)
    assert exc.value.code == "ResourceInUseException"
    assert [ix.name for ix in source.indexes] == ["by-g"]
    updatetable.update_table(
        engine, source, {"TableName": "gtab", "DeletionProtectionEnabled": True}
    )
    assert source.deletion_protection and not replica.deletion_protection
