"""S3 answers checked against moto's AWS-verified tests (``tests/test_s3`` of getmoto/moto:
the tests marked ``aws_verified``, which moto's maintainers run against real S3), with
real boto3 against a real server. Each test names the moto test it follows."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.services.s3_helpers import NO_RETRIES, bname, refused


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("mv")
    s3.create_bucket(Bucket=name)
    return name


def test_copy_in_place_naming_a_version_is_allowed(s3, bucket):
    # test_copy_object_in_place_with_versioning: a copy source that names a version, the
    # current one too, may be copied over its own key unchanged; without a version id
    # the copy must change something.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    same = {"Bucket": bucket, "Key": "k"}
    s3.copy_object(Bucket=bucket, Key="k", CopySource={**same, "VersionId": second})
    s3.copy_object(Bucket=bucket, Key="k", CopySource={**same, "VersionId": first})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert len(versions) == 4
    status, err = refused(s3.copy_object, Bucket=bucket, Key="k", CopySource=same)
    assert (status, err["Code"]) == (400, "InvalidRequest")


@pytest.mark.parametrize("constraint", ["us-east-1", "us-east-2", "eu-central-1", "us-gov-east-2"])
def test_regional_endpoint_refuses_other_constraints_as_incompatible(aws_client, constraint):
    # test_create_bucket_with_wrong_location_constraint: us-east-1 and unknown regions
    # too; only the us-east-1 endpoint judges a constraint invalid.
    s3 = aws_client("s3", region_name="us-west-2", config=NO_RETRIES)
    status, err = refused(
        s3.create_bucket,
        Bucket=bname("loc"),
        CreateBucketConfiguration={"LocationConstraint": constraint},
    )
    assert status == 400
    assert err["Code"] == "IllegalLocationConstraintException"
    assert err["Message"] == (
        f"The {constraint} location constraint is incompatible for the region specific "
        "endpoint this request was sent to."
    )


def test_us_east_1_endpoint_still_calls_its_own_constraint_invalid(s3):
    status, err = refused(
        s3.create_bucket,
        Bucket=bname("loc"),
        CreateBucketConfiguration={"LocationConstraint": "us-east-1"},
    )
    assert (status, err["Code"]) == (400, "InvalidLocationConstraint")


def test_if_match_takes_an_etag_missing_one_quote(s3, bucket):
    # test_put_object_if_match: quoted, unquoted, or with one quote removed.
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["ETag"]
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch=etag.strip('"'))["ETag"]
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch=etag[1:])["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"4", IfMatch=etag[:-1])
    status, err = refused(s3.put_object, Bucket=bucket, Key="k", Body=b"5", IfMatch="test")
    assert (status, err["Code"], err["Condition"]) == (412, "PreconditionFailed", "If-Match")


def test_object_lock_configuration_without_a_body(s3):
    # test_put_object_lock_misconfiguration: no document at all is
    # MissingRequestBodyError, an empty one MalformedXML.
    name = bname("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    status, err = refused(s3.put_object_lock_configuration, Bucket=name)
    assert (status, err["Code"], err["Message"]) == (
        400,
        "MissingRequestBodyError",
        "Request Body is empty",
    )
    status, err = refused(s3.put_object_lock_configuration, Bucket=name, ObjectLockConfiguration={})
    assert (status, err["Code"]) == (400, "MalformedXML")


def test_required_configuration_document_missing(s3, bucket):
    # AWS's error list: MissingRequestBodyError, "an empty XML document". botocore will
    # not send a required member left out, so the document is taken off the wire.
    def drop_body(request, **_):
        request.data = b""
        for name in [h for h in request.headers if h.lower().startswith("x-amz-checksum-")]:
            del request.headers[name]
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(b"").digest()).decode()

    s3.meta.events.register("before-sign.s3.PutBucketTagging", drop_body)
    status, err = refused(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": []})
    assert (status, err["Code"]) == (400, "MissingRequestBodyError")
    status, err = refused(s3.get_bucket_tagging, Bucket=bucket)  # nothing was stored
    assert err["Code"] == "NoSuchTagSet"


def test_eleven_object_tags_are_a_bad_request(s3, bucket):
    # test_put_object_tagging_too_many_tags: BadRequest (a bucket's 51st tag is
    # InvalidTag, LocalStack's AWS-recorded snapshot).
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags = {"TagSet": [{"Key": f"tag{i}", "Value": "too_many"} for i in range(11)]}
    status, err = refused(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=tags)
    assert (status, err["Code"], err["Message"]) == (
        400,
        "BadRequest",
        "Object tags cannot be greater than 10",
    )


def test_head_bucket_answers_application_xml(s3, bucket):
    # test_header_content_type.
    headers = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/xml"
