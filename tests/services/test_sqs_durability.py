"""What the client saw acknowledged survives kill -9; a restart sees everything."""

from __future__ import annotations

import time

from cloudlet.testing import CloudletServer


def test_acknowledged_messages_survive_kill_9(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "1"})[
            "QueueUrl"
        ]
        fifo = sqs.create_queue(
            QueueName="durable.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        for i in range(50):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        for i in range(5):
            sqs.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g")
        deleted = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=deleted["ReceiptHandle"])
        sqs.tag_queue(QueueUrl=url, Tags={"k": "v"})
        server.kill()  # SIGKILL: no chance to flush anything

        server = CloudletServer.start(data_dir=tmp_path)
        sqs = server.client("sqs")
        url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
        time.sleep(1.1)  # the received-but-undeleted visibility window passes
        bodies = set()
        for _ in range(20):
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            bodies |= {m["Body"] for m in msgs}
            if len(bodies) == 49:
                break
        assert bodies == {f"m{i}" for i in range(50)} - {deleted["Body"]}
        fifo = sqs.get_queue_url(QueueName="durable.fifo")["QueueUrl"]
        got = []
        for _ in range(5):
            m = sqs.receive_message(QueueUrl=fifo)["Messages"][0]
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
        assert got == [f"f{i}" for i in range(5)]
    finally:
        server.stop()


def test_clean_restart_keeps_everything(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="still here")
    with CloudletServer.start(data_dir=tmp_path) as server:
        sqs = server.client("sqs")
        url = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "still here"


def test_ephemeral_keeps_nothing(tmp_path):
    with CloudletServer.start() as server:
        server.client("sqs").create_queue(QueueName="gone")
    with CloudletServer.start() as server:
        assert "QueueUrls" not in server.client("sqs").list_queues()
