"""The legacy global-table operations (version 2017.11.29) with boto3 and the AWS CLI,
answered as DynamoDB answers them in 2026: CreateGlobalTable refused for the version, the
others finding no global table, for a regional table and a 2019.11.21 global table alike
(ack-api-quirks DDB-GLOBALTABLE-001 to -004, DDB-GLOBALTABLESETTINGS-001)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import make_table, tname

EAST, WEST = "us-east-1", "us-west-2"
REFUSED = (
    "One or more parameter values were invalid: DynamoDB global tables version 2017.11.29 is "
    "not supported. We recommend using DynamoDB global tables version 2019.11.21, instead of "
    "version 2017.11.29 (Legacy)."
)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    from botocore.config import Config

    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return {
        r: cloudlet_server.client("dynamodb", region_name=r, config=config)
        for r in (EAST, WEST, "ap-south-1")
    }


def _error(call, **kw) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def _streamed_tables(ddb) -> str:
    """The same empty table, streams on, in two regions: everything the legacy version
    asked for."""
    name = tname("legacy")
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    for region in (EAST, WEST):
        make_table(ddb[region], name, StreamSpecification=spec)
    return name


def test_create_global_table_is_refused_and_creates_nothing(ddb):
    name = _streamed_tables(ddb)
    group = [{"RegionName": EAST}, {"RegionName": WEST}]
    assert _error(ddb[EAST].create_global_table, GlobalTableName=name, ReplicationGroup=group) == (
        "ValidationException",
        REFUSED,
        400,
    )
    code, message, _ = _error(
        ddb["ap-south-1"].create_global_table, GlobalTableName=name, ReplicationGroup=group
    )
    assert code == "ValidationException"
    assert "not supported in this region 'ap-south-1', supported regions are : [eu-west-2, " in (
        message
    )
    assert _error(ddb[EAST].describe_global_table, GlobalTableName=name)[:2] == (
        "GlobalTableNotFoundException",
        f"Global table not found: Global table with name: '{name}' does not exist.",
    )
    # The regional tables are untouched, and a missing table changes nothing either.
    for region in (EAST, WEST):
        table = ddb[region].describe_table(TableName=name)["Table"]
        assert table["TableStatus"] == "ACTIVE" and "GlobalTableVersion" not in table
    assert _error(
        ddb[EAST].create_global_table,
        GlobalTableName=tname("nowhere"),
        ReplicationGroup=[{"RegionName": EAST}],
    )[:2] == ("ValidationException", REFUSED)


def test_the_request_syntax_is_checked_first(ddb):
    code, message, _ = _error(
        ddb[EAST].create_global_table, GlobalTableName="x!", ReplicationGroup=[]
    )
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: Value 'x!' at 'globalTableName'")
    code, message, _ = _error(
        ddb[EAST].update_global_table_settings,
        GlobalTableName=tname("gt"),
        GlobalTableBillingMode="FREE",
    )
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value 'FREE' at 'globalTableBillingMode' failed to "
        "satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
    )


def test_no_global_table_is_found_whatever_the_name_names(ddb):
    regional = make_table(ddb[EAST], tname("regional"))
    current = make_table(ddb[EAST], tname("current"))
    ddb[EAST].update_table(TableName=current, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    for name in (regional, current, tname("missing")):
        gone = f"Global table with name: '{name}' does not exist."
        assert _error(ddb[EAST].describe_global_table, GlobalTableName=name) == (
            "GlobalTableNotFoundException",
            "Global table not found: " + gone,
            400,
        )
        assert _error(ddb[WEST].describe_global_table_settings, GlobalTableName=name)[:2] == (
            "GlobalTableNotFoundException",
            gone,
        )
        assert _error(
            ddb[EAST].update_global_table_settings,
            GlobalTableName=name,
            GlobalTableBillingMode="PAY_PER_REQUEST",
        )[:2] == ("GlobalTableNotFoundException", gone)
        assert _error(
            ddb[EAST].update_global_table,
            GlobalTableName=name,
            ReplicaUpdates=[{"Delete": {"RegionName": WEST}}],
        )[:2] == ("GlobalTableNotFoundException", gone)
        # A new replica is refused for the version before the name is looked up.
        assert _error(
            ddb[EAST].update_global_table,
            GlobalTableName=name,
            ReplicaUpdates=[{"Create": {"RegionName": WEST}}],
        )[:2] == ("ValidationException", REFUSED)
    empty = _error(ddb[EAST].update_global_table, GlobalTableName=regional, ReplicaUpdates=[])
    assert empty[:2] == ("ValidationException", "One or more parameter values were invalid")
    # The 2019.11.21 global table is untouched by all of it.
    table = ddb[WEST].describe_table(TableName=current)["Table"]
    assert table["GlobalTableVersion"] == "2019.11.21"


def test_list_global_tables_lists_nothing(ddb, aws):
    make_table(ddb[EAST], tname("listed"))
    assert ddb[EAST].list_global_tables()["GlobalTables"] == []
    out = ddb[EAST].list_global_tables(RegionName=WEST, Limit=1)
    assert out["GlobalTables"] == [] and "LastEvaluatedGlobalTableName" not in out
    code, message, status = _error(ddb[EAST].list_global_tables, RegionName="us-fake-9")
    assert (code, status) == ("ValidationException", 400) and "us-fake-9" in message
    assert _error(ddb[EAST].list_global_tables, Limit=0)[0] == "ValidationException"
    listed = aws("dynamodb", "list-global-tables", "--region", EAST)
    assert json.loads(listed.stdout) == {"GlobalTables": []}
    refused = aws(
        "dynamodb",
        "describe-global-table",
        "--global-table-name",
        "users",
        "--region",
        EAST,
        check=False,
    )
    assert refused.returncode != 0 and "GlobalTableNotFoundException" in refused.stderr
