"""A backup copied a slice at a time while its table takes writes (``backup_copies.py``)
is exactly the table as it was when the backup began: through puts, updates and
deletes ahead of and behind the copy, a rolled-back transaction, a restart half way,
and the table being dropped."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from cloudlet.services.dynamodb import backup_copies
from cloudlet.services.dynamodb.backups import Backups
from cloudlet.services.dynamodb.engine import Engine, Stored
from cloudlet.services.dynamodb.tables import Table, parse_create

ACCOUNT, REGION = "000000000000", "us-east-1"


def connect(path: Path) -> Engine:
    return Engine(sqlite3.connect(path, isolation_level=None), clock=lambda: 1000.0)


def make_table(engine: Engine) -> Table:
    params = {
        "TableName": "copied",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    return engine.add_table(parse_create(params, ACCOUNT, REGION, 0.0))


def write(engine: Engine, t: Table, n: int, value: str | None) -> None:
    item = {"pk": {"S": f"k{n:04d}"}, "v": {"S": value or "-"}}
    key = t.key_of(item)
    row = engine.store.get(t.tid, *key)
    with engine.store.transaction():
        engine.write(t, key, Stored(row[0], row[1]) if row else None, item if value else None)


def items(engine: Engine, t: Table) -> list[tuple]:
    return engine.store.conn.execute(
        "SELECT h, hk, rk, size, body FROM items WHERE tid = ? ORDER BY h, hk, rk", (t.tid,)
    ).fetchall()


def backed_up(engine: Engine, bid: int) -> list[tuple]:
    return engine.store.conn.execute(
        "SELECT h, hk, rk, size, body FROM backup_items WHERE bid = ? ORDER BY h, hk, rk", (bid,)
    ).fetchall()


def status(engine: Engine, bid: int) -> str:
    return engine.store.conn.execute("SELECT status FROM backups WHERE id = ?", (bid,)).fetchone()[
        0
    ]


def churn(engine: Engine, t: Table, rng: random.Random) -> None:
    """A few writes anywhere in the key range: new keys, updates, deletes, re-creates."""
    for _ in range(5):
        n = rng.randrange(300)
        write(engine, t, n, None if rng.random() < 0.35 else f"v{rng.random()}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_copy_is_the_table_when_the_backup_began(tmp_path: Path, seed: int) -> None:
    engine = connect(tmp_path / "db")
    t = make_table(engine)
    rng = random.Random(seed)
    for n in range(0, 300, 2):
        write(engine, t, n, "first")
    expected = items(engine, t)
    backup = Backups(engine).create(t, "snap")
    copy = backup_copies.Copy(engine, t, backup.bid)
    assert not engine.blind_writes(t)
    steps = 0
    while not copy.step(9):
        steps += 1
        assert status(engine, backup.bid) == "CREATING"
        churn(engine, t, rng)
    assert steps >= 150 // 9
    assert status(engine, backup.bid) == "AVAILABLE"
    assert backed_up(engine, backup.bid) == expected
    assert t.tid not in engine.copies and engine.blind_writes(t)


def test_a_rolled_back_write_saves_nothing(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    t = make_table(engine)
    for n in range(20):
        write(engine, t, n, "first")
    expected = items(engine, t)
    backup = Backups(engine).create(t, "snap")
    copy = backup_copies.Copy(engine, t, backup.bid)
    copy.step(3)
    item = {"pk": {"S": "k0015"}, "v": {"S": "never"}}
    key = t.key_of(item)
    with pytest.raises(RuntimeError), engine.store.transaction():
        row = engine.store.get(t.tid, *key)
        engine.write(t, key, Stored(row[0], row[1]), item)
        raise RuntimeError("the transaction is cancelled")
    write(engine, t, 15, "later")  # the first committed write after the backup began
    write(engine, t, 16, None)
    write(engine, t, 99, "new")
    copy.complete()
    assert backed_up(engine, backup.bid) == expected


def test_a_restart_copies_again_and_keeps_what_writes_saved(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    t = make_table(engine)
    for n in range(0, 100, 2):
        write(engine, t, n, "first")
    expected = items(engine, t)
    backup = Backups(engine).create(t, "snap")
    copy = backup_copies.Copy(engine, t, backup.bid)
    copy.step(20)
    for n in (1, 3, 4, 60, 61, 62):  # behind and ahead of the copy: new, changed, deleted
        write(engine, t, n, None if n in (4, 62) else "changed")
    engine.store.conn.close()  # the server stops with the copy half done

    engine = connect(tmp_path / "db")
    again = engine.find(ACCOUNT, REGION, "copied")
    assert again is not None and status(engine, backup.bid) == "CREATING"
    copy = backup_copies.Copy(engine, again, backup.bid)
    while not copy.step(7):
        write(engine, again, 80, "after the restart")
    assert backed_up(engine, backup.bid) == expected


def test_dropping_the_table_completes_its_copy_first(tmp_path: Path) -> None:
    engine = connect(tmp_path / "db")
    t = make_table(engine)
    for n in range(50):
        write(engine, t, n, "first")
    expected = items(engine, t)
    backup = Backups(engine).create(t, "snap")
    backup_copies.Copy(engine, t, backup.bid).step(5)
    engine.drop(t)
    assert status(engine, backup.bid) == "AVAILABLE"
    assert backed_up(engine, backup.bid) == expected


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_writes_before_and_after_a_restart(tmp_path: Path, seed: int) -> None:
    engine = connect(tmp_path / "db")
    t = make_table(engine)
    rng = random.Random(seed)
    for n in range(0, 300, 3):
        write(engine, t, n, "first")
    expected = items(engine, t)
    backup = Backups(engine).create(t, "snap")
    copy = backup_copies.Copy(engine, t, backup.bid)
    for _ in range(rng.randrange(1, 8)):
        copy.step(8)
        churn(engine, t, rng)
    engine.store.conn.close()

    engine = connect(tmp_path / "db")
    again = engine.find(ACCOUNT, REGION, "copied")
    assert again is not None
    copy = backup_copies.Copy(engine, again, backup.bid)
    while not copy.step(11):
        churn(engine, again, rng)
    assert backed_up(engine, backup.bid) == expected
