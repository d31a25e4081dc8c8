"""DynamoDB items with real boto3: put/get/update/delete, conditions, return values."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import qname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def table(ddb):
    name = qname("items")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


KEY = {"pk": {"S": "a"}, "sk": {"N": "1"}}


def test_put_get_every_type(ddb, table):
    item = {
        **KEY,
        "s": {"S": "héllo"},
        "n": {"N": "-12.50"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"a", b"b"]},
        "m": {"M": {"deep": {"L": [{"S": "q"}, {"NULL": True}, {"BOOL": False}]}}},
        "e": {"S": ""},
    }
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key=KEY)["Item"]
    assert got["n"] == {"N": "-12.5"}
    assert got["b"] == {"B": b"\x00\xff"}
    assert sorted(got["ss"]["SS"]) == ["x", "y"]
    assert got["m"] == item["m"]
    assert got["e"] == {"S": ""}
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "2"}})
    got = ddb.get_item(TableName=table, Key=KEY, ProjectionExpression="s, m.deep[0]")["Item"]
    assert got == {"s": {"S": "héllo"}, "m": {"M": {"deep": {"L": [{"S": "q"}]}}}}
    got = ddb.get_item(TableName=table, Key=KEY, AttributesToGet=["s"])["Item"]
    assert got == {"s": {"S": "héllo"}}


def test_put_return_values_and_conditions(ddb, table):
    ddb.put_item(TableName=table, Item={**KEY, "v": {"N": "1"}})
    out = ddb.put_item(TableName=table, Item={**KEY, "v": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert out["Attributes"]["v"] == {"N": "1"}
    with pytest.raises(ClientError) as exc:
        ddb.put_item(
            TableName=table,
            Item={**KEY, "v": {"N": "3"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert code(exc) == "ConditionalCheckFailedException"
    assert message(exc) == "The conditional request failed"
    assert exc.value.response["Item"]["v"] == {"N": "2"}
    ddb.put_item(
        TableName=table,
        Item={**KEY, "v": {"N": "3"}},
        ConditionExpression="v = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    # legacy Expected
    with pytest.raises(ClientError) as exc:
        ddb.put_item(
            TableName=table, Item={**KEY, "v": {"N": "4"}}, Expected={"v": {"Value": {"N": "9"}}}
        )
    assert code(exc) == "ConditionalCheckFailedException"
    ddb.put_item(
        TableName=table, Item={**KEY, "v": {"N": "4"}}, Expected={"v": {"Value": {"N": "3"}}}
    )
    assert ddb.get_item(TableName=table, Key=KEY)["Item"]["v"] == {"N": "4"}


def test_update_expression_actions_and_return_values(ddb, table):
    ddb.put_item(
        TableName=table,
        Item={**KEY, "n": {"N": "5"}, "l": {"L": [{"N": "1"}]}, "tags": {"SS": ["a", "b"]}},
    )
    out = ddb.update_item(
        TableName=table,
        Key=KEY,
        UpdateExpression=(
            "SET n = n + :one, l = list_append(l, :more), c = if_not_exists(c, :zero) "
            "ADD tags :t, tally :one REMOVE gone"
        ),
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":more": {"L": [{"N": "2"}]},
            ":zero": {"N": "0"},
            ":t": {"SS": ["c"]},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert sorted(out["tags"]["SS"]) == ["a", "b", "c"]
    out = ddb.update_item(
        TableName=table,
        Key=KEY,
        UpdateExpression="DELETE tags :a",
        ExpressionAttributeValues={":a": {"SS": ["a"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert out["n"] == {"N": "6"}
    assert out["l"] == {"L": [{"N": "1"}, {"N": "2"}]}
    assert out["c"] == {"N": "0"}
    assert out["tally"] == {"N": "1"}
    assert sorted(out["tags"]["SS"]) == ["b", "c"]
    old = ddb.update_item(
        TableName=table,
        Key=KEY,
        UpdateExpression="SET n = :v",
        ExpressionAttributeValues={":v": {"N": "100"}},
        ReturnValues="UPDATED_OLD",
    )["Attributes"]
    assert old == {"n": {"N": "6"}}
    new = ddb.update_item(
        TableName=table,
        Key=KEY,
        UpdateExpression="SET #n = #n - :v",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":v": {"N": "0.5"}},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert new == {"n": {"N": "99.5"}}


def test_update_creates_item_and_legacy_attribute_updates(ddb, table):
    key = {"pk": {"S": "new"}, "sk": {"N": "7"}}
    out = ddb.update_item(
        TableName=table,
        Key=key,
        AttributeUpdates={
            "x": {"Value": {"S": "v"}, "Action": "PUT"},
            "y": {"Value": {"N": "2"}, "Action": "ADD"},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert out == {**key, "x": {"S": "v"}, "y": {"N": "2"}}


def test_update_key_attribute_refused(ddb, table):
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=KEY,
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert message(exc) == (
        "One or more parameter values were invalid: Cannot update attribute pk. "
        "This attribute is part of the key"
    )


def test_delete_with_condition_and_return(ddb, table):
    ddb.put_item(TableName=table, Item={**KEY, "v": {"S": "x"}})
    with pytest.raises(ClientError) as exc:
        ddb.delete_item(
            TableName=table,
            Key=KEY,
            ConditionExpression="v = :y",
            ExpressionAttributeValues={":y": {"S": "y"}},
        )
    assert code(exc) == "ConditionalCheckFailedException"
    out = ddb.delete_item(TableName=table, Key=KEY, ReturnValues="ALL_OLD")
    assert out["Attributes"]["v"] == {"S": "x"}
    assert "Item" not in ddb.get_item(TableName=table, Key=KEY)
    assert "Attributes" not in ddb.delete_item(TableName=table, Key=KEY, ReturnValues="ALL_OLD")


def test_key_validation(ddb, table):
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
    assert message(exc) == "The provided key element does not match the schema"
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    assert (
        message(exc) == "One or more parameter values were invalid: Missing the key sk in the item"
    )
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert message(exc) == (
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    )
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=qname("missing"), Key=KEY)
    assert code(exc) == "ResourceNotFoundException"
    assert message(exc) == "Requested resource not found"


def test_item_size_limit(ddb, table):
    ddb.put_item(TableName=table, Item={**KEY, "big": {"S": "x" * (400 * 1024 - 100)}})
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=table, Item={**KEY, "big": {"S": "x" * (400 * 1024)}})
    assert message(exc) == "Item size has exceeded the maximum allowed size"
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=table,
            Key=KEY,
            UpdateExpression="SET more = :v",
            ExpressionAttributeValues={":v": {"S": "y" * 1000}},
        )
    assert message(exc) == "Item size to update has exceeded the maximum allowed size"


def test_consumed_capacity(ddb, table):
    item = {**KEY, "payload": {"B": b"x" * 1500}}
    out = ddb.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 2.0
    out = ddb.get_item(TableName=table, Key=KEY, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 0.5
    out = ddb.get_item(
        TableName=table, Key=KEY, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
    )
    assert out["ConsumedCapacity"]["CapacityUnits"] == 1.0
