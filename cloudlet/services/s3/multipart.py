"""Multipart uploads: Create, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads.

Why it looks like this:

- **Parts are blobs.** Each part streams into its own blob (MD5 for its ETag
  and its checksums computed on the way, as for PutObject), and one row in
  ``mpu_parts`` names it. Re-uploading a part number replaces the row and
  drops the old blob after the commit. Uploads and parts live in their own
  tables of the S3 database (``mpu_uploads``, ``mpu_parts``), created here;
  the store's start-up sweep keeps every blob a part row names.
- **Completing copies nothing.** The object's blob is *composed* of the part
  files (hard links in one directory, see ``composed.py``): completing a
  5 GiB upload costs one link per part, not a 5 GiB rewrite. The new object
  row and the removal of the upload are one transaction, committed after the
  composed blob is durable; only then are the part blobs' own names dropped.
- **Checksums** follow S3 (rules and arithmetic in ``checksums.py``): an upload
  created with ``ChecksumAlgorithm`` checks every part against it and gives
  the object a COMPOSITE ("checksum of checksums" plus ``-N``) or FULL_OBJECT
  (CRC combined from the part CRCs, no re-read) checksum. An upload without
  one still gets S3's default, a full-object CRC64NVME, and parts may carry
  any checksum the client chose (current boto3 sends CRC32 by default).
- **Tags and Object Lock** (``x-amz-tagging``, ``x-amz-object-lock-*``) are
  checked at CreateMultipartUpload by the same ``_write_extra`` hook as
  PutObject's (same errors), kept in the upload's ``settings["extra"]``, and
  written with the object row at Complete, over the bucket's default retention
  as it is then (``_default_extra``): the object is never seen without them.
- **What a completed object remembers** is ``ObjectVersion.parts``:
  ``{"count", "sizes", "algorithm", "checksums"}``. GetObject/HeadObject with
  ``partNumber`` read ``count`` and ``sizes``; GetObjectAttributes' ObjectParts
  comes from ``_object_parts`` below; ``part_checksum`` gives one part's
  checksum for a ``partNumber`` read.

- **Conditional Completes** (``If-Match``/``If-None-Match: *``) are checked against
  the key as it is at Complete, and then against the key as it stood at Create:
  CreateMultipartUpload keeps a stamp of the key's current version
  (``settings["current"]``: its row id and blob id, or None for no version), and a
  conditional Complete whose condition holds but whose key was written or deleted
  since is 409 ``ConditionalRequestConflict`` (LocalStack's AWS-recorded
  ``TestS3ObjectWritePrecondition``). The stamp's limit: a delete marker rewritten in
  place by another (a suspended bucket's null marker) keeps its stamp, so that change
  goes unseen; tagging or ACL edits are not writes of the key and do not count.
  Uploads begun before stamps were kept skip the comparison.

- **A repeated Complete succeeds**, as S3's does (a client retrying after a lost
  answer): the version a Complete makes records its upload id
  (``extra["mpu"]``), and a Complete of an upload that is gone answers as the
  first did while that version is still the key's current one.

Anything awaited (a part streaming in, the composed blob being built) may
interleave with other requests, so each handler re-reads the upload after its
await and before its commit: an upload aborted or completed meanwhile answers
``NoSuchUpload`` and the work is discarded.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import token_hex
from cloudlet.services.s3 import checksums, encryption, errors
from cloudlet.services.s3.common import (
    Result,
    S3Handlers,
    check_key,
    now,
    object_url,
    owner_of,
)
from cloudlet.services.s3.conditions import check_copy_source, unquote_etag
from cloudlet.services.s3.copy import parse_copy_source
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.listing import encode
from cloudlet.services.s3.objects import (
    OUTPOSTS_ONLY,
    checksum_result,
    content_fields,
    storage_class,
    user_metadata,
)
from cloudlet.services.s3.request_checks import check_part_number
from cloudlet.services.s3.store import ObjectVersion
from cloudlet.services.s3.uploads import MAX_PARTS, Part, Upload, UploadStore

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_LISTED = 1000


def multipart_etag(md5_hexes: list[str]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, then ``-N``."""
    digest = hashlib.md5(b"".join(bytes.fromhex(h) for h in md5_hexes), usedforsecurity=False)
    return f'"{digest.hexdigest()}-{len(md5_hexes)}"'


