"""S3 Batch Operations: S3 Control's job operations (CreateJob, DescribeJob, ListJobs,
UpdateJobStatus, UpdateJobPriority, Get/Put/DeleteJobTagging).

Why it is built this way: a job is a request to do one S3 operation (or one Lambda
invocation) on every object of a manifest, which people use to act on billions of
existing objects at once, and to replicate objects that existed before a replication
configuration (Batch Replication). The handlers here read like the API reference: check
the request (``batch_checks.py``), store or find the job (``batch_jobs.py``), wake the
runner (``batch_runner.py``), shape the answer. Jobs belong to the account and region
of the request that made them; another account's ``x-amz-account-id`` is refused as the
tagging operations refuse it. ``ClientRequestToken`` makes CreateJob idempotent: the same
token with the same request answers the first job's id, with another request
``IdempotencyException``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import errors
from cloudlet.services.s3.batch_checks import (
    MAX_PRIORITY,
    bad_request,
    check_create_job,
    check_tags,
    idempotency,
    invalid_next_token,
    job_status,
    not_found,
    too_many_tags,
)
from cloudlet.services.s3.batch_jobs import (
    ACTIVE,
    CANCELLED,
    CANCELLING,
    NEW,
    PREPARING,
    READY,
    SUSPENDED,
    Job,
    dumps,
)
from cloudlet.services.s3.batch_runner import BatchRunner

Result = dict[str, Any]
STATUSES = (
    "Active",
    "Cancelled",
    "Cancelling",
    "Complete",
    "Completing",
    "Failed",
    "Failing",
    "New",
    "Paused",
    "Pausing",
    "Preparing",
    "Ready",
    "Suspended",
)
MAX_RESULTS = 1000
_NOT_STORED = ("AccountId", "ClientRequestToken", "Tags", "Priority")


class BatchHandlers(BatchRunner):
    """The Batch Operations job operations of S3 Control (a mixin of the service)."""

    def _check_account(self, ctx: Any, params: dict[str, Any]) -> None:
        if params.get("AccountId") != ctx.account_id:
            raise errors.s3_error("AccessDenied", "Access Denied", 403)

    def _job(self, ctx: Any, params: dict[str, Any]) -> Job:
        """The caller's job ``JobId`` names (``NotFoundException`` otherwise)."""
        self._check_account(ctx, params)
        job = self._jobs.get(params.get("JobId") or "")
        if job is None or job.account != ctx.account_id or job.region != ctx.region:
            raise not_found()
        return job

    # -- CreateJob ------------------------------------------------------------------------

    def create_job(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._check_account(ctx, params)
        check_create_job(params)
        asked = {k: v for k, v in params.items() if k not in ("AccountId", "ClientRequestToken")}
        fingerprint = hashlib.sha256(dumps(asked).encode()).hexdigest()
        token = params["ClientRequestToken"]
        earlier = self._jobs.by_token(ctx.account_id, ctx.region, token)
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise idempotency()
            return {"JobId": earlier.id}
        job = Job(
            id=fast_uuid(),
            account=ctx.account_id,
            region=ctx.region,
            created=clock.time(),
            status=NEW,
            priority=params["Priority"],
            token=token,
            request={k: v for k, v in params.items() if k not in _NOT_STORED and v is not None},
            fingerprint=fingerprint,
            tags=[{"Key": t["Key"], "Value": t.get("Value", "")} for t in params.get("Tags") or []],
        )
        self._jobs.insert(job)
        self._wake_batch()
        return {"JobId": job.id}

    # -- reading jobs ---------------------------------------------------------------------

    def describe_job(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"Job": self._job(ctx, params).descriptor()}

    def list_jobs(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._check_account(ctx, params)
        statuses = list(params.get("JobStatuses") or [])
        for status in statuses:
            if status not in STATUSES:
                raise ServiceError("InvalidRequestException", f"Invalid job status: {status}", 400)
        limit = params.get("MaxResults") or MAX_RESULTS
        if not 1 <= limit <= MAX_RESULTS:
            raise ServiceError(
                "InvalidRequestException", f"MaxResults must be from 0 to {MAX_RESULTS}", 400
            )
        after = _token_position(params.get("NextToken"))
        found = self._jobs.page(ctx.account_id, ctx.region, statuses, after, limit + 1)
        out: Result = {"Jobs": [job.list_entry() for job in found[:limit]]}
        if len(found) > limit:
            last = found[limit - 1]
            out["NextToken"] = base64.urlsafe_b64encode(
                json.dumps([last.created, last.id]).encode()
            ).decode()
        return out

    # -- changing jobs --------------------------------------------------------------------

    def update_job_status(self, ctx: Any, params: dict[str, Any]) -> Result:
        job = self._job(ctx, params)
        wanted = params.get("RequestedJobStatus")
        if wanted == READY:
            if job.status != SUSPENDED:
                raise job_status(
                    f"A job in state {job.status} cannot be confirmed: only a "
                    "Suspended job awaiting confirmation can be made Ready"
                )
            job.status, job.suspended_cause = READY, None
        elif wanted == CANCELLED:
            if job.status in (NEW, SUSPENDED, READY):
                job.status, job.terminated = CANCELLED, clock.time()
            elif job.status in (PREPARING, ACTIVE):
                job.stop_clock()
                job.status = CANCELLING
            else:
                raise job_status(f"A job in state {job.status} cannot be cancelled")
        else:
            raise bad_request(f"Invalid RequestedJobStatus: {wanted}; use Ready or Cancelled")
        if params.get("StatusUpdateReason"):
            job.status_reason = params["StatusUpdateReason"][:256]
        self._jobs.save(job)
        self._wake_batch()
        out: Result = {"JobId": job.id, "Status": job.status}
        if job.status_reason:
            out["StatusUpdateReason"] = job.status_reason
        return out

    def update_job_priority(self, ctx: Any, params: dict[str, Any]) -> Result:
        job = self._job(ctx, params)
        priority = params.get("Priority")
        if not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
            raise bad_request(f"Priority must be an integer from 0 to {MAX_PRIORITY}")
        job.priority = priority
        self._jobs.save(job)
        return {"JobId": job.id, "Priority": priority}

    # -- job tags -------------------------------------------------------------------------

    def get_job_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"Tags": self._job(ctx, params).tags}

    def put_job_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        job = self._job(ctx, params)
        tags = params.get("Tags") or []
        check_tags(tags, too_many_tags())
        job.tags = [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags]
        self._jobs.save(job)
        return {}

    def delete_job_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        job = self._job(ctx, params)
        job.tags = []
        self._jobs.save(job)
        return {}


def _token_position(token: str | None) -> tuple[float, str] | None:
    """Where a ListJobs ``NextToken`` resumes: the creation time and id of the last job
    listed (``InvalidNextTokenException`` for anything else)."""
    if token is None:
        return None
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created), str(job_id)
    except (ValueError, TypeError):
        raise invalid_next_token() from None
