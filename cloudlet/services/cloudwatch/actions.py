"""Alarm actions: what a state transition does to other services.

Every action goes through the internal client (``call``), so the target
service validates it as it would a client's request. EC2 actions stop,
terminate or reboot the instance named by the alarm's ``InstanceId``
dimension; SNS topics get the alarm notification CloudWatch publishes;
AutoScaling policies are executed. A failure (the target not built, a
validation error, a missing instance) becomes a failed Action history item;
it never stops the evaluation loop.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.services.cloudwatch.evaluation import iso_ms

log = logging.getLogger(__name__)

Call = Callable[..., Awaitable[dict[str, Any]]]
"""``call(service, operation, params, account=, region=)``: ``ServiceEnv.call``."""

_EC2 = re.compile(r"^arn:aws:automate:[a-z0-9-]+:ec2:(stop|terminate|reboot|recover)$")
_EC2_LEGACY = re.compile(
    r"^arn:aws:swf:[a-z0-9-]+:\d+:action/actions/AWS_EC2\.InstanceId\.(Stop|Terminate|Reboot)/1\.0$"
)
_EC2_OPS = {"stop": "StopInstances", "terminate": "TerminateInstances", "reboot": "RebootInstances"}


def is_valid_action(arn: str) -> bool:
    return bool(
        _EC2.match(arn)
        or _EC2_LEGACY.match(arn)
        or re.match(r"^arn:aws:(sns|autoscaling|lambda|ssm|ssm-incidents):", arn)
    )


@functools.lru_cache(maxsize=64)
def region_name(region: str) -> str:
    """``us-east-1`` -> ``US East (N. Virginia)``: how alarm notifications name a region."""
    from botocore.loaders import Loader

    for partition in Loader().load_data("endpoints")["partitions"]:
        info = partition["regions"].get(region)
        if info is not None:
            return info.get("description", region)
    return region


def notification(alarm: dict, old: str, region: str, account: str, now: float) -> dict:
    """The JSON CloudWatch publishes to SNS for a transition (AWS's field names and casing)."""
    msg: dict[str, Any] = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": iso_ms(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm.get("StateReason", ""),
        "StateChangeTime": iso_ms(now),
        "Region": region_name(region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
    }
    if "MetricName" in alarm or "Metrics" in alarm:
        trigger: dict[str, Any] = {}
        if "MetricName" in alarm:
            trigger["MetricName"] = alarm["MetricName"]
            trigger["Namespace"] = alarm.get("Namespace")
            if "ExtendedStatistic" in alarm:
                trigger["StatisticType"] = "ExtendedStatistic"
                trigger["ExtendedStatistic"] = alarm["ExtendedStatistic"]
            else:
                trigger["StatisticType"] = "Statistic"
                trigger["Statistic"] = str(alarm.get("Statistic", "")).upper()
            trigger["Unit"] = alarm.get("Unit")
            trigger["Dimensions"] = [
                {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions") or []
            ]
            trigger["Period"] = alarm.get("Period")
        else:
            trigger["Metrics"] = alarm["Metrics"]
        trigger["EvaluationPeriods"] = alarm.get("EvaluationPeriods")
        if "DatapointsToAlarm" in alarm:
            trigger["DatapointsToAlarm"] = alarm["DatapointsToAlarm"]
        trigger["ComparisonOperator"] = alarm.get("ComparisonOperator")
        if "ThresholdMetricId" in alarm:  # a band alarm has no Threshold
            trigger["ThresholdMetricId"] = alarm["ThresholdMetricId"]
        else:
            trigger["Threshold"] = alarm.get("Threshold")
        trigger["TreatMissingData"] = alarm.get("TreatMissingData", "missing")
        trigger["EvaluateLowSampleCountPercentile"] = alarm.get(
            "EvaluateLowSampleCountPercentile", ""
        )
        msg["Trigger"] = trigger
    return msg


async def run_action(
    call: Call,
    arn: str,
    alarm: dict,
    old: str,
    account: str,
    region: str,
    now: float,
) -> tuple[bool, str, dict]:
    """Run one action; (succeeded, summary, HistoryData)."""
    data: dict[str, Any] = {
        "actionState": "Succeeded",
        "stateUpdateTimestamp": int(now * 1000),
        "notificationResource": arn,
    }
    try:
        published = await _dispatch(call, arn, alarm, old, account, region, now)
        if published is not None:
            data["publishedMessage"] = published
        return True, f"Successfully executed action {arn}", data
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.info("alarm %s: action %s failed: %s", alarm["AlarmName"], arn, message)
        data["actionState"] = "Failed"
        data["error"] = message
        return False, f'Failed to execute action {arn}. Received error: "{message}"', data


async def _dispatch(
    call: Call, arn: str, alarm: dict, old: str, account: str, region: str, now: float
) -> str | None:
    m = _EC2.match(arn)
    verb = m.group(1) if m else None
    if verb is None and (legacy := _EC2_LEGACY.match(arn)):
        verb = legacy.group(1).lower()
    if verb is not None:
        if verb == "recover":
            raise RuntimeError("EC2 recover actions are not supported by cloudlet")
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
        if "InstanceId" not in dims:
            raise RuntimeError("The alarm has no InstanceId dimension to act on")
        await call(
            "ec2",
            _EC2_OPS[verb],
            {"InstanceIds": [dims["InstanceId"]]},
            account=account,
            region=region,
        )
        return None
    service = arn.split(":")[2]
    if service == "sns":
        body = json.dumps(notification(alarm, old, region, account, now))
        subject = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {region_name(region)}'
        await call(
            "sns",
            "Publish",
            {"TopicArn": arn, "Subject": subject[:100], "Message": body},
            account=account,
            region=region,
        )
        return body
    if service == "autoscaling":
        params: dict[str, Any] = {"PolicyName": arn}
        points = json.loads(alarm.get("StateReasonData") or "{}").get("recentDatapoints")
        if points:
            params["MetricValue"] = points[-1]
            params["BreachThreshold"] = alarm.get("Threshold", 0.0)
        await call("autoscaling", "ExecutePolicy", params, account=account, region=region)
        return None
    raise RuntimeError(f"Actions of type {service} are not supported by cloudlet")
