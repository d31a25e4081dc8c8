"""Kinesis enhanced fan-out with boto3 against a real server: consumers registered,
described, listed, tagged and deregistered through their statuses, AWS's limits and
errors, consumers surviving a restart, and SubscribeToShard's event stream from every
starting position, one subscription per consumer and shard, its time limit, and a
split shard's subscription ending with the children."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import wait_for
from tests.services.names import unique
from tests.services.test_kinesis import FAST, _code, _stream
from tests.services.test_lambda_kinesis_mapping import _lines
from tests.services.test_lambda_kinesis_mapping import _setup as _function_and_stream

SHARD = "shardId-000000000000"
SHORT = {
    "CLOUDLET_KINESIS_CONSUMER_DELAY": "0.2",
    "CLOUDLET_KINESIS_SUBSCRIPTION_SECONDS": "2",
    "CLOUDLET_KINESIS_TAKEOVER_SECONDS": "1",
}
"""A server whose consumers turn ACTIVE sooner, and whose subscriptions last 2 s and
can be taken over after 1 s (AWS: 0.5 s here, 5 minutes and 5 s)."""


def _client(server: CloudletServer):
    # Events come at least every second: a read that waits 10 s means a hung stream.
    return server.client(
        "kinesis", config=Config(read_timeout=10, retries={"total_max_attempts": 1})
    )


@pytest.fixture
def kin(cloudlet_server):
    return _client(cloudlet_server)


@pytest.fixture(scope="module")
def short_server():
    with CloudletServer.start(env=SHORT) as server:
        yield server


@pytest.fixture
def short(short_server):
    return _client(short_server)


def _until(check: Callable[[], object], seconds: float = 5.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _status(kin, arn: str) -> str | None:
    try:
        return kin.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"][
            "ConsumerStatus"
        ]
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return None


def _stream_arn(kin, name: str) -> str:
    return kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def _consumer(kin, stream_arn: str, name: str | None = None) -> str:
    """An ACTIVE consumer's ARN."""
    return _consumers(kin, stream_arn, [name or unique("c")])[0]


def _consumers(kin, stream_arn: str, names: list[str]) -> list[str]:
    """ACTIVE consumers' ARNs, registered together (five at most: AWS's CREATING limit)."""
    arns = [
        kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName=n)["Consumer"][
            "ConsumerARN"
        ]
        for n in names
    ]
    assert _until(lambda: all(_status(kin, a) == "ACTIVE" for a in arns))
    return arns


def _subscribe(kin, arn: str, kind: str = "TRIM_HORIZON", shard: str = SHARD, **position):
    return kin.subscribe_to_shard(
        ConsumerARN=arn, ShardId=shard, StartingPosition={"Type": kind, **position}
    )["EventStream"]


def _records(events: Iterator[dict], count: int, seconds: float = 5.0) -> list[dict]:
    """The first ``count`` records the subscription pushes."""
    got: list[dict] = []
    deadline = time.monotonic() + seconds
    for event in events:
        got += event["SubscribeToShardEvent"]["Records"]
        if len(got) >= count or time.monotonic() > deadline:
            break
    return got


# -- consumers ---------------------------------------------------------------------------


def test_register_describe_list_tag_deregister(kin):
    name = _stream(kin, shards=1)
    stream_arn = _stream_arn(kin, name)
    cname = unique("app")
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    consumer = kin.register_stream_consumer(
        StreamARN=stream_arn, ConsumerName=cname, Tags={"team": "data"}
    )["Consumer"]
    assert consumer["ConsumerName"] == cname
    assert consumer["ConsumerStatus"] == "CREATING"
    assert consumer["ConsumerCreationTimestamp"] >= before
    arn = consumer["ConsumerARN"]
    created = int(consumer["ConsumerCreationTimestamp"].timestamp())
    assert arn == f"{stream_arn}/consumer/{cname}:{created}"
    assert re.fullmatch(r"arn:aws:kinesis:us-east-1:\d{12}:stream/[^/]+/consumer/[^:]+:\d+", arn)
    assert _until(lambda: _status(kin, arn) == "ACTIVE")
    by_name = kin.describe_stream_consumer(StreamARN=stream_arn, ConsumerName=cname)
    assert by_name["ConsumerDescription"] == {
        **consumer,
        "ConsumerStatus": "ACTIVE",
        "StreamARN": stream_arn,
    }
    summary = kin.describe_stream_summary(StreamARN=stream_arn)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 1
    listed = kin.list_stream_consumers(StreamARN=stream_arn)["Consumers"]
    assert [(c["ConsumerName"], c["ConsumerStatus"]) for c in listed] == [(cname, "ACTIVE")]
    assert kin.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    kin.tag_resource(ResourceARN=arn, Tags={"env": "test"})
    kin.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert kin.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    assert kin.list_tags_for_resource(ResourceARN=stream_arn)["Tags"] == []

    kin.deregister_stream_consumer(StreamARN=stream_arn, ConsumerName=cname)
    assert _status(kin, arn) in ("DELETING", None)
    assert _until(lambda: _status(kin, arn) is None)
    assert kin.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == []
    summary = kin.describe_stream_summary(StreamARN=stream_arn)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 0
    again = kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName=cname)["Consumer"]
    assert again["ConsumerStatus"] == "CREATING"  # the name is free once deregistered
    assert _until(lambda: _status(kin, again["ConsumerARN"]) == "ACTIVE")


