"""Kinesis monitoring and sharing with boto3 against real servers: the ``AWS/Kinesis``
metrics in CloudWatch after PutRecord(s), GetRecords and SubscribeToShard (sums, samples,
units, throttling), an alarm on ``IncomingRecords`` going to ALARM, enhanced monitoring's
answers, errors and per-shard metrics, resource policies on streams and consumers (CRUD,
errors, durability), and strict mode evaluating them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique
from tests.services.test_dynamodb_policies import make_user
from tests.services.test_kinesis import FAST

ACCOUNT = "000000000000"
SHARD0, SHARD1 = "shardId-000000000000", "shardId-000000000001"
SHORT = {
    "CLOUDLET_KINESIS_METRICS_INTERVAL": "0.5",
    "CLOUDLET_KINESIS_CHANGE_SECONDS": "0.2",
    "CLOUDLET_KINESIS_CONSUMER_DELAY": "0.2",
}
"""Metrics published every half second (AWS: each minute), quicker status changes."""
ALL = [
    "IncomingBytes",
    "OutgoingRecords",
    "IteratorAgeMilliseconds",
    "IncomingRecords",
    "ReadProvisionedThroughputExceeded",
    "WriteProvisionedThroughputExceeded",
    "OutgoingBytes",
]
"""Every shard-level metric, in the order the AWS CLI's examples show."""


@pytest.fixture(scope="module")
def server():
    with CloudletServer.start(env=SHORT) as srv:
        yield srv


@pytest.fixture
def kin(server):
    return server.client("kinesis", config=Config(read_timeout=10))


@pytest.fixture
def cw(server):
    return server.client("cloudwatch")


def _stream(kin, shards: int = 1) -> str:
    name = unique("km")
    kin.create_stream(StreamName=name, ShardCount=shards)
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    return name


def _arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def _until(check: Callable[[], object], seconds: float = 8.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _active(kin, carn: str) -> None:
    """Wait for consumer ``carn`` to be ACTIVE."""

    def status() -> str:
        return kin.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"][
            "ConsumerStatus"
        ]

    assert _until(lambda: status() == "ACTIVE")


def _fails(call: Callable[..., object], **params: object) -> tuple[str, str]:
    """The error code and message ``call(**params)`` is answered."""
    with pytest.raises(ClientError) as err:
        call(**params)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _stats(cw, metric: str, **dims: str) -> dict:
    """The metric's one datapoint over the last few minutes ({} while there is none)."""
    now = datetime.now(UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=5),
        Period=900,
        Statistics=["Sum", "SampleCount", "Minimum", "Maximum"],
    )["Datapoints"]
    return points[0] if points else {}


def _settled(cw, metric: str, want: float, key: str = "Sum", **dims: str) -> dict:
    """The datapoint once its ``key`` statistic reached ``want`` (published by then)."""
    got = _until(lambda: (p := _stats(cw, metric, **dims)) and p[key] >= want and p)
    assert got, f"{metric} {dims} never reached {key}={want}: {_stats(cw, metric, **dims)}"
    return got


# -- stream-level metrics --------------------------------------------------------------


