"""The background work of S3 Batch Operations: jobs moved through their lifecycle.

Why it is built this way:

- **One runner, a window at a time, in priority order.** A single asyncio task
  (started with S3 Control, cancelled before S3 closes its database) takes the runnable
  job of highest ``Priority`` (the oldest first among equals), does one step of it and
  looks again: prepare its manifest, or run its next ``WINDOW`` tasks side by side, or
  write its report. A job raised in priority, or a new job of higher priority, is thus
  served from the next window on, as AWS says higher-priority jobs "take precedence";
  the event loop is yielded between steps, and the tasks of a window are S3 calls made
  in-process or Lambda invocations, so requests are never held up.
- **The lifecycle is AWS's.** New -> Preparing (the manifest read or generated into the
  task table, ``batch_manifest.py``) -> Suspended (``AwaitingConfirmation``, when
  ``ConfirmationRequired``) or Ready -> Active -> Completing -> Complete, with
  Cancelling -> Cancelled and Failing -> Failed; the Completing, Cancelling and Failing
  steps write the completion report (``batch_report.py``). A manifest that cannot be
  read fails the job with its FailureReasons; so does a task failure rate above 50% once
  more than 1,000 tasks ran (``ExceededFailureThreshold``, AWS's "job failure
  threshold").
- **Restart-safe.** Every task's outcome is committed as it ends (``batch_jobs.py``), so
  after a restart an Active job runs only the tasks not yet done (a task in flight when
  the server stopped runs again: tasks are at least once, as on AWS), a job caught
  Preparing reads its manifest again from the start, and one caught writing its report
  writes it again. The active-time clock does not count the time the server was down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.s3.batch_checks import bucket_of
from cloudlet.services.s3.batch_jobs import (
    ACTIVE,
    CANCELLED,
    CANCELLING,
    COMPLETE,
    COMPLETING,
    FAILED,
    FAILING,
    NEW,
    PREPARING,
    READY,
    SUSPENDED,
    Job,
    JobStore,
    Task,
)
from cloudlet.services.s3.batch_manifest import ManifestError, generated_entries, manifest_entries
from cloudlet.services.s3.batch_report import write_report
from cloudlet.services.s3.batch_tasks import run_task

log = logging.getLogger(__name__)

WINDOW = 16
"""Tasks of one job run side by side (each an S3 call or a Lambda invocation)."""
THRESHOLD_TASKS = 1000
"""Tasks that must have run before the failure rate can fail a job."""
_SETTLES = {COMPLETING: COMPLETE, FAILING: FAILED, CANCELLING: CANCELLED}


class BatchRunner:
    """The runner's half of S3 Control's Batch Operations (a mixin of the service)."""

    env: Any
    s3: Any
    _jobs: JobStore
    _batch_wake: asyncio.Event | None = None
    _batch_task: asyncio.Task | None = None

    def _start_batch(self) -> None:
        self._jobs = JobStore(self.s3.store)
        for job_id in self._jobs_in(ACTIVE):  # the clock stood while the server was down
            job = self._jobs.get(job_id)
            if job is not None:
                job.active_since = clock.time()
                self._jobs.save(job)
        self._batch_wake = asyncio.Event()
        self._batch_task = asyncio.get_running_loop().create_task(
            self._batch_loop(), name="s3control-batch"
        )
        # Cancelled with the other background loops, before S3 closes its database.
        self.env.tasks.append(self._batch_task)

    async def _stop_batch(self) -> None:
        task, self._batch_task = self._batch_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _wake_batch(self) -> None:
        if self._batch_wake is not None:
            self._batch_wake.set()

    def _jobs_in(self, status: str) -> list[str]:
        rows = self._jobs.conn.execute("SELECT id FROM batch_jobs WHERE status = ?", (status,))
        return [row[0] for row in rows]

    async def _batch_loop(self) -> None:
        assert self._batch_wake is not None
        while True:
            job = self._jobs.runnable()
            if job is None:
                # Nothing awaits between the look and the wait: no wake-up is missed.
                self._batch_wake.clear()
                await self._batch_wake.wait()
                continue
            try:
                await self._step(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one job's fault must not stop the others
                log.exception("batch job %s failed", job.id)
                self._fail(job.id, "InternalError", "The job failed on an internal error.")
            await asyncio.sleep(0)

    async def _step(self, job: Job) -> None:
        if job.status in (NEW, PREPARING):
            await self._prepare(job)
        elif job.status == READY:
            job.status, job.active_since = ACTIVE, clock.time()
            self._jobs.save(job)
        elif job.status == ACTIVE:
            await self._run_window(job)
        else:
            await self._conclude(job)

    # -- Preparing ------------------------------------------------------------------------

    async def _prepare(self, job: Job) -> None:
        job.status = PREPARING
        self._jobs.save(job)
        self._jobs.clear_tasks(job.id)
        count = 0
        try:
            self._check_report_bucket(job)
            if job.request.get("ManifestGenerator") is not None:
                entries = generated_entries(self.s3, job)
            else:
                entries = manifest_entries(self.env, job)
            async for batch in entries:
                if self._status(job.id) != PREPARING:
                    await entries.aclose()  # cancelled meanwhile
                    return
                tasks = [Task(count + i, b, k, v) for i, (b, k, v) in enumerate(batch)]
                with self.s3.store.transaction():
                    self._jobs.add_tasks(job.id, tasks)
                count += len(tasks)
        except ManifestError as exc:
            self._fail(job.id, exc.code, exc.reason)
            return
        current = self._jobs.get(job.id)
        if current is None or current.status != PREPARING:
            return
        current.total, current.generated = count, job.generated
        if current.request.get("ConfirmationRequired"):
            current.status, current.suspended = SUSPENDED, clock.time()
            current.suspended_cause = "AwaitingConfirmation"
        else:
            current.status = READY
        self._jobs.save(current)

    def _check_report_bucket(self, job: Job) -> None:
        report = job.request.get("Report") or {}
        if not report.get("Enabled"):
            return
        name = bucket_of(report["Bucket"], "report bucket")
        bucket = self.s3.store.get_bucket(name)
        if bucket is None:
            raise ManifestError("NoSuchBucket", f"The report bucket {name} does not exist")
        owner = report.get("ExpectedBucketOwner")
        if owner and owner != bucket.account:
            raise ManifestError("AccessDenied", f"The report bucket {name} is not {owner}'s")

    def _status(self, job_id: str) -> str | None:
        job = self._jobs.get(job_id)
        return None if job is None else job.status

    # -- Active ---------------------------------------------------------------------------

    async def _run_window(self, job: Job) -> None:
        tasks = self._jobs.todo(job.id, WINDOW)
        if not tasks:
            job.stop_clock()
            job.status = COMPLETING
            self._jobs.save(job)
            return
        if not job.ran:
            job.ran = True
            self._jobs.save(job)

        async def one(task: Task) -> None:
            result = await run_task(self, job, task)
            self._jobs.finish_task(job.id, task.seq, result)

        await asyncio.gather(*(one(task) for task in tasks))
        current = self._jobs.get(job.id)
        if current is None or current.status != ACTIVE:
            return  # cancelled meanwhile: UpdateJobStatus stopped the clock
        current.stop_clock()
        current.active_since = clock.time()
        ran = current.succeeded + current.failed
        if ran > THRESHOLD_TASKS and current.failed * 2 > ran:
            current.stop_clock()
            current.status = FAILING
            current.failures.append(
                {
                    "FailureCode": "ExceededFailureThreshold",
                    "FailureReason": "More than 50% of the job's tasks failed after more "
                    f"than {THRESHOLD_TASKS} tasks ran",
                }
            )
        self._jobs.save(current)

    # -- Completing, Failing, Cancelling --------------------------------------------------

    async def _conclude(self, job: Job) -> None:
        final = _SETTLES[job.status]
        failure = None
        try:
            await write_report(self.env, self._jobs, job)
        except ServiceError as exc:
            final = FAILED
            failure = {
                "FailureCode": exc.code,
                "FailureReason": f"Writing the completion report failed: {exc.message}"[:256],
            }
        current = self._jobs.get(job.id) or job
        current.stop_clock()
        if failure is not None:
            current.failures.append(failure)
        current.status, current.terminated = final, clock.time()
        self._jobs.save(current)

    def _fail(self, job_id: str, code: str, reason: str) -> None:
        """End a job Failed at once (its manifest could not be read, or a fault)."""
        job = self._jobs.get(job_id)
        if job is None:
            return
        job.stop_clock()
        job.failures.append({"FailureCode": code[:64], "FailureReason": reason[:256]})
        job.status, job.terminated = FAILED, clock.time()
        self._jobs.save(job)
