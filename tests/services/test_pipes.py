"""EventBridge Pipes against a real server with boto3: the control plane and its states,
AWS's errors, and pipes that really move data: SQS to SQS through a filter, a DynamoDB
stream through a Lambda enrichment to an EventBridge bus (and on to SQS by a rule),
Kinesis to SQS with an input template, Stop/Start, a restart that keeps the position,
and a source that does not exist."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import python_function, wait_for
from tests.services.names import unique

ROLE = "arn:aws:iam::000000000000:role/pipe-role"


@pytest.fixture
def pipes(aws_client):
    return aws_client("pipes")


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def _queue(sqs: Any, prefix: str = "pq", **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique(prefix), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _state(pipes: Any, name: str, state: str, timeout: float = 15) -> dict:
    return wait_for(
        lambda: (d := pipes.describe_pipe(Name=name))["CurrentState"] == state and d,
        timeout=timeout,
    )


def _bodies(sqs: Any, url: str, count: int, timeout: float = 30) -> list[str]:
    """At least ``count`` message bodies from ``url`` (deleted as read), within ``timeout``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(seen)} of {count} messages within {timeout}s: {seen}")
        res = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for msg in res.get("Messages", []):
            seen.append(msg["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    return seen


def _quiet(sqs: Any, url: str, seconds: float = 2.0) -> list[str]:
    """What arrives at ``url`` within ``seconds`` (nothing, when all is well)."""
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        res = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        got += [m["Body"] for m in res.get("Messages", [])]
    return got


# -- the control plane ---------------------------------------------------------------


def test_pipe_lifecycle_and_states(pipes, sqs):
    _, source = _queue(sqs)
    _, target = _queue(sqs)
    name = unique("pipe")
    out = pipes.create_pipe(
        Name=name,
        Source=source,
        Target=target,
        RoleArn=ROLE,
        Description="first",
        Tags={"team": "a"},
    )
    assert out["Arn"] == f"arn:aws:pipes:us-east-1:000000000000:pipe/{name}"
    assert out["CurrentState"] == "CREATING" and out["DesiredState"] == "RUNNING"
    desc = _state(pipes, name, "RUNNING")
    assert desc["Source"] == source and desc["Target"] == target and desc["RoleArn"] == ROLE
    assert desc["Description"] == "first" and desc["Tags"] == {"team": "a"}
    assert desc["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 10
    assert desc["CreationTime"] <= desc["LastModifiedTime"]

    listed = pipes.list_pipes(NamePrefix=name)["Pipes"]
    assert [p["Name"] for p in listed] == [name]
    assert listed[0]["CurrentState"] == "RUNNING" and listed[0]["Source"] == source
    assert pipes.list_pipes(NamePrefix=name, CurrentState="STOPPED")["Pipes"] == []
    assert [p["Name"] for p in pipes.list_pipes(SourcePrefix=source)["Pipes"]] == [name]
    assert [p["Name"] for p in pipes.list_pipes(TargetPrefix=target)["Pipes"]] == [name]

    updated = pipes.update_pipe(Name=name, RoleArn=ROLE, Description="second")
    assert updated["CurrentState"] == "UPDATING"
    with pytest.raises(ClientError) as err:  # a change is settling
        pipes.stop_pipe(Name=name)
    assert err.value.response["Error"]["Code"] == "ConflictException"
    assert _state(pipes, name, "RUNNING")["Description"] == "second"

    stopped = pipes.stop_pipe(Name=name)
    assert stopped["CurrentState"] == "STOPPING" and stopped["DesiredState"] == "STOPPED"
    assert _state(pipes, name, "STOPPED")["DesiredState"] == "STOPPED"
    assert pipes.start_pipe(Name=name)["CurrentState"] == "STARTING"
    _state(pipes, name, "RUNNING")

    pipes.tag_resource(resourceArn=out["Arn"], tags={"env": "test"})
    assert pipes.list_tags_for_resource(resourceArn=out["Arn"])["tags"] == {
        "team": "a",
        "env": "test",
    }
    pipes.untag_resource(resourceArn=out["Arn"], tagKeys=["team"])
    assert pipes.list_tags_for_resource(resourceArn=out["Arn"])["tags"] == {"env": "test"}

    deleted = pipes.delete_pipe(Name=name)
    assert deleted["CurrentState"] == "DELETING" and deleted["DesiredState"] == "DELETED"

    def gone() -> bool:
        try:
            pipes.describe_pipe(Name=name)
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "NotFoundException"
        return False

    wait_for(gone, timeout=15)


def test_list_pipes_pages(pipes, sqs):
    _, source = _queue(sqs)
    _, target = _queue(sqs)
    prefix = unique("page")
    for i in range(3):
        pipes.create_pipe(
            Name=f"{prefix}-{i}", Source=source, Target=target, RoleArn=ROLE, DesiredState="STOPPED"
        )
    first = pipes.list_pipes(NamePrefix=prefix, Limit=2)
    assert [p["Name"] for p in first["Pipes"]] == [f"{prefix}-0", f"{prefix}-1"]
    rest = pipes.list_pipes(NamePrefix=prefix, Limit=2, NextToken=first["NextToken"])
    assert [p["Name"] for p in rest["Pipes"]] == [f"{prefix}-2"] and "NextToken" not in rest
    assert _state(pipes, f"{prefix}-0", "STOPPED")["DesiredState"] == "STOPPED"
    for i in range(3):
        pipes.delete_pipe(Name=f"{prefix}-{i}")


def test_errors(pipes, sqs, cloudlet_server):
    _, source = _queue(sqs)
    _, target = _queue(sqs)
    name = unique("err")
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE)

    def error(fn: Any, **kwargs: Any) -> dict:
        with pytest.raises(ClientError) as err:
            fn(**kwargs)
        return err.value.response

    again = error(pipes.create_pipe, Name=name, Source=source, Target=target, RoleArn=ROLE)
    assert again["Error"]["Code"] == "ConflictException"
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 409
    missing = error(pipes.describe_pipe, Name=unique("none"))
    assert missing["Error"]["Code"] == "NotFoundException"
    assert missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error(pipes.stop_pipe, Name=unique("none"))["Error"]["Code"] == "NotFoundException"

    bad = error(pipes.create_pipe, Name="no spaces", Source=source, Target=target, RoleArn=ROLE)
    assert bad["Error"]["Code"] == "ValidationException"
    assert "at 'name' failed to satisfy constraint" in bad["Error"]["Message"]
    assert bad["fieldList"][0]["name"] == "name"

    state_machine = "arn:aws:states:us-east-1:000000000000:stateMachine:sm"
    refused = error(
        pipes.create_pipe, Name=unique("e"), Source=source, Target=state_machine, RoleArn=ROLE
    )
    assert refused["Error"]["Code"] == "ValidationException"
    assert (
        "SQS queues" in refused["Error"]["Message"] and refused["fieldList"][0]["name"] == "target"
    )

    too_big = error(
        pipes.create_pipe,
        Name=unique("e"),
        Source=source,
        Target=target,
        RoleArn=ROLE,
        SourceParameters={
            "SqsQueueParameters": {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 5}
        },
    )
    assert too_big["fieldList"][0]["name"] == "sourceParameters.sqsQueueParameters.batchSize"

    pattern = error(
        pipes.create_pipe,
        Name=unique("e"),
        Source=source,
        Target=target,
        RoleArn=ROLE,
        SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}},
    )
    assert pattern["Error"]["Code"] == "ValidationException"

    logging = error(
        pipes.create_pipe,
        Name=unique("e"),
        Source=source,
        Target=target,
        RoleArn=ROLE,
        LogConfiguration={
            "Level": "ERROR",
            "CloudwatchLogsLogDestination": {
                "LogGroupArn": "arn:aws:logs:eu-west-1:000000000000:log-group:g"
            },
        },
    )
    assert "not in the pipe's Region" in logging["Error"]["Message"]

    kinesis = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
    no_start = error(
        pipes.create_pipe, Name=unique("e"), Source=kinesis, Target=target, RoleArn=ROLE
    )
    assert no_start["fieldList"][0]["name"] == (
        "sourceParameters.kinesisStreamParameters.startingPosition"
    )

    # RoleArn is required: the server says so when the client does not check.
    loose = cloudlet_server.client("pipes", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as err:
        loose.create_pipe(Name=unique("e"), Source=source, Target=target)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "roleArn" in err.value.response["Error"]["Message"]
    pipes.delete_pipe(Name=name)


def test_missing_source_fails_creation(pipes, sqs):
    _, target = _queue(sqs)
    name = unique("gone")
    source = f"arn:aws:sqs:us-east-1:000000000000:{unique('nosuch')}"
    pipes.create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE)
    desc = _state(pipes, name, "CREATE_FAILED")
    assert "not found" in desc["StateReason"]
    with pytest.raises(ClientError) as err:
        pipes.start_pipe(Name=name)
    assert err.value.response["Error"]["Code"] == "ConflictException"
    stream = unique("nostream")
    pipes.create_pipe(
        Name=stream,
        Source=f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
        SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON"}},
        Target=target,
        RoleArn=ROLE,
    )
    assert "Stream not found" in _state(pipes, stream, "CREATE_FAILED")["StateReason"]
    pipes.delete_pipe(Name=name)
    pipes.delete_pipe(Name=stream)


