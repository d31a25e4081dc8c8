"""Kinesis Data Streams with boto3 and the AWS CLI against a real server: streams,
shards, records read back in order with every iterator type, resharding, retention,
tags, errors, and records surviving a restart."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

FAST = {"Delay": 1, "MaxAttempts": 20}


@pytest.fixture
def kin(cloudlet_server):
    return cloudlet_server.client("kinesis")


def _stream(kin, shards: int = 1, **kwargs) -> str:
    name = unique("ks")
    kin.create_stream(StreamName=name, ShardCount=shards, **kwargs)
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    return name


def _read(kin, name: str, shard: str, kind: str = "TRIM_HORIZON", **kwargs) -> list[dict]:
    it = kin.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **kwargs)[
        "ShardIterator"
    ]
    out = kin.get_records(ShardIterator=it)
    return out["Records"]


def _code(err: pytest.ExceptionInfo) -> str:
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err.value.response["Error"]["Code"]


def test_create_describe_list_delete(kin):
    name = unique("ks")
    kin.create_stream(StreamName=name, ShardCount=3, Tags={"team": "data"})
    assert kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamStatus"
    ] in ("CREATING", "ACTIVE")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    desc = kin.describe_stream(StreamName=name)["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"
    assert desc["RetentionPeriodHours"] == 24
    ids = [s["ShardId"] for s in desc["Shards"]]
    assert ids == [f"shardId-00000000000{i}" for i in range(3)]
    ranges = [s["HashKeyRange"] for s in desc["Shards"]]
    assert ranges[0]["StartingHashKey"] == "0"
    assert ranges[-1]["EndingHashKey"] == str(2**128 - 1)
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert int(a["EndingHashKey"]) + 1 == int(b["StartingHashKey"])
    start = desc["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    assert start.isdigit() and len(start) == 56
    summary = kin.describe_stream_summary(StreamARN=desc["StreamARN"])
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 3
    listed = kin.list_shards(StreamARN=desc["StreamARN"], MaxResults=2)
    assert [s["ShardId"] for s in listed["Shards"]] == ids[:2]
    rest = kin.list_shards(NextToken=listed["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ids[2:]
    names = []
    for page in kin.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1}):
        names += page["StreamNames"]
    assert name in names
    kin.delete_stream(StreamName=name)
    kin.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=FAST)
    with pytest.raises(ClientError) as err:
        kin.describe_stream(StreamName=name)
    assert _code(err) == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        f"Stream {name} under account 000000000000 not found."
    )


def test_on_demand_stream_has_four_shards(kin):
    name = unique("ks")
    kin.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    summary = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert summary["OpenShardCount"] == 4


def test_records_in_order_per_shard_with_every_iterator(kin):
    name = _stream(kin, shards=2)
    before = datetime.now(UTC) - timedelta(seconds=1)
    sent: dict[str, list[tuple[str, bytes]]] = {}
    for i in range(20):
        data = f"record-{i}".encode() + b"\x00\xff"
        out = kin.put_record(StreamName=name, Data=data, PartitionKey=f"key-{i % 5}")
        sent.setdefault(out["ShardId"], []).append((out["SequenceNumber"], data))
    assert len(sent) == 2  # five keys spread over both shards
    for shard, records in sent.items():
        seqs = [s for s, _ in records]
        assert seqs == sorted(seqs, key=int)
        got = _read(kin, name, shard)
        assert [(r["SequenceNumber"], r["Data"]) for r in got] == records
        assert all(r["PartitionKey"].startswith("key-") for r in got)
        assert _read(kin, name, shard, "AT_TIMESTAMP", Timestamp=before) == got
        at = _read(kin, name, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
        assert [r["SequenceNumber"] for r in at] == seqs[1:]
        after = _read(kin, name, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
        assert [r["SequenceNumber"] for r in after] == seqs[2:]
    shard = next(iter(sent))
    latest = kin.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="LATEST")
    first = kin.get_records(ShardIterator=latest["ShardIterator"])
    assert first["Records"] == [] and first["MillisBehindLatest"] == 0
    # a key that lands on this shard, read through the LATEST iterator
    for i in range(50):
        out = kin.put_record(StreamName=name, Data=b"late", PartitionKey=f"late-{i}")
        if out["ShardId"] == shard:
            break
    got = kin.get_records(ShardIterator=first["NextShardIterator"])["Records"]
    assert [r["Data"] for r in got] == [b"late"]


def test_get_records_limit_and_explicit_hash_key(kin):
    name = _stream(kin, shards=2)
    top = str(2**128 - 1)
    for i in range(5):
        out = kin.put_record(StreamName=name, Data=b"%d" % i, PartitionKey="p", ExplicitHashKey=top)
        assert out["ShardId"] == "shardId-000000000001"
    it = kin.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    page = kin.get_records(ShardIterator=it, Limit=2)
    assert [r["Data"] for r in page["Records"]] == [b"0", b"1"]
    assert page["MillisBehindLatest"] >= 0
    page = kin.get_records(ShardIterator=page["NextShardIterator"], Limit=10)
    assert [r["Data"] for r in page["Records"]] == [b"2", b"3", b"4"]
    assert isinstance(page["Records"][0]["ApproximateArrivalTimestamp"], datetime)
    with pytest.raises(ClientError) as err:
        kin.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey="2" * 60)
    assert _code(err) == "InvalidArgumentException"


def test_put_records_partial_failure(kin):
    name = _stream(kin)
    big = b"x" * (600 * 1024)
    out = kin.put_records(
        StreamName=name,
        Records=[
            {"Data": big, "PartitionKey": "a"},
            {"Data": big, "PartitionKey": "b"},
            {"Data": b"small", "PartitionKey": "c"},
        ],
    )
    assert out["FailedRecordCount"] == 1
    first, second, third = out["Records"]
    assert first["ShardId"] == third["ShardId"] == "shardId-000000000000"
    assert second["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert "Rate exceeded for shard shardId-000000000000" in second["ErrorMessage"]
    got = _read(kin, name, "shardId-000000000000")
    assert [len(r["Data"]) for r in got] == [len(big), 5]


def test_put_records_limits(kin):
    name = _stream(kin)
    with pytest.raises(ClientError) as err:
        kin.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "p"}] * 501)
    assert _code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        kin.put_records(
            StreamName=name,
            Records=[{"Data": b"x" * (1024 * 1024 + 1), "PartitionKey": "p"}],
        )
    assert _code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        kin.put_records(
            StreamName=name, Records=[{"Data": b"x" * (1000 * 1024), "PartitionKey": "p"}] * 6
        )
    assert _code(err) == "InvalidArgumentException"
    assert err.value.response["Error"]["Message"] == "Records size exceeds 5 MB limit"


def test_errors(kin):
    name = _stream(kin)
    with pytest.raises(ClientError) as err:
        kin.create_stream(StreamName=name, ShardCount=1)
    assert _code(err) == "ResourceInUseException"
    with pytest.raises(ClientError) as err:
        kin.put_record(StreamName=unique("none"), Data=b"x", PartitionKey="p")
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        kin.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000009", ShardIteratorType="LATEST"
        )
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        kin.get_records(ShardIterator="not-an-iterator")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kin.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=9000)
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kin.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kin.create_stream(StreamName=unique("ks"), ShardCount=501)
    assert _code(err) == "LimitExceededException"


def test_retention_encryption_and_tags(kin):
    name = _stream(kin, Tags={"a": "1"})
    arn = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    kin.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    kin.decrease_stream_retention_period(StreamARN=arn, RetentionPeriodHours=30)
    assert kin.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"] == 30
    with pytest.raises(ClientError) as err:
        kin.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=25)
    assert _code(err) == "InvalidArgumentException"
    kin.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    desc = kin.describe_stream(StreamName=name)["StreamDescription"]
    assert (desc["EncryptionType"], desc["KeyId"]) == ("KMS", "alias/aws/kinesis")
    assert kin.put_record(StreamName=name, Data=b"x", PartitionKey="p")["EncryptionType"] == "KMS"
    kin.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    assert kin.describe_stream(StreamName=name)["StreamDescription"]["EncryptionType"] == "NONE"
    kin.add_tags_to_stream(StreamName=name, Tags={"b": "2", "c": "3"})
    kin.remove_tags_from_stream(StreamName=name, TagKeys=["a"])
    tags = kin.list_tags_for_stream(StreamName=name, Limit=1)
    assert tags["Tags"] == [{"Key": "b", "Value": "2"}] and tags["HasMoreTags"]
    kin.tag_resource(ResourceARN=arn, Tags={"d": "4"})
    kin.untag_resource(ResourceARN=arn, TagKeys=["b"])
    assert kin.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "c", "Value": "3"},
        {"Key": "d", "Value": "4"},
    ]
    with pytest.raises(ClientError) as err:
        kin.add_tags_to_stream(StreamName=name, Tags={f"k{i}": "v" for i in range(11)})
    assert _code(err) == "InvalidArgumentException"


def test_resharding_keeps_reads_going(kin):
    name = _stream(kin, shards=1)
    old = kin.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    it = kin.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    out = kin.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert (out["CurrentShardCount"], out["TargetShardCount"]) == (1, 2)
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    shards = kin.list_shards(StreamName=name)["Shards"]
    assert len(shards) == 3
    parent = shards[0]
    assert int(parent["SequenceNumberRange"]["EndingSequenceNumber"]) >= int(old["SequenceNumber"])
    assert all(s["ParentShardId"] == parent["ShardId"] for s in shards[1:])
    new = kin.put_record(StreamName=name, Data=b"after", PartitionKey="p")
    assert new["ShardId"] in (shards[1]["ShardId"], shards[2]["ShardId"])
    last = kin.get_records(ShardIterator=it)
    assert [r["Data"] for r in last["Records"]] == [b"before"]
    assert "NextShardIterator" not in last
    assert {c["ShardId"] for c in last["ChildShards"]} == {s["ShardId"] for s in shards[1:]}
    assert _read(kin, name, new["ShardId"])[0]["Data"] == b"after"
    summary = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert len(kin.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]) == 2


MAX_HASH = 2**128 - 1


def test_split_then_merge_shards(kin):
    name = _stream(kin, shards=1)
    before = kin.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    mid = 2**127
    kin.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(mid)
    )
    assert kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamStatus"
    ] in ("UPDATING", "ACTIVE")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    parent, low, high = kin.list_shards(StreamName=name)["Shards"]
    assert int(parent["SequenceNumberRange"]["EndingSequenceNumber"]) >= int(
        before["SequenceNumber"]
    )
    assert [low["ParentShardId"], high["ParentShardId"]] == [parent["ShardId"]] * 2
    assert "AdjacentParentShardId" not in low
    assert low["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(mid - 1)}
    assert high["HashKeyRange"] == {"StartingHashKey": str(mid), "EndingHashKey": str(MAX_HASH)}
    for shard, key in ((low, "5"), (high, str(mid))):
        put = kin.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey=key)
        assert put["ShardId"] == shard["ShardId"]
    last = kin.get_records(
        ShardIterator=kin.get_shard_iterator(
            StreamName=name, ShardId=parent["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )
    assert [r["Data"] for r in last["Records"]] == [b"before"]
    assert {c["ShardId"] for c in last["ChildShards"]} == {low["ShardId"], high["ShardId"]}

    kin.merge_shards(
        StreamName=name, ShardToMerge=low["ShardId"], AdjacentShardToMerge=high["ShardId"]
    )
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    merged = kin.list_shards(StreamName=name)["Shards"][-1]
    assert merged["ParentShardId"] == low["ShardId"]
    assert merged["AdjacentParentShardId"] == high["ShardId"]
    assert merged["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(MAX_HASH)}
    open_ids = [
        s["ShardId"]
        for s in kin.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    ]
    assert open_ids == [merged["ShardId"]]
    assert (
        kin.put_record(StreamName=name, Data=b"y", PartitionKey="q")["ShardId"]
        == (merged["ShardId"])
    )
    done = kin.get_records(
        ShardIterator=kin.get_shard_iterator(
            StreamName=name, ShardId=high["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )
    assert [r["Data"] for r in done["Records"]] == [b"x"]
    assert done["ChildShards"] == [
        {
            "ShardId": merged["ShardId"],
            "ParentShards": [low["ShardId"], high["ShardId"]],
            "HashKeyRange": merged["HashKeyRange"],
        }
    ]


def test_split_and_merge_refusals(kin):
    name = _stream(kin, shards=3)
    first, _, third = kin.list_shards(StreamName=name)["Shards"]
    start, end = (int(v) for v in first["HashKeyRange"].values())
    for key in (str(start + 1), str(end), "-4", "x"):
        with pytest.raises(ClientError) as err:
            kin.split_shard(StreamName=name, ShardToSplit=first["ShardId"], NewStartingHashKey=key)
        assert _code(err) == "InvalidArgumentException"
    assert "is not both greater than one plus the shard's StartingHashKey 0" in str(err.value)
    with pytest.raises(ClientError) as err:
        kin.split_shard(
            StreamName=name, ShardToSplit="shardId-000000000042", NewStartingHashKey="9"
        )
    assert _code(err) == "ResourceNotFoundException"
    assert "Could not find shard shardId-000000000042" in str(err.value)
    with pytest.raises(ClientError) as err:  # not adjacent
        kin.merge_shards(
            StreamName=name, ShardToMerge=first["ShardId"], AdjacentShardToMerge=third["ShardId"]
        )
    assert _code(err) == "InvalidArgumentException"
    assert "are not an adjacent pair of shards eligible for merging" in str(err.value)
    kin.split_shard(StreamName=name, ShardToSplit=first["ShardId"], NewStartingHashKey="99")
    with pytest.raises(ClientError) as err:  # UPDATING
        kin.split_shard(StreamName=name, ShardToSplit=third["ShardId"], NewStartingHashKey="99")
    assert _code(err) == "ResourceInUseException"
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    with pytest.raises(ClientError) as err:  # closed by the split
        kin.split_shard(StreamName=name, ShardToSplit=first["ShardId"], NewStartingHashKey="9")
    assert _code(err) == "InvalidArgumentException"
    assert "has already been merged or split" in str(err.value)


def test_update_stream_mode(kin):
    name = _stream(kin, shards=2)
    arn = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    kin.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    summary = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 2
    with pytest.raises(ClientError) as err:  # on-demand capacity is Kinesis's to manage
        kin.split_shard(
            StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey="99"
        )
    assert _code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        kin.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert _code(err) == "InvalidArgumentException"
    kin.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    kin.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey="99")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    with pytest.raises(ClientError) as err:  # twice in 24 hours at most
        kin.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert _code(err) == "LimitExceededException"
    with pytest.raises(ClientError) as err:
        kin.update_stream_mode(
            StreamARN=arn.replace(name, unique("none")),
            StreamModeDetails={"StreamMode": "ON_DEMAND"},
        )
    assert _code(err) == "ResourceNotFoundException"


def test_cli(aws, kin):
    name = unique("ks")
    aws("kinesis", "create-stream", "--stream-name", name, "--shard-count", "1")
    aws("kinesis", "wait", "stream-exists", "--stream-name", name)
    put = json.loads(
        aws(
            "kinesis",
            "put-record",
            "--stream-name",
            name,
            "--partition-key",
            "p",
            "--data",
            "hello",
        ).stdout
    )
    assert put["ShardId"] == "shardId-000000000000"
    assert name in json.loads(aws("kinesis", "list-streams").stdout)["StreamNames"]
    assert _read(kin, name, "shardId-000000000000")[0]["Data"] == b"hello"
    aws(
        "kinesis",
        "split-shard",
        "--stream-name",
        name,
        "--shard-to-split",
        "shardId-000000000000",
        "--new-starting-hash-key",
        str(2**127),
    )
    aws("kinesis", "wait", "stream-exists", "--stream-name", name)
    shards = json.loads(aws("kinesis", "list-shards", "--stream-name", name).stdout)["Shards"]
    assert [s.get("ParentShardId") for s in shards] == [None, *["shardId-000000000000"] * 2]
    aws("kinesis", "delete-stream", "--stream-name", name)


def test_expired_iterator_and_retention_sweep(tmp_path):
    env = {
        "CLOUDLET_KINESIS_ITERATOR_SECONDS": "1",
        "CLOUDLET_KINESIS_HOUR_SECONDS": "0.1",
        "CLOUDLET_KINESIS_SWEEP_SECONDS": "0.2",
    }
    with CloudletServer.start(env=env) as server:
        kin = server.client("kinesis")
        name = _stream(kin)
        kin.put_record(StreamName=name, Data=b"old", PartitionKey="p")
        it = kin.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        time.sleep(1.5)
        with pytest.raises(ClientError) as err:
            kin.get_records(ShardIterator=it)
        assert _code(err) == "ExpiredIteratorException"
        assert "Iterator expired" in err.value.response["Error"]["Message"]
        # 24 "hours" of 0.1 s each: the record is past retention after 2.4 s
        time.sleep(1.5)
        assert _read(kin, name, "shardId-000000000000") == []


def test_records_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        kin = server.client("kinesis")
        name = _stream(kin, shards=2)
        seqs = [
            kin.put_record(StreamName=name, Data=b"%d" % i, PartitionKey="same")["SequenceNumber"]
            for i in range(3)
        ]
        shard = kin.put_record(StreamName=name, Data=b"3", PartitionKey="same")["ShardId"]
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        kin = server.client("kinesis")
        assert kin.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"
        got = _read(kin, name, shard)
        assert [r["Data"] for r in got] == [b"0", b"1", b"2", b"3"]
        assert [r["SequenceNumber"] for r in got][:3] == seqs
        more = kin.put_record(StreamName=name, Data=b"4", PartitionKey="same")["SequenceNumber"]
        assert int(more) > int(got[-1]["SequenceNumber"])
    finally:
        server.stop()
