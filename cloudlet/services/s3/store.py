"""S3 metadata in SQLite: buckets and object versions, with S3's versioning rules.

Why this shape:

- **Keys are BLOBs of their UTF-8 bytes.** S3 lists keys in UTF-8 byte order;
  SQLite compares BLOBs with ``memcmp``, so ``ORDER BY key`` *is* S3's order
  and a page of a listing is an index range scan, never a sort.
- **One row per version**, the null version included (``version_id = 'null'``).
  ``id`` is ``AUTOINCREMENT``, so a larger id is a newer version: "newest
  first" is ``ORDER BY id DESC`` on the ``(bucket, key, id)`` index.
- ``is_latest`` marks the current version of a key (maybe a delete marker);
  the partial index ``objects_current`` holds only current, non-deleted
  versions: exactly the rows ListObjects returns, so a page of 1,000 costs the
  same in a bucket of 10 keys or 10 million, however many old versions and
  delete markers lie around.
- Bucket configuration documents (CORS, lifecycle, policy, tagging...) are
  JSON in ``buckets.config`` by name, ready for the operations that set them.

Blob files are referenced by ``blob_id``; this module never touches them.
Methods that drop a version return the blob ids the caller must delete *after*
the transaction commits (see ``blobs.py`` for the crash-consistency argument).

Other modules of the S3 service (multipart uploads) share this connection
(the database file is locked by one connection) and add their own tables with
``add_schema``, declaring the blob ids they hold with ``add_blob_reference``
so the start-up sweep keeps them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Protocol

from cloudlet.core.clock import utc_datetime

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    created REAL NOT NULL,
    versioning TEXT,
    mfa_delete TEXT,
    object_lock INTEGER NOT NULL DEFAULT 0,
    config TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_owner ON buckets (account, name);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    version_id TEXT NOT NULL,
    is_latest INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    blob_id TEXT,
    last_modified REAL NOT NULL,
    owner TEXT NOT NULL,
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    content_type TEXT,
    content_encoding TEXT,
    content_disposition TEXT,
    content_language TEXT,
    cache_control TEXT,
    expires REAL,
    website_redirect TEXT,
    metadata TEXT,
    checksums TEXT,
    checksum_type TEXT,
    parts TEXT,
    extra TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_version ON objects (bucket, key, version_id);
CREATE INDEX IF NOT EXISTS objects_history ON objects (bucket, key, id);
CREATE INDEX IF NOT EXISTS objects_current ON objects (bucket, key)
    WHERE is_latest = 1 AND delete_marker = 0;
"""

NULL_VERSION = "null"

_COLUMNS = (
    "id, bucket, key, version_id, is_latest, delete_marker, size, etag, blob_id, "
    "last_modified, owner, storage_class, content_type, content_encoding, "
    "content_disposition, content_language, cache_control, expires, website_redirect, "
    "metadata, checksums, checksum_type, parts, extra"
)
_FIELDS = _COLUMNS.split(", ")[5:]
"""The columns a write sets from an ``ObjectVersion`` (``put_version``'s ``fields``)."""
_INSERT = (
    f"INSERT INTO objects (bucket, key, version_id, is_latest, {', '.join(_FIELDS)}) "
    f"VALUES (?, ?, ?, 1, {', '.join('?' * len(_FIELDS))})"
)
_REPLACE = (
    f"UPDATE objects SET is_latest = 1, {', '.join(f + ' = ?' for f in _FIELDS)} WHERE id = ?"
)
# The same without ``is_latest`` and ``delete_marker``: SQLite then leaves the
# ``objects_current`` index alone (an update touches a partial index only when it
# sets a column the index names): one WAL page fewer per overwrite (measured,
# a 1 KiB PutObject over a null version: 6 -> 5 pages).
_REWRITE = f"UPDATE objects SET {', '.join(f + ' = ?' for f in _FIELDS[1:])} WHERE id = ?"


@dataclass(slots=True)
class Bucket:
    name: str
    account: str
    region: str
    created: datetime
    versioning: str | None = None
    """None (never configured), ``Enabled`` or ``Suspended``."""
    mfa_delete: str | None = None
    object_lock: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def versioned(self) -> bool:
        """Whether new writes get fresh version ids (versioning Enabled)."""
        return self.versioning == "Enabled"


