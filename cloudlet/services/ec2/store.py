"""EC2's durable state: one SQLite table of JSON documents, loaded whole at start.

EC2 state is small (instances, groups, key pairs, tags) and read far more
often than written, so the engine keeps it in memory and writes each change
through to ``env.database("ec2")``; on restart everything is read back in
creation order.
"""

from __future__ import annotations

import sqlite3

from cloudlet.state.documents import DocumentStore


class Store(DocumentStore):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, "resources")