def test_consumer_errors(kin):
    name = _stream(kin, shards=1)
    stream_arn = _stream_arn(kin, name)
    arn = _consumer(kin, stream_arn, "app")
    with pytest.raises(ClientError) as err:
        kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName="app")
    assert _code(err) == "ResourceInUseException"
    for bad in ("x" * 129, "has space", "sl/ash"):
        with pytest.raises(ClientError) as err:
            kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName=bad)
        assert _code(err) == "ValidationException"
    missing = stream_arn.replace(name, unique("none"))
    with pytest.raises(ClientError) as err:
        kin.register_stream_consumer(StreamARN=missing, ConsumerName="app")
    assert _code(err) == "ResourceNotFoundException"
    for params in (
        {"ConsumerARN": f"{stream_arn}/consumer/nobody:1700000000"},
        {"StreamARN": stream_arn, "ConsumerName": "nobody"},
    ):
        with pytest.raises(ClientError) as err:
            kin.describe_stream_consumer(**params)
        assert _code(err) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as err:
            kin.deregister_stream_consumer(**params)
        assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        kin.describe_stream_consumer(ConsumerName="app")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kin.describe_stream_consumer(ConsumerARN=arn, ConsumerName="other")
    assert _code(err) == "InvalidArgumentException"

    creating = unique("ks")
    kin.create_stream(StreamName=creating, ShardCount=1)
    with pytest.raises(ClientError) as err:  # not ACTIVE yet
        kin.register_stream_consumer(StreamARN=_stream_arn(kin, creating), ConsumerName="app")
    assert _code(err) == "ResourceInUseException"

    with pytest.raises(ClientError) as err:
        kin.delete_stream(StreamName=name)
    assert _code(err) == "ResourceInUseException"
    assert "set the EnforceConsumerDeletion parameter to true" in str(err.value)
    kin.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kin.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=FAST)
    assert _status(kin, arn) is None
    name = _stream(kin, shards=1)  # the same name again: a new stream, no consumers
    assert name and kin.list_stream_consumers(StreamARN=_stream_arn(kin, name))["Consumers"] == []


def test_consumer_limits_and_paging(short):
    name = _stream(short, shards=1)
    stream_arn = _stream_arn(short, name)
    names = [f"c{i:02d}" for i in range(20)]
    for batch in range(4):
        arns = [
            short.register_stream_consumer(StreamARN=stream_arn, ConsumerName=n)["Consumer"][
                "ConsumerARN"
            ]
            for n in names[batch * 5 : batch * 5 + 5]
        ]
        if batch == 0:  # five CREATING at once at most
            with pytest.raises(ClientError) as err:
                short.register_stream_consumer(StreamARN=stream_arn, ConsumerName="sixth")
            assert _code(err) == "LimitExceededException"
        assert _until(lambda arns=arns: all(_status(short, a) == "ACTIVE" for a in arns))
    with pytest.raises(ClientError) as err:  # 20 a stream
        short.register_stream_consumer(StreamARN=stream_arn, ConsumerName="twenty-first")
    assert _code(err) == "LimitExceededException"
    summary = short.describe_stream_summary(StreamARN=stream_arn)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 20
    pages = list(
        short.get_paginator("list_stream_consumers").paginate(
            StreamARN=stream_arn, PaginationConfig={"PageSize": 7}
        )
    )
    assert [len(p["Consumers"]) for p in pages] == [7, 7, 6]
    assert [c["ConsumerName"] for p in pages for c in p["Consumers"]] == names
    created = summary["StreamCreationTimestamp"]
    listed = short.list_stream_consumers(StreamARN=stream_arn, StreamCreationTimestamp=created)
    assert len(listed["Consumers"]) == 20
    with pytest.raises(ClientError) as err:  # another stream of that name
        short.list_stream_consumers(
            StreamARN=stream_arn, StreamCreationTimestamp=created - timedelta(days=1)
        )
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        short.list_stream_consumers(StreamARN=stream_arn, NextToken="not-a-token")
    assert _code(err) == "InvalidArgumentException"


