"""S3 versioning with real boto3: version ids, delete markers, get/head/delete by version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error, refused


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def versioned(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_versions_and_get_by_version(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=versioned, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null" and len(v1) == 32
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"two"
    got = s3.get_object(Bucket=versioned, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one"
    assert got["VersionId"] == v1
    assert s3.head_object(Bucket=versioned, Key="k", VersionId=v1)["ContentLength"] == 3
    assert s3.head_object(Bucket=versioned, Key="k")["VersionId"] == v2
    listed = s3.list_object_versions(Bucket=versioned)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(v2, True), (v1, False)]


def test_delete_marker_hides_and_delete_by_version_restores(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"kept")["VersionId"]
    out = s3.delete_object(Bucket=versioned, Key="k")
    assert out["DeleteMarker"] is True
    marker = out["VersionId"]
    assert marker != v1
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=versioned, Key="k")
    assert error(exc) == ("NoSuchKey", 404)
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=versioned, Key="k")
    assert error(exc) == ("404", 404)
    # The marker itself, asked for by version: 405 with the marker headers.
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=versioned, Key="k", VersionId=marker)
    assert error(exc) == ("MethodNotAllowed", 405)
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    listing = s3.list_object_versions(Bucket=versioned)
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v1, False)]
    # Removing the marker brings the object back.
    gone = s3.delete_object(Bucket=versioned, Key="k", VersionId=marker)
    assert gone["DeleteMarker"] is True and gone["VersionId"] == marker
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"kept"
    # Deleting a version for good.
    s3.delete_object(Bucket=versioned, Key="k", VersionId=v1)
    assert "Versions" not in s3.list_object_versions(Bucket=versioned)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=versioned, Key="k", VersionId=v1)
    assert error(exc) == ("NoSuchVersion", 404)


def test_delete_of_missing_key_still_makes_a_marker(s3, versioned):
    out = s3.delete_object(Bucket=versioned, Key="never")
    assert out["DeleteMarker"] is True
    assert len(s3.list_object_versions(Bucket=versioned)["DeleteMarkers"]) == 1


def test_deleting_noncurrent_version_keeps_current(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=versioned, Key="k", Body=b"two")
    s3.delete_object(Bucket=versioned, Key="k", VersionId=v1)
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"two"
    versions = s3.list_object_versions(Bucket=versioned)["Versions"]
    assert len(versions) == 1 and versions[0]["IsLatest"]


def test_deleting_current_version_promotes_previous(s3, versioned):
    s3.put_object(Bucket=versioned, Key="k", Body=b"one")
    v2 = s3.put_object(Bucket=versioned, Key="k", Body=b"two")["VersionId"]
    s3.delete_object(Bucket=versioned, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"one"
    assert s3.list_object_versions(Bucket=versioned)["Versions"][0]["IsLatest"] is True


def test_suspended_versioning_uses_the_null_version(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    first = s3.put_object(Bucket=versioned, Key="k", Body=b"null one")
    assert first["VersionId"] == "null"
    s3.put_object(Bucket=versioned, Key="k", Body=b"null two")
    versions = s3.list_object_versions(Bucket=versioned)["Versions"]
    # The second null write replaced the first; the versioned one stays.
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket=versioned, Key="k", VersionId="null")["Body"].read() == b"null two"
    marker = s3.delete_object(Bucket=versioned, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=versioned)
    # The null delete marker replaced the null object version.
    assert [v["VersionId"] for v in listing["Versions"]] == [v1]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_a_null_write_over_a_null_delete_marker_lists_again(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_object(Bucket=versioned, Key="k")
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    s3.put_object(Bucket=versioned, Key="k", Body=b"back")
    # The null object took the null delete marker's place: current again, listed again.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=versioned)["Contents"]] == ["k"]
    listing = s3.list_object_versions(Bucket=versioned)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [
        ("null", True),
        (v1, False),
    ]
    assert "DeleteMarkers" not in listing
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"back"


def test_unversioned_bucket_has_null_versions_without_headers(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    put = s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert "VersionId" not in put
    versions = s3.list_object_versions(Bucket=name)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]
    assert s3.get_object(Bucket=name, Key="k", VersionId="null")["Body"].read() == b"x"
    s3.delete_object(Bucket=name, Key="k", VersionId="null")
    assert "Versions" not in s3.list_object_versions(Bucket=name)


def test_delete_objects_with_versions(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=versioned, Key="b", Body=b"2")
    out = s3.delete_objects(
        Bucket=versioned,
        Delete={"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b"}]},
    )
    by_key = {d["Key"]: d for d in out["Deleted"]}
    assert by_key["a"]["VersionId"] == v1
    assert by_key["b"]["DeleteMarker"] is True and by_key["b"]["DeleteMarkerVersionId"]
    listing = s3.list_object_versions(Bucket=versioned)
    assert [v["Key"] for v in listing["Versions"]] == ["b"]
    assert [m["Key"] for m in listing["DeleteMarkers"]] == ["b"]


def test_version_id_header_appears_once_versioning_was_configured(s3, versioned):
    s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    assert s3.get_object(Bucket=versioned, Key="k")["VersionId"]
    attrs = s3.get_object_attributes(Bucket=versioned, Key="k", ObjectAttributes=["ObjectSize"])
    assert attrs["VersionId"]


def test_resource_object_versions_delete_empties_a_bucket_of_many_versions(cloudlet_server):
    """boto3's ``bucket.object_versions.delete()`` deletes each page of 1,000 before asking
    for the next, from the markers of a version it has just deleted: the rest of that key
    must still come (else DeleteBucket fails with BucketNotEmpty)."""
    pool = Config(retries={"max_attempts": 0}, max_pool_connections=8)
    s3 = cloudlet_server.client("s3", config=pool)
    name = bname("many")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    with ThreadPoolExecutor(8) as workers:
        list(
            workers.map(lambda i: s3.put_object(Bucket=name, Key="k", Body=b"%d" % i), range(1100))
        )
    s3.delete_object(Bucket=name, Key="k")  # and a delete marker on top
    resource = boto3.resource(
        "s3",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = resource.Bucket(name)
    bucket.object_versions.delete()
    assert "Versions" not in s3.list_object_versions(Bucket=name)
    bucket.delete()
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


MFA = "arn:aws:iam::000000000000:mfa/root-account-mfa-device 123456"
NEEDS_MFA = (
    403,
    {"Code": "AccessDenied", "Message": "Mfa Authentication must be used for this request"},
)


def test_mfa_delete_guards_versions(s3, versioned):
    """MFA delete (the user guide's "Configuring MFA delete"; AWS's answer as quoted in
    public write-ups): turning it on, version deletes, and versioning changes need
    x-amz-mfa; a plain delete only adds a marker and does not. DeleteObjects naming a
    version fails whole without it (its API reference)."""
    enable = {"Status": "Enabled", "MFADelete": "Enabled"}
    assert (
        refused(s3.put_bucket_versioning, Bucket=versioned, VersioningConfiguration=enable)
        == NEEDS_MFA
    )
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration=enable, MFA=MFA)
    assert s3.get_bucket_versioning(Bucket=versioned)["MFADelete"] == "Enabled"

    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=versioned, Key="j", Body=b"two")["VersionId"]
    assert refused(s3.delete_object, Bucket=versioned, Key="k", VersionId=v1) == NEEDS_MFA
    bad = "no-code-here"
    assert refused(s3.delete_object, Bucket=versioned, Key="k", VersionId=v1, MFA=bad) == NEEDS_MFA
    marker = s3.delete_object(Bucket=versioned, Key="k")  # a marker: no MFA needed
    assert marker["DeleteMarker"] is True
    both = {"Objects": [{"Key": "new-plain"}, {"Key": "j", "VersionId": v2}]}
    s3.put_object(Bucket=versioned, Key="new-plain", Body=b"x")
    assert refused(s3.delete_objects, Bucket=versioned, Delete=both) == NEEDS_MFA
    assert s3.head_object(Bucket=versioned, Key="new-plain")["ContentLength"] == 1
    assert s3.head_object(Bucket=versioned, Key="j", VersionId=v2)["ContentLength"] == 3
    suspend = {"Status": "Suspended"}
    assert (
        refused(s3.put_bucket_versioning, Bucket=versioned, VersioningConfiguration=suspend)
        == NEEDS_MFA
    )
    assert s3.get_bucket_versioning(Bucket=versioned)["Status"] == "Enabled"

    s3.delete_object(Bucket=versioned, Key="k", VersionId=v1, MFA=MFA)
    out = s3.delete_objects(Bucket=versioned, Delete=both, MFA=MFA)
    assert sorted(d["Key"] for d in out["Deleted"]) == ["j", "new-plain"]
    versions = s3.list_object_versions(Bucket=versioned).get("Versions") or []
    assert v1 not in [v["VersionId"] for v in versions]
    disable = {"Status": "Enabled", "MFADelete": "Disabled"}
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration=disable, MFA=MFA)
    assert s3.get_bucket_versioning(Bucket=versioned)["MFADelete"] == "Disabled"
    s3.delete_object(Bucket=versioned, Key="j", VersionId=v2)  # no longer guarded
