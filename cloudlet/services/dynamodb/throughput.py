"""ProvisionedThroughput bookkeeping: when capacity last went up or down, and how often
it went down today.

DescribeTable reports, for the table and for every global secondary index,
``LastIncreaseDateTime``, ``LastDecreaseDateTime`` and ``NumberOfDecreasesToday``
next to the capacity units (API reference, ProvisionedThroughputDescription). Tools
that manage capacity read them (AWS limits decreases per UTC day), so they must
follow the changes UpdateTable makes rather than stay at 0 for ever.

The record is a small dict kept on the ``Table`` / ``Index`` (and so saved with the
rest of the definition in ``tables.meta``, surviving restarts):
``{"increased": t, "decreased": t, "day": d, "decreases": n}`` with times in epoch
seconds and ``d`` the UTC day (days since the epoch) the ``n`` decreases fall on. A
change that lowers either unit is one decrease, raising either is an increase, and a
change doing both (read down, write up) is both, as the lab captures of AWS count it
(ack-api-quirks DDB-TABLE-157: "RCU down with WCU up also = one decrease").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

UNITS = ("ReadCapacityUnits", "WriteCapacityUnits")
_DAY = 86400


def utc_day(t: float) -> int:
    """The UTC day ``t`` falls on, as days since the epoch."""
    return int(t // _DAY)


def record_change(
    log: dict[str, Any] | None, old: dict[str, int], new: dict[str, int], now: float
) -> dict[str, Any] | None:
    """``log`` after capacity went from ``old`` to ``new`` at ``now`` (a new dict)."""
    up = any(new.get(u, 0) > old.get(u, 0) for u in UNITS)
    down = any(new.get(u, 0) < old.get(u, 0) for u in UNITS)
    if not (up or down):
        return log
    out = dict(log or {})
    if up:
        out["increased"] = now
    if down:
        today = utc_day(now)
        count = out.get("decreases", 0) if out.get("day") == today else 0
        out.update(decreased=now, day=today, decreases=count + 1)
    return out


def decreases_today(log: dict[str, Any] | None, now: float) -> int:
    """How many decreases ``log`` holds for the UTC day of ``now``."""
    if not log or log.get("day") != utc_day(now):
        return 0
    return int(log.get("decreases", 0))


def describe_throughput(
    tp: dict[str, int] | None, log: dict[str, Any] | None, now: float
) -> dict[str, Any]:
    """A ProvisionedThroughputDescription: the units, the decreases of today and, once
    capacity has changed, when it last went up and down."""
    tp = tp or {}
    out: dict[str, Any] = {}
    if log and log.get("increased") is not None:
        out["LastIncreaseDateTime"] = datetime.fromtimestamp(log["increased"], UTC)
    if log and log.get("decreased") is not None:
        out["LastDecreaseDateTime"] = datetime.fromtimestamp(log["decreased"], UTC)
    out["NumberOfDecreasesToday"] = decreases_today(log, now)
    out["ReadCapacityUnits"] = tp.get("ReadCapacityUnits", 0)
    out["WriteCapacityUnits"] = tp.get("WriteCapacityUnits", 0)
    return out
