"""EventBridge Pipes execution logs against a real server with boto3: an SQS to SQS pipe
logging at INFO to a CloudWatch Logs group (AWS's record shape, one execution's records
in order), TRACE with execution data, ERROR showing only a failing target's records,
an S3 destination, the validation of destinations, and the configuration after a
restart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import python_function, wait_for
from tests.services.names import unique

ROLE = "arn:aws:iam::000000000000:role/pipe-role"
ACCOUNT = "000000000000"


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("plq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _group(logs: Any) -> tuple[str, str]:
    name = unique("/aws/vendedlogs/pipes/g")
    logs.create_log_group(logGroupName=name)
    return name, f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"


def _running(pipes: Any, name: str) -> dict:
    return wait_for(
        lambda: (d := pipes.describe_pipe(Name=name))["CurrentState"] == "RUNNING" and d,
        timeout=15,
    )


def _records(logs: Any, group: str, stream: str, last: str, timeout: float = 20) -> list[dict]:
    """The pipe's log records once one of type ``last`` has arrived."""

    def read() -> list[dict] | None:
        try:
            events = logs.get_log_events(
                logGroupName=group, logStreamName=stream, startFromHead=True
            )["events"]
        except ClientError:
            return None
        records = [json.loads(e["message"]) for e in events]
        return records if any(r["messageType"] == last for r in records) else None

    return wait_for(read, timeout=timeout, interval=0.2)


@pytest.fixture
def clients(aws_client):
    return aws_client("pipes"), aws_client("sqs"), aws_client("logs")


def test_info_records_in_aws_shape_and_order(clients):
    pipes, sqs, logs = clients
    _, source = _queue(sqs)
    target_url, target = _queue(sqs)
    group, group_arn = _group(logs)
    name = unique("plog")
    config = {"Level": "INFO", "CloudwatchLogsLogDestination": {"LogGroupArn": group_arn}}
    out = pipes.create_pipe(
        Name=name, Source=source, Target=target, RoleArn=ROLE, LogConfiguration=config
    )
    assert _running(pipes, name)["LogConfiguration"] == config
    sqs.send_message(QueueUrl=_url(sqs, source), MessageBody="hi")

    records = _records(logs, group, name, "ExecutionSucceeded")
    assert [r["messageType"] for r in records] == [
        "ExecutionStarted",
        "TargetStageEntered",
        "TargetStageSucceeded",
        "ExecutionSucceeded",
    ]
    assert len({r["executionId"] for r in records}) == 1
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps) and all(isinstance(t, int) for t in stamps)
    for record in records:
        assert record["resourceArn"] == out["Arn"] and record["logLevel"] == "INFO"
        assert not {"payload", "awsRequest", "awsResponse", "error"} & record.keys()
    got = sqs.receive_message(QueueUrl=target_url, WaitTimeSeconds=2)["Messages"]
    assert json.loads(got[0]["Body"])["body"] == "hi"  # the pipe itself still delivers

    pipes.update_pipe(Name=name, RoleArn=ROLE, Description="kept")
    assert _running(pipes, name)["LogConfiguration"] == config
    pipes.update_pipe(Name=name, RoleArn=ROLE, LogConfiguration={"Level": "OFF"})
    assert _running(pipes, name)["LogConfiguration"] == {"Level": "OFF"}
    pipes.delete_pipe(Name=name)


def _url(sqs: Any, arn: str) -> str:
    return sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]


