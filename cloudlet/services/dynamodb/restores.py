"""Restores as jobs: the new table is CREATING while its items are copied and its
indexes built, a slice at a time, and a restart carries on where a stop left off.

Why: a restore used to copy and index the whole table in one transaction on the event
loop, holding every other client meanwhile (40,000 items with two GSIs: 2 s). AWS
answers a restore at once with the table CREATING and ``RestoreInProgress`` true, and
clients wait for ACTIVE (``table_exists``). Here the request works for up to ``WAIT``
seconds, so a small table is restored (ACTIVE) by the time it answers, as before;
a larger one answers CREATING and the rest runs in ``core/slices.py`` slices.

- The job is saved with the table (``Table.restoring``): ``{"backup": bid}`` or
  ``{"table": source tid, "when": epoch}``, and ``"copied"`` once every item is in.
- Items are copied in key order (``h, hk, rk``), so where to go on is the last key the
  new table holds: a slice is one ``INSERT ... SELECT`` committed on its own.
- A point-in-time restore copies the live source table and, in the transaction of
  the last slice, undoes every change made after the restore time
  (``export.undo_after``): changes made while the copy ran are undone with them, so
  the copy is the table as it was at that time.
- Indexes are then built (``Engine.reindex``; after a restart, from the start:
  putting an index entry again is harmless), and the table turns ACTIVE.
- While CREATING the table takes no reads or writes (``Engine.table``), UpdateTable
  and DeleteTable refuse it, and DeleteBackup refuses its backup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.dynamodb.engine import Engine, Key
from cloudlet.services.dynamodb.export import undo_after
from cloudlet.services.dynamodb.store import dump
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import Item, item_size

log = logging.getLogger(__name__)

WAIT = seconds_setting("CLOUDLET_DYNAMODB_RESTORE_WAIT", 0.05)
"""Seconds a restore request works before it answers (CREATING if not finished)."""

Step = Callable[[int], bool]


def begin(engine: Engine, table: Table, job: dict[str, Any]) -> None:
    """Add ``table`` (a restored definition), CREATING, with its job saved."""
    table.status = "CREATING"
    table.restoring = job
    engine.add_table(table)


def restoring(engine: Engine, bid: int) -> bool:
    """Whether a restore from backup ``bid`` is still running."""
    return any(t.restoring and t.restoring.get("backup") == bid for t in engine.by_id.values())


def steps(engine: Engine, table: Table) -> Step:
    """The rest of ``table``'s restore: ``step(n)`` copies ``n`` items or indexes ``n``,
    and returns True when the table is ACTIVE (or the restore failed and it is gone)."""
    job = table.restoring
    assert job is not None
    builds: list[Step] | None = None

    def step(n: int) -> bool:
        nonlocal builds
        if engine.by_id.get(table.tid) is not table:
            return True  # the server is stopping and dropped it, or it is gone
        if not job.get("copied"):
            return _copy(engine, table, job, n)
        if builds is None:
            builds = [engine.reindex(table, ix) for ix in table.indexes]
        if builds:
            if builds[0](n):
                builds.pop(0)
            return False
        _finish(engine, table)
        return True

    return step


def _copy(engine: Engine, table: Table, job: dict[str, Any], n: int) -> bool:
    conn = engine.store.conn
    if "backup" in job:
        source, column, sid = "backup_items", "bid", job["backup"]
        origin = None
    else:
        origin = engine.by_id.get(job["table"])
        if origin is None:
            log.warning("restore of table %s failed: its source table was deleted", table.name)
            engine.drop(table)
            return True
        source, column, sid = "items", "tid", origin.tid
    last = conn.execute(
        "SELECT h, hk, rk FROM items WHERE tid = ? ORDER BY h DESC, hk DESC, rk DESC LIMIT 1",
        (table.tid,),
    ).fetchone()
    after = "" if last is None else " AND (h, hk, rk) > (?, ?, ?)"
    with engine.store.transaction():
        copied = conn.execute(
            "INSERT INTO items (tid, h, hk, rk, size, exp, body) "  # noqa: S608 - fixed names
            f"SELECT ?, h, hk, rk, size, NULL, body FROM {source} WHERE {column} = ?{after} "
            "ORDER BY h, hk, rk LIMIT ?",
            (table.tid, sid, *(last or ()), n),
        ).rowcount
        if copied < n:
            if origin is not None:
                _apply_undo(engine, table.tid, undo_after(engine, origin, job["when"]))
            job["copied"] = True
            engine.save(table)
    return False


def _apply_undo(engine: Engine, tid: int, undo: dict[Key, Item | None]) -> None:
    store = engine.store
    for key, old in undo.items():
        if old is None:
            store.delete(tid, *key)
        else:
            store.put(tid, *key, item_size(old), None, dump(old))


def _finish(engine: Engine, table: Table) -> None:
    table.status = "ACTIVE"
    table.restoring = None
    engine.save(table)
    table.item_count, table.size_bytes = engine.store.count(table.tid)
    table.index_counts = None
