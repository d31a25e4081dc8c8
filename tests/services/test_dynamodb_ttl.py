"""DynamoDB time to live with real boto3: the settings and their errors, and expired items
really disappearing (a dedicated server sweeps every 0.2 s), from the table, its indexes
and into its stream as service deletions."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer

SERVICE = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@pytest.fixture(scope="module")
def fast_server():
    server = CloudletServer.start(env={"CLOUDLET_DYNAMODB_TTL_INTERVAL": "0.2"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ddb(fast_server):
    return fast_server.client("dynamodb")


@pytest.fixture
def streams(fast_server):
    return fast_server.client("dynamodbstreams")


def tname() -> str:
    return f"ttl-{uuid.uuid4().hex[:12]}"


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


def make_table(ddb, *, stream: str | None = None, gsi: bool = False) -> str:
    name = tname()
    kwargs: dict = {}
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    if gsi:
        defs.append({"AttributeName": "g", "AttributeType": "S"})
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=defs,
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )
    return name


def enable(ddb, table: str, attr: str = "expires") -> dict:
    return ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attr}
    )


def put(ddb, table: str, pk: str, expires=None, **extra) -> None:
    item = {"pk": {"S": pk}, **extra}
    if expires is not None:
        item["expires"] = expires if isinstance(expires, dict) else {"N": str(expires)}
    ddb.put_item(TableName=table, Item=item)


def keys(ddb, table: str) -> set[str]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return {i["pk"]["S"] for i in items}


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def stream_records(ddb, streams, table: str) -> list[dict]:
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return streams.get_records(ShardIterator=it)["Records"]


# --------------------------------------------------------------------------- settings


def test_describe_and_update_settings(ddb):
    table = make_table(ddb)
    described = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "DISABLED"}

    out = enable(ddb, table)
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }

    with pytest.raises(ClientError) as exc:
        enable(ddb, table)
    assert (code(exc), message(exc)) == ("ValidationException", "TimeToLive is already enabled")
    with pytest.raises(ClientError) as exc:
        enable(ddb, table, "other")
    assert code(exc) == "ValidationException"
    assert message(exc) == (
        "TimeToLive is active on a different AttributeName: current AttributeName is expires"
    )
    with pytest.raises(ClientError) as exc:
        ddb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": False, "AttributeName": "other"}
        )
    assert message(exc).startswith("TimeToLive is active on a different AttributeName")

    out = ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
    )
    assert out["TimeToLiveSpecification"] == {"Enabled": False, "AttributeName": "expires"}
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    with pytest.raises(ClientError) as exc:
        ddb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
        )
    assert (code(exc), message(exc)) == ("ValidationException", "TimeToLive is already disabled")
    # once off, another attribute may be chosen
    enable(ddb, table, "other")
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "other",
    }


def test_missing_table(ddb):
    name = tname()
    for call in (
        lambda: ddb.describe_time_to_live(TableName=name),
        lambda: enable(ddb, name),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "ResourceNotFoundException"
        assert message(exc) == f"Requested resource not found: Table: {name} not found"


# --------------------------------------------------------------------------- expiry


def test_enabling_expires_existing_items(ddb):
    table = make_table(ddb)
    now = int(time.time())
    put(ddb, table, "past", now - 60)
    put(ddb, table, "just-past", now - 1)
    put(ddb, table, "future", now + 3600)
    put(ddb, table, "text", {"S": str(now - 60)})
    put(ddb, table, "ancient", now - 6 * 365 * 24 * 3600)  # over five years: never expires
    put(ddb, table, "millis", (now - 60) * 1000)  # milliseconds: far future
    put(ddb, table, "none")
    put(ddb, table, "list", {"L": [{"N": str(now - 60)}]})
    time.sleep(0.6)  # TTL is off: nothing goes yet
    assert len(keys(ddb, table)) == 8

    enable(ddb, table)
    survivors = {"future", "text", "ancient", "millis", "none", "list"}
    assert wait_until(lambda: keys(ddb, table) == survivors)
    time.sleep(0.5)
    assert keys(ddb, table) == survivors
    assert ddb.describe_table(TableName=table)["Table"]["ItemCount"] == len(survivors)


def test_items_written_after_enabling_expire(ddb):
    table = make_table(ddb)
    enable(ddb, table)
    now = int(time.time())
    put(ddb, table, "soon", now + 1)
    put(ddb, table, "gone", now - 5)
    put(ddb, table, "stays", now + 3600)
    assert wait_until(lambda: "gone" not in keys(ddb, table))
    assert wait_until(lambda: keys(ddb, table) == {"stays"})


def test_changing_the_attribute_changes_expiry(ddb):
    table = make_table(ddb)
    enable(ddb, table)
    now = int(time.time())
    put(ddb, table, "kept", now + 3600)
    put(ddb, table, "rescued", now + 1)
    # removing the TTL attribute, or making it a string, takes the item off the clock
    ddb.update_item(
        TableName=table, Key={"pk": {"S": "rescued"}}, UpdateExpression="REMOVE expires"
    )
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "kept"}},
        UpdateExpression="SET expires = :e",
        ExpressionAttributeValues={":e": {"N": str(now - 10)}},
    )
    assert wait_until(lambda: keys(ddb, table) == {"rescued"})
    time.sleep(1.5)
    assert keys(ddb, table) == {"rescued"}


def test_disabled_ttl_deletes_nothing(ddb):
    table = make_table(ddb)
    now = int(time.time())
    enable(ddb, table)
    put(ddb, table, "a", now + 1)
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
    )
    put(ddb, table, "b", now - 60)
    time.sleep(2)
    assert keys(ddb, table) == {"a", "b"}


def test_expired_items_leave_indexes(ddb):
    table = make_table(ddb, gsi=True)
    enable(ddb, table)
    put(ddb, table, "a", int(time.time()) - 1, g={"S": "group"})
    put(ddb, table, "b", int(time.time()) + 3600, g={"S": "group"})

    def in_index() -> set[str]:
        out = ddb.query(
            TableName=table,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "group"}},
        )
        return {i["pk"]["S"] for i in out["Items"]}

    assert wait_until(lambda: in_index() == {"b"})


def test_ttl_deletions_in_the_stream(ddb, streams):
    table = make_table(ddb, stream="NEW_AND_OLD_IMAGES")
    enable(ddb, table)
    past = int(time.time()) - 30
    put(ddb, table, "expired", past)
    put(ddb, table, "deleted")
    ddb.delete_item(TableName=table, Key={"pk": {"S": "deleted"}})
    assert wait_until(lambda: keys(ddb, table) == set())
    records = stream_records(ddb, streams, table)
    removes = [r for r in records if r["eventName"] == "REMOVE"]
    by_key = {r["dynamodb"]["Keys"]["pk"]["S"]: r for r in removes}
    assert set(by_key) == {"expired", "deleted"}
    ttl_remove = by_key["expired"]
    assert ttl_remove["userIdentity"] == SERVICE
    assert ttl_remove["dynamodb"]["OldImage"] == {
        "pk": {"S": "expired"},
        "expires": {"N": str(past)},
    }
    assert "NewImage" not in ttl_remove["dynamodb"]
    assert "userIdentity" not in by_key["deleted"]


def test_many_expired_items_go_in_batches(ddb):
    table = make_table(ddb)
    past = int(time.time()) - 10
    items = [{"pk": {"S": f"k{i}"}, "expires": {"N": str(past)}} for i in range(1200)]
    items.append({"pk": {"S": "stay"}})
    for i in range(0, len(items), 25):
        ddb.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": item}} for item in items[i : i + 25]]}
        )
    enable(ddb, table)
    assert wait_until(lambda: keys(ddb, table) == {"stay"}, timeout=10)
