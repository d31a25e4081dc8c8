"""CloudWatch Contributor Insights for DynamoDB with boto3 and the AWS CLI: enabling it on a
table or GSI makes CloudWatch rules named as AWS names them, every item read or written
counts toward its keys, and CloudWatch's GetInsightRuleReport names the most accessed
keys. The lifecycle (ENABLING, ENABLED, DISABLING, DISABLED, FAILED past the rule quota),
the modes, the listings and the refusals follow the lab captures of live DynamoDB
(ack-api-quirks DDB-TABLE-089 to -092, -095, -097, -137, -161, -337 to -343)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import S, index, make_table, tname

PK, PKT, SKC, SKT = "PKC", "PKT", "SKC", "SKT"
LIMIT = 8  # the CloudWatch rule quota of the quota test's own server (AWS's is 100)
FAST = {"CLOUDLET_DYNAMODB_INSIGHTS_INTERVAL": "0.1"}


@pytest.fixture(scope="module")
def server():
    from cloudlet.testing import CloudletServer

    with CloudletServer.start(env=FAST) as srv:
        yield srv


def client(server):
    from botocore.config import Config

    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return server.client("dynamodb", config=config)


@pytest.fixture(scope="module")
def ddb(server):
    return client(server)


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


def settled(ddb, name: str, index: str | None = None, timeout: float = 10.0) -> dict:
    """DescribeContributorInsights once the status is no longer ENABLING or DISABLING."""
    kw = {"TableName": name, **({"IndexName": index} if index else {})}
    deadline = time.monotonic() + timeout
    while True:
        out = ddb.describe_contributor_insights(**kw)
        if out["ContributorInsightsStatus"] not in ("ENABLING", "DISABLING"):
            return out
        assert time.monotonic() < deadline, out
        time.sleep(0.05)


def kinds(rules: list[str]) -> list[str]:
    return [r.split("-")[1] for r in rules]


def window() -> dict:
    """GetInsightRuleReport's time arguments: the ten minutes around now, by minute."""
    now = dt.datetime.now(dt.UTC)
    return {
        "StartTime": now - dt.timedelta(minutes=5),
        "EndTime": now + dt.timedelta(minutes=5),
        "Period": 60,
    }


def assert_contributors(cw, rule: str, expected: dict) -> None:
    """``rule``'s report comes to name ``expected`` (key -> value) within 10 s, as
    contributions arrive a pass at a time."""
    got: dict = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and got != expected:
        report = cw.get_insight_rule_report(RuleName=rule, **window())
        got = {c["Keys"][0]: c["ApproximateAggregateValue"] for c in report["Contributors"]}
        time.sleep(0.1)
    assert got == expected


def disable_all(ddb, *names: str) -> None:
    for name in names:
        ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="DISABLE")
        settled(ddb, name)


def test_scans_and_transactions_count_and_partiql_does_not(ddb, cw):
    """ "All read and write requests" are monitored (the developer guide's modes), except
    PartiQL ("does not support PartiQL requests"); transactions cost twice their units.
    Reports of DynamoDB's rules name at most 25 contributors."""
    name = make_table(ddb, tname("ci-more"))
    ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    pkc = settled(ddb, name)["ContributorInsightsRuleList"][0]
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": S("t")}}},
            {"Put": {"TableName": name, "Item": {"pk": S("u")}}},
        ]
    )  # 3 x 2 x 1 each
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {"pk": S("t")}}}])
    ddb.scan(TableName=name)  # each item: an eventual read of its size, 0.5
    ddb.execute_statement(Statement=f"SELECT * FROM \"{name}\" WHERE pk = 't'")
    ddb.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'p'}}")
    assert_contributors(cw, pkc, {"t": 6 + 2 + 0.5, "u": 6 + 0.5})
    with pytest.raises(ClientError) as exc:
        cw.get_insight_rule_report(RuleName=pkc, MaxContributorCount=26, **window())
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    disable_all(ddb, name)


