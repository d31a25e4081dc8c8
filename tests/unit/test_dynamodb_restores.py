"""Restores run as jobs (``restores.py``): the table is CREATING until every item is
copied and every index built; a point-in-time copy made while the source changes is
still the table as it was; a restart carries on a half-done restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cloudlet.services.dynamodb import backup_copies, restores
from cloudlet.services.dynamodb.backups import Backup, Backups, restored_definition
from cloudlet.services.dynamodb.engine import Engine, Stored
from cloudlet.services.dynamodb.tables import Table, parse_create


def connect(path: Path) -> Engine:
    return Engine(sqlite3.connect(path, isolation_level=None), clock=lambda: clock[0])


clock = [1000.0]


def source_table(engine: Engine) -> Table:
    params = {
        "TableName": "source",
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
    table = engine.add_table(parse_create(params, "000000000000", "us-east-1", clock[0]))
    table.pitr = {"enabled": True, "since": 0.0, "days": 35}
    engine.save(table)
    return table


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
    entries = conn.execute("SELECT bhk FROM index_items WHERE iid = ? ORDER BY bhk", (ix,))
    return items.fetchall(), entries.fetchall()


def backup_of(engine: Engine, table: Table, name: str = "before") -> Backup:
    """A finished backup of ``table``: recorded, then copied in one go."""
    backup = Backups(engine).create(table, name)
    backup_copies.Copy(engine, table, backup.bid).complete()
    return backup


def restore(engine: Engine, source: Table, name: str, job: dict) -> Table:
    table = restored_definition(source, name, "000000000000", "us-east-1", {}, clock[0])
    restores.begin(engine, table, job)
    return table


def test_a_restore_from_backup_is_creating_until_copied_and_indexed(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    src = source_table(engine)
    for n in range(50):
        put(engine, src, n, "x" * (n + 1))
    backup = backup_of(engine, src)
    for n in range(50, 60):  # after the backup: not restored
        put(engine, src, n, "late")
    new = restore(engine, src, "restored", {"backup": backup.bid})
    step = restores.steps(engine, new)
    slices = 0
    while not step(7):
        slices += 1
        assert new.status == "CREATING" and new.restoring is not None
        assert restores.restoring(engine, backup.bid)
    assert slices > 50 // 7 * 2  # the items copied, then the index built, a slice at a time
    assert new.status == "ACTIVE" and new.restoring is None
    items, entries = contents(engine, new)
    assert len(items) == 50 and len(entries) == 50
    assert (new.item_count, new.size_bytes) == engine.store.count(new.tid)
    assert not restores.restoring(engine, backup.bid)


def test_a_point_in_time_copy_ignores_changes_made_while_it_runs(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    src = source_table(engine)
    for n in range(40):
        put(engine, src, n, "old")
    clock[0] += 10
    when = clock[0]
    expected = contents(engine, src)
    clock[0] += 10
    put(engine, src, 3, "changed before the restore")
    new = restore(engine, src, "as-of", {"table": src.tid, "when": when})
    step = restores.steps(engine, new)
    n = 100
    while not step(5):  # the source keeps changing, ahead of and behind the copy
        put(engine, src, n % 40, None if n % 2 else "changed meanwhile")
        put(engine, src, n, "added meanwhile")
        n += 1
    assert new.status == "ACTIVE"
    assert contents(engine, new) == expected


def test_a_restart_carries_on_a_half_done_restore(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    src = source_table(engine)
    for n in range(30):
        put(engine, src, n, "v")
    backup = backup_of(engine, src)
    new = restore(engine, src, "resumed", {"backup": backup.bid})
    step = restores.steps(engine, new)
    step(10)
    step(10)  # 20 items copied, committed; then the server stops
    engine.store.conn.close()

    engine = connect(tmp_path / "db")
    again = engine.find("000000000000", "us-east-1", "resumed")
    assert again is not None and again.status == "CREATING"
    assert again.restoring == {"backup": backup.bid}
    step = restores.steps(engine, again)
    while not step(10):
        pass
    assert again.status == "ACTIVE"
    items, entries = contents(engine, again)
    assert len(items) == 30 and len(entries) == 30
    engine.store.conn.close()
    engine = connect(tmp_path / "db")
    reopened = engine.find("000000000000", "us-east-1", "resumed")
    assert reopened is not None and reopened.status == "ACTIVE" and reopened.restoring is None


def test_a_deleted_backups_items_go_to_the_background_purge(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    purges: list[bool] = []
    engine.on_purge = lambda: purges.append(True)
    src = source_table(engine)
    for n in range(30):
        put(engine, src, n, "v")
    backup = backup_of(engine, src, "doomed")
    Backups(engine).delete(backup)
    rows = "SELECT count(*) FROM backup_items WHERE bid = ?"
    assert engine.store.conn.execute(rows, (backup.bid,)).fetchone()[0] == 30
    assert purges == [True]
    while not engine.store.purge(7):
        pass
    assert engine.store.conn.execute(rows, (backup.bid,)).fetchone()[0] == 0
