"""S3 Batch Operations jobs as they are kept: a row per job and a row per task.

Why it is built this way:

- **In the S3 database.** A job acts on S3's objects and is answered by S3 Control, a
  face of S3 (``control.py``); its rows join the S3 service's SQLite file (as the
  replication queue does), so a job, its task list and its progress survive a restart:
  DescribeJob answers afterwards and an Active job resumes with its first task not done.
- **Counters are columns.** Each finished task is one transaction that marks its row and
  adds one to the job's ``succeeded`` or ``failed``: the progress DescribeJob shows is
  always what the task rows say, however the server stopped. Status and priority are
  columns too (ListJobs filters on the one, the runner orders by the other); the rest of
  a job (its request, dates, failure reasons, tags) is one JSON document.
- **Keys are BLOBs** of their UTF-8 bytes, as the objects table keeps them, so any key
  S3 holds (lone surrogates of undecodable bytes included) fits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.services.s3.store import S3Store, key_bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    token TEXT NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    document TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_jobs_listed ON batch_jobs (account, region, created);
CREATE UNIQUE INDEX IF NOT EXISTS batch_jobs_token ON batch_jobs (account, region, token);
CREATE TABLE IF NOT EXISTS batch_tasks (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    version_id TEXT,
    outcome TEXT,
    result TEXT,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_tasks_todo ON batch_tasks (job, outcome, seq);
"""

# The statuses of the model's JobStatus, and the groups the runner cares about.
NEW, PREPARING, SUSPENDED, READY, ACTIVE = "New", "Preparing", "Suspended", "Ready", "Active"
COMPLETING, COMPLETE, FAILING, FAILED = "Completing", "Complete", "Failing", "Failed"
CANCELLING, CANCELLED = "Cancelling", "Cancelled"
TERMINAL = frozenset((COMPLETE, FAILED, CANCELLED))
RUNNABLE = (NEW, PREPARING, READY, ACTIVE, COMPLETING, FAILING, CANCELLING)
"""Statuses the runner has work for (Suspended waits for UpdateJobStatus)."""
SUCCEEDED_TASK, FAILED_TASK = "succeeded", "failed"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": value.decode("latin-1")}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    if len(obj) == 1 and "$bytes" in obj:
        return obj["$bytes"].encode("latin-1")
    return obj


def dumps(value: Any) -> str:
    """JSON of a request document (datetimes kept as such), keys sorted: equal requests
    give equal text, which is how ClientRequestToken reuse is judged."""
    return json.dumps(value, default=_encode, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode)


def job_arn(region: str, account: str, job_id: str) -> str:
    return f"arn:aws:s3:{region}:{account}:job/{job_id}"


@dataclass(slots=True)
class Task:
    """One manifest entry: the object a task acts on (``seq``: its place in the manifest)."""

    seq: int
    bucket: str
    key: str
    version_id: str | None


@dataclass(slots=True)
class TaskResult:
    """How a task ended: the report's TaskStatus, HTTPStatusCode, ErrorCode, ResultMessage."""

    ok: bool
    http_status: int = 200
    code: str = ""
    message: str = "Successful"