def test_trace_with_execution_data(clients):
    pipes, sqs, logs = clients
    _, source = _queue(sqs)
    _, target = _queue(sqs)
    group, group_arn = _group(logs)
    name = unique("ptrace")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=target,
        RoleArn=ROLE,
        TargetParameters={"InputTemplate": '{"said": <$.body>}'},
        LogConfiguration={
            "Level": "TRACE",
            "IncludeExecutionData": ["ALL"],
            "CloudwatchLogsLogDestination": {"LogGroupArn": group_arn},
        },
    )
    _running(pipes, name)
    sqs.send_message(QueueUrl=_url(sqs, source), MessageBody='"hello"')

    records = _records(logs, group, name, "ExecutionSucceeded")
    steps = [r["messageType"] for r in records]
    assert steps == [
        "ExecutionStarted",
        "PollingStageSucceeded",
        "TargetStageEntered",
        "TargetTransformationStarted",
        "TargetTransformationSucceeded",
        "TargetInvocationStarted",
        "TargetInvocationSucceeded",
        "TargetStageSucceeded",
        "ExecutionSucceeded",
    ]
    by_step = {r["messageType"]: r for r in records}
    assert by_step["PollingStageSucceeded"]["logLevel"] == "TRACE"
    assert by_step["ExecutionStarted"]["logLevel"] == "INFO"
    started = json.loads(by_step["ExecutionStarted"]["payload"])
    assert started[0]["body"] == '"hello"' and started[0]["eventSource"] == "aws:sqs"
    assert json.loads(by_step["TargetTransformationSucceeded"]["payload"]) == ['{"said": "hello"}']
    invoked = by_step["TargetInvocationSucceeded"]
    request = json.loads(invoked["awsRequest"])
    assert request["operation"] == "SendMessageBatch"
    assert request["Entries"][0]["MessageBody"] == '{"said": "hello"}'
    assert json.loads(invoked["awsResponse"])["Successful"][0]["Id"] == "0"
    pipes.delete_pipe(Name=name)


def test_error_level_shows_only_a_failing_targets_records(clients):
    pipes, sqs, logs = clients
    _, source = _queue(sqs)
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{unique('gone')}"
    group, group_arn = _group(logs)
    name = unique("perr")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Target=missing,
        RoleArn=ROLE,
        LogConfiguration={
            "Level": "ERROR",
            "CloudwatchLogsLogDestination": {"LogGroupArn": group_arn},
        },
    )
    _running(pipes, name)
    sqs.send_message(QueueUrl=_url(sqs, source), MessageBody="doomed")

    records = _records(logs, group, name, "ExecutionFailed")
    first = [r for r in records if r["executionId"] == records[0]["executionId"]]
    assert [r["messageType"] for r in first] == [
        "TargetInvocationFailed",
        "TargetStageFailed",
        "ExecutionFailed",
    ]
    for record in first:
        assert record["logLevel"] == "ERROR"
        error = record["error"]
        assert error["httpStatusCode"] == 400 and error["awsService"] == "sqs"
        assert error["message"] and error["requestId"]
        assert "payload" not in record and "awsRequest" not in record
    pipes.stop_pipe(Name=name)


FAILING = """
def handler(event, context):
    raise RuntimeError("enrichment down")
"""


def test_a_failing_enrichment_at_error_level(clients, aws_client):
    pipes, sqs, logs = clients
    enrichment = python_function(aws_client("lambda"), unique("penr"), FAILING, Timeout=5)
    _, source = _queue(sqs)
    _, target = _queue(sqs)
    group, group_arn = _group(logs)
    name = unique("penrich")
    pipes.create_pipe(
        Name=name,
        Source=source,
        Enrichment=enrichment["FunctionArn"],
        Target=target,
        RoleArn=ROLE,
        LogConfiguration={
            "Level": "ERROR",
            "IncludeExecutionData": ["ALL"],
            "CloudwatchLogsLogDestination": {"LogGroupArn": group_arn},
        },
    )
    _running(pipes, name)
    sqs.send_message(QueueUrl=_url(sqs, source), MessageBody="enrich me")

    records = _records(logs, group, name, "ExecutionFailed", timeout=40)
    first = [r for r in records if r["executionId"] == records[0]["executionId"]]
    assert [r["messageType"] for r in first] == [
        "EnrichmentInvocationFailed",
        "EnrichmentStageFailed",
        "ExecutionFailed",
    ]
    failed = first[0]
    assert failed["error"]["awsService"] == "lambda"
    assert "enrichment down" in failed["error"]["details"]
    assert json.loads(failed["awsRequest"])["operation"] == "Invoke"
    pipes.stop_pipe(Name=name)


