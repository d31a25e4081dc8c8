"""Recursive loop detection: a function feeding the queue or topic that invokes it.

Each function records every run (its step and the trace header it got) in a file named
by its environment and sends the next step back where it came from until ``STOP_AT``,
so a loop ends by itself in any case. Lambda stops the chain's 17th run unless the
function's recursion config is ``Allow``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.services import lambda_helpers
from tests.services.lambda_helpers import invoke_json, python_function, wait_for
from tests.services.names import unique

lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

LOOPER = """
import json, os, boto3

def handler(event, context):
    for record in event["Records"]:
        if "Sns" in record:
            step = json.loads(record["Sns"]["Message"])["step"]
        elif "s3" in record:
            step = int(record["s3"]["object"]["key"].split("-")[1])
        else:
            step = json.loads(record["body"])["step"]
        with open(os.environ["OUT"], "a") as out:
            out.write(json.dumps({"step": step, "trace": os.environ["_X_AMZN_TRACE_ID"]}) + "\\n")
        if step < int(os.environ["STOP_AT"]):
            body = json.dumps({"step": step + 1})
            if os.environ.get("BUCKET"):
                key = f"step-{step + 1}"
                boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=key, Body=b"x")
            elif os.environ.get("TOPIC"):
                boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Message=body)
            else:
                boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=body)