@dataclass(slots=True)
class Job:
    """A job: its columns, then what its document holds."""

    id: str
    account: str
    region: str
    created: float
    status: str
    priority: int
    token: str
    request: dict[str, Any]
    """CreateJob's params as given (less AccountId and the token): what DescribeJob shows."""
    fingerprint: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    total: int | None = None
    active_seconds: float = 0.0
    active_since: float | None = None
    terminated: float | None = None
    suspended: float | None = None
    suspended_cause: str | None = None
    status_reason: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    generated: dict[str, Any] | None = None
    """The GeneratedManifestDescriptor, once a generated manifest was written."""
    ran: bool = False
    """Whether any task was invoked: only then is a completion report written."""

    @property
    def arn(self) -> str:
        return job_arn(self.region, self.account, self.id)

    @property
    def operation(self) -> str:
        return next(iter(self.request.get("Operation") or {}), "")

    def document(self) -> str:
        return dumps(
            {
                "request": self.request,
                "fingerprint": self.fingerprint,
                "tags": self.tags,
                "total": self.total,
                "active_seconds": self.active_seconds,
                "active_since": self.active_since,
                "terminated": self.terminated,
                "suspended": self.suspended,
                "suspended_cause": self.suspended_cause,
                "status_reason": self.status_reason,
                "failures": self.failures,
                "generated": self.generated,
                "ran": self.ran,
            }
        )

    def stop_clock(self) -> None:
        """Add the time since the job last became (or was last seen) Active to its
        active time; the clock stands until ``active_since`` is set again."""
        if self.active_since is not None:
            self.active_seconds += max(0.0, clock.time() - self.active_since)
            self.active_since = None

    def progress(self) -> dict[str, Any]:
        """The ProgressSummary, its active time counted up to now."""
        seconds = self.active_seconds
        if self.active_since is not None:
            seconds += max(0.0, clock.time() - self.active_since)
        out: dict[str, Any] = {
            "NumberOfTasksSucceeded": self.succeeded,
            "NumberOfTasksFailed": self.failed,
            "Timers": {"ElapsedTimeInActiveSeconds": int(seconds)},
        }
        if self.total is not None:
            out["TotalNumberOfTasks"] = self.total
        return out

    def descriptor(self) -> dict[str, Any]:
        """DescribeJob's JobDescriptor."""
        request = self.request
        out: dict[str, Any] = {
            "JobId": self.id,
            "JobArn": self.arn,
            "ConfirmationRequired": bool(request.get("ConfirmationRequired")),
            "Status": self.status,
            "Operation": request.get("Operation"),
            "Priority": self.priority,
            "ProgressSummary": self.progress(),
            "Report": request.get("Report"),
            "CreationTime": utc_datetime(self.created),
            "RoleArn": request.get("RoleArn"),
        }
        for name in ("Description", "Manifest", "ManifestGenerator"):
            if request.get(name) is not None:
                out[name] = request[name]
        if self.failures:
            out["FailureReasons"] = self.failures
        if self.status_reason:
            out["StatusUpdateReason"] = self.status_reason
        if self.terminated is not None:
            out["TerminationDate"] = utc_datetime(self.terminated)
        if self.suspended is not None:
            out["SuspendedDate"] = utc_datetime(self.suspended)
        if self.suspended_cause:
            out["SuspendedCause"] = self.suspended_cause
        if self.generated is not None:
            out["GeneratedManifestDescriptor"] = self.generated
        return out

    def list_entry(self) -> dict[str, Any]:
        """ListJobs' JobListDescriptor."""
        out: dict[str, Any] = {
            "JobId": self.id,
            "Operation": self.operation,
            "Priority": self.priority,
            "Status": self.status,
            "CreationTime": utc_datetime(self.created),
            "ProgressSummary": self.progress(),
        }
        if self.request.get("Description"):
            out["Description"] = self.request["Description"]
        if self.terminated is not None:
            out["TerminationDate"] = utc_datetime(self.terminated)
        return out


_JOB_COLUMNS = "id, account, region, created, status, priority, token, succeeded, failed, document"


def _job(row: Any) -> Job:
    doc = loads(row[9])
    return Job(
        id=row[0],
        account=row[1],
        region=row[2],
        created=row[3],
        status=row[4],
        priority=row[5],
        token=row[6],
        succeeded=row[7],
        failed=row[8],
        request=doc["request"],
        fingerprint=doc.get("fingerprint") or "",
        tags=doc.get("tags") or [],
        total=doc.get("total"),
        active_seconds=doc.get("active_seconds") or 0.0,
        active_since=doc.get("active_since"),
        terminated=doc.get("terminated"),
        suspended=doc.get("suspended"),
        suspended_cause=doc.get("suspended_cause"),
        status_reason=doc.get("status_reason"),
        failures=doc.get("failures") or [],
        generated=doc.get("generated"),
        ran=bool(doc.get("ran")),
    )


