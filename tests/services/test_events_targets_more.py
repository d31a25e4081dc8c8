"""EventBridge rules delivering to Kinesis data streams and CloudWatch Logs log groups,
through boto3 against a real server: records read back with GetShardIterator and
GetRecords (the partition key from ``KinesisParameters.PartitionKeyPath`` or the event's
id, an InputTransformer's output as the data), retries through a shard's throttling,
log events read back with FilterLogEvents and GetLogEvents (a stream named after the
event's id, the event's time as the timestamp, a ``{"timestamp", "message"}``
transformer as the record), AWS's refusals (a Kinesis target without a RoleArn, a log
record template that is not one), missing streams and log groups going to the
dead-letter queue with AWS's attributes, strict mode, and the target kinds cloudlet
still refuses."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.core.errors import ServiceError
from cloudlet.services.events.delivery import _why
from tests.services.names import unique
from tests.services.test_events import ACCOUNT, ENVELOPE_KEYS, entry, error, make_queue
from tests.services.test_sns_delivery import receive

ROLE = f"arn:aws:iam::{ACCOUNT}:role/eventbridge-to-kinesis"
FAST = {"Delay": 1, "MaxAttempts": 20}
REGION = "us-east-1"


@pytest.fixture
def events(cloudlet_server):
    return cloudlet_server.client("events", config=Config(retries={"max_attempts": 0}))


@pytest.fixture
def kinesis(cloudlet_server):
    return cloudlet_server.client("kinesis")


@pytest.fixture
def logs(cloudlet_server):
    return cloudlet_server.client("logs")


@pytest.fixture
def sqs(cloudlet_server):
    return cloudlet_server.client("sqs")


def make_stream(kinesis, shards: int = 1) -> tuple[str, str]:
    """A new ACTIVE provisioned stream: (name, ARN)."""
    name = unique("evks")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return name, arn["StreamARN"]


def records(kinesis, name: str, want: int, timeout: float = 10.0) -> list[dict]:
    """The stream's records from its start, polled until ``want`` are there (or the
    deadline passes)."""
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    deadline = time.monotonic() + timeout
    while True:
        found: list[dict] = []
        for shard in shards:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
                found += page["Records"]
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def make_group(logs) -> tuple[str, str]:
    name = f"/aws/events/{unique('evlg')}"
    logs.create_log_group(logGroupName=name)
    return name, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def log_events(logs, group: str, want: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = logs.filter_log_events(logGroupName=group)["events"]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def rule_with(events, source: str, *targets: dict) -> str:
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    out = events.put_targets(Rule=name, Targets=list(targets))
    assert out["FailedEntryCount"] == 0, out["FailedEntries"]
    return name


def test_kinesis_stream_targets_put_one_record_per_event(events, kinesis):
    source = unique("com.example")
    name, arn = make_stream(kinesis)
    keyed = rule_with(
        events,
        source,
        {
            "Id": "keyed",
            "Arn": arn,
            "RoleArn": ROLE,
            "KinesisParameters": {"PartitionKeyPath": "$.detail.customer"},
            "InputTransformer": {
                "InputPathsMap": {"customer": "$.detail.customer", "n": "$.detail.n"},
                "InputTemplate": '{"who": <customer>, "n": <n>, "rule": "<aws.events.rule-name>"}',
            },
        },
    )
    rule_with(events, source, {"Id": "whole", "Arn": arn, "RoleArn": ROLE})
    out = events.put_events(Entries=[entry(source, {"customer": "c-42", "n": 7})])
    event_id = out["Entries"][0]["EventId"]
    got = records(kinesis, name, 2)
    assert len(got) == 2
    by_key = {r["PartitionKey"]: json.loads(r["Data"]) for r in got}
    # PartitionKeyPath's value keys one record; AWS's default, the event's id, the other.
    assert by_key["c-42"] == {"who": "c-42", "n": 7, "rule": keyed}
    whole = by_key[event_id]
    assert list(whole) == ENVELOPE_KEYS
    assert whole["id"] == event_id and whole["detail"] == {"customer": "c-42", "n": 7}
    listed = events.list_targets_by_rule(Rule=keyed)["Targets"][0]
    assert listed["KinesisParameters"] == {"PartitionKeyPath": "$.detail.customer"}
    assert listed["RoleArn"] == ROLE


def test_a_partition_key_path_the_event_lacks_gives_the_event_id(events, kinesis):
    source = unique("com.example")
    name, arn = make_stream(kinesis)
    rule_with(
        events,
        source,
        {
            "Id": "k",
            "Arn": arn,
            "RoleArn": ROLE,
            "KinesisParameters": {"PartitionKeyPath": "$.detail.missing"},
            "InputPath": "$.detail",
        },
    )
    event_id = events.put_events(Entries=[entry(source, {"n": 1})])["Entries"][0]["EventId"]
    [record] = records(kinesis, name, 1)
    assert record["PartitionKey"] == event_id
    assert json.loads(record["Data"]) == {"n": 1}


def test_a_throttled_shard_is_retried_until_every_record_is_in(events, kinesis):
    """A provisioned shard takes 1 MiB a second: a burst of ~2.4 MB of events is partly
    refused with ProvisionedThroughputExceededException, which EventBridge retries."""
    assert _why(ServiceError("ProvisionedThroughputExceededException", "busy", 400)).retryable
    assert not _why(ServiceError("ResourceNotFoundException", "gone", 400)).retryable
    source = unique("com.example")
    name, arn = make_stream(kinesis)
    rule_with(events, source, {"Id": "k", "Arn": arn, "RoleArn": ROLE})
    blob = "x" * (200 * 1024)
    ids = [
        events.put_events(Entries=[entry(source, {"n": n, "blob": blob})])["Entries"][0]["EventId"]
        for n in range(12)
    ]
    got = records(kinesis, name, 12, timeout=40.0)
    assert sorted(r["PartitionKey"] for r in got) == sorted(ids)


def test_log_group_targets_write_each_event_in_a_stream_named_after_it(events, logs):
    source = unique("com.example")
    group, arn = make_group(logs)
    rule_with(events, source, {"Id": "log", "Arn": arn})
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    out = events.put_events(Entries=[entry(source, {"state": "RUNNING"}, Time=when)])
    event_id = out["Entries"][0]["EventId"]
    [logged] = log_events(logs, group, 1)
    assert logged["logStreamName"] == event_id
    assert logged["timestamp"] == int(when.timestamp() * 1000)
    message = json.loads(logged["message"])
    assert list(message) == ENVELOPE_KEYS
    assert message["id"] == event_id and message["detail"] == {"state": "RUNNING"}
    assert message["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [event_id]


def test_a_log_record_transformer_sets_the_timestamp_and_message(events, logs):
    """The user guide's CloudWatch log group example: ``{"timestamp": <timestamp>,
    "message": "..."}`` becomes the log event's time and text."""
    source = unique("com.example")
    group, arn = make_group(logs)
    rule_with(
        events,
        source,
        {
            "Id": "log",
            "Arn": arn,
            "InputTransformer": {
                "InputPathsMap": {
                    "timestamp": "$.time",
                    "instance": "$.detail.instance-id",
                    "state": "$.detail.state",
                },
                "InputTemplate": '{"timestamp": <timestamp>, '
                '"message": "instance \\"<instance>\\" is in <state>"}',
            },
        },
    )
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    detail = {"instance-id": "i-0123456789", "state": "RUNNING"}
    event_id = events.put_events(Entries=[entry(source, detail, Time=when)])["Entries"][0][
        "EventId"
    ]
    log_events(logs, group, 1)
    got = logs.get_log_events(logGroupName=group, logStreamName=event_id)["events"]
    assert [(e["timestamp"], e["message"]) for e in got] == [
        (int(when.timestamp() * 1000), 'instance "i-0123456789" is in RUNNING')
    ]


