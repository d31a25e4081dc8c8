"""Durable state of the v2 load balancers: one JSON document per resource.

Load balancers, listeners, rules and target groups are small nested
documents that the API reads whole and writes whole, so each is a row
``(kind, arn, doc)`` in SQLite. The service keeps them in memory (the proxy
reads them on every request) and writes through on every change; at start
they are loaded back and the listeners reopened. Target health is not stored:
after a restart targets start ``initial`` again, as a fresh probe decides.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

Doc = dict[str, Any]
KINDS = ("lb", "listener", "rule", "tg")


class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS resources ("
            " kind TEXT NOT NULL, arn TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL)"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.docs: dict[str, dict[str, Doc]] = {kind: {} for kind in KINDS}
        self.version = 0
        """Bumped by every change, so what is derived from the documents can be cached."""
        self._seq = 0
        for kind, arn, seq, doc in conn.execute(
            "SELECT kind, arn, seq, doc FROM resources ORDER BY seq"
        ):
            self.docs[kind][arn] = json.loads(doc)
            self._seq = max(self._seq, seq)

    def put(self, kind: str, doc: Doc) -> Doc:
        """Insert or replace ``doc`` (keyed by its ``Arn``), keeping creation order."""
        arn = doc["Arn"]
        self.version += 1
        fresh = arn not in self.docs[kind]
        self.docs[kind][arn] = doc
        if fresh:
            self._seq += 1
            self.conn.execute(
                "INSERT INTO resources (kind, arn, seq, doc) VALUES (?, ?, ?, ?)",
                (kind, arn, self._seq, json.dumps(doc)),
            )
        else:
            self.conn.execute("UPDATE resources SET doc = ? WHERE arn = ?", (json.dumps(doc), arn))
        return doc

    def delete(self, kind: str, arn: str) -> None:
        self.version += 1
        self.docs[kind].pop(arn, None)
        self.conn.execute("DELETE FROM resources WHERE arn = ?", (arn,))

    def get(self, kind: str, arn: str) -> Doc | None:
        return self.docs[kind].get(arn)

    def all(self, kind: str) -> list[Doc]:
        return list(self.docs[kind].values())

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
