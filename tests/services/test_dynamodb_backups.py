"""DynamoDB backups, point-in-time recovery and exports to S3 with real boto3.

Restores must give back the items (and working indexes) of the moment they
name; exports must leave AWS's file layout in our S3, readable with boto3.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import index, make_table, scan_all, tname, wait_export
from tests.services.s3_helpers import bname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def by_key(items: list[dict], *names: str) -> dict:
    return {tuple(next(iter(i[n].values())) for n in names): i for i in items}


def indexed_table(ddb) -> str:
    """pk/sk with a GSI on (g, sk) and an LSI on (pk, n)."""
    return make_table(
        ddb,
        tname("bk"),
        ("pk", "S"),
        ("sk", "N"),
        gsis=[index("by-g", ("g", "S"), ("sk", "N"))],
        lsis=[index("by-n", ("pk", "S"), ("n", "N"))],
    )


def put(ddb, table: str, pk: str, sk: int, g: str, n: int, **extra) -> dict:
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, "g": {"S": g}, "n": {"N": str(n)}, **extra}
    ddb.put_item(TableName=table, Item=item)
    return item


def tick() -> datetime:
    """A time strictly between the writes before and after it, on a whole second:
    botocore before 1.44 sends timestamps to the second, and a truncated time could
    fall before the writes (or before point-in-time recovery was enabled)."""
    now = time.time()
    second = math.floor(now) + 1
    time.sleep(second - now + 0.05)
    return datetime.fromtimestamp(second, UTC)


def enable_pitr(ddb, table: str, **kw) -> dict:
    spec = {"PointInTimeRecoveryEnabled": True, **kw}
    return ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=spec)[
        "ContinuousBackupsDescription"
    ]


# --------------------------------------------------------------------------- on-demand backups


def test_backup_modify_restore_gives_old_items_and_working_indexes(ddb):
    table = indexed_table(ddb)
    original = [put(ddb, table, f"p{i % 3}", i, f"g{i % 2}", 100 - i) for i in range(20)]
    details = ddb.create_backup(TableName=table, BackupName="before-change")["BackupDetails"]
    arn = details["BackupArn"]
    assert details["BackupStatus"] == "AVAILABLE"
    assert details["BackupType"] == "USER"
    assert arn.startswith(f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}/backup/")

    # Change everything the backup must not see.
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})
    put(ddb, table, "p1", 1, "changed", 0)
    put(ddb, table, "new", 99, "g0", 1)

    desc = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
    source = desc["SourceTableDetails"]
    assert source["TableName"] == table
    assert source["ItemCount"] == 20
    assert source["TableSizeBytes"] > 0
    assert desc["BackupDetails"]["BackupSizeBytes"] == source["TableSizeBytes"]
    assert {k["AttributeName"] for k in source["KeySchema"]} == {"pk", "sk"}
    assert source["BillingMode"] == "PAY_PER_REQUEST"
    features = desc["SourceTableFeatureDetails"]
    assert [i["IndexName"] for i in features["GlobalSecondaryIndexes"]] == ["by-g"]
    assert [i["IndexName"] for i in features["LocalSecondaryIndexes"]] == ["by-n"]

    restored = tname("rs")
    out = ddb.restore_table_from_backup(TargetTableName=restored, BackupArn=arn)
    summary = out["TableDescription"]["RestoreSummary"]
    assert summary["SourceBackupArn"] == arn
    assert summary["RestoreInProgress"] is False
    ddb.get_waiter("table_exists").wait(TableName=restored)

    assert by_key(scan_all(ddb, restored), "pk", "sk") == by_key(original, "pk", "sk")
    described = ddb.describe_table(TableName=restored)["Table"]
    assert described["ItemCount"] == 20
    assert described["TableStatus"] == "ACTIVE"
    assert described["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert described["GlobalSecondaryIndexes"][0]["ItemCount"] == 20
    assert described["TableId"] != source["TableId"]

    gsi = ddb.query(
        TableName=restored,
        IndexName="by-g",
        KeyConditionExpression="g = :g AND sk >= :s",
        ExpressionAttributeValues={":g": {"S": "g1"}, ":s": {"N": "10"}},
    )["Items"]
    assert [int(i["sk"]["N"]) for i in gsi] == [11, 13, 15, 17, 19]
    lsi = ddb.query(
        TableName=restored,
        IndexName="by-n",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p0"}},
    )["Items"]
    assert [int(i["n"]["N"]) for i in lsi] == sorted(100 - i for i in range(0, 20, 3))

    # The restored table is a table like any other: writes keep its indexes current.
    put(ddb, restored, "p9", 500, "fresh", 7)
    fresh = ddb.query(
        TableName=restored,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "fresh"}},
    )["Items"]
    assert len(fresh) == 1
    # ...and the source table still has its own changes.
    assert len(scan_all(ddb, table)) == 20


def test_backup_outlives_its_table_and_restores_by_name(ddb):
    table = make_table(ddb, tname("gone"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"B": b"\x00\x01"}})
    arn = ddb.create_backup(TableName=table, BackupName="keep")["BackupDetails"]["BackupArn"]
    ddb.delete_table(TableName=table)
    assert (
        ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"]
        == "AVAILABLE"
    )
    ddb.restore_table_from_backup(TargetTableName=table, BackupArn=arn)
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["v"] == {"B": b"\x00\x01"}


def test_list_and_delete_backups(ddb):
    table = make_table(ddb, tname("lst"))
    other = make_table(ddb, tname("lst-other"))
    before = datetime.now(UTC) - timedelta(seconds=1)
    arns = [
        ddb.create_backup(TableName=table, BackupName=f"bk{i}")["BackupDetails"]["BackupArn"]
        for i in range(5)
    ]
    ddb.create_backup(TableName=other, BackupName="xxx")
    listed = ddb.list_backups(TableName=table)["BackupSummaries"]
    assert [b["BackupArn"] for b in listed] == arns
    assert {b["TableName"] for b in listed} == {table}
    assert listed[0]["BackupName"] == "bk0"

    seen, start = [], None
    while True:
        kw = {"ExclusiveStartBackupArn": start} if start else {}
        page = ddb.list_backups(TableName=table, Limit=2, **kw)
        assert len(page["BackupSummaries"]) <= 2
        seen += [b["BackupArn"] for b in page["BackupSummaries"]]
        start = page.get("LastEvaluatedBackupArn")
        if not start:
            break
    assert seen == arns

    table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    assert len(ddb.list_backups(TableName=table_arn)["BackupSummaries"]) == 5
    assert ddb.list_backups(TableName=table, BackupType="SYSTEM")["BackupSummaries"] == []
    assert len(ddb.list_backups(TableName=table, BackupType="ALL")["BackupSummaries"]) == 5
    future = datetime.now(UTC) + timedelta(hours=1)
    assert ddb.list_backups(TableName=table, TimeRangeLowerBound=future)["BackupSummaries"] == []
    ranged = ddb.list_backups(
        TableName=table, TimeRangeLowerBound=before, TimeRangeUpperBound=future
    )["BackupSummaries"]
    assert len(ranged) == 5

    deleted = ddb.delete_backup(BackupArn=arns[0])["BackupDescription"]
    assert deleted["BackupDetails"]["BackupStatus"] == "DELETED"
    assert len(ddb.list_backups(TableName=table)["BackupSummaries"]) == 4
    for call in (
        lambda: ddb.describe_backup(BackupArn=arns[0]),
        lambda: ddb.delete_backup(BackupArn=arns[0]),
        lambda: ddb.restore_table_from_backup(TargetTableName=tname("no"), BackupArn=arns[0]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "BackupNotFoundException"


def test_backup_and_restore_errors(ddb):
    with pytest.raises(ClientError) as exc:
        ddb.create_backup(TableName=tname("missing"), BackupName="xxx")
    assert code(exc) == "TableNotFoundException"
    table = make_table(ddb, tname("err"))
    arn = ddb.create_backup(TableName=table, BackupName="xxx")["BackupDetails"]["BackupArn"]
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_from_backup(TargetTableName=table, BackupArn=arn)
    assert code(exc) == "TableAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_from_backup(
            TargetTableName=tname("bad"),
            BackupArn=arn,
            GlobalSecondaryIndexOverride=[
                {
                    "IndexName": "nope",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    assert code(exc) == "ValidationException"


def test_restore_overrides(ddb):
    table = indexed_table(ddb)
    for i in range(6):
        put(ddb, table, "p", i, "g", i)
    arn = ddb.create_backup(TableName=table, BackupName="ovr")["BackupDetails"]["BackupArn"]
    target = tname("ov")
    desc = ddb.restore_table_from_backup(
        TargetTableName=target,
        BackupArn=arn,
        BillingModeOverride="PROVISIONED",
        ProvisionedThroughputOverride={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
        GlobalSecondaryIndexOverride=[],
        SSESpecificationOverride={"Enabled": True},
    )["TableDescription"]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert "BillingModeSummary" not in desc
    assert "GlobalSecondaryIndexes" not in desc
    assert [i["IndexName"] for i in desc["LocalSecondaryIndexes"]] == ["by-n"]
    assert desc["SSEDescription"]["Status"] == "ENABLED"
    assert {a["AttributeName"] for a in desc["AttributeDefinitions"]} == {"pk", "sk", "n"}
    assert len(scan_all(ddb, target)) == 6
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=target,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "g"}},
        )
    assert code(exc) == "ValidationException"

    with pytest.raises(ClientError) as exc:
        ddb.restore_table_from_backup(
            TargetTableName=tname("ov2"), BackupArn=arn, BillingModeOverride="PROVISIONED"
        )
    assert code(exc) == "ValidationException"


# --------------------------------------------------------------------------- point in time


def test_continuous_backups_settings(ddb, aws_client):
    table = make_table(ddb, tname("cb"))
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert desc["ContinuousBackupsStatus"] == "ENABLED"
    assert desc["PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}

    before = datetime.now(UTC)
    desc = enable_pitr(ddb, table, RecoveryPeriodInDays=7)
    pitr = desc["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["RecoveryPeriodInDays"] == 7
    assert before - timedelta(seconds=1) <= pitr["EarliestRestorableDateTime"]
    assert pitr["EarliestRestorableDateTime"] <= pitr["LatestRestorableDateTime"]
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    again = ddb.describe_continuous_backups(TableName=arn)["ContinuousBackupsDescription"]
    assert again["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 7
    assert (
        again["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]
        == pitr["EarliestRestorableDateTime"]
    )

    raw = aws_client("dynamodb", config=Config(parameter_validation=False))
    for days in (0, 36):
        with pytest.raises(ClientError) as exc:
            enable_pitr(raw, table, RecoveryPeriodInDays=days)
        assert code(exc) == "ValidationException"

    off = ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )["ContinuousBackupsDescription"]
    assert off["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    for call in (
        lambda: ddb.describe_continuous_backups(TableName=tname("nope")),
        lambda: enable_pitr(ddb, tname("nope")),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "TableNotFoundException"


def test_point_in_time_restore_shows_the_earlier_state(ddb):
    table = indexed_table(ddb)
    enable_pitr(ddb, table)
    put(ddb, table, "a", 1, "g1", 1, v={"S": "first"})
    put(ddb, table, "a", 2, "g1", 2)
    put(ddb, table, "b", 1, "g2", 3, data={"M": {"x": {"L": [{"N": "1"}, {"NULL": True}]}}})
    t1 = tick()
    expected = by_key(scan_all(ddb, table), "pk", "sk")
    assert len(expected) == 3

    put(ddb, table, "a", 1, "g9", 1, v={"S": "second"})  # overwrite (moves in the GSI)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "2"}})
    put(ddb, table, "c", 1, "g1", 4)  # new
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "b"}, "sk": {"N": "1"}},
        UpdateExpression="SET extra = :x",
        ExpressionAttributeValues={":x": {"S": "y"}},
    )
    t2 = tick()
    latest_expected = by_key(scan_all(ddb, table), "pk", "sk")
    put(ddb, table, "d", 1, "g1", 5)

    restored = tname("pitr")
    desc = ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=restored, RestoreDateTime=t1
    )["TableDescription"]
    assert desc["RestoreSummary"]["SourceTableArn"].endswith(f"table/{table}")
    assert by_key(scan_all(ddb, restored), "pk", "sk") == expected
    assert ddb.describe_table(TableName=restored)["Table"]["ItemCount"] == 3
    gsi = ddb.query(
        TableName=restored,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "g1"}},
    )["Items"]
    assert sorted((i["pk"]["S"], i["sk"]["N"]) for i in gsi) == [("a", "1"), ("a", "2")]

    at_t2 = tname("pitr")
    table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.restore_table_to_point_in_time(
        SourceTableArn=table_arn, TargetTableName=at_t2, RestoreDateTime=t2
    )
    assert by_key(scan_all(ddb, at_t2), "pk", "sk") == latest_expected

    latest = tname("pitr")
    ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName=latest, UseLatestRestorableTime=True
    )
    assert by_key(scan_all(ddb, latest), "pk", "sk") == by_key(scan_all(ddb, table), "pk", "sk")
    # The restored table has no PITR, stream or TTL of its own.
    pitr = ddb.describe_continuous_backups(TableName=latest)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"


def test_point_in_time_restore_errors(ddb):
    table = make_table(ddb, tname("pe"))
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName=tname("x"), UseLatestRestorableTime=True
        )
    assert code(exc) == "PointInTimeRecoveryUnavailableException"

    enable_pitr(ddb, table)
    for when in (datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)):
        with pytest.raises(ClientError) as exc:
            ddb.restore_table_to_point_in_time(
                SourceTableName=table, TargetTableName=tname("x"), RestoreDateTime=when
            )
        assert code(exc) == "InvalidRestoreTimeException"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName=table, UseLatestRestorableTime=True
        )
    assert code(exc) == "TableAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(
            SourceTableName=tname("missing"),
            TargetTableName=tname("x"),
            UseLatestRestorableTime=True,
        )
    assert code(exc) == "TableNotFoundException"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=tname("x"))
    assert code(exc) == "ValidationException"


# --------------------------------------------------------------------------- exports


def read_export(s3, bucket: str, desc: dict) -> tuple[dict, list[dict], list[bytes]]:
    """(summary manifest, files manifest lines, decompressed data files), checking each
    data file against its manifest line."""
    summary = json.loads(s3.get_object(Bucket=bucket, Key=desc["ExportManifest"])["Body"].read())
    files_body = s3.get_object(Bucket=bucket, Key=summary["manifestFilesS3Key"])["Body"].read()
    files = [json.loads(line) for line in files_body.decode().splitlines()]
    data = []
    for f in files:
        obj = s3.get_object(Bucket=bucket, Key=f["dataFileS3Key"])
        raw = obj["Body"].read()
        assert base64.b64decode(f["md5Checksum"]) == hashlib.md5(raw).digest()
        assert f["etag"] == obj["ETag"].strip('"')
        body = gzip.decompress(raw)
        assert len(body.splitlines()) == f["itemCount"]
        data.append(body)
    return summary, files, data


def unb64(value: dict) -> dict:
    """A DynamoDB JSON attribute value from an export, with binaries decoded to bytes."""
    ((t, v),) = value.items()
    if t == "B":
        return {"B": base64.b64decode(v)}
    if t == "BS":
        return {"BS": [base64.b64decode(x) for x in v]}
    if t == "M":
        return {"M": {k: unb64(x) for k, x in v.items()}}
    if t == "L":
        return {"L": [unb64(x) for x in v]}
    return value


def export_items(data: list[bytes]) -> list[dict]:
    return [
        {k: unb64(v) for k, v in json.loads(line)["Item"].items()}
        for body in data
        for line in body.decode().splitlines()
    ]


def rich_item(i: int) -> dict:
    return {
        "pk": {"S": f"k{i}"},
        "n": {"N": str(i * 1.5)},
        "bin": {"B": bytes([i, 0, 255])},
        "bs": {"BS": [b"x", bytes([i])]},
        "ns": {"NS": ["1", "2.5"]},
        "ss": {"SS": ["a", "ü"]},
        "m": {"M": {"nested": {"L": [{"BOOL": True}, {"NULL": True}, {"S": "é"}]}}},
    }


def test_export_writes_aws_layout_with_the_tables_items(ddb, s3):
    bucket = bname("ddbexp")
    s3.create_bucket(Bucket=bucket)
    table = make_table(ddb, tname("exp"))
    enable_pitr(ddb, table)
    for i in range(25):
        ddb.put_item(TableName=table, Item=rich_item(i))
    table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]

    started = ddb.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket=bucket, S3Prefix="backups/nightly"
    )["ExportDescription"]
    assert started["ExportStatus"] in ("IN_PROGRESS", "COMPLETED")
    assert started["ExportFormat"] == "DYNAMODB_JSON"
    assert "ExportType" not in started  # AWS echoes it only when the request sent it
    assert started["ExportArn"].startswith(f"{table_arn}/export/")
    desc = wait_export(ddb, started["ExportArn"])
    assert desc["ExportStatus"] == "COMPLETED", desc
    assert desc["ItemCount"] == 25
    assert desc["BilledSizeBytes"] > 0
    export_id = desc["ExportArn"].rsplit("/", 1)[1]
    folder = f"backups/nightly/AWSDynamoDB/{export_id}"
    assert desc["ExportManifest"] == f"{folder}/manifest-summary.json"

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]}
    assert {
        f"{folder}/_started",
        f"{folder}/manifest-summary.json",
        f"{folder}/manifest-files.json",
    } <= keys
    assert any(k.startswith(f"{folder}/data/") and k.endswith(".json.gz") for k in keys)

    summary, files, data = read_export(s3, bucket, desc)
    assert summary["exportArn"] == desc["ExportArn"]
    assert summary["tableArn"] == table_arn
    assert summary["itemCount"] == 25
    assert summary["outputFormat"] == "DYNAMODB_JSON"
    assert summary["s3Bucket"] == bucket
    assert sum(f["itemCount"] for f in files) == 25
    assert by_key(export_items(data), "pk") == by_key(scan_all(ddb, table), "pk")

    listed = ddb.list_exports(TableArn=table_arn)["ExportSummaries"]
    assert listed == [
        {"ExportArn": desc["ExportArn"], "ExportStatus": "COMPLETED", "ExportType": "FULL_EXPORT"}
    ]


def test_export_at_an_earlier_time_and_incremental(ddb, s3):
    bucket = bname("ddbexp")
    s3.create_bucket(Bucket=bucket)
    table = make_table(ddb, tname("exp-t"))
    enable_pitr(ddb, table)
    for i in range(5):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
    t1 = tick()
    before = by_key(scan_all(ddb, table), "pk")
    ddb.put_item(TableName=table, Item={"pk": {"S": "k0"}, "v": {"N": "100"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "k1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "k9"}, "v": {"N": "9"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "tmp"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "tmp"}})
    t2 = tick()
    ddb.put_item(TableName=table, Item={"pk": {"S": "late"}})
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]

    desc = wait_export(
        ddb,
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, ExportTime=t1)[
            "ExportDescription"
        ]["ExportArn"],
    )
    assert desc["ExportStatus"] == "COMPLETED", desc
    assert abs(desc["ExportTime"] - t1) < timedelta(milliseconds=1)
    _summary, _files, data = read_export(s3, bucket, desc)
    assert by_key(export_items(data), "pk") == before

    desc = wait_export(
        ddb,
        ddb.export_table_to_point_in_time(
            TableArn=arn,
            S3Bucket=bucket,
            ExportType="INCREMENTAL_EXPORT",
            IncrementalExportSpecification={"ExportFromTime": t1, "ExportToTime": t2},
        )["ExportDescription"]["ExportArn"],
    )
    assert desc["ExportStatus"] == "COMPLETED", desc
    assert desc["IncrementalExportSpecification"]["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    summary, files, data = read_export(s3, bucket, desc)
    assert summary["exportType"] == "INCREMENTAL_EXPORT"
    assert all(f["dataFileS3Key"].startswith("AWSDynamoDB/data/") for f in files)
    records = {
        r["Keys"]["pk"]["S"]: r for body in data for r in map(json.loads, body.decode().split())
    }
    assert set(records) == {"k0", "k1", "k9"}  # "tmp" came and went: compacted away
    assert records["k0"]["OldImage"]["v"] == {"N": "0"}
    assert records["k0"]["NewImage"]["v"] == {"N": "100"}
    assert "NewImage" not in records["k1"]
    assert records["k1"]["OldImage"]["v"] == {"N": "1"}
    assert "OldImage" not in records["k9"]
    assert int(records["k9"]["Metadata"]["WriteTimestampMicros"]["N"]) > 0


def test_export_ion(ddb, s3):
    bucket = bname("ddbexp")
    s3.create_bucket(Bucket=bucket)
    table = make_table(ddb, tname("ion"))
    enable_pitr(ddb, table)
    ddb.put_item(TableName=table, Item=rich_item(3))
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    desc = wait_export(
        ddb,
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, ExportFormat="ION")[
            "ExportDescription"
        ]["ExportArn"],
    )
    assert desc["ExportStatus"] == "COMPLETED", desc
    _summary, files, data = read_export(s3, bucket, desc)
    assert files[0]["dataFileS3Key"].endswith(".ion.gz")
    (line,) = data[0].decode().splitlines()
    assert line.startswith("$ion_1_0 {Item:{")
    assert 'pk:"k3"' in line
    assert "n:4.5" in line
    assert '$dynamodb_SS::["a","ü"]' in line
    assert "$dynamodb_NS::[1.,2.5]" in line
    assert "bin:{{AwD/}}" in line
    assert "nested:[true,null," in line


def test_export_errors_and_failures(ddb, s3):
    table = make_table(ddb, tname("exp-e"))
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="anything")
    assert code(exc) == "PointInTimeRecoveryUnavailableException"
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(TableArn=f"{arn}-missing", S3Bucket="anything")
    assert code(exc) == "TableNotFoundException"

    enable_pitr(ddb, table)
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(
            TableArn=arn, S3Bucket="anything", ExportTime=datetime.now(UTC) + timedelta(hours=1)
        )
    assert code(exc) == "InvalidExportTimeException"
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(
            TableArn=arn, S3Bucket="anything", ExportType="INCREMENTAL_EXPORT"
        )
    assert code(exc) == "ValidationException"

    missing_bucket = bname("nobucket")
    desc = wait_export(
        ddb,
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=missing_bucket)[
            "ExportDescription"
        ]["ExportArn"],
    )
    assert desc["ExportStatus"] == "FAILED"
    assert desc["FailureCode"] == "S3NoSuchBucket"

    with pytest.raises(ClientError) as exc:
        ddb.describe_export(ExportArn=f"{arn}/export/01234567890123-abcdef01")
    assert code(exc) == "ExportNotFoundException"


def test_export_client_token_is_idempotent(ddb, s3):
    bucket = bname("ddbexp")
    s3.create_bucket(Bucket=bucket)
    table = make_table(ddb, tname("tok"))
    enable_pitr(ddb, table)
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    first = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, ClientToken="t-1")
    again = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, ClientToken="t-1")
    assert first["ExportDescription"]["ExportArn"] == again["ExportDescription"]["ExportArn"]
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(
            TableArn=arn, S3Bucket=bucket, S3Prefix="other", ClientToken="t-1"
        )
    assert code(exc) == "ExportConflictException"
    empty = wait_export(ddb, first["ExportDescription"]["ExportArn"])
    assert empty["ItemCount"] == 0
    _summary, files, data = read_export(s3, bucket, empty)  # an empty table: one empty file
    assert [f["itemCount"] for f in files] == [0] and data == [b""]

    for _ in range(2):
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket)
    seen, token = [], None
    while True:
        page = ddb.list_exports(
            TableArn=arn, MaxResults=2, **({"NextToken": token} if token else {})
        )
        seen += [e["ExportArn"] for e in page["ExportSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 3


# --------------------------------------------------------------------------- restarts


def test_backups_pitr_and_exports_survive_a_kill(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb, s3 = server.client("dynamodb"), server.client("s3")
        s3.create_bucket(Bucket="exports")
        table = make_table(ddb, "durable-bk", gsis=[index("by-g", ("g", "S"))])
        enable_pitr(ddb, table)
        for i in range(10):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "g": {"S": "x"}})
        arn = ddb.create_backup(TableName=table, BackupName="durable")["BackupDetails"]["BackupArn"]
        t1 = tick()
        ddb.delete_item(TableName=table, Key={"pk": {"S": "k0"}})
        table_arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
        export_arn = ddb.export_table_to_point_in_time(TableArn=table_arn, S3Bucket="exports")[
            "ExportDescription"
        ]["ExportArn"]
        assert wait_export(ddb, export_arn)["ExportStatus"] == "COMPLETED"
    finally:
        server.kill()

    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = server.client("dynamodb")
        assert ddb.describe_export(ExportArn=export_arn)["ExportDescription"]["ItemCount"] == 9
        pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        ddb.restore_table_from_backup(TargetTableName="from-backup", BackupArn=arn)
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName="from-pitr", RestoreDateTime=t1
        )
        for restored in ("from-backup", "from-pitr"):
            assert len(scan_all(ddb, restored)) == 10
            count = ddb.query(
                TableName=restored,
                IndexName="by-g",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": "x"}},
                Select="COUNT",
            )["Count"]
            assert count == 10
    finally:
        server.stop()
