"""Object Lock with real boto3: retention and legal holds refuse deletes of versions."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def locked_bucket(s3):
    name = bname("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _later(days: int = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_lock_configuration(s3, locked_bucket):
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)
    with pytest.raises(ClientError) as exc:
        s3.get_object_lock_configuration(Bucket=plain)
    assert error(exc) == ("ObjectLockConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(
            Bucket=plain, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    assert error(exc) == ("InvalidBucketState", 409)
    got = s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration=config)
    got = s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]
    assert got == config
    # The default applies to new versions, and protects them.
    v = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=locked_bucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)
    # Governance yields to the bypass header.
    s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=v, BypassGovernanceRetention=True)
    assert "Versions" not in s3.list_object_versions(Bucket=locked_bucket)


@pytest.mark.parametrize("period", ["Days", "Years"])
def test_a_default_retention_must_be_positive_naming_its_period(s3, locked_bucket, period):
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", period: -1}},
    }
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration=config)
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["ArgumentName"] == period


def test_compliance_retention_refuses_deletes(s3, locked_bucket):
    until = _later()
    v = s3.put_object(
        Bucket=locked_bucket,
        Key="doc",
        Body=b"keep me",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    got = s3.get_object_retention(Bucket=locked_bucket, Key="doc")["Retention"]
    assert got["Mode"] == "COMPLIANCE" and got["RetainUntilDate"] == until
    for bypass in (False, True):
        with pytest.raises(ClientError) as exc:
            s3.delete_object(
                Bucket=locked_bucket, Key="doc", VersionId=v, BypassGovernanceRetention=bypass
            )
        assert error(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        s3.put_object_retention(
            Bucket=locked_bucket,
            Key="doc",
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
        )
    assert error(exc) == ("AccessDenied", 403)
    out = s3.delete_objects(
        Bucket=locked_bucket, Delete={"Objects": [{"Key": "doc", "VersionId": v}]}
    )
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    # A plain delete only adds a marker; the version stays.
    assert s3.delete_object(Bucket=locked_bucket, Key="doc")["DeleteMarker"] is True
    body = s3.get_object(Bucket=locked_bucket, Key="doc", VersionId=v)["Body"].read()
    assert body == b"keep me"


def test_legal_hold(s3, locked_bucket):
    v = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object_legal_hold(Bucket=locked_bucket, Key="k")
    assert error(exc) == ("NoSuchObjectLockConfiguration", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object_retention(Bucket=locked_bucket, Key="k")
    assert error(exc) == ("NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="k")["LegalHold"]["Status"] == "ON"
    assert s3.head_object(Bucket=locked_bucket, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=v, BypassGovernanceRetention=True)
    assert error(exc) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="k", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=v)
    assert "Versions" not in s3.list_object_versions(Bucket=locked_bucket)


def test_lock_needs_a_lock_bucket(s3):
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.put_object_legal_hold(Bucket=plain, Key="k", LegalHold={"Status": "ON"})
    assert error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=plain,
            Key="k",
            Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=_later(),
        )
    assert error(exc) == ("InvalidRequest", 400)


def test_lock_enabled_on_an_existing_versioned_bucket(s3):
    name = bname("later")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="before", Body=b"x")  # the bucket is known unlocked
    s3.put_object_lock_configuration(
        Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    v = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    s3.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "ON"})
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=name, Key="k", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)


def _retention(s3, bucket, key, version_id=None):
    kw = {"VersionId": version_id} if version_id else {}
    return s3.get_object_retention(Bucket=bucket, Key=key, **kw)["Retention"]


def _no_lock(s3, bucket, key):
    """Neither retention nor legal hold on the key's current version."""
    for get in (s3.get_object_retention, s3.get_object_legal_hold):
        with pytest.raises(ClientError) as exc:
            get(Bucket=bucket, Key=key)
        assert error(exc) == ("NoSuchObjectLockConfiguration", 404)


# -- multipart uploads -------------------------------------------------------------------


