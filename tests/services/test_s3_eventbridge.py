"""S3 event notifications through Amazon EventBridge: a bucket with an
``EventBridgeConfiguration`` sends its events to the default bus, where a rule routes
them to an SQS queue, in the shape of the S3 user guide's EventBridge examples."""

from __future__ import annotations

import json
import time

import pytest

from tests.services.names import unique
from tests.services.s3_helpers import NO_RETRIES, bname
from tests.services.test_events import ENVELOPE_KEYS
from tests.services.test_s3_notifications import _drain

ACCOUNT = "000000000000"


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3", config=NO_RETRIES)


@pytest.fixture
def sqs(cloudlet_server):
    return cloudlet_server.client("sqs")


@pytest.fixture
def events(cloudlet_server):
    return cloudlet_server.client("events")


def _queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("s3eb"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _bucket_to_queue(s3, sqs, events, detail_types: list[str], **config) -> tuple[str, str]:
    """A bucket sending to EventBridge, and a queue a rule sends its ``detail_types``
    events to: (bucket, queue URL)."""
    bucket = bname("s3eb")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}, **config}
    )
    url, arn = _queue(sqs)
    rule = unique("s3rule")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": detail_types,
        "detail": {"bucket": {"name": [bucket]}},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    return bucket, url


def _check_envelope(event: dict, bucket: str, detail_type: str) -> dict:
    assert list(event) == ENVELOPE_KEYS
    assert event["source"] == "aws.s3" and event["detail-type"] == detail_type
    assert event["account"] == ACCOUNT and event["region"] == "us-east-1"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    detail = event["detail"]
    assert detail["version"] == "0" and detail["bucket"] == {"name": bucket}
    return detail


def test_object_created_and_deleted_reach_the_rule(s3, sqs, events):
    bucket, url = _bucket_to_queue(s3, sqs, events, ["Object Created", "Object Deleted"])
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["EventBridgeConfiguration"] == {}
    assert "QueueConfigurations" not in got

    put = s3.put_object(Bucket=bucket, Key="photos/cat 1.jpg", Body=b"hello")
    [created] = _drain(sqs, url, 1)
    detail = _check_envelope(created, bucket, "Object Created")
    assert detail["object"]["key"] == "photos/cat 1.jpg"  # not URL-encoded, unlike records
    assert detail["object"]["size"] == 5
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert len(detail["object"]["sequencer"]) == 18
    assert "version-id" not in detail["object"]  # not a versioned bucket
    assert detail["reason"] == "PutObject"
    assert detail["requester"] == ACCOUNT
    assert detail["source-ip-address"] == "127.0.0.1"
    assert detail["request-id"] == put["ResponseMetadata"]["RequestId"]

    s3.delete_object(Bucket=bucket, Key="photos/cat 1.jpg")
    [deleted] = _drain(sqs, url, 1)
    detail = _check_envelope(deleted, bucket, "Object Deleted")
    assert detail["object"]["key"] == "photos/cat 1.jpg"
    assert detail["reason"] == "DeleteObject"
    assert detail["deletion-type"] == "Permanently Deleted"
    assert detail["object"]["sequencer"] > created["detail"]["object"]["sequencer"]


def test_a_created_only_rule_gets_no_deletions(s3, sqs, events):
    bucket, url = _bucket_to_queue(s3, sqs, events, ["Object Created"])
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.delete_object(Bucket=bucket, Key="a.txt")
    s3.put_object(Bucket=bucket, Key="c.txt", Body=b"c")
    got = _drain(sqs, url, 3, timeout=4.0)
    assert [(e["detail-type"], e["detail"]["object"]["key"]) for e in got] == [
        ("Object Created", "a.txt"),
        ("Object Created", "c.txt"),
    ]


