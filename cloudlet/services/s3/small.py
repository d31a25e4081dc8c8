"""Small blobs: rows of the S3 database, written in the transaction that names them.

Why: a blob file costs a create, two ``fsync`` calls and a rename (~1 ms here,
three times the rest of a 1 KiB PutObject), while a row costs a share of one
WAL commit with the same guarantee as every other write of the server: it
survives ``kill -9``, and an OS crash may lose the last commits but never
leaves a row naming missing bytes (the WAL keeps commits in order). MinIO keeps
small objects inside their metadata for the same reason.

A new small blob is *pending* until the next write transaction of the store
begins (``S3Store.transaction`` calls ``begin``): the handler that wrote it
commits its metadata row in that very transaction, so a PutObject costs one
commit, not three. A rolled-back transaction hands its blobs back to pending
(another request's blob may have been flushed by it), and a blob that no
transaction picks up within the current event-loop step is written in one of
its own. Deletions wait the same way for the next transaction: until then
the row is unreferenced debris, which is also what a crash leaves and what the
start-up sweep removes.

The bytes of blobs just committed or read are also kept in memory, up to 8 MiB
(oldest out first), so reading a hot object costs no query for its bytes: a
blob's bytes never change, and deleting it drops the copy.

Single-threaded: used from the event-loop thread only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

SUFFIX = "-in"
"""Ids of small blobs end with this: ``<row number>-in``."""
MAX_SIZE = 64 * 1024
"""Bodies up to this size are small blobs."""

# Rows are keyed by a number the server hands out in order: a new row is
# appended to the table's B-tree and there is no second index, so a 1 KiB
# PutObject's commit copies about half the pages it did when blobs were keyed
# by random text ids (measured, a 1 KiB overwrite per transaction: 46 -> 30 us).
# ``small_blobs`` is that earlier table, keyed by 32 hex digits and ``-in``: a
# data directory that has it is still read, and its rows are deleted and swept
# like the others, but nothing new is written to it.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS inline_blobs (
    n INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
"""
_INSERT = "INSERT INTO inline_blobs (n, data) VALUES (?, ?)"
_SELECT = "SELECT data FROM inline_blobs WHERE n = ?"
_DELETE = "DELETE FROM inline_blobs WHERE n = ?"
_FLUSH_DELETES_AT = 1024
_CACHE_BYTES = 8 * 1024 * 1024
"""Bytes of recently written or read blobs kept in memory (blobs never change, so a
cached copy is right until the blob is deleted, which drops it)."""


def is_small(blob_id: str) -> bool:
    return blob_id.endswith(SUFFIX)


def _row(blob_id: str) -> int | None:
    """The row number of a blob id, None for an id of the earlier ``small_blobs``."""
    head = blob_id[: -len(SUFFIX)]
    return int(head) if head.isdigit() and len(head) < 32 else None


