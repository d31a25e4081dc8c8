"""Event source mappings: SQS queues, DynamoDB streams and Kinesis streams invoking functions.

Why: a mapping is Lambda's own poller, so it must behave like AWS's for code
written against it to be right. Each enabled mapping is one asyncio task that
reads its source through the internal client, exactly as a client would
(``ReceiveMessage``/``DeleteMessageBatch``, ``GetShardIterator``/``GetRecords``),
and invokes the function synchronously with AWS's event shapes.

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

- **Kinesis streams** (``kinesis_source.py``): every shard read in order from
  ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP`` and checkpointed on its own, children
  of a reshard after their parents; delivered as DynamoDB stream batches are (retries,
  bisection, partial failures, record age, OnFailure with ``KinesisBatchInfo``). A
  mapping of an enhanced fan-out consumer's ARN (which must be registered) reads the
  consumer's stream the same way.

- **FilterCriteria** (``filters.py``): records no pattern matches never reach the
  function; SQS messages among them are deleted, as AWS deletes them, and stream records
  are passed over.

Not built: Kafka, MQ and DocumentDB sources; tumbling windows. Those answer ``InvalidParameterValueException`` saying so.
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
from cloudlet.services.awslambda import errors, filters
from cloudlet.services.awslambda.kinesis_source import KinesisPoller, stream_of
from cloudlet.services.awslambda.recursion import TRACE_PARAM
from cloudlet.state.documents import DocumentStore

log = logging.getLogger(__name__)
Doc = dict[str, Any]

POLL_SECONDS = 0.25
"""How often an idle stream mapping asks for new records (AWS: four times a second)."""
RETRY_SECONDS = 0.5
SQS_LIMITS = (10, 10000)
"""SQS mappings: default and largest BatchSize."""
STREAM_LIMITS = (100, 10000)


def _source_kind(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[2] == "sqs":
        return "sqs"
    if len(parts) >= 6 and parts[2] == "dynamodb" and "/stream/" in arn:
        return "dynamodb"
    if len(parts) >= 6 and parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return "kinesis"  # a stream, or an enhanced fan-out consumer of one
    raise errors.invalid(
        f"Event source {arn} is not supported by cloudlet: SQS queues, DynamoDB streams and"
        " Kinesis streams are"
    )


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


def _queue_url(arn: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    return f"http://localhost/{account}/{name}"


def _where(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]


class EventSourceMappingOps(KinesisPoller):
    """Operations on event source mappings, and their pollers (mixed into the service)."""

    env: Any
    _recursion_filter: Callable[..., Coroutine[Any, Any, tuple[list[bool], str | None]]]
    """Provided by ``RecursionMixin``."""

    def _init_mappings(self) -> None:
        self._esm_store = DocumentStore(self.env.database("lambda_mappings"), "mappings")
        self._esms: dict[str, Doc] = {d["UUID"]: d for d in self._esm_store.load("esm")}
        self._pollers: dict[str, asyncio.Task] = {}

    async def _start_mappings(self) -> None:
        for doc in self._esms.values():
            if doc["State"] in ("Enabled", "Creating", "Enabling", "Updating"):
                self._run(doc)

    async def _stop_mappings(self) -> None:
        await cancelled(list(self._pollers.values()))
        self._pollers.clear()
        self._esm_store.close()

    def _save_esm(self, doc: Doc) -> None:
        self._esms[doc["UUID"]] = doc
        self._esm_store.put("esm", doc["UUID"], doc)

    def _esm(self, ctx: Any, mapping_id: str) -> Doc:
        doc = self._esms.get(mapping_id)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.not_found(
                f"The resource you requested does not exist. (Service: Lambda, Status Code: 404,"
                f" Request ID: {uuid.uuid4()})"
            )
        return doc

    @staticmethod
    def _esm_out(doc: Doc) -> Doc:
        keys = (
            "UUID",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "EventSourceArn",
            "FunctionArn",
            "LastProcessingResult",
            "State",
            "StateTransitionReason",
            "FunctionResponseTypes",
            "EventSourceMappingArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            "DestinationConfig",
            "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError",
            "MaximumRetryAttempts",
            "ParallelizationFactor",
            "ScalingConfig",
            "FilterCriteria",
            "Tags",
        )
        out = {k: doc[k] for k in keys if k in doc and k != "Tags"}
        if "StartingPositionTimestamp" in out:
            out["StartingPositionTimestamp"] = datetime.fromtimestamp(
                out["StartingPositionTimestamp"], UTC
            )
        out["LastModified"] = datetime.fromtimestamp(doc["modified"], UTC)
        return out

    async def _function_arn(self, ctx: Any, name: str) -> tuple[str, Doc]:
        qualifier = None
        bare = name
        if name.startswith("arn:"):
            parts = name.split(":")
            if len(parts) == 8:
                qualifier, bare = parts[7], ":".join(parts[:7])
        elif ":" in name:
            bare, _, qualifier = name.rpartition(":")
        params: Doc = {"FunctionName": bare}
        if qualifier:
            params["Qualifier"] = qualifier
        config = await self.env.call(
            "lambda",
            "GetFunctionConfiguration",
            params,
            account=ctx.account_id,
            region=ctx.region,
        )
        arn = config["FunctionArn"]
        if qualifier and not arn.endswith(f":{qualifier}"):
            arn = f"{arn}:{qualifier}"
        return arn, config

    def _settings(self, doc: Doc, params: Doc, kind: str) -> None:
        """Apply (and check) the tunable settings of ``params`` to ``doc``."""
        if "FilterCriteria" in params:  # an empty object removes the filters
            kept = filters.check(params["FilterCriteria"] or {})
            if kept:
                doc["FilterCriteria"] = {"Filters": kept}
            else:
                doc.pop("FilterCriteria", None)
        if params.get("TumblingWindowInSeconds"):
            raise errors.invalid("TumblingWindowInSeconds is not supported by cloudlet yet")
        default, largest = SQS_LIMITS if kind == "sqs" else STREAM_LIMITS
        size = int(params.get("BatchSize", doc.get("BatchSize", default)))
        window = int(
            params.get(
                "MaximumBatchingWindowInSeconds", doc.get("MaximumBatchingWindowInSeconds", 0)
            )
        )
        if not 1 <= size <= largest:
            raise errors.invalid(f"BatchSize must be between 1 and {largest}, but was {size}")
        if kind == "sqs" and size > 10 and window < 1:
            raise errors.invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size"
                " is greater than 10"
            )
        if not 0 <= window <= 300:
            raise errors.invalid("MaximumBatchingWindowInSeconds must be between 0 and 300")
        doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"] = size, window
        types = params.get("FunctionResponseTypes", doc.get("FunctionResponseTypes", []))
        if any(t != "ReportBatchItemFailures" for t in types):
            raise errors.invalid(f"FunctionResponseTypes {types} is not valid")
        doc["FunctionResponseTypes"] = list(types)
        if "ScalingConfig" in params:
            doc["ScalingConfig"] = params["ScalingConfig"]
        if kind in ("dynamodb", "kinesis"):
            retries = int(params.get("MaximumRetryAttempts", doc.get("MaximumRetryAttempts", -1)))
            age = int(
                params.get("MaximumRecordAgeInSeconds", doc.get("MaximumRecordAgeInSeconds", -1))
            )
            if not -1 <= retries <= 10000:
                raise errors.invalid("MaximumRetryAttempts must be between -1 and 10000")
            if age != -1 and not 60 <= age <= 604800:
                raise errors.invalid(
                    "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800"
                )
            doc["MaximumRetryAttempts"], doc["MaximumRecordAgeInSeconds"] = retries, age
            doc["BisectBatchOnFunctionError"] = bool(
                params.get(
                    "BisectBatchOnFunctionError", doc.get("BisectBatchOnFunctionError", False)
                )
            )
            doc["ParallelizationFactor"] = int(params.get("ParallelizationFactor", 1))
            destination = params.get("DestinationConfig", doc.get("DestinationConfig"))
            target = ((destination or {}).get("OnFailure") or {}).get("Destination")
            if target and target.split(":")[2:3] not in (["sqs"], ["sns"]):
                raise errors.invalid(
                    f"The destination {target} is not supported by cloudlet: SQS and SNS are"
                )
            doc["DestinationConfig"] = destination or {"OnFailure": {}}

    async def create_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        source = params.get("EventSourceArn")
        if not source:
            raise errors.invalid("EventSourceArn is required by cloudlet's supported sources")
        kind = _source_kind(source)
        function_arn, config = await self._function_arn(ctx, params["FunctionName"])
        account, region = _where(source)
        if kind == "sqs":
            try:
                attrs = await self.env.call(
                    "sqs",
                    "GetQueueAttributes",
                    {"QueueUrl": _queue_url(source), "AttributeNames": ["VisibilityTimeout"]},
                    account=account,
                    region=region,
                )
            except ServiceError:
                raise errors.invalid(f"Queue {source} does not exist") from None
            visibility = int(attrs["Attributes"]["VisibilityTimeout"])
            if visibility < int(config.get("Timeout", 3)):
                raise errors.invalid(
                    f"Queue visibility timeout: {visibility} seconds is less than Function"
                    f" timeout: {config.get('Timeout', 3)} seconds"
                )
        elif kind == "kinesis":
            await self._check_kinesis(source, params)
        else:
            position = params.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST"):
                raise errors.invalid(
                    "1 validation error detected: Value null at 'startingPosition' failed to"
                    " satisfy constraint: Member must not be null"
                    if position is None
                    else f"StartingPosition {position} is not valid for a DynamoDB stream"
                )
            try:
                await self.env.call(
                    "dynamodbstreams",
                    "DescribeStream",
                    {"StreamArn": source},
                    account=account,
                    region=region,
                )
            except (ServiceError, NotImplementedOperation):
                raise errors.invalid(f"Stream not found: {source}") from None
        for other in self._esms.values():
            if other["EventSourceArn"] == source and other["FunctionArn"] == function_arn:
                raise errors.conflict(
                    f"The event source arn ({source}) and function ({params['FunctionName']})"
                    f" provided mapping already exists. Please update or delete the existing"
                    f" mapping with UUID {other['UUID']}"
                )
        mapping_id = str(uuid.uuid4())
        doc: Doc = {
            "UUID": mapping_id,
            "account": ctx.account_id,
            "region": ctx.region,
            "kind": kind,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{mapping_id}"
            ),
            "LastProcessingResult": "No records processed",
            "State": "Creating" if params.get("Enabled", True) else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "modified": time.time(),
            "Tags": params.get("Tags") or {},
        }
        if kind in ("dynamodb", "kinesis"):
            doc["StartingPosition"] = params["StartingPosition"]
        if kind == "kinesis":
            doc["role"] = config.get("Role", "")
            if doc["StartingPosition"] == "AT_TIMESTAMP":
                when = params["StartingPositionTimestamp"]
                doc["StartingPositionTimestamp"] = (
                    when.timestamp() if hasattr(when, "timestamp") else float(when)
                )
        self._settings(doc, params, kind)
        self._save_esm(doc)
        out = self._esm_out(doc)
        if doc["State"] == "Creating":
            self._run(doc)
        return out

    def get_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        return self._esm_out(self._esm(ctx, params["UUID"]))

    async def list_event_source_mappings(self, ctx: Any, params: Doc) -> Doc:
        wanted = None
        if name := params.get("FunctionName"):
            wanted, _ = await self._function_arn(ctx, name)
        docs = [
            d
            for d in self._esms.values()
            if d["account"] == ctx.account_id
            and d["region"] == ctx.region
            and (
                not params.get("EventSourceArn") or d["EventSourceArn"] == params["EventSourceArn"]
            )
            and (wanted is None or d["FunctionArn"] == wanted)
        ]
        start = int(params.get("Marker") or 0)
        size = int(params.get("MaxItems") or 100)
        out: Doc = {"EventSourceMappings": [self._esm_out(d) for d in docs[start : start + size]]}
        if start + size < len(docs):
            out["NextMarker"] = str(start + size)
        return out

    async def update_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        doc = dict(self._esm(ctx, params["UUID"]))
        if params.get("FunctionName"):
            doc["FunctionArn"], _ = await self._function_arn(ctx, params["FunctionName"])
        self._settings(doc, params, doc["kind"])
        enabled = params.get("Enabled")
        if enabled is True and doc["State"] == "Disabled":
            doc["State"] = "Enabling"
        elif enabled is False:
            doc["State"] = "Disabling"
        elif doc["State"] == "Enabled":
            doc["State"] = "Updating"
        doc["modified"] = time.time()
        self._save_esm(doc)
        out = self._esm_out(doc)
        await self._halt(doc["UUID"])
        if doc["State"] == "Disabling":
            doc["State"] = "Disabled"
            self._save_esm(doc)
        else:
            self._run(doc)
        return out

    async def delete_event_source_mapping(self, ctx: Any, params: Doc) -> Doc:
        doc = self._esm(ctx, params["UUID"])
        await self._halt(doc["UUID"])
        del self._esms[doc["UUID"]]
        self._esm_store.delete("esm", doc["UUID"])
        return {**self._esm_out(doc), "State": "Deleting"}

    # -- pollers ------------------------------------------------------------------

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
        account, region = _where(doc["EventSourceArn"])
        url = _queue_url(doc["EventSourceArn"])

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
        account, region = _where(doc["EventSourceArn"])

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
        account, region = _where(target)
        body = json.dumps(record)
        try:
            if target.split(":")[2] == "sqs":
                await self.env.call(
                    "sqs",
                    "SendMessage",
                    {"QueueUrl": _queue_url(target), "MessageBody": body},
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

    async def _check_kinesis(self, source: str, params: Doc) -> None:
        """A Kinesis source must exist and be given a valid StartingPosition."""
        position = params.get("StartingPosition")
        if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
            raise errors.invalid(
                "1 validation error detected: Value null at 'startingPosition' failed to"
                " satisfy constraint: Member must not be null"
                if position is None
                else f"StartingPosition {position} is not valid for a Kinesis stream"
            )
        if position == "AT_TIMESTAMP" and params.get("StartingPositionTimestamp") is None:
            raise errors.invalid(
                "StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP"
            )
        account, region = _where(source)
        consumer = "/consumer/" in source
        try:
            await self.env.call(
                "kinesis",
                "DescribeStreamConsumer" if consumer else "DescribeStreamSummary",
                {"ConsumerARN": source} if consumer else {"StreamARN": source},
                account=account,
                region=region,
            )
        except (ServiceError, NotImplementedOperation):
            what = "Consumer" if consumer else "Stream"
            raise errors.invalid(f"{what} not found: {source}") from None
