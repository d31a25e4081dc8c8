"""The loop's launching half: real EC2 instances for a group or its warm pool.

Why: every launch (the group below DesiredCapacity, a replacement, an instance
refresh batch, a warm pool filling up) goes through ``ec2 RunInstances`` with
the group's propagated tags and ``aws:autoscaling:groupName``, in the least
used zone, from the configuration the group launches with right now (an
instance refresh's desired one while it runs). A group with a mixed instances
policy tries its launch choices in order (``mixed``): the first EC2 accepts is
the instance. Scale-outs take a warm pool instance first when there is one
ready (``warm``). Every launch is a scaling activity in AWS's wording; a
failed one waits ``LAUNCH_RETRY_SECONDS`` before the next try.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import capacity
from cloudlet.services.autoscaling.lifecycle import LAUNCHING
from cloudlet.services.autoscaling.store import group_key

log = logging.getLogger(__name__)

GROUP_TAG = "aws:autoscaling:groupName"
LAUNCH_RETRY_SECONDS = 10.0


def warm_started(count: int, target: int) -> str:
    return (
        f"At {act.stamp()} an instance was launched into the warm pool in response to a "
        f"difference between the desired and actual warm pool capacity, increasing the "
        f"warm pool capacity from {count} to {target}."
    )


class LaunchMixin:
    """Mixed into ``Engine``, which provides the state and the helpers named here."""

    configs: dict[str, dict[str, Any]]
    group_tag_refused: bool
    refresh: Any
    lifecycle: Any
    warm: Any
    call: Callable[..., Any]
    record: Callable[..., Any]
    finish: Callable[..., Any]
    save_group: Callable[..., Any]

    def pick_zone(self, group: dict[str, Any], members: list[dict[str, Any]] | None = None) -> str:
        counts = {z: 0 for z in group["zones"]}
        for inst in group["instances"] if members is None else members:
            if inst["AvailabilityZone"] in counts:
                counts[inst["AvailabilityZone"]] += 1
        return min(group["zones"], key=lambda z: counts[z])

    def launch_params(
        self,
        group: dict[str, Any],
        zone: str,
        config: dict[str, Any] | None = None,
        choice: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        tags = [
            {"Key": t["Key"], "Value": t.get("Value") or ""}
            for t in group["tags"]
            if t.get("PropagateAtLaunch")
        ]
        tags.append({"Key": GROUP_TAG, "Value": group["name"]})
        params: dict[str, Any] = {
            "MinCount": 1,
            "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        config = config or self.refresh.source(group)
        lc_name, lt = config.get("lc"), config.get("lt")
        if choice is not None:
            lt = choice["lt"]
            if choice.get("type"):
                params["InstanceType"] = choice["type"]
            if choice.get("image"):
                params["ImageId"] = choice["image"]
        if lc_name:
            lc = self.configs.get(group_key(group["account"], group["region"], lc_name))
            if lc is None:
                raise RuntimeError(f"Launch configuration {lc_name} not found")
            params["ImageId"] = lc["ImageId"]
            params["InstanceType"] = lc["InstanceType"]
            for name in ("KeyName", "UserData"):
                if lc.get(name):
                    params[name] = lc[name]
            sgs = lc.get("SecurityGroups") or []
            if ids := [g for g in sgs if g.startswith("sg-")]:
                params["SecurityGroupIds"] = ids
            if names := [g for g in sgs if not g.startswith("sg-")]:
                params["SecurityGroups"] = names
            if profile := lc.get("IamInstanceProfile"):
                key = "Arn" if profile.startswith("arn:") else "Name"
                params["IamInstanceProfile"] = {key: profile}
        elif lt:
            ref = "LaunchTemplateId" if lt.get("LaunchTemplateId") else "LaunchTemplateName"
            params["LaunchTemplate"] = {ref: lt.get(ref), "Version": lt.get("Version")}
        if group["subnets"]:
            params["SubnetId"] = group["subnets"][zone]
        else:
            params["Placement"] = {"AvailabilityZone": zone}
        return params

    async def run_instance(
        self, group: dict[str, Any], zone: str, config: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """RunInstances with the first launch choice EC2 accepts; (instance, choice)."""
        options = list(config["mixed"]["choices"]) if config.get("mixed") else [None]
        failure: Exception | None = None
        for choice in options:
            params = self.launch_params(group, zone, config, choice)
            try:
                try:
                    res = await self.call(group, "ec2", "RunInstances", params)
                except Exception as exc:
                    if self.group_tag_refused or "reserved for internal use" not in str(exc):
                        raise
                    log.warning("EC2 refuses the %s tag; launching without it", GROUP_TAG)
                    self.group_tag_refused = True
                    params = self.launch_params(group, zone, config, choice)
                    res = await self.call(group, "ec2", "RunInstances", params)
            except ServiceError as exc:  # this pool cannot be fulfilled: the next choice
                failure = exc
                continue
            return res["Instances"][0], choice
        raise failure or RuntimeError("no launch choice")

    async def launch(
        self, group: dict[str, Any], count: int, desired: int, cause: str | None = None
    ) -> int:
        """Add one instance to the group (from the warm pool if one is ready); the
        capacity units it adds, 0 when the launch failed."""
        taken = await self.warm.take(group, count, desired, cause)
        if taken:
            return taken
        return await self.launch_new(group, count, desired, cause)

    async def launch_new(
        self,
        group: dict[str, Any],
        count: int,
        desired: int,
        cause: str | None = None,
        warm: bool = False,
    ) -> int:
        """Launch a new instance into the group or (``warm``) its warm pool."""
        members = group.setdefault("warm", []) if warm else group["instances"]
        zone = self.pick_zone(group, members)
        if cause is None:
            started = warm_started(count, desired) if warm else act.started(count, desired)
            cause = f"{'' if warm else group.get('cause') or ''}  {started}".strip()
        details = {"Availability Zone": zone}
        if group["subnets"]:
            details = {"Subnet ID": group["subnets"][zone], **details}
        what = (
            "Launching a new EC2 instance into warm pool"
            if warm
            else "Launching a new EC2 instance"
        )
        activity = act.new_activity(group, what, cause, details)
        config = self.refresh.source(group)
        try:
            described, choice = await self.run_instance(group, zone, config)
        except Exception as exc:  # noqa: BLE001 - a failed launch is a failed activity
            reason = act.message_of(exc)
            activity["Description"] = (
                f"{what}.  Status Reason: {reason.rstrip('.')}. Launching EC2 instance failed."
            )
            act.finish(activity, False, reason)
            self.record(activity)
            group["retry_at"] = clock.time() + LAUNCH_RETRY_SECONDS
            return 0
        inst_id = described["InstanceId"]
        activity["Description"] = f"{what}: {inst_id}"
        self.record(activity)
        inst: dict[str, Any] = {
            "InstanceId": inst_id,
            "InstanceType": described.get("InstanceType", ""),
            "AvailabilityZone": zone,
            "LifecycleState": "Warmed:Pending" if warm else "Pending",
            "HealthStatus": "Healthy",
            "LaunchConfigurationName": config.get("lc"),
            "LaunchTemplate": choice["lt"] if choice else config.get("lt"),
            "ProtectedFromScaleIn": False,
            "launched": clock.time(),
            "activity": activity["ActivityId"],
        }
        if warm:
            inst["warm"] = True
        if config.get("mixed"):
            inst["mixed_id"] = config["mixed"]["id"]
            if config["mixed"].get("weighted") and choice:
                inst["weight"] = choice["weight"]
        members.append(inst)
        self.save_group(group)
        if await self.lifecycle.begin(group, inst, LAUNCHING):
            activity["StatusCode"] = "MidLifecycleAction"
            self.record(activity)
        return capacity.weight(inst)

    async def attach(self, group: dict[str, Any], inst: dict[str, Any]) -> None:
        """Register a new in-service instance with the group's balancers; finish its launch."""
        inst.pop("from_warm", None)
        errors = []
        if "AddToLoadBalancer" not in group["suspended"]:
            errors = await self.register(group, [inst["InstanceId"]], True)
        self.finish(inst.get("activity"), not errors, "; ".join(errors))

    async def register(self, group: dict[str, Any], ids: list[str], add: bool) -> list[str]:
        """(De)register ``ids`` with every target group and classic balancer; the errors."""
        errors = []
        targets = [{"Id": i} for i in ids]
        for arn in group["tgs"]:
            op = "RegisterTargets" if add else "DeregisterTargets"
            try:
                await self.call(group, "elbv2", op, {"TargetGroupArn": arn, "Targets": targets})
            except Exception as exc:  # noqa: BLE001 - recorded on the activity
                errors.append(act.message_of(exc))
        for name in group["lbs"]:
            op = (
                "RegisterInstancesWithLoadBalancer"
                if add
                else "DeregisterInstancesFromLoadBalancer"
            )
            instances = [{"InstanceId": i} for i in ids]
            try:
                await self.call(
                    group, "elb", op, {"LoadBalancerName": name, "Instances": instances}
                )
            except Exception as exc:  # noqa: BLE001
                errors.append(act.message_of(exc))
        return errors
