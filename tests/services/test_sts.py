"""STS with real boto3: GetCallerIdentity for root, users and assumed roles; AssumeRole
with trust policies, session tokens and role-limited permissions; GetSessionToken;
and the internal AssumeRole Lambda uses (in-process, no HTTP)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.auth.credentials import CredentialStore, Principal
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import InternalContext, ServiceEnv
from cloudlet.services.iam.api import IamService
from cloudlet.services.sts.api import StsService
from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(auth="strict")
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


def new_user(server, policy_doc: str | None = None):
    iam = server.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    if policy_doc:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy_doc)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key


def trust(principal: dict) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def test_caller_identity_for_root_user_and_open_mode(server, aws_client):
    root = server.client("sts").get_caller_identity()
    assert (root["Account"], root["Arn"], root["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
    )
    name, key = new_user(server)
    me = keyed(server, "sts", key).get_caller_identity()  # allowed without any policy
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert me["UserId"].startswith("AIDA")
    other = aws_client("sts", aws_access_key_id="123456789012").get_caller_identity()
    assert other["Account"] == "123456789012"


def test_assume_role_credentials_are_limited_to_the_role(server):
    iam = server.client("iam")
    name, key = new_user(server)
    role = unique("role")
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"}),
        MaxSessionDuration=7200,
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="sqs",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
    )
    sts = keyed(server, "sts", key)
    got = sts.assume_role(RoleArn=arn, RoleSessionName="sess", DurationSeconds=900)
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/sess"
    assert got["AssumedRoleUser"]["AssumedRoleId"].endswith(":sess")
    who = keyed(server, "sts", creds).get_caller_identity()
    assert who["Arn"] == got["AssumedRoleUser"]["Arn"]
    assert who["UserId"] == got["AssumedRoleUser"]["AssumedRoleId"]
    keyed(server, "sqs", creds).create_queue(QueueName=unique("role-q"))
    with pytest.raises(ClientError) as exc:
        keyed(server, "s3", creds).list_buckets()
    assert code(exc) == "AccessDenied"
    no_token = {k: v for k, v in creds.items() if k != "SessionToken"}
    with pytest.raises(ClientError) as exc:
        keyed(server, "sqs", no_token).list_queues()
    assert code(exc) == "InvalidClientTokenId"
    wrong = {**creds, "SessionToken": "nope"}
    with pytest.raises(ClientError) as exc:
        keyed(server, "sqs", wrong).list_queues()
    assert code(exc) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7201)
    assert code(exc) == "ValidationError"
    # a role policy change applies to sessions already issued
    iam.delete_role_policy(RoleName=role, PolicyName="sqs")
    with pytest.raises(ClientError):
        keyed(server, "sqs", creds).list_queues()


def test_session_policies_bound_the_role(server):
    iam = server.client("iam")
    name, key = new_user(server)
    role = unique("bounded")
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"}),
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    sts = keyed(server, "sts", key)
    only_list = doc({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"})
    got = sts.assume_role(RoleArn=arn, RoleSessionName="narrow", Policy=only_list)
    assert got["PackedPolicySize"] > 0
    creds = got["Credentials"]
    keyed(server, "sqs", creds).list_queues()
    with pytest.raises(ClientError) as exc:
        keyed(server, "sqs", creds).create_queue(QueueName=unique("no"))
    assert exc.value.response["Error"]["Message"].endswith(
        "because no session policy allows the sqs:CreateQueue action"
    )
    managed = sts.assume_role(
        RoleArn=arn,
        RoleSessionName="s3-only",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}],
    )["Credentials"]
    keyed(server, "s3", managed).list_buckets()
    with pytest.raises(ClientError):
        keyed(server, "sqs", managed).list_queues()
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=arn, RoleSessionName="bad", Policy="{nope")
    assert code(exc) == "MalformedPolicyDocument"
    full = sts.assume_role(RoleArn=arn, RoleSessionName="full")["Credentials"]
    keyed(server, "sqs", full).create_queue(QueueName=unique("yes"))


def test_trust_policy_decides_who_may_assume(server):
    iam = server.client("iam")
    trusted, trusted_key = new_user(server)
    _, stranger_key = new_user(
        server, doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    )
    role = unique("trusting")
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{trusted}"}),
    )["Role"]["Arn"]
    keyed(server, "sts", trusted_key).assume_role(RoleArn=arn, RoleSessionName="ok")
    with pytest.raises(ClientError) as exc:
        keyed(server, "sts", stranger_key).assume_role(RoleArn=arn, RoleSessionName="no")
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        server.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}", RoleSessionName="xx"
        )
    assert code(exc) == "AccessDenied"
    # a trust naming the account delegates to identity policies
    account_role = unique("acct")
    account_arn = iam.create_role(
        RoleName=account_role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT})
    )["Role"]["Arn"]
    keyed(server, "sts", stranger_key).assume_role(RoleArn=account_arn, RoleSessionName="ok")
    with pytest.raises(ClientError) as exc:
        keyed(server, "sts", trusted_key).assume_role(RoleArn=account_arn, RoleSessionName="no")
    assert code(exc) == "AccessDenied"
    # a trust naming only a service refuses users whatever their policies
    service_role = unique("svc")
    service_arn = iam.create_role(
        RoleName=service_role,
        AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}),
    )["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        keyed(server, "sts", stranger_key).assume_role(RoleArn=service_arn, RoleSessionName="no")
    assert code(exc) == "AccessDenied"


def test_get_session_token_acts_as_the_user(server):
    name, key = new_user(
        server, doc({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"})
    )
    creds = keyed(server, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert keyed(server, "sts", creds).get_caller_identity()["Arn"].endswith(f":user/{name}")
    keyed(server, "sqs", creds).list_queues()
    with pytest.raises(ClientError):
        keyed(server, "s3", creds).list_buckets()


def test_open_mode_assume_role_needs_an_existing_role(aws_client):
    iam, sts = aws_client("iam"), aws_client("sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope-{uuid.uuid4().hex}", RoleSessionName="xx"
        )
    assert code(exc) == "AccessDenied"
    role = unique("open")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"][
        "Arn"
    ]
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="dev")["Credentials"]
    who = aws_client(
        "sts",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/dev"
    iam.delete_role(RoleName=role)


# -- in-process: the internal AssumeRole and role-credential principals ----------------------


def _services(strict: bool):
    credentials = CredentialStore()
    credentials.strict = strict
    env = ServiceEnv(data_dir=None, credentials=credentials)
    iam, sts = IamService(env), StsService(env)
    env.services.update({"iam": iam, "sts": sts})
    return env, iam, sts


def _ctx(service: str) -> InternalContext:
    return InternalContext(account_id=ACCOUNT, region="us-east-1", service_name=service)


def test_internal_assume_role_acts_as_the_lambda_service():
    env, iam, _ = _services(strict=False)
    lambda_trust = trust({"Service": "lambda.amazonaws.com"})
    iam.create_role(_ctx("iam"), {"RoleName": "fn-role", "AssumeRolePolicyDocument": lambda_trust})
    iam.create_role(
        _ctx("iam"),
        {
            "RoleName": "ec2-role",
            "AssumeRolePolicyDocument": trust({"Service": "ec2.amazonaws.com"}),
        },
    )

    def assume(role_arn: str) -> dict:
        params = {"RoleArn": role_arn, "RoleSessionName": "my-function"}
        return asyncio.run(
            env.call("sts", "AssumeRole", params, account=ACCOUNT, region="us-east-1")
        )

    got = assume(f"arn:aws:iam::{ACCOUNT}:role/fn-role")
    key = env.credentials.key(got["Credentials"]["AccessKeyId"])
    assert key.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/my-function"
    assert key.session_token == got["Credentials"]["SessionToken"] and key.expires
    with pytest.raises(ServiceError) as exc:
        assume(f"arn:aws:iam::{ACCOUNT}:role/ec2-role")
    assert exc.value.code == "AccessDenied"
    # open mode: a made-up role still gets credentials, acting as the account root
    made_up = assume(f"arn:aws:iam::{ACCOUNT}:role/made-up")
    assert env.credentials.key(made_up["Credentials"]["AccessKeyId"]).principal.kind == "root"
    env_strict, _, _ = _services(strict=True)
    with pytest.raises(ServiceError):
        asyncio.run(
            env_strict.call(
                "sts",
                "AssumeRole",
                {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/made-up", "RoleSessionName": "f"},
                account=ACCOUNT,
                region="us-east-1",
            )
        )


def test_instance_role_credentials_act_as_the_role_when_iam_knows_it():
    env, iam, _ = _services(strict=True)
    ctx = _ctx("iam")
    iam.create_role(
        ctx,
        {"RoleName": "web", "AssumeRolePolicyDocument": trust({"Service": "ec2.amazonaws.com"})},
    )
    iam.put_role_policy(
        ctx,
        {
            "RoleName": "web",
            "PolicyName": "sqs",
            "PolicyDocument": doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
        },
    )
    iam.create_instance_profile(ctx, {"InstanceProfileName": "web-profile"})
    iam.add_role_to_instance_profile(ctx, {"InstanceProfileName": "web-profile", "RoleName": "web"})
    env.credentials.policies = iam.identities
    # what services/ec2/imds.py registers: the profile's name and the instance id
    imds = Principal(
        "ASIAX", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/web-profile/i-1", "user"
    )
    env.credentials.authorize(imds, "sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q")
    with pytest.raises(ServiceError) as exc:
        env.credentials.authorize(imds, "s3:GetObject", "arn:aws:s3:::b/k")
    assert exc.value.code == "AccessDenied"
    unknown = Principal("ASIAY", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/nobody/i-2", "user")
    env.credentials.authorize(unknown, "s3:GetObject", "arn:aws:s3:::b/k")  # not governed
