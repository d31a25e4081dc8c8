"""What S3 Control refuses in a Batch Operations request, and the errors it answers.

Why a module of its own: CreateJob carries a whole job (an operation, a manifest or a
manifest generator, a report, tags) and every part has rules of its own; checking
them here, before anything is stored, means a job that exists was well formed, and the
runner (``batch_runner.py``) never meets a request it cannot read. Everything found
wrong is S3 Control's ``BadRequestException`` (400), as the API reference lists it for
a malformed CreateJob, and an operation's own rules (a checksum algorithm and type, an
SSE-KMS key ARN) use the words of the S3 operation it stands for. The other errors of the job operations live here too, so their words are in one place.
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.core.tags import tag_text_ok
from cloudlet.services.s3.checksums import ALGORITHMS, COMPOSITE, COMPOSITE_ALGORITHMS, FULL_OBJECT
from cloudlet.services.s3.object_encryption import target_key

OPERATIONS = (
    "LambdaInvoke",
    "S3PutObjectCopy",
    "S3PutObjectAcl",
    "S3PutObjectTagging",
    "S3DeleteObjectTagging",
    "S3InitiateRestoreObject",
    "S3PutObjectLegalHold",
    "S3PutObjectRetention",
    "S3ReplicateObject",
    "S3ComputeObjectChecksum",
    "S3UpdateObjectEncryption",
)
"""The operations cloudlet runs: every OperationName of the model."""
CSV_MANIFEST = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST = "S3InventoryReport_CSV_20161130"
GENERATED_MANIFEST = "S3InventoryReport_CSV_20211130"
REPORT_FORMAT = "Report_CSV_20180820"
REPLICATION_STATUSES = ("COMPLETED", "FAILED", "REPLICA", "NONE")
MAX_PRIORITY = 2_147_483_647
MAX_TAGS = 50
_BUCKET_ARN = re.compile(r"arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
_OBJECT_ARN = re.compile(r"arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)", re.S)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?"
)


# -- errors -------------------------------------------------------------------------------


def bad_request(message: str) -> ServiceError:
    return ServiceError("BadRequestException", message, 400)


def not_found() -> ServiceError:
    return ServiceError("NotFoundException", "The specified job does not exist", 404)


def job_status(message: str) -> ServiceError:
    return ServiceError("JobStatusException", message, 400)


def idempotency() -> ServiceError:
    return ServiceError(
        "IdempotencyException",
        "The request uses the same client request token as a previous, but non-identical "
        "request. Do not reuse a client request token with different requests, unless "
        "the requests are identical.",
        409,
    )


def too_many_tags() -> ServiceError:
    return ServiceError("TooManyTagsException", f"A job can have at most {MAX_TAGS} tags", 400)


def invalid_next_token() -> ServiceError:
    return ServiceError("InvalidNextTokenException", "The continuation token is not valid", 400)


# -- ARNs ---------------------------------------------------------------------------------


def bucket_of(arn: Any, what: str) -> str:
    """The bucket a general purpose bucket ARN names (``BadRequestException`` otherwise)."""
    found = _BUCKET_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if found is None:
        raise bad_request(f"Invalid {what} ARN: {arn}")
    return found.group(1)


def object_of(arn: Any) -> tuple[str, str]:
    """(bucket, key) of a manifest's ``arn:aws:s3:::bucket/key``."""
    found = _OBJECT_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if found is None:
        raise bad_request(f"Invalid manifest object ARN: {arn}")
    return found.group(1), found.group(2)


# -- CreateJob ----------------------------------------------------------------------------


def check_create_job(params: dict[str, Any]) -> str:
    """Refuse a malformed CreateJob; the name of its operation otherwise."""
    name = _check_operation(params.get("Operation"))
    if (params.get("Manifest") is None) == (params.get("ManifestGenerator") is None):
        raise bad_request("Exactly one of Manifest or ManifestGenerator must be specified")
    if params.get("Manifest") is not None:
        _check_manifest(params["Manifest"])
    else:
        _check_generator(params["ManifestGenerator"])
    _check_report(params.get("Report"))
    priority = params.get("Priority")
    if not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise bad_request(f"Priority must be an integer from 0 to {MAX_PRIORITY}")
    if not isinstance(params.get("RoleArn"), str) or not _ROLE_ARN.fullmatch(params["RoleArn"]):
        raise bad_request(f"Invalid IAM role ARN: {params.get('RoleArn')}")
    description = params.get("Description")
    if description is not None and not 1 <= len(description) <= 256:
        raise bad_request("Description must be 1 to 256 characters long")
    token = params.get("ClientRequestToken")
    if not isinstance(token, str) or not 1 <= len(token) <= 64:
        raise bad_request("ClientRequestToken must be 1 to 64 characters long")
    check_tags(params.get("Tags") or [], bad_request(f"A job can have at most {MAX_TAGS} tags"))
    return name


