"""MetricDataQueries: the shared reader behind GetMetricData and metric-math alarms.

Each query is either a MetricStat (one metric, period, statistic, unit) or an
Expression over other queries' results; expressions may reference other
expressions (resolved once each, cycles rejected). ``ANOMALY_DETECTION_BAND``
asks the caller's ``bands`` (the anomaly engine) for the band of a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.metric_math import Env, MathError, Series, Value, evaluate
from cloudlet.services.cloudwatch.metrics import MetricRef, Metrics, check_period, origin
from cloudlet.services.cloudwatch.statistics import is_valid_stat

_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")

Bands = Callable[
    [str, dict[str, dict], float, float, float], tuple[dict[float, float], dict[float, float]]
]
"""``(query id, queries by id, stddevs, start, end) -> (upper, lower)``: a band's points."""


@dataclass
class QueryResult:
    id: str
    label: str
    points: dict[float, float]
    return_data: bool
    counts: dict[float, float] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)


def validate(queries: list[dict]) -> None:
    if not queries:
        raise errors.validation("The parameter MetricDataQueries is required.")
    if len(queries) > 500:
        raise errors.validation(
            "The collection MetricDataQueries must not have a size greater than 500."
        )
    seen: set[str] = set()
    for i, q in enumerate(queries, 1):
        qid = q["Id"]
        if not _ID.match(qid):
            raise errors.validation(
                f"Invalid metric data query Id '{qid}'. The Id must start with a lowercase "
                "letter and contain only letters, numbers and underscores."
            )
        if qid in seen:
            raise errors.validation(f"The value {qid} for field Id must be unique.")
        seen.add(qid)
        if ("MetricStat" in q) == ("Expression" in q):
            raise errors.validation(
                f"Exactly one element of MetricDataQueries.member.{i} must be specified: "
                "MetricStat or Expression."
            )
        stat = q.get("MetricStat")
        if stat:
            check_period(int(stat["Period"]), f"MetricDataQueries.member.{i}.MetricStat.Period")
            if not is_valid_stat(stat["Stat"]):
                raise errors.validation(
                    f"The value {stat['Stat']} for parameter "
                    f"MetricDataQueries.member.{i}.MetricStat.Stat is not supported."
                )


def run(
    metrics: Metrics,
    account: str,
    region: str,
    queries: list[dict],
    start: float,
    end: float,
    bands: Bands | None = None,
) -> list[QueryResult]:
    validate(queries)
    by_id = {q["Id"]: q for q in queries}
    periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
    periods += [int(q["Period"]) for q in queries if "Expression" in q and q.get("Period")]
    period = min(periods) if periods else 60
    begin = origin(start, period)
    grid = [begin + k * period for k in range(int((end - begin + period - 1) // period))]
    done: dict[str, Value] = {}
    counts: dict[str, dict[float, float]] = {}
    active: set[str] = set()

    def fetch(qid: str) -> Value:
        if qid in done:
            return done[qid]
        q = by_id.get(qid)
        if q is None:
            raise MathError(f"Unrecognized metric id {qid}")
        if qid in active:
            raise MathError(f"Circular reference to {qid}")
        active.add(qid)
        try:
            if "MetricStat" in q:
                ms = q["MetricStat"]
                ref = MetricRef.of(ms["Metric"])
                p = int(ms["Period"])
                raw = metrics.series(
                    account, region, ref, origin(start, p), end, p, ms["Stat"], ms.get("Unit")
                )
                counts[qid] = {t: c for t, (_, c) in raw.items()}
                value: Value = Series(
                    q.get("Label") or ref.name, {t: v for t, (v, _) in sorted(raw.items())}
                )
            else:
                label = q.get("Label") or qid
                env = Env(fetch, metric_list, grid, label, band_of(label))
                value = evaluate(q["Expression"], env)
        finally:
            active.discard(qid)
        done[qid] = value
        return value

    def band_of(label: str) -> Callable[[str, float], list[Series]] | None:
        if bands is None:
            return None

        def band(target: str, stddevs: float) -> list[Series]:
            upper, lower = bands(target, by_id, stddevs, start, end)
            return [Series(label, upper), Series(label, lower)]

        return band

    def metric_list(prefix: str) -> list[Series]:
        out = []
        for q in queries:
            if "MetricStat" in q and q["Id"].startswith(prefix):
                out.append(fetch(q["Id"]))
        return out  # type: ignore[return-value]

    results: list[QueryResult] = []
    for q in queries:
        qid = q["Id"]
        ret = q.get("ReturnData", True)
        try:
            value = fetch(qid)
        except MathError as exc:
            raise errors.validation(f"Error in expression '{qid}': {exc}") from None
        series = _as_series(value, q.get("Label") or qid, grid)
        for s in series:
            label = q.get("Label") or s.label
            results.append(QueryResult(qid, label, s.points, ret, counts.get(qid, {})))
    return results


def _as_series(value: Any, label: str, grid: list[float]) -> list[Series]:
    if isinstance(value, list):
        return value
    if isinstance(value, Series):
        return [value]
    if isinstance(value, str):
        raise errors.validation(f"Error in expression '{label}': a string is not a time series")
    return [Series(label, dict.fromkeys(grid, float(value)))]
