"""Bucket replication: Put/Get/DeleteBucketReplication, and the copies they cause.

Same-account replication inside one cloudlet, as S3 does it (the rules of the
configuration itself are in ``replication_rules.py``):

- **What replicates.** Every new object version a client writes (PutObject,
  CopyObject, CompleteMultipartUpload, POST uploads (``post.py``)) that an
  enabled rule selects, and the delete markers of user deletes where the rule
  replicates them. Never: deletes of a specific version, versions that existed
  before the configuration (unless a Batch Replication job of S3 Control queues
  them: ``_replicate_existing``), lifecycle actions (they do not pass through these
  hooks), versions in GLACIER or DEEP_ARCHIVE, and replicas themselves: a
  replica is written here, not by a client, so no hook sees it, which is what
  keeps chains (A->B->C) and two-way setups (A<->B) from looping. SSE-KMS
  versions replicate only where the deciding rule selects
  ``SseKmsEncryptedObjects``, and are encrypted there with its
  ``ReplicaKmsKeyID``; SSE-C versions replicate and still need their key.
- **Metadata changes** (tags, ACL, retention, legal hold) of a replicated
  version follow it to its replicas; a change made *on a replica* goes back
  only where the replica's bucket has a rule with ``ReplicaModifications``
  Enabled (replica modification sync). Those writes are internal too, so a
  change never bounces back.
- **The replica** has the same key, version id, bytes (a ``link`` of the
  source's blob: blobs are immutable, each version owns its own id), ETag,
  checksums, parts, content headers, user metadata, tags, ACL, lock settings
  encryption and Last-Modified as its source, ``x-amz-replication-status:
  REPLICA``, and the rule's ``StorageClass`` when it sets one.
- **Status.** The source version shows PENDING from the write's response on,
  then COMPLETED, or FAILED when the destination bucket is gone (or no longer
  versioned); the status is the version's ``extra["replication"]``.

Work happens after the response, as on S3. The queue is a table of the S3
database (``replication_queue``), written in the transaction that marks the
version PENDING and deleted in the transaction that writes the replica, so it
survives a restart (the worker starts on what it finds) and a replica is never
written twice. The marking commits right after the write's own transaction,
before the response is sent; a crash exactly between the two leaves that
version unreplicated (no status), never half-replicated. One worker drains the
queue in order, so versions and delete markers reach a destination in the
order they were made.

A rule whose destination enables ``Metrics`` or ``ReplicationTime`` (S3
Replication Time Control) is watched as S3 watches it: CloudWatch metrics of its
latency, backlog and failures, and ``s3:Replication:*`` events through the
bucket's notifications (``replication_metrics.py``, fed by this worker's outcomes).

``CLOUDLET_S3_REPLICATION_DELAY`` (seconds, default 0) holds each job back that
long after its write: AWS replication takes seconds to minutes, and a program
(or a test) can then see PENDING.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.encryption import KMS_ALGORITHMS
from cloudlet.services.s3.replication_metrics import QUEUE_COLUMNS, Job, ReplicationMonitor
from cloudlet.services.s3.replication_rules import check_configuration, select_targets
from cloudlet.services.s3.store import NULL_VERSION, Bucket, ObjectVersion, key_bytes

log = logging.getLogger(__name__)

DELAY_ENV = "CLOUDLET_S3_REPLICATION_DELAY"
PENDING, COMPLETED, FAILED, REPLICA = "PENDING", "COMPLETED", "FAILED", "REPLICA"
SYNCED = ("tags", "acl", "retention", "legal_hold")
"""The ``extra`` entries a replica takes from its source (and metadata syncs carry)."""
_NOT_REPLICATED = frozenset(("GLACIER", "DEEP_ARCHIVE"))
_OBJECT, _METADATA = "object", "metadata"

SCHEMA = """
CREATE TABLE IF NOT EXISTS replication_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    version_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    queued REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS replication_queue_version
    ON replication_queue (bucket, key, version_id);
