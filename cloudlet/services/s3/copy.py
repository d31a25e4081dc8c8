"""CopyObject: a new version whose bytes are an existing version's.

Blobs never change once written, so a copy is a hard link to the source's
blob under a new id (no bytes move, however large the object). The copy is a
single-part object whose ETag is the data's MD5 (API_Object: objects made by
"the PUT Object, POST Object, or Copy operation" have MD5 ETags): a multipart
source is read once to compute it, as is one whose checksum is composite (the
copy's is the whole object's) or lacks the algorithm the copy asks for.

S3's rules kept here: ``x-amz-copy-source`` is ``bucket/key[?versionId=]``,
URL-encoded (as UTF-8, with no stray ``%``), with or without a leading slash; the source may not be a delete
marker; ``x-amz-metadata-directive`` COPY (default) takes metadata and content
headers from the source, REPLACE from the request; storage class defaults to
STANDARD and the website redirect is never copied; ``x-amz-tagging-directive``
COPY (default) takes the source's tags, REPLACE ``x-amz-tagging``; the source's
retention and legal hold are not copied: the copy gets the request's
``x-amz-object-lock-*`` headers or the destination bucket's default retention
(both through ``_write_extra``, in the same transaction as the new version);
copying an object onto itself without changing anything is ``InvalidRequest``
(asking for a checksum algorithm it lacks is a change); the result carries the
copy's checksum whether or not one was asked for; an archived source (GLACIER, DEEP_ARCHIVE) must have a restored copy
(``restore.py``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from cloudlet.services.s3 import checksums, encryption, errors
from cloudlet.services.s3.buckets import valid_bucket_name
from cloudlet.services.s3.common import Result, S3Handlers, check_key, now
from cloudlet.services.s3.conditions import check_copy_source
from cloudlet.services.s3.directory import directory_name, is_directory
from cloudlet.services.s3.objects import (
    content_fields,
    storage_class,
    user_metadata,
)
from cloudlet.services.s3.restore import check_copy_source as check_copy_source_readable
from cloudlet.services.s3.store import ObjectVersion

_DIRECTIVES = ("COPY", "REPLACE")
_BAD_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})")


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """``x-amz-copy-source`` -> (bucket, key, version id or None).

    S3's order: a ``%`` that starts no escape, or escapes that decode to no UTF-8,
    is "Invalid copy source encoding."; then the bucket must be a valid name and a
    key must follow it (``InvalidArgument`` each)."""
    path, _, query = value.partition("?")
    version_id = None
    for pair in query.split("&"):
        name, _, v = pair.partition("=")
        if name == "versionId":
            version_id = unquote(v)
    decoded = _decoded(path)
    if decoded is None:
        raise errors.invalid_argument("Invalid copy source encoding.", "x-amz-copy-source", value)
    bucket, _, key = decoded.lstrip("/").partition("/")
    if not valid_bucket_name(bucket) and directory_name(bucket) is None:
        raise errors.invalid_argument("Invalid copy source bucket name", "x-amz-copy-source", value)
    if not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    return bucket, key, version_id


def _decoded(path: str) -> str | None:
    """``path`` percent-decoded as UTF-8, or None where S3 finds the encoding invalid."""
    if "%" not in path and path.isascii():
        return path
    if _BAD_ESCAPE.search(path):
        return None
    try:  # a header's bytes, as the server read them (latin-1)
        return unquote_to_bytes(path.encode("latin-1")).decode("utf-8")
    except UnicodeError:
        return None


def _refuse_unchanged_self_copy(
    src: ObjectVersion, params: dict[str, Any], directive: str, algorithm: str | None
) -> None:
    """A copy of the current version onto itself must change something: its metadata
    (REPLACE), storage class, website redirect, encryption, or its checksum algorithm
    (one the source lacks: the copy is then the object with that checksum). A copy
    source that names a version, even the current one, may be copied over its key as it
    is (moto's AWS-verified ``test_copy_object_in_place_with_versioning``)."""
    if (
        directive == "COPY"
        and params.get("StorageClass") is None
        and params.get("WebsiteRedirectLocation") is None
        and params.get("ServerSideEncryption") is None
        and not encryption.customer_given(params)
        and (algorithm is None or algorithm in src.checksums)
    ):
        raise errors.invalid_request(
            "This copy request is illegal because it is trying to copy an object to "
            "itself without changing the object's metadata, storage class, website "
            "redirect location or encryption attributes."
        )


def _result_checksum(version: ObjectVersion) -> Result:
    """CopyObjectResult's checksum: the copy's, whether or not the request asked for an
    algorithm (the source's, kept), and without ``ChecksumType`` (LocalStack's
    AWS-recorded ``copy-success`` and ``copy-object-to-dest-keep-checksum``)."""
    return {
        checksums.member_name(algorithm): value for algorithm, value in version.checksums.items()
    }


class CopyHandlers(S3Handlers):
    """CopyObject."""

    async def copy_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key = params["Key"]
        check_key(key)
        src_bucket_name, src_key, src_version_id = parse_copy_source(params["CopySource"])
        src_bucket = self._bucket(src_bucket_name)
        src = self._copy_source(src_bucket, src_key, src_version_id)
        encryption.check_read(src.extra.get("sse"), params, "CopySourceSSECustomer")
        check_copy_source(
            src.etag,
            src.last_modified,
            if_match=params.get("CopySourceIfMatch"),
            if_none_match=params.get("CopySourceIfNoneMatch"),
            if_modified_since=params.get("CopySourceIfModifiedSince"),
            if_unmodified_since=params.get("CopySourceIfUnmodifiedSince"),
        )
        if src.size > errors.MAX_SINGLE_PUT:
            raise errors.invalid_request(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {errors.MAX_SINGLE_PUT}"
            )
        directive = params.get("MetadataDirective") or "COPY"
        if directive not in _DIRECTIVES:
            raise errors.invalid_argument(
                "Unknown metadata directive.", "x-amz-metadata-directive", directive
            )
        klass = storage_class(params.get("StorageClass"), directory=is_directory(bucket))
        algorithm = checksums.parse_algorithm(params.get("ChecksumAlgorithm"))
        if src_bucket.name == bucket.name and src.key == key and src_version_id is None:
            _refuse_unchanged_self_copy(src, params, directive, algorithm)
        if directive == "REPLACE":
            meta = user_metadata(params)
            fields = content_fields(params)
        else:
            meta = dict(src.metadata)
            fields = {
                "content_type": src.content_type,
                "content_encoding": src.content_encoding,
                "content_disposition": src.content_disposition,
                "content_language": src.content_language,
                "cache_control": src.cache_control,
                "expires": src.expires,
                "website_redirect": params.get("WebsiteRedirectLocation"),
            }

        # Tags by x-amz-tagging-directive; retention and legal hold from the request
        # or the bucket's default, never from the source (checked before any work).
        extra = self._write_extra(  # type: ignore[attr-defined]
            bucket, params, source=src, writer=ctx.account_id
        )
        # Encryption is the request's or the target bucket's default, never the source's.
        principal = getattr(ctx, "principal", None)
        sse = self._new_encryption(  # type: ignore[attr-defined]
            principal, bucket, key, params, "s3:CopyObject", extra
        )
        blob_id, etag, sums, kind = await self._copied_bytes(src, algorithm, sse)
        try:
            bucket = self._bucket(bucket.name)
            self._check_write_conditions(bucket, key, params)
            version = ObjectVersion(
                bucket=bucket.name,
                key=key,
                version_id=self._version_for_write(bucket),
                last_modified=now(),
                owner=ctx.account_id,
                size=src.size,
                etag=etag,
                blob_id=blob_id,
                storage_class=klass,
                metadata=meta,
                checksums=sums,
                checksum_type=kind,
                extra=extra,
                **fields,
            )
            stored, dropped = self.store.put_version(version)
        except BaseException:
            self.blobs.delete(blob_id)
            raise
        self._drop_blobs(dropped)
        result: Result = {
            "ETag": stored.etag,
            "LastModified": stored.last_modified,
            **_result_checksum(stored),
        }
        return {
            "CopyObjectResult": result,
            "VersionId": self._version_header(bucket, stored.version_id),
            "CopySourceVersionId": self._version_header(src_bucket, src.version_id),
            "Expiration": self._expiration(bucket, stored),
            **encryption.result(sse, context=True),
        }

    async def _copied_bytes(
        self, src: ObjectVersion, algorithm: str | None, sse: Any
    ) -> tuple[str, str | None, dict[str, str], str | None]:
        """The copy's blob id, ETag, checksums and checksum type.

        The copy is a single-part object, as S3 makes it: its ETag is the data's MD5
        (salted for KMS and customer keys, as a PUT's), a multipart source's included,
        and a composite checksum (of the source's parts) becomes the whole object's in
        the same algorithm. The bytes are read only for that, or for an algorithm the
        source lacks; otherwise the new id is a link to the same bytes.
        """
        recompute = algorithm if algorithm not in src.checksums else None
        if src.checksum_type == checksums.COMPOSITE and recompute is None:
            recompute = algorithm or next(iter(src.checksums), None)
        if not src.parts and recompute is None:
            blob_id = await self.blobs.link(src.blob_id or "")
            plain = encryption.content_etag(src.extra.get("sse"), src.etag or "")
            return (
                blob_id,
                encryption.object_etag(sse, plain),
                dict(src.checksums),
                src.checksum_type,
            )
        hashers = (checksums.new_hasher(recompute),) if recompute else ()
        blob = await self.blobs.concat([(src.blob_id or "", 0, None)], hashers=hashers)
        if recompute:
            sums, kind = {recompute: hashers[0].b64()}, checksums.FULL_OBJECT
        else:
            sums, kind = dict(src.checksums), src.checksum_type
        return blob.id, encryption.object_etag(sse, blob.etag), sums, kind

    def _copy_source(self, bucket: Any, key: str, version_id: str | None) -> ObjectVersion:
        """The source version of a copy (CopyObject, UploadPartCopy), readable as a source."""
        try:
            found = self._find(bucket, key, version_id, "GET")
        except Exception as err:
            if getattr(err, "code", None) == "MethodNotAllowed":
                raise errors.invalid_request(
                    "The source of a copy request may not specifically refer to a delete "
                    "marker by version id."
                ) from None
            if getattr(err, "code", None) == "NoSuchKey":
                # The delete-marker headers describe the source, not this request.
                raise errors.no_such_key(key) from None
            raise
        check_copy_source_readable(found)  # archived sources need a restored copy
        if found.storage_class == "INTELLIGENT_TIERING":  # copying is an access (tiering.py)
            self._note_access(found)  # type: ignore[attr-defined]
        return found
