"""Permissions boundaries with real boto3 against a strict server: a boundary removes
what identity policies grant (and adds nothing), for users and assumed roles; its
explicit Deny; resource policies naming a user or a role session are not bounded,
ones naming the role are; ``iam:PermissionsBoundary`` for delegated administration;
the policy simulator agreeing with what strict mode does; a restart keeps it all."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def error(exc) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"].get("Message", "")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CloudletServer.start(auth="strict", data_dir=tmp_path_factory.mktemp("iam-bound"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def keyed(server, service, creds):
    return server.client(
        service,
        aws_access_key_id=creds.get("AccessKeyId"),
        aws_secret_access_key=creds.get("SecretAccessKey"),
        aws_session_token=creds.get("SessionToken"),
    )


def managed(iam, *statements) -> str:
    return iam.create_policy(PolicyName=unique("p"), PolicyDocument=doc(*statements))["Policy"][
        "Arn"
    ]


def make_user(iam, **kw) -> tuple[str, dict]:
    name = unique("user")
    iam.create_user(UserName=name, **kw)
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def test_boundary_caps_a_users_identity_policies(server, iam):
    sqs_only = managed(iam, allow("sqs:*"))
    name, key = make_user(iam, PermissionsBoundary=sqs_only)
    got = iam.get_user(UserName=name)["User"]["PermissionsBoundary"]
    assert got == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": sqs_only}
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    sqs, s3 = keyed(server, "sqs", key), keyed(server, "s3", key)
    sqs.create_queue(QueueName=unique("q"))  # identity and boundary allow
    with pytest.raises(ClientError) as exc:
        s3.list_buckets()  # identity allows, the boundary does not
    code, message = error(exc)
    assert code == "AccessDenied"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        "s3:ListAllMyBuckets because no permissions boundary allows the "
        "s3:ListAllMyBuckets action"
    )
    # A boundary grants nothing by itself.
    iam.detach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(ClientError) as exc:
        sqs.list_queues()
    assert "no identity-based policy allows" in error(exc)[1]
    # Removing the boundary lifts the cap; an explicit Deny in one refuses.
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.delete_user_permissions_boundary(UserName=name)
    s3.list_buckets()
    deny_s3 = managed(iam, allow("*"), {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=deny_s3)
    with pytest.raises(ClientError) as exc:
        s3.list_buckets()
    assert error(exc)[1].endswith("with an explicit deny in a permissions boundary")
    sqs.list_queues()
    # A new default version of the boundary applies at once.
    iam.create_policy_version(
        PolicyArn=deny_s3, PolicyDocument=doc(allow("s3:*")), SetAsDefault=True
    )
    s3.list_buckets()
    with pytest.raises(ClientError):
        sqs.list_queues()


def test_boundary_errors_and_usage(iam):
    arn = managed(iam, allow("sqs:*"))
    name, _ = make_user(iam, PermissionsBoundary=arn)
    role = unique("role")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, PermissionsBoundary=arn)
    assert (
        iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    )
    assert "PermissionsBoundary" not in iam.list_roles()["Roles"][0]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 2
    entities = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [name]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    attached = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert attached["PolicyUsers"] == [] and attached["PolicyRoles"] == []
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc) == ("DeleteConflict", "Cannot delete a policy attached to entities.")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{unique('nope')}"
    with pytest.raises(ClientError) as exc:
        iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=missing)
    assert error(exc)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=unique("u"), PermissionsBoundary="not-an-arn-at-all-xyz")
    assert error(exc) == ("InvalidInput", "ARN not-an-arn-at-all-xyz is not valid.")
    iam.delete_role_permissions_boundary(RoleName=role)
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    iam.delete_policy(PolicyArn=arn)


def test_role_sessions_carry_the_roles_boundary(server, iam):
    bucket = unique("bucket")
    server.client("s3").create_bucket(Bucket=bucket)
    queue = server.client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    qarn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.rsplit('/', 1)[1]}"
    role = unique("role")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=trust,
        PermissionsBoundary=managed(iam, allow("s3:*")),
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=doc(allow("*")))
    creds = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="sess")[
        "Credentials"
    ]
    s3, sqs = keyed(server, "s3", creds), keyed(server, "sqs", creds)
    s3.list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="x")
    assert "because no permissions boundary allows the sqs:SendMessage action" in error(exc)[1]
    # A queue policy naming the role is bounded; one naming the session is not.
    root_sqs = server.client("sqs")
    for principal, allowed in (
        (role_arn, False),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/sess", True),
    ):
        grant = {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sqs:SendMessage",
            "Resource": qarn,
        }
        root_sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": doc(grant)})
        if allowed:
            assert sqs.send_message(QueueUrl=queue, MessageBody="x")["MessageId"]
        else:
            with pytest.raises(ClientError):
                sqs.send_message(QueueUrl=queue, MessageBody="x")
    # A session policy narrows further: boundary and session policy both must allow.
    narrow = server.client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName="narrow", Policy=doc(allow("s3:ListBucket"))
    )["Credentials"]
    keyed(server, "s3", narrow).list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        keyed(server, "s3", narrow).put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "no session policy allows the s3:PutObject action" in error(exc)[1]


def test_resource_policy_naming_the_user_is_not_bounded(server, iam):
    name, key = make_user(iam, PermissionsBoundary=managed(iam, allow("s3:*")))
    queue = server.client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    qarn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.rsplit('/', 1)[1]}"
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"},
        "Action": "sqs:SendMessage",
        "Resource": qarn,
    }
    server.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"Policy": doc(grant)})
    assert keyed(server, "sqs", key).send_message(QueueUrl=queue, MessageBody="x")["MessageId"]


def test_permissions_boundary_condition_key_delegates_user_creation(server, iam):
    boundary = managed(iam, allow("sqs:*"))
    admin, key = make_user(iam)
    only_bounded = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    iam.put_user_policy(
        UserName=admin,
        PolicyName="delegate",
        PolicyDocument=doc(
            allow(["iam:CreateUser", "iam:PutUserPermissionsBoundary"], Condition=only_bounded),
            allow(["iam:GetUser", "iam:DeleteUser"]),
        ),
    )
    delegated = keyed(server, "iam", key)
    with pytest.raises(ClientError) as exc:
        delegated.create_user(UserName=unique("free"))
    assert error(exc)[0] == "AccessDenied"
    made = unique("bounded")
    delegated.create_user(UserName=made, PermissionsBoundary=boundary)
    other = managed(iam, allow("*"))
    with pytest.raises(ClientError):
        delegated.put_user_permissions_boundary(UserName=made, PermissionsBoundary=other)
    delegated.put_user_permissions_boundary(UserName=made, PermissionsBoundary=boundary)


def test_simulator_agrees_with_strict_mode(server, iam):
    bucket = unique("bucket")
    server.client("s3").create_bucket(Bucket=bucket)
    name, key = make_user(iam, PermissionsBoundary=managed(iam, allow(["s3:*", "sqs:ListQueues"])))
    iam.put_user_policy(
        UserName=name,
        PolicyName="mixed",
        PolicyDocument=doc(
            allow(["s3:ListBucket", "s3:GetObject", "sqs:ListQueues", "sns:ListTopics"]),
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/secret",
            },
        ),
    )
    server.client("s3").put_object(Bucket=bucket, Key="secret", Body=b"x")
    server.client("s3").put_object(Bucket=bucket, Key="open", Body=b"x")
    s3, sqs, sns = keyed(server, "s3", key), keyed(server, "sqs", key), keyed(server, "sns", key)
    cases = [
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", lambda: s3.list_objects_v2(Bucket=bucket)),
        (
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/open",
            lambda: s3.get_object(Bucket=bucket, Key="open"),
        ),
        (
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/secret",
            lambda: s3.get_object(Bucket=bucket, Key="secret"),
        ),
        ("sqs:ListQueues", "*", sqs.list_queues),
        ("sns:ListTopics", "*", sns.list_topics),
        (
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/new",
            lambda: s3.put_object(Bucket=bucket, Key="new", Body=b""),
        ),
    ]
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    for action, resource, call in cases:
        result = iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=[action], ResourceArns=[resource]
        )["EvaluationResults"][0]
        try:
            call()
            really = "allowed"
        except ClientError as exc:
            message = exc.response["Error"]["Message"]
            really = "explicitDeny" if "explicit deny" in message else "implicitDeny"
        assert (action, resource, result["EvalDecision"]) == (action, resource, really)
    denied = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["sns:ListTopics", "s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{bucket}/secret"],
    )["EvaluationResults"]
    assert denied[0]["ResourceSpecificResults"][0]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": False
    }
    matched = denied[1]["ResourceSpecificResults"][0]["MatchedStatements"]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in matched] == [("mixed", "user")]


def test_boundaries_survive_a_restart(tmp_path):
    server = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        iam = server.client("iam")
        name, key = make_user(iam, PermissionsBoundary=managed(iam, allow("sqs:*")))
        iam.attach_user_policy(
            UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
        keyed(server, "sqs", key).list_queues()
    finally:
        server.stop()
    server = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        keyed(server, "sqs", key).list_queues()
        with pytest.raises(ClientError) as exc:
            keyed(server, "s3", key).list_buckets()
        assert "no permissions boundary allows" in error(exc)[1]
    finally:
        server.stop()