# -- pipes that move data ---------------------------------------------------------------


def test_sqs_to_sqs_with_a_filter(pipes, sqs):
    source_url, source = _queue(sqs)
    target_url, target = _queue(sqs)
    name = unique("filter")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=target,
        RoleArn=ROLE,
        SourceParameters={
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]}
        },
    )
    _state(pipes, name, "RUNNING")
    for i, kind in enumerate(["keep", "drop", "keep"]):
        sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps({"kind": kind, "n": i}))
    sqs.send_message(QueueUrl=source_url, MessageBody="plain text")
    events = [json.loads(b) for b in _bodies(sqs, target_url, 2)]
    assert sorted(json.loads(e["body"])["n"] for e in events) == [0, 2]
    event = events[0]
    assert event["eventSource"] == "aws:sqs" and event["eventSourceARN"] == source
    assert event["awsRegion"] == "us-east-1" and event["messageId"] and event["md5OfBody"]
    assert _quiet(sqs, target_url) == []

    def drained() -> bool:  # matched messages delivered and filtered ones deleted
        attrs = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])
        counts = attrs["Attributes"]
        return counts["ApproximateNumberOfMessages"] == "0" and (
            counts["ApproximateNumberOfMessagesNotVisible"] == "0"
        )

    wait_for(drained, timeout=10)
    pipes.delete_pipe(Name=name)


