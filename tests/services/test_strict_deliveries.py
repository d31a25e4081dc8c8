"""Strict mode: S3 and SNS deliver only where the destination's policy lets them.

AWS's PutBucketNotificationConfiguration "verifies that any Amazon SNS or Amazon SQS
destination exists, and that the bucket owner has permission to publish to it", and a
queue subscribed to a topic receives only what its policy lets sns.amazonaws.com send.
Open mode evaluates no policies and delivers everywhere (the other notification tests).
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique
from tests.services.s3_helpers import iam_user_s3


@pytest.fixture(scope="module")
def server(strict_server):
    return strict_server


def _allow(queue_arn: str, service: str, source_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                }
            ],
        }
    )


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _bodies(sqs, url: str, wait: int = 1) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait, MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


def test_s3_notifications_need_the_queue_policy(server):
    s3, sqs = server.client("s3"), server.client("sqs")
    bucket = unique("notify")
    s3.create_bucket(Bucket=bucket)
    url, arn = _queue(sqs, unique("events"))
    config = {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    assert err["ArgumentName1"] == arn
    assert err["ArgumentValue1"] == (
        "Permissions on the destination queue do not allow S3 to publish notifications "
        "from this bucket"
    )
    # A policy for another bucket does not do either.
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": _allow(arn, "s3.amazonaws.com", "arn:aws:s3:::someone-else")},
    )
    with pytest.raises(ClientError):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": _allow(arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")},
    )
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    deadline = time.monotonic() + 10
    keys: list[str] = []
    while "one" not in keys and time.monotonic() < deadline:
        for body in _bodies(sqs, url):
            keys += [r["s3"]["object"]["key"] for r in json.loads(body).get("Records", [])]
    assert "one" in keys
    # The policy taken away: S3 delivers nothing more.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    s3.put_object(Bucket=bucket, Key="two", Body=b"2")
    assert _bodies(sqs, url, wait=2) == []


def test_s3_event_names_the_iam_user_that_caused_it(server):
    """``userIdentity.principalId``: "The unique ID of the IAM resource that caused the
    event" (the S3 user guide's event structure), ``AWS:`` and the IAM user's id."""
    s3, sqs = server.client("s3"), server.client("sqs")
    bucket = unique("notify")
    s3.create_bucket(Bucket=bucket)
    url, arn = _queue(sqs, unique("events"))
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": _allow(arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")},
    )
    config = {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    writer, user_id = iam_user_s3(server, "s3:*", prefix="writer")
    writer.put_object(Bucket=bucket, Key="by-user", Body=b"1")
    deadline = time.monotonic() + 10
    records: list[dict] = []
    while not records and time.monotonic() < deadline:
        for body in _bodies(sqs, url):
            records += [r for r in json.loads(body).get("Records", []) if "s3" in r]
    assert [r["userIdentity"]["principalId"] for r in records] == [f"AWS:{user_id}"]


def test_sns_delivers_only_where_the_queue_policy_allows(server):
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    closed_url, closed_arn = _queue(sqs, unique("closed"))
    open_url, open_arn = _queue(sqs, unique("open"))
    sqs.set_queue_attributes(
        QueueUrl=open_url, Attributes={"Policy": _allow(open_arn, "sns.amazonaws.com", topic)}
    )
    for arn in (closed_arn, open_arn):
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
    sns.publish(TopicArn=topic, Message="hello")
    assert _bodies(sqs, open_url, wait=5) == ["hello"]
    assert _bodies(sqs, closed_url, wait=1) == []
