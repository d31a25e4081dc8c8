"""What S3 refuses by a request's shape alone, before the operation's params are parsed.

``S3Service.prepare_request`` runs ``check`` on every API request once the router
has chosen its operation, so these answers are S3's whatever the operation's
handler (or the codec) would have made of the request:

- **Sub-resources.** The router hands a request to the operation of the bare bucket
  or key (DeleteBucket, CreateBucket, DeleteObject, PutObject, CopyObject) when no
  operation of its method names its sub-resource: ``DELETE /bucket?versioning`` is
  no operation at all, and must not delete the bucket. S3 answers such a request
  405 ``MethodNotAllowed`` naming the sub-resource's type (``<ResourceType>``), before
  it looks at the bucket. Query parameters that are not sub-resources (``?foo``,
  ``?x-id=...``) are ignored, as S3 ignores them: ``DELETE /bucket?foo`` deletes
  the bucket. So do ``?session`` and ``?renameObject``, which S3 answers as the
  bare path too.
- **The path**: its bytes, percent escapes decoded, must be UTF-8 (a key is a UTF-8
  name), else 400 ``InvalidURI``, where decoding would have made a U+FFFD of them.
- **A body's length**: PutObject and UploadPart need ``Content-Length`` (or chunked
  transfer coding of an aws-chunked body), else 411 ``MissingContentLength``; plain
  chunked transfer coding is 501 ``NotImplemented``.
- **A copy source** (``x-amz-copy-source``) on any request but CopyObject and
  UploadPartCopy: 400 ``InvalidArgument``, whatever the method (a POST only with
  ``uploadId``).
- **partNumber** (GetObject, HeadObject, UploadPart, UploadPartCopy): an integer from
  1 to 10000, else 400 ``InvalidArgument``, whether or not it parses as a number.
- **Server-side encryption**: ``x-amz-server-side-encryption`` is ``AES256``,
  ``aws:kms`` or ``aws:kms:dsse`` on the operations that take it (the same rule
  for a POST form's field, ``check_encryption``), and refused on any other; a KMS
  key id needs ``aws:kms`` (or ``aws:kms:dsse``).
- **A website redirect** (``x-amz-website-redirect-location``, and a POST form's
  field of that name) starts with ``/``, ``http://`` or ``https://``, else 400
  ``InvalidRedirectLocation`` (AWS's answer, quoted in aws-cli#1130).
- **Appends** (``x-amz-write-offset-bytes``, S3 Express One Zone only): 501
  ``NotImplemented`` naming the header, never an overwrite, unless a PutObject to a
  directory bucket (``--x-s3``) sends it: that is an append (``append.py``). S3
  answers a general-purpose bucket so (AWS's client tests in awslabs/mountpoint-s3,
  ``test_append_fails_if_not_supported``), before any of the body is read.
- **Checksum headers**: ``x-amz-checksum-algorithm`` names a known algorithm and
  ``x-amz-checksum-type`` is ``COMPOSITE`` or ``FULL_OBJECT``, on whatever
  operation carries them (the operations that use them add their own rules).

One thing here is no refusal: ListParts' ``part-number-marker=`` and ``max-parts=``
sent empty are S3's defaults (PartNumberMarker 0, MaxParts 1000: LocalStack's
AWS-recorded ``test_list_parts_empty_part_number_marker``), where the codec would
refuse an empty integer. ``check`` drops them from the query before the codec binds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from botocore.model import OperationModel

from cloudlet.protocols.base import HttpRequest
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.services.s3 import checksums, errors
from cloudlet.services.s3.directory import SUFFIX as DIRECTORY_SUFFIX
from cloudlet.services.s3.uploads import MAX_PARTS

# The type each sub-resource's 405 names, at a bucket's path. Measured against S3
# by a third-party emulator's test suite (brekkylab/backlot); the three metadata
# tables, ``restore``/``select``/``torrent`` at a bucket and ``uploadId`` follow
# the same pattern without a measurement.
BUCKET_SUBRESOURCES: dict[str, str] = {
    "abac": "BUCKET_ABAC",
    "accelerate": "ACCELERATE",
    "acl": "ACL",
    "analytics": "ANALYTICS",
    "cors": "CORS",
    "delete": "MULTI_OBJECT_DELETE",
    "encryption": "ENCRYPTION",
    "intelligent-tiering": "INTELLIGENT_TIERING",
    "inventory": "INVENTORY",
    "lifecycle": "LIFECYCLE",
    "location": "LOCATION",
    "logging": "LOGGING_STATUS",
    "metadataAnnotationTable": "BUCKET_METADATA_ANNOTATION_TABLE_CONFIGURATION",
    "metadataConfiguration": "BUCKET_METADATA_CONFIGURATION",
    "metadataInventoryTable": "BUCKET_METADATA_INVENTORY_TABLE_CONFIGURATION",
    "metadataJournalTable": "BUCKET_METADATA_JOURNAL_TABLE_CONFIGURATION",
    "metadataTable": "BUCKET_METADATA_TABLE_CONFIGURATION",
    "metrics": "METRICS",
    "notification": "NOTIFICATION",
    "object-lock": "OBJECT_LOCK_CONFIGURATION",
    "ownershipControls": "OWNERSHIP_CONTROLS",
    "policy": "BUCKETPOLICY",
    "policyStatus": "POLICY_STATUS",
    "publicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "replication": "REPLICATION",
    "requestPayment": "REQUEST_PAYMENT",
    "restore": "RESTORE",
    "select": "SELECT",
    "tagging": "TAGGING",
    "torrent": "TORRENT",
    "uploadId": "UPLOAD",
    "uploads": "UPLOADS",
    "versioning": "VERSIONING",
    "versions": "BUCKETVERSIONS",
    "website": "WEBSITE",
}
# An object's own sub-resources: at a key's path they name the type, before the
# bucket's of the same name; at a bucket's path they are refused too (naming them).
_OBJECT_ONLY: dict[str, str] = {
    "annotation": "OBJECT_ANNOTATIONS",
    "attributes": "OBJECT_ATTRIBUTES",
    "encryption": "OBJECT_ENCRYPTION",
    "legal-hold": "OBJECT_LOCK_LEGALHOLD",
    "retention": "OBJECT_LOCK_RETENTION",
    "tagging": "OBJECT_TAGGING",
}
AT_BUCKET: dict[str, str] = {**_OBJECT_ONLY, **BUCKET_SUBRESOURCES}
AT_KEY: dict[str, str] = {**BUCKET_SUBRESOURCES, **_OBJECT_ONLY}
_BARE_BUCKET_WRITES = frozenset(("CreateBucket", "DeleteBucket"))
_BARE_KEY_WRITES = frozenset(("PutObject", "CopyObject", "DeleteObject"))
_PART_NUMBER_READERS = frozenset(("GetObject", "HeadObject", "UploadPart", "UploadPartCopy"))
_COPIES = frozenset(("CopyObject", "UploadPartCopy"))
_BODY_WRITES = frozenset(("PutObject", "UploadPart"))
_BLANK_AS_DEFAULT: dict[str, tuple[str, ...]] = {
    "ListParts": ("part-number-marker", "max-parts"),
}
"""Integer query parameters S3 reads as absent when sent empty, by operation."""
COPY_SOURCE = "x-amz-copy-source"
REDIRECT_HEADER = "x-amz-website-redirect-location"
_REDIRECT_PREFIXES = ("/", "http://", "https://")

SSE_HEADER = "x-amz-server-side-encryption"
KMS_KEY_HEADER = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_ALGORITHMS = frozenset(("AES256", "aws:kms", "aws:kms:dsse"))
_KMS_ALGORITHMS = frozenset(("aws:kms", "aws:kms:dsse"))
_DIGITS = re.compile(r"[0-9]{1,10}")


WRITE_OFFSET = "x-amz-write-offset-bytes"


def check(operation: OperationModel, request: HttpRequest) -> None:
    """S3's refusals of ``request`` (routed to ``operation``) by its path, query and headers."""
    path = request.path
    if not path.isascii() or "%" in path:
        check_path(path)
    name = operation.name
    query = request.query_params
    if query and name in _BARE_BUCKET_WRITES:
        refuse_subresources(request.method, query, AT_BUCKET)
    elif query and name in _BARE_KEY_WRITES:
        refuse_subresources(request.method, query, AT_KEY)
    if name in _PART_NUMBER_READERS and "partNumber" in query:
        check_part_number(query["partNumber"][0])
    if query and name in _BLANK_AS_DEFAULT:
        _drop_blank(query, _BLANK_AS_DEFAULT[name])
    headers = request.headers
    if name in _BODY_WRITES and "content-length" not in headers:
        _check_length_given(headers)
    if COPY_SOURCE in headers and name not in _COPIES:
        _refuse_copy_source(request, headers[COPY_SOURCE])
    if SSE_HEADER in headers or KMS_KEY_HEADER in headers:
        _check_encryption_headers(operation, headers)
    if REDIRECT_HEADER in headers:
        check_redirect_location(headers[REDIRECT_HEADER])
    if WRITE_OFFSET in headers and (name != "PutObject" or not _in_directory_bucket(path)):
        # Overwriting the object instead (what ignoring the header did) loses data.
        raise errors.header_not_implemented(
            WRITE_OFFSET,
            "Appending to an object (x-amz-write-offset-bytes) is supported only in "
            "directory buckets.",
        )
    checksums.parse_algorithm(headers.get("x-amz-checksum-algorithm"))
    checksums.parse_checksum_type(headers.get("x-amz-checksum-type"))


