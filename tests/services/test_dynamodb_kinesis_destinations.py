"""Kinesis Data Streams for DynamoDB with boto3 and the AWS CLI: a table's changes reach a
Kinesis stream as AWS's records once the destination is ACTIVE, in the destination's
timestamp precision, and stop when it is disabled; the lifecycle, the refusals (texts of
the lab's catalogue, DDB-TABLE-442) and a restart behave as on AWS."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import N, S, make_table, tname

FAST = {"CLOUDLET_DYNAMODB_KINESIS_INTERVAL": "0.1"}


@pytest.fixture(scope="module")
def server():
    with CloudletServer.start(env=FAST) as srv:
        yield srv


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def kinesis(server):
    return server.client("kinesis")


def stream(kinesis, name: str | None = None) -> str:
    name = name or tname("kds")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def settled(ddb, table: str, arn: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        listed = ddb.describe_kinesis_streaming_destination(TableName=table)
        (entry,) = [d for d in listed["KinesisDataStreamDestinations"] if d["StreamArn"] == arn]
        if entry["DestinationStatus"] not in ("ENABLING", "DISABLING", "UPDATING"):
            return entry
        assert time.monotonic() < deadline, entry
        time.sleep(0.05)


def records(kinesis, arn: str, want: int, timeout: float = 10.0) -> list[dict]:
    """Every record of the stream's shards, once at least ``want`` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        out = []
        for shard in kinesis.list_shards(StreamARN=arn)["Shards"]:
            it = kinesis.get_shard_iterator(
                StreamARN=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            got = kinesis.get_records(ShardIterator=it, StreamARN=arn)
            out += [json.loads(r["Data"]) for r in got["Records"]]
        if len(out) >= want or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


def test_changes_reach_the_stream_while_the_destination_is_active(ddb, kinesis, aws_at):
    arn = stream(kinesis)
    table = make_table(ddb, tname("kds"), range=("sk", "S"))
    ddb.put_item(TableName=table, Item={"pk": S("before"), "sk": S("1")})  # not streamed
    out = ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert out["DestinationStatus"] == "ENABLING"
    assert out["EnableKinesisStreamingConfiguration"] == {
        "ApproximateCreationDateTimePrecision": "MICROSECOND"
    }
    assert settled(ddb, table, arn)["DestinationStatus"] == "ACTIVE"
    with pytest.raises(ClientError) as exc:
        ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert exc.value.response["Error"]["Message"].startswith(
        "Table is not in a valid state to enable Kinesis Streaming Destination: "
        "EnableKinesisStreamingDestination must be DISABLED or ENABLE_FAILED"
    )
    ddb.put_item(TableName=table, Item={"pk": S("a"), "sk": S("1"), "v": N("1")})
    ddb.update_item(
        TableName=table,
        Key={"pk": S("a"), "sk": S("1")},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": N("2")},
    )
    ddb.delete_item(TableName=table, Key={"pk": S("a"), "sk": S("1")})
    got = records(kinesis, arn, 3)
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = got
    assert list(insert) == [
        "awsRegion",
        "eventID",
        "eventName",
        "userIdentity",
        "recordFormat",
        "tableName",
        "dynamodb",
        "eventSource",
    ]
    assert insert["recordFormat"] == "application/json" and insert["tableName"] == table
    assert insert["eventSource"] == "aws:dynamodb" and insert["userIdentity"] is None
    assert insert["dynamodb"]["Keys"] == {"pk": S("a"), "sk": S("1")}
    assert insert["dynamodb"]["NewImage"]["v"] == N("1") and "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["v"] == N("1")
    assert modify["dynamodb"]["NewImage"]["v"] == N("2")
    assert "NewImage" not in remove["dynamodb"]
    assert insert["dynamodb"]["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    assert len(str(insert["dynamodb"]["ApproximateCreationDateTime"])) == 16  # microseconds
    # A new precision applies to the records after it.
    with pytest.raises(ClientError) as exc:
        ddb.update_kinesis_streaming_destination(
            TableName=table,
            StreamArn=arn,
            UpdateKinesisStreamingConfiguration={
                "ApproximateCreationDateTimePrecision": "MICROSECOND"
            },
        )
    assert exc.value.response["Error"]["Message"].startswith(
        "Invalid Request: Precision is already set to the desired value of MICROSECOND"
    )
    ddb.update_kinesis_streaming_destination(
        TableName=table,
        StreamArn=arn,
        UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MILLISECOND"},
    )
    assert settled(ddb, table, arn)["ApproximateCreationDateTimePrecision"] == "MILLISECOND"
    ddb.put_item(TableName=table, Item={"pk": S("b"), "sk": S("1")})
    last = records(kinesis, arn, 4)[-1]
    assert len(str(last["dynamodb"]["ApproximateCreationDateTime"])) == 13  # milliseconds
    # Disabled: no more records; disabling again is refused with AWS's text.
    out = ddb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert out["DestinationStatus"] == "DISABLING"
    assert settled(ddb, table, arn)["DestinationStatus"] == "DISABLED"
    ddb.put_item(TableName=table, Item={"pk": S("after"), "sk": S("1")})
    time.sleep(0.5)
    assert len(records(kinesis, arn, 5, timeout=0.5)) == 4
    with pytest.raises(ClientError) as exc:
        ddb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert "must be ACTIVE to perform DISABLE operation" in exc.value.response["Error"]["Message"]
    described = json.loads(
        aws_at("dynamodb", "describe-kinesis-streaming-destination", "--table-name", table).stdout
    )
    assert described["KinesisDataStreamDestinations"][0]["DestinationStatus"] == "DISABLED"


def test_a_missing_stream_fails_the_destination(ddb):
    table = make_table(ddb, tname("kds-missing"))
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/no-such-stream"
    ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    entry = settled(ddb, table, arn)
    assert entry["DestinationStatus"] == "ENABLE_FAILED"
    assert "no-such-stream" in entry["DestinationStatusDescription"]
    with pytest.raises(ClientError) as exc:
        ddb.describe_kinesis_streaming_destination(TableName=tname("absent"))
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_destination_survives_a_restart(tmp_path):
    server = CloudletServer.start(env=FAST, data_dir=tmp_path)
    try:
        ddb, kinesis = server.client("dynamodb"), server.client("kinesis")
        arn = stream(kinesis)
        table = make_table(ddb, tname("kds-restart"))
        ddb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
        settled(ddb, table, arn)
        ddb.put_item(TableName=table, Item={"pk": S("one")})
        records(kinesis, arn, 1)
        server.stop()
        server = CloudletServer.start(env=FAST, data_dir=tmp_path)
        ddb, kinesis = server.client("dynamodb"), server.client("kinesis")
        assert settled(ddb, table, arn)["DestinationStatus"] == "ACTIVE"
        ddb.put_item(TableName=table, Item={"pk": S("two")})
        assert [r["dynamodb"]["Keys"]["pk"] for r in records(kinesis, arn, 2)] == [
            S("one"),
            S("two"),
        ]
    finally:
        server.stop()


@pytest.fixture
def aws_at(server, tmp_path):
    from tests.cli import aws_cli

    return aws_cli(server.endpoint, tmp_path)
