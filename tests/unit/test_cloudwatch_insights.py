"""The Contributor Insights engine over a real SQLite store and a controlled clock:
managed rules and their limit, contributions folded per minute in one batch, the
report's top-N ordering, periods and metrics, deletion with the data, retention,
and the internal operations reached through ``ServiceEnv.call``."""

from __future__ import annotations

import asyncio
import json

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.cloudwatch.api import CloudWatchService
from cloudlet.services.cloudwatch.insights import (
    LIMIT_ENV,
    METRICS,
    RULE_LIMIT,
    Insights,
    rule_limit,
)
from cloudlet.services.cloudwatch.store import RETENTION_SECONDS, Store
from cloudlet.state.db import open_database

T0 = 1_794_999_960.0  # a whole minute
A, R = "000000000000", "us-east-1"
TABLE = f"arn:aws:dynamodb:{R}:{A}:table/Music"


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


def definition(keys: list[str], aggregate: str = "Sum") -> str:
    return json.dumps(
        {
            "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "AggregateOn": aggregate,
            "Contribution": {"Keys": keys, "ValueOf": "ConsumedThroughputUnits", "Filters": []},
            "LogFormat": "JSON",
        }
    )


def spec(name: str, keys: list[str] | None = None, aggregate: str = "Sum") -> dict:
    return {
        "RuleName": name,
        "Definition": definition(keys or ["Artist"], aggregate),
        "ResourceARN": TABLE,
    }


def give(rule: str, at: float, keys: list[str], value: float = 1.0) -> dict:
    return {"RuleName": rule, "Timestamp": at, "Keys": keys, "Value": value}


@pytest.fixture
def engine() -> Insights:
    return Insights(Store(open_database(None, "cloudwatch")), FakeClock(T0 + 3600), limit=5)


def report(engine: Insights, **params) -> dict:
    base = {"RuleName": "R", "StartTime": T0, "EndTime": T0 + 600, "Period": 60}
    return engine.report(A, R, {**base, **params})


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.code


# --- rules ------------------------------------------------------------------------------


def test_rules_are_created_replaced_listed_and_durable(engine):
    engine.put_managed(A, R, [spec("b"), spec("a", ["Artist", "Song"])])
    engine.put_managed(A, R, [spec("b", ["Song"])])  # same name: replaced, not added
    engine.put_managed(A, "eu-west-1", [spec("elsewhere")])
    rules = engine.list(A, R)
    assert [r.name for r in rules] == ["a", "b"]
    shape = rules[1].shape()
    assert shape == {
        "Name": "b",
        "State": "ENABLED",
        "Schema": "CloudWatchLogRule/1",
        "Definition": definition(["Song"]),
        "ManagedRule": True,
    }
    again = Insights(engine.store, engine.clock, limit=5)  # a restart reads the store
    assert [r.shape() for r in again.list(A, R)] == [r.shape() for r in rules]
    assert again.get(A, R, "a").key_labels == ["Artist", "Song"]


@pytest.mark.parametrize(
    "bad",
    [
        {"Definition": "not json"},
        {"Definition": json.dumps({"AggregateOn": "Sum"})},
        {"Definition": json.dumps({"AggregateOn": "Avg", "Contribution": {"Keys": ["k"]}})},
        {"Definition": json.dumps({"AggregateOn": "Sum", "Contribution": {"Keys": []}})},
        {"RuleName": ""},
        {"RuleName": "x" * 129},
    ],
)
def test_bad_rules_are_refused_and_none_is_created(engine, bad):
    with pytest.raises(ServiceError) as exc:
        engine.put_managed(A, R, [spec("good"), {**spec("bad"), **bad}])
    assert code(exc) == "InvalidParameterValueException" and exc.value.status == 400
    assert engine.list(A, R) == []


def test_missing_arn_is_a_missing_parameter(engine):
    with pytest.raises(ServiceError) as exc:
        engine.put_managed(A, R, [{"RuleName": "r", "Definition": definition(["k"])}])
    assert code(exc) == "MissingRequiredParameterException"


def test_the_rule_limit_is_all_or_none_per_account_and_region(engine):
    engine.put_managed(A, R, [spec(f"r{i}") for i in range(4)])
    with pytest.raises(ServiceError) as exc:
        engine.put_managed(A, R, [spec("r5"), spec("r6")])
    assert code(exc) == "LimitExceededException" and exc.value.status == 400
    assert "(5)" in exc.value.message
    assert [r.name for r in engine.list(A, R)] == [f"r{i}" for i in range(4)]
    # replacing held rules does not count against the limit; the fifth fits
    engine.put_managed(A, R, [spec("r0"), spec("r1"), spec("r4")])
    assert len(engine.list(A, R)) == 5
    engine.put_managed(A, "eu-west-1", [spec("r0")])  # another Region has its own quota
    assert len(engine.store.conn.execute("SELECT * FROM insight_rules").fetchall()) == 6


