"""Warm pools, the loop's half: pre-initialized instances kept beside a group.

Why: a warm pool exists so a scale-out gets an instance that already ran its
boot work. So the pool is made of real instances: launched with the group's
configuration (their user data runs on that first boot), held by the group's
``autoscaling:EC2_INSTANCE_LAUNCHING`` hooks in ``Warmed:Pending:Wait`` as
AWS does, then really stopped (``ec2 StopInstances``) into ``Warmed:Stopped``,
or left running (``Warmed:Running``). ``Hibernated`` stops the instance too
(cloudlet's EC2 cannot keep memory across a stop) and reports
``Warmed:Hibernated``. As on AWS, the pool does not wait for user data to
finish: a launch hook that the user data completes is how to be sure.

- Size: ``max(MinSize, MaxGroupPreparedCapacity - DesiredCapacity)`` with
  MaxGroupPreparedCapacity defaulting to the group's MaxSize; the pool
  launches up to it and terminates what is beyond it.
- Scale-out (``take``): a ready warm instance of the configuration the group
  launches with now is started (``ec2 StartInstances``, user data not run
  again) and enters the group as ``Pending``: launch hooks run again
  (``Pending:Wait``), then it is registered with the load balancers and
  ``InService``. Without a ready one, the group launches cold.
- Scale-in with ``ReuseOnScaleIn`` (``give_back``): the instance is
  deregistered, held by termination hooks in ``Warmed:Pending:Wait``, stopped
  and back in the pool.
- A warm instance that EC2 no longer runs or keeps (terminated from outside)
  is dropped and replaced; DeleteWarmPool marks the pool ``PendingDelete`` and
  the loop terminates its instances, then removes it.

Warm instances live in ``group["warm"]``, saved with the group, so a restarted
server keeps its pool (stopped instances stay stopped in EC2).
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling.capacity import leaving, matches, weight
from cloudlet.services.autoscaling.lifecycle import LAUNCHING, TERMINATING

log = logging.getLogger(__name__)

READY = ("Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated")
SETTLING = ("Warmed:Pending", "Warmed:Pending:Proceed")
GONE = ("shutting-down", "terminated")


def pool_size(group: dict[str, Any]) -> int:
    """How many instances the group's warm pool should hold."""
    pool = group.get("warm_pool")
    if not pool:
        return 0
    prepared = pool.get("MaxGroupPreparedCapacity")
    if prepared is None or prepared < 0:
        prepared = group["max"]
    return max(pool.get("MinSize") or 0, prepared - group["desired"])


def resting_state(pool: dict[str, Any] | None) -> str:
    """The lifecycle state a settled warm instance rests in."""
    return f"Warmed:{(pool or {}).get('PoolState') or 'Stopped'}"


def from_pool(count: int, desired: int) -> str:
    return (
        f"At {act.stamp()} an instance was taken from the warm pool in response to a "
        "difference between desired and actual capacity, increasing the capacity from "
        f"{count} to {desired}."
    )


def returned(count: int, desired: int, instance_id: str) -> str:
    stamp = act.stamp()
    return (
        f"At {stamp} an instance was taken out of service in response to a difference "
        f"between desired and actual capacity, shrinking the capacity from {count} to "
        f"{desired}.  At {stamp} instance {instance_id} was selected to return to the warm pool."
    )


