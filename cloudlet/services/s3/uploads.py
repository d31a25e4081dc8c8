"""Multipart uploads in SQLite: the uploads in progress and their parts.

Why these tables, in the S3 database next to ``objects`` (``S3Store.add_schema``):

- ``mpu_uploads``: one row per upload in progress. ``seq`` (AUTOINCREMENT)
  orders uploads of one key by initiation, as ListMultipartUploads lists
  them; keys are BLOBs of their UTF-8 bytes like ``objects.key``, so
  ``(bucket, key, seq)`` is S3's listing order and a page is a range scan.
  A seq is never reused: the next page resumes at its marker's seq even once
  that upload is completed or aborted (``walk`` notes the seqs it lists).
  ``settings`` keeps what CreateMultipartUpload said about the object
  (content headers, metadata, and under ``"extra"`` its tags and Object Lock
  retention / legal hold, as ``ObjectVersion.extra`` holds them) until Complete.
- ``mpu_parts``: one row per uploaded part, naming its blob. The store's
  start-up sweep keeps every blob named here (``add_blob_reference``).

Like ``store.py`` this module never touches blob files: methods that drop
rows return the blob ids to delete once the transaction has committed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors
from cloudlet.services.s3.listing import resume_point
from cloudlet.services.s3.store import S3Store, key_bytes, successor

SCHEMA = """
CREATE TABLE IF NOT EXISTS mpu_uploads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    initiated REAL NOT NULL,
    owner TEXT NOT NULL,
    storage_class TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT,
    settings TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mpu_uploads_key ON mpu_uploads (bucket, key, seq);
CREATE TABLE IF NOT EXISTS mpu_parts (
    upload_seq INTEGER NOT NULL,
    part_number INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    last_modified REAL NOT NULL,
    checksums TEXT,
    PRIMARY KEY (upload_seq, part_number)
) WITHOUT ROWID;
"""

MAX_PARTS = 10_000
_LISTED_CACHE = 4096
"""Uploads a listing returned that ``walk`` remembers (a page holds up to 1,000)."""

_UPLOAD_COLUMNS = (
    "seq, upload_id, bucket, key, initiated, owner, storage_class, checksum_algorithm, "
    "checksum_type, settings"
)
_PART_COLUMNS = "part_number, blob_id, size, md5, last_modified, checksums"


@dataclass(frozen=True, slots=True)
class Upload:
    seq: int
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    owner: str
    storage_class: str
    algorithm: str | None
    """The upload's ``ChecksumAlgorithm`` (None: S3's default CRC64NVME applies)."""
    checksum_type: str | None
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    blob_id: str
    size: int
    md5: str
    """Hex MD5 of the part's bytes: its ETag, unquoted."""
    last_modified: datetime
    checksums: dict[str, str]
    """Base64 value by algorithm: every checksum computed for the part."""

    @property
    def etag(self) -> str:
        return f'"{self.md5}"'


def _upload(row: tuple) -> Upload:
    return Upload(
        seq=row[0],
        upload_id=row[1],
        bucket=row[2],
        key=bytes(row[3]).decode("utf-8", "surrogateescape"),
        initiated=datetime.fromtimestamp(row[4], UTC),
        owner=row[5],
        storage_class=row[6],
        algorithm=row[7],
        checksum_type=row[8],
        settings=json.loads(row[9]),
    )


def _part(row: tuple) -> Part:
    return Part(
        number=row[0],
        blob_id=row[1],
        size=row[2],
        md5=row[3],
        last_modified=datetime.fromtimestamp(row[4], UTC),
        checksums=json.loads(row[5]) if row[5] else {},
    )


def no_such_upload(upload_id: str) -> ServiceError:
    return errors.s3_error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
        404,
        UploadId=upload_id,
    )


