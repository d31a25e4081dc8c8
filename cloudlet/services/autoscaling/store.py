"""AutoScaling's durable state: JSON documents in one SQLite table, loaded whole at start.

Why: groups, launch configurations, policies and activities are few and read
on every reconcile tick, so they live in memory and every change is written
through to ``env.database("autoscaling")``; a restarted server reads them back
and the reconcile loop carries on where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (kind, id)
)
"""


class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(_SCHEMA)

    def load(self, kind: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT doc FROM docs WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
        return [json.loads(doc) for (doc,) in rows]

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO docs (kind, id, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
            (kind, key, json.dumps(doc, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> None:
        self.conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, key))

    def close(self) -> None:
        self.conn.close()
