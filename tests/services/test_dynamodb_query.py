"""DynamoDB Query and Scan with real boto3: key conditions, order, pages, indexes, filters."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import qname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


@pytest.fixture
def table(ddb):
    name = qname("query")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "w", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byg",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byw",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "w", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i, sk in enumerate(["-10", "-1.5", "0", "2", "10", "100"]):
        item = {"pk": {"S": "p"}, "sk": {"N": sk}, "n": {"N": str(i)}, "w": {"S": f"w{5 - i}"}}
        if i % 2 == 0:
            item["g"] = {"S": "even"}
        ddb.put_item(TableName=name, Item=item)
    ddb.put_item(TableName=name, Item={"pk": {"S": "other"}, "sk": {"N": "1"}, "n": {"N": "9"}})
    return name


def _sks(resp):
    return [i["sk"]["N"] for i in resp["Items"]]


def test_query_order_and_conditions(ddb, table):
    q = dict(TableName=table, ExpressionAttributeValues={":p": {"S": "p"}})
    out = ddb.query(KeyConditionExpression="pk = :p", **q)
    assert _sks(out) == ["-10", "-1.5", "0", "2", "10", "100"]
    assert out["Count"] == out["ScannedCount"] == 6
    out = ddb.query(KeyConditionExpression="pk = :p", ScanIndexForward=False, **q)
    assert _sks(out) == ["100", "10", "2", "0", "-1.5", "-10"]
    vals = {":p": {"S": "p"}, ":a": {"N": "-1.5"}, ":b": {"N": "10"}}
    out = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues=vals,
    )
    assert _sks(out) == ["-1.5", "0", "2", "10"]
    for op, want in (("<", ["-10"]), ("<=", ["-10", "-1.5"]), (">", ["0", "2", "10", "100"])):
        out = ddb.query(
            TableName=table,
            KeyConditionExpression=f"pk = :p AND sk {op} :a",
            ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "-1.5"}},
        )
        assert _sks(out) == want
    out = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        FilterExpression="n >= :three",
        ExpressionAttributeValues={":p": {"S": "p"}, ":three": {"N": "3"}},
    )
    assert _sks(out) == ["2", "10", "100"]
    assert out["ScannedCount"] == 6 and out["Count"] == 3


def test_query_pages_with_limit(ddb, table):
    got = []
    kw = dict(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Limit=4,
    )
    out = ddb.query(**kw)
    got += _sks(out)
    assert out["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "2"}}
    out = ddb.query(ExclusiveStartKey=out["LastEvaluatedKey"], **kw)
    got += _sks(out)
    assert "LastEvaluatedKey" not in out
    assert got == ["-10", "-1.5", "0", "2", "10", "100"]
    pages = ddb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        PaginationConfig={"PageSize": 2},
    )
    assert sum(p["Count"] for p in pages) == 6


def test_query_gsi_and_lsi(ddb, table):
    out = ddb.query(
        TableName=table,
        IndexName="byg",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "even"}},
    )
    assert _sks(out) == ["-10", "0", "10"]
    assert set(out["Items"][0]) == {"pk", "sk", "g"}
    out = ddb.query(
        TableName=table,
        IndexName="byw",
        KeyConditionExpression="pk = :p AND begins_with(w, :w)",
        ExpressionAttributeValues={":p": {"S": "p"}, ":w": {"S": "w"}},
    )
    assert [i["w"]["S"] for i in out["Items"]] == ["w0", "w1", "w2", "w3", "w4", "w5"]
    assert set(out["Items"][0]) == {"pk", "sk", "w", "n"}
    full = ddb.query(
        TableName=table,
        IndexName="byw",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="ALL_ATTRIBUTES",
    )
    assert sum("g" in i for i in full["Items"]) == 3
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=table,
            IndexName="byg",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            ConsistentRead=True,
        )
    assert message(exc) == "Consistent reads are not supported on global secondary indexes"


def test_scan_filter_projection_count_and_segments(ddb, table):
    out = ddb.scan(TableName=table)
    assert out["Count"] == 7
    out = ddb.scan(
        TableName=table,
        FilterExpression="n > :n",
        ProjectionExpression="n",
        ExpressionAttributeValues={":n": {"N": "3"}},
    )
    assert sorted(i["n"]["N"] for i in out["Items"]) == ["4", "5", "9"]
    out = ddb.scan(
        TableName=table,
        Select="COUNT",
        ScanFilter={"n": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "2"}]}},
    )
    assert out["Count"] == 2 and "Items" not in out
    total = 0
    for seg in range(3):
        total += ddb.scan(TableName=table, Segment=seg, TotalSegments=3)["Count"]
    assert total == 7
    seen = 0
    for page in ddb.get_paginator("scan").paginate(
        TableName=table, PaginationConfig={"PageSize": 2}
    ):
        seen += page["Count"]
    assert seen == 7


def test_legacy_key_conditions(ddb, table):
    out = ddb.query(
        TableName=table,
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
            "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "2"}]},
        },
    )
    assert _sks(out) == ["10", "100"]


def test_query_filter_on_key_attribute_refused(ddb, table):
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            FilterExpression="sk > :n",
            ExpressionAttributeValues={":p": {"S": "p"}, ":n": {"N": "0"}},
        )
    assert message(exc) == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    )


def test_select_modes_and_index_pages(ddb, table):
    out = ddb.query(
        TableName=table,
        IndexName="byw",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="ALL_PROJECTED_ATTRIBUTES",
    )
    assert all(set(i) == {"pk", "sk", "w", "n"} for i in out["Items"])
    out = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="SPECIFIC_ATTRIBUTES",
        ProjectionExpression="n",
    )
    assert all(set(i) == {"n"} for i in out["Items"])
    with pytest.raises(ClientError) as exc:
        ddb.query(
            TableName=table,
            IndexName="byg",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            Select="ALL_ATTRIBUTES",
        )
    assert message(exc) == (
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
        "supported for global secondary index byg because its projection type is not ALL"
    )
    seen, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName=table,
            IndexName="byg",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            Limit=1,
            **kw,
        )
        seen += _sks(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"g", "pk", "sk"}
    assert seen == ["-10", "0", "10"]
