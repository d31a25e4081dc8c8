"""Bucket configuration stored and returned with real boto3: policy, ACL, ownership,
public access block, encryption, tagging, logging, request payment, accelerate,
website, and object tagging; each with S3's "not configured" error."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error, open_bucket


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    """ACLs enabled and no public access block: these tests set public policies and ACLs."""
    return open_bucket(s3, "cfg")


def _fails(call, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error(exc)


def _open_policy(bucket: str) -> dict:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    statement["Resource"] = f"arn:aws:s3:::{bucket}/*"
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_policy(s3, bucket):
    assert _fails(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    assert _fails(s3.put_bucket_policy, Bucket=bucket, Policy="{not json") == (
        "MalformedPolicy",
        400,
    )
    policy = _open_policy(bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    s3.delete_bucket_policy(Bucket=bucket)
    assert _fails(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    assert _fails(s3.get_bucket_policy, Bucket=bname("missing")) == ("NoSuchBucket", 404)


INVALID_RESOURCE = "Policy has invalid resource"
NOT_APPLICABLE = "Action does not apply to any resource(s) in statement"
ACCOUNT = {"AWS": "arn:aws:iam::111122223333:root"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Resource": "*"}, INVALID_RESOURCE),
        ({"Resource": "arn:aws:s3:::another-bucket/*"}, INVALID_RESOURCE),
        ({"Resource": "arn:aws:sqs:us-east-1:111122223333:q"}, INVALID_RESOURCE),
        ({"Action": "ec2:RunInstances"}, "Policy has invalid action"),
        ({"Principal": {"AWS": "not-an-arn"}}, "Invalid principal in policy"),
        ({"Principal": {"AWS": "arn:aws:iam::123:user/nope"}}, "Invalid principal in policy"),
        ({"Action": "s3:PutObject", "Resource": "arn:aws:s3:::BUCKET"}, NOT_APPLICABLE),
        ({"Action": ["s3:GetObject", "s3:ListBucket"]}, NOT_APPLICABLE),
    ],
)
def test_policy_names_what_s3_knows(s3, bucket, change, message):
    """S3 refuses a policy naming resources outside the bucket, other services' actions,
    malformed principals, or actions that apply to none of the statement's resources
    (AWS's answers quoted in versity/versitygw#645, noobaa-core#10058)."""
    statement = {**OPEN_READ, "Principal": ACCOUNT, **change}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, statement))
    assert error(exc) == ("MalformedPolicy", 400)
    assert exc.value.response["Error"]["Message"] == message


