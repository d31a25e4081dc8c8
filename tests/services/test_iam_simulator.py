"""IAM's policy simulator with real boto3 (open mode): SimulatePrincipalPolicy over a
user's own, group and managed policies and boundary, SimulateCustomPolicy with typed
context entries, resource policies and cross-account owners, matched statements with
their positions, missing context values, paging, the context-key operations and
AWS's errors."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


def test_principal_policy_gathers_user_group_managed_and_boundary(iam):
    name = unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_group_policy(
        GroupName=group,
        PolicyName="group-sqs",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
    )
    iam.attach_user_policy(
        UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )
    local = iam.create_policy(
        PolicyName=unique("deny"),
        PolicyDocument=doc({"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}),
    )["Policy"]
    iam.attach_user_policy(UserName=name, PolicyArn=local["Arn"])
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["sqs:SendMessage", "s3:GetObject", "sqs:DeleteQueue", "ec2:RunInstances"],
    )["EvaluationResults"]
    got = {r["EvalActionName"]: r for r in results}
    assert [r["EvalDecision"] for r in results] == [
        "allowed",
        "allowed",
        "explicitDeny",
        "implicitDeny",
    ]
    assert got["sqs:SendMessage"]["MatchedStatements"][0]["SourcePolicyId"] == "group-sqs"
    assert got["sqs:SendMessage"]["MatchedStatements"][0]["SourcePolicyType"] == "group"
    s3 = got["s3:GetObject"]["MatchedStatements"][0]
    assert (s3["SourcePolicyId"], s3["SourcePolicyType"]) == (
        "AmazonS3ReadOnlyAccess",
        "aws-managed",
    )
    deny = got["sqs:DeleteQueue"]["MatchedStatements"][0]
    assert (deny["SourcePolicyId"], deny["SourcePolicyType"]) == (
        local["PolicyName"],
        "user-managed",
    )
    assert got["ec2:RunInstances"]["MatchedStatements"] == []
    # The boundary given replaces none: one that allows only s3 turns sqs off.
    s3_only = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    bounded = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["sqs:SendMessage", "s3:GetObject"],
        PermissionsBoundaryPolicyInputList=[s3_only],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in bounded] == ["implicitDeny", "allowed"]
    assert [
        r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] for r in bounded
    ] == [False, True]
    # Extra policies join the user's.
    extra = doc({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"})
    added = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["ec2:RunInstances"], PolicyInputList=[extra]
    )["EvaluationResults"][0]
    assert added["EvalDecision"] == "allowed"
    assert added["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


def test_custom_policy_context_entries_and_positions(iam):
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Effect": "Allow", "Action": "s3:*", "Resource": "*",\n'
        '     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},\n'
        '                   "NumericLessThan": {"s3:max-keys": "10"}}}\n  ]\n}'
    )
    missing = iam.simulate_custom_policy(PolicyInputList=[text], ActionNames=["s3:ListBucket"])
    result = missing["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert sorted(result["MissingContextValues"]) == ["aws:SourceIp", "s3:max-keys"]
    entries = [
        {
            "ContextKeyName": "aws:SourceIp",
            "ContextKeyValues": ["10.1.2.3"],
            "ContextKeyType": "ip",
        },
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["5"], "ContextKeyType": "numeric"},
    ]
    result = iam.simulate_custom_policy(
        PolicyInputList=[text], ActionNames=["s3:ListBucket"], ContextEntries=entries
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed" and result["MissingContextValues"] == []
    statement = result["MatchedStatements"][0]
    assert statement["StartPosition"] == {"Line": 4, "Column": 5}
    assert statement["EndPosition"] == {"Line": 6, "Column": 61}
    entries[0]["ContextKeyValues"] = ["192.168.0.1"]
    result = iam.simulate_custom_policy(
        PolicyInputList=[text], ActionNames=["s3:ListBucket"], ContextEntries=entries
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(
            PolicyInputList=[text],
            ActionNames=["s3:ListBucket"],
            ContextEntries=[
                {
                    "ContextKeyName": "s3:max-keys",
                    "ContextKeyValues": ["many"],
                    "ContextKeyType": "numeric",
                }
            ],
        )
    assert code(exc) == "InvalidInput"


def test_named_resources_resource_policies_and_cross_account(iam):
    user = f"arn:aws:iam::{ACCOUNT}:user/{unique('caller')}"
    bucket_policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": user},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    nothing = doc({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"})
    results = iam.simulate_custom_policy(
        PolicyInputList=[nothing],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/k", "arn:aws:s3:::other/k"],
        ResourcePolicy=bucket_policy,
        CallerArn=user,
    )["EvaluationResults"]
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("arn:aws:s3:::b/k", "allowed"),
        ("arn:aws:s3:::other/k", "implicitDeny"),
    ]
    specific = results[0]["ResourceSpecificResults"][0]
    assert specific["EvalResourceDecision"] == "allowed"
    assert specific["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    # Another account owns the bucket: the caller's own policies must allow too.
    cross = iam.simulate_custom_policy(
        PolicyInputList=[nothing],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/k"],
        ResourcePolicy=bucket_policy,
        CallerArn=user,
        ResourceOwner="arn:aws:iam::111122223333:root",
    )["EvaluationResults"][0]
    assert cross["EvalDecision"] == "implicitDeny"
    assert cross["ResourceSpecificResults"][0]["EvalDecisionDetails"] == {
        "IAM Policy": "implicitDeny",
        "Resource Policy": "allowed",
    }
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(
            PolicyInputList=[nothing], ActionNames=["s3:GetObject"], ResourcePolicy=bucket_policy
        )
    assert code(exc) == "InvalidInput"


def test_paging_errors_and_context_keys(iam):
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}},
        }
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert keys == ["aws:username", "aws:CurrentTime"]
    name = unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    principal = iam.get_context_keys_for_principal_policy(PolicySourceArn=arn)
    assert principal["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]
    actions = [f"sqs:{a}" for a in ("SendMessage", "ReceiveMessage", "DeleteMessage")]
    paginator = iam.get_paginator("simulate_principal_policy")
    pages = list(
        paginator.paginate(
            PolicySourceArn=arn, ActionNames=actions, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["EvaluationResults"]) for p in pages] == [2, 1]
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{unique('ghost')}", ActionNames=actions
        )
    assert code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=actions)
    assert code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["sqs:*"])
    assert code(exc) == "InvalidInput"
    role = unique("role")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=actions,
            ResourcePolicy=doc(
                {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
            ),
        )
    assert code(exc) == "InvalidInput"
