"""What makes delivery streams deliver: one task per ACTIVE stream, flushing its lanes.

Why one loop per stream: each stream's buffers (``store.py``'s lanes) fill from the
API and drain in the background, and a lane is due when its bytes reach the buffering
size or its oldest record has waited the buffering interval, whichever comes first
(the developer guide's "Data Delivery Frequency"). ``in`` follows the Lambda
processor's hints, ``out`` and ``failed`` the destination's, ``backup`` the backup
configuration's. A put wakes the loop, so a size-triggered flush happens at once.

Intervals can be shortened for tests with ``CLOUDLET_FIREHOSE_INTERVAL_SCALE`` (a
factor applied to every buffering interval and to Splunk's acknowledgement timeout,
default 1): a 60 s hint with 0.02 flushes after 1.2 s. Sizes are never scaled.

Failures (a missing bucket, a role that may not write, an endpoint that refuses) keep
the records and retry the lane with back-off (``CLOUDLET_FIREHOSE_RETRY_SECONDS``
doubling, at most a minute), other lanes going on. An S3 write is retried for 24 hours
(``CLOUDLET_FIREHOSE_S3_RETRY_SECONDS``), then its records are dropped with a warning,
as AWS documents that data is lost; an HTTP endpoint is retried for its
``RetryOptions.DurationInSeconds``, then its records go to the bucket's error prefix as
``http-endpoint-failed`` error records (a 413 is dropped at once, as the guide says);
Splunk likewise (``splunk.py``), its retry duration counted from the first failure, as
``splunk-failed`` error records carrying their ``EventId``.
Every failure is logged to the destination's CloudWatch Logs stream when that is on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.firehose import http_endpoint, objects, partitioning, prefixes, splunk
from cloudlet.services.firehose.access import log_error
from cloudlet.services.firehose.model import DeliveryStream
from cloudlet.services.firehose.processing import MB, Plan, plan
from cloudlet.services.firehose.store import Buffered, FirehoseStore, Row, failed_row
from cloudlet.services.firehose.transform import transform

log = logging.getLogger(__name__)
SCALE = seconds_setting("CLOUDLET_FIREHOSE_INTERVAL_SCALE", 1.0, low=0.0001, high=1.0)
RETRY_SECONDS = seconds_setting("CLOUDLET_FIREHOSE_RETRY_SECONDS", 1.0, low=0.01, high=60)
S3_GIVE_UP = seconds_setting("CLOUDLET_FIREHOSE_S3_RETRY_SECONDS", 86400.0, low=0.0)
IDLE = 1.0
ACK_POLL = max(0.05, SCALE)
"""Seconds between polls of Splunk's acknowledgement endpoint."""
ENDPOINTS = {"HttpEndpoint": "http-endpoint-failed", "Splunk": "splunk-failed"}
"""Destinations delivered to over HTTP, and the error output type of what they refuse."""