def test_put_and_get_metrics_reach_cloudwatch(kin, cw):
    name = _stream(kin)
    kin.put_record(StreamName=name, Data=b"abc", PartitionKey="k")  # 4 bytes with the key
    kin.put_record(StreamName=name, Data=b"defgh", PartitionKey="k")  # 6
    kin.put_records(
        StreamName=name,
        Records=[{"Data": b"x" * 9, "PartitionKey": "p"} for _ in range(3)],  # 3 x 10
    )
    it = kin.get_shard_iterator(StreamName=name, ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    got = kin.get_records(ShardIterator=it["ShardIterator"], Limit=2)
    assert len(got["Records"]) == 2
    kin.get_records(ShardIterator=got["NextShardIterator"])

    incoming = _settled(cw, "IncomingRecords", 5, StreamName=name)
    assert (incoming["Sum"], incoming["SampleCount"]) == (5, 3)
    assert (incoming["Minimum"], incoming["Maximum"], incoming["Unit"]) == (1, 3, "Count")
    size = _settled(cw, "IncomingBytes", 40, StreamName=name)
    assert (size["Sum"], size["Maximum"], size["Unit"]) == (40, 30, "Bytes")
    assert _settled(cw, "PutRecord.Bytes", 10, StreamName=name)["SampleCount"] == 2
    assert _settled(cw, "PutRecord.Success", 2, StreamName=name)["SampleCount"] == 2
    assert _settled(cw, "PutRecord.Latency", 2, "SampleCount", StreamName=name)["Unit"] == (
        "Milliseconds"
    )
    for metric, total in (
        ("PutRecords.TotalRecords", 3),
        ("PutRecords.SuccessfulRecords", 3),
        ("PutRecords.Records", 3),
        ("PutRecords.Bytes", 30),
        ("PutRecords.Success", 1),
    ):
        assert _settled(cw, metric, total, StreamName=name)["Sum"] == total, metric
    for metric in ("PutRecords.ThrottledRecords", "PutRecords.FailedRecords"):
        assert _settled(cw, metric, 1, "SampleCount", StreamName=name)["Sum"] == 0, metric
    throttled = _settled(
        cw, "WriteProvisionedThroughputExceeded", 3, "SampleCount", StreamName=name
    )
    assert throttled["Sum"] == 0
    # Two GetRecords: 2 records then 3 (the first one behind the tip, the second caught up).
    records = _settled(cw, "GetRecords.Records", 5, StreamName=name)
    assert (records["SampleCount"], records["Minimum"], records["Maximum"]) == (2, 2, 3)
    assert _settled(cw, "GetRecords.Bytes", 40, StreamName=name)["Sum"] == 40
    assert _settled(cw, "GetRecords.Success", 2, StreamName=name)["Sum"] == 2
    age = _settled(cw, "GetRecords.IteratorAgeMilliseconds", 2, "SampleCount", StreamName=name)
    assert age["Minimum"] == 0 and age["Maximum"] > 0 and age["Unit"] == "Milliseconds"
    read = _settled(cw, "ReadProvisionedThroughputExceeded", 2, "SampleCount", StreamName=name)
    assert read["Sum"] == 0
    # The same figures through GetMetricData.
    dims = [{"Name": "StreamName", "Value": name}]
    metric = {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords", "Dimensions": dims}
    query = {"Id": "incoming", "MetricStat": {"Metric": metric, "Period": 900, "Stat": "Sum"}}
    now = datetime.now(UTC)
    window = {"StartTime": now - timedelta(minutes=10), "EndTime": now + timedelta(minutes=5)}
    data = cw.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"][0]
    assert data["Values"] == [5.0]


def test_throttled_writes_are_counted(kin, cw):
    name = _stream(kin)
    big = b"x" * (600 * 1024)  # a shard takes 1 MiB a second: a third 600 KiB never fits
    out = kin.put_records(
        StreamName=name, Records=[{"Data": big, "PartitionKey": "k"} for _ in range(3)]
    )
    refused = out["FailedRecordCount"]
    assert refused >= 1
    assert _settled(cw, "PutRecords.ThrottledRecords", refused, StreamName=name)["Sum"] == refused
    assert _settled(cw, "PutRecords.TotalRecords", 3, StreamName=name)["Sum"] == 3
    exceeded = _settled(cw, "WriteProvisionedThroughputExceeded", refused, StreamName=name)
    assert exceeded["Sum"] == refused
    assert _settled(cw, "IncomingRecords", 3 - refused, StreamName=name)["Sum"] == 3 - refused


def test_alarm_on_incoming_records_goes_to_alarm(kin, cw):
    name = _stream(kin)
    alarm = unique("incoming")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Kinesis",
        MetricName="IncomingRecords",
        Dimensions=[{"Name": "StreamName", "Value": name}],
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        kin.put_records(
            StreamName=name, Records=[{"Data": b"r", "PartitionKey": str(i)} for i in range(2)]
        )
        [found] = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        state = found["StateValue"]
        if state == "ALARM":
            break
        time.sleep(0.5)
    assert state == "ALARM"
    assert found["StateReason"].startswith("Threshold Crossed")
    cw.delete_alarms(AlarmNames=[alarm])


def test_subscribe_to_shard_metrics(kin, cw):
    name = _stream(kin)
    arn = _arn(name)
    consumer = kin.register_stream_consumer(StreamARN=arn, ConsumerName="watcher")["Consumer"]
    _active(kin, consumer["ConsumerARN"])
    kin.put_records(StreamName=name, Records=[{"Data": b"e" * 4, "PartitionKey": "k"}] * 2)
    events = kin.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId=SHARD0,
        StartingPosition={"Type": "TRIM_HORIZON"},
    )["EventStream"]
    got = []
    for event in events:
        got += event["SubscribeToShardEvent"]["Records"]
        if len(got) >= 2:
            break
    # A second subscription within 5 seconds of the first is refused: RateExceeded.
    again = {"ConsumerARN": consumer["ConsumerARN"], "ShardId": SHARD0}
    code, _ = _fails(kin.subscribe_to_shard, **again, StartingPosition={"Type": "LATEST"})
    assert code == "ResourceInUseException"
    events.close()
    dims = {"StreamName": name, "ConsumerName": "watcher"}
    assert _settled(cw, "SubscribeToShard.Success", 1, **dims)["Sum"] == 1
    assert _settled(cw, "SubscribeToShard.RateExceeded", 1, **dims)["Sum"] == 1
    assert _settled(cw, "SubscribeToShardEvent.Records", 2, **dims)["Sum"] == 2
    assert _settled(cw, "SubscribeToShardEvent.Bytes", 10, **dims)["Unit"] == "Bytes"
    assert _settled(cw, "SubscribeToShardEvent.Success", 1, **dims)["Minimum"] == 1
    behind = _settled(cw, "SubscribeToShardEvent.MillisBehindLatest", 1, "SampleCount", **dims)
    assert behind["Unit"] == "Milliseconds"


# -- enhanced monitoring ---------------------------------------------------------------


def test_enable_and_disable_enhanced_monitoring(kin):
    name = _stream(kin)
    out = kin.enable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IncomingRecords", "IncomingBytes"]
    )
    assert out["StreamName"] == name and out["StreamARN"] == _arn(name)
    assert out["CurrentShardLevelMetrics"] == []
    assert out["DesiredShardLevelMetrics"] == ["IncomingBytes", "IncomingRecords"]
    status = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert status["StreamStatus"] == "UPDATING"
    # A change needs an ACTIVE stream, as on AWS.
    code, message = _fails(
        kin.enable_enhanced_monitoring, StreamName=name, ShardLevelMetrics=["ALL"]
    )
    assert code == "ResourceInUseException"
    assert message.endswith("not ACTIVE, instead in state UPDATING")
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    out = kin.enable_enhanced_monitoring(StreamARN=_arn(name), ShardLevelMetrics=["ALL"])
    assert out["CurrentShardLevelMetrics"] == ["IncomingBytes", "IncomingRecords"]
    assert out["DesiredShardLevelMetrics"] == ALL
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    desc = kin.describe_stream(StreamName=name)["StreamDescription"]
    assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": ALL}]
    out = kin.disable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"]
    )
    assert out["CurrentShardLevelMetrics"] == ALL
    rest = [m for m in ALL if m not in ("IncomingBytes", "OutgoingBytes")]
    assert out["DesiredShardLevelMetrics"] == rest
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    out = kin.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert (out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]) == (rest, [])
    summary = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