"""


def delay_from_env(environ: dict[str, str] | None = None) -> float:
    """``CLOUDLET_S3_REPLICATION_DELAY`` in seconds (0 when unset or not a number)."""
    return seconds_setting(DELAY_ENV, 0.0, environ=environ)


class ReplicationHandlers(ReplicationMonitor):
    """The replication operations, the hooks on writes, and the queue's worker."""

    _replication_wake: asyncio.Event
    _replication_task: asyncio.Task | None
    _replication_delay: float

    def _init_replication(self) -> None:
        self.store.add_schema(SCHEMA)
        self._replication_task = None
        self._replication_delay = delay_from_env()
        self._init_replication_monitor()

    # -- configuration ------------------------------------------------------------------

    def put_bucket_replication(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = params.get("ReplicationConfiguration")
        if document is None:
            raise errors.malformed_xml()
        checked = check_configuration(document, bucket, self.store)
        tracked = self._tracked_waiting(bucket.name)
        self.configs.put(bucket.name, "replication", checked)
        self._report_untracked(tracked)
        return {}

    def get_bucket_replication(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = self._required(
            bucket.name,
            "replication",
            "ReplicationConfigurationNotFoundError",
            "The replication configuration was not found",
        )
        return {"ReplicationConfiguration": document}

    def delete_bucket_replication(self, ctx: Any, params: dict[str, Any]) -> Result:
        tracked = self._tracked_waiting(self._bucket(params["Bucket"]).name)
        out = self._drop_config(params, "replication")
        self._report_untracked(tracked)
        return out

    def put_bucket_versioning(self, ctx: Any, params: dict[str, Any]) -> Result:
        status = (params.get("VersioningConfiguration") or {}).get("Status")
        if status == "Suspended" and self.configs.get(params["Bucket"], "replication"):
            raise errors.s3_error(
                "InvalidBucketState",
                "A replication configuration is present on this bucket, so you cannot change "
                "the versioning state. To change the versioning state, first delete the "
                "replication configuration.",
                409,
            )
        return super().put_bucket_versioning(ctx, params)  # type: ignore[misc]

    # -- the writes that replicate ------------------------------------------------------

    async def put_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().put_object(ctx, params)  # type: ignore[misc]
        self._replicate_created(params["Bucket"], params["Key"], out.get("VersionId"))
        return out

    async def copy_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().copy_object(ctx, params)  # type: ignore[misc]
        self._replicate_created(params["Bucket"], params["Key"], out.get("VersionId"))
        return out

    async def complete_multipart_upload(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().complete_multipart_upload(ctx, params)  # type: ignore[misc]
        self._replicate_created(params["Bucket"], params["Key"], out.get("VersionId"))
        return out

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_object(ctx, params)  # type: ignore[misc]
        if params.get("VersionId") is None and out.get("DeleteMarker"):
            self._replicate_created(params["Bucket"], params["Key"], out.get("VersionId"))
        return out

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_objects(ctx, params)  # type: ignore[misc]
        name = params["Bucket"]
        if not self.configs.get(name, "replication"):
            return out
        failed = {e.get("Key") for e in out.get("Errors") or []}
        for entry in (params.get("Delete") or {}).get("Objects") or []:
            key = entry.get("Key")
            if entry.get("VersionId") is not None or key in failed:
                continue
            # The marker this request just made (also in quiet mode, which lists nothing).
            latest = self.store.latest(name, key)
            if latest is not None and latest.delete_marker and "replication" not in latest.extra:
                self._replicate_created(name, key, latest.version_id)
        return out

    def _replicate_created(self, name: str, key: str, version_id: str | None) -> None:
        """Queue a version a client just made (object or delete marker), if a rule wants it.

        Also the hook of POST uploads (``post.py``), which are not an operation
        of this class.
        """
        config = self.configs.get(name, "replication")
        if not config or version_id is None or version_id == NULL_VERSION:
            return
        version = self.store.version(name, key, version_id)
        if version is None:
            return
        targets = self._replication_targets(version)
        if targets:
            self._enqueue(version, _OBJECT, targets, status=PENDING)

    # -- Batch Replication (S3 Control's S3ReplicateObject, batch_tasks.py) -------------

    def _replication_targets(self, version: ObjectVersion) -> list[dict[str, Any]]:
        """Where the bucket's rules send ``version`` now (none without a configuration, or
        for an archived version): what makes it ``EligibleForReplication``."""
        config = self.configs.get(version.bucket, "replication")
        if not config or version.storage_class in _NOT_REPLICATED:
            return []
        return select_targets(
            config,
            version.key,
            version.extra.get("tags") or [],
            delete_marker=version.delete_marker,
            kms=_is_kms(version),
        )

    def _replicate_existing(self, version: ObjectVersion) -> list[dict[str, Any]]:
        """Queue an existing version as a client write would have been queued, whatever
        its status (never replicated, FAILED, COMPLETED, or a REPLICA, which keeps its
        status); the targets (none: no rule selects it). A version already queued is
        left to the work under way."""
        targets = self._replication_targets(version)
        if targets and not self._replication_queued(version):
            replica = version.extra.get("replication") == REPLICA
            self._enqueue(version, _OBJECT, targets, status=None if replica else PENDING)
        return targets

    def _replication_queued(self, version: ObjectVersion) -> bool:
        """Whether a copy of ``version`` to some destination is still to be made."""
        row = self.store.conn.execute(
            "SELECT 1 FROM replication_queue WHERE bucket = ? AND key = ? AND version_id = ? "
            "AND kind = ? LIMIT 1",
            (version.bucket, key_bytes(version.key), version.version_id, _OBJECT),
        ).fetchone()
        return row is not None

    # -- metadata changes that follow ---------------------------------------------------

    def put_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().put_object_tagging(ctx, params)
        self._replicate_metadata(params)
        return out

    def delete_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_object_tagging(ctx, params)
        self._replicate_metadata(params)
        return out

    def put_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().put_object_acl(ctx, params)
        self._replicate_metadata(params)
        return out

    def put_object_retention(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().put_object_retention(ctx, params)  # type: ignore[misc]
        self._replicate_metadata(params)
        return out

    def put_object_legal_hold(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().put_object_legal_hold(ctx, params)  # type: ignore[misc]
        self._replicate_metadata(params)
        return out

    def _replicate_metadata(self, params: dict[str, Any]) -> None:
        """Queue a metadata change of a replicated version (or, with replica modification
        sync, of a replica) for the same version in the destinations."""
        name, key = params["Bucket"], params["Key"]
        config = self.configs.get(name, "replication")
        if not config:
            return
        version_id = params.get("VersionId")
        version = (
            self.store.latest(name, key)
            if version_id is None
            else self.store.version(name, key, version_id)
        )
        if version is None or version.delete_marker:
            return
        status = version.extra.get("replication")
        if status not in (PENDING, COMPLETED, REPLICA):
            return  # never replicated (made before the configuration, or failed)
        targets = select_targets(
            config,
            key,
            version.extra.get("tags") or [],
            replica=status == REPLICA,
            kms=_is_kms(version),
        )
        if targets:
            self._enqueue(version, _METADATA, targets)

    # -- the queue ----------------------------------------------------------------------

    def _enqueue(
        self,
        version: ObjectVersion,
        kind: str,
        targets: list[dict[str, Any]],
        *,
        status: str | None = None,
    ) -> None:
        queued = clock.time()
        with self.store.transaction() as conn:
            if status is not None:
                self.store.update_version(version, extra={**version.extra, "replication": status})
            conn.executemany(
                "INSERT INTO replication_queue (bucket, key, version_id, kind, target, queued) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        version.bucket,
                        key_bytes(version.key),
                        version.version_id,
                        kind,
                        json.dumps(t),
                        queued,
                    )
                    for t in targets
                ],
            )
        wake = getattr(self, "_replication_wake", None)
        if wake is not None:
            wake.set()

    def _next_job(self) -> Job | None:
        row = self.store.conn.execute(
            f"SELECT {QUEUE_COLUMNS} FROM replication_queue ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else Job.of(row)

    def _start_replication(self) -> None:
        """Start the worker (from ``S3Service.start``): it begins with what a previous run
        left queued."""
        self._replication_wake = asyncio.Event()
        self._replication_task = asyncio.get_running_loop().create_task(
            self._replication_loop(), name="s3-replication"
        )
        self._start_replication_monitor()

    async def _stop_replication(self) -> None:
        task, self._replication_task = self._replication_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _replication_loop(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                # Nothing awaits between the look and the wait: no wake-up is missed.
                self._replication_wake.clear()
                await self._replication_wake.wait()
                continue
            wait = job.queued + self._replication_delay - clock.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if job.kind == _OBJECT:
                    await self._replicate_object(job)
                else:
                    self._sync_metadata(job)
            except Exception:  # noqa: BLE001 - one bad job must not stop replication
                log.exception("replication of %s/%s %s failed", job.bucket, job.key, job.kind)
                self._settle(job, ok=False)
                self._observe_outcome(job, ok=False)

    # -- doing the work -----------------------------------------------------------------

    def _destination(self, job: Job) -> Bucket | None:
        """The target bucket, if it can still take replicas (exists, versioning on)."""
        bucket = self.store.get_bucket(job.target["bucket"])
        return bucket if bucket is not None and bucket.versioned else None

    def _fail(self, job: Job) -> None:
        """The job's version FAILED: its destination cannot take replicas; the reason
        S3's failure events give for that (the user guide's failure reasons)."""
        self._settle(job, ok=False)
        gone = self.store.get_bucket(job.target["bucket"]) is None
        self._observe_outcome(
            job, ok=False, reason="DstBucketNotFound" if gone else "DstBucketUnversioned"
        )

    async def _replicate_object(self, job: Job) -> None:
        source = self.store.version(job.bucket, job.key, job.version_id)
        if source is None:
            self._settle(job, ok=True)  # deleted before its turn: nothing left to copy
            return
        if self._destination(job) is None:
            self._fail(job)
            return
        blob_id = None
        if not source.delete_marker and source.blob_id:
            try:
                blob_id = await self.blobs.link(source.blob_id)
            except FileNotFoundError:
                self._settle(job, ok=True)  # the version went while we linked
                return
        dropped: list[str] = []
        written = committed = False
        try:
            # The link awaited: look again at what the commit will change.
            source = self.store.version(job.bucket, job.key, job.version_id)
            destination = self._destination(job)
            with self.store.transaction():
                if source is not None and destination is not None:
                    # Already there: a retry of work whose end was lost; write it once.
                    if self.store.version(destination.name, job.key, job.version_id) is None:
                        replica = self._replica(source, destination, job.target, blob_id)
                        _stored, dropped = self.store.put_version(replica)
                        written = True
                if source is not None and destination is None:
                    self._fail(job)
                else:
                    self._settle(job, ok=True)
            committed = True
        finally:
            if blob_id is not None and not (written and committed):
                self.blobs.delete(blob_id)  # no row names it
        self._drop_blobs(dropped)
        if source is not None and destination is not None:
            self._observe_outcome(job, ok=True)

    def _replica(
        self,
        source: ObjectVersion,
        destination: Bucket,
        target: dict[str, Any],
        blob_id: str | None,
    ) -> ObjectVersion:
        """The destination's copy of ``source``: the same version, marked REPLICA.

        Lock settings come from the source; without them the destination's
        default retention applies, as S3 documents.
        """
        extra: dict[str, Any] = {}
        klass = source.storage_class
        if not source.delete_marker:
            extra = self._default_extra(destination)  # type: ignore[attr-defined]
            extra.update({k: source.extra[k] for k in SYNCED if k in source.extra})
            sse = source.extra.get("sse")  # an SSE-C replica needs the source's key
            if sse is not None:
                if target.get("kms_key") and _is_kms(source):
                    sse = {**sse, "kms": target["kms_key"]}  # the rule's ReplicaKmsKeyID
                extra["sse"] = sse
            if target.get("owner"):
                extra.pop("acl", None)  # owner override: the new owner's default ACL
            klass = target.get("storage_class") or klass
        extra["replication"] = REPLICA
        return source.with_changes(
            bucket=destination.name,
            blob_id=blob_id,
            storage_class=klass,
            owner=target.get("owner") or source.owner,
            extra=extra,
            row_id=0,
            is_latest=True,
        )

    def _sync_metadata(self, job: Job) -> None:
        """Copy a version's metadata to the same version in the target bucket, if there."""
        source = self.store.version(job.bucket, job.key, job.version_id)
        replica = self.store.version(job.target["bucket"], job.key, job.version_id)
        # Under an owner override the replica keeps its own ACL.
        keys = [k for k in SYNCED if k != "acl" or not job.target.get("owner")]
        with self.store.transaction():
            if source is not None and replica is not None and not replica.delete_marker:
                extra = {k: v for k, v in replica.extra.items() if k not in keys}
                extra.update({k: source.extra[k] for k in keys if k in source.extra})
                self.store.update_version(replica, extra=extra)
            self._settle(job, ok=True)

    def _settle(self, job: Job, *, ok: bool) -> None:
        """Done with ``job``: drop it from the queue and, for an object, set its
        source's status (FAILED at once; COMPLETED when no destination is left)."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM replication_queue WHERE seq = ?", (job.seq,))
            if job.kind != _OBJECT:
                return
            source = self.store.version(job.bucket, job.key, job.version_id)
            if source is None:
                return
            status = source.extra.get("replication")
            if not ok:
                status = FAILED
            elif status == PENDING and not self._queued(job, conn):
                status = COMPLETED
            if status != source.extra.get("replication"):
                self.store.update_version(source, extra={**source.extra, "replication": status})

    @staticmethod
    def _queued(job: Job, conn: Any) -> bool:
        """Whether other destinations of the job's version are still to be done."""
        row = conn.execute(
            "SELECT 1 FROM replication_queue WHERE bucket = ? AND key = ? AND version_id = ? "
            "AND kind = ? LIMIT 1",
            (job.bucket, key_bytes(job.key), job.version_id, _OBJECT),
        ).fetchone()
        return row is not None


def _is_kms(version: ObjectVersion) -> bool:
    """Whether a version is SSE-KMS (or DSSE-KMS) encrypted (``encryption.py``)."""
    return (version.extra.get("sse") or {}).get("alg") in KMS_ALGORITHMS