def test_gsi_rules_count_the_index_writes_that_reach_it(ddb, cw):
    """A GSI's rules count the index entries each write puts or removes (the write units
    the index consumes, 3 ConsumedThroughputUnits each; twice in a transaction), by the
    index's key, and the index's own Queries."""
    name = make_table(ddb, tname("ci-gsiw"), gsis=[index("by_owner", ("owner", "S"))])
    ddb.update_contributor_insights(
        TableName=name, IndexName="by_owner", ContributorInsightsAction="ENABLE"
    )
    pkc = settled(ddb, name, "by_owner")["ContributorInsightsRuleList"][0]
    ddb.put_item(TableName=name, Item={"pk": S("a"), "owner": S("alice")})
    ddb.put_item(TableName=name, Item={"pk": S("b"), "owner": S("alice")})
    ddb.put_item(TableName=name, Item={"pk": S("e")})  # not in the index
    ddb.update_item(  # alice's entry goes, bob's comes
        TableName=name,
        Key={"pk": S("a")},
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": S("bob")},
    )
    ddb.delete_item(TableName=name, Key={"pk": S("b")})
    ddb.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": S("c"), "owner": S("carol")}}}]}
    )
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": {"pk": S("d"), "owner": S("carol")}}}]
    )
    ddb.query(
        TableName=name,
        IndexName="by_owner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": S("bob")},
    )
    assert_contributors(cw, pkc, {"alice": 4 * 3, "bob": 3 + 0.5, "carol": 3 + 6})
    ddb.update_contributor_insights(
        TableName=name, IndexName="by_owner", ContributorInsightsAction="DISABLE"
    )
    assert settled(ddb, name, "by_owner")["ContributorInsightsStatus"] == "DISABLED"


