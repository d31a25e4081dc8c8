"""Small blobs ride along with the store's next transaction; a rollback hands them back."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from cloudlet.services.s3.small import SmallBlobs
from cloudlet.services.s3.store import S3Store


@pytest.fixture
def store():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    store = S3Store(conn)
    small = SmallBlobs(conn)
    store.add_transaction_hooks(small)
    yield store, small
    conn.close()


def rows(store: S3Store) -> dict[str, bytes]:
    return {f"{n}-in": data for n, data in store.conn.execute("SELECT n, data FROM inline_blobs")}


def test_a_blob_is_written_by_the_next_transaction(store):
    s3, small = store

    async def scenario() -> None:
        a = small.add(b"bytes")
        assert small.get(a) == b"bytes" and rows(s3) == {}
        with s3.transaction():
            assert rows(s3) == {a: b"bytes"}  # in the same transaction as the caller's row
        assert rows(s3) == {a: b"bytes"}

    asyncio.run(scenario())


def test_ids_are_handed_out_in_order_and_never_again_after_a_restart(store):
    s3, small = store
    first, second = small.add(b"1"), small.add(b"2")  # no event loop: written at once
    assert (first, second) == ("1-in", "2-in")
    small.delete(second)
    assert SmallBlobs(s3.conn).add(b"3") == "3-in"  # the deleted row is still there


def test_a_rollback_hands_blobs_back_and_they_are_written_later(store):
    s3, small = store

    async def scenario() -> None:
        b = small.add(b"theirs")
        with pytest.raises(RuntimeError), s3.transaction():
            raise RuntimeError("this request failed")
        assert rows(s3) == {} and small.get(b) == b"theirs"
        await asyncio.sleep(0)  # the blob's own flush, this event-loop step
        await asyncio.sleep(0)
        assert rows(s3) == {b: b"theirs"}

    asyncio.run(scenario())


def test_a_blob_nobody_commits_is_written_within_the_step(store):
    s3, small = store

    async def scenario() -> None:
        c = small.add(b"alone")
        await asyncio.sleep(0)
        assert rows(s3) == {c: b"alone"}

    asyncio.run(scenario())


def test_deletes_wait_for_the_next_transaction(store):
    s3, small = store
    d = small.add(b"x")  # no event loop: written at once
    assert rows(s3) == {d: b"x"}
    small.delete(d)
    assert not small.exists(d)
    assert rows(s3) == {d: b"x"}  # unreferenced debris until then
    with s3.transaction():
        pass
    assert rows(s3) == {}

    async def scenario() -> None:
        small.delete(small.add(b"y"))  # never written: simply forgotten

    asyncio.run(scenario())
    small.close()
    assert rows(s3) == {}


def test_sweep_removes_rows_nothing_references(store):
    s3, small = store
    keep = small.add(b"1")
    small.add(b"2")
    assert small.sweep({keep}.__contains__) == (1, 1)
    assert rows(s3) == {keep: b"1"}


def test_rows_of_the_earlier_text_keyed_table_are_read_deleted_and_swept():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE small_blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL)")
    old, digits = "0123456789abcdef0123456789abcdef-in", "01234567890123456789012345678901-in"
    conn.executemany(
        "INSERT INTO small_blobs VALUES (?, ?)",
        [(old, b"old"), (digits, b"hex digits that are all decimal"), ("fedcba-in", b"?")],
    )
    store = S3Store(conn)
    small = SmallBlobs(conn)
    store.add_transaction_hooks(small)
    assert small.get(old) == b"old" and small.add(b"new") == "1-in"
    assert small.get(digits) == b"hex digits that are all decimal"
    assert small.sweep({old, digits, "1-in"}.__contains__) == (1, 3)
    small.delete(old)
    with store.transaction():
        pass
    assert conn.execute("SELECT id FROM small_blobs").fetchall() == [(digits,)]
    assert small.get("1-in") == b"new"
    conn.close()


def test_committed_bytes_are_read_from_memory_until_the_blob_is_deleted(store, monkeypatch):
    s3, small = store
    monkeypatch.setattr("cloudlet.services.s3.small._CACHE_BYTES", 10)

    async def scenario() -> None:
        m = small.add(b"hot")
        with pytest.raises(RuntimeError), s3.transaction():
            raise RuntimeError("rolled back: nothing is remembered")
        assert small._cache == {}
        with s3.transaction():
            pass
        s3.conn.execute("DELETE FROM inline_blobs")  # behind its back: the copy still answers
        assert small.get(m) == b"hot"
        small.delete(m)
        with pytest.raises(FileNotFoundError):
            small.get(m)
        # Read from the table once, then from memory; the oldest goes past the limit.
        s3.conn.executemany(
            "INSERT INTO inline_blobs (n, data) VALUES (?, ?)", [(90, b"123456"), (91, b"789012")]
        )
        assert small.get("90-in") == b"123456" and list(small._cache) == ["90-in"]
        assert small.get("91-in") == b"789012" and list(small._cache) == ["91-in"]

    asyncio.run(scenario())


def test_a_blob_deleted_while_its_transaction_runs_is_not_remembered(store):
    s3, small = store

    async def scenario() -> None:
        d = small.add(b"short-lived")
        with s3.transaction():
            small.delete(d)  # e.g. a write that replaced it in the same step
        with pytest.raises(FileNotFoundError):
            small.get(d)

    asyncio.run(scenario())