class UploadStore:
    """Uploads and parts over the S3 store's connection (event-loop thread only)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        store.add_schema(SCHEMA)
        store.add_blob_reference("SELECT blob_id FROM mpu_parts")
        # upload id -> (bucket, key, seq) of uploads listings returned: where a page
        # ended, should that upload be completed or aborted before the next page.
        self._listed: dict[str, tuple[str, bytes, int]] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- uploads ----------------------------------------------------------------------

    def create(self, upload: Upload) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                f"INSERT INTO mpu_uploads ({_UPLOAD_COLUMNS}) "
                "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.upload_id,
                    upload.bucket,
                    key_bytes(upload.key),
                    upload.initiated.timestamp(),
                    upload.owner,
                    upload.storage_class,
                    upload.algorithm,
                    upload.checksum_type,
                    json.dumps(upload.settings),
                ),
            )

    def find(self, bucket: str, key: str, upload_id: str) -> Upload:
        """The upload ``upload_id`` of exactly this bucket and key, or ``NoSuchUpload``."""
        row = self.conn.execute(
            f"SELECT {_UPLOAD_COLUMNS} FROM mpu_uploads WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        if row is None or row[2] != bucket or bytes(row[3]) != key_bytes(key):
            raise no_such_upload(upload_id)
        return _upload(row)

    def remove(self, upload: Upload) -> list[str]:
        """Delete an upload and its parts; returns the part blobs to drop after commit."""
        with self.store.transaction() as conn:
            blob_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT blob_id FROM mpu_parts WHERE upload_seq = ?", (upload.seq,)
                )
            ]
            conn.execute("DELETE FROM mpu_parts WHERE upload_seq = ?", (upload.seq,))
            conn.execute("DELETE FROM mpu_uploads WHERE seq = ?", (upload.seq,))
        return blob_ids

    def in_bucket(self, bucket: str, initiated_before: datetime | None = None) -> list[Upload]:
        sql = f"SELECT {_UPLOAD_COLUMNS} FROM mpu_uploads WHERE bucket = ?"
        args: list[Any] = [bucket]
        if initiated_before is not None:
            sql += " AND initiated < ?"
            args.append(initiated_before.timestamp())
        return [_upload(r) for r in self.conn.execute(sql, args).fetchall()]

    # -- parts ------------------------------------------------------------------------

    def parts(self, upload: Upload, after: int = 0, limit: int = MAX_PARTS + 1) -> list[Part]:
        """Parts numbered above ``after``, in order."""
        rows = self.conn.execute(
            f"SELECT {_PART_COLUMNS} FROM mpu_parts WHERE upload_seq = ? AND part_number > ? "
            "ORDER BY part_number LIMIT ?",
            (upload.seq, after, limit),
        )
        return [_part(r) for r in rows]

    def save_part(self, bucket: str, key: str, upload_id: str, part: Part) -> str | None:
        """Record a part, replacing one with its number; the upload must still exist.

        Returns the replaced part's blob id (to drop after the commit), if any.
        """
        with self.store.transaction() as conn:
            upload = self.find(bucket, key, upload_id)
            old = conn.execute(
                "SELECT blob_id FROM mpu_parts WHERE upload_seq = ? AND part_number = ?",
                (upload.seq, part.number),
            ).fetchone()
            conn.execute(
                f"INSERT OR REPLACE INTO mpu_parts (upload_seq, {_PART_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.seq,
                    part.number,
                    part.blob_id,
                    part.size,
                    part.md5,
                    part.last_modified.timestamp(),
                    json.dumps(part.checksums),
                ),
            )
        if old is not None and old[0] != part.blob_id:
            return old[0]
        return None

    # -- listing ----------------------------------------------------------------------

    def walk(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str,
        id_marker: str,
        want: int,
    ) -> Iterator[Upload | str]:
        """Up to ``want`` uploads or common prefixes (``str``) in (key, initiation) order.

        Markers follow S3: ``key_marker`` alone resumes after that key;
        with ``id_marker`` it resumes after that upload of that key (where it stood,
        if it has since been completed or aborted: ``_marker_seq``); a
        ``key_marker`` that rolls up into a common prefix (the prefix itself or a key
        under it) resumes after everything under it (``resume_point``). An
        ``id_marker`` naming another key's upload is refused (``check_id_marker``).
        """
        pb = key_bytes(prefix)
        db = key_bytes(delimiter) if delimiter else None
        start, inclusive, after_seq = pb, True, 0
        if key_marker:
            mb = key_bytes(key_marker)
            start, inclusive = resume_point(mb, pb, db)
            if not inclusive and id_marker:
                seq = self._marker_seq(bucket, mb, id_marker)
                if seq is not None:
                    inclusive, after_seq = True, seq
            if start < pb:
                start, inclusive, after_seq = pb, True, 0
        end = successor(pb) if pb else None
        produced = 0
        while produced < want:
            sql = f"SELECT {_UPLOAD_COLUMNS} FROM mpu_uploads WHERE bucket = ? AND "
            args: list[Any] = [bucket]
            if inclusive:
                sql += "(key > ? OR (key = ? AND seq > ?))"
                args += [start, start, after_seq]
            else:
                sql += "key > ?"
                args.append(start)
            if end is not None:
                sql += " AND key < ?"
                args.append(end)
            limit = want - produced
            sql += " ORDER BY key, seq LIMIT ?"
            args.append(limit)
            rows = self.conn.execute(sql, args).fetchall()
            for row in rows:
                kb = bytes(row[3])
                i = kb.find(db, len(pb)) if db else -1
                if i >= 0:
                    # A common prefix stands for every upload under it: seek past them.
                    cp = kb[: i + len(db)]  # type: ignore[arg-type]
                    yield cp.decode("utf-8", "surrogateescape")
                    produced += 1
                    after = successor(cp)
                    if after is None:
                        return
                    start, inclusive, after_seq = after, True, 0
                    break
                self._remember(row)
                yield _upload(row)
                produced += 1
                start, inclusive, after_seq = kb, True, row[0]
            else:
                if len(rows) < limit:
                    return

    def check_id_marker(self, bucket: str, key_marker: str, upload_id: str) -> None:
        """Refuse an ``UploadIdMarker`` that names an upload of another key (or bucket)
        than ``key_marker``: 400 ``InvalidArgument`` "Invalid uploadId marker" naming
        ``upload-id-marker`` and the id (LocalStack's AWS-recorded
        ``list-multiparts-wrong-id-for-key``: key marker ``test_c``, the upload id of
        ``test_b``). An id nothing here knows (never stored, nor listed before it was
        completed or aborted) is not refused: the listing resumes after the whole key
        (``_marker_seq``); what S3 answers for such an id is not in those recordings.
        """
        self._marker_seq(bucket, key_bytes(key_marker), upload_id)

    def _marker_seq(self, bucket: str, key: bytes, upload_id: str) -> int | None:
        """Where an ``UploadIdMarker`` stands among its key's uploads (a ``seq``), or None.

        Upload ids are random: once an upload is completed or aborted, only a
        listing that returned it knows where it stood (seqs are never reused, so
        the key's uploads above it are exactly those still to list). An id never
        listed nor stored resumes after the whole key; one known to belong to
        another bucket or key is refused (``check_id_marker``).
        """
        row = self.conn.execute(
            "SELECT bucket, key, seq FROM mpu_uploads WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        where = (row[0], bytes(row[1]), row[2]) if row is not None else None
        if where is None:
            where = self._listed.get(upload_id)
            if where is None:
                return None
        if where[:2] != (bucket, key):
            raise errors.invalid_argument("Invalid uploadId marker", "upload-id-marker", upload_id)
        return where[2]

    def _remember(self, row: tuple) -> None:
        """Note a listed upload (``_marker_seq``), oldest notes dropped first."""
        listed = self._listed
        listed.pop(row[1], None)
        if len(listed) >= _LISTED_CACHE:
            del listed[next(iter(listed))]
        listed[row[1]] = (row[2], bytes(row[3]), row[0])
