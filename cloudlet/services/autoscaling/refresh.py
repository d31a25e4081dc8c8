"""Instance refresh, the loop's half: rolling replacement of a group's instances in batches.

Why: an instance refresh is how people roll a new AMI or user data across a
group without a gap in service, so it must really replace instances, one batch
at a time, inside the healthy-percentage bounds AWS documents:

- a batch never takes the group's in-service, healthy instances below
  MinHealthyPercentage of the desired capacity (rounded up), and never puts
  more than MaxHealthyPercentage (rounded down) in service or pending; at least
  one instance is replaced at a time (AWS: 100 % means one at a time);
- with MaxHealthyPercentage above 100 replacements are launched first and the
  old instances terminated once their replacements are ready (``surge``: the
  loop keeps that many instances above DesiredCapacity meanwhile), otherwise
  old instances are terminated and replacements launched at once;
- the next batch waits until every new instance is InService, Healthy (and
  healthy in its target groups and classic load balancers when the group uses
  ELB health checks) and has warmed up for the instance warmup;
- checkpoints pause for CheckpointDelay once the percentage replaced reaches
  them; a last checkpoint under 100 ends the refresh there (a partial refresh);
- a failed launch or an alarm of AlarmSpecification in ALARM fails the refresh
  (and rolls it back with AutoRollback);
- instances on standby are waited for (``Wait``: replaced once they are back
  in service, the refresh fails after an hour), left alone (``Ignore``), or
  terminated without a replacement, since they do not count (``Terminate``).

After a successful refresh the warm pool's instances of the old configuration
are replaced too, as AWS replaces InService instances first and then the pool.

While a refresh runs, every launch of the group (scale-out, replacing an
unhealthy instance) uses the desired configuration (``source``), as AWS does;
the group's own settings change only when the refresh succeeds. A rollback is
the same machinery run backwards: the instances the refresh launched are
replaced with the configuration the group had before.

Each refresh is a document (kind ``refresh``) in the AutoScaling store,
written on every change, so a restarted server resumes it. The operations
live in ``refresh_ops``.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling.capacity import counted, leaving, matches, on_standby

log = logging.getLogger(__name__)

ACTIVE = ("Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress")
PROTECTED_WAIT_SECONDS = 3600.0
"""AWS waits one hour for scale-in protection to be removed (or standby instances to
return, with StandbyInstances Wait), then fails the refresh."""
KEPT_PER_GROUP = 50


def taken_out(instance_id: str) -> str:
    stamp = act.stamp()
    return (
        f"At {stamp} an instance was taken out of service in response to an instance refresh.  "
        f"At {stamp} instance {instance_id} was selected for termination."
    )


def launched() -> str:
    return f"At {act.stamp()} an instance was launched in response to an instance refresh."


def warming_up(instance_id: str) -> str:
    return (
        "Waiting for instances to warm up before continuing. "
        f"For example: {instance_id} is warming up."
    )


def _members(group: dict[str, Any]) -> list[dict[str, Any]]:
    """The instances that count towards capacity (not leaving, not on standby)."""
    return [i for i in group["instances"] if counted(i)]


def _present(group: dict[str, Any]) -> list[dict[str, Any]]:
    """Every instance still in the group, standby ones included."""
    return [i for i in group["instances"] if not leaving(i)]


def new_run(
    group: dict[str, Any], source: dict[str, Any], todo: list[str], total: int, warmup: int
) -> dict[str, Any]:
    """One pass of replacements: ``todo`` ids to replace with ``source``; instances not
    to be replaced count as already warm."""
    start = clock.time()
    kept = [i for i in _present(group) if i["InstanceId"] not in todo]
    return {
        "source": source,
        "todo": list(todo),
        "total": total,
        "skipped": total - len(todo),
        "kept": [i["InstanceId"] for i in kept],
        "ready": [],
        "seen": {
            i["InstanceId"]: start - warmup for i in kept if i["LifecycleState"] == "InService"
        },
        "surge": 0,
        "excess": 0,
        "dropped": [],
    }


def done_count(run: dict[str, Any]) -> int:
    return min(run["total"], run["skipped"] + len(run["ready"]))


def percent(run: dict[str, Any]) -> int:
    return 100 if run["total"] == 0 else (100 * done_count(run)) // run["total"]


class Refresher:
    """The engine's half of instance refresh: state, the per-tick step, batches."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.items: dict[str, dict[str, Any]] = {
            doc["InstanceRefreshId"]: doc for doc in engine.store.load("refresh")
        }

    # -- state -----------------------------------------------------------------------

    @staticmethod
    def key(group: dict[str, Any]) -> str:
        return f"{group['account']}/{group['region']}/{group['name']}"

    def save(self, doc: dict[str, Any]) -> None:
        if doc["InstanceRefreshId"] in self.items:
            self.engine.store.put("refresh", doc["InstanceRefreshId"], doc)

    def of(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """The group's refreshes, newest first."""
        key = self.key(group)
        found = [d for d in self.items.values() if d["group_key"] == key]
        return sorted(found, key=lambda d: d["StartTime"], reverse=True)

    def active(self, group: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.of(group) if d["Status"] in ACTIVE), None)

    def add(self, group: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        doc.update(InstanceRefreshId=str(uuid.uuid4()), group_key=self.key(group))
        self.items[doc["InstanceRefreshId"]] = doc
        self.save(doc)
        for old in self.of(group)[KEPT_PER_GROUP:]:
            self.items.pop(old["InstanceRefreshId"], None)
            self.engine.store.delete("refresh", old["InstanceRefreshId"])
        return doc

    def drop_group(self, group: dict[str, Any]) -> None:
        for doc in self.of(group):
            del self.items[doc["InstanceRefreshId"]]
            self.engine.store.delete("refresh", doc["InstanceRefreshId"])

    def source(self, group: dict[str, Any]) -> dict[str, Any]:
        """The configuration (``{"lc", "lt", "mixed"}``) the group launches with right now."""
        doc = self.active(group)
        if doc is not None and doc["Status"] in ("Pending", "InProgress", "Baking"):
            target = doc["run"]["source"]
            return {"lc": target.get("lc"), "lt": target.get("lt"), "mixed": target.get("mixed")}
        return {"lc": group.get("lc"), "lt": group.get("lt"), "mixed": group.get("mixed")}

    def surge(self, group: dict[str, Any]) -> int:
        """Instances a launch-before-terminate batch keeps above DesiredCapacity."""
        doc = self.active(group)
        return 0 if doc is None else self.run_of(doc)["surge"]

    @staticmethod
    def run_of(doc: dict[str, Any]) -> dict[str, Any]:
        rollback = doc.get("rollback")
        return rollback["run"] if rollback else doc["run"]

    def progress(self, doc: dict[str, Any]) -> None:
        """PercentageComplete and InstancesToUpdate as AWS reports them (during a
        rollback the refresh's percentage goes back down to zero)."""
        rollback = doc.get("rollback")
        if rollback is None:
            run = doc["run"]
            doc["PercentageComplete"] = percent(run)
            doc["InstancesToUpdate"] = run["total"] - done_count(run)
            return
        run = rollback["run"]
        rollback["PercentageCompleteOnRollback"] = percent(run)
        rollback["InstancesToUpdateOnRollback"] = run["total"] - done_count(run)
        left = 1 - percent(run) / 100
        doc["PercentageComplete"] = math.floor(rollback["pct_at_start"] * left)

    # -- ending ------------------------------------------------------------------------

    def end(self, doc: dict[str, Any], status: str, reason: str | None = None) -> None:
        self.progress(doc)
        doc["Status"] = status
        doc["StatusReason"] = reason
        doc["EndTime"] = clock.time()
        self.run_of(doc)["surge"] = 0
        self.save(doc)

    def fail(self, doc: dict[str, Any], reason: str) -> None:
        """Fail the refresh, or roll it back when AutoRollback asks for it."""
        if doc.get("rollback"):
            self.end(doc, "RollbackFailed", reason)
        elif doc["Preferences"].get("AutoRollback") and doc.get("DesiredConfiguration"):
            self.begin_rollback(doc, reason)
        else:
            self.end(doc, "Failed", reason)

    def begin_rollback(self, doc: dict[str, Any], reason: str) -> None:
        group = self.engine.groups.get(doc["group_key"])
        self.progress(doc)
        target = doc["run"]["source"]
        members = _present(group) if group else []
        todo = [i["InstanceId"] for i in members if matches(i, target)]
        warmup = doc["Preferences"]["InstanceWarmup"]
        surge, doc["run"]["surge"] = doc["run"]["surge"], 0
        doc["rollback"] = {
            "RollbackReason": reason,
            "RollbackStartTime": clock.time(),
            "pct_at_start": doc["PercentageComplete"],
            "run": new_run(group or {"instances": []}, doc["previous"], todo, len(todo), warmup),
        }
        # Replacements launched ahead of their old instances are simply removed.
        doc["rollback"]["run"]["excess"] = surge
        doc["Status"] = "RollbackInProgress"
        doc["StatusReason"] = None
        self.progress(doc)
        self.save(doc)

    async def succeed(self, group: dict[str, Any], doc: dict[str, Any]) -> None:
        if doc.get("rollback"):
            self.end(doc, "RollbackSuccessful")
            return
        bake = doc["Preferences"].get("BakeTime") or 0
        if bake and doc["Status"] != "Baking":
            doc["Status"], doc["bake_until"] = "Baking", clock.time() + bake
            self.progress(doc)
            self.save(doc)
            return
        if doc.get("DesiredConfiguration"):
            target = doc["run"]["source"]
            group["lc"], group["lt"] = target.get("lc"), target.get("lt")
            group["mixed"] = target.get("mixed")
            self.engine.save_group(group)
        self.end(doc, "Successful")
        await self.engine.warm.renew(group)  # then the warm pool, as AWS does

    # -- the step each tick ------------------------------------------------------------

    async def step(self, group: dict[str, Any]) -> None:
        doc = self.active(group)
        if doc is None or "InstanceRefresh" in group["suspended"]:
            return
        if doc["Status"] == "Pending":
            doc["Status"] = "InProgress"
        run = self.run_of(doc)
        if doc["Status"] == "Cancelling":
            await self.cancelling(group, doc, run)
            return
        if doc["Status"] == "Baking":
            if clock.time() >= doc["bake_until"]:
                await self.succeed(group, doc)
            return
        if doc["Status"] == "InProgress" and await self.alarmed(group, doc):
            return
        await self.advance(group, doc, run)
        if doc["Status"] in ACTIVE:
            self.progress(doc)
            self.save(doc)

    async def cancelling(self, group: dict[str, Any], doc: dict[str, Any], run: dict) -> None:
        if doc.get("wait_transitions", True):
            ids = {i["InstanceId"] for i in group["instances"]}
            moving = any(
                matches(i, run["source"]) and i["LifecycleState"].startswith("Pending")
                for i in group["instances"]
            ) or any(d in ids for d in run["dropped"])
            if moving:
                return
        self.end(doc, "Cancelled")

    async def alarmed(self, group: dict[str, Any], doc: dict[str, Any]) -> bool:
        names = (doc["Preferences"].get("AlarmSpecification") or {}).get("Alarms") or []
        if not names:
            return False
        try:
            res = await self.engine.call(
                group, "cloudwatch", "DescribeAlarms", {"AlarmNames": names}
            )
        except Exception:  # noqa: BLE001 - no CloudWatch verdict this tick
            return False
        firing = [a["AlarmName"] for a in res.get("MetricAlarms", []) if a["StateValue"] == "ALARM"]
        if firing:
            self.fail(doc, f"Instance refresh failed because alarm {firing[0]} is in ALARM state.")
        return bool(firing)

    async def advance(self, group: dict[str, Any], doc: dict[str, Any], run: dict) -> None:
        now = clock.time()
        members = _present(group)
        present = {i["InstanceId"] for i in members}
        run["todo"] = [i for i in run["todo"] if i in present]
        if doc["Preferences"].get("StandbyInstances") == "Terminate" and not doc.get("rollback"):
            for inst in [i for i in members if on_standby(i) and i["InstanceId"] in run["todo"]]:
                run["skipped"] += 1  # terminated, not replaced: it did not count anyway
                await self.take_out(group, run, inst)
            members = _present(group)
        if run.get("excess"):
            newest = sorted(
                (i for i in members if i["InstanceId"] in run["todo"]),
                key=lambda i: i["launched"],
                reverse=True,
            )[: run["excess"]]
            run["excess"] = 0
            for inst in newest:
                run["skipped"] += 1
                await self.take_out(group, run, inst)
        fresh = [
            i
            for i in members
            if counted(i) and matches(i, run["source"]) and i["InstanceId"] not in run["todo"]
        ]
        warmup = doc["Preferences"]["InstanceWarmup"]
        sick = await self.engine.elb_not_healthy(group) if fresh else set()
        warming = []
        for inst in fresh:
            iid = inst["InstanceId"]
            if inst["LifecycleState"] != "InService" or inst["HealthStatus"] != "Healthy":
                warming.append(iid)
            elif iid in sick:
                warming.append(iid)
            elif now - run["seen"].setdefault(iid, now) < warmup:
                warming.append(iid)
            elif iid not in run["ready"] and iid not in run["kept"]:
                run["ready"].append(iid)
        if warming:
            doc["StatusReason"] = warming_up(warming[0])
            return
        doc["StatusReason"] = None
        if run["surge"]:
            await self.retire_surplus(group, doc, run)
        if not doc.get("rollback") and self.at_checkpoint(doc, run, now):
            return
        if not run["todo"] and not run["surge"]:
            await self.succeed(group, doc)
            return
        await self.next_batch(group, doc, run)

    def at_checkpoint(self, doc: dict[str, Any], run: dict[str, Any], now: float) -> bool:
        """Whether the refresh pauses (or, past a last checkpoint under 100, ends) here."""
        prefs = doc["Preferences"]
        points = prefs.get("CheckpointPercentages") or []
        if doc.get("checkpoint_until"):
            if now < doc["checkpoint_until"]:
                doc["StatusReason"] = doc.get("checkpoint_reason")
                return True
            doc["checkpoint_until"] = None
        reached = [p for p in points if p not in doc["checkpoints"] and percent(run) >= p]
        if not reached:
            return False
        doc["checkpoints"].extend(reached)
        if max(reached) == points[-1]:
            run["todo"] = []  # a partial refresh ends at its last checkpoint
            return False
        doc["checkpoint_until"] = now + prefs["CheckpointDelay"]
        doc["checkpoint_reason"] = (
            f"Checkpoint {max(reached)}% reached. Waiting {prefs['CheckpointDelay']} seconds "
            "before continuing."
        )
        doc["StatusReason"] = doc["checkpoint_reason"]
        return True

    def eligible(self, group: dict[str, Any], doc: dict[str, Any], run: dict) -> list[dict]:
        by_id = {i["InstanceId"]: i for i in _members(group)}  # standby ones wait
        wait = doc["Preferences"]["ScaleInProtectedInstances"] == "Wait"
        pool = [by_id[i] for i in run["todo"] if i in by_id]
        if wait and not doc.get("rollback"):
            pool = [i for i in pool if not i.get("ProtectedFromScaleIn")]
        return sorted(pool, key=lambda i: i["launched"])

    async def retire_surplus(self, group: dict[str, Any], doc: dict, run: dict) -> None:
        """Launch-before-terminate: the replacements are ready, so their old instances go."""
        old = self.eligible(group, doc, run)[: run["surge"]]
        run["surge"] = 0
        for inst in old:
            await self.take_out(group, run, inst)

    async def take_out(self, group: dict[str, Any], run: dict, inst: dict[str, Any]) -> None:
        run["todo"].remove(inst["InstanceId"])
        run["dropped"].append(inst["InstanceId"])
        await self.engine.terminate(group, inst, taken_out(inst["InstanceId"]))

    async def next_batch(self, group: dict[str, Any], doc: dict[str, Any], run: dict) -> None:
        prefs = doc["Preferences"]
        pool = self.eligible(group, doc, run)
        if not pool:  # only protected or standby instances are left
            ids = {i["InstanceId"] for i in group["instances"] if on_standby(i)}
            blocked = (
                "instances in Standby to be returned to service"
                if any(i in ids for i in run["todo"])
                else "scale-in protection to be removed from the remaining instances"
            )
            since = doc.setdefault("protected_since", clock.time())
            if clock.time() - since >= PROTECTED_WAIT_SECONDS:
                self.fail(doc, f"Instance refresh failed: timed out waiting for {blocked}.")
            else:
                doc["StatusReason"] = f"Waiting for {blocked}."
            return
        doc.pop("protected_since", None)
        desired = group["desired"]
        count = len(_members(group))
        keep = math.ceil(prefs["MinHealthyPercentage"] * desired / 100)
        ceiling = math.floor(prefs["MaxHealthyPercentage"] * desired / 100)
        batch = max(1, ceiling - keep)
        points = [
            p for p in prefs.get("CheckpointPercentages") or [] if p not in doc["checkpoints"]
        ]
        if points and not doc.get("rollback"):
            upto = math.ceil(points[0] * run["total"] / 100) - done_count(run)
            batch = min(batch, max(1, upto))
        batch = min(batch, len(pool))
        first = min(batch, max(0, ceiling - count))
        for inst in pool[: batch - first]:
            await self.take_out(group, run, inst)
        for _ in range(batch):
            if not await self.engine.launch(group, count, desired, cause=launched()):
                failed = list(self.engine.activities.values())[-1].get("StatusMessage")
                self.fail(doc, f"Instance refresh failed: {failed or 'an EC2 launch failed.'}")
                return
        run["surge"] += first