def test_versioned_deletes_copies_uploads_and_tags(s3, sqs, events):
    bucket, url = _bucket_to_queue(
        s3,
        sqs,
        events,
        ["Object Created", "Object Deleted", "Object Tags Added", "Object Tags Deleted"],
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"one")
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "doc.txt"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1, Body=b"x" * 10
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.put_object_tagging(
        Bucket=bucket, Key="doc.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    s3.delete_object_tagging(Bucket=bucket, Key="doc.txt")
    marker = s3.delete_object(Bucket=bucket, Key="doc.txt")
    s3.delete_object(Bucket=bucket, Key="doc.txt", VersionId=first["VersionId"])
    got = _drain(sqs, url, 7)
    seen = [
        (e["detail-type"], e["detail"]["object"]["key"], e["detail"].get("reason")) for e in got
    ]
    assert seen == [
        ("Object Created", "doc.txt", "PutObject"),
        ("Object Created", "copy.txt", "CopyObject"),
        ("Object Created", "big.bin", "CompleteMultipartUpload"),
        ("Object Tags Added", "doc.txt", None),
        ("Object Tags Deleted", "doc.txt", None),
        ("Object Deleted", "doc.txt", "DeleteObject"),
        ("Object Deleted", "doc.txt", "DeleteObject"),
    ]
    created, *_, tagged, untagged, marked, removed = got
    assert created["detail"]["object"]["version-id"] == first["VersionId"]
    assert tagged["detail"]["object"] == {
        "key": "doc.txt",
        "etag": first["ETag"].strip('"'),
        "version-id": first["VersionId"],
    }
    assert untagged["detail"]["requester"] == ACCOUNT
    assert marked["detail"]["deletion-type"] == "Delete Marker Created"
    assert marked["detail"]["object"]["version-id"] == marker["VersionId"]
    assert removed["detail"]["deletion-type"] == "Permanently Deleted"
    assert removed["detail"]["object"]["version-id"] == first["VersionId"]


def test_restores_are_initiated_and_completed(s3, sqs, events):
    bucket, url = _bucket_to_queue(
        s3, sqs, events, ["Object Restore Initiated", "Object Restore Completed"]
    )
    s3.put_object(Bucket=bucket, Key="cold.txt", Body=b"brr", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="cold.txt", RestoreRequest={"Days": 1})
    initiated, completed = _drain(sqs, url, 2)
    detail = _check_envelope(initiated, bucket, "Object Restore Initiated")
    assert detail["object"]["size"] == 3
    assert detail["source-storage-class"] == "GLACIER"
    assert detail["requester"] == ACCOUNT and "source-ip-address" in detail
    detail = _check_envelope(completed, bucket, "Object Restore Completed")
    assert detail["requester"] == "s3.amazonaws.com" and "source-ip-address" not in detail
    assert detail["source-storage-class"] == "GLACIER"
    assert time.strptime(detail["restore-expiry-time"], "%Y-%m-%dT%H:%M:%SZ")


def test_eventbridge_and_a_queue_configuration_both_deliver(s3, sqs, events):
    direct_url, direct_arn = _queue(sqs)
    queues = [{"Id": "direct", "QueueArn": direct_arn, "Events": ["s3:ObjectCreated:*"]}]
    bucket, url = _bucket_to_queue(s3, sqs, events, ["Object Created"], QueueConfigurations=queues)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["EventBridgeConfiguration"] == {}
    assert [c["Id"] for c in got["QueueConfigurations"]] == ["direct"]
    [test_event] = _drain(sqs, direct_url, 1)
    assert test_event["Event"] == "s3:TestEvent"

    s3.put_object(Bucket=bucket, Key="both.txt", Body=b"x")
    [record] = _drain(sqs, direct_url, 1)
    assert record["Records"][0]["s3"]["object"]["key"] == "both.txt"
    [event] = _drain(sqs, url, 1)
    assert event["detail"]["object"]["key"] == "both.txt"

    # Without the element EventBridge gets nothing more; the queue still does.
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
    )
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    _drain(sqs, direct_url, 1)  # the new test event
    s3.put_object(Bucket=bucket, Key="queue-only.txt", Body=b"x")
    [record] = _drain(sqs, direct_url, 1)
    assert record["Records"][0]["s3"]["object"]["key"] == "queue-only.txt"
    assert _drain(sqs, url, 1, timeout=1.5) == []
