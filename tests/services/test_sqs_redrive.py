"""Dead-letter queues, message move tasks and retention, with real boto3."""

from __future__ import annotations

import json
import time

import pytest

from tests.services.sqs_helpers import drain, qname


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def test_redrive_to_dlq_after_max_receive_count(sqs):
    dlq = sqs.create_queue(QueueName=qname("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn(sqs, dlq), "maxReceiveCount": 2})
    src = sqs.create_queue(QueueName=qname("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        msgs = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]
        assert msgs[0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert moved[0]["Body"] == "poison"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    got = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(got["RedrivePolicy"])["maxReceiveCount"] == 2


def test_message_move_task_moves_back_to_source(sqs):
    dlq = sqs.create_queue(QueueName=qname("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn(sqs, dlq), "maxReceiveCount": 1})
    src = sqs.create_queue(QueueName=qname("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=src, MessageBody=f"p{i}")
    deadline = time.monotonic() + 5
    while (
        int(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        < 5
    ):
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
        assert time.monotonic() < deadline
    task = sqs.start_message_move_task(SourceArn=arn(sqs, dlq))
    assert task["TaskHandle"]
    deadline = time.monotonic() + 10
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=arn(sqs, dlq))["Results"]
        if tasks and tasks[0]["Status"] == "COMPLETED":
            break
        assert time.monotonic() < deadline, tasks
        time.sleep(0.1)
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 5
    assert sorted(m["Body"] for m in drain(sqs, src)) == [f"p{i}" for i in range(5)]


def test_retention_period_expires_messages(sqs):
    url = sqs.create_queue(QueueName=qname("ret"), Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="short-lived")
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "1"
    )
    time.sleep(61.5)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "0"
    )
