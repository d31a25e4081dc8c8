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
"""Ids of small blobs end with this."""
MAX_SIZE = 64 * 1024
"""Bodies up to this size are small blobs."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS small_blobs (
    id TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
"""
_FLUSH_DELETES_AT = 1024
_CACHE_BYTES = 8 * 1024 * 1024
"""Bytes of recently written or read blobs kept in memory (blobs never change, so a
cached copy is right until the blob is deleted, which drops it)."""


def is_small(blob_id: str) -> bool:
    return blob_id.endswith(SUFFIX)


class SmallBlobs:
    """The ``small_blobs`` table plus the writes waiting for a transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(_SCHEMA)
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
        if self._pending:
            conn.executemany(
                "INSERT INTO small_blobs (id, data) VALUES (?, ?)", list(self._pending.items())
            )
            self._flushing.update(self._pending)
            self._pending.clear()
        if self._doomed:
            conn.executemany("DELETE FROM small_blobs WHERE id = ?", [(i,) for i in self._doomed])
            self._flushing_doomed += self._doomed
            self._doomed.clear()

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

    def put(self, blob_id: str, data: bytes) -> None:
        self._pending[blob_id] = data
        self._schedule()

    def get(self, blob_id: str) -> bytes:
        """The bytes of a blob (``FileNotFoundError`` when there is none)."""
        data = self._pending.get(blob_id)
        if data is None:
            data = self._flushing.get(blob_id)
        if data is None:
            data = self._cache.get(blob_id)
        if data is None:
            row = self.db.execute(
                "SELECT data FROM small_blobs WHERE id = ?", (blob_id,)
            ).fetchone()
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
        rows = [blob_id for (blob_id,) in self.db.execute("SELECT id FROM small_blobs")]
        orphans = [(blob_id,) for blob_id in rows if not is_referenced(blob_id)]
        if orphans:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("DELETE FROM small_blobs WHERE id = ?", orphans)
            self.db.execute("COMMIT")
        return len(orphans), len(rows) - len(orphans)

    def close(self) -> None:
        """Shutdown: write what is waiting (deletions included) before the database closes."""
        self.flush()
