"""How one metric alarm's state follows from its evaluation range: plain functions.

The evaluation range is the last ``EvaluationPeriods`` closed periods. Each
period is breaching, not breaching or missing; ``TreatMissingData`` decides
what a missing period counts as:

- ``breaching`` / ``notBreaching``: it counts as breaching / not breaching.
- ``missing`` / ``ignore``: it is left out; when every period is missing the
  alarm goes to INSUFFICIENT_DATA (``missing``) or keeps its state (``ignore``).

The alarm is ALARM when at least ``DatapointsToAlarm`` (M) of the counted
periods breach. When fewer than M periods are counted (some are missing) and
every counted one breaches, it is ALARM too: the datapoints present cannot
prove the alarm healthy (our reading of AWS's missing-data table). Otherwise OK.

Reasons and reason data are worded and shaped as CloudWatch words them. Alarms
on an anomaly detection band (``bands``) count the same way (``no_data``,
``judge``, ``minimum``, ``treated``) with their own comparison and wording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
ANOMALY_COMPARISONS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")


@dataclass
class Outcome:
    state: str | None
    """The new state, or None to keep the current one (``ignore``)."""
    reason: str = ""
    reason_data: str = ""


def short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(round(ts * 1000)) % 1000:03d}+0000"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def no_data(treat: str, n: int) -> tuple[str, str] | None:
    """(state, reason) when no period of the range has data; None keeps the state
    (``ignore``)."""
    if treat == "ignore":
        return None
    if treat == "missing":
        verb = "was" if n == 1 else "were"
        return "INSUFFICIENT_DATA", f"Insufficient Data: {_plural(n, 'datapoint')} {verb} unknown."
    as_word = "Breaching" if treat == "breaching" else "NonBreaching"
    return (
        "ALARM" if treat == "breaching" else "OK",
        f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
        f"{_plural(n, 'missing datapoint')} {'was' if n == 1 else 'were'} treated as "
        f"[{as_word}].",
    )


def judge(breaches: list[bool], n: int, m: int, treat: str) -> bool:
    """Whether the range puts the alarm in ALARM: ``breaches`` has one flag per period
    with data, the other ``n - len(breaches)`` periods are missing."""
    missing = n - len(breaches)
    bad, counted = sum(breaches), len(breaches)
    if treat == "breaching":
        bad += missing
        counted = n
    elif treat == "notBreaching":
        counted = n
    return bad >= m or (counted < m and bad == counted)


def minimum(alarmed: bool, n: int, m: int) -> str:
    need = m if alarmed else n - m + 1
    transition = "OK -> ALARM" if alarmed else "ALARM -> OK"
    return f"(minimum {_plural(need, 'datapoint')} for {transition} transition)"


def treated(reason: str, missing: int, treat: str) -> str:
    """``reason`` with how the missing periods were counted, when they were."""
    if not missing or treat not in ("breaching", "notBreaching"):
        return reason
    return reason[:-1] + (
        f" and {_plural(missing, 'missing datapoint')} "
        f"{'was' if missing == 1 else 'were'} treated as "
        f"[{'Breaching' if treat == 'breaching' else 'NonBreaching'}]."
    )


def decide(
    alarm: dict,
    points: list[tuple[float, float | None, float]],
    now: float,
    current: str,
) -> Outcome:
    """``points``: (period start, value or None, sample count), oldest first, one per
    period of the evaluation range."""
    threshold = float(alarm.get("Threshold", 0.0))
    words, test = COMPARISONS[alarm["ComparisonOperator"]]
    n = len(points)
    m = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    treat = alarm.get("TreatMissingData") or "missing"
    present = [(t, v, c) for t, v, c in points if v is not None]
    missing = n - len(present)
    data = {
        "version": "1.0",
        "queryDate": iso_ms(now),
        "startDate": iso_ms(points[0][0]) if points else iso_ms(now),
        **({"unit": alarm["Unit"]} if alarm.get("Unit") else {}),
        **(
            {"extendedStatistic": alarm["ExtendedStatistic"]}
            if alarm.get("ExtendedStatistic")
            else {"statistic": alarm.get("Statistic", "")}
            if alarm.get("Statistic")
            else {}
        ),
        "period": int(alarm.get("Period") or 0),
        "recentDatapoints": [v for _, v, _ in present],
        "threshold": threshold,
        "evaluatedDatapoints": [
            {"timestamp": iso_ms(t), "sampleCount": c, "value": v} for t, v, c in reversed(present)
        ],
    }
    if not present:
        empty = no_data(treat, n)
        return Outcome(None) if empty is None else Outcome(*empty, json.dumps(data))
    flags = [test(v, threshold) for _, v, _ in present]
    alarmed = judge(flags, n, m, treat)
    shown = [(t, v) for (t, v, _), f in zip(present, flags, strict=True) if f == alarmed]
    listing = ", ".join(f"{v} ({short_time(t)})" for t, v in reversed(shown))
    state = "ALARM" if alarmed else "OK"
    neg = "" if alarmed else "not "
    if n == 1 and len(shown) == 1:
        reason = (
            f"Threshold Crossed: 1 datapoint [{listing}] was {neg}{words} the threshold "
            f"({threshold})."
        )
    else:
        k = len(shown)
        reason = (
            f"Threshold Crossed: {k} out of the last {n} datapoints [{listing}] "
            f"{'was' if k == 1 else 'were'} {neg}{words} the threshold ({threshold}) "
            f"{minimum(alarmed, n, m)}."
        )
    return Outcome(state, treated(reason, missing, treat), json.dumps(data))
