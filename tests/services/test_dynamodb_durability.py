"""DynamoDB durability and concurrency: kill -9 keeps every acknowledged write; concurrent
conditional increments never lose an update."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import index, make_table
from tests.services.sqs_helpers import qname


def _client(server: CloudletServer):
    return boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, max_pool_connections=16),
    )


_BUMP = [
    {
        "Update": {
            "TableName": "durable",
            "Key": {"pk": {"S": "counter"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
]
_PUT = {"Put": {"TableName": "durable", "Item": {"pk": {"S": "other"}}}}


def test_kill_9_keeps_acknowledged_writes(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = _client(server)
        make_table(ddb, "durable", gsis=[index("byg", ("g", "S"))])
        for i in range(200):
            ddb.put_item(
                TableName="durable",
                Item={"pk": {"S": f"k{i}"}, "g": {"S": "x"}, "n": {"N": str(i)}},
            )
        ddb.delete_item(TableName="durable", Key={"pk": {"S": "k0"}})
        ddb.update_item(
            TableName="durable",
            Key={"pk": {"S": "k1"}},
            UpdateExpression="SET n = :v",
            ExpressionAttributeValues={":v": {"N": "1000"}},
        )
        ddb.transact_write_items(TransactItems=_BUMP, ClientRequestToken="retry-me")
    finally:
        server.kill()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = _client(server)
        table = ddb.describe_table(TableName="durable")["Table"]
        assert table["ItemCount"] == 200  # k1..k199 and the counter
        assert "Item" not in ddb.get_item(TableName="durable", Key={"pk": {"S": "k0"}})
        got = ddb.get_item(TableName="durable", Key={"pk": {"S": "k1"}})["Item"]
        assert got["n"] == {"N": "1000"}
        q = ddb.query(
            TableName="durable",
            IndexName="byg",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "x"}},
            Select="COUNT",
        )
        assert q["Count"] == 199
        # The answer was lost with the server: the SDK's retry with the same token is
        # answered, not applied a second time (AWS keeps tokens for 10 minutes).
        ddb.transact_write_items(TransactItems=_BUMP, ClientRequestToken="retry-me")
        got = ddb.get_item(TableName="durable", Key={"pk": {"S": "counter"}})["Item"]
        assert got["n"] == {"N": "1"}
        with pytest.raises(ClientError) as exc:
            ddb.transact_write_items(TransactItems=[_PUT], ClientRequestToken="retry-me")
        assert exc.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    finally:
        server.stop()


def test_concurrent_conditional_increments_never_lose_an_update(cloudlet_server):
    ddb = _client(cloudlet_server)
    name = qname("counter")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "c"}, "n": {"N": "0"}})
    writers, per_writer = 8, 500
    errors: list[BaseException] = []

    def work() -> None:
        client = _client(cloudlet_server)
        done = 0
        try:
            while done < per_writer:
                cur = client.get_item(TableName=name, Key={"pk": {"S": "c"}}, ConsistentRead=True)
                n = int(cur["Item"]["n"]["N"])
                try:
                    client.update_item(
                        TableName=name,
                        Key={"pk": {"S": "c"}},
                        UpdateExpression="SET n = :new",
                        ConditionExpression="n = :old",
                        ExpressionAttributeValues={
                            ":new": {"N": str(n + 1)},
                            ":old": {"N": str(n)},
                        },
                    )
                    done += 1
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                        raise
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": str(writers * per_writer)}


def _purging(server: CloudletServer) -> bool:
    with urllib.request.urlopen(f"{server.endpoint}/_cloudlet/health") as r:
        return json.load(r)["services"]["dynamodb"]["purging"]


def test_a_deleted_tables_rows_go_in_the_background_and_after_a_crash(tmp_path):
    """DeleteTable answers at once (DELETING) and the table's items and index entries
    are deleted in slices while other requests are served (one statement held every
    client for 10 s on a 100,000-item table); a crash mid-way leaves the rest to the
    next start. A table made again with the name starts empty."""
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = _client(server)
        make_table(ddb, "doomed", gsis=[index("byg", ("g", "S"))])
        for start in range(0, 3000, 25):
            ddb.batch_write_item(
                RequestItems={
                    "doomed": [
                        {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "g": {"S": "x" * 200}}}}
                        for i in range(start, start + 25)
                    ]
                }
            )
        status = ddb.delete_table(TableName="doomed")["TableDescription"]["TableStatus"]
        assert status == "DELETING"
    finally:
        server.kill()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = _client(server)
        deadline = time.monotonic() + 30
        while _purging(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _purging(server)
        ddb.create_table(
            TableName="doomed",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert ddb.scan(TableName="doomed")["Count"] == 0
    finally:
        server.stop()
    conn = sqlite3.connect(tmp_path / "dynamodb.sqlite3")
    try:
        left = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _ROW_TABLES]
    finally:
        conn.close()
    assert left == [0, 0, 0]


_ROW_TABLES = ("items", "index_items", "purges")