def test_destinations_are_validated(clients, cloudlet_server):
    _, sqs, _ = clients
    pipes = cloudlet_server.client("pipes", config=Config(parameter_validation=False))
    _, source = _queue(sqs)
    _, target = _queue(sqs)

    def refused(config: dict) -> dict:
        with pytest.raises(ClientError) as err:
            pipes.create_pipe(
                Name=unique("pbad"),
                Source=source,
                Target=target,
                RoleArn=ROLE,
                LogConfiguration=config,
            )
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return err.value.response

    refused({"Level": "LOUD"})
    refused({"Level": "INFO", "IncludeExecutionData": ["SOME"]})
    refused({"Level": "INFO", "FirehoseLogDestination": {"DeliveryStreamArn": "nope"}})
    refused({"Level": "INFO", "S3LogDestination": {"BucketName": "b", "BucketOwner": ACCOUNT}})
    refused({"Level": "INFO", "S3LogDestination": {"BucketName": "bkt", "BucketOwner": "me"}})
    other = refused(
        {
            "Level": "INFO",
            "CloudwatchLogsLogDestination": {
                "LogGroupArn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:g"
            },
        }
    )
    assert other["fieldList"][0]["name"] == (
        "logConfiguration.cloudwatchLogsLogDestination.logGroupArn"
    )


def test_s3_and_firehose_destinations_and_configuration_after_restart(tmp_path):
    env = {"CLOUDLET_PIPES_LOG_S3_SECONDS": "0.5", "CLOUDLET_FIREHOSE_INTERVAL_SCALE": "0.02"}
    server = CloudletServer.start(data_dir=tmp_path / "data", env=env)
    stream = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/pipe-logs"
    config = {
        "Level": "INFO",
        "S3LogDestination": {
            "BucketName": "pipe-logs",
            "BucketOwner": ACCOUNT,
            "Prefix": "logs",
            "OutputFormat": "w3c",
        },
        "FirehoseLogDestination": {"DeliveryStreamArn": stream},
    }
    try:
        pipes, sqs, s3 = server.client("pipes"), server.client("sqs"), server.client("s3")
        fh = server.client("firehose")
        s3.create_bucket(Bucket="pipe-logs")
        fh.create_delivery_stream(
            DeliveryStreamName="pipe-logs",
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE,
                "BucketARN": "arn:aws:s3:::pipe-logs",
                "Prefix": "fh/",
                "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1},
            },
        )
        wait_for(
            lambda: (
                fh.describe_delivery_stream(DeliveryStreamName="pipe-logs")[
                    "DeliveryStreamDescription"
                ]["DeliveryStreamStatus"]
                == "ACTIVE"
            )
        )
        _, source = _queue(sqs)
        _, target = _queue(sqs)
        pipes.create_pipe(
            Name="s3logs", Source=source, Target=target, RoleArn=ROLE, LogConfiguration=config
        )
        _running(pipes, "s3logs")
        sqs.send_message(QueueUrl=_url(sqs, source), MessageBody="to s3")

        def objects(prefix: str) -> list[dict] | None:
            return s3.list_objects_v2(Bucket="pipe-logs", Prefix=prefix).get("Contents")

        def text(key: str) -> str:
            return s3.get_object(Bucket="pipe-logs", Key=key)["Body"].read().decode()

        key = wait_for(lambda: objects("logs/s3logs/"), timeout=20, interval=0.2)[0]["Key"]
        assert key.endswith(".log")
        lines = text(key).splitlines()
        assert lines[0] == "#Version: 1.0"
        assert lines[1].startswith("#Fields: executionId timestamp messageType resourceArn")
        steps = [line.split(" ")[2] for line in lines[2:]]
        assert steps == [
            "ExecutionStarted",
            "TargetStageEntered",
            "TargetStageSucceeded",
            "ExecutionSucceeded",
        ]

        delivered = wait_for(lambda: objects("fh/"), timeout=20, interval=0.2)
        records = [json.loads(line) for line in text(delivered[0]["Key"]).splitlines()]
        assert [r["messageType"] for r in records][:2] == ["ExecutionStarted", "TargetStageEntered"]
        assert records[0]["resourceArn"].endswith(":pipe/s3logs")
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data", env=env)
    try:
        described = server.client("pipes").describe_pipe(Name="s3logs")
        assert described["LogConfiguration"] == config
        assert described["CurrentState"] == "RUNNING"
    finally:
        server.stop()
