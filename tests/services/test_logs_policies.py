"""CloudWatch Logs resource and account policies with boto3 against a real server:
account-level resource policies (10 per Region, size, grammar, paging), a log group's
own policy guarded by revision ids, account policies (one data protection and one
subscription filter policy per account, METRIC_EXTRACTION_POLICY's 501), an account
subscription filter policy delivering every selected group's events to a Kinesis
stream, all of it surviving a restart, and strict mode, where EventBridge writes to a
log group only when a resource policy grants ``events.amazonaws.com``."""

from __future__ import annotations

import gzip
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/CWLtoKinesisRole"


def grant(service: str, resource: str = "*", actions: tuple = ("logs:PutLogEvents",)) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": list(actions),
                    "Resource": resource,
                }
            ],
        }
    )


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _name(prefix: str = "/policies") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def test_account_resource_policies_limits_and_paging(aws_client):
    logs = aws_client("logs", region_name="eu-west-3")
    names = [f"p{i}" for i in range(10)]
    for name in names:
        out = logs.put_resource_policy(
            policyName=name, policyDocument=grant("route53.amazonaws.com")
        )
        assert out["resourcePolicy"]["policyName"] == name
        assert out["resourcePolicy"]["policyScope"] == "ACCOUNT"
    try:
        with pytest.raises(ClientError) as exc:
            logs.put_resource_policy(policyName="eleventh", policyDocument=grant("x.amazonaws.com"))
        assert _error(exc)[0] == "LimitExceededException"
        replaced = grant("delivery.logs.amazonaws.com")
        logs.put_resource_policy(policyName="p3", policyDocument=replaced)
        seen, token = [], None
        while True:
            page = logs.describe_resource_policies(
                limit=4, **({"nextToken": token} if token else {})
            )
            seen += page["resourcePolicies"]
            token = page.get("nextToken")
            if not token:
                break
        assert [p["policyName"] for p in seen] == names
        assert {p["policyName"]: p["policyDocument"] for p in seen}["p3"] == replaced
        bad = {
            "not json": "{",
            "no principal": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
                }
            ),
            "too large": grant(
                "x.amazonaws.com", resource="arn:aws:logs:*:*:log-group:" + "a" * 5200
            ),
        }
        for why, text in bad.items():
            with pytest.raises(ClientError) as exc:
                logs.put_resource_policy(policyName="p0", policyDocument=text)
            assert _error(exc)[0] == "InvalidParameterException", why
        with pytest.raises(ClientError) as exc:
            logs.delete_resource_policy(policyName="nope")
        assert _error(exc) == (
            "ResourceNotFoundException",
            "Policy with name [nope] does not exist",
        )
    finally:
        for name in names:
            logs.delete_resource_policy(policyName=name)
    assert logs.describe_resource_policies()["resourcePolicies"] == []


