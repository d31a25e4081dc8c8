"""Archived objects (GLACIER, DEEP_ARCHIVE) and RestoreObject, with real boto3.

Reads of archived bytes are refused until a restore; cloudlet completes a
restore at once (AWS takes hours). Expiry is tested on a second server whose
lifecycle clock runs two days ahead (``CLOUDLET_S3_LIFECYCLE_SHIFT``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error
from tests.services.test_s3_notifications import _drain

ARCHIVED = ["GLACIER", "DEEP_ARCHIVE"]
GET_REFUSED = "The operation is not valid for the object's storage class"
COPY_REFUSED = "Operation is not valid for the source object's storage class"
RESTORE_REFUSED = "Restore is not allowed for the object's current storage class"


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("cold")
    s3.create_bucket(Bucket=name)
    return name


def _restore(s3, bucket: str, key: str, days: int | None = 1, tier: str | None = None, **kw):
    request: dict = {}
    if days is not None:
        request["Days"] = days
    if tier is not None:
        request["GlacierJobParameters"] = {"Tier": tier}
    return s3.restore_object(Bucket=bucket, Key=key, RestoreRequest=request, **kw)


def _status(response: dict) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


def _expiry(days: int) -> datetime:
    """S3's rule: now plus ``days``, rounded up to the next midnight UTC."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def _restore_header(expiry: datetime) -> str:
    return f'ongoing-request="false", expiry-date="{expiry:%a, %d %b %Y %H:%M:%S GMT}"'


@pytest.mark.parametrize("klass", ARCHIVED)
def test_archived_object_refuses_get_but_answers_head(s3, bucket, klass):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen bytes", StorageClass=klass)
    for extra in ({}, {"Range": "bytes=0-3"}, {"PartNumber": 1}, {"IfMatch": "*"}):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="cold", **extra)
        assert error(exc) == ("InvalidObjectState", 403)
        assert exc.value.response["Error"]["Message"] == GET_REFUSED
        assert exc.value.response["StorageClass"] == klass  # the modeled <StorageClass>
    head = s3.head_object(Bucket=bucket, Key="cold")
    assert head["StorageClass"] == klass and head["ContentLength"] == 12
    assert "Restore" not in head
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="cold", ObjectAttributes=["StorageClass", "ObjectSize"]
    )
    assert (attrs["StorageClass"], attrs["ObjectSize"]) == (klass, 12)


def test_instant_retrieval_and_other_classes_read_at_once(s3, bucket):
    for klass in ("GLACIER_IR", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING"):
        s3.put_object(Bucket=bucket, Key=klass, Body=klass.encode(), StorageClass=klass)
        assert s3.get_object(Bucket=bucket, Key=klass)["Body"].read() == klass.encode()


@pytest.mark.parametrize("klass", ARCHIVED)
def test_restore_makes_the_object_readable_202_then_200(s3, bucket, klass):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen bytes", StorageClass=klass)
    first = _restore(s3, bucket, "cold", days=2, tier="Bulk")
    assert _status(first) == 202
    for out in (
        s3.head_object(Bucket=bucket, Key="cold"),
        s3.get_object(Bucket=bucket, Key="cold"),
    ):
        assert out["Restore"] == _restore_header(_expiry(2))
        assert out["StorageClass"] == klass  # a restored copy keeps its class
    got = s3.get_object(Bucket=bucket, Key="cold", Range="bytes=7-11")
    assert got["Body"].read() == b"bytes"
    # Restoring a restored object answers 200 and moves the expiry to the new Days.
    again = _restore(s3, bucket, "cold", days=5)
    assert _status(again) == 200
    assert s3.head_object(Bucket=bucket, Key="cold")["Restore"] == _restore_header(_expiry(5))


def test_restore_of_objects_that_are_not_archived(s3, bucket):
    for klass in ("STANDARD", "GLACIER_IR", "STANDARD_IA"):
        s3.put_object(Bucket=bucket, Key=klass, Body=b"warm", StorageClass=klass)
        with pytest.raises(ClientError) as exc:
            _restore(s3, bucket, klass, days=1)
        assert error(exc) == ("InvalidObjectState", 403)
        assert exc.value.response["Error"]["Message"] == RESTORE_REFUSED
        assert exc.value.response["StorageClass"] == klass
    # Intelligent-Tiering objects take no Days, and here are always in an active tier.
    s3.put_object(Bucket=bucket, Key="it", Body=b"tiered", StorageClass="INTELLIGENT_TIERING")
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "it", days=1)
    assert error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "it", days=None)
    assert error(exc) == ("ObjectAlreadyInActiveTierError", 403)


