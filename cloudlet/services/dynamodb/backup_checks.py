"""What AWS refuses in backup, restore and export requests, and its texts for them.

Why its own module: the handlers in ``backups.py`` run these checks before they touch a
table, in AWS's order, and the texts come from lab captures of live DynamoDB
(DDB-TABLE-100/274/457, DDB-BACKUP-012/014, DDB-EXPORT-002/003/004). Where a capture
is cut short, the captured part is exact and the rest is marked as completed here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.export import (
    MAX_INCREMENTAL,
    export_not_found,
    invalid_export_time,
)
from cloudlet.services.dynamodb.table_syntax import check_table_name

EXPORT_FORMATS = ("ION", "DYNAMODB_JSON")
EXPORT_TYPES = ("FULL_EXPORT", "INCREMENTAL_EXPORT")
EXPORT_VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
S3_SSE_ALGORITHMS = ("AES256", "KMS")
"""The enums in the order AWS's validation messages list them (as far as known)."""


def epoch(value: Any) -> float:
    """Epoch seconds of a request's time (a datetime) or a stored number."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def instant(t: float | datetime) -> str:
    """A time as AWS's DynamoDB messages show it (Java's ``Instant``): UTC with ``Z``, the
    milliseconds only when there are some; a client's time UTC cannot hold as given."""
    try:
        if isinstance(t, datetime):
            t = t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)
        else:
            t = datetime.fromtimestamp(t, UTC)
    except (OverflowError, ValueError, OSError):
        return t.isoformat() if isinstance(t, datetime) else str(t)
    text = t.replace(tzinfo=None).isoformat(timespec="seconds")
    ms = t.microsecond // 1000
    return f"{text}.{ms:03d}Z" if ms else f"{text}Z"


def invalid_restore_time(when: float | datetime, earliest: float, latest: float) -> ServiceError:
    """AWS's text (DDB-TABLE-100; captured up to "LatestRestor", the rest completed the
    same way as the EarliestRestorableDateTime part)."""
    return ServiceError(
        "InvalidRestoreTimeException",
        f"RestoreDateTime '{instant(when)}' must be within EarliestRestorableDateTime "
        f"'{instant(earliest)}' and LatestRestorableDateTime '{instant(latest)}'",
        400,
    )


BOTH_RESTORE_TIMES = (
    "Invalid Request: Both RestoreDateTime and UseLatestRestorableTime cannot be set for "
    "point-in-time restore request. Please specify either RestoreDateTime time or "
    "UseLatestRestorableTime"
)
"""DDB-TABLE-100 captured this up to "Pleas"; the rest is as other emulators write it."""
NO_RESTORE_TIME = (
    "Invalid Request: Either one of RestoreDateTime or UseLatestRestorableTime must be "
    "specified, but not both"
)
CROSS_REGION_RESTORE = (
    "Invalid Request: sseSpecificationOverride must be provided for cross-region restores"
)

# AWS's commercial regions: a backup ARN naming another one is not refused (DDB-BACKUP-012).
AWS_REGIONS = frozenset(
    """us-east-1 us-east-2 us-west-1 us-west-2 af-south-1 ap-east-1 ap-east-2 ap-south-1
    ap-south-2 ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5
    ap-southeast-7 ap-northeast-1 ap-northeast-2 ap-northeast-3 ca-central-1 ca-west-1
    eu-central-1 eu-central-2 eu-west-1 eu-west-2 eu-west-3 eu-south-1 eu-south-2 eu-north-1
    il-central-1 me-south-1 me-central-1 mx-central-1 sa-east-1""".split()
)


def job_resource(kind: str, job_id: str = "[^/]+") -> re.Pattern[str]:
    """The resource part of a backup, export or import ARN: ``table/<name>/<kind>/<id>``."""
    return re.compile(rf"table/[a-zA-Z0-9_.-]{{3,255}}/{kind}/{job_id}")


_BACKUP_RESOURCE = job_resource("backup", "[0-9A-Za-z-]+")
_EXPORT_RESOURCE = job_resource("export")