@dataclass(slots=True)
class ObjectVersion:
    """One version of a key: an object or a delete marker.

    ``checksums`` maps algorithm (``CRC32``, ``SHA256``...) to its base64
    value (a composite multipart value keeps its ``-N`` suffix) and
    ``checksum_type`` is ``FULL_OBJECT`` or ``COMPOSITE``. ``parts`` is None
    for single-part objects; for an object completed from a multipart upload
    it is ``{"count": N, "sizes": [bytes of part 1, ...], ...}`` (GetObject's
    ``partNumber`` and ``PartsCount`` read ``count`` and ``sizes``; the
    multipart module may keep more, e.g. part checksums). ``extra`` holds
    per-object settings added later (tags, retention, encryption).
    """

    bucket: str
    key: str
    version_id: str
    last_modified: datetime
    owner: str
    delete_marker: bool = False
    size: int = 0
    etag: str | None = None
    blob_id: str | None = None
    storage_class: str = "STANDARD"
    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    """The ``Expires`` header as the writer sent it (S3 keeps it verbatim, date or not)."""
    website_redirect: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    parts: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    is_latest: bool = True
    row_id: int = 0

    def with_changes(self, **changes: Any) -> ObjectVersion:
        return replace(self, **changes)


_ts = utc_datetime
"""A stored time as a datetime, clamped (an earlier version stored times past the
calendar): such an object stays readable and deletable."""


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _expires_value(text: str | None) -> bytes | None:
    """``Expires`` as stored: its bytes. The column is REAL (it held epoch seconds once),
    and REAL affinity would turn text that looks like a number (``0``) into one; a blob
    is kept as it is."""
    return None if text is None else text.encode("utf-8", "surrogateescape")


def _expires(value: bytes | float | str | None) -> str | None:
    """A stored ``Expires``: text now; epoch seconds in rows written before it was kept
    verbatim (their HTTP date, as they were answered then)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return format_datetime(_ts(value), usegmt=True)


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
"""Compact JSON (one encoder: ``json.dumps`` with options builds a new one per call)."""


def _json(value: Any) -> str | None:
    return _ENCODE(value) if value else None


def row_to_version(row: tuple) -> ObjectVersion:
    return ObjectVersion(
        row_id=row[0],
        bucket=row[1],
        key=bytes(row[2]).decode("utf-8", "surrogateescape"),
        version_id=row[3],
        is_latest=bool(row[4]),
        delete_marker=bool(row[5]),
        size=row[6],
        etag=row[7],
        blob_id=row[8],
        last_modified=_ts(row[9]),
        owner=row[10],
        storage_class=row[11],
        content_type=row[12],
        content_encoding=row[13],
        content_disposition=row[14],
        content_language=row[15],
        cache_control=row[16],
        expires=_expires(row[17]),
        website_redirect=row[18],
        metadata=json.loads(row[19]) if row[19] else {},
        checksums=json.loads(row[20]) if row[20] else {},
        checksum_type=row[21],
        parts=json.loads(row[22]) if row[22] else None,
        extra=json.loads(row[23]) if row[23] else {},
    )


def key_bytes(key: str) -> bytes:
    """A key as stored (and ordered): its UTF-8 bytes."""
    return key.encode("utf-8", "surrogateescape")


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``.

    None when there is none (empty prefix, or all ``0xff``): no upper bound.
    """
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _bucket_from_row(row: tuple) -> Bucket:
    return Bucket(
        name=row[0],
        account=row[1],
        region=row[2],
        created=_ts(row[3]),
        versioning=row[4],
        mfa_delete=row[5],
        object_lock=bool(row[6]),
        config=json.loads(row[7]) if row[7] else {},
    )


# Listings read only what they return, in this order (``scan_*`` rows).
LIST_COLUMNS = (
    "key, version_id, is_latest, delete_marker, size, etag, last_modified, owner, "
    "storage_class, checksums, checksum_type, id"
)
(
    ROW_KEY,
    ROW_VERSION_ID,
    ROW_IS_LATEST,
    ROW_DELETE_MARKER,
    ROW_SIZE,
    ROW_ETAG,
    ROW_LAST_MODIFIED,
    ROW_OWNER,
    ROW_STORAGE_CLASS,
    ROW_CHECKSUMS,
    ROW_CHECKSUM_TYPE,
    ROW_ID,
) = range(12)


def row_time(value: float) -> datetime:
    """A stored time as the datetime the serializers want."""
    return _ts(value)


class TransactionHooks(Protocol):
    def begin(self, conn: sqlite3.Connection) -> None: ...
    def committed(self) -> None: ...
    def rolled_back(self) -> None: ...


