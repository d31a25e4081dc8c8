"""S3 ABAC for general purpose buckets and S3 Control's bucket tagging, with boto3 and
the AWS CLI: PutBucketAbac/GetBucketAbac, TagResource/UntagResource/ListTagsForResource
on the bucket's one tag set (which GetBucketTagging also reads), PutBucketTagging and
DeleteBucketTagging refused under ABAC, and in strict mode ``aws:ResourceTag``,
``s3:BucketTag``, ``aws:RequestTag`` and ``aws:TagKeys`` deciding requests."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique
from tests.services.test_iam_strict import doc, make_user

ACCOUNT = "000000000000"


def _error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _tags(listed: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in listed.get("Tags", listed.get("TagSet", []))}


def test_abac_status_and_the_buckets_one_tag_set(cloudlet_server):
    s3, control = cloudlet_server.client("s3"), cloudlet_server.client("s3control")
    bucket = unique("abac")
    s3.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"Tags": [{"Key": "team", "Value": "blue"}]},
    )
    arn = f"arn:aws:s3:::{bucket}"
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Disabled"}
    listed = control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)
    assert _tags(listed) == {"team": "blue"}
    # TagResource adds and replaces; GetBucketTagging reads the same set.
    control.tag_resource(
        AccountId=ACCOUNT,
        ResourceArn=arn,
        Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}],
    )
    assert _tags(s3.get_bucket_tagging(Bucket=bucket)) == {"team": "red", "env": "dev"}
    control.untag_resource(AccountId=ACCOUNT, ResourceArn=arn, TagKeys=["env", "absent"])
    assert _tags(control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)) == {
        "team": "red"
    }
    # Under ABAC the tags change only through S3 Control; GetBucketTagging still reads.
    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Enabled"})
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Enabled"}
    for call in (
        lambda: s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "green"}]}
        ),
        lambda: s3.delete_bucket_tagging(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == ("InvalidRequest", 400)
    assert _tags(s3.get_bucket_tagging(Bucket=bucket)) == {"team": "red"}
    control.untag_resource(AccountId=ACCOUNT, ResourceArn=arn, TagKeys=["team"])
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _error(exc) == ("NoSuchTagSet", 404)
    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Disabled"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert _tags(control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)) == {"k": "v"}


def test_what_s3_control_refuses(cloudlet_server):
    control = cloudlet_server.client("s3control")
    bucket = unique("abac-refused")
    cloudlet_server.client("s3").create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"
    cases = [
        ({"ResourceArn": "arn:aws:s3:::no-such-bucket-here"}, ("NoSuchResource", 404)),
        ({"AccountId": "111122223333"}, ("AccessDenied", 403)),
        (
            {"ResourceArn": f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/no-such-ap"},
            ("NoSuchResource", 404),
        ),
        (
            {"ResourceArn": f"arn:aws:s3-object-lambda:us-east-1:{ACCOUNT}:accesspoint/ol"},
            ("NotImplemented", 501),
        ),
    ]
    for extra, expected in cases:
        with pytest.raises(ClientError) as exc:
            control.list_tags_for_resource(**{"AccountId": ACCOUNT, "ResourceArn": arn, **extra})
        assert _error(exc) == expected, extra
    with pytest.raises(ClientError) as exc:
        control.tag_resource(
            AccountId=ACCOUNT, ResourceArn=arn, Tags=[{"Key": "aws:x", "Value": "v"}]
        )
    assert _error(exc) == ("InvalidTag", 400)
    too_many = [{"Key": f"k{n}", "Value": "v"} for n in range(51)]
    with pytest.raises(ClientError) as exc:
        control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn, Tags=too_many)
    assert _error(exc)[1] == 400
    assert "Tags" not in control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn) or (
        control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"] == []
    )
    # Another account's bucket is not found by this account.
    other = cloudlet_server.client(
        "s3control", aws_access_key_id="111122223333", aws_secret_access_key="x"
    )
    with pytest.raises(ClientError) as exc:
        other.list_tags_for_resource(AccountId="111122223333", ResourceArn=arn)
    assert _error(exc) == ("NoSuchResource", 404)


def test_a_directory_bucket_is_tagged_through_s3_control(cloudlet_server):
    s3, control = cloudlet_server.client("s3"), cloudlet_server.client("s3control")
    name = f"{unique('abacdir')}--use1-az4--x-s3"
    s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={
            "Location": {"Type": "AvailabilityZone", "Name": "use1-az4"},
            "Bucket": {"Type": "Directory", "DataRedundancy": "SingleAvailabilityZone"},
        },
    )
    arn = f"arn:aws:s3express:us-east-1:{ACCOUNT}:bucket/{name}"
    control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    assert _tags(control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)) == {"a": "b"}


def test_the_cli(cloudlet_server, aws):
    bucket = unique("abac-cli")
    cloudlet_server.client("s3").create_bucket(Bucket=bucket)
    aws("s3api", "put-bucket-abac", "--bucket", bucket, "--abac-status", "Status=Enabled")
    out = json.loads(aws("s3api", "get-bucket-abac", "--bucket", bucket).stdout)
    assert out["AbacStatus"]["Status"] == "Enabled"


def test_strict_mode_decides_by_the_buckets_tags_once_abac_is_on(strict_server):
    server = strict_server
    iam, root = server.client("iam"), server.client("s3")
    control = server.client("s3control")
    bucket = unique("abac-strict")
    root.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"Tags": [{"Key": "team", "Value": "blue"}]}
    )
    root.put_object(Bucket=bucket, Key="k", Body=b"data")
    arn = f"arn:aws:s3:::{bucket}"
    name, _key, client = make_user(server, iam)
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": arn,
                "Condition": {"StringEquals": {"s3:BucketTag/team": "blue"}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:TagResource",
                "Resource": arn,
                "Condition": {
                    "StringEquals": {"aws:RequestTag/project": "Trinity"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["project"]},
                },
            },
        ),
    )
    s3, user_control = client("s3"), client("s3control")

    def allowed(call) -> bool:
        try:
            call()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied", exc
            return False
        return True

    def get() -> bool:
        return allowed(lambda: s3.get_object(Bucket=bucket, Key="k"))

    def lists() -> bool:
        return allowed(lambda: s3.list_objects_v2(Bucket=bucket))

    # ABAC off: the tag conditions see no tags, so nothing is allowed.
    assert not get() and not lists()
    root.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Enabled"})
    assert get() and lists()
    control.tag_resource(AccountId=ACCOUNT, ResourceArn=arn, Tags=[{"Key": "team", "Value": "red"}])
    assert not get() and not lists()
    # TagResource itself is decided by the tags it sets.
    assert allowed(
        lambda: user_control.tag_resource(
            AccountId=ACCOUNT, ResourceArn=arn, Tags=[{"Key": "project", "Value": "Trinity"}]
        )
    )
    assert not allowed(
        lambda: user_control.tag_resource(
            AccountId=ACCOUNT, ResourceArn=arn, Tags=[{"Key": "project", "Value": "Other"}]
        )
    )
    assert not allowed(
        lambda: user_control.tag_resource(
            AccountId=ACCOUNT,
            ResourceArn=arn,
            Tags=[{"Key": "project", "Value": "Trinity"}, {"Key": "team", "Value": "blue"}],
        )
    )
    assert _tags(control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)) == {
        "team": "red",
        "project": "Trinity",
    }


def test_strict_mode_creates_tagged_buckets_as_the_policy_says(strict_server):
    """CreateBucket's tags need s3:TagResource, and aws:RequestTag/aws:TagKeys see them."""
    iam = strict_server.client("iam")
    name, _key, client = make_user(strict_server, iam)
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "s3:TagResource",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/project": "Trinity"}},
            },
        ),
    )
    s3 = client("s3")
    s3.create_bucket(Bucket=unique("abac-untagged"))  # no tags: CreateBucket alone
    for value, ok in (("Other", False), ("Trinity", True)):
        bucket = unique("abac-tagged")
        config = {"Tags": [{"Key": "project", "Value": value}]}
        if ok:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=config)
        else:
            with pytest.raises(ClientError) as exc:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=config)
            assert _error(exc) == ("AccessDenied", 403)
