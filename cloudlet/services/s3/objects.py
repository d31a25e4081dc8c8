"""Object operations: Put, Get, Head, Delete, DeleteObjects, GetObjectAttributes.

The write path is the crash-safety argument of ``blobs.py`` in action: stream
the body into a new blob (MD5 and the checksum computed on the way), check
everything that can only be checked once the body is in (Content-MD5, the
checksum, conditional-write headers, that the bucket still exists), then commit
the metadata row in one transaction, then answer. Any failure before the
commit deletes the new blob, so a failed request never harms what is stored.

Reads find the version, refuse archived bytes that have no restored copy
(``restore.py``; an Intelligent-Tiering object in an archive tier, ``tiering.py``,
whose reads are accesses), apply the preconditions and range (``conditions.py``) and
hand the codec an open ``BlobReader`` as the body: bytes go from the file to
the socket a chunk at a time.

CopyObject lives in ``copy.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import encoded_word
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import checksums, encryption, errors
from cloudlet.services.s3.common import (
    Result,
    S3Handlers,
    check_key,
    check_version_id,
    issued_version_id,
    now,
)
from cloudlet.services.s3.conditions import ByteRange, check_read, parse_range, unquote_etag
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.restore import check_readable, restore_header
from cloudlet.services.s3.store import NULL_VERSION, Bucket, ObjectVersion
from cloudlet.services.s3.tiering import CLASS as INTELLIGENT_TIERING
from cloudlet.services.s3.tiering import access_tier

STORAGE_CLASSES = frozenset(
    (
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    )
)
EXPRESS_ONEZONE = "EXPRESS_ONEZONE"
OUTPOSTS_ONLY = frozenset(("OUTPOSTS",))
"""Storage classes of S3 on Outposts' own endpoints, refused for a new object here
(LocalStack's AWS-recorded ``test_put_object_storage_class_outposts``: PutObject and
CreateMultipartUpload). Other requests (copies, POST forms, replication rules) keep
taking them: no recording says what S3 answers there."""
MAX_METADATA_BYTES = 2048
MAX_DELETE_KEYS = 1000
_OBJECT_ATTRIBUTES = frozenset(("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"))

# Request members that become stored content headers, by ObjectVersion field.
CONTENT_FIELDS = (
    ("ContentType", "content_type"),
    ("ContentEncoding", "content_encoding"),
    ("ContentDisposition", "content_disposition"),
    ("ContentLanguage", "content_language"),
    ("CacheControl", "cache_control"),
    ("Expires", "expires"),
)
# GetObject's response-* overrides, by the output member they replace.
_OVERRIDES = (
    ("ResponseContentType", "ContentType"),
    ("ResponseContentEncoding", "ContentEncoding"),
    ("ResponseContentDisposition", "ContentDisposition"),
    ("ResponseContentLanguage", "ContentLanguage"),
    ("ResponseCacheControl", "CacheControl"),
    ("ResponseExpires", "Expires"),
)


def storage_class(
    value: str | None, refused: frozenset[str] = frozenset(), *, directory: bool = False
) -> str:
    """A request's ``x-amz-storage-class`` (STANDARD when absent), or
    ``InvalidStorageClass`` for one S3 does not know or ``refused`` names.
    EXPRESS_ONEZONE is a ``directory`` bucket's one class, and only theirs."""
    if directory:
        if value is None or value == EXPRESS_ONEZONE:
            return EXPRESS_ONEZONE
        raise errors.invalid_storage_class(value)
    if value is None:
        return "STANDARD"
    if value not in STORAGE_CLASSES or value in refused or value == EXPRESS_ONEZONE:
        raise errors.invalid_storage_class(value)
    return value


