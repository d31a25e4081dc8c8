"""Time to live: UpdateTimeToLive, DescribeTimeToLive and the sweep that really deletes.

Why it is shaped this way: an item's expiry time lives in the ``exp`` column of
its row (``Engine.write`` fills it on every write while TTL is on), and the
partial index ``items_exp`` holds only rows that have one, so the sweep finds
expired items with one index range scan, however large the tables. Turning TTL
on fills ``exp`` for the items already there in batches (a few hundred rows per
event-loop turn, so requests keep flowing); turning it off clears it the same
way.

Deletions go through ``Engine.write`` like any other, as the DynamoDB service
principal, so indexes, counts and streams see them: a stream shows a ``REMOVE``
record with ``userIdentity`` ``{"Type": "Service", "PrincipalId":
"dynamodb.amazonaws.com"}``, as AWS's does. As on AWS, a TTL value more than
five years in the past (seconds mistaken for something else) never expires an
item, and a TTL attribute that is not a number is ignored.

``StreamsAndTtlHandlers`` is the mixin that gives ``DynamoDBService`` the two
operations and starts the background loops (the TTL sweep every
``CLOUDLET_DYNAMODB_TTL_INTERVAL`` seconds, default 5, and the stream retention
sweep).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.slices import Job, run_sliced
from cloudlet.services.dynamodb import errors, replicas, streams, strong
from cloudlet.services.dynamodb.engine import SERVICE_PRINCIPAL, Engine, Stored
from cloudlet.services.dynamodb.store import load
from cloudlet.services.dynamodb.table_syntax import check_table_reference
from cloudlet.services.dynamodb.tables import Table

Result = dict[str, Any]
Step = Callable[..., bool]
"""``step(n)`` does up to ``n`` rows (``BATCH`` when not told) and says whether it is done."""

BATCH = 500
"""Items one sweep call deletes, and rows one backfill step looks at."""
MAX_AGE = 5 * 365 * 24 * 3600.0
"""TTL values further in the past than this never expire an item (AWS's rule)."""
DEFAULT_INTERVAL = 5.0
RETENTION_INTERVAL = 60.0


# --------------------------------------------------------------------------- operations


def update_time_to_live(
    engine: Engine,
    table: Table,
    params: dict[str, Any],
    schedule: Callable[[Step], None] | None = None,
) -> Result:
    """Apply a TimeToLiveSpecification (its syntax checked with the request:
    ``check_ttl_specification``); ``schedule`` runs the ``exp`` backfill's steps
    (default: all of them now)."""
    spec = params["TimeToLiveSpecification"]
    enabled = bool(spec.get("Enabled"))
    name = spec["AttributeName"]
    current = table.ttl or {}
    active = bool(current.get("enabled"))
    if active and current.get("attribute") != name:
        raise errors.validation(
            "TimeToLive is active on a different AttributeName: current AttributeName is "
            f"{current.get('attribute')}"
        )
    if active and enabled:
        raise errors.validation("TimeToLive is already enabled")
    if not active and not enabled:
        raise errors.validation("TimeToLive is already disabled")
    table.ttl = {"attribute": name, "enabled": enabled, "backfill": True}
    engine.save(table)
    step = backfill(engine, table)
    if schedule is None:
        while not step():
            pass
    else:
        schedule(step)
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": name}}


def check_ttl_specification(spec: dict[str, Any]) -> None:
    """The AttributeName's length, checked before the table is looked up. An empty name has
    a text of its own (dynalite's updateTimeToLive.js, checked against DynamoDB; no newer
    capture words it otherwise), a long one the request-syntax constraint."""
    name = spec.get("AttributeName")
    if name == "":
        raise errors.validation("TimeToLiveSpecification.AttributeName must be non empty")
    if isinstance(name, str) and len(name) > 255:
        raise errors.constraint(
            name,
            "timeToLiveSpecification.attributeName",
            "Member must have length less than or equal to 255",
        )


def describe_time_to_live(table: Table) -> Result:
    ttl = table.ttl
    if not ttl or not ttl.get("enabled"):
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
    return {
        "TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["attribute"]}
    }


# --------------------------------------------------------------------------- the exp column


def backfill(engine: Engine, table: Table, batch: int = BATCH) -> Step:
    """Bring ``exp`` of the table's existing items in line with its TTL setting, in steps:
    each call looks at up to ``batch`` items and returns True when done.

    A step started for one setting stops when the setting changes again (the new
    setting's backfill takes over) or the table is deleted; the ``backfill`` mark
    in ``table.ttl`` lets a restarted server resume an unfinished one.
    """
    setting = table.ttl
    cursor: list[Any] = [None]
    conn = engine.store.conn

    def step(batch: int = batch) -> bool:
        if table.ttl is not setting or engine.by_id.get(table.tid) is not table:
            return True
        rows = engine.store.items_after(table.tid, cursor[0], batch)
        changed = []
        for h, hk, rk, _size, exp, body in rows:
            want = engine._expiry(table, load(body))  # the write path's own rule
            if want != exp:
                changed.append((want, table.tid, h, hk, rk))
        if changed:
            with engine.store.transaction():
                conn.executemany(
                    "UPDATE items SET exp = ? WHERE tid = ? AND h = ? AND hk = ? AND rk = ?",
                    changed,
                )
        if rows:
            cursor[0] = tuple(rows[-1][:3])
        if len(rows) < batch:
            setting.pop("backfill", None)
            engine.save(table)
            return True
        return False

    return step


# --------------------------------------------------------------------------- the sweep


def sweep(engine: Engine, now: float | None = None, batch: int = BATCH) -> int:
    """Delete up to ``batch`` expired items of tables with TTL on; returns how many.

    Each table's deletions are one transaction; each goes through ``Engine.write``
    as the DynamoDB service principal.
    """
    now = engine.clock() if now is None else now
    live = {tid for tid, t in engine.by_id.items() if t.ttl and t.ttl.get("enabled")}
    if not live:
        return 0
    conn = engine.store.conn
    rows = conn.execute(
        "SELECT tid, h, hk, rk FROM items INDEXED BY items_exp "
        "WHERE exp IS NOT NULL AND exp > ? AND exp <= ? ORDER BY exp LIMIT ?",
        (now - MAX_AGE, now, batch * 4),
    ).fetchall()
    by_table: dict[int, list[tuple[int, bytes, bytes]]] = {}
    taken = 0
    for tid, h, hk, rk in rows:
        if tid in live and taken < batch:
            by_table.setdefault(tid, []).append((h, hk, rk))
            taken += 1
    deleted = 0
    for tid, keys in by_table.items():
        table = engine.by_id[tid]
        with engine.store.transaction():
            for key in keys:
                row = engine.store.get(tid, *key)
                if row is None:
                    continue
                engine.write(table, key, Stored(row[0], row[1]), None, user=SERVICE_PRINCIPAL)
                deleted += 1
    return deleted


def interval() -> float:
    """Seconds between TTL sweeps: ``CLOUDLET_DYNAMODB_TTL_INTERVAL`` (default 5)."""
    value = seconds_setting("CLOUDLET_DYNAMODB_TTL_INTERVAL", DEFAULT_INTERVAL)
    return value if value > 0 else DEFAULT_INTERVAL


# --------------------------------------------------------------------------- the mixin


class StreamsAndTtlHandlers:
    """UpdateTimeToLive / DescribeTimeToLive and the TTL and stream-retention loops, for
    ``DynamoDBService`` (which provides ``engine``, ``env`` and ``_backfills``, the pending
    slices a stop cancels)."""

    engine: Engine
    env: Any
    _backfills: set[asyncio.Handle]
    _sweeps: Job
    _trims: Job

    def _ttl_table(self, ctx: Any, name: str, spec: dict[str, Any] | None = None) -> Table:
        """The table ``name`` names, the name (then an UpdateTimeToLive's ``spec``)
        checked before the lookup as every table operation does (a ValidationException
        for 'a;' even when no table has it)."""
        check_table_reference(name)
        if spec is not None:
            check_ttl_specification(spec)
        table = self.engine.find(ctx.account_id, ctx.region, name)
        if table is None:
            raise errors.table_not_found(name)
        return table

    def update_time_to_live(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self._ttl_table(ctx, params["TableName"], params["TimeToLiveSpecification"])
        strong.check_ttl(table, params["TimeToLiveSpecification"])
        out = update_time_to_live(self.engine, table, params, schedule=self._run_steps)
        for peer in replicas.others(self.engine, table):  # a global table's TTL is aligned
            update_time_to_live(self.engine, peer, params, schedule=self._run_steps)
        return out

    def describe_time_to_live(self, ctx: Any, params: dict[str, Any]) -> Result:
        return describe_time_to_live(self._ttl_table(ctx, params["TableName"]))

    def _start_background(self) -> None:
        """Start the TTL sweep and the stream retention sweep; resume unfinished backfills."""
        for table in list(self.engine.by_id.values()):
            if table.ttl and table.ttl.get("backfill"):
                self._run_steps(backfill(self.engine, table))
        self.env.every(interval(), self._ttl_tick, "dynamodb-ttl")
        self.env.every(RETENTION_INTERVAL, self._retention_tick, "dynamodb-stream-retention")

    def _retention_tick(self) -> None:
        """Trim the change log in time-sized slices until nothing expired is left (a
        busy table logs more in a minute than fixed-size batches a minute would trim)."""

        def make_step() -> Step:
            now = self.engine.clock()
            streams.forget_expired(self.engine, now)
            return lambda n: streams.trim(self.engine, now, n) < n

        self._trims.start(make_step)

    def _ttl_tick(self) -> None:
        """Delete what has expired, in time-sized slices (``core/slices.py``) until none is
        left; a tick while a sweep is still going leaves it to finish."""
        self._sweeps.start(lambda: lambda n: sweep(self.engine, batch=n) < n)

    def _run_steps(self, step: Step) -> None:
        """Run a backfill in time-sized slices, one per event-loop turn (cancelled at stop)."""
        run_sliced(step, self._backfills, name="TTL backfill")
