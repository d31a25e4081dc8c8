"""The events each archive holds: one SQLite row per (archive, event), committed before
PutEvents answers.

Unlike buses and rules (a few hundred documents kept in memory), an archive grows with
every event its bus takes, so its events stay on disk and are read only by a replay
(one time window, in time order), by DescribeArchive's counts and by the retention
sweep. An event's time is its envelope's ``time`` (whole seconds): what a replay's
window and an archive's retention are measured against.
"""

from __future__ import annotations

import sqlite3


class ArchivedEvents:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS events_archived ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT, archive TEXT NOT NULL,"
            " time REAL NOT NULL, size INTEGER NOT NULL, event TEXT NOT NULL)"
        )
        conn.execute(
            "CREATE INDEX IF NOT EXISTS events_archived_by_time"
            " ON events_archived (archive, time, seq)"
        )

    def add(self, archive: str, when: float, event: str) -> None:
        size = len(event.encode())
        self.conn.execute(
            "INSERT INTO events_archived (archive, time, size, event) VALUES (?, ?, ?, ?)",
            (archive, when, size, event),
        )

    def totals(self, archive: str) -> tuple[int, int]:
        """(EventCount, SizeBytes) of ``archive``."""
        count, size = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM events_archived WHERE archive = ?",
            (archive,),
        ).fetchone()
        return count, size

    def window(self, archive: str, start: float, end: float) -> list[tuple[float, str]]:
        """(time, event JSON) of the events of ``archive`` timed in [start, end], oldest
        first (in arrival order within one second)."""
        return self.conn.execute(
            "SELECT time, event FROM events_archived"
            " WHERE archive = ? AND time >= ? AND time <= ? ORDER BY time, seq",
            (archive, start, end),
        ).fetchall()

    def expire(self, archive: str, before: float) -> int:
        """Delete the events of ``archive`` timed before ``before``; how many."""
        cur = self.conn.execute(
            "DELETE FROM events_archived WHERE archive = ? AND time < ?", (archive, before)
        )
        return cur.rowcount

    def drop(self, archive: str) -> None:
        self.conn.execute("DELETE FROM events_archived WHERE archive = ?", (archive,))
