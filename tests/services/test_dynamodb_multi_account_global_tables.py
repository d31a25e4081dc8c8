"""DynamoDB multi-account global tables with boto3 and the AWS CLI: a table in one
account becomes the source of a replica another account creates with
``GlobalTableSourceArn`` (the developer guide's tutorial, run as written), items and
settings reach every member, DeleteTable in a member's account takes it out, and
``GlobalTableSettingsReplicationMode`` behaves as the lab captured it on regional
tables (DDB-TABLE-048/320). Accounts are 12-digit access keys (open mode)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.cli import aws_cli
from tests.services.dynamodb_helpers import N, S, make_table, tname
from tests.services.test_dynamodb_global_tables import _active, _error

A, B, C = "111122223333", "444455556666", "123456789012"
OHIO, VIRGINIA, OREGON = "us-east-2", "us-east-1", "us-west-2"


def ddb(server, account: str, region: str):
    from botocore.config import Config

    return server.client(
        "dynamodb",
        region_name=region,
        aws_access_key_id=account,
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def source_table(server, items: int = 0, **kw) -> tuple[object, str]:
    """A table of account A in Ohio with settings replication ENABLED."""
    a = ddb(server, A, OHIO)
    name = make_table(a, tname("ma"), GlobalTableSettingsReplicationMode="ENABLED", **kw)
    for n in range(items):
        item = {"pk": S(f"k{n}"), "v": N(str(n))}
        if kw.get("range"):
            item["sk"] = S("x")
        a.put_item(TableName=name, Item=item)
    return a, name


def join(server, account: str, region: str, source: str, name: str, **kw) -> dict:
    c = ddb(server, account, region)
    return c.create_table(
        TableName=name,
        GlobalTableSourceArn=source,
        GlobalTableSettingsReplicationMode="ENABLED",
        **kw,
    )["TableDescription"]


def test_settings_replication_mode_on_regional_tables(cloudlet_server):
    c = ddb(cloudlet_server, A, VIRGINIA)
    name = make_table(c, tname("mode"))
    assert "GlobalTableSettingsReplicationMode" not in c.describe_table(TableName=name)["Table"]
    for mode in ("ENABLED", "ENABLED", "DISABLED", "DISABLED"):
        out = c.update_table(TableName=name, GlobalTableSettingsReplicationMode=mode)
        assert out["TableDescription"]["GlobalTableSettingsReplicationMode"] == mode
        table = c.describe_table(TableName=name)["Table"]
        assert table["GlobalTableSettingsReplicationMode"] == mode
        assert "Replicas" not in table and "GlobalTableVersion" not in table
    for call in (
        lambda: c.update_table(
            TableName=name, GlobalTableSettingsReplicationMode="ENABLED_WITH_OVERRIDES"
        ),
        lambda: make_table(
            c, tname("mode"), GlobalTableSettingsReplicationMode="ENABLED_WITH_OVERRIDES"
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        code, message = _error(exc)
        assert code == "ValidationException"
        assert message.startswith(
            "Value 'ENABLED_WITH_OVERRIDES' at 'GlobalTableSettingsReplicationMode' failed to "
            "satisfy constraint: Only ENABLED and DISABLED settings replication a"
        )
    # A same-account global table shows ENABLED_WITH_OVERRIDES and its mode is not the
    # caller's to set; without replicas again, the table shows nothing.
    c.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": OREGON}}])
    table = _active(c, name)
    assert table["GlobalTableSettingsReplicationMode"] == "ENABLED_WITH_OVERRIDES"
    with pytest.raises(ClientError) as exc:
        c.update_table(TableName=name, GlobalTableSettingsReplicationMode="ENABLED")
    assert _error(exc)[0] == "ValidationException"
    assert "only be updated on a regional table" in _error(exc)[1]
    c.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": OREGON}}])
    assert "GlobalTableSettingsReplicationMode" not in c.describe_table(TableName=name)["Table"]
    made = make_table(c, tname("mode"), GlobalTableSettingsReplicationMode="DISABLED")
    assert c.describe_table(TableName=made)["Table"]["GlobalTableSettingsReplicationMode"] == (
        "DISABLED"
    )


def test_a_replica_in_another_account_copies_the_table_and_replicates_both_ways(
    cloudlet_server,
):
    a, name = source_table(cloudlet_server, items=40, range=("sk", "S"))
    b = ddb(cloudlet_server, B, VIRGINIA)
    out = join(cloudlet_server, B, VIRGINIA, arn(A, OHIO, name), "MusicReplica")
    assert out["TableArn"] == arn(B, VIRGINIA, "MusicReplica")
    assert out["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    b.get_waiter("table_exists").wait(TableName="MusicReplica", WaiterConfig={"Delay": 1})
    east, ohio = _active(b, "MusicReplica"), _active(a, name)
    for table, other in ((east, arn(A, OHIO, name)), (ohio, arn(B, VIRGINIA, "MusicReplica"))):
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert table["GlobalTableSettingsReplicationMode"] == "ENABLED"
        (entry,) = table["Replicas"]
        assert entry["ReplicaArn"] == other
        assert entry["RegionName"] == other.split(":")[3]
        assert entry["ReplicaStatus"] == "ACTIVE"
        assert entry["GlobalTableSettingsReplicationMode"] == "ENABLED"
    # Each replica has its own stream, NEW_AND_OLD_IMAGES as DynamoDB enables it.
    assert east["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert east["LatestStreamArn"].startswith(arn(B, VIRGINIA, "MusicReplica"))
    assert b.scan(TableName="MusicReplica", Select="COUNT")["Count"] == 40
    b.put_item(TableName="MusicReplica", Item={"pk": S("from-b"), "sk": S("1"), "v": N("1")})
    a.put_item(TableName=name, Item={"pk": S("from-a"), "sk": S("1"), "v": N("2")})
    a.delete_item(TableName=name, Key={"pk": S("k0"), "sk": S("x")})
    for c, t in ((a, name), (b, "MusicReplica")):
        for pk in ("from-a", "from-b"):
            assert "Item" in c.get_item(TableName=t, Key={"pk": S(pk), "sk": S("1")})
    # Another account sees nothing of either table by name: each is its owner's.
    with pytest.raises(ClientError) as exc:
        ddb(cloudlet_server, C, VIRGINIA).describe_table(TableName="MusicReplica")
    assert _error(exc)[0] == "ResourceNotFoundException"
    # Settings replicate: an index added in account B is built in account A too.
    b.update_table(
        TableName="MusicReplica",
        AttributeDefinitions=[{"AttributeName": "v", "AttributeType": "N"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "byv",
                    "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    ohio = a.describe_table(TableName=name)["Table"]
    assert [ix["IndexName"] for ix in ohio["GlobalSecondaryIndexes"]] == ["byv"]
    # A replica of a multi-account table is removed in its own account, not by
    # ReplicaUpdates; the source is a regional table again, settings ENABLED.
    with pytest.raises(ClientError) as exc:
        a.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": VIRGINIA}}])
    assert _error(exc)[0] == "ValidationException"
    b.delete_table(TableName="MusicReplica")
    ohio = a.describe_table(TableName=name)["Table"]
    assert "Replicas" not in ohio and "GlobalTableVersion" not in ohio
    assert ohio["GlobalTableSettingsReplicationMode"] == "ENABLED"
    a.put_item(TableName=name, Item={"pk": S("after"), "sk": S("1")})


def test_the_source_stays_a_day_and_a_third_account_joins(cloudlet_server):
    a, name = source_table(cloudlet_server, items=3)
    join(cloudlet_server, B, VIRGINIA, arn(A, OHIO, name), name)
    b = ddb(cloudlet_server, B, VIRGINIA)
    _active(b, name)
    with pytest.raises(ClientError) as exc:
        a.delete_table(TableName=name)
    assert _error(exc) == (
        "ValidationException",
        "Replica cannot be deleted because it has acted as a source region for new replica(s) "
        "being added to the table in the last 24 hours.",
    )
    # A third account joins through any member; every member lists the other two.
    join(cloudlet_server, C, OREGON, arn(B, VIRGINIA, name), "third")
    c = ddb(cloudlet_server, C, OREGON)
    _active(c, "third")
    listed = {
        account: sorted(
            r["ReplicaArn"] for r in t.describe_table(TableName=tn)["Table"]["Replicas"]
        )
        for account, t, tn in ((A, a, name), (B, b, name), (C, c, "third"))
    }
    assert listed[A] == sorted([arn(B, VIRGINIA, name), arn(C, OREGON, "third")])
    assert listed[C] == sorted([arn(A, OHIO, name), arn(B, VIRGINIA, name)])
    assert c.scan(TableName="third", Select="COUNT")["Count"] == 3
    c.put_item(TableName="third", Item={"pk": S("c")})
    assert "Item" in a.get_item(TableName=name, Key={"pk": S("c")})
    assert "Item" in b.get_item(TableName=name, Key={"pk": S("c")})
    # TTL is aligned across the accounts' tables too.
    b.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    assert (
        c.describe_time_to_live(TableName="third")["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "ENABLED"
    )


def test_what_a_new_replica_may_not_be(cloudlet_server):
    a, name = source_table(cloudlet_server)
    source = arn(A, OHIO, name)
    b = ddb(cloudlet_server, B, VIRGINIA)
    plain = make_table(a, tname("plain"))
    provisioned = tname("prov")
    a.create_table(
        TableName=provisioned,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        GlobalTableSettingsReplicationMode="ENABLED",
    )
    cases = [
        ({"GlobalTableSettingsReplicationMode": "DISABLED"}, "must be ENABLED"),
        ({"GlobalTableSourceArn": "not-an-arn"}, "Invalid GlobalTableSourceArn"),
        ({"BillingMode": "PAY_PER_REQUEST"}, "BillingMode cannot be specified"),
        (
            {
                "KeySchema": [{"AttributeName": "other", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}],
            },
            "must be those of the source table",
        ),
        ({"GlobalTableSourceArn": arn(A, OHIO, plain)}, "Settings replication is not ENABLED"),
        ({"GlobalTableSourceArn": arn(A, OHIO, provisioned)}, "Pay-Per-Request or AutoScaled"),
        (
            {"SSESpecification": {"Enabled": True, "SSEType": "KMS"}},
            "do not support AWS managed keys",
        ),
    ]
    for extra, text in cases:
        params = {
            "TableName": tname("bad"),
            "GlobalTableSourceArn": source,
            "GlobalTableSettingsReplicationMode": "ENABLED",
            **extra,
        }
        with pytest.raises(ClientError) as exc:
            b.create_table(**params)
        code, message = _error(exc)
        assert code == "ValidationException" and text in message, (extra, message)
    with pytest.raises(ClientError) as exc:
        b.create_table(
            TableName=tname("bad"),
            GlobalTableSourceArn=arn(A, OHIO, "no-such-table"),
            GlobalTableSettingsReplicationMode="ENABLED",
        )
    assert _error(exc)[0] == "ResourceNotFoundException"
    # The same account adds replicas with ReplicaUpdates; the same region is taken.
    for account, region in ((A, VIRGINIA), (B, OHIO)):
        with pytest.raises(ClientError) as exc:
            join(cloudlet_server, account, region, source, tname("bad"))
        assert _error(exc)[0] == "ValidationException"
    # Nothing was made by the refusals: the source is still a regional table.
    assert "Replicas" not in a.describe_table(TableName=name)["Table"]
    assert not [t for t in b.list_tables()["TableNames"] if t.startswith("bad")]
    # Matching key definitions are taken.
    join(
        cloudlet_server,
        B,
        VIRGINIA,
        source,
        tname("ok"),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=[{"Key": "team", "Value": "b"}],
    )


def test_the_tutorial_with_the_cli_and_a_restart(tmp_path):
    """The developer guide's AWS CLI tutorial, policies and all, then a restart."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DynamoDBActionsNeededForSteadyStateReplication",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:ReadDataForReplication",
                    "dynamodb:WriteDataForReplication",
                    "dynamodb:ReplicateSettings",
                ],
                "Resource": arn(A, OHIO, "MusicTable"),
                "Principal": {"Service": ["replication.dynamodb.amazonaws.com"]},
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": [B, A],
                        "aws:SourceArn": [
                            arn(B, VIRGINIA, "MusicTable"),
                            arn(A, OHIO, "MusicTable"),
                        ],
                    }
                },
            },
            {
                "Sid": "AllowTrustedAccountsToJoinThisGlobalTable",
                "Effect": "Allow",
                "Action": ["dynamodb:AssociateTableReplica"],
                "Resource": arn(A, OHIO, "MusicTable"),
                "Principal": {"AWS": [B]},
            },
        ],
    }
    (tmp_path / "source.json").write_text(json.dumps(policy))
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:

        def cli(account: str, region: str, *args: str) -> dict:
            out = aws_cli(server.endpoint, tmp_path, access_key=account, region=region)(*args)
            return json.loads(out.stdout) if out.stdout.strip() else {}

        cli(
            A, OHIO, "dynamodb", "create-table", "--table-name", "MusicTable",
            "--attribute-definitions", "AttributeName=Artist,AttributeType=S",
            "AttributeName=SongTitle,AttributeType=S",
            "--key-schema", "AttributeName=Artist,KeyType=HASH",
            "AttributeName=SongTitle,KeyType=RANGE",
            "--billing-mode", "PAY_PER_REQUEST",
            "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
            "--global-table-settings-replication-mode", "ENABLED",
            "--resource-policy", "file://source.json",
        )  # fmt: skip
        cli(
            B, VIRGINIA, "dynamodb", "create-table", "--table-name", "MusicTable",
            "--global-table-source-arn", arn(A, OHIO, "MusicTable"),
            "--global-table-settings-replication-mode", "ENABLED",
        )  # fmt: skip
        cli(B, VIRGINIA, "dynamodb", "wait", "table-exists", "--table-name", "MusicTable")
        item = '{"Artist": {"S":"item_1"},"SongTitle": {"S":"Song Value 1"}}'
        cli(A, OHIO, "dynamodb", "put-item", "--table-name", "MusicTable", "--item", item)
        got = cli(B, VIRGINIA, "dynamodb", "get-item", "--table-name", "MusicTable", "--key", item)
        assert got["Item"]["Artist"] == {"S": "item_1"}
        desc = cli(A, OHIO, "dynamodb", "describe-table", "--table-name", "MusicTable")["Table"]
        assert [r["RegionName"] for r in desc["Replicas"]] == [VIRGINIA]
        server.stop()
        server = CloudletServer.start(data_dir=tmp_path / "data")
        b = ddb(server, B, VIRGINIA)
        b.put_item(TableName="MusicTable", Item={"Artist": S("x"), "SongTitle": S("y")})
        a = ddb(server, A, OHIO)
        assert "Item" in a.get_item(
            TableName="MusicTable", Key={"Artist": S("x"), "SongTitle": S("y")}
        )
        assert a.describe_table(TableName="MusicTable")["Table"]["Replicas"][0]["ReplicaArn"] == (
            arn(B, VIRGINIA, "MusicTable")
        )
        policy_back = json.loads(
            a.get_resource_policy(ResourceArn=arn(A, OHIO, "MusicTable"))["Policy"]
        )
        assert policy_back["Statement"][1]["Sid"] == "AllowTrustedAccountsToJoinThisGlobalTable"
        cli(B, VIRGINIA, "dynamodb", "delete-table", "--table-name", "MusicTable")
        assert "Replicas" not in a.describe_table(TableName="MusicTable")["Table"]
    finally:
        server.stop()
