"""Kinesis and DynamoDB streams as pipe sources: the shard poller, retries and the
dead-letter queue.

Why one loop over every shard: a pipe reads each shard in order and keeps its place in
each on its own (``pipe.position["shards"]``: shard id -> last delivered sequence
number, whether the shard is finished), written with the pipe, so a restart resumes
every shard where it was. It reads through the streams' own operations (Kinesis
ListShards/GetShardIterator/GetRecords, DynamoDB Streams DescribeStream/GetShardIterator/
GetRecords), as any consumer would, four times a second when idle. After a Kinesis
reshard a child shard is read only once its parents are finished, from its start;
shards already closed when a ``LATEST`` pipe started are passed over.

Batches (the user guide's Kinesis and DynamoDB source pages, "error handling"): up to
``BatchSize`` records, gathered for at most ``MaximumBatchingWindowInSeconds``; records
no filter matches are passed over. A batch that fails (enrichment or target) is retried
from its first failed record; with ``OnPartialBatchItemFailure: AUTOMATIC_BISECT`` it is
halved and each half retried. Once ``MaximumRetryAttempts`` or
``MaximumRecordAgeInSeconds`` is spent (-1: never, the default) the records are skipped
and described to the ``DeadLetterConfig`` queue or topic. The description is cloudlet's
choice, as the guide does not show one: Lambda's on-failure record for streams
(``requestContext`` with the condition and attempts, and ``KinesisBatchInfo`` or
``DDBStreamBatchInfo`` naming the shard and sequence range), ``pipeArn`` in place of a
function's ARN.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.source_records import list_shards, note_shards, ready_shards
from cloudlet.services.pipes.filters import matches
from cloudlet.services.pipes.model import Pipe, queue_url, where
from cloudlet.services.pipes.records import (
    arrival_of,
    dynamodb_record,
    kinesis_record,
    sequence_of,
)

if TYPE_CHECKING:
    from cloudlet.services.pipes.runner import Runner

log = logging.getLogger(__name__)
Doc = dict[str, Any]
POLL_SECONDS = 0.25
LIST_SECONDS = 5.0
RETRY_SECONDS = seconds_setting("CLOUDLET_PIPES_RETRY_SECONDS", 0.5, high=60)


def stream_parameters(pipe: Pipe) -> Doc:
    key = "KinesisStreamParameters" if pipe.kind == "kinesis" else "DynamoDBStreamParameters"
    return pipe.source_parameters.get(key) or {}


class StreamReader:
    """One pipe's poller of its stream source."""

    def __init__(self, runner: Runner, pipe: Pipe) -> None:
        self.runner = runner
        self.arn = pipe.arn
        self.kinesis = pipe.kind == "kinesis"
        self.source = pipe.source
        self.account, self.region = where(pipe.source)

    @property
    def pipe(self) -> Pipe | None:
        return self.runner.store.get(self.arn)

    async def _call(self, operation: str, params: Doc) -> Doc:
        service = "kinesis" if self.kinesis else "dynamodbstreams"
        return await self.runner.env.call(
            service, operation, params, account=self.account, region=self.region
        )

    async def run(self) -> None:
        iterators: dict[str, str] = {}
        pending: dict[str, list[Doc]] = {}
        first_seen: dict[str, float] = {}
        listed = 0.0
        shards: list[Doc] = []
        while (pipe := self.pipe) is not None:
            if time.monotonic() - listed > LIST_SECONDS or not iterators:
                shards = await self._shards()
                listed = time.monotonic()
                self._note_shards(pipe, shards)
            state = pipe.position["shards"]
            busy = False
            for sid, mine in ready_shards(shards, state):
                if sid not in iterators:
                    iterators[sid] = await self._iterator(pipe, sid, mine)
                try:
                    res = await self._call(
                        "GetRecords", {"ShardIterator": iterators[sid], "Limit": 1000}
                    )
                except ServiceError as exc:
                    if exc.code == "ExpiredIteratorException":
                        iterators.pop(sid)
                        continue
                    raise
                got = [self._shape(r, sid, pipe) for r in res.get("Records") or []]
                patterns = self.runner.patterns(pipe)
                got = [r for r in got if matches(patterns, r)]
                batch = pending.setdefault(sid, [])
                if got and not batch:
                    first_seen[sid] = time.monotonic()
                batch += got
                ended = "NextShardIterator" not in res
                if not ended:
                    iterators[sid] = res["NextShardIterator"]
                busy = busy or bool(res.get("Records"))
                await self._flush(sid, pending, first_seen, ended)
                if ended and not pending.get(sid) and (pipe := self.pipe) is not None:
                    pipe.position["shards"][sid]["finished"] = True
                    self.runner.store.save(pipe)
                    iterators.pop(sid, None)
                    listed = 0.0
            if not busy:
                await asyncio.sleep(POLL_SECONDS)

    def _shape(self, raw: Doc, sid: str, pipe: Pipe) -> Doc:
        if self.kinesis:
            return kinesis_record(raw, sid, self.source, pipe.role_arn)
        return dynamodb_record(raw, self.source)

    async def _shards(self) -> list[Doc]:
        if not self.kinesis:
            out = await self._call("DescribeStream", {"StreamArn": self.source})
            return out["StreamDescription"].get("Shards") or []
        return await list_shards(self._call, self.source)

    def _note_shards(self, pipe: Pipe, shards: list[Doc]) -> None:
        """Remember the shards seen for the first time (``note_shards``) and save them."""
        start = stream_parameters(pipe).get("StartingPosition", "LATEST")
        if note_shards(pipe.position, shards, start):
            self.runner.store.save(pipe)

    async def _iterator(self, pipe: Pipe, sid: str, mine: Doc) -> str:
        stream_key = "StreamARN" if self.kinesis else "StreamArn"
        params: Doc = {stream_key: self.source, "ShardId": sid}
        if mine.get("checkpoint"):
            seq_key = "StartingSequenceNumber" if self.kinesis else "SequenceNumber"
            params.update(
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", seq_key: mine["checkpoint"]}
            )
        else:
            params["ShardIteratorType"] = mine["start"]
            if mine["start"] == "AT_TIMESTAMP":
                params["Timestamp"] = stream_parameters(pipe).get("StartingPositionTimestamp")
        return (await self._call("GetShardIterator", params))["ShardIterator"]

    async def _flush(
        self, sid: str, pending: dict[str, list[Doc]], first_seen: dict[str, float], ended: bool
    ) -> None:
        """Deliver the shard's pending records in batches while a batch is due."""
        while pending.get(sid) and (pipe := self.pipe) is not None:
            params = stream_parameters(pipe)
            size = params.get("BatchSize", 100)
            window = params.get("MaximumBatchingWindowInSeconds", 0)
            queued = pending[sid]
            due = len(queued) >= size or ended or time.monotonic() - first_seen[sid] >= window
            if not due:
                return
            batch, pending[sid] = queued[:size], queued[size:]
            await self._deliver(batch, sid)
            if (pipe := self.pipe) is None:
                return
            pipe.position["shards"][sid]["checkpoint"] = sequence_of(batch[-1])
            self.runner.store.save(pipe)
            first_seen[sid] = time.monotonic()

    async def _deliver(self, records: list[Doc], sid: str) -> None:
        """One batch through the pipe, with retries and bisection; records given up on
        are described to the dead-letter queue."""
        parts = [records]
        while parts:
            part = parts.pop(0)
            attempts = 0
            while part and (pipe := self.pipe) is not None:
                failed = await self.runner.process(pipe, part)
                if not failed:
                    break
                part = part[min(failed) :]
                attempts += 1
                params = stream_parameters(pipe)
                retries = params.get("MaximumRetryAttempts", -1)
                age = params.get("MaximumRecordAgeInSeconds", -1)
                oldest = arrival_of(part[0]) or time.time()
                condition = None
                if retries != -1 and attempts > retries:
                    condition = "RetryAttemptsExhausted"
                elif age != -1 and time.time() - oldest > age:
                    condition = "RecordAgeExceeded"
                if condition:
                    await self._dead_letter(pipe, part, sid, attempts, condition)
                    break
                if params.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT" and len(part) > 1:
                    half = len(part) // 2
                    parts[:0] = [part[:half], part[half:]]
                    break
                await asyncio.sleep(RETRY_SECONDS)

    async def _dead_letter(
        self, pipe: Pipe, part: list[Doc], sid: str, attempts: int, condition: str
    ) -> None:
        target = (stream_parameters(pipe).get("DeadLetterConfig") or {}).get("Arn")
        log.info("pipe %s gave up on %d records of %s (%s)", pipe.name, len(part), sid, condition)
        if not target:
            return

        def when(seconds: float | None) -> str:
            return datetime.fromtimestamp(seconds or time.time(), UTC).isoformat()

        first, last = part[0], part[-1]
        info = "KinesisBatchInfo" if self.kinesis else "DDBStreamBatchInfo"
        body = json.dumps(
            {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "pipeArn": pipe.arn,
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                info: {
                    "shardId": sid,
                    "startSequenceNumber": sequence_of(first),
                    "endSequenceNumber": sequence_of(last),
                    "approximateArrivalOfFirstRecord": when(arrival_of(first)),
                    "approximateArrivalOfLastRecord": when(arrival_of(last)),
                    "batchSize": len(part),
                    "streamArn": self.source,
                },
            }
        )
        account, region = where(target)
        try:
            if target.split(":")[2] == "sqs":
                params = {"QueueUrl": queue_url(target), "MessageBody": body}
                await self.runner.env.call(
                    "sqs", "SendMessage", params, account=account, region=region
                )
            else:
                params = {"TopicArn": target, "Message": body}
                await self.runner.env.call("sns", "Publish", params, account=account, region=region)
        except (ServiceError, NotImplementedOperation):
            log.warning("pipe %s: dead-letter queue %s refused", pipe.name, target)