def test_enhanced_monitoring_errors(kin, server):
    name = _stream(kin)
    enable = kin.enable_enhanced_monitoring
    assert _fails(enable, StreamName=name, ShardLevelMetrics=["IncomingRecords", "Nope"]) == (
        "ValidationException",
        "1 validation error detected: Value '[IncomingRecords, Nope]' at 'shardLevelMetrics'"
        " failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy"
        " enum value set: [IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords,"
        " WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded,"
        " IteratorAgeMilliseconds, ALL]]",
    )
    unchecked = server.client("kinesis", config=Config(parameter_validation=False))
    code, _ = _fails(unchecked.disable_enhanced_monitoring, StreamName=name, ShardLevelMetrics=[])
    assert code == "ValidationException"
    code, _ = _fails(enable, StreamName=unique("none"), ShardLevelMetrics=["ALL"])
    assert code == "ResourceNotFoundException"
    fresh = unique("km")
    kin.create_stream(StreamName=fresh, ShardCount=1)  # CREATING
    code, message = _fails(enable, StreamName=fresh, ShardLevelMetrics=["ALL"])
    assert code == "ResourceInUseException"
    assert message.endswith("not ACTIVE, instead in state CREATING")


def test_shard_level_metrics(kin, cw):
    name = _stream(kin, shards=2)
    kin.enable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IncomingRecords", "OutgoingRecords"]
    )
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    second = str(2**127)  # the first hash key of the second shard's range
    kin.put_records(
        StreamName=name,
        Records=[
            {"Data": b"a", "PartitionKey": "k", "ExplicitHashKey": "1"},
            {"Data": b"b", "PartitionKey": "k", "ExplicitHashKey": "2"},
            {"Data": b"c", "PartitionKey": "k", "ExplicitHashKey": second},
        ],
    )
    kin.put_record(StreamName=name, Data=b"d", PartitionKey="k", ExplicitHashKey=second)
    it = kin.get_shard_iterator(StreamName=name, ShardId=SHARD1, ShardIteratorType="TRIM_HORIZON")
    kin.get_records(ShardIterator=it["ShardIterator"])
    first = _settled(cw, "IncomingRecords", 2, StreamName=name, ShardId=SHARD0)
    assert (first["Sum"], first["SampleCount"]) == (2, 1)
    other = _settled(cw, "IncomingRecords", 2, StreamName=name, ShardId=SHARD1)
    assert (other["Sum"], other["SampleCount"]) == (2, 2)
    assert _settled(cw, "OutgoingRecords", 2, StreamName=name, ShardId=SHARD1)["Sum"] == 2
    assert _settled(cw, "IncomingRecords", 4, StreamName=name)["Sum"] == 4  # stream level
    listed = cw.list_metrics(
        Namespace="AWS/Kinesis", Dimensions=[{"Name": "StreamName", "Value": name}]
    )["Metrics"]
    per_shard = {m["MetricName"] for m in listed if len(m["Dimensions"]) == 2}
    assert per_shard == {"IncomingRecords", "OutgoingRecords"}  # only what was enabled