class SmallBlobs:
    """The ``inline_blobs`` table plus the writes waiting for a transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(_SCHEMA)
        self._legacy = (
            db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'small_blobs'"
            ).fetchone()
            is not None
        )
        # Past every row ever written, also those deleted but still in the table
        # until the next transaction (a number is never given twice while a row
        # or a reference to it may remain).
        self._next = (db.execute("SELECT max(n) FROM inline_blobs").fetchone()[0] or 0) + 1
        self._pending: dict[str, bytes] = {}
        self._doomed: list[str] = []
        self._flushing: dict[str, bytes] = {}
        self._flushing_doomed: list[str] = []
        self._scheduled = False
        self._cache: dict[str, bytes] = {}
        self._cache_size = 0

    # -- the transaction hooks (S3Store.transaction) ---------------------------------

    def begin(self, conn: sqlite3.Connection) -> None:
        """A write transaction began: everything waiting goes into it."""
        pending = self._pending
        if pending:
            if len(pending) == 1:  # the usual case: one PutObject's body
                blob_id, data = next(iter(pending.items()))
                conn.execute(_INSERT, (_row(blob_id), data))
            else:
                conn.executemany(_INSERT, [(_row(b), data) for b, data in pending.items()])
            self._flushing.update(pending)
            pending.clear()
        if self._doomed:
            self._delete_rows(conn, self._doomed)
            self._flushing_doomed += self._doomed
            self._doomed.clear()

    def _delete_rows(self, conn: sqlite3.Connection, blob_ids: list[str]) -> None:
        rows = [(_row(blob_id), blob_id) for blob_id in blob_ids]
        conn.executemany(_DELETE, [(n,) for n, _ in rows if n is not None])
        if self._legacy:
            conn.executemany(
                "DELETE FROM small_blobs WHERE id = ?", [(b,) for n, b in rows if n is None]
            )

    def committed(self) -> None:
        doomed = set(self._doomed) if self._doomed else ()
        for blob_id, data in self._flushing.items():
            if blob_id not in doomed:  # deleted while its transaction ran
                self._remember(blob_id, data)
        self._flushing.clear()
        self._flushing_doomed.clear()

    def rolled_back(self) -> None:
        """Nothing of the transaction happened: its writes wait again."""
        for blob_id, data in self._flushing.items():
            self._pending.setdefault(blob_id, data)
        self._doomed += self._flushing_doomed
        self._flushing.clear()
        self._flushing_doomed.clear()
        if self._pending:
            self._schedule()

    def flush(self) -> None:
        """Write everything waiting now, in a transaction of its own."""
        self._scheduled = False
        if not (self._pending or self._doomed):
            return
        if self.db.in_transaction:  # not expected (no transaction spans an await): later
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.001, self.flush)
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.begin(self.db)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            self.rolled_back()
            raise
        self.committed()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (tests, shutdown): write now
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    # -- blobs -----------------------------------------------------------------------

    def add(self, data: bytes) -> str:
        """A new blob holding ``data``: its id (the row is written by the next transaction)."""
        blob_id = f"{self._next}{SUFFIX}"
        self._next += 1
        self._pending[blob_id] = data
        self._schedule()
        return blob_id

    def get(self, blob_id: str) -> bytes:
        """The bytes of a blob (``FileNotFoundError`` when there is none)."""
        data = self._pending.get(blob_id)
        if data is None:
            data = self._flushing.get(blob_id)
        if data is None:
            data = self._cache.get(blob_id)
        if data is None:
            n = _row(blob_id)
            if n is not None:
                row = self.db.execute(_SELECT, (n,)).fetchone()
            elif self._legacy:
                row = self.db.execute(
                    "SELECT data FROM small_blobs WHERE id = ?", (blob_id,)
                ).fetchone()
            else:
                row = None
            if row is None or blob_id in self._doomed:
                raise FileNotFoundError(blob_id)
            data = row[0]
            self._remember(blob_id, data)
        return data

    def _remember(self, blob_id: str, data: bytes) -> None:
        """Keep a committed blob's bytes for the next read (oldest out first)."""
        cache = self._cache
        if blob_id in cache:
            return
        cache[blob_id] = data
        self._cache_size += len(data)
        while self._cache_size > _CACHE_BYTES:
            self._cache_size -= len(cache.pop(next(iter(cache))))

    def exists(self, blob_id: str) -> bool:
        try:
            self.get(blob_id)
        except FileNotFoundError:
            return False
        return True

    def delete(self, blob_id: str) -> None:
        """Forget a blob (missing is fine); the row goes with the next transaction."""
        cached = self._cache.pop(blob_id, None)
        if cached is not None:
            self._cache_size -= len(cached)
        if self._pending.pop(blob_id, None) is not None:
            return
        self._doomed.append(blob_id)
        if len(self._doomed) >= _FLUSH_DELETES_AT:
            self._schedule()

    def sweep(self, is_referenced: Callable[[str], bool]) -> tuple[int, int]:
        """Start-up: remove rows nothing references. Returns (removed, kept)."""
        self.flush()
        self._cache.clear()
        self._cache_size = 0
        rows = [f"{n}{SUFFIX}" for (n,) in self.db.execute("SELECT n FROM inline_blobs")]
        if self._legacy:
            rows += [blob_id for (blob_id,) in self.db.execute("SELECT id FROM small_blobs")]
        orphans = [blob_id for blob_id in rows if not is_referenced(blob_id)]
        if orphans:
            self.db.execute("BEGIN IMMEDIATE")
            self._delete_rows(self.db, orphans)
            self.db.execute("COMMIT")
        return len(orphans), len(rows) - len(orphans)

    def close(self) -> None:
        """Shutdown: write what is waiting (deletions included) before the database closes."""
        self.flush()