def test_enabling_makes_cloudwatch_rules_and_counts_accessed_keys(ddb, cw):
    name = make_table(ddb, tname("ci"), range=("sk", "S"))
    fresh = ddb.describe_contributor_insights(TableName=name)
    fresh.pop("ResponseMetadata")
    assert fresh == {"TableName": name, "ContributorInsightsStatus": "DISABLED"}
    out = ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    assert (out["ContributorInsightsStatus"], out["ContributorInsightsMode"]) == (
        "ENABLING",
        "ACCESSED_AND_THROTTLED_KEYS",
    )
    described = settled(ddb, name)
    assert described["ContributorInsightsStatus"] == "ENABLED"
    rules = described["ContributorInsightsRuleList"]
    assert kinds(rules) == [PK, PKT, SKC, SKT]
    stamp = rules[0].rsplit("-", 1)[1]
    assert all(
        r == f"DynamoDBContributorInsights-{k}-{name}-{stamp}"
        for r, k in zip(rules, kinds(rules), strict=True)
    )
    listed = {r["Name"]: r for r in cw.describe_insight_rules()["InsightRules"]}
    assert set(rules) <= set(listed)
    assert listed[rules[0]]["ManagedRule"] is True and listed[rules[0]]["State"] == "ENABLED"

    # Traffic: "hot" is written and read far more than "cold".
    for n in range(5):
        ddb.put_item(TableName=name, Item={"pk": S("hot"), "sk": S(f"s{n}")})
        ddb.get_item(TableName=name, Key={"pk": S("hot"), "sk": S("s0")}, ConsistentRead=True)
    ddb.put_item(TableName=name, Item={"pk": S("cold"), "sk": S("s0")})
    got = ddb.get_item(TableName=name, Key={"pk": S("hot"), "sk": S("s1")})
    assert "ConsumedCapacity" not in got  # counted without answering what was not asked
    ddb.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": S("hot"), "sk": S("b")}}}]}
    )
    ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": S("hot")},
    )
    # A Query counts toward the partition its key condition names, shown or not.
    shown = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": S("cold")},
        ProjectionExpression="sk",
    )
    assert shown["Items"] == [{"sk": S("s0")}]
    now = dt.datetime.now(dt.UTC)
    # 6 puts and a batch put at 3 units each, 5 strong reads, 1 eventual read, 1 query.
    expected = 3 * 6 + 5 + 0.5 + 0.5
    report: dict = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # contributions arrive a pass (0.1 s) at a time
        report = cw.get_insight_rule_report(
            RuleName=rules[0],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=5),
            Period=60,
            MaxContributorCount=10,
        )
        if report.get("AggregateValue") == expected + 3.5:
            break
        time.sleep(0.1)
    assert report["KeyLabels"] == ["pk"]
    top, second = report["Contributors"]
    assert (top["Keys"], second["Keys"]) == (["hot"], ["cold"])
    assert top["ApproximateAggregateValue"] == pytest.approx(expected)
    assert second["ApproximateAggregateValue"] == pytest.approx(3.5)
    items = cw.get_insight_rule_report(
        RuleName=rules[2],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Period=60,
    )
    assert items["KeyLabels"] == ["pk", "sk"]
    assert items["Contributors"][0]["Keys"] == ["hot", "s0"]  # written once, read five times

    # CloudWatch will not delete DynamoDB's rules; disabling insights does.
    failed = cw.delete_insight_rules(RuleNames=[rules[0]])["Failures"]
    assert [f["FailureResource"] for f in failed] == [rules[0]]
    out = ddb.update_contributor_insights(
        TableName=name,
        ContributorInsightsAction="DISABLE",
        ContributorInsightsMode="THROTTLED_KEYS",
    )
    assert (out["ContributorInsightsStatus"], out["ContributorInsightsMode"]) == (
        "DISABLING",
        "ACCESSED_AND_THROTTLED_KEYS",
    )
    described = settled(ddb, name)
    assert described["ContributorInsightsStatus"] == "DISABLED"
    assert described["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    assert "LastUpdateDateTime" in described and "ContributorInsightsRuleList" not in described
    names = {r["Name"] for r in cw.describe_insight_rules()["InsightRules"]}
    assert not set(rules) & names
    assert ddb.list_contributor_insights(TableName=name)["ContributorInsightsSummaries"] == []


def test_modes_and_idempotent_enables(ddb, cw):
    name = make_table(ddb, tname("ci-mode"))
    ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    first = settled(ddb, name)
    assert kinds(first["ContributorInsightsRuleList"]) == [PK, PKT]
    # The same mode again: nothing to do, ENABLED at once.
    again = ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    assert again["ContributorInsightsStatus"] == "ENABLED"
    assert settled(ddb, name)["LastUpdateDateTime"] == first["LastUpdateDateTime"]
    # Narrowing keeps the surviving rule's name; omitting the mode widens back.
    out = ddb.update_contributor_insights(
        TableName=name, ContributorInsightsAction="ENABLE", ContributorInsightsMode="THROTTLED_KEYS"
    )
    assert out["ContributorInsightsStatus"] == "ENABLING"
    narrow = settled(ddb, name)
    assert narrow["ContributorInsightsRuleList"] == first["ContributorInsightsRuleList"][1:]
    assert narrow["ContributorInsightsMode"] == "THROTTLED_KEYS"
    ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    wide = settled(ddb, name)
    assert wide["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    assert wide["ContributorInsightsRuleList"] == first["ContributorInsightsRuleList"]
    # DISABLE twice, and on a table never configured: DISABLED.
    disable_all(ddb, name)
    out = ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="DISABLE")
    assert out["ContributorInsightsStatus"] == "DISABLED"
    fresh = make_table(ddb, tname("ci-fresh"))
    out = ddb.update_contributor_insights(TableName=fresh, ContributorInsightsAction="DISABLE")
    assert out["ContributorInsightsStatus"] == "DISABLED"


def test_indexes_listings_and_refusals(ddb):
    name = make_table(
        ddb,
        tname("ci-gsi"),
        range=("sk", "S"),
        gsis=[index("by_v", ("v", "S"))],
        lsis=[index("by_w", ("pk", "S"), ("w", "S"))],
    )
    for target in ({}, {"IndexName": "by_v"}):
        ddb.update_contributor_insights(
            TableName=name, ContributorInsightsAction="ENABLE", **target
        )
    gsi = settled(ddb, name, "by_v")
    assert gsi["IndexName"] == "by_v"
    assert gsi["ContributorInsightsRuleList"][0].startswith(
        f"DynamoDBContributorInsights-PKC-{name}-by_v-"
    )
    assert kinds(gsi["ContributorInsightsRuleList"]) == [PK, PKT]
    settled(ddb, name)
    page = ddb.list_contributor_insights(TableName=name, MaxResults=1)
    assert [s.get("IndexName") for s in page["ContributorInsightsSummaries"]] == [None]
    page2 = ddb.list_contributor_insights(TableName=name, MaxResults=1, NextToken=page["NextToken"])
    assert [s["IndexName"] for s in page2["ContributorInsightsSummaries"]] == ["by_v"]
    assert "NextToken" not in page2
    listed = ddb.list_contributor_insights()
    assert {
        (s["TableName"], s.get("IndexName")) for s in listed["ContributorInsightsSummaries"]
    } >= {
        (name, None),
        (name, "by_v"),
    }

    def refused(**kw) -> tuple[str, str]:
        with pytest.raises(ClientError) as exc:
            ddb.update_contributor_insights(
                **{"TableName": name, "ContributorInsightsAction": "ENABLE", **kw}
            )
        return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]

    for ghost in ("by_w", "ghost"):  # an LSI has no insights of its own
        assert refused(IndexName=ghost) == (
            "ResourceNotFoundException",
            f"Requested resource not found: Index: {ghost} not found for table: {name}",
        )
    code, message = refused(ContributorInsightsAction="START")
    assert code == "ValidationException" and "contributorInsightsAction" in message
    disable_all(ddb, name)
    ddb.update_contributor_insights(
        TableName=name, IndexName="by_v", ContributorInsightsAction="DISABLE"
    )
    settled(ddb, name, "by_v")
    ddb.delete_table(TableName=name)
    for call in (ddb.describe_contributor_insights, ddb.list_contributor_insights):
        with pytest.raises(ClientError) as exc:
            call(TableName=name)
        assert exc.value.response["Error"] == {
            "Code": "ResourceNotFoundException",
            "Message": f"Requested resource not found: Table: {name} not found",
        }


