"""Appends: PutObject with ``x-amz-write-offset-bytes`` on a directory bucket.

S3 Express One Zone adds bytes to the end of an object when a PutObject names the
object's size as its write offset. Why it is built like this:

- **An append is one more part, never a copy.** The object's blob becomes a
  composed blob (``composed.py``) of the files it was made of plus the new part's
  file: hard links, so an append never rewrites the object's bytes, but costs one
  link per part it already has (and removing the previous directory, as many
  unlinks): measured here, durable, 100-byte appends took ~20 ms each around 250
  parts and ~115 ms around 1,750. Composed blobs stay immutable, which readers,
  copies and the sweep rely on. A small object kept in the database (``small.py``)
  is first written out as a file (at most 64 KiB).
- **Crash safety is PutObject's.** The part's file and the composed directory are
  durable before the row naming them commits; the row is one write of the key's
  version; the blob it named is dropped after the commit. A crash at any point
  before the commit leaves the previous object as it was, and the start-up sweep
  removes what was half made.
- **Concurrency.** The body streams and the composition runs in worker threads, so
  other requests interleave: after the composition the key is read again, and an
  object changed meanwhile is checked against the offset again and composed again
  (an append that lost a race to another append answers ``InvalidWriteOffset``).

The rules, from the PutObject reference, the User Guide's "Appending data to
objects in directory buckets" and AWS's own client tests run against S3 Express
(awslabs/mountpoint-s3, ``mountpoint-s3-client/tests/put_object.rs``): the offset
must be the object's size (400 ``InvalidWriteOffset``); with no object, offset 0
creates it and any other is 404 ``NoSuchKey``; an empty body appends nothing and is
400 ``InvalidArgument``; user metadata for an existing object is ``InvalidRequest``;
each append is a part, at most 10,000 in all (``TooManyParts``), at most 5 GiB each;
the checksum algorithm must be the object's (``InvalidRequest``, "Checksum Type
mismatch"), and without a checksum header the object's algorithm is computed; another
encryption than the object's is ``EncryptionTypeMismatch``. A general-purpose bucket
answers 501 before the body is read (``request_checks.py``).

What the object becomes: its new size and LastModified, its parts (count, sizes and
the parts' checksums), its metadata and content headers kept. A CRC checksum combines
into the whole object's (``FULL_OBJECT``); SHA, MD5 and xxHash ones cannot, so the
object's becomes ``COMPOSITE`` over its parts (the User Guide: only CRC appends give
a full-object checksum). The ETag changes with every append, as a directory bucket's
ETag is no MD5 of the data: the MD5 of the previous ETag and the part's MD5, then
``-<parts>``. The response carries the object's size (``x-amz-object-size``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import checksums, encryption, errors, small
from cloudlet.services.s3.blobs import Blob
from cloudlet.services.s3.common import Result, S3Handlers, check_key, now
from cloudlet.services.s3.conditions import unquote_etag
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.objects import checksum_result, storage_class
from cloudlet.services.s3.request_checks import WRITE_OFFSET
from cloudlet.services.s3.store import Bucket, ObjectVersion
from cloudlet.services.s3.uploads import MAX_PARTS

_ATTEMPTS = 5
"""Compositions tried before an append that keeps losing races gives up (409)."""


def appended_etag(previous: str | None, part_md5: bytes, count: int) -> str:
    """The ETag of an object after an append: new for every append, never an MD5 of data."""
    base = unquote_etag(previous or "").partition("-")[0].encode()
    return f'"{hashlib.md5(base + part_md5, usedforsecurity=False).hexdigest()}-{count}"'


def object_algorithm(version: ObjectVersion) -> str | None:
    return next(iter(version.checksums), None)


def _parts_of(version: ObjectVersion) -> tuple[list[int], str | None, list[str] | None]:
    """The parts an object is made of so far: their sizes, and the algorithm and values
    of their checksums when known (a single-part object is one part, its own checksum)."""
    parts = version.parts or {}
    if parts.get("count"):
        return list(parts.get("sizes") or []), parts.get("algorithm"), parts.get("checksums")
    algorithm = object_algorithm(version)
    value = version.checksums.get(algorithm or "")
    if version.checksum_type == checksums.COMPOSITE or not value:
        return [version.size], None, None
    return [version.size], algorithm, [value]


def appended(version: ObjectVersion, part_value: str | None, part_size: int) -> dict[str, Any]:
    """The fields of ``version`` that an appended part of ``part_size`` bytes, whose
    checksum in the object's algorithm is ``part_value``, changes (checksums and parts)."""
    sizes, part_algorithm, values = _parts_of(version)
    algorithm = object_algorithm(version)
    if algorithm is not None and part_algorithm == algorithm and values and part_value:
        values = [*values, part_value]
    else:
        values = None
    old = version.checksums.get(algorithm or "")
    sums: dict[str, str] = {}
    kind = None
    if algorithm is not None and part_value is not None and old:
        if algorithm in checksums.CRC_ALGORITHMS and version.checksum_type != checksums.COMPOSITE:
            pairs = [(old, version.size), (part_value, part_size)]
            sums = {algorithm: checksums.full_object_checksum(algorithm, pairs)}
            kind = checksums.FULL_OBJECT
        elif values is not None:
            sums = {algorithm: checksums.composite_checksum(algorithm, values)}
            kind = checksums.COMPOSITE
    return {
        "checksums": sums,
        "checksum_type": kind,
        "parts": {
            "count": len(sizes) + 1,
            "sizes": [*sizes, part_size],
            "algorithm": algorithm if values else None,
            "checksums": values,
        },
    }