def test_restore_request_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="deep", Body=b"x", StorageClass="DEEP_ARCHIVE")
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "deep", days=None)  # Days is required for archive restores
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "deep", days=0)
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:
        s3.restore_object(
            Bucket=bucket, Key="deep", RestoreRequest={"Days": 1, "Tier": "Standard"}
        )  # the top-level Tier belongs to select requests
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "deep", days=1, tier="Expedited")
    assert error(exc) == ("InvalidArgument", 400)
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="deep")
    with pytest.raises(ClientError) as exc:
        _restore(s3, bucket, "missing", days=1)
    assert error(exc) == ("NoSuchKey", 404)
    assert _status(_restore(s3, bucket, "deep", days=1, tier="Standard")) == 202


def test_copy_from_an_archived_source(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen bytes", StorageClass="GLACIER")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "cold"})
    assert error(exc) == ("InvalidObjectState", 403)
    assert exc.value.response["Error"]["Message"] == COPY_REFUSED
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "cold"},
        )
    assert error(exc) == ("InvalidObjectState", 403)
    assert "copy" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]

    _restore(s3, bucket, "cold", days=1)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "cold"})
    copy = s3.get_object(Bucket=bucket, Key="copy")
    assert copy["Body"].read() == b"frozen bytes"
    assert "StorageClass" not in copy and "Restore" not in copy  # a STANDARD object
    part = s3.upload_part_copy(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "cold"},
    )
    assert part["CopyPartResult"]["ETag"]
    # The way out of the archive for good: copy a restored object onto itself.
    s3.copy_object(
        Bucket=bucket,
        Key="cold",
        CopySource={"Bucket": bucket, "Key": "cold"},
        StorageClass="STANDARD",
    )
    head = s3.head_object(Bucket=bucket, Key="cold")
    assert "StorageClass" not in head and "Restore" not in head


