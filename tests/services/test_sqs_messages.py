"""SQS messages with real boto3: send/receive/delete, batches, visibility, delays,
attributes and their MD5s, long polling, size limits."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import drain, qname


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture
def queue(sqs):
    return sqs.create_queue(QueueName=qname())["QueueUrl"]


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_send_receive_delete(sqs, queue):
    sent = sqs.send_message(QueueUrl=queue, MessageBody="hello")
    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    msgs = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert [m["Body"] for m in msgs] == ["hello"]
    assert msgs[0]["MessageId"] == sent["MessageId"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=msgs[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)


def test_batches_and_batch_errors(sqs, queue):
    resp = sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": f"e{i}", "MessageBody": f"b{i}"} for i in range(10)]
    )
    assert len(resp["Successful"]) == 10 and not resp.get("Failed")
    msgs = drain(sqs, queue)
    assert sorted(m["Body"] for m in msgs) == sorted(f"b{i}" for i in range(10))

    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
        )
    assert code(exc) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
        )
    assert code(exc) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue, Entries=[])
    assert code(exc) == "AWS.SimpleQueueService.EmptyBatchRequest"

    sqs.send_message(QueueUrl=queue, MessageBody="one")
    m = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    resp = sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "ok", "ReceiptHandle": m["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "garbage"},
        ],
    )
    assert [s["Id"] for s in resp["Successful"]] == ["ok"]
    assert resp["Failed"][0]["Id"] == "bad" and resp["Failed"][0]["SenderFault"] is True


def test_visibility_timeout_and_change_visibility(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="v")
    m = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30, AttributeNames=["All"])[
        "Messages"
    ][0]
    assert again["MessageId"] == m["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0
    )
    third = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    resp = sqs.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[{"Id": "a", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 0}],
    )
    assert [s["Id"] for s in resp["Successful"]] == ["a"]
    fourth = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=fourth["ReceiptHandle"])
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=fourth["ReceiptHandle"], VisibilityTimeout=10
        )
    assert code(exc) in ("AWS.SimpleQueueService.MessageNotInflight", "InvalidParameterValue")
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle="garbage", VisibilityTimeout=1)
    assert code(exc) == "ReceiptHandleIsInvalid"


def test_delay_on_queue_and_message(sqs):
    url = sqs.create_queue(QueueName=qname(), Attributes={"DelaySeconds": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in first] == ["no-delay"]
    time.sleep(1.1)
    later = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in later] == ["queue-delay"]
    sqs.send_message(QueueUrl=url, MessageBody="msg-delay", DelaySeconds=2)
    t0 = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "msg-delay"
    assert 1.5 < time.monotonic() - t0 < 4.0


def test_message_attributes_system_attributes_and_md5(sqs, queue):
    attrs = {
        "s": {"DataType": "String", "StringValue": "text ✓"},
        "n": {"DataType": "Number", "StringValue": "12.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "c": {"DataType": "String.custom", "StringValue": "x"},
    }
    sent = sqs.send_message(
        QueueUrl=queue,
        MessageBody="with attributes",
        MessageAttributes=attrs,
        MessageSystemAttributes={
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793",
            }
        },
    )
    assert "MD5OfMessageAttributes" in sent and "MD5OfMessageSystemAttributes" in sent
    # boto3 checks the MD5s of what it receives; a wrong digest raises.
    m = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    assert m["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01\xff"
    assert m["MessageAttributes"]["s"]["StringValue"] == "text ✓"
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["Attributes"]["AWSTraceHeader"].startswith("Root=1-")
    for key in (
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
    ):
        assert key in m["Attributes"], key
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
    )
    only = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["s", "n"])["Messages"][0]
    assert set(only["MessageAttributes"]) == {"s", "n"}
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=only["ReceiptHandle"], VisibilityTimeout=0
    )
    none = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert "MessageAttributes" not in none and "Attributes" not in none


def test_long_poll_returns_within_100ms_of_a_send(sqs, queue, aws_client):
    result: dict = {}

    def poll():
        result["msgs"] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10).get("Messages", [])
        result["t"] = time.monotonic()

    sender = aws_client("sqs")  # boto3 clients are not shared across threads
    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    sender.send_message(QueueUrl=queue, MessageBody="wake up")
    t_send = time.monotonic()
    t.join(15)
    assert [m["Body"] for m in result["msgs"]] == ["wake up"]
    assert result["t"] - t_send < 0.1, (
        f"long poll returned {result['t'] - t_send:.3f}s after the send"
    )


def test_long_poll_waits_then_returns_empty(sqs, queue):
    t0 = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)
    assert 0.9 < time.monotonic() - t0 < 3
    url = sqs.create_queue(QueueName=qname(), Attributes={"ReceiveMessageWaitTimeSeconds": "1"})[
        "QueueUrl"
    ]
    t0 = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert 0.9 < time.monotonic() - t0 < 3


def test_message_over_1_mib_is_refused(sqs, queue):
    """1 MiB since August 2025 (SendMessage's and SetQueueAttributes' API reference)."""
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["MaximumMessageSize"])[
        "Attributes"
    ] == {"MaximumMessageSize": "1048576"}
    sqs.send_message(QueueUrl=queue, MessageBody="x" * 1_048_576)
    body = sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    assert body == "x" * 1_048_576
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="x" * 1_048_577)
    assert code(exc) == "InvalidParameterValue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "MessageBody": "y" * 400_000} for i in range(3)],
        )
    assert code(exc) == "AWS.SimpleQueueService.BatchRequestTooLong"


def test_invalid_message_contents(sqs, queue):
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="bad \x01 char")
    assert code(exc) == "InvalidMessageContents"


def test_receive_parameter_ranges(sqs, queue):
    for kw in (
        {"MaxNumberOfMessages": 11},
        {"MaxNumberOfMessages": 0},
        {"WaitTimeSeconds": 21},
        {"VisibilityTimeout": 43201},
    ):
        with pytest.raises(ClientError) as exc:
            sqs.receive_message(QueueUrl=queue, **kw)
        assert code(exc) == "InvalidParameterValue", kw