def _multipart(s3, bucket, key, body=b"part one", **create):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=body)[
        "ETag"
    ]
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )


def test_multipart_upload_with_retention_and_legal_hold(s3, locked_bucket):
    until = _later()
    v = _multipart(
        s3,
        locked_bucket,
        "mpu",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        Tagging="kind=locked",
    )["VersionId"]
    got = _retention(s3, locked_bucket, "mpu", v)
    assert got["Mode"] == "COMPLIANCE" and got["RetainUntilDate"] == until
    head = s3.head_object(Bucket=locked_bucket, Key="mpu")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert s3.get_object_tagging(Bucket=locked_bucket, Key="mpu")["TagSet"] == [
        {"Key": "kind", "Value": "locked"}
    ]
    for bypass in (False, True):
        with pytest.raises(ClientError) as exc:
            s3.delete_object(
                Bucket=locked_bucket, Key="mpu", VersionId=v, BypassGovernanceRetention=bypass
            )
        assert error(exc) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=locked_bucket, Key="mpu", VersionId=v)["Body"].read() == (
        b"part one"
    )
    # A legal hold alone, without retention.
    v = _multipart(s3, locked_bucket, "held", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="held")["LegalHold"] == {
        "Status": "ON"
    }
    with pytest.raises(ClientError) as exc:
        s3.get_object_retention(Bucket=locked_bucket, Key="held")
    assert error(exc) == ("NoSuchObjectLockConfiguration", 404)
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="held", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)


def test_multipart_upload_lock_headers_checked_at_create(s3, locked_bucket):
    past = datetime.now(UTC) - timedelta(days=1)
    refused = (
        {"ObjectLockMode": "GOVERNANCE"},  # a mode needs a date
        {"ObjectLockRetainUntilDate": _later()},  # and a date a mode
        {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": past},
    )
    for kwargs in refused:
        with pytest.raises(ClientError) as exc:
            s3.create_multipart_upload(Bucket=locked_bucket, Key="k", **kwargs)
        assert error(exc) == ("InvalidArgument", 400), kwargs
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=locked_bucket)
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(
            Bucket=plain, Key="k", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_later()
        )
    assert error(exc) == ("InvalidRequest", 400)
    assert "Bucket is missing Object Lock Configuration" in exc.value.response["Error"]["Message"]


def test_multipart_upload_gets_the_default_retention_at_complete(s3, locked_bucket):
    upload_id = s3.create_multipart_upload(Bucket=locked_bucket, Key="k")["UploadId"]
    # The bucket's default is configured after the upload was created: it still
    # applies, since the version is created (and its retention counted) at Complete.
    s3.put_object_lock_configuration(
        Bucket=locked_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}},
        },
    )
    etag = s3.upload_part(
        Bucket=locked_bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x"
    )["ETag"]
    before = datetime.now(UTC)
    v = s3.complete_multipart_upload(
        Bucket=locked_bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )["VersionId"]
    got = _retention(s3, locked_bucket, "k", v)
    assert got["Mode"] == "GOVERNANCE"
    assert timedelta(days=2) - timedelta(minutes=1) < got["RetainUntilDate"] - before
    assert got["RetainUntilDate"] - before < timedelta(days=2, minutes=1)
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)
    # Explicit headers win over the default.
    until = _later(5)
    v = _multipart(
        s3,
        locked_bucket,
        "explicit",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    assert _retention(s3, locked_bucket, "explicit", v) == {
        "Mode": "COMPLIANCE",
        "RetainUntilDate": until,
    }


# -- CopyObject --------------------------------------------------------------------------


def test_copy_does_not_take_the_source_lock(s3, locked_bucket):
    s3.put_object(
        Bucket=locked_bucket,
        Key="src",
        Body=b"x",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=_later(),
        ObjectLockLegalHoldStatus="ON",
    )
    v = s3.copy_object(
        Bucket=locked_bucket, Key="copy", CopySource={"Bucket": locked_bucket, "Key": "src"}
    )["VersionId"]
    _no_lock(s3, locked_bucket, "copy")
    s3.delete_object(Bucket=locked_bucket, Key="copy", VersionId=v)  # nothing protects it


def test_copy_with_lock_headers(s3, locked_bucket):
    s3.put_object(Bucket=locked_bucket, Key="src", Body=b"payload")
    source = {"Bucket": locked_bucket, "Key": "src"}
    until = _later()
    v = s3.copy_object(
        Bucket=locked_bucket,
        Key="copy",
        CopySource=source,
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )["VersionId"]
    assert _retention(s3, locked_bucket, "copy", v) == {
        "Mode": "GOVERNANCE",
        "RetainUntilDate": until,
    }
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="copy")["LegalHold"] == {
        "Status": "ON"
    }
    # The legal hold refuses even a governance bypass; lifting it leaves the retention.
    with pytest.raises(ClientError) as exc:
        s3.delete_object(
            Bucket=locked_bucket, Key="copy", VersionId=v, BypassGovernanceRetention=True
        )
    assert error(exc) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="copy", LegalHold={"Status": "OFF"})
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="copy", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)
    s3.delete_object(Bucket=locked_bucket, Key="copy", VersionId=v, BypassGovernanceRetention=True)
    # The same refusals as PutObject's.
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=locked_bucket, Key="bad", CopySource=source, ObjectLockMode="GOVERNANCE"
        )
    assert error(exc) == ("InvalidArgument", 400)
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=plain, Key="bad", CopySource=source, ObjectLockLegalHoldStatus="ON")
    assert error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=plain, Key="bad")
    assert error(exc)[1] == 404


