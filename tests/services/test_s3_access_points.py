"""S3 access points for general purpose buckets, with boto3 and the AWS CLI: S3 Control's
access point operations and their errors; objects through an access point's ARN (boto3
sends those to ``<name>-<account>.<endpoint host>``, ``CloudletServer.client`` puts that
name in the Host header) and through its alias, seen in the bucket; what an access point
does not let through; access point policies in strict mode, alone and delegated to by
the bucket policy; BlockPublicPolicy; tags; durability across a restart; the AWS CLI with
cloudlet's plugin."""

from __future__ import annotations

import json
import re

import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.awscli_plugin import prefixed_host_as_header
from cloudlet.gateway.detect import bucket_from_host
from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, error, wait_until
from tests.services.test_iam_strict import doc, make_user

ACCOUNT = "000000000000"
OTHER = "111122223333"
ALIAS = re.compile(r"[a-z0-9-]{1,20}-[a-z0-9]{29}use1[a-z]-s3alias")


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


@pytest.fixture
def control(cloudlet_server):
    return cloudlet_server.client("s3control")


def _point(control, s3, prefix: str = "ap", **create) -> tuple[str, str, str, str]:
    """A new bucket and an access point to it: (bucket, name, ARN, alias)."""
    bucket = bname(prefix)
    s3.create_bucket(Bucket=bucket)
    name = bname(prefix)
    made = control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=bucket, **create)
    return bucket, name, made["AccessPointArn"], made["Alias"]


def _keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_prefixed_hosts(cloudlet_server):
    """The gateway reads a name in front of an IPv4 address as S3's bucket segment; the
    client hook sends such requests to the bare address with the name in ``Host``, and
    leaves everything else (presigned URLs included) alone."""
    assert bucket_from_host("myap-123456789012.127.0.0.1:4566") == "myap-123456789012"
    assert bucket_from_host("127.0.0.1:4566") is None
    request = AWSRequest("GET", "http://myap-123456789012.127.0.0.1:4566/k?x=1")
    prefixed_host_as_header(request, signature_version="s3v4")
    assert request.url == "http://127.0.0.1:4566/k?x=1"
    assert request.headers["Host"] == "myap-123456789012.127.0.0.1:4566"
    for url, version in (
        ("http://127.0.0.1:4566/bucket/k", "s3v4"),
        ("http://localhost:4566/bucket/k", "s3v4"),
        ("http://myap-123456789012.127.0.0.1:4566/k", "s3v4-query"),
    ):
        request = AWSRequest("GET", url)
        prefixed_host_as_header(request, signature_version=version)
        assert request.url == url and "Host" not in request.headers
    # and on the wire: boto3's own request, seen as sent
    s3 = cloudlet_server.client("s3")
    sent: list = []
    s3.meta.events.register("before-send", lambda request, **_: sent.append(request))
    arn = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/{bname('nope')}"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=arn, Key="k")
    assert sent[-1].url.startswith(cloudlet_server.endpoint + "/k")
    assert sent[-1].headers["Host"].decode().endswith(".127.0.0.1:" + str(cloudlet_server.port))


