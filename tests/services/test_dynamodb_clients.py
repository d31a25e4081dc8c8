"""Real DynamoDB clients end to end: boto3's resource API (Python types, conditions,
batch_writer) and the client paginators, the AWS CLI, and boto 2's low-level
``DynamoDBConnection`` with the legacy (pre-expression) parameters."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary

from tests.services.dynamodb_helpers import make_table, tname


@pytest.fixture
def resource(cloudlet_server):
    return boto3.resource(
        "dynamodb",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


# -- boto3 resource API -------------------------------------------------------------------


def test_resource_put_get_python_types_and_update(resource):
    client = resource.meta.client
    name = make_table(client, tname("res"), range=("sk", "S"))
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    table = resource.Table(name)
    assert table.table_status == "ACTIVE"
    assert table.key_schema == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    item = {
        "pk": "p1",
        "sk": "a",
        "price": Decimal("19.99"),
        "qty": 42,
        "exact": Decimal("12345678901234567890123456789012345678"),
        "tiny": Decimal("-0.001"),
        "tags": {"red", "green"},
        "scores": {Decimal("1"), Decimal("2.5")},
        "blobs": {Binary(b"\x00\x01"), b"\xff"},
        "raw": Binary(b"\x00\xffdata"),
        "doc": {"nested": {"list": [1, "two", None, True, {"deep": Decimal("-0.5")}], "e": {}}},
        "flag": False,
        "nothing": None,
        "blank": "",
        "emptylist": [],
    }
    table.put_item(Item=item)
    got = table.get_item(Key={"pk": "p1", "sk": "a"}, ConsistentRead=True)["Item"]
    assert got == {
        **item,
        "qty": Decimal("42"),
        "blobs": {Binary(b"\x00\x01"), Binary(b"\xff")},
        "doc": {
            "nested": {
                "list": [Decimal("1"), "two", None, True, {"deep": Decimal("-0.5")}],
                "e": {},
            }
        },
    }
    assert isinstance(got["raw"], Binary) and got["raw"].value == b"\x00\xffdata"
    assert isinstance(got["price"], Decimal) and isinstance(got["tags"], set)

    # "count" is a reserved word, so it goes through ExpressionAttributeNames.
    updated = table.update_item(
        Key={"pk": "p1", "sk": "a"},
        UpdateExpression=(
            "SET #c = if_not_exists(#c, :zero) + :one, doc.nested.added = :new, "
            "history = list_append(if_not_exists(history, :empty), :h) "
            "REMOVE blank ADD tags :more DELETE scores :gone"
        ),
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":zero": 0,
            ":one": 1,
            ":new": "x",
            ":empty": [],
            ":h": ["created"],
            ":more": {"blue"},
            ":gone": {Decimal("1")},
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated == {
        "count": Decimal("1"),
        "doc": {"nested": {"added": "x"}},
        "history": ["created"],
        "tags": {"red", "green", "blue"},
        "scores": {Decimal("2.5")},
    }
    got = table.get_item(Key={"pk": "p1", "sk": "a"}, ConsistentRead=True)["Item"]
    assert "blank" not in got and got["count"] == 1 and got["doc"]["nested"]["added"] == "x"
    assert got["doc"]["nested"]["list"][4] == {"deep": Decimal("-0.5")}

    # A failed condition through the resource API surfaces as the modelled exception.
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        table.put_item(Item={"pk": "p1", "sk": "a"}, ConditionExpression=Attr("pk").not_exists())
    old = table.delete_item(Key={"pk": "p1", "sk": "a"}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["count"] == 1
    assert "Item" not in table.get_item(Key={"pk": "p1", "sk": "a"}, ConsistentRead=True)


def test_resource_query_and_scan_with_conditions(resource):
    client = resource.meta.client
    table = resource.Table(make_table(client, tname("resq"), range=("sk", "S")))
    for i in range(1, 11):
        kind = "even" if i % 2 == 0 else "odd"
        table.put_item(Item={"pk": "q", "sk": f"item#{i:03d}", "n": i, "kind": kind})
    table.put_item(Item={"pk": "q", "sk": "other#1", "n": 100, "kind": "even"})
    table.put_item(Item={"pk": "r", "sk": "item#001", "n": 7, "kind": "odd"})

    resp = table.query(
        KeyConditionExpression=Key("pk").eq("q") & Key("sk").begins_with("item#"),
        FilterExpression=Attr("n").gt(5),
    )
    assert [i["sk"] for i in resp["Items"]] == [f"item#{i:03d}" for i in range(6, 11)]
    assert resp["Count"] == 5 and resp["ScannedCount"] == 10

    resp = table.query(
        KeyConditionExpression=Key("pk").eq("q") & Key("sk").between("item#003", "item#006"),
        ScanIndexForward=False,
        ProjectionExpression="sk, n",
    )
    assert resp["Items"] == [{"sk": f"item#{i:03d}", "n": Decimal(i)} for i in (6, 5, 4, 3)]

    resp = table.query(
        KeyConditionExpression=Key("pk").eq("q"),
        # (a filter may not name key attributes: AWS refuses sk here)
        FilterExpression=Attr("kind").eq("even") & ~Attr("n").gte(100),
        Select="COUNT",
    )
    assert resp["Count"] == 5 and "Items" not in resp

    resp = table.scan(FilterExpression=Attr("kind").eq("odd") & Attr("n").between(3, 7))
    assert sorted((i["pk"], int(i["n"])) for i in resp["Items"]) == [
        ("q", 3),
        ("q", 5),
        ("q", 7),
        ("r", 7),
    ]
    assert resp["ScannedCount"] == 12

    resp = table.scan(
        FilterExpression=Attr("n").is_in([1, 100]) | Attr("missing").exists(),
        ProjectionExpression="pk, sk",
    )
    assert sorted((i["pk"], i["sk"]) for i in resp["Items"]) == [
        ("q", "item#001"),
        ("q", "other#1"),
    ]


def test_batch_writer_then_client_paginators(resource, aws_client):
    # A plain client: resource.meta.client converts Python values itself.
    client = aws_client("dynamodb")
    name = make_table(client, tname("bw"), range=("sk", "S"))
    table = resource.Table(name)
    # 60 puts go out as BatchWriteItem calls of at most 25; overwrite_by_pkeys folds the
    # repeated key in the last buffer so the request carries no duplicate keys.
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "bw", "sk": f"{i:03d}", "v": i})
        batch.put_item(Item={"pk": "bw", "sk": "059", "v": "last-wins"})
        batch.delete_item(Key={"pk": "bw", "sk": "010"})
        batch.put_item(Item={"pk": "bw", "sk": "000", "v": "rewritten"})
    expected = [f"{i:03d}" for i in range(60) if i != 10]

    paginator = client.get_paginator("query")
    pages = list(
        paginator.paginate(
            TableName=name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "bw"}},
            ConsistentRead=True,
            PaginationConfig={"PageSize": 7},
        )
    )
    assert len(pages) >= 9 and all(p["Count"] <= 7 for p in pages)
    assert all("LastEvaluatedKey" in p for p in pages[:-1])
    items = [i for p in pages for i in p["Items"]]
    assert [i["sk"]["S"] for i in items] == expected
    assert sum(p["Count"] for p in pages) == 59
    by_key = {i["sk"]["S"]: i["v"] for i in items}
    assert by_key["000"] == {"S": "rewritten"} and by_key["059"] == {"S": "last-wins"}
    assert by_key["001"] == {"N": "1"}

    full = paginator.paginate(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "bw"}},
        PaginationConfig={"PageSize": 20},
    ).build_full_result()
    assert full["Count"] == 59 and len(full["Items"]) == 59

    scan_pages = list(
        client.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": 10})
    )
    assert len(scan_pages) >= 6 and all(p["Count"] <= 10 for p in scan_pages)
    assert sorted(i["sk"]["S"] for p in scan_pages for i in p["Items"]) == expected
    # MaxItems stops early and hands back a resumable token.
    first = (
        client.get_paginator("scan")
        .paginate(TableName=name, PaginationConfig={"PageSize": 10, "MaxItems": 15})
        .build_full_result()
    )
    assert len(first["Items"]) == 15 and "NextToken" in first
    rest = (
        client.get_paginator("scan")
        .paginate(
            TableName=name, PaginationConfig={"PageSize": 10, "StartingToken": first["NextToken"]}
        )
        .build_full_result()
    )
    assert sorted(i["sk"]["S"] for i in first["Items"] + rest["Items"]) == expected


def test_list_tables_paginator(resource):
    client = resource.meta.client
    prefix = tname("lt")
    ours = [make_table(client, f"{prefix}-{i}") for i in range(5)]
    pages = list(client.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3 and all(len(p["TableNames"]) <= 2 for p in pages)
    names = [n for p in pages for n in p["TableNames"]]
    assert set(ours) <= set(names)
    assert names == sorted(names) and len(names) == len(set(names))
    page = client.list_tables(ExclusiveStartTableName=ours[1], Limit=2)
    assert page["TableNames"] == ours[2:4] and page["LastEvaluatedTableName"] == ours[3]


# -- the AWS CLI --------------------------------------------------------------------------


def test_cli_table_and_item_commands(aws):
    def js(*args: str) -> dict:
        return json.loads(aws("dynamodb", *args, "--output", "json").stdout)

    name = tname("cli")
    created = js(
        "create-table",
        "--table-name",
        name,
        "--attribute-definitions",
        "AttributeName=pk,AttributeType=S",
        "AttributeName=sk,AttributeType=N",
        "--key-schema",
        "AttributeName=pk,KeyType=HASH",
        "AttributeName=sk,KeyType=RANGE",
        "--billing-mode",
        "PAY_PER_REQUEST",
    )["TableDescription"]
    assert created["TableName"] == name
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    aws("dynamodb", "wait", "table-exists", "--table-name", name)
    assert name in js("list-tables")["TableNames"]

    items = [
        {"pk": {"S": "a"}, "sk": {"N": "1"}, "msg": {"S": "hello"}, "tags": {"SS": ["x", "y"]}},
        {"pk": {"S": "a"}, "sk": {"N": "2"}, "msg": {"S": "world"}},
        {"pk": {"S": "b"}, "sk": {"N": "1"}},
    ]
    put = js(
        "put-item",
        "--table-name",
        name,
        "--item",
        json.dumps(items[0]),
        "--return-consumed-capacity",
        "TOTAL",
    )
    assert put["ConsumedCapacity"]["CapacityUnits"] == 1.0
    for item in items[1:]:
        aws("dynamodb", "put-item", "--table-name", name, "--item", json.dumps(item))

    got = js(
        "get-item",
        "--table-name",
        name,
        "--key",
        json.dumps({"pk": {"S": "a"}, "sk": {"N": "1"}}),
        "--consistent-read",
    )["Item"]
    assert got["msg"] == {"S": "hello"} and sorted(got["tags"]["SS"]) == ["x", "y"]

    queried = js(
        "query",
        "--table-name",
        name,
        "--key-condition-expression",
        "pk = :p AND sk > :s",
        "--expression-attribute-values",
        json.dumps({":p": {"S": "a"}, ":s": {"N": "0"}}),
        "--no-scan-index-forward",
    )
    assert queried["Count"] == 2
    assert [i["sk"]["N"] for i in queried["Items"]] == ["2", "1"]

    # The CLI follows LastEvaluatedKey itself: three one-item pages come back as one.
    scanned = js("scan", "--table-name", name, "--page-size", "1")
    assert scanned["Count"] == 3 and len(scanned["Items"]) == 3

    updated = js(
        "update-item",
        "--table-name",
        name,
        "--key",
        json.dumps({"pk": {"S": "b"}, "sk": {"N": "1"}}),
        "--update-expression",
        "SET msg = :m ADD hits :one",
        "--expression-attribute-values",
        json.dumps({":m": {"S": "new"}, ":one": {"N": "1"}}),
        "--return-values",
        "ALL_NEW",
    )["Attributes"]
    assert updated == {"pk": {"S": "b"}, "sk": {"N": "1"}, "msg": {"S": "new"}, "hits": {"N": "1"}}

    failed = aws(
        "dynamodb",
        "put-item",
        "--table-name",
        name,
        "--item",
        json.dumps(items[1]),
        "--condition-expression",
        "attribute_not_exists(pk)",
        check=False,
    )
    assert failed.returncode != 0
    assert "ConditionalCheckFailedException" in failed.stderr
    assert "The conditional request failed" in failed.stderr

    aws("dynamodb", "delete-item", "--table-name", name, "--key", json.dumps(items[2]))
    assert js("scan", "--table-name", name, "--select", "COUNT")["Count"] == 2

    deleted = js("delete-table", "--table-name", name)["TableDescription"]
    assert deleted["TableName"] == name
    missing = aws("dynamodb", "describe-table", "--table-name", name, check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


# -- boto 2 -------------------------------------------------------------------------------


def _boto2_connection(port: int, *, scope: bool = True):
    pytest.importorskip("boto", reason="boto 2 is not installed")
    from boto.dynamodb2.layer1 import DynamoDBConnection
    from boto.regioninfo import RegionInfo

    conn = DynamoDBConnection(
        host="127.0.0.1",
        port=port,
        is_secure=False,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"),
    )
    if scope:
        # boto 2 derives the SigV4 scope from the host name ("127.0.0.1" would give
        # region "0", service "127"); these documented properties set it explicitly.
        conn.auth_region_name = "us-east-1"
        conn.auth_service_name = "dynamodb"
    return conn


def _all_table_names(conn) -> list[str]:
    names: list[str] = []
    start = None
    while True:
        page = conn.list_tables(exclusive_start_table_name=start, limit=100)
        names += page["TableNames"]
        start = page.get("LastEvaluatedTableName")
        if not start:
            return names


def test_boto2_layer1_legacy_parameters(cloudlet_server):
    conn = _boto2_connection(cloudlet_server.port)
    from boto.dynamodb2 import exceptions as ddb2_exceptions
    from boto.exception import JSONResponseError

    name = tname("boto2")
    created = conn.create_table(
        attribute_definitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        table_name=name,
        key_schema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        provisioned_throughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )["TableDescription"]
    assert created["TableName"] == name
    table = conn.describe_table(name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    assert name in _all_table_names(conn)

    conn.put_item(name, {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}})
    conn.put_item(name, {"pk": {"S": "a"}, "sk": {"N": "2"}, "v": {"S": "two"}})
    conn.put_item(name, {"pk": {"S": "b"}, "sk": {"N": "1"}})
    # Legacy Expected: the condition fails and boto 2 raises its own exception class.
    with pytest.raises(ddb2_exceptions.ConditionalCheckFailedException):
        conn.put_item(
            name,
            {"pk": {"S": "a"}, "sk": {"N": "1"}},
            expected={"v": {"Value": {"S": "nope"}}},
        )
    old = conn.put_item(
        name,
        {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}, "w": {"N": "7"}},
        expected={"v": {"Exists": True, "Value": {"S": "one"}}},
        return_values="ALL_OLD",
    )["Attributes"]
    assert old == {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}}

    got = conn.get_item(
        name,
        {"pk": {"S": "a"}, "sk": {"N": "1"}},
        attributes_to_get=["v", "w"],
        consistent_read=True,
    )["Item"]
    assert got == {"v": {"S": "one"}, "w": {"N": "7"}}
    assert "Item" not in conn.get_item(name, {"pk": {"S": "z"}, "sk": {"N": "1"}})

    # Query with the legacy KeyConditions.
    q = conn.query(
        name,
        key_conditions={
            "pk": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"},
            "sk": {"AttributeValueList": [{"N": "1"}], "ComparisonOperator": "GT"},
        },
        consistent_read=True,
    )
    assert q["Count"] == 1 and q["Items"][0]["v"] == {"S": "two"}
    q = conn.query(
        name,
        key_conditions={"pk": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"}},
        scan_index_forward=False,
        limit=1,
    )
    assert [i["sk"]["N"] for i in q["Items"]] == ["2"] and "LastEvaluatedKey" in q

    s = conn.scan(
        name,
        scan_filter={"sk": {"AttributeValueList": [{"N": "1"}], "ComparisonOperator": "EQ"}},
    )
    assert s["Count"] == 2 and s["ScannedCount"] == 3
    assert sorted(i["pk"]["S"] for i in s["Items"]) == ["a", "b"]

    # UpdateItem with the legacy AttributeUpdates.
    u = conn.update_item(
        name,
        {"pk": {"S": "b"}, "sk": {"N": "1"}},
        attribute_updates={
            "v": {"Action": "PUT", "Value": {"S": "uno"}},
            "n": {"Action": "ADD", "Value": {"N": "3"}},
            "tags": {"Action": "ADD", "Value": {"SS": ["x"]}},
        },
        return_values="ALL_NEW",
    )["Attributes"]
    assert u == {
        "pk": {"S": "b"},
        "sk": {"N": "1"},
        "v": {"S": "uno"},
        "n": {"N": "3"},
        "tags": {"SS": ["x"]},
    }
    u = conn.update_item(
        name,
        {"pk": {"S": "b"}, "sk": {"N": "1"}},
        attribute_updates={"n": {"Action": "ADD", "Value": {"N": "-1"}}, "v": {"Action": "DELETE"}},
        return_values="UPDATED_NEW",
    )["Attributes"]
    assert u == {"n": {"N": "2"}}

    deleted = conn.delete_item(name, {"pk": {"S": "b"}, "sk": {"N": "1"}}, return_values="ALL_OLD")
    assert deleted["Attributes"]["n"] == {"N": "2"} and "v" not in deleted["Attributes"]
    assert "Item" not in conn.get_item(
        name, {"pk": {"S": "b"}, "sk": {"N": "1"}}, consistent_read=True
    )

    # A validation error comes back as boto 2's ValidationException with AWS's message.
    with pytest.raises(ddb2_exceptions.ValidationException) as exc:
        conn.get_item(name, {"pk": {"S": "a"}})
    assert exc.value.status == 400
    assert exc.value.body["message"] == "The provided key element does not match the schema"

    assert conn.delete_table(name)["TableDescription"]["TableName"] == name
    with pytest.raises(JSONResponseError) as exc:
        conn.describe_table(name)
    assert exc.value.status == 400
    assert exc.value.error_code == "ResourceNotFoundException"
    assert exc.value.error_message == f"Requested resource not found: Table: {name} not found"


def test_boto2_default_signing_scope(cloudlet_server):
    """The DynamoDB Local recipe for boto 2: just host and port. boto 2 then signs with a
    scope derived from the host name (region "0", service "127"), so cloudlet has to find
    the service from X-Amz-Target, as it does for any unrecognised scope."""
    conn = _boto2_connection(cloudlet_server.port, scope=False)
    name = tname("boto2d")
    conn.create_table(
        attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        table_name=name,
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        provisioned_throughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    conn.put_item(name, {"pk": {"S": "k"}, "v": {"N": "1"}})
    assert conn.get_item(name, {"pk": {"S": "k"}}, consistent_read=True)["Item"]["v"] == {"N": "1"}
    assert name in _all_table_names(conn)
    conn.delete_table(name)