def test_rule_limit_reads_the_environment():
    assert RULE_LIMIT == 100
    assert rule_limit({}) == 100
    assert rule_limit({LIMIT_ENV: "3"}) == 3
    assert rule_limit({LIMIT_ENV: "many"}) == 100


def test_refusals_name_managed_and_unknown_rules(engine):
    engine.put_managed(A, R, [spec("mine")])
    managed, unknown = engine.refusals(A, R, ["mine", "nope"])
    assert managed["FailureResource"] == "mine"
    assert managed["ExceptionType"] == "InvalidParameterValueException"
    assert "dynamodb" in managed["FailureDescription"]
    assert unknown == {
        "FailureResource": "nope",
        "ExceptionType": "ResourceNotFoundException",
        "FailureCode": "ResourceNotFoundException",
        "FailureDescription": "Rule nope does not exist.",
    }
    assert engine.get(A, R, "mine") is not None  # refused, so untouched


# --- contributions ----------------------------------------------------------------------


def test_contributions_fold_per_minute_in_one_batch_and_transaction(engine):
    engine.put_managed(A, R, [spec("R")])
    statements: list[str] = []
    engine.store.conn.set_trace_callback(statements.append)
    batch = [give("R", T0 + i % 50, [f"k{i % 3}"], float(i % 7)) for i in range(3000)]
    batch += [give("R", T0 + 61, ["k0"], 100.0)]
    assert engine.record(A, R, batch) == 3001
    engine.store.conn.set_trace_callback(None)
    assert [s for s in statements if s in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    assert sum("INSERT INTO insight_contributions" in s for s in statements) == 4  # rows
    rows = engine.store.conn.execute(
        "SELECT minute, keys, count FROM insight_contributions ORDER BY minute, keys"
    ).fetchall()
    assert rows == [
        (T0, '["k0"]', 1000.0),
        (T0, '["k1"]', 1000.0),
        (T0, '["k2"]', 1000.0),
        (T0 + 60, '["k0"]', 1.0),
    ]
    engine.record(A, R, [give("R", T0 + 5, ["k0"], 0.5)])  # a later batch adds to the row
    n, lo = engine.store.conn.execute(
        "SELECT count, min FROM insight_contributions WHERE minute=? AND keys=?", (T0, '["k0"]')
    ).fetchone()
    assert (n, lo) == (1001.0, 0.0)


def test_contributions_to_unknown_disabled_or_expired_rules_are_dropped(engine):
    engine.put_managed(A, R, [spec("R"), spec("off")])
    engine.rules[(A, R, "off")].state = "DISABLED"
    kept = engine.record(
        A,
        R,
        [
            give("R", T0, ["a"]),
            give("nope", T0, ["a"]),
            give("off", T0, ["a"]),
            give("R", T0 + 3600 - RETENTION_SECONDS - 60, ["old"]),
        ],
    )
    assert kept == 1
    assert engine.record("111111111111", R, [give("R", T0, ["a"])]) == 0  # other account
    assert engine.store.conn.execute("SELECT rule, keys FROM insight_contributions").fetchall() == [
        ("R", '["a"]')
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"RuleName": "R", "Timestamp": T0, "Keys": ["a"]},
        {"RuleName": "R", "Timestamp": T0, "Keys": "a", "Value": 1},
        {"RuleName": "R", "Timestamp": T0, "Keys": ["a"], "Value": float("nan")},
        {"RuleName": "R", "Timestamp": "soon", "Keys": ["a"], "Value": 1},
    ],
)
def test_malformed_contributions_are_refused(engine, entry):
    engine.put_managed(A, R, [spec("R")])
    with pytest.raises(ServiceError) as exc:
        engine.record(A, R, [give("R", T0, ["fine"]), entry])
    assert code(exc) == "InvalidParameterValueException"
    assert engine.store.conn.execute("SELECT * FROM insight_contributions").fetchall() == []


# --- the report -------------------------------------------------------------------------


def _feed_three(engine: Insights) -> None:
    """steady: 10 in each of minutes 0-2 (total 30, peak 10); burst: 25 in minute 1;
    quiet: 2 + 3 in minute 4."""
    engine.put_managed(A, R, [spec("R")])
    batch = [give("R", T0 + m * 60 + 5, ["steady"], 10.0) for m in range(3)]
    batch += [give("R", T0 + 70, ["burst"], 20.0), give("R", T0 + 80, ["burst"], 5.0)]
    batch += [give("R", T0 + 245, ["quiet"], 2.0), give("R", T0 + 250, ["quiet"], 3.0)]
    engine.record(A, R, batch)


