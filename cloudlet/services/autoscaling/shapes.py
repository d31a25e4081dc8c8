"""Groups and their instances as DescribeAutoScalingGroups, DescribeAutoScalingInstances
and DescribeWarmPool show them.

Why a module: three operations (and the warm pool's) shape the same records;
the stored documents carry internal fields (epoch floats, lifecycle waits,
launch choices) that never reach the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudlet.services.autoscaling import mixed

Result = dict[str, Any]


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def instance(group: dict[str, Any], inst: dict[str, Any], full: bool) -> Result:
    """One member (or warm pool instance); ``full`` for DescribeAutoScalingInstances."""
    out: Result = {
        "InstanceId": inst["InstanceId"],
        "InstanceType": inst.get("InstanceType") or "",
        "AvailabilityZone": inst["AvailabilityZone"],
        "LifecycleState": inst["LifecycleState"],
        "HealthStatus": inst["HealthStatus"],
        "ProtectedFromScaleIn": inst.get("ProtectedFromScaleIn", False),
    }
    if inst.get("LaunchConfigurationName"):
        out["LaunchConfigurationName"] = inst["LaunchConfigurationName"]
    if inst.get("LaunchTemplate"):
        out["LaunchTemplate"] = inst["LaunchTemplate"]
    if inst.get("weight") is not None:
        out["WeightedCapacity"] = str(inst["weight"])
    if full:
        out["AutoScalingGroupName"] = group["name"]
        out["HealthStatus"] = inst["HealthStatus"].upper()
    return out


def warm_pool(group: dict[str, Any]) -> Result | None:
    """The WarmPoolConfiguration, or None without a warm pool."""
    pool = group.get("warm_pool")
    if not pool:
        return None
    out: Result = {
        "MinSize": pool.get("MinSize", 0),
        "PoolState": pool.get("PoolState", "Stopped"),
        "InstanceReusePolicy": {
            "ReuseOnScaleIn": bool((pool.get("InstanceReusePolicy") or {}).get("ReuseOnScaleIn"))
        },
    }
    if pool.get("MaxGroupPreparedCapacity") is not None:
        out["MaxGroupPreparedCapacity"] = pool["MaxGroupPreparedCapacity"]
    if pool.get("Status"):
        out["Status"] = pool["Status"]
    return out


def group(g: dict[str, Any]) -> Result:
    out: Result = {
        "AutoScalingGroupName": g["name"],
        "AutoScalingGroupARN": g["arn"],
        "MinSize": g["min"],
        "MaxSize": g["max"],
        "DesiredCapacity": g["desired"],
        "DefaultCooldown": g["cooldown"],
        "AvailabilityZones": list(g["zones"]),
        "LoadBalancerNames": list(g["lbs"]),
        "TargetGroupARNs": list(g["tgs"]),
        "HealthCheckType": g["hc_type"],
        "HealthCheckGracePeriod": g["grace"],
        "Instances": [instance(g, i, False) for i in g["instances"]],
        "CreatedTime": when(g["created"]),
        "SuspendedProcesses": [
            {"ProcessName": p, "SuspensionReason": r} for p, r in g["suspended"].items()
        ],
        "VPCZoneIdentifier": g["vpc"],
        "EnabledMetrics": [],
        "Tags": [
            {
                "ResourceId": g["name"],
                "ResourceType": "auto-scaling-group",
                "Key": t["Key"],
                "Value": t.get("Value") or "",
                "PropagateAtLaunch": bool(t.get("PropagateAtLaunch")),
            }
            for t in g["tags"]
        ],
        "TerminationPolicies": list(g["termination"]),
        "NewInstancesProtectedFromScaleIn": False,
        "ServiceLinkedRoleARN": (
            f"arn:aws:iam::{g['account']}:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        ),
    }
    if g.get("warmup") is not None:
        out["DefaultInstanceWarmup"] = g["warmup"]
    if g.get("lc"):
        out["LaunchConfigurationName"] = g["lc"]
    if g.get("lt"):
        out["LaunchTemplate"] = dict(g["lt"])
    if policy := mixed.shaped(g.get("mixed")):
        out["MixedInstancesPolicy"] = policy
    if g.get("capacity_type"):
        out["DesiredCapacityType"] = g["capacity_type"]
    if pool := warm_pool(g):
        out["WarmPoolConfiguration"] = pool
        out["WarmPoolSize"] = len(g.get("warm") or [])
    return out
