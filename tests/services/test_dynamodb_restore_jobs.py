"""A restore that takes longer than the request answers CREATING with
RestoreInProgress, runs on while other clients are served, and survives kill -9: the
restarted server finishes it (``restores.py``). So does a backup (``backup_copies.py``),
which stays the table as it was when it began. The server here works on a restore or a
backup for no time before answering (``CLOUDLET_DYNAMODB_*_WAIT=0``)."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import index, make_table

ITEMS = 3000
NOW = {"CLOUDLET_DYNAMODB_RESTORE_WAIT": "0", "CLOUDLET_DYNAMODB_BACKUP_WAIT": "0"}


def _client(server: CloudletServer):
    return server.client("dynamodb", region_name="us-east-1")


def _fill(ddb, *, wait: bool = True) -> str:
    """The source table of 3,000 items and a backup of it (once AVAILABLE, if ``wait``)."""
    gsis = [index(name, ("g", "S")) for name in ("by-g", "g-too", "g-three")]
    make_table(ddb, "source", gsis=gsis)
    table = boto3.resource(
        "dynamodb",
        endpoint_url=ddb.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).Table("source")
    with table.batch_writer() as batch:
        for n in range(ITEMS):
            batch.put_item(Item={"pk": f"k{n:05d}", "g": f"g{n % 7}", "v": "x" * 100})
    arn = ddb.create_backup(TableName="source", BackupName="full")["BackupDetails"]["BackupArn"]
    if wait:
        _available(ddb, arn)
    return arn


def _active(ddb, name: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        table = ddb.describe_table(TableName=name)["Table"]
        if table["TableStatus"] == "ACTIVE" or time.monotonic() > deadline:
            return table
        time.sleep(0.05)


def _check_restored(ddb, name: str) -> None:
    table = _active(ddb, name)
    assert table["TableStatus"] == "ACTIVE"
    assert table["ItemCount"] == ITEMS
    assert table["RestoreSummary"]["RestoreInProgress"] is False
    count = ddb.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "g3"}},
        Select="COUNT",
    )["Count"]
    assert count == len([n for n in range(ITEMS) if n % 7 == 3])
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "k02999"}})["Item"]
    assert got["v"] == {"S": "x" * 100}


def test_a_long_restore_answers_creating_and_finishes_in_the_background():
    # Slices 10 ms apart: the restore outlasts the checks below however busy the machine
    # (unpaused it takes a fraction of a second, and a loaded run once let it finish first).
    with CloudletServer.start(env={**NOW, "CLOUDLET_SLICE_PAUSE": "0.01"}) as server:
        ddb = _client(server)
        arn = _fill(ddb)
        answer = ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
        desc = answer["TableDescription"]
        assert desc["TableStatus"] == "CREATING"
        assert desc["RestoreSummary"]["RestoreInProgress"] is True
        # Meanwhile (three indexes of 3,000 items take a while): its backup stays, the
        # table takes no reads and no deletes.
        with pytest.raises(ClientError) as exc:
            ddb.delete_backup(BackupArn=arn)
        assert exc.value.response["Error"]["Code"] == "BackupInUseException"
        with pytest.raises(ClientError) as exc:
            ddb.get_item(TableName="copy", Key={"pk": {"S": "k00001"}})
        assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as exc:
            ddb.delete_table(TableName="copy")
        assert exc.value.response["Error"]["Code"] == "ResourceInUseException"
        # Other clients are served while it runs.
        assert ddb.describe_table(TableName="source")["Table"]["ItemCount"] == ITEMS
        ddb.get_waiter("table_exists").wait(TableName="copy", WaiterConfig={"Delay": 0.2})
        _check_restored(ddb, "copy")
        ddb.delete_backup(BackupArn=arn)


def test_a_point_in_time_restore_in_the_background(tmp_path):
    with CloudletServer.start(env=NOW) as server:
        ddb = _client(server)
        _fill(ddb)
        ddb.update_continuous_backups(
            TableName="source",
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        answer = ddb.restore_table_to_point_in_time(
            SourceTableName="source", TargetTableName="as-of", UseLatestRestorableTime=True
        )
        assert answer["TableDescription"]["TableStatus"] == "CREATING"
        for n in range(0, ITEMS, 100):  # changes after the restore time: not in the copy
            ddb.put_item(TableName="source", Item={"pk": {"S": f"k{n:05d}"}, "g": {"S": "new"}})
        _check_restored(ddb, "as-of")


def test_kill_9_during_a_restore_then_the_restart_finishes_it(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path, env=NOW)
    try:
        ddb = _client(server)
        arn = _fill(ddb)
        answer = ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
        assert answer["TableDescription"]["TableStatus"] == "CREATING"
    finally:
        server.kill()
    with CloudletServer.start(data_dir=tmp_path) as server:
        _check_restored(_client(server), "copy")


def _available(ddb, arn: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        details = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
        if details["BackupStatus"] == "AVAILABLE" or time.monotonic() > deadline:
            return details
        time.sleep(0.05)


def test_a_backup_is_creating_then_the_table_as_it_was():
    with CloudletServer.start(env=NOW) as server:
        ddb = _client(server)
        _fill(ddb)
        answer = ddb.create_backup(TableName="source", BackupName="again")["BackupDetails"]
        assert answer["BackupStatus"] == "CREATING"  # 3,000 items, 32 in its first slice
        arn = answer["BackupArn"]
        for n in range(0, ITEMS, 100):  # after the backup began: not in it
            ddb.delete_item(TableName="source", Key={"pk": {"S": f"k{n:05d}"}})
        ddb.put_item(TableName="source", Item={"pk": {"S": "later"}, "g": {"S": "g3"}})
        assert _available(ddb, arn)["BackupStatus"] == "AVAILABLE"
        ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
        _check_restored(ddb, "copy")
        assert "Item" not in ddb.get_item(TableName="copy", Key={"pk": {"S": "later"}})


def test_kill_9_during_a_backup_then_the_restart_finishes_it(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path, env=NOW)
    try:
        ddb = _client(server)
        arn = _fill(ddb, wait=False)
        first = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
        assert first["BackupStatus"] in ("CREATING", "AVAILABLE")
    finally:
        server.kill()
    with CloudletServer.start(data_dir=tmp_path) as server:
        ddb = _client(server)
        assert _available(ddb, arn)["BackupStatus"] == "AVAILABLE"
        ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
        _check_restored(ddb, "copy")
