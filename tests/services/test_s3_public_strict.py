"""Strict mode and anonymous S3 callers, with an unsigned boto3 client.

AWS lets an unsigned request do what the bucket makes public and nothing else:
a bucket policy granting ``"Principal": "*"`` (unless RestrictPublicBuckets is
on), or an ACL grant to AllUsers (unless IgnorePublicAcls is on or ACLs are
disabled by BucketOwnerEnforced). An explicit Deny wins; everything else is 403
AccessDenied. Other services still refuse unsigned requests.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, error, iam_user_s3, open_bucket


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(auth="strict")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def owner(server):
    return server.client("s3")


@pytest.fixture
def anonymous(server):
    return server.client("s3", config=Config(signature_version=UNSIGNED))


def denied(call) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert error(exc) == ("AccessDenied", 403)
    assert exc.value.response["Error"]["Message"] == "Access Denied"


def bucket_with_object(owner, **put) -> str:
    bucket = open_bucket(owner, "pub")
    owner.put_object(Bucket=bucket, Key="site/index.html", Body=b"<h1>hi</h1>", **put)
    owner.put_object(Bucket=bucket, Key="secret/key.txt", Body=b"s3cr3t")
    return bucket


def anyone(effect: str, bucket: str, keys: str) -> dict:
    """A statement that allows or denies s3:GetObject on ``keys`` to everyone."""
    return {
        "Effect": effect,
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{keys}",
    }


def read_policy(bucket: str, *extra: dict, keys: str = "*") -> str:
    statements = [anyone("Allow", bucket, keys), *extra]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def block_only(owner, bucket: str, flag: str) -> None:
    """A public access block with ``flag`` on and the other three off."""
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    owner.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={f: f == flag for f in flags}
    )


def test_a_private_bucket_refuses_anonymous_callers(owner, anonymous):
    bucket = bucket_with_object(owner)
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))
    denied(lambda: anonymous.list_objects_v2(Bucket=bucket))
    denied(lambda: anonymous.put_object(Bucket=bucket, Key="x", Body=b"x"))
    denied(lambda: anonymous.delete_object(Bucket=bucket, Key="site/index.html"))
    denied(lambda: anonymous.list_buckets())
    denied(lambda: anonymous.create_bucket(Bucket=bname("anon")))
    assert owner.get_object(Bucket=bucket, Key="site/index.html")["Body"].read() == b"<h1>hi</h1>"


def test_a_public_read_policy_lets_anyone_read_and_nothing_more(owner, anonymous):
    bucket = bucket_with_object(owner)
    deny_secret = anyone("Deny", bucket, "secret/*")
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket, deny_secret))
    got = anonymous.get_object(Bucket=bucket, Key="site/index.html")
    assert got["Body"].read() == b"<h1>hi</h1>"
    assert anonymous.head_object(Bucket=bucket, Key="site/index.html")["ContentLength"] == 11
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="secret/key.txt"))  # Deny wins
    denied(lambda: anonymous.list_objects_v2(Bucket=bucket))
    denied(lambda: anonymous.put_object(Bucket=bucket, Key="site/evil.html", Body=b"x"))
    denied(lambda: anonymous.get_bucket_policy(Bucket=bucket))
    # The response-* overrides need a signed request (or a presigned URL).
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=bucket, Key="site/index.html", ResponseContentType="x/y")
    assert error(exc) == ("InvalidRequest", 400)
    assert exc.value.response["Error"]["Message"] == (
        "Request specific response headers cannot be used for anonymous GET requests."
    )
    signed = owner.get_object(Bucket=bucket, Key="site/index.html", ResponseContentType="x/y")
    assert signed["ContentType"] == "x/y"


def test_a_missing_key_is_404_only_to_those_who_may_list(owner, anonymous):
    bucket = bucket_with_object(owner)
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket))
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="site/missing.html"))
    listing = {**anyone("Allow", bucket, ""), "Action": "s3:ListBucket"}
    listing["Resource"] = f"arn:aws:s3:::{bucket}"
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket, listing))
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=bucket, Key="site/missing.html")
    assert error(exc) == ("NoSuchKey", 404)


def test_a_missing_bucket_is_404_to_anonymous_callers(server, anonymous):
    """No bucket, nothing to keep anyone out: NoSuchBucket, as LocalStack's
    AWS-validated ``test_bucket_does_not_exist`` gets for an unsigned GET. Creating a
    bucket is still refused."""
    missing = bname("nobody")
    for call in (
        lambda: anonymous.list_objects_v2(Bucket=missing),
        lambda: anonymous.get_object(Bucket=missing, Key="k"),
        lambda: anonymous.put_object(Bucket=missing, Key="k", Body=b"x"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("NoSuchBucket", 404)
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(f"{server.endpoint}/{missing}", timeout=10)
    assert plain.value.code == 404
    denied(lambda: anonymous.create_bucket(Bucket=missing))


def test_restrict_public_buckets_shuts_a_public_policy_off(owner, anonymous):
    bucket = bucket_with_object(owner)
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket))
    block_only(owner, bucket, "RestrictPublicBuckets")
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))
    assert owner.get_object(Bucket=bucket, Key="site/index.html")["Body"].read()
    owner.delete_public_access_block(Bucket=bucket)
    assert anonymous.get_object(Bucket=bucket, Key="site/index.html")["Body"].read()


def test_public_acls_grant_until_ignored_or_disabled(owner, anonymous):
    bucket = bucket_with_object(owner, ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="site/index.html")["Body"].read()
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="secret/key.txt"))  # private
    denied(lambda: anonymous.list_objects_v2(Bucket=bucket))
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="missing"))
    owner.put_bucket_acl(Bucket=bucket, ACL="public-read")
    keys = [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["secret/key.txt", "site/index.html"]
    # Whoever may list the bucket learns that a key is missing (ceph/s3-tests'
    # object_raw_get_object_gone and cors_origin_response).
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=bucket, Key="missing")
    assert error(exc) == ("NoSuchKey", 404)
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="secret/key.txt"))
    denied(lambda: anonymous.put_object(Bucket=bucket, Key="upload.txt", Body=b"x"))
    owner.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    anonymous.put_object(Bucket=bucket, Key="upload.txt", Body=b"from anyone")
    assert owner.get_object(Bucket=bucket, Key="upload.txt")["Body"].read() == b"from anyone"

    block_only(owner, bucket, "IgnorePublicAcls")
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))
    denied(lambda: anonymous.list_objects_v2(Bucket=bucket))
    owner.delete_public_access_block(Bucket=bucket)
    assert anonymous.get_object(Bucket=bucket, Key="site/index.html")["Body"].read()

    owner.put_bucket_acl(Bucket=bucket, ACL="private")  # AWS's condition for disabling ACLs
    owner.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))  # object's ACL


def test_signed_callers_get_what_the_acls_grant_to_everyone_or_to_signed_callers(
    server, owner, anonymous
):
    """An IAM user with no policies of its own gets what an ACL grants the AllUsers or
    AuthenticatedUsers group (S3 evaluates the bucket owner's ACLs with its policies),
    unless ignored, disabled or explicitly denied; the owner account's own grant gives
    it nothing (ceph/s3-tests' ``test_access_bucket_*`` cases, with an IAM user)."""
    user, _ = iam_user_s3(server, prefix="acl-user")
    bucket = bucket_with_object(owner, ACL="public-read")
    assert user.get_object(Bucket=bucket, Key="site/index.html")["Body"].read()
    with pytest.raises(ClientError) as exc:  # a private object
        user.get_object(Bucket=bucket, Key="secret/key.txt")
    assert error(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError):
        user.list_objects_v2(Bucket=bucket)
    owner.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    assert user.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    denied(lambda: anonymous.list_objects_v2(Bucket=bucket))  # signed callers only
    with pytest.raises(ClientError) as exc:
        user.get_object(Bucket=bucket, Key="missing")
    assert error(exc) == ("NoSuchKey", 404)
    owner.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    user.put_object(Bucket=bucket, Key="from-user", Body=b"x")
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    owner.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )
    with pytest.raises(ClientError) as exc:
        user.put_object(Bucket=bucket, Key="from-user", Body=b"y")
    assert "explicit deny" in exc.value.response["Error"]["Message"]
    owner.delete_bucket_policy(Bucket=bucket)
    block_only(owner, bucket, "IgnorePublicAcls")
    with pytest.raises(ClientError) as exc:
        user.list_objects_v2(Bucket=bucket)
    assert error(exc) == ("AccessDenied", 403)
    owner.delete_public_access_block(Bucket=bucket)
    owner.put_bucket_acl(Bucket=bucket, ACL="private")
    with pytest.raises(ClientError) as exc:  # the owner account's FULL_CONTROL is not the user's
        user.list_objects_v2(Bucket=bucket)
    assert error(exc) == ("AccessDenied", 403)


def test_policy_conditions_see_the_anonymous_request(server, owner):
    bucket = bucket_with_object(owner)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/site/*",
                "Condition": {"StringLike": {"aws:Referer": "http://example.com/*"}},
            }
        ],
    }
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    url = f"{server.endpoint}/{bucket}/site/index.html"
    request = urllib.request.Request(url, headers={"Referer": "http://example.com/page"})
    with urllib.request.urlopen(request) as page:
        assert page.read() == b"<h1>hi</h1>"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url)
    assert exc.value.code == 403
    assert b"<Code>AccessDenied</Code>" in exc.value.read()


def test_other_services_still_refuse_unsigned_requests(server):
    sqs = server.client("sqs", config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as exc:
        sqs.list_queues()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _page(server, bucket: str, path: str) -> tuple[int, bytes]:
    url = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": f"{bucket}.s3-website.localhost:{url.port}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_website_serves_only_what_anyone_may_read(server, owner):
    bucket = bucket_with_object(owner)
    owner.put_object(Bucket=bucket, Key="404.html", Body=b"lost")
    owner.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "404.html"},
        },
    )
    status, body = _page(server, bucket, "/site/")
    assert status == 403 and b"AccessDenied" in body
    assert _page(server, bucket, "/nowhere")[0] == 404  # the error page is not public either
    public_error_page = anyone("Allow", bucket, "404.html")
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket, public_error_page))
    assert _page(server, bucket, "/site/") == (200, b"<h1>hi</h1>")
    assert _page(server, bucket, "/nowhere") == (404, b"lost")
    owner.put_bucket_policy(Bucket=bucket, Policy=read_policy(bucket, keys="site/*"))
    assert _page(server, bucket, "/site/")[0] == 200
    assert _page(server, bucket, "/secret/key.txt")[0] == 403


def test_mfa_delete_is_for_the_root_alone(server, owner):
    """With MFA delete on, an IAM user allowed everything still may not delete a version
    with a code: "This operation may only be performed by the bucket owner" (AWS's
    answer as quoted in public write-ups); the account's root may."""
    bucket = bname("mfa")
    owner.create_bucket(Bucket=bucket)
    mfa = "arn:aws:iam::000000000000:mfa/root-account-mfa-device 123456"
    owner.put_bucket_versioning(
        Bucket=bucket,
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA=mfa,
    )
    version = owner.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    as_user, _ = iam_user_s3(server, "*", prefix="mfa-user")
    with pytest.raises(ClientError) as exc:
        as_user.delete_object(Bucket=bucket, Key="k", VersionId=version, MFA=mfa)
    assert error(exc) == ("AccessDenied", 403)
    message = exc.value.response["Error"]["Message"]
    assert message == "This operation may only be performed by the bucket owner"
    owner.delete_object(Bucket=bucket, Key="k", VersionId=version, MFA=mfa)