def test_past_the_rule_quota_insights_fail_until_enabled_again():
    """This server's quota is LIMIT rules: three sort-keyed tables need twelve."""
    from cloudlet.testing import CloudletServer

    env = {**FAST, "CLOUDLET_CLOUDWATCH_INSIGHT_RULE_LIMIT": str(LIMIT)}
    with CloudletServer.start(env=env) as srv:
        run_past_the_quota(client(srv))


def run_past_the_quota(ddb) -> None:
    names = [make_table(ddb, tname("ci-q"), range=("sk", "S")) for _ in range(3)]
    for name in names[:2]:
        ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
        assert settled(ddb, name)["ContributorInsightsStatus"] == "ENABLED"
    out = ddb.update_contributor_insights(TableName=names[2], ContributorInsightsAction="ENABLE")
    assert out["ContributorInsightsStatus"] == "ENABLING"
    failed = settled(ddb, names[2])
    assert failed["ContributorInsightsStatus"] == "FAILED"
    assert failed["FailureException"] == {
        "ExceptionName": "LimitExceededException",
        "ExceptionDescription": "Amazon CloudWatch Contributor Insights rule limit reached. "
        "Please disable Contributor Insights for other tables/indexes OR disable other CloudWatch "
        "Contributor Insights rules before retrying.",
    }
    assert "ContributorInsightsRuleList" not in failed
    summaries = ddb.list_contributor_insights(TableName=names[2])["ContributorInsightsSummaries"]
    assert [s["ContributorInsightsStatus"] for s in summaries] == ["FAILED"]
    # Freeing quota does not revive it; a new ENABLE does, with new rule names.
    disable_all(ddb, names[0])
    assert settled(ddb, names[2])["ContributorInsightsStatus"] == "FAILED"
    ddb.update_contributor_insights(TableName=names[2], ContributorInsightsAction="ENABLE")
    revived = settled(ddb, names[2])
    assert revived["ContributorInsightsStatus"] == "ENABLED" and "FailureException" not in revived
    disable_all(ddb, *names[1:])


