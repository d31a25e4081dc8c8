"""AutoScaling's durable state: JSON documents in one SQLite table, loaded whole at start.

Why: groups, launch configurations, policies and activities are few and read
on every reconcile tick, so they live in memory and every change is written
through to ``env.database("autoscaling")``; a restarted server reads them back
and the reconcile loop carries on where it stopped.
"""

from __future__ import annotations

import sqlite3

from cloudlet.state.documents import DocumentStore


def group_key(account: str, region: str, name: str) -> str:
    """The key of a group (or launch configuration) in the store and the engine."""
    return f"{account}/{region}/{name}"


class Store(DocumentStore):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, "docs")
