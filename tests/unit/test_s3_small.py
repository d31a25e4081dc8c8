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
    return dict(store.conn.execute("SELECT id, data FROM small_blobs"))


def test_a_blob_is_written_by_the_next_transaction(store):
    s3, small = store

    async def scenario() -> None:
        small.put("a-in", b"bytes")
        assert small.get("a-in") == b"bytes" and rows(s3) == {}
        with s3.transaction():
            assert rows(s3) == {"a-in": b"bytes"}  # in the same transaction as the caller's row
        assert rows(s3) == {"a-in": b"bytes"}

    asyncio.run(scenario())


def test_a_rollback_hands_blobs_back_and_they_are_written_later(store):
    s3, small = store

    async def scenario() -> None:
        small.put("b-in", b"theirs")
        with pytest.raises(RuntimeError), s3.transaction():
            raise RuntimeError("this request failed")
        assert rows(s3) == {} and small.get("b-in") == b"theirs"
        await asyncio.sleep(0)  # the blob's own flush, this event-loop step
        await asyncio.sleep(0)
        assert rows(s3) == {"b-in": b"theirs"}

    asyncio.run(scenario())


def test_a_blob_nobody_commits_is_written_within_the_step(store):
    s3, small = store

    async def scenario() -> None:
        small.put("c-in", b"alone")
        await asyncio.sleep(0)
        assert rows(s3) == {"c-in": b"alone"}

    asyncio.run(scenario())


def test_deletes_wait_for_the_next_transaction(store):
    s3, small = store
    small.put("d-in", b"x")  # no event loop: written at once
    assert rows(s3) == {"d-in": b"x"}
    small.delete("d-in")
    assert not small.exists("d-in")
    assert rows(s3) == {"d-in": b"x"}  # unreferenced debris until then
    with s3.transaction():
        pass
    assert rows(s3) == {}
    small.put("e-in", b"y")
    small.delete("e-in")  # never written: simply forgotten
    small.close()
    assert rows(s3) == {}


def test_sweep_removes_rows_nothing_references(store):
    s3, small = store
    small.put("keep-in", b"1")
    small.put("lost-in", b"2")
    assert small.sweep({"keep-in"}.__contains__) == (1, 1)
    assert rows(s3) == {"keep-in": b"1"}


def test_committed_bytes_are_read_from_memory_until_the_blob_is_deleted(store, monkeypatch):
    s3, small = store
    monkeypatch.setattr("cloudlet.services.s3.small._CACHE_BYTES", 10)

    async def scenario() -> None:
        small.put("m-in", b"hot")
        with pytest.raises(RuntimeError), s3.transaction():
            raise RuntimeError("rolled back: nothing is remembered")
        assert small._cache == {}
        with s3.transaction():
            pass
        s3.conn.execute("DELETE FROM small_blobs")  # behind its back: the copy still answers
        assert small.get("m-in") == b"hot"
        small.delete("m-in")
        with pytest.raises(FileNotFoundError):
            small.get("m-in")
        # Read from the table once, then from memory; the oldest goes past the limit.
        s3.conn.executemany(
            "INSERT INTO small_blobs (id, data) VALUES (?, ?)",
            [("x-in", b"123456"), ("y-in", b"789012")],
        )
        assert small.get("x-in") == b"123456" and list(small._cache) == ["x-in"]
        assert small.get("y-in") == b"789012" and list(small._cache) == ["y-in"]

    asyncio.run(scenario())


def test_a_blob_deleted_while_its_transaction_runs_is_not_remembered(store):
    s3, small = store

    async def scenario() -> None:
        small.put("d-in", b"short-lived")
        with s3.transaction():
            small.delete("d-in")  # e.g. a write that replaced it in the same step
        with pytest.raises(FileNotFoundError):
            small.get("d-in")

    asyncio.run(scenario())
