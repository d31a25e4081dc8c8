"""Buffered records as S3 objects: their names, bytes, and the PutObject that writes them.

Why one module: the destination's objects, error records and source-record backups are
all named and compressed the same way. Names follow the developer guide's
``<evaluated prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><ext>``,
timed (prefix and suffix alike) by the arrival of the oldest record in the object, in
the destination's ``CustomTimeZone`` (UTC by default). Records are concatenated as
they came (a delimiter only with ``AppendDelimiterToRecord``); GZIP objects end in
``.gz``, ZIP ones (one entry, named like the object without ``.zip``) in ``.zip``,
``Snappy`` ones (Snappy's framing format, what ``snappy -c`` and python-snappy's stream
functions read) in ``.snappy`` and ``HADOOP_SNAPPY`` ones (Hadoop's block format, what
Hadoop's ``SnappyCodec`` reads) in ``.hsnappy``, the developer guide's table of
extensions, unless ``FileExtension`` says otherwise. Snappy itself is the ``cramjam``
library's. A ``KMSEncryptionConfig`` asks S3 for SSE-KMS
with its key.

Objects go through S3's own PutObject in-process (its validation, events and
notifications apply), as the destination's role: strict mode first asks IAM whether
that role may ``s3:PutObject`` there (``access.role_may``). Failures come back as
``DeliveryError`` with the developer guide's codes (``S3.NoSuchBucket``,
``S3.AccessDenied`` ...), for the caller to retry.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import uuid
import zipfile
import zoneinfo
from datetime import UTC, datetime, tzinfo
from typing import Any

import cramjam

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.firehose.access import role_may

Doc = dict[str, Any]
EXTENSIONS = {"GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy", "HADOOP_SNAPPY": ".hsnappy"}
HADOOP_BLOCK = 256 * 1024 - (256 * 1024 // 6 + 32)
"""Bytes of input in one Hadoop-Snappy block: ``SnappyCodec``'s 256 KiB buffer less its
compression overhead, so any Hadoop reader's buffer holds a compressed block."""
S3_CODES = {
    "NoSuchBucket": (
        "S3.NoSuchBucket",
        "The specified bucket does not exist. Create the bucket or use a different bucket "
        "that does exist.",
    ),
    "AccessDenied": (
        "S3.AccessDenied",
        "Access was denied. Ensure that the trust policy for the provided IAM role allows "
        "Firehose to assume the role, and the access policy allows access to the S3 bucket.",
    ),
}


class DeliveryError(Exception):
    def __init__(self, code: str, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent


def zone(config: Doc) -> tzinfo:
    name = config.get("CustomTimeZone")
    return zoneinfo.ZoneInfo(name) if name else UTC


def moment(seconds: float, config: Doc) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).astimezone(zone(config))


def object_key(prefix: str, stream: Any, when: datetime, extension: str) -> str:
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
    return f"{prefix}{stream.name}-{stream.version}-{stamp}-{uuid.uuid4()}{extension}"


def body(records: list[bytes], compression: str, delimiter: bytes | None, name: str) -> bytes:
    """The object's bytes: ``records`` joined (each ended by ``delimiter``), compressed."""
    raw = b"".join(r + delimiter for r in records) if delimiter else b"".join(records)
    if compression == "GZIP":
        return gzip.compress(raw, mtime=0)
    if compression == "ZIP":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name.rsplit("/", 1)[-1].removesuffix(".zip"), raw)
        return buffer.getvalue()
    if compression == "Snappy":
        return bytes(cramjam.snappy.compress(raw))
    if compression == "HADOOP_SNAPPY":
        return hadoop_snappy(raw)
    return raw


def hadoop_snappy(raw: bytes) -> bytes:
    """``raw`` in Hadoop's block format: per block, its uncompressed length (32-bit
    big-endian), then its one chunk of raw Snappy, length first."""
    out = bytearray()
    for start in range(0, len(raw), HADOOP_BLOCK):
        block = raw[start : start + HADOOP_BLOCK]
        chunk = bytes(cramjam.snappy.compress_raw(block))
        out += struct.pack(">II", len(block), len(chunk)) + chunk
    return bytes(out)


def extension(config: Doc, *, own: bool = True) -> str:
    """The object name's ending: ``FileExtension`` (destination objects only), else the
    compression's."""
    if own and config.get("FileExtension"):
        return config["FileExtension"]
    return EXTENSIONS.get(config.get("CompressionFormat") or "", "")


def bucket_of(config: Doc) -> str:
    return config["BucketARN"].split(":::", 1)[-1]


def error_lines(rows: list[Any]) -> list[bytes]:
    """Failed records as the error records AWS writes (one JSON document a line)."""
    out = []
    for row in rows:
        meta = dict(row.meta or {})
        doc = {
            "attemptsMade": meta.pop("attemptsMade", 1),
            "arrivalTimestamp": int(row.arrival * 1000),
            "errorCode": meta.pop("errorCode", "InternalError"),
            "errorMessage": meta.pop("errorMessage", ""),
            "attemptEndingTimestamp": meta.pop("attemptEndingTimestamp", 0),
            "rawData": base64.b64encode(row.data).decode(),
            **meta,
        }
        out.append(json.dumps(doc, separators=(",", ":")).encode() + b"\n")
    return out


async def put(env: Any, stream: Any, config: Doc, key: str, data: bytes) -> None:
    """PutObject ``data`` at ``key`` of the configuration's bucket, as its role."""
    bucket = bucket_of(config)
    if not role_may(env, config.get("RoleARN"), "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"):
        raise DeliveryError(*S3_CODES["AccessDenied"])
    params: Doc = {"Bucket": bucket, "Key": key, "Body": data, "ContentLength": len(data)}
    kms = (config.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig")
    if kms:
        params.update({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms["AWSKMSKeyARN"]})
    try:
        await env.call("s3", "PutObject", params, account=stream.account, region=stream.region)
    except ServiceError as err:
        code, message = S3_CODES.get(err.code, (f"S3.{err.code}", err.message))
        raise DeliveryError(code, message) from None
    except NotImplementedOperation as err:
        raise DeliveryError("InternalError", err.message) from None