# -- resource policies -----------------------------------------------------------------


def _doc(resource: str, action: str = "kinesis:PutRecord", who: str = ACCOUNT, **kw) -> str:
    statement = {
        "Effect": kw.pop("effect", "Allow"),
        "Principal": {"AWS": who},
        "Action": action,
        "Resource": resource,
        **kw,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_resource_policies_on_streams_and_consumers(kin):
    name = _stream(kin)
    arn = _arn(name)
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    text = _doc(arn, ["kinesis:PutRecord", "kinesis:DescribeStreamSummary"])
    kin.put_resource_policy(ResourceARN=arn, Policy=text)
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == text
    newer = _doc(arn, "kinesis:GetRecords")
    kin.put_resource_policy(ResourceARN=arn, Policy=newer)  # a put replaces the policy
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == newer

    consumer = kin.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
    carn = consumer["ConsumerARN"]
    ctext = _doc(carn, "kinesis:SubscribeToShard")
    code, message = _fails(kin.put_resource_policy, ResourceARN=carn, Policy=ctext)  # CREATING
    assert code == "ResourceInUseException"
    assert message.endswith("is not in ACTIVE status.")
    _active(kin, carn)
    assert kin.get_resource_policy(ResourceARN=carn)["Policy"] == "{}"
    kin.put_resource_policy(ResourceARN=carn, Policy=ctext)
    assert kin.get_resource_policy(ResourceARN=carn)["Policy"] == ctext
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == newer  # each its own

    kin.delete_resource_policy(ResourceARN=arn)
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    assert _fails(kin.delete_resource_policy, ResourceARN=arn)[0] == "ResourceNotFoundException"
    assert kin.get_resource_policy(ResourceARN=carn)["Policy"] == ctext

    # Deleting the stream takes its and its consumers' policies with it.
    kin.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kin.create_stream(StreamName=name, ShardCount=1)
    kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


def test_resource_policy_errors(kin, server):
    name = _stream(kin)
    arn = _arn(name)
    no_principal = json.loads(_doc(arn))
    del no_principal["Statement"][0]["Principal"]
    huge = _doc(arn, [f"kinesis:Action{i:05d}" for i in range(1200)])
    assert len(huge) > 20 * 1024
    for bad in ("not json", json.dumps({"Statement": []}), json.dumps(no_principal), huge):
        code, _ = _fails(kin.put_resource_policy, ResourceARN=arn, Policy=bad)
        assert code == "InvalidArgumentException", bad[:80]
    assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"  # nothing was kept
    missing = _arn(unique("none"))
    for call, params in (
        (kin.put_resource_policy, {"ResourceARN": missing, "Policy": _doc(missing)}),
        (kin.get_resource_policy, {"ResourceARN": missing}),
        (kin.delete_resource_policy, {"ResourceARN": missing}),
        (kin.get_resource_policy, {"ResourceARN": f"{arn}/consumer/none:1700000000"}),
    ):
        assert _fails(call, **params)[0] == "ResourceNotFoundException"
    # Only the owner's account manages a resource's policy.
    other = server.client("kinesis", aws_access_key_id="111111111111")
    code, _ = _fails(other.put_resource_policy, ResourceARN=arn, Policy=_doc(arn))
    assert code == "AccessDeniedException"


def test_monitoring_and_policies_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path, env=SHORT) as srv:
        kin = srv.client("kinesis")
        name = _stream(kin)
        arn = _arn(name)
        kin.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
        kin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
        text = _doc(arn, "kinesis:GetRecords")
        kin.put_resource_policy(ResourceARN=arn, Policy=text)
        carn = kin.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"][
            "ConsumerARN"
        ]
        _active(kin, carn)
        ctext = _doc(carn, "kinesis:SubscribeToShard")
        kin.put_resource_policy(ResourceARN=carn, Policy=ctext)
        srv.kill()
    with CloudletServer.start(data_dir=tmp_path, env=SHORT) as srv:
        kin = srv.client("kinesis")
        summary = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingBytes"]}]
        assert kin.get_resource_policy(ResourceARN=arn)["Policy"] == text
        assert kin.get_resource_policy(ResourceARN=carn)["Policy"] == ctext


