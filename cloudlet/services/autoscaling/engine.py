"""The reconcile loop: every group converges on its desired capacity with real instances.

Why: AutoScaling is a control loop, not a bookkeeping API. Every tick (about a
second) each group's instances are checked against EC2 (an instance that is no
longer pending/running died: it is marked Unhealthy) and, with HealthCheckType
ELB after the grace period, against its target groups and classic load
balancers. Unhealthy instances are replaced; then the group launches
(``launching``) or scales in (``terminating``) until its counted instances
provide DesiredCapacity (``capacity``: instances on standby or leaving do not
count; a weighted group counts units). Every step is a scaling activity in
AWS's wording. Suspended processes are honoured. A call to a service that is
not there fails that activity, never the loop.

Each tick first runs the scheduled actions that are due (``scheduled``), times
out lifecycle actions (``lifecycle``; an instance a hook holds is neither
InService nor counted as leaving until its hooks answer) and moves instances
entering standby out of their load balancers (``standby``). A running instance
refresh (``refresh``) takes its step before the group is reconciled, decides
which configuration launches use, and may keep a few instances above
DesiredCapacity while it launches replacements before terminating. The warm
pool (``warm``) is kept at its size after the group.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import scheduled, standby
from cloudlet.services.autoscaling.capacity import counted, leaving, on_standby, weight
from cloudlet.services.autoscaling.launching import LaunchMixin
from cloudlet.services.autoscaling.lifecycle import Lifecycle
from cloudlet.services.autoscaling.refresh import Refresher
from cloudlet.services.autoscaling.store import Store, group_key
from cloudlet.services.autoscaling.terminating import TerminateMixin
from cloudlet.services.autoscaling.warm import WarmPool

__all__ = ["Engine", "group_key", "leaving"]

log = logging.getLogger(__name__)

KEPT_ACTIVITIES = 200
"""Per group; older activities are dropped (AWS keeps six weeks)."""
LIVE_EC2_STATES = ("pending", "running")
OPEN = ("InProgress", "MidLifecycleAction", "PreInService")
"""Activity status codes of work not finished yet."""


class Engine(LaunchMixin, TerminateMixin):
    """State (groups, configurations, policies, activities) and the loop over it."""

    def __init__(self, store: Store, env: Any) -> None:
        self.store = store
        self.env = env
        self.groups: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.activities: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.hooks: dict[str, dict[str, Any]] = {}
        self.lifecycle = Lifecycle(self)
        self.group_tag_refused = False
        self.ticks = 0
        for doc in store.load("group"):
            self.groups[group_key(doc["account"], doc["region"], doc["name"])] = doc
        for doc in store.load("config"):
            self.configs[group_key(doc["account"], doc["region"], doc["name"])] = doc
        for doc in store.load("policy"):
            self.policies[doc["PolicyARN"]] = doc
        for doc in store.load("activity"):
            self.activities[doc["ActivityId"]] = doc
        for doc in store.load("schedule"):
            self.schedules[doc["arn"]] = doc
        for doc in store.load("hook"):
            self.hooks[f"{doc['group_key']}/{doc['LifecycleHookName']}"] = doc
        self.refresh = Refresher(self)
        self.warm = WarmPool(self)

    # -- persistence -------------------------------------------------------------

    def save_group(self, group: dict[str, Any]) -> None:
        key = group_key(group["account"], group["region"], group["name"])
        if self.groups.get(key) is group:
            self.store.put("group", key, group)

    def record(self, activity: dict[str, Any]) -> dict[str, Any]:
        self.activities[activity["ActivityId"]] = activity
        self.store.put("activity", activity["ActivityId"], activity)
        return activity

    def finish(self, activity_id: str | None, ok: bool, message: str = "") -> None:
        activity = self.activities.get(activity_id or "")
        if activity is not None and activity["StatusCode"] in OPEN:
            act.finish(activity, ok, message)
            self.record(activity)

    async def call(self, group: dict[str, Any], service: str, op: str, params: dict) -> dict:
        return await self.env.call(
            service, op, params, account=group["account"], region=group["region"]
        )

    # -- the loop ----------------------------------------------------------------

    def prune(self) -> None:
        """Drop all but each group's newest ``KEPT_ACTIVITIES`` activities."""
        by_group: dict[str, list[dict[str, Any]]] = {}
        for a in self.activities.values():
            by_group.setdefault(a["AutoScalingGroupARN"], []).append(a)
        for items in by_group.values():
            if len(items) > KEPT_ACTIVITIES:
                items.sort(key=lambda a: a["StartTime"], reverse=True)
                for old in items[KEPT_ACTIVITIES:]:
                    del self.activities[old["ActivityId"]]
                    self.store.delete("activity", old["ActivityId"])

    async def tick(self) -> None:
        self.ticks += 1
        if self.ticks % 60 == 0:
            self.prune()
        try:
            scheduled.run_due(self)
        except Exception:  # noqa: BLE001 - a bad action must not stop the groups
            log.exception("autoscaling: scheduled actions failed")
        for key, group in list(self.groups.items()):
            if self.groups.get(key) is not group or group.get("deleting"):
                continue
            try:
                await self.lifecycle.expire(group)
                await standby.settle(self, group)
                await self.refresh.step(group)
                await self.reconcile(group)
                await self.warm.step(group)
            except Exception:  # noqa: BLE001 - one group's trouble must not stop the others
                log.exception("autoscaling group %s: reconcile failed", group["name"])
            self.save_group(group)

    async def reconcile(self, group: dict[str, Any]) -> None:
        suspended = group["suspended"]
        if group["instances"]:
            await self.check_health(group)
            if "ReplaceUnhealthy" not in suspended:
                sick = [
                    i for i in group["instances"] if i["HealthStatus"] == "Unhealthy" and counted(i)
                ]
                for inst in sick:
                    cause = act.unhealthy(inst.get("why") or "a user health-check")
                    group["cause"] = cause
                    await self.terminate(group, inst, cause)
        have = sum(weight(i) for i in group["instances"] if counted(i))
        desired = group["desired"] + self.refresh.surge(group)
        if have < desired and "Launch" not in suspended:
            if clock.time() >= group.get("retry_at", 0.0):
                start = have
                while have < desired:
                    added = await self.launch(group, start, desired)
                    if not added:
                        break
                    have += added
        elif have > desired and "Terminate" not in suspended:
            for inst in self.victims(group, have - desired):
                await self.scale_in(group, inst, (have, desired))

    async def check_health(self, group: dict[str, Any]) -> None:
        ids = [i["InstanceId"] for i in group["instances"]]
        try:
            res = await self.call(
                group,
                "ec2",
                "DescribeInstances",
                {"Filters": [{"Name": "instance-id", "Values": ids}]},
            )
        except Exception:  # noqa: BLE001 - EC2 unreachable: judge nothing this tick
            log.debug("autoscaling: DescribeInstances failed", exc_info=True)
            return
        states = {
            i["InstanceId"]: i["State"]["Name"]
            for r in res.get("Reservations", [])
            for i in r["Instances"]
        }
        checking = "HealthCheck" not in group["suspended"]
        for inst in list(group["instances"]):
            state = states.get(inst["InstanceId"], "terminated")
            if inst["LifecycleState"] in ("Pending", "Pending:Proceed") and state == "running":
                inst["LifecycleState"] = "InService"
                await self.attach(group, inst)
            elif leaving(inst) or on_standby(inst):
                continue  # AWS does not health-check instances on standby
            elif state not in LIVE_EC2_STATES and checking and inst["HealthStatus"] == "Healthy":
                inst["HealthStatus"] = "Unhealthy"
                inst["why"] = "an EC2 instance status check failure"
        if checking and group["hc_type"] == "ELB":
            await self.check_elb_health(group)

    async def check_elb_health(self, group: dict[str, Any]) -> None:
        bad: set[str] = set()
        for arn in group["tgs"]:
            try:
                res = await self.call(
                    group, "elbv2", "DescribeTargetHealth", {"TargetGroupArn": arn}
                )
            except Exception:  # noqa: BLE001 - no verdict from a balancer we cannot ask
                continue
            for d in res.get("TargetHealthDescriptions", []):
                if (d.get("TargetHealth") or {}).get("State") == "unhealthy":
                    bad.add(d["Target"]["Id"])
        for name in group["lbs"]:
            try:
                res = await self.call(
                    group, "elb", "DescribeInstanceHealth", {"LoadBalancerName": name}
                )
            except Exception:  # noqa: BLE001
                continue
            for s in res.get("InstanceStates", []):
                if s.get("State") == "OutOfService":
                    bad.add(s["InstanceId"])
        now = clock.time()
        for inst in group["instances"]:
            if (
                inst["InstanceId"] in bad
                and inst["LifecycleState"] == "InService"
                and inst["HealthStatus"] == "Healthy"
                and now - inst["launched"] >= group["grace"]
            ):
                inst["HealthStatus"] = "Unhealthy"
                inst["why"] = "an ELB system health check failure"

    async def elb_not_healthy(self, group: dict[str, Any]) -> set[str]:
        """Instances not (yet) healthy in the group's target groups or classic balancers,
        when the group uses ELB health checks."""
        if group["hc_type"] != "ELB":
            return set()
        bad: set[str] = set()
        for arn in group["tgs"]:
            try:
                res = await self.call(
                    group, "elbv2", "DescribeTargetHealth", {"TargetGroupArn": arn}
                )
            except Exception:  # noqa: BLE001 - no verdict from a balancer we cannot ask
                continue
            for d in res.get("TargetHealthDescriptions", []):
                if (d.get("TargetHealth") or {}).get("State") != "healthy":
                    bad.add(d["Target"]["Id"])
        for name in group["lbs"]:
            try:
                res = await self.call(
                    group, "elb", "DescribeInstanceHealth", {"LoadBalancerName": name}
                )
            except Exception:  # noqa: BLE001
                continue
            for s in res.get("InstanceStates", []):
                if s.get("State") != "InService":
                    bad.add(s["InstanceId"])
        return bad
