"""S3 buckets with real boto3: create (location rules), head, delete, list, versioning."""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


def test_create_head_delete(s3):
    name = bname()
    out = s3.create_bucket(Bucket=name)
    assert out["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert head["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    deleted = s3.delete_bucket(Bucket=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert error(exc) == ("404", 404)
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error(exc) == ("NoSuchBucket", 404)
    assert exc.value.response["Error"]["BucketName"] == name


def test_head_bucket_404_has_no_body(cloudlet_server):
    req = urllib.request.Request(f"{cloudlet_server.endpoint}/{bname()}", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 404
    assert exc.value.read() == b""


def test_location_document_breaks_the_line_after_the_declaration(s3):
    """The JavaScript SDK v2 reads GetBucketLocation with ``/>(.+)<\\/Location/``: S3's
    line break after the XML declaration keeps the declaration's ``>`` out of it."""
    import re

    bodies = []
    s3.meta.events.register(
        "after-call.s3.GetBucketLocation",
        lambda http_response, **_: bodies.append(http_response.content.decode()),
    )
    east, west = bname(), bname()
    s3.create_bucket(Bucket=east)
    s3.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    found = []
    for name in (east, west):
        s3.get_bucket_location(Bucket=name)
        assert bodies[-1].startswith('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint')
        match = re.search(r">(.+)<\/Location", bodies[-1])
        found.append(match.group(1) if match else "")
    assert found == ["", "eu-west-1"]


def test_location_constraint_rules(aws_client):
    east = aws_client("s3", config=NO_RETRIES)
    west = aws_client("s3", region_name="eu-west-1", config=NO_RETRIES)
    # The global endpoint (us-east-1) accepts any region's constraint.
    name = bname()
    east.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert east.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert east.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
    # A regional endpoint only its own.
    other = bname()
    west.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert west.get_bucket_location(Bucket=other)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        west.create_bucket(Bucket=bname())
    assert error(exc) == ("IllegalLocationConstraintException", 400)
    with pytest.raises(ClientError) as exc:
        west.create_bucket(
            Bucket=bname(), CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
    assert error(exc) == ("IllegalLocationConstraintException", 400)
    # us-east-1 is never named explicitly; unknown regions are invalid.
    with pytest.raises(ClientError) as exc:
        east.create_bucket(
            Bucket=bname(), CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    assert error(exc) == ("InvalidLocationConstraint", 400)
    with pytest.raises(ClientError) as exc:
        east.create_bucket(
            Bucket=bname(), CreateBucketConfiguration={"LocationConstraint": "moon-base-1"}
        )
    assert error(exc) == ("InvalidLocationConstraint", 400)
    # "EU" is the legacy name of eu-west-1.
    legacy = bname()
    east.create_bucket(Bucket=legacy, CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert east.head_bucket(Bucket=legacy)["BucketRegion"] == "eu-west-1"
    # ... and GetBucketLocation gives back the name it was created with, as S3 does.
    assert east.get_bucket_location(Bucket=legacy)["LocationConstraint"] == "EU"
    listed = {b["Name"]: b for b in east.list_buckets()["Buckets"]}
    assert listed[legacy].get("BucketRegion", "eu-west-1") == "eu-west-1"


def test_a_request_signed_for_another_region_names_the_buckets(aws_client):
    """S3 refuses a request signed for a region other than its bucket's, naming the
    bucket's region (``<Region>`` and ``x-amz-bucket-region``): boto3 re-signs for it
    and retries, as against AWS. GetBucketLocation answers any region's signature."""
    east = aws_client("s3", config=NO_RETRIES)
    name = bname()
    east.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    first: list[dict] = []

    def record(response, **_):
        if response is not None and not first:
            first.append({**response[1].get("Error", {}), "status": response[0].status_code})
            first[0]["header"] = response[0].headers.get("x-amz-bucket-region")

    east.meta.events.register("needs-retry.s3.PutObject", record)
    east.put_object(Bucket=name, Key="k", Body=b"west")
    assert first == [
        {
            "Code": "AuthorizationHeaderMalformed",
            "Message": "The authorization header is malformed; the region 'us-east-1' is "
            "wrong; expecting 'eu-west-1'",
            "Region": "eu-west-1",
            "status": 400,
            "header": "eu-west-1",
        }
    ]
    assert east.get_object(Bucket=name, Key="k")["Body"].read() == b"west"
    assert east.head_object(Bucket=name, Key="k")["ContentLength"] == 4
    fresh = aws_client("s3", config=NO_RETRIES)
    assert fresh.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    # A presigned URL cannot be re-signed by its user: S3's answer says why.
    v4 = aws_client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 0}))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url)
    assert exc.value.code == 400
    assert exc.value.headers["x-amz-bucket-region"] == "eu-west-1"
    doc = ET.fromstring(exc.value.read())
    assert doc.findtext("Code") == "AuthorizationQueryParametersError"
    assert doc.findtext("Message") == (
        "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; "
        "expecting 'eu-west-1'"
    )
    assert doc.findtext("Region") == "eu-west-1"
    west = aws_client("s3", region_name="eu-west-1", config=Config(signature_version="s3v4"))
    url = west.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"west"


def test_bucket_already_exists_and_owned(aws_client):
    east = aws_client("s3", config=NO_RETRIES)
    west = aws_client("s3", region_name="eu-west-1", config=NO_RETRIES)
    name = bname()
    east.create_bucket(Bucket=name)
    # us-east-1's legacy rule: re-creating your own bucket there succeeds.
    east.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        west.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert error(exc) == ("BucketAlreadyOwnedByYou", 409)
    regional = bname()
    west.create_bucket(
        Bucket=regional, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    with pytest.raises(ClientError) as exc:
        west.create_bucket(
            Bucket=regional, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert error(exc) == ("BucketAlreadyOwnedByYou", 409)
    # Bucket names are global: another account (a 12-digit access key) cannot have it.
    stranger = aws_client(
        "s3", aws_access_key_id="111122223333", aws_secret_access_key="x", config=NO_RETRIES
    )
    with pytest.raises(ClientError) as exc:
        stranger.create_bucket(Bucket=name)
    assert error(exc) == ("BucketAlreadyExists", 409)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "x" * 64,
        "Upper-case",
        "under_score",
        "a..b",
        "-start",
        "end-",
        "192.168.1.1",
        "xn--punycode",
        "bucket-s3alias",
        "a.-b",
    ],
)
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert error(exc) == ("InvalidBucketName", 400)
    assert exc.value.response["Error"]["BucketName"] == name


def test_delete_non_empty_bucket(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error(exc) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_versioned_bucket_with_only_delete_markers_is_not_empty(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    s3.delete_object(Bucket=name, Key="k")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error(exc) == ("BucketNotEmpty", 409)
    for v in s3.list_object_versions(Bucket=name).get("Versions", []) + s3.list_object_versions(
        Bucket=name
    ).get("DeleteMarkers", []):
        s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)


def test_list_buckets_prefix_and_pagination(aws_client):
    # Own account, so earlier tests' buckets do not interfere.
    s3 = aws_client(
        "s3", aws_access_key_id="444455556666", aws_secret_access_key="x", config=NO_RETRIES
    )
    names = sorted(f"listme-{i:02d}-{bname('x')}" for i in range(7))
    for n in names:
        s3.create_bucket(Bucket=n)
    s3.create_bucket(Bucket=bname("other"))
    out = s3.list_buckets(Prefix="listme-")
    assert [b["Name"] for b in out["Buckets"]] == names
    assert out["Prefix"] == "listme-"
    assert out["Owner"]["ID"] and len(out["Owner"]["ID"]) == 64
    assert all(b["BucketRegion"] == "us-east-1" for b in out["Buckets"])
    seen, token = [], None
    while True:
        kw = {"Prefix": "listme-", "MaxBuckets": 3}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_buckets(**kw)
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == names
    paginated = [
        b["Name"]
        for page in s3.get_paginator("list_buckets").paginate(
            Prefix="listme-", PaginationConfig={"PageSize": 2}
        )
        for b in page["Buckets"]
    ]
    assert paginated == names
    with pytest.raises(ClientError) as exc:
        s3.list_buckets(MaxBuckets=10001)
    assert error(exc) == ("InvalidArgument", 400)
    # Another account sees none of them.
    assert not [b for b in aws_client("s3").list_buckets()["Buckets"] if b["Name"] in names]


def test_versioning_configuration(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    # Unset configurations are still documents (their root element), as S3 sends them.
    roots = {
        "get_bucket_versioning": "VersioningConfiguration",
        "get_bucket_logging": "BucketLoggingStatus",
        "get_bucket_notification_configuration": "NotificationConfiguration",
        "get_bucket_accelerate_configuration": "AccelerateConfiguration",
    }
    bodies: list[bytes] = []

    def keep(http_response, **_) -> None:
        bodies.append(http_response.content)

    s3.meta.events.register("after-call.s3", keep)
    for method, root in roots.items():
        getattr(s3, method)(Bucket=name)
        assert ET.fromstring(bodies[-1]).tag == f"{{{S3_NS}}}{root}", bodies[-1]
    s3.meta.events.unregister("after-call.s3", keep)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Bogus"})
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_versioning(Bucket=bname())
    assert error(exc) == ("NoSuchBucket", 404)


def test_resource_api_buckets(aws_client, cloudlet_server):
    import boto3

    res = boto3.resource(
        "s3",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    name = bname()
    bucket = res.create_bucket(Bucket=name)
    assert name in [b.name for b in res.buckets.all()]
    bucket.put_object(Key="a", Body=b"1")
    assert [o.key for o in bucket.objects.all()] == ["a"]
    bucket.objects.all().delete()
    bucket.delete()
    assert name not in [b.name for b in res.buckets.all()]


def test_uploads_in_progress_go_with_the_bucket(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="big")["UploadId"]
    s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 100)
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)


def test_expected_bucket_owner_must_be_the_owner(aws_client):
    """``ExpectedBucketOwner`` (and a copy's ``ExpectedSourceBucketOwner``) naming another
    account is 403 AccessDenied on any operation, and nothing happens."""
    s3 = aws_client("s3", config=NO_RETRIES)
    name = bname("own")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"kept")
    mine = "000000000000"  # the test key's account
    calls = [
        lambda owner: s3.put_object(Bucket=name, Key="k", Body=b"x", ExpectedBucketOwner=owner),
        lambda owner: s3.get_object(Bucket=name, Key="k", ExpectedBucketOwner=owner),
        lambda owner: s3.list_objects_v2(Bucket=name, ExpectedBucketOwner=owner),
        lambda owner: s3.delete_object(Bucket=name, Key="k", ExpectedBucketOwner=owner),
        lambda owner: s3.get_bucket_versioning(Bucket=name, ExpectedBucketOwner=owner),
        lambda owner: s3.copy_object(
            Bucket=name, Key="c", CopySource=f"{name}/k", ExpectedSourceBucketOwner=owner
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call("111122223333")
        assert error(exc) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"kept"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    for call in calls[1:3]:
        call(mine)  # the right owner: answered as usual
    # A bucket that does not exist is still the operation's 404.
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bname("none"), ExpectedBucketOwner="111122223333")
    assert error(exc) == ("NoSuchBucket", 404)
