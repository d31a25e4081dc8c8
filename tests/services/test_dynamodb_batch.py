"""DynamoDB batches and transactions with real boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import qname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


def _table(ddb) -> str:
    name = qname("batch")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_batch_write_and_get(ddb):
    a, b = _table(ddb), _table(ddb)
    out = ddb.batch_write_item(
        RequestItems={
            a: [
                {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(i)}}}}
                for i in range(20)
            ],
            b: [{"PutRequest": {"Item": {"pk": {"S": "only"}}}}],
        }
    )
    assert out["UnprocessedItems"] == {}
    ddb.batch_write_item(RequestItems={a: [{"DeleteRequest": {"Key": {"pk": {"S": "k0"}}}}]})
    got = ddb.batch_get_item(
        RequestItems={
            a: {
                "Keys": [{"pk": {"S": "k0"}}, {"pk": {"S": "k1"}}, {"pk": {"S": "k2"}}],
                "ProjectionExpression": "v",
            },
            b: {"Keys": [{"pk": {"S": "only"}}], "ConsistentRead": True},
        }
    )
    assert sorted(i["v"]["N"] for i in got["Responses"][a]) == ["1", "2"]
    assert got["Responses"][b] == [{"pk": {"S": "only"}}]
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as exc:
        ddb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": {"pk": {"S": "d"}}}}] * 2})
    assert (
        exc.value.response["Error"]["Message"] == "Provided list of item keys contains duplicates"
    )


def test_transact_write_all_or_nothing(ddb):
    a, b = _table(ddb), _table(ddb)
    ddb.put_item(TableName=a, Item={"pk": {"S": "acct"}, "bal": {"N": "10"}})
    ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": a,
                    "Key": {"pk": {"S": "acct"}},
                    "UpdateExpression": "SET bal = bal - :n",
                    "ConditionExpression": "bal >= :n",
                    "ExpressionAttributeValues": {":n": {"N": "4"}},
                }
            },
            {"Put": {"TableName": b, "Item": {"pk": {"S": "ledger1"}, "amt": {"N": "4"}}}},
        ]
    )
    assert ddb.get_item(TableName=a, Key={"pk": {"S": "acct"}})["Item"]["bal"] == {"N": "6"}
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": b, "Item": {"pk": {"S": "ledger2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": a,
                        "Key": {"pk": {"S": "acct"}},
                        "ConditionExpression": "bal >= :n",
                        "ExpressionAttributeValues": {":n": {"N": "100"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    assert code(exc) == "TransactionCanceledException"
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["bal"] == {"N": "6"}
    assert exc.value.response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]"
    )
    assert "Item" not in ddb.get_item(TableName=b, Key={"pk": {"S": "ledger2"}})
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": a, "Key": {"pk": {"S": "acct"}}}},
            {"Get": {"TableName": b, "Key": {"pk": {"S": "nope"}}}},
        ]
    )["Responses"]
    assert got[0]["Item"]["bal"] == {"N": "6"} and got[1] == {}


def test_transact_idempotent_token(ddb):
    a = _table(ddb)
    ddb.put_item(TableName=a, Item={"pk": {"S": "c"}, "n": {"N": "0"}})
    items = [
        {
            "Update": {
                "TableName": a,
                "Key": {"pk": {"S": "c"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    ]
    first = ddb.transact_write_items(
        TransactItems=items, ClientRequestToken="tok-1", ReturnConsumedCapacity="TOTAL"
    )
    assert first["ConsumedCapacity"] == [
        {"TableName": a, "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
    ]
    # A replay changes nothing and, per the API reference (and real DynamoDB), counts the
    # read of its items, not a write.
    again = ddb.transact_write_items(
        TransactItems=items, ClientRequestToken="tok-1", ReturnConsumedCapacity="TOTAL"
    )
    assert again["ConsumedCapacity"] == [
        {"TableName": a, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    ]
    assert "ConsumedCapacity" not in ddb.transact_write_items(
        TransactItems=items, ClientRequestToken="tok-1"
    )
    assert ddb.get_item(TableName=a, Key={"pk": {"S": "c"}})["Item"]["n"] == {"N": "1"}
    items[0]["Update"]["ExpressionAttributeValues"][":one"] = {"N": "2"}
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    assert code(exc) == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=items * 2)
    assert exc.value.response["Error"]["Message"] == (
        "Transaction request cannot include multiple operations on one item"
    )


def test_transact_write_over_4_mb_of_items_is_refused_whole(ddb):
    """The API reference: "The aggregate size of the items in the transaction cannot
    exceed 4 MB." Eleven 390 KB items (~4.1 MiB) are refused and none is written; ten
    (~3.7 MiB) go in."""
    name = _table(ddb)

    def puts(count: int, tag: str) -> list[dict]:
        return [
            {
                "Put": {
                    "TableName": name,
                    "Item": {"pk": {"S": f"{tag}{i}"}, "x": {"S": "a" * 390_000}},
                }
            }
            for i in range(count)
        ]

    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=puts(11, "big"))
    assert code(exc) == "ValidationException"
    assert "4 MB" in exc.value.response["Error"]["Message"]
    pages = ddb.get_paginator("scan")  # ~1 MB a page: count them all
    assert sum(p["Count"] for p in pages.paginate(TableName=name, Select="COUNT")) == 0
    ddb.transact_write_items(TransactItems=puts(10, "ok"))
    assert sum(p["Count"] for p in pages.paginate(TableName=name, Select="COUNT")) == 10
