"""Strict mode: bucket policies whose conditions name S3's own keys, and the root.

The policies are AWS's documented examples ("Bucket policy examples using
condition keys" in the S3 user guide) and the conditions of ceph/s3-tests'
``test_bucket_policy_*`` cases: require SSE, tag-based reads, copy-source
prefixes, required ACLs. An explicit Deny in a bucket policy applies to the
account root too, except for the bucket policy operations themselves (S3's
lockout protection).
"""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, error, iam_user_s3


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(auth="strict")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def root(server):
    return server.client("s3")


@pytest.fixture(scope="module")
def user(server):
    """An IAM user whose own policy allows all of S3: only the bucket policy limits it."""
    return iam_user_s3(server, "s3:*", prefix="cond-user")[0]


def with_policy(root, *statements: dict) -> str:
    """A new bucket with a policy of ``statements`` (to everyone), ``BUCKET`` its name."""
    bucket = bname("cond")
    root.create_bucket(Bucket=bucket)
    for st in statements:
        st.setdefault("Principal", "*")
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    root.put_bucket_policy(Bucket=bucket, Policy=document.replace("BUCKET", bucket))
    return bucket


def denied(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    assert error(exc) == ("AccessDenied", 403)
    return exc.value.response["Error"]["Message"]


def test_require_sse_denies_uploads_without_it_and_takes_those_with_it(root, user):
    bucket = with_policy(
        root,
        {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::BUCKET/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
        },
    )
    user.put_object(Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="AES256")
    denied(lambda: user.put_object(Bucket=bucket, Key="b", Body=b"x"))
    denied(
        lambda: user.put_object(Bucket=bucket, Key="c", Body=b"x", ServerSideEncryption="aws:kms")
    )
    keys = [o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["a"]


def test_an_explicit_deny_binds_the_root_but_not_for_the_bucket_policy_itself(server, root):
    bucket = with_policy(
        root,
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::BUCKET"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::BUCKET/*"},
    )
    message = denied(lambda: root.put_object(Bucket=bucket, Key="k", Body=b"x"))
    assert message == (
        "User: arn:aws:iam::000000000000:root is not authorized to perform: s3:PutObject"
        f' on resource: "arn:aws:s3:::{bucket}/k" with an explicit deny in a resource-based policy'
    )
    denied(lambda: root.list_objects_v2(Bucket=bucket))
    # Lockout protection: the owner may still read, replace and delete the policy.
    assert json.loads(root.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    root.delete_bucket_policy(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_the_root_is_the_account_principal_type(root):
    bucket = with_policy(
        root,
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::BUCKET/*",
            "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}},
        },
    )
    root.put_object(Bucket=bucket, Key="k", Body=b"x")
    denied(lambda: root.get_object(Bucket=bucket, Key="k"))


def test_existing_object_tags_decide_reads(root, user):
    bucket = with_policy(
        root,
        {
            "Effect": "Deny",
            "Action": ["s3:GetObject", "s3:GetObjectTagging"],
            "Resource": "arn:aws:s3:::BUCKET/*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/secret": "yes"}},
        },
    )
    root.put_object(Bucket=bucket, Key="open", Body=b"x", Tagging="secret=no")
    root.put_object(Bucket=bucket, Key="closed", Body=b"x", Tagging="secret=yes")
    assert user.get_object(Bucket=bucket, Key="open")["Body"].read() == b"x"
    denied(lambda: user.get_object(Bucket=bucket, Key="closed"))
    denied(lambda: user.get_object_tagging(Bucket=bucket, Key="closed"))
    # Re-tagged, the object is readable: the tags are read at each request.
    root.put_object_tagging(
        Bucket=bucket, Key="closed", Tagging={"TagSet": [{"Key": "secret", "Value": "no"}]}
    )
    assert user.get_object(Bucket=bucket, Key="closed")["Body"].read() == b"x"


def test_request_object_tags_and_their_keys(root, user):
    bucket = with_policy(
        root,
        {
            "Effect": "Deny",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": "arn:aws:s3:::BUCKET/*",
            "Condition": {"StringNotEquals": {"s3:RequestObjectTag/team": "blue"}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:PutObjectTagging",
            "Resource": "arn:aws:s3:::BUCKET/*",
            "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "forbidden"}},
        },
    )
    user.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=blue")
    denied(lambda: user.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=red"))
    denied(lambda: user.put_object(Bucket=bucket, Key="k", Body=b"x"))
    blue = {"Key": "team", "Value": "blue"}
    user.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [blue]})
    more = [blue, {"Key": "forbidden", "Value": "1"}]
    denied(lambda: user.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": more}))


def test_copy_source_and_metadata_directive(root, user):
    bucket = with_policy(
        root,
        {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::BUCKET/copies/*",
            "Condition": {"StringNotLike": {"s3:x-amz-copy-source": "BUCKET/public/*"}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::BUCKET/copies/*",
            "Condition": {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}},
        },
    )
    root.put_object(Bucket=bucket, Key="public/a b", Body=b"x")
    root.put_object(Bucket=bucket, Key="private/b", Body=b"x")
    user.copy_object(Bucket=bucket, Key="copies/1", CopySource=f"{bucket}/public/a b")
    denied(
        lambda: user.copy_object(Bucket=bucket, Key="copies/2", CopySource=f"{bucket}/private/b")
    )
    denied(
        lambda: user.copy_object(
            Bucket=bucket,
            Key="copies/3",
            CopySource=f"{bucket}/public/a b",
            MetadataDirective="REPLACE",
            Metadata={"k": "v"},
        )
    )


def test_required_acl_and_signature_version(server, root, user):
    bucket = bname("cond")
    root.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    root.delete_public_access_block(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
            },
        ],
    }
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    user.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    denied(lambda: user.put_object(Bucket=bucket, Key="k", Body=b"x"))
    assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    v2 = server.client("s3", config=Config(signature_version="s3"))
    denied(lambda: v2.get_object(Bucket=bucket, Key="k"))
