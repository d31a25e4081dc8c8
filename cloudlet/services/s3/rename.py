"""RenameObject: a directory bucket's object under a new key, atomically, no bytes moved.

Why it is built like this:

- **One transaction.** The object's row is written under the new key (replacing the
  object there, if any) and its row under the old key deleted in one SQLite
  transaction, with the client token that made it: a crash leaves the object under
  exactly one of the two keys, never both or neither. The blob goes with the row
  unchanged (blob ids name bytes, not keys), so a rename costs the same for any size;
  only the replaced object's blob is dropped, after the commit.
- **Everything is kept**, as the User Guide says ("Renaming objects in directory
  buckets": metadata, storage class, encryption, creation and last-modified dates,
  checksums), the ETag and content headers too.
- **Idempotency** (``x-amz-client-token``): a rename that succeeded is remembered by
  its token with a digest of its parameters for a day, so a retry with the same token
  and parameters succeeds without doing anything (its source is gone by then), and one
  with other parameters is 400 ``IdempotencyParameterMismatch``. A failed rename is not
  remembered: it may be retried. Tokens live in the S3 database (``rename_tokens``).

The rules: ``x-amz-rename-source`` is the source key in the same bucket, URL-encoded,
with or without one leading ``/`` (the API reference's example sends
``/srcfilename.txt``; AWS's mountpoint-s3 sends the bare key); a general-purpose
bucket answers 501 ``NotImplemented`` (mountpoint-s3 reads a 501 as "this bucket
cannot rename"); a key ending in ``/`` is refused (the User Guide: RenameObject "will
not succeed on objects that end with the slash (/) delimiter character"); the
destination's ``If-*`` and the source's ``x-amz-rename-source-if-*`` are checked as
``conditions.py`` says, the destination's first; a missing source is 404 ``NoSuchKey``.
Directory buckets have no event notifications, so a rename notifies nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from cloudlet.core.clock import clock
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, S3Handlers, check_key
from cloudlet.services.s3.conditions import check_rename_destination, check_rename_source
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.store import Bucket, ObjectVersion

SOURCE_HEADER = "x-amz-rename-source"
TOKEN_HEADER = "x-amz-client-token"
TOKEN_SECONDS = 24 * 3600
"""How long a client token is remembered (AWS gives no figure; a day covers retries)."""
_TOKEN = re.compile(r"[!-~]{1,64}")
"""A client token: 1 to 64 ASCII characters from 33 to 126 (the API reference)."""
_BAD_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rename_tokens (
    account TEXT NOT NULL,
    token TEXT NOT NULL,
    request TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rename_tokens_age ON rename_tokens (created);
"""
_CONDITIONS = (
    "DestinationIfMatch",
    "DestinationIfNoneMatch",
    "DestinationIfModifiedSince",
    "DestinationIfUnmodifiedSince",
    "SourceIfMatch",
    "SourceIfNoneMatch",
    "SourceIfModifiedSince",
    "SourceIfUnmodifiedSince",
)


def source_key(value: str | None) -> str:
    """The key ``x-amz-rename-source`` names: percent-decoded (a ``%`` that starts no
    escape is read as itself: a key a client sent unencoded), as UTF-8, one leading
    ``/`` dropped. Missing, empty or no UTF-8: ``InvalidArgument``."""
    key = ""
    if value:
        try:  # a header's bytes, as the server read them (latin-1)
            data = value.encode("latin-1")
        except UnicodeEncodeError:  # text already
            data = value.encode("utf-8", "surrogateescape")
        if b"%" in data and not _BAD_ESCAPE.search(value):
            data = unquote_to_bytes(data)
        try:
            key = data.decode("utf-8")
        except UnicodeDecodeError:
            key = ""
    key = key.removeprefix("/")
    if not key:
        raise errors.invalid_argument("Invalid rename source", SOURCE_HEADER, value or None)
    return key


