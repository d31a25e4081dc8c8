"""The loop's terminating half: which instances a scale-in takes, and taking them out.

Why: scale in follows the group's termination policy (``victims``) over the
instances that count (not protected, not on standby, not already leaving) and,
in a weighted group, never takes the capacity below DesiredCapacity (AWS keeps
a weighted group at or above it). An instance taken out is deregistered from
the group's load balancers, held in ``Terminating:Wait`` while termination
hooks want, then terminated with EC2. A group whose warm pool has
``ReuseOnScaleIn`` returns scale-in victims to the pool instead (``warm``).
Warm pool instances leave the same way, in ``Warmed:Terminating`` states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling.capacity import counted, leaving, weight
from cloudlet.services.autoscaling.lifecycle import TERMINATING


class TerminateMixin:
    """Mixed into ``Engine``, which provides the helpers named here."""

    lifecycle: Any
    warm: Any
    call: Callable[..., Any]
    record: Callable[..., Any]
    finish: Callable[..., Any]
    save_group: Callable[..., Any]
    register: Callable[..., Any]

    def victims(self, group: dict[str, Any], excess: int) -> list[dict[str, Any]]:
        """The instances the group's termination policy picks to shed ``excess``
        capacity units, in order."""
        pool = [i for i in group["instances"] if not i.get("ProtectedFromScaleIn") and counted(i)]
        policy = (group["termination"] or ["Default"])[0]
        chosen: list[dict[str, Any]] = []
        while pool and excess > 0:
            if policy == "NewestInstance":
                pick = max(pool, key=lambda i: i["launched"])
            elif policy == "OldestInstance":
                pick = min(pool, key=lambda i: i["launched"])
            else:
                # Default / OldestLaunchConfiguration: the most crowded zone, then
                # instances of an older launch configuration, then the oldest.
                zones: dict[str, int] = {}
                for i in pool:
                    zones[i["AvailabilityZone"]] = zones.get(i["AvailabilityZone"], 0) + 1
                crowded = max(zones.values())
                candidates = [i for i in pool if zones[i["AvailabilityZone"]] == crowded]
                if policy == "OldestLaunchConfiguration":
                    candidates = list(pool)
                stale = [
                    i
                    for i in candidates
                    if i.get("LaunchConfigurationName") != group.get("lc")
                    or i.get("LaunchTemplate") != group.get("lt")
                ]
                pick = min(stale or candidates, key=lambda i: i["launched"])
            pool.remove(pick)
            if weight(pick) <= excess:  # a heavier one would leave the group short
                chosen.append(pick)
                excess -= weight(pick)
        return chosen

    async def scale_in(
        self, group: dict[str, Any], inst: dict[str, Any], shrink: tuple[int, int]
    ) -> None:
        """Take ``inst`` out for a smaller DesiredCapacity: back to the warm pool with
        ReuseOnScaleIn, otherwise terminated."""
        if self.warm.reuses(group):
            await self.warm.give_back(group, inst, shrink)
        else:
            await self.terminate(group, inst, shrink=shrink)

    async def terminate(
        self,
        group: dict[str, Any],
        inst: dict[str, Any],
        cause: str = "",
        shrink: tuple[int, int] | None = None,
        hooks: bool = True,
    ) -> None:
        """Take ``inst`` out: deregister it, hold it in ``Terminating:Wait`` while the
        group's termination hooks want (not with ``hooks=False``: ForceDelete, an
        abandoned launch), then terminate it."""
        if leaving(inst) and inst.get("ending"):
            if not hooks:  # already held by a hook: ForceDelete ends the wait
                inst.pop("waits", None)
                await self.finish_terminate(group, inst)
            return
        if shrink is not None:
            prefix = group.get("cause") or ""
            cause = f"{prefix}  {act.shrunk(shrink[0], shrink[1], inst['InstanceId'])}".strip()
        activity = self.record(
            act.new_activity(group, f"Terminating EC2 instance: {inst['InstanceId']}", cause)
        )
        errors: list[str] = []
        if inst.get("warm"):
            inst["LifecycleState"] = "Warmed:Terminating"
        else:
            inst["LifecycleState"] = "Terminating"
            errors = await self.register(group, [inst["InstanceId"]], False)
        inst["ending"] = {"activity": activity["ActivityId"], "errors": errors}
        self.save_group(group)
        if hooks and await self.lifecycle.begin(group, inst, TERMINATING):
            activity["StatusCode"] = "MidLifecycleAction"
            self.record(activity)
            return
        inst.pop("waits", None)
        await self.finish_terminate(group, inst)

    async def finish_terminate(self, group: dict[str, Any], inst: dict[str, Any]) -> None:
        """Terminate a deregistered instance with EC2 and drop it from the group."""
        ending = inst.get("ending") or {}
        errors = list(ending.get("errors") or [])
        try:
            await self.call(
                group, "ec2", "TerminateInstances", {"InstanceIds": [inst["InstanceId"]]}
            )
        except Exception as exc:  # noqa: BLE001 - already gone is fine
            if "NotFound" not in getattr(exc, "code", ""):
                errors.append(act.message_of(exc))
        for members in (group["instances"], group.get("warm") or []):
            if inst in members:
                members.remove(inst)
        self.finish(inst.get("activity"), False, "Instance was terminated before it was in service")
        self.finish(ending.get("activity"), True, "; ".join(errors))
        self.save_group(group)
