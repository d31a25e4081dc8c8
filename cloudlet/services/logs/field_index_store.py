"""Field indexes in the Logs database: which events hold which value of an indexed field.

Why these tables:

- ``field_index(gid, field, value, eid, ts)``: one row per indexed field an event holds,
  written in the transaction that stores the event (``Store.append``), so an event is
  never visible without its index rows. One b-tree keyed by value (``WITHOUT ROWID``):
  writes are the hot path, lookups by value the only frequent read. ``value`` is the value's index key (``key``):
  Insights' ``=`` compares numbers as numbers and everything else as shown text, so
  equal values always share a key and a key lookup never misses an event ``=`` matches.
- ``field_index_fields(gid, field, start_id, last_scan)``: since which event id a field
  has been indexed without a gap (``start_id``; NULL once no policy indexes it, so the
  events after are not covered), and when ingestion last indexed it. Events with an id
  above ``start_id`` were all indexed as they were stored, so a query may skip those the
  index does not list; older ones are scanned. Coverage opens and closes with the first
  batch after a policy change, which is exact: no event arrives in between.

``@logStream`` needs no rows: the events table is already indexed by stream.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cloudlet.services.logs.query_language import num, show

SCHEMA = """
CREATE TABLE IF NOT EXISTS field_index (
    gid INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    eid INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (gid, field, value, eid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_index_fields (
    gid INTEGER NOT NULL,
    field TEXT NOT NULL,
    start_id INTEGER,
    last_scan INTEGER,
    PRIMARY KEY (gid, field)
);
"""

Entries = list[list[tuple[str, str]]]
"""Per event of a batch, its ``(field, key)`` pairs."""


def key(value: Any) -> str:
    """The index key of a field value or a query literal (see the module docstring)."""
    n = num(value)
    return f"n:{n!r}" if n is not None else show(value)


class FieldIndexStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    # --- writes (inside Store's transactions) -------------------------------------------

    def record(
        self,
        cur: sqlite3.Cursor,
        gid: int,
        fields: set[str],
        rows: list[tuple[int, int, list[tuple[str, str]]]],
        now: int,
        first_id: int,
    ) -> None:
        """Index one batch: ``rows`` of ``(event id, ts, (field, key) pairs)``; ``fields``
        the fields indexed now (coverage opens below ``first_id``, the batch's first id,
        for new ones and closes for those no longer indexed)."""
        known = dict(
            cur.execute(
                "SELECT field, start_id FROM field_index_fields WHERE gid = ?", (gid,)
            ).fetchall()
        )
        for name, start in known.items():
            if name not in fields and start is not None:
                cur.execute(
                    "UPDATE field_index_fields SET start_id = NULL WHERE gid = ? AND field = ?",
                    (gid, name),
                )
        for name in fields:
            if known.get(name) is None:
                cur.execute(
                    "INSERT INTO field_index_fields (gid, field, start_id, last_scan) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (gid, field) DO UPDATE SET "
                    "start_id = excluded.start_id, last_scan = excluded.last_scan",
                    (gid, name, first_id - 1, now),
                )
            else:
                cur.execute(
                    "UPDATE field_index_fields SET last_scan = ? WHERE gid = ? AND field = ?",
                    (now, gid, name),
                )
        cur.executemany(
            "INSERT INTO field_index (gid, field, value, eid, ts) VALUES (?, ?, ?, ?, ?)",
            [(gid, f, v, eid, ts) for eid, ts, pairs in rows for f, v in pairs],
        )

    def forget_group(self, gid: int) -> None:
        self.conn.execute("DELETE FROM field_index WHERE gid = ?", (gid,))
        self.conn.execute("DELETE FROM field_index_fields WHERE gid = ?", (gid,))

    def forget_stream(self, gid: int, sid: int) -> None:
        """(No index by event id: it would slow every write for a rare delete.)"""
        self.conn.execute(
            "DELETE FROM field_index WHERE gid = ? AND eid IN "
            "(SELECT id FROM events WHERE sid = ?)",
            (gid, sid),
        )

    def expire(self, gid: int, before_ts: int) -> None:
        self.conn.execute("DELETE FROM field_index WHERE gid = ? AND ts < ?", (gid, before_ts))

    # --- reads ---------------------------------------------------------------------------

    def covered(self, gid: int) -> dict[str, int]:
        """Fields indexed now, with the id above which every event was indexed."""
        return dict(
            self.conn.execute(
                "SELECT field, start_id FROM field_index_fields "
                "WHERE gid = ? AND start_id IS NOT NULL",
                (gid,),
            ).fetchall()
        )

    def has_field(self, gid: int, field: str) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM field_index WHERE gid = ? AND field = ? LIMIT 1", (gid, field)
            ).fetchone()
            is not None
        )

    def summary(self, gid: int) -> list[tuple[str, int, int, int | None]]:
        """``(field, first event time, last event time, last scan)`` of each field the
        index holds events for."""
        return self.conn.execute(
            "SELECT i.field, MIN(i.ts), MAX(i.ts), f.last_scan FROM field_index i "
            "LEFT JOIN field_index_fields f ON f.gid = i.gid AND f.field = i.field "
            "WHERE i.gid = ? GROUP BY i.field ORDER BY i.field",
            (gid,),
        ).fetchall()

    @staticmethod
    def holding(gid: int, field: str, keys: list[str]) -> tuple[str, list[Any]]:
        """SQL (and its arguments) for the ids of ``gid``'s events whose ``field`` has one
        of ``keys``."""
        marks = ",".join("?" * len(keys))
        return (
            f"SELECT eid FROM field_index WHERE gid = ? AND field = ? AND value IN ({marks})",
            [gid, field, *keys],
        )
