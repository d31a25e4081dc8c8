"""STS GetFederationToken with real boto3 against a strict server: the federated user's
credentials allow exactly the intersection of its IAM user's policies and the session
policies (nothing without one), never IAM or STS, and show the federated user's ARN."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CloudletServer.start(auth="strict", data_dir=tmp_path_factory.mktemp("sts-fed"))
    try:
        yield srv
    finally:
        srv.stop()


def keyed(server, service, creds):
    return server.client(
        service,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )


@pytest.fixture(scope="module")
def user_sts(server):
    """An IAM user allowed GetFederationToken, SQS and S3 listing (not SNS)."""
    iam = server.client("iam")
    name = unique("fed")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=doc(
            allow("sts:GetFederationToken"), allow("sqs:ListQueues"), allow("s3:ListAllMyBuckets")
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return keyed(server, "sts", key)


def denied(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"]


def test_intersection_of_user_and_session_policies(server, user_sts):
    session = doc(allow(["sqs:ListQueues", "sns:ListTopics"]))
    out = user_sts.get_federation_token(Name="Bob", Policy=session, DurationSeconds=900)
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:Bob",
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/Bob",
    }
    assert 0 < out["PackedPolicySize"] <= 100
    creds = out["Credentials"]
    me = keyed(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/Bob"
    assert me["UserId"] == f"{ACCOUNT}:Bob"
    keyed(server, "sqs", creds).list_queues()  # both allow it
    assert denied(keyed(server, "sns", creds).list_topics) == "AccessDenied"  # user lacks
    assert denied(keyed(server, "s3", creds).list_buckets) == "AccessDenied"  # session lacks
    assert denied(lambda: keyed(server, "iam", creds).list_users()) == "AccessDenied"
    sts = keyed(server, "sts", creds)
    assert denied(lambda: sts.get_federation_token(Name="Eve")) == "AccessDenied"
    assert denied(sts.get_session_token) == "AccessDenied"


def test_no_session_policy_means_no_permissions(server, user_sts):
    creds = user_sts.get_federation_token(Name="Nobody")["Credentials"]
    assert denied(keyed(server, "sqs", creds).list_queues) == "AccessDenied"
    assert keyed(server, "sts", creds).get_caller_identity()["Arn"].endswith("/Nobody")


def test_managed_session_policy(server, user_sts):
    iam = server.client("iam")
    arn = iam.create_policy(PolicyName=unique("sp"), PolicyDocument=doc(allow("s3:*")))["Policy"][
        "Arn"
    ]
    creds = user_sts.get_federation_token(Name="Carol", PolicyArns=[{"arn": arn}])["Credentials"]
    keyed(server, "s3", creds).list_buckets()
    assert denied(keyed(server, "sqs", creds).list_queues) == "AccessDenied"


def test_user_needs_permission_and_validation(server):
    iam = server.client("iam")
    name = unique("nofed")
    iam.create_user(UserName=name)
    sts = keyed(server, "sts", iam.create_access_key(UserName=name)["AccessKey"])
    assert denied(lambda: sts.get_federation_token(Name="Bob")) == "AccessDenied"
    root = server.client("sts")
    assert denied(lambda: root.get_federation_token(Name="Bob!")) == "ValidationError"
    long = lambda: root.get_federation_token(Name="Bob", DurationSeconds=129601)  # noqa: E731
    assert denied(long) == "ValidationError"
    bad = lambda: root.get_federation_token(Name="Bob", Policy="{")  # noqa: E731
    assert denied(bad) == "MalformedPolicyDocument"
    # the root may, for an hour at most
    out = root.get_federation_token(Name="Root", DurationSeconds=7200, Policy=doc(allow("*")))
    expires = out["Credentials"]["Expiration"].timestamp()
    assert expires - __import__("time").time() <= 3601
    keyed(server, "sqs", out["Credentials"]).list_queues()


def test_credentials_survive_restart(tmp_path):
    srv = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        creds = srv.client("sts").get_federation_token(
            Name="Dave", Policy=doc(allow("sqs:ListQueues"))
        )["Credentials"]
    finally:
        srv.stop()
    srv = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        keyed(srv, "sqs", creds).list_queues()
        assert denied(keyed(srv, "s3", creds).list_buckets) == "AccessDenied"
    finally:
        srv.stop()