def test_copy_gets_the_destination_default_retention(s3, locked_bucket):
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="src", Body=b"x")
    s3.put_object_lock_configuration(
        Bucket=locked_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    v = s3.copy_object(
        Bucket=locked_bucket, Key="copy", CopySource={"Bucket": plain, "Key": "src"}
    )["VersionId"]
    assert _retention(s3, locked_bucket, "copy", v)["Mode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="copy", VersionId=v)
    assert error(exc) == ("AccessDenied", 403)
    # A locked source copied out to a plain bucket arrives unlocked.
    s3.copy_object(Bucket=plain, Key="back", CopySource={"Bucket": locked_bucket, "Key": "copy"})
    s3.delete_object(Bucket=plain, Key="back")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=plain, Key="back")
    assert error(exc)[1] == 404


def test_locked_puts_need_an_integrity_header(aws_client, s3, locked_bucket):
    """S3 refuses a PutObject that gets a retention period or legal hold (its own headers or
    the bucket's default) unless it carries Content-MD5 or an x-amz-checksum-* (AWS's
    PutObject reference; real answers quoted in grafana/loki and Hadoop S3A reports)."""
    bare = aws_client(
        "s3",
        config=Config(
            retries={"total_max_attempts": 1},
            request_checksum_calculation="when_required",
        ),
    )
    # A lock bucket without a default: a plain write needs nothing.
    bare.put_object(Bucket=locked_bucket, Key="plain", Body=b"x")
    refused = "InvalidRequest", 400
    for lock in (
        {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": _later()},
        {"ObjectLockLegalHoldStatus": "ON"},
    ):
        with pytest.raises(ClientError) as exc:
            bare.put_object(Bucket=locked_bucket, Key="held", Body=b"x", **lock)
        assert error(exc) == refused, lock
        assert exc.value.response["Error"]["Message"] == (
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
            "with Object Lock parameters"
        )
    md5 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    bare.put_object(Bucket=locked_bucket, Key="held", Body=b"x", ContentMD5=md5, **lock)
    bare.put_object(
        Bucket=locked_bucket, Key="summed", Body=b"x", ChecksumAlgorithm="SHA256", **lock
    )
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration=config)
    with pytest.raises(ClientError) as exc:
        bare.put_object(Bucket=locked_bucket, Key="defaulted", Body=b"x")
    assert error(exc) == refused
    assert bare.list_objects_v2(Bucket=locked_bucket)["KeyCount"] == 3