def test_consumers_survive_a_restart(tmp_path):
    env = {"CLOUDLET_KINESIS_SUBSCRIPTION_SECONDS": "1"}
    with CloudletServer.start(data_dir=tmp_path, env=env) as server:
        kin = _client(server)
        name = _stream(kin, shards=1)
        stream_arn = _stream_arn(kin, name)
        arn = _consumer(kin, stream_arn, "durable")
        kin.tag_resource(ResourceARN=arn, Tags={"k": "v"})
        leaving = kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName="leaving")
        kin.put_record(StreamName=name, Data=b"kept", PartitionKey="p")
    with CloudletServer.start(data_dir=tmp_path, env=env) as server:
        kin = _client(server)
        desc = kin.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        assert (desc["ConsumerName"], desc["ConsumerStatus"]) == ("durable", "ACTIVE")
        assert kin.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        assert _status(kin, leaving["Consumer"]["ConsumerARN"]) == "ACTIVE"
        summary = kin.describe_stream_summary(StreamARN=stream_arn)["StreamDescriptionSummary"]
        assert summary["ConsumerCount"] == 2
        assert [r["Data"] for r in _records(_subscribe(kin, arn), 1)] == [b"kept"]


# -- SubscribeToShard --------------------------------------------------------------------


def test_subscribe_trim_horizon_then_latest(kin):
    name = _stream(kin, shards=1)
    arn = _consumer(kin, _stream_arn(kin, name))
    sent = [kin.put_record(StreamName=name, Data=b"old-%d" % i, PartitionKey="p") for i in range(3)]
    events = _subscribe(kin, arn)
    first = next(iter(events))["SubscribeToShardEvent"]  # at once, with what is there
    assert [r["Data"] for r in first["Records"]] == [b"old-0", b"old-1", b"old-2"]
    assert [r["SequenceNumber"] for r in first["Records"]] == [s["SequenceNumber"] for s in sent]
    assert first["Records"][0]["PartitionKey"] == "p"
    assert isinstance(first["Records"][0]["ApproximateArrivalTimestamp"], datetime)
    assert first["ContinuationSequenceNumber"] == sent[-1]["SequenceNumber"]
    assert first["MillisBehindLatest"] == 0
    events.close()

    latest = _subscribe(kin, _consumer(kin, _stream_arn(kin, name)), "LATEST")
    late = threading.Timer(
        0.3, kin.put_record, kwargs={"StreamName": name, "Data": b"new", "PartitionKey": "p"}
    )
    late.start()
    started = time.monotonic()
    try:
        assert [r["Data"] for r in _records(latest, 1)] == [b"new"]
    finally:
        late.join()
        latest.close()
    assert time.monotonic() - started < 3  # pushed as it arrives, not at the next poll


def test_subscribe_at_and_after_sequence_number_and_timestamp(kin):
    name = _stream(kin, shards=1)
    arn = _consumer(kin, _stream_arn(kin, name))
    before = datetime.now(UTC) - timedelta(seconds=1)
    seqs = [
        kin.put_record(StreamName=name, Data=b"%d" % i, PartitionKey="p")["SequenceNumber"]
        for i in range(4)
    ]
    cases = [
        ("AT_SEQUENCE_NUMBER", {"SequenceNumber": seqs[1]}, [b"1", b"2", b"3"]),
        ("AFTER_SEQUENCE_NUMBER", {"SequenceNumber": seqs[1]}, [b"2", b"3"]),
        ("AT_TIMESTAMP", {"Timestamp": before}, [b"0", b"1", b"2", b"3"]),
    ]
    with pytest.raises(ClientError) as err:
        _subscribe(kin, arn, "AT_SEQUENCE_NUMBER", SequenceNumber="12345")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        _subscribe(kin, arn, shard="shardId-000000000007")
    assert _code(err) == "ResourceNotFoundException"
    # one consumer each: a second subscription of one consumer to the shard is refused
    others = _consumers(kin, _stream_arn(kin, name), [unique("c") for _ in cases])
    for (kind, position, wanted), other in zip(cases, others, strict=True):
        events = _subscribe(kin, other, kind, **position)
        assert [r["Data"] for r in _records(events, len(wanted))] == wanted
        events.close()
    events = _subscribe(kin, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seqs[-1])
    first = next(iter(events))["SubscribeToShardEvent"]
    assert first["Records"] == [] and first["ContinuationSequenceNumber"] == seqs[-1]
    events.close()


