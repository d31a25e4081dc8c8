"""CloudWatch Logs data protection with boto3 against a real server: a log group's policy
masking e-mail addresses and credit card numbers (Luhn and keyword checked) in
GetLogEvents, FilterLogEvents and Insights, ``unmask=True`` showing them, events from
before the policy left alone; AWS's refusals of malformed policies; the account-level
policy with a custom data identifier adding to the group's; audit findings delivered to
a log group and an S3 bucket; and, in strict mode, ``unmask`` needing ``logs:Unmask``."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

EMAIL = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
CARD = "arn:aws:dataprotection::aws:data-identifier/CreditCardNumber"
IP = "arn:aws:dataprotection::aws:data-identifier/IpAddress"


def policy(*identifiers: str, destination: dict | None = None, custom: list | None = None) -> str:
    doc: dict = {
        "Name": "data-protection-policy",
        "Version": "2021-06-01",
        "Statement": [
            {
                "Sid": "audit",
                "DataIdentifier": list(identifiers),
                "Operation": {"Audit": {"FindingsDestination": destination or {}}},
            },
            {
                "Sid": "redact",
                "DataIdentifier": list(identifiers),
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    if custom:
        doc["Configuration"] = {"CustomDataIdentifier": custom}
    return json.dumps(doc)


def _group(logs, stream: str = "s") -> str:
    name = f"/protect/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    return name


def _put(logs, group: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def _messages(logs, group: str, **kw) -> list[str]:
    out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, **kw)
    return [e["message"] for e in out["events"]]


def _query(logs, group: str, text: str) -> list[dict[str, str]]:
    query = logs.start_query(
        logGroupName=group,
        startTime=int(time.time()) - 600,
        endTime=int(time.time()) + 600,
        queryString=text,
    )["queryId"]
    deadline = time.monotonic() + 10
    while (result := logs.get_query_results(queryId=query))["status"] != "Complete":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return [
        {f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in result["results"]
    ]


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


PAID = "alice@example.com paid with credit card 4111 1111 1111 1111 from 10.1.2.3"
MASKED = "***************** paid with credit card ******************* from 10.1.2.3"


def test_a_group_policy_masks_what_it_names_and_unmask_shows_it(aws_client):
    logs = aws_client("logs")
    group = _group(logs)
    _put(logs, group, "before: bob@example.com")
    out = logs.put_data_protection_policy(
        logGroupIdentifier=group, policyDocument=policy(EMAIL, CARD)
    )
    assert out["logGroupIdentifier"] == group and out["lastUpdatedTime"] > 0
    got = logs.get_data_protection_policy(logGroupIdentifier=group)
    assert json.loads(got["policyDocument"])["Name"] == "data-protection-policy"
    _put(logs, group, PAID, "order 4111111111111111 shipped", "no secrets")
    # No keyword near the second number: AWS's CreditCardNumber needs one, so it stays.
    expected = ["before: bob@example.com", MASKED, "order 4111111111111111 shipped", "no secrets"]
    assert _messages(logs, group) == expected
    assert _messages(logs, group, unmask=True)[1] == PAID
    found = logs.filter_log_events(logGroupName=group, filterPattern="paid")["events"]
    assert [e["message"] for e in found] == [MASKED]
    assert logs.filter_log_events(logGroupName=group, filterPattern="alice")["events"] == []
    found = logs.filter_log_events(logGroupName=group, filterPattern="alice", unmask=True)
    assert [e["message"] for e in found["events"]] == [PAID]
    query = logs.start_query(
        logGroupName=group,
        startTime=int(time.time()) - 600,
        endTime=int(time.time()) + 600,
        queryString="fields @message | filter @message like /paid/",
    )["queryId"]
    deadline = time.monotonic() + 10
    while (result := logs.get_query_results(queryId=query))["status"] != "Complete":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [r[0]["value"] for r in result["results"]] == [MASKED]
    # Insights' unmask shows the event as ingested (and fields found in it), beside the mask.
    rows = _query(
        logs, group, "fields @message, unmask(@message) as plain | filter @message like /paid/"
    )
    assert [(r["@message"], r["plain"]) for r in rows] == [(MASKED, PAID)]
    rows = _query(logs, group, "fields unmask(@message) | filter @message like /no secrets/")
    assert rows == [{"unmask(@message)": "no secrets"}]
    logs.delete_data_protection_policy(logGroupIdentifier=group)
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier=group)
    _put(logs, group, "after: carol@example.com")
    assert _messages(logs, group)[-1] == "after: carol@example.com"
    with pytest.raises(ClientError) as exc:
        logs.delete_data_protection_policy(logGroupIdentifier=group)
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_malformed_policies_are_refused(aws_client):
    logs = aws_client("logs")
    group = _group(logs)
    good = json.loads(policy(EMAIL))
    two = json.loads(policy(EMAIL, CARD))

    def variant(**changes) -> str:
        doc = json.loads(json.dumps(good))
        for path, value in changes.items():
            node = doc
            *parents, last = path.split("/")
            for p in parents:
                node = node[int(p)] if p.isdigit() else node[p]
            node[last] = value
        return json.dumps(doc)

    cases = {
        "not json": "{",
        "bad name": variant(Name="data protection policy"),
        "bad version": variant(Version="2012-10-17"),
        "one statement": json.dumps({**good, "Statement": good["Statement"][:1]}),
        "mask config": variant(
            **{"Statement/1/Operation": {"Deidentify": {"MaskConfig": {"x": 1}}}}
        ),
        "no findings destination": variant(**{"Statement/0/Operation": {"Audit": {}}}),
        "mismatch": json.dumps({**good, "Statement": [good["Statement"][0], two["Statement"][1]]}),
        "unknown identifier": policy("arn:aws:dataprotection::aws:data-identifier/Nope"),
        "not an arn": policy("EmailAddress"),
        "missing log group": policy(EMAIL, destination={"CloudWatchLogs": {"LogGroup": "/nope"}}),
        "bad custom regex": policy("Emp", custom=[{"Name": "Emp", "Regex": "("}]),
    }
    for why, text in cases.items():
        with pytest.raises(ClientError) as exc:
            logs.put_data_protection_policy(logGroupIdentifier=group, policyDocument=text)
        code, message = _error(exc)
        assert code == "InvalidParameterException", why
        if why == "bad name":
            assert message == (
                "Policy Name can only include alphanumeric characters, hyphens (-) and "
                "underscores (_)"
            )
    with pytest.raises(ClientError) as exc:
        logs.put_data_protection_policy(
            logGroupIdentifier=group,
            policyDocument=policy("arn:aws:dataprotection::aws:data-identifier/Name"),
        )
    assert "cloudlet does not detect the managed data identifier Name" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        logs.put_data_protection_policy(
            logGroupIdentifier=group + "-gone", policyDocument=policy(EMAIL)
        )
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_account_policy_adds_to_the_groups_and_audit_findings_arrive(aws_client):
    logs = aws_client("logs", region_name="eu-north-1")
    s3 = aws_client("s3", region_name="eu-north-1")
    bucket = f"findings-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
    audit = _group(logs)
    group = _group(logs)
    employee = [{"Name": "EmployeeId", "Regex": "EmployeeId-\\d{9}"}]
    destination = {"CloudWatchLogs": {"LogGroup": audit}, "S3": {"Bucket": bucket}}
    logs.put_account_policy(
        policyName="account-protection",
        policyType="DATA_PROTECTION_POLICY",
        policyDocument=policy("EmployeeId", destination=destination, custom=employee),
    )
    try:
        logs.put_data_protection_policy(logGroupIdentifier=group, policyDocument=policy(IP))
        _put(logs, group, "EmployeeId-123456789 logged in from 192.168.0.7")
        assert _messages(logs, group) == ["******************** logged in from ***********"]
        deadline = time.monotonic() + 10
        while not (found := logs.filter_log_events(logGroupName=audit)["events"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        [report] = [json.loads(e["message"]) for e in found]
        assert found[0]["logStreamName"] == group
        assert report["resourceArn"].endswith(f":log-group:{group}:*")
        assert report["dataIdentifiers"] == [
            {"name": "EmployeeId", "count": 1, "detections": [{"start": 0, "end": 20}]}
        ]
        assert report["auditTimestamp"].endswith("Z")
        prefix = f"AWSLogs/000000000000/DataProtection/eu-north-1/{group.strip('/')}/"
        while not (objects := s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [obj] = objects
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
        assert [json.loads(line) for line in body.splitlines()] == [report]
    finally:
        logs.delete_account_policy(
            policyName="account-protection", policyType="DATA_PROTECTION_POLICY"
        )
    _put(logs, group, "EmployeeId-987654321 again")
    assert _messages(logs, group)[-1] == "EmployeeId-987654321 again"


def test_strict_mode_unmask_needs_logs_unmask(strict_server):
    iam, admin = strict_server.client("iam"), strict_server.client("logs")
    group = _group(admin)
    admin.put_data_protection_policy(logGroupIdentifier=group, policyDocument=policy(EMAIL))
    _put(admin, group, "mail dave@example.com")
    user = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(
        UserName=user,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:GetLogEvents", "logs:StartQuery", "logs:GetQueryResults"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    reader = strict_server.client(
        "logs", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    deadline = time.monotonic() + 10
    while True:  # a new key may take a moment to be known
        try:
            assert _messages(reader, group) == ["mail " + "*" * len("dave@example.com")]
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with pytest.raises(ClientError) as exc:
        _messages(reader, group, unmask=True)
    assert _error(exc)[0] == "AccessDeniedException"
    assert "logs:Unmask" in _error(exc)[1]
    assert _messages(admin, group, unmask=True) == ["mail dave@example.com"]
    plain = "fields unmask(@message) as plain"
    assert _query(reader, group, "fields @message") == [{"@message": "mail " + "*" * 16}]
    with pytest.raises(ClientError) as exc:
        _query(reader, group, plain)
    assert _error(exc)[0] == "AccessDeniedException"
    assert "logs:Unmask" in _error(exc)[1]
    assert _query(admin, group, plain) == [{"plain": "mail dave@example.com"}]
