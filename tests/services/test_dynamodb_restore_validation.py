"""Restore, export and backup-ARN request validation: AWS's codes, texts and order.

Every expected text comes from the ack-api-quirks lab captures of real DynamoDB (the
finding id is cited per case). Where a capture cut a text short, the test pins the
captured part exactly and the rest as cloudlet completes it.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import assert_error, client, make_table, tname

VALIDATION = "ValidationException"
BOTH_TIMES = (
    "Invalid Request: Both RestoreDateTime and UseLatestRestorableTime cannot be set for "
    "point-in-time restore request. Pleas"  # DDB-TABLE-100: captured up to here
)
NO_TIME = (
    "Invalid Request: Either one of RestoreDateTime or UseLatestRestorableTime must be "
    "specified, but not both"
)


@pytest.fixture
def ddb(cloudlet_server):
    """A client that lets values botocore would refuse (``""``, short ARNs) reach the server."""
    return client(cloudlet_server, validate=False)


def error(exc) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def enable_pitr(ddb, table: str) -> None:
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def table_arn(ddb, table: str) -> str:
    return ddb.describe_table(TableName=table)["Table"]["TableArn"]


def whole_seconds(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def z(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# --------------------------------------------------------------------------- PITR restore


def test_pitr_restore_shape_errors_come_first(ddb):
    """DDB-TABLE-100: both or neither time flag is a ValidationException before anything
    else, PITR off or on; a bad target name names 'targetTableName'."""
    source = make_table(ddb, tname("rv-src"))
    other = make_table(ddb, tname("rv-other"))
    now = datetime.now(UTC)
    for pitr in (False, True):
        if pitr:
            enable_pitr(ddb, source)
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_to_point_in_time(
                SourceTableName=source,
                TargetTableName=other,
                RestoreDateTime=now,
                UseLatestRestorableTime=True,
            )
        code, message = error(exc)
        assert code == VALIDATION
        assert message.startswith(BOTH_TIMES)
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=other)
        assert_error(exc, VALIDATION, NO_TIME)
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_to_point_in_time(
                SourceTableName=source, TargetTableName=other, UseLatestRestorableTime=False
            )
        assert_error(exc, VALIDATION, NO_TIME)
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=source, TargetTableName="bad name!", UseLatestRestorableTime=True
        )
    code, message = error(exc)
    assert code == VALIDATION
    # Captured up to "Member must satisfy re".
    assert message == (
        "1 validation error detected: Value 'bad name!' at 'targetTableName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )


def test_pitr_restore_pitr_off_beats_target_and_time(ddb):
    """DDB-TABLE-100: with PITR off, an existing target and a bad time both answer
    PointInTimeRecoveryUnavailableException; a missing source is TableNotFound."""
    source = make_table(ddb, tname("rv-off"))
    other = make_table(ddb, tname("rv-off-t"))
    unavailable = f"Point in time recovery is not enabled for table '{source}'"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=source, TargetTableName=other, UseLatestRestorableTime=True
        )
    assert_error(exc, "PointInTimeRecoveryUnavailableException", unavailable)
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=source,
            TargetTableName=tname("rv-new"),
            RestoreDateTime=datetime.now(UTC) - timedelta(days=2),
        )
    assert_error(exc, "PointInTimeRecoveryUnavailableException", unavailable)
    missing = tname("rv-missing")
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=missing, TargetTableName=other, UseLatestRestorableTime=True
        )
    assert_error(exc, "TableNotFoundException", f"Table not found: {missing}")


def test_pitr_restore_time_beats_target_exists(ddb):
    """DDB-TABLE-100: PITR on, an existing target with a bad time answers
    InvalidRestoreTimeException with ISO 'Z' times; a good time answers
    TableAlreadyExistsException (also when the target is the source)."""
    source = make_table(ddb, tname("rv-on"))
    other = make_table(ddb, tname("rv-on-t"))
    enable_pitr(ddb, source)
    pitr = ddb.describe_continuous_backups(TableName=source)["ContinuousBackupsDescription"]
    earliest = pitr["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]
    when = whole_seconds(datetime.now(UTC) - timedelta(days=2))
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=source, TargetTableName=other, RestoreDateTime=when
        )
    code, message = error(exc)
    assert code == "InvalidRestoreTimeException"
    # Captured up to "... and LatestRestor"; the latest time is "now", so matched loosely.
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z"
    assert re.fullmatch(
        rf"RestoreDateTime '{re.escape(z(when))}' must be within EarliestRestorableDateTime "
        rf"'({stamp})' and LatestRestorableDateTime '{stamp}'",
        message,
    ), message
    shown = re.search(r"EarliestRestorableDateTime '([^']+)'", message).group(1)
    assert abs(datetime.fromisoformat(shown) - earliest) < timedelta(milliseconds=2)
    for target in (other, source):
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_to_point_in_time(
                SourceTableName=source, TargetTableName=target, UseLatestRestorableTime=True
            )
        assert_error(exc, "TableAlreadyExistsException", f"Table already exists: {target}")


# --------------------------------------------------------------------------- exports


@pytest.fixture
def pitr_table(ddb):
    table = make_table(ddb, tname("rv-exp"))
    enable_pitr(ddb, table)
    # botocore sends whole seconds: wait for the next one, so that "now" truncated to the
    # second is inside the window.
    time.sleep(1.05 - time.time() % 1)
    return table, table_arn(ddb, table)


def test_export_type_and_spec_couplings(ddb, pitr_table):
    """DDB-EXPORT-003 (the empty spec also DDB-TABLE-457)."""
    _table, arn = pitr_table
    start = datetime.now(UTC)
    cases = [
        (
            {"IncrementalExportSpecification": {"ExportFromTime": start}},
            "Invalid Request: Export Type expected to be Incremental Export when incremental "
            "export specification is provided",
        ),
        (
            {
                "ExportType": "FULL_EXPORT",
                "IncrementalExportSpecification": {"ExportFromTime": start},
            },
            "Invalid Request: When Export Type is Full Export , Incremental Export "
            "Specification should not be provided",
        ),
        (
            {"ExportType": "INCREMENTAL_EXPORT"},
            "Invalid Request: Incremental Export Specification expected when export type is "
            "set as Incremental Export",
        ),
        (
            {"ExportType": "INCREMENTAL_EXPORT", "IncrementalExportSpecification": {}},
            "Invalid Request: ExportFromTime must be provided in IncrementalExportSpecification",
        ),
        (
            {
                "ExportType": "INCREMENTAL_EXPORT",
                "IncrementalExportSpecification": {"ExportViewType": "NEW_IMAGE"},
            },
            "Invalid Request: ExportFromTime must be provided in IncrementalExportSpecification",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(ClientError) as exc:
            ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bucket-x", **extra)
        assert_error(exc, VALIDATION, message)


def test_incremental_window_errors(ddb, pitr_table):
    """DDB-EXPORT-004: every window violation is InvalidExportTimeException; the times are
    shown as ISO with 'Z'."""
    _table, arn = pitr_table

    def incremental(start: datetime, end: datetime | None):
        spec = {"ExportFromTime": start} | ({"ExportToTime": end} if end else {})
        with pytest.raises(ClientError) as exc:
            ddb.export_table_to_point_in_time(
                TableArn=arn,
                S3Bucket="bucket-x",
                ExportType="INCREMENTAL_EXPORT",
                IncrementalExportSpecification=spec,
            )
        return exc

    before = whole_seconds(datetime.now(UTC) - timedelta(hours=2))
    for end in (before + timedelta(minutes=10), None):
        assert_error(
            incremental(before, end),
            "InvalidExportTimeException",
            "Incremental export period from time cannot be less than the table creation time "
            f": {z(before)}",
        )
    now = whole_seconds(datetime.now(UTC))
    future = now + timedelta(hours=1)
    assert_error(
        incremental(now, future),
        "InvalidExportTimeException",
        f"Incremental export period to time cannot be greater than the current time : {z(future)}",
    )
    assert_error(
        incremental(now, now - timedelta(seconds=1)),
        "InvalidExportTimeException",
        "Difference between export period from time and export period to time is less than "
        "15 minutes",
    )


def test_export_table_arn_and_member_syntax(ddb, pitr_table):
    """DDB-EXPORT-002 (index ARN, s3SseAlgorithm, s3BucketOwner, S3 ARN as bucket) and
    DDB-TABLE-457 (TableArn '', S3Bucket '', captured in full)."""
    _table, arn = pitr_table
    bucket_rule = (
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        r"^[a-z0-9A-Z]+[\.\-\w]*[a-z0-9A-Z]+$"
    )
    cases = [
        ({"TableArn": f"{arn}/index/by-x"}, "Invalid Request: Table ARN is invalid."),
        ({"TableArn": ""}, "Invalid TableArn: Invalid Table ARN"),
        (
            {"S3SseAlgorithm": "aws:kms"},
            # captured up to "Membe"
            "1 validation error detected: Value 'aws:kms' at 's3SseAlgorithm' failed to "
            "satisfy constraint: Member must satisfy enum value set: [AES256, KMS]",
        ),
        (
            {"S3BucketOwner": "not-an-account"},
            # captured up to "failed to satisfy constraint:"
            "1 validation error detected: Value 'not-an-account' at 's3BucketOwner' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}",
        ),
        (
            {"S3Bucket": ""},
            f"1 validation error detected: Value '' at 's3Bucket' {bucket_rule}",
        ),
        (
            {"S3Bucket": "arn:aws:s3:::some-bucket"},
            # captured up to "failed to satisfy co"
            "1 validation error detected: Value 'arn:aws:s3:::some-bucket' at 's3Bucket' "
            + bucket_rule,
        ),
    ]
    for extra, message in cases:
        params = {"TableArn": arn, "S3Bucket": "bucket-x"} | extra
        with pytest.raises(ClientError) as exc:
            ddb.export_table_to_point_in_time(**params)
        assert_error(exc, VALIDATION, message)


# --------------------------------------------------------------------------- backups


@pytest.fixture
def backup(ddb):
    table = make_table(ddb, tname("rv-bk"))
    arn = ddb.create_backup(TableName=table, BackupName="rv-backup")["BackupDetails"]["BackupArn"]
    return table, arn


def test_backup_arn_validation(ddb, backup):
    """DDB-BACKUP-012 (and DDB-TABLE-457 for ''): not a backup ARN -> 'Invalid Backup ARN';
    unknown region, partition or service -> 'BackupArn is not valid'; another account ->
    AccessDenied; another real region is ignored."""
    table, arn = backup
    _, partition, service, region, account, resource = arn.split(":", 5)
    t_arn = table_arn(ddb, table)

    def swap(**parts: str) -> str:
        fields = {"partition": partition, "service": service, "region": region}
        fields |= {"account": account, "resource": resource} | parts
        return "arn:{partition}:{service}:{region}:{account}:{resource}".format(**fields)

    invalid = [t_arn, "x" * 48, ""]
    not_valid = [swap(region="xx-fake-1"), swap(partition="aws-cn"), swap(service="s3")]
    calls = [
        lambda a: ddb.describe_backup(BackupArn=a),
        lambda a: ddb.delete_backup(BackupArn=a),
        lambda a: ddb.restore_table_from_backup(TargetTableName=tname("rv-r"), BackupArn=a),
    ]
    for call in calls:
        for bad in invalid:
            with pytest.raises(ClientError) as exc:
                call(bad)
            assert_error(exc, VALIDATION, "Invalid Backup ARN")
        for bad in not_valid:
            with pytest.raises(ClientError) as exc:
                call(bad)
            assert_error(exc, VALIDATION, "BackupArn is not valid")
        with pytest.raises(ClientError) as exc:
            call(swap(account="999999999999" if account != "999999999999" else "111111111111"))
        assert_error(exc, "AccessDeniedException", "Access is denied")
    elsewhere = "eu-west-1" if region != "eu-west-1" else "us-east-1"
    found = ddb.describe_backup(BackupArn=swap(region=elsewhere))["BackupDescription"]
    assert found["BackupDetails"]["BackupName"] == "rv-backup"
    gone = swap(resource=f"table/{table}/backup/01234567890123-abcdef01")
    with pytest.raises(ClientError) as exc:
        ddb.describe_backup(BackupArn=gone)
    assert exc.value.response["Error"]["Code"] == "BackupNotFoundException"


def test_restore_from_backup_target_name(ddb, backup):
    """DDB-TABLE-457: TargetTableName '' has the hand-written length text."""
    _table, arn = backup
    for target in ("", "ab", "x" * 256):
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)
        assert_error(
            exc,
            VALIDATION,
            "TableName must be at least 3 characters long and at most 255 characters long",
        )


def test_list_backups_inverted_time_range(ddb, backup):
    """DDB-BACKUP-014: lower > upper is refused; lower == upper is an (empty) range."""
    table, _arn = backup
    now = datetime.now(UTC)
    with pytest.raises(ClientError) as exc:
        ddb.list_backups(
            TableName=table,
            TimeRangeLowerBound=now,
            TimeRangeUpperBound=now - timedelta(seconds=1),
        )
    assert_error(
        exc, VALIDATION, "Time range lower bound must be less than or equal to upper bound"
    )
    same = ddb.list_backups(TableName=table, TimeRangeLowerBound=now, TimeRangeUpperBound=now)
    assert same["BackupSummaries"] == []