def check_export_arn(arn: str, account: str, region: str) -> None:
    """DescribeExport's ARN checks, AWS's order and texts (ack-api-quirks DDB-EXPORT-006 and
    Alternator's test_describe_export_incorrect_arns, both run against DynamoDB).

    Not an ARN at all: ``Invalid Export ARN``; another partition, service, account or an
    unknown region: AccessDeniedException, whatever the resource; an ARN of something
    other than an export (a table, an import): ``Invalid Export ARN``; an export of
    another (real) region: ExportNotFoundException.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise errors.validation("Invalid Export ARN")
    _arn, partition, service, arn_region, arn_account, resource = parts
    if partition != "aws" or service != "dynamodb" or arn_account != account:
        raise errors.access_denied()
    if arn_region != region and arn_region not in AWS_REGIONS:
        raise errors.access_denied()
    if not _EXPORT_RESOURCE.fullmatch(resource):
        raise errors.validation("Invalid Export ARN")
    if arn_region != region:
        raise export_not_found("Invalid export arn")


def check_backup_arn(arn: str, account: str, region: str) -> tuple[str, str]:
    """(the ARN with the endpoint's region, the ARN's own region) of a well-formed backup
    ARN; AWS's errors otherwise (DDB-BACKUP-012, DDB-TABLE-457).

    Not a backup ARN at all (a table ARN, any other string): ``Invalid Backup ARN``; an
    unknown partition, service or region: ``BackupArn is not valid``; no region or another
    account: AccessDeniedException.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _BACKUP_RESOURCE.fullmatch(parts[5]):
        raise errors.validation("Invalid Backup ARN")
    _arn, partition, service, arn_region, arn_account, resource = parts
    if partition != "aws" or service != "dynamodb":
        raise errors.validation("BackupArn is not valid")
    if not arn_region:
        raise errors.access_denied()
    if arn_region != region and arn_region not in AWS_REGIONS:
        raise errors.validation("BackupArn is not valid")
    if arn_account != account:
        raise errors.access_denied()
    return f"arn:aws:dynamodb:{region}:{account}:{resource}", arn_region


def check_target_name(name: str) -> None:
    """RestoreTableFromBackup's TargetTableName: a length outside 3..255 answers the
    hand-written text (DDB-TABLE-457), a bad character the request-syntax one."""
    if not 3 <= len(name) <= 255:
        raise errors.validation(
            "TableName must be at least 3 characters long and at most 255 characters long"
        )
    check_table_name(name, "targetTableName")


_S3_BUCKET = re.compile(r"^[a-z0-9A-Z]+[\.\-\w]*[a-z0-9A-Z]+$", re.ASCII)
_ACCOUNT = re.compile(r"[0-9]{12}")


def check_export_request(params: dict[str, Any]) -> None:
    """ExportTableToPointInTime's checks that need no table, AWS's texts (DDB-EXPORT-002,
    DDB-EXPORT-003, DDB-TABLE-457): the members' syntax, the TableArn, then how ExportType
    and IncrementalExportSpecification go together."""
    errors.check_enum(params.get("ExportFormat"), "exportFormat", EXPORT_FORMATS)
    errors.check_enum(params.get("ExportType"), "exportType", EXPORT_TYPES)
    errors.check_enum(params.get("S3SseAlgorithm"), "s3SseAlgorithm", S3_SSE_ALGORITHMS)
    bucket = params.get("S3Bucket")
    if bucket is not None and not _S3_BUCKET.fullmatch(bucket):
        raise errors.constraint(
            bucket,
            "s3Bucket",
            f"Member must satisfy regular expression pattern: {_S3_BUCKET.pattern}",
        )
    owner = params.get("S3BucketOwner")
    if owner is not None and not _ACCOUNT.fullmatch(owner):
        raise errors.constraint(
            owner, "s3BucketOwner", "Member must satisfy regular expression pattern: [0-9]{12}"
        )
    _check_members(params)
    spec = params.get("IncrementalExportSpecification")
    if spec is not None:
        errors.check_enum(
            spec.get("ExportViewType"),
            "incrementalExportSpecification.exportViewType",
            EXPORT_VIEW_TYPES,
        )
    table_arn = params.get("TableArn")
    if table_arn == "":
        raise errors.validation("Invalid TableArn: Invalid Table ARN")
    if table_arn is not None and not table_arn.startswith("arn:"):
        raise errors.invalid_parameter("tableArn is not a valid ARN")  # DDB-EXPORT-001
    if table_arn and table_arn.startswith("arn:") and table_arn.split(":", 5)[-1].count("/") > 1:
        raise errors.validation("Invalid Request: Table ARN is invalid.")  # an index ARN
    kind = params.get("ExportType")
    if spec is not None:
        if kind is None:
            raise errors.validation(
                "Invalid Request: Export Type expected to be Incremental Export when "
                "incremental export specification is provided"
            )
        if kind == "FULL_EXPORT":
            raise errors.validation(
                "Invalid Request: When Export Type is Full Export , Incremental Export "
                "Specification should not be provided"
            )
    elif kind == "INCREMENTAL_EXPORT":
        raise errors.validation(
            "Invalid Request: Incremental Export Specification expected when export type is "
            "set as Incremental Export"
        )
    if kind == "INCREMENTAL_EXPORT" and (spec or {}).get("ExportFromTime") is None:
        raise errors.validation(
            "Invalid Request: ExportFromTime must be provided in IncrementalExportSpecification"
        )


