"""A table of JSON documents by (kind, id), for services whose state is small.

EC2 and AutoScaling hold a few hundred resources (instances, groups, key
pairs, policies) that are read far more often than written: each keeps them in
memory and writes every change through to one SQLite table of documents,
read back in creation order at start. One implementation for all of them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

_TABLE = re.compile(r"^[a-z_]+$")


class DocumentStore:
    """Documents by ``(kind, id)`` in table ``table`` of ``conn``."""

    def __init__(self, conn: sqlite3.Connection, table: str = "resources") -> None:
        if not _TABLE.match(table):
            raise ValueError(f"bad table name {table!r}")
        self.conn = conn
        self.table = table
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL,"
            " doc TEXT NOT NULL, UNIQUE (kind, id))"
        )

    def load(self, kind: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            f"SELECT doc FROM {self.table} WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
        return [json.loads(doc) for (doc,) in rows]

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.conn.execute(
            f"INSERT INTO {self.table} (kind, id, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
            (kind, key, json.dumps(doc, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> None:
        self.conn.execute(f"DELETE FROM {self.table} WHERE kind = ? AND id = ?", (kind, key))

    def close(self) -> None:
        self.conn.close()