def user_metadata(params: dict[str, Any], *, headers: bool = True) -> dict[str, str]:
    """``x-amz-meta-*`` as stored: lower-case names, at most 2 KB in all (S3's limit).

    A header's bytes arrive as latin-1 text: raw UTF-8 there (a browser's or a raw
    client's) is stored as the characters it spells (``headers``; a POST form's
    fields are text already)."""
    meta = {
        k.lower(): _utf8_header(v) if headers and not v.isascii() else v
        for k, v in (params.get("Metadata") or {}).items()
    }
    size = sum(len(k.encode()) + len(v.encode("utf-8", "surrogateescape")) for k, v in meta.items())
    if size > MAX_METADATA_BYTES:
        raise errors.s3_error(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            400,
            Size=size,
            MaxSizeAllowed=MAX_METADATA_BYTES,
        )
    return meta


def _utf8_header(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def header_metadata(meta: dict[str, str]) -> dict[str, str]:
    """User metadata as S3 returns it in headers: a value that is not ASCII goes as an
    RFC 2047 encoded word (``=?UTF-8?B?...?=``), "to make them mail-safe"."""
    if all(v.isascii() for v in meta.values()):
        return meta
    return {k: v if v.isascii() else encoded_word(v) for k, v in meta.items()}


def content_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The stored content headers a request sets (ObjectVersion field -> value)."""
    out: dict[str, Any] = {field: params.get(member) for member, field in CONTENT_FIELDS}
    out["website_redirect"] = params.get("WebsiteRedirectLocation")
    return out


def checksum_result(version: ObjectVersion) -> Result:
    """Output members for a version's stored checksum (``ChecksumCRC32``, ``ChecksumType``)."""
    out: Result = {}
    for algorithm, value in version.checksums.items():
        out.update(checksums.result_fields(algorithm, value, version.checksum_type))
    return out


def attributes_checksum(version: ObjectVersion) -> Result:
    """GetObjectAttributes' ``Checksum``: a composite checksum without the ``-N`` part
    count that GetObject and HeadObject show (LocalStack's AWS-recorded
    ``get-object-attrs`` of ``test_complete_multipart_parts_checksum``)."""
    out = checksum_result(version)
    if version.checksum_type == checksums.COMPOSITE:
        for member, value in out.items():
            if member != "ChecksumType":
                out[member] = value.partition("-")[0]
    return out


_DIRECTORY_BUCKET_CONDITIONS = (
    ("IfMatchSize", "x-amz-if-match-size"),
    ("IfMatchLastModifiedTime", "x-amz-if-match-last-modified-time"),
)


def _check_delete_conditions(params: dict[str, Any]) -> None:
    """The DeleteObject conditions S3 does not take on a general-purpose bucket: 501, and
    nothing deleted (a guarded delete must never go through unguarded).

    ``x-amz-if-match-size`` and ``-last-modified-time`` are for directory buckets only
    (the API reference; a real-S3 measurement in ministack#1501: refused outright; a
    directory bucket's are checked in ``directory_objects.py`` and never reach here);
    ``If-Match`` with a ``versionId`` is refused even when it holds (a us-east-1 probe
    in localstack#13894)."""
    for member, header in _DIRECTORY_BUCKET_CONDITIONS:
        if params.get(member) is not None:
            raise errors.header_not_implemented(header)
    if params.get("IfMatch") is not None and params.get("VersionId") is not None:
        raise errors.header_not_implemented("If-Match")


class ObjectHandlers(S3Handlers):
    """PutObject, GetObject, HeadObject, DeleteObject(s), GetObjectAttributes."""

    # -- PutObject --------------------------------------------------------------------

    async def put_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key = params["Key"]
        check_key(key)
        headers = ctx.request.headers if ctx.request is not None else {}  # None: ServiceEnv.call
        length = params.get("ContentLength")
        if length is not None and length > errors.MAX_SINGLE_PUT:
            raise errors.entity_too_large(length, errors.MAX_SINGLE_PUT)
        expected_md5 = checksums.content_md5(headers)
        claim = checksums.request_checksum(headers)
        algorithm = claim.algorithm if claim is not None else checksums.DEFAULT_ALGORITHM
        hasher = checksums.new_hasher(algorithm)
        fields = content_fields(params)
        meta = user_metadata(params)
        klass = storage_class(
            params.get("StorageClass"), OUTPOSTS_ONLY, directory=is_directory(bucket)
        )
        extra = self._write_extra(bucket, params, writer=ctx.account_id)
        if (
            expected_md5 is None
            and claim is None
            and ("retention" in extra or "legal_hold" in extra)
        ):
            raise errors.invalid_request(  # a lock's or the bucket's default retention
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
                "with Object Lock parameters"
            )
        principal = getattr(ctx, "principal", None)
        sse = self._new_encryption(  # type: ignore[attr-defined]
            principal, bucket, key, params, "s3:PutObject", extra
        )

        body = params.get("Body")
        blob = await self.blobs.write(
            body if body is not None else b"",
            hashers=(hasher,),
            max_size=errors.MAX_SINGLE_PUT,
            expected_size=length,
        )
        try:
            checksums.verify_content_md5(expected_md5, blob.md5)
            value = claim.verify(hasher, headers) if claim is not None else hasher.b64()
            # The body is in: from here to the commit nothing awaits, so the
            # checks below see exactly the state the commit changes.
            bucket = self._bucket(bucket.name)
            self._check_write_conditions(bucket, key, params)
            version = ObjectVersion(
                bucket=bucket.name,
                key=key,
                version_id=self._version_for_write(bucket),
                last_modified=now(),
                owner=ctx.account_id,
                size=blob.size,
                etag=encryption.object_etag(sse, blob.etag),
                blob_id=blob.id,
                storage_class=klass,
                metadata=meta,
                checksums={algorithm: value},
                checksum_type=checksums.FULL_OBJECT,
                extra=extra,
                **fields,
            )
            stored, dropped = self.store.put_version(version)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        self._drop_blobs(dropped)
        out: Result = {
            "ETag": stored.etag,
            "VersionId": self._version_header(bucket, stored.version_id),
            "Expiration": self._expiration(bucket, stored),
            **encryption.result(sse, context=True),
        }
        if claim is not None:
            out.update(checksum_result(stored))
        return out

    def _write_extra(
        self,
        bucket: Bucket,
        params: dict[str, Any],
        *,
        defaults: bool = True,
        source: ObjectVersion | None = None,
        writer: str | None = None,
    ) -> dict[str, Any]:
        """What a new object carries besides its bytes and headers (``ObjectVersion.extra``).

        Mixins add theirs (tags from ``x-amz-tagging``, object-lock retention and
        legal hold) by overriding this and extending ``super()``'s answer. It runs
        before the body is read, so a bad header is refused before any upload, and
        its answer is written in the same transaction as the object: no reader
        ever sees the object without its tags or its lock.

        ``defaults``: start from what the bucket gives a new object whose request
        says nothing (``_default_extra``). CreateMultipartUpload passes False and
        keeps only what its request said; CompleteMultipartUpload adds the
        bucket's defaults as they are when the object is created.
        ``source``: the version a CopyObject copies (``copy.py``); a mixin takes
        from it what S3 copies (the tags, unless the request replaces them).
        """
        return self._default_extra(bucket) if defaults else {}

    def _default_extra(self, bucket: Bucket) -> dict[str, Any]:
        """What every new object of ``bucket`` gets unless its request says otherwise,
        evaluated now (Object Lock's default retention); mixins extend ``super()``'s."""
        return {}

    # -- GetObject / HeadObject -------------------------------------------------------

    def get_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        principal = getattr(ctx, "principal", None)  # none in a service-to-service call
        if principal is not None and principal.kind == "anonymous":
            # An unsigned caller (either mode): the response-* overrides need a signature.
            if any(params.get(member) is not None for member, _ in _OVERRIDES):
                raise errors.invalid_request(
                    "Request specific response headers cannot be used for anonymous GET requests."
                )
        bucket, version, byte_range, out = self._read(params, "GET")
        if version.storage_class == INTELLIGENT_TIERING:  # a read is an access (tiering.py)
            self._note_access(version)  # type: ignore[attr-defined]
        start, end = (0, version.size) if byte_range is None else (byte_range.start, byte_range.end)
        blob_id = version.blob_id or ""
        body = self.blobs.inline(blob_id, start, end)
        out["Body"] = body if body is not None else self.blobs.reader(blob_id, start, end)
        return out

    def head_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._read(params, "HEAD")[3]

    def _read(
        self, params: dict[str, Any], method: str
    ) -> tuple[Bucket, ObjectVersion, ByteRange | None, Result]:
        bucket = self._bucket(params["Bucket"])
        version = self._find(bucket, params["Key"], params.get("VersionId"), method)
        encryption.check_read(version.extra.get("sse"), params)  # an SSE-C object's key
        if method == "GET":
            check_readable(version)  # archived bytes need a restore; HEAD still answers
        check_read(
            version.etag,
            version.last_modified,
            if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"),
            if_modified_since=params.get("IfModifiedSince"),
            if_unmodified_since=params.get("IfUnmodifiedSince"),
        )
        out = self._object_headers(bucket, version, named=params.get("VersionId") is not None)
        part_number = params.get("PartNumber")
        if part_number is not None:
            if params.get("Range") is not None:
                raise errors.invalid_request(
                    "Cannot specify both Range header and partNumber query parameter"
                )
            byte_range = self._part_range(version, part_number)
            if version.parts and version.parts.get("count"):
                # Only a partNumber read of a multipart object says how many parts it has.
                out["PartsCount"] = version.parts["count"]
        else:
            byte_range = parse_range(params.get("Range"), version.size)
        checksum_mode = params.get("ChecksumMode") == "ENABLED"
        # partNumber=1 of a single-part object is a range over all of it (206), as
        # S3 answers; an empty object has no range to give.
        if byte_range is not None and (part_number is None or version.parts or version.size):
            out["ContentLength"] = byte_range.length
            out["ContentRange"] = byte_range.content_range
            out[HTTP_STATUS] = 206
            if checksum_mode and part_number is not None:
                if version.parts:
                    from cloudlet.services.s3.multipart import part_checksum  # (imports us)

                    out.update(part_checksum(version, part_number))
                else:
                    out.update(checksum_result(version))  # the part is the whole object
            elif checksum_mode and byte_range.length == version.size:
                # A range that covers the whole object carries its checksum (LocalStack's
                # AWS-recorded ``get--15`` and ``get-0-100``); any other range does not.
                out.update(checksum_result(version))
        elif checksum_mode:
            out.update(checksum_result(version))
        for request_member, output_member in _OVERRIDES:
            if params.get(request_member) is not None:
                out[output_member] = params[request_member]
        return bucket, version, byte_range, out

    def _part_range(self, version: ObjectVersion, part_number: int) -> ByteRange:
        """The bytes of one part (``partNumber``): the whole of a single-part object.

        For multipart objects ``version.parts["sizes"]`` lists the part sizes.
        """
        sizes = (version.parts or {}).get("sizes") or [version.size]
        if not 1 <= part_number <= max(1, len(sizes)):
            raise errors.s3_error(
                "InvalidPartNumber",
                "The requested partnumber is not satisfiable",
                416,
                PartNumberRequested=part_number,
                ActualPartCount=len(sizes),
            )
        start = sum(sizes[: part_number - 1])
        end = start + sizes[part_number - 1]
        if version.size == 0:
            return ByteRange(0, 0, 0)
        return ByteRange(start, end, version.size)

    def _object_headers(
        self, bucket: Bucket, version: ObjectVersion, *, named: bool = False
    ) -> Result:
        """A version's GET/HEAD headers. ``x-amz-expiration`` only for the current version
        read without a ``versionId``: S3 leaves it out when the request names a version,
        even the current one (AWS-recorded ``head-object-expiry-current-with-version-id``
        of LocalStack's ``test_bucket_lifecycle_configuration_object_expiry_versioned``)."""
        expiring = version.is_latest and not named
        out: Result = {
            "AcceptRanges": "bytes",
            "LastModified": version.last_modified,
            "ContentLength": version.size,
            "ETag": version.etag,
            "VersionId": self._version_header(bucket, version.version_id),
            "ContentType": version.content_type or "binary/octet-stream",
            "ContentEncoding": version.content_encoding,
            "ContentDisposition": version.content_disposition,
            "ContentLanguage": version.content_language,
            "CacheControl": version.cache_control,
            "Expires": version.expires,
            "WebsiteRedirectLocation": version.website_redirect,
            "Expiration": self._expiration(bucket, version) if expiring else None,
            "Metadata": header_metadata(version.metadata),
            **encryption.result(version.extra.get("sse")),
        }
        if version.storage_class != "STANDARD":
            out["StorageClass"] = version.storage_class
            tier = access_tier(version)
            if tier is not None:  # x-amz-archive-status (only HEAD gets this far)
                out["ArchiveStatus"] = tier
        tags = version.extra.get("tags")
        if tags:
            out["TagCount"] = len(tags)  # x-amz-tagging-count: only when there are tags
        restore = restore_header(version)
        if restore is not None:
            out["Restore"] = restore
        replication = version.extra.get("replication")  # replication.py's status
        if replication is not None:
            out["ReplicationStatus"] = replication
        return out

    # -- DeleteObject / DeleteObjects -------------------------------------------------

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        _check_delete_conditions(params)
        bucket = self._bucket(params["Bucket"])
        key = params["Key"]
        if params.get("IfMatch") is not None:
            self._check_write_conditions(bucket, key, {"IfMatch": params["IfMatch"]}, delete=True)
        deleted, dropped = self._delete(bucket, key, params.get("VersionId"), ctx.account_id)
        self._drop_blobs(dropped)
        out: Result = {}
        if deleted.get("DeleteMarker"):
            out["DeleteMarker"] = True
        version_id = deleted.get("DeleteMarkerVersionId") or deleted.get("VersionId")
        if version_id is not None:
            out["VersionId"] = version_id
        return out

    def _delete(
        self,
        bucket: Bucket,
        key: str,
        version_id: str | None,
        account: str,
        *,
        batch: bool = False,
    ) -> tuple[Result, list[str]]:
        """One delete by S3's versioning rules: the ``Deleted`` entry and blobs to drop.

        Deleting a version that is not there succeeds, unless its id is none this server
        could have issued: ``InvalidArgument`` alone, ``NoSuchVersion`` in a DeleteObjects
        (``batch``), as S3 lists it (AWS-recorded ``delete-object-wrong-version-id``)."""
        if version_id is not None:
            check_version_id(version_id)
            gone, dropped = self.store.delete_version(bucket.name, key, version_id)
            if gone is None and not issued_version_id(version_id):
                if batch:
                    raise errors.no_such_version(key, version_id)
                raise errors.invalid_version_id(version_id)
            entry: Result = {"Key": key, "VersionId": version_id}
            if gone is not None and gone.delete_marker:
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = version_id
            return entry, dropped
        if bucket.versioning is None:
            _gone, dropped = self.store.delete_version(bucket.name, key, NULL_VERSION)
            return {"Key": key}, dropped
        marker = ObjectVersion(
            bucket=bucket.name,
            key=key,
            version_id=self._version_for_write(bucket),
            last_modified=now(),
            owner=account,
            delete_marker=True,
        )
        stored, dropped = self.store.put_version(marker)
        return {
            "Key": key,
            "DeleteMarker": True,
            "DeleteMarkerVersionId": stored.version_id,
        }, dropped

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._check_body_integrity(ctx.request)
        request = params.get("Delete") or {}
        entries = request.get("Objects") or []
        if not entries or len(entries) > MAX_DELETE_KEYS:
            raise errors.malformed_xml()
        quiet = bool(request.get("Quiet"))
        allows = getattr(ctx, "allows", None)  # strict mode: each key is authorized
        deleted: list[Result] = []
        failed: list[Result] = []
        dropped: list[str] = []
        with self.store.transaction():
            for entry in entries:
                key = entry.get("Key", "")
                version_id = entry.get("VersionId")
                try:
                    check_key(key)
                    if allows is not None and not allows(
                        "s3:DeleteObjectVersion" if version_id is not None else "s3:DeleteObject",
                        f"arn:aws:s3:::{params['Bucket']}/{key}",
                    ):
                        raise ServiceError("AccessDenied", "Access Denied", 403)
                    self._check_delete_entry(bucket, key, entry)
                    done, blobs = self._delete(bucket, key, version_id, ctx.account_id, batch=True)
                except ServiceError as err:
                    failure: Result = {"Key": key, "Code": err.code, "Message": err.message}
                    if version_id is not None:
                        failure["VersionId"] = version_id
                    failed.append(failure)
                    continue
                dropped.extend(blobs)
                if not quiet:
                    deleted.append(done)
        self._drop_blobs(dropped)
        out: Result = {}
        if deleted:
            out["Deleted"] = deleted
        if failed:
            out["Errors"] = failed
        return out

    def _check_delete_entry(self, bucket: Bucket, key: str, entry: dict[str, Any]) -> None:
        """A DeleteObjects entry's ``ETag`` is a delete's If-Match; its ``Size`` and
        ``LastModifiedTime`` are refused as DeleteObject's headers (``directory_objects.py``)."""
        for member, header in _DIRECTORY_BUCKET_CONDITIONS:
            if entry.get(member.removeprefix("IfMatch")) is not None:
                raise errors.header_not_implemented(header)
        if entry.get("ETag") is not None:
            self._check_write_conditions(bucket, key, {"IfMatch": entry["ETag"]}, delete=True)

    @staticmethod
    def _check_body_integrity(request: Any) -> None:
        """DeleteObjects requires Content-MD5 or a checksum of its body, and checks it."""
        headers = request.headers
        expected_md5 = checksums.content_md5(headers)
        claim = checksums.request_checksum(headers)
        if expected_md5 is None and claim is None:
            raise errors.missing_content_md5()
        checksums.verify_content_md5(
            expected_md5, hashlib.md5(request.body, usedforsecurity=False).digest()
        )
        if claim is not None:
            hasher = claim.hasher()
            hasher.update(request.body)
            claim.verify(hasher, headers)

    # -- GetObjectAttributes ----------------------------------------------------------

    def get_object_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        version = self._find(bucket, params["Key"], params.get("VersionId"), "GET")
        encryption.check_read(version.extra.get("sse"), params)
        wanted = set(params.get("ObjectAttributes") or [])
        unknown = wanted - _OBJECT_ATTRIBUTES
        if not wanted or unknown:
            raise errors.invalid_argument(
                "Invalid attribute name specified.",
                "x-amz-object-attributes",
                ",".join(sorted(unknown)) or "",
            )
        out: Result = {
            "LastModified": version.last_modified,
            "VersionId": self._version_header(bucket, version.version_id),
        }
        if "ETag" in wanted and version.etag:
            out["ETag"] = unquote_etag(version.etag)
        if "ObjectSize" in wanted:
            out["ObjectSize"] = version.size
        if "StorageClass" in wanted:
            out["StorageClass"] = version.storage_class
        if "Checksum" in wanted and version.checksums:
            out["Checksum"] = attributes_checksum(version)
        if "ObjectParts" in wanted and version.parts:
            parts = self._object_parts(version, params)
            if parts:
                out["ObjectParts"] = parts
        return out

    def _object_parts(self, version: ObjectVersion, params: dict[str, Any]) -> Result:
        """``ObjectParts`` for a multipart object (the multipart mixin refines it)."""
        count = (version.parts or {}).get("count")
        return {"TotalPartsCount": count} if count else {}