def _check_encryption(version: ObjectVersion, params: dict[str, Any], bucket: Bucket) -> None:
    """An append asks for the object's encryption or for none (the object's applies)."""
    sse = version.extra.get("sse") or {}
    have = sse.get("alg", encryption.SSE_S3)
    asked = params.get("ServerSideEncryption")
    if encryption.customer_given(params) and have != encryption.SSE_C:
        raise errors.encryption_type_mismatch()
    if asked is not None and asked != have:
        raise errors.encryption_type_mismatch()
    key_id = params.get("SSEKMSKeyId")
    if key_id is not None and (
        have not in encryption.KMS_ALGORITHMS
        or encryption.key_arn(key_id, bucket.region, bucket.account) != sse.get("kms")
    ):
        raise errors.encryption_type_mismatch()


class AppendHandlers(S3Handlers):
    """PutObject with ``WriteOffsetBytes``: an append to an object of a directory bucket."""

    async def put_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        offset = params.get("WriteOffsetBytes")
        if offset is None:
            return await super().put_object(ctx, params)  # type: ignore[misc]
        bucket = self._bucket(params["Bucket"])
        if not is_directory(bucket):  # request_checks.py answers HTTP requests so first
            raise errors.header_not_implemented(WRITE_OFFSET)
        key = params["Key"]
        check_key(key)
        if offset < 0:
            raise errors.invalid_argument("Invalid write offset", WRITE_OFFSET, offset)
        current = self._current(bucket, key)
        if current is None:
            if offset != 0:
                raise errors.no_such_key(key)
            return await self._append_creating(ctx, bucket, params)
        return await self._append(ctx, bucket, key, params, offset)

    def _current(self, bucket: Bucket, key: str) -> ObjectVersion | None:
        found = self.store.latest(bucket.name, key)
        return None if found is None or found.delete_marker else found

    async def _append_creating(self, ctx: Any, bucket: Bucket, params: dict[str, Any]) -> Result:
        """Offset 0 and no object: a PutObject that must not replace one written meanwhile
        (it would not have been at offset 0 then): ``If-None-Match: *`` unless the request
        names its own condition."""
        plain = {k: v for k, v in params.items() if k != "WriteOffsetBytes"}
        guarded = params.get("IfMatch") is None and params.get("IfNoneMatch") is None
        if guarded:
            plain["IfNoneMatch"] = "*"
        try:
            out = await super().put_object(ctx, plain)  # type: ignore[misc]
        except ServiceError as err:
            if guarded and err.code == "PreconditionFailed":
                raise errors.invalid_write_offset() from None
            raise
        created = self._current(bucket, params["Key"])  # committed just now, nothing awaited
        out["Size"] = created.size if created is not None else 0
        return out

    def _check_append(
        self, bucket: Bucket, key: str, params: dict[str, Any], offset: int
    ) -> ObjectVersion:
        """What can be refused before (and is checked again after) the body: the object's
        current version, if this append may go on it."""
        current = self._current(bucket, key)
        if current is None:
            raise errors.no_such_key(key)
        if params.get("Metadata"):
            raise errors.invalid_request(
                "Cannot specify both a write offset value and user-defined object metadata "
                "for existing objects."
            )
        if offset != current.size:
            raise errors.invalid_write_offset()
        if len(_parts_of(current)[0]) >= MAX_PARTS:
            raise errors.too_many_parts(MAX_PARTS)
        self._check_write_conditions(bucket, key, params)
        _check_encryption(current, params, bucket)
        return current

    async def _append(
        self, ctx: Any, bucket: Bucket, key: str, params: dict[str, Any], offset: int
    ) -> Result:
        headers = ctx.request.headers if ctx.request is not None else {}
        length = params.get("ContentLength")
        if length is not None and length > errors.MAX_SINGLE_PUT:
            raise errors.entity_too_large(length, errors.MAX_SINGLE_PUT)
        storage_class(params.get("StorageClass"), directory=True)
        if length == 0:
            raise _empty_append()
        current = self._check_append(bucket, key, params, offset)
        expected_md5 = checksums.content_md5(headers)
        claim = checksums.request_checksum(headers)
        algorithm = object_algorithm(current)
        if claim is not None and algorithm is not None and claim.algorithm != algorithm:
            raise errors.invalid_request(
                "Checksum Type mismatch occurred, expected checksum Type: "
                f"{algorithm.lower()}, actual checksum Type: {claim.algorithm.lower()}"
            )
        if algorithm is None:  # an object from before checksums were kept: keeps none
            algorithm = claim.algorithm if claim is not None else checksums.DEFAULT_ALGORITHM
        hasher = checksums.new_hasher(algorithm)
        part = await self.blobs.write(
            params.get("Body") or b"",
            hashers=(hasher,),
            max_size=errors.MAX_SINGLE_PUT,
            expected_size=length,
            inline=False,  # a composed blob links files
        )
        try:
            checksums.verify_content_md5(expected_md5, part.md5)
            value = claim.verify(hasher, headers) if claim is not None else hasher.b64()
            if part.size == 0:
                raise _empty_append()
            stored, dropped = await self._commit_append(bucket, key, params, offset, part, value)
        finally:
            self.blobs.delete(part.id)  # the composed blob holds its own link to the bytes
        self._drop_blobs(dropped)
        out: Result = {
            "ETag": stored.etag,
            "Size": stored.size,
            **encryption.result(stored.extra.get("sse"), context=True),
        }
        if claim is not None:
            out.update(checksum_result(stored))
        return out

    async def _commit_append(
        self, bucket: Bucket, key: str, params: dict[str, Any], offset: int, part: Blob, value: str
    ) -> tuple[ObjectVersion, list[str]]:
        """Compose the object's bytes and the part's, then commit the object's new version
        if the key is still the version composed from; else check and compose again."""
        for _ in range(_ATTEMPTS):
            bucket = self._bucket(bucket.name)
            current = self._check_append(bucket, key, params, offset)
            try:
                composed_id = await self._compose(current, part.id)
            except FileNotFoundError:
                continue  # the object was replaced while its files were being linked
            try:
                latest = self._current(bucket, key)
                if latest is None or (latest.row_id, latest.blob_id, latest.etag) != (
                    current.row_id,
                    current.blob_id,
                    current.etag,
                ):
                    self.blobs.delete(composed_id)
                    continue
                fields = appended(current, value, part.size)
                extra = dict(current.extra)
                if "sse" in extra:  # the MD5 ETag a copy would go back to no longer holds
                    extra["sse"] = {k: v for k, v in extra["sse"].items() if k != "etag"}
                version = current.with_changes(
                    size=current.size + part.size,
                    etag=appended_etag(current.etag, part.md5, fields["parts"]["count"]),
                    blob_id=composed_id,
                    last_modified=now(),
                    extra=extra,
                    row_id=0,
                    **fields,
                )
                return self.store.put_version(version)
            except BaseException:
                self.blobs.delete(composed_id)
                raise
        raise errors.conditional_request_conflict("x-amz-write-offset-bytes", key)

    async def _compose(self, current: ObjectVersion, part_id: str) -> str:
        """A new composed blob of ``current``'s bytes, then the part's."""
        old = current.blob_id
        written = None
        if old is None or small.is_small(old):  # a database row: written out as a file
            data = await self.blobs.read_all(old) if old else b""
            written = (await self.blobs.write(data, inline=False)).id
            old = written
        try:
            composed_id, _ = await self.blobs.compose([old, part_id])  # type: ignore[attr-defined]
        finally:
            if written is not None:
                self.blobs.delete(written)
        return composed_id


def _empty_append() -> ServiceError:
    # AWS answers InvalidArgument (mountpoint-s3's client reads it so); the reference's
    # error list files the message under InvalidRequest.
    return errors.invalid_argument(
        "Request body cannot be empty when 'write offset' is specified.", WRITE_OFFSET
    )
