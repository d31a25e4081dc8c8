"""CloudWatch Logs transformers with boto3 against a real server: TestTransformer with
parsers and mutators (JSON, key-value, CSV, grok, type and date conversion), a group's
transformer turning stored events into its output (failures kept as sent), metric
filters seeing events as sent unless ``applyOnTransformedLogs``, the account's
transformer policy for groups without their own, and AWS's rules for configurations."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

RENAME = [
    {"parseJSON": {}},
    {"renameKeys": {"entries": [{"key": "user", "renameTo": "username"}]}},
]


def _group(logs, cls: str = "STANDARD") -> str:
    name = f"/transform/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name, logGroupClass=cls)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    return name


def _put(logs, group: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def _messages(logs, group: str) -> list[str]:
    out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    return [e["message"] for e in out["events"]]


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _test(logs, config: list, *messages: str) -> list[str | None]:
    out = logs.test_transformer(transformerConfig=config, logEventMessages=list(messages))
    logs_ = out["transformedLogs"]
    assert [r["eventNumber"] for r in logs_] == list(range(1, len(messages) + 1))
    assert [r["eventMessage"] for r in logs_] == list(messages)
    return [r.get("transformedEventMessage") for r in logs_]


def test_test_transformer_runs_parsers_and_mutators(aws_client):
    logs = aws_client("logs")
    assert _test(logs, RENAME, '{"user": "bob", "n": 1}', "not json") == [
        '{"n":1,"username":"bob"}',
        None,
    ]
    config = [
        {"parseKeyValue": {"fieldDelimiter": " ", "keyPrefix": "kv_"}},
        {"typeConverter": {"entries": [{"key": "kv_ms", "type": "integer"}]}},
        {"upperCaseString": {"withKeys": ["kv_level"]}},
        {"addKeys": {"entries": [{"key": "meta.env", "value": "prod"}]}},
        {"moveKeys": {"entries": [{"source": "kv_path", "target": "meta.path"}]}},
        {"deleteKeys": {"withKeys": ["kv_junk"]}},
    ]
    [out] = _test(logs, config, "level=warn ms=42 path=/a junk=1")
    assert json.loads(out) == {
        "kv_level": "WARN",
        "kv_ms": 42,
        "meta": {"env": "prod", "path": "/a"},
    }
    config = [
        {"csv": {"columns": ["when", "ip", "tags"]}},
        {"splitString": {"entries": [{"source": "tags", "delimiter": ";"}]}},
        {
            "dateTimeConverter": {
                "source": "when",
                "target": "iso",
                "matchPatterns": ["dd/MMM/yyyy:HH:mm:ss Z"],
            }
        },
        {"substituteString": {"entries": [{"source": "ip", "from": "\\d+$", "to": "0"}]}},
        {"copyValue": {"entries": [{"source": "ip", "target": "client"}]}},
    ]
    [out] = _test(logs, config, '05/Mar/2024:14:02:03 +0200,10.1.2.3,"a;b"')
    assert json.loads(out) == {
        "when": "05/Mar/2024:14:02:03 +0200",
        "ip": "10.1.2.0",
        "tags": ["a", "b"],
        "iso": "2024-03-05T12:02:03.000Z",
        "client": "10.1.2.0",
    }
    grok = [
        {
            "grok": {
                "match": "%{IPV4:client} %{WORD:method} %{URIPATHPARAM:request} %{NUMBER:status}"
            }
        }
    ]
    [hit, miss] = _test(logs, grok, "10.0.0.1 GET /index.html?a=1 200", "garbage")
    assert json.loads(hit) == {
        "client": "10.0.0.1",
        "method": "GET",
        "request": "/index.html?a=1",
        "status": "200",
    }
    assert miss is None


def test_a_groups_transformer_changes_what_is_stored(aws_client):
    logs = aws_client("logs")
    group = _group(logs)
    _put(logs, group, '{"user": "before"}')
    logs.put_transformer(logGroupIdentifier=group, transformerConfig=RENAME)
    got = logs.get_transformer(logGroupIdentifier=group)
    assert got["transformerConfig"] == RENAME
    assert got["creationTime"] == got["lastModifiedTime"] > 0
    _put(logs, group, '{"user": "ann", "status": 500}', "plain text stays")
    assert _messages(logs, group) == [
        '{"user": "before"}',
        '{"status":500,"username":"ann"}',
        "plain text stays",
    ]
    found = logs.filter_log_events(logGroupName=group, filterPattern='{ $.username = "ann" }')
    assert [e["message"] for e in found["events"]] == ['{"status":500,"username":"ann"}']
    logs.delete_transformer(logGroupIdentifier=group)
    assert "transformerConfig" not in logs.get_transformer(logGroupIdentifier=group)
    _put(logs, group, '{"user": "after"}')
    assert _messages(logs, group)[-1] == '{"user": "after"}'
    with pytest.raises(ClientError) as exc:
        logs.delete_transformer(logGroupIdentifier=group)
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_metric_filters_see_events_as_sent_unless_asked(aws_client):
    logs, cloudwatch = aws_client("logs"), aws_client("cloudwatch")
    group = _group(logs)
    logs.put_transformer(logGroupIdentifier=group, transformerConfig=RENAME)
    _put(logs, group, '{"user": "zed"}')  # filters put after a write still apply
    ns = f"Transform{uuid.uuid4().hex[:8]}"
    for name, transformed in (("sent", False), ("transformed", True)):
        logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern='{ $.username = "ann" }',
            metricTransformations=[{"metricName": name, "metricNamespace": ns, "metricValue": "1"}],
            applyOnTransformedLogs=transformed,
        )
    described = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert {f["filterName"]: f["applyOnTransformedLogs"] for f in described} == {
        "sent": False,
        "transformed": True,
    }
    _put(logs, group, '{"user": "ann"}')
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=ns)["Metrics"]}
    assert names == {"transformed"}


def test_account_transformer_policy_applies_where_a_group_has_none(aws_client):
    logs = aws_client("logs", region_name="ca-central-1")
    prefix = f"/acct-{uuid.uuid4().hex[:6]}"
    scoped = [{"parseJSON": {}}, {"addKeys": {"entries": [{"key": "by", "value": "account"}]}}]
    logs.put_account_policy(
        policyName="scoped",
        policyType="TRANSFORMER_POLICY",
        policyDocument=json.dumps({"transformerConfig": scoped}),
        selectionCriteria=f'LogGroupNamePrefix IN ["{prefix}"]',
    )
    try:
        with pytest.raises(ClientError) as exc:
            logs.put_account_policy(
                policyName="overlap",
                policyType="TRANSFORMER_POLICY",
                policyDocument=json.dumps({"transformerConfig": scoped}),
                selectionCriteria=f'LogGroupNamePrefix IN ["{prefix}/more"]',
            )
        assert _error(exc)[0] == "InvalidParameterException"
        inside, own = f"{prefix}/a", f"{prefix}/b"
        for name in (inside, own):
            logs.create_log_group(logGroupName=name)
            logs.create_log_stream(logGroupName=name, logStreamName="s")
        logs.put_transformer(logGroupIdentifier=own, transformerConfig=RENAME)
        for name in (inside, own):
            _put(logs, name, '{"user": "x"}')
        assert _messages(logs, inside) == ['{"user":"x","by":"account"}']
        assert _messages(logs, own) == ['{"username":"x"}']
        [described] = logs.describe_account_policies(policyType="TRANSFORMER_POLICY")[
            "accountPolicies"
        ]
        assert described["selectionCriteria"] == f'LogGroupNamePrefix IN ["{prefix}"]'
    finally:
        logs.delete_account_policy(policyName="scoped", policyType="TRANSFORMER_POLICY")


def test_configuration_rules(aws_client):
    logs = aws_client("logs", config=Config(parameter_validation=False))
    group = _group(logs)
    add = {"addKeys": {"entries": [{"key": "a", "value": "b"}]}}
    cases = {
        "mutator first": [add, {"parseJSON": {}}],
        "two kinds": [{"parseJSON": {}, "csv": {}}],
        "two grok": [{"grok": {"match": "%{WORD:a}"}}, {"grok": {"match": "%{WORD:b}"}}],
        "two addKeys": [{"parseJSON": {}}, add, add],
        "six parsers": [{"parseJSON": {}}] * 6,
        "bad grok": [{"grok": {"match": "%{NOPE:a}"}}],
        "grok types": [{"grok": {"match": "%{NUMBER:a:int}"}}],
        "vended": [{"parseVPC": {}}],
        "too many": [{"parseJSON": {}}] + [add] * 20,
        "bad date": [
            {"parseJSON": {}},
            {"dateTimeConverter": {"source": "a", "target": "b", "matchPatterns": ["QQQ"]}},
        ],
    }
    for why, config in cases.items():
        with pytest.raises(ClientError) as exc:
            logs.put_transformer(logGroupIdentifier=group, transformerConfig=config)
        assert _error(exc)[0] == "InvalidParameterException", why
    with pytest.raises(ClientError) as exc:
        logs.test_transformer(transformerConfig=[{"parseVPC": {}}], logEventMessages=["x"])
    assert "cloudlet does not build the parseVPC processor" in _error(exc)[1]
    infrequent = _group(logs, "INFREQUENT_ACCESS")
    with pytest.raises(ClientError) as exc:
        logs.put_transformer(logGroupIdentifier=infrequent, transformerConfig=RENAME)
    assert _error(exc)[0] == "InvalidOperationException"
