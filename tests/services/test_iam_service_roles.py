"""IAM service-linked roles with real boto3: the role AWS names and places, trusting its
service, with its managed policy; custom suffixes; AWS's errors; protected from ordinary
role changes; DeleteServiceLinkedRole's deletion task."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_service_linked_role_lifecycle(aws_client):
    iam = aws_client("iam")
    role = iam.create_service_linked_role(
        AWSServiceName="elasticloadbalancing.amazonaws.com", Description="for ELB"
    )["Role"]
    name = "AWSServiceRoleForElasticLoadBalancing"
    assert role["RoleName"] == name
    assert role["Path"] == "/aws-service-role/elasticloadbalancing.amazonaws.com/"
    assert role["Arn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticloadbalancing.amazonaws.com/{name}"
    )
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": ["elasticloadbalancing.amazonaws.com"]}
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [a["PolicyName"] for a in attached] == ["AWSElasticLoadBalancingServiceRolePolicy"]
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "for ELB"

    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")
    assert code(exc) == "InvalidInput"
    assert "has been taken" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(
            AWSServiceName="elasticloadbalancing.amazonaws.com", CustomSuffix="x"
        )
    assert code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="nothing.amazonaws.com")
    assert code(exc) == "InvalidInput"

    for call in (
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.detach_role_policy(
            RoleName=name,
            PolicyArn="arn:aws:iam::aws:policy/aws-service-role/"
            "AWSElasticLoadBalancingServiceRolePolicy",
        ),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust)),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "UnmodifiableEntity"

    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/elasticloadbalancing.amazonaws.com/{name}/")
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
    assert status["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.get_service_linked_role_deletion_status(DeletionTaskId="task/aws-service-role/x/y/none")
    assert code(exc) == "NoSuchEntity"


def test_custom_suffix_and_ordinary_roles(aws_client):
    iam = aws_client("iam")
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web"
    )["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    iam.create_role(
        RoleName="plain-role-slr",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as exc:
        iam.delete_service_linked_role(RoleName="plain-role-slr")
    assert code(exc) == "InvalidInput"
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForAutoScaling_web")