def test_input_path_text_is_the_log_message(events, logs):
    source = unique("com.example")
    group, arn = make_group(logs)
    rule_with(events, source, {"Id": "log", "Arn": arn, "InputPath": "$.detail"})
    events.put_events(Entries=[entry(source, {"a": [1, 2]})])
    [logged] = log_events(logs, group, 1)
    assert json.loads(logged["message"]) == {"a": [1, 2]}


def test_aws_refusals_of_kinesis_and_log_group_targets(events, kinesis, logs):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    _, stream_arn = make_stream(kinesis)
    _, group_arn = make_group(logs)
    cases = [
        ({"Id": "k", "Arn": stream_arn}, f"RoleArn is required for target {stream_arn}."),
        (
            {
                "Id": "k",
                "Arn": stream_arn,
                "RoleArn": ROLE,
                "KinesisParameters": {"PartitionKeyPath": "detail.id"},
            },
            "KinesisParameters.PartitionKeyPath for target k is not a valid JSON path.",
        ),
        (
            {
                "Id": "lg",
                "Arn": group_arn,
                "InputTransformer": {
                    "InputPathsMap": {"d": "$.detail"},
                    "InputTemplate": '{"SomeParam": <d>}',
                },
            },
            "InputTemplate for target lg is not valid for a CloudWatch Logs log group: it "
            'must be {"timestamp": <timestamp>, "message": <message>}.',
        ),
    ]
    for target, message in cases:
        with pytest.raises(ClientError) as exc:
            events.put_targets(Rule=name, Targets=[target])
        assert error(exc) == ("ValidationException", message, 400), target
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []


