"""One Batch Operations task: the call a job makes for one object of its manifest.

Why it is built this way: a task is the S3 (or Lambda) operation AWS documents for the
job's operation, made in-process through ``ServiceEnv.call`` as the job's account, so it
meets S3's own checks (object lock, ACLs disabled, archived objects...) and its failure
is S3's: the error code, HTTP status and message of the report. The operations:

- ``S3PutObjectTagging`` / ``S3DeleteObjectTagging`` / ``S3PutObjectAcl`` /
  ``S3PutObjectLegalHold`` / ``S3PutObjectRetention`` / ``S3InitiateRestoreObject``: the
  S3 operation of that name, on the manifest's version (or the current one).
- ``S3PutObjectCopy``: CopyObject into ``TargetResource`` as ``<TargetKeyPrefix>/<key>``
  with the job's metadata, tags, storage class, ACL, checksum, lock and encryption.
- ``S3ReplicateObject`` (Batch Replication): the version is queued through the bucket's
  replication configuration (``replication.py``'s engine, as a client write would be)
  and the task waits for it to settle: COMPLETED (or, for a replica, copied) succeeds;
  FAILED fails with the replication failure reason S3 reports (DstBucketNotFound,
  DstBucketUnversioned); a bucket without a configuration fails with
  SrcBucketReplicationConfigMissing and a version no enabled rule selects with
  SrcObjectNotEligible (the reasons of S3's "Replication failure reasons" page).
- ``S3ComputeObjectChecksum`` / ``S3UpdateObjectEncryption``: no S3 request stands for
  them; ``batch_object_tasks.py`` reads or re-encrypts the object in S3's store.
- ``LambdaInvoke``: the function gets AWS's event (schema 1.0, or 2.0 with
  ``UserArguments``) for one task and its ``results`` decide: Succeeded,
  PermanentFailure, or TemporaryFailure, retried up to ``LAMBDA_ATTEMPTS`` times; a
  function error fails the task at once, as S3 reports a function that timed out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, urlencode

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import errors
from cloudlet.services.s3.batch_checks import bucket_of
from cloudlet.services.s3.batch_jobs import Job, Task, TaskResult
from cloudlet.services.s3.batch_object_tasks import compute_checksum, update_encryption
from cloudlet.services.s3.replication import FAILED, delay_from_env

log = logging.getLogger(__name__)

LAMBDA_ATTEMPTS = 3
REPLICATION_WAIT = 300.0
"""Seconds a replication task waits for its copy, past ``CLOUDLET_S3_REPLICATION_DELAY``."""
_TIERS = {"BULK": "Bulk", "STANDARD": "Standard"}
_GRANTEES = {
    "id": ("CanonicalUser", "ID"),
    "emailAddress": ("AmazonCustomerByEmail", "EmailAddress"),
    "uri": ("Group", "URI"),
}
_GRANT_HEADERS = {
    "FULL_CONTROL": "GrantFullControl",
    "READ": "GrantRead",
    "READ_ACP": "GrantReadACP",
    "WRITE_ACP": "GrantWriteACP",
}
_COPY_METADATA = {
    "CacheControl": "CacheControl",
    "ContentDisposition": "ContentDisposition",
    "ContentEncoding": "ContentEncoding",
    "ContentLanguage": "ContentLanguage",
    "ContentType": "ContentType",
}
_COPY_LOCK = {
    "ObjectLockLegalHoldStatus": "ObjectLockLegalHoldStatus",
    "ObjectLockMode": "ObjectLockMode",
    "ObjectLockRetainUntilDate": "ObjectLockRetainUntilDate",
    "BucketKeyEnabled": "BucketKeyEnabled",
    "StorageClass": "StorageClass",
    "ChecksumAlgorithm": "ChecksumAlgorithm",
    "SSEAwsKmsKeyId": "SSEKMSKeyId",
    "RedirectLocation": "WebsiteRedirectLocation",
    "ModifiedSinceConstraint": "CopySourceIfModifiedSince",
    "UnModifiedSinceConstraint": "CopySourceIfUnmodifiedSince",
}


def _failed(code: str, message: str, status: int = 400) -> TaskResult:
    return TaskResult(False, status, code, message)


async def run_task(control: Any, job: Job, task: Task) -> TaskResult:
    """Do one task of ``job``; how it ended (never raises but for cancellation)."""
    name = job.operation
    spec = job.request["Operation"][name] or {}
    try:
        if name == "S3ReplicateObject":
            return await _replicate(control.s3, task)
        if name == "LambdaInvoke":
            return await _invoke(control.env, job, spec, task)
        if name == "S3ComputeObjectChecksum":
            return await compute_checksum(control.s3, job, spec, task)
        if name == "S3UpdateObjectEncryption":
            return await update_encryption(control.s3, job, spec, task)
        operation, params = s3_call(name, spec, task)
        await control.env.call("s3", operation, params, account=job.account, region=job.region)
        return TaskResult(True)
    except ServiceError as exc:
        return _failed(exc.code, exc.message, exc.status)
    except Exception:  # noqa: BLE001 - one task's fault must not stop its job
        log.exception("batch job %s: task %d failed", job.id, task.seq)
        return _failed("InternalError", "We encountered an internal error. Please try again.", 500)


# -- the S3 operations ------------------------------------------------------------------------


def _object(task: Task) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": task.bucket, "Key": task.key}
    if task.version_id:
        params["VersionId"] = task.version_id
    return params


def s3_call(name: str, spec: dict[str, Any], task: Task) -> tuple[str, dict[str, Any]]:
    """The S3 operation and params a task of operation ``name`` makes."""
    params = _object(task)
    if name == "S3PutObjectTagging":
        return "PutObjectTagging", {**params, "Tagging": {"TagSet": spec.get("TagSet") or []}}
    if name == "S3DeleteObjectTagging":
        return "DeleteObjectTagging", params
    if name == "S3PutObjectAcl":
        return "PutObjectAcl", {**params, **_acl(spec.get("AccessControlPolicy") or {})}
    if name == "S3PutObjectLegalHold":
        return "PutObjectLegalHold", {**params, "LegalHold": spec["LegalHold"]}
    if name == "S3PutObjectRetention":
        retention = {k: v for k, v in (spec.get("Retention") or {}).items() if v is not None}
        params["Retention"] = retention
        if spec.get("BypassGovernanceRetention"):
            params["BypassGovernanceRetention"] = True
        return "PutObjectRetention", params
    if name == "S3InitiateRestoreObject":
        request: dict[str, Any] = {}
        if spec.get("ExpirationInDays") is not None:
            request["Days"] = spec["ExpirationInDays"]
        if spec.get("GlacierJobTier"):
            request["GlacierJobParameters"] = {"Tier": _TIERS[spec["GlacierJobTier"]]}
        return "RestoreObject", {**params, "RestoreRequest": request}
    if name == "S3PutObjectCopy":
        return "CopyObject", _copy(spec, task)
    raise errors.s3_error("NotImplemented", f"{name} is not implemented in cloudlet", 501)


def _grantee(grantee: dict[str, Any]) -> dict[str, Any]:
    kind, member = _GRANTEES.get(grantee.get("TypeIdentifier") or "", ("CanonicalUser", "ID"))
    return {"Type": kind, member: grantee.get("Identifier")}


def _acl(policy: dict[str, Any]) -> dict[str, Any]:
    if policy.get("CannedAccessControlList"):
        return {"ACL": policy["CannedAccessControlList"]}
    acl = policy.get("AccessControlList") or {}
    document: dict[str, Any] = {
        "Grants": [
            {"Grantee": _grantee(g.get("Grantee") or {}), "Permission": g.get("Permission")}
            for g in acl.get("Grants") or []
        ]
    }
    if (acl.get("Owner") or {}).get("ID"):
        document["Owner"] = {"ID": acl["Owner"]["ID"]}
    return {"AccessControlPolicy": document}


def _copy(spec: dict[str, Any], task: Task) -> dict[str, Any]:
    source = quote(f"{task.bucket}/{task.key}".encode("utf-8", "surrogateescape"), safe="/")
    if task.version_id:
        source += "?versionId=" + quote(task.version_id, safe="")
    prefix = spec.get("TargetKeyPrefix") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    params: dict[str, Any] = {
        "Bucket": bucket_of(spec.get("TargetResource"), "target bucket"),
        "Key": prefix + task.key,
        "CopySource": source,
    }
    if spec.get("MetadataDirective"):
        params["MetadataDirective"] = spec["MetadataDirective"]
    metadata = spec.get("NewObjectMetadata") or {}
    for member, name in _COPY_METADATA.items():
        if metadata.get(member) is not None:
            params[name] = metadata[member]
    if metadata.get("UserMetadata"):
        params["Metadata"] = dict(metadata["UserMetadata"])
    if isinstance(metadata.get("HttpExpiresDate"), datetime):
        params["Expires"] = format_datetime(metadata["HttpExpiresDate"], usegmt=True)
    if metadata.get("SSEAlgorithm"):
        params["ServerSideEncryption"] = (
            "aws:kms" if metadata["SSEAlgorithm"] == "KMS" else "AES256"
        )
    for member, name in _COPY_LOCK.items():
        if spec.get(member) is not None:
            params[name] = spec[member]
    if params.get("SSEKMSKeyId"):
        params["ServerSideEncryption"] = "aws:kms"
    if spec.get("NewObjectTagging"):
        params["TaggingDirective"] = "REPLACE"
        params["Tagging"] = urlencode(
            [(t["Key"], t.get("Value", "")) for t in spec["NewObjectTagging"]]
        )
    if spec.get("CannedAccessControlList"):
        params["ACL"] = spec["CannedAccessControlList"]
    for grant in spec.get("AccessControlGrants") or []:
        header = _GRANT_HEADERS.get(grant.get("Permission") or "")
        grantee = grant.get("Grantee") or {}
        if header is None:
            continue
        text = f'{grantee.get("TypeIdentifier", "id")}="{grantee.get("Identifier", "")}"'
        params[header] = f"{params[header]}, {text}" if params.get(header) else text
    return params


# -- Batch Replication --------------------------------------------------------------------


async def _replicate(s3: Any, task: Task) -> TaskResult:
    bucket = s3._bucket(task.bucket)
    if task.version_id is None:
        version = s3.store.latest(bucket.name, task.key)
        if version is None or version.delete_marker:
            raise errors.no_such_key(task.key)
    else:
        version = s3.store.version(bucket.name, task.key, task.version_id)
        if version is None:
            raise errors.no_such_version(task.key, task.version_id)
    if not s3.configs.get(bucket.name, "replication"):
        return _failed(
            "SrcBucketReplicationConfigMissing",
            "Amazon S3 couldn't find a replication configuration for the source bucket.",
        )
    targets = s3._replicate_existing(version)
    if not targets:
        return _failed(
            "SrcObjectNotEligible",
            "The object isn't eligible for replication: no enabled rule of the source "
            "bucket's replication configuration selects it, or its storage class is not "
            "replicated.",
        )
    deadline = clock.monotonic() + REPLICATION_WAIT + delay_from_env()
    pause = 0.005
    while s3._replication_queued(version):
        if clock.monotonic() > deadline:
            return _failed("RequestTimeout", "The replication of the object did not finish.", 500)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
    settled = s3.store.version(version.bucket, version.key, version.version_id)
    if settled is None:
        raise errors.no_such_version(task.key, version.version_id)
    if settled.extra.get("replication") != FAILED:
        return TaskResult(True)
    for target in targets:
        destination = s3.store.get_bucket(target["bucket"])
        if destination is None:
            return _failed(
                "DstBucketNotFound",
                f"Amazon S3 is unable to find the destination bucket {target['bucket']}.",
                404,
            )
        if not destination.versioned:
            return _failed(
                "DstBucketUnversioned",
                f"Versioning is not enabled for the destination bucket {target['bucket']}.",
            )
    return _failed("InternalError", "The object failed to replicate.", 500)


# -- LambdaInvoke -------------------------------------------------------------------------


def task_id(job: Job, task: Task) -> str:
    return base64.b64encode(f"{job.id}:{task.seq}".encode()).decode()


def lambda_event(job: Job, spec: dict[str, Any], task: Task) -> dict[str, Any]:
    """The event S3 Batch Operations sends a function for one task (the S3 User Guide's
    "Invoke AWS Lambda function" schemas: 1.0 URL-encodes the key and names the bucket
    by ARN; 2.0 names the bucket and carries the job's ``UserArguments``)."""
    version = spec.get("InvocationSchemaVersion") or "1.0"
    job_part: dict[str, Any] = {"id": job.id}
    if version == "2.0":
        job_part["userArguments"] = dict(spec.get("UserArguments") or {})
        entry: dict[str, Any] = {
            "taskId": task_id(job, task),
            "s3Bucket": task.bucket,
            "s3Key": task.key,
            "s3VersionId": task.version_id,
        }
    else:
        entry = {
            "taskId": task_id(job, task),
            "s3Key": quote(task.key.encode("utf-8", "surrogateescape"), safe="/"),
            "s3VersionId": task.version_id,
            "s3BucketArn": f"arn:aws:s3:::{task.bucket}",
        }
    return {
        "invocationSchemaVersion": version,
        "invocationId": base64.b64encode(fast_uuid().encode()).decode(),
        "job": job_part,
        "tasks": [entry],
    }


async def _invoke(env: Any, job: Job, spec: dict[str, Any], task: Task) -> TaskResult:
    arn = spec["FunctionArn"]
    parts = arn.split(":")
    result = _failed("TemporaryFailure", "The function was not invoked.", 200)
    for _attempt in range(LAMBDA_ATTEMPTS):
        event = lambda_event(job, spec, task)
        out = await env.call(
            "lambda",
            "Invoke",
            {"FunctionName": arn, "Payload": json.dumps(event).encode()},
            account=parts[4],
            region=parts[3],
        )
        payload = out.get("Payload") or b""
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        if out.get("FunctionError"):
            return _failed("PermanentFailure", f"Lambda returned function error: {text}", 200)
        result = _lambda_result(text, event["tasks"][0]["taskId"])
        if result.code != "TemporaryFailure":
            return result
    return result


def _lambda_result(text: str, wanted: str) -> TaskResult:
    """What a function's response says of task ``wanted``."""
    try:
        response = json.loads(text)
        results = response.get("results") or []
    except (ValueError, AttributeError):
        return _failed("PermanentFailure", f"Lambda returned an invalid response: {text}", 200)
    missing = response.get("treatMissingKeysAs") or "PermanentFailure"
    found = next((r for r in results if isinstance(r, dict) and r.get("taskId") == wanted), None)
    code = missing if found is None else found.get("resultCode")
    message = "" if found is None else str(found.get("resultString") or "")
    if code == "Succeeded":
        return TaskResult(True, 200, "", message)
    if code == "TemporaryFailure":
        return _failed("TemporaryFailure", message, 200)
    return _failed("PermanentFailure", message, 200)