def test_lifecycle_and_errors(s3, control):
    bucket, name, arn, alias = _point(control, s3, "life")
    assert arn == f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/{name}"
    assert ALIAS.fullmatch(alias) and alias.startswith(name[:20] + "-") and len(alias) <= 63
    got = control.get_access_point(AccountId=ACCOUNT, Name=name)
    assert (got["Name"], got["Bucket"], got["NetworkOrigin"]) == (name, bucket, "Internet")
    assert got["Alias"] == alias and got["AccessPointArn"] == arn
    assert got["BucketAccountId"] == ACCOUNT and "CreationDate" in got
    assert set(got["PublicAccessBlockConfiguration"].values()) == {True}
    assert got["Endpoints"]["ipv4"] == "s3-accesspoint.us-east-1.amazonaws.com"

    second = bname("life")
    control.create_access_point(AccountId=ACCOUNT, Name=second, Bucket=bucket)
    listed = control.list_access_points(AccountId=ACCOUNT, Bucket=bucket, MaxResults=1)
    assert [p["Name"] for p in listed["AccessPointList"]] == sorted([name, second])[:1]
    rest = control.list_access_points(
        AccountId=ACCOUNT, Bucket=bucket, MaxResults=1, NextToken=listed["NextToken"]
    )
    assert [p["Name"] for p in rest["AccessPointList"]] == sorted([name, second])[1:]
    assert "NextToken" not in rest
    assert rest["AccessPointList"][0]["Alias"].endswith("-s3alias")

    cases = [
        (
            lambda: control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=bucket),
            ("AccessPointAlreadyOwnedByYou", 409),
        ),
        (
            lambda: control.create_access_point(AccountId=ACCOUNT, Name="Bad_Name", Bucket=bucket),
            ("InvalidAccessPoint", 400),
        ),
        (
            lambda: control.create_access_point(AccountId=ACCOUNT, Name="x-s3alias", Bucket=bucket),
            ("InvalidAccessPoint", 400),
        ),
        (
            lambda: control.create_access_point(
                AccountId=ACCOUNT, Name=bname("ap"), Bucket=bname("missing")
            ),
            ("InvalidRequest", 400),
        ),
        (
            lambda: control.create_access_point(
                AccountId=ACCOUNT, Name=bname("ap"), Bucket=bucket, BucketAccountId=OTHER
            ),
            ("InvalidRequest", 400),
        ),
        (lambda: control.get_access_point(AccountId=ACCOUNT, Name="no-such-ap"), 404),
        (lambda: control.get_access_point(AccountId=OTHER, Name=name), ("AccessDenied", 403)),
        (
            lambda: control.list_access_points(AccountId=ACCOUNT, Bucket=bname("missing")),
            ("InvalidRequest", 400),
        ),
        (lambda: control.get_access_point_policy(AccountId=ACCOUNT, Name=name), 404),
        (lambda: s3.delete_bucket(Bucket=bucket), ("BucketHasAccessPointsAttached", 400)),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        if isinstance(expected, int):
            assert error(exc)[1] == expected
        else:
            assert error(exc) == expected
    with pytest.raises(ClientError) as exc:
        control.get_access_point(AccountId=ACCOUNT, Name="no-such-ap")
    assert error(exc) == ("NoSuchAccessPoint", 404)

    for each in (name, second):
        control.delete_access_point(AccountId=ACCOUNT, Name=each)
    with pytest.raises(ClientError) as exc:
        control.delete_access_point(AccountId=ACCOUNT, Name=name)
    assert error(exc) == ("NoSuchAccessPoint", 404)
    s3.delete_bucket(Bucket=bucket)  # nothing attached any more


def test_cross_account_bucket(cloudlet_server, control):
    """An access point to another account's bucket: only when that account owns it."""
    owner = cloudlet_server.client("s3", aws_access_key_id=OTHER)
    bucket = bname("xacct")
    owner.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:  # BucketAccountId defaults to the caller's
        control.create_access_point(AccountId=ACCOUNT, Name=bname("x"), Bucket=bucket)
    assert error(exc) == ("InvalidRequest", 400)
    name = bname("x")
    control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=bucket, BucketAccountId=OTHER)
    got = control.get_access_point(AccountId=ACCOUNT, Name=name)
    assert got["BucketAccountId"] == OTHER and got["Bucket"] == bucket
    control.delete_access_point(AccountId=ACCOUNT, Name=name)


