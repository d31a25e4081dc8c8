"""Firehose as the destination of the other services, against a real server with boto3:
what CloudWatch Logs subscription filters (direct, through a cross-account destination,
through an account's subscription filter policy), EventBridge rules, SNS subscriptions
and EventBridge Pipes put in a delivery stream ends up in its S3 bucket in the shape AWS
documents (the gunzipped Logs envelope with its control message, the event JSON or the
target's input, the SNS JSON or the raw body a line each, the Pipes records), and AWS's
refusals: no role, a malformed or foreign ARN, a stream that does not exist."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.firehose_helpers import bucket, keys, s3_stream, start
from tests.services.lambda_helpers import wait_for
from tests.services.names import unique

OWNER = "000000000000"
SENDER = "111122223333"
POLICY_ACCOUNT = "222233334444"
ROLE = f"arn:aws:iam::{OWNER}:role/to-firehose"
CONTROL = "CWL CONTROL MESSAGE: Checking health of destination Firehose."
UNREACHABLE = (
    "Could not deliver test message to specified Firehose stream. Check if the given "
    "Firehose stream is in ACTIVE state."
)
FAST_HINTS = {"BufferingHints": {"IntervalInSeconds": 60}}
"""Flushed after 1.2 s on the test server (``CLOUDLET_FIREHOSE_INTERVAL_SCALE``)."""


@pytest.fixture(scope="module")
def server():
    with start() as srv:
        yield srv


@pytest.fixture(scope="module")
def clients(server):
    names = ("logs", "firehose", "s3", "events", "sqs", "sns", "pipes")
    return {name: server.client(name) for name in names}


def hose(clients: dict[str, Any], account: str = OWNER) -> tuple[str, str, str]:
    """A delivery stream to a new bucket: (bucket name, stream name, stream ARN)."""
    name_b, arn_b = bucket(clients["s3"])
    name = s3_stream(clients["firehose"], arn_b, **FAST_HINTS)
    return name_b, name, f"arn:aws:firehose:us-east-1:{account}:deliverystream/{name}"


def delivered(s3: Any, name_b: str, done: Callable[[bytes], bool], timeout: float = 15) -> bytes:
    """Every object of the bucket, in key order, once ``done`` says they are enough."""
    deadline = time.monotonic() + timeout
    while True:
        data = b"".join(
            s3.get_object(Bucket=name_b, Key=k)["Body"].read() for k in keys(s3, name_b)
        )
        if done(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered within {timeout}s: {data[:500]!r}")
        time.sleep(0.2)


def json_values(text: str) -> list[Any]:
    """The JSON values written one after another (Firehose adds no delimiter)."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        out.append(value)
    return out


def log_messages(data: bytes) -> list[dict]:
    """The CloudWatch Logs envelopes in a bucket: gzip members, one a record."""
    return json_values(gzip.decompress(data).decode()) if data else []


def data_messages(count: int) -> Callable[[bytes], bool]:
    def done(data: bytes) -> bool:
        kinds = [m["messageType"] for m in log_messages(data)]
        return kinds.count("DATA_MESSAGE") >= count

    return done


