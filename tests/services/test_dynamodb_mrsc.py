"""Multi-Region strongly consistent (MRSC) global tables with boto3 and the AWS CLI:
UpdateTable with ``MultiRegionConsistency`` STRONG makes a group of three regions (two
replicas and a witness, or three replicas) whose every replica answers a strongly
consistent read with the latest write; the group is frozen until one UpdateTable
dissolves it; the requests AWS refuses get the texts recorded against live DynamoDB
(ack-api-quirks DDB-TABLE-202, -257 to -261, 2026-10-09)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import S, index, make_table, tname

HOME, EAST, WEST, EU, CAL = "us-east-2", "us-east-1", "us-west-2", "eu-west-1", "us-west-1"
STRONG = "with MultiRegionConsistency set to STRONG"


def clients(server) -> dict:
    from botocore.config import Config

    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return {
        r: server.client("dynamodb", region_name=r, config=config)
        for r in (HOME, EAST, WEST, EU, CAL)
    }


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return clients(cloudlet_server)


def _error(call, **kw) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def create(region: str) -> dict:
    return {"Create": {"RegionName": region}}


def delete(region: str) -> dict:
    return {"Delete": {"RegionName": region}}


def mrsc(ddb, *, witness: str | None = WEST, replicas=(EAST,), **kw) -> str:
    """A new table in HOME made an MRSC group with ``replicas`` and ``witness``."""
    name = make_table(ddb[HOME], tname("mrsc"), **kw)
    request = {
        "TableName": name,
        "MultiRegionConsistency": "STRONG",
        "ReplicaUpdates": [create(r) for r in replicas],
    }
    if witness is not None:
        request["GlobalTableWitnessUpdates"] = [create(witness)]
    ddb[HOME].update_table(**request)
    return name


def test_a_replica_and_a_witness_make_a_strongly_consistent_group(ddb):
    name = mrsc(ddb)
    home = ddb[HOME].describe_table(TableName=name)["Table"]
    replica = ddb[EAST].describe_table(TableName=name)["Table"]
    for table, other in ((home, EAST), (replica, HOME)):
        assert table["MultiRegionConsistency"] == "STRONG"
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert [r["RegionName"] for r in table["Replicas"]] == [other]
        assert table["GlobalTableWitnesses"] == [{"RegionName": WEST, "WitnessStatus": "ACTIVE"}]
        assert "LatestStreamArn" not in table  # MRSC does not replicate through a stream
    # The witness is no table: its region has none, and may have one of its own.
    assert _error(ddb[WEST].describe_table, TableName=name)[0] == "ResourceNotFoundException"
    make_table(ddb[WEST], name)
    # A write in either region is the latest item in the other at once, and a condition
    # is evaluated against it.
    ddb[HOME].put_item(TableName=name, Item={"pk": S("a"), "v": S("1")})
    got = ddb[EAST].get_item(TableName=name, Key={"pk": S("a")}, ConsistentRead=True)
    assert got["Item"] == {"pk": S("a"), "v": S("1")}
    assert _error(
        ddb[EAST].put_item,
        TableName=name,
        Item={"pk": S("a"), "v": S("2")},
        ConditionExpression="attribute_not_exists(pk)",
    )[0] == ("ConditionalCheckFailedException")
    ddb[EAST].update_item(
        TableName=name,
        Key={"pk": S("a")},
        UpdateExpression="SET v = :v",
        ConditionExpression="v = :old",
        ExpressionAttributeValues={":v": S("3"), ":old": S("1")},
    )
    got = ddb[HOME].get_item(TableName=name, Key={"pk": S("a")}, ConsistentRead=True)
    assert got["Item"]["v"] == S("3")
    ddb[HOME].delete_item(TableName=name, Key={"pk": S("a")})
    assert "Item" not in ddb[EAST].get_item(TableName=name, Key={"pk": S("a")})
    # The witness region's own table was left alone.
    assert ddb[WEST].scan(TableName=name)["Count"] == 0


def test_three_replicas_with_the_aws_cli(ddb, aws):
    name = make_table(ddb[HOME], tname("mrsc-cli"))
    out = aws(
        "dynamodb",
        "update-table",
        "--region",
        HOME,
        "--table-name",
        name,
        "--multi-region-consistency",
        "STRONG",
        "--replica-updates",
        json.dumps([create(EAST), create(WEST)]),
    )
    described = json.loads(out.stdout)["TableDescription"]
    assert described["MultiRegionConsistency"] == "STRONG"
    assert "GlobalTableWitnesses" not in described
    for region in (EAST, WEST):
        table = ddb[region].describe_table(TableName=name)["Table"]
        assert sorted(r["RegionName"] for r in table["Replicas"]) == sorted(
            {HOME, EAST, WEST} - {region}
        )
    ddb[WEST].put_item(TableName=name, Item={"pk": S("w")})
    for region in (HOME, EAST):
        assert ddb[region].get_item(TableName=name, Key={"pk": S("w")}, ConsistentRead=True)[
            "Item"
        ] == {"pk": S("w")}


REFUSED_AT_CREATION = [
    ({"ReplicaUpdates": [create(EAST)]}, f"Unsupported replica count for global tables {STRONG}."),
    (
        {"ReplicaUpdates": [create(CAL)], "GlobalTableWitnessUpdates": [create(WEST)]},
        f"Unsupported Region(s) specified for global tables {STRONG}: [{CAL}].",
    ),
    (
        {"ReplicaUpdates": [create(EAST)], "GlobalTableWitnessUpdates": [create(EAST)]},
        "Cannot target multiple regions with the same action",
    ),
    (
        {"ReplicaUpdates": [create(EAST)], "GlobalTableWitnessUpdates": [create(HOME)]},
        "Cannot add a witness in the same region as an existing replica when creating a global "
        f"table {STRONG}.",
    ),
    (
        {"ReplicaUpdates": [delete(EAST)]},
        "Only Replica Create actions are supported when MultiRegionConsistency parameter is "
        "provided.",
    ),
    (
        {
            "ReplicaUpdates": [create(EAST)],
            "GlobalTableWitnessUpdates": [create(WEST)],
            "DeletionProtectionEnabled": True,
        },
        "Requests that modify replicas or witnesses must not also modify other fields",
    ),
    (
        {
            "ReplicaUpdates": [create(EAST)],
            "GlobalTableWitnessUpdates": [create(WEST), create(EU)],
        },
        "at 'globalTableWitnessUpdates' failed to satisfy constraint: Member must have length "
        "less than or equal to 1",
    ),
]


@pytest.mark.parametrize(("request_", "message"), REFUSED_AT_CREATION)
def test_creation_refusals(ddb, request_, message):
    name = make_table(ddb[HOME], tname("mrsc-no"))
    code, text = _error(
        ddb[HOME].update_table, TableName=name, MultiRegionConsistency="STRONG", **request_
    )
    assert code == "ValidationException"
    assert message in text
    table = ddb[HOME].describe_table(TableName=name)["Table"]
    assert "Replicas" not in table and "MultiRegionConsistency" not in table
    assert _error(ddb[EAST].describe_table, TableName=name)[0] == "ResourceNotFoundException"


def test_what_a_table_must_be_to_become_strong(ddb):
    def refused(name: str) -> str:
        code, text = _error(
            ddb[HOME].update_table,
            TableName=name,
            MultiRegionConsistency="STRONG",
            ReplicaUpdates=[create(EAST)],
            GlobalTableWitnessUpdates=[create(WEST)],
        )
        assert code == "ValidationException"
        return text

    filled = make_table(ddb[HOME], tname("mrsc-full"))
    ddb[HOME].put_item(TableName=filled, Item={"pk": S("x")})
    assert "must be empty" in refused(filled)
    local = make_table(
        ddb[HOME],
        tname("mrsc-lsi"),
        range=("sk", "S"),
        lsis=[index("by_v", ("pk", "S"), ("v", "S"))],
    )
    assert "Local secondary indexes are not supported" in refused(local)
    expiring = make_table(ddb[HOME], tname("mrsc-ttl"))
    ddb[HOME].update_time_to_live(
        TableName=expiring, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    assert "Time to Live is not supported" in refused(expiring)
    # A witness needs STRONG; alone, witness updates change nothing.
    plain = make_table(ddb[HOME], tname("mrsc-plain"))
    assert _error(
        ddb[HOME].update_table,
        TableName=plain,
        ReplicaUpdates=[create(EAST)],
        GlobalTableWitnessUpdates=[create(WEST)],
    ) == (
        "ValidationException",
        "MultiRegionConsistency must be set as STRONG when GlobalTableWitnessUpdates parameter "
        "is present.",
    )
    code, text = _error(
        ddb[HOME].update_table,
        TableName=plain,
        MultiRegionConsistency="STRONG",
        GlobalTableWitnessUpdates=[create(WEST)],
    )
    assert code == "ValidationException" and text.startswith("At least one of")
    # An eventual global table cannot become strong.
    ddb[HOME].update_table(TableName=plain, ReplicaUpdates=[create(EAST)])
    assert _error(
        ddb[HOME].update_table,
        TableName=plain,
        MultiRegionConsistency="STRONG",
        ReplicaUpdates=[create(EU)],
        GlobalTableWitnessUpdates=[create(WEST)],
    ) == (
        "ValidationException",
        "MultiRegionConsistency parameter is unsupported on existing global table",
    )


def test_a_group_is_frozen(ddb):
    name = mrsc(ddb)
    home, east = ddb[HOME], ddb[EAST]
    assert _error(home.update_table, TableName=name, ReplicaUpdates=[create(EU)]) == (
        "ValidationException",
        "Cannot add replicas to a global table with strong MultiRegionConsistency",
    )
    assert _error(
        home.update_table,
        TableName=name,
        MultiRegionConsistency="EVENTUAL",
        ReplicaUpdates=[create(EU)],
    ) == (
        "ValidationException",
        "MultiRegionConsistency parameter is unsupported on existing global table",
    )
    one = f"Deletion of only one table replica is not supported for global tables {STRONG}."
    for c in (home, east):
        assert _error(c.delete_table, TableName=name) == ("ValidationException", one)
    assert _error(home.update_table, TableName=name, ReplicaUpdates=[delete(EAST)]) == (
        "ValidationException",
        "Update table delete operation does not include all witnesses.",
    )
    assert _error(
        home.update_table,
        TableName=name,
        ReplicaUpdates=[delete(EAST)],
        GlobalTableWitnessUpdates=[delete(EU)],
    ) == (
        "ValidationException",
        "Update global table operation failed because one or more witnesses were not part of "
        f"the global table. Please retry the request without these witnesses: [{EU}].",
    )
    # No TTL and no transactions on a member; everything else works.
    code, text = _error(
        east.update_time_to_live,
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    assert code == "ValidationException" and "Time to Live is not supported" in text
    put = {"Put": {"TableName": name, "Item": {"pk": S("t")}}}
    code, text = _error(east.transact_write_items, TransactItems=[put])
    assert code == "ValidationException" and "Transactions are not supported" in text
    get = {"Get": {"TableName": name, "Key": {"pk": S("t")}}}
    assert _error(home.transact_get_items, TransactItems=[get])[0] == "ValidationException"
    statement = {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 't'}}"}
    assert _error(home.execute_transaction, TransactStatements=[statement])[0] == (
        "ValidationException"
    )
    assert "Item" not in home.get_item(TableName=name, Key={"pk": S("t")}, ConsistentRead=True)
    home.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'p'}}")
    assert east.get_item(TableName=name, Key={"pk": S("p")}, ConsistentRead=True)["Item"]
    # A stream is each replica's own: turned on and off in one region only.
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    east.update_table(TableName=name, StreamSpecification=spec)
    assert "LatestStreamArn" in east.describe_table(TableName=name)["Table"]
    assert "LatestStreamArn" not in home.describe_table(TableName=name)["Table"]
    east.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})


def test_one_update_table_dissolves_the_group(ddb):
    name = mrsc(ddb)
    ddb[HOME].put_item(TableName=name, Item={"pk": S("kept")})
    ddb[HOME].update_table(
        TableName=name,
        ReplicaUpdates=[delete(EAST)],
        GlobalTableWitnessUpdates=[delete(WEST)],
    )
    table = ddb[HOME].describe_table(TableName=name)["Table"]
    for key in ("Replicas", "GlobalTableVersion", "MultiRegionConsistency", "GlobalTableWitnesses"):
        assert key not in table
    assert _error(ddb[EAST].describe_table, TableName=name)[0] == "ResourceNotFoundException"
    assert ddb[HOME].get_item(TableName=name, Key={"pk": S("kept")})["Item"]
    ddb[HOME].delete_table(TableName=name)

    three = mrsc(ddb, witness=None, replicas=(EAST, WEST))
    one = f"Deletion of only one table replica is not supported for global tables {STRONG}."
    assert _error(ddb[EAST].update_table, TableName=three, ReplicaUpdates=[delete(WEST)]) == (
        "ValidationException",
        one,
    )
    ddb[EAST].update_table(TableName=three, ReplicaUpdates=[delete(WEST), delete(HOME)])
    table = ddb[EAST].describe_table(TableName=three)["Table"]
    assert "MultiRegionConsistency" not in table and "Replicas" not in table
    for region in (HOME, WEST):
        assert _error(ddb[region].describe_table, TableName=three)[0] == (
            "ResourceNotFoundException"
        )
    # A plain global table still takes one replica action per request.
    plain = make_table(ddb[HOME], tname("mrec"))
    ddb[HOME].update_table(TableName=plain, ReplicaUpdates=[create(EAST)])
    ddb[HOME].update_table(TableName=plain, ReplicaUpdates=[create(WEST)])
    assert _error(
        ddb[HOME].update_table, TableName=plain, ReplicaUpdates=[delete(EAST), delete(WEST)]
    ) == (
        "ValidationException",
        "Update table operation with more than one create or delete replica actions not allowed",
    )


def test_a_group_survives_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer

    with CloudletServer.start(data_dir=tmp_path) as server:
        name = mrsc(clients(server))
    with CloudletServer.start(data_dir=tmp_path) as server:
        c = clients(server)
        table = c[EAST].describe_table(TableName=name)["Table"]
        assert table["MultiRegionConsistency"] == "STRONG"
        assert table["GlobalTableWitnesses"] == [{"RegionName": WEST, "WitnessStatus": "ACTIVE"}]
        c[EAST].put_item(TableName=name, Item={"pk": S("after")})
        got = c[HOME].get_item(TableName=name, Key={"pk": S("after")}, ConsistentRead=True)
        assert got["Item"] == {"pk": S("after")}
        assert _error(c[HOME].delete_table, TableName=name)[0] == "ValidationException"