def test_a_rule_cloudwatch_refuses_fails_the_entry(ddb):
    """CloudWatch rule names stop at 128 characters; a long table name makes longer ones."""
    name = make_table(ddb, tname("ci-long") + "x" * 100)
    ddb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    failed = settled(ddb, name)
    assert failed["ContributorInsightsStatus"] == "FAILED"
    assert failed["FailureException"]["ExceptionName"] == "InvalidParameterValueException"


def test_insights_survive_a_restart(tmp_path):
    from cloudlet.testing import CloudletServer

    env = {"CLOUDLET_DYNAMODB_INSIGHTS_INTERVAL": "0.1"}
    with CloudletServer.start(data_dir=tmp_path, env=env) as srv:
        c = srv.client("dynamodb")
        name = make_table(c, tname("ci-restart"))
        c.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
        rules = settled(c, name)["ContributorInsightsRuleList"]
    with CloudletServer.start(data_dir=tmp_path, env=env) as srv:
        c = srv.client("dynamodb")
        assert settled(c, name)["ContributorInsightsRuleList"] == rules
        c.put_item(TableName=name, Item={"pk": S("after")})
        now = dt.datetime.now(dt.UTC)
        cw = srv.client("cloudwatch")
        deadline = time.monotonic() + 10
        while True:
            report = cw.get_insight_rule_report(
                RuleName=rules[0],
                StartTime=now - dt.timedelta(minutes=5),
                EndTime=now + dt.timedelta(minutes=5),
                Period=60,
            )
            if report.get("Contributors") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert report["Contributors"][0]["Keys"] == ["after"]


def test_the_aws_cli_enables_and_describes(cloudlet_server, aws):
    """The session's server, at the default pace (a pass a second)."""
    c = cloudlet_server.client("dynamodb")
    name = make_table(c, tname("ci-cli"))
    aws(
        "dynamodb",
        "update-contributor-insights",
        "--table-name",
        name,
        "--contributor-insights-action",
        "ENABLE",
    )
    deadline = time.monotonic() + 15
    while True:
        out = aws("dynamodb", "describe-contributor-insights", "--table-name", name)
        described = json.loads(out.stdout)
        if described["ContributorInsightsStatus"] == "ENABLED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert described["ContributorInsightsStatus"] == "ENABLED"
    assert kinds(described["ContributorInsightsRuleList"]) == [PK, PKT]
    c.update_contributor_insights(TableName=name, ContributorInsightsAction="DISABLE")


def test_deleting_an_index_or_the_table_deletes_its_rules(ddb, cw):
    name = make_table(ddb, tname("ci-gone"), gsis=[index("by_v", ("v", "S"))])
    for target in ({}, {"IndexName": "by_v"}):
        ddb.update_contributor_insights(
            TableName=name, ContributorInsightsAction="ENABLE", **target
        )
    table_rules = settled(ddb, name)["ContributorInsightsRuleList"]
    index_rules = settled(ddb, name, "by_v")["ContributorInsightsRuleList"]

    def existing() -> set[str]:
        return {r["Name"] for r in cw.describe_insight_rules()["InsightRules"]}

    def gone(rules: list[str]) -> bool:
        deadline = time.monotonic() + 10
        while set(rules) & existing():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    assert set(table_rules + index_rules) <= existing()
    ddb.update_table(
        TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_v"}}]
    )
    assert gone(index_rules) and set(table_rules) <= existing()
    ddb.delete_table(TableName=name)
    assert gone(table_rules)