def test_a_log_groups_policy_is_guarded_by_revisions(aws_client):
    logs = aws_client("logs")
    group = _name()
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    doc = grant("events.amazonaws.com", f"{arn}:*")
    first = logs.put_resource_policy(resourceArn=arn, policyName="events", policyDocument=doc)
    assert first["resourcePolicy"]["policyScope"] == "RESOURCE"
    assert first["resourcePolicy"]["resourceArn"] == arn
    assert first["revisionId"] == first["resourcePolicy"]["revisionId"]
    for expected in (None, "stale"):
        with pytest.raises(ClientError) as exc:
            logs.put_resource_policy(
                resourceArn=arn,
                policyDocument=doc,
                **({"expectedRevisionId": expected} if expected else {}),
            )
        assert _error(exc)[0] == "OperationAbortedException"
    second = logs.put_resource_policy(
        resourceArn=arn, policyDocument=doc, expectedRevisionId=first["revisionId"]
    )
    assert second["revisionId"] != first["revisionId"]
    [shown] = logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"]
    assert shown["revisionId"] == second["revisionId"]
    scoped = logs.describe_resource_policies(policyScope="RESOURCE")["resourcePolicies"]
    assert arn in [p["resourceArn"] for p in scoped]
    assert arn not in [
        p.get("resourceArn") for p in logs.describe_resource_policies()["resourcePolicies"]
    ]
    with pytest.raises(ClientError) as exc:
        logs.put_resource_policy(resourceArn=arn + "-gone", policyDocument=doc)
    assert _error(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.delete_resource_policy(resourceArn=arn, expectedRevisionId=first["revisionId"])
    assert _error(exc)[0] == "OperationAbortedException"
    logs.delete_resource_policy(resourceArn=arn, expectedRevisionId=second["revisionId"])
    assert logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"] == []


def test_account_policies_and_their_limits(aws_client):
    logs = aws_client("logs", region_name="sa-east-1")
    dp = json.dumps(
        {
            "Name": "acct",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Audit": {"FindingsDestination": {}}},
                },
                {
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Deidentify": {"MaskConfig": {}}},
                },
            ],
        }
    )
    out = logs.put_account_policy(
        policyName="one", policyType="DATA_PROTECTION_POLICY", policyDocument=dp
    )
    policy = out["accountPolicy"]
    assert policy["scope"] == "ALL" and policy["accountId"] == ACCOUNT
    try:
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName="two", policyType="DATA_PROTECTION_POLICY", policyDocument=dp
            )
        assert _error(exc)[0] == "LimitExceededException"
        refused = [
            (
                {"policyName": "aws/x", "policyType": "DATA_PROTECTION_POLICY"},
                "InvalidParameterException",
            ),
            (
                {
                    "policyName": "one",
                    "policyType": "DATA_PROTECTION_POLICY",
                    "selectionCriteria": "x",
                },
                "InvalidParameterException",
            ),
        ]
        for params, code in refused:
            with pytest.raises(ClientError) as exc:
                logs.put_account_policy(policyDocument=dp, **params)
            assert _error(exc)[0] == code, params
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName="metrics",
                policyType="METRIC_EXTRACTION_POLICY",
                policyDocument="{}",
            )
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        [shown] = logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")[
            "accountPolicies"
        ]
        assert shown["policyName"] == "one" and shown["policyDocument"] == dp
        assert (
            logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY", policyName="x")[
                "accountPolicies"
            ]
            == []
        )
    finally:
        logs.delete_account_policy(policyName="one", policyType="DATA_PROTECTION_POLICY")
    with pytest.raises(ClientError) as exc:
        logs.delete_account_policy(policyName="one", policyType="DATA_PROTECTION_POLICY")
    assert _error(exc)[0] == "ResourceNotFoundException"


def _records(kinesis, name: str, want: int) -> list[dict]:
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    deadline = time.monotonic() + 10
    while True:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        found = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
        messages = [json.loads(gzip.decompress(r["Data"])) for r in found]
        if len(messages) >= want or time.monotonic() > deadline:
            return messages
        time.sleep(0.1)


def test_an_account_subscription_filter_policy_delivers_every_selected_group(server_fast):
    region = "ap-southeast-2"
    logs = server_fast.client("logs", region_name=region)
    kinesis = server_fast.client("kinesis", region_name=region)
    stream = f"account-sub-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    deadline = time.monotonic() + 10
    while (s := kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"])[
        "StreamStatus"
    ] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    groups = {name: _name("/acct-sub") for name in ("a", "b", "excluded")}
    for group in groups.values():
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    document = {"DestinationArn": s["StreamARN"], "RoleArn": ROLE, "FilterPattern": "ERROR"}
    with pytest.raises(ClientError) as exc:
        logs.put_account_policy(
            policyName="everything",
            policyType="SUBSCRIPTION_FILTER_POLICY",
            policyDocument=json.dumps({**document, "RoleArn": ""}),
        )
    assert _error(exc)[0] == "InvalidParameterException"
    logs.put_account_policy(
        policyName="everything",
        policyType="SUBSCRIPTION_FILTER_POLICY",
        policyDocument=json.dumps(document),
        selectionCriteria=f'LogGroupName NOT IN ["{groups["excluded"]}"]',
    )
    try:
        now = int(time.time() * 1000)
        for group in groups.values():
            logs.put_log_events(
                logGroupName=group,
                logStreamName="s",
                logEvents=[
                    {"timestamp": now, "message": f"ERROR in {group}"},
                    {"timestamp": now, "message": "INFO fine"},
                ],
            )
        messages = _records(kinesis, stream, 3)
        assert messages[0]["messageType"] == "CONTROL_MESSAGE"
        data = [m for m in messages if m["messageType"] == "DATA_MESSAGE"]
        assert sorted(m["logGroup"] for m in data) == sorted([groups["a"], groups["b"]])
        for m in data:
            assert m["subscriptionFilters"] == ["everything"]
            assert [e["message"] for e in m["logEvents"]] == [f"ERROR in {m['logGroup']}"]
    finally:
        logs.delete_account_policy(policyName="everything", policyType="SUBSCRIPTION_FILTER_POLICY")


