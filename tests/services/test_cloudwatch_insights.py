"""CloudWatch Contributor Insights through real clients: what a user sees before any
service has created a managed rule (DescribeInsightRules, GetInsightRuleReport's
errors, the per-rule Failures of Delete/Enable/DisableInsightRules), in boto3's json
and in cbor and query; user-written rules (PutInsightRule) stay unbuilt.
DynamoDB's end-to-end test feeds real rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.services.cloudwatch_helpers import call
from tests.services.names import unique

# no other test creates insight rules here, so "empty" is deterministic
QUIET_REGION = "ap-southeast-4"


def _range() -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now, "Period": 60}


def test_describe_insight_rules_starts_empty(cloudlet_server):
    cw = cloudlet_server.client("cloudwatch", region_name=QUIET_REGION)
    got = cw.describe_insight_rules()
    assert got["InsightRules"] == [] and "NextToken" not in got
    assert cw.describe_insight_rules(MaxResults=500)["InsightRules"] == []
    with pytest.raises(ClientError) as exc:
        cw.describe_insight_rules(NextToken="not base64 at all!")
    assert exc.value.response["Error"]["Code"] == "InvalidNextToken"


def test_report_on_an_unknown_rule_is_resource_not_found(cloudlet_server):
    cw = cloudlet_server.client("cloudwatch")
    name = unique("nope")
    with pytest.raises(ClientError) as exc:
        cw.get_insight_rule_report(RuleName=name, **_range())
    err = exc.value.response
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert name in err["Error"]["Message"]


@pytest.mark.parametrize(
    "bad",
    [
        {"Period": 30},
        {"MaxContributorCount": 101},
        {"Metrics": ["Median"]},
        {"OrderBy": "Minimum"},
    ],
)
def test_report_parameters_are_checked(cloudlet_server, bad):
    cw = cloudlet_server.client("cloudwatch")
    with pytest.raises(ClientError) as exc:
        cw.get_insight_rule_report(RuleName=unique("r"), **{**_range(), **bad})
    err = exc.value.response
    assert err["Error"]["Code"] == "InvalidParameterValue"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert next(iter(bad)) in err["Error"]["Message"]


def test_unknown_rules_fail_one_by_one(cloudlet_server):
    cw = cloudlet_server.client("cloudwatch")
    names = [unique("gone"), unique("gone")]
    for op in (cw.delete_insight_rules, cw.enable_insight_rules, cw.disable_insight_rules):
        failures = op(RuleNames=names)["Failures"]
        assert [f["FailureResource"] for f in failures] == names
        assert {f["ExceptionType"] for f in failures} == {"ResourceNotFoundException"}
        assert all(f["FailureCode"] and f["FailureDescription"] for f in failures)


def test_managed_rule_templates_stay_unbuilt(cloudlet_server):
    """Users' rules over log groups are test_cloudwatch_log_insight_rules.py's."""
    cw = cloudlet_server.client("cloudwatch")
    with pytest.raises(ClientError) as exc:
        cw.list_managed_insight_rules(ResourceARN="arn:aws:dynamodb:us-east-1:1:table/t")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert exc.value.response["Error"]["Code"] == "NotImplemented"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_other_protocols(cloudlet_server, protocol):
    ep = cloudlet_server.endpoint
    listed = call(ep, protocol, "DescribeInsightRules", {"MaxResults": 10})
    assert listed["_status"] == 200 and isinstance(listed["InsightRules"], list)
    name = unique("nope")
    missing = call(ep, protocol, "GetInsightRuleReport", {"RuleName": name, **_range()})
    assert missing["_status"] == 404
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    bad = call(ep, protocol, "GetInsightRuleReport", {"RuleName": name, **_range(), "Period": 61})
    assert bad["_status"] == 400 and bad["Error"]["Code"] == "InvalidParameterValue"
    failed = call(ep, protocol, "DisableInsightRules", {"RuleNames": [name]})
    assert failed["_status"] == 200
    [failure] = failed["Failures"]
    assert failure["FailureResource"] == name
    assert failure["ExceptionType"] == "ResourceNotFoundException"
    refused = call(ep, protocol, "PutInsightRule", {"RuleName": name, "RuleDefinition": "{}"})
    assert refused["_status"] == 400 and refused["Error"]["Code"] == "InvalidParameterValue"
