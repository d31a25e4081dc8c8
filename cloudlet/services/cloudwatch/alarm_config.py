"""PutMetricAlarm and PutCompositeAlarm input rules, worded as CloudWatch words them.

Turns a request into the stored alarm configuration, or raises. Alarms on an
anomaly detection band have their own rules (``bands.is_band_alarm``). Features
we do not evaluate (PromQL criteria, evaluation windows, actions suppressors)
are refused with a ValidationError that says so, instead of being stored and
silently never firing.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.cloudwatch import bands, composite, errors, queries
from cloudlet.services.cloudwatch.actions import is_valid_action
from cloudlet.services.cloudwatch.evaluation import COMPARISONS, TREAT_MISSING
from cloudlet.services.cloudwatch.metrics import UNITS
from cloudlet.services.cloudwatch.statistics import BASIC, percentile_of

_UNSUPPORTED_METRIC = (
    "EvaluationWindow",
    "WarmUpConfiguration",
    "EvaluationCriteria",
    "EvaluationInterval",
    "ActionConfiguration",
)
_UNSUPPORTED_COMPOSITE = ("ActionsSuppressor", "ActionConfiguration")
_COMMON = ("AlarmName", "AlarmDescription", "ActionsEnabled", "Tags")


def _actions(params: dict, out: dict) -> None:
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        arns = params.get(key) or []
        if len(arns) > 5:
            raise errors.validation(f"The collection {key} must not have a size greater than 5.")
        for arn in arns:
            if not is_valid_action(arn):
                raise errors.validation(f"Invalid action ARN in {key}: {arn}")
        out[key] = list(arns)
    out["ActionsEnabled"] = params.get("ActionsEnabled", True)


def _check_period(period: int) -> None:
    if (
        period < 10
        or (period < 60 and period not in (10, 20, 30))
        or (period >= 60 and period % 60)
    ):
        raise errors.validation(
            f"The value {period} for parameter Period is invalid: alarms take a Period of "
            "10, 20, 30 or a multiple of 60 seconds."
        )


def metric_alarm(params: dict[str, Any]) -> dict[str, Any]:
    for key in _UNSUPPORTED_METRIC:
        if params.get(key) is not None:
            raise errors.validation(f"{key} is not supported by cloudlet yet.")
    op = params.get("ComparisonOperator")
    band = bands.is_band_alarm(params)
    if not band and op not in COMPARISONS:
        raise errors.validation(f"The value {op} for parameter ComparisonOperator is invalid.")
    if not band and params.get("Threshold") is None:
        raise errors.validation("The parameter Threshold is required for static threshold alarms.")
    out: dict[str, Any] = {k: params[k] for k in _COMMON if params.get(k) is not None}
    _actions(params, out)
    n = int(params.get("EvaluationPeriods") or 0)
    if n < 1:
        raise errors.validation("The value for parameter EvaluationPeriods must be at least 1.")
    m = params.get("DatapointsToAlarm")
    if m is not None and not 1 <= int(m) <= n:
        raise errors.validation(
            "DatapointsToAlarm must be greater than 0 and less than or equal to EvaluationPeriods."
        )
    treat = params.get("TreatMissingData")
    if treat is not None and treat not in TREAT_MISSING:
        raise errors.validation(f"The value {treat} for parameter TreatMissingData is invalid.")
    out["EvaluationPeriods"] = n
    if band:
        out["ThresholdMetricId"] = params["ThresholdMetricId"]
    else:
        out["Threshold"] = float(params["Threshold"])
    out["ComparisonOperator"] = op
    for k in ("DatapointsToAlarm", "TreatMissingData", "EvaluateLowSampleCountPercentile"):
        if params.get(k) is not None:
            out[k] = params[k]
    single = [
        k
        for k in (
            "MetricName",
            "Namespace",
            "Statistic",
            "ExtendedStatistic",
            "Period",
            "Dimensions",
            "Unit",
        )
        if params.get(k) is not None
    ]
    if params.get("Metrics"):
        if single and single != ["Unit"]:
            raise errors.validation(
                "The parameters Metrics and "
                f"{', '.join(single)} cannot be specified together: use one or the other."
            )
        metrics = params["Metrics"]
        queries.validate(metrics)
        if not band and sum(1 for q in metrics if q.get("ReturnData", True)) != 1:
            raise errors.validation("Exactly one element of the metrics list should return data.")
        for q in metrics:
            if "MetricStat" in q:
                _check_period(int(q["MetricStat"]["Period"]))
        out["Metrics"] = metrics
        return out
    if not params.get("MetricName") or not params.get("Namespace"):
        raise errors.validation("MetricName and Namespace are required unless Metrics is given.")
    stat, ext = params.get("Statistic"), params.get("ExtendedStatistic")
    if bool(stat) == bool(ext):
        raise errors.validation("Exactly one of Statistic and ExtendedStatistic must be specified.")
    if stat and stat not in BASIC:
        raise errors.validation(f"The value {stat} for parameter Statistic is invalid.")
    if ext and percentile_of(ext) is None:
        raise errors.validation(f"The value {ext} for parameter ExtendedStatistic is invalid.")
    if params.get("Period") is None:
        raise errors.validation("Period must not be null")
    period = int(params["Period"])
    _check_period(period)
    if period * n > 7 * 86400:
        raise errors.validation("Period * EvaluationPeriods must not exceed 7 days.")
    unit = params.get("Unit")
    if unit is not None and unit not in UNITS:
        raise errors.validation(f"The value {unit} for parameter Unit is invalid.")
    for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Unit"):
        if params.get(k) is not None:
            out[k] = params[k]
    out["Dimensions"] = list(params.get("Dimensions") or [])
    out["Period"] = period
    return out


def composite_alarm(params: dict[str, Any], exists: Any) -> dict[str, Any]:
    """``exists(name_or_arn)`` tells whether a referenced alarm exists."""
    for key in _UNSUPPORTED_COMPOSITE:
        if params.get(key) is not None:
            raise errors.validation(f"{key} is not supported by cloudlet yet.")
    rule = params["AlarmRule"]
    try:
        tree = composite.parse(rule)
    except composite.RuleError as exc:
        raise errors.validation(f"Error in alarm rule: {exc}") from None
    for child in composite.children(tree):
        if child == params["AlarmName"] or child.endswith(f":alarm:{params['AlarmName']}"):
            raise errors.validation("A composite alarm cannot reference itself in its AlarmRule.")
        if not exists(child):
            raise errors.validation(f"Could not find alarm {child} referenced in AlarmRule.")
    out: dict[str, Any] = {k: params[k] for k in _COMMON if params.get(k) is not None}
    _actions(params, out)
    out["AlarmRule"] = rule
    return out
