"""Scheduled actions: MinSize/MaxSize/DesiredCapacity changes at a time or on a cron.

Why: scheduled scaling is how people size a group for a known daily or weekly
load. ``ScheduleOps`` validates and stores actions as AWS documents them
(PutScheduledUpdateGroupAction creates or updates, leaving unspecified values
as they were; a StartTime in the past is refused; with both StartTime and
Recurrence the action first runs at StartTime and then on the recurrence; an
EndTime stops a recurrence; 125 actions per group). ``run_due``, called by the
group loop every tick, applies the actions whose time has come exactly as a
user's UpdateAutoScalingGroup would, with AWS's cause ("a scheduled action
update of AutoScalingGroup constraints to ..."), so the loop launches or
terminates instances for it. A one-time action is deleted once it has run; a
recurring one moves on to its next time. While the group's ``ScheduledActions``
process is suspended, due actions are skipped, not saved up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import cron, errors

Result = dict[str, Any]
MAX_PER_GROUP = 125
MAX_NAME = 255
_SIZES = (("MinSize", "min"), ("MaxSize", "max"), ("DesiredCapacity", "desired"))


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def next_run(action: dict[str, Any], after: float) -> float | None:
    """The recurring ``action``'s first run later than ``after`` (None: none before its
    EndTime)."""
    when = cron.parse(action["recurrence"], action.get("tz")).next_after(after)
    if when is None or (action.get("end") is not None and when > action["end"]):
        return None
    return when


def run_due(engine: Any) -> None:
    """Apply every scheduled action whose time has come (called each tick)."""
    now = clock.time()
    for arn, action in list(engine.schedules.items()):
        if action.get("start") is None or action["start"] > now:
            continue
        group = engine.groups.get(action["group_key"])
        if group is not None and not group.get("deleting"):
            if "ScheduledActions" not in group["suspended"]:
                apply(engine, group, action)
        upcoming = next_run(action, now) if action.get("recurrence") else None
        if upcoming is None:
            del engine.schedules[arn]
            engine.store.delete("schedule", arn)
        else:
            action["start"] = upcoming
            engine.store.put("schedule", arn, action)


def apply(engine: Any, group: dict[str, Any], action: dict[str, Any]) -> None:
    lo = group["min"] if action.get("min") is None else action["min"]
    hi = group["max"] if action.get("max") is None else action["max"]
    desired = group["desired"] if action.get("desired") is None else action["desired"]
    if lo > hi:
        failed = act.new_activity(
            group,
            f"Executing scheduled action {action['name']}",
            f"At {act.stamp()} a scheduled action update of AutoScalingGroup constraints to "
            f"min: {lo}, max: {hi}, desired: {desired} was refused.",
        )
        act.finish(
            failed, False, f"Max bound, {hi}, must be greater than or equal to min bound, {lo}"
        )
        engine.record(failed)
        return
    desired = min(max(desired, lo), hi)
    old = group["desired"]
    group["min"], group["max"], group["desired"] = lo, hi, desired
    if desired != old:
        group["cause"] = act.desired_change(
            "a scheduled action update of AutoScalingGroup constraints to "
            f"min: {lo}, max: {hi}, desired: {desired}",
            old,
            desired,
        )
    engine.save_group(group)


class ScheduleOps:
    """Needs ``_group`` from ``GroupOps``."""

    engine: Any
    _group: Any

    def _schedule_key(self, group: dict[str, Any]) -> str:
        return f"{group['account']}/{group['region']}/{group['name']}"

    def _actions_of(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        key = self._schedule_key(group)
        return [a for a in self.engine.schedules.values() if a["group_key"] == key]

    def _put_action(self, ctx: Any, group: dict[str, Any], spec: dict[str, Any]) -> None:
        """Create or update one action from PutScheduledUpdateGroupAction's fields."""
        name = spec.get("ScheduledActionName") or ""
        if not 1 <= len(name) <= MAX_NAME:
            raise errors.validation(
                f"ScheduledActionName must be between 1 and {MAX_NAME} characters long."
            )
        mine = self._actions_of(group)
        old = next((a for a in mine if a["name"] == name), None)
        if old is None and len(mine) >= MAX_PER_GROUP:
            raise ServiceError(
                "LimitExceeded",
                f"You have reached the limit of {MAX_PER_GROUP} scheduled actions for "
                f"AutoScalingGroup {group['name']}.",
            )
        doc = (
            dict(old)
            if old
            else {
                "arn": (
                    f"arn:aws:autoscaling:{ctx.region}:{ctx.account_id}:scheduledUpdateGroupAction:"
                    f"{uuid.uuid4()}:autoScalingGroupName/{group['name']}:scheduledActionName/{name}"
                ),
                "group_key": self._schedule_key(group),
                "group": group["name"],
                "name": name,
            }
        )
        for field, key in _SIZES:
            if spec.get(field) is not None:
                doc[key] = spec[field]
        if all(doc.get(key) is None for _, key in _SIZES):
            raise errors.validation(
                "At least one of MinSize, MaxSize or DesiredCapacity must be specified."
            )
        if doc.get("min") is not None and doc.get("max") is not None and doc["min"] > doc["max"]:
            raise errors.validation(
                f"Max bound, {doc['max']}, must be greater than or equal to min bound, {doc['min']}"
            )
        now = clock.time()
        start = _epoch(spec.get("StartTime") or spec.get("Time"))
        if start is not None and start < now:
            raise errors.validation("Given start time is in the past")
        if spec.get("Recurrence") is not None:
            doc["recurrence"] = spec["Recurrence"]
        if spec.get("TimeZone") is not None:
            doc["tz"] = spec["TimeZone"]
        if spec.get("EndTime") is not None:
            doc["end"] = _epoch(spec["EndTime"])
            if doc["end"] < now:
                raise errors.validation("Given end time is in the past")
        if doc.get("recurrence"):
            try:
                recurrence = cron.parse(doc["recurrence"], doc.get("tz"))
            except cron.CronError as exc:
                if str(exc).startswith("Invalid time zone"):
                    raise errors.validation(str(exc)) from None
                raise errors.validation(
                    f"Given recurrence string is not a valid cron expression: {doc['recurrence']}"
                ) from None
            if start is None and (spec.get("Recurrence") or doc.get("start") is None):
                start = recurrence.next_after(now)
                if start is None:
                    raise errors.validation(f"Given recurrence never occurs: {doc['recurrence']}")
        elif doc.get("tz"):
            raise errors.validation("TimeZone can only be used with a Recurrence.")
        elif start is None and doc.get("start") is None:
            raise errors.validation("Either StartTime or Recurrence must be specified.")
        if start is not None:
            doc["start"] = start
        if doc.get("end") is not None and doc["end"] <= doc["start"]:
            raise errors.validation("Given end time is before the start time")
        self.engine.schedules[doc["arn"]] = doc
        self.engine.store.put("schedule", doc["arn"], doc)

    def _shape_action(self, doc: dict[str, Any]) -> Result:
        out: Result = {
            "AutoScalingGroupName": doc["group"],
            "ScheduledActionName": doc["name"],
            "ScheduledActionARN": doc["arn"],
            "Time": _when(doc.get("start")),
            "StartTime": _when(doc.get("start")),
            "EndTime": _when(doc.get("end")),
            "Recurrence": doc.get("recurrence"),
            "MinSize": doc.get("min"),
            "MaxSize": doc.get("max"),
            "DesiredCapacity": doc.get("desired"),
            "TimeZone": doc.get("tz") or ("Etc/UTC" if doc.get("recurrence") else None),
        }
        return {k: v for k, v in out.items() if v is not None}

    # -- operations ----------------------------------------------------------------

    def put_scheduled_update_group_action(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        self._put_action(ctx, group, params)
        return {}

    def batch_put_scheduled_update_group_action(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        failed = []
        for spec in params.get("ScheduledUpdateGroupActions") or []:
            try:
                self._put_action(ctx, group, spec)
            except ServiceError as exc:
                failed.append(
                    {
                        "ScheduledActionName": spec.get("ScheduledActionName") or "",
                        "ErrorCode": exc.code,
                        "ErrorMessage": exc.message,
                    }
                )
        return {"FailedScheduledUpdateGroupActions": failed}

    def describe_scheduled_actions(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("AutoScalingGroupName"):
            found = self._actions_of(self._group(ctx, params["AutoScalingGroupName"]))
        else:
            prefix = f"{ctx.account_id}/{ctx.region}/"
            found = [a for a in self.engine.schedules.values() if a["group_key"].startswith(prefix)]
        names = params.get("ScheduledActionNames") or []
        if names:
            found = [a for a in found if a["name"] in names]
        after, before = _epoch(params.get("StartTime")), _epoch(params.get("EndTime"))
        if after is not None:
            found = [a for a in found if a.get("start") is not None and a["start"] >= after]
        if before is not None:
            found = [a for a in found if a.get("start") is not None and a["start"] <= before]
        found.sort(key=lambda a: (a.get("start") or 0.0, a["name"]))
        size = min(params.get("MaxRecords") or 50, 100)
        token = str(params.get("NextToken") or "0")
        start = int(token) if token.isdigit() else 0
        out: Result = {
            "ScheduledUpdateGroupActions": [
                self._shape_action(a) for a in found[start : start + size]
            ]
        }
        if start + size < len(found):
            out["NextToken"] = str(start + size)
        return out

    def _drop_action(self, group: dict[str, Any], name: str) -> None:
        doc = next((a for a in self._actions_of(group) if a["name"] == name), None)
        if doc is None:
            raise errors.validation(
                f"Scheduled action name not found - Could not find scheduled action {name} "
                f"for AutoScalingGroup {group['name']}"
            )
        del self.engine.schedules[doc["arn"]]
        self.engine.store.delete("schedule", doc["arn"])

    def delete_scheduled_action(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        self._drop_action(group, params["ScheduledActionName"])
        return {}

    def batch_delete_scheduled_action(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        failed = []
        for name in params.get("ScheduledActionNames") or []:
            try:
                self._drop_action(group, name)
            except ServiceError as exc:
                failed.append(
                    {
                        "ScheduledActionName": name,
                        "ErrorCode": exc.code,
                        "ErrorMessage": exc.message,
                    }
                )
        return {"FailedScheduledActions": failed}

    def _drop_group_schedules(self, key: str) -> None:
        """Delete a deleted group's scheduled actions, as AWS does."""
        for arn, doc in list(self.engine.schedules.items()):
            if doc["group_key"] == key:
                del self.engine.schedules[arn]
                self.engine.store.delete("schedule", arn)
