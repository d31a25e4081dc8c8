"""IAM with real boto3 (open mode): users, groups, roles, managed and inline policies,
versions, access keys, instance profiles, tags, paths, paging and AWS's errors."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique

ALLOW_SQS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
)
TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


def test_users_paths_paging_tags_and_errors(iam):
    path = f"/{unique('team')}/"
    names = sorted(unique("user") for _ in range(3))
    for name in names:
        user = iam.create_user(UserName=name, Path=path, Tags=[{"Key": "k", "Value": name}])["User"]
        assert user["Arn"] == f"arn:aws:iam::000000000000:user{path}{name}"
        assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=names[0])
    assert code(exc) == "EntityAlreadyExists"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    page = iam.list_users(PathPrefix=path, MaxItems=2)
    assert [u["UserName"] for u in page["Users"]] == names[:2] and page["IsTruncated"]
    rest = iam.list_users(PathPrefix=path, Marker=page["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == names[2:] and not rest["IsTruncated"]
    paginated = iam.get_paginator("list_users").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 1}
    )
    assert [u["UserName"] for p in paginated for u in p["Users"]] == names
    assert iam.get_user(UserName=names[0])["User"]["Tags"] == [{"Key": "k", "Value": names[0]}]
    iam.tag_user(UserName=names[0], Tags=[{"Key": "extra", "Value": "1"}])
    iam.untag_user(UserName=names[0], TagKeys=["k"])
    assert iam.list_user_tags(UserName=names[0])["Tags"] == [{"Key": "extra", "Value": "1"}]
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="nobody-" + names[0])
    assert code(exc) == "NoSuchEntity"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    renamed = unique("renamed")
    iam.update_user(UserName=names[2], NewUserName=renamed)
    assert iam.get_user(UserName=renamed)["User"]["Arn"].endswith(f"{path}{renamed}")
    for name in (names[0], names[1], renamed):
        iam.delete_user(UserName=name)
    assert iam.list_users(PathPrefix=path)["Users"] == []


def test_get_user_without_a_name_is_the_caller(iam):
    me = iam.get_user()["User"]
    assert me["Arn"] == "arn:aws:iam::000000000000:root"


def test_groups_membership_and_delete_conflicts(iam):
    user, group = unique("member"), unique("group")
    iam.create_user(UserName=user)
    created = iam.create_group(GroupName=group)["Group"]
    assert created["GroupId"].startswith("AGPA")
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert code(exc) == "DeleteConflict"
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName=group)
    assert code(exc) == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="inline", PolicyDocument=ALLOW_SQS)
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["inline"]
    assert iam.get_group_policy(GroupName=group, PolicyName="inline")[
        "PolicyDocument"
    ] == json.loads(ALLOW_SQS)
    iam.delete_group_policy(GroupName=group, PolicyName="inline")
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_access_keys_limit_status_last_used_and_delete_conflict(iam, aws_client):
    user = unique("keys")
    iam.create_user(UserName=user)
    first = iam.create_access_key(UserName=user)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    second = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user)
    assert code(exc) == "LimitExceeded"
    assert "AccessKeysPerUser" in exc.value.response["Error"]["Message"]
    iam.update_access_key(UserName=user, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    listed = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    }
    assert listed == {first["AccessKeyId"]: "Active", second["AccessKeyId"]: "Inactive"}
    last = iam.get_access_key_last_used(AccessKeyId=first["AccessKeyId"])
    assert last["UserName"] == user and last["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert code(exc) == "DeleteConflict"
    for key in (first, second):
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName=user, AccessKeyId=first["AccessKeyId"])
    assert code(exc) == "NoSuchEntity"
    iam.delete_user(UserName=user)


def test_managed_policies_versions_attachments(iam):
    name, user = unique("policy"), unique("attached")
    iam.create_user(UserName=user)
    policy = iam.create_policy(PolicyName=name, PolicyDocument=ALLOW_SQS, Path="/app/")["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::000000000000:policy/app/{name}"
    assert policy["DefaultVersionId"] == "v1" and policy["PolicyId"].startswith("ANPA")
    for i in range(2, 6):
        version = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=ALLOW_SQS, SetAsDefault=i == 3
        )
        assert version["PolicyVersion"]["VersionId"] == f"v{i}"
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=ALLOW_SQS)
    assert code(exc) == "LimitExceeded"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["Document"] == json.loads(ALLOW_SQS) and got["IsDefaultVersion"]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert code(exc) == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert {p["PolicyName"] for p in attached} == {name, "AdministratorAccess"}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    local = iam.list_policies(Scope="Local", PathPrefix="/app/")["Policies"]
    assert name in {p["PolicyName"] for p in local}
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert code(exc) == "DeleteConflict"
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert code(exc) == "DeleteConflict"
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert code(exc) == "NoSuchEntity"
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert code(exc) == "NoSuchEntity"
    iam.delete_user(UserName=user)


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}
                ],
            }
        ),
        json.dumps({"Version": "1999-01-01", "Statement": []}),
    ],
)
def test_malformed_policy_documents(iam, document):
    user = unique("malformed")
    iam.create_user(UserName=user)
    try:
        with pytest.raises(ClientError) as exc:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=document)
        assert code(exc) == "MalformedPolicyDocument"
        with pytest.raises(ClientError) as exc:
            iam.create_policy(PolicyName=unique("bad"), PolicyDocument=document)
        assert code(exc) == "MalformedPolicyDocument"
    finally:
        iam.delete_user(UserName=user)


def test_roles_trust_inline_and_instance_profiles(iam):
    role, profile = unique("role"), unique("profile")
    created = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=TRUST_LAMBDA,
        Path="/service/",
        Description="worker",
        Tags=[{"Key": "env", "Value": "test"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::000000000000:role/service/{role}"
    assert created["RoleId"].startswith("AROA") and created["MaxSessionDuration"] == 3600
    got = iam.get_role(RoleName=role)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(TRUST_LAMBDA)
    assert got["Tags"] == [{"Key": "env", "Value": "test"}] and got["Description"] == "worker"
    assert role in {r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]}
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=ALLOW_SQS)
    assert code(exc) == "MalformedPolicyDocument"
    iam.update_role(RoleName=role, MaxSessionDuration=7200)
    assert iam.get_role(RoleName=role)["Role"]["MaxSessionDuration"] == 7200
    iam.put_role_policy(RoleName=role, PolicyName="sqs", PolicyDocument=ALLOW_SQS)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["sqs"]
    assert iam.get_role_policy(RoleName=role, PolicyName="sqs")["PolicyDocument"] == json.loads(
        ALLOW_SQS
    )
    iam.attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    assert len(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]) == 1
    # The Lambda execution policy LocalStack's S3 notification tests attach.
    execute = "arn:aws:iam::aws:policy/AWSLambdaExecute"
    assert iam.get_policy(PolicyArn=execute)["Policy"]["PolicyName"] == "AWSLambdaExecute"
    ip = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert ip["Arn"] == f"arn:aws:iam::000000000000:instance-profile/{profile}"
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    got_ip = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert [r["RoleName"] for r in got_ip["Roles"]] == [role]
    listed = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == [profile]
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert code(exc) == "DeleteConflict"
    with pytest.raises(ClientError) as exc:
        iam.delete_instance_profile(InstanceProfileName=profile)
    assert code(exc) == "DeleteConflict"
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
    iam.detach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    iam.delete_role_policy(RoleName=role, PolicyName="sqs")
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role)
    assert code(exc) == "NoSuchEntity"


def test_policy_documents_are_url_encoded_on_the_wire(aws_client, cloudlet_server):
    import urllib.parse

    iam = aws_client("iam")
    role = unique("wire")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    try:
        client = aws_client("iam")
        captured = {}

        def grab(response_dict, **_):
            captured["body"] = response_dict["body"].decode()

        client.meta.events.register("before-parse.iam.GetRole", grab)
        client.get_role(RoleName=role)
        encoded = captured["body"].split("<AssumeRolePolicyDocument>")[1].split("<")[0]
        assert "%22" in encoded and json.loads(urllib.parse.unquote(encoded)) == json.loads(
            TRUST_LAMBDA
        )
    finally:
        iam.delete_role(RoleName=role)
