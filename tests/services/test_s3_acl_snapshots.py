"""PutBucketAcl and PutObjectAcl request checks, with real boto3 against a real server,
against what AWS answered: LocalStack's AWS-recorded snapshots
(``tests/aws/services/s3/test_s3.snapshot.json`` of localstack/localstack,
``test_s3_bucket_acl_exceptions``, ``test_s3_object_acl_exceptions`` and
``test_put_object_acl_on_delete_marker``). Errors are compared whole (code, message
and every extra element) with their status. AWS recorded them on a bucket with ACLs
disabled (its default): the request is checked before the bucket's ACL settings, so
each case is run on such a bucket and on one with ACLs enabled."""

from __future__ import annotations

import pytest

from tests.services.s3_helpers import NO_RETRIES, bname, open_bucket, refused

LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
FAKE_GROUP = "http://acs.amazonaws.com/groups/s3/FakeGroup"
MALFORMED_ACL = {
    "Code": "MalformedACLError",
    "Message": "The XML you provided was not well-formed or did not validate against our "
    "published schema",
}


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture(params=["acls-disabled", "acls-enabled"])
def bucket(request, s3):
    if request.param == "acls-enabled":
        return open_bucket(s3, "acl")
    name = bname("acl")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def owner(s3):
    return s3.list_buckets()["Owner"]


def _acp(owner: dict | None, grantee: dict, permission: str = "WRITE") -> dict:
    acp: dict = {"Grants": [{"Grantee": grantee, "Permission": permission}]}
    if owner is not None:
        acp["Owner"] = owner
    return acp


def _invalid(message: str, name: str, value: str) -> dict:
    return {
        "Code": "InvalidArgument",
        "Message": message,
        "ArgumentName": name,
        "ArgumentValue": value,
    }


LOG_GROUP = {"URI": LOG_DELIVERY, "Type": "Group"}


def _cases(owner: dict) -> list[tuple[str, dict, dict]]:
    """(snapshot key suffix, request, error) as both recordings have them."""
    own = {"ID": owner["ID"], "Type": "CanonicalUser"}
    return [
        (
            "grant-acl-fake-uri",
            {"GrantWrite": f'uri="{FAKE_GROUP}"'},
            _invalid("Invalid group uri", "uri", FAKE_GROUP),
        ),
        (
            "grant-acl-fake-key",
            {"GrantWrite": 'fakekey="1234"'},
            _invalid("Argument format not recognized", "x-amz-grant-write", 'fakekey="1234"'),
        ),
        (
            "grant-acl-wrong-id",
            {"GrantWrite": 'id="wrong-id"'},
            _invalid("Invalid id", "id", "wrong-id"),
        ),
        ("acp-acl-1", {"AccessControlPolicy": _acp(None, LOG_GROUP)}, MALFORMED_ACL),
        (
            "acp-acl-2",
            {"AccessControlPolicy": _acp(owner, LOG_GROUP, "WRONG-PERMISSION")},
            MALFORMED_ACL,
        ),
        (
            "acp-acl-3",
            {"AccessControlPolicy": _acp({"ID": "wrong-id"}, LOG_GROUP, "FULL_CONTROL")},
            _invalid("Invalid id", "CanonicalUser/ID", "wrong-id"),
        ),
        (
            "acp-acl-4",
            {
                "AccessControlPolicy": _acp(
                    owner, {"URI": FAKE_GROUP, "Type": "Group"}, "FULL_CONTROL"
                )
            },
            _invalid("Invalid group uri", "Group/URI", FAKE_GROUP),
        ),
        (
            "acp-acl-5",
            {
                "AccessControlPolicy": _acp(
                    owner, {"ID": "wrong-id", "Type": "CanonicalUser"}, "FULL_CONTROL"
                )
            },
            _invalid("Invalid id", "CanonicalUser/ID", "wrong-id"),
        ),
        (
            "acp-acl-6",
            {
                "AccessControlPolicy": _acp(
                    owner, {"ID": "wrong-id", "Type": "BadType"}, "FULL_CONTROL"
                )
            },
            MALFORMED_ACL,
        ),
        ("empty-acp", {"AccessControlPolicy": {}}, MALFORMED_ACL),
        (
            "empty",
            {},
            {
                "Code": "MissingSecurityHeader",
                "Message": "Your request was missing a required header",
                "MissingHeaderName": "x-amz-acl",
            },
        ),
        (
            "two-type-acl",
            {"ACL": "private", "GrantRead": f'uri="{LOG_DELIVERY}"'},
            {
                "Code": "InvalidRequest",
                "Message": "Specifying both Canned ACLs and Header Grants is not allowed",
            },
        ),
        (
            "two-type-acl-acp",
            {
                "ACL": "private",
                "AccessControlPolicy": _acp(owner, own, "FULL_CONTROL"),
            },
            {"Code": "UnexpectedContent", "Message": "This request does not support content"},
        ),
    ]


def test_put_bucket_acl_exceptions(s3, bucket, owner):
    """``test_s3_bucket_acl_exceptions``: ``put-bucket-grant-acl-fake-uri``,
    ``-fake-key``, ``-wrong-id``, ``put-bucket-acp-acl-1`` to ``-6``,
    ``put-bucket-empty-acp``, ``put-bucket-empty``, ``put-bucket-two-type-acl`` and
    ``put-bucket-two-type-acl-acp``."""
    before = s3.get_bucket_acl(Bucket=bucket)
    for key, request, error in _cases(owner):
        got = refused(s3.put_bucket_acl, Bucket=bucket, **request)
        assert got == (400, error), f"put-bucket-{key}"
    after = s3.get_bucket_acl(Bucket=bucket)
    assert after["Grants"] == before["Grants"]  # nothing was set


