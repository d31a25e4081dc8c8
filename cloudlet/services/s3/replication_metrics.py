"""Replication metrics and S3 Replication Time Control: what a rule's ``Metrics`` and
``ReplicationTime`` switch on.

Why: replication is asynchronous, so the people who rely on it watch it: alarms on a
rule's backlog and failures, and (with RTC) an event for every version that misses
the 15-minute window. A rule whose destination enables ``Metrics``, or
``ReplicationTime`` (which turns metrics on with it, as the user guide says), is
*tracked*, and for it cloudlet does what S3 does:

- **CloudWatch**, every minute (``CLOUDLET_S3_REPLICATION_METRICS_INTERVAL`` seconds),
  namespace ``AWS/S3``, dimensions ``SourceBucket``, ``DestinationBucket`` (a name,
  not an ARN) and ``RuleId``: ``ReplicationLatency`` (Seconds; per version replicated
  in the interval, from its write to its replica's, or when none was, how long the
  oldest waiting one has waited), ``BytesPendingReplication`` (Bytes) and
  ``OperationsPendingReplication`` (Count: objects, delete markers and metadata
  changes) read from the durable queue at publication, and
  ``OperationsFailedReplication`` (Count, one per FAILED outcome in the interval).
  The statistic sets are ``metrics.py``'s.
- **Events** through the source bucket's notification configuration
  (``notifications.py``), as S3's ``eventVersion`` 2.2 records from
  ``s3.amazonaws.com`` carrying ``replicationEventData``:
  ``OperationFailedReplication`` when a version fails (``failureReason``
  ``DstBucketNotFound`` or ``DstBucketUnversioned``, the user guide's failure
  reasons); with RTC, ``OperationMissedThreshold`` once a version has waited longer
  than the threshold (checked every metrics interval) and
  ``OperationReplicatedAfterThreshold`` when it then completes; and
  ``OperationNotTracked`` for each waiting version whose rule a new configuration
  (or its deletion) stops tracking.

Whether a rule is tracked is read from the bucket's *current* configuration, by the
rule ID the queued job carries. The threshold is 15 minutes, the only value S3
takes; ``CLOUDLET_S3_REPLICATION_THRESHOLD`` (seconds, default 900) shortens it for
tests. Which versions already had their MissedThreshold event is kept in memory: a
restart may send one again (S3's events are at-least-once too).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.metrics import NAMESPACE, Tally
from cloudlet.services.s3.notifications import time_text
from cloudlet.services.s3.replication_rules import bucket_from_arn, monitoring
from cloudlet.services.s3.store import ObjectVersion

log = logging.getLogger(__name__)

INTERVAL_ENV = "CLOUDLET_S3_REPLICATION_METRICS_INTERVAL"
THRESHOLD_ENV = "CLOUDLET_S3_REPLICATION_THRESHOLD"
DEFAULT_THRESHOLD = 900.0
FAILED = "s3:Replication:OperationFailedReplication"
MISSED = "s3:Replication:OperationMissedThreshold"
LATE = "s3:Replication:OperationReplicatedAfterThreshold"
NOT_TRACKED = "s3:Replication:OperationNotTracked"
OBJECT = "object"
QUEUE_COLUMNS = "seq, bucket, key, version_id, kind, target, queued"
_UNITS = {
    "ReplicationLatency": "Seconds",
    "BytesPendingReplication": "Bytes",
    "OperationsPendingReplication": "Count",
    "OperationsFailedReplication": "Count",
}
RuleKey = tuple[str, str, str]
"""(source bucket, destination bucket, rule ID): one series of metrics."""


@dataclass(frozen=True, slots=True)
class Job:
    """One row of ``replication_queue``: copy a version (or its metadata) to a target."""

    seq: int
    bucket: str
    key: str
    version_id: str
    kind: str
    target: dict[str, Any]
    queued: float

    @classmethod
    def of(cls, row: Any) -> Job:
        """A job from a row selected as ``QUEUE_COLUMNS``."""
        key = bytes(row[2]).decode("utf-8", "surrogateescape")
        return cls(row[0], row[1], key, row[3], row[4], json.loads(row[5]), row[6])

    @property
    def series(self) -> RuleKey:
        return self.bucket, self.target["bucket"], self.target["rule"]


@dataclass(slots=True)
class Backlog:
    """What waits in the queue for one rule."""

    operations: int = 0
    size: int = 0
    oldest: float | None = None


def interval_from_env() -> float:
    """``CLOUDLET_S3_REPLICATION_METRICS_INTERVAL`` seconds, at least 0.2 (default 60)."""
    return seconds_setting(INTERVAL_ENV, 60.0, low=0.2)


def threshold_from_env() -> float:
    """``CLOUDLET_S3_REPLICATION_THRESHOLD`` seconds (default 900, S3 RTC's 15 minutes)."""
    return seconds_setting(THRESHOLD_ENV, DEFAULT_THRESHOLD, low=0.0)


def _operation(version: ObjectVersion) -> str:
    return "DELETE_MARKER_PUT" if version.delete_marker else "OBJECT_PUT"


class ReplicationMonitor(ConfigHandlers):
    """The metrics and events of tracked replication rules (mixed into replication)."""

    _repl_tallies: dict[RuleKey, Tally]
    _repl_missed: set[int]
    """Queue seqs whose OperationMissedThreshold event has been sent."""
    _repl_threshold: float

    def _init_replication_monitor(self) -> None:
        self._repl_tallies = {}
        self._repl_missed = set()
        self._repl_threshold = threshold_from_env()

    def _start_replication_monitor(self) -> None:
        self.env.every(
            interval_from_env(), self._publish_replication_metrics, "s3-replication-metrics"
        )

    # -- which rules are tracked -----------------------------------------------------

    def _tracked_rule(self, job: Job) -> dict[str, Any] | None:
        """The job's rule in its bucket's current configuration, if it is tracked."""
        for rule in (self.configs.get(job.bucket, "replication") or {}).get("Rules") or []:
            if rule.get("ID") == job.target.get("rule"):
                return rule if monitoring(rule)[0] else None
        return None

    def _queued_jobs(self, bucket: str | None = None) -> list[Job]:
        sql = f"SELECT {QUEUE_COLUMNS} FROM replication_queue"
        args: tuple[Any, ...] = ()
        if bucket is not None:
            sql, args = sql + " WHERE bucket = ?", (bucket,)
        return [Job.of(row) for row in self.store.conn.execute(sql + " ORDER BY seq", args)]

    def _tracked_waiting(self, bucket: str) -> list[Job]:
        """The bucket's queued versions (not metadata changes) whose rule is tracked."""
        return [j for j in self._queued_jobs(bucket) if j.kind == OBJECT and self._tracked_rule(j)]

    def _report_untracked(self, before: list[Job]) -> None:
        """``OperationNotTracked`` for versions tracked ``before`` a configuration change
        that no longer are."""
        for job in before:
            if self._tracked_rule(job) is None:
                self._repl_missed.discard(job.seq)
                self._replication_event(NOT_TRACKED, job)

    # -- outcomes ----------------------------------------------------------------------

    def _observe_outcome(self, job: Job, *, ok: bool, reason: str | None = None) -> None:
        """Count a settled version's outcome and send its events, if its rule is tracked.
        ``ok`` False: it FAILED, for ``reason``. Never raises: the outcome is settled."""
        if job.kind != OBJECT:
            return
        try:
            self._observe(job, ok, reason)
        except Exception:  # noqa: BLE001 - watching replication never undoes it
            log.exception("replication metrics of %s/%s failed", job.bucket, job.key)

    def _observe(self, job: Job, ok: bool, reason: str | None) -> None:
        missed = job.seq in self._repl_missed
        self._repl_missed.discard(job.seq)
        rule = self._tracked_rule(job)
        if rule is None:
            return
        stats = self._repl_tallies.setdefault(job.series, Tally()).stats
        if not ok:
            stats["OperationsFailedReplication"].add(1)
            self._replication_event(FAILED, job, failureReason=reason)
            return
        latency = max(0.0, clock.time() - job.queued)
        stats["ReplicationLatency"].add(latency)
        if monitoring(rule)[1] and (missed or latency > self._repl_threshold):
            self._replication_event(
                LATE, job, threshold=_minutes(rule), replicationTime=time_text(clock.time())
            )

    def _check_thresholds(self, jobs: list[Job], now: float) -> None:
        """``OperationMissedThreshold`` once for each version of an RTC rule that has
        waited longer than the threshold."""
        for job in jobs:
            if job.kind != OBJECT or job.seq in self._repl_missed:
                continue
            if now - job.queued <= self._repl_threshold:
                continue
            rule = self._tracked_rule(job)
            if rule is not None and monitoring(rule)[1]:
                self._repl_missed.add(job.seq)
                self._replication_event(MISSED, job, threshold=_minutes(rule))

    def _replication_event(self, event: str, job: Job, **data: str | None) -> None:
        """Send ``event`` about the job's version through the source bucket's notification
        configuration, with its ``replicationEventData``."""
        bucket = self.store.get_bucket(job.bucket)
        version = self.store.version(job.bucket, job.key, job.version_id)
        if bucket is None or version is None:
            return
        replication = {
            "replicationRuleId": job.target["rule"],
            "destinationBucket": f"arn:aws:s3:::{job.target['bucket']}",
            "s3Operation": _operation(version),
            "requestTime": time_text(job.queued),
            **{k: v for k, v in data.items() if v is not None},
        }
        self._notify(  # type: ignore[attr-defined]
            bucket,
            event,
            job.key,
            size=None if version.delete_marker else version.size,
            etag=version.etag,
            version_id=job.version_id,
            replication=replication,
        )

    # -- publication -------------------------------------------------------------------

    def _backlogs(self, jobs: list[Job]) -> dict[RuleKey, Backlog]:
        out: dict[RuleKey, Backlog] = defaultdict(Backlog)
        for job in jobs:
            backlog = out[job.series]
            backlog.operations += 1
            if backlog.oldest is None or job.queued < backlog.oldest:
                backlog.oldest = job.queued
            if job.kind == OBJECT:
                version = self.store.version(job.bucket, job.key, job.version_id)
                backlog.size += version.size if version is not None else 0
        return out

    async def _publish_replication_metrics(self) -> None:
        """Every tracked rule's figures for the interval, and the threshold check."""
        taken, self._repl_tallies = self._repl_tallies, {}
        tracked = [
            (name, rule)
            for name, config in self.configs.all_of("replication")
            for rule in config.get("Rules") or []
            if rule.get("Status") == "Enabled" and monitoring(rule)[0]
        ]
        if not tracked:  # the queue is not read for buckets nobody watches
            return
        now = clock.time()
        jobs = self._queued_jobs()
        self._check_thresholds(jobs, now)
        backlogs = self._backlogs(jobs)
        at = datetime.now(UTC)
        batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for name, rule in tracked:
            bucket = self.store.get_bucket(name)
            if bucket is None:
                continue
            series = (name, bucket_from_arn(rule["Destination"]["Bucket"]) or "", rule["ID"])
            tally = taken.get(series) or Tally()
            _add_backlog(tally, backlogs.get(series) or Backlog(), now)
            batches[(bucket.account, bucket.region)].extend(_datums(tally, series, at))
        for (account, region), data in batches.items():
            await self.env.put_metric_data(NAMESPACE, data, account=account, region=region)


def _add_backlog(tally: Tally, backlog: Backlog, now: float) -> None:
    """The interval's pending figures, and what an idle interval reports."""
    stats = tally.stats
    stats["BytesPendingReplication"].add(backlog.size)
    stats["OperationsPendingReplication"].add(backlog.operations)
    if "ReplicationLatency" not in stats:  # nothing replicated: how far behind it is
        stats["ReplicationLatency"].add(0.0 if backlog.oldest is None else now - backlog.oldest)
    if "OperationsFailedReplication" not in stats:
        stats["OperationsFailedReplication"].add(0)


def _datums(tally: Tally, series: RuleKey, at: datetime) -> list[dict[str, Any]]:
    source, destination, rule_id = series
    dims = [
        {"Name": "SourceBucket", "Value": source},
        {"Name": "DestinationBucket", "Value": destination},
        {"Name": "RuleId", "Value": rule_id},
    ]
    data = tally.datums(dims, at)
    for datum in data:
        datum["Unit"] = _UNITS[datum["MetricName"]]
    return data


def _minutes(rule: dict[str, Any]) -> str:
    """The RTC threshold an event names: the rule's ``EventThreshold`` minutes."""
    threshold = (rule["Destination"].get("Metrics") or {}).get("EventThreshold") or {}
    return str(threshold.get("Minutes", 15))