# -- strict mode -----------------------------------------------------------------------


def _denied(call: Callable[..., object], **params: object) -> str:
    code, message = _fails(call, **params)
    assert code == "AccessDeniedException"
    return message


def test_strict_mode_evaluates_stream_and_consumer_policies(strict_server):
    root = strict_server.client("kinesis")
    name = _stream(root)
    arn = _arn(name)
    user, user_arn, client = make_user(strict_server)  # no policy of its own
    kin = client("kinesis")
    record = {"StreamName": name, "Data": b"x", "PartitionKey": "k"}
    assert f"kinesis:PutRecord on resource: {arn} " in _denied(kin.put_record, **record)
    reader = ["kinesis:PutRecord", "kinesis:GetShardIterator", "kinesis:GetRecords"]
    root.put_resource_policy(ResourceARN=arn, Policy=_doc(arn, reader, user_arn))
    kin.put_record(**record)
    it = kin.get_shard_iterator(StreamARN=arn, ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    assert [r["Data"] for r in kin.get_records(ShardIterator=it["ShardIterator"])["Records"]] == [
        b"x"
    ]
    _denied(kin.describe_stream_summary, StreamName=name)  # not granted

    # A consumer's own policy governs the operations on the consumer.
    carn = root.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    assert f"on resource: {carn} " in _denied(kin.describe_stream_consumer, ConsumerARN=carn)
    _active(root, carn)
    root.put_resource_policy(
        ResourceARN=carn, Policy=_doc(carn, "kinesis:DescribeStreamConsumer", user_arn)
    )
    assert kin.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]["ConsumerName"]

    # An explicit Deny in the stream's policy beats the user's identity Allow.
    strict_server.client("iam").put_user_policy(
        UserName=user,
        PolicyName="all-kinesis",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}],
            }
        ),
    )
    kin.describe_stream_summary(StreamName=name)
    root.put_resource_policy(
        ResourceARN=arn, Policy=_doc(arn, "kinesis:PutRecord", user_arn, effect="Deny")
    )
    assert "explicit deny in a resource-based policy" in _denied(kin.put_record, **record)
    root.delete_resource_policy(ResourceARN=arn)
    kin.put_record(**record)
