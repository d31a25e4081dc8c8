"""Kinesis data streams as delivery stream sources: the shard reader.

Why a reader per stream: a ``KinesisStreamAsSource`` delivery stream takes no
PutRecord; it reads its stream through Kinesis's own operations (ListShards,
GetShardIterator, GetRecords), in-process, as any consumer does (AWS polls each shard
once a second; cloudlet four times a second when idle, so tests wait less). It
starts where the guide and ``DeliveryStartTimestamp`` say: records that arrived from
the moment the delivery stream was created (``AT_TIMESTAMP``), so what was on the
stream before is left behind. After a reshard a child shard is read once its parents
are finished, from its start (``source_records.ready_shards``, shared with Lambda's
and Pipes' readers), so a key's records stay in order.

What a GetRecords returns is buffered (``IngestOps._accept``) in the same transaction that
moves the shard's checkpoint (``stream.position``), so a restart neither loses nor
repeats a record. Each record keeps its Kinesis metadata for the Lambda
transformation's ``kinesisRecordMetadata``. In strict mode the source role must allow
``kinesis:DescribeStream``, ``ListShards``, ``GetShardIterator`` and ``GetRecords`` on
the stream, or reading waits and retries, as on AWS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.source_records import list_shards, note_shards, ready_shards
from cloudlet.services.firehose.access import log_error, role_may
from cloudlet.services.firehose.model import DeliveryStream

log = logging.getLogger(__name__)
Doc = dict[str, Any]
POLL_SECONDS = 0.25
LIST_SECONDS = 5.0
ACTIONS = ("DescribeStream", "ListShards", "GetShardIterator", "GetRecords")


class KinesisReader:
    """One delivery stream's reader of its Kinesis source."""

    def __init__(self, service: Any, stream: DeliveryStream) -> None:
        self.service = service
        self.arn = stream.arn
        source = (stream.source or {})["KinesisStreamSourceDescription"]
        self.source = source["KinesisStreamARN"]
        self.role = source["RoleARN"]
        self.start = source["DeliveryStartTimestamp"]
        parts = self.source.split(":")
        self.account, self.region = parts[4], parts[3]

    @property
    def stream(self) -> DeliveryStream | None:
        found = self.service.store.streams.get(self.arn)
        return found if found is not None and found.status == "ACTIVE" else None

    async def _call(self, operation: str, params: Doc) -> Doc:
        return await self.service.env.call(
            "kinesis", operation, params, account=self.account, region=self.region
        )

    async def run(self) -> None:
        while self.stream is not None:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except (ServiceError, NotImplementedOperation) as err:
                log.info("firehose: reading %s failed: %s", self.source, err.message)
                if (stream := self.stream) is not None:
                    await log_error(
                        self.service.env,
                        stream,
                        stream.config.get("CloudWatchLoggingOptions"),
                        destination=self.source,
                        message=err.message,
                        errorCode=f"Kinesis.{err.code}",
                    )
            await asyncio.sleep(LIST_SECONDS)

    def _allowed(self) -> bool:
        env = self.service.env
        return all(role_may(env, self.role, f"kinesis:{a}", self.source) for a in ACTIONS)

    async def _read(self) -> None:
        iterators: dict[str, str] = {}
        listed = 0.0
        shards: list[Doc] = []
        while (stream := self.stream) is not None:
            if time.monotonic() - listed > LIST_SECONDS or not iterators:
                if not self._allowed():
                    raise ServiceError("AccessDenied", f"{self.role} may not read {self.source}")
                shards = await self._shards()
                listed = time.monotonic()
                self._note(stream, shards)
            busy = False
            for sid, mine in ready_shards(shards, stream.position["shards"]):
                if sid not in iterators:
                    iterators[sid] = await self._iterator(sid, mine)
                try:
                    res = await self._call(
                        "GetRecords", {"ShardIterator": iterators[sid], "Limit": 10000}
                    )
                except ServiceError as exc:
                    if exc.code == "ExpiredIteratorException":
                        iterators.pop(sid)
                        continue
                    raise
                records = res.get("Records") or []
                ended = "NextShardIterator" not in res
                if ended:
                    iterators.pop(sid, None)
                    listed = 0.0
                else:
                    iterators[sid] = res["NextShardIterator"]
                busy = busy or bool(records)
                if (stream := self.stream) is None:
                    return
                self._take(stream, sid, records, ended)
            await asyncio.sleep(0 if busy else POLL_SECONDS)

    def _take(self, stream: DeliveryStream, sid: str, records: list[Doc], ended: bool) -> None:
        mine = stream.position["shards"][sid]
        if records:
            mine["checkpoint"] = records[-1]["SequenceNumber"]
        if ended:
            mine["finished"] = True
        if not records and not ended:
            return
        incoming = []
        for raw in records:
            arrival = raw["ApproximateArrivalTimestamp"]
            seconds = arrival.timestamp() if hasattr(arrival, "timestamp") else float(arrival)
            meta = {
                "kinesis": {
                    "shardId": sid,
                    "partitionKey": raw["PartitionKey"],
                    "approximateArrivalTimestamp": int(seconds * 1000),
                    "sequenceNumber": raw["SequenceNumber"],
                    "subsequenceNumber": 0,
                }
            }
            incoming.append((bytes(raw["Data"]), seconds, raw["SequenceNumber"], meta))
        with self.service.store.transaction():
            self.service._accept(stream, incoming)
            self.service.store.save(stream)
        if records:
            size = sum(len(r[0]) for r in incoming)
            self.service.meter.add(
                stream,
                DataReadFromKinesisStream_Records=len(records),
                DataReadFromKinesisStream_Bytes=size,
            )

    async def _shards(self) -> list[Doc]:
        return await list_shards(self._call, self.source)

    def _note(self, stream: DeliveryStream, shards: list[Doc]) -> None:
        """Shards seen for the first time: the first ones from the delivery start time,
        later ones (a reshard's children) from their start (``note_shards``)."""
        if note_shards(stream.position, shards, "AT_TIMESTAMP"):
            self.service.store.save(stream)

    async def _iterator(self, sid: str, mine: Doc) -> str:
        params: Doc = {"StreamARN": self.source, "ShardId": sid}
        if mine.get("checkpoint"):
            params["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            params["StartingSequenceNumber"] = mine["checkpoint"]
        else:
            params["ShardIteratorType"] = mine["start"]
            if mine["start"] == "AT_TIMESTAMP":
                params["Timestamp"] = self.start
        return (await self._call("GetShardIterator", params))["ShardIterator"]
