"""A few AWS managed policies (``arn:aws:iam::aws:policy/...``) that programs attach.

AWS publishes about a thousand; these are the ones local programs and tests
reach for. Each is the real document's effect, kept short.
"""

from __future__ import annotations

import json

_FULL = {
    # the policies of the service-linked roles IAM makes (service_roles)
    "AWSElasticLoadBalancingServiceRolePolicy": [
        "ec2:Describe*",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:ModifyNetworkInterfaceAttribute",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
    ],
    "AutoScalingServiceRolePolicy": [
        "ec2:Describe*",
        "ec2:RunInstances",
        "ec2:StartInstances",
        "ec2:StopInstances",
        "ec2:TerminateInstances",
        "ec2:CreateTags",
        "elasticloadbalancing:Register*",
        "elasticloadbalancing:Deregister*",
        "elasticloadbalancing:Describe*",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        "sns:Publish",
        "ssm:GetParameters",
    ],
    "AdministratorAccess": ["*"],
    "PowerUserAccess": ["*"],
    "AmazonS3FullAccess": ["s3:*", "s3-object-lambda:*"],
    "AmazonSQSFullAccess": ["sqs:*"],
    "AmazonSNSFullAccess": ["sns:*"],
    "AmazonDynamoDBFullAccess": ["dynamodb:*"],
    "CloudWatchFullAccess": ["cloudwatch:*", "logs:*"],
    "CloudWatchLogsFullAccess": ["logs:*"],
    "AWSLambda_FullAccess": ["lambda:*", "logs:*", "iam:PassRole"],
    "AmazonEC2FullAccess": ["ec2:*", "elasticloadbalancing:*", "autoscaling:*", "cloudwatch:*"],
    "IAMFullAccess": ["iam:*"],
    "AmazonS3ReadOnlyAccess": ["s3:Get*", "s3:List*", "s3:Describe*"],
    "AmazonSQSReadOnlyAccess": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueues"],
    "AmazonDynamoDBReadOnlyAccess": [
        "dynamodb:BatchGetItem",
        "dynamodb:Describe*",
        "dynamodb:List*",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    ],
    "AWSLambdaExecute": ["logs:*", "s3:GetObject", "s3:PutObject"],
    "AWSLambdaBasicExecutionRole": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "AWSLambdaSQSQueueExecutionRole": [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
}

_PATHS = {
    "AWSLambdaBasicExecutionRole": "/service-role/",
    "AWSLambdaSQSQueueExecutionRole": "/service-role/",
    "AWSLambdaDynamoDBExecutionRole": "/service-role/",
    "PowerUserAccess": "/",
    "AWSElasticLoadBalancingServiceRolePolicy": "/aws-service-role/",
    "AutoScalingServiceRolePolicy": "/aws-service-role/",
}


def _document(actions: list[str]) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    if actions == ["*"]:
        statement = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _power_user() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "NotAction": ["iam:*", "organizations:*", "account:*"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["iam:CreateServiceLinkedRole", "iam:ListRoles"],
                    "Resource": "*",
                },
            ],
        }
    )


def _build() -> dict[str, dict]:
    out = {}
    for name, actions in _FULL.items():
        path = _PATHS.get(name, "/")
        arn = f"arn:aws:iam::aws:policy{path}{name}"
        doc = _power_user() if name == "PowerUserAccess" else _document(actions)
        out[arn] = {
            "PolicyName": name,
            "PolicyId": "ANPA" + name.upper()[:17].ljust(17, "X"),
            "Arn": arn,
            "Path": path,
            "DefaultVersionId": "v1",
            "Description": f"AWS managed policy {name}",
            "CreateDate": 1423008000.0,
            "UpdateDate": 1423008000.0,
            "Tags": {},
            "Versions": {"v1": {"Document": doc, "CreateDate": 1423008000.0}},
            "NextVersion": 2,
            "IsAttachable": True,
        }
    return out


AWS_MANAGED: dict[str, dict] = _build()