def test_listings_name_restore_status_when_asked(s3, bucket):
    """x-amz-optional-object-attributes: RestoreStatus (ListObjects, ListObjectsV2,
    ListObjectVersions): an archived object with a restored copy says it is not in
    progress and when the copy expires (the HeadObject x-amz-restore date); an archived
    object never restored, an object of another class, or a listing that did not ask,
    says nothing."""
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="frozen", Body=b"x", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="warm", Body=b"x")
    _restore(s3, bucket, "cold", days=2)
    expiry = s3.head_object(Bucket=bucket, Key="cold")["Restore"].split('expiry-date="')[1][:-1]
    wanted = datetime.strptime(expiry, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    asked = {"OptionalObjectAttributes": ["RestoreStatus"]}
    for listing in (
        s3.list_objects_v2(Bucket=bucket, **asked)["Contents"],
        s3.list_objects(Bucket=bucket, **asked)["Contents"],
        s3.list_object_versions(Bucket=bucket, **asked)["Versions"],
    ):
        status = {e["Key"]: e.get("RestoreStatus") for e in listing}
        assert status == {
            "cold": {"IsRestoreInProgress": False, "RestoreExpiryDate": wanted},
            "frozen": None,
            "warm": None,
        }
    plain = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert all("RestoreStatus" not in e for e in plain)


def test_restore_names_one_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old", StorageClass="GLACIER")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new", StorageClass="GLACIER")["VersionId"]
    assert _status(_restore(s3, bucket, "k", days=1, VersionId=old)) == 202
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=old)["Body"].read() == b"old"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")  # the latest, `new`, is still archived
    assert error(exc) == ("InvalidObjectState", 403)
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="k", VersionId=new)
    assert _status(_restore(s3, bucket, "k", days=1)) == 202
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_restore_notifications(s3, bucket, aws_client):
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=bname("restores"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectRestore:*"]}]
        },
    )
    put = s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen", StorageClass="GLACIER")
    _restore(s3, bucket, "cold", days=3)
    _restore(s3, bucket, "cold", days=4)  # already restored: no new events
    records = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(records) < 3:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            body = json.loads(m["Body"])
            records += body.get("Records", [])  # (the s3:TestEvent has none)
    assert [r["eventName"] for r in records] == ["ObjectRestore:Post", "ObjectRestore:Completed"]
    done = records[1]
    assert done["s3"]["object"]["key"] == "cold"
    assert done["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    data = done["glacierEventData"]["restoreEventData"]
    assert data["lifecycleRestoreStorageClass"] == "GLACIER"
    assert data["lifecycleRestorationExpiryTime"] == f"{_expiry(3):%Y-%m-%dT%H:%M:%S}.000Z"


# -- expiry: a server whose lifecycle clock runs two days ahead ----------------------------


@pytest.fixture(scope="module")
def ahead():
    env = {"CLOUDLET_S3_LIFECYCLE_SHIFT": str(2 * 86400), "CLOUDLET_S3_LIFECYCLE_INTERVAL": "0.2"}
    with CloudletServer.start(env=env) as srv:
        yield srv


def test_restored_copy_expires_after_its_days(ahead):
    s3 = ahead.client("s3", config=NO_RETRIES)
    bucket = bname("expiry")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="short", Body=b"one day", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="long", Body=b"three days", StorageClass="DEEP_ARCHIVE")
    # One day (rounded up to midnight) is over two days from now: expired at once.
    assert _status(_restore(s3, bucket, "short", days=1)) == 202
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="short")
    assert error(exc) == ("InvalidObjectState", 403)
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="short")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "short"})
    assert error(exc) == ("InvalidObjectState", 403)
    # An expired restore is no restore: the next one is a first one again.
    assert _status(_restore(s3, bucket, "short", days=1)) == 202
    # Three days outlive the two-day shift.
    assert _status(_restore(s3, bucket, "long", days=3)) == 202
    assert s3.get_object(Bucket=bucket, Key="long")["Body"].read() == b"three days"
    assert s3.head_object(Bucket=bucket, Key="long")["Restore"] == _restore_header(_expiry(3))
    assert _status(_restore(s3, bucket, "long", days=3)) == 200


def test_an_expiring_restored_copy_is_notified(ahead):
    """The sweep notices a restored copy's expiry by itself: ``s3:ObjectRestore:Delete``
    to the bucket's queue and EventBridge's ``Object Restore Expired``."""
    s3 = ahead.client("s3", config=NO_RETRIES)
    sqs, events = ahead.client("sqs"), ahead.client("events")
    queues = []
    for name in ("direct", "bus"):
        url = sqs.create_queue(QueueName=bname(name))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues.append((url, arn["Attributes"]["QueueArn"]))
    (direct, direct_arn), (bus, bus_arn) = queues
    bucket = bname("expiring")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": direct_arn, "Events": ["s3:ObjectRestore:Delete"]}
            ],
            "EventBridgeConfiguration": {},
        },
    )
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Restore Expired"]}
    events.put_rule(Name=bucket, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=bucket, Targets=[{"Id": "q", "Arn": bus_arn}])
    put = s3.put_object(Bucket=bucket, Key="brief", Body=b"x", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="lasting", Body=b"y", StorageClass="GLACIER")
    _restore(s3, bucket, "lasting", days=3)  # outlives the two-day shift
    _restore(s3, bucket, "brief", days=1)  # already past its expiry on this clock
    bodies = _drain(sqs, direct, 2)  # the configuration's s3:TestEvent, then the expiry
    [record] = [r for body in bodies for r in body.get("Records", [])]
    assert record["eventName"] == "ObjectRestore:Delete"
    assert record["s3"]["object"]["key"] == "brief"
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert record["userIdentity"]["principalId"].startswith("AmazonCustomer:")
    [event] = _drain(sqs, bus, 1)
    assert event["detail-type"] == "Object Restore Expired"
    assert event["detail"]["object"]["key"] == "brief"
    assert event["detail"]["requester"] == "s3.amazonaws.com"
    assert s3.get_object(Bucket=bucket, Key="lasting")["Body"].read() == b"y"
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="brief")
    time.sleep(0.5)  # later sweeps send nothing more
    assert _drain(sqs, direct, 1, timeout=1) == []