def test_stop_reads_nothing_then_start_resumes(pipes, sqs):
    source_url, source = _queue(sqs)
    target_url, target = _queue(sqs)
    name = unique("stop")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=target,
        RoleArn=ROLE,
        TargetParameters={"InputTemplate": "got <$.body>"},
    )
    _state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="one")
    assert _bodies(sqs, target_url, 1) == ["got one"]
    pipes.stop_pipe(Name=name)
    _state(pipes, name, "STOPPED")
    sqs.send_message(QueueUrl=source_url, MessageBody="two")
    assert _quiet(sqs, target_url, 2.5) == []
    attrs = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"  # not even received
    pipes.start_pipe(Name=name)
    _state(pipes, name, "RUNNING")
    assert _bodies(sqs, target_url, 1) == ["got two"]
    pipes.delete_pipe(Name=name)


ENRICHER = """
def handler(event, context):
    out = []
    for record in event:
        image = record["dynamodb"]["NewImage"]
        out.append({"order": image["id"]["S"], "total": int(image["total"]["N"]) * 2,
                    "event": record["eventName"]})
    return out
"""


def test_dynamodb_stream_enriched_to_an_event_bus(pipes, sqs, aws_client):
    ddb, lam, events = aws_client("dynamodb"), aws_client("lambda"), aws_client("events")
    table = unique("orders")
    created = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream = created["TableDescription"]["LatestStreamArn"]
    fn = unique("enrich")
    enricher = python_function(lam, fn, ENRICHER, Timeout=10)["FunctionArn"]
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    out_url, out_arn = _queue(sqs, "bus-out")
    name = unique("ddb")
    events.put_rule(
        Name=unique("rule"),
        EventBusName=bus,
        EventPattern=json.dumps({"source": [f"Pipe {name}"]}),
    )
    rule = events.list_rules(EventBusName=bus)["Rules"][0]["Name"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": out_arn}])
    pipes.create_pipe(
        Name=name,
        Source=stream,
        SourceParameters={
            "DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 5},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
        },
        Enrichment=enricher,
        Target=bus_arn,
        RoleArn=ROLE,
    )
    _state(pipes, name, "RUNNING")
    ddb.put_item(TableName=table, Item={"id": {"S": "o-1"}, "total": {"N": "21"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "o-1"}, "total": {"N": "50"}})  # MODIFY
    ddb.put_item(TableName=table, Item={"id": {"S": "o-2"}, "total": {"N": "5"}})
    got = [json.loads(b) for b in _bodies(sqs, out_url, 2, timeout=60)]
    assert {e["detail"]["order"]: e["detail"]["total"] for e in got} == {"o-1": 42, "o-2": 10}
    for event in got:
        assert event["source"] == f"Pipe {name}"
        assert event["detail-type"] == "Event from aws:dynamodb"
        assert event["detail"]["event"] == "INSERT"
    assert _quiet(sqs, out_url, 1.5) == []
    pipes.delete_pipe(Name=name)


def test_kinesis_to_sqs_with_an_input_template(pipes, sqs, aws_client):
    kin = aws_client("kinesis")
    stream = unique("pks")
    kin.create_stream(StreamName=stream, ShardCount=2)
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    arn = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    target_url, target = _queue(sqs)
    for i, city in enumerate(["Seattle", "Paris", "Seattle"]):
        kin.put_record(
            StreamARN=arn, Data=json.dumps({"City": city, "n": i}).encode(), PartitionKey=f"k{i}"
        )
    kin.put_record(StreamARN=arn, Data=b"not json", PartitionKey="raw")
    name = unique("kin")
    template = (
        '{"city": "<$.data.City>", "n": <$.data.n>, "key": <$.partitionKey>,'
        ' "pipe": "<aws.pipes.pipe-name>", "raw": <$.data>}'
    )
    pipes.create_pipe(
        Name=name,
        Source=arn,
        SourceParameters={
            "KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10}
        },
        Target=target,
        TargetParameters={"InputTemplate": template},
        RoleArn=ROLE,
    )
    _state(pipes, name, "RUNNING")
    bodies = _bodies(sqs, target_url, 4)
    parsed = [json.loads(b) for b in bodies]
    by_key = {p["key"]: p for p in parsed}
    assert by_key["k0"] == {
        "city": "Seattle",
        "n": 0,
        "key": "k0",
        "pipe": name,
        "raw": {"City": "Seattle", "n": 0},
    }
    assert by_key["k1"]["city"] == "Paris"
    assert by_key["raw"]["n"] is None  # not JSON: data stays base64
    assert base64.b64decode(by_key["raw"]["raw"]) == b"not json"
    pipes.delete_pipe(Name=name)


def test_a_restarted_server_resumes_where_the_pipe_was(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        pipes, sqs, kin = server.client("pipes"), server.client("sqs"), server.client("kinesis")
        kin.create_stream(StreamName="durable", ShardCount=1)
        kin.get_waiter("stream_exists").wait(StreamName="durable", WaiterConfig={"Delay": 1})
        arn = kin.describe_stream_summary(StreamName="durable")["StreamDescriptionSummary"][
            "StreamARN"
        ]
        target_url, target = _queue(sqs)
        pipes.create_pipe(
            Name="durable",
            Source=arn,
            SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON"}},
            Target=target,
            TargetParameters={"InputTemplate": "<$.data.n>"},
            RoleArn=ROLE,
        )
        _state(pipes, "durable", "RUNNING")
        for i in range(3):
            kin.put_record(StreamARN=arn, Data=json.dumps({"n": i}).encode(), PartitionKey="p")
        assert sorted(_bodies(sqs, target_url, 3)) == ["0", "1", "2"]
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        pipes, sqs, kin = server.client("pipes"), server.client("sqs"), server.client("kinesis")
        assert pipes.describe_pipe(Name="durable")["CurrentState"] == "RUNNING"
        for i in range(3, 5):
            kin.put_record(StreamARN=arn, Data=json.dumps({"n": i}).encode(), PartitionKey="p")
        assert sorted(_bodies(sqs, target_url, 2)) == ["3", "4"]
        assert _quiet(sqs, target_url, 1.5) == []  # nothing from before the restart again
    finally:
        server.stop()


# -- errors, updates and other targets ------------------------------------------------

FAILING = """
def handler(event, context):
    raise RuntimeError("target down")
"""


def test_a_failing_stream_batch_goes_to_the_dead_letter_queue(pipes, sqs, aws_client):
    kin, lam = aws_client("kinesis"), aws_client("lambda")
    stream = unique("dlqs")
    kin.create_stream(StreamName=stream, ShardCount=1)
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    arn = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    failing = python_function(lam, unique("down"), FAILING, Timeout=5)["FunctionArn"]
    dlq_url, dlq = _queue(sqs, "dlq")
    name = unique("dlq")
    pipes.create_pipe(
        Name=name,
        Source=arn,
        SourceParameters={
            "KinesisStreamParameters": {
                "StartingPosition": "TRIM_HORIZON",
                "MaximumRetryAttempts": 1,
                "DeadLetterConfig": {"Arn": dlq},
            }
        },
        Target=failing,
        RoleArn=ROLE,
    )
    _state(pipes, name, "RUNNING")
    put = [kin.put_record(StreamARN=arn, Data=b"x", PartitionKey="p") for _ in range(2)]
    (body,) = _bodies(sqs, dlq_url, 1)
    record = json.loads(body)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KinesisBatchInfo"]
    assert info["streamArn"] == arn and info["batchSize"] == 2
    assert info["startSequenceNumber"] == put[0]["SequenceNumber"]
    assert info["endSequenceNumber"] == put[1]["SequenceNumber"]
    pipes.delete_pipe(Name=name)


def test_a_failing_queue_batch_goes_back_to_the_queue_and_its_redrive(pipes, sqs, aws_client):
    lam = aws_client("lambda")
    failing = python_function(lam, unique("down"), FAILING, Timeout=5)["FunctionArn"]
    dlq_url, dlq = _queue(sqs, "redrive")
    redrive = json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": "2"})
    source_url, source = _queue(sqs, VisibilityTimeout="1", RedrivePolicy=redrive)
    name = unique("redrive")
    pipes.create_pipe(Name=name, Source=source, Target=failing, RoleArn=ROLE)
    _state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="doomed")
    assert _bodies(sqs, dlq_url, 1, timeout=30) == ["doomed"]
    pipes.delete_pipe(Name=name)


def test_update_applies_in_place(pipes, sqs):
    source_url, source = _queue(sqs)
    target_url, target = _queue(sqs)
    other_url, other = _queue(sqs)
    name = unique("upd")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=target,
        RoleArn=ROLE,
        TargetParameters={"InputTemplate": "a <$.body>"},
    )
    _state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="1")
    assert _bodies(sqs, target_url, 1) == ["a 1"]
    pipes.update_pipe(
        Name=name,
        RoleArn=ROLE,
        Target=other,
        TargetParameters={"InputTemplate": "b <$.body>"},
        SourceParameters={
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": [{"prefix": "k"}]})}]}
        },
    )
    desc = _state(pipes, name, "RUNNING")
    assert desc["Target"] == other and desc["TargetParameters"]["InputTemplate"] == "b <$.body>"
    sqs.send_message(QueueUrl=source_url, MessageBody="skip")
    sqs.send_message(QueueUrl=source_url, MessageBody="keep")
    assert _bodies(sqs, other_url, 1) == ["b keep"]
    assert _quiet(sqs, other_url, 1.5) == [] and _quiet(sqs, target_url, 0.5) == []
    pipes.delete_pipe(Name=name)


def test_sqs_to_a_log_group(pipes, sqs, aws_client):
    logs = aws_client("logs")
    group = unique("/pipes/out")
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    source_url, source = _queue(sqs)
    name = unique("logs")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=arn,
        TargetParameters={
            "InputTemplate": '{"said": "<$.body>"}',
            "CloudWatchLogsParameters": {"LogStreamName": "from-pipe"},
        },
        RoleArn=ROLE,
    )
    _state(pipes, name, "RUNNING")
    sqs.send_message(QueueUrl=source_url, MessageBody="hello")

    def logged() -> list[str]:
        try:
            got = logs.get_log_events(logGroupName=group, logStreamName="from-pipe")
        except ClientError:
            return []
        return [e["message"] for e in got["events"]]

    assert wait_for(logged, timeout=15) == ['{"said": "hello"}']
    pipes.delete_pipe(Name=name)
