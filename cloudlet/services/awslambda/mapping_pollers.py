"""Event source mappings' pollers: SQS queues and DynamoDB streams read and delivered.

Why a module of its own: the operations (``mappings.py``) say what a mapping is; this
is what a running one does, as AWS's poller does it. Each enabled mapping is one asyncio
task that reads its source through the internal client, exactly as a client would
(``ReceiveMessage``/``DeleteMessageBatch``, ``GetShardIterator``/``GetRecords``), and
invokes the function synchronously with AWS's event shapes.

- **SQS**: batches of up to ``BatchSize`` gathered for at most
  ``MaximumBatchingWindowInSeconds``. A batch whose invocation succeeds is
  deleted; with ``ReportBatchItemFailures`` only the messages not named in
  ``batchItemFailures`` are (an unparseable answer fails the whole batch, as
  AWS documents). A failed batch is left alone: its messages become visible
  again after the queue's visibility timeout, and the queue's own redrive
  policy moves them to its dead-letter queue.
- **DynamoDB Streams**: records from ``TRIM_HORIZON`` or ``LATEST``, in order,
  checkpointed (durably) after each batch. A failed batch is retried; with
  ``BisectBatchOnFunctionError`` it is split in two and each half retried;
  with ``ReportBatchItemFailures`` processing resumes at the first failed
  record. Once ``MaximumRetryAttempts`` or ``MaximumRecordAgeInSeconds`` is
  exhausted the batch is skipped and described to the ``OnFailure``
  destination (SQS or SNS), as AWS does.
- **Kinesis streams** (``kinesis_source.py``) are delivered by the same stream delivery.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.background import cancelled
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.source_records import jsonable, receive_batch, sqs_record
from cloudlet.services.awslambda import filters
from cloudlet.services.awslambda.kinesis_source import KinesisPoller, stream_of
from cloudlet.services.awslambda.recursion import TRACE_PARAM

log = logging.getLogger(__name__)
Doc = dict[str, Any]

POLL_SECONDS = 0.25
"""How often an idle stream mapping asks for new records (AWS: four times a second)."""
RETRY_SECONDS = 0.5


def _sequence(record: Doc) -> str:
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["dynamodb"]["SequenceNumber"]


def _arrival(record: Doc) -> float | None:
    """When a stream record arrived (epoch seconds), if it says."""
    if "kinesis" in record:
        return float(record["kinesis"]["approximateArrivalTimestamp"])
    when = record["dynamodb"].get("ApproximateCreationDateTime")
    return float(when) if when else None


def queue_url(arn: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    return f"http://localhost/{account}/{name}"


def where(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]


class MappingPollers(KinesisPoller):
    """The running side of event source mappings (mixed into the service)."""

    env: Any
    _esms: dict[str, Doc]
    _pollers: dict[str, asyncio.Task]
    _save_esm: Callable[[Doc], None]
    """Provided by ``EventSourceMappingOps``."""
    _recursion_filter: Callable[..., Coroutine[Any, Any, tuple[list[bool], str | None]]]
    """Provided by ``RecursionMixin``."""

    async def _halt(self, mapping_id: str) -> None:
        task = self._pollers.pop(mapping_id, None)
        if task is not None:
            await cancelled([task])

    def _run(self, doc: Doc) -> None:
        doc["State"] = "Enabled"
        self._save_esm(doc)
        poll = {"sqs": self._poll_sqs, "kinesis": self._poll_kinesis}.get(
            doc["kind"], self._poll_stream
        )
        self._pollers[doc["UUID"]] = asyncio.get_running_loop().create_task(
            self._guarded(poll, doc["UUID"]), name=f"lambda-esm-{doc['UUID']}"
        )

    async def _guarded(self, poll: Any, mapping_id: str) -> None:
        while mapping_id in self._esms:
            try:
                await poll(mapping_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a poller must survive a bad batch
                log.exception("event source mapping %s failed; polling on", mapping_id)
                await asyncio.sleep(RETRY_SECONDS)

    def _note(self, mapping_id: str, result: str) -> None:
        doc = self._esms.get(mapping_id)
        if doc is not None and doc.get("LastProcessingResult") != result:
            doc["LastProcessingResult"] = result
            self._save_esm(doc)

    async def _invoke(self, doc: Doc, event: Doc, trace: str | None = None) -> tuple[bool, Any]:
        """Invoke the mapping's function: (succeeded, parsed answer). ``trace``: the trace
        header the records came with (``recursion.py``)."""
        params: Doc = {
            "FunctionName": doc["FunctionArn"],
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(event).encode(),
        }
        if trace:
            params[TRACE_PARAM] = trace
        try:
            out = await self.env.call(
                "lambda", "Invoke", params, account=doc["account"], region=doc["region"]
            )
        except ServiceError as exc:
            log.info("mapping %s: invoke failed: %s", doc["UUID"], exc.code)
            self._note(doc["UUID"], f"PROBLEM: {exc.code}")
            await asyncio.sleep(RETRY_SECONDS)
            return False, None
        payload = out.get("Payload") or b""
        if hasattr(payload, "read"):
            payload = payload.read()
        if out.get("FunctionError"):
            self._note(doc["UUID"], "PROBLEM: Function call failed")
            return False, None
        self._note(doc["UUID"], "OK")
        try:
            return True, json.loads(payload) if payload else None
        except ValueError:
            return True, None

    @staticmethod
    def _failures(doc: Doc, answer: Any, ids: list[str]) -> set[str] | None:
        """Identifiers a ReportBatchItemFailures answer names; None: the whole batch failed."""
        if "ReportBatchItemFailures" not in doc["FunctionResponseTypes"]:
            return set()
        if not isinstance(answer, dict) or answer.get("batchItemFailures") is None:
            return set()
        failed = set()
        for item in answer["batchItemFailures"] or []:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not ident or ident not in ids:
                return None
            failed.add(ident)
        return failed

    async def _poll_sqs(self, mapping_id: str) -> None:
        doc = self._esms[mapping_id]
        account, region = where(doc["EventSourceArn"])
        url = queue_url(doc["EventSourceArn"])

        async def sqs(operation: str, params: Doc) -> Doc:
            return await self.env.call("sqs", operation, params, account=account, region=region)

        while True:
            doc = self._esms[mapping_id]
            size, window = doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"]
            batch = await receive_batch(sqs, url, size, window)
            records = [sqs_record(m, doc["EventSourceArn"]) for m in batch]
            wanted = filters.compile_filters(doc.get("FilterCriteria"), sqs=True)
            if wanted is not None:
                kept = [wanted.matches(r) for r in records]
                await self._delete(sqs, url, [m for m, k in zip(batch, kept, strict=True) if not k])
                batch = [m for m, k in zip(batch, kept, strict=True) if k]
                records = [r for r, k in zip(records, kept, strict=True) if k]
                if not batch:
                    continue
            kept, trace = await self._recursion_filter(doc, sqs, url, batch)
            if not all(kept):
                batch = [m for m, k in zip(batch, kept, strict=True) if k]
                records = [r for r, k in zip(records, kept, strict=True) if k]
                if not batch:
                    continue
            ok, answer = await self._invoke(doc, {"Records": records}, trace)
            if not ok:
                continue  # visible again after the visibility timeout; the queue redrives
            failed = self._failures(doc, answer, [m["MessageId"] for m in batch])
            if failed is None:
                continue
            await self._delete(sqs, url, [m for m in batch if m["MessageId"] not in failed])

    @staticmethod
    async def _delete(sqs: Any, url: str, messages: list[Doc]) -> None:
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages[start : start + 10])
            ]
            await sqs("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})

    # -- DynamoDB streams ---------------------------------------------------------

    async def _poll_stream(self, mapping_id: str) -> None:
        doc = self._esms[mapping_id]
        account, region = where(doc["EventSourceArn"])

        async def streams(operation: str, params: Doc) -> Doc:
            return await self.env.call(
                "dynamodbstreams", operation, params, account=account, region=region
            )

        described = await streams("DescribeStream", {"StreamArn": doc["EventSourceArn"]})
        shard = described["StreamDescription"]["Shards"][0]["ShardId"]
        params: Doc = {"StreamArn": doc["EventSourceArn"], "ShardId": shard}
        if doc.get("checkpoint"):
            params.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=doc["checkpoint"]
            )
        else:
            params["ShardIteratorType"] = doc["StartingPosition"]
        iterator = (await streams("GetShardIterator", params))["ShardIterator"]
        pending: list[Doc] = []
        first_seen = 0.0
        while True:
            doc = self._esms[mapping_id]
            res = await streams("GetRecords", {"ShardIterator": iterator, "Limit": 1000})
            iterator = res.get("NextShardIterator") or iterator
            got = [
                {**jsonable(r), "eventSourceARN": doc["EventSourceArn"]}
                for r in res.get("Records") or []
            ]
            wanted = filters.compile_filters(doc.get("FilterCriteria"), sqs=False)
            if wanted is not None:
                got = [r for r in got if wanted.matches(r)]
            if got and not pending:
                first_seen = time.monotonic()
            pending += got
            window = doc["MaximumBatchingWindowInSeconds"]
            full = len(pending) >= doc["BatchSize"]
            if pending and (full or time.monotonic() - first_seen >= window):
                batch, pending = pending[: doc["BatchSize"]], pending[doc["BatchSize"] :]
                await self._deliver_stream(doc, batch, shard)
                doc = self._esms.get(mapping_id, doc)
                doc["checkpoint"] = batch[-1]["dynamodb"]["SequenceNumber"]
                self._save_esm(doc)
                if pending:
                    first_seen = time.monotonic()
                continue
            if not got:
                await asyncio.sleep(POLL_SECONDS)

    async def _deliver_stream(self, doc: Doc, records: list[Doc], shard: str) -> None:
        """One batch to the function, with retries, bisection and partial failures;
        a batch given up on is described to the OnFailure destination."""
        parts = [records]
        while parts:
            part = parts.pop(0)
            attempts = 0
            while part:
                ok, answer = await self._invoke(doc, {"Records": part})
                if ok:
                    seqs = [_sequence(r) for r in part]
                    failed = self._failures(doc, answer, seqs)
                    if failed == set():
                        break
                    if failed:  # resume at the first failed record
                        first = min(seqs.index(s) for s in failed)
                        part = part[first:]
                attempts += 1
                retries = doc.get("MaximumRetryAttempts", -1)
                age = doc.get("MaximumRecordAgeInSeconds", -1)
                oldest = _arrival(part[0]) or time.time()
                if (retries != -1 and attempts > retries) or (
                    age != -1 and time.time() - oldest > age
                ):
                    await self._give_up(doc, part, shard, attempts)
                    break
                if doc.get("BisectBatchOnFunctionError") and len(part) > 1:
                    half = len(part) // 2
                    parts[:0] = [part[:half], part[half:]]
                    break
                await asyncio.sleep(RETRY_SECONDS)

    async def _give_up(self, doc: Doc, part: list[Doc], shard: str, attempts: int) -> None:
        target = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not target:
            return
        first, last = part[0], part[-1]

        def when(seconds: Any) -> str:
            return datetime.fromtimestamp(float(seconds or time.time()), UTC).isoformat()

        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": doc["FunctionArn"],
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "KinesisBatchInfo" if doc["kind"] == "kinesis" else "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": _sequence(first),
                "endSequenceNumber": _sequence(last),
                "approximateArrivalOfFirstRecord": when(_arrival(first)),
                "approximateArrivalOfLastRecord": when(_arrival(last)),
                "batchSize": len(part),
                "streamArn": stream_of(doc["EventSourceArn"]),
            },
        }
        account, region = where(target)
        body = json.dumps(record)
        try:
            if target.split(":")[2] == "sqs":
                await self.env.call(
                    "sqs",
                    "SendMessage",
                    {"QueueUrl": queue_url(target), "MessageBody": body},
                    account=account,
                    region=region,
                )
            else:
                await self.env.call(
                    "sns",
                    "Publish",
                    {"TopicArn": target, "Message": body},
                    account=account,
                    region=region,
                )
        except (ServiceError, NotImplementedOperation):
            log.warning("mapping %s: on-failure destination %s refused", doc["UUID"], target)