def error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def log_group(logs: Any, stream: str = "app") -> str:
    group = unique("/hose/group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group


def put(logs: Any, group: str, *messages: str, stream: str = "app") -> None:
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def receive(sqs: Any, url: str, timeout: float = 15) -> dict:
    def one() -> dict | None:
        got = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages")
        return got[0] if got else None

    return wait_for(one, timeout=timeout, interval=0)


# -- CloudWatch Logs -----------------------------------------------------------------


def test_logs_subscription_filter_delivers_the_gzipped_envelope(clients):
    logs, s3 = clients["logs"], clients["s3"]
    name_b, name, arn = hose(clients)
    group = log_group(logs)
    subscribe = {"logGroupName": group, "filterName": "errors", "filterPattern": "ERROR"}
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(**subscribe, destinationArn=arn)
    assert error(exc) == (
        "InvalidParameterException",
        "destinationArn for vendor firehose cannot be used without roleArn",
    )
    for bad in (
        arn.replace(name, "no-such-stream"),
        arn.replace(OWNER, SENDER),  # another account's stream
        arn.replace("us-east-1", "eu-west-1"),  # another Region's
        arn.rsplit("/", 1)[0] + "/",  # no name
    ):
        with pytest.raises(ClientError) as exc:
            logs.put_subscription_filter(**subscribe, destinationArn=bad, roleArn=ROLE)
        assert error(exc) == ("InvalidParameterException", UNREACHABLE), bad
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []

    logs.put_subscription_filter(**subscribe, destinationArn=arn, roleArn=ROLE)
    (shown,) = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert shown["destinationArn"] == arn and shown["roleArn"] == ROLE
    put(logs, group, "INFO fine", "ERROR one", "ERROR two")

    messages = log_messages(delivered(s3, name_b, data_messages(1)))
    control = next(m for m in messages if m["messageType"] == "CONTROL_MESSAGE")
    assert control["owner"] == "CloudwatchLogs" and control["logGroup"] == ""
    assert control["subscriptionFilters"] == [] and control["logEvents"][0]["message"] == CONTROL
    (data,) = [m for m in messages if m["messageType"] == "DATA_MESSAGE"]
    assert {k: data[k] for k in ("owner", "logGroup", "logStream", "subscriptionFilters")} == {
        "owner": OWNER,
        "logGroup": group,
        "logStream": "app",
        "subscriptionFilters": ["errors"],
    }
    assert [e["message"] for e in data["logEvents"]] == ["ERROR one", "ERROR two"]
    assert all(isinstance(e["id"], str) and e["timestamp"] > 0 for e in data["logEvents"])


def test_cross_account_destination_and_account_policy_to_firehose(server, clients):
    logs, s3 = clients["logs"], clients["s3"]
    name_b, name, arn = hose(clients)
    dest = unique("dest")
    with pytest.raises(ClientError) as exc:
        logs.put_destination(
            destinationName=dest, targetArn=arn.replace(name, "missing"), roleArn=ROLE
        )
    assert error(exc) == ("InvalidParameterException", UNREACHABLE)
    shown = logs.put_destination(destinationName=dest, targetArn=arn, roleArn=ROLE)
    dest_arn = shown["destination"]["arn"]
    assert shown["destination"]["targetArn"] == arn
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": SENDER},
                "Action": "logs:PutSubscriptionFilter",
                "Resource": dest_arn,
            }
        ],
    }
    logs.put_destination_policy(destinationName=dest, accessPolicy=json.dumps(allow))
    sender = server.client("logs", aws_access_key_id=SENDER)
    group = log_group(sender)
    sender.put_subscription_filter(
        logGroupName=group, filterName="shared", filterPattern="", destinationArn=dest_arn
    )
    put(sender, group, "from the other account")

    # An account's subscription filter policy delivers every group's events (its own
    # account here, so the module's other groups are left alone).
    other = {n: server.client(n, aws_access_key_id=POLICY_ACCOUNT) for n in ("logs", "s3")}
    other["firehose"] = server.client("firehose", aws_access_key_id=POLICY_ACCOUNT)
    policy_b, _, policy_hose = hose(other, POLICY_ACCOUNT)
    document = {"DestinationArn": policy_hose, "FilterPattern": "shipped"}
    with pytest.raises(ClientError) as exc:
        other["logs"].put_account_policy(
            policyName="to-hose",
            policyType="SUBSCRIPTION_FILTER_POLICY",
            policyDocument=json.dumps(document),
        )
    assert error(exc)[1] == "destinationArn for vendor firehose cannot be used without roleArn"
    role = f"arn:aws:iam::{POLICY_ACCOUNT}:role/to-firehose"
    other["logs"].put_account_policy(
        policyName="to-hose",
        policyType="SUBSCRIPTION_FILTER_POLICY",
        policyDocument=json.dumps({**document, "RoleArn": role}),
    )
    policy_group = log_group(other["logs"])
    put(other["logs"], policy_group, "kept", "shipped everywhere")

    (data,) = [
        m
        for m in log_messages(delivered(s3, name_b, data_messages(1)))
        if m["messageType"] == "DATA_MESSAGE"
    ]
    assert data["owner"] == SENDER and data["logGroup"] == group
    assert data["subscriptionFilters"] == ["shared"]
    assert [e["message"] for e in data["logEvents"]] == ["from the other account"]
    (data,) = [
        m
        for m in log_messages(delivered(other["s3"], policy_b, data_messages(1)))
        if m["messageType"] == "DATA_MESSAGE"
    ]
    assert data["owner"] == POLICY_ACCOUNT and data["subscriptionFilters"] == ["to-hose"]
    assert [e["message"] for e in data["logEvents"]] == ["shipped everywhere"]