@dataclass
class Retry:
    first: float
    attempts: int = 0
    at: float = 0.0
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class Deliveries:
    def __init__(self, env: Any, store: FirehoseStore, meter: Any) -> None:
        self.env = env
        self.store = store
        self.meter = meter
        self.tasks: dict[str, asyncio.Task] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.retries: dict[tuple[str, str, str], Retry] = {}
        self._plans: dict[tuple[str, int], Plan] = {}

    def plan(self, stream: DeliveryStream) -> Plan:
        key = (stream.arn, stream.version)
        found = self._plans.get(key)
        if found is None:
            role = stream.config.get("RoleARN") or stream.s3.get("RoleARN")
            found = self._plans[key] = plan(stream.config.get("ProcessingConfiguration"), role)
        return found

    # -- the tasks ---------------------------------------------------------------------

    def start(self, stream: DeliveryStream) -> None:
        if stream.arn in self.tasks:
            return
        self.events[stream.arn] = asyncio.Event()
        self.tasks[stream.arn] = asyncio.get_running_loop().create_task(
            self._run(stream.arn), name=f"firehose-{stream.name}"
        )

    def wake(self, arn: str) -> None:
        event = self.events.get(arn)
        if event is not None:
            event.set()

    async def stop(self, arn: str) -> None:
        task = self.tasks.pop(arn, None)
        self.events.pop(arn, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for key in [k for k in self.retries if k[0] == arn]:
            self.retries.pop(key)

    async def close(self) -> None:
        for arn in list(self.tasks):
            await self.stop(arn)

    async def _run(self, arn: str) -> None:
        while (stream := self.store.streams.get(arn)) is not None and stream.status == "ACTIVE":
            event = self.events[arn]
            event.clear()
            try:
                wait = await self._cycle(stream)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a delivery loop must outlive a bad batch
                log.exception("firehose %s: delivery failed", stream.name)
                wait = RETRY_SECONDS
            if wait <= 0:
                await asyncio.sleep(0)  # a backlog drains without starving the server
                continue
            try:
                await asyncio.wait_for(event.wait(), timeout=min(wait, IDLE))
            except TimeoutError:
                pass

    # -- which lanes are due -------------------------------------------------------------

    def _hints(self, stream: DeliveryStream, lane: str) -> tuple[int, float]:
        if lane == "in":
            steps = self.plan(stream)
            return steps.buffer_bytes, steps.buffer_seconds * SCALE
        config = stream.config
        if lane == "backup":
            config = config.get("S3BackupDescription") or stream.s3
        hints = config["BufferingHints"]
        return int(hints["SizeInMBs"] * MB), hints["IntervalInSeconds"] * SCALE

    async def _cycle(self, stream: DeliveryStream) -> float:
        """Flush what is due; seconds until something else will be."""
        soonest = IDLE
        for (lane, part), waiting in list(self.store.waiting(stream.arn).items()):
            now = clock.time()
            limit, interval = self._hints(stream, lane)
            retry = self.retries.get((stream.arn, lane, part))
            if retry is not None and retry.at > now:
                soonest = min(soonest, retry.at - now)
                continue
            due = waiting.oldest + interval
            if retry is None and waiting.size < limit and now < due:
                soonest = min(soonest, due - now)
                continue
            await self._flush(stream, lane, part, limit)
            current = self.store.streams.get(stream.arn)
            if current is None or current.status != "ACTIVE":
                return IDLE
            stream = current
            soonest = 0.0
        return soonest

    async def _flush(self, stream: DeliveryStream, lane: str, part: str, limit: int) -> None:
        batch = self.store.take(stream.arn, lane, part, limit)
        if not batch:
            self.store.recount(stream.arn, lane, part)
            return
        if lane == "in":
            await self._transform(stream, batch)
            return
        key = (stream.arn, lane, part)
        retry = self.retries.get(key) or Retry(first=clock.time())
        ack_latency = None
        try:
            if lane == "out" and stream.kind == "HttpEndpoint":
                delimiter = self.plan(stream).delimiter
                data = [b.data for b in batch]
                await http_endpoint.post(stream, data, retry.request_id, delimiter)
            elif lane == "out" and stream.kind == "Splunk":
                timeout = stream.config["HECAcknowledgmentTimeoutInSeconds"] * SCALE
                records = [b.data for b in batch]
                delimiter = self.plan(stream).delimiter
                ack_latency = await splunk.deliver(stream, records, delimiter, timeout, ACK_POLL)
            elif lane == "out":
                await self._to_s3(stream, part, batch)
            elif lane == "failed":
                await self._errors_to_s3(stream, part, batch)
            else:
                await self._backup(stream, batch)
        except objects.DeliveryError as err:
            await self._failed(stream, (lane, part), batch, err, retry)
            return
        except prefixes.MissingKey as missing:
            self._unkeyed(stream, part, batch, str(missing))
            return
        self.retries.pop(key, None)
        with self.store.transaction():
            self.store.remove(stream.arn, lane, part, [b.seq for b in batch])
        self._delivered(stream, lane, batch)
        if ack_latency is not None:
            self.meter.add(stream, DeliveryToSplunk_DataAckLatency=ack_latency)

    # -- the work -------------------------------------------------------------------------

    async def _transform(self, stream: DeliveryStream, batch: list[Buffered]) -> None:
        steps = self.plan(stream)
        partitioned = (stream.config.get("DynamicPartitioningConfiguration") or {}).get("Enabled")
        keys = (
            prefixes.partition_keys_used(stream.config, partitioning.LAMBDA) if partitioned else []
        )
        started = clock.monotonic()
        if steps.lambda_arn is None:  # the processor was removed: the records go on as they are
            rows = [Row("out", "", b.record_id, b.arrival, b.data) for b in batch]
        else:
            rows = await transform(self.env, stream, steps, batch, keys, RETRY_SECONDS)
        if partitioned and steps.query is not None:
            rows = self._by_query(stream, steps.query, rows)
        ok = [r for r in rows if r.lane == "out"]
        self.meter.add(
            stream,
            ExecuteProcessing_Duration=(clock.monotonic() - started) * 1000,
            ExecuteProcessing_Success=0 if len(rows) > len(ok) else 1,
            SucceedProcessing_Records=len(ok),
            SucceedProcessing_Bytes=sum(len(r.data) for r in ok),
        )
        if self.store.streams.get(stream.arn) is None:
            return
        with self.store.transaction():
            self.store.add(stream.arn, rows, clock.time())
            self.store.remove(stream.arn, "in", "", [b.seq for b in batch])

    def _unkeyed(self, stream: DeliveryStream, part: str, batch: list[Buffered], key: str) -> None:
        """Records keyed before an update changed the prefix's keys: error records."""
        message = f"The record has no value for the prefix's partition key {key}."
        rows = [
            failed_row(b.record_id, b.arrival, b.data, partitioning.FAILED, message) for b in batch
        ]
        with self.store.transaction():
            self.store.add(stream.arn, rows, clock.time())
            self.store.remove(stream.arn, "out", part, [b.seq for b in batch])

    def _by_query(self, stream: DeliveryStream, query: str, rows: list[Row]) -> list[Row]:
        """Transformed records keyed by the MetadataExtraction query as well (what it
        cannot key goes to the error prefix)."""
        names = prefixes.partition_keys_used(stream.config, partitioning.QUERY)
        started = clock.monotonic()
        out: list[Row] = []
        for row in rows:
            if row.lane != "out":
                out.append(row)
                continue
            try:
                keys = partitioning.extract(query, row.data, names)
            except partitioning.ExtractionFailed as err:
                out.append(failed_row(row.record_id, row.arrival, row.data, err.code, err.message))
                continue
            out.append(row._replace(part=partitioning.merged(row.part, keys)))
        self.meter.add(stream, JQProcessing_Duration=(clock.monotonic() - started) * 1000)
        return out

    async def _to_s3(self, stream: DeliveryStream, part: str, batch: list[Buffered]) -> None:
        config = stream.config
        when = objects.moment(min(b.arrival for b in batch), config)
        partitioned = bool((config.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        keys = json.loads(part) if part else {}
        prefix = prefixes.object_prefix(config, when, keys, partitioning=partitioned)
        key = objects.object_key(prefix, stream, when, objects.extension(config))
        compression = config.get("CompressionFormat") or "UNCOMPRESSED"
        data = objects.body([b.data for b in batch], compression, self.plan(stream).delimiter, key)
        await objects.put(self.env, stream, config, key, data)

    async def _errors_to_s3(self, stream: DeliveryStream, part: str, batch: list[Buffered]) -> None:
        config = stream.s3
        when = objects.moment(min(b.arrival for b in batch), config)
        prefix = prefixes.error_prefix(config, when, part)
        key = objects.object_key(prefix, stream, when, objects.extension(config, own=False))
        compression = config.get("CompressionFormat") or "UNCOMPRESSED"
        data = objects.body(objects.error_lines(batch), compression, None, key)
        await objects.put(self.env, stream, config, key, data)

    async def _backup(self, stream: DeliveryStream, batch: list[Buffered]) -> None:
        config = stream.config.get("S3BackupDescription") or stream.s3
        when = objects.moment(min(b.arrival for b in batch), stream.config)
        prefix = prefixes.object_prefix(config, when, {}, partitioning=False)
        key = objects.object_key(prefix, stream, when, objects.extension(config, own=False))
        compression = config.get("CompressionFormat") or "UNCOMPRESSED"
        data = objects.body([b.data for b in batch], compression, None, key)
        await objects.put(self.env, stream, config, key, data)

    def _delivered(self, stream: DeliveryStream, lane: str, batch: list[Buffered]) -> None:
        size = sum(len(b.data) for b in batch)
        if lane == "backup":
            self.meter.add(
                stream, BackupToS3_Records=len(batch), BackupToS3_Bytes=size, BackupToS3_Success=1
            )
            return
        if lane != "out":
            return
        target = stream.kind if stream.kind in ENDPOINTS else "S3"
        freshness = clock.time() - min(b.arrival for b in batch)
        self.meter.add(
            stream,
            **{
                f"DeliveryTo{target}_Records": len(batch),
                f"DeliveryTo{target}_Bytes": size,
                f"DeliveryTo{target}_Success": 1,
                f"DeliveryTo{target}_DataFreshness": freshness,
            },
        )

    # -- failures -------------------------------------------------------------------------

    async def _failed(
        self,
        stream: DeliveryStream,
        where: tuple[str, str],
        batch: list[Buffered],
        err: objects.DeliveryError,
        retry: Retry,
    ) -> None:
        lane, part = where
        key = (stream.arn, lane, part)
        now = clock.time()
        retry.attempts += 1
        http = lane == "out" and stream.kind in ENDPOINTS
        if http and stream.kind == "Splunk" and retry.attempts == 1:
            retry.first = now  # Splunk's retry duration starts when the first attempt fails
        target = stream.kind if http else "S3"
        self.meter.add(stream, **{f"DeliveryTo{target}_Success": 0})
        target_id = stream.s3["BucketARN"]
        if http:
            config = stream.config
            target_id = config.get("HECEndpoint") or config["EndpointConfiguration"]["Url"]
        log.info("firehose %s: delivery to %s failed: %s", stream.name, target_id, err.code)
        await log_error(
            self.env,
            stream,
            stream.config.get("CloudWatchLoggingOptions"),
            destination=target_id,
            message=err.message,
            errorCode=err.code,
        )
        limit = stream.config["RetryOptions"]["DurationInSeconds"] if http else S3_GIVE_UP
        if not err.permanent and now - retry.first < limit:
            retry.at = now + min(RETRY_SECONDS * 2 ** (retry.attempts - 1), 60.0)
            self.retries[key] = retry
            return
        self.retries.pop(key, None)
        rows: list[Row] = []
        if http and not err.permanent:
            meta = {
                "attemptsMade": retry.attempts,
                "errorCode": err.code,
                "errorMessage": err.message,
                "attemptEndingTimestamp": int(now * 1000),
            }
            kind = ENDPOINTS[stream.kind]
            rows = [
                Row("failed", kind, b.record_id, b.arrival, b.data, {**meta, **_ids(stream, b)})
                for b in batch
            ]
        else:
            log.warning(
                "firehose %s: gave up on %d records after %d attempts (%s)",
                stream.name,
                len(batch),
                retry.attempts,
                err.code,
            )
        with self.store.transaction():
            self.store.add(stream.arn, rows, now)
            self.store.remove(stream.arn, lane, part, [b.seq for b in batch])


def _ids(stream: DeliveryStream, row: Buffered) -> dict[str, Any]:
    """What identifies a record in an endpoint's error record (the guide's examples)."""
    if stream.kind == "Splunk":
        return {"EventId": f"{row.record_id}.0"}
    return {"subsequenceNumber": 0, "dataId": row.record_id}
