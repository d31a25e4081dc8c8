"""S3 Object Lambda with real boto3: access points whose Lambda functions answer GetObject
(through WriteGetObjectResponse, called by the function with boto3), HeadObject and
ListObjectsV2 in S3's place; S3 Control's ``...ForObjectLambda`` operations; AWS's
errors for functions that fail or never answer, and for ranges the access point does
not take.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.lambda_helpers import python_function
from tests.services.names import unique

ACCOUNT = "000000000000"

UPPERCASE = """
import boto3, urllib.request

def handler(event, context):
    ctx = event["getObjectContext"]
    original = urllib.request.urlopen(ctx["inputS3Url"]).read()
    conf = event["configuration"]
    boto3.client("s3").write_get_object_response(
        RequestRoute=ctx["outputRoute"],
        RequestToken=ctx["outputToken"],
        Body=original.upper() + conf["payload"].encode(),
        ContentType="text/x-shouted",
        Metadata={"transformed": "yes", "caller": event["userIdentity"]["accountId"]},
    )
    return {"status_code": 200}
"""

REFUSING = """
import boto3

def handler(event, context):
    ctx = event["getObjectContext"]
    boto3.client("s3").write_get_object_response(
        RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"],
        StatusCode=403, ErrorCode="NoSecretsForYou", ErrorMessage="redacted by policy",
    )
"""

SILENT = "def handler(event, context):\n    return 'nothing written'\n"
FAILING = "def handler(event, context):\n    raise RuntimeError('boom')\n"

HEAD_AND_LIST = """
import json, urllib.request

def handler(event, context):
    if "headObjectContext" in event:
        return {"statusCode": 200, "headers": {
            "Content-Length": 42, "Content-Type": "application/x-head",
            "ETag": '"0123"', "x-amz-meta-seen": "by-lambda"}}
    ctx = event["listObjectsV2Context"]
    body = urllib.request.urlopen(ctx["inputS3Url"]).read().decode()
    if "<Contents>" not in body:
        return {"statusCode": 500, "errorCode": "NoListing", "errorMessage": body[:200]}
    return {"statusCode": 200, "listBucketResult": {
        "name": "hidden", "keyCount": 1, "maxKeys": 1000, "isTruncated": False,
        "contents": [{"key": "only-this.txt", "size": 7, "eTag": '"abc"',
                      "lastModified": "2026-01-02T03:04:05.000Z", "storageClass": "STANDARD"}]}}