def test_top_contributors_by_sum_or_by_maximum(engine):
    _feed_three(engine)
    by_sum = report(engine)
    assert [c["Keys"] for c in by_sum["Contributors"]] == [["steady"], ["burst"], ["quiet"]]
    assert [c["ApproximateAggregateValue"] for c in by_sum["Contributors"]] == [30.0, 25.0, 5.0]
    by_max = report(engine, OrderBy="Maximum", MaxContributorCount=2)
    assert [c["Keys"] for c in by_max["Contributors"]] == [["burst"], ["steady"]]
    # the totals cover every contributor, not only the top N
    assert (by_max["AggregateValue"], by_max["ApproximateUniqueCount"]) == (60.0, 3)
    assert by_max["KeyLabels"] == ["Artist"] and by_max["AggregationStatistic"] == "Sum"
    assert "MetricDatapoints" not in by_max  # no Metrics asked for


def test_contributor_datapoints_are_per_period_with_data(engine):
    _feed_three(engine)
    got = report(engine, Period=120)
    steady = got["Contributors"][0]
    assert steady["Datapoints"] == [
        {"Timestamp": T0, "ApproximateValue": 20.0},
        {"Timestamp": T0 + 120, "ApproximateValue": 10.0},
    ]
    quiet = got["Contributors"][2]
    assert quiet["Datapoints"] == [{"Timestamp": T0 + 240, "ApproximateValue": 5.0}]


def test_metric_datapoints_one_per_period_with_exactly_the_metrics_asked(engine):
    _feed_three(engine)
    got = report(engine, Period=120, Metrics=["Sum", "UniqueContributors"])
    points = got["MetricDatapoints"]
    assert [p["Timestamp"] for p in points] == [T0 + i * 120 for i in range(5)]
    assert all(set(p) == {"Timestamp", "Sum", "UniqueContributors"} for p in points)
    assert [p["Sum"] for p in points] == [45.0, 10.0, 5.0, 0.0, 0.0]
    assert [p["UniqueContributors"] for p in points] == [2.0, 1.0, 1.0, 0.0, 0.0]
    every = report(engine, Period=120, Metrics=list(reversed(METRICS)))
    first = every["MetricDatapoints"][0]
    assert first == {
        "Timestamp": T0,
        "UniqueContributors": 2.0,
        "MaxContributorValue": 25.0,  # burst's 20 + 5 in the period
        "SampleCount": 4.0,
        "Sum": 45.0,
        "Minimum": 5.0,
        "Maximum": 20.0,
        "Average": 11.25,
    }


def test_start_time_rounds_down_to_the_minute_and_end_time_is_exclusive(engine):
    _feed_three(engine)
    got = report(engine, StartTime=T0 + 59, EndTime=T0 + 240)
    assert [c["Keys"] for c in got["Contributors"]] == [["steady"], ["burst"]]  # no quiet
    assert got["Contributors"][0]["Datapoints"][0]["Timestamp"] == T0


def test_a_count_rule_counts_occurrences(engine):
    engine.put_managed(A, R, [spec("R", ["Artist", "Song"], "Count")])
    engine.record(
        A,
        R,
        [give("R", T0 + 1, ["a", "x"], 9.0), give("R", T0 + 2, ["a", "x"], 9.0)]
        + [give("R", T0 + 3, ["b", "y"], 50.0)],
    )
    got = report(engine, Metrics=["Sum", "Maximum", "Average", "SampleCount"])
    assert got["AggregationStatistic"] == "Count"
    assert got["KeyLabels"] == ["Artist", "Song"]
    assert [(c["Keys"], c["ApproximateAggregateValue"]) for c in got["Contributors"]] == [
        (["a", "x"], 2.0),
        (["b", "y"], 1.0),
    ]
    first = got["MetricDatapoints"][0]
    assert (first["Sum"], first["Maximum"], first["Average"], first["SampleCount"]) == (
        3.0,
        1.0,
        1.0,
        3.0,
    )