@pytest.fixture(scope="module")
def server_fast():
    with CloudletServer.start(env={"CLOUDLET_KINESIS_CHANGE_SECONDS": "0.2"}) as srv:
        yield srv


def test_policies_survive_a_restart(tmp_path):
    group = _name()
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    transformer = [{"parseJSON": {}}]
    with CloudletServer.start(data_dir=tmp_path) as server:
        logs = server.client("logs")
        logs.create_log_group(logGroupName=group)
        logs.put_resource_policy(policyName="acct", policyDocument=grant("x.amazonaws.com"))
        revision = logs.put_resource_policy(
            resourceArn=arn, policyDocument=grant("events.amazonaws.com", f"{arn}:*")
        )["revisionId"]
        logs.put_transformer(logGroupIdentifier=group, transformerConfig=transformer)
        logs.put_account_policy(
            policyName="tp",
            policyType="TRANSFORMER_POLICY",
            policyDocument=json.dumps({"transformerConfig": transformer}),
        )
    with CloudletServer.start(data_dir=tmp_path) as server:
        logs = server.client("logs")
        [acct] = logs.describe_resource_policies()["resourcePolicies"]
        assert acct["policyName"] == "acct"
        [own] = logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"]
        assert own["revisionId"] == revision
        assert logs.get_transformer(logGroupIdentifier=group)["transformerConfig"] == transformer
        [tp] = logs.describe_account_policies(policyType="TRANSFORMER_POLICY")["accountPolicies"]
        assert tp["policyName"] == "tp"


def test_strict_mode_eventbridge_writes_only_where_a_policy_grants_it(strict_server):
    events, logs = strict_server.client("events"), strict_server.client("logs")
    sqs = strict_server.client("sqs")
    group = f"/aws/events/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    dlq = sqs.create_queue(QueueName=f"refused-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=dlq,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": dlq_arn,
                        }
                    ],
                }
            )
        },
    )
    source = f"com.example.{uuid.uuid4().hex[:6]}"
    rule = f"to-logs-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    target = {"Id": "log", "Arn": arn, "DeadLetterConfig": {"Arn": dlq_arn}}
    events.put_targets(Rule=rule, Targets=[target])

    def send() -> str:
        entry = {"Source": source, "DetailType": "t", "Detail": "{}"}
        return events.put_events(Entries=[entry])["Entries"][0]["EventId"]

    refused = send()
    deadline = time.monotonic() + 10
    dead: list[dict] = []
    while not dead:
        assert time.monotonic() < deadline
        dead = sqs.receive_message(
            QueueUrl=dlq, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
    assert json.loads(dead[0]["Body"])["id"] == refused
    assert dead[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    logs.put_resource_policy(
        policyName=f"events-{uuid.uuid4().hex[:6]}",
        policyDocument=grant(
            "events.amazonaws.com",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/*",
            ("logs:CreateLogStream", "logs:PutLogEvents"),
        ),
    )
    allowed = send()
    deadline = time.monotonic() + 10
    while not (found := logs.filter_log_events(logGroupName=group)["events"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [e["logStreamName"] for e in found] == [allowed]
