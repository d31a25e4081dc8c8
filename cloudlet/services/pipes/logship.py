"""Where pipe execution logs go: CloudWatch Logs, Firehose and S3, through their own APIs.

Why a queue and one worker: a pipe's execution hands its records over when it is done
and goes on at once; one background task writes them, in the order the executions
ended, through the destination services' operations as any client would
(``ServiceEnv.call``): CloudWatch Logs' PutLogEvents, Firehose's PutRecordBatch, S3's
PutObject. A destination that refuses (a log group, stream or bucket that is not there)
costs only its records: it never slows or fails the pipe, as on AWS, where log delivery
is best-effort. A full queue (``QUEUE_LIMIT`` executions behind) drops what does not
fit, logged.

The shapes, where AWS's documentation is silent (cloudlet's choices):

- CloudWatch Logs: one log stream per pipe, named after the pipe, created when
  missing; each record one log event at its ``timestamp``.
- Firehose: each record one Firehose record, its JSON and a newline.
- S3: records gathered per pipe and destination and written as one object every
  ``S3_SECONDS`` (``CLOUDLET_PIPES_LOG_S3_SECONDS``, default 60) and when the server
  stops, at ``<Prefix>/<pipe>/yyyy/MM/dd/HH/<pipe>_<yyyyMMddTHHmmssZ>_<id>.log``
  (``ExpectedBucketOwner`` the ``BucketOwner``); ``OutputFormat`` ``json`` writes a
  record a line, ``plain`` each record's fields space-separated, ``w3c`` the same
  fields under ``#Version``/``#Fields`` headers (``-`` for absent fields, values with
  spaces as JSON strings).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.background import cancelled
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.services.pipes.execlog import json_text
from cloudlet.services.pipes.model import where

log = logging.getLogger(__name__)
Doc = dict[str, Any]

S3_SECONDS = seconds_setting("CLOUDLET_PIPES_LOG_S3_SECONDS", 60, low=0.1, high=3600)
QUEUE_LIMIT = 10_000
PUT_LOG_BYTES = 1_048_576
FIREHOSE_BATCH = 500
FIELDS = (
    "executionId",
    "timestamp",
    "messageType",
    "resourceArn",
    "logLevel",
    "payload",
    "awsRequest",
    "awsResponse",
    "truncatedFields",
    "error",
)


class Shipper:
    """Writes the execution logs of one server's pipes to their destinations."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.queue: asyncio.Queue[tuple[str, str, Doc, list[Doc]]] | None = None
        self.worker: asyncio.Task | None = None
        self.streams: set[tuple[str, str]] = set()
        self.s3: dict[tuple[str, str, str, str, str, str], list[Doc]] = {}

    def start(self) -> None:
        self.queue = asyncio.Queue(QUEUE_LIMIT)
        self.worker = asyncio.get_running_loop().create_task(self._work(), name="pipes-logs")
        self.env.every(S3_SECONDS, self.flush_s3, "pipes-logs-s3")

    async def close(self) -> None:
        if self.queue is not None:
            while not self.queue.empty():
                await self._ship(*self.queue.get_nowait())
        if self.worker is not None:
            await cancelled([self.worker])
        await self.flush_s3()

    def ship(self, name: str, region: str, config: Doc, records: list[Doc]) -> None:
        """Hand over an execution's records (at once: the pipe does not wait)."""
        if not records or self.queue is None:
            return
        try:
            self.queue.put_nowait((name, region, config, records))
        except asyncio.QueueFull:
            log.warning("pipes: execution logs of %s dropped: too many behind", name)

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            item = await self.queue.get()
            try:
                await self._ship(*item)
            except Exception:  # noqa: BLE001 - a log writer must outlive a bad write
                log.exception("pipes: writing execution logs failed")

    async def _ship(self, name: str, region: str, config: Doc, records: list[Doc]) -> None:
        group = (config.get("CloudwatchLogsLogDestination") or {}).get("LogGroupArn")
        if group:
            await self._to_logs(group, name, records)
        stream = (config.get("FirehoseLogDestination") or {}).get("DeliveryStreamArn")
        if stream:
            await self._to_firehose(stream, records)
        bucket = config.get("S3LogDestination") or {}
        if bucket.get("BucketName"):
            key = (
                name,
                region,
                bucket["BucketName"],
                bucket.get("BucketOwner") or "",
                bucket.get("Prefix") or "",
                bucket.get("OutputFormat") or "json",
            )
            self.s3.setdefault(key, []).extend(records)

    async def _call(self, service: str, operation: str, params: Doc, arn: str) -> Doc | None:
        account, region = where(arn)
        try:
            return await self.env.call(service, operation, params, account=account, region=region)
        except ServiceError as exc:
            log.info("pipes: %s %s for execution logs failed: %s", service, operation, exc.code)
            return None

    # -- CloudWatch Logs ----------------------------------------------------------------

    async def _to_logs(self, arn: str, name: str, records: list[Doc]) -> None:
        group = arn.split(":log-group:", 1)[1].removesuffix(":*")
        if (arn, name) not in self.streams:
            account, region = where(arn)
            try:
                await self.env.call(
                    "logs",
                    "CreateLogStream",
                    {"logGroupName": group, "logStreamName": name},
                    account=account,
                    region=region,
                )
            except ServiceError as exc:
                if exc.code != "ResourceAlreadyExistsException":
                    log.info("pipes: no log stream for execution logs in %s: %s", group, exc.code)
                    return
            self.streams.add((arn, name))
        batch: list[Doc] = []
        size = 0
        for record in records:
            message = json_text(record)
            cost = len(message.encode()) + 26
            if batch and size + cost > PUT_LOG_BYTES:
                await self._put_logs(arn, group, name, batch)
                batch, size = [], 0
            batch.append({"timestamp": record["timestamp"], "message": message})
            size += cost
        if batch:
            await self._put_logs(arn, group, name, batch)

    async def _put_logs(self, arn: str, group: str, stream: str, events: list[Doc]) -> None:
        params = {"logGroupName": group, "logStreamName": stream, "logEvents": events}
        if await self._call("logs", "PutLogEvents", params, arn) is None:
            self.streams.discard((arn, stream))

    # -- Firehose -----------------------------------------------------------------------

    async def _to_firehose(self, arn: str, records: list[Doc]) -> None:
        name = arn.split(":", 5)[5].split("/", 1)[1]
        for start in range(0, len(records), FIREHOSE_BATCH):
            data = [
                {"Data": (json_text(r) + "\n").encode()}
                for r in records[start : start + FIREHOSE_BATCH]
            ]
            params = {"DeliveryStreamName": name, "Records": data}
            await self._call("firehose", "PutRecordBatch", params, arn)

    # -- S3 -----------------------------------------------------------------------------

    async def flush_s3(self) -> None:
        """Write each buffered S3 destination's records as one object."""
        pending, self.s3 = self.s3, {}
        for (name, region, bucket, owner, prefix, fmt), records in pending.items():
            now = datetime.now(UTC)
            folder = f"{prefix.rstrip('/')}/" if prefix else ""
            key = (
                f"{folder}{name}/{now:%Y/%m/%d/%H}/"
                f"{name}_{now:%Y%m%dT%H%M%SZ}_{uuid.uuid4().hex[:16]}.log"
            )
            params: Doc = {"Bucket": bucket, "Key": key, "Body": render(records, fmt)}
            if owner:
                params["ExpectedBucketOwner"] = owner
            account = owner or "000000000000"
            await self._call("s3", "PutObject", params, f"arn:aws:s3:{region}:{account}:")


def render(records: list[Doc], fmt: str) -> bytes:
    """``records`` as an S3 log object in ``OutputFormat`` ``fmt``."""
    if fmt == "json":
        return "".join(json_text(r) + "\n" for r in records).encode()
    lines = [" ".join(_value(r.get(f)) for f in FIELDS) for r in records]
    if fmt == "w3c":
        lines = ["#Version: 1.0", "#Fields: " + " ".join(FIELDS), *lines]
    return ("\n".join(lines) + "\n").encode()


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json_text(value)
    text = str(value)
    return json.dumps(text) if (not text or any(c.isspace() for c in text)) else text
