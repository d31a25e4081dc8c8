"""Object-level answers checked, with real boto3 against a real server, against what AWS
answered: LocalStack's AWS-recorded snapshots (``tests/aws/services/s3/*.snapshot.json``
of localstack/localstack). Each test names the snapshot keys it follows; errors are
compared whole (code, message and every extra element) with their status."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re

import pytest

from tests.services.s3_helpers import NO_RETRIES, bname, refused


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("osnap")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def versioned(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# -- conditional writes ----------------------------------------------------------------

NOT_IMPLEMENTED = "A header you provided implies functionality that is not implemented"


def test_put_object_unimplemented_conditions(s3, bucket):
    """``put-obj-if-match-star-value``, ``put-obj-if-none-match-bad-value``,
    ``put-obj-both-precondition``: 501 naming the header, with S3's additionalMessage."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    for kwargs, header, additional in (
        (
            {"IfMatch": "*"},
            "If-Match",
            "We don't accept the provided value of If-Match header for this API",
        ),
        (
            {"IfNoneMatch": etag},
            "If-None-Match",
            "We don't accept the provided value of If-None-Match header for this API",
        ),
        (
            {"IfMatch": etag, "IfNoneMatch": "*"},
            "If-Match,If-None-Match",
            "Multiple conditional request headers present in the request",
        ),
    ):
        assert refused(s3.put_object, Bucket=bucket, Key="k", Body=b"y", **kwargs) == (
            501,
            {
                "Code": "NotImplemented",
                "Message": NOT_IMPLEMENTED,
                "Header": header,
                "additionalMessage": additional,
            },
        ), kwargs
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"  # unharmed
    # A delete's If-Match may be "*" (only a write refuses it).
    s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")
    assert refused(s3.head_object, Bucket=bucket, Key="k")[0] == 404


def test_delete_conditions_s3_does_not_take_here_delete_nothing(s3, versioned):
    """Directory-bucket conditions (ministack#1501, measured against S3) and If-Match
    with a versionId (localstack#13894, a us-east-1 probe) are 501: never an unguarded
    delete."""
    bucket = versioned
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"four")
    for kwargs, header in (
        ({"IfMatchSize": 99}, "x-amz-if-match-size"),
        (
            {"IfMatchLastModifiedTime": datetime.datetime(2020, 1, 1)},
            "x-amz-if-match-last-modified-time",
        ),
        ({"IfMatch": put["ETag"], "VersionId": put["VersionId"]}, "If-Match"),
    ):
        assert refused(s3.delete_object, Bucket=bucket, Key="k", **kwargs) == (
            501,
            {"Code": "NotImplemented", "Message": NOT_IMPLEMENTED, "Header": header},
        ), kwargs
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"four"
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=put["ETag"])  # no versionId: fine