def _in_directory_bucket(path: str) -> bool:
    """Whether a path-style request (virtual hosts are rewritten to one) names a
    directory bucket: only theirs end in ``--x-s3``."""
    return path.lstrip("/").partition("/")[0].endswith(DIRECTORY_SUFFIX)


def check_redirect_location(value: str) -> None:
    """An object's website redirect: a path on the site or an absolute http(s) URL."""
    if not value.startswith(_REDIRECT_PREFIXES):
        raise errors.s3_error(
            "InvalidRedirectLocation",
            "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
            400,
        )


def _drop_blank(query: dict[str, list[str]], names: tuple[str, ...]) -> None:
    """Forget ``names`` whose first value is empty (the one the codec would bind), so
    the operation sees them as not sent (``ListParts``' defaults), not as a bad integer."""
    for wire in names:
        values = query.get(wire)
        if values is not None and values[0] == "":
            del query[wire]


def _check_length_given(headers: Mapping[str, str]) -> None:
    """A body written without ``Content-Length``. Plain chunked transfer coding is S3's
    501 naming ``Transfer-Encoding`` (AWS's answer quoted in aws-sdk-js#15,
    botocore#35, aws-sdk-go#4944); it is taken only under aws-chunked framing, whose
    ``x-amz-decoded-content-length`` says the length. Anything else is 411
    ``MissingContentLength``."""
    if "chunked" not in headers.get("transfer-encoding", "").lower():
        raise errors.s3_error(
            "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
        )
    if "x-amz-decoded-content-length" not in headers:
        raise errors.header_not_implemented("Transfer-Encoding")


