"""Standby: EnterStandby and ExitStandby, and the loop's half of them.

Why: standby is how people take an instance out of service to troubleshoot or
patch it without the group terminating or replacing it. As AWS documents it:

- only ``InService`` instances enter standby; they go ``EnteringStandby`` (the
  loop deregisters them from the group's target groups and classic load
  balancers) and then ``Standby``; the instance keeps running;
- with ShouldDecrementDesiredCapacity DesiredCapacity drops by the
  instances' capacity (never below MinSize: AWS's sizing error), otherwise
  the group launches replacements, since standby instances do not count;
- standby instances are not health-checked, never picked for scale in, and
  keep the health status they had;
- only ``Standby`` instances exit standby; DesiredCapacity rises by their
  capacity (never above MaxSize) and they go through ``Pending`` as a launch
  does: launch lifecycle hooks hold them in ``Pending:Wait``, then they are
  registered with the load balancers and are ``InService``. If the instance
  was stopped or terminated meanwhile, the health check that resumes replaces
  it.

Each instance is a scaling activity in AWS's wording ("Moving EC2 instance to
Standby: ...", "... was moved to standby in response to a user request,
shrinking the capacity from 4 to 3."), answered InProgress (50 %) and
PreInService (30 %) as AWS's examples show.
"""

from __future__ import annotations

import json
from typing import Any

from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import errors
from cloudlet.services.autoscaling.capacity import current, weight
from cloudlet.services.autoscaling.lifecycle import LAUNCHING

Result = dict[str, Any]
MAX_IDS = 20


async def settle(engine: Any, group: dict[str, Any]) -> None:
    """Deregister instances entering standby; they are then ``Standby``."""
    for inst in group["instances"]:
        if inst["LifecycleState"] != "EnteringStandby":
            continue
        errs = await engine.register(group, [inst["InstanceId"]], False)
        inst["LifecycleState"] = "Standby"
        engine.finish(inst.pop("standby_activity", None), not errs, "; ".join(errs))
        engine.save_group(group)


def _details(group: dict[str, Any], inst: dict[str, Any]) -> str:
    zone = inst["AvailabilityZone"]
    details = {"Availability Zone": zone}
    if group["subnets"].get(zone):
        details = {"Subnet ID": group["subnets"][zone], **details}
    return json.dumps(details)


def _sizes_error(group: dict[str, Any], n: int, doing: str) -> Exception:
    noun = "instance" if n == 1 else "instances"
    return errors.validation(
        f"AutoScalingGroup {group['name']} has min-size={group['min']}, "
        f"max-size={group['max']}, and desired-size={group['desired']}. To {doing} {n} "
        f"{noun}, please update the AutoScalingGroup sizes appropriately."
    )


class StandbyOps:
    """Needs ``_group`` from ``GroupOps``."""

    engine: Any
    _group: Any

    def _members_named(
        self, group: dict[str, Any], ids: list[str], state: str
    ) -> list[dict[str, Any]]:
        if not ids:
            raise errors.validation("The list of instance IDs must not be empty.")
        if len(ids) > MAX_IDS:
            raise errors.validation(f"You can specify up to {MAX_IDS} instances.")
        members = {i["InstanceId"]: i for i in group["instances"]}
        out = []
        for iid in dict.fromkeys(ids):
            inst = members.get(iid)
            if inst is None:
                raise errors.validation(
                    f"The instance {iid} is not part of Auto Scaling group {group['name']}."
                )
            if inst["LifecycleState"] != state:
                raise errors.validation(f"The instance {iid} is not in {state}.")
            out.append(inst)
        return out

    def enter_standby(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        insts = self._members_named(group, params.get("InstanceIds") or [], "InService")
        units = sum(weight(i) for i in insts)
        decrement = bool(params["ShouldDecrementDesiredCapacity"])
        if decrement and group["desired"] - units < group["min"]:
            raise _sizes_error(group, len(insts), "place into standby")
        have = current(group)
        out = []
        for inst in insts:
            cause = f"At {act.stamp()} instance {inst['InstanceId']} was moved to standby in response to a user request"
            if decrement:
                cause += f", shrinking the capacity from {have} to {have - weight(inst)}."
                have -= weight(inst)
            else:
                cause += "."
            activity = act.new_activity(
                group, f"Moving EC2 instance to Standby: {inst['InstanceId']}", cause
            )
            activity["Details"] = _details(group, inst)
            self.engine.record(activity)
            inst["LifecycleState"] = "EnteringStandby"
            inst["standby_activity"] = activity["ActivityId"]
            out.append(act.shape(activity))
        if decrement:
            group["desired"] -= units
        self.engine.save_group(group)
        return {"Activities": out}

    async def exit_standby(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        insts = self._members_named(group, params.get("InstanceIds") or [], "Standby")
        units = sum(weight(i) for i in insts)
        if group["desired"] + units > group["max"]:
            raise _sizes_error(group, len(insts), "move out of standby")
        have = current(group)
        out = []
        for inst in insts:
            cause = (
                f"At {act.stamp()} instance {inst['InstanceId']} was moved out of standby in "
                f"response to a user request, increasing the capacity from {have} to "
                f"{have + weight(inst)}."
            )
            have += weight(inst)
            activity = act.new_activity(
                group, f"Moving EC2 instance out of Standby: {inst['InstanceId']}", cause
            )
            activity.update(Details=_details(group, inst), StatusCode="PreInService", Progress=30)
            self.engine.record(activity)
            out.append(act.shape(activity))
            group["desired"] += weight(inst)
            inst["LifecycleState"] = "Pending"
            inst["activity"] = activity["ActivityId"]
            self.engine.save_group(group)
            if await self.engine.lifecycle.begin(group, inst, LAUNCHING):
                activity["StatusCode"] = "MidLifecycleAction"
                self.engine.record(activity)
        return {"Activities": out}