def test_conditional_complete_after_the_key_changed_is_a_conflict(s3, bucket):
    """``TestS3ObjectWritePrecondition``: a Complete whose If-Match still holds, but whose
    key was written since the upload began, is 409 ConditionalRequestConflict."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"same")["ETag"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"p")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"same")["ETag"] == etag  # rewritten
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    assert refused(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="k",
        UploadId=upload,
        MultipartUpload=parts,
        IfMatch=etag,
    ) == (
        409,
        {
            "Code": "ConditionalRequestConflict",
            "Message": "The conditional request cannot succeed due to a conflicting "
            "operation against this resource.",
            "Condition": "If-Match",
            "Key": "k",
        },
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"same"
    # Unconditional, the same upload completes.
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"p"


def test_conditional_complete_of_an_unchanged_key_succeeds(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="new")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="new", UploadId=upload, PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="new",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        IfNoneMatch="*",
    )
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"p"


# -- storage class, version ids, tagging -----------------------------------------------


def test_outposts_storage_class_is_refused(s3, bucket):
    """``test_put_object_storage_class_outposts``."""
    expected = (
        400,
        {
            "Code": "InvalidStorageClass",
            "Message": "The storage class you specified is not valid",
            "StorageClassRequested": "OUTPOSTS",
        },
    )
    assert refused(s3.put_object, Bucket=bucket, Key="k", StorageClass="OUTPOSTS") == expected
    assert (
        refused(s3.create_multipart_upload, Bucket=bucket, Key="k", StorageClass="OUTPOSTS")
        == expected
    )


def test_version_id_never_issued_is_an_invalid_argument(s3, versioned):
    """``get-obj-with-version``, ``delete-nonexistent-object-versionid``,
    ``delete-with-bad-version``, ``delete-object-wrong-version-id``."""
    bucket = versioned
    real = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    fake = "HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD"
    changed = real[:28] + ("0000" if real[28:] != "0000" else "1111")
    for version in (fake, changed):
        invalid = (
            400,
            {
                "Code": "InvalidArgument",
                "Message": "Invalid version id specified",
                "ArgumentName": "versionId",
                "ArgumentValue": version,
            },
        )
        assert refused(s3.get_object, Bucket=bucket, Key="k", VersionId=version) == invalid
        assert refused(s3.delete_object, Bucket=bucket, Key="k", VersionId=version) == invalid
        result = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]}
        )
        assert [(e["Code"], e["VersionId"]) for e in result["Errors"]] == [
            ("NoSuchVersion", version)
        ]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=real)["Body"].read() == b"x"


def test_tagging_a_key_whose_latest_is_a_delete_marker(s3, versioned):
    """``put-object-tags-delete-marker-latest`` and its get/delete siblings: 405."""
    bucket = versioned
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k")
    for call, kwargs in (
        (s3.put_object_tagging, {"Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
        (s3.get_object_tagging, {}),
        (s3.delete_object_tagging, {}),
    ):
        status, error = refused(call, Bucket=bucket, Key="k", **kwargs)
        assert (status, error["Code"]) == (405, "MethodNotAllowed"), call


def test_get_object_tagging_of_a_missing_key_names_bucket_and_key(s3, bucket):
    """``get-no-key-tags``."""
    assert refused(s3.get_object_tagging, Bucket=bucket, Key="nope") == (
        404,
        {
            "Code": "NoSuchKey",
            "Message": "The specified key does not exist.",
            "Key": f"{bucket}/nope",
        },
    )


def test_malformed_tagging_header_is_an_invalid_argument(s3, bucket):
    """``put-obj-wrong-format``: a comma sent as itself, not URL-encoded."""
    status, error = refused(
        s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging="key1=val1,key2=val2"
    )
    assert (status, error["Code"], error["ArgumentName"]) == (
        400,
        "InvalidArgument",
        "x-amz-tagging",
    )
    # Encoded, the same text is a tag value like any other... and an invalid one.
    status, error = refused(
        s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging="key1=val1%2Ckey2"
    )
    assert (status, error["Code"]) == (400, "InvalidTag")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="key1=val%201&key2=v%2B2")
    tags = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert tags == [{"Key": "key1", "Value": "val 1"}, {"Key": "key2", "Value": "v+2"}]


def test_bypass_governance_on_a_bucket_without_lock(s3, bucket):
    """``test_delete_object_with_no_locking``."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expected = (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "x-amz-bypass-governance-retention is only applicable to Object Lock "
            "enabled buckets.",
            "ArgumentName": "x-amz-bypass-governance-retention",
        },
    )
    assert (
        refused(s3.delete_object, Bucket=bucket, Key="k", BypassGovernanceRetention=True)
        == expected
    )
    assert (
        refused(
            s3.delete_objects,
            Bucket=bucket,
            Delete={"Objects": [{"Key": "k"}]},
            BypassGovernanceRetention=False,
        )
        == expected
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_website_redirect_location_needs_a_path_or_an_http_url(s3, bucket):
    """AWS's answer as quoted in aws/aws-cli#1130: a redirect that is neither a path on
    the site nor an http(s) URL is refused, on PutObject, CopyObject and
    CreateMultipartUpload alike; nothing is written."""
    expected = (
        400,
        {
            "Code": "InvalidRedirectLocation",
            "Message": "The website redirect location must have a prefix of 'http://' or "
            "'https://' or '/'.",
        },
    )
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    for call, kwargs in (
        (s3.put_object, {"Body": b"y"}),
        (s3.copy_object, {"CopySource": f"{bucket}/src"}),
        (s3.create_multipart_upload, {}),
    ):
        assert (
            refused(call, Bucket=bucket, Key="k", WebsiteRedirectLocation="no-slash", **kwargs)
            == expected
        ), call
    assert refused(s3.head_object, Bucket=bucket, Key="k")[0] == 404
    for good in ("/page.html", "http://example.com/", "https://example.com/x"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"y", WebsiteRedirectLocation=good)
        assert s3.head_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == good


# -- checksums in answers --------------------------------------------------------------


def test_copy_result_carries_the_copy_checksum(s3, bucket):
    """``copy-success``, ``copy-object-to-dest-keep-checksum``: no ChecksumType."""
    body = b"copy me"
    s3.put_object(Bucket=bucket, Key="src", Body=body, ChecksumAlgorithm="SHA256")
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert result["CopyObjectResult"]["ChecksumSHA256"] == b64sha256(body)
    assert "ChecksumType" not in result["CopyObjectResult"]


def test_self_copy_that_adds_a_checksum_algorithm(s3, bucket):
    """A copy onto itself that only asks for an algorithm the object lacks is a change."""
    body = b"self"
    s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="CRC32")
    source = f"{bucket}/k"
    status, error = refused(
        s3.copy_object, Bucket=bucket, Key="k", CopySource=source, ChecksumAlgorithm="CRC32"
    )
    assert (status, error["Code"]) == (400, "InvalidRequest")
    result = s3.copy_object(Bucket=bucket, Key="k", CopySource=source, ChecksumAlgorithm="SHA256")
    assert result["CopyObjectResult"]["ChecksumSHA256"] == b64sha256(body)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64sha256(body)


