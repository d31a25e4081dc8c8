"""Scaling policies: simple, step and target tracking, executed by alarms or users.

Mixed into ``AutoScalingService``. Executing a policy only moves the group's
DesiredCapacity (clamped to min/max) and records why; the reconcile loop does
the launching. Simple policies honour cooldowns (always when an alarm
triggers them, on request for users); step policies pick their step by
``MetricValue - BreachThreshold`` as CloudWatch sends them; target tracking
policies create and own their two CloudWatch alarms (``TargetTracking-<group>-
AlarmHigh-<uuid>`` / ``AlarmLow``) and delete them with the policy.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.autoscaling import errors
from cloudlet.services.autoscaling.engine import Engine, group_key
from cloudlet.services.base import InternalContext

Result = dict[str, Any]
ADJUSTMENTS = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
PREDEFINED = {
    "ASGAverageCPUUtilization": ("CPUUtilization", "Percent"),
    "ASGAverageNetworkIn": ("NetworkIn", "Bytes"),
    "ASGAverageNetworkOut": ("NetworkOut", "Bytes"),
}
_KEPT = (
    "PolicyType",
    "AdjustmentType",
    "ScalingAdjustment",
    "MinAdjustmentMagnitude",
    "Cooldown",
    "StepAdjustments",
    "MetricAggregationType",
    "EstimatedInstanceWarmup",
    "TargetTrackingConfiguration",
)


def new_capacity(desired: int, adjustment_type: str, amount: float, magnitude: int | None) -> int:
    """Desired capacity after an adjustment (before clamping), with AWS's rounding."""
    if adjustment_type == "ExactCapacity":
        return int(amount)
    if adjustment_type == "ChangeInCapacity":
        return desired + int(amount)
    change = desired * amount / 100.0
    # Between -1 and 1 rounds away from zero, beyond that towards zero.
    step = int(math.copysign(1, change)) if 0 < abs(change) < 1 else int(change)
    if magnitude and abs(step) < magnitude and amount:
        step = int(math.copysign(magnitude, amount))
    return desired + step


def pick_step(steps: list[dict[str, Any]], diff: float) -> dict[str, Any] | None:
    for step in steps:
        lower = step.get("MetricIntervalLowerBound")
        upper = step.get("MetricIntervalUpperBound")
        if (lower is None or diff >= lower) and (upper is None or diff < upper):
            return step
    return None