def part_checksum(version: ObjectVersion, part_number: int) -> Result:
    """Output members for one part of a multipart object (``ChecksumCRC32``...), or {}.
    A FULL_OBJECT checksum of several parts names no part's: S3 returns none for a part
    then (LocalStack's AWS-validated tests in localstack#12842; of one part, the part's
    checksum is the object's)."""
    parts = version.parts or {}
    algorithm, values = parts.get("algorithm"), parts.get("checksums") or []
    if not algorithm or not 1 <= part_number <= len(values):
        return {}
    if version.checksum_type == "FULL_OBJECT" and len(values) > 1:
        return {}
    return checksums.result_fields(algorithm, values[part_number - 1], None)


# -- errors, as S3 words them ----------------------------------------------------------


def invalid_part(upload_id: str, number: int, etag: str | None) -> Exception:
    """A part Complete names that is not there (or not with that ETag): the ETag is named
    without its quotes, however it was sent (LocalStack's AWS-recorded
    ``test_multipart_complete_multipart_wrong_part``)."""
    return errors.s3_error(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
        UploadId=upload_id,
        PartNumber=number,
        ETag=unquote_etag(etag) if etag is not None else None,
    )


class _AlreadyCompleted(Exception):
    """The upload was completed (by this request's twin or an earlier try): its version."""

    def __init__(self, version: ObjectVersion) -> None:
        super().__init__(version.key)
        self.version = version


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    """``x-amz-copy-source-range: bytes=first-last`` -> [start, end) of the source."""
    if header is None:
        return 0, size
    spec = header.strip()
    first, sep, last = spec[6:].partition("-") if spec.startswith("bytes=") else ("", "", "")
    if not sep or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        raise errors.invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where "
            "first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            header,
        )
    start, end = int(first), int(last) + 1
    if start >= size:
        # Past the end altogether (AWS-recorded ``upload-part-copy-range-exc-100-200``).
        raise errors.invalid_request(
            "The specified copy range is invalid for the source object size"
        )
    if end > size:
        raise errors.invalid_argument(
            f"Range specified is not valid for source object of size: {size}",
            "x-amz-copy-source-range",
            header,
        )
    return start, end


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    """What CreateMultipartUpload says about the object, kept until Complete."""
    return {"fields": content_fields(params), "metadata": user_metadata(params)}


def key_stamp(version: ObjectVersion | None) -> str | None:
    """Where a key stands: its current version's row and blob (each write makes a new
    blob; a null version rewritten in place keeps its row), or None for no version."""
    if version is None:
        return None
    return f"{version.row_id}:{version.blob_id or ''}"


def _upload_sse(upload: Upload) -> encryption.Sse | None:
    """The encryption CreateMultipartUpload chose (``encryption.py``); None: SSE-S3."""
    return (upload.settings.get("extra") or {}).get("sse")


def _object_fields(settings: dict[str, Any]) -> dict[str, Any]:
    fields = dict(settings.get("fields") or {})
    expires = fields.get("expires")
    if isinstance(expires, int | float):  # an upload begun when it was kept as epoch seconds
        fields["expires"] = format_datetime(datetime.fromtimestamp(expires, UTC), usegmt=True)
    return fields


