"""S3's own condition keys, for strict mode's policy evaluation.

Why: the bucket policies people write most are conditions on what a request
carries. AWS's own examples deny uploads whose ``s3:x-amz-server-side-encryption``
is not ``AES256``, grant reads only of objects tagged so (``s3:ExistingObjectTag/<key>``),
limit copies to a source prefix (``s3:x-amz-copy-source``) or require the
``bucket-owner-full-control`` ACL (``s3:x-amz-acl``). Without the keys such a Deny
refuses every request (a negated operator on a missing key holds) or none.

The keys are those of the Service Authorization Reference for Amazon S3:

- from the request's headers, as sent: ``s3:x-amz-acl``, the ``s3:x-amz-grant-*``
  family, ``s3:x-amz-copy-source`` (without a leading ``/``, percent-decoded, as the
  documented ``bucket/prefix/*`` patterns read), ``s3:x-amz-metadata-directive``, the
  ``s3:x-amz-server-side-encryption*`` family, ``s3:x-amz-storage-class``,
  ``s3:x-amz-website-redirect-location``, ``s3:x-amz-content-sha256``,
  ``s3:x-amz-object-ownership``, the ``s3:object-lock-*`` headers, ``s3:if-match``
  and ``s3:if-none-match``;
- from the operation: ``s3:prefix``/``s3:delimiter``/``s3:max-keys`` for listings,
  ``s3:LocationConstraint`` for CreateBucket, ``s3:VersionId``, the retention and
  legal hold documents' ``s3:object-lock-*`` values, and the tags a request sets
  (``s3:RequestObjectTag/<key>``, ``s3:RequestObjectTagKeys``) from ``x-amz-tagging`` or
  PutObjectTagging's body;
- from the signature: ``s3:signatureversion`` (``AWS`` or ``AWS4-HMAC-SHA256``),
  ``s3:authType`` (``REST-HEADER`` or ``REST-QUERY-STRING``) and ``s3:signatureAge``
  (milliseconds since a SigV4 signature's date);
- looked up only when a policy asks (``policy.LAZY_KEYS``): the tags of the object a
  request acts on (``s3:ExistingObjectTag/<key>``, for the operations that read or
  change an existing object) and the bucket owner's account (``s3:ResourceAccount``).

``s3:TlsVersion`` is absent: cloudlet serves plain HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from cloudlet.auth.policy import LAZY_KEYS
from cloudlet.auth.sigv4 import parse_amz_date
from cloudlet.core.clock import clock
from cloudlet.services.s3.store import S3Store

_HEADER_KEYS = (
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-metadata-directive",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-content-sha256",
    "x-amz-object-ownership",
)
_LOCK_HEADERS = (
    ("x-amz-object-lock-mode", "s3:object-lock-mode"),
    ("x-amz-object-lock-retain-until-date", "s3:object-lock-retain-until-date"),
    ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
    ("if-match", "s3:if-match"),
    ("if-none-match", "s3:if-none-match"),
)
_LISTINGS = frozenset(("ListObjects", "ListObjectsV2", "ListObjectVersions"))
_TAGGED_WRITES = frozenset(("PutObject", "CreateMultipartUpload", "CopyObject"))
EXISTING_OBJECT_OPERATIONS = frozenset(
    (
        "GetObject",
        "HeadObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectTagging",
        "GetObjectRetention",
        "GetObjectLegalHold",
        "PutObjectAcl",
        "PutObjectTagging",
        "PutObjectRetention",
        "PutObjectLegalHold",
        "DeleteObjectTagging",
    )
)
"""The operations ``s3:ExistingObjectTag/<key>`` applies to: those acting on an object
that is already there (not writes of a new one, whose tags are ``RequestObjectTag``)."""
_EXISTING_TAG = "s3:existingobjecttag/"
_BUCKET_TAG_KEYS = ("aws:resourcetag/", "s3:buckettag/")
"""The keys of the bucket's tags, answered only under ABAC (``abac.py``)."""
_DAY = 86400.0


def add_condition_keys(
    store: S3Store,
    ctx: Any,
    context: dict[str, Any],
    bucket_tags: Callable[[str], dict[str, str] | None] = lambda _name: None,
) -> None:
    """Add S3's keys for ``ctx``'s request to ``context``; ``bucket_tags`` gives a
    bucket's tags when ABAC lets them take part (``abac.py``), else None."""
    headers = ctx.request.headers
    for name in _HEADER_KEYS:
        if name in headers:
            context["s3:" + name] = headers[name]
    for name, key in _LOCK_HEADERS:
        if name in headers:
            context[key] = headers[name]
    if "x-amz-copy-source" in headers:
        context["s3:x-amz-copy-source"] = unquote(headers["x-amz-copy-source"]).lstrip("/")
    _signature_keys(ctx, context)
    operation = ctx.operation.name
    params = ctx.params
    if operation in _LISTINGS:
        for key, member in (("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter")):
            if params.get(member) is not None:
                context[key] = params[member]
        context["s3:max-keys"] = str(params.get("MaxKeys", 1000))
    elif operation == "CreateBucket":
        config = params.get("CreateBucketConfiguration") or {}
        if config.get("LocationConstraint"):
            context["s3:LocationConstraint"] = config["LocationConstraint"]
        tags = config.get("Tags") or []
        for tag in tags:
            context["aws:RequestTag/" + tag.get("Key", "")] = tag.get("Value", "")
        if tags:
            context["aws:TagKeys"] = [t.get("Key", "") for t in tags]
    if params.get("VersionId") is not None:
        context["s3:VersionId"] = params["VersionId"]
    _object_lock_keys(operation, params, context)
    _request_tag_keys(operation, params, headers, context)
    context[LAZY_KEYS] = _lookups(store, operation, params, bucket_tags)


