"""SQS queues with real boto3: create/get/list/delete, attributes, tags, permissions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.services.sqs_helpers import qname


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_create_get_delete_and_idempotent_create(sqs):
    name = qname()
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert url.endswith(f"/000000000000/{name}")
    assert (
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    )
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    assert exc.value.response["Error"]["Code"] in ("QueueAlreadyExists", "QueueNameExists")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(exc) == "AWS.SimpleQueueService.NonExistentQueue"


def test_invalid_queue_names(sqs):
    for bad in ["has space", "x" * 81, "bad!", "notfifo.fifo"]:
        with pytest.raises(ClientError) as exc:
            sqs.create_queue(QueueName=bad)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_queues_prefix_and_pagination(sqs):
    prefix = qname("list")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(7))
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=3, **kw)
        assert len(page["QueueUrls"]) <= 3
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == urls
    pages = sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, MaxResults=2)
    assert sorted(u for p in pages for u in p["QueueUrls"]) == urls


def test_attributes_roundtrip_validation_and_counters(sqs):
    url = sqs.create_queue(QueueName=qname())["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for key in (
        "QueueArn",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "VisibilityTimeout",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    ):
        assert key in attrs, key
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["MaximumMessageSize"] == "1048576"
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "5", "DelaySeconds": "0"}
    )
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"] == {"VisibilityTimeout": "5"}
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "10"})
    assert code(exc) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"NoSuchAttribute": "1"})
    assert code(exc) == "InvalidAttributeName"

    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "2"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"


def test_tags(sqs):
    url = sqs.create_queue(QueueName=qname(), tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


def test_add_and_remove_permission_edit_policy(sqs):
    url = sqs.create_queue(QueueName=qname())["QueueUrl"]
    sqs.add_permission(
        QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
    )
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert policy["Statement"][0]["Sid"] == "l1"
    assert policy["Statement"][0]["Action"] in ("SQS:SendMessage", ["SQS:SendMessage"])
    sqs.remove_permission(QueueUrl=url, Label="l1")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    assert "l1" not in attrs.get("Policy", "")


def test_delete_then_recreate_within_60s(sqs):
    name = qname()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name)
    assert code(exc) in ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently")


def test_purge_and_purge_in_progress(sqs):
    url = sqs.create_queue(QueueName=qname())["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    with pytest.raises(ClientError) as exc:
        sqs.purge_queue(QueueUrl=url)
    assert code(exc) == "AWS.SimpleQueueService.PurgeQueueInProgress"


def test_aws_cli_commands(cloudlet_server, tmp_path):
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def aws(*args: str) -> dict:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "awscli",
                "--endpoint-url",
                cloudlet_server.endpoint,
                "--output",
                "json",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    name = qname("cli")
    url = aws("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    got = aws("sqs", "receive-message", "--queue-url", url)
    assert got["Messages"][0]["Body"] == "from the cli"
    assert url in aws("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    aws("sqs", "delete-queue", "--queue-url", url)
