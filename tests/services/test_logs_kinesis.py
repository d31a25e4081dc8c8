"""CloudWatch Logs subscription filters delivering to Kinesis Data Streams, and
cross-account destinations, with boto3 against a real server: the CONTROL_MESSAGE written
when a filter is created, the gzipped DATA_MESSAGE of each matching batch (envelope,
filtered-out events absent, ``extractedFields``), partition keys under ``ByLogStream`` and
``Random``, records Kinesis throttles arriving later rather than never, AWS's refusals, a
destination shared with one account and refused to others, and destinations surviving a
restart. A unit test drives the sender's retries and give-up without a server."""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.services.base import ServiceEnv
from cloudlet.testing import CloudletServer

ROLE = "arn:aws:iam::000000000000:role/CWLtoKinesisRole"
OWNER = "000000000000"
SENDER = "111122223333"
STRANGER = "444455556666"
CONTROL = "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
UNREACHABLE = (
    "Could not deliver test message to specified Kinesis stream. Check if the given "
    "kinesis stream is in ACTIVE state."
)
FAST = {"CLOUDLET_LOGS_KINESIS_RETRY_INTERVAL": "0.2", "CLOUDLET_KINESIS_CHANGE_SECONDS": "1"}


@pytest.fixture(scope="module")
def server():
    with CloudletServer.start(env=FAST) as srv:
        yield srv


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def kinesis(server):
    return server.client("kinesis")


def _name(kind: str) -> str:
    return f"cwl-{kind}-{uuid.uuid4().hex[:8]}"


def _now() -> int:
    return int(time.time() * 1000)


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _stream(kinesis, shards: int = 1, name: str | None = None) -> str:
    name = name or _name("kds")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 10
    while True:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary["StreamARN"]
        assert time.monotonic() < deadline, summary
        time.sleep(0.05)


def _group(logs, *streams: str) -> str:
    group = "/kinesis/" + _name("group")
    logs.create_log_group(logGroupName=group)
    for s in streams or ("app",):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    return group


def _put(logs, group: str, *messages: str, stream: str = "app") -> None:
    at = _now()
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": at + i, "message": m} for i, m in enumerate(messages)],
    )


def _records(kinesis, arn: str) -> list[dict]:
    """Every record of every shard: ``shard``, ``key`` and the decoded ``message``."""
    out = []
    for shard in kinesis.list_shards(StreamARN=arn)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamARN=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            got = kinesis.get_records(ShardIterator=it, StreamARN=arn)
            for r in got["Records"]:
                out.append(
                    {
                        "shard": shard["ShardId"],
                        "key": r["PartitionKey"],
                        "seq": int(r["SequenceNumber"]),
                        "message": json.loads(gzip.decompress(r["Data"])),
                    }
                )
            if not got["Records"] or got.get("MillisBehindLatest") == 0:
                break
            it = got.get("NextShardIterator")
    return sorted(out, key=lambda r: r["seq"])