def _signature_keys(ctx: Any, context: dict[str, Any]) -> None:
    req = ctx.request
    query = req.query_params
    authorization = req.headers.get("authorization", "")
    if ctx.presigned:
        context["s3:authType"] = "REST-QUERY-STRING"
        v4 = "X-Amz-Algorithm" in query
        signed_at = (query.get("X-Amz-Date") or [""])[0]
    elif authorization:
        context["s3:authType"] = "REST-HEADER"
        v4 = authorization.startswith("AWS4-")
        signed_at = req.headers.get("x-amz-date", "")
    else:
        return
    context["s3:signatureversion"] = "AWS4-HMAC-SHA256" if v4 else "AWS"
    when = parse_amz_date(signed_at) if v4 and signed_at else None
    if when is not None:
        context["s3:signatureAge"] = str(max(0, int((clock.time() - when) * 1000)))


def _object_lock_keys(operation: str, params: dict[str, Any], context: dict[str, Any]) -> None:
    """The retention and legal hold a request sets, from PutObjectRetention's and
    PutObjectLegalHold's documents, and the days a retention date leaves."""
    if operation == "PutObjectRetention":
        retention = params.get("Retention") or {}
        if retention.get("Mode"):
            context["s3:object-lock-mode"] = retention["Mode"]
        until = retention.get("RetainUntilDate")
        if isinstance(until, datetime):
            context["s3:object-lock-retain-until-date"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif operation == "PutObjectLegalHold":
        status = (params.get("LegalHold") or {}).get("Status")
        if status:
            context["s3:object-lock-legal-hold"] = status
    until = params.get("ObjectLockRetainUntilDate")
    if until is None:
        until = (params.get("Retention") or {}).get("RetainUntilDate")
    if isinstance(until, datetime):
        days = math.ceil((until.timestamp() - clock.time()) / _DAY)
        context["s3:object-lock-remaining-retention-days"] = str(max(0, days))


def _request_tag_keys(
    operation: str, params: dict[str, Any], headers: dict[str, str], context: dict[str, Any]
) -> None:
    """``s3:RequestObjectTag/<key>`` and ``s3:RequestObjectTagKeys``: the tags a
    request gives an object."""
    if operation == "PutObjectTagging":
        tags = [
            (t.get("Key", ""), t.get("Value", ""))
            for t in (params.get("Tagging") or {}).get("TagSet") or []
        ]
    elif operation in _TAGGED_WRITES and "x-amz-tagging" in headers:
        tags = parse_qsl(headers["x-amz-tagging"], keep_blank_values=True)
    else:
        return
    for key, value in tags:
        context["s3:RequestObjectTag/" + key] = value
    context["s3:RequestObjectTagKeys"] = [key for key, _ in tags]


def _lookups(
    store: S3Store,
    operation: str,
    params: dict[str, Any],
    bucket_tags: Callable[[str], dict[str, str] | None],
) -> Callable[[str], Any]:
    """The keys that cost a lookup, answered when a policy asks (once each)."""
    memo: dict[str, Any] = {}

    def of_bucket() -> dict[str, str]:
        if "bucket_tags" not in memo:
            memo["bucket_tags"] = bucket_tags(params.get("Bucket") or "") or {}
        return memo["bucket_tags"]

    def tags() -> dict[str, str]:
        if "tags" not in memo:
            bucket, key = params.get("Bucket"), params.get("Key")
            version_id = params.get("VersionId")
            found = None
            if bucket is not None and key is not None:
                found = (
                    store.version(bucket, key, version_id)
                    if version_id is not None
                    else store.latest(bucket, key)
                )
            have = None if found is None or found.delete_marker else found.extra.get("tags")
            memo["tags"] = {t["Key"]: t["Value"] for t in have or []}
        return memo["tags"]

    def answer(name: str) -> Any:
        lowered = name.lower()
        if lowered.startswith(_EXISTING_TAG):
            if operation not in EXISTING_OBJECT_OPERATIONS:
                return None
            return tags().get(name[len(_EXISTING_TAG) :])
        for prefix in _BUCKET_TAG_KEYS:
            if lowered.startswith(prefix):
                return of_bucket().get(name[len(prefix) :])
        if lowered == "s3:resourceaccount":
            bucket = store.get_bucket(params.get("Bucket") or "")
            return bucket.account if bucket is not None else None
        return None

    return answer