"""


def _steps(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _queue(sqs, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _settled(sqs, url: str) -> bool:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        attrs["ApproximateNumberOfMessages"]
        == "0"
        == attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def _sqs_loop(lambda_server, lam, tmp_path: Path, stop_at: int, **queue_attrs: str):
    sqs = lambda_server.client("sqs")
    url, arn = _queue(sqs, unique("loop"), VisibilityTimeout="2", **queue_attrs)
    name, out = unique("looper"), tmp_path / "steps.jsonl"
    env = {"OUT": str(out), "QUEUE": url, "STOP_AT": str(stop_at)}
    python_function(lam, name, LOOPER, Timeout=2, Environment={"Variables": env})
    return sqs, url, arn, name, out


def _lineage(trace: str) -> str:
    return next(part for part in trace.split(";") if part.startswith("Lineage="))


def _dropped(lambda_server, name: str) -> float:
    cloudwatch = lambda_server.client("cloudwatch")
    now = datetime.now(UTC)
    got = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="RecursiveInvocationsDropped",
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(p["Sum"] for p in got["Datapoints"])


def test_an_sqs_loop_is_stopped_after_16_runs(lambda_server, lam, tmp_path):
    sqs, url, arn, name, out = _sqs_loop(lambda_server, lam, tmp_path, stop_at=40)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"step": 1}))
    # Settled: the 17th message was not handed over but deleted (the queue has no redrive).
    wait_for(lambda: len(_steps(out)) >= 16 and _settled(sqs, url), timeout=30)
    steps = _steps(out)
    assert [s["step"] for s in steps] == list(range(1, 17))
    # One trace through the chain, its Lineage counting this function's runs.
    roots = {s["trace"].split(";")[0] for s in steps}
    assert len(roots) == 1
    counts = [int(_lineage(s["trace"]).split(":")[-1]) for s in steps]
    assert counts == list(range(16))
    wait_for(lambda: _dropped(lambda_server, name) >= 1, timeout=15)


def test_a_loop_through_two_functions_counts_each_of_them(lambda_server, lam, tmp_path):
    sqs = lambda_server.client("sqs")
    (first_url, first_arn), (second_url, second_arn) = (
        _queue(sqs, unique("ping"), VisibilityTimeout="2"),
        _queue(sqs, unique("pong"), VisibilityTimeout="2"),
    )
    out = tmp_path / "steps.jsonl"
    for source, target in ((first_arn, second_url), (second_arn, first_url)):
        name = unique("pingpong")
        env = {"OUT": str(out), "QUEUE": target, "STOP_AT": "80"}
        python_function(lam, name, LOOPER, Timeout=2, Environment={"Variables": env})
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source, BatchSize=1)
    sqs.send_message(QueueUrl=first_url, MessageBody=json.dumps({"step": 1}))
    wait_for(
        lambda: len(_steps(out)) >= 32 and _settled(sqs, first_url) and _settled(sqs, second_url),
        timeout=30,
    )
    steps = _steps(out)
    assert [s["step"] for s in steps] == list(range(1, 33))
    # The last run's Lineage names both functions, each having run 16 times (0 to 15).
    entries = _lineage(steps[-1]["trace"])[len("Lineage=") :].split("|")
    assert sorted(int(e.split(":")[1]) for e in entries) == [15, 15]


def test_a_stopped_message_goes_to_the_queues_dead_letter_queue(lambda_server, lam, tmp_path):
    sqs = lambda_server.client("sqs")
    dlq_url, dlq_arn = _queue(sqs, unique("loop-dlq"))
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    sqs_, url, arn, name, out = _sqs_loop(
        lambda_server, lam, tmp_path, stop_at=40, RedrivePolicy=redrive
    )
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"step": 1}))

    def dead() -> list[dict]:
        got = sqs.receive_message(
            QueueUrl=dlq_url, WaitTimeSeconds=1, MessageSystemAttributeNames=["AWSTraceHeader"]
        )
        return got.get("Messages", [])

    messages = wait_for(dead, timeout=30)
    assert json.loads(messages[0]["Body"]) == {"step": 17}
    assert "Lineage=" in messages[0]["Attributes"]["AWSTraceHeader"]
    assert [s["step"] for s in _steps(out)] == list(range(1, 17))


def test_allow_lets_the_loop_go_on(lambda_server, lam, tmp_path):
    sqs, url, arn, name, out = _sqs_loop(lambda_server, lam, tmp_path, stop_at=20)
    put = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert put["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"step": 1}))
    wait_for(lambda: len(_steps(out)) >= 20 and _settled(sqs, url), timeout=30)
    assert [s["step"] for s in _steps(out)] == list(range(1, 21))
    with pytest.raises(ClientError) as exc:
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Sometimes")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.get_function_recursion_config(FunctionName=unique("missing"))
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_sns_loop_is_stopped_and_the_event_goes_to_the_failure_destination(
    lambda_server, lam, tmp_path
):
    sns, sqs = lambda_server.client("sns"), lambda_server.client("sqs")
    topic = sns.create_topic(Name=unique("loop-topic"))["TopicArn"]
    failures_url, failures_arn = _queue(sqs, unique("failures"))
    name, out = unique("sns-looper"), tmp_path / "steps.jsonl"
    env = {"OUT": str(out), "TOPIC": topic, "STOP_AT": "40"}
    fn = python_function(lam, name, LOOPER, Environment={"Variables": env})["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failures_arn}}
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)
    sns.publish(TopicArn=topic, Message=json.dumps({"step": 1}))

    def failed() -> list[dict]:
        return sqs.receive_message(QueueUrl=failures_url, WaitTimeSeconds=1).get("Messages", [])

    record = json.loads(wait_for(failed, timeout=30)[0]["Body"])
    assert record["requestContext"]["condition"] == "RecursiveInvocationDetected"
    assert record["requestContext"]["functionArn"].startswith(fn)
    message = record["requestPayload"]["Records"][0]["Sns"]["Message"]
    assert json.loads(message) == {"step": 17}
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"
    assert [s["step"] for s in _steps(out)] == list(range(1, 17))


def test_an_s3_loop_is_stopped(lambda_server, lam, tmp_path):
    s3 = lambda_server.client("s3")
    bucket = unique("loop-bucket")
    s3.create_bucket(Bucket=bucket)
    name, out = unique("s3-looper"), tmp_path / "steps.jsonl"
    env = {"OUT": str(out), "BUCKET": bucket, "STOP_AT": "40"}
    fn = python_function(lam, name, LOOPER, Environment={"Variables": env})["FunctionArn"]
    config = [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": config}
    )
    s3.put_object(Bucket=bucket, Key="step-1", Body=b"x")
    # The 17th object is written; the run it would cause is stopped (and counted).
    wait_for(lambda: "step-17" in _keys(s3, bucket), timeout=30)
    wait_for(lambda: _dropped(lambda_server, name) >= 1, timeout=15)
    assert [s["step"] for s in _steps(out)] == list(range(1, 17))


def _keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def _with_trace(client, header: str):
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register("before-sign.lambda.Invoke", add)
    return client


def test_a_synchronous_invoke_past_the_limit_is_refused(lambda_server, lam):
    name = unique("sync")
    source = "import os\ndef handler(event, context):\n    return os.environ['_X_AMZN_TRACE_ID']\n"
    fn = python_function(lam, name, source)["FunctionArn"]
    key = hashlib.sha256(fn.encode()).hexdigest()[:8]
    root = "Root=1-5759e988-bd862e3fe1be46a994272793"
    # Fifteen runs so far: the sixteenth goes through, counted on the chain's root.
    fresh = _with_trace(lambda_server.client("lambda"), f"{root};Sampled=0;Lineage={key}:14")
    _, trace = invoke_json(fresh, name)
    assert trace.startswith(root + ";") and f"Lineage={key}:15" in trace
    stopped = _with_trace(lambda_server.client("lambda"), f"{root};Lineage=0badcafe:3|{key}:15")
    with pytest.raises(ClientError) as exc:
        invoke_json(stopped, name)
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "RecursiveInvocationException",
        400,
    )
    # Another function's count is its own; a chain's first run counts 0.
    _, trace = invoke_json(lam, name)
    assert trace.endswith(f"Lineage={key}:0")
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    _, trace = invoke_json(stopped, name)
    assert "0badcafe:3" in trace and f"{key}:16" in trace