def test_missing_streams_and_log_groups_go_to_the_dead_letter_queue(events, sqs):
    source = unique("com.example")
    dlq_url, dlq_arn = make_queue(sqs)
    stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{unique('gone')}"
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/{unique('gone')}"
    dead = {"DeadLetterConfig": {"Arn": dlq_arn}}
    name = rule_with(
        events,
        source,
        {"Id": "stream", "Arn": stream, "RoleArn": ROLE, **dead},
        {"Id": "group", "Arn": group, **dead},
    )
    event_id = events.put_events(Entries=[entry(source, {"x": 1})])["Entries"][0]["EventId"]
    messages = receive(sqs, dlq_url, 2, MessageAttributeNames=["All"])
    assert len(messages) == 2
    rule_arn = events.describe_rule(Name=name)["Arn"]
    by_target = {}
    for message in messages:
        assert json.loads(message["Body"])["id"] == event_id
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        by_target[attributes["TARGET_ARN"]] = attributes
    assert set(by_target) == {stream, group}
    for attributes in by_target.values():
        assert attributes["RULE_ARN"] == rule_arn
        assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
        assert attributes["RETRY_ATTEMPTS"] == "0"
        assert "EXHAUSTED_RETRY_CONDITION" not in attributes
    assert "not found" in by_target[stream]["ERROR_MESSAGE"]
    assert by_target[group]["ERROR_MESSAGE"] == "The specified log group does not exist."


def test_targets_cloudlet_has_no_service_for_are_still_refused(events, sqs):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    _, queue = make_queue(sqs)
    absent = {
        "sfn": (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m", "Step Functions"),
        "ecs": (f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c", "ECS"),
        "batch": (f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/q", "Batch"),
        "build": (f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/p", "CodeBuild"),
        "shift": (f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:c", "Redshift"),
        "sm": (f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/p", "SageMaker"),
        "ssm": (f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript", "Systems Manager"),
        "insp": (f"arn:aws:inspector:{REGION}:{ACCOUNT}:target/0-x/template/0-y", "Inspector"),
        "apigw": (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1/prod/POST/x", "API Gateway"),
        "sync": (f"arn:aws:appsync:{REGION}:{ACCOUNT}:endpoints/graphql-api/a", "AppSync"),
    }
    for tid, (arn, kind) in absent.items():
        target = {"Id": tid, "Arn": arn, "RoleArn": ROLE}
        out = events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue}, target])
        assert out["FailedEntryCount"] == 1
        [failed] = out["FailedEntries"]
        assert failed["TargetId"] == tid and failed["ErrorCode"] == "NotImplemented"
        assert failed["ErrorMessage"].startswith(f"cloudlet does not deliver to {arn} ({kind}")
        assert failed["ErrorMessage"].endswith(
            "it delivers to SQS queues, SNS topics, Lambda functions, Kinesis data streams, "
            "Firehose delivery streams, CloudWatch Logs log groups, event buses and API "
            "destinations"
        )
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["q"]


def test_strict_mode_asks_no_stream_policy_and_a_log_group_policy(strict_server):
    """Kinesis targets are written as the target's role, not under the stream's policy; a
    log group is written under the Logs resource policies granting EventBridge
    (test_logs_policies.py shows the refusal without one)."""
    events = strict_server.client("events")
    kinesis, logs = strict_server.client("kinesis"), strict_server.client("logs")
    source = unique("com.example")
    name, stream_arn = make_stream(kinesis)
    group, group_arn = make_group(logs)
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{group_arn}:*",
    }
    logs.put_resource_policy(
        resourceArn=group_arn,
        policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [grant]}),
    )
    rule_with(
        events,
        source,
        {"Id": "k", "Arn": stream_arn, "RoleArn": ROLE},
        {"Id": "log", "Arn": group_arn},
    )
    event_id = events.put_events(Entries=[entry(source, {"n": 1})])["Entries"][0]["EventId"]
    assert [r["PartitionKey"] for r in records(kinesis, name, 1)] == [event_id]
    assert [e["logStreamName"] for e in log_events(logs, group, 1)] == [event_id]