class WarmPool:
    """The engine's half of warm pools."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def reuses(self, group: dict[str, Any]) -> bool:
        """Whether scale in returns instances to the pool (ReuseOnScaleIn)."""
        pool = group.get("warm_pool")
        return bool(
            pool
            and pool.get("Status") != "PendingDelete"
            and (pool.get("InstanceReusePolicy") or {}).get("ReuseOnScaleIn")
        )

    async def states(self, group: dict[str, Any], insts: list[dict[str, Any]]) -> dict[str, str]:
        ids = [i["InstanceId"] for i in insts]
        try:
            res = await self.engine.call(
                group,
                "ec2",
                "DescribeInstances",
                {"Filters": [{"Name": "instance-id", "Values": ids}]},
            )
        except Exception:  # noqa: BLE001 - EC2 unreachable: judge nothing this tick
            log.debug("autoscaling: DescribeInstances for the warm pool failed", exc_info=True)
            return {i: "unknown" for i in ids}
        return {
            i["InstanceId"]: i["State"]["Name"]
            for r in res.get("Reservations", [])
            for i in r["Instances"]
        }

    # -- the step each tick ------------------------------------------------------------

    async def step(self, group: dict[str, Any]) -> None:
        warm = group.setdefault("warm", [])
        pool = group.get("warm_pool")
        if not warm and not pool:
            return
        if warm:
            states = await self.states(group, warm)
            for inst in list(warm):
                await self.settle(group, inst, states.get(inst["InstanceId"], "terminated"))
        if pool is None:
            return
        if pool.get("Status") == "PendingDelete":
            cause = f"At {act.stamp()} a user request deleted the warm pool."
            for inst in list(warm):
                if not leaving(inst) and not inst.get("waits"):
                    await self.engine.terminate(group, inst, cause)
            if not group["warm"]:
                group.pop("warm_pool", None)
            return
        live = [i for i in warm if not leaving(i)]
        target = pool_size(group)
        if len(live) < target and "Launch" not in group["suspended"]:
            if clock.time() >= group.get("retry_at", 0.0):
                for _ in range(len(live), target):
                    if not await self.engine.launch_new(group, len(live), target, warm=True):
                        break
        elif len(live) > target:
            # Instances still settling go first, then the newest.
            extra = sorted(live, key=lambda i: (i["LifecycleState"] in READY, -i["launched"]))
            cause = (
                f"At {act.stamp()} an instance was taken out of the warm pool in response to a "
                f"difference between desired and actual warm pool capacity, shrinking the "
                f"warm pool capacity from {len(live)} to {target}."
            )
            for inst in extra[: len(live) - target]:
                if not inst.get("waits"):
                    await self.engine.terminate(group, inst, cause)

    async def settle(self, group: dict[str, Any], inst: dict[str, Any], ec2: str) -> None:
        """Move one warm instance along: into its resting state, or out if EC2 lost it."""
        state = inst["LifecycleState"]
        if leaving(inst) or state.endswith(":Wait") or ec2 == "unknown":
            return
        if ec2 in GONE or inst["HealthStatus"] == "Unhealthy":
            why = (
                "a user health-check"
                if inst["HealthStatus"] == "Unhealthy"
                else "an EC2 health check indicating it has been terminated"
            )
            inst["HealthStatus"] = "Unhealthy"
            cause = (
                f"At {act.stamp()} an instance was taken out of the warm pool in response to {why}."
            )
            await self.engine.terminate(group, inst, cause, hooks=ec2 not in GONE)
            return
        want = resting_state(group.get("warm_pool"))
        if state in READY and state != want:
            inst["LifecycleState"] = state = "Warmed:Pending"  # PoolState changed
        if state not in SETTLING:
            return
        try:
            if want == "Warmed:Running":
                if ec2 == "stopped":
                    await self.engine.call(
                        group, "ec2", "StartInstances", {"InstanceIds": [inst["InstanceId"]]}
                    )
                    return
                if ec2 != "running":
                    return
            else:
                if ec2 in ("pending", "running"):
                    await self.engine.call(
                        group, "ec2", "StopInstances", {"InstanceIds": [inst["InstanceId"]]}
                    )
                    return
                if ec2 != "stopped":
                    return
        except Exception as exc:  # noqa: BLE001 - tried again next tick
            log.warning("warm pool instance %s: %s", inst["InstanceId"], act.message_of(exc))
            return
        inst["LifecycleState"] = want
        inst.pop("returning", None)
        self.engine.finish(inst.get("activity"), True)
        self.engine.save_group(group)

    # -- in and out of the group ---------------------------------------------------------

    async def take(
        self, group: dict[str, Any], count: int, desired: int, cause: str | None = None
    ) -> int:
        """Move a ready warm instance into the group; the capacity it adds (0: none)."""
        pool = group.get("warm_pool")
        if not pool or pool.get("Status") == "PendingDelete":
            return 0
        config = self.engine.refresh.source(group)
        ready = [
            i
            for i in group.get("warm") or []
            if i["LifecycleState"] in READY
            and i["HealthStatus"] == "Healthy"
            and matches(i, config)
        ]
        if not ready:
            return 0
        inst = min(ready, key=lambda i: i["launched"])
        if inst["LifecycleState"] != "Warmed:Running":
            try:
                await self.engine.call(
                    group, "ec2", "StartInstances", {"InstanceIds": [inst["InstanceId"]]}
                )
            except Exception as exc:  # noqa: BLE001 - a cold start instead
                log.warning(
                    "starting warm instance %s: %s", inst["InstanceId"], act.message_of(exc)
                )
                return 0
        if cause is None:
            cause = f"{group.get('cause') or ''}  {from_pool(count, desired)}".strip()
        details = {"Availability Zone": inst["AvailabilityZone"]}
        if group["subnets"].get(inst["AvailabilityZone"]):
            details = {"Subnet ID": group["subnets"][inst["AvailabilityZone"]], **details}
        activity = self.engine.record(
            act.new_activity(
                group,
                f"Launching a new EC2 instance from warm pool: {inst['InstanceId']}",
                cause,
                details,
            )
        )
        group["warm"].remove(inst)
        inst.pop("warm", None)
        inst.update(
            LifecycleState="Pending",
            from_warm=True,
            launched=clock.time(),
            activity=activity["ActivityId"],
        )
        group["instances"].append(inst)
        self.engine.save_group(group)
        if await self.engine.lifecycle.begin(group, inst, LAUNCHING):
            activity["StatusCode"] = "MidLifecycleAction"
            self.engine.record(activity)
        return weight(inst)

    async def give_back(
        self, group: dict[str, Any], inst: dict[str, Any], shrink: tuple[int, int]
    ) -> None:
        """Scale in with ReuseOnScaleIn: deregister ``inst`` and return it to the pool."""
        prefix = group.get("cause") or ""
        cause = f"{prefix}  {returned(shrink[0], shrink[1], inst['InstanceId'])}".strip()
        activity = self.engine.record(
            act.new_activity(
                group, f"Moving EC2 instance to warm pool: {inst['InstanceId']}", cause
            )
        )
        errors = await self.engine.register(group, [inst["InstanceId"]], False)
        if errors:
            activity["StatusMessage"] = "; ".join(errors)
        group["instances"].remove(inst)
        inst.pop("from_warm", None)
        inst.update(
            LifecycleState="Warmed:Pending",
            warm=True,
            returning=True,
            activity=activity["ActivityId"],
        )
        group.setdefault("warm", []).append(inst)
        self.engine.save_group(group)
        if await self.engine.lifecycle.begin(group, inst, TERMINATING):
            activity["StatusCode"] = "MidLifecycleAction"
            self.engine.record(activity)

    async def renew(self, group: dict[str, Any]) -> None:
        """After an instance refresh: replace the pool's instances of an old configuration."""
        config = self.engine.refresh.source(group)
        cause = f"At {act.stamp()} an instance was taken out of the warm pool in response to an instance refresh."
        for inst in list(group.get("warm") or []):
            if not leaving(inst) and not inst.get("waits") and not matches(inst, config):
                await self.engine.terminate(group, inst, cause)
