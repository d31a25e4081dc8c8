"""The records of DynamoDB's long-running jobs: exports (``export.py``) and imports
(``imports.py``).

Why: both are asynchronous jobs a client starts, polls by ARN, lists by table and
may retry with a ClientToken; both are rows of a table of the DynamoDB database
(one JSON document per job, with the columns those lookups need) so they outlive
a restart, and both run as asyncio tasks cancelled at stop. ``JobRecords`` is
that shared part; each kind names its table and its not-found error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.dynamodb.engine import Engine

TOKEN_WINDOW = 8 * 3600
"""A ClientToken names the same job for this many seconds (AWS's eight hours)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {name} (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    table_arn TEXT NOT NULL,
    token TEXT,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {name}_by_account ON {name} (account, region, created);
"""


class JobRecords:
    """Rows of ``table`` (one per job) and the tasks running them."""

    table: str
    """The SQLite table of this kind of job (``exports``, ``imports``)."""
    not_found: Callable[[str], ServiceError]
    """The error for an ARN no job of this kind has (a ``staticmethod``)."""

    def __init__(self, engine: Engine, env: ServiceEnv) -> None:
        self.engine = engine
        self.env = env
        self.conn = engine.store.conn
        self.conn.executescript(_SCHEMA.format(name=self.table))
        self.tasks: set[asyncio.Task[None]] = set()

    def get(self, account: str, region: str, arn: str) -> dict[str, Any]:
        row = self.conn.execute(
            f"SELECT data FROM {self.table} WHERE arn = ? AND account = ? AND region = ?",
            (arn, account, region),
        ).fetchone()
        if row is None:
            raise self.not_found(arn)
        return json.loads(row[0])

    def _save(self, data: dict[str, Any]) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO {self.table} (arn, account, region, table_arn, token, "
            "created, status, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                data["arn"],
                data["account"],
                data["region"],
                data["table_arn"],
                data.get("token"),
                data["start"],
                data["status"],
                json.dumps(data),
            ),
        )

    def by_token(self, account: str, region: str, token: str, now: float) -> dict[str, Any] | None:
        """The job a ClientToken started within the window, if any."""
        row = self.conn.execute(
            f"SELECT data FROM {self.table} WHERE account = ? AND region = ? AND token = ? "
            "AND created > ? ORDER BY created DESC LIMIT 1",
            (account, region, token, now - TOKEN_WINDOW),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def _all(self, account: str, region: str, table_arn: str | None) -> list[dict[str, Any]]:
        """The account's jobs (of one table when ``table_arn``), oldest first."""
        sql = f"SELECT data FROM {self.table} WHERE account = ? AND region = ?"
        args: list[Any] = [account, region]
        if table_arn is not None:
            sql += " AND table_arn = ?"
            args.append(table_arn)
        rows = self.conn.execute(sql + " ORDER BY created, arn", args).fetchall()
        return [json.loads(blob) for (blob,) in rows]

    def _in_progress(self) -> list[dict[str, Any]]:
        """Jobs a stopped server left running (for ``resume``)."""
        rows = self.conn.execute(f"SELECT data FROM {self.table} WHERE status = 'IN_PROGRESS'")
        return [json.loads(blob) for (blob,) in rows.fetchall()]

    def _track(self, run: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(run, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
