"""Alarms on an anomaly detection band: PutMetricAlarm's rules for them, and how
their state follows from the metric and its band.

Such an alarm has one of the three band operators and a ThresholdMetricId naming
the query that holds ``ANOMALY_DETECTION_BAND(id[, stddevs])``. It watches the
other query that returns data (AWS's examples set ReturnData on both the metric
and the band) or, when only the band returns data, the band's own argument. A
period breaches when its value is above the band's upper bound
(GreaterThanUpperThreshold), below its lower bound (LessThanLowerThreshold), or
either (LessThanLowerOrGreaterThanUpperThreshold); a period whose band is not
known yet (the model still training) counts as missing. M of N and
TreatMissingData then apply as for every alarm (``evaluation``).

Reasons and reason data follow CloudWatch's own, as seen in real notifications:
``Thresholds Crossed: 1 out of the last 1 datapoints [0.0 (03/10/19 15:58:00)] was
less than the lower thresholds [0.0206] or greater than the upper thresholds
[0.3007] (minimum 1 datapoint for OK -> ALARM transition).``, with
``recentLowerThresholds``/``recentUpperThresholds`` in the reason data (and
``evaluatedDatapoints`` with each period's threshold for a one-sided operator).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.evaluation import (
    ANOMALY_COMPARISONS,
    Outcome,
    iso_ms,
    judge,
    minimum,
    no_data,
    short_time,
    treated,
)

BOTH, LOWER, UPPER = ANOMALY_COMPARISONS
_BAND = re.compile(r"^\s*ANOMALY_DETECTION_BAND\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(,[^()]*)?\)\s*$")
_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")

Band = dict[float, tuple[float, float]]
"""Period start -> (lower, upper)."""


def band_target(expression: str) -> str | None:
    """The query id an ``ANOMALY_DETECTION_BAND(id[, n])`` expression models."""
    m = _BAND.match(expression or "")
    return m.group(1) if m else None


def is_band_alarm(params: dict[str, Any]) -> bool:
    """Whether a PutMetricAlarm request is a band alarm; raises when it is one but
    breaks the rules for them."""
    op, tid = params.get("ComparisonOperator"), params.get("ThresholdMetricId")
    if op in ANOMALY_COMPARISONS and not tid:
        raise errors.validation(
            "ComparisonOperators for ranges require ThresholdMetricId to be set"
        )
    if not tid:
        return False
    if op not in ANOMALY_COMPARISONS:
        raise errors.validation(
            f"ThresholdMetricId needs one of the comparison operators {', '.join(ANOMALY_COMPARISONS)}."
        )
    if params.get("Threshold") is not None:
        raise errors.validation(
            "Threshold cannot be set on an alarm based on an anomaly detection model: the band "
            "that ThresholdMetricId names is its threshold."
        )
    metrics = params.get("Metrics") or []
    by_id = {q.get("Id"): q for q in metrics}
    if tid not in by_id:
        raise errors.validation(
            f"ThresholdMetricId {tid} must be the Id of an element of Metrics holding an "
            "ANOMALY_DETECTION_BAND expression."
        )
    target = band_target(by_id[tid].get("Expression", ""))
    if target is None:
        raise errors.validation(
            f"The element of Metrics with Id {tid} must be an ANOMALY_DETECTION_BAND function."
        )
    if target not in by_id or target == tid:
        raise errors.validation(
            f"ANOMALY_DETECTION_BAND in {tid} refers to {target}, which is not the Id of another "
            "element of Metrics."
        )
    for key in _ACTIONS:
        if any(arn.startswith("arn:aws:autoscaling:") for arn in params.get(key) or []):
            raise errors.validation(
                "An alarm based on an anomaly detection model cannot have Auto Scaling actions."
            )
    for q in metrics:
        if "MetricStat" in q and int(q["MetricStat"]["Period"]) < 60:
            raise errors.validation(
                "An alarm based on an anomaly detection model needs a Period of at least 60 "
                "seconds."
            )
    watched(metrics, tid)
    return True


def watched(metrics: list[dict], threshold_id: str) -> str:
    """The Id of the query a band alarm compares with its band."""
    others = [q["Id"] for q in metrics if q.get("ReturnData", True) and q["Id"] != threshold_id]
    if len(others) > 1:
        raise errors.validation(
            "Exactly one element of the metrics list besides the ThresholdMetricId should return "
            "data."
        )
    if others:
        return others[0]
    band = next(q for q in metrics if q["Id"] == threshold_id)
    return band_target(band["Expression"]) or ""


def split(results: list, metrics: list[dict], threshold_id: str) -> tuple[dict, dict, Band]:
    """(values, sample counts, band) from ``queries.run``'s results for a band alarm."""
    target = watched(metrics, threshold_id)
    chosen = next((r for r in results if r.id == target), None)
    bounds = [r.points for r in results if r.id == threshold_id]
    band: Band = {}
    if len(bounds) == 2:
        upper, lower = bounds
        band = {t: (lower[t], upper[t]) for t in upper if t in lower}
    if chosen is None:
        return {}, {}, band
    return chosen.points, chosen.counts, band


