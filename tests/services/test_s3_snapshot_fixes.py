"""S3 answers checked against AWS-recorded snapshots of LocalStack's
``tests/aws/services/s3/test_s3.py`` (``test_s3.snapshot.json``), with real boto3:
cross-region logging targets, empty website routing rules, ``x-amz-expiration`` on
reads naming a version, PutObjectLegalHold's check order, and a replication rule
whose destination bucket does not exist."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, refused

MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
CROSS = "Cross S3 location logging not allowed. "


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("snap")
    s3.create_bucket(Bucket=name)
    return name


def _in_region(s3, region: str) -> str:
    name = bname("snap")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return name


def _log_to(target: str) -> dict:
    return {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "log"}}


# -- PutBucketLogging -----------------------------------------------------------------


def test_logging_target_in_another_region(s3, bucket):
    """``test_put_bucket_logging_wrong_target``: ``put-bucket-logging-different-regions``
    (a us-east-1 source names only the target's region) and
    ``put-bucket-logging-non-existent-bucket``."""
    west = _in_region(s3, "us-west-2")
    status, err = refused(s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus=_log_to(west))
    assert status == 403
    assert err["Code"] == "CrossLocationLoggingProhibitted"
    assert err["Message"] == CROSS
    assert err["TargetBucketLocation"] == "us-west-2"
    assert "SourceBucketLocation" not in err
    missing = bname("missing")
    status, err = refused(
        s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus=_log_to(missing)
    )
    assert (status, err["Code"], err["TargetBucket"]) == (
        400,
        "InvalidTargetBucketForLogging",
        missing,
    )
    assert err["Message"] == "The target bucket for logging does not exist"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_logging_between_two_other_regions(aws_client, s3):
    """``test_put_bucket_logging_cross_locations``: ``put-bucket-logging-different-regions``
    names both regions when the source is not in us-east-1; a same-region target works."""
    west = aws_client("s3", region_name="eu-west-1", config=NO_RETRIES)
    source, target = _in_region(s3, "eu-west-1"), _in_region(s3, "us-west-2")
    status, err = refused(
        west.put_bucket_logging, Bucket=source, BucketLoggingStatus=_log_to(target)
    )
    assert status == 403
    assert err["Code"] == "CrossLocationLoggingProhibitted"
    assert (err["SourceBucketLocation"], err["TargetBucketLocation"]) == ("eu-west-1", "us-west-2")
    neighbour = _in_region(s3, "eu-west-1")
    west.put_bucket_logging(Bucket=source, BucketLoggingStatus=_log_to(neighbour))
    assert west.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetBucket"] == neighbour


# -- PutBucketWebsite -----------------------------------------------------------------


def test_website_empty_routing_rules(s3, bucket):
    """``test_validate_website_configuration``: ``invalid-website-conf-7`` (an empty
    RoutingRules is MalformedXML); leaving RoutingRules out stays valid."""
    index = {"Suffix": "index.html"}
    status, err = refused(
        s3.put_bucket_website,
        Bucket=bucket,
        WebsiteConfiguration={"IndexDocument": index, "RoutingRules": []},
    )
    assert (status, err["Code"], err["Message"]) == (400, "MalformedXML", MALFORMED)
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": index})
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == index
    assert "RoutingRules" not in s3.get_bucket_website(Bucket=bucket)


# -- x-amz-expiration -----------------------------------------------------------------


def test_expiration_left_out_when_a_version_is_named(s3, bucket):
    """``test_bucket_lifecycle_configuration_object_expiry_versioned``:
    ``head-object-expiry-current-with-version-id`` has no Expiration,
    ``head-object-expiry-current-without-version-id`` has it."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule = {
        "ID": "rule2",
        "Status": "Enabled",
        "Filter": {},
        "Expiration": {"Days": 3},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    current = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="k", VersionId=old)
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=current)
    assert head["VersionId"] == current and "Expiration" not in head
    assert "Expiration" not in s3.get_object(Bucket=bucket, Key="k", VersionId=current)
    assert 'rule-id="rule2"' in s3.head_object(Bucket=bucket, Key="k")["Expiration"]
    assert 'rule-id="rule2"' in s3.get_object(Bucket=bucket, Key="k")["Expiration"]


