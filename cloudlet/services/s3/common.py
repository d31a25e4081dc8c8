"""What every group of S3 handlers shares: the service's state and the lookups on it.

``S3Handlers`` is the base of each handler mixin (buckets, objects, listing,
multipart): it declares the attributes ``S3Service`` provides (``store``,
``blobs``) and the lookups every operation starts with (find the bucket, check
a key, find a version), so each mixin file reads like the AWS docs. Helpers
here are underscore-named: public names on the service are operations.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from cloudlet.core.clock import clock
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import errors
from cloudlet.services.s3.blobs import BlobStore
from cloudlet.services.s3.conditions import check_write
from cloudlet.services.s3.lifecycle_rules import expiration_header
from cloudlet.services.s3.store import NULL_VERSION, Bucket, ObjectVersion, S3Store

if TYPE_CHECKING:
    from cloudlet.services.s3.config import BucketConfigs

Result = dict[str, Any]

_VERSION_ID = re.compile(r"[0-9A-Za-z._-]{32}")
"""What may be a version id at all (S3's are 32 URL-safe characters): checked before a
lookup, so nothing else reaches the store."""
_ISSUED_VERSION_ID = re.compile(r"[0-9a-f]{32}")


@lru_cache(maxsize=256)
def canonical_user_id(account: str) -> str:
    """S3's 64-hex-digit canonical user id, derived from the account (stable)."""
    return hashlib.sha256(f"cloudlet-canonical-user:{account}".encode()).hexdigest()


def owner_of(account: str) -> dict[str, str]:
    """The ``Owner`` element S3 returns for resources of ``account``: its canonical id
    alone, as S3 answers since it stopped returning ``DisplayName`` on 21 November 2025
    (the ``Owner`` data type's end-of-support notice in the S3 API reference)."""
    return {"ID": canonical_user_id(account)}


def new_version_id() -> str:
    """A fresh version id: 32 URL-safe characters, like S3's: 28 hex digits of a random
    UUID and 4 that check them (``issued_version_id``)."""
    random_part = fast_uuid().replace("-", "")[:28]
    return random_part + _version_check(random_part)


def _version_check(random_part: str) -> str:
    return "%04x" % (zlib.crc32(random_part.encode()) & 0xFFFF)


def issued_version_id(version_id: str) -> bool:
    """Whether ``version_id`` is one this server could have issued (or ``null``).

    S3 refuses an id it never made with 400 ``InvalidArgument`` where a well-formed id
    of no version is 404 ``NoSuchVersion`` (AWS-recorded LocalStack snapshots:
    ``delete-nonexistent-object-versionid`` and ``get-obj-with-version`` refuse
    ``HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD``; ``delete-with-bad-version`` a real id whose
    last four characters were changed). Its ids carry their own integrity; ours carry a
    16-bit check (``new_version_id``), so a changed id fails it but for one in 65,536.
    Only asked once a lookup found nothing: ids stored before the check existed (plain
    hex) are still found, and only a missing one of them answers ``InvalidArgument``.
    """
    if version_id == NULL_VERSION:
        return True
    if not _ISSUED_VERSION_ID.fullmatch(version_id):
        return False
    return version_id[28:] == _version_check(version_id[:28])


def missing_version(key: str, version_id: str) -> Exception:
    """The error for a version id no version of ``key`` has."""
    if issued_version_id(version_id):
        return errors.no_such_version(key, version_id)
    return errors.invalid_version_id(version_id)


def object_url(ctx: Any, bucket: str, key: str = "") -> str:
    """The URL of ``key`` in ``bucket`` as the client addressed the server: under the
    Host when it names the bucket (virtual-hosted), else under ``/<bucket>``.

    The key is form-encoded as S3 writes it in CompleteMultipartUpload's and a POST
    upload's ``Location``: ``/`` as ``%2F``, a space as ``+`` (aws-sdk-js#811 and
    #1707, aws-sdk-go#1385, captured PostResponses), which S3 reads back as a space
    (``plus_as_space``). Java's URLEncoder alphabet: ``*`` kept, ``~`` encoded."""
    path = quote_plus(key, safe="*").replace("~", "%7E")
    if ctx.request.signed_path is None:  # path style: the gateway rewrote no host
        path = f"{quote(bucket)}/{path}"
    return f"http://{ctx.host}/{path}"


def plus_as_space(path: str) -> str:
    """``path`` with each ``+`` of its key read as a space, as S3 reads a request path
    (s3cmd#554: ``GET /hello+world.html`` is the object ``hello world.html``; a key's
    own ``+`` travels as ``%2B``, as every SDK encodes it). The bucket segment is
    left as sent, so a bad bucket name is named as it was written."""
    bucket, slash, key = path.removeprefix("/").partition("/")
    return f"/{bucket}{slash}{key.replace('+', '%20')}"


def regional_bucket_url(ctx: Any, bucket: str, region: str) -> str:
    """``http://<bucket>.s3.<region>.localhost[:port]/``: the bucket's regional
    virtual-hosted address, on the port the client reached."""
    host = ctx.host
    port = host.rsplit(":", 1)[1] if host.count(":") == 1 else ""
    return f"http://{bucket}.s3.{region}.localhost{':' + port if port else ''}/"


def now() -> datetime:
    """The current time in whole seconds: what S3 stores, lists (``.000Z``) and sends as
    ``Last-Modified``; a listing and a HEAD of one object agree, which ``aws s3 sync
    --exact-timestamps`` relies on. Rounded up, never down: a write is never older than
    a file written just before it (``aws s3 sync`` re-uploads a source newer than its
    object)."""
    return datetime.fromtimestamp(math.ceil(clock.time()), UTC)


def check_version_id(version_id: str) -> None:
    if version_id != NULL_VERSION and not _VERSION_ID.fullmatch(version_id):
        raise errors.invalid_version_id(version_id)


def check_key(key: str) -> None:
    size = len(key.encode("utf-8", "surrogateescape"))
    if size > errors.MAX_KEY_BYTES:
        raise errors.key_too_long(size)
    if not key:
        raise errors.invalid_argument("Key must not be empty", "key", key)


class S3Handlers:
    """Base of the S3 handler mixins (see the module docstring)."""

    store: S3Store
    blobs: BlobStore
    configs: BucketConfigs

    def _bucket(self, name: str) -> Bucket:
        bucket = self.store.get_bucket(name)
        if bucket is None:
            raise errors.no_such_bucket(name)
        return bucket

    def _version_for_write(self, bucket: Bucket) -> str:
        """The version id a new write gets in ``bucket``."""
        return new_version_id() if bucket.versioned else NULL_VERSION

    def _expiration(self, bucket: Bucket, current: ObjectVersion) -> str | None:
        """``x-amz-expiration``: when the bucket's lifecycle rules expire ``current``."""
        return expiration_header(self.configs.get(bucket.name, "lifecycle"), current)

    def _version_header(self, bucket: Bucket, version_id: str) -> str | None:
        """``x-amz-version-id`` is sent only once a bucket has had versioning configured."""
        return version_id if bucket.versioning is not None else None

    def _find(
        self,
        bucket: Bucket,
        key: str,
        version_id: str | None,
        method: str,
        *,
        marker_not_allowed: bool = False,
    ) -> ObjectVersion:
        """The version a read names; S3's errors for missing keys, versions, delete markers.

        A key whose current version is a delete marker is 404 ``NoSuchKey`` to a read, and
        405 ``MethodNotAllowed`` with ``marker_not_allowed`` (object tagging, as S3 answers
        it: LocalStack's AWS-recorded ``*-object-tags-delete-marker-latest``)."""
        if version_id is None:
            found = self.store.latest(bucket.name, key)
            if found is None:
                raise errors.no_such_key(key)
            if found.delete_marker:
                raise self._latest_marker(
                    bucket, key, found, method if marker_not_allowed else None
                )
            return found
        check_version_id(version_id)
        found = self.store.version(bucket.name, key, version_id)
        if found is None:
            raise missing_version(key, version_id)
        if found.delete_marker:
            err = errors.method_not_allowed(method)
            err.headers.update(
                {
                    "x-amz-delete-marker": "true",
                    "x-amz-version-id": found.version_id,
                    "Last-Modified": _http_date(found.last_modified),
                    "Allow": "DELETE",
                }
            )
            raise err
        return found

    def _latest_marker(
        self, bucket: Bucket, key: str, marker: ObjectVersion, method: str | None
    ) -> Exception:
        """The error for a key whose current version is a delete marker: ``NoSuchKey``, or
        ``MethodNotAllowed`` for ``method``; both say which marker they met."""
        err = errors.no_such_key(key) if method is None else errors.method_not_allowed(method)
        err.headers["x-amz-delete-marker"] = "true"
        if bucket.versioning is not None:
            err.headers["x-amz-version-id"] = marker.version_id
        return err

    def _check_write_conditions(
        self, bucket: Bucket, key: str, params: dict[str, Any], *, delete: bool = False
    ) -> None:
        """``If-Match``/``If-None-Match`` of a write (or a delete's ``If-Match``), against
        the key's current object."""
        if params.get("IfMatch") is None and params.get("IfNoneMatch") is None:
            return
        current = self.store.latest(bucket.name, key)
        exists = current is not None and not current.delete_marker
        check_write(
            current.etag if exists and current is not None else None,
            exists=exists,
            key=key,
            if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"),
            write=not delete,
        )

    def _drop_blobs(self, blob_ids: list[str]) -> None:
        """After a commit: remove the files of versions that are gone.

        On the event loop this runs once the current step is done, i.e. after
        the response has been handed to the transport: an unlink costs the
        client nothing. (A crash before it runs leaves orphans, which the next
        start-up sweeps.)
        """
        if not blob_ids:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.blobs.delete_many(blob_ids)
            return
        loop.call_soon(self.blobs.delete_many, list(blob_ids))


def _http_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
