"""DynamoDB Streams with real boto3: records per view type, iterators, paging, list and
describe, disabling and re-enabling a stream, and AWS's errors."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.services.dynamodb.streams import decode_iterator, encode_iterator

VIEWS = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def streams(aws_client):
    return aws_client("dynamodbstreams")


def tname(prefix: str = "st") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


def make_table(ddb, view: str | None = "NEW_AND_OLD_IMAGES", range_key: bool = False) -> str:
    return make_table_named(ddb, tname(), view, range_key)


def make_table_named(
    ddb, name: str, view: str | None = "NEW_AND_OLD_IMAGES", range_key: bool = False
) -> str:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        defs.append({"AttributeName": "sk", "AttributeType": "N"})
    kwargs = {}
    if view is not None:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    ddb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=defs,
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )
    return name


def stream_arn(ddb, table: str) -> str:
    return ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def shard_of(streams, arn: str) -> str:
    return streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]


def iterator(streams, arn: str, kind: str = "TRIM_HORIZON", seq: str | None = None) -> str:
    kwargs = {"SequenceNumber": seq} if seq is not None else {}
    return streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType=kind, **kwargs
    )["ShardIterator"]


def read_all(streams, it: str, limit: int = 1000) -> list[dict]:
    records: list[dict] = []
    while it:
        page = streams.get_records(ShardIterator=it, Limit=limit)
        records += page["Records"]
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return records


def put(ddb, table: str, pk: str, **attrs) -> None:
    item = {"pk": {"S": pk}, **{k: {"S": v} for k, v in attrs.items()}}
    ddb.put_item(TableName=table, Item=item)


# --------------------------------------------------------------------------- records


@pytest.mark.parametrize("view", VIEWS)
def test_put_update_delete_per_view_type(ddb, streams, view):
    table = make_table(ddb, view)
    put(ddb, table, "a", colour="red")
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET colour = :c",
        ExpressionAttributeValues={":c": {"S": "blue"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})

    records = read_all(streams, iterator(streams, stream_arn(ddb, table)))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    red = {"pk": {"S": "a"}, "colour": {"S": "red"}}
    blue = {"pk": {"S": "a"}, "colour": {"S": "blue"}}
    expect_new = [red, blue, None] if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else [None] * 3
    expect_old = [None, red, blue] if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else [None] * 3
    seqs = []
    for rec, new, old in zip(records, expect_new, expect_old, strict=True):
        assert rec["eventSource"] == "aws:dynamodb"
        assert rec["eventVersion"] == "1.1"
        assert rec["awsRegion"] == "us-east-1"
        assert re.fullmatch(r"[0-9a-f]{32}", rec["eventID"])
        assert "userIdentity" not in rec
        body = rec["dynamodb"]
        assert body["Keys"] == {"pk": {"S": "a"}}
        assert body["StreamViewType"] == view
        assert body.get("NewImage") == new
        assert body.get("OldImage") == old
        assert body["SizeBytes"] > 0
        assert abs(body["ApproximateCreationDateTime"].timestamp() - time.time()) < 60
        assert re.fullmatch(r"\d{21}", body["SequenceNumber"])
        seqs.append(int(body["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    # the same record reads back with the same id
    again = read_all(streams, iterator(streams, stream_arn(ddb, table)))
    assert [r["eventID"] for r in again] == [r["eventID"] for r in records]


def test_composite_keys_types_and_batch_writes(ddb, streams):
    table = make_table(ddb, "NEW_IMAGE", range_key=True)
    ddb.batch_write_item(
        RequestItems={
            table: [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": "p"},
                            "sk": {"N": str(i)},
                            "blob": {"B": b"\x00\x01"},
                            "tags": {"SS": ["x", "y"]},
                            "doc": {"M": {"n": {"N": "1.5"}, "l": {"L": [{"BOOL": True}]}}},
                        }
                    }
                }
                for i in range(3)
            ]
        }
    )
    records = read_all(streams, iterator(streams, stream_arn(ddb, table)))
    assert len(records) == 3
    assert sorted(r["dynamodb"]["Keys"]["sk"]["N"] for r in records) == ["0", "1", "2"]
    image = records[0]["dynamodb"]["NewImage"]
    assert image["blob"] == {"B": b"\x00\x01"}
    assert sorted(image["tags"]["SS"]) == ["x", "y"]
    assert image["doc"] == {"M": {"n": {"N": "1.5"}, "l": {"L": [{"BOOL": True}]}}}


def test_failed_conditional_write_logs_nothing(ddb, streams):
    table = make_table(ddb)
    put(ddb, table, "a")
    with pytest.raises(ClientError):
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    records = read_all(streams, iterator(streams, stream_arn(ddb, table)))
    assert [r["eventName"] for r in records] == ["INSERT"]


def test_writes_that_change_nothing_log_nothing(ddb, streams):
    """AWS's "Change data capture for DynamoDB Streams": a PutItem or UpdateItem that does
    not change any data in an item writes no stream record."""
    table = make_table(ddb)
    put(ddb, table, "a", x="1")
    put(ddb, table, "a", x="1")
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET x = :v",
        ExpressionAttributeValues={":v": {"S": "1"}},
    )
    put(ddb, table, "a", x="2")
    records = read_all(streams, iterator(streams, stream_arn(ddb, table)))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]


def test_table_without_stream_has_none(ddb, streams):
    table = make_table(ddb, None)
    put(ddb, table, "a")
    assert "LatestStreamArn" not in ddb.describe_table(TableName=table)["Table"]
    assert streams.list_streams(TableName=table)["Streams"] == []


# --------------------------------------------------------------------------- iterators


def test_iterator_types(ddb, streams):
    table = make_table(ddb)
    arn = stream_arn(ddb, table)
    for pk in ("a", "b", "c"):
        put(ddb, table, pk)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in read_all(streams, iterator(streams, arn))]
    assert len(seqs) == 3

    def keys(it):
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, it)]

    assert keys(iterator(streams, arn, "TRIM_HORIZON")) == ["a", "b", "c"]
    assert keys(iterator(streams, arn, "AT_SEQUENCE_NUMBER", seqs[1])) == ["b", "c"]
    assert keys(iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", seqs[1])) == ["c"]
    assert keys(iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", seqs[2])) == []

    latest = iterator(streams, arn, "LATEST")
    page = streams.get_records(ShardIterator=latest)
    assert page["Records"] == [] and page["NextShardIterator"]
    put(ddb, table, "d")
    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["d"]


def test_paging_with_next_shard_iterator(ddb, streams):
    table = make_table(ddb, "KEYS_ONLY")
    for i in range(25):
        put(ddb, table, f"k{i:02d}")
    it = iterator(streams, stream_arn(ddb, table))
    pages = []
    for _ in range(3):
        page = streams.get_records(ShardIterator=it, Limit=10)
        pages.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]])
        it = page["NextShardIterator"]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sum(pages, []) == [f"k{i:02d}" for i in range(25)]
    # an open shard always hands out a next iterator, even with nothing new
    page = streams.get_records(ShardIterator=it)
    assert page["Records"] == [] and page["NextShardIterator"]
    put(ddb, table, "late")
    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["late"]


def test_streams_of_other_tables_do_not_mix(ddb, streams):
    one, two = make_table(ddb), make_table(ddb)
    put(ddb, one, "x")
    put(ddb, two, "y")
    put(ddb, one, "z")
    got = read_all(streams, iterator(streams, stream_arn(ddb, one)))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in got] == ["x", "z"]


# --------------------------------------------------------------------------- list and describe


def test_list_streams_filter_and_paging(ddb, streams):
    tables = [make_table(ddb) for _ in range(3)]
    arns = {stream_arn(ddb, t) for t in tables}
    listed = streams.list_streams(TableName=tables[0])["Streams"]
    assert listed == [
        {
            "StreamArn": stream_arn(ddb, tables[0]),
            "TableName": tables[0],
            "StreamLabel": ddb.describe_table(TableName=tables[0])["Table"]["LatestStreamLabel"],
        }
    ]
    seen, start = [], None
    while True:
        kwargs = {"ExclusiveStartStreamArn": start} if start else {}
        page = streams.list_streams(Limit=2, **kwargs)
        assert len(page["Streams"]) <= 2
        seen += [s["StreamArn"] for s in page["Streams"]]
        start = page.get("LastEvaluatedStreamArn")
        if not start:
            break
    assert arns <= set(seen)
    assert len(seen) == len(set(seen))


def test_describe_stream_shape(ddb, streams):
    table = make_table(ddb, "NEW_IMAGE", range_key=True)
    desc = ddb.describe_table(TableName=table)["Table"]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    arn = desc["LatestStreamArn"]
    assert arn == f"{desc['TableArn']}/stream/{desc['LatestStreamLabel']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", desc["LatestStreamLabel"])
    put_item = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item=put_item)
    sd = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert sd["StreamArn"] == arn
    assert sd["StreamLabel"] == desc["LatestStreamLabel"]
    assert sd["StreamStatus"] == "ENABLED"
    assert sd["StreamViewType"] == "NEW_IMAGE"
    assert sd["TableName"] == table
    assert sd["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert abs(sd["CreationRequestDateTime"].timestamp() - time.time()) < 60
    (shard,) = sd["Shards"]
    assert re.fullmatch(r"shardId-\d{20}-[0-9a-f]{8}", shard["ShardId"])
    numbers = shard["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in numbers
    first = read_all(streams, iterator(streams, arn))[0]["dynamodb"]["SequenceNumber"]
    assert numbers["StartingSequenceNumber"] == first
    after = streams.describe_stream(StreamArn=arn, ExclusiveStartShardId=shard["ShardId"])
    assert after["StreamDescription"]["Shards"] == []


# --------------------------------------------------------------------------- disable / enable


def test_disable_then_enable_gives_a_new_stream(ddb, streams):
    table = make_table(ddb, "NEW_IMAGE")
    old = stream_arn(ddb, table)
    put(ddb, table, "before")
    reader = iterator(streams, old, "LATEST")

    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    desc = ddb.describe_table(TableName=table)["Table"]
    assert "StreamSpecification" not in desc
    assert desc["LatestStreamArn"] == old
    sd = streams.describe_stream(StreamArn=old)["StreamDescription"]
    assert sd["StreamStatus"] == "DISABLED"
    numbers = sd["Shards"][0]["SequenceNumberRange"]
    assert numbers["EndingSequenceNumber"] >= numbers["StartingSequenceNumber"]
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    assert code(exc) == "ValidationException"

    put(ddb, table, "while-off")
    # the closed shard still reads back, then ends: no next iterator
    records = read_all(streams, iterator(streams, old))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["before"]
    page = streams.get_records(ShardIterator=reader)
    assert page["Records"] == [] and "NextShardIterator" not in page

    ddb.update_table(
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    new = stream_arn(ddb, table)
    assert new != old
    put(ddb, table, "after")
    records = read_all(streams, iterator(streams, new))
    assert [
        (r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["StreamViewType"]) for r in records
    ] == [("after", "KEYS_ONLY")]
    # the replaced stream is still there for its 24 hours, closed
    listed = streams.list_streams(TableName=table)["Streams"]
    assert [s["StreamArn"] for s in listed] == [old, new]
    sd = streams.describe_stream(StreamArn=old)["StreamDescription"]
    assert sd["StreamStatus"] == "DISABLED" and sd["StreamViewType"] == "NEW_IMAGE"
    records = read_all(streams, iterator(streams, old))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["before"]
    assert streams.describe_stream(StreamArn=new)["StreamDescription"]["StreamStatus"] == "ENABLED"


def test_enabling_twice_is_refused(ddb):
    table = make_table(ddb)
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=table,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
    assert code(exc) == "ValidationException"
    assert "already has an enabled stream" in message(exc)


# --------------------------------------------------------------------------- errors


def test_unknown_stream(ddb, streams):
    table = make_table(ddb)
    missing = f"{stream_arn(ddb, table)[:-3]}999"
    for call in (
        lambda: streams.describe_stream(StreamArn=missing),
        lambda: streams.get_shard_iterator(
            StreamArn=missing,
            ShardId="shardId-00000000000000000000-00000000",
            ShardIteratorType="LATEST",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "ResourceNotFoundException"
        assert message(exc) == f"Requested resource not found: Stream: {missing} not found"
    with pytest.raises(ClientError) as exc:
        streams.list_streams(TableName=tname("missing"))
    assert code(exc) == "ResourceNotFoundException"


def test_a_deleted_tables_stream_stays_readable_disabled(ddb, streams):
    """DeleteTable: "the corresponding stream on that table goes into the DISABLED state,
    and the stream is automatically deleted after 24 hours" (AWS's API reference). Until
    then it is listed, described and read to the end of its closed shard, even beside a
    new table of the same name. (The 24 hours: tests/unit/test_dynamodb_streams_ttl_engine.py.)"""
    table = make_table(ddb, "NEW_IMAGE")
    arn = stream_arn(ddb, table)
    it = iterator(streams, arn)
    put(ddb, table, "a")
    put(ddb, table, "b")
    ddb.delete_table(TableName=table)
    sd = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert sd["StreamStatus"] == "DISABLED" and sd["TableName"] == table
    numbers = sd["Shards"][0]["SequenceNumberRange"]
    records = read_all(streams, it)
    assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in records] == ["a", "b"]
    assert numbers["EndingSequenceNumber"] == records[-1]["dynamodb"]["SequenceNumber"]
    page = streams.get_records(ShardIterator=iterator(streams, arn, "LATEST"))
    assert page["Records"] == [] and "NextShardIterator" not in page  # the shard is closed
    listed = streams.list_streams(TableName=table)["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn]

    again = make_table_named(ddb, table)
    new = stream_arn(ddb, again)
    listed = streams.list_streams(TableName=table)["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn, new]
    everything = [s["StreamArn"] for s in streams.list_streams()["Streams"]]
    assert arn in everything and new in everything
    assert streams.describe_stream(StreamArn=arn)["StreamDescription"]["StreamStatus"] == "DISABLED"


def test_a_deleted_table_without_a_stream_has_none(ddb, streams):
    table = make_table(ddb, None)
    ddb.delete_table(TableName=table)
    with pytest.raises(ClientError) as exc:
        streams.list_streams(TableName=table)
    assert code(exc) == "ResourceNotFoundException"


def test_iterator_errors(ddb, streams):
    table = make_table(ddb)
    arn = stream_arn(ddb, table)
    put(ddb, table, "a")
    shard = shard_of(streams, arn)
    last = read_all(streams, iterator(streams, arn))[-1]["dynamodb"]["SequenceNumber"]

    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId="shardId-00000000000000000001-00000000",
            ShardIteratorType="LATEST",
        )
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="SOMEWHERE")
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER"
        )
    assert code(exc) == "ValidationException"
    beyond = f"{int(last) + 1000:021d}"
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=beyond,
        )
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            SequenceNumber="x" * 21,
        )
    assert code(exc) == "ValidationException"

    with pytest.raises(ClientError) as exc:
        streams.get_records(ShardIterator="not-an-iterator")
    assert code(exc) == "ValidationException"
    good = iterator(streams, arn)
    with pytest.raises(ClientError) as exc:
        streams.get_records(ShardIterator=good[:-6] + "AAAAAA")
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        streams.get_records(ShardIterator=good, Limit=1001)
    assert code(exc) == "ValidationException"


def test_expired_iterator(ddb, streams):
    table = make_table(ddb)
    arn = stream_arn(ddb, table)
    it_arn, shard, pos, _issued = decode_iterator(iterator(streams, arn))
    stale = encode_iterator(it_arn, shard, pos, time.time() - 16 * 60)
    with pytest.raises(ClientError) as exc:
        streams.get_records(ShardIterator=stale)
    assert code(exc) == "ExpiredIteratorException"
    fresh = encode_iterator(it_arn, shard, pos, time.time() - 14 * 60)
    assert streams.get_records(ShardIterator=fresh)["Records"] == []


@pytest.mark.parametrize(
    ("operation", "params", "member", "rule"),
    [
        ("describe_stream", {"StreamArn": "foo"}, "streamArn", "greater than or equal to 37"),
        ("list_streams", {"TableName": "ab"}, "tableName", "greater than or equal to 3"),
        (
            "get_records",
            {"ShardIterator": "a" * 2049},
            "shardIterator",
            "less than or equal to 2048",
        ),
    ],
)
def test_model_bounds_come_before_any_lookup(aws_client, operation, params, member, rule):
    """AWS validates the model's lengths first: ``1 validation error detected``, never a
    ResourceNotFoundException for a value that could name nothing."""
    raw = aws_client("dynamodbstreams", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as exc:
        getattr(raw, operation)(**params)
    assert code(exc) == "ValidationException"
    shown = params[next(iter(params))]
    assert message(exc) == (
        f"1 validation error detected: Value '{shown}' at '{member}' failed to satisfy "
        f"constraint: Member must have length {rule}"
    )


def test_shard_id_and_sequence_number_bounds(ddb, streams, aws_client):
    raw = aws_client("dynamodbstreams", config=Config(parameter_validation=False))
    arn = stream_arn(ddb, make_table(ddb))
    shard = shard_of(streams, arn)
    for params, member in (
        ({"ShardId": "x"}, "shardId"),
        ({"ShardId": shard, "SequenceNumber": "123"}, "sequenceNumber"),
    ):
        kind = "AT_SEQUENCE_NUMBER" if "SequenceNumber" in params else "TRIM_HORIZON"
        with pytest.raises(ClientError) as exc:
            raw.get_shard_iterator(StreamArn=arn, ShardIteratorType=kind, **params)
        assert code(exc) == "ValidationException"
        assert f"at '{member}' failed to satisfy constraint" in message(exc)
    with pytest.raises(ClientError) as exc:
        raw.list_streams(TableName="bad name!")
    assert message(exc).endswith("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
