"""Server-side encryption of objects: SSE-S3, SSE-KMS (and DSSE-KMS), SSE-C.

Every object S3 stores is encrypted, and its answers say how: a new object gets
SSE-S3 (``x-amz-server-side-encryption: AES256``) unless the request or the
bucket's default encryption names KMS, or the request brings its own key (SSE-C).
What a client can observe is what this module makes true:

- **The answers.** PutObject, CopyObject, POST, CreateMultipartUpload, UploadPart,
  CompleteMultipartUpload, GetObject and HeadObject report the object's encryption
  (``result``), each with the members AWS's reference gives that operation.
- **KMS keys.** A key id is reported as the ARN S3 reports: a bare key id becomes
  ``arn:aws:kms:<bucket's region>:<account>:key/<id>``, no key id means the
  account's ``aws/s3`` managed key, and an id that no KMS key could have is
  ``KMS.NotFoundException`` (cloudlet has no KMS yet, so a well-formed id is
  taken as existing). ``x-amz-server-side-encryption-context`` must be base64 JSON
  of a string map. The bucket's BucketKeyEnabled applies unless the request says.
- **SSE-C.** The key must be 256 bits with a matching MD5; a read, head or copy of
  the object needs the same key (400 without it, 403 with another), a part upload
  needs its upload's key, and a plain object refuses SSE-C headers. S3 keeps "a
  randomly salted HMAC value of the encryption key", never the key: so do we
  (``salt``, ``mac``). The object's bytes are kept as sent: encrypting them at
  rest would change nothing a client can observe, as no API returns ciphertext.
- **Blocked SSE-C.** Since April 2026 new buckets block SSE-C writes (403); the
  bucket's encryption configuration carries ``BlockedEncryptionTypes``, and a
  configuration put without it keeps the bucket's current block.
- **ETags.** S3's ETag of a single-part SSE-KMS or SSE-C object is not the MD5 of
  its data (and differs between uploads of the same data): ``object_etag``. The
  MD5 ETag is kept (``etag``) for a copy that turns it back into an SSE-S3 object.

What is stored: ``ObjectVersion.extra["sse"]`` (and a multipart upload's extra),
absent for SSE-S3, else ``{"alg": "aws:kms"|"aws:kms:dsse", "kms": ARN, "bk": True?,
"ctx": base64?}`` or ``{"alg": "SSE-C", "md5": ..., "salt": hex, "mac": hex}``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.request_checks import SSE_HEADER

Sse = dict[str, Any]
SSE_S3 = "AES256"
SSE_C = "SSE-C"
KMS_ALGORITHMS = frozenset(("aws:kms", "aws:kms:dsse"))
CONTEXT_HEADER = "x-amz-server-side-encryption-context"
# Regions where new buckets do not block SSE-C (AWS's default-setting FAQ).
_SSE_C_ALLOWED_REGIONS = frozenset(("me-south-1", "me-central-1"))
_KEY_ID = re.compile(
    r"(mrk-)?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}|mrk-[0-9a-f]{32}"
)
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)/.+")
_MANAGED_KEYS = uuid.UUID("7d1c0a52-5b9e-4c61-9a3e-0c6f3f1b2a10")
_CUSTOMER = ("Algorithm", "Key", "KeyMD5")


@functools.cache
def default_rule(region: str) -> dict[str, Any]:
    """The encryption rule of a bucket never configured: SSE-S3, SSE-C blocked (shared:
    not to be changed)."""
    blocked = "NONE" if region in _SSE_C_ALLOWED_REGIONS else SSE_C
    return {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_S3},
        "BucketKeyEnabled": False,
        "BlockedEncryptionTypes": {"EncryptionType": [blocked]},
    }


def blocks_sse_c(rule: dict[str, Any]) -> bool:
    return SSE_C in ((rule.get("BlockedEncryptionTypes") or {}).get("EncryptionType") or [])


# -- SSE-C keys ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerKey:
    key: bytes
    md5: str


def customer_given(params: dict[str, Any], prefix: str = "SSECustomer") -> bool:
    return any(params.get(prefix + name) is not None for name in _CUSTOMER)


def customer_key(params: dict[str, Any], prefix: str = "SSECustomer") -> CustomerKey | None:
    """The SSE-C key a request gives (``prefix``: the copy source's trio), checked as S3
    checks it; None when it gives none."""
    algorithm = params.get(prefix + "Algorithm")
    key = params.get(prefix + "Key")
    md5 = params.get(prefix + "KeyMD5")
    if algorithm is None and key is None and md5 is None:
        return None
    if algorithm is None:
        raise errors.invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            SSE_HEADER,
            "null",
        )
    if key is None:
        raise errors.invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.",
            SSE_HEADER,
            "null",
        )
    if md5 is None:  # ceph/s3-tests' encryption_sse_c_no_md5 (not fails_on_aws)
        raise errors.invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.",
            SSE_HEADER,
            "null",
        )
    if algorithm != SSE_S3:
        raise errors.s3_error(
            "InvalidEncryptionAlgorithmError",
            "The Encryption request you specified is not valid. Supported value: AES256.",
            400,
            ArgumentName=SSE_HEADER,
            ArgumentValue=algorithm,
        )
    invalid = errors.invalid_argument(
        "The secret key was invalid for the specified algorithm.", SSE_HEADER, "null"
    )
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise invalid from None
    calculated = base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode()
    if md5 is not None and md5 != calculated:  # S3 checks the MD5 before the length
        raise errors.invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            SSE_HEADER,
            "null",
        )
    if len(raw) != 32:
        raise invalid
    return CustomerKey(raw, calculated)


def _mac(salt: bytes, key: bytes) -> str:
    return hmac.new(salt, key, hashlib.sha256).hexdigest()


def _same_key(sse: Sse, key: bytes) -> bool:
    return hmac.compare_digest(sse["mac"], _mac(bytes.fromhex(sse["salt"]), key))


# -- a new object's encryption -------------------------------------------------------


def for_write(
    params: dict[str, Any], rule: dict[str, Any], region: str, account: str
) -> Sse | None:
    """The encryption a write gives its object: the request's, else the bucket rule's
    (``rule``); None for SSE-S3. The caller has refused blocked SSE-C."""
    algorithm = params.get("ServerSideEncryption")
    if customer_given(params):
        if algorithm is not None:
            raise errors.invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with "
                "the encryption method specified",
                SSE_HEADER,
                algorithm,
            )
        customer = customer_key(params)
        assert customer is not None
        salt = os.urandom(16)
        return {
            "alg": SSE_C,
            "md5": customer.md5,
            "salt": salt.hex(),
            "mac": _mac(salt, customer.key),
        }
    key_id = params.get("SSEKMSKeyId")
    if algorithm is None:
        by_default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        algorithm = by_default.get("SSEAlgorithm") or SSE_S3
        key_id = by_default.get("KMSMasterKeyID")
    if algorithm not in KMS_ALGORITHMS:
        return None
    sse: Sse = {"alg": algorithm, "kms": key_arn(key_id, region, account)}
    bucket_key = params.get("BucketKeyEnabled")
    if bucket_key is None:
        bucket_key = bool(rule.get("BucketKeyEnabled"))
    if bucket_key and algorithm == "aws:kms":  # DSSE-KMS has no bucket keys
        sse["bk"] = True
    context = params.get("SSEKMSEncryptionContext")
    if context is not None:
        sse["ctx"] = check_context(context)
    return sse


def key_arn(key_id: str | None, region: str, account: str) -> str:
    """The ARN S3 reports for a KMS key id (None: the account's ``aws/s3`` key)."""
    if key_id is None:
        managed = uuid.uuid5(_MANAGED_KEYS, f"{account}:{region}")
        return f"arn:aws:kms:{region}:{account}:key/{managed}"
    if key_id.startswith("arn:"):
        match = _KEY_ARN.fullmatch(key_id)
        if match is None:
            raise _kms_not_found("Invalid arn")
        if match.group(1) != region:
            raise _kms_not_found(f"Invalid arn {match.group(1)}")
        return key_id
    if key_id.startswith("alias/") and len(key_id) > len("alias/"):
        return f"arn:aws:kms:{region}:{account}:{key_id}"
    if _KEY_ID.fullmatch(key_id):
        return f"arn:aws:kms:{region}:{account}:key/{key_id}"
    raise _kms_not_found(f"Invalid keyId {key_id}")  # as aws/aws-cli#4507 quotes it


def _kms_not_found(message: str) -> Exception:
    return errors.s3_error("KMS.NotFoundException", message, 400)


def check_context(value: str) -> str:
    """``x-amz-server-side-encryption-context``: base64 of UTF-8 JSON of a string map."""
    try:
        doc = json.loads(base64.b64decode(value, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError):
        doc = None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise errors.invalid_argument(
            f"The header '{CONTEXT_HEADER}' shall be Base64-encoded UTF-8 string holding "
            "JSON which represents a string-string map",
            CONTEXT_HEADER,
            value,
        )
    return value


def object_etag(sse: Sse | None, etag: str) -> str:
    """A single-part object's ETag: the MD5 for SSE-S3, else not (as S3's is not);
    the MD5 is then kept in ``sse`` (``content_etag``)."""
    if sse is None:
        return etag
    sse["etag"] = etag
    salted = hashlib.md5(etag.encode() + os.urandom(16), usedforsecurity=False).hexdigest()
    return f'"{salted}"'


def content_etag(sse: Sse | None, etag: str) -> str:
    """The MD5 ETag of an object's data, whatever its encryption."""
    return (sse or {}).get("etag") or etag


# -- answers -------------------------------------------------------------------------


def result(sse: Sse | None, *, context: bool = False, customer: bool = True) -> dict[str, Any]:
    """The output members naming an object's encryption. ``context``: the KMS context
    too (PutObject, CopyObject, CreateMultipartUpload); ``customer``: the SSE-C echo
    (all but CompleteMultipartUpload)."""
    if sse is None:
        return {"ServerSideEncryption": SSE_S3}
    algorithm = sse["alg"]
    if algorithm == SSE_C:
        if not customer:
            return {}
        return {"SSECustomerAlgorithm": SSE_S3, "SSECustomerKeyMD5": sse["md5"]}
    out: dict[str, Any] = {"ServerSideEncryption": algorithm, "SSEKMSKeyId": sse["kms"]}
    if sse.get("bk"):
        out["BucketKeyEnabled"] = True
    if context and sse.get("ctx"):
        out["SSEKMSEncryptionContext"] = sse["ctx"]
    return out


# -- reads and parts -----------------------------------------------------------------


def check_read(sse: Sse | None, params: dict[str, Any], prefix: str = "SSECustomer") -> None:
    """A read (GET, HEAD, GetObjectAttributes) or copy of an object: an SSE-C object
    needs its key, any other refuses one. ``prefix``: ``CopySourceSSECustomer``."""
    given = customer_given(params, prefix)
    if sse is None or sse.get("alg") != SSE_C:
        if given:
            raise errors.invalid_request(
                "The encryption parameters are not applicable to this object."
            )
        return
    if not given:
        raise errors.invalid_request(
            "The object was stored using a form of Server Side Encryption. The correct "
            "parameters must be provided to retrieve the object."
        )
    md5 = params.get(prefix + "KeyMD5")
    if md5 is not None and params.get(prefix + "Key") is not None and md5 != sse["md5"]:
        raise _wrong_key()
    customer = customer_key(params, prefix)
    if customer is None or not _same_key(sse, customer.key):
        raise _wrong_key()


def _wrong_key() -> Exception:
    return errors.s3_error(
        "AccessDenied",
        "Requests specifying Server Side Encryption with Customer provided keys must "
        "provide the correct secret key.",
        403,
    )


def check_part(sse: Sse | None, params: dict[str, Any]) -> None:
    """UploadPart (and UploadPartCopy's target): the upload's SSE-C key, or none."""
    is_customer = sse is not None and sse.get("alg") == SSE_C
    if is_customer != customer_given(params):
        raise errors.invalid_request(
            "The multipart upload initiate requested encryption. Subsequent part requests "
            "must include the appropriate encryption parameters."
        )
    if not is_customer:
        return
    customer = customer_key(params)
    if customer is None or not _same_key(sse, customer.key):  # type: ignore[arg-type]
        raise errors.invalid_request(
            "The provided encryption parameters did not match the ones used originally."
        )


def blocked_error(principal_arn: str, action: str, resource: str) -> Exception:
    return errors.s3_error(
        "AccessDenied",
        f"User: {principal_arn} is not authorized to perform: {action} on resource: "
        f'"{resource}" because this bucket has blocked upload requests that specify '
        "Server Side Encryption with Customer provided keys (SSE-C). Please specify a "
        "different server-side encryption type",
        403,
    )
