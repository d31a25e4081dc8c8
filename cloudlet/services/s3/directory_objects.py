"""What objects do differently in a directory bucket (S3 Express One Zone).

``directory.py`` makes directory buckets (names, zones, sessions, what they refuse);
this mixin gathers the object behaviours only they have, each in its own module or
below, so that a general-purpose bucket's path never changes:

- appends (``append.py``) and RenameObject (``rename.py``);
- **DeleteObject's conditions** ``x-amz-if-match-last-modified-time`` and
  ``x-amz-if-match-size`` (with ``If-Match``, alone or together): the object is
  deleted only if they hold, else 412 ``PreconditionFailed``; a key with no object
  is "deleted" (204), as the reference says. DeleteObjects' per-object
  ``LastModifiedTime`` and ``Size`` are the same conditions for one entry (its
  ``Errors`` entry when they fail). A general-purpose bucket refuses them all
  (``objects.py``); checks and delete happen with no await between them;
- **ListObjectsV2's rules** (the reference's directory-bucket notes and the User
  Guide's "Differences for directory buckets"): ``/`` is the only delimiter; a
  prefix must end in ``/``, with or without a delimiter (S3's words, quoted in
  awslabs/aws-s3-transfer-manager-rs#112 and apache/arrow-rs#5140, and
  apache/iceberg#10292: "requiring all ListObjects requests end with a delimiter");
  ``StartAfter`` is not supported; ``FetchOwner`` shows the bucket's owner as every
  object's owner (``listing.py``); with a delimiter, the keys of uploads in progress
  roll into ``CommonPrefixes`` too. AWS lists a directory bucket in no particular
  order; cloudlet keeps listing in key order, one of the orders AWS may give.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.append import AppendHandlers
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.conditions import check_delete_match
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.listing import Scan
from cloudlet.services.s3.rename import RenameHandlers
from cloudlet.services.s3.store import LIST_COLUMNS, ROW_KEY, Bucket, successor

DELIMITER = "/"
_DELETE_CONDITIONS = ("IfMatchSize", "IfMatchLastModifiedTime")
_ROW_WIDTH = len(LIST_COLUMNS.split(", "))


def check_listing(params: dict[str, Any]) -> None:
    """A directory bucket's ListObjectsV2 parameters, as S3 refuses them."""
    delimiter = params.get("Delimiter")
    if delimiter and delimiter != DELIMITER:
        raise errors.invalid_argument(
            "Directory buckets support only '/' as a delimiter.", "delimiter", delimiter
        )
    prefix = params.get("Prefix")
    if prefix and not prefix.endswith(DELIMITER):
        raise errors.invalid_request(
            "This bucket does not support a prefix that does not end in a delimiter. "
            "Specify a prefix path ending with a delimiter and try again."
        )
    if params.get("StartAfter"):
        raise errors.invalid_argument(
            "StartAfter is not supported for directory buckets.",
            "start-after",
            params["StartAfter"],
        )


class _Merged:
    """Two scans in key order as one (``walk`` closes what it abandons)."""

    def __init__(self, *scans: Any) -> None:
        self._scans = scans
        self._rows = heapq.merge(*scans, key=itemgetter(ROW_KEY))

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        return next(self._rows)

    def close(self) -> None:
        for scan in self._scans:
            scan.close()


class DirectoryObjectHandlers(AppendHandlers, RenameHandlers):
    """Appends, RenameObject, and DeleteObject(s)' and ListObjectsV2's directory rules."""

    # -- DeleteObject / DeleteObjects ---------------------------------------------------

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self.store.get_bucket(params["Bucket"])
        if bucket is None or not is_directory(bucket):  # NoSuchBucket, or the 501
            return super().delete_object(ctx, params)  # type: ignore[misc]
        if any(params.get(name) is not None for name in _DELETE_CONDITIONS):
            self._check_directory_delete(bucket, params["Key"], params)
            params = {k: v for k, v in params.items() if k not in _DELETE_CONDITIONS}
        return super().delete_object(ctx, params)  # type: ignore[misc]

    def _check_delete_entry(self, bucket: Bucket, key: str, entry: dict[str, Any]) -> None:
        if not is_directory(bucket):
            super()._check_delete_entry(bucket, key, entry)  # type: ignore[misc]
            return
        if all(entry.get(member) is None for member in ("ETag", "LastModifiedTime", "Size")):
            return
        self._check_directory_delete(
            bucket,
            key,
            {
                "IfMatch": entry.get("ETag"),
                "IfMatchLastModifiedTime": entry.get("LastModifiedTime"),
                "IfMatchSize": entry.get("Size"),
            },
        )

    def _check_directory_delete(self, bucket: Bucket, key: str, params: dict[str, Any]) -> None:
        """``If-Match`` first (``NoSuchKey`` without an object, as on any bucket), then
        the Last-Modified and size the request names, if there is an object."""
        if params.get("IfMatch") is not None:
            self._check_write_conditions(bucket, key, {"IfMatch": params["IfMatch"]}, delete=True)
        current = self.store.latest(bucket.name, key)
        if current is None or current.delete_marker:
            return
        check_delete_match(
            current.last_modified,
            current.size,
            if_match_last_modified_time=params.get("IfMatchLastModifiedTime"),
            if_match_size=params.get("IfMatchSize"),
        )

    # -- ListObjectsV2 ------------------------------------------------------------------

    def list_objects_v2(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self.store.get_bucket(params["Bucket"])
        if bucket is not None and is_directory(bucket):
            check_listing(params)
        return super().list_objects_v2(ctx, params)  # type: ignore[misc]

    def _current_scan(self, bucket: str, prefix: bytes, delimiter: bytes | None = None) -> Scan:
        """With a delimiter, a directory bucket's scan adds its uploads' keys (rows with no
        id, which ``walk`` lists only as the common prefixes they roll into)."""
        objects = super()._current_scan(bucket, prefix, delimiter)  # type: ignore[misc]
        found = self.store.get_bucket(bucket) if delimiter else None
        if found is None or not is_directory(found):
            return objects
        end = successor(prefix) if prefix else None
        conn = self.store.conn
        blank = (None,) * (_ROW_WIDTH - 1)

        def open_scan(start: bytes, inclusive: bool) -> Iterator[tuple]:
            op = ">=" if inclusive else ">"
            sql = f"SELECT DISTINCT key FROM mpu_uploads WHERE bucket = ? AND key {op} ?"
            args: list[Any] = [bucket, start]
            if end is not None:
                sql += " AND key < ?"
                args.append(end)
            uploads = conn.execute(sql + " ORDER BY key", args)
            pending = ((bytes(key), *blank) for (key,) in uploads)
            return _Merged(objects(start, inclusive), _Closing(pending, uploads))

        return open_scan


class _Closing:
    """An iterator that closes ``cursor`` with itself."""

    def __init__(self, rows: Iterator[tuple], cursor: Any) -> None:
        self._rows, self._cursor = rows, cursor

    def __iter__(self) -> Iterator[tuple]:
        return self._rows

    def close(self) -> None:
        self._cursor.close()
