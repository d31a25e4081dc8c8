"""The reconcile loop: every group converges on its desired capacity with real instances.

Why: AutoScaling is a control loop, not a bookkeeping API. Every tick (about a
second) each group's instances are checked against EC2 (an instance that is no
longer pending/running died: it is marked Unhealthy) and, with HealthCheckType
ELB after the grace period, against its target groups and classic load
balancers. Unhealthy instances are replaced; then the group launches (through
``ec2 RunInstances``, with its propagated tags and ``aws:autoscaling:groupName``)
or terminates (by its termination policy, deregistering from load balancers
first) until it has DesiredCapacity instances. Every step is a scaling activity
in AWS's wording. Suspended processes are honoured. A call to a service that
is not there (load balancers not built yet) fails that activity, never the loop.
Each tick first runs the scheduled actions that are due (``scheduled``) and
times out lifecycle actions (``lifecycle``); an instance a lifecycle hook holds
is neither InService nor counted as leaving until its hooks answer. A running
instance refresh (``refresh``) takes its step before the group is reconciled,
decides which configuration launches use, and may keep a few instances above
DesiredCapacity while it launches replacements before terminating.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import scheduled
from cloudlet.services.autoscaling.lifecycle import LAUNCHING, TERMINATING, Lifecycle
from cloudlet.services.autoscaling.refresh import Refresher
from cloudlet.services.autoscaling.store import Store

log = logging.getLogger(__name__)

GROUP_TAG = "aws:autoscaling:groupName"
LAUNCH_RETRY_SECONDS = 10.0
KEPT_ACTIVITIES = 200
"""Per group; older activities are dropped (AWS keeps six weeks)."""
LIVE_EC2_STATES = ("pending", "running")


def leaving(inst: dict[str, Any]) -> bool:
    """Whether ``inst`` is on its way out (no longer counts towards capacity)."""
    return inst.get("LifecycleState", "").startswith("Terminating")


def group_key(account: str, region: str, name: str) -> str:
    return f"{account}/{region}/{name}"


def message_of(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


class Engine:
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
        if activity is not None and activity["StatusCode"] in ("InProgress", "MidLifecycleAction"):
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
                await self.refresh.step(group)
                await self.reconcile(group)
            except Exception:  # noqa: BLE001 - one group's trouble must not stop the others
                log.exception("autoscaling group %s: reconcile failed", group["name"])
            self.save_group(group)

    async def reconcile(self, group: dict[str, Any]) -> None:
        suspended = group["suspended"]
        if group["instances"]:
            await self.check_health(group)
            if "ReplaceUnhealthy" not in suspended:
                sick = [
                    i
                    for i in group["instances"]
                    if i["HealthStatus"] == "Unhealthy" and not leaving(i)
                ]
                for inst in sick:
                    cause = act.unhealthy(inst.get("why") or "a user health-check")
                    group["cause"] = cause
                    await self.terminate(group, inst, cause)
        count = len([i for i in group["instances"] if not leaving(i)])
        desired = group["desired"] + self.refresh.surge(group)
        if count < desired and "Launch" not in suspended:
            if clock.time() >= group.get("retry_at", 0.0):
                for _ in range(count, desired):
                    if not await self.launch(group, count, desired):
                        break
        elif count > desired and "Terminate" not in suspended:
            for inst in self.victims(group, count - desired):
                await self.terminate(group, inst, shrink=(count, desired))

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
            elif leaving(inst):
                continue
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

    # -- launching -----------------------------------------------------------------

    def pick_zone(self, group: dict[str, Any]) -> str:
        counts = {z: 0 for z in group["zones"]}
        for inst in group["instances"]:
            if inst["AvailabilityZone"] in counts:
                counts[inst["AvailabilityZone"]] += 1
        return min(group["zones"], key=lambda z: counts[z])

    def launch_params(self, group: dict[str, Any], zone: str) -> dict[str, Any]:
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
        lc_name, lt = self.refresh.source(group)
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

    async def launch(
        self, group: dict[str, Any], count: int, desired: int, cause: str | None = None
    ) -> bool:
        zone = self.pick_zone(group)
        if cause is None:
            cause = f"{group.get('cause') or ''}  {act.started(count, desired)}".strip()
        details = {"Availability Zone": zone}
        if group["subnets"]:
            details = {"Subnet ID": group["subnets"][zone], **details}
        activity = act.new_activity(group, "Launching a new EC2 instance", cause, details)
        try:
            try:
                res = await self.call(group, "ec2", "RunInstances", self.launch_params(group, zone))
            except Exception as exc:
                if self.group_tag_refused or "reserved for internal use" not in str(exc):
                    raise
                log.warning("EC2 refuses the %s tag; launching without it", GROUP_TAG)
                self.group_tag_refused = True
                res = await self.call(group, "ec2", "RunInstances", self.launch_params(group, zone))
        except Exception as exc:  # noqa: BLE001 - a failed launch is a failed activity
            reason = message_of(exc)
            activity["Description"] = (
                f"Launching a new EC2 instance.  Status Reason: {reason.rstrip('.')}. "
                "Launching EC2 instance failed."
            )
            act.finish(activity, False, reason)
            self.record(activity)
            group["retry_at"] = clock.time() + LAUNCH_RETRY_SECONDS
            return False
        described = res["Instances"][0]
        inst_id = described["InstanceId"]
        activity["Description"] = f"Launching a new EC2 instance: {inst_id}"
        self.record(activity)
        lc_name, lt = self.refresh.source(group)
        group["instances"].append(
            {
                "InstanceId": inst_id,
                "InstanceType": described.get("InstanceType", ""),
                "AvailabilityZone": zone,
                "LifecycleState": "Pending",
                "HealthStatus": "Healthy",
                "LaunchConfigurationName": lc_name,
                "LaunchTemplate": lt,
                "ProtectedFromScaleIn": False,
                "launched": clock.time(),
                "activity": activity["ActivityId"],
            }
        )
        self.save_group(group)
        inst = group["instances"][-1]
        if await self.lifecycle.begin(group, inst, LAUNCHING):
            activity["StatusCode"] = "MidLifecycleAction"
            self.record(activity)
        return True

    async def attach(self, group: dict[str, Any], inst: dict[str, Any]) -> None:
        """Register a new in-service instance with the group's balancers; finish its launch."""
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
                errors.append(message_of(exc))
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
                errors.append(message_of(exc))
        return errors

    # -- terminating ------------------------------------------------------------

    def victims(self, group: dict[str, Any], n: int) -> list[dict[str, Any]]:
        """The ``n`` instances the group's termination policy picks, in order."""
        pool = [
            i for i in group["instances"] if not i.get("ProtectedFromScaleIn") and not leaving(i)
        ]
        policy = (group["termination"] or ["Default"])[0]
        chosen: list[dict[str, Any]] = []
        for _ in range(min(n, len(pool))):
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
                    candidates = [i for i in pool]
                stale = [
                    i
                    for i in candidates
                    if i.get("LaunchConfigurationName") != group.get("lc")
                    or i.get("LaunchTemplate") != group.get("lt")
                ]
                pick = min(stale or candidates, key=lambda i: i["launched"])
            pool.remove(pick)
            chosen.append(pick)
        return chosen

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
                errors.append(message_of(exc))
        if inst in group["instances"]:
            group["instances"].remove(inst)
        self.finish(inst.get("activity"), False, "Instance was terminated before it was in service")
        self.finish(ending.get("activity"), True, "; ".join(errors))
        self.save_group(group)