def _breaches(op: str, value: float, lower: float, upper: float) -> bool:
    if op == UPPER:
        return value > upper
    if op == LOWER:
        return value < lower
    return value < lower or value > upper


def decide(
    alarm: dict,
    points: list[tuple[float, float | None, float]],
    band: Band,
    period: int,
    now: float,
) -> Outcome:
    """The band alarm's outcome over ``points`` ((period start, value or None, sample
    count), oldest first)."""
    op = alarm["ComparisonOperator"]
    n = len(points)
    m = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    treat = alarm.get("TreatMissingData") or "missing"
    present = [(t, v, *band[t]) for t, v, _ in points if v is not None and t in band]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": iso_ms(now),
        "startDate": iso_ms(points[0][0]) if points else iso_ms(now),
        "period": period,
        "recentDatapoints": [v for _, v, _, _ in present],
    }
    if op != UPPER:
        data["recentLowerThresholds"] = [lo for _, _, lo, _ in present]
    if op != LOWER:
        data["recentUpperThresholds"] = [hi for _, _, _, hi in present]
    if op != BOTH:
        data["evaluatedDatapoints"] = [
            {"timestamp": iso_ms(t), "value": v, "threshold": hi if op == UPPER else lo}
            for t, v, lo, hi in reversed(present)
        ]
    if not present:
        empty = no_data(treat, n)
        return Outcome(None) if empty is None else Outcome(*empty, json.dumps(data))
    flags = [_breaches(op, v, lo, hi) for _, v, lo, hi in present]
    alarmed = judge(flags, n, m, treat)
    shown = [p for p, f in zip(present, flags, strict=True) if f == alarmed][::-1]
    listing = ", ".join(f"{v} ({short_time(t)})" for t, v, _, _ in shown)
    lowers = ", ".join(str(lo) for _, _, lo, _ in shown)
    uppers = ", ".join(str(hi) for _, _, _, hi in shown)
    neg = "" if alarmed else "not "
    clause = {
        BOTH: f"{neg}less than the lower thresholds [{lowers}] or {neg}greater than the upper "
        f"thresholds [{uppers}]",
        LOWER: f"{neg}less than the lower thresholds [{lowers}]",
        UPPER: f"{neg}greater than the upper thresholds [{uppers}]",
    }[op]
    k = len(shown)
    reason = (
        f"Thresholds Crossed: {k} out of the last {n} datapoints [{listing}] "
        f"{'was' if k == 1 else 'were'} {clause} {minimum(alarmed, n, m)}."
    )
    state = "ALARM" if alarmed else "OK"
    return Outcome(state, treated(reason, n - len(present), treat), json.dumps(data))