class _Transaction:
    """``S3Store.transaction``: a class, not a generator, as every write enters one."""

    __slots__ = ("conn", "hooks", "outer")

    def __init__(self, conn: sqlite3.Connection, hooks: list[TransactionHooks]) -> None:
        self.conn, self.hooks, self.outer = conn, hooks, False

    def __enter__(self) -> sqlite3.Connection:
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            self.outer = True
            try:
                for hooks in self.hooks:
                    hooks.begin(conn)
            except BaseException:
                self._roll_back()
                raise
        return conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.outer:
            return
        conn = self.conn
        if exc_type is None:
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._roll_back()
                raise
            for hooks in self.hooks:
                hooks.committed()
            return
        self._roll_back()

    def _roll_back(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        for hooks in self.hooks:
            hooks.rolled_back()


_BUCKET_CACHE = 4096
_LATEST_CACHE = 4096
_MARKER_CACHE = 4096
"""Page ends ``version_row_id`` remembers (``remember_page_end``): one per listing under way."""
_ABSENT = object()
_BUCKET_COLUMNS = "name, account, region, created, versioning, mfa_delete, object_lock, config"


class S3Store:
    """Buckets and object versions in one SQLite database (event-loop thread only)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._blob_queries: list[str] = ["SELECT blob_id FROM objects WHERE blob_id IS NOT NULL"]
        self._buckets: dict[str, Bucket] = {}
        # (bucket, key) -> the key's current version or None: every GET and HEAD
        # reads it. Only put_version, delete_version and update_version change
        # object rows, and each drops its key first; a read inside a transaction
        # (which may still roll back) is not kept.
        self._latest: dict[tuple[str, str], ObjectVersion | None] = {}
        self._hooks: list[TransactionHooks] = []
        # (bucket, key, version id) -> row id of the last version of a truncated
        # ListObjectVersions page: where the next page resumes, even once it is deleted.
        self._page_ends: dict[tuple[str, bytes, str], int] = {}

    # -- plumbing -------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rollback on error).

        Nested use joins the outer transaction.
        """
        return _Transaction(self.conn, self._hooks)

    def add_transaction_hooks(self, hooks: TransactionHooks) -> None:
        """Writes that ride along with the next transaction (small blobs: ``small.py``)."""
        self._hooks.append(hooks)

    def add_schema(self, script: str) -> None:
        """Create another module's tables in this database (idempotent DDL)."""
        self.conn.executescript(script)

    def add_blob_reference(self, query: str) -> None:
        """Declare a ``SELECT <blob id column> FROM ...`` whose ids the sweep must keep."""
        self._blob_queries.append(query)

    def referenced_blob_ids(self) -> set[str]:
        """Every blob id any table references (for ``BlobStore.sweep``)."""
        ids: set[str] = set()
        for query in self._blob_queries:
            ids.update(row[0] for row in self.conn.execute(query) if row[0])
        return ids

    def close(self) -> None:
        self.conn.close()

    # -- buckets --------------------------------------------------------------------

    def get_bucket(self, name: str) -> Bucket | None:
        """The bucket (cached: every request reads it; callers must not mutate it)."""
        bucket = self._buckets.get(name)
        if bucket is None:
            row = self.conn.execute(
                f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return None
            bucket = _bucket_from_row(row)
            if len(self._buckets) >= _BUCKET_CACHE:
                self._buckets.clear()
            self._buckets[name] = bucket
        return bucket

    def forget_bucket(self, name: str) -> None:
        """Drop ``name`` from the cache: call on every change to its row."""
        self._buckets.pop(name, None)

    def insert_bucket(self, bucket: Bucket) -> bool:
        """Add a bucket; False when the name is taken (by anyone)."""
        self.forget_bucket(bucket.name)
        try:
            self.conn.execute(
                f"INSERT INTO buckets ({_BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bucket.name,
                    bucket.account,
                    bucket.region,
                    _epoch(bucket.created),
                    bucket.versioning,
                    bucket.mfa_delete,
                    int(bucket.object_lock),
                    json.dumps(bucket.config),
                ),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def delete_bucket(self, name: str) -> None:
        self.forget_bucket(name)
        self.conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def list_buckets(
        self,
        account: str,
        *,
        prefix: str = "",
        after: str = "",
        region: str | None = None,
        limit: int | None = None,
        directory: bool = False,
    ) -> list[Bucket]:
        """An account's buckets in name order, names > ``after``, starting with ``prefix``:
        its general-purpose buckets, or with ``directory`` its directory buckets (whose
        names, and only theirs, end in ``--x-s3``)."""
        sql = f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE account = ? AND name > ?"
        sql += " AND name LIKE '%--x-s3'" if directory else " AND name NOT LIKE '%--x-s3'"
        args: list[Any] = [account, after]
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if region:
            sql += " AND region = ?"
            args.append(region)
        sql += " ORDER BY name"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_bucket_from_row(r) for r in self.conn.execute(sql, args)]

    def set_versioning(self, name: str, status: str, mfa_delete: str | None) -> None:
        self.forget_bucket(name)
        self.conn.execute(
            "UPDATE buckets SET versioning = ?, mfa_delete = COALESCE(?, mfa_delete) "
            "WHERE name = ?",
            (status, mfa_delete, name),
        )

    def set_config(self, name: str, document: str, value: Any | None) -> None:
        """Set (or with None, remove) one configuration document of a bucket."""
        self.forget_bucket(name)
        with self.transaction():
            row = self.conn.execute("SELECT config FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            config = json.loads(row[0]) if row[0] else {}
            if value is None:
                config.pop(document, None)
            else:
                config[document] = value
            self.conn.execute(
                "UPDATE buckets SET config = ? WHERE name = ?", (json.dumps(config), name)
            )

    def enable_object_lock(self, name: str) -> None:
        self.forget_bucket(name)
        self.conn.execute("UPDATE buckets SET object_lock = 1 WHERE name = ?", (name,))

    def bucket_is_empty(self, name: str) -> bool:
        """No versions at all (delete markers count, as on S3)."""
        row = self.conn.execute(
            "SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)
        ).fetchone()
        return row is None

    # -- reading versions -----------------------------------------------------------

    def latest(self, bucket: str, key: str) -> ObjectVersion | None:
        """The current version of a key (possibly a delete marker), or None.

        Cached until the key changes, and shared: callers must not mutate it
        (``with_changes`` makes a changed copy).
        """
        found = self._latest.get((bucket, key), _ABSENT)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ? ORDER BY id DESC LIMIT 1",
            (bucket, key_bytes(key)),
        ).fetchone()
        version = row_to_version(row) if row else None
        if not self.conn.in_transaction:
            cache = self._latest
            if len(cache) >= _LATEST_CACHE:
                del cache[next(iter(cache))]
            cache[(bucket, key)] = version
        return version

    def version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key_bytes(key), version_id),
        ).fetchone()
        return row_to_version(row) if row else None

    # -- writing versions -----------------------------------------------------------

    def put_version(self, version: ObjectVersion) -> tuple[ObjectVersion, list[str]]:
        """Make ``version`` the current version of its key, by S3's rules.

        A ``null`` version replaces any existing null version (its blob id is
        returned for deletion); any other version id is added. The previous
        current version stops being latest. Returns ``version`` itself, now
        stored (its row id and ``is_latest`` set), and blob ids to delete once
        committed.
        """
        self._latest.pop((version.bucket, version.key), None)
        kb = key_bytes(version.key)
        dropped: list[str] = []
        fields = (
            int(version.delete_marker),
            version.size,
            version.etag,
            version.blob_id,
            _epoch(version.last_modified),
            version.owner,
            version.storage_class,
            version.content_type,
            version.content_encoding,
            version.content_disposition,
            version.content_language,
            version.cache_control,
            _expires_value(version.expires),
            version.website_redirect,
            _json(version.metadata),
            _json(version.checksums),
            version.checksum_type,
            _json(version.parts),
            _json(version.extra),
        )
        with self.transaction() as conn:
            if version.version_id == NULL_VERSION:
                newest = conn.execute(
                    "SELECT id, blob_id, version_id, delete_marker FROM objects "
                    "INDEXED BY objects_history "
                    "WHERE bucket = ? AND key = ? ORDER BY id DESC LIMIT 1",
                    (version.bucket, kb),
                ).fetchone()
                if newest is not None and newest[2] == NULL_VERSION:
                    # The null version is the newest row of the key (always so in a
                    # bucket that never had versioning), so already the latest:
                    # rewrite it in place. Its id, and so its version and history
                    # index entries, stay as they are.
                    if newest[3] == fields[0]:  # object stays object, marker stays marker
                        conn.execute(_REWRITE, (*fields[1:], newest[0]))
                    else:
                        conn.execute(_REPLACE, (*fields, newest[0]))
                    if newest[1] and newest[1] != version.blob_id:
                        dropped.append(newest[1])
                    version.row_id, version.is_latest = newest[0], True
                    return version, dropped
                old = conn.execute(
                    "SELECT id, blob_id FROM objects WHERE bucket = ? AND key = ? "
                    "AND version_id = 'null'",
                    (version.bucket, kb),
                ).fetchone()
                if old is not None:
                    conn.execute("DELETE FROM objects WHERE id = ?", (old[0],))
                    if old[1] and old[1] != version.blob_id:
                        dropped.append(old[1])
            conn.execute(
                "UPDATE objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
                (version.bucket, kb),
            )
            cur = conn.execute(_INSERT, (version.bucket, kb, version.version_id, *fields))
        version.row_id, version.is_latest = cur.lastrowid or 0, True
        return version, dropped

    def delete_version(
        self, bucket: str, key: str, version_id: str
    ) -> tuple[ObjectVersion | None, list[str]]:
        """Remove one version for good; the next newest becomes current.

        Returns the removed version (None if there was none) and the blob ids
        to delete once committed.
        """
        self._latest.pop((bucket, key), None)
        kb = key_bytes(key)
        with self.transaction() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, kb, version_id),
            ).fetchone()
            if row is None:
                return None, []
            gone = row_to_version(row)
            conn.execute("DELETE FROM objects WHERE id = ?", (gone.row_id,))
            if gone.is_latest:
                conn.execute(
                    "UPDATE objects SET is_latest = 1 WHERE id = (SELECT id FROM objects "
                    "WHERE bucket = ? AND key = ? ORDER BY id DESC LIMIT 1)",
                    (bucket, kb),
                )
        return gone, [gone.blob_id] if gone.blob_id else []

    def update_version(self, version: ObjectVersion, **columns: Any) -> None:
        """Change stored fields of one version in place (metadata-only edits)."""
        self._latest.pop((version.bucket, version.key), None)
        encoders = {"metadata": _json, "checksums": _json, "parts": _json, "extra": _json}
        sets, args = [], []
        for name, value in columns.items():
            sets.append(f"{name} = ?")
            args.append(encoders[name](value) if name in encoders else value)
        args.append(version.row_id)
        self.conn.execute(f"UPDATE objects SET {', '.join(sets)} WHERE id = ?", args)

    # -- listing --------------------------------------------------------------------

    # Listing reads raw ``LIST_COLUMNS`` rows lazily from an open cursor and
    # decodes only the rows it returns. A cursor is a SQLite
    # statement stepped one row at a time: abandoning it (to jump past a
    # common prefix) costs nothing for the rows never read.

    def scan_current(
        self, bucket: str, start: bytes, inclusive: bool, end: bytes | None
    ) -> sqlite3.Cursor:
        """Current objects with ``start <(=) key < end``, in key order (close when done)."""
        op = ">=" if inclusive else ">"
        sql = (
            f"SELECT {LIST_COLUMNS} FROM objects INDEXED BY objects_current "
            f"WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0 AND key {op} ?"
        )
        args: list[Any] = [bucket, start]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        return self.conn.execute(sql + " ORDER BY key", args)

    def scan_versions(
        self, bucket: str, start: bytes, inclusive: bool, end: bytes | None
    ) -> sqlite3.Cursor:
        """Every version with ``start <(=) key < end``, by key then newest first."""
        op = ">=" if inclusive else ">"
        sql = (
            f"SELECT {LIST_COLUMNS} FROM objects INDEXED BY objects_history "
            f"WHERE bucket = ? AND key {op} ?"
        )
        args: list[Any] = [bucket, start]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        return self.conn.execute(sql + " ORDER BY key, id DESC", args)

    def scan_older_versions(self, bucket: str, key: bytes, below_id: int) -> sqlite3.Cursor:
        """The versions of one key older than row ``below_id``, newest first."""
        return self.conn.execute(
            f"SELECT {LIST_COLUMNS} FROM objects INDEXED BY objects_history "
            "WHERE bucket = ? AND key = ? AND id < ? ORDER BY id DESC",
            (bucket, key, below_id),
        )

    def remember_page_end(self, bucket: str, key: bytes, version_id: str, row_id: int) -> None:
        """Note that a listing page ended at this version (its ``NextVersionIdMarker``)."""
        ends, where = self._page_ends, (bucket, key, version_id)
        ends.pop(where, None)
        if len(ends) >= _MARKER_CACHE:
            del ends[next(iter(ends))]
        ends[where] = row_id

    def version_row_id(self, bucket: str, key: str, version_id: str) -> int | None:
        """Where a ``VersionIdMarker`` stands in its key's history: a row id (the key's
        versions list newest first, by id descending), or None when unknown.

        Version ids are random, so once a version is deleted nothing in the table
        tells where it stood; a page end noted by ``remember_page_end`` does (ids are
        never reused, so the key's versions below it are exactly those still to list).
        It wins over the table: a null version written again may get a newer row.
        """
        kb = key_bytes(key)
        found = self._page_ends.get((bucket, kb, version_id))
        if found is not None:
            return found
        row = self.conn.execute(
            "SELECT id FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, kb, version_id),
        ).fetchone()
        return row[0] if row else None
