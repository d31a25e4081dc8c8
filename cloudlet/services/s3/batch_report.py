"""A Batch Operations job's completion report, written when the job ends.

Why it is built this way: the report is how a job's owner learns which tasks failed and
why, and what they feed back as the manifest of the next job; so it is laid out as S3
lays it out (the S3 User Guide's "Examples: S3 Batch Operations completion reports"):

- ``<Prefix>/job-<JobId>/results/<40 hex>.csv``: one file per task status (succeeded,
  failed), each row ``Bucket, Key, VersionId, TaskStatus, HTTPStatusCode, ErrorCode,
  ResultMessage``, keys URL-encoded as in a manifest. The HTTP status comes before the
  error code, as in the rows of S3's own reports (``...,succeeded,200,,Successful``,
  ``...,failed,200,PermanentFailure,...``), although the ``ReportSchema`` S3 writes
  names the two the other way round; the schema text is S3's too.
- ``<Prefix>/job-<JobId>/manifest.json``: the format, the creation date, one
  ``Results`` entry (status, bucket, key, MD5) per results file, and the schema.

Written through S3's PutObject as the job's account, once the job has invoked at least
one task (S3 writes no report otherwise), for every task or only the failed ones
(``ReportScope``). File names are derived from the job, so a report cut short by a
restart is written again over the same keys.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from typing import Any
from urllib.parse import quote_plus

from cloudlet.core.clock import clock
from cloudlet.services.s3.batch_checks import REPORT_FORMAT, bucket_of
from cloudlet.services.s3.batch_jobs import FAILED_TASK, SUCCEEDED_TASK, Job, JobStore

SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
ROWS_PER_FILE = 100_000


def report_base(job: Job) -> str:
    prefix = (job.request["Report"].get("Prefix") or "").rstrip("/")
    return "/".join(p for p in (prefix, f"job-{job.id}") if p)


class _ResultsFile:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.rows = 0


async def write_report(env: Any, jobs: JobStore, job: Job) -> None:
    """Write ``job``'s completion report, if it asks for one and ran a task (a failed
    write raises the S3 error)."""
    report = job.request.get("Report") or {}
    if not report.get("Enabled") or not job.ran:
        return
    bucket = bucket_of(report["Bucket"], "report bucket")
    base = report_base(job)
    failed_only = report.get("ReportScope") == "FailedTasksOnly"
    results: list[dict[str, str]] = []
    files = {SUCCEEDED_TASK: _ResultsFile(), FAILED_TASK: _ResultsFile()}
    written = {SUCCEEDED_TASK: 0, FAILED_TASK: 0}

    async def flush(status: str) -> None:
        body = files[status].buffer.getvalue().encode("utf-8", "surrogateescape")
        name = hashlib.sha1(f"{job.id}/{status}/{written[status]}".encode()).hexdigest()
        key = f"{base}/results/{name}.csv"
        await _put(env, job, bucket, key, body)
        written[status] += 1
        results.append(
            {
                "TaskExecutionStatus": status,
                "Bucket": bucket,
                "MD5Checksum": hashlib.md5(body).hexdigest(),
                "Key": key,
            }
        )
        files[status] = _ResultsFile()

    for page in jobs.results(job.id, failed_only):
        for task, result in page:
            status = SUCCEEDED_TASK if result.ok else FAILED_TASK
            out = files[status]
            out.writer.writerow(
                [
                    task.bucket,
                    quote_plus(task.key.encode("utf-8", "surrogateescape"), safe="/"),
                    task.version_id or "",
                    status,
                    result.http_status,
                    result.code,
                    result.message,
                ]
            )
            out.rows += 1
            if out.rows >= ROWS_PER_FILE:
                await flush(status)
        await asyncio.sleep(0)
    for status in (SUCCEEDED_TASK, FAILED_TASK):
        if files[status].rows:
            await flush(status)
    manifest = {
        "Format": REPORT_FORMAT,
        "ReportCreationDate": clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "Results": results,
        "ReportSchema": SCHEMA,
    }
    await _put(env, job, bucket, f"{base}/manifest.json", json.dumps(manifest).encode())


async def _put(env: Any, job: Job, bucket: str, key: str, body: bytes) -> None:
    params = {"Bucket": bucket, "Key": key, "Body": body, "ContentLength": len(body)}
    await env.call("s3", "PutObject", params, account=job.account, region=job.region)
