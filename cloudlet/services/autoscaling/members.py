"""Operations on a group's members and surroundings: its instances (health,
termination, scale-in protection), activities, suspended processes, tags and
attached load balancers.

Mixed into ``AutoScalingService`` next to ``GroupOps``, whose helpers
(``_group``, ``_shape_instance``) it uses. Attaching a target group or classic
load balancer registers the group's in-service instances at once, as AWS
does; detaching deregisters them. Warm pool instances are listed by
DescribeAutoScalingInstances and can be terminated like members (the pool
refills; the group's DesiredCapacity is not touched).
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import errors
from cloudlet.services.autoscaling.capacity import current, weight
from cloudlet.services.autoscaling.engine import Engine
from cloudlet.services.autoscaling.groups import PROCESSES, TERMINATION_POLICIES

Result = dict[str, Any]


class MemberOps:
    """Needs ``_group`` and ``_shape_instance`` from ``GroupOps``."""

    engine: Engine
    env: Any
    _group: Any
    _shape_instance: Any

    def describe_auto_scaling_instances(self, ctx: Any, params: dict[str, Any]) -> Result:
        ids = params.get("InstanceIds") or []
        out = []
        for g in self.engine.groups.values():
            if g["account"] != ctx.account_id or g["region"] != ctx.region:
                continue
            for inst in [*g["instances"], *(g.get("warm") or [])]:
                if not ids or inst["InstanceId"] in ids:
                    out.append(self._shape_instance(g, inst, True))
        return {"AutoScalingInstances": out}

    def _find_instance(self, ctx: Any, instance_id: str) -> tuple[dict, dict]:
        for g in self.engine.groups.values():
            if g["account"] == ctx.account_id and g["region"] == ctx.region:
                for inst in [*g["instances"], *(g.get("warm") or [])]:
                    if inst["InstanceId"] == instance_id:
                        return g, inst
        raise errors.validation(
            f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
        )  # noqa: E501

    def set_instance_health(self, ctx: Any, params: dict[str, Any]) -> Result:
        group, inst = self._find_instance(ctx, params["InstanceId"])
        status = params["HealthStatus"]
        if status not in ("Healthy", "Unhealthy"):
            raise errors.validation(
                f"Valid health status values are Healthy or Unhealthy: {status}"
            )  # noqa: E501
        inst["HealthStatus"] = status
        inst["why"] = "a user health-check"
        self.engine.save_group(group)
        return {}

    async def terminate_instance_in_auto_scaling_group(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        group, inst = self._find_instance(ctx, params["InstanceId"])
        count = current(group)
        cause = f"At {act.stamp()} instance {inst['InstanceId']} was taken out of service in response to a user request"  # noqa: E501
        if inst.get("warm"):  # the warm pool refills; the group's capacity is not touched
            cause = f"At {act.stamp()} instance {inst['InstanceId']} was taken out of the warm pool in response to a user request."  # noqa: E501
        elif params["ShouldDecrementDesiredCapacity"]:
            if group["desired"] - weight(inst) < group["min"]:
                raise errors.validation(
                    "Currently, desired capacity is equal to min size, so you cannot decrement "
                    "desired capacity."
                )
            group["desired"] -= weight(inst)
            cause += f", shrinking the capacity from {count} to {count - weight(inst)}."
        else:
            cause += "."
        group["cause"] = cause
        activity_count = len(self.engine.activities)
        await self.engine.terminate(group, inst, cause)
        activity = list(self.engine.activities.values())[activity_count:]
        return {"Activity": act.shape(activity[0])} if activity else {}

    def describe_scaling_activities(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params.get("AutoScalingGroupName")
        ids = params.get("ActivityIds") or []
        live = {g["arn"] for g in self.engine.groups.values() if not g.get("deleting")}
        deleted_too = params.get("IncludeDeletedGroups")
        found = [
            a
            for a in self.engine.activities.values()
            if a["AutoScalingGroupARN"].split(":")[4] == ctx.account_id
            and a["AutoScalingGroupARN"].split(":")[3] == ctx.region
            and (not name or a["AutoScalingGroupName"] == name)
            and (not ids or a["ActivityId"] in ids)
            and (deleted_too or a["AutoScalingGroupARN"] in live)
        ]
        found.sort(key=lambda a: a["StartTime"], reverse=True)
        size = params.get("MaxRecords") or 100
        start = int(params.get("NextToken") or 0)
        page = found[start : start + size]
        out: Result = {"Activities": [act.shape(a) for a in page]}
        if start + size < len(found):
            out["NextToken"] = str(start + size)
        return out

    def _processes(self, ctx: Any, params: dict[str, Any], suspend: bool) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        names = params.get("ScalingProcesses") or list(PROCESSES)
        for p in names:
            if p not in PROCESSES:
                raise errors.validation(f"Process {p} is not a valid process.")
        for p in names:
            if suspend:
                group["suspended"][p] = f"User suspended at {act.stamp()}"
            else:
                group["suspended"].pop(p, None)
        self.engine.save_group(group)
        return {}

    def suspend_processes(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._processes(ctx, params, True)

    def resume_processes(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._processes(ctx, params, False)

    # -- tags --------------------------------------------------------------------

    def _tagged_groups(self, ctx: Any, tags: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
        out = []
        for tag in tags:
            if tag.get("ResourceType", "auto-scaling-group") != "auto-scaling-group":
                raise errors.validation(f"Invalid resource type: {tag.get('ResourceType')}")
            out.append((self._group(ctx, tag.get("ResourceId") or ""), tag))
        return out

    def create_or_update_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        for group, tag in self._tagged_groups(ctx, params["Tags"]):
            group["tags"] = [t for t in group["tags"] if t["Key"] != tag["Key"]]
            group["tags"].append(
                {
                    "Key": tag["Key"],
                    "Value": tag.get("Value") or "",
                    "PropagateAtLaunch": bool(tag.get("PropagateAtLaunch")),
                }
            )
            self.engine.save_group(group)
        return {}

    def delete_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        for group, tag in self._tagged_groups(ctx, params["Tags"]):
            group["tags"] = [t for t in group["tags"] if t["Key"] != tag["Key"]]
            self.engine.save_group(group)
        return {}

    def describe_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        wanted = {f["Name"]: set(f.get("Values") or []) for f in params.get("Filters") or []}
        out = []
        for g in self.engine.groups.values():
            if g["account"] != ctx.account_id or g["region"] != ctx.region or g.get("deleting"):
                continue
            for t in g["tags"]:
                row = {
                    "ResourceId": g["name"],
                    "ResourceType": "auto-scaling-group",
                    "Key": t["Key"],
                    "Value": t.get("Value") or "",
                    "PropagateAtLaunch": bool(t.get("PropagateAtLaunch")),
                }
                fields = {
                    "auto-scaling-group": row["ResourceId"],
                    "key": row["Key"],
                    "value": row["Value"],
                    "propagate-at-launch": str(row["PropagateAtLaunch"]).lower(),
                }
                if all(fields.get(name) in values for name, values in wanted.items()):
                    out.append(row)
        return {"Tags": out}

    # -- load balancers ------------------------------------------------------------

    async def _attach(self, ctx: Any, name: str, key: str, items: list[str], add: bool) -> None:
        group = self._group(ctx, name)
        new = [i for i in items if (i not in group[key]) == add]
        if add:
            group[key].extend(new)
        else:
            group[key] = [i for i in group[key] if i not in new]
        self.engine.save_group(group)
        ids = [i["InstanceId"] for i in group["instances"] if i["LifecycleState"] == "InService"]
        if new and ids:
            scoped = {**group, "tgs": [], "lbs": [], key: new}
            await self.engine.register(scoped, ids, add)

    async def attach_load_balancer_target_groups(self, ctx: Any, params: dict) -> Result:
        await self._attach(
            ctx, params["AutoScalingGroupName"], "tgs", params["TargetGroupARNs"], True
        )
        return {}

    async def detach_load_balancer_target_groups(self, ctx: Any, params: dict) -> Result:
        await self._attach(
            ctx, params["AutoScalingGroupName"], "tgs", params["TargetGroupARNs"], False
        )
        return {}

    async def attach_load_balancers(self, ctx: Any, params: dict) -> Result:
        await self._attach(
            ctx, params["AutoScalingGroupName"], "lbs", params["LoadBalancerNames"], True
        )
        return {}

    async def detach_load_balancers(self, ctx: Any, params: dict) -> Result:
        await self._attach(
            ctx, params["AutoScalingGroupName"], "lbs", params["LoadBalancerNames"], False
        )
        return {}

    def describe_load_balancer_target_groups(self, ctx: Any, params: dict) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        return {
            "LoadBalancerTargetGroups": [
                {"LoadBalancerTargetGroupARN": arn, "State": "InService"} for arn in group["tgs"]
            ]
        }

    def describe_load_balancers(self, ctx: Any, params: dict) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        return {
            "LoadBalancers": [
                {"LoadBalancerName": name, "State": "InService"} for name in group["lbs"]
            ]
        }

    # -- protection and fixed lists ----------------------------------------------

    def set_instance_protection(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        members = {i["InstanceId"]: i for i in group["instances"]}
        for iid in params["InstanceIds"]:
            if iid not in members:
                raise errors.validation(
                    f"The instance {iid} is not part of Auto Scaling group {group['name']}."
                )
        for iid in params["InstanceIds"]:
            members[iid]["ProtectedFromScaleIn"] = bool(params["ProtectedFromScaleIn"])
        self.engine.save_group(group)
        return {}

    def describe_adjustment_types(self, ctx: Any, params: dict[str, Any]) -> Result:
        kinds = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
        return {"AdjustmentTypes": [{"AdjustmentType": k} for k in kinds]}

    def describe_scaling_process_types(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"Processes": [{"ProcessName": p} for p in PROCESSES]}

    def describe_termination_policy_types(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"TerminationPolicyTypes": list(TERMINATION_POLICIES)}