def test_upload_part_copy_range_past_the_end(s3, bucket):
    """``upload-part-copy-range-exc-100-200``."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"x" * 50)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    status, error = refused(
        s3.upload_part_copy,
        Bucket=bucket,
        Key="k",
        UploadId=upload,
        PartNumber=1,
        CopySource=f"{bucket}/src",
        CopySourceRange="bytes=100-200",
    )
    assert (status, error["Code"], error["Message"]) == (
        400,
        "InvalidRequest",
        "The specified copy range is invalid for the source object size",
    )


def test_whole_object_range_carries_the_checksum(s3, bucket):
    """``get--15`` and ``get-0-100``: a range covering the object carries its checksum;
    a part of it does not."""
    body = b"0123456789abcde"
    s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256")
    for whole in ("bytes=-15", "bytes=0-100", "bytes=0-"):
        got = s3.get_object(Bucket=bucket, Key="k", Range=whole, ChecksumMode="ENABLED")
        assert got["ChecksumSHA256"] == b64sha256(body), whole
        assert got["Body"].read() == body
    part = s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-3", ChecksumMode="ENABLED")
    assert "ChecksumSHA256" not in part
    assert part["Body"].read() == b"0123"


def test_object_attributes_composite_checksum_has_no_part_count(s3, bucket):
    """``get-object-attrs`` of ``test_complete_multipart_parts_checksum``."""
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256", ChecksumType="COMPOSITE"
    )["UploadId"]
    done = []
    for number, chunk in enumerate((b"a" * (5 * 1024 * 1024), b"tail"), start=1):
        r = s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload,
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="SHA256",
        )
        done.append(
            {"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}
        )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": done}
    )
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].endswith("-2")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"]["ChecksumSHA256"] == head["ChecksumSHA256"][: -len("-2")]
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
    # Past the last part: no Parts, NextPartNumberMarker 0 (get-object-attrs-wrong-part).
    past = s3.get_object_attributes(
        Bucket=bucket, Key="k", ObjectAttributes=["ObjectParts"], PartNumberMarker=5
    )["ObjectParts"]
    assert "Parts" not in past
    assert (past["TotalPartsCount"], past["NextPartNumberMarker"]) == (2, 0)


# -- timestamps ------------------------------------------------------------------------


def test_xml_timestamps_carry_milliseconds(s3, bucket):
    """``*_timestamp_precision`` of the list-operation snapshots: S3's XML writes
    ``2023-11-15T12:02:40.000Z``, milliseconds included though they are zero."""
    bodies: dict[str, bytes] = {}

    def keep(http_response, model, **_kw):
        bodies[model.name] = http_response.content

    s3.meta.events.register("after-call.s3", keep)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.list_objects_v2(Bucket=bucket)
    s3.list_objects(Bucket=bucket)
    s3.list_object_versions(Bucket=bucket)
    s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    s3.list_multipart_uploads(Bucket=bucket)
    s3.list_buckets()
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload)
    stamp = rb"<(LastModified|Initiated|CreationDate)>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z<"
    for operation in (
        "ListObjectsV2",
        "ListObjects",
        "ListObjectVersions",
        "CopyObject",
        "ListMultipartUploads",
        "ListBuckets",
    ):
        assert re.search(stamp, bodies[operation]), (operation, bodies[operation][:400])
        assert not re.search(rb":\d\dZ<", bodies[operation]), operation
