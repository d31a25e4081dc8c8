"""DynamoDB's SQLite schema and the row-level reads and writes the engine runs.

Why this shape:

- **One clustered row per item**, ``items(tid, h, hk, rk)`` ``WITHOUT ROWID``:
  ``hk``/``rk`` are the key values as order-preserving bytes
  (``values.key_bytes``; ``rk`` is empty for hash-only tables) and ``h`` is a
  32-bit hash of ``hk``. A GetItem is one B-tree descent whatever the table
  size; a Query is one range scan over ``(tid, h, hk)`` in sort-key order;
  a Scan walks the table in hash order as DynamoDB does, and parallel scan
  segments are contiguous ranges of ``h``.
- **Bodies are ``marshal``ed wire-form items**: a dict of dicts of str, bytes,
  bools and lists is what marshal does fastest, and the stored form is the
  form the codec answers with.
- ``exp`` holds the item's TTL time (seconds) when the table has TTL on and the
  item has a number in the TTL attribute; a partial index finds expired items.
- Secondary indexes are rows of ``index_items`` keyed by the index key
  ``(h, hk, rk)`` and then the base (table) key ``(bh, bhk, brk)``: several items
  may share an index key, and DynamoDB returns those in the order of their table
  key's partition hash, ``bh`` (``base_hash``: dynalite's ``createIndexKey``,
  recorded against DynamoDB), which a Query, its reverse and its
  ExclusiveStartKey all follow. The body is the projected item. A GSI key part
  made of several attributes is stored as their ``multikey.encode``, which sorts
  as the attribute tuple does.
- ``changes`` is the per-table change log: stream records and point-in-time
  recovery read it; it is written in the transaction that changes the item.

Every write runs inside ``Store.transaction()``; SQLite in WAL mode commits it
before the client is answered, so an acknowledged write survives ``kill -9``.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cloudlet.services.dynamodb.values import number_hash_bytes

_INDEX_ITEMS = """
CREATE TABLE IF NOT EXISTS {name} (
    iid INTEGER NOT NULL,
    h INTEGER NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL,
    bh INTEGER NOT NULL,
    bhk BLOB NOT NULL,
    brk BLOB NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (iid, h, hk, rk, bh, bhk, brk)
) WITHOUT ROWID;"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    meta TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS items (
    tid INTEGER NOT NULL,
    h INTEGER NOT NULL,
    hk BLOB NOT NULL,
    rk BLOB NOT NULL,
    size INTEGER NOT NULL,
    exp REAL,
    body BLOB NOT NULL,
    PRIMARY KEY (tid, h, hk, rk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_exp ON items (exp, tid) WHERE exp IS NOT NULL;
{index_items}
CREATE TABLE IF NOT EXISTS changes (
    tid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (tid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS purges (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    at REAL NOT NULL,
    result TEXT NOT NULL
) WITHOUT ROWID;
""".format(index_items=_INDEX_ITEMS.format(name="index_items"))

GET = "SELECT size, body FROM items WHERE tid = ? AND h = ? AND hk = ? AND rk = ?"
PUT = "INSERT OR REPLACE INTO items (tid, h, hk, rk, size, exp, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
DELETE = "DELETE FROM items WHERE tid = ? AND h = ? AND hk = ? AND rk = ?"
INDEX_PUT = (
    "INSERT OR REPLACE INTO index_items (iid, h, hk, rk, bh, bhk, brk, size, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INDEX_DELETE = (
    "DELETE FROM index_items "
    "WHERE iid = ? AND h = ? AND hk = ? AND rk = ? AND bh = ? AND bhk = ? AND brk = ?"
)

_PURGES = {
    "items": "DELETE FROM items WHERE tid = ?1 AND (h, hk, rk) IN "
    "(SELECT h, hk, rk FROM items WHERE tid = ?1 LIMIT ?2)",
    "index": "DELETE FROM index_items WHERE iid = ?1 AND (h, hk, rk, bh, bhk, brk) IN "
    "(SELECT h, hk, rk, bh, bhk, brk FROM index_items WHERE iid = ?1 LIMIT ?2)",
    "changes": "DELETE FROM changes WHERE tid = ?1 AND seq IN "
    "(SELECT seq FROM changes WHERE tid = ?1 LIMIT ?2)",
    "backup": "DELETE FROM backup_items WHERE bid = ?1 AND (h, hk, rk) IN "
    "(SELECT h, hk, rk FROM backup_items WHERE bid = ?1 LIMIT ?2)",
}
"""How a slice of a dropped table's items, index entries or change log, or of a
deleted backup's items (``backups.py``'s table), is deleted. Table, index and backup
ids are never reused (AUTOINCREMENT, counters), so rows not yet purged belong to
nothing and nothing reads them."""

dump = marshal.dumps
load = marshal.loads


_SALT = hashlib.md5(b"Outliers", usedforsecurity=False)
"""DynamoDB's partition hash: MD5 of this salt and the key's bytes (dynalite's finding,
which orders Scans and splits segments exactly as DynamoDB's recorded answers do)."""

HASH_VERSION = 2
"""``PRAGMA user_version`` of a database whose ``h`` columns hold ``hash_of``'s values
and whose ``index_items`` hold ``bh`` (``Store.upgrade`` brings an older one there on
open: 0 hashed with CRC-32, 1 had no ``bh``)."""


def hash_of(hk: bytes, number: bool = False) -> int:
    """The 32-bit position of a partition key in scan order: the first four bytes of
    DynamoDB's partition hash, so a Scan walks a table in DynamoDB's order and parallel
    Scan segment ``s`` of ``n`` holds the keys DynamoDB's does (dynalite's scan.js hash
    order and hash segment tests; moto's AWS-verified scan tests). ``number``: ``hk`` is
    a number's ``values.number_key``, which DynamoDB hashes in its own encoding."""
    md5 = _SALT.copy()
    md5.update(number_hash_bytes(hk) if number else hk)
    return int.from_bytes(md5.digest()[:4], "big")


def base_hash(hk: bytes, rk: bytes, numbers: tuple[bool, bool]) -> int:
    """The 32-bit position, among index rows of equal index key, of the item whose table
    key is ``hk``/``rk``: the first four bytes of DynamoDB's partition hash of the whole
    table key, the range key's bytes following the hash key's (dynalite's
    ``createIndexKey``/``hashPrefix``, whose query.js global index orders were recorded
    against DynamoDB). ``numbers``: whether the hash and range key are numbers. For a
    hash-only table (``rk`` empty: a key value is never empty) it is ``hash_of`` the key."""
    md5 = _SALT.copy()
    md5.update(number_hash_bytes(hk) if numbers[0] else hk)
    if rk:
        md5.update(number_hash_bytes(rk) if numbers[1] else rk)
    return int.from_bytes(md5.digest()[:4], "big")


ITEMS_FIRST = (
    "SELECT h, hk, rk, size, exp, body FROM items WHERE tid = ? ORDER BY h, hk, rk LIMIT ?"
)
ITEMS_AFTER = (
    "SELECT h, hk, rk, size, exp, body FROM items WHERE tid = ? AND (h, hk, rk) > (?, ?, ?) "
    "ORDER BY h, hk, rk LIMIT ?"
)


class Store:
    """The DynamoDB database connection and the statements every operation shares."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._depth = 0
        self.rolled_back: Callable[[], None] | None = None
        """Called after a transaction rolls back (the engine forgets counts it moved)."""

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; nested uses join the outer transaction."""
        conn = self.conn
        if self._depth:
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield conn
        except BaseException:
            self._depth = 0
            conn.execute("ROLLBACK")
            if self.rolled_back is not None:
                self.rolled_back()
            raise
        self._depth = 0
        conn.execute("COMMIT")

    def next_counter(self, name: str) -> int:
        row = self.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    # ---- tables

    def hash_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def upgrade(
        self, numbers: dict[str, dict[int, bool]], bases: dict[int, tuple[bool, bool]]
    ) -> None:
        """Bring an older database to ``HASH_VERSION``, in one transaction.

        Version 0 held CRC-32s: every ``h`` is recomputed with ``hash_of``. ``numbers``
        says, per kind of row (``items`` by table id, ``index_items`` by index id,
        ``backup_items``/``backup_cursors`` by backup id), whether each owner's partition
        key is a number. An ``index_items`` without ``bh`` (versions 0 and 1) is rebuilt
        with it, ``bases`` saying per index id whether its table's hash and range keys are
        numbers (``base_hash``): a WITHOUT ROWID table's key cannot be altered. Rows of
        owners not named (dropped tables and indexes waiting for their purge) are left,
        or not copied into the rebuilt ``index_items``: nothing reads them."""
        conn = self.conn
        version = self.hash_version()
        with self.transaction():
            if version < 1:
                self._rehash(numbers)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(index_items)")}
            if "bh" not in columns:
                self._add_base_hash(bases)
            conn.execute(f"PRAGMA user_version = {HASH_VERSION}")

    def _rehash(self, numbers: dict[str, dict[int, bool]]) -> None:
        conn = self.conn
        conn.create_function(
            "cloudlet_hash", 2, lambda hk, n: hash_of(hk, bool(n)), deterministic=True
        )
        owners = {
            "items": "tid",
            "index_items": "iid",
            "backup_items": "bid",
            "backup_cursors": "bid",
        }
        present = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        for kind, column in owners.items():
            if kind not in present:
                continue
            for owner, number in numbers.get(kind, {}).items():
                conn.execute(
                    f"UPDATE {kind} SET h = cloudlet_hash(hk, ?) WHERE {column} = ?",  # noqa: S608 - fixed names
                    (number, owner),
                )

    def _add_base_hash(self, bases: dict[int, tuple[bool, bool]]) -> None:
        """Rebuild ``index_items`` with ``bh`` in its key, computed from each row's base key."""
        conn = self.conn
        conn.create_function(
            "cloudlet_base_hash",
            4,
            lambda hk, rk, hn, rn: base_hash(hk, rk, (bool(hn), bool(rn))),
            deterministic=True,
        )
        conn.execute(_INDEX_ITEMS.format(name="index_items_v2"))
        for iid, (hash_number, range_number) in bases.items():
            conn.execute(
                "INSERT INTO index_items_v2 (iid, h, hk, rk, bh, bhk, brk, size, body) "
                "SELECT iid, h, hk, rk, cloudlet_base_hash(bhk, brk, ?, ?), bhk, brk, size, "
                "body FROM index_items WHERE iid = ?",
                (hash_number, range_number, iid),
            )
        conn.execute("DROP TABLE index_items")
        conn.execute("ALTER TABLE index_items_v2 RENAME TO index_items")

    def load_tables(self) -> list[tuple[int, str, str, str, str]]:
        return self.conn.execute("SELECT id, account, region, name, meta FROM tables").fetchall()

    def insert_table(self, account: str, region: str, name: str, meta: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO tables (account, region, name, meta) VALUES (?, ?, ?, ?)",
            (account, region, name, meta),
        )
        return int(cur.lastrowid or 0)

    def save_table(self, tid: int, meta: str) -> None:
        self.conn.execute("UPDATE tables SET meta = ? WHERE id = ?", (meta, tid))

    def drop_table(self, tid: int, index_ids: list[int], keep_changes: bool = False) -> None:
        """Delete a table; its items and index entries, and its change log unless
        ``keep_changes`` (a deleted table's stream stays readable for a day), are left to
        ``purge`` (a big table's rows took seconds to delete in one statement)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM tables WHERE id = ?", (tid,))
            self.schedule_purge("items", tid)
            if not keep_changes:
                self.schedule_purge("changes", tid)
            for iid in index_ids:
                self.schedule_purge("index", iid)

    def schedule_purge(self, kind: str, ident: int) -> None:
        """Leave the rows of a dropped table (``items``, ``changes``) or index (``index``)
        to ``purge``; durable with the transaction it is part of."""
        self.conn.execute("INSERT OR IGNORE INTO purges (kind, id) VALUES (?, ?)", (kind, ident))

    def purge(self, limit: int) -> bool:
        """Delete up to ``limit`` rows left by ``schedule_purge``; True when none are left."""
        row = self.conn.execute("SELECT kind, id FROM purges LIMIT 1").fetchone()
        if row is None:
            return True
        kind, ident = row
        with self.transaction() as conn:
            if conn.execute(_PURGES[kind], (ident, limit)).rowcount < limit:
                conn.execute("DELETE FROM purges WHERE kind = ? AND id = ?", (kind, ident))
        return False

    def count(self, tid: int) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM items WHERE tid = ?", (tid,)
        ).fetchone()
        return int(row[0]), int(row[1])

    # ---- items

    def items_after(
        self, tid: int, after: tuple[int, bytes, bytes] | None, limit: int
    ) -> list[tuple[int, bytes, bytes, int, float | None, bytes]]:
        """Up to ``limit`` rows ``(h, hk, rk, size, exp, body)`` of table ``tid`` in key
        order, after the key ``after`` (None: from the first): the walk of a backfill, a
        TTL backfill or a replica's copy, which each keep their place."""
        if after is None:
            return self.conn.execute(ITEMS_FIRST, (tid, limit)).fetchall()
        return self.conn.execute(ITEMS_AFTER, (tid, *after, limit)).fetchall()

    def get(self, tid: int, h: int, hk: bytes, rk: bytes) -> tuple[int, bytes] | None:
        return self.conn.execute(GET, (tid, h, hk, rk)).fetchone()

    def put(
        self, tid: int, h: int, hk: bytes, rk: bytes, size: int, exp: float | None, body: bytes
    ) -> None:
        self.conn.execute(PUT, (tid, h, hk, rk, size, exp, body))

    def delete(self, tid: int, h: int, hk: bytes, rk: bytes) -> None:
        self.conn.execute(DELETE, (tid, h, hk, rk))

    def index_put(
        self,
        iid: int,
        key: tuple[int, bytes, bytes],
        base: tuple[int, bytes, bytes],
        size: int,
        body: bytes,
    ) -> None:
        """Store an index entry: ``key`` is the index key, ``base`` the item's table key
        with its ``base_hash`` first (``key_values.index_base``)."""
        self.conn.execute(INDEX_PUT, (iid, *key, *base, size, body))

    def index_delete(
        self, iid: int, key: tuple[int, bytes, bytes], base: tuple[int, bytes, bytes]
    ) -> None:
        self.conn.execute(INDEX_DELETE, (iid, *key, *base))

    def log_change(self, tid: int, seq: int, at: float, record: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO changes (tid, seq, at, record) VALUES (?, ?, ?, ?)",
            (tid, seq, at, dump(record)),
        )