# -- EventBridge ---------------------------------------------------------------------


def test_eventbridge_rule_puts_its_events_in_firehose(clients):
    events, s3, sqs = clients["events"], clients["s3"], clients["sqs"]
    name_b, name, arn = hose(clients)
    source = unique("com.example")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[{"Id": "h", "Arn": arn}])
    assert error(exc) == ("ValidationException", f"RoleArn is required for target {arn}.")
    dlq_url, dlq_arn = queue(sqs)
    missing = arn.replace(name, "missing")
    out = events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "whole", "Arn": arn, "RoleArn": ROLE},
            {"Id": "detail", "Arn": arn, "RoleArn": ROLE, "InputPath": "$.detail"},
            {
                "Id": "said",
                "Arn": arn,
                "RoleArn": ROLE,
                "InputTransformer": {
                    "InputPathsMap": {"n": "$.detail.n"},
                    "InputTemplate": '"n is <n>"',
                },
            },
            {
                "Id": "gone",
                "Arn": missing,
                "RoleArn": ROLE,
                "DeadLetterConfig": {"Arn": dlq_arn},
            },
        ],
    )
    assert out["FailedEntryCount"] == 0
    assert len(events.list_targets_by_rule(Rule=rule)["Targets"]) == 4
    entry = {"Source": source, "DetailType": "thing", "Detail": json.dumps({"n": 7})}
    (sent,) = events.put_events(Entries=[entry])["Entries"]

    data = delivered(s3, name_b, lambda d: len(json_values(d.decode())) >= 3)
    values = json_values(data.decode())
    whole = next(v for v in values if isinstance(v, dict) and "detail-type" in v)
    assert whole["id"] == sent["EventId"] and whole["source"] == source
    assert whole["detail-type"] == "thing" and whole["detail"] == {"n": 7}
    assert whole["account"] == OWNER and whole["region"] == "us-east-1"
    assert {"n": 7} in values and "n is 7" in values and len(values) == 3

    message = receive(sqs, dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["TARGET_ARN"] == missing
    assert json.loads(message["Body"])["id"] == sent["EventId"]


# -- SNS -----------------------------------------------------------------------------


def test_sns_firehose_subscriptions_envelope_and_raw(clients):
    sns, s3, sqs = clients["sns"], clients["s3"], clients["sqs"]
    env_b, _, env_arn = hose(clients)
    raw_b, raw_name, raw_arn = hose(clients)
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    role = {"SubscriptionRoleArn": ROLE}
    cases = [
        ({"Endpoint": env_arn}, "SubscriptionRoleArn is required for the firehose protocol"),
        (
            {"Endpoint": f"arn:aws:sqs:us-east-1:{OWNER}:q", "Attributes": role},
            "Invalid parameter: FIREHOSE endpoint ARN",
        ),
        (
            {"Endpoint": env_arn, "Attributes": {"SubscriptionRoleArn": "not-a-role"}},
            "SubscriptionRoleArn: Invalid ARN",
        ),
    ]
    for extra, says in cases:
        with pytest.raises(ClientError) as exc:
            sns.subscribe(TopicArn=topic, Protocol="firehose", **extra)
        assert error(exc)[0] == "InvalidParameter" and says in error(exc)[1], extra
    fifo = sns.create_topic(Name=unique("topic") + ".fifo", Attributes={"FifoTopic": "true"})
    with pytest.raises(ClientError) as exc:
        sns.subscribe(
            TopicArn=fifo["TopicArn"], Protocol="firehose", Endpoint=env_arn, Attributes=role
        )
    assert error(exc) == ("InvalidParameter", "Invalid parameter: Invalid protocol type: firehose")

    sub = sns.subscribe(TopicArn=topic, Protocol="firehose", Endpoint=env_arn, Attributes=role)
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
    shown = attributes["Attributes"]
    assert shown["Protocol"] == "firehose" and shown["Endpoint"] == env_arn
    assert shown["SubscriptionRoleArn"] == ROLE and shown["PendingConfirmation"] == "false"
    with pytest.raises(ClientError) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub["SubscriptionArn"],
            AttributeName="SubscriptionRoleArn",
            AttributeValue="",
        )
    assert error(exc)[0] == "InvalidParameter"
    sns.subscribe(
        TopicArn=topic,
        Protocol="firehose",
        Endpoint=raw_arn,
        Attributes={**role, "RawMessageDelivery": "true"},
    )
    dlq_url, dlq_arn = queue(sqs)
    sns.subscribe(
        TopicArn=topic,
        Protocol="firehose",
        Endpoint=raw_arn.replace(raw_name, "missing"),
        Attributes={**role, "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
    )
    kind = {"kind": {"DataType": "String", "StringValue": "greeting"}}
    ids = [
        sns.publish(TopicArn=topic, Message="hello", Subject="hi", MessageAttributes=kind),
        sns.publish(TopicArn=topic, Message="again"),
    ]

    lines = delivered(s3, env_b, lambda d: d.count(b"\n") >= 2).decode().splitlines()
    first, second = sorted((json.loads(line) for line in lines), key=lambda m: m["Message"])
    assert second == {
        "Type": "Notification",
        "MessageId": ids[0]["MessageId"],
        "TopicArn": topic,
        "Subject": "hi",
        "Message": "hello",
        "Timestamp": second["Timestamp"],
        "UnsubscribeURL": second["UnsubscribeURL"],
        "MessageAttributes": {"kind": {"Type": "String", "Value": "greeting"}},
    }
    assert first["MessageId"] == ids[1]["MessageId"] and first["Message"] == "again"
    assert "Subject" not in first and "MessageAttributes" not in first
    assert "UnsubscribeURL" in first and "Signature" not in first
    raw = delivered(s3, raw_b, lambda d: d.count(b"\n") >= 2)
    assert sorted(raw.decode().splitlines()) == ["again", "hello"]
    bodies = {json.loads(receive(sqs, dlq_url)["Body"])["Message"]}
    bodies.add(json.loads(receive(sqs, dlq_url)["Body"])["Message"])
    assert bodies == {"hello", "again"}


# -- EventBridge Pipes ---------------------------------------------------------------


def test_pipe_delivers_sqs_records_to_firehose(clients):
    pipes, sqs, s3 = clients["pipes"], clients["sqs"], clients["s3"]
    name_b, _, arn = hose(clients)
    url = sqs.create_queue(QueueName=unique("src"))["QueueUrl"]
    source = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    source_arn = source["Attributes"]["QueueArn"]
    name = unique("pipe")
    base = {"Name": name, "Source": source_arn, "Target": arn, "RoleArn": ROLE}
    too_big = {"SqsQueueParameters": {"BatchSize": 501, "MaximumBatchingWindowInSeconds": 1}}
    with pytest.raises(ClientError) as exc:
        pipes.create_pipe(**base, SourceParameters=too_big)
    assert error(exc)[0] == "ValidationException" and "at most 500" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        pipes.create_pipe(
            **base, TargetParameters={"KinesisStreamParameters": {"PartitionKey": "k"}}
        )
    assert error(exc)[0] == "ValidationException"
    pipes.create_pipe(**base)
    wait_for(lambda: pipes.describe_pipe(Name=name)["CurrentState"] == "RUNNING")
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"message {n}") for n in range(3)]

    data = delivered(s3, name_b, lambda d: len(json_values(d.decode())) >= 3)
    records = sorted(json_values(data.decode()), key=lambda r: r["body"])
    assert [r["body"] for r in records] == ["message 0", "message 1", "message 2"]
    assert [r["messageId"] for r in records] == [m["MessageId"] for m in sent]
    assert {(r["eventSource"], r["eventSourceARN"]) for r in records} == {("aws:sqs", source_arn)}
    assert all(r["receiptHandle"] and r["md5OfBody"] for r in records)
    pipes.delete_pipe(Name=name)  # its poller would hold the server's stop up
