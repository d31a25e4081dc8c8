"""Streams and TTL at the engine level, with a clock the test moves: what a real server
cannot show in a test run (24-hour trimming, 35-day PITR retention, streams forgotten a
day after being disabled, the five-year TTL rule, bounded sweeps and backfills)."""

from __future__ import annotations

import sqlite3

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import streams, ttl
from cloudlet.services.dynamodb.engine import Engine, Stored
from cloudlet.services.dynamodb.tables import Table, parse_create

DAY = 24 * 3600.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock) -> Engine:
    return Engine(sqlite3.connect(":memory:", isolation_level=None), clock=clock)


def table(engine: Engine, name: str = "tbl", view: str | None = "NEW_AND_OLD_IMAGES") -> Table:
    params: dict = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if view:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return engine.add_table(parse_create(params, "000000000000", "us-east-1", engine.clock()))


def put(engine: Engine, t: Table, pk: str, **attrs) -> None:
    item = {"pk": {"S": pk}, **{k: {"N": str(v)} for k, v in attrs.items()}}
    key = t.key_of(item)
    row = engine.store.get(t.tid, *key)
    with engine.store.transaction():
        engine.write(t, key, Stored(row[0], row[1]) if row else None, item)


def names(records: list[dict]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def read(log: streams.StreamLog, t: Table) -> list[dict]:
    stream = log.find(t.stream["arn"])
    records, _pos, _end = log.records(stream, log.first_seq(stream) or 0, 1000)
    return records


def count(engine: Engine, t: Table) -> int:
    return engine.store.count(t.tid)[0]


# --------------------------------------------------------------------------- retention


def test_records_are_trimmed_after_a_day(engine, clock):
    t = table(engine)
    log = streams.StreamLog(engine)
    put(engine, t, "old")
    clock.now += DAY - 60
    put(engine, t, "new")
    assert names(read(log, t)) == ["old", "new"]
    clock.now += 120
    assert names(read(log, t)) == ["new"]  # unreadable at once, even before the sweep
    assert streams.retention_sweep(engine) == 1
    assert engine.store.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 1
    # the sequence counter's high-water mark survives the trim
    row = engine.store.conn.execute("SELECT value FROM counters WHERE name = 'change_seq'")
    assert row.fetchone()[0] == engine.seq == 2


def test_trim_takes_every_expired_row_a_slice_at_a_time(engine, clock):
    """The service trims in slices (``trim(n)``) until fewer than ``n`` are left, so a
    table logging more than a fixed batch a minute never outgrows its sweeps."""
    first, second = table(engine, "one"), table(engine, "two")
    for n in range(1500):
        put(engine, first if n % 3 else second, f"k{n}")
    clock.now += DAY + 1
    put(engine, first, "kept")
    slices = []
    while True:
        slices.append(streams.trim(engine, clock.now, 400))
        if slices[-1] < 400:
            break
    assert slices == [400, 400, 400, 300]
    assert engine.store.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 1


def test_pitr_keeps_the_log_35_days_but_streams_show_one(engine, clock):
    t = table(engine)
    t.pitr = {"enabled": True}
    log = streams.StreamLog(engine)
    put(engine, t, "a")
    clock.now += 2 * DAY
    put(engine, t, "b")
    assert streams.retention_sweep(engine) == 0
    assert names(read(log, t)) == ["b"]
    clock.now += 34 * DAY
    assert streams.retention_sweep(engine) == 1
    # a shorter recovery period keeps less
    t.pitr = {"enabled": True, "days": 2}
    clock.now += DAY
    put(engine, t, "c")
    assert streams.retention_sweep(engine) == 1  # "b", 35 days old
    clock.now += 2 * DAY - 1
    assert streams.retention_sweep(engine) == 0
    clock.now += 2
    assert streams.retention_sweep(engine) == 1


def test_old_stream_iterators_report_trimmed_data(engine, clock):
    t = table(engine)
    log = streams.StreamLog(engine)
    put(engine, t, "a")
    clock.now += DAY / 2
    put(engine, t, "b")
    stream = log.find(t.stream["arn"])
    first = streams.sequence_number(1)
    log.iterator(stream, stream.shard_id, "AT_SEQUENCE_NUMBER", first)  # still there
    clock.now += DAY * 0.75
    streams.retention_sweep(engine)
    with pytest.raises(ServiceError) as exc:
        log.iterator(stream, stream.shard_id, "AT_SEQUENCE_NUMBER", first)
    assert exc.value.code == "TrimmedDataAccessException"
    it = log.iterator(stream, stream.shard_id, "TRIM_HORIZON", None)
    _arn, _shard, pos, _at = streams.decode_iterator(it)
    assert names(log.records(stream, pos, 10)[0]) == ["b"]


def test_disabled_stream_is_forgotten_after_a_day(engine, clock):
    t = table(engine)
    log = streams.StreamLog(engine)
    put(engine, t, "a")
    arn = t.stream["arn"]
    t.stream = {**t.stream, "enabled": False, "disabled": clock.now}
    engine.save(t)
    clock.now += DAY / 2
    streams.retention_sweep(engine)
    stream = log.find(arn)
    assert not stream.enabled
    assert log.shard(stream)["SequenceNumberRange"]["EndingSequenceNumber"]
    clock.now += DAY
    streams.retention_sweep(engine)
    assert t.stream is None
    with pytest.raises(ServiceError) as exc:
        log.find(arn)
    assert exc.value.code == "ResourceNotFoundException"


def replaced(engine: Engine, clock: Clock, first: str, then: str) -> tuple[Table, str]:
    """A table whose ``first`` stream logged "a", then was replaced by a ``then`` one
    that logged "b"; and the first stream's ARN."""
    from cloudlet.services.dynamodb.tables import new_stream

    t = table(engine, view=first)
    log = streams.StreamLog(engine)
    engine.change_hooks.append(log.on_change)
    put(engine, t, "a")
    old = t.stream["arn"]
    t.stream = {**t.stream, "enabled": False, "disabled": clock.now}
    clock.now += 1
    t.stream = new_stream(t, then, clock.now)
    engine.save(t)
    put(engine, t, "b")
    return t, old


def test_replaced_stream_is_remembered_across_restarts(engine, clock):
    t, old = replaced(engine, clock, "KEYS_ONLY", "NEW_IMAGE")

    restarted = streams.StreamLog(Engine(engine.store.conn, clock=clock))
    restarted_table = restarted.engine.by_id[t.tid]
    found = restarted.streams_of(restarted_table)
    assert [(s.arn, s.view, s.enabled) for s in found] == [
        (old, "KEYS_ONLY", False),
        (t.stream["arn"], "NEW_IMAGE", True),
    ]
    records, _pos, at_end = restarted.records(found[0], 0, 100)
    assert names(records) == ["a"] and at_end
    clock.now += DAY + 10
    streams.retention_sweep(restarted.engine)
    assert [s.arn for s in restarted.streams_of(restarted_table)] == [t.stream["arn"]]


def test_a_deleted_tables_stream_stays_readable_for_a_day(engine, clock):
    from cloudlet.services.dynamodb import tableops

    # A replaced stream of the table goes with it, as readable as before.
    t, first = replaced(engine, clock, "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
    second = t.stream["arn"]
    clock.now += 10
    tableops.delete_table(engine, t)
    assert engine.find("000000000000", "us-east-1", "tbl") is None
    while not engine.store.purge(1000):  # the items go in the background; the log stays
        pass
    assert engine.store.count(t.tid) == (0, 0)

    # Restarted, and a new table of the same name beside it.
    again = Engine(engine.store.conn, clock=clock)
    log = streams.StreamLog(again)
    new = table(again)
    stream = log.find(second)
    assert not stream.enabled and stream.table.name == "tbl"
    records, _pos, at_end = log.records(stream, 0, 100)
    assert names(records) == ["b"] and at_end
    assert names(log.records(log.find(first), 0, 100)[0]) == ["a"]
    gone = streams.dropped_tables(again, "000000000000", "us-east-1", "tbl")
    assert [g.tid for g in gone] == [t.tid] and new.tid != t.tid
    assert [s.arn for s in log.streams_of(new)] == [new.stream["arn"]]

    clock.now += DAY  # a day after the deletion: still there
    streams.retention_sweep(again)
    assert not log.find(second).enabled
    clock.now += 1
    streams.retention_sweep(again)
    for arn in (first, second):
        with pytest.raises(ServiceError) as exc:
            log.find(arn)
        assert exc.value.code == "ResourceNotFoundException"
    conn = again.store.conn
    while not again.store.purge(1000):  # the forgotten log goes in the background too
        pass
    assert conn.execute("SELECT count(*) FROM changes WHERE tid = ?", (t.tid,)).fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM dropped_tables").fetchone() == (0,)
    assert conn.execute(
        "SELECT count(*) FROM stream_history WHERE tid = ?", (t.tid,)
    ).fetchone() == (0,)


def test_a_table_without_a_readable_stream_leaves_nothing_behind(engine, clock):
    from cloudlet.services.dynamodb import tableops

    t = table(engine, view=None)
    put(engine, t, "a")
    tableops.delete_table(engine, t)
    conn = engine.store.conn
    assert conn.execute("SELECT count(*) FROM changes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM dropped_tables").fetchone() == (0,)


def test_get_records_looks_at_a_bounded_number_of_rows(engine, clock, monkeypatch):
    from cloudlet.services.dynamodb.tables import new_stream

    monkeypatch.setattr(streams, "SCAN_BUDGET", 5)
    t = table(engine)
    log = streams.StreamLog(engine)
    for i in range(12):
        put(engine, t, f"a{i}")  # the first stream's records
    clock.now += 1
    t.stream = new_stream(t, "KEYS_ONLY", clock.now)
    put(engine, t, "b")
    stream = log.find(t.stream["arn"])
    pos, calls, got = 0, 0, []
    while not got:
        records, pos, at_end = log.records(stream, pos, 100)
        got, calls = records, calls + 1
        assert not at_end
    assert names(got) == ["b"] and calls == 3 and pos == engine.seq + 1


# --------------------------------------------------------------------------- TTL


def enable_ttl(engine: Engine, t: Table, schedule=None) -> None:
    ttl.update_time_to_live(
        engine,
        t,
        {"TimeToLiveSpecification": {"Enabled": True, "AttributeName": "exp"}},
        schedule=schedule,
    )


def test_sweep_rules(engine, clock):
    t = table(engine, view=None)
    now = int(clock.now)
    put(engine, t, "expired", exp=now - 1)
    put(engine, t, "now", exp=now)
    put(engine, t, "future", exp=now + 1)
    put(engine, t, "ancient", exp=now - 6 * 365 * 24 * 3600)
    put(engine, t, "fraction", exp=f"{now}.5")
    enable_ttl(engine, t)
    assert ttl.sweep(engine) == 2
    assert count(engine, t) == 3
    clock.now += 1
    assert ttl.sweep(engine) == 2  # "fraction" and "future"
    assert count(engine, t) == 1


def test_sweep_is_bounded_and_skips_disabled_tables(engine, clock):
    on, off = table(engine, "on-table", None), table(engine, "off-table", None)
    enable_ttl(engine, on)
    enable_ttl(engine, off)
    for i in range(7):
        put(engine, on, f"k{i}", exp=int(clock.now) - 5)
        put(engine, off, f"k{i}", exp=int(clock.now) - 5)
    ttl.update_time_to_live(
        engine, off, {"TimeToLiveSpecification": {"Enabled": False, "AttributeName": "exp"}}
    )
    assert ttl.sweep(engine, batch=3) == 3
    assert ttl.sweep(engine, batch=3) == 3
    assert ttl.sweep(engine, batch=3) == 1
    assert ttl.sweep(engine, batch=3) == 0
    assert count(engine, on) == 0 and count(engine, off) == 7
    # disabling cleared the expiry column, so the index holds nothing of the table
    rows = engine.store.conn.execute(
        "SELECT count(*) FROM items WHERE tid = ? AND exp IS NOT NULL", (off.tid,)
    )
    assert rows.fetchone()[0] == 0


def test_backfill_runs_in_steps_and_resumes(engine, clock):
    t = table(engine, view=None)
    for i in range(1200):
        put(engine, t, f"k{i}", exp=int(clock.now) - 1)
    steps = []
    enable_ttl(engine, t, schedule=steps.append)
    assert t.ttl["backfill"] is True
    (step,) = steps
    assert step() is False  # 500 rows
    assert ttl.sweep(engine, batch=1000) == 500
    # a restart mid-way: the new engine sees the mark and backfills again
    again = Engine(engine.store.conn, clock=clock)
    t2 = again.by_id[t.tid]
    assert t2.ttl["backfill"] is True
    resumed = ttl.backfill(again, t2)
    while not resumed():
        pass
    assert "backfill" not in t2.ttl
    assert "backfill" not in Engine(engine.store.conn, clock=clock).by_id[t.tid].ttl
    assert ttl.sweep(again, batch=1000) == 700
    assert step() is True  # the superseded backfill stops without touching anything


def test_ttl_deletions_are_logged_as_the_service(engine, clock):
    t = table(engine)
    log = streams.StreamLog(engine)
    enable_ttl(engine, t)
    put(engine, t, "a", exp=int(clock.now) - 1)
    assert ttl.sweep(engine) == 1
    records = read(log, t)
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert records[1]["userIdentity"] == {
        "Type": "Service",
        "PrincipalId": "dynamodb.amazonaws.com",
    }


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLOUDLET_DYNAMODB_TTL_INTERVAL", "0.25")
    assert ttl.interval() == 0.25
    monkeypatch.setenv("CLOUDLET_DYNAMODB_TTL_INTERVAL", "soon")
    assert ttl.interval() == ttl.DEFAULT_INTERVAL
    monkeypatch.delenv("CLOUDLET_DYNAMODB_TTL_INTERVAL")
    assert ttl.interval() == 5.0