CLIENT_TOKEN_PATTERN = r"^[^\$]+$"
"""ClientToken's pattern in the model, which ImportTable and ExportTableToPointInTime share."""
_EMPTY = "Member must have length greater than or equal to 1"


def check_client_token(token: str | None) -> None:
    """A ClientToken, when given, matches the model's pattern: not empty, no ``$``."""
    if token is not None and (not token or "$" in token):
        raise errors.constraint(
            token,
            "clientToken",
            f"Member must satisfy regular expression pattern: {CLIENT_TOKEN_PATTERN}",
        )


def _check_members(params: dict[str, Any]) -> None:
    """ClientToken, S3Prefix and S3SseKmsKeyId (Alternator's
    test_export_setting_fields_to_weird_values_or_skipping_fail, run against DynamoDB: each
    empty value is a ValidationException naming the member). The model gives S3Prefix no
    minimum length; its text is written as the model's length rule would be (judgement).
    A key id with another encryption than KMS: DDB-EXPORT-005."""
    check_client_token(params.get("ClientToken"))
    for member, wire in (("S3Prefix", "s3Prefix"), ("S3SseKmsKeyId", "s3SseKmsKeyId")):
        if params.get(member) == "":
            raise errors.constraint("", wire, _EMPTY)
    if params.get("S3SseKmsKeyId") is not None and params.get("S3SseAlgorithm") != "KMS":
        raise errors.validation(
            "Invalid Request: KMS Key Id is not supported for this encryption type"
        )


def incremental_window(params: dict[str, Any], earliest: float, latest: float) -> dict[str, Any]:
    """The checked [from, to) of an incremental export (its spec's shape is checked by
    ``check_export_request``), AWS's InvalidExportTimeException texts (DDB-EXPORT-004).

    AWS also requires a window of at least 15 minutes; cloudlet refuses only an empty or
    inverted one (with AWS's text), so a test can export the changes it just made.
    """
    spec = params["IncrementalExportSpecification"]
    given_from, given_to = spec["ExportFromTime"], spec.get("ExportToTime")
    start = epoch(given_from)
    end = latest if given_to is None else epoch(given_to)
    if start < earliest:
        raise invalid_export_time(
            "Incremental export period from time cannot be less than the table creation "
            f"time : {instant(given_from)}"
        )
    if end > latest:
        raise invalid_export_time(
            "Incremental export period to time cannot be greater than the current time : "
            f"{instant(given_to if given_to is not None else end)}"
        )
    if start >= end:
        raise invalid_export_time(
            "Difference between export period from time and export period to time is less "
            "than 15 minutes"
        )
    if end - start > MAX_INCREMENTAL:
        raise invalid_export_time("The incremental export period must not exceed 24 hours")
    return {"from": start, "to": end, "view": spec.get("ExportViewType") or "NEW_AND_OLD_IMAGES"}
