"""PutRecord and PutRecordBatch: records in, durably, before the answer goes out.

Why here: the data plane is what producers (and, in-process, the services that deliver
to Firehose) call, and its promise is the API reference's: an answered record is kept
until delivered. ``_accept`` writes a batch's records to the service's database in one
transaction (``store.py``) and wakes the stream's delivery loop; Kinesis-sourced
streams use it too (``kinesis_source.py``).

Limits are AWS's: 1,000 KiB a record (the model's constraint, a
``ValidationException``), 500 records and 4 MiB a PutRecordBatch
(``InvalidArgumentException`` for the bytes). A stream that reads a Kinesis stream
refuses both operations with AWS's words; one that is not ACTIVE yet (or any more)
answers ``ResourceNotFoundException``. A stream that decompresses CloudWatch Logs
records (the ``Decompression`` processor) takes records only from CloudWatch Logs:
a client's put is refused with AWS's ``InvalidSourceException``, in-process puts (the
services that deliver to Firehose) are taken. Cloudlet never throttles, so a batch has
no failed entries and ``FailedPutCount`` is 0. ``Encrypted`` is whether server-side
encryption was ENABLED when the record was taken.

Records are unpacked as they are taken (``processing.unpack``) and, when no Lambda
function transforms them first, partitioned by the jq query of a ``MetadataExtraction``
processor (``partitioning.py``); what cannot be unpacked or partitioned is kept as an
error record for the error prefix.

Other services reach a delivery stream the way AWS's do, through this operation:
``env.call("firehose", "PutRecordBatch", {"DeliveryStreamName": name, "Records":
[{"Data": b"..."}]}, account=..., region=...)``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.base import InternalContext
from cloudlet.services.firehose import errors, partitioning, prefixes, validation
from cloudlet.services.firehose.model import DeliveryStream
from cloudlet.services.firehose.processing import Plan, Unpackable, unpack
from cloudlet.services.firehose.store import FirehoseStore, Row, failed_row

BATCH_BYTES = 4 * 1024 * 1024
BACKED_UP = ("Enabled", "AllData", "AllEvents")
"""Backup modes that keep every source record in the backup bucket."""
Incoming = tuple[bytes, float, str | None, dict[str, Any] | None]
"""(data, arrival, record id or None for a new one, metadata)."""


def data_of(record: dict[str, Any]) -> bytes:
    """A record's ``Data`` as bytes (an in-process caller may hand over text)."""
    value = record["Data"]
    return value.encode() if isinstance(value, str) else bytes(value)


def record_id() -> str:
    """An opaque id in the shape of AWS's (a long base64 string)."""
    return base64.b64encode(secrets.token_bytes(120)).decode()


class IngestOps:
    """The data plane (mixed into the service with the control plane)."""

    env: Any
    store: FirehoseStore
    deliveries: Any
    meter: Any
    _stream: Callable[[Any, str], DeliveryStream]

    def _writable(self, ctx: Any, name: str) -> DeliveryStream:
        stream = self._stream(ctx, name)
        if stream.type == "KinesisStreamAsSource":
            raise errors.invalid(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
            )
        if stream.status != "ACTIVE":
            raise errors.inactive(name, ctx.account_id, stream.status)
        if self.deliveries.plan(stream).decompress and not isinstance(ctx, InternalContext):
            raise errors.invalid_source()
        return stream

    def put_record(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        validation.check("PutRecord", params)
        stream = self._writable(ctx, params["DeliveryStreamName"])
        data = data_of(params["Record"])
        with self.store.transaction():
            (rid,) = self._accept(stream, [(data, clock.time(), None, None)])
        self.meter.add(
            stream,
            IncomingBytes=len(data),
            IncomingRecords=1,
            IncomingPutRequests=1,
            PutRecord_Bytes=len(data),
            PutRecord_Requests=1,
            PutRecord_Latency=(time.perf_counter() - started) * 1000,
        )
        return {"RecordId": rid, "Encrypted": stream.encrypted}

    def put_record_batch(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        validation.check("PutRecordBatch", params)
        stream = self._writable(ctx, params["DeliveryStreamName"])
        records = [data_of(r) for r in params["Records"]]
        size = sum(len(r) for r in records)
        if size > BATCH_BYTES:
            raise errors.invalid(
                f"The records of a PutRecordBatch total {size} bytes, over the limit of "
                f"{BATCH_BYTES} bytes (4 MiB)."
            )
        now = clock.time()
        with self.store.transaction():
            ids = self._accept(stream, [(r, now, None, None) for r in records])
        self.meter.add(
            stream,
            IncomingBytes=size,
            IncomingRecords=len(records),
            IncomingPutRequests=1,
            PutRecordBatch_Bytes=size,
            PutRecordBatch_Records=len(records),
            PutRecordBatch_Requests=1,
            PutRecordBatch_Latency=(time.perf_counter() - started) * 1000,
        )
        return {
            "FailedPutCount": 0,
            "Encrypted": stream.encrypted,
            "RequestResponses": [{"RecordId": rid} for rid in ids],
        }

    def _accept(self, stream: DeliveryStream, incoming: list[Incoming]) -> list[str]:
        """Buffer arriving records (call inside a transaction); their record ids."""
        steps = self.deliveries.plan(stream)
        backup = stream.config.get("S3BackupMode") in BACKED_UP
        lane = "in" if steps.lambda_arn else "out"
        names = self._query_keys(stream, steps) if lane == "out" else None
        started = time.perf_counter()
        rows: list[Row] = []
        ids: list[str] = []
        for data, arrival, given, meta in incoming:
            rid = given or record_id()
            ids.append(rid)
            if backup:
                rows.append(Row("backup", "", rid, arrival, data))
            try:
                parts = unpack(steps, data)
            except Unpackable as err:
                rows.append(failed_row(rid, arrival, data, err.code, err.message, err.kind))
                continue
            for i, piece in enumerate(parts):
                part_id = rid if len(parts) == 1 else f"{rid}.{i}"
                part = ""
                if names is not None:
                    try:
                        keys = partitioning.extract(steps.query or "", piece, names)
                    except partitioning.ExtractionFailed as err:
                        source = data if steps.decompress else piece
                        rows.append(failed_row(part_id, arrival, source, err.code, err.message))
                        continue
                    part = partitioning.part(keys)
                rows.append(Row(lane, part, part_id, arrival, piece, meta))
        if names is not None:
            self.meter.add(stream, JQProcessing_Duration=(time.perf_counter() - started) * 1000)
        self.store.add(stream.arn, rows, clock.time())
        self.deliveries.wake(stream.arn)
        return ids

    @staticmethod
    def _query_keys(stream: DeliveryStream, steps: Plan) -> list[str] | None:
        """The partition keys a jq query must give, None when records are not partitioned
        by a query."""
        partitioned = (stream.config.get("DynamicPartitioningConfiguration") or {}).get("Enabled")
        if not partitioned or steps.query is None:
            return None
        return prefixes.partition_keys_used(stream.config, partitioning.QUERY)