def _data(kinesis, arn: str, want: int, timeout: float = 15.0) -> list[dict]:
    """The DATA_MESSAGE records of the stream, once at least ``want`` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in _records(kinesis, arn) if r["message"]["messageType"] == "DATA_MESSAGE"]
        if len(found) >= want:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {want} data messages arrived"
        time.sleep(0.1)


def _subscribe(logs, group: str, arn: str, **kw) -> None:
    kw.setdefault("filterName", "to-kinesis")
    kw.setdefault("filterPattern", "")
    logs.put_subscription_filter(logGroupName=group, destinationArn=arn, roleArn=ROLE, **kw)


def test_control_message_then_matching_events(logs, kinesis):
    arn = _stream(kinesis)
    group = _group(logs)
    _subscribe(logs, group, arn, filterName="errors", filterPattern="ERROR")
    (control,) = _records(kinesis, arn)
    body = control["message"]
    assert body["messageType"] == "CONTROL_MESSAGE" and body["owner"] == "CloudwatchLogs"
    assert (body["logGroup"], body["logStream"], body["subscriptionFilters"]) == ("", "", [])
    (event,) = body["logEvents"]
    assert event["id"] == "" and event["message"] == CONTROL
    assert abs(event["timestamp"] - _now()) < 60_000

    (sub,) = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert sub["destinationArn"] == arn and sub["roleArn"] == ROLE
    assert sub["distribution"] == "ByLogStream" and sub["filterPattern"] == "ERROR"

    _put(logs, group, "INFO starting", "ERROR disk full", "DEBUG noise", "ERROR retry failed")
    (record,) = _data(kinesis, arn, 1)
    message = record["message"]
    assert message["owner"] == OWNER and message["logGroup"] == group
    assert message["logStream"] == "app" and message["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in message["logEvents"]] == ["ERROR disk full", "ERROR retry failed"]
    assert all(len(e["id"]) == 56 and e["id"].isdigit() for e in message["logEvents"])
    assert all("extractedFields" not in e for e in message["logEvents"])
    assert record["key"] == "app"
    ids = [e["id"] for e in message["logEvents"]]
    shown = logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]
    assert ids == [e["eventId"] for e in shown]

    _put(logs, group, "INFO nothing to see")  # matches nothing: no record at all
    time.sleep(0.5)
    assert len(_data(kinesis, arn, 1)) == 1


def test_space_delimited_patterns_carry_extracted_fields(logs, kinesis):
    arn = _stream(kinesis)
    group = _group(logs)
    _subscribe(logs, group, arn, filterPattern="[ip, user, request, status=5*, size]")
    _put(
        logs,
        group,
        '10.0.0.1 alice "GET /ok HTTP/1.1" 200 17',
        '10.0.0.2 bob "GET /boom HTTP/1.1" 503 42',
    )
    (record,) = _data(kinesis, arn, 1)
    (event,) = record["message"]["logEvents"]
    assert event["extractedFields"] == {
        "ip": "10.0.0.2",
        "user": "bob",
        "request": "GET /boom HTTP/1.1",
        "status": "503",
        "size": "42",
    }


def test_distribution_by_log_stream_and_random(logs, kinesis):
    arn = _stream(kinesis, shards=4)
    by_stream = _group(logs, "web-1", "web-2")
    _subscribe(logs, by_stream, arn, filterName="kept-together")
    for i in range(6):
        _put(logs, by_stream, f"web-1 line {i}", stream="web-1")
    _put(logs, by_stream, "web-2 line", stream="web-2")
    found = [r for r in _data(kinesis, arn, 7) if r["message"]["logGroup"] == by_stream]
    one = [r for r in found if r["message"]["logStream"] == "web-1"]
    assert len(one) == 6 and {r["key"] for r in one} == {"web-1"}
    assert len({r["shard"] for r in one}) == 1
    assert [r["message"]["logEvents"][0]["message"] for r in one] == [
        f"web-1 line {i}" for i in range(6)
    ]
    (two,) = [r for r in found if r["message"]["logStream"] == "web-2"]
    assert two["key"] == "web-2"

    spread = _group(logs, "web-1")
    _subscribe(logs, spread, arn, filterName="spread", distribution="Random")
    assert (
        logs.describe_subscription_filters(logGroupName=spread)["subscriptionFilters"][0][
            "distribution"
        ]
        == "Random"
    )
    for i in range(10):
        _put(logs, spread, f"random {i}", stream="web-1")
    deadline = time.monotonic() + 15
    while True:
        mine = [r for r in _data(kinesis, arn, 7) if r["message"]["logGroup"] == spread]
        if len(mine) >= 10 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(mine) == 10
    assert len({r["key"] for r in mine}) == 10  # a random key per record
    assert len({r["shard"] for r in mine}) > 1  # 4 shards: all in one is ~4e-6 likely


def test_refusals(logs, kinesis, server):
    arn = _stream(kinesis)
    group = _group(logs)
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="f", filterPattern="", destinationArn=arn
        )
    assert _error(exc) == (
        "InvalidParameterException",
        "destinationArn for vendor kinesis cannot be used without roleArn",
    )
    missing = arn.rsplit("/", 1)[0] + "/no-such-stream"
    other_account = arn.replace(OWNER, SENDER)
    for bad in (missing, other_account):
        with pytest.raises(ClientError) as exc:
            _subscribe(logs, group, bad)
        assert _error(exc) == ("InvalidParameterException", UNREACHABLE)
    creating = _name("creating")
    kinesis.create_stream(StreamName=creating, ShardCount=1)  # CREATING for a second
    with pytest.raises(ClientError) as exc:
        _subscribe(logs, group, arn.rsplit("/", 1)[0] + "/" + creating)
    assert _error(exc) == ("InvalidParameterException", UNREACHABLE)
    with pytest.raises(ClientError) as exc:
        _subscribe(logs, group, "arn:aws:firehose:us-east-1:000000000000:deliverystream/d")
    assert _error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        _subscribe(logs, group, arn, distribution="Sideways")
    assert _error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        _subscribe(logs, "/no/such/group", arn)
    assert _error(exc)[0] == "ResourceNotFoundException"
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []

    _subscribe(logs, group, arn, filterName="one")
    _subscribe(logs, group, arn, filterName="two")
    _subscribe(logs, group, arn, filterName="one", filterPattern="ERROR")  # an update
    with pytest.raises(ClientError) as exc:
        _subscribe(logs, group, arn, filterName="three")
    assert _error(exc)[0] == "LimitExceededException"
    controls = [r for r in _records(kinesis, arn) if r["message"]["messageType"] != "DATA_MESSAGE"]
    assert len(controls) == 3  # one per accepted PutSubscriptionFilter, none for refusals

    _put(logs, group, "ERROR both filters see this", "INFO only the second")
    found = _data(kinesis, arn, 2)
    by_filter = {r["message"]["subscriptionFilters"][0]: r["message"] for r in found}
    assert [e["message"] for e in by_filter["one"]["logEvents"]] == ["ERROR both filters see this"]
    assert len(by_filter["two"]["logEvents"]) == 2


def test_throttled_records_arrive_later(logs, kinesis):
    """A shard takes 1 MiB a second: three ~600 KB records in a row overflow it, and the
    refused ones are retried until they fit."""
    arn = _stream(kinesis)
    group = _group(logs)
    _subscribe(logs, group, arn)
    for n in range(3):  # base64 of random bytes: gzip keeps 800 KB of it at ~600 KB
        parts = [base64.b64encode(os.urandom(150_000)).decode() for _ in range(4)]
        _put(logs, group, *(f"batch {n} {p}" for p in parts))
    found = _data(kinesis, arn, 3, timeout=30)
    assert all(len(r["message"]["logEvents"]) == 4 for r in found)
    assert sorted(r["message"]["logEvents"][0]["message"][:7] for r in found) == [
        "batch 0",
        "batch 1",
        "batch 2",
    ]


def _allow(account: str, arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": account},
                    "Action": "logs:PutSubscriptionFilter",
                    "Resource": arn,
                }
            ],
        }
    )


def test_destination_shared_with_one_account(server, logs, kinesis):
    sender = server.client("logs", aws_access_key_id=SENDER)
    stranger = server.client("logs", aws_access_key_id=STRANGER)
    arn = _stream(kinesis)
    name = _name("dest")
    dest = logs.put_destination(destinationName=name, targetArn=arn, roleArn=ROLE)["destination"]
    dest_arn = f"arn:aws:logs:us-east-1:{OWNER}:destination:{name}"
    assert dest["arn"] == dest_arn and dest["targetArn"] == arn and dest["roleArn"] == ROLE
    assert "accessPolicy" not in dest and dest["creationTime"] > 0

    group = "/cross/" + _name("group")
    sender.create_log_group(logGroupName=group)
    sender.create_log_stream(logGroupName=group, logStreamName="app")
    denied = (
        "AccessDeniedException",
        f"User with accountId: {SENDER} is not authorized to perform: "
        f"logs:PutSubscriptionFilter on resource: {dest_arn}",
    )
    subscribe = {
        "logGroupName": group,
        "filterName": "shipped",
        "filterPattern": "ERROR",
        "destinationArn": dest_arn,
    }
    with pytest.raises(ClientError) as exc:  # no access policy: nobody may subscribe
        sender.put_subscription_filter(**subscribe)
    assert _error(exc) == denied

    logs.put_destination_policy(destinationName=name, accessPolicy=_allow(SENDER, dest_arn))
    (shown,) = logs.describe_destinations(DestinationNamePrefix=name)["destinations"]
    assert json.loads(shown["accessPolicy"])["Statement"][0]["Principal"] == {"AWS": SENDER}
    with pytest.raises(ClientError) as exc:
        sender.put_subscription_filter(**subscribe, roleArn=ROLE)
    assert _error(exc) == (
        "InvalidParameterException",
        "destinationArn for vendor logs cannot be used with roleArn",
    )
    sender.put_subscription_filter(**subscribe)

    other_group = "/cross/" + _name("group")
    stranger.create_log_group(logGroupName=other_group)
    with pytest.raises(ClientError) as exc:
        stranger.put_subscription_filter(**{**subscribe, "logGroupName": other_group})
    assert _error(exc) == (denied[0], denied[1].replace(SENDER, STRANGER))
    with pytest.raises(ClientError) as exc:
        sender.put_subscription_filter(**{**subscribe, "destinationArn": dest_arn + "-gone"})
    assert _error(exc)[0] == "ResourceNotFoundException"

    sender.put_log_events(
        logGroupName=group,
        logStreamName="app",
        logEvents=[
            {"timestamp": _now(), "message": "INFO fine"},
            {"timestamp": _now(), "message": "ERROR shipped across"},
        ],
    )
    (record,) = _data(kinesis, arn, 1)
    message = record["message"]
    assert message["owner"] == SENDER and message["logGroup"] == group
    assert message["subscriptionFilters"] == ["shipped"]
    assert [e["message"] for e in message["logEvents"]] == ["ERROR shipped across"]
    assert _records(kinesis, arn)[0]["message"]["messageType"] == "CONTROL_MESSAGE"

    logs.delete_destination(destinationName=name)
    assert logs.describe_destinations(DestinationNamePrefix=name)["destinations"] == []
    with pytest.raises(ClientError) as exc:
        logs.delete_destination(destinationName=name)
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_destination_operations_and_refusals(server, logs, kinesis):
    arn = _stream(kinesis)
    base = _name("many")
    for suffix in ("c", "a", "b"):
        logs.put_destination(
            destinationName=f"{base}-{suffix}", targetArn=arn, roleArn=ROLE, tags={"k": suffix}
        )
    first = logs.describe_destinations(DestinationNamePrefix=base, limit=2)
    assert [d["destinationName"] for d in first["destinations"]] == [f"{base}-a", f"{base}-b"]
    rest = logs.describe_destinations(
        DestinationNamePrefix=base, limit=2, nextToken=first["nextToken"]
    )
    assert [d["destinationName"] for d in rest["destinations"]] == [f"{base}-c"]
    assert "nextToken" not in rest
    other = server.client("logs", aws_access_key_id=SENDER)
    assert other.describe_destinations(DestinationNamePrefix=base)["destinations"] == []

    a_arn = f"arn:aws:logs:us-east-1:{OWNER}:destination:{base}-a"
    created = logs.describe_destinations(DestinationNamePrefix=f"{base}-a")["destinations"][0]
    logs.put_destination(destinationName=f"{base}-a", targetArn=arn, roleArn=ROLE + "2")
    (updated,) = logs.describe_destinations(DestinationNamePrefix=f"{base}-a")["destinations"]
    assert updated["roleArn"] == ROLE + "2"
    assert updated["creationTime"] == created["creationTime"]
    logs.tag_resource(resourceArn=a_arn, tags={"team": "logs"})
    logs.untag_resource(resourceArn=a_arn, tagKeys=["k"])
    assert logs.list_tags_for_resource(resourceArn=a_arn)["tags"] == {"team": "logs"}

    with pytest.raises(ClientError) as exc:
        logs.put_destination(
            destinationName=_name("x"), targetArn=arn.rsplit("/", 1)[0] + "/nope", roleArn=ROLE
        )
    assert _error(exc) == ("InvalidParameterException", UNREACHABLE)
    with pytest.raises(ClientError) as exc:
        logs.put_destination(destinationName="bad:name", targetArn=arn, roleArn=ROLE)
    assert _error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.put_destination_policy(destinationName=_name("none"), accessPolicy="{}")
    assert _error(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.put_destination_policy(destinationName=f"{base}-a", accessPolicy="not json")
    assert _error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.describe_destinations(limit=51)
    assert _error(exc)[0] == "InvalidParameterException"


def test_destinations_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path, env=FAST) as srv:
        logs, kinesis = srv.client("logs"), srv.client("kinesis")
        arn = _stream(kinesis, name="kept")
        dest_arn = f"arn:aws:logs:us-east-1:{OWNER}:destination:kept"
        logs.put_destination(destinationName="kept", targetArn=arn, roleArn=ROLE, tags={"a": "b"})
        logs.put_destination_policy(destinationName="kept", accessPolicy=_allow(SENDER, dest_arn))
        sender = srv.client("logs", aws_access_key_id=SENDER)
        sender.create_log_group(logGroupName="/kept")
        sender.create_log_stream(logGroupName="/kept", logStreamName="app")
        sender.put_subscription_filter(
            logGroupName="/kept", filterName="f", filterPattern="", destinationArn=dest_arn
        )
    with CloudletServer.start(data_dir=tmp_path, env=FAST) as srv:
        logs, kinesis = srv.client("logs"), srv.client("kinesis")
        (dest,) = logs.describe_destinations()["destinations"]
        assert dest["arn"] == dest_arn and dest["targetArn"] == arn
        assert json.loads(dest["accessPolicy"])["Statement"][0]["Principal"] == {"AWS": SENDER}
        assert logs.list_tags_for_resource(resourceArn=dest_arn)["tags"] == {"a": "b"}
        sender = srv.client("logs", aws_access_key_id=SENDER)
        _put(sender, "/kept", "after the restart")
        (record,) = _data(kinesis, arn, 1)
        assert record["message"]["owner"] == SENDER
        assert record["message"]["logEvents"][0]["message"] == "after the restart"


class _FlakyKinesis:
    """An env whose PutRecords refuses the first ``refusals`` calls' records."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.stored: list[tuple[str, bytes]] = []

    async def call(self, service, operation, params, *, account, region):
        records = params["Records"]
        if self.refusals > 0:
            self.refusals -= 1
            refused = {"ErrorCode": "ProvisionedThroughputExceededException"}
            return {"FailedRecordCount": len(records), "Records": [refused] * len(records)}
        self.stored += [(r["PartitionKey"], r["Data"]) for r in records]
        return {"FailedRecordCount": 0, "Records": [{"ShardId": "s"}] * len(records)}

    put_records = ServiceEnv.put_records  # the real one, over this ``call``


def test_sender_retries_then_gives_up(monkeypatch):
    import asyncio

    from cloudlet.core.background import Background
    from cloudlet.services.logs import kinesis_delivery

    monkeypatch.setattr(kinesis_delivery, "RETRY_INTERVAL", 0.0)
    target = ("000000000000", "us-east-1", "arn:aws:kinesis:us-east-1:000000000000:stream/s")

    async def run(refusals: int, give_up: float) -> tuple[_FlakyKinesis, int]:
        monkeypatch.setattr(kinesis_delivery, "GIVE_UP_SECONDS", give_up)
        env = _FlakyKinesis(refusals)
        background = Background()
        sender = kinesis_delivery.KinesisSender(env, background)
        sender.send(target, [("k1", b"one"), ("k2", b"two")])
        await asyncio.sleep(0)
        for _ in range(refusals + 1):
            await sender.tick()
        await background.stop()
        return env, len(sender)

    env, waiting = asyncio.run(run(2, 3600))
    assert env.stored == [("k1", b"one"), ("k2", b"two")] and waiting == 0
    env, waiting = asyncio.run(run(5, 0.0))
    assert env.stored == [] and waiting == 0
