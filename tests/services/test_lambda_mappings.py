"""Event source mappings: SQS queues and DynamoDB streams invoking real functions.

Each function appends what it saw to a file named by its environment (the
worker runs on this machine), so the tests observe every invocation
directly, including redeliveries.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.services.lambda_helpers import python_function, wait_for

RECORDER = """
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            if record.get("eventSource") == "aws:sqs":
                body = record["body"]
                count = int(record["attributes"]["ApproximateReceiveCount"])
                out.write(json.dumps({"body": body, "count": count,
                                      "size": len(event["Records"])}) + "\\n")
                if body.startswith("bad") and count < 2:
                    failures.append({"itemIdentifier": record["messageId"]})
            else:
                keys = record["dynamodb"]["Keys"]
                out.write(json.dumps({"event": record["eventName"], "id": keys["id"]["S"],
                                      "size": len(event["Records"])}) + "\\n")
                if keys["id"]["S"].startswith("poison"):
                    raise ValueError("poison record")
    if os.environ.get("FAIL_ALL"):
        raise RuntimeError("every batch fails")
    return {"batchItemFailures": failures}
"""


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _streamed_table(ddb) -> tuple[str, str]:
    table = f"esm-{uuid.uuid4().hex[:8]}"
    stream = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    return table, stream


@pytest.fixture
def lam(aws_client):
    return aws_client("lambda")


def _recorder(lam, tmp_path: Path, **env: str) -> tuple[str, Path]:
    name = f"esm-{uuid.uuid4().hex[:8]}"
    out = tmp_path / f"{name}.jsonl"
    python_function(
        lam, name, RECORDER, Timeout=3, Environment={"Variables": {"OUT": str(out), **env}}
    )
    return name, out


def test_sqs_mapping_with_partial_batch_failures(aws_client, lam, tmp_path):
    sqs = aws_client("sqs")
    name, out = _recorder(lam, tmp_path)
    url = sqs.create_queue(
        QueueName=f"esm-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "3"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for body in ("ok-1", "bad-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert mapping["State"] in ("Creating", "Enabled")
    # the failed message comes back once, after the visibility timeout; the others never
    wait_for(lambda: any(r["body"] == "bad-1" and r["count"] == 2 for r in _lines(out)), 20)
    seen = _lines(out)
    assert sorted(r["body"] for r in seen if r["count"] == 1) == ["bad-1", "ok-1", "ok-2"]
    assert [r["body"] for r in seen if r["count"] == 2] == ["bad-1"]
    assert seen[0]["size"] == 3  # one batch, gathered within the batching window
    wait_for(
        lambda: (
            sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
        ),
        10,
    )
    got = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    assert got["FunctionArn"].endswith(f":function:{name}")
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]

    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    sqs.send_message(QueueUrl=url, MessageBody="while-disabled")
    assert "Messages" in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
    assert lam.delete_event_source_mapping(UUID=mapping["UUID"])["State"] == "Deleting"
    with pytest.raises(ClientError) as err:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sqs_mapping_failures_go_to_the_queues_dead_letter_queue(aws_client, lam, tmp_path):
    sqs = aws_client("sqs")
    name, out = _recorder(lam, tmp_path, FAIL_ALL="1")
    dlq = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=f"src-{uuid.uuid4().hex[:8]}",
        Attributes={
            "VisibilityTimeout": "3",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    msgs = wait_for(
        lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), 25
    )
    assert msgs[0]["Body"] == "doomed"
    assert [r["count"] for r in _lines(out)] == [1, 2]


def test_mapping_validation_errors(aws_client, lam, tmp_path):
    sqs, ddb = aws_client("sqs"), aws_client("dynamodb")
    name, _ = _recorder(lam, tmp_path)
    url = sqs.create_queue(
        QueueName=f"short-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "1"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert "visibility timeout" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="no-such-function")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    table, stream = _streamed_table(ddb)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=name)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(
            EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
            FunctionName=name,
            StartingPosition="LATEST",
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_dynamodb_stream_mapping_bisects_and_reports_to_on_failure(aws_client, lam, tmp_path):
    ddb, sqs = aws_client("dynamodb"), aws_client("sqs")
    name, out = _recorder(lam, tmp_path)
    table, stream = _streamed_table(ddb)
    failures = sqs.create_queue(QueueName=f"onfail-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for key in ("a", "b", "poison", "c"):
        ddb.put_item(TableName=table, Item={"id": {"S": key}})
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        MaximumBatchingWindowInSeconds=1,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    msgs = wait_for(
        lambda: sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=1).get("Messages"), 30
    )
    info = json.loads(msgs[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1
    assert info["DDBStreamBatchInfo"]["streamArn"] == stream
    # the good records were delivered (in halves) despite the poison one
    wait_for(lambda: {"a", "b", "c"} <= {r["id"] for r in _lines(out) if r["size"] < 4}, 15)
    assert all(r["event"] == "INSERT" for r in _lines(out))
    # later writes keep flowing from the checkpoint
    ddb.put_item(TableName=table, Item={"id": {"S": "later"}})
    wait_for(lambda: any(r["id"] == "later" for r in _lines(out)), 15)