def request_digest(bucket: str, key: str, source: str, params: dict[str, Any]) -> str:
    """What a client token stands for: the rename's parameters, digested."""
    fields: dict[str, Any] = {"bucket": bucket, "key": key, "source": source}
    for name in _CONDITIONS:
        value = params.get(name)
        fields[name] = value.timestamp() if isinstance(value, datetime) else value
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class RenameHandlers(S3Handlers):
    """RenameObject."""

    _rename_tokens_ready = False

    def rename_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        if not is_directory(bucket):
            raise errors.s3_error(
                "NotImplemented", "RenameObject is supported only in directory buckets.", 501
            )
        key = params["Key"]
        check_key(key)
        source = source_key(params.get("RenameSource"))
        check_key(source)
        token = params.get("ClientToken")
        digest = request_digest(bucket.name, key, source, params)
        if token is not None:
            if not _TOKEN.fullmatch(token):
                raise errors.invalid_argument("Invalid client token", TOKEN_HEADER, token)
            seen = self._remembered(ctx.account_id, token)
            if seen == digest:
                return {}  # a retry of a rename that succeeded: nothing more to do
            if seen is not None:
                raise errors.idempotency_parameter_mismatch()
        if key.endswith("/") or source.endswith("/"):
            raise errors.invalid_request(
                "RenameObject is not supported for keys that end with the delimiter '/'."
            )
        self._check_destination(bucket, key, params)
        moved = self._source(bucket, source, params)
        dropped: list[str] = []
        with self.store.transaction():
            if source != key:  # renaming an object onto itself changes nothing
                _stored, dropped = self.store.put_version(
                    moved.with_changes(key=key, row_id=0, is_latest=True)
                )
                self.store.delete_version(bucket.name, source, moved.version_id)
            if token is not None:
                self._remember(ctx.account_id, token, digest)
        self._drop_blobs([b for b in dropped if b != moved.blob_id])
        return {}

    def _check_destination(self, bucket: Bucket, key: str, params: dict[str, Any]) -> None:
        current = self.store.latest(bucket.name, key)
        exists = current is not None and not current.delete_marker
        check_rename_destination(
            (current.etag, current.last_modified) if exists and current is not None else None,
            if_match=params.get("DestinationIfMatch"),
            if_none_match=params.get("DestinationIfNoneMatch"),
            if_modified_since=params.get("DestinationIfModifiedSince"),
            if_unmodified_since=params.get("DestinationIfUnmodifiedSince"),
        )

    def _source(self, bucket: Bucket, key: str, params: dict[str, Any]) -> ObjectVersion:
        found = self.store.latest(bucket.name, key)
        if found is None or found.delete_marker:
            raise errors.no_such_key(key)
        check_rename_source(
            found.etag,
            found.last_modified,
            if_match=params.get("SourceIfMatch"),
            if_none_match=params.get("SourceIfNoneMatch"),
            if_modified_since=params.get("SourceIfModifiedSince"),
            if_unmodified_since=params.get("SourceIfUnmodifiedSince"),
        )
        return found

    # -- client tokens ------------------------------------------------------------------

    def _tokens_table(self) -> None:
        if not self._rename_tokens_ready:
            self.store.add_schema(_SCHEMA)  # outside any transaction: this one commits
            self._rename_tokens_ready = True

    def _remembered(self, account: str, token: str) -> str | None:
        self._tokens_table()
        row = self.store.conn.execute(
            "SELECT request FROM rename_tokens WHERE account = ? AND token = ? AND created > ?",
            (account, token, clock.time() - TOKEN_SECONDS),
        ).fetchone()
        return row[0] if row else None

    def _remember(self, account: str, token: str, digest: str) -> None:
        """Inside the rename's transaction; tokens past their day go with it."""
        now = clock.time()
        conn = self.store.conn
        conn.execute("DELETE FROM rename_tokens WHERE created <= ?", (now - TOKEN_SECONDS,))
        conn.execute(
            "INSERT OR REPLACE INTO rename_tokens (account, token, request, created) "
            "VALUES (?, ?, ?, ?)",
            (account, token, digest, now),
        )