def test_subscribe_needs_an_active_consumer(kin):
    name = _stream(kin, shards=1)
    stream_arn = _stream_arn(kin, name)
    consumer = kin.register_stream_consumer(StreamARN=stream_arn, ConsumerName="early")
    with pytest.raises(ClientError) as err:
        _subscribe(kin, consumer["Consumer"]["ConsumerARN"])
    assert _code(err) == "ResourceInUseException"
    assert "is not in ACTIVE status" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        _subscribe(kin, f"{stream_arn}/consumer/nobody:1700000000")
    assert _code(err) == "ResourceNotFoundException"

    arn = _consumer(kin, stream_arn)
    events = iter(_subscribe(kin, arn))
    next(events)
    kin.deregister_stream_consumer(ConsumerARN=arn)  # ends its subscription
    with pytest.raises(EventStreamError) as err:
        for _ in events:
            pass
    assert err.value.response["Error"]["Code"] in (
        "ResourceInUseException",
        "ResourceNotFoundException",
    )


def test_one_subscription_per_consumer_and_shard(short):
    name = _stream(short, shards=2)
    stream_arn = _stream_arn(short, name)
    arn = _consumer(short, stream_arn)
    first = iter(_subscribe(short, arn))
    next(first)
    with pytest.raises(ClientError) as err:  # within the takeover window
        _subscribe(short, arn)
    assert _code(err) == "ResourceInUseException"
    assert err.value.response["Error"]["Message"] == (
        "Another active subscription exists for this consumer"
    )
    other = _subscribe(short, arn, shard="shardId-000000000001")  # another shard: fine
    other.close()
    time.sleep(1.1)  # past the window: the new subscription takes over
    second = _subscribe(short, arn)
    with pytest.raises(EventStreamError) as err:
        for _ in first:
            pass
    assert err.value.response["Error"] == {
        "Code": "ResourceInUseException",
        "Message": "Another active subscription exists for this consumer",
    }
    second.close()


def test_subscription_ends_after_its_time_limit(short):
    name = _stream(short, shards=1)
    arn = _consumer(short, _stream_arn(short, name))
    started = time.monotonic()
    events = list(_subscribe(short, arn))  # the stream ends by itself
    elapsed = time.monotonic() - started
    assert 1.8 < elapsed < 15  # the limit is 2 s; a loaded machine is slow to close
    assert len(events) >= 2  # one at once, then heartbeats
    assert all(e["SubscribeToShardEvent"]["Records"] == [] for e in events)
    _subscribe(short, arn, "LATEST").close()  # renewing is allowed once it ended


def test_split_shard_subscription_ends_with_child_shards(kin):
    name = _stream(kin, shards=1)
    arn = _consumer(kin, _stream_arn(kin, name))
    kin.put_record(StreamName=name, Data=b"parent", PartitionKey="p")
    events = iter(_subscribe(kin, arn))
    assert [r["Data"] for r in next(events)["SubscribeToShardEvent"]["Records"]] == [b"parent"]
    kin.split_shard(StreamName=name, ShardToSplit=SHARD, NewStartingHashKey=str(2**127))
    deadline = time.monotonic() + 5
    rest = []
    for event in events:  # ends by itself after the children
        rest.append(event["SubscribeToShardEvent"])
        assert time.monotonic() < deadline
    last = rest[-1]
    assert {c["ShardId"] for c in last["ChildShards"]} == {
        "shardId-000000000001",
        "shardId-000000000002",
    }
    assert all(c["ParentShards"] == [SHARD] for c in last["ChildShards"])
    assert "ContinuationSequenceNumber" not in last
    assert all("ChildShards" not in e for e in rest[:-1])


# -- Lambda ------------------------------------------------------------------------------


def test_lambda_mapping_of_a_consumer(cloudlet_server, kin, tmp_path):
    lam = cloudlet_server.client("lambda")
    name, stream_arn, out = _function_and_stream(lam, kin, tmp_path, shards=1)
    arn = _consumer(kin, stream_arn)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    try:
        assert mapping["EventSourceArn"] == arn
        kin.put_record(StreamARN=stream_arn, Data=b"fanned out", PartitionKey="p")
        lines = wait_for(lambda: _lines(out), timeout=30)
        record = lines[0]["record"]
        assert base64.b64decode(record["kinesis"]["data"]) == b"fanned out"
        assert record["eventSourceARN"] == stream_arn  # the stream's, as on AWS
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with pytest.raises(ClientError) as err:  # not a registered consumer
        lam.create_event_source_mapping(
            EventSourceArn=f"{stream_arn}/consumer/nobody:1700000000",
            FunctionName=name,
            StartingPosition="LATEST",
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
