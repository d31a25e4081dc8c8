"""Access advisor with real boto3 against a strict-mode server: requests made as an IAM
user and as an assumed role show up in GetServiceLastAccessedDetails (services,
actions, Regions, entities), RoleLastUsed, group and policy reports, WithEntities,
ListPoliciesGrantingServiceAccess; AWS's errors; the history survives a restart."""

from __future__ import annotations

import json
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"
FAST_FLUSH = {"CLOUDLET_IAM_ACCESS_FLUSH_INTERVAL": "0.1"}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions: str) -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


@pytest.fixture(scope="module")
def server():
    srv = CloudletServer.start(auth="strict", env=FAST_FLUSH)
    try:
        yield srv
    finally:
        srv.stop()


def make_user(server, iam, *statements: dict, name: str | None = None):
    name = name or unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=doc(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]

    def client(service: str, **kw):
        return server.client(
            service,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            **kw,
        )

    return arn, client


def report(iam, arn: str, granularity: str = "SERVICE_LEVEL", **kw) -> dict:
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    assert len(job) == 36
    deadline = time.monotonic() + 15
    while True:
        out = iam.get_service_last_accessed_details(JobId=job, **kw)
        if out["JobStatus"] != "IN_PROGRESS":
            break
        assert "JobCompletionDate" not in out and out["ServicesLastAccessed"] == []
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert out["JobStatus"] == "COMPLETED" and out["JobType"] == granularity
    out["JobId"] = job
    return out


def by_namespace(out: dict) -> dict[str, dict]:
    return {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}


def test_user_and_assumed_role_attempts_reported(server):
    iam = server.client("iam")
    user_arn, as_user = make_user(
        server, iam, allow("sqs:*", "s3:ListAllMyBuckets", "sts:AssumeRole")
    )
    role = iam.create_role(
        RoleName=unique("role"),
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="r",
        PolicyDocument=doc(allow("sqs:ListQueues", "kinesis:ListStreams")),
    )
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"] == {}

    as_user("sqs", region_name="us-west-2").list_queues()
    as_user("s3").list_buckets()
    with pytest.raises(ClientError):  # denied attempts count, ungranted services don't show
        as_user("dynamodb").list_tables()
    creds = as_user("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="advisor")[
        "Credentials"
    ]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    server.client("sqs", region_name="eu-central-1", **session).list_queues()

    out = report(iam, user_arn, "ACTION_LEVEL")
    services = by_namespace(out)
    assert list(services) == ["s3", "sqs", "sts"]
    sqs = services["sqs"]
    assert sqs["ServiceName"] == "Amazon Simple Queue Service"
    assert sqs["LastAuthenticatedEntity"] == user_arn
    assert sqs["LastAuthenticatedRegion"] == "us-west-2"
    assert sqs["TotalAuthenticatedEntities"] == 1
    assert [a["ActionName"] for a in sqs["TrackedActionsLastAccessed"]] == ["ListQueues"]
    assert services["s3"]["TrackedActionsLastAccessed"][0]["ActionName"] == "ListAllMyBuckets"
    assert services["s3"]["LastAuthenticatedRegion"] == "us-east-1"
    assert services["sts"]["TrackedActionsLastAccessed"][0]["ActionName"] == "AssumeRole"

    plain = report(iam, user_arn)
    assert "TrackedActionsLastAccessed" not in by_namespace(plain)["sqs"]

    role_out = by_namespace(report(iam, role["Arn"]))
    assert list(role_out) == ["kinesis", "sqs"]
    assert role_out["sqs"]["LastAuthenticatedEntity"] == role["Arn"]
    assert role_out["sqs"]["LastAuthenticatedRegion"] == "eu-central-1"
    assert role_out["kinesis"] == {
        "ServiceName": "Amazon Kinesis",
        "ServiceNamespace": "kinesis",
        "TotalAuthenticatedEntities": 0,
    }
    used = iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert used["Region"] == "eu-central-1"
    assert used["LastUsedDate"] == role_out["sqs"]["LastAuthenticated"]
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == role["RoleName"]]
    assert "RoleLastUsed" not in listed[0]  # ListRoles does not show it, as on AWS


