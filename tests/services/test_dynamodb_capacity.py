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


# --------------------------------------------------------------------------- index writes
# What a write charges each index, as dynamodb-conformance's indexConsumedCapacity tests
# measured it against DynamoDB (eu-west-2, 2026-08-12): a put or a removal is one write,
# a moved key two, a changed projection one, an unchanged one nothing and no arm at all.


@pytest.fixture(scope="module")
def indexed(ddb) -> str:
    name = tname("idxcap")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsiPk", "lsiSk")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi-inc",
                "KeySchema": [{"AttributeName": "gsiPk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["proj"]},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "lsi1",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "lsiSk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return name


def _arms(cap: dict) -> tuple:
    gsi = (cap.get("GlobalSecondaryIndexes") or {}).get("gsi-inc", {}).get("CapacityUnits")
    lsi = (cap.get("LocalSecondaryIndexes") or {}).get("lsi1", {}).get("CapacityUnits")
    return cap["CapacityUnits"], cap["Table"]["CapacityUnits"], gsi, lsi


FULL = {"gsiPk": S("g"), "lsiSk": S("L1"), "proj": S("p")}


def test_puts_and_deletes_charge_the_indexes_they_touch(ddb, indexed):
    def put(pk: str, **attrs: dict) -> tuple:
        item = {"pk": S(pk), "sk": S("1"), **attrs}
        out = ddb.put_item(TableName=indexed, Item=item, ReturnConsumedCapacity="INDEXES")
        return _arms(out["ConsumedCapacity"])

    assert put("p1", gsiPk=S("g1"), proj=S("p")) == (2, 1, 1, None)
    assert put("p2", other=S("o")) == (1, 1, None, None)  # sparse: no index, no arm
    assert put("p3", lsiSk=S("L1")) == (2, 1, None, 1)
    assert put("p4", **FULL) == (3, 1, 1, 1)
    assert put("p4", **FULL) == (1, 1, None, None)  # identical overwrite: no index write
    total = ddb.put_item(
        TableName=indexed,
        Item={"pk": S("p5"), "sk": S("1"), "gsiPk": S("g2")},
        ReturnConsumedCapacity="TOTAL",
    )["ConsumedCapacity"]
    assert total == {"TableName": indexed, "CapacityUnits": 2.0}
    gone = ddb.delete_item(
        TableName=indexed,
        Key={"pk": S("p4"), "sk": S("1")},
        ReturnConsumedCapacity="INDEXES",
    )
    assert _arms(gone["ConsumedCapacity"]) == (3, 1, 1, 1)


@pytest.mark.parametrize(
    ("update", "values", "arms"),
    [
        ("SET misc = :v", {":v": S("o2")}, (2, 1, None, 1)),  # not in the GSI's projection
        ("SET proj = :v", {":v": S("p2")}, (3, 1, 1, 1)),  # projected: one write each
        ("SET gsiPk = :v", {":v": S("moved")}, (4, 1, 2, 1)),  # key moved: delete + put
        ("REMOVE gsiPk", None, (3, 1, 1, 1)),  # out of the GSI: one delete
        ("SET lsiSk = :v", {":v": S("L2")}, (3, 1, None, 2)),
    ],
)
def test_updates_charge_what_the_index_stores(ddb, indexed, update, values, arms):
    pk = tname("u")
    ddb.put_item(TableName=indexed, Item={"pk": S(pk), "sk": S("1"), "misc": S("o"), **FULL})
    extra = {"ExpressionAttributeValues": values} if values else {}
    out = ddb.update_item(
        TableName=indexed,
        Key={"pk": S(pk), "sk": S("1")},
        UpdateExpression=update,
        ReturnConsumedCapacity="INDEXES",
        **extra,
    )
    assert _arms(out["ConsumedCapacity"]) == arms


def test_batch_write_folds_the_index_writes_into_its_table_entry(ddb, indexed):
    out = ddb.batch_write_item(
        RequestItems={
            indexed: [
                {"PutRequest": {"Item": {"pk": S("b1"), "sk": S("1"), "gsiPk": S("g")}}},
                {"PutRequest": {"Item": {"pk": S("b2"), "sk": S("1"), "other": S("o")}}},
            ]
        },
        ReturnConsumedCapacity="INDEXES",
    )
    (cap,) = out["ConsumedCapacity"]
    assert _arms(cap) == (3, 2, 1, None)