class JobStore:
    """The job and task tables of the S3 database (event-loop thread only)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        store.add_schema(SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- jobs ---------------------------------------------------------------------------

    def insert(self, job: Job) -> None:
        self.conn.execute(
            f"INSERT INTO batch_jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.account,
                job.region,
                job.created,
                job.status,
                job.priority,
                job.token,
                job.succeeded,
                job.failed,
                job.document(),
            ),
        )

    def save(self, job: Job) -> None:
        """Write a job's status, priority and document (never its counters, which only
        ``finish_task`` changes)."""
        self.conn.execute(
            "UPDATE batch_jobs SET status = ?, priority = ?, document = ? WHERE id = ?",
            (job.status, job.priority, job.document(), job.id),
        )

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return None if row is None else _job(row)

    def by_token(self, account: str, region: str, token: str) -> Job | None:
        row = self.conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE account = ? AND region = ? AND token = ?",
            (account, region, token),
        ).fetchone()
        return None if row is None else _job(row)

    def page(
        self,
        account: str,
        region: str,
        statuses: list[str],
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[Job]:
        """Up to ``limit`` jobs of an account and region, newest first, after ``after``
        (the creation time and id of the last job of the previous page)."""
        sql = f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE account = ? AND region = ?"
        args: list[Any] = [account, region]
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += statuses
        if after is not None:
            sql += " AND (created < ? OR (created = ? AND id < ?))"
            args += [after[0], after[0], after[1]]
        sql += " ORDER BY created DESC, id DESC LIMIT ?"
        args.append(limit)
        return [_job(row) for row in self.conn.execute(sql, args)]

    def runnable(self) -> Job | None:
        """The job the runner works on next: the highest priority, then the oldest."""
        row = self.conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs "
            f"WHERE status IN ({', '.join('?' * len(RUNNABLE))}) "
            "ORDER BY priority DESC, created, id LIMIT 1",
            RUNNABLE,
        ).fetchone()
        return None if row is None else _job(row)

    # -- tasks --------------------------------------------------------------------------

    def add_tasks(self, job_id: str, tasks: list[Task]) -> None:
        self.conn.executemany(
            "INSERT INTO batch_tasks (job, seq, bucket, key, version_id) VALUES (?, ?, ?, ?, ?)",
            [(job_id, t.seq, t.bucket, key_bytes(t.key), t.version_id) for t in tasks],
        )

    def clear_tasks(self, job_id: str) -> None:
        self.conn.execute("DELETE FROM batch_tasks WHERE job = ?", (job_id,))

    def todo(self, job_id: str, limit: int) -> list[Task]:
        """The next ``limit`` tasks not yet done, in manifest order."""
        rows = self.conn.execute(
            "SELECT seq, bucket, key, version_id FROM batch_tasks "
            "WHERE job = ? AND outcome IS NULL ORDER BY seq LIMIT ?",
            (job_id, limit),
        )
        return [
            Task(r[0], r[1], bytes(r[2]).decode("utf-8", "surrogateescape"), r[3]) for r in rows
        ]

    def finish_task(self, job_id: str, seq: int, result: TaskResult) -> None:
        """Record a task's end and count it, in one transaction (once: a task already
        finished is left as it is)."""
        outcome = SUCCEEDED_TASK if result.ok else FAILED_TASK
        detail = json.dumps([result.http_status, result.code, result.message])
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE batch_tasks SET outcome = ?, result = ? "
                "WHERE job = ? AND seq = ? AND outcome IS NULL",
                (outcome, detail, job_id, seq),
            ).rowcount
            if changed:
                column = "succeeded" if result.ok else "failed"
                conn.execute(
                    f"UPDATE batch_jobs SET {column} = {column} + 1 WHERE id = ?", (job_id,)
                )

    def results(
        self, job_id: str, failed_only: bool, page: int = 1000
    ) -> Iterator[list[tuple[Task, TaskResult]]]:
        """The finished tasks with their results, in manifest order, ``page`` at a time
        (each page its own query: nothing stays open while a report is written)."""
        after = -1
        while True:
            sql = (
                "SELECT seq, bucket, key, version_id, outcome, result FROM batch_tasks "
                "WHERE job = ? AND seq > ? AND outcome IS NOT NULL"
            )
            if failed_only:
                sql += f" AND outcome = '{FAILED_TASK}'"
            rows = self.conn.execute(
                sql + " ORDER BY seq LIMIT ?", (job_id, after, page)
            ).fetchall()
            if not rows:
                return
            out = []
            for seq, bucket, key, version_id, outcome, detail in rows:
                status, code, message = json.loads(detail)
                task = Task(seq, bucket, bytes(key).decode("utf-8", "surrogateescape"), version_id)
                out.append((task, TaskResult(outcome == SUCCEEDED_TASK, status, code, message)))
            after = rows[-1][0]
            yield out