"""


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


@pytest.fixture
def control(cloudlet_server):
    return cloudlet_server.client("s3control")


@pytest.fixture
def lam(cloudlet_server):
    return cloudlet_server.client("lambda")


def _setup(
    s3, control, lam, source: str, *, actions=("GetObject",), role: str | None = None, **config
) -> dict:
    """A bucket with one object, its access point, a function and an Object Lambda
    access point over them."""
    bucket = unique("olap")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"quiet words")
    ap = unique("ap")
    ap_arn = control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=bucket)[
        "AccessPointArn"
    ]
    extra = {"Role": role} if role else {}
    function = python_function(lam, unique("olap-fn"), source, Timeout=30, **extra)["FunctionArn"]
    name = unique("olap")
    created = control.create_access_point_for_object_lambda(
        AccountId=ACCOUNT,
        Name=name,
        Configuration={
            "SupportingAccessPoint": ap_arn,
            "TransformationConfigurations": [
                {
                    "Actions": list(actions),
                    "ContentTransformation": {
                        "AwsLambda": {"FunctionArn": function, "FunctionPayload": "!"}
                    },
                }
            ],
            **config,
        },
    )
    return {
        "bucket": bucket,
        "ap_arn": ap_arn,
        "name": name,
        "arn": created["ObjectLambdaAccessPointArn"],
        "alias": created["Alias"]["Value"],
        "function": function,
    }


def _error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_get_object_is_transformed_by_the_function(s3, control, lam):
    olap = _setup(s3, control, lam, UPPERCASE)
    assert olap["arn"] == (
        f"arn:aws:s3-object-lambda:us-east-1:{ACCOUNT}:accesspoint/{olap['name']}"
    )
    got = s3.get_object(Bucket=olap["arn"], Key="doc.txt")
    assert got["Body"].read() == b"QUIET WORDS!"
    assert got["ContentType"] == "text/x-shouted"
    assert got["Metadata"] == {"transformed": "yes", "caller": ACCOUNT}
    # The alias works wherever a bucket name does; the bucket itself is untouched.
    assert s3.get_object(Bucket=olap["alias"], Key="doc.txt")["Body"].read() == b"QUIET WORDS!"
    assert s3.get_object(Bucket=olap["bucket"], Key="doc.txt")["Body"].read() == b"quiet words"


def test_a_large_object_streams_through(s3, control, lam):
    olap = _setup(s3, control, lam, UPPERCASE)
    big = b"abcdefgh" * (3 * 1024 * 1024 // 8)  # 3 MiB
    s3.put_object(Bucket=olap["bucket"], Key="big.txt", Body=big)
    got = s3.get_object(Bucket=olap["arn"], Key="big.txt")["Body"].read()
    assert got == big.upper() + b"!"


def test_untransformed_actions_go_to_the_supporting_access_point(s3, control, lam):
    olap = _setup(s3, control, lam, UPPERCASE)
    head = s3.head_object(Bucket=olap["arn"], Key="doc.txt")
    assert head["ContentLength"] == len(b"quiet words")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=olap["arn"])["Contents"]]
    assert keys == ["doc.txt"]


def test_head_and_list_answered_by_the_function(s3, control, lam):
    olap = _setup(s3, control, lam, HEAD_AND_LIST, actions=("HeadObject", "ListObjectsV2"))
    head = s3.head_object(Bucket=olap["arn"], Key="doc.txt")
    assert head["ContentLength"] == 42
    assert head["ContentType"] == "application/x-head"
    assert head["Metadata"] == {"seen": "by-lambda"}
    listed = s3.list_objects_v2(Bucket=olap["arn"])
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("only-this.txt", 7)]
    # GetObject has no transformation: the object as stored.
    assert s3.get_object(Bucket=olap["arn"], Key="doc.txt")["Body"].read() == b"quiet words"


def test_the_function_answers_an_error(s3, control, lam):
    olap = _setup(s3, control, lam, REFUSING)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=olap["arn"], Key="doc.txt")
    assert _error(exc) == ("NoSecretsForYou", 403)
    assert exc.value.response["Error"]["Message"] == "redacted by policy"


@pytest.mark.parametrize(
    ("source", "expected"),
    [(SILENT, ("LambdaResponseNotReceived", 500)), (FAILING, ("LambdaInvocationFailed", 400))],
)
def test_a_function_that_does_not_answer(s3, control, lam, source, expected):
    olap = _setup(s3, control, lam, source)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=olap["arn"], Key="doc.txt")
    assert _error(exc) == expected


def test_ranges_need_the_allowed_feature(s3, control, lam):
    olap = _setup(s3, control, lam, UPPERCASE)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=olap["arn"], Key="doc.txt", Range="bytes=0-3")
    assert _error(exc) == ("NotImplemented", 501)
    control.put_access_point_configuration_for_object_lambda(
        AccountId=ACCOUNT,
        Name=olap["name"],
        Configuration={
            **control.get_access_point_configuration_for_object_lambda(
                AccountId=ACCOUNT, Name=olap["name"]
            )["Configuration"],
            "AllowedFeatures": ["GetObject-Range"],
        },
    )
    # Taken now, and left to the function (which ignores it here), as on AWS.
    got = s3.get_object(Bucket=olap["arn"], Key="doc.txt", Range="bytes=0-3")
    assert got["Body"].read() == b"QUIET WORDS!"


def test_control_operations(s3, control, lam):
    olap = _setup(s3, control, lam, SILENT)
    got = control.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])
    assert got["Name"] == olap["name"]
    assert got["Alias"] == {"Value": olap["alias"], "Status": "READY"}
    assert olap["alias"].endswith("--ol-s3")
    listed = control.list_access_points_for_object_lambda(AccountId=ACCOUNT)
    names = [p["Name"] for p in listed["ObjectLambdaAccessPointList"]]
    assert olap["name"] in names
    configuration = control.get_access_point_configuration_for_object_lambda(
        AccountId=ACCOUNT, Name=olap["name"]
    )["Configuration"]
    assert configuration["SupportingAccessPoint"] == olap["ap_arn"]

    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        '"Action":"s3-object-lambda:GetObject","Resource":"' + olap["arn"] + '"}]}'
    )
    with pytest.raises(ClientError) as exc:
        control.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])
    assert _error(exc) == ("NoSuchAccessPointPolicy", 404)
    control.put_access_point_policy_for_object_lambda(
        AccountId=ACCOUNT, Name=olap["name"], Policy=policy
    )
    assert (
        control.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])[
            "Policy"
        ]
        == policy
    )
    status = control.get_access_point_policy_status_for_object_lambda(
        AccountId=ACCOUNT, Name=olap["name"]
    )
    assert status["PolicyStatus"]["IsPublic"] is True
    control.delete_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])

    with pytest.raises(ClientError) as exc:
        control.create_access_point_for_object_lambda(
            AccountId=ACCOUNT, Name=olap["name"], Configuration=configuration
        )
    assert _error(exc) == ("AccessPointAlreadyOwnedByYou", 409)
    missing = dict(configuration, SupportingAccessPoint=olap["ap_arn"] + "-gone")
    with pytest.raises(ClientError) as exc:
        control.create_access_point_for_object_lambda(
            AccountId=ACCOUNT, Name=unique("olap"), Configuration=missing
        )
    assert _error(exc) == ("NoSuchAccessPoint", 404)

    control.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])
    with pytest.raises(ClientError) as exc:
        control.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=olap["name"])
    assert _error(exc) == ("NoSuchAccessPoint", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=olap["arn"], Key="doc.txt")
    assert _error(exc)[1] == 404


def test_write_get_object_response_needs_a_waiting_request(cloudlet_server):
    from botocore.config import Config

    s3 = cloudlet_server.client("s3", config=Config(inject_host_prefix=False))
    with pytest.raises(ClientError) as exc:
        s3.write_get_object_response(RequestRoute="io-1", RequestToken="nope", Body=b"x")
    assert _error(exc) == ("ValidationError", 400)


# -- strict mode ------------------------------------------------------------------------


def test_strict_mode_checks_the_object_lambda_access_point(strict_server):
    """The caller needs ``s3-object-lambda:GetObject`` on the Object Lambda access point
    and ``lambda:InvokeFunction`` on its function; the function's role needs
    ``s3-object-lambda:WriteGetObjectResponse``; the presigned ``inputS3Url`` reads with
    the caller's own ``s3:GetObject``."""
    s3, control = strict_server.client("s3"), strict_server.client("s3control")
    lam, iam = strict_server.client("lambda"), strict_server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_name = unique("olap-role")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="answer",
        PolicyDocument=_allow("s3-object-lambda:WriteGetObjectResponse"),
    )
    olap = _setup(s3, control, lam, UPPERCASE, role=role["Role"]["Arn"])

    def user(*actions: str):
        name = unique("olap-user")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=_allow(*actions))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return strict_server.client(
            "s3",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    allowed = user("s3-object-lambda:GetObject", "lambda:InvokeFunction", "s3:GetObject")
    got = allowed.get_object(Bucket=olap["arn"], Key="doc.txt")["Body"].read()
    assert got == b"QUIET WORDS!"
    for missing in (
        user("lambda:InvokeFunction", "s3:GetObject"),
        user("s3-object-lambda:GetObject", "s3:GetObject"),
    ):
        with pytest.raises(ClientError) as exc:
            missing.get_object(Bucket=olap["arn"], Key="doc.txt")
        assert _error(exc) == ("AccessDenied", 403)
    # Without s3:GetObject the function's read of inputS3Url is refused, and so it fails.
    blind = user("s3-object-lambda:GetObject", "lambda:InvokeFunction")
    with pytest.raises(ClientError) as exc:
        blind.get_object(Bucket=olap["arn"], Key="doc.txt")
    assert _error(exc) == ("LambdaInvocationFailed", 400)


def _allow(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
