"""FIFO queues with real boto3: ordering, deduplication, group locking, concurrency."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import drain, qname


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def fifo(sqs, **attrs) -> str:
    attributes = {"FifoQueue": "true", **{k: str(v) for k, v in attrs.items()}}
    return sqs.create_queue(QueueName=qname(fifo=True), Attributes=attributes)["QueueUrl"]


def test_fifo_requires_group_and_dedup(sqs):
    url = fifo(sqs)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert exc.value.response["Error"]["Code"] in ("MissingParameter", "InvalidParameterValue")
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError):
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageGroupId="g",
            MessageDeduplicationId="d",
            DelaySeconds=5,
        )


def test_order_within_group_and_sequence_numbers(sqs):
    url = fifo(sqs)
    seqs = []
    for i in range(20):
        r = sqs.send_message(
            QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    got = drain(sqs, url, AttributeNames=["All"])
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(20)]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d0"


def test_explicit_and_content_based_dedup(sqs):
    url = fifo(sqs)
    a = sqs.send_message(
        QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="same"
    )
    b = sqs.send_message(
        QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="same"
    )
    assert a["MessageId"] == b["MessageId"]
    assert [m["Body"] for m in drain(sqs, url)] == ["one"]

    url = fifo(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="dup", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="dup", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert [m["Body"] for m in drain(sqs, url)] == ["dup", "other"]


def test_group_with_inflight_message_is_locked(sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    for body, group in [("a1", "A"), ("a2", "A"), ("b1", "B")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    # A is locked while a1 is in flight: only B's head can come next.
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in nxt] == ["b1"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    after = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in after] == ["a2"]


def test_receive_request_attempt_id_returns_same_batch(sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"r{i}", MessageGroupId="g")
    one = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")
    two = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")
    assert [m["MessageId"] for m in one["Messages"]] == [m["MessageId"] for m in two["Messages"]]


def test_order_holds_with_four_concurrent_senders(cloudlet_server, sqs):
    url = fifo(sqs)
    per_sender = 25
    errors: list[BaseException] = []

    def sender(k: int) -> None:
        try:
            c = cloudlet_server.client("sqs")
            for i in range(per_sender):
                # Every sender writes both to its own group and to a shared one.
                c.send_message(
                    QueueUrl=url,
                    MessageBody=f"{k}:{i}",
                    MessageGroupId=f"own-{k}",
                    MessageDeduplicationId=f"own-{k}-{i}",
                )
                c.send_message(
                    QueueUrl=url,
                    MessageBody=f"{k}:{i}",
                    MessageGroupId="shared",
                    MessageDeduplicationId=f"shared-{k}-{i}",
                )
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    got = drain(sqs, url, AttributeNames=["All"])
    assert len(got) == 4 * per_sender * 2
    by_group: dict[str, list[dict]] = {}
    for m in got:
        by_group.setdefault(m["Attributes"]["MessageGroupId"], []).append(m)
    for group, msgs in by_group.items():
        seq = [int(m["Attributes"]["SequenceNumber"]) for m in msgs]
        assert seq == sorted(seq), f"group {group} out of order"
        for k in range(4):
            mine = [int(m["Body"].split(":")[1]) for m in msgs if m["Body"].startswith(f"{k}:")]
            assert mine == sorted(mine), f"sender {k} out of order in group {group}"
    assert len(by_group["shared"]) == 4 * per_sender