def test_group_and_policy_reports_aggregate_their_entities(server):
    iam = server.client("iam")
    policy_arn = iam.create_policy(
        PolicyName=unique("queues"), PolicyDocument=doc(allow("sqs:ListQueues"))
    )["Policy"]["Arn"]
    group = unique("group")
    group_arn = iam.create_group(GroupName=group)["Group"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)
    active_arn, active = make_user(server, iam)
    idle_arn, _ = make_user(server, iam)
    for arn in (active_arn, idle_arn):
        iam.add_user_to_group(GroupName=group, UserName=arn.rsplit("/", 1)[1])
    role = iam.create_role(
        RoleName=unique("idle-role"),
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=policy_arn)
    active("sqs", region_name="ap-south-1").list_queues()

    for arn in (group_arn, policy_arn):
        out = report(iam, arn)
        (sqs,) = out["ServicesLastAccessed"]
        assert sqs["ServiceNamespace"] == "sqs"
        assert sqs["LastAuthenticatedEntity"] == active_arn
        assert sqs["LastAuthenticatedRegion"] == "ap-south-1"
        assert sqs["TotalAuthenticatedEntities"] == 1
        details = iam.get_service_last_accessed_details_with_entities(
            JobId=out["JobId"], ServiceNamespace="sqs"
        )
        rows = details["EntityDetailsList"]
        assert rows[0]["EntityInfo"]["Arn"] == active_arn  # most recent first
        assert rows[0]["EntityInfo"]["Type"] == "USER"
        assert rows[0]["LastAuthenticated"] == sqs["LastAuthenticated"]
        expected = {active_arn, idle_arn} | ({role["Arn"]} if arn == policy_arn else set())
        assert {r["EntityInfo"]["Arn"] for r in rows} == expected
        assert all("LastAuthenticated" not in r for r in rows[1:])
        none = iam.get_service_last_accessed_details_with_entities(
            JobId=out["JobId"], ServiceNamespace="ec2"
        )
        assert none["EntityDetailsList"] == [] and none["JobStatus"] == "COMPLETED"


def test_paging_and_errors(server):
    iam = server.client("iam")
    user = unique("admin")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    out = report(iam, arn)
    assert out["IsTruncated"] and len(out["ServicesLastAccessed"]) == 100  # the default page
    everything, marker = list(out["ServicesLastAccessed"]), out["Marker"]
    while marker:
        more = iam.get_service_last_accessed_details(JobId=out["JobId"], Marker=marker)
        everything += more["ServicesLastAccessed"]
        marker = more.get("Marker")
    namespaces = [s["ServiceNamespace"] for s in everything]
    assert len(namespaces) > 300 and namespaces == sorted(namespaces)
    assert {"s3", "iam", "elasticloadbalancing", "cloudwatch", "access-analyzer"} <= set(namespaces)
    first = iam.get_service_last_accessed_details(JobId=out["JobId"], MaxItems=2)
    assert first["IsTruncated"] and len(first["ServicesLastAccessed"]) == 2
    second = iam.get_service_last_accessed_details(
        JobId=out["JobId"], MaxItems=2, Marker=first["Marker"]
    )
    assert second["ServicesLastAccessed"] == everything[2:4]

    def code(call, **kw) -> tuple[str, int]:
        with pytest.raises(ClientError) as exc:
            call(**kw)
        return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"][
            "HTTPStatusCode"
        ]

    generate = iam.generate_service_last_accessed_details
    assert code(generate, Arn=f"arn:aws:iam::{ACCOUNT}:user/nobody-here") == ("NoSuchEntity", 404)
    assert code(generate, Arn=f"arn:aws:iam::{ACCOUNT}:root") == ("InvalidInput", 400)
    assert code(generate, Arn=f"arn:aws:s3:::bucket-{ACCOUNT}") == ("InvalidInput", 400)
    assert code(generate, Arn=arn, Granularity="DAILY") == ("ValidationError", 400)
    missing = "00000000-0000-0000-0000-000000000000"
    assert code(iam.get_service_last_accessed_details, JobId=missing) == ("NoSuchEntity", 404)
    unchecked = server.client("iam", config=Config(parameter_validation=False))
    assert code(unchecked.get_service_last_accessed_details, JobId="short") == (
        "ValidationError",
        400,
    )
    # a job is good only for whoever generated it
    _, other = make_user(server, iam, allow("iam:*"))
    assert code(other("iam").get_service_last_accessed_details, JobId=out["JobId"]) == (
        "NoSuchEntity",
        404,
    )