class PolicyOps:
    """Needs ``_group`` and ``_set_desired`` from ``GroupOps``."""

    engine: Engine
    env: Any
    _group: Any
    _set_desired: Any

    def _policy(self, ctx: Any, name: str, group_name: str | None) -> dict[str, Any]:
        if name.startswith("arn:"):
            policy = self.engine.policies.get(name)
        else:
            key = group_key(ctx.account_id, ctx.region, group_name or "")
            policy = next(
                (
                    p
                    for p in self.engine.policies.values()
                    if p["group_key"] == key and p["PolicyName"] == name
                ),
                None,
            )
        if policy is None or policy["group_key"].split("/")[:2] != [ctx.account_id, ctx.region]:
            raise errors.policy_not_found(name)
        return policy

    async def _cloudwatch(self, ctx: Any, op: str, params: dict[str, Any]) -> Result:
        return await self.env.call(
            "cloudwatch", op, params, account=ctx.account_id, region=ctx.region
        )

    async def _tracking_alarms(
        self, ctx: Any, group: dict[str, Any], arn: str, config: dict[str, Any]
    ) -> list[dict[str, str]]:
        target = float(config["TargetValue"])
        if spec := config.get("PredefinedMetricSpecification"):
            kind = spec["PredefinedMetricType"]
            if kind not in PREDEFINED:
                raise errors.validation(f"Predefined metric {kind} is not supported by cloudlet")
            metric_name, unit = PREDEFINED[kind]
            metric = {
                "MetricName": metric_name,
                "Namespace": "AWS/EC2",
                "Statistic": "Average",
                "Unit": unit,
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group["name"]}],
            }
        elif spec := config.get("CustomizedMetricSpecification"):
            metric = {
                "MetricName": spec["MetricName"],
                "Namespace": spec["Namespace"],
                "Statistic": spec.get("Statistic") or "Average",
                "Dimensions": list(spec.get("Dimensions") or []),
            }
            if spec.get("Unit"):
                metric["Unit"] = spec["Unit"]
        else:
            raise errors.validation(
                "Either PredefinedMetricSpecification or CustomizedMetricSpecification is required."
            )
        alarms = []
        sides = [("AlarmHigh", "GreaterThanThreshold", target, 3)]
        if not config.get("DisableScaleIn"):
            sides.append(("AlarmLow", "LessThanThreshold", target * 0.9, 15))
        for side, operator, threshold, periods in sides:
            name = f"TargetTracking-{group['name']}-{side}-{uuid.uuid4()}"
            await self._cloudwatch(
                ctx,
                "PutMetricAlarm",
                {
                    "AlarmName": name,
                    "AlarmDescription": (
                        f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}."
                    ),
                    "AlarmActions": [arn],
                    "Period": 60,
                    "EvaluationPeriods": periods,
                    "DatapointsToAlarm": periods,
                    "Threshold": threshold,
                    "ComparisonOperator": operator,
                    **metric,
                },
            )
            alarm_arn = f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{name}"
            alarms.append({"AlarmName": name, "AlarmARN": alarm_arn})
        return alarms

    async def _drop_policy(self, ctx: Any, arn: str) -> None:
        policy = self.engine.policies.pop(arn, None)
        self.engine.store.delete("policy", arn)
        owned = [a["AlarmName"] for a in (policy or {}).get("owned", [])]
        if owned:
            try:
                await self._cloudwatch(ctx, "DeleteAlarms", {"AlarmNames": owned})
            except Exception:  # noqa: BLE001 - the policy goes even if CloudWatch is away
                pass

    # -- operations ------------------------------------------------------------

    async def put_scaling_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        kind = params.get("PolicyType") or "SimpleScaling"
        if kind not in ("SimpleScaling", "StepScaling", "TargetTrackingScaling"):
            raise errors.validation(f"Policy type {kind} is not supported by cloudlet")
        if kind != "TargetTrackingScaling":
            adjustment = params.get("AdjustmentType")
            if adjustment not in ADJUSTMENTS:
                raise errors.validation(f"Invalid adjustment type: {adjustment}")
            if kind == "SimpleScaling" and params.get("ScalingAdjustment") is None:
                raise errors.validation("ScalingAdjustment is required for SimpleScaling.")
            if kind == "StepScaling" and not params.get("StepAdjustments"):
                raise errors.validation("StepAdjustments are required for StepScaling.")
        elif not params.get("TargetTrackingConfiguration"):
            raise errors.validation("TargetTrackingConfiguration is required.")
        key = group_key(ctx.account_id, ctx.region, group["name"])
        name = params["PolicyName"]
        existing = next(
            (
                p
                for p in self.engine.policies.values()
                if p["group_key"] == key and p["PolicyName"] == name
            ),  # noqa: E501
            None,
        )
        if existing is not None:
            arn = existing["PolicyARN"]
            await self._drop_policy(ctx, arn)
        else:
            arn = (
                f"arn:aws:autoscaling:{ctx.region}:{ctx.account_id}:scalingPolicy:"
                f"{uuid.uuid4()}:autoScalingGroupName/{group['name']}:policyName/{name}"
            )
        policy: dict[str, Any] = {
            "group_key": key,
            "AutoScalingGroupName": group["name"],
            "PolicyName": name,
            "PolicyARN": arn,
            "PolicyType": kind,
            "Enabled": params.get("Enabled", True),
            **{k: params[k] for k in _KEPT if params.get(k) is not None},
            "owned": [],
        }
        if kind == "TargetTrackingScaling":
            policy["owned"] = await self._tracking_alarms(
                ctx, group, arn, params["TargetTrackingConfiguration"]
            )
        self.engine.policies[arn] = policy
        self.engine.store.put("policy", arn, policy)
        return {"PolicyARN": arn, "Alarms": list(policy["owned"])}

    async def describe_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        group_name = params.get("AutoScalingGroupName")
        names = params.get("PolicyNames") or []
        types = params.get("PolicyTypes") or []
        found = [
            p
            for p in self.engine.policies.values()
            if p["group_key"].split("/")[:2] == [ctx.account_id, ctx.region]
            and (not group_name or p["AutoScalingGroupName"] == group_name)
            and (not names or p["PolicyName"] in names or p["PolicyARN"] in names)
            and (not types or p["PolicyType"] in types)
        ]
        wired: dict[str, list[dict[str, str]]] = {}
        if found:
            try:
                res = await self._cloudwatch(ctx, "DescribeAlarms", {"MaxRecords": 100})
                for alarm in res.get("MetricAlarms", []):
                    for action in alarm.get("AlarmActions") or []:
                        wired.setdefault(action, []).append(
                            {"AlarmName": alarm["AlarmName"], "AlarmARN": alarm["AlarmArn"]}
                        )
            except Exception:  # noqa: BLE001 - without CloudWatch, only owned alarms show
                pass
        out = []
        for p in found:
            shaped = {k: v for k, v in p.items() if k not in ("group_key", "owned")}
            shaped["Alarms"] = wired.get(p["PolicyARN"], list(p["owned"]))
            out.append(shaped)
        return {"ScalingPolicies": out}

    async def delete_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        policy = self._policy(ctx, params["PolicyName"], params.get("AutoScalingGroupName"))
        await self._drop_policy(ctx, policy["PolicyARN"])
        return {}

    def execute_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        policy = self._policy(ctx, params["PolicyName"], params.get("AutoScalingGroupName"))
        group = self._group(ctx, policy["AutoScalingGroupName"])
        by_alarm = isinstance(ctx, InternalContext)
        if by_alarm and "AlarmNotification" in group["suspended"]:
            return {}
        if not policy.get("Enabled", True):
            raise errors.validation(f"Policy {policy['PolicyName']} is disabled.")
        desired, kind = group["desired"], policy["PolicyType"]
        value, threshold = params.get("MetricValue"), params.get("BreachThreshold")
        if kind == "SimpleScaling":
            honour = params.get("HonorCooldown", by_alarm)
            if honour and clock.time() < group.get("cooldown_until", 0.0):
                raise errors.activity_in_progress(
                    f"Policy {policy['PolicyName']} cannot be executed: the group "
                    f"{group['name']} is in its cooldown period."
                )
            new = new_capacity(
                desired,
                policy["AdjustmentType"],
                policy["ScalingAdjustment"],
                policy.get("MinAdjustmentMagnitude"),
            )
        elif kind == "StepScaling":
            if value is None or threshold is None:
                raise errors.validation(
                    "MetricValue and BreachThreshold are required to execute a step scaling policy."
                )
            step = pick_step(policy["StepAdjustments"], value - threshold)
            if step is None:
                raise errors.validation(
                    f"Policy {policy['PolicyName']} has no step adjustment for the metric "
                    f"value {value}."
                )
            new = new_capacity(
                desired,
                policy["AdjustmentType"],
                step["ScalingAdjustment"],
                policy.get("MinAdjustmentMagnitude"),
            )
        else:
            config = policy["TargetTrackingConfiguration"]
            target = float(config["TargetValue"])
            if value is None:
                raise errors.validation("MetricValue is required for target tracking.")
            ratio = math.ceil(max(desired, 1) * value / target) if target else desired
            if value > target:
                new = max(desired + 1, ratio)
            elif config.get("DisableScaleIn"):
                new = desired
            else:
                new = min(desired - 1, ratio)
        new = min(max(new, group["min"]), group["max"])
        reason = (
            f"a monitor alarm in state ALARM triggered policy {policy['PolicyName']}"
            if by_alarm
            else f"a user request executed policy {policy['PolicyName']}"
        )
        self._set_desired(group, new, reason)
        if kind == "SimpleScaling" and new != desired:
            cooldown = policy.get("Cooldown")
            cooldown = group["cooldown"] if cooldown is None else cooldown
            group["cooldown_until"] = clock.time() + cooldown
            self.engine.save_group(group)
        return {}
