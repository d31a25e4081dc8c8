"""Kinesis's CloudWatch metrics (``AWS/Kinesis``), counted from what the service did.

Why: alarms on a stream's traffic, throttling and consumer lag (``IncomingRecords``,
``WriteProvisionedThroughputExceeded``, ``GetRecords.IteratorAgeMilliseconds``) are how
people watch Kinesis, and they only mean something if the figures are the real ones.

The names, dimensions and units are the developer guide's ("Monitoring the Amazon
Kinesis Data Streams service with Amazon CloudWatch"):

- stream level, always on, dimension ``StreamName``: ``IncomingBytes``,
  ``IncomingRecords``, ``PutRecord.Bytes|Latency|Success``, ``PutRecords.Bytes|Latency|
  Success|Records|TotalRecords|SuccessfulRecords|FailedRecords|ThrottledRecords``,
  ``GetRecords.Bytes|IteratorAgeMilliseconds|Latency|Records|Success``,
  ``WriteProvisionedThroughputExceeded``, ``ReadProvisionedThroughputExceeded``;
- per enhanced fan-out consumer, dimensions ``StreamName`` and ``ConsumerName``:
  ``SubscribeToShard.Success|RateExceeded`` and ``SubscribeToShardEvent.Bytes|Records|
  MillisBehindLatest|Success``;
- shard level, dimensions ``StreamName`` and ``ShardId``, only the ones
  EnableEnhancedMonitoring turned on for the stream: ``IncomingBytes``,
  ``IncomingRecords``, ``OutgoingBytes``, ``OutgoingRecords`` (GetRecords and
  SubscribeToShard events), ``IteratorAgeMilliseconds``,
  ``WriteProvisionedThroughputExceeded``, ``ReadProvisionedThroughputExceeded``.

Each operation adds one sample to each of its metrics (so Minimum, Maximum and Average
are per operation, as the guide describes them): a put adds the bytes and records it
stored, the records it refused for throughput (0 when none), and 1 or 0 to ``Success``
(0: refused for throughput); GetRecords adds what it returned and the age of the last
record it returned (0 when it returned none, or when it caught up). Cloudlet does not
throttle reads, so ``ReadProvisionedThroughputExceeded`` is a 0 per GetRecords, and it
has no internal failures, so ``PutRecords.FailedRecords`` is a 0 per PutRecords.
``PutRecords.Records`` (deprecated for ``PutRecords.SuccessfulRecords``) is still sent
for old dashboards. Sizes count the data and the partition key, as the throughput
limits do.

Counting is a few dict updates per call (``Meter.tally``): samples gather into statistic
sets per window and dimension set. A window is a minute, as Kinesis publishes, or
``CLOUDLET_KINESIS_METRICS_INTERVAL`` seconds when that is shorter (tests); every
interval the windows that have closed go to CloudWatch as statistic sets (SampleCount,
Sum, Minimum, Maximum) stamped with the window's start, through the internal client, as
the stream's account and region. Windows without activity publish nothing, as on AWS.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.statistic_sets import StatisticSet

if TYPE_CHECKING:
    from cloudlet.services.kinesis.model import Stream

NAMESPACE = "AWS/Kinesis"
INTERVAL_ENV = "CLOUDLET_KINESIS_METRICS_INTERVAL"
DEFAULT_INTERVAL = 60.0
MINUTE = 60.0
Dims = tuple[tuple[str, str], ...]
Key = tuple[int, str, Dims]
"""(window number, stream ARN, dimensions besides StreamName)."""
_MILLIS = ("Latency", "IteratorAgeMilliseconds", "MillisBehindLatest")


def interval_from_env() -> float:
    """``CLOUDLET_KINESIS_METRICS_INTERVAL`` seconds, at least 0.2 (default 60)."""
    return seconds_setting(INTERVAL_ENV, DEFAULT_INTERVAL, low=0.2)


def unit(name: str) -> str:
    if name.endswith("Bytes"):
        return "Bytes"
    return "Milliseconds" if name.endswith(_MILLIS) else "Count"


def millis_since(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter`` reading)."""
    return (time.perf_counter() - started) * 1000