def test_list_policies_granting_service_access(server):
    iam = server.client("iam")
    user_arn, _ = make_user(server, iam, allow("sqs:SendMessage"))
    user = user_arn.rsplit("/", 1)[1]
    managed = iam.create_policy(
        PolicyName=unique("iam-read"), PolicyDocument=doc(allow("iam:Get*", "ec2:Describe*"))
    )["Policy"]
    iam.attach_user_policy(UserName=user, PolicyArn=managed["Arn"])
    group = unique("devs")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(
        GroupName=group,
        PolicyName="everything-but-iam",
        PolicyDocument=doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )
    out = iam.list_policies_granting_service_access(
        Arn=user_arn, ServiceNamespaces=["iam", "sqs", "lambda"]
    )
    assert out["IsTruncated"] is False
    granted = {g["ServiceNamespace"]: g["Policies"] for g in out["PoliciesGrantingServiceAccess"]}
    assert granted["iam"] == [
        {"PolicyName": managed["PolicyName"], "PolicyType": "MANAGED", "PolicyArn": managed["Arn"]}
    ]
    group_inline = {
        "PolicyName": "everything-but-iam",
        "PolicyType": "INLINE",
        "EntityType": "GROUP",
        "EntityName": group,
    }
    user_inline = {
        "PolicyName": "inline",
        "PolicyType": "INLINE",
        "EntityType": "USER",
        "EntityName": user,
    }
    assert granted["sqs"] == [user_inline, group_inline]
    assert granted["lambda"] == [group_inline]
    by_group = iam.list_policies_granting_service_access(
        Arn=f"arn:aws:iam::{ACCOUNT}:group/{group}", ServiceNamespaces=["sqs", "iam"]
    )["PoliciesGrantingServiceAccess"]
    assert by_group == [
        {"ServiceNamespace": "sqs", "Policies": [group_inline]},
        {"ServiceNamespace": "iam", "Policies": []},
    ]
    for arn, expected in (
        (managed["Arn"], "InvalidInput"),
        (f"arn:aws:iam::{ACCOUNT}:role/no-such-role", "NoSuchEntity"),
    ):
        with pytest.raises(ClientError) as exc:
            iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["sqs"])
        assert exc.value.response["Error"]["Code"] == expected


def test_history_survives_a_restart(tmp_path):
    first = CloudletServer.start(auth="strict", data_dir=tmp_path, env=FAST_FLUSH)
    try:
        iam = first.client("iam")
        arn, _ = make_user(first, iam, allow("sqs:ListQueues"), name="kept")
        key = iam.create_access_key(UserName="kept")["AccessKey"]
        as_user = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        first.client("sqs", region_name="ca-central-1", **as_user).list_queues()
        before = by_namespace(report(iam, arn, "ACTION_LEVEL"))["sqs"]
    finally:
        first.kill()  # a crash: what the report's flush wrote is on disk
    second = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        iam = second.client("iam")
        assert by_namespace(report(iam, arn, "ACTION_LEVEL"))["sqs"] == before
        second.client("sqs", region_name="sa-east-1", **as_user).list_queues()
    finally:
        second.stop()  # a clean stop writes what was recorded since the last flush
    third = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        after = by_namespace(report(third.client("iam"), arn, "ACTION_LEVEL"))["sqs"]
        assert after["LastAuthenticatedRegion"] == "sa-east-1"
        assert after["LastAuthenticated"] > before["LastAuthenticated"]
    finally:
        third.stop()