def test_put_object_acl_exceptions(s3, bucket, owner):
    """``test_s3_object_acl_exceptions``: ``put-object-grant-acl-fake-uri``,
    ``-fake-key``, ``-wrong-id``, ``put-object-acp-acl-1`` to ``-6``,
    ``put-object-empty-acp``, ``put-object-acl-empty``, ``put-object-two-type-acl`` and
    ``put-object-two-type-acl-acp``."""
    s3.put_object(Bucket=bucket, Key="object-key-acl", Body=b"x")
    before = s3.get_object_acl(Bucket=bucket, Key="object-key-acl")
    for key, request, error in _cases(owner):
        got = refused(s3.put_object_acl, Bucket=bucket, Key="object-key-acl", **request)
        assert got == (400, error), f"put-object-{key}"
    after = s3.get_object_acl(Bucket=bucket, Key="object-key-acl")
    assert after["Grants"] == before["Grants"]


def test_canned_acl_unknown(s3, bucket):
    """``put-bucket-canned-acl`` and ``put-object-acl-canned-acl``: InvalidArgument
    naming ``x-amz-acl``."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call, extra in ((s3.put_bucket_acl, {}), (s3.put_object_acl, {"Key": "k"})):
        status, error = refused(call, Bucket=bucket, ACL="fake-acl", **extra)
        assert status == 400
        assert error["Code"] == "InvalidArgument"
        assert (error["ArgumentName"], error["ArgumentValue"]) == ("x-amz-acl", "fake-acl")


def test_valid_acls_still_accepted(s3, owner):
    # The checks refuse only what AWS refuses: the owner's id, a known group, a document
    # with an Owner and no grants.
    name = open_bucket(s3, "acl")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    s3.put_bucket_acl(
        Bucket=name,
        GrantWrite=f'uri="{LOG_DELIVERY}"',
        GrantFullControl=f'id="{owner["ID"]}"',
    )
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert {g["Permission"] for g in grants} == {"WRITE", "FULL_CONTROL"}
    own = {"ID": owner["ID"], "Type": "CanonicalUser"}
    acp = {
        "Owner": owner,
        "Grants": [
            {"Grantee": own, "Permission": "FULL_CONTROL"},
            {"Grantee": LOG_GROUP, "Permission": "WRITE"},
        ],
    }
    s3.put_object_acl(Bucket=name, Key="k", AccessControlPolicy=acp)
    assert len(s3.get_object_acl(Bucket=name, Key="k")["Grants"]) == 2
    s3.put_object_acl(Bucket=name, Key="k", AccessControlPolicy={"Owner": owner, "Grants": []})
    assert s3.get_object_acl(Bucket=name, Key="k")["Grants"] == []


def test_put_object_acl_on_delete_marker(s3):
    """``test_put_object_acl_on_delete_marker``: with no VersionId, a key whose latest
    version is a delete marker is 405 MethodNotAllowed (Method PUT, ResourceType
    DeleteMarker); a version id still reaches the version."""
    name = open_bucket(s3, "acl")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=name, Key="k")
    status, error = refused(s3.put_object_acl, Bucket=name, Key="k", ACL="public-read")
    assert (status, error) == (
        405,
        {
            "Code": "MethodNotAllowed",
            "Message": "The specified method is not allowed against this resource.",
            "Method": "PUT",
            "ResourceType": "DeleteMarker",
        },
    )
    s3.put_object_acl(Bucket=name, Key="k", VersionId=version, ACL="public-read")
    grants = s3.get_object_acl(Bucket=name, Key="k", VersionId=version)["Grants"]
    assert len(grants) == 2
    status, error = refused(s3.put_object_acl, Bucket=name, Key="missing", ACL="private")
    assert (status, error["Code"]) == (404, "NoSuchKey")


def test_write_grant_headers_checked_as_put_acl(s3, owner):
    """Grant headers on PutObject, CopyObject and CreateMultipartUpload go through the
    checks Put*Acl's recorded cases show (on a bucket with ACLs enabled, where the
    headers are kept): nothing is written for a refused header, and a valid one is the
    new object's ACL."""
    name = open_bucket(s3, "acl")
    s3.put_object(Bucket=name, Key="src", Body=b"x")
    grant_cases = []  # objects have no WRITE grant: the same cases as GrantRead
    for key, request, error in _cases(owner):
        if key.startswith("grant-acl-"):
            if error["ArgumentName"] == "x-amz-grant-write":
                error = {**error, "ArgumentName": "x-amz-grant-read"}
            grant_cases.append((key, {"GrantRead": request["GrantWrite"]}, error))
    calls = (
        (s3.put_object, {"Key": "new", "Body": b"y"}),
        (s3.copy_object, {"Key": "new", "CopySource": {"Bucket": name, "Key": "src"}}),
        (s3.create_multipart_upload, {"Key": "new"}),
    )
    for call, extra in calls:
        for key, request, error in grant_cases:
            assert refused(call, Bucket=name, **extra, **request) == (400, error), key
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="new")
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads") is None
    s3.put_object(Bucket=name, Key="new", Body=b"y", GrantRead=f'uri="{LOG_DELIVERY}"')
    grants = s3.get_object_acl(Bucket=name, Key="new")["Grants"]
    assert {"Grantee": LOG_GROUP, "Permission": "READ"} in grants