# -- PutObjectLegalHold ---------------------------------------------------------------


def _digest_header(name: str) -> bool:
    return name.lower() == "content-md5" or name.lower().startswith("x-amz-checksum-")


def _legal_hold_body_missing(s3, bucket: str, key: str) -> tuple[int, dict]:
    """PutObjectLegalHold with no body at all (boto3 always sends LegalHold if given)."""

    def drop_body(request, **_):
        request.data = b""
        for name in [h for h in request.headers if _digest_header(h)]:
            del request.headers[name]

    event = "before-sign.s3.PutObjectLegalHold"
    s3.meta.events.register(event, drop_body)
    try:
        return refused(s3.put_object_legal_hold, Bucket=bucket, Key=key, LegalHold={"Status": "ON"})
    finally:
        s3.meta.events.unregister(event, drop_body)


def test_legal_hold_body_checked_before_lock(s3, bucket):
    """``test_put_object_legal_hold_exc``: ``put-object-retention-regular-bucket``
    (InvalidRequest) and ``put-object-retention-empty`` (MalformedXML) on a bucket
    without Object Lock; ``put-object-legal-hold-no-bucket`` stays NoSuchBucket."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, err = refused(
        s3.put_object_legal_hold, Bucket=bucket, Key="k", LegalHold={"Status": "ON"}
    )
    assert (status, err["Code"]) == (400, "InvalidRequest")
    assert err["Message"] == "Bucket is missing Object Lock Configuration"
    status, err = _legal_hold_body_missing(s3, bucket, "k")
    assert (status, err["Code"], err["Message"]) == (400, "MalformedXML", MALFORMED)
    status, err = refused(
        s3.put_object_legal_hold, Bucket=bname("missing"), Key="k", LegalHold={"Status": "ON"}
    )
    assert (status, err["Code"]) == (404, "NoSuchBucket")


def test_legal_hold_on_a_locked_bucket_still_works(s3):
    name = bname("snap")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    version = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    status, err = _legal_hold_body_missing(s3, name, "k")
    assert (status, err["Code"]) == (400, "MalformedXML")
    s3.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "ON"}
    s3.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=name, Key="k", VersionId=version)


# -- PutBucketReplication -------------------------------------------------------------


def test_replication_destination_missing(s3):
    """``test_replication_config_without_filter``: ``expected_error_dest_does_not_exist``
    and ``expected_error_dest_versioning_disabled`` give the same InvalidRequest."""
    source, destination = bname("src"), bname("dst")
    s3.create_bucket(Bucket=source)
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=destination)
    rule = {
        "ID": "rtc",
        "Priority": 0,
        "Filter": {},
        "Status": "Disabled",
        "Destination": {"Bucket": f"arn:aws:s3:::{bname('missing')}", "StorageClass": "STANDARD"},
        "DeleteMarkerReplication": {"Status": "Disabled"},
    }
    config = {"Role": "arn:aws:iam::000000000000:role/replication", "Rules": [rule]}
    versioning = "Destination bucket must have versioning enabled."
    for _ in ("missing", "unversioned"):
        status, err = refused(
            s3.put_bucket_replication, Bucket=source, ReplicationConfiguration=config
        )
        assert (status, err["Code"], err["Message"]) == (400, "InvalidRequest", versioning)
        rule["Destination"]["Bucket"] = f"arn:aws:s3:::{destination}"
    s3.put_bucket_versioning(Bucket=destination, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)
    stored = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]
    assert stored["Rules"][0]["ID"] == "rtc"


def test_replication_to_itself_still_refused(s3):
    source = bname("src")
    s3.create_bucket(Bucket=source)
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    rule = {
        "Priority": 1,
        "Filter": {},
        "Status": "Enabled",
        "Destination": {"Bucket": f"arn:aws:s3:::{source}"},
        "DeleteMarkerReplication": {"Status": "Disabled"},
    }
    config = {"Role": "arn:aws:iam::000000000000:role/replication", "Rules": [rule]}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)
    assert exc.value.response["Error"]["Message"] == (
        "Destination bucket cannot be the same as the source bucket."
    )