def _check_operation(operation: Any) -> str:
    chosen = [k for k, v in (operation or {}).items() if v is not None]
    if len(chosen) != 1:
        raise bad_request("Exactly one operation must be specified for a job")
    name = chosen[0]
    if name not in OPERATIONS:
        raise bad_request(f"Unknown operation: {name}")
    spec = operation[name] or {}
    if name == "LambdaInvoke":
        _check_lambda(spec)
    elif name == "S3PutObjectCopy":
        bucket_of(spec.get("TargetResource"), "target bucket")
        directive = spec.get("MetadataDirective")
        if directive is not None and directive not in ("COPY", "REPLACE"):
            raise bad_request(f"Invalid MetadataDirective: {directive}")
    elif name == "S3PutObjectTagging":
        tags = spec.get("TagSet") or []  # none: the objects' tags are removed
        check_tags(tags, bad_request("Object tags cannot be greater than 10"), limit=10)
    elif name == "S3PutObjectLegalHold":
        if (spec.get("LegalHold") or {}).get("Status") not in ("ON", "OFF"):
            raise bad_request("S3PutObjectLegalHold requires a LegalHold Status of ON or OFF")
    elif name == "S3PutObjectRetention":
        retention = spec.get("Retention")
        if retention is None:
            raise bad_request("S3PutObjectRetention requires a Retention")
        if (retention.get("Mode") is None) != (retention.get("RetainUntilDate") is None):
            raise bad_request("A Retention needs both Mode and RetainUntilDate, or neither")
    elif name == "S3InitiateRestoreObject":
        days = spec.get("ExpirationInDays")
        if days is not None and days < 1:
            raise bad_request("ExpirationInDays must be at least 1")
    elif name == "S3ComputeObjectChecksum":
        _check_compute_checksum(spec)
    elif name == "S3UpdateObjectEncryption":
        _check_update_encryption(spec)
    elif name == "S3PutObjectAcl":
        policy = spec.get("AccessControlPolicy") or {}
        if (policy.get("AccessControlList") is None) == (
            policy.get("CannedAccessControlList") is None
        ):
            raise bad_request(
                "An AccessControlPolicy needs exactly one of AccessControlList and "
                "CannedAccessControlList"
            )
    return name


def _check_compute_checksum(spec: dict[str, Any]) -> None:
    """S3ComputeObjectChecksum: one of the model's algorithms and a checksum type. Every
    algorithm can be computed over the full object (the job reads all of it); a
    composite checksum is one S3 can keep for a multipart upload, so not CRC64NVME, as
    CreateMultipartUpload refuses it."""
    algorithm, kind = spec.get("ChecksumAlgorithm"), spec.get("ChecksumType")
    if algorithm is None:
        raise bad_request("S3ComputeObjectChecksum requires a ChecksumAlgorithm")
    if algorithm not in ALGORITHMS:
        raise bad_request(
            f"Invalid ChecksumAlgorithm: {algorithm}; valid values: {', '.join(ALGORITHMS)}"
        )
    if kind is None:
        raise bad_request("S3ComputeObjectChecksum requires a ChecksumType")
    if kind not in (FULL_OBJECT, COMPOSITE):
        raise bad_request(f"Invalid ChecksumType: {kind}; valid values: FULL_OBJECT, COMPOSITE")
    if kind == COMPOSITE and algorithm not in COMPOSITE_ALGORITHMS:
        raise bad_request(
            f"The {COMPOSITE} checksum type cannot be used with the {algorithm} checksum algorithm"
        )


def _check_update_encryption(spec: dict[str, Any]) -> None:
    """S3UpdateObjectEncryption: the only new encryption type is SSE-KMS, with a key ARN
    (the messages are those of S3's UpdateObjectEncryption ``InvalidRequest``s)."""
    target_key(spec.get("ObjectEncryption"), bad_request)


