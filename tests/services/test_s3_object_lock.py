"""Object Lock with real boto3: retention and legal holds refuse deletes of versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
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
