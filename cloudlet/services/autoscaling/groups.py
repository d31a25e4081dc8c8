"""Launch configuration and group operations: validate as AWS does, change the
group, let the reconcile loop act.

Mixed into ``AutoScalingService``; every public method is an operation of
botocore's ``autoscaling`` model. Capacity changes only move DesiredCapacity
and remember why (the activity cause); launching and terminating is the
engine's job, except ForceDelete, which terminates at once as AWS does (the
warm pool's instances too). A group launches from a launch configuration, a
launch template or a mixed instances policy (``mixed_ops``), exactly one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import errors, mixed, shapes
from cloudlet.services.autoscaling.engine import Engine, group_key

Result = dict[str, Any]
PROCESSES = (
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
    "AddToLoadBalancer",
    "InstanceRefresh",
)
STEADY = ("InService", "Standby", "Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated")
"""States an instance rests in: without them in progress, deleting needs only ForceDelete."""
TERMINATION_POLICIES = (
    "Default",
    "OldestInstance",
    "NewestInstance",
    "OldestLaunchConfiguration",
    "OldestLaunchTemplate",
    "ClosestToNextInstanceHour",
    "AllocationStrategy",
)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _check_sizes(lo: int, hi: int, desired: int) -> None:
    if lo > hi:
        raise errors.validation(
            f"Max bound, {hi}, must be greater than or equal to min bound, {lo}"
        )
    if not lo <= desired <= hi:
        raise errors.validation(
            f"Desired capacity:{desired} must be between the specified min size:{lo} "
            f"and max size:{hi}"
        )


class GroupOps:
    engine: Engine
    env: Any
    _check_hook: Any
    _create_group_hooks: Any
    _drop_group_hooks: Any
    _drop_group_schedules: Any
    _mixed_policy: Any

    # -- helpers ---------------------------------------------------------------

    def _group(self, ctx: Any, name: str) -> dict[str, Any]:
        group = self.engine.groups.get(group_key(ctx.account_id, ctx.region, name or ""))
        if group is None or group.get("deleting"):
            raise errors.group_not_found(name)
        return group

    def _arn(self, ctx: Any, kind: str, name: str) -> str:
        import uuid

        return (
            f"arn:aws:autoscaling:{ctx.region}:{ctx.account_id}:{kind}:{uuid.uuid4()}:"
            f"{'autoScalingGroupName' if kind == 'autoScalingGroup' else 'launchConfigurationName'}"
            f"/{name}"
        )

    def _set_desired(self, group: dict[str, Any], new: int, reason: str) -> None:
        old = group["desired"]
        group["desired"] = new
        if new != old:
            group["cause"] = act.desired_change(reason, old, new)
        self.engine.save_group(group)

    def _shape_instance(self, group: dict[str, Any], inst: dict[str, Any], full: bool) -> Result:
        return shapes.instance(group, inst, full)

    def _shape_group(self, group: dict[str, Any]) -> Result:
        return shapes.group(group)

    async def _zones(self, ctx: Any, params: dict[str, Any]) -> tuple[list, dict, str]:
        vpc = params.get("VPCZoneIdentifier") or ""
        subnet_ids = [s.strip() for s in vpc.split(",") if s.strip()]
        if subnet_ids:
            try:
                res = await self.env.call(
                    "ec2",
                    "DescribeSubnets",
                    {"SubnetIds": subnet_ids},
                    account=ctx.account_id,
                    region=ctx.region,
                )
            except Exception as exc:  # noqa: BLE001 - AWS's wording for a bad subnet
                raise errors.validation(f"The subnet ID '{subnet_ids[0]}' does not exist") from exc
            subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in res["Subnets"]}
            return sorted(subnets), subnets, ",".join(subnet_ids)
        zones = list(params.get("AvailabilityZones") or [])
        if not zones:
            raise errors.validation("At least one Availability Zone or VPC Subnet is required.")
        return zones, {}, ""

    async def _template(self, ctx: Any, spec: dict[str, Any]) -> dict[str, Any]:
        """The group's LaunchTemplate with both its id and name, as AWS shows it."""
        given = {k: v for k, v in spec.items() if v}
        given.setdefault("Version", "$Default")
        query: dict[str, Any] = (
            {"LaunchTemplateIds": [given["LaunchTemplateId"]]}
            if given.get("LaunchTemplateId")
            else {"LaunchTemplateNames": [given.get("LaunchTemplateName", "")]}
        )
        try:
            res = await self.env.call(
                "ec2", "DescribeLaunchTemplates", query, account=ctx.account_id, region=ctx.region
            )
        except NotImplementedOperation:
            return given  # EC2 without launch templates: RunInstances will say
        except ServiceError:
            which = (
                f"template ID {given['LaunchTemplateId']}"
                if given.get("LaunchTemplateId")
                else f"template name {given.get('LaunchTemplateName')}"
            )
            raise errors.validation(
                "You must use a valid fully-formed launch template. The specified launch "
                f"template, with {which}, does not exist."
            ) from None
        (found,) = res["LaunchTemplates"][:1] or [{}]
        given["LaunchTemplateId"] = found.get("LaunchTemplateId", given.get("LaunchTemplateId"))
        given["LaunchTemplateName"] = found.get(
            "LaunchTemplateName", given.get("LaunchTemplateName")
        )
        return given

    # -- launch configurations -------------------------------------------------

    def create_launch_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["LaunchConfigurationName"]
        key = group_key(ctx.account_id, ctx.region, name)
        if key in self.engine.configs:
            raise errors.already_exists(
                "Launch Configuration by this name already exists - A launch configuration "
                f"already exists with the name {name}"
            )
        if not params.get("ImageId") or not params.get("InstanceType"):
            if params.get("InstanceId"):
                raise errors.validation("InstanceId is not supported by cloudlet yet")
            raise errors.validation("ImageId and InstanceType are required.")
        doc = {
            "account": ctx.account_id,
            "region": ctx.region,
            "name": name,
            "arn": self._arn(ctx, "launchConfiguration", name),
            "created": clock.time(),
            **{
                k: params[k]
                for k in (
                    "ImageId",
                    "InstanceType",
                    "KeyName",
                    "SecurityGroups",
                    "UserData",
                    "IamInstanceProfile",
                )
                if params.get(k) is not None
            },
        }
        self.engine.configs[key] = doc
        self.engine.store.put("config", key, doc)
        return {}

    def describe_launch_configurations(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params.get("LaunchConfigurationNames") or []
        out = []
        for doc in self.engine.configs.values():
            if doc["account"] != ctx.account_id or doc["region"] != ctx.region:
                continue
            if names and doc["name"] not in names:
                continue
            out.append(
                {
                    "LaunchConfigurationName": doc["name"],
                    "LaunchConfigurationARN": doc["arn"],
                    "ImageId": doc["ImageId"],
                    "InstanceType": doc["InstanceType"],
                    "KeyName": doc.get("KeyName", ""),
                    "SecurityGroups": doc.get("SecurityGroups", []),
                    "UserData": doc.get("UserData", ""),
                    "IamInstanceProfile": doc.get("IamInstanceProfile"),
                    "BlockDeviceMappings": [],
                    "InstanceMonitoring": {"Enabled": True},
                    "EbsOptimized": False,
                    "CreatedTime": _when(doc["created"]),
                }
            )
        return {"LaunchConfigurations": out}

    def delete_launch_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["LaunchConfigurationName"]
        key = group_key(ctx.account_id, ctx.region, name)
        if key not in self.engine.configs:
            raise errors.config_not_found(name)
        for group in self.engine.groups.values():
            if group["account"] == ctx.account_id and group["region"] == ctx.region:
                if group.get("lc") == name:
                    raise errors.in_use(
                        f"Cannot delete launch configuration {name} because it is attached to AutoScalingGroup {group['name']}"
                    )  # noqa: E501
        del self.engine.configs[key]
        self.engine.store.delete("config", key)
        return {}

    # -- groups ----------------------------------------------------------------

    async def create_auto_scaling_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["AutoScalingGroupName"]
        key = group_key(ctx.account_id, ctx.region, name)
        if key in self.engine.groups:
            raise errors.already_exists(
                "AutoScalingGroup by this name already exists - A group with the name "
                f"{name} already exists"
            )
        lc, lt = params.get("LaunchConfigurationName"), params.get("LaunchTemplate")
        policy = params.get("MixedInstancesPolicy")
        if len([x for x in (lc, lt, policy) if x]) != 1:
            raise errors.validation(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
                "InstanceId or MixedInstancesPolicy parameter."
            )
        if lc and group_key(ctx.account_id, ctx.region, lc) not in self.engine.configs:
            raise errors.config_not_found(lc)
        if lt:
            lt = await self._template(ctx, lt)
        capacity_type = params.get("DesiredCapacityType")
        if capacity_type and not policy:
            mixed.check_overrides([], capacity_type)
        mixed_doc = (
            await self._mixed_policy(ctx, policy, None, capacity_type or "units")
            if policy
            else None
        )
        lo, hi = params["MinSize"], params["MaxSize"]
        desired = params.get("DesiredCapacity")
        desired = lo if desired is None else desired
        _check_sizes(lo, hi, desired)
        hc_type = params.get("HealthCheckType") or "EC2"
        if hc_type not in ("EC2", "ELB"):
            raise errors.validation(f"Invalid health check type: {hc_type}")
        termination = params.get("TerminationPolicies") or ["Default"]
        for policy in termination:
            if policy not in TERMINATION_POLICIES:
                raise errors.validation(f"Invalid termination policy: {policy}")
        zones, subnets, vpc = await self._zones(ctx, params)
        hook_specs = list(params.get("LifecycleHookSpecificationList") or [])
        group = {
            "account": ctx.account_id,
            "region": ctx.region,
            "name": name,
            "arn": self._arn(ctx, "autoScalingGroup", name),
            "lc": lc,
            "lt": lt,
            "mixed": mixed_doc,
            "capacity_type": capacity_type,
            "min": lo,
            "max": hi,
            "desired": desired,
            "cooldown": params.get("DefaultCooldown", 300),
            "zones": zones,
            "subnets": subnets,
            "vpc": vpc,
            "lbs": list(params.get("LoadBalancerNames") or []),
            "tgs": list(params.get("TargetGroupARNs") or []),
            "hc_type": hc_type,
            "grace": params.get("HealthCheckGracePeriod", 0),
            "warmup": params.get("DefaultInstanceWarmup"),
            "tags": [dict(t) for t in params.get("Tags") or []],
            "termination": termination,
            "suspended": {},
            "created": clock.time(),
            "instances": [],
            "warm": [],
            "cooldown_until": 0.0,
            "cause": act.desired_change("a user request created an AutoScalingGroup", 0, desired),
        }
        if hook_specs:  # before the group exists, so its first instances wait for them
            for spec in hook_specs:
                self._check_hook(group, spec)
            await self._create_group_hooks(group, hook_specs)
        self.engine.groups[key] = group
        self.engine.save_group(group)
        return {}

    def describe_auto_scaling_groups(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params.get("AutoScalingGroupNames") or []
        out = [
            self._shape_group(g)
            for g in self.engine.groups.values()
            if g["account"] == ctx.account_id
            and g["region"] == ctx.region
            and not g.get("deleting")
            and (not names or g["name"] in names)
        ]
        return {"AutoScalingGroups": out}

    async def update_auto_scaling_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        lo = params.get("MinSize", group["min"])
        hi = params.get("MaxSize", group["max"])
        desired = params.get("DesiredCapacity")
        if desired is None:
            desired = min(max(group["desired"], lo), hi)
        _check_sizes(lo, hi, desired)
        running = self.engine.refresh.active(group)
        if running is not None and running.get("DesiredConfiguration"):
            if any(
                params.get(k)
                for k in ("LaunchConfigurationName", "LaunchTemplate", "MixedInstancesPolicy")
            ):
                raise errors.refresh_owns_configuration()
        policy = params.get("MixedInstancesPolicy")
        if (
            len([x for x in ("LaunchConfigurationName", "LaunchTemplate") if params.get(x)])
            + bool(policy)
            > 1
        ):
            raise errors.validation(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
                "InstanceId or MixedInstancesPolicy parameter."
            )
        capacity_type = params.get("DesiredCapacityType") or group.get("capacity_type")
        if policy and group.get("warm_pool"):
            raise errors.validation(
                "You can't add a mixed instances policy to an Auto Scaling group that has a "
                "warm pool."
            )
        if policy or (params.get("DesiredCapacityType") and group.get("mixed")):
            before = group.get("mixed")
            if before is None and group.get("lt"):  # a template group becoming mixed
                before = {
                    "policy": {"LaunchTemplate": {"LaunchTemplateSpecification": group["lt"]}}
                }
            group["mixed"] = await self._mixed_policy(
                ctx, policy or {}, before, capacity_type or "units"
            )
            group["lc"] = group["lt"] = None
        elif params.get("DesiredCapacityType"):
            mixed.check_overrides([], capacity_type)
        if params.get("DesiredCapacityType"):
            group["capacity_type"] = params["DesiredCapacityType"]
        if lc := params.get("LaunchConfigurationName"):
            if group_key(ctx.account_id, ctx.region, lc) not in self.engine.configs:
                raise errors.config_not_found(lc)
            group["lc"], group["lt"], group["mixed"] = lc, None, None
        if lt := params.get("LaunchTemplate"):
            group["lt"], group["lc"], group["mixed"] = await self._template(ctx, lt), None, None
        if not group.get("mixed") and group.get("capacity_type") not in (None, "units"):
            group["capacity_type"] = None  # vCPU or memory units need InstanceRequirements
        if params.get("AvailabilityZones") or params.get("VPCZoneIdentifier"):
            group["zones"], group["subnets"], group["vpc"] = await self._zones(ctx, params)
        for field, key in (
            ("DefaultCooldown", "cooldown"),
            ("HealthCheckType", "hc_type"),
            ("HealthCheckGracePeriod", "grace"),
            ("DefaultInstanceWarmup", "warmup"),
            ("TerminationPolicies", "termination"),
        ):
            if params.get(field) is not None:
                group[key] = params[field]
        group["min"], group["max"] = lo, hi
        self._set_desired(
            group,
            desired,
            f"a user request update of AutoScalingGroup constraints to min: {lo}, max: {hi}, "
            f"desired: {desired}",
        )
        return {}

    async def delete_auto_scaling_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        members = [*group["instances"], *(group.get("warm") or [])]
        if members and not params.get("ForceDelete"):
            if any(i["LifecycleState"] not in STEADY for i in members):
                raise errors.activity_in_progress(
                    "You cannot delete an AutoScalingGroup while there are scaling activities "
                    "in progress for that group."
                )
            raise errors.in_use(
                "You cannot delete an AutoScalingGroup while there are instances or pending "
                "Spot instance request(s) still in the group."
            )
        group["deleting"] = True
        cause = f"At {act.stamp()} a user request deleted the AutoScalingGroup {group['name']}."
        for inst in [*group["instances"], *(group.get("warm") or [])]:
            await self.engine.terminate(group, inst, cause, hooks=False)
        key = group_key(ctx.account_id, ctx.region, group["name"])
        self.engine.groups.pop(key, None)
        self.engine.store.delete("group", key)
        for arn, policy in list(self.engine.policies.items()):
            if policy["group_key"] == key:
                await self._drop_policy(ctx, arn)
        self._drop_group_hooks(group)
        self._drop_group_schedules(key)
        self.engine.refresh.drop_group(group)
        return {}

    def set_desired_capacity(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        desired = params["DesiredCapacity"]
        if not group["min"] <= desired <= group["max"]:
            raise errors.validation(
                f"New SetDesiredCapacity value {desired} is below min value {group['min']} "
                "for the AutoScalingGroup."
                if desired < group["min"]
                else f"New SetDesiredCapacity value {desired} is above max value "
                f"{group['max']} for the AutoScalingGroup."
            )
        if params.get("HonorCooldown") and clock.time() < group.get("cooldown_until", 0.0):
            raise errors.activity_in_progress(
                "Scaling activity is in progress and blocks this action"
            )
        self._set_desired(group, desired, "a user request explicitly set group desired capacity")
        return {}