def _check_lambda(spec: dict[str, Any]) -> None:
    arn = spec.get("FunctionArn")
    if not isinstance(arn, str) or not _FUNCTION_ARN.fullmatch(arn):
        raise bad_request(f"Invalid Lambda function ARN: {arn}")
    version = spec.get("InvocationSchemaVersion") or "1.0"
    if version not in ("1.0", "2.0"):
        raise bad_request(f"Invalid InvocationSchemaVersion: {version}; use 1.0 or 2.0")
    arguments = spec.get("UserArguments")
    if arguments is not None and version != "2.0":
        raise bad_request("UserArguments require InvocationSchemaVersion 2.0")
    if arguments is not None and not 1 <= len(arguments) <= 10:
        raise bad_request("UserArguments may hold 1 to 10 entries")


def _check_manifest(manifest: dict[str, Any]) -> None:
    spec = manifest.get("Spec") or {}
    fmt = spec.get("Format")
    if fmt not in (CSV_MANIFEST, INVENTORY_MANIFEST):
        raise bad_request(f"Unknown manifest format: {fmt}")
    fields = spec.get("Fields")
    if fmt == CSV_MANIFEST:
        check_fields(fields)
    location = manifest.get("Location") or {}
    object_of(location.get("ObjectArn"))
    if not location.get("ETag"):
        raise bad_request("The manifest Location requires an ETag")


def check_fields(fields: Any) -> None:
    """A CSV manifest's columns: Bucket and Key once each, VersionId at most once, and
    any number of Ignore."""
    if not fields:
        raise bad_request("A CSV manifest requires Fields")
    counts = {name: fields.count(name) for name in ("Bucket", "Key", "VersionId")}
    if counts["Bucket"] != 1 or counts["Key"] != 1 or counts["VersionId"] > 1:
        raise bad_request(
            "The manifest Fields must name Bucket and Key once each, and VersionId at most once"
        )
    unknown = set(fields) - {"Bucket", "Key", "VersionId", "Ignore"}
    if unknown:
        raise bad_request(f"Unknown manifest field: {sorted(unknown)[0]}")


def _check_generator(generator: dict[str, Any]) -> None:
    spec = generator.get("S3JobManifestGenerator")
    if spec is None:
        raise bad_request("A ManifestGenerator requires an S3JobManifestGenerator")
    bucket_of(spec.get("SourceBucket"), "source bucket")
    if not isinstance(spec.get("EnableManifestOutput"), bool):
        raise bad_request("S3JobManifestGenerator requires EnableManifestOutput")
    output = spec.get("ManifestOutputLocation")
    if spec["EnableManifestOutput"]:
        if output is None:
            raise bad_request("EnableManifestOutput requires a ManifestOutputLocation")
        bucket_of(output.get("Bucket"), "manifest output bucket")
        if output.get("ManifestFormat") != GENERATED_MANIFEST:
            raise bad_request(f"Unknown generated manifest format: {output.get('ManifestFormat')}")
    flt = spec.get("Filter") or {}
    for status in flt.get("ObjectReplicationStatuses") or []:
        if status not in REPLICATION_STATUSES:
            raise bad_request(f"Invalid replication status: {status}")
    after, before = flt.get("CreatedAfter"), flt.get("CreatedBefore")
    if after is not None and before is not None and after >= before:
        raise bad_request("CreatedAfter must be earlier than CreatedBefore")


def _check_report(report: Any) -> None:
    if not isinstance(report, dict) or not isinstance(report.get("Enabled"), bool):
        raise bad_request("A job Report requires Enabled")
    if not report["Enabled"]:
        return
    bucket_of(report.get("Bucket"), "report bucket")
    if (report.get("Format") or REPORT_FORMAT) != REPORT_FORMAT:
        raise bad_request(f"Unknown report format: {report.get('Format')}")
    scope = report.get("ReportScope") or "AllTasks"
    if scope not in ("AllTasks", "FailedTasksOnly"):
        raise bad_request(f"Unknown report scope: {scope}")


def check_tags(tags: list[dict[str, Any]], too_many: ServiceError, limit: int = MAX_TAGS) -> None:
    """A job's (or a tagging operation's) tag set: ``limit`` tags at most, keys of 1 to 128
    and values of up to 256 characters of AWS's tag alphabet, no key twice."""
    if len(tags) > limit:
        raise too_many
    seen: set[str] = set()
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value", "")
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not tag_text_ok(key):
            raise bad_request(f"Invalid tag key: {key}")
        if not isinstance(value, str) or len(value) > 256 or not tag_text_ok(value):
            raise bad_request(f"Invalid tag value: {value}")
        if key in seen:
            raise bad_request(f"Duplicate tag key: {key}")
        seen.add(key)
