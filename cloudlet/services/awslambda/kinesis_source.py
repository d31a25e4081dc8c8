"""Kinesis streams as event sources: Lambda's shard poller for a mapping.

Why one loop over every shard: a Kinesis mapping reads each shard in order and
checkpoints each on its own (``doc["shards"]``: shard id -> last delivered sequence
number, and whether the shard is finished), so a restart resumes every shard where it
was. It reads through the Kinesis operations themselves (``ListShards``,
``GetShardIterator``, ``GetRecords``), as any consumer would. After a reshard, a child
shard is read only once its parents are finished, from its start, so records of one
partition key reach the function in order; shards that were already closed when a
``LATEST`` mapping was created are passed over.

A mapping of an enhanced fan-out consumer reads the consumer's stream through the same
operations (AWS's poller subscribes with SubscribeToShard; what reaches the function is
the same records, in the same order), and its records name the stream as their
``eventSourceARN``, as on AWS.

Delivery (batch size, batching window, retries, bisection, partial batch failures,
record age, OnFailure) is the stream delivery ``mappings.py`` has for DynamoDB.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.core.source_records import (
    kinesis_data,
    kinesis_envelope,
    list_shards,
    note_shards,
    ready_shards,
)
from cloudlet.services.awslambda import filters

Doc = dict[str, Any]
POLL_SECONDS = 0.25
LIST_SECONDS = 5.0
"""How often an idle mapping looks for new shards (after a reshard)."""


def stream_of(arn: str) -> str:
    """The stream's ARN of a stream or consumer ARN (``.../stream/s/consumer/c:123``)."""
    return arn.partition("/consumer/")[0]


def kinesis_record(raw: Doc, shard: str, doc: Doc) -> Doc:
    """A GetRecords record as the function receives it (its fields under ``kinesis``)."""
    stream = stream_of(doc["EventSourceArn"])
    return {
        "kinesis": kinesis_data(raw),
        **kinesis_envelope(raw, shard, stream, doc.get("role", "")),
    }


class KinesisPoller:
    """The Kinesis poller (mixed into the service with ``EventSourceMappingOps``)."""

    env: Any
    _esms: dict[str, Doc]

    _save_esm: Callable[[Doc], None]

    _deliver_stream: Callable[[Doc, list[Doc], str], Awaitable[None]]

    async def _poll_kinesis(self, mapping_id: str) -> None:
        doc = self._esms[mapping_id]
        arn = stream_of(doc["EventSourceArn"])
        account, region = arn.split(":")[4], arn.split(":")[3]

        async def kinesis(operation: str, params: Doc) -> Doc:
            return await self.env.call("kinesis", operation, params, account=account, region=region)

        iterators: dict[str, str] = {}
        pending: dict[str, list[Doc]] = {}
        first_seen: dict[str, float] = {}
        listed = 0.0
        shards: list[Doc] = []
        while True:
            doc = self._esms[mapping_id]
            if time.monotonic() - listed > LIST_SECONDS or not iterators:
                shards = await list_shards(kinesis, arn)
                listed = time.monotonic()
                self._note_shards(doc, shards)
            state = doc["shards"]
            busy = False
            for sid, mine in ready_shards(shards, state):
                if sid not in iterators:
                    iterators[sid] = await self._iterator(kinesis, arn, sid, mine, doc)
                try:
                    res = await kinesis(
                        "GetRecords", {"ShardIterator": iterators[sid], "Limit": 1000}
                    )
                except ServiceError as exc:
                    if exc.code == "ExpiredIteratorException":
                        iterators.pop(sid)
                        continue
                    raise
                got = [kinesis_record(r, sid, doc) for r in res.get("Records") or []]
                wanted = filters.compile_filters(doc.get("FilterCriteria"), sqs=False, kinesis=True)
                if wanted is not None:
                    got = [r for r in got if wanted.matches(r)]
                batch = pending.setdefault(sid, [])
                if got and not batch:
                    first_seen[sid] = time.monotonic()
                batch += got
                ended = "NextShardIterator" not in res
                if not ended:
                    iterators[sid] = res["NextShardIterator"]
                busy = busy or bool(res.get("Records"))
                await self._flush(mapping_id, sid, pending, first_seen, ended)
                if ended and not pending.get(sid):
                    doc = self._esms[mapping_id]
                    doc["shards"][sid]["finished"] = True
                    self._save_esm(doc)
                    iterators.pop(sid, None)
                    listed = 0.0
            if not busy:
                await asyncio.sleep(POLL_SECONDS)

    async def _flush(
        self,
        mapping_id: str,
        sid: str,
        pending: dict[str, list[Doc]],
        first_seen: dict[str, float],
        ended: bool,
    ) -> None:
        """Deliver the shard's pending records in batches while a batch is due."""
        while pending.get(sid):
            doc = self._esms[mapping_id]
            size, window = doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"]
            queued = pending[sid]
            due = len(queued) >= size or ended or time.monotonic() - first_seen[sid] >= window
            if not due:
                return
            batch, pending[sid] = queued[:size], queued[size:]
            await self._deliver_stream(doc, batch, sid)
            doc = self._esms.get(mapping_id, doc)
            doc["shards"][sid]["checkpoint"] = batch[-1]["kinesis"]["sequenceNumber"]
            self._save_esm(doc)
            first_seen[sid] = time.monotonic()

    def _note_shards(self, doc: Doc, shards: list[Doc]) -> None:
        """Remember the shards seen for the first time (``note_shards``) and save them."""
        if note_shards(doc, shards, doc["StartingPosition"]):
            self._save_esm(doc)

    @staticmethod
    async def _iterator(kinesis: Any, arn: str, sid: str, mine: Doc, doc: Doc) -> str:
        params: Doc = {"StreamARN": arn, "ShardId": sid}
        if mine.get("checkpoint"):
            params.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=mine["checkpoint"]
            )
        else:
            params["ShardIteratorType"] = mine["start"]
            if mine["start"] == "AT_TIMESTAMP":
                params["Timestamp"] = doc["StartingPositionTimestamp"]
        return (await kinesis("GetShardIterator", params))["ShardIterator"]