class MultipartHandlers(S3Handlers):
    """The multipart upload operations (see the module docstring).

    ``S3Service.__init__`` calls ``_init_multipart()`` once the store exists
    (before the start-up sweep, which must know the part blobs).
    """

    uploads: UploadStore

    def _init_multipart(self) -> None:
        self.uploads = UploadStore(self.store)

    # -- CreateMultipartUpload --------------------------------------------------------

    def create_multipart_upload(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key = params["Key"]
        check_key(key)
        algorithm, kind = checksums.upload_checksum(
            params.get("ChecksumAlgorithm"), params.get("ChecksumType")
        )
        klass = storage_class(
            params.get("StorageClass"), OUTPOSTS_ONLY, directory=is_directory(bucket)
        )
        # x-amz-tagging and x-amz-object-lock-*: refused now as PutObject would
        # refuse them, kept with the upload, given to the object at Complete.
        settings = _settings(params)
        settings["current"] = key_stamp(self.store.latest(bucket.name, key))
        extra = self._write_extra(  # type: ignore[attr-defined]
            bucket, params, defaults=False, writer=ctx.account_id
        )
        # The encryption is decided now, by the request or the bucket's default as it is.
        principal = getattr(ctx, "principal", None)
        sse = self._new_encryption(  # type: ignore[attr-defined]
            principal, bucket, key, params, "s3:PutObject", extra
        )
        if extra:
            settings["extra"] = extra
        upload_id = token_hex(32)
        self.uploads.create(
            Upload(
                seq=0,
                upload_id=upload_id,
                bucket=bucket.name,
                key=key,
                initiated=now(),
                owner=ctx.account_id,
                storage_class=klass,
                algorithm=algorithm,
                checksum_type=kind,
                settings=settings,
            )
        )
        return {
            "Bucket": bucket.name,
            "Key": key,
            "UploadId": upload_id,
            "ChecksumAlgorithm": algorithm,
            "ChecksumType": kind,
            **encryption.result(sse, context=True),
        }

    # -- UploadPart / UploadPartCopy --------------------------------------------------

    def _part_hashers(
        self, upload: Upload, claim: checksums.RequestChecksum | None
    ) -> dict[str, checksums.Hasher]:
        """The checksums a part needs: the upload's (or S3's default) and the request's."""
        if claim is not None and upload.algorithm and claim.algorithm != upload.algorithm:
            raise errors.invalid_request(
                "Checksum Type mismatch occurred, expected checksum Type: "
                f"{upload.algorithm.lower()}, actual checksum Type: {claim.algorithm.lower()}"
            )
        wanted = {upload.algorithm or checksums.DEFAULT_ALGORITHM}
        if claim is not None:
            wanted.add(claim.algorithm)
        return {name: checksums.new_hasher(name) for name in sorted(wanted)}

    async def upload_part(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key, upload_id, number = params["Key"], params["UploadId"], params["PartNumber"]
        upload = self.uploads.find(bucket.name, key, upload_id)
        check_part_number(number)
        sse = _upload_sse(upload)
        encryption.check_part(sse, params)
        length = params.get("ContentLength")
        if length is not None and length > MAX_PART_SIZE:
            raise errors.entity_too_large(length, MAX_PART_SIZE)
        headers = ctx.request.headers if ctx.request is not None else {}  # None: ServiceEnv.call
        expected_md5 = checksums.content_md5(headers)
        claim = checksums.request_checksum(headers)
        hashers = self._part_hashers(upload, claim)
        body = params.get("Body")
        blob = await self.blobs.write(
            body if body is not None else b"",
            hashers=tuple(hashers.values()),
            max_size=MAX_PART_SIZE,
            expected_size=length,
            inline=False,
        )
        try:
            checksums.verify_content_md5(expected_md5, blob.md5)
            values = {name: h.b64() for name, h in hashers.items()}
            if claim is not None:
                claim.verify(hashers[claim.algorithm], headers)
            part = Part(number, blob.id, blob.size, blob.md5_hex, now(), values)
            self._save_part(bucket.name, key, upload_id, part)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        out: Result = {"ETag": part.etag, **encryption.result(sse)}
        shown = claim.algorithm if claim is not None else upload.algorithm
        if shown:
            out.update(checksums.result_fields(shown, values[shown], None))
        return out

    def _save_part(self, bucket: str, key: str, upload_id: str, part: Part) -> None:
        replaced = self.uploads.save_part(bucket, key, upload_id, part)
        if replaced is not None:
            self.blobs.delete(replaced)

    async def upload_part_copy(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key, upload_id, number = params["Key"], params["UploadId"], params["PartNumber"]
        upload = self.uploads.find(bucket.name, key, upload_id)
        check_part_number(number)
        sse = _upload_sse(upload)
        encryption.check_part(sse, params)
        src_bucket_name, src_key, src_version_id = parse_copy_source(params["CopySource"])
        src_bucket = self._bucket(src_bucket_name)
        src = self._copy_source(src_bucket, src_key, src_version_id)  # type: ignore[attr-defined]
        encryption.check_read(src.extra.get("sse"), params, "CopySourceSSECustomer")
        check_copy_source(
            src.etag,
            src.last_modified,
            if_match=params.get("CopySourceIfMatch"),
            if_none_match=params.get("CopySourceIfNoneMatch"),
            if_modified_since=params.get("CopySourceIfModifiedSince"),
            if_unmodified_since=params.get("CopySourceIfUnmodifiedSince"),
        )
        start, end = _copy_range(params.get("CopySourceRange"), src.size)
        if end - start > MAX_PART_SIZE:
            raise errors.invalid_request(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {MAX_PART_SIZE}"
            )
        hashers = self._part_hashers(upload, None)
        source = self.blobs.reader(src.blob_id or "", start, end)
        blob = await self.blobs.write(source, hashers=tuple(hashers.values()), inline=False)
        try:
            values = {name: h.b64() for name, h in hashers.items()}
            part = Part(number, blob.id, blob.size, blob.md5_hex, now(), values)
            self._save_part(bucket.name, key, upload_id, part)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        result: Result = {"ETag": part.etag, "LastModified": part.last_modified}
        if upload.algorithm:
            result.update(checksums.result_fields(upload.algorithm, values[upload.algorithm], None))
        return {
            "CopyPartResult": result,
            "CopySourceVersionId": self._version_header(src_bucket, src.version_id),
            **encryption.result(sse),
        }

    # -- CompleteMultipartUpload ------------------------------------------------------

    async def complete_multipart_upload(self, ctx: Any, params: dict[str, Any]) -> Result:
        try:
            return await self._complete(ctx, params)
        except _AlreadyCompleted as done:  # a retry, or a twin: the first's answer again
            return self._completed(ctx, self._bucket(params["Bucket"]), done.version)

    def _still_open(self, bucket: str, key: str, upload_id: str) -> Upload:
        """The upload, (re-)read; one that a Complete of it has made the key's current
        version raises ``_AlreadyCompleted``, also after an await (two Completes sent at
        once both succeed, as a repeated Complete does)."""
        try:
            return self.uploads.find(bucket, key, upload_id)
        except ServiceError:
            done = self._completed_by(bucket, key, upload_id)
            if done is None:
                raise
            raise _AlreadyCompleted(done) from None

    async def _complete(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        key, upload_id = params["Key"], params["UploadId"]
        upload = self._still_open(bucket.name, key, upload_id)
        request = params.get("MultipartUpload")
        if request is None:
            raise errors.malformed_xml()
        listed = request.get("Parts") or []
        if not listed:
            raise errors.invalid_request("You must specify at least one part")
        chosen = self._chosen_parts(upload, listed)
        size = sum(p.size for p in chosen)
        expected_size = params.get("MpuObjectSize")
        if expected_size is not None and expected_size != size:
            raise errors.invalid_request(
                f"The provided 'x-amz-mp-object-size' header value {expected_size} does not "
                f"match what was computed: {size}"
            )
        algorithm, value, kind = self._object_checksum(upload, chosen, params)
        self._check_complete_conditions(bucket, key, upload, params)

        try:
            composed_id, _ = await self.blobs.compose([p.blob_id for p in chosen])  # type: ignore[attr-defined]
        except FileNotFoundError:
            # A part file went while linking: the upload was aborted or completed
            # meanwhile (NoSuchUpload), or a part was replaced (InvalidPart).
            self._still_open(bucket.name, key, upload_id)
            raise invalid_part(upload_id, chosen[0].number, None) from None
        try:
            # The blob is durable; from here to the commit nothing awaits.
            bucket = self._bucket(bucket.name)
            current = self._still_open(bucket.name, key, upload_id)
            parts_now = {p.number: p.blob_id for p in self.uploads.parts(current)}
            if any(parts_now.get(p.number) != p.blob_id for p in chosen):
                raise invalid_part(upload_id, chosen[0].number, None)
            self._check_complete_conditions(bucket, key, upload, params)
            # What CreateMultipartUpload asked for (tags, retention, legal hold) over
            # the bucket's defaults as they are now, when the object is created.
            extra = {
                **self._default_extra(bucket),  # type: ignore[attr-defined]
                **(upload.settings.get("extra") or {}),
            }
            version = ObjectVersion(
                bucket=bucket.name,
                key=key,
                version_id=self._version_for_write(bucket),
                last_modified=now(),
                owner=ctx.account_id,
                size=size,
                etag=multipart_etag([p.md5 for p in chosen]),
                blob_id=composed_id,
                storage_class=upload.storage_class,
                metadata=upload.settings.get("metadata") or {},
                checksums={algorithm: value} if algorithm and value else {},
                checksum_type=kind if algorithm and value else None,
                parts={
                    "count": len(chosen),
                    "sizes": [p.size for p in chosen],
                    "algorithm": upload.algorithm,
                    "checksums": [p.checksums.get(upload.algorithm or "", "") for p in chosen]
                    if upload.algorithm
                    else None,
                },
                extra={**extra, "mpu": upload_id},
                **_object_fields(upload.settings),
            )
            with self.store.transaction() as conn:
                stored, dropped = self.store.put_version(version)
                conn.execute("DELETE FROM mpu_parts WHERE upload_seq = ?", (current.seq,))
                conn.execute("DELETE FROM mpu_uploads WHERE seq = ?", (current.seq,))
        except BaseException:
            self.blobs.delete(composed_id)
            raise
        self._drop_blobs([*dropped, *parts_now.values()])
        return self._completed(ctx, bucket, stored)

    def _check_complete_conditions(
        self, bucket: Any, key: str, upload: Upload, params: dict[str, Any]
    ) -> None:
        """A conditional Complete: the condition against the key now (412, or NoSuchKey),
        then 409 if the key was written or deleted since the upload began."""
        if params.get("IfMatch") is None and params.get("IfNoneMatch") is None:
            return
        self._check_write_conditions(bucket, key, params)
        if "current" not in upload.settings:
            return  # begun before the key's stamp was kept
        if key_stamp(self.store.latest(bucket.name, key)) != upload.settings["current"]:
            condition = "If-Match" if params.get("IfMatch") is not None else "If-None-Match"
            raise errors.conditional_request_conflict(condition, key)

    def _completed_by(self, bucket: str, key: str, upload_id: str) -> ObjectVersion | None:
        """The key's current version when upload ``upload_id`` made it (its ``extra["mpu"]``):
        S3 answers a repeated Complete (a client's retry) with success while it stands."""
        latest = self.store.latest(bucket, key)
        if latest is None or latest.delete_marker or latest.extra.get("mpu") != upload_id:
            return None
        return latest

    def _completed(self, ctx: Any, bucket: Any, version: ObjectVersion) -> Result:
        """CompleteMultipartUpload's answer for the version it made."""
        out: Result = {
            "Location": object_url(ctx, bucket.name, version.key),
            "Bucket": bucket.name,
            "Key": version.key,
            "ETag": version.etag,
            "VersionId": self._version_header(bucket, version.version_id),
            "Expiration": self._expiration(bucket, version),
        }
        # The object's checksum, S3's default full-object CRC64NVME included (LocalStack's
        # AWS-recorded ``complete-multipart-if-match``).
        out.update(checksum_result(version))
        out.update(encryption.result(version.extra.get("sse"), customer=False))
        return out

    def _chosen_parts(self, upload: Upload, listed: list[dict[str, Any]]) -> list[Part]:
        """The parts a Complete request lists, checked against what was uploaded."""
        if len(listed) > MAX_PARTS:
            raise errors.malformed_xml()
        stored = {p.number: p for p in self.uploads.parts(upload)}
        chosen: list[Part] = []
        previous = 0
        for entry in listed:
            number = entry.get("PartNumber")
            if number is None:
                raise errors.malformed_xml()
            if number <= previous:
                raise errors.s3_error(
                    "InvalidPartOrder",
                    "The list of parts was not in ascending order. Parts must be ordered by "
                    "part number.",
                    400,
                    UploadId=upload.upload_id,
                )
            previous = number
            part = stored.get(number)
            etag = entry.get("ETag")
            if part is None or etag is None or unquote_etag(etag) != part.md5:
                raise invalid_part(upload.upload_id, number, etag)
            for algorithm in checksums.ALGORITHMS:
                given = entry.get(checksums.member_name(algorithm))
                if given is not None and part.checksums.get(algorithm, given) != given:
                    raise invalid_part(upload.upload_id, number, etag)
            if upload.checksum_type == checksums.COMPOSITE and upload.algorithm:
                if entry.get(checksums.member_name(upload.algorithm)) is None:
                    raise errors.invalid_request(
                        f"The upload was created using a {upload.algorithm.lower()} checksum. "
                        "The complete request must include the checksum for each part. It "
                        f"was missing for part {number} in the request."
                    )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise errors.s3_error(
                    "EntityTooSmall",
                    # AWS's recorded text (test_multipart_complete_multipart_too_small);
                    # its error-code table says "object size." but answers this.
                    "Your proposed upload is smaller than the minimum allowed size",
                    400,
                    ProposedSize=part.size,
                    MinSizeAllowed=MIN_PART_SIZE,
                    PartNumber=part.number,
                    ETag=part.md5,
                )
        return chosen

    def _object_checksum(
        self, upload: Upload, chosen: list[Part], params: dict[str, Any]
    ) -> tuple[str | None, str | None, str | None]:
        """(algorithm, value, type) of the completed object, checked against the request."""
        algorithm = upload.algorithm or checksums.DEFAULT_ALGORITHM
        kind = upload.checksum_type or checksums.FULL_OBJECT
        asked_kind = params.get("ChecksumType")
        if asked_kind is not None and upload.algorithm and asked_kind != kind:
            raise errors.invalid_request(
                f"The upload was created using the {kind} checksum mode. The complete request "
                "must use the same checksum mode."
            )
        values = [p.checksums.get(algorithm) for p in chosen]
        if any(v is None for v in values):
            return None, None, None  # parts from before checksums were kept
        if kind == checksums.COMPOSITE:
            value = checksums.composite_checksum(algorithm, values)  # type: ignore[arg-type]
        else:
            value = checksums.full_object_checksum(
                algorithm,
                zip(values, (p.size for p in chosen), strict=True),  # type: ignore[arg-type]
            )
        for name in checksums.ALGORITHMS:
            given = params.get(checksums.member_name(name))
            if given is None:
                continue
            if name != algorithm:
                raise errors.invalid_request(
                    f"The upload was created using a {algorithm.lower()} checksum. The complete "
                    f"request included a {name.lower()} checksum."
                )
            if given.partition("-")[0] != value.partition("-")[0]:
                raise checksums.bad_digest(name)
        return algorithm, value, kind

    # -- AbortMultipartUpload ---------------------------------------------------------

    def abort_multipart_upload(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        upload = self.uploads.find(bucket.name, params["Key"], params["UploadId"])
        initiated = params.get("IfMatchInitiatedTime")
        if initiated is not None and int(initiated.timestamp()) != int(
            upload.initiated.timestamp()
        ):
            raise errors.precondition_failed("x-amz-if-match-initiated-time")
        self._drop_blobs(self.uploads.remove(upload))
        return {}

    def _abort_uploads(
        self, bucket: str, prefix: str = "", initiated_before: datetime | None = None
    ) -> int:
        """Abort a bucket's uploads (under ``prefix``, older than a time): lifecycle's
        AbortIncompleteMultipartUpload and bucket deletion. Returns how many."""
        uploads = self.uploads.in_bucket(bucket, initiated_before)
        count = 0
        for upload in uploads:
            if upload.key.startswith(prefix):
                self._drop_blobs(self.uploads.remove(upload))
                count += 1
        return count

    # -- ListParts --------------------------------------------------------------------

    def list_parts(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        upload = self.uploads.find(bucket.name, params["Key"], params["UploadId"])
        marker = _part_marker(params.get("PartNumberMarker"))
        max_parts = _max_items(params.get("MaxParts"), "max-parts")
        # MaxParts=0: an empty page, not truncated (as ListObjects' max-keys=0).
        parts = self.uploads.parts(upload, marker, max_parts + 1) if max_parts else []
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        out: Result = {
            "Bucket": bucket.name,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Initiator": owner_of(upload.owner),
            "Owner": owner_of(upload.owner),
            "StorageClass": upload.storage_class,
            "ChecksumAlgorithm": upload.algorithm,
            "ChecksumType": upload.checksum_type,
        }
        if parts:
            out["NextPartNumberMarker"] = parts[-1].number
            out["Parts"] = [self._listed_part(upload, p) for p in parts]
        elif max_parts:
            # No part listed (none uploaded, or the marker past the last): S3 still sends
            # NextPartNumberMarker, as 0 (LocalStack's AWS-recorded ``list-parts-empty``,
            # ``list-parts-wrong-part``). MaxParts=0 is not in those recordings: left bare.
            out["NextPartNumberMarker"] = 0
        return out

    @staticmethod
    def _listed_part(upload: Upload, part: Part) -> Result:
        entry: Result = {
            "PartNumber": part.number,
            "LastModified": part.last_modified,
            "ETag": part.etag,
            "Size": part.size,
        }
        # Only the upload's own algorithm: a checksum a client sent with a part of an
        # upload created without one is not listed (LocalStack's AWS-recorded
        # list-parts-all, made with a client sending CRC32 by default).
        shown = upload.algorithm
        if shown and shown in part.checksums:
            entry.update(checksums.result_fields(shown, part.checksums[shown], None))
        return entry

    # -- ListMultipartUploads ---------------------------------------------------------

    def list_multipart_uploads(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        encoding = params.get("EncodingType")
        if encoding is not None and encoding != "url":
            raise errors.invalid_argument(
                "Invalid Encoding Method specified in Request", "encoding-type", encoding
            )
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or None
        key_marker = params.get("KeyMarker") or ""
        # An UploadIdMarker without a KeyMarker is ignored, and echoed as ""
        # (LocalStack's AWS-recorded ``list-multiparts-next-upload-only``).
        id_marker = (params.get("UploadIdMarker") or "") if key_marker else ""
        max_uploads = _max_items(params.get("MaxUploads"), "max-uploads")
        if id_marker:
            self.uploads.check_id_marker(bucket.name, key_marker, id_marker)

        # MaxUploads=0: an empty page, not truncated (as ListObjects' max-keys=0).
        items = list(
            self.uploads.walk(
                bucket.name, prefix, delimiter, key_marker, id_marker, max_uploads + 1
            )
            if max_uploads
            else ()
        )
        truncated = len(items) > max_uploads
        items = items[:max_uploads]
        uploads: list[Result] = []
        common: list[Result] = []
        for item in items:
            if isinstance(item, str):
                common.append({"Prefix": encode(item, encoding)})
            else:
                uploads.append(
                    {
                        "UploadId": item.upload_id,
                        "Key": encode(item.key, encoding),
                        "Initiated": item.initiated,
                        "StorageClass": item.storage_class,
                        "Owner": owner_of(item.owner),
                        "Initiator": owner_of(item.owner),
                        "ChecksumAlgorithm": item.algorithm,
                        "ChecksumType": item.checksum_type,
                    }
                )
        out: Result = {
            "Bucket": bucket.name,
            "KeyMarker": encode(key_marker, encoding),
            "UploadIdMarker": id_marker,
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
            # No Prefix element unless one was asked for (``list-multiparts-empty``).
            "Prefix": encode(prefix, encoding) if prefix else None,
            "Delimiter": encode(delimiter, encoding),
            "EncodingType": encoding,
        }
        if max_uploads:
            # S3's Next* markers name the last *upload* of the page, truncated or not
            # (``list-multiparts-all``), and are "" when the page lists none: an empty
            # bucket, a KeyMarker past the last key, only common prefixes, even a page
            # truncated by a common prefix (LocalStack's AWS-recorded
            # ``list-multiparts-empty``, ``-next-key-last``, ``list-multiparts-1``,
            # ``list-multiparts-start``). MaxUploads=0 is not in those recordings: left bare.
            out["NextKeyMarker"] = uploads[-1]["Key"] if uploads else ""
            out["NextUploadIdMarker"] = uploads[-1]["UploadId"] if uploads else ""
        if uploads:
            out["Uploads"] = uploads
        if common:
            out["CommonPrefixes"] = common
        return out

    # -- GetObjectAttributes' ObjectParts ---------------------------------------------

    def _object_parts(self, version: ObjectVersion, params: dict[str, Any]) -> Result:
        """``ObjectParts`` of a multipart object: the count, and the parts when checksummed.

        S3 lists ``Parts`` only for objects uploaded with an additional
        checksum; ``PartNumberMarker``/``MaxParts`` page through them.
        """
        info = version.parts or {}
        count = info.get("count")
        if not count:
            return {}
        out: Result = {"TotalPartsCount": count}
        algorithm, values = info.get("algorithm"), info.get("checksums")
        if not algorithm or not values:
            return out
        marker = _part_marker(params.get("PartNumberMarker"))
        max_parts = _max_items(params.get("MaxParts"), "max-parts")
        sizes = info.get("sizes") or []
        numbers = list(range(marker + 1, min(count, marker + max_parts) + 1))
        out.update(
            {
                "PartNumberMarker": marker,
                "MaxParts": max_parts,
                "IsTruncated": marker + max_parts < count,
                "Parts": [
                    {
                        "PartNumber": n,
                        "Size": sizes[n - 1],
                        **checksums.result_fields(algorithm, values[n - 1], None),
                    }
                    for n in numbers
                ],
            }
        )
        # 0 when no part is listed (LocalStack's AWS-recorded get-object-attrs-wrong-part).
        out["NextPartNumberMarker"] = numbers[-1] if numbers else 0
        return out


def _part_marker(value: int | None) -> int:
    if value is None:
        return 0
    if not 0 <= value <= 2147483647:
        raise errors.invalid_argument(
            "Argument partNumberMarker must be an integer between 0 and 2147483647",
            "part-number-marker",
            value,
        )
    return value


def _max_items(value: int | None, name: str) -> int:
    if value is None:
        return MAX_LISTED
    if value < 0:
        raise errors.invalid_argument(
            f"Argument {name} must be an integer between 0 and 2147483647", name, value
        )
    return min(value, MAX_LISTED)
