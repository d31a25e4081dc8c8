"""Scaling activities in AWS's own wording, and the causes that lead to them.

Why: ``DescribeScalingActivities`` is how people find out what a group did and
why; scripts and humans read its ``Cause`` sentences ("At <time> a user request
... changing the desired capacity from 1 to 2.  At <time> an instance was
started in response to a difference between desired and actual capacity ...").
A group remembers the sentence of its last desired-capacity change; the
reconcile loop appends what it did about it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock


def stamp(seconds: float | None = None) -> str:
    """AWS's cause timestamp: ``2026-11-22T18:00:00Z``."""
    when = datetime.fromtimestamp(clock.time() if seconds is None else seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def desired_change(reason: str, old: int, new: int) -> str:
    """``At T <reason> changing the desired capacity from old to new.``"""
    return f"At {stamp()} {reason} changing the desired capacity from {old} to {new}."


def started(old: int, new: int) -> str:
    return (
        f"At {stamp()} an instance was started in response to a difference between desired "
        f"and actual capacity, increasing the capacity from {old} to {new}."
    )


def shrunk(old: int, new: int, instance_id: str) -> str:
    return (
        f"At {stamp()} an instance was taken out of service in response to a difference "
        f"between desired and actual capacity, shrinking the capacity from {old} to {new}.  "
        f"At {stamp()} instance {instance_id} was selected for termination."
    )


def unhealthy(why: str) -> str:
    return f"At {stamp()} an instance was taken out of service in response to {why}."


def message_of(exc: Exception) -> str:
    """The sentence an activity's StatusMessage gives for ``exc``."""
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def new_activity(
    group: dict[str, Any], description: str, cause: str, details: dict[str, str] | None = None
) -> dict[str, Any]:
    """An activity record (times as epoch floats; shaped at the API boundary)."""
    return {
        "ActivityId": str(uuid.uuid4()),
        "AutoScalingGroupName": group["name"],
        "AutoScalingGroupARN": group["arn"],
        "Description": description,
        "Cause": cause,
        "StartTime": clock.time(),
        "StatusCode": "InProgress",
        "Progress": 50,
        "Details": json.dumps(details or {}),
    }


def finish(activity: dict[str, Any], ok: bool, message: str = "") -> None:
    activity["StatusCode"] = "Successful" if ok else "Failed"
    activity["Progress"] = 100
    activity["EndTime"] = clock.time()
    if message:
        activity["StatusMessage"] = message


def shape(activity: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in activity.items() if k not in ("StartTime", "EndTime")}
    out["StartTime"] = datetime.fromtimestamp(activity["StartTime"], UTC)
    if activity.get("EndTime") is not None:
        out["EndTime"] = datetime.fromtimestamp(activity["EndTime"], UTC)
    return out