def _refuse_copy_source(request: HttpRequest, value: str) -> None:
    """A copy source on a request that copies nothing: ``InvalidArgument``. A POST
    other than CompleteMultipartUpload is left to its own answer (S3's 405)."""
    if request.method == "POST" and "uploadId" not in request.query_params:
        return
    raise errors.invalid_argument(
        "You can only specify a copy source header for copy requests.", COPY_SOURCE, value
    )


def check_path(path: str) -> None:
    """A path (the request line's bytes, as latin-1) whose bytes, once percent escapes
    are decoded, are no UTF-8 names no key: S3 answers 400 ``InvalidURI``."""
    try:
        data = path.encode("latin-1")
    except UnicodeEncodeError:  # already decoded: no bytes to misread
        return
    try:
        unquote_to_bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.s3_error("InvalidURI", "Couldn't parse the specified URI.", 400) from None


def refuse_subresources(method: str, query: Mapping[str, Any], known: Mapping[str, str]) -> None:
    """405 ``MethodNotAllowed`` when the query names a sub-resource in ``known``."""
    for name in sorted(query):
        resource_type = known.get(name)
        if resource_type is not None:
            raise errors.method_not_allowed(method, resource_type)


def check_part_number(value: int | str) -> int:
    """A ``partNumber`` as S3 reads it: an integer from 1 to 10000, else ``InvalidArgument``."""
    if isinstance(value, int):
        number = value
    else:
        number = int(value) if _DIGITS.fullmatch(value) else 0
    if not 1 <= number <= MAX_PARTS:
        raise errors.invalid_argument(
            f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
            "partNumber",
            value,
        )
    return number


def check_encryption(algorithm: str | None, kms_key: str | None) -> None:
    """``x-amz-server-side-encryption`` (and the KMS key id beside it) of a write."""
    if algorithm is not None and algorithm not in SSE_ALGORITHMS:
        raise errors.invalid_argument(
            "The encryption method specified is not supported", SSE_HEADER, algorithm
        )
    if kms_key is not None and algorithm not in _KMS_ALGORITHMS:
        raise errors.invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            SSE_HEADER,
            algorithm or "null",
        )


def _check_encryption_headers(operation: OperationModel, headers: Mapping[str, str]) -> None:
    algorithm = headers.get(SSE_HEADER)
    if not _takes_header(operation, SSE_HEADER):
        if algorithm is None:
            return
        raise errors.invalid_argument(
            "x-amz-server-side-encryption header is not supported for this operation.",
            SSE_HEADER,
            algorithm,
        )
    check_encryption(algorithm, headers.get(KMS_KEY_HEADER))


def _header_names(operation: OperationModel) -> frozenset[str]:
    """The (lower-cased) headers ``operation``'s input binds to members."""
    shape = operation.input_shape
    if shape is None:
        return frozenset()
    return frozenset(
        member.serialization.get("name", "").lower()
        for member in shape.members.values()
        if member.serialization.get("location") == "header"
    )


_HEADER_NAMES = PlanCache(_header_names)


def _takes_header(operation: OperationModel, header: str) -> bool:
    return header in _HEADER_NAMES.get(operation)
