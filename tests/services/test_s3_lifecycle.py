"""Lifecycle rules that really delete, with real boto3 against a server whose
lifecycle loop runs every 0.2 s and two days ahead (``CLOUDLET_S3_LIFECYCLE_*``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error

TWO_DAYS = str(2 * 86400)


@pytest.fixture(scope="module")
def server():
    env = {"CLOUDLET_S3_LIFECYCLE_INTERVAL": "0.2", "CLOUDLET_S3_LIFECYCLE_SHIFT": TWO_DAYS}
    with CloudletServer.start(env=env) as srv:
        yield srv


@pytest.fixture
def s3(server):
    return server.client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("lc")
    s3.create_bucket(Bucket=name)
    return name


def _eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            return result
        time.sleep(0.1)


def _keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _rule(rule_id: str, **fields) -> dict:
    return {"ID": rule_id, "Status": "Enabled", **fields}


def test_configuration_round_trip_and_errors(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        _rule("logs", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule(
            "mpu",
            Filter={"Prefix": ""},
            AbortIncompleteMultipartUpload={"DaysAfterInitiation": 7},
        ),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "mpu"]
    assert got[0]["Expiration"] == {"Days": 30}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [_rule("x", Filter={}, Expiration={"Days": 0})]},
        )
    assert error(exc) == ("InvalidArgument", 400)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc)[0] == "NoSuchLifecycleConfiguration"


def test_expiration_by_date_prefix_and_size(s3, bucket):
    for key, body in (("tmp/a", b"x"), ("tmp/big", b"x" * 100), ("keep/b", b"y")):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    past = datetime(2020, 1, 1, tzinfo=UTC)
    rule = _rule(
        "old",
        Filter={"And": {"Prefix": "tmp/", "ObjectSizeLessThan": 50}},
        Expiration={"Date": past},
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})

    def gone():
        assert _keys(s3, bucket) == ["keep/b", "tmp/big"]

    _eventually(gone)


def test_expiration_by_days_and_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="class=scratch")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x", Tagging="class=keep")
    s3.put_object(Bucket=bucket, Key="c", Body=b"x")
    rule = _rule(
        "scratch", Filter={"Tag": {"Key": "class", "Value": "scratch"}}, Expiration={"Days": 1}
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    _eventually(lambda: _check(_keys(s3, bucket) == ["b", "c"]))
    # Disabled rules do nothing.
    off = {**_rule("all", Filter={}, Expiration={"Days": 1}), "Status": "Disabled"}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [off]})
    time.sleep(0.6)
    assert _keys(s3, bucket) == ["b", "c"]


def _check(ok: bool) -> None:
    assert ok


def test_versioned_expiration_and_noncurrent(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    rules = [
        _rule("cur", Filter={"Prefix": "k"}, Expiration={"Days": 1}),
        _rule("old", Filter={"Prefix": "k"}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def expired():
        listing = s3.list_object_versions(Bucket=bucket)
        # The current object got a delete marker; both old versions went for good.
        assert [m["IsLatest"] for m in listing.get("DeleteMarkers", [])] == [True]
        assert listing.get("Versions", []) == []

    _eventually(expired)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)

    # ExpiredObjectDeleteMarker removes the lone marker.
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [_rule("markers", Filter={}, Expiration={"ExpiredObjectDeleteMarker": True})]
        },
    )
    _eventually(lambda: _check("DeleteMarkers" not in s3.list_object_versions(Bucket=bucket)))


def test_abort_incomplete_multipart(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)
    kept = s3.create_multipart_upload(Bucket=bucket, Key="other/x")["UploadId"]
    rule = _rule(
        "mpu", Filter={"Prefix": "big"}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})

    def aborted():
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [u["UploadId"] for u in uploads] == [kept]

    _eventually(aborted)
