"""EC2's durable state: one SQLite table of JSON documents, loaded whole at start.

EC2 state is small (instances, groups, key pairs, tags) and read far more
often than written, so the engine keeps it in memory and writes each change
through to ``env.database("ec2")``; on restart everything is read back in
creation order.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
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
            "SELECT doc FROM resources WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
        return [json.loads(doc) for (doc,) in rows]

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, separators=(",", ":"))
        self.conn.execute(
            "INSERT INTO resources (kind, id, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
            (kind, key, text),
        )

    def delete(self, kind: str, key: str) -> None:
        self.conn.execute("DELETE FROM resources WHERE kind = ? AND id = ?", (kind, key))

    def close(self) -> None:
        self.conn.close()
