"""CloudWatch Contributor Insights rules over log groups, with boto3 and the AWS CLI:
PutInsightRule's JSON and CLF rules count the events CloudWatch Logs accepts in the
groups they watch, GetInsightRuleReport ranks the contributors, and enabling,
disabling, deleting, tagging and restarting behave as on AWS."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}


def _rule(groups: list[str], **body) -> str:
    return json.dumps({"Schema": SCHEMA, "LogGroupNames": groups, **body})


def _put_events(logs, group: str, messages: list[str]) -> None:
    stream = "s"
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError:
        pass
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": m} for m in messages],
    )


def _report(cw, name: str, **kw) -> dict:
    now = datetime.now(UTC)
    return cw.get_insight_rule_report(
        RuleName=name,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        **kw,
    )


def _ranked(report: dict) -> list[tuple[list[str], float]]:
    return [(c["Keys"], c["ApproximateAggregateValue"]) for c in report["Contributors"]]


def test_a_json_rule_sums_its_contributors_over_the_groups_it_watches(cloudlet_server):
    cw, logs = cloudlet_server.client("cloudwatch"), cloudlet_server.client("logs")
    prefix = unique("api")
    for group in (f"{prefix}-a", f"{prefix}-b", unique("other")):
        logs.create_log_group(logGroupName=group)
    name = unique("bytes-by-ip")
    cw.put_insight_rule(
        RuleName=name,
        RuleDefinition=_rule(
            [f"{prefix}-*"],
            LogFormat="JSON",
            Contribution={
                "Keys": ["$.ip"],
                "ValueOf": "$.bytes",
                "Filters": [{"Match": "$.request.method", "In": ["PUT", "POST"]}],
            },
            AggregateOn="Sum",
        ),
    )
    event = lambda ip, n, method="PUT": json.dumps(  # noqa: E731
        {"ip": ip, "bytes": n, "request": {"method": method}}
    )
    _put_events(logs, f"{prefix}-a", [event("10.0.0.1", 100), event("10.0.0.2", 5)])
    _put_events(
        logs,
        f"{prefix}-b",
        [event("10.0.0.1", 50), event("10.0.0.3", 999, "GET"), "not json", event("x", "big")],
    )
    _put_events(logs, f"{prefix}-a", [json.dumps({"bytes": 7, "request": {"method": "PUT"}})])
    report = _report(cw, name, Metrics=["UniqueContributors", "Sum"])
    assert report["KeyLabels"] == ["$.ip"]
    assert report["AggregationStatistic"] == "Sum"
    assert _ranked(report) == [(["10.0.0.1"], 150.0), (["10.0.0.2"], 5.0)]
    assert report["AggregateValue"] == 155.0
    assert any(p.get("UniqueContributors") == 2.0 for p in report["MetricDatapoints"])
    rules = cw.describe_insight_rules()["InsightRules"]
    (mine,) = [r for r in rules if r["Name"] == name]
    assert mine["ManagedRule"] is False and mine["State"] == "ENABLED"
    assert mine["Schema"] == "CloudWatchLogRule/1"


def test_a_clf_rule_counts_by_field_position_and_alias(cloudlet_server, aws):
    cw, logs = cloudlet_server.client("cloudwatch"), cloudlet_server.client("logs")
    group = unique("access")
    logs.create_log_group(logGroupName=group)
    name = unique("ok-by-ip")
    definition = _rule(
        [group],
        LogFormat="CLF",
        Fields={"1": "IpAddress", "6": "StatusCode"},
        Contribution={
            "Keys": ["IpAddress", "5"],
            "Filters": [{"Match": "StatusCode", "EqualTo": 200}],
        },
        AggregateOn="Count",
    )
    aws("cloudwatch", "put-insight-rule", "--rule-name", name, "--rule-definition", definition)
    line = '{ip} - frank [10/Oct/2000:13:55:36 -0700] "GET /{page} HTTP/1.0" {status} 2326'
    _put_events(
        logs,
        group,
        [
            line.format(ip="1.1.1.1", page="a", status=200),
            line.format(ip="1.1.1.1", page="a", status=200),
            line.format(ip="2.2.2.2", page="b", status=200),
            line.format(ip="3.3.3.3", page="c", status=404),
        ],
    )
    report = _report(cw, name)
    assert report["AggregationStatistic"] == "Count"
    assert _ranked(report) == [
        (["1.1.1.1", "GET /a HTTP/1.0"], 2.0),
        (["2.2.2.2", "GET /b HTTP/1.0"], 1.0),
    ]


def test_disable_enable_delete_and_tags(cloudlet_server):
    cw, logs = cloudlet_server.client("cloudwatch"), cloudlet_server.client("logs")
    group = unique("toggle")
    logs.create_log_group(logGroupName=group)
    name = unique("toggle-rule")
    definition = _rule(
        [group], LogFormat="JSON", Contribution={"Keys": ["$.user"]}, AggregateOn="Count"
    )
    cw.put_insight_rule(
        RuleName=name, RuleDefinition=definition, Tags=[{"Key": "team", "Value": "a"}]
    )
    arn = f"arn:aws:cloudwatch:us-east-1:000000000000:insight-rule/{name}"
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert cw.disable_insight_rules(RuleNames=[name, "no-such-rule"])["Failures"] == [
        {
            "FailureResource": "no-such-rule",
            "ExceptionType": "ResourceNotFoundException",
            "FailureCode": "ResourceNotFoundException",
            "FailureDescription": "Rule no-such-rule does not exist.",
        }
    ]
    _put_events(logs, group, [json.dumps({"user": "ignored"})])
    cw.enable_insight_rules(RuleNames=[name])
    _put_events(logs, group, [json.dumps({"user": "alice"})])
    assert _ranked(_report(cw, name)) == [(["alice"], 1.0)]
    # Re-putting keeps the rule's tags (TagResource changes them).
    cw.put_insight_rule(RuleName=name, RuleDefinition=definition, RuleState="DISABLED")
    (rule,) = [r for r in cw.describe_insight_rules()["InsightRules"] if r["Name"] == name]
    assert rule["State"] == "DISABLED"
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert cw.delete_insight_rules(RuleNames=[name])["Failures"] == []
    with pytest.raises(ClientError) as exc:
        _report(cw, name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "definition",
    [
        {"Schema": {"Name": "Other", "Version": 1}},
        {"LogGroupARNs": ["arn:aws:logs:us-east-1:000000000000:log-group:g"]},
        {"LogFormat": "XML"},
        {"Contribution": {"Keys": ["$.a", "$.b", "$.c", "$.d", "$.e"]}},
        {"AggregateOn": "Sum"},
        {"Contribution": {"Keys": ["a"]}},
        {"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "Like": ["x"]}]}},
        {"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "GreaterThan": "1"}]}},
    ],
)
def test_invalid_definitions_are_refused(cloudlet_server, definition):
    base = {
        "Schema": SCHEMA,
        "LogGroupNames": ["g"],
        "LogFormat": "JSON",
        "Contribution": {"Keys": ["$.a"]},
        "AggregateOn": "Count",
    }
    with pytest.raises(ClientError) as exc:
        cloudlet_server.client("cloudwatch").put_insight_rule(
            RuleName=unique("bad"), RuleDefinition=json.dumps({**base, **definition})
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_rule_survives_a_restart_and_keeps_counting(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        cw, logs = server.client("cloudwatch"), server.client("logs")
        logs.create_log_group(logGroupName="durable")
        definition = _rule(
            ["durable"], LogFormat="JSON", Contribution={"Keys": ["$.k"]}, AggregateOn="Count"
        )
        cw.put_insight_rule(RuleName="durable-rule", RuleDefinition=definition)
        _put_events(logs, "durable", [json.dumps({"k": "a"})])
        server.stop()
        server = CloudletServer.start(data_dir=tmp_path)
        cw, logs = server.client("cloudwatch"), server.client("logs")
        _put_events(logs, "durable", [json.dumps({"k": "a"}), json.dumps({"k": "b"})])
        assert _ranked(_report(cw, "durable-rule")) == [(["a"], 2.0), (["b"], 1.0)]
    finally:
        server.stop()
