"""UpdateObjectEncryption: a stored object's server-side encryption changed in place.

Why a module of its own: S3 changes an existing object's encryption (SSE-S3 to SSE-KMS,
one KMS key to another, S3 Bucket Keys on or off) "without any data movement": the data
key is re-wrapped under the new KMS key, and the object keeps its version id, storage
class, creation and last-modified dates, ETag and checksums. In cloudlet the encryption
of a version is its ``extra["sse"]`` (``encryption.py``), so the change is one row
update of that version, the bytes untouched. S3's UpdateObjectEncryption operation
(``ObjectEncryptionHandlers``; strict mode also asks ``s3:PutObject``) and S3 Batch
Operations' S3UpdateObjectEncryption jobs (``batch_object_tasks.py``, for each object of
their manifest) both make it here; the rules are the S3 API reference's:

- the only new type is SSE-KMS, with a key ARN (``BucketKeyEnabled`` optional: the
  bucket's default encryption decides when it is not given, as for a new object);
- not for directory buckets (``NotSupported``, as S3 Express answers what it lacks);
- the object must be encrypted with SSE-S3 or SSE-KMS: DSSE-KMS and SSE-C objects are
  refused (``InvalidRequest``, S3's message), as are delete markers (S3's answers for a
  missing key, version or a delete marker are those of ``_find``);
- the key must belong to the bucket owner's account (``AccessDenied``, S3's message),
  and, as every KMS key S3 uses, be in the bucket's Region (``KMS.NotFoundException``);
- an SSE-KMS object keeps its encryption context; the MD5 ETag of its data is kept with
  the new encryption, so a later copy back to SSE-S3 has its MD5 ETag again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.services.s3 import encryption, errors
from cloudlet.services.s3.directory import is_directory, not_supported
from cloudlet.services.s3.store import Bucket, ObjectVersion

SOURCE_NOT_SUPPORTED = (
    "The UpdateObjectEncryption operation doesn't support source objects with the "
    "encryption type DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or "
    "SSE-KMS are supported."
)
NEW_TYPE_REQUIRED = (
    "Requests that modify an object encryption configuration require a valid new "
    "encryption type. Valid values are SSEKMS. Modify the request to specify SSE-KMS for "
    "the updated encryption type, and then try again."
)
KEY_REQUIRED = (
    "Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key "
    "Amazon Resource Name (ARN). Modify the request to specify a KMS key ARN, and then "
    "try again."
)
KEY_INVALID = (
    "Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS "
    "key Amazon Resource Name (ARN). Confirm that you have a correctly formatted KMS key "
    "ARN in your request, and then try again."
)
BUCKET_KEY_INVALID = (
    "The BucketKeyEnabled value isn't valid. Valid values are true or false. Modify the "
    "request to specify a valid value, and then try again."
)
_KMS_KEY_ARN = re.compile(r"arn:aws[a-zA-Z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+")
FOREIGN_KEY = (
    "The AWS KMS key in the request must be owned by the same account as the bucket. "
    "Modify the request to specify a KMS key from the same account, and then try again."
)


def target_key(
    target: dict[str, Any] | None, refuse: Callable[[str], Exception]
) -> tuple[str, bool | None]:
    """The KMS key ARN and Bucket Key flag an ``ObjectEncryption`` asks for (``refuse``:
    the error of the API that carries it, with S3's words)."""
    kms = (target or {}).get("SSEKMS")
    if not isinstance(kms, dict):
        raise refuse(NEW_TYPE_REQUIRED)
    arn = kms.get("KMSKeyArn")
    if arn is None or arn == "":
        raise refuse(KEY_REQUIRED)
    if not isinstance(arn, str) or not 20 <= len(arn) <= 2048 or not _KMS_KEY_ARN.fullmatch(arn):
        raise refuse(KEY_INVALID)
    bucket_key = kms.get("BucketKeyEnabled")
    if bucket_key is not None and not isinstance(bucket_key, bool):
        raise refuse(BUCKET_KEY_INVALID)
    return arn, bucket_key


def reencrypted(
    bucket: Bucket,
    version: ObjectVersion,
    key_arn: str,
    bucket_key: bool | None,
    rule: dict[str, Any],
) -> encryption.Sse:
    """The ``extra["sse"]`` of ``version`` once encrypted with SSE-KMS under ``key_arn``
    (S3's error when the object or the key cannot be)."""
    current = version.extra.get("sse")
    if current is not None and current.get("alg") != "aws:kms":
        raise errors.invalid_request(SOURCE_NOT_SUPPORTED)
    parts = key_arn.split(":")
    if len(parts) < 6 or parts[4] != bucket.account:
        raise errors.s3_error("AccessDenied", FOREIGN_KEY, 403)
    sse: encryption.Sse = {
        "alg": "aws:kms",
        "kms": encryption.key_arn(key_arn, bucket.region, bucket.account),
    }
    if bucket_key is None:
        bucket_key = bool(rule.get("BucketKeyEnabled"))
    if bucket_key:
        sse["bk"] = True
    if current is not None and current.get("ctx"):
        sse["ctx"] = current["ctx"]
    plain = encryption.content_etag(current, version.etag or "")
    if plain:
        sse["etag"] = plain
    return sse


def update_object_encryption(
    s3: Any,
    bucket_name: str,
    key: str,
    version_id: str | None,
    key_arn: str,
    bucket_key: bool | None,
) -> ObjectVersion:
    """Re-encrypt one object version of S3 (``s3``: the S3 service) in place; the
    version as it now is."""
    bucket = s3._bucket(bucket_name)
    if is_directory(bucket):
        raise not_supported("UpdateObjectEncryption")
    version = s3._find(bucket, key, version_id, "PUT", marker_not_allowed=True)
    sse = reencrypted(bucket, version, key_arn, bucket_key, s3._encryption_rule(bucket))
    extra = {**version.extra, "sse": sse}
    with s3.store.transaction():
        s3.store.update_version(version, extra=extra)
    return version.with_changes(extra=extra)


class ObjectEncryptionHandlers:
    """S3's UpdateObjectEncryption (a mixin of the S3 service)."""

    def update_object_encryption(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        arn, bucket_key = target_key(params.get("ObjectEncryption"), errors.invalid_request)
        update_object_encryption(
            self, params["Bucket"], params["Key"], params.get("VersionId"), arn, bucket_key
        )
        return {}