def test_metric_datapoints_stay_within_retention_and_now(engine):
    engine.put_managed(A, R, [spec("R")])
    now = engine.clock.time()
    got = report(
        engine,
        StartTime=now - 400 * 86400,
        EndTime=now + 400 * 86400,
        Period=3600,
        Metrics=["Sum"],
    )
    stamps = [p["Timestamp"] for p in got["MetricDatapoints"]]
    assert len(stamps) <= RETENTION_SECONDS // 3600 + 2
    assert stamps[0] > now - RETENTION_SECONDS - 3600 and stamps[-1] <= now


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"Period": 30}, "Period"),
        ({"Period": 90}, "Period"),
        ({"StartTime": T0 + 600}, "StartTime"),
        ({"MaxContributorCount": 0}, "MaxContributorCount"),
        ({"MaxContributorCount": 101}, "MaxContributorCount"),
        ({"Metrics": ["p99"]}, "Metrics"),
        ({"OrderBy": "Count"}, "OrderBy"),
    ],
)
def test_bad_report_parameters(engine, params, fragment):
    engine.put_managed(A, R, [spec("R")])
    with pytest.raises(ServiceError) as exc:
        report(engine, **params)
    assert code(exc) == "InvalidParameterValueException" and exc.value.status == 400
    assert fragment in exc.value.message


def test_an_unknown_rule_is_resource_not_found(engine):
    with pytest.raises(ServiceError) as exc:
        report(engine, RuleName="nope")
    assert code(exc) == "ResourceNotFoundException" and exc.value.status == 404
    assert exc.value.fields == {"ResourceType": "InsightRule", "ResourceId": "nope"}


# --- deletion and retention -------------------------------------------------------------


def test_deleting_a_rule_deletes_its_data(engine):
    _feed_three(engine)
    engine.put_managed(A, R, [spec("other")])
    engine.record(A, R, [give("other", T0, ["z"])])
    engine.delete_managed(A, R, ["R", "never-was"])
    assert [r.name for r in engine.list(A, R)] == ["other"]
    rules = engine.store.conn.execute("SELECT DISTINCT rule FROM insight_contributions")
    assert rules.fetchall() == [("other",)]
    engine.put_managed(A, R, [spec("R")])  # the same name again starts empty
    assert report(engine)["Contributors"] == []


def test_sweep_drops_contributions_older_than_the_retention(engine):
    engine.put_managed(A, R, [spec("R")])
    engine.record(A, R, [give("R", T0, ["old"]), give("R", T0 + 3000, ["new"])])
    engine.store.sweep(T0 + RETENTION_SECONDS + 60)
    left = engine.store.conn.execute("SELECT keys FROM insight_contributions").fetchall()
    assert left == [('["new"]',)]


# --- through ServiceEnv.call --------------------------------------------------------------


def test_internal_operations_through_the_service():
    async def scenario() -> tuple[dict, dict, dict]:
        env = ServiceEnv(data_dir=None)
        env.services["cloudwatch"] = CloudWatchService(env)
        where = {"account": A, "region": R}
        await env.call("cloudwatch", "PutManagedContributorRules", {"Rules": [spec("R")]}, **where)
        now = env.services["cloudwatch"].insights.clock.time()
        contributions = [give("R", now, ["a"], 2.0), give("R", now, ["b"], 1.0)]
        await env.call(
            "cloudwatch", "RecordContributions", {"Contributions": contributions}, **where
        )
        described = await env.call("cloudwatch", "DescribeInsightRules", {}, **where)
        got = await env.call(
            "cloudwatch",
            "GetInsightRuleReport",
            {"RuleName": "R", "StartTime": now - 120, "EndTime": now + 60, "Period": 60},
            **where,
        )
        await env.call("cloudwatch", "DeleteManagedContributorRules", {"RuleNames": ["R"]}, **where)
        after = await env.call("cloudwatch", "DescribeInsightRules", {}, **where)
        return described, got, after

    described, got, after = asyncio.run(scenario())
    assert [r["Name"] for r in described["InsightRules"]] == ["R"]
    assert [c["Keys"] for c in got["Contributors"]] == [["a"], ["b"]]
    assert after == {"InsightRules": []}


def test_describe_pages_by_max_results():
    env = ServiceEnv(data_dir=None)
    svc = CloudWatchService(env)
    svc.insights.limit = 10

    class Ctx:
        account_id, region = A, R

    svc.put_managed_contributor_rules(Ctx, {"Rules": [spec(f"r{i}") for i in range(5)]})
    first = svc.describe_insight_rules(Ctx, {"MaxResults": 2})
    assert [r["Name"] for r in first["InsightRules"]] == ["r0", "r1"]
    rest = svc.describe_insight_rules(Ctx, {"MaxResults": 500, "NextToken": first["NextToken"]})
    assert [r["Name"] for r in rest["InsightRules"]] == ["r2", "r3", "r4"]
    assert "NextToken" not in rest
    with pytest.raises(ServiceError) as exc:
        svc.describe_insight_rules(Ctx, {"MaxResults": 501})
    assert code(exc) == "InvalidParameterValueException"
