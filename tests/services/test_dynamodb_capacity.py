"""ReturnConsumedCapacity's shape and units as DynamoDB reports them, with real boto3.

Only the transactions split their units into ``ReadCapacityUnits`` /
``WriteCapacityUnits``; every other operation reports the aggregate
``CapacityUnits`` alone, in the total and in each arm (paritysuite
dynamodb-conformance issue 69 and its putItem/indexConsumedCapacity tests,
characterised against DynamoDB in 2026).
"""

from __future__ import annotations

import pytest

from tests.services.dynamodb_helpers import S, client, index, make_table, tname


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def table(ddb) -> str:
    return make_table(
        ddb,
        tname("cap"),
        ("pk", "S"),
        ("sk", "S"),
        gsis=[index("gsi", ("g", "S"))],
    )


def _no_split(capacity: dict) -> None:
    for part in [capacity, capacity.get("Table") or {}]:
        assert "ReadCapacityUnits" not in part and "WriteCapacityUnits" not in part, capacity
    for arms in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        for arm in (capacity.get(arms) or {}).values():
            assert set(arm) == {"CapacityUnits"}, capacity


@pytest.mark.parametrize("mode", ["TOTAL", "INDEXES"])
def test_single_item_operations_report_the_aggregate_alone(ddb, table, mode):
    key = {"pk": S("a"), "sk": S("1")}
    caps = [
        ddb.put_item(TableName=table, Item={**key, "g": S("x")}, ReturnConsumedCapacity=mode),
        ddb.get_item(TableName=table, Key=key, ReturnConsumedCapacity=mode),
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": S("1")},
            ReturnConsumedCapacity=mode,
        ),
        ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S("a")},
            ReturnConsumedCapacity=mode,
        ),
        ddb.scan(TableName=table, ReturnConsumedCapacity=mode),
        ddb.delete_item(TableName=table, Key=key, ReturnConsumedCapacity=mode),
    ]
    for out in caps:
        assert out["ConsumedCapacity"]["CapacityUnits"] > 0
        _no_split(out["ConsumedCapacity"])
    batch = ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {**key, "g": S("y")}}}]},
        ReturnConsumedCapacity=mode,
    )
    got = ddb.batch_get_item(RequestItems={table: {"Keys": [key]}}, ReturnConsumedCapacity=mode)
    for out in (batch, got):
        (cap,) = out["ConsumedCapacity"]
        _no_split(cap)


def test_transactions_split_their_units(ddb, table):
    key = {"pk": S("t"), "sk": S("1")}
    wrote = ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": key}}],
        ReturnConsumedCapacity="TOTAL",
    )
    (cap,) = wrote["ConsumedCapacity"]
    assert cap["WriteCapacityUnits"] == cap["CapacityUnits"] == 2.0
    read = ddb.transact_get_items(
        TransactItems=[{"Get": {"TableName": table, "Key": key}}],
        ReturnConsumedCapacity="TOTAL",
    )
    (cap,) = read["ConsumedCapacity"]
    assert cap["ReadCapacityUnits"] == cap["CapacityUnits"] == 2.0