class Meter:
    """The statistic sets of the windows not yet published; the event loop's own."""

    def __init__(self, window: float) -> None:
        self.window = min(window, MINUTE)
        self.tallies: dict[Key, defaultdict[str, StatisticSet]] = {}

    def tally(self, stream_arn: str, dims: Dims = ()) -> defaultdict[str, StatisticSet]:
        """The statistic sets, by metric name, of ``stream_arn`` with ``dims`` in the
        current window."""
        key = (int(clock.time() // self.window), stream_arn, dims)
        found = self.tallies.get(key)
        if found is None:
            found = self.tallies[key] = defaultdict(StatisticSet)
        return found

    # -- what the operations report ----------------------------------------------------

    def put_record(self, stream: Stream, shard_id: str, size: int | None, started: float) -> None:
        """A PutRecord stored ``size`` bytes (None: it was refused for throughput)."""
        ok = 0 if size is None else 1
        stats = self.tally(stream.arn)
        stats["PutRecord.Latency"].add(millis_since(started))
        stats["PutRecord.Success"].add(ok)
        stats["WriteProvisionedThroughputExceeded"].add(1 - ok)
        if size is not None:
            stats["PutRecord.Bytes"].add(size)
            stats["IncomingBytes"].add(size)
            stats["IncomingRecords"].add(1)
        if stream.shard_metrics:
            self._shard_put(stream, shard_id, size or 0, ok, 1 - ok)

    def put_records(
        self,
        stream: Stream,
        total: int,
        size: int,
        stored: int,
        by_shard: dict[str, list[int]] | None,
        started: float,
    ) -> None:
        """A PutRecords of ``total`` records stored ``stored`` of them (``size`` bytes)
        and refused the rest for throughput; ``by_shard``: [bytes, stored, refused] by
        shard, when the stream has shard-level metrics."""
        refused = total - stored
        stats = self.tally(stream.arn)
        stats["PutRecords.Latency"].add(millis_since(started))
        stats["PutRecords.Success"].add(1 if stored else 0)
        stats["PutRecords.TotalRecords"].add(total)
        stats["PutRecords.SuccessfulRecords"].add(stored)
        stats["PutRecords.Records"].add(stored)
        stats["PutRecords.FailedRecords"].add(0)
        stats["PutRecords.ThrottledRecords"].add(refused)
        stats["WriteProvisionedThroughputExceeded"].add(refused)
        if stored:
            stats["PutRecords.Bytes"].add(size)
            stats["IncomingBytes"].add(size)
            stats["IncomingRecords"].add(stored)
        for shard_id, (nbytes, count, throttled) in (by_shard or {}).items():
            self._shard_put(stream, shard_id, nbytes, count, throttled)

    def _shard_put(
        self, stream: Stream, shard_id: str, size: int, stored: int, refused: int
    ) -> None:
        enabled = stream.shard_metrics
        stats = self.tally(stream.arn, (("ShardId", shard_id),))
        if stored and "IncomingBytes" in enabled:
            stats["IncomingBytes"].add(size)
        if stored and "IncomingRecords" in enabled:
            stats["IncomingRecords"].add(stored)
        if "WriteProvisionedThroughputExceeded" in enabled:
            stats["WriteProvisionedThroughputExceeded"].add(refused)

    def get_records(
        self, stream: Stream, shard_id: str, records: int, size: int, age: int, started: float
    ) -> None:
        """A GetRecords returned ``records`` (``size`` bytes), the last ``age`` ms old."""
        stats = self.tally(stream.arn)
        stats["GetRecords.Latency"].add(millis_since(started))
        stats["GetRecords.Success"].add(1)
        stats["GetRecords.Records"].add(records)
        stats["GetRecords.Bytes"].add(size)
        stats["GetRecords.IteratorAgeMilliseconds"].add(age)
        stats["ReadProvisionedThroughputExceeded"].add(0)
        enabled = stream.shard_metrics
        if enabled:
            shard = self.tally(stream.arn, (("ShardId", shard_id),))
            for name, value in (
                ("OutgoingBytes", size),
                ("OutgoingRecords", records),
                ("IteratorAgeMilliseconds", age),
                ("ReadProvisionedThroughputExceeded", 0),
            ):
                if name in enabled:
                    shard[name].add(value)

    def get_records_failed(self, stream: Stream, started: float) -> None:
        """A GetRecords the stream refused (its iterator had expired)."""
        stats = self.tally(stream.arn)
        stats["GetRecords.Latency"].add(millis_since(started))
        stats["GetRecords.Success"].add(0)

    def subscribed(self, stream_arn: str, consumer: str, *, ok: bool) -> None:
        """A SubscribeToShard began (or was refused: another subscription holds it)."""
        stats = self.tally(stream_arn, (("ConsumerName", consumer),))
        stats["SubscribeToShard.Success" if ok else "SubscribeToShard.RateExceeded"].add(1)

    def event(
        self, stream: Stream, consumer: str, shard_id: str, records: int, size: int, behind: int
    ) -> None:
        """A SubscribeToShardEvent went out with ``records`` (``size`` bytes)."""
        stats = self.tally(stream.arn, (("ConsumerName", consumer),))
        stats["SubscribeToShardEvent.Success"].add(1)
        stats["SubscribeToShardEvent.Records"].add(records)
        stats["SubscribeToShardEvent.Bytes"].add(size)
        stats["SubscribeToShardEvent.MillisBehindLatest"].add(behind)
        enabled = stream.shard_metrics
        if "OutgoingBytes" in enabled or "OutgoingRecords" in enabled:
            shard = self.tally(stream.arn, (("ShardId", shard_id),))
            if "OutgoingBytes" in enabled:
                shard["OutgoingBytes"].add(size)
            if "OutgoingRecords" in enabled:
                shard["OutgoingRecords"].add(records)

    # -- publishing ------------------------------------------------------------------

    def take(self, now: float) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The closed windows' statistic sets as PutMetricData's ``MetricData``, by
        (account, region); they are forgotten here."""
        current = int(now // self.window)
        closed = [key for key in self.tallies if key[0] < current]
        batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for key in closed:
            window, arn, dims = key
            stats = self.tallies.pop(key)
            parts = arn.split(":", 5)
            region, account, name = parts[3], parts[4], parts[5][len("stream/") :]
            dimensions = [{"Name": "StreamName", "Value": name}] + [
                {"Name": k, "Value": v} for k, v in dims
            ]
            at = datetime.fromtimestamp(window * self.window, UTC)
            batches[(account, region)].extend(
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Timestamp": at,
                    "StatisticValues": stat.values(),
                    "Unit": unit(metric),
                }
                for metric, stat in sorted(stats.items())
            )
        return batches