def test_objects_through_the_arn_and_the_alias(cloudlet_server, s3, control):
    bucket, _name, arn, alias = _point(control, s3, "objs")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sqs = cloudlet_server.client("sqs")
    url = sqs.create_queue(QueueName=bname("ap-events"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:Put"],
                }
            ]
        },
    )
    put = s3.put_object(Bucket=arn, Key="dir/a b.txt", Body=b"through the arn")
    head = s3.head_object(Bucket=bucket, Key="dir/a b.txt")
    assert (head["ETag"], head["VersionId"]) == (put["ETag"], put["VersionId"])
    s3.put_object(Bucket=alias, Key="dir/alias.txt", Body=b"through the alias")
    assert s3.get_object(Bucket=bucket, Key="dir/alias.txt")["Body"].read() == b"through the alias"
    assert s3.get_object(Bucket=arn, Key="dir/alias.txt")["Body"].read() == b"through the alias"
    for name in (arn, alias, bucket):
        assert _keys(s3, name) == ["dir/a b.txt", "dir/alias.txt"]
    versions = s3.list_object_versions(Bucket=alias)["Versions"]
    assert put["VersionId"] in [v["VersionId"] for v in versions]

    def created() -> list:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies = [json.loads(m["Body"]) for m in got.get("Messages", [])]
        return [b["Records"][0]["s3"] for b in bodies if "Records" in b]

    event = wait_until(created, "the bucket's notification")[0]
    assert event["bucket"]["name"] == bucket

    s3.copy_object(Bucket=arn, Key="copy-1", CopySource={"Bucket": arn, "Key": "dir/a b.txt"})
    s3.copy_object(Bucket=alias, Key="copy-2", CopySource=f"{alias}/dir/alias.txt")
    assert s3.get_object(Bucket=bucket, Key="copy-1")["Body"].read() == b"through the arn"
    assert s3.get_object(Bucket=bucket, Key="copy-2")["Body"].read() == b"through the alias"

    upload = s3.create_multipart_upload(Bucket=arn, Key="big")["UploadId"]
    part = s3.upload_part(
        Bucket=arn, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * (5 * 1024 * 1024)
    )
    last = s3.upload_part_copy(
        Bucket=alias, Key="big", UploadId=upload, PartNumber=2, CopySource=f"{alias}/copy-1"
    )
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=alias)["Uploads"]] == ["big"]
    assert len(s3.list_parts(Bucket=arn, Key="big", UploadId=upload)["Parts"]) == 2
    s3.complete_multipart_upload(
        Bucket=arn,
        Key="big",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"ETag": part["ETag"], "PartNumber": 1},
                {"ETag": last["CopyPartResult"]["ETag"], "PartNumber": 2},
            ]
        },
    )
    assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == 5 * 1024 * 1024 + 15

    s3.put_object_tagging(
        Bucket=alias, Key="big", Tagging={"TagSet": [{"Key": "via", "Value": "alias"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="big")["TagSet"][0]["Value"] == "alias"
    assert s3.head_bucket(Bucket=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=alias)["LocationConstraint"] is None
    s3.delete_object(Bucket=arn, Key="copy-1")
    deleted = s3.delete_objects(Bucket=alias, Delete={"Objects": [{"Key": "copy-2"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["copy-2"]
    assert _keys(s3, bucket) == ["big", "dir/a b.txt", "dir/alias.txt"]


def test_what_an_access_point_does_not_let_through(s3, control):
    bucket, _name, arn, alias = _point(control, s3, "refuse")
    for call in (
        lambda: s3.get_bucket_versioning(Bucket=arn),
        lambda: s3.put_bucket_tagging(
            Bucket=alias, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
        lambda: s3.delete_bucket(Bucket=alias),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("MethodNotAllowed", 405)
        assert "not supported through an access point" in exc.value.response["Error"]["Message"]
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="nothing-here-0123456789-s3alias", Key="k")
    assert error(exc) == ("InvalidAccessPointAliasError", 400)

    # A VPC access point: cloudlet cannot tell a request from that VPC, so none passes.
    name = bname("vpc")
    made = control.create_access_point(
        AccountId=ACCOUNT, Name=name, Bucket=bucket, VpcConfiguration={"VpcId": "vpc-1a2b3c4d"}
    )
    got = control.get_access_point(AccountId=ACCOUNT, Name=name)
    assert (got["NetworkOrigin"], got["VpcConfiguration"]) == ("VPC", {"VpcId": "vpc-1a2b3c4d"})
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=made["AccessPointArn"], Key="k", Body=b"x")
    assert error(exc) == ("AccessDenied", 403)


def test_policies_and_block_public_policy(s3, control):
    _bucket, name, arn, _alias = _point(control, s3, "pol")
    public = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{arn}/object/*",
        }
    )
    with pytest.raises(ClientError) as exc:
        control.put_access_point_policy(AccountId=ACCOUNT, Name=name, Policy=public)
    assert error(exc) == ("AccessDenied", 403)
    assert "BlockPublicPolicy" in exc.value.response["Error"]["Message"]
    private = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "s3:GetObject",
            "Resource": f"{arn}/object/*",
        }
    )
    control.put_access_point_policy(AccountId=ACCOUNT, Name=name, Policy=private)
    assert json.loads(control.get_access_point_policy(AccountId=ACCOUNT, Name=name)["Policy"]) == (
        json.loads(private)
    )
    status = control.get_access_point_policy_status(AccountId=ACCOUNT, Name=name)
    assert status["PolicyStatus"] == {"IsPublic": False}
    elsewhere = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    with pytest.raises(ClientError) as exc:
        control.put_access_point_policy(AccountId=ACCOUNT, Name=name, Policy=elsewhere)
    assert error(exc) == ("MalformedPolicy", 400)
    control.delete_access_point_policy(AccountId=ACCOUNT, Name=name)
    with pytest.raises(ClientError) as exc:
        control.get_access_point_policy_status(AccountId=ACCOUNT, Name=name)
    assert error(exc) == ("NoSuchAccessPointPolicy", 404)

    # Without BlockPublicPolicy a public policy is taken, and said to be public.
    _bucket, open_name, open_arn, _alias = _point(
        control,
        s3,
        "pol",
        PublicAccessBlockConfiguration={"BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )
    flags = control.get_access_point(AccountId=ACCOUNT, Name=open_name)[
        "PublicAccessBlockConfiguration"
    ]
    assert flags == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    control.put_access_point_policy(
        AccountId=ACCOUNT, Name=open_name, Policy=public.replace(arn, open_arn)
    )
    status = control.get_access_point_policy_status(AccountId=ACCOUNT, Name=open_name)
    assert status["PolicyStatus"] == {"IsPublic": True}


def test_tags(s3, control):
    _bucket, name, arn, _alias = _point(control, s3, "tags", Tags=[{"Key": "team", "Value": "a"}])

    def tags() -> dict:
        listed = control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"]
        return {t["Key"]: t["Value"] for t in listed}

    assert tags() == {"team": "a"}
    control.tag_resource(
        AccountId=ACCOUNT,
        ResourceArn=arn,
        Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}],
    )
    assert tags() == {"team": "b", "env": "dev"}
    control.untag_resource(AccountId=ACCOUNT, ResourceArn=arn, TagKeys=["team"])
    assert tags() == {"env": "dev"}
    missing = arn.rsplit("/", 1)[0] + "/" + bname("gone")
    with pytest.raises(ClientError) as exc:
        control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=missing)
    assert error(exc) == ("NoSuchResource", 404)
    for other in (  # what is still not taggable here
        f"arn:aws:s3-object-lambda:us-east-1:{ACCOUNT}:accesspoint/{name}",
        f"arn:aws:s3::{ACCOUNT}:accesspoint/mfzwi23gnjvgw.mrap",
    ):
        with pytest.raises(ClientError) as exc:
            control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=other)
        assert error(exc) == ("NotImplemented", 501)


def test_access_points_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3, control = server.client("s3"), server.client("s3control")
        bucket, name, arn, alias = _point(control, s3, "durable", Tags=[{"Key": "k", "Value": "v"}])
        policy = doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT},
                "Action": "s3:*",
                "Resource": f"{arn}/object/*",
            }
        )
        control.put_access_point_policy(AccountId=ACCOUNT, Name=name, Policy=policy)
        s3.put_object(Bucket=alias, Key="kept", Body=b"kept")
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3, control = server.client("s3"), server.client("s3control")
        got = control.get_access_point(AccountId=ACCOUNT, Name=name)
        assert (got["Alias"], got["Bucket"]) == (alias, bucket)
        assert control.get_access_point_policy(AccountId=ACCOUNT, Name=name)["Policy"] == policy
        listed = control.list_tags_for_resource(AccountId=ACCOUNT, ResourceArn=arn)["Tags"]
        assert listed == [{"Key": "k", "Value": "v"}]
        assert s3.get_object(Bucket=arn, Key="kept")["Body"].read() == b"kept"


# -- strict mode ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(strict_server):
    root_s3, root_control = strict_server.client("s3"), strict_server.client("s3control")
    bucket = bname("strict")
    root_s3.create_bucket(Bucket=bucket)
    root_s3.put_object(Bucket=bucket, Key="shared/a.txt", Body=b"shared")
    root_s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"private")
    name = bname("strict")
    made = root_control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=bucket)
    iam = strict_server.client("iam")
    user, _key, client = make_user(strict_server, iam)
    return {
        "s3": root_s3,
        "control": root_control,
        "bucket": bucket,
        "name": name,
        "arn": made["AccessPointArn"],
        "alias": made["Alias"],
        "user": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "user_s3": client("s3", config=Config(retries={"max_attempts": 0})),
        "server": strict_server,
    }


def _denied(call) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert error(exc) == ("AccessDenied", 403)


def test_strict_both_the_access_point_and_the_bucket_must_allow(strict):
    s3, control, user_s3 = strict["s3"], strict["control"], strict["user_s3"]
    arn, alias, bucket = strict["arn"], strict["alias"], strict["bucket"]
    control.put_access_point_policy(
        AccountId=ACCOUNT,
        Name=strict["name"],
        Policy=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": strict["user"]},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{arn}/object/shared/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"{arn}/object/*",
            },
        ),
    )
    # The access point allows the user; the bucket does not (yet).
    _denied(lambda: user_s3.get_object(Bucket=arn, Key="shared/a.txt"))
    # The bucket delegates to its access points.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}},
            }
        ),
    )
    assert user_s3.get_object(Bucket=arn, Key="shared/a.txt")["Body"].read() == b"shared"
    assert user_s3.get_object(Bucket=alias, Key="shared/a.txt")["Body"].read() == b"shared"
    user_s3.put_object(Bucket=alias, Key="shared/new.txt", Body=b"new")
    assert s3.get_object(Bucket=bucket, Key="shared/new.txt")["Body"].read() == b"new"
    _denied(lambda: user_s3.get_object(Bucket=arn, Key="private/b.txt"))  # not the AP's grant
    _denied(lambda: user_s3.get_object(Bucket=bucket, Key="shared/a.txt"))  # not through it
    # The access point policy's Deny binds the root through it, not directly.
    _denied(lambda: s3.delete_object(Bucket=arn, Key="shared/new.txt"))
    s3.delete_object(Bucket=bucket, Key="shared/new.txt")
    # DeleteObjects checks each key on both sides.
    result = s3.delete_objects(Bucket=alias, Delete={"Objects": [{"Key": "shared/a.txt"}]})
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"]
    # No anonymous requests through an access point.
    anonymous = strict["server"].client("s3", config=Config(signature_version=UNSIGNED))
    _denied(lambda: anonymous.get_object(Bucket=alias, Key="shared/a.txt"))


def test_strict_delegation_to_one_access_point(strict):
    """``s3:DataAccessPointArn`` names the one access point the bucket delegates to."""
    s3, control, user_s3 = strict["s3"], strict["control"], strict["user_s3"]
    bucket = bname("strict-one")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    names = [bname("one"), bname("two")]
    arns = []
    for name in names:
        arn = control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=bucket)[
            "AccessPointArn"
        ]
        arns.append(arn)
        control.put_access_point_policy(
            AccountId=ACCOUNT,
            Name=name,
            Policy=doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": strict["user"]},
                    "Action": "s3:GetObject",
                    "Resource": f"{arn}/object/*",
                }
            ),
        )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"s3:DataAccessPointArn": arns[0]}},
            }
        ),
    )
    assert user_s3.get_object(Bucket=arns[0], Key="k")["Body"].read() == b"v"
    _denied(lambda: user_s3.get_object(Bucket=arns[1], Key="k"))


def test_the_aws_cli(aws, s3, control, tmp_path):
    """``aws s3 cp`` to and from ``s3://<access point ARN>/<key>``, with cloudlet's
    plugin sending the access point's host name in the Host header."""
    (tmp_path / ".aws").mkdir(exist_ok=True)
    (tmp_path / ".aws" / "config").write_text("[plugins]\ncloudlet = cloudlet.awscli_plugin\n")
    bucket, _name, arn, _alias = _point(control, s3, "cli")
    (tmp_path / "up.txt").write_text("via the cli")
    aws("s3", "cp", str(tmp_path / "up.txt"), f"s3://{arn}/dir/up.txt")
    assert s3.get_object(Bucket=bucket, Key="dir/up.txt")["Body"].read() == b"via the cli"
    aws("s3", "cp", f"s3://{arn}/dir/up.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_text() == "via the cli"