@pytest.mark.parametrize(
    "change",
    [
        {"Action": "s3:*", "Resource": "arn:aws:s3:::BUCKET*"},
        {"Action": "s3:Get*", "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]},
        {
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": ["arn:aws:s3:::BUCKET/*", "arn:aws:s3:::BUCKET"],
        },
        {"Action": "s3:GetObjectVersion", "Resource": "arn:aws:s3:::BUCKET/logs/*"},
        {"Principal": {"AWS": ["111122223333", "arn:aws:sts::111122223333:assumed-role/r/s"]}},
        {"Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"}},
        {"Principal": {"AWS": "AROAEXAMPLEID12345678"}},
        {"Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject"},
        {"NotAction": "s3:DeleteObject", "Effect": "Deny"},
    ],
)
def test_policy_s3_takes(s3, bucket, change):
    statement = {**OPEN_READ, "Principal": ACCOUNT, **change}
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, statement))


def test_acl_canned_and_grants(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    owner = acl["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {(g["Grantee"].get("URI"), g["Permission"]) for g in grants} == {
        (None, "FULL_CONTROL"),
        ("http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
    }
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={
            "Owner": {"ID": owner},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "READ_ACP"}
            ],
        },
    )
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [(owner, "READ_ACP")]
    assert _fails(s3.put_bucket_acl, Bucket=bucket, ACL="nonsense")[1] == 400
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="authenticated-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert "AuthenticatedUsers" in grants[1]["Grantee"]["URI"]


@pytest.mark.parametrize(
    ("canned", "bucket_owner_gets"),
    [
        ("bucket-owner-read", "READ"),
        ("bucket-owner-full-control", "FULL_CONTROL"),
        ("private", None),
    ],
)
def test_another_accounts_object_is_its_own_with_the_bucket_owner_granted(
    aws_client, canned, bucket_owner_gets
):
    """ceph/s3-tests' ``object_acl_canned_bucketowner*``: in a bucket another account may
    write to, the writer owns its object, and the ``bucket-owner-*`` canned ACLs grant
    the bucket's owner too (the canned ACL table of the S3 user guide)."""
    owner = aws_client("s3", aws_access_key_id="111111111111")
    writer = aws_client("s3", aws_access_key_id="222222222222")
    name = bname("shared")
    owner.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    owner.delete_public_access_block(Bucket=name)
    owner.put_bucket_acl(Bucket=name, ACL="public-read-write")
    writer.put_object(Bucket=name, Key="k", Body=b"x", ACL=canned)
    acl = writer.get_object_acl(Bucket=name, Key="k")
    writer_id = writer.list_buckets()["Owner"]["ID"]
    bucket_owner_id = owner.list_buckets()["Owner"]["ID"]
    assert writer_id != bucket_owner_id
    assert acl["Owner"]["ID"] == writer_id
    grants = [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]]
    extra = [] if bucket_owner_gets is None else [(bucket_owner_id, bucket_owner_gets)]
    assert grants == [(writer_id, "FULL_CONTROL"), *extra]


def test_email_grantees_are_refused(s3, bucket):
    """S3 stopped taking email grantees on 1 October 2025: 405 (Put*Acl's end-of-support
    notice), in a document or a grant header alike."""
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    email = {"Type": "AmazonCustomerByEmail", "EmailAddress": "someone@example.com"}
    document = {"Owner": {"ID": owner}, "Grants": [{"Grantee": email, "Permission": "READ"}]}
    assert _fails(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=document) == (
        "MethodNotAllowed",
        405,
    )
    grant = 'emailAddress="someone@example.com"'
    assert _fails(s3.put_object, Bucket=bucket, Key="k", Body=b"x", GrantRead=grant) == (
        "MethodNotAllowed",
        405,
    )
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == ["FULL_CONTROL"]


def test_ownership_and_public_access_block(s3, bucket):
    got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert got["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]  # CreateBucket's header
    rules = {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == rules
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert _fails(s3.get_bucket_ownership_controls, Bucket=bucket) == (
        "OwnershipControlsNotFoundError",
        404,
    )

    assert _fails(s3.get_public_access_block, Bucket=bucket) == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == block
    s3.delete_public_access_block(Bucket=bucket)
    assert _fails(s3.get_public_access_block, Bucket=bucket)[1] == 404


def test_encryption_defaults_to_sse_s3(s3, bucket):
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    kms = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "alias/mine",
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=kms)
    # Since April 2026 every configuration carries the bucket's block of SSE-C writes.
    kms["Rules"][0]["BlockedEncryptionTypes"] = {"EncryptionType": ["SSE-C"]}
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == kms
    s3.delete_bucket_encryption(Bucket=bucket)
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_bucket_tagging(s3, bucket):
    assert _fails(s3.get_bucket_tagging, Bucket=bucket) == ("NoSuchTagSet", 404)
    tags = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    dup = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    assert _fails(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": dup}) == (
        "InvalidTag",
        400,
    )
    s3.delete_bucket_tagging(Bucket=bucket)
    assert _fails(s3.get_bucket_tagging, Bucket=bucket)[0] == "NoSuchTagSet"


def test_logging_payment_accelerate_website(s3, bucket):
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    target = bname("logs")
    s3.create_bucket(Bucket=target)
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "l/"}},
    )
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": target,
        "TargetPrefix": "l/",
    }
    assert (
        _fails(
            s3.put_bucket_logging,
            Bucket=bucket,
            BucketLoggingStatus={
                "LoggingEnabled": {"TargetBucket": bname("no"), "TargetPrefix": ""}
            },
        )[0]
        == "InvalidTargetBucketForLogging"
    )
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)

    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"

    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(
        Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"}
    )
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    # A dotted bucket is refused before its document is read (AWS-recorded
    # put-bucket-accelerate-config-dot-bucket, sent with Status "random").
    dotted = f"{bucket}.dotted"
    s3.create_bucket(Bucket=dotted)
    assert _fails(
        s3.put_bucket_accelerate_configuration,
        Bucket=dotted,
        AccelerateConfiguration={"Status": "random"},
    ) == ("InvalidRequest", 400)

    assert _fails(s3.get_bucket_website, Bucket=bucket) == ("NoSuchWebsiteConfiguration", 404)
    site = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=site)
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == site["IndexDocument"]
    assert got["ErrorDocument"] == site["ErrorDocument"]
    s3.delete_bucket_website(Bucket=bucket)
    assert _fails(s3.get_bucket_website, Bucket=bucket)[0] == "NoSuchWebsiteConfiguration"


def test_configuration_goes_with_the_bucket(s3):
    name = open_bucket(s3, "gone")
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(_open_policy(name)))
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert _fails(s3.get_bucket_tagging, Bucket=name)[0] == "NoSuchTagSet"
    assert _fails(s3.get_bucket_policy, Bucket=name)[0] == "NoSuchBucketPolicy"


def test_bucket_tagging_and_policy_puts_answer_204(s3, bucket):
    """S3 answers PutBucketTagging and PutBucketPolicy 204 No Content (boto 2's
    ``Bucket.set_tags`` fails on anything else)."""
    out = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    policy = _policy(bucket, ACCOUNT_READ)
    out = s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tags
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    too_many = [{"Key": f"k{i}", "Value": ""} for i in range(11)]
    assert _fails(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": too_many}) == (
        "BadRequest",
        400,
    )
    assert _fails(s3.get_object_tagging, Bucket=bucket, Key="nope")[0] == "NoSuchKey"
    # x-amz-tagging on PutObject.
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=data&env=a%20b")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "team", "Value": "data"},
        {"Key": "env", "Value": "a b"},
    ]
    # GET and HEAD say how many tags an object has (x-amz-tagging-count), when it has any.
    assert s3.head_object(Bucket=bucket, Key="t")["TagCount"] == 2
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    # A bad x-amz-tagging refuses the whole PutObject: no object without its tags.
    header = "&".join(f"k{i}=v" for i in range(11))
    assert _fails(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", Tagging=header) == (
        "BadRequest",
        400,
    )
    assert _fails(s3.head_object, Bucket=bucket, Key="bad")[1] == 404


def test_object_tagging_by_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    out = s3.put_object_tagging(
        Bucket=bucket, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "old", "Value": "y"}]}
    )
    assert out["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    got = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert got["TagSet"] == [{"Key": "old", "Value": "y"}]


def _policy(bucket: str, *statements: dict) -> str:
    """A policy of ``statements`` on ``bucket`` (``BUCKET`` in a resource names it)."""

    def named(statement: dict) -> dict:
        out = json.loads(json.dumps(statement).replace("BUCKET", bucket))
        return {k: v for k, v in out.items() if k != "Action" or "NotAction" not in out}

    return json.dumps({"Version": "2012-10-17", "Statement": [named(s) for s in statements]})


OPEN_READ = {
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::BUCKET/*",
}
ACCOUNT_READ = {**OPEN_READ, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}


@pytest.mark.parametrize(
    ("statements", "public"),
    [
        ([OPEN_READ], True),
        ([{**OPEN_READ, "Principal": {"AWS": "*"}}], True),
        ([ACCOUNT_READ], False),
        ([{**OPEN_READ, "Effect": "Deny"}], False),
        # Fixed values of the listed condition keys make an open grant non-public...
        ([{**OPEN_READ, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}], False),
        ([{**OPEN_READ, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b"}}}], False),
        # ... but not open ranges, wildcards, negations or other keys.
        ([{**OPEN_READ, "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}], True),
        ([{**OPEN_READ, "Condition": {"StringLike": {"aws:SourceVpce": "vpce-*"}}}], True),
        ([{**OPEN_READ, "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}], True),
        ([{**OPEN_READ, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], True),
        ([ACCOUNT_READ, OPEN_READ], True),
    ],
)
def test_bucket_policy_status(s3, bucket, statements, public):
    assert _fails(s3.get_bucket_policy_status, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, *statements))
    status = s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]
    assert status == {"IsPublic": public}


def test_block_public_access_refuses_public_policies_and_acls(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "BlockPublicAcls": True},
    )
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, OPEN_READ))
    assert error(exc) == ("AccessDenied", 403)
    assert exc.value.response["Error"]["Message"].endswith(
        f'on resource: "arn:aws:s3:::{bucket}" because public policies are blocked by the '
        "BlockPublicPolicy block public access setting."
    )
    assert _fails(s3.get_bucket_policy, Bucket=bucket)[0] == "NoSuchBucketPolicy"
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, ACCOUNT_READ))  # not public: fine
    for call, kw in (
        (s3.put_bucket_acl, {"ACL": "public-read"}),
        (s3.put_object_acl, {"Key": "k", "ACL": "authenticated-read"}),
        (s3.put_object, {"Key": "new", "Body": b"x", "ACL": "public-read-write"}),
        (
            s3.put_object,
            {
                "Key": "new",
                "Body": b"x",
                "GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
            },
        ),
    ):
        assert _fails(call, Bucket=bucket, **kw) == ("AccessDenied", 403)
    assert _fails(s3.head_object, Bucket=bucket, Key="new")[1] == 404
    # Private ACLs still go through, and a write's ACL is the object's ACL.
    s3.put_object(Bucket=bucket, Key="mine", Body=b"x", ACL="bucket-owner-full-control")
    grants = s3.get_object_acl(Bucket=bucket, Key="mine")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]

    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, OPEN_READ))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.put_object(Bucket=bucket, Key="open", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="open")["Grants"]
    assert {g["Grantee"].get("URI") for g in grants} >= {
        "http://acs.amazonaws.com/groups/global/AllUsers"
    }


ALL_USERS_READ = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def test_new_buckets_block_public_access_and_disable_acls(s3):
    """AWS's defaults since April 2023: every public access block flag on, and
    ACLs disabled (BucketOwnerEnforced) unless CreateBucket asks otherwise."""
    name = bname("dflt")
    s3.create_bucket(Bucket=name)
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True} and len(block) == 4
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert _fails(s3.put_bucket_policy, Bucket=name, Policy=json.dumps(_open_policy(name)))[0] == (
        "AccessDenied"
    )

    # ACLs disabled: a write may name the owner's full control or no ACL, nothing else.
    s3.put_object(Bucket=name, Key="plain", Body=b"x")
    s3.put_object(Bucket=name, Key="owned", Body=b"x", ACL="bucket-owner-full-control")
    not_supported = ("AccessControlListNotSupported", 400)
    for call, kw in (
        (s3.put_object, {"Key": "k", "Body": b"x", "ACL": "public-read"}),
        (s3.put_object, {"Key": "k", "Body": b"x", "ACL": "private"}),
        (s3.put_object, {"Key": "k", "Body": b"x", "GrantRead": ALL_USERS_READ}),
        (s3.copy_object, {"Key": "k", "CopySource": f"{name}/plain", "ACL": "public-read"}),
        (s3.create_multipart_upload, {"Key": "k", "ACL": "authenticated-read"}),
        (s3.put_bucket_acl, {"ACL": "public-read"}),
        (s3.put_object_acl, {"Key": "plain", "ACL": "public-read"}),
    ):
        assert _fails(call, Bucket=name, **kw) == not_supported
    assert _fails(s3.head_object, Bucket=name, Key="k")[1] == 404
    s3.put_bucket_acl(Bucket=name, ACL="bucket-owner-full-control")
    for acl in (s3.get_bucket_acl(Bucket=name), s3.get_object_acl(Bucket=name, Key="plain")):
        assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]

    # CreateBucket's own ACL must fit the ownership and the public access block.
    public = {"Bucket": bname("dflt"), "ACL": "public-read"}
    assert _fails(s3.create_bucket, **public) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert _fails(s3.create_bucket, **public, ObjectOwnership="ObjectWriter") == (
        "InvalidBucketAclWithBlockPublicAccessError",
        400,
    )
    assert _fails(s3.head_bucket, Bucket=public["Bucket"])[1] == 404
    s3.create_bucket(Bucket=public["Bucket"], ACL="private")
    shared = bname("dflt")
    s3.create_bucket(Bucket=shared, ObjectOwnership="ObjectWriter", ACL="log-delivery-write")
    assert len(s3.get_bucket_acl(Bucket=shared)["Grants"]) == 3
    enforce = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert _fails(s3.put_bucket_ownership_controls, Bucket=shared, OwnershipControls=enforce) == (
        "InvalidBucketAclWithObjectOwnership",
        400,
    )


def test_recreating_ones_own_bucket_in_us_east_1_sets_its_acl(s3):
    """S3's legacy us-east-1 rule: CreateBucket of a bucket one already owns there
    succeeds, and an ACL in it is set on the bucket by the same rules as at creation."""
    name = open_bucket(s3, "again")
    s3.create_bucket(Bucket=name, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert "http://acs.amazonaws.com/groups/global/AllUsers" in {
        g["Grantee"].get("URI") for g in grants
    }
    # Without one, the ACL is reset ("returns 200 OK and resets the bucket access control
    # lists", BucketAlreadyOwnedByYou's description; ceph/s3-tests' bucket_recreate_*).
    s3.create_bucket(Bucket=name)
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=name)["Grants"]] == ["FULL_CONTROL"]
    default = bname("again")
    s3.create_bucket(Bucket=default)
    assert _fails(s3.create_bucket, Bucket=default, ACL="public-read") == (
        "InvalidBucketAclWithObjectOwnership",
        400,
    )
