"""DynamoDB global tables (version 2019.11.21) with boto3: UpdateTable's ReplicaUpdates
adds a real replica in another region, items written in either region are in both,
what AWS keeps aligned (indexes, TTL, capacity mode) changes everywhere, and the
requests AWS refuses get AWS's texts (lab captures of live DynamoDB, 2026-10,
DDB-TABLE-188/204/221/226/229/266/297/310)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import N, S, make_table, scan_all, tname

EAST, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"


def clients(server) -> dict:
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1})
    return {r: server.client("dynamodb", region_name=r, config=config) for r in (EAST, WEST, EU)}


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return clients(cloudlet_server)


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _active(c, name: str, timeout: float = 10.0) -> dict:
    """DescribeTable once the table and every replica it lists are ACTIVE."""
    deadline = time.monotonic() + timeout
    while True:
        table = c.describe_table(TableName=name)["Table"]
        statuses = [table["TableStatus"], *(r["ReplicaStatus"] for r in table.get("Replicas", ()))]
        if set(statuses) == {"ACTIVE"} or time.monotonic() > deadline:
            return table
        time.sleep(0.05)


def global_table(ddb, regions=(WEST,), items: int = 0, **kw) -> str:
    name = make_table(ddb[EAST], tname("gt"), **kw)
    for n in range(items):
        ddb[EAST].put_item(TableName=name, Item={"pk": S(f"k{n}"), "v": N(str(n))})
    for region in regions:
        ddb[EAST].update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": region}}])
        _active(ddb[EAST], name)
    return name


def test_a_replica_holds_the_items_and_lists_the_other_regions(ddb):
    name = make_table(ddb[EAST], tname("gt"))
    for n in range(50):
        ddb[EAST].put_item(TableName=name, Item={"pk": S(f"k{n}"), "v": N(str(n))})
    out = ddb[EAST].update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])[
        "TableDescription"
    ]
    assert out["GlobalTableVersion"] == "2019.11.21"
    assert [r["RegionName"] for r in out["Replicas"]] == [WEST]
    # No stream asked for: DynamoDB enables NEW_AND_OLD_IMAGES itself (DDB-TABLE-221).
    assert out["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ddb[WEST].get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    east, west = _active(ddb[EAST], name), _active(ddb[WEST], name)
    # Each side lists the others, never itself (DDB-TABLE-229).
    for table, other in ((east, WEST), (west, EAST)):
        assert table["GlobalTableSettingsReplicationMode"] == "ENABLED_WITH_OVERRIDES"
        (entry,) = table["Replicas"]
        assert entry["RegionName"] == other and entry["ReplicaStatus"] == "ACTIVE"
        assert entry["GlobalTableSettingsReplicationMode"] == "ENABLED_WITH_OVERRIDES"
        assert set(entry["WarmThroughput"]) == {
            "ReadUnitsPerSecond",
            "WriteUnitsPerSecond",
            "Status",
        }
        assert "ReplicaTableClassSummary" not in entry
    assert west["TableArn"] == east["TableArn"].replace(EAST, WEST)
    assert west["TableId"] != east["TableId"]
    assert west["StreamSpecification"] == east["StreamSpecification"]
    assert west["LatestStreamArn"].startswith(west["TableArn"] + "/stream/")
    assert west["ItemCount"] == 50
    assert sorted(i["pk"]["S"] for i in scan_all(ddb[WEST], name)) == sorted(
        f"k{n}" for n in range(50)
    )


def test_writes_in_either_region_reach_the_other(ddb):
    name = global_table(ddb, items=5)
    east, west = ddb[EAST], ddb[WEST]
    east.put_item(TableName=name, Item={"pk": S("e"), "v": N("1")})
    west.update_item(
        TableName=name,
        Key={"pk": S("e")},
        UpdateExpression="ADD v :one",
        ExpressionAttributeValues={":one": N("1")},
    )
    west.delete_item(TableName=name, Key={"pk": S("k1")})
    east.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": S("t1")}}},
            {"Delete": {"TableName": name, "Key": {"pk": S("k2")}}},
        ]
    )
    west.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": S(f"b{n}")}}} for n in range(3)]}
    )
    assert east.get_item(TableName=name, Key={"pk": S("e")}, ConsistentRead=True)["Item"] == {
        "pk": S("e"),
        "v": N("2"),
    }
    want = sorted(["k0", "k3", "k4", "e", "t1", "b0", "b1", "b2"])
    for c in (east, west):
        assert sorted(i["pk"]["S"] for i in scan_all(c, name)) == want


def test_each_replica_stream_carries_the_replicated_writes(ddb, cloudlet_server):
    name = global_table(ddb)
    ddb[EAST].put_item(TableName=name, Item={"pk": S("s1"), "v": N("1")})
    ddb[EAST].delete_item(TableName=name, Key={"pk": S("s1")})
    ds = cloudlet_server.client("dynamodbstreams", region_name=WEST)
    arn = ddb[WEST].describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = ds.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = ds.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = ds.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": S("s1"), "v": N("1")}


def test_indexes_ttl_and_class_are_aligned(ddb):
    name = global_table(ddb, items=6)
    ddb[WEST].update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "v", "AttributeType": "N"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-v",
                    "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    ddb[WEST].update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    for region in (EAST, WEST):
        c = ddb[region]
        deadline = time.monotonic() + 10
        while (
            c.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]["IndexStatus"]
            != "ACTIVE"
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        found = c.query(
            TableName=name,
            IndexName="by-v",
            KeyConditionExpression="v = :v",
            ExpressionAttributeValues={":v": N("3")},
        )["Items"]
        assert found == [{"pk": S("k3"), "v": N("3")}]
        ttl = c.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    ddb[EAST].update_table(TableName=name, TableClass="STANDARD_INFREQUENT_ACCESS")
    west = ddb[WEST].describe_table(TableName=name)["Table"]
    assert west["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"


def test_replica_overrides_are_the_replicas_own(ddb):
    name = global_table(ddb)
    ddb[EAST].update_table(
        TableName=name,
        ReplicaUpdates=[
            {"Update": {"RegionName": WEST, "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}
        ],
    )
    (entry,) = ddb[EAST].describe_table(TableName=name)["Table"]["Replicas"]
    assert entry["ReplicaTableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    west = ddb[WEST].describe_table(TableName=name)["Table"]
    assert west["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert "TableClassSummary" not in ddb[EAST].describe_table(TableName=name)["Table"]


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        (
            [{"Create": {"RegionName": EAST}}],
            "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
            "DeleteTable, or UpdateTable as required.",
        ),
        (
            [{"Create": {"RegionName": "us-fake-1"}}],
            "Region us-fake-1 is not supported. The latest version of global tables are only "
            "supported in the following regions: [",
        ),
        (
            [{"Create": {"RegionName": WEST}}, {"Create": {"RegionName": EU}}],
            "Update table operation with more than one create or delete replica actions not "
            "allowed",
        ),
        (
            [{"Create": {"RegionName": WEST}, "Delete": {"RegionName": EU}}],
            "Update table operation with more than one type of replica actions not allowed.",
        ),
        (
            [{"Update": {"RegionName": WEST}}],
            "There are no actions specified in the Replica Update Action of the request.",
        ),
        (
            [{"Delete": {"RegionName": EU}}],
            "Update global table operation failed because one or more replicas were not part "
            "of the global table. Please retry the request without these replicas: [eu-west-1].",
        ),
    ],
)
def test_replica_update_refusals(ddb, updates, message):
    name = make_table(ddb[EAST], tname("gt-bad"))
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(TableName=name, ReplicaUpdates=updates)
    code, text = _error(exc)
    assert code == "ValidationException" and text.startswith(message)
    assert "Replicas" not in ddb[EAST].describe_table(TableName=name)["Table"]
    assert name not in ddb[WEST].list_tables()["TableNames"]


def test_refusals_of_the_table_and_its_request(ddb):
    name = make_table(ddb[EAST], tname("gt-bad"))
    with pytest.raises(ClientError) as exc:  # checked before the table is looked up
        ddb[EAST].update_table(
            TableName=tname("missing"),
            DeletionProtectionEnabled=True,
            ReplicaUpdates=[{"Create": {"RegionName": WEST}}],
        )
    assert _error(exc) == (
        "ValidationException",
        "One or more parameter values were invalid: Replica modification must be the only "
        "operation in the request",
    )
    provisioned = make_table(
        ddb[EAST],
        tname("gt-prov"),
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(
            TableName=provisioned, ReplicaUpdates=[{"Create": {"RegionName": WEST}}]
        )
    assert _error(exc) == (
        "ValidationException",
        "Table write capacity should either be Pay-Per-Request or AutoScaled.",
    )
    make_table(ddb[WEST], name)  # a table of the name already in the region
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    assert _error(exc) == (
        "ValidationException",
        f"Failed to create a the new replica of table with name: \u2018{name}\u2019 because "
        "one or more replicas already existed as tables.",
    )


def test_a_global_table_keeps_its_stream(ddb):
    name = global_table(ddb)
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert _error(exc) == (
        "ValidationException",
        "One or more parameter values were invalid: Disabling Stream is not allowed for a "
        "Global Table replica.",
    )
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
    assert _error(exc) == (
        "ValidationException",
        f"Table already has an enabled stream: TableName: {name}",
    )


def test_an_existing_stream_is_kept_and_copied(ddb):
    name = global_table(
        ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    for region in (EAST, WEST):
        spec = ddb[region].describe_table(TableName=name)["Table"]["StreamSpecification"]
        assert spec == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}


def test_removing_replicas(ddb):
    name = global_table(ddb, regions=(WEST, EU), items=3)
    east = ddb[EAST].describe_table(TableName=name)["Table"]
    assert sorted(r["RegionName"] for r in east["Replicas"]) == [EU, WEST]
    # The source of a replica added within a day cannot leave while that replica exists.
    with pytest.raises(ClientError) as exc:
        ddb[EAST].delete_table(TableName=name)
    assert _error(exc) == (
        "ValidationException",
        "Replica cannot be deleted because it has acted as a source region for new "
        "replica(s) being added to the table in the last 24 hours.",
    )
    ddb[EU].update_table(TableName=name, DeletionProtectionEnabled=True)
    with pytest.raises(ClientError) as exc:
        ddb[EAST].update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": EU}}])
    assert _error(exc) == (
        "ValidationException",
        f"Cannot delete table {name} in region {EU} because it has deletion protection "
        "enabled. Disable deletion protection first.",
    )
    ddb[EU].update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb[EAST].update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": EU}}])
    assert name not in ddb[EU].list_tables()["TableNames"]
    assert [
        r["RegionName"] for r in ddb[WEST].describe_table(TableName=name)["Table"]["Replicas"]
    ] == [EAST]
    # DeleteTable in a replica's own region removes that replica; the rest carry on.
    ddb[WEST].delete_table(TableName=name)
    east = ddb[EAST].describe_table(TableName=name)["Table"]
    assert "Replicas" not in east and "GlobalTableVersion" not in east
    assert east["StreamSpecification"]["StreamEnabled"] is True  # the stream stays
    ddb[EAST].put_item(TableName=name, Item={"pk": S("alone")})
    assert len(scan_all(ddb[EAST], name)) == 4
    ddb[EAST].delete_table(TableName=name)


def test_replicas_survive_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer

    with CloudletServer.start(data_dir=tmp_path) as server:
        east = clients(server)[EAST]
        name = make_table(east, tname("gt-restart"))
        east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
        _active(east, name)
    with CloudletServer.start(data_dir=tmp_path) as server:
        c = clients(server)
        east, west = c[EAST], c[WEST]
        west.put_item(TableName=name, Item={"pk": S("after")})
        assert east.get_item(TableName=name, Key={"pk": S("after")})["Item"] == {"pk": S("after")}
        (entry,) = east.describe_table(TableName=name)["Table"]["Replicas"]
        assert (entry["RegionName"], entry["ReplicaStatus"]) == (WEST, "ACTIVE")


def test_strict_adding_and_removing_replicas_needs_the_replica_actions(strict_server):
    """Strict mode: a user allowed UpdateTable alone may not add a replica; adding one
    needs CreateTable and CreateTableReplica on the replica's ARN, removing one
    DeleteTable and DeleteTableReplica (developer guide, V2gt_IAM)."""
    import json

    iam = strict_server.client("iam")
    user = tname("gt-user")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]

    def allow(*actions: str) -> None:
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_user_policy(UserName=user, PolicyName="gt", PolicyDocument=json.dumps(policy))

    ddb = strict_server.client(
        "dynamodb",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    name = make_table(clients(strict_server)[EAST], tname("gt-strict"))
    replica_arn = f"arn:aws:dynamodb:{WEST}:000000000000:table/{name}"
    allow("dynamodb:UpdateTable")
    create = [{"Create": {"RegionName": WEST}}]
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, ReplicaUpdates=create)
    code, text = _error(exc)
    assert code == "AccessDeniedException"
    assert f"dynamodb:CreateTable on resource: {replica_arn}" in text
    allow("dynamodb:UpdateTable", "dynamodb:CreateTable", "dynamodb:CreateTableReplica")
    ddb.update_table(TableName=name, ReplicaUpdates=create)
    delete = [{"Delete": {"RegionName": WEST}}]
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, ReplicaUpdates=delete)
    assert f"dynamodb:DeleteTable on resource: {replica_arn}" in _error(exc)[1]
    allow("dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:DeleteTableReplica")
    ddb.update_table(TableName=name, ReplicaUpdates=delete)
    assert name not in clients(strict_server)[WEST].list_tables()["TableNames"]


def test_a_restored_replica_is_a_table_of_one_region(ddb):
    """A backup of a global table restores to a plain table: no replicas, no replication."""
    name = global_table(ddb, items=3)
    arn = ddb[EAST].create_backup(TableName=name, BackupName="gt-backup")["BackupDetails"][
        "BackupArn"
    ]
    copy = tname("gt-restored")
    deadline = time.monotonic() + 10
    while (
        ddb[EAST].describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"][
            "BackupStatus"
        ]
        != "AVAILABLE"
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    ddb[EAST].restore_table_from_backup(TargetTableName=copy, BackupArn=arn)
    restored = _active(ddb[EAST], copy)
    assert "Replicas" not in restored and "GlobalTableVersion" not in restored
    ddb[EAST].put_item(TableName=copy, Item={"pk": S("only-here")})
    assert copy not in ddb[WEST].list_tables()["TableNames"]
    assert len(scan_all(ddb[EAST], copy)) == 4
