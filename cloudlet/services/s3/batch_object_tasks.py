"""The Batch Operations tasks that act on stored objects themselves: S3ComputeObjectChecksum
and S3UpdateObjectEncryption.

Why a module of its own: these two have no S3 request a task could make as the other
operations do (``batch_tasks.py``): Compute checksum reads objects "at rest", without
downloading or restoring them, and update object encryption changes a version's
encryption in place. Both work on S3's own store, through S3's lookups (``_bucket``,
``_find``: the missing-bucket, key, version and delete-marker answers are S3's), on the
buckets of the job's account (another account's bucket is ``AccessDenied``).

- **S3ComputeObjectChecksum** (the S3 User Guide's "Compute checksums"): the object's
  bytes are read from its blob, whatever its storage class (archived objects need no
  restore), in pieces, and hashed with ``checksums.py``'s hashers, so every algorithm
  S3 knows gives the value S3's uploads would. ``FULL_OBJECT`` hashes the whole object;
  ``COMPOSITE`` hashes each part of a multipart object at its stored part boundaries and
  then the parts' digests, the "checksum of checksums" with its ``-<parts>`` suffix
  (an object uploaded in one piece has a single part: its full-object value). SSE-C
  objects are refused, as the User Guide says. Nothing of the object changes. The
  result is the task's ``ResultMessage`` in the completion report, a JSON object:
  ``checksum_base64``, ``etag``, ``checksumAlgorithm``, ``checksumType``,
  ``checksum_hex`` (the report is where AWS delivers a Compute checksum job's values).
- **S3UpdateObjectEncryption**: ``object_encryption.py``'s in-place change, with the
  job's KMS key ARN and Bucket Key flag, on the manifest's version (or the current
  one): same version id, ETag, dates and checksums.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.batch_jobs import Job, Task, TaskResult
from cloudlet.services.s3.checksums import COMPOSITE, Hasher, new_hasher
from cloudlet.services.s3.encryption import SSE_C
from cloudlet.services.s3.object_encryption import update_object_encryption
from cloudlet.services.s3.store import Bucket, ObjectVersion

THREAD_PIECE = 256 * 1024
"""Pieces at least this long are hashed in a worker thread, off the event loop."""
SSE_C_REFUSED = (
    "The Compute checksum operation doesn't support objects encrypted with server-side "
    "encryption with customer-provided keys (SSE-C)."
)


def _own_bucket(s3: Any, job: Job, name: str) -> Bucket:
    bucket = s3._bucket(name)
    if bucket.account != job.account:
        raise errors.s3_error("AccessDenied", "Access Denied", 403)
    return bucket


# -- S3ComputeObjectChecksum --------------------------------------------------------------


async def compute_checksum(s3: Any, job: Job, spec: dict[str, Any], task: Task) -> TaskResult:
    """Compute the checksum a task's object has under the job's algorithm and type."""
    bucket = _own_bucket(s3, job, task.bucket)
    version = s3._find(bucket, task.key, task.version_id, "GET")
    if (version.extra.get("sse") or {}).get("alg") == SSE_C:
        raise errors.invalid_request(SSE_C_REFUSED)
    algorithm, kind = spec["ChecksumAlgorithm"], spec["ChecksumType"]
    sizes = (version.parts or {}).get("sizes") or []
    if kind == COMPOSITE and len(sizes) > 0 and version.parts:
        digest, suffix = await _composite(s3, version, algorithm, sizes), f"-{len(sizes)}"
    else:
        hasher = new_hasher(algorithm)
        async for piece in _pieces(s3, version):
            await _update(hasher, piece)
        digest, suffix = hasher.digest(), ""
    result = {
        "checksum_base64": base64.b64encode(digest).decode() + suffix,
        "etag": (version.etag or "").strip('"'),
        "checksumAlgorithm": algorithm,
        "checksumType": kind,
        "checksum_hex": digest.hex() + suffix,
    }
    return TaskResult(True, 200, "", json.dumps(result, separators=(",", ":")))


async def _composite(s3: Any, version: ObjectVersion, algorithm: str, sizes: list[int]) -> bytes:
    """``algorithm`` over the digests of the object's parts (``sizes``: their lengths)."""
    digests: list[bytes] = []
    part, left = new_hasher(algorithm), sizes[0]
    async for piece in _pieces(s3, version):
        view = memoryview(piece)
        while view:
            while left == 0 and len(digests) + 1 < len(sizes):
                digests.append(part.digest())
                part, left = new_hasher(algorithm), sizes[len(digests)]
            take = view[:left] if left else view
            await _update(part, bytes(take))
            left -= min(left, len(take))
            view = view[len(take) :]
    digests.append(part.digest())
    digests += [new_hasher(algorithm).digest() for _ in range(len(sizes) - len(digests))]
    whole = new_hasher(algorithm)
    for value in digests:
        whole.update(value)
    return whole.digest()


async def _pieces(s3: Any, version: ObjectVersion) -> AsyncIterator[bytes]:
    """The bytes of an object version, a piece at a time."""
    if not version.blob_id or version.size == 0:
        return
    try:
        reader = s3.blobs.reader(version.blob_id)
    except FileNotFoundError:  # deleted since it was looked up
        raise errors.no_such_key(version.key) from None
    async for piece in reader:
        yield piece


async def _update(hasher: Hasher, piece: bytes | memoryview) -> None:
    if len(piece) >= THREAD_PIECE:
        await asyncio.to_thread(hasher.update, piece)
    else:
        hasher.update(piece)


# -- S3UpdateObjectEncryption -------------------------------------------------------------


async def update_encryption(s3: Any, job: Job, spec: dict[str, Any], task: Task) -> TaskResult:
    """Re-encrypt a task's object with the job's SSE-KMS key, in place."""
    _own_bucket(s3, job, task.bucket)
    kms = spec["ObjectEncryption"]["SSEKMS"]
    update_object_encryption(
        s3, task.bucket, task.key, task.version_id, kms["KMSKeyArn"], kms.get("BucketKeyEnabled")
    )
    return TaskResult(True)
