"""Where a pipe delivers: its target, and its enrichment on the way.

Why through the services' own operations: a pipe is a client of its target like any
other (DESIGN.md), so a batch reaches it through ``ServiceEnv.call``, with the batch API
the user guide's "batching and concurrency" page maps it to, and gets the same
validation a client would:

- SQS queue: SendMessageBatch, 10 per call, ``SqsQueueParameters`` MessageGroupId and
  MessageDeduplicationId (FIFO queues);
- SNS topic: PublishBatch, 10 per call;
- Lambda function: Invoke with the whole batch as one JSON array,
  ``LambdaFunctionParameters.InvocationType`` REQUEST_RESPONSE (the default: waits, and
  a ``batchItemFailures`` answer names the events that failed by ``messageId`` or
  ``eventID``) or FIRE_AND_FORGET (an ``Event`` invocation);
- EventBridge bus: PutEvents, 10 per call, the event as ``detail``; ``source``
  ``Pipe <name>`` and ``detail-type`` ``Event from <aws:sqs|aws:kinesis|aws:dynamodb>``
  unless ``EventBridgeEventBusParameters`` Source/DetailType say otherwise, with its
  Resources and Time;
- Kinesis stream: PutRecords, 500 per call, ``KinesisStreamParameters.PartitionKey``;
- Firehose delivery stream: PutRecordBatch, 500 per call, the stream's name from its
  ARN, each event (or its ``InputTemplate`` rendering) one record, as it is (Firehose
  adds no delimiter); the target takes no parameters of its own;
- CloudWatch Logs group: PutLogEvents into ``CloudWatchLogsParameters.LogStreamName``
  (created when missing; the pipe's name when not given, cloudlet's choice), at
  ``Timestamp`` (a path to epoch milliseconds) or now.

Each event is rendered with ``TargetParameters.InputTemplate`` (``transform.py``), or
passed as its JSON; string parameters may be JSON paths into the event. Delivery answers
which events failed, so the reader can retry or leave exactly those. The pipe's
``RoleArn`` is not evaluated, for targets (``firehose:PutRecordBatch`` included) as for
sources and enrichments: in strict mode a pipe is not held to what its role may do.

Enrichment (a Lambda function only): invoked synchronously with the batch as a JSON
array, each event rendered with ``EnrichmentParameters.InputTemplate``; its answer is
what goes on, an array as that many events, an empty answer (``""``, ``{}``, ``[]``,
null) as nothing to deliver, anything else as one event.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.pipes.model import Pipe, queue_url, where
from cloudlet.services.pipes.records import payload_json
from cloudlet.services.pipes.transform import dynamic, render

log = logging.getLogger(__name__)
Doc = dict[str, Any]

KINDS = {
    "sqs": "SqsQueueParameters",
    "sns": None,
    "lambda": "LambdaFunctionParameters",
    "events": "EventBridgeEventBusParameters",
    "kinesis": "KinesisStreamParameters",
    "firehose": None,
    "logs": "CloudWatchLogsParameters",
}
"""The targets cloudlet delivers to, and the parameters each takes."""
BATCH_LIMITS = {
    "sqs": 10,
    "sns": 10,
    "events": 10,
    "kinesis": 500,
    "firehose": 500,
    "logs": 10000,
}
"""The largest batch each batchable target takes (Lambda: any): the user guide's
"Supported batchable targets"."""
SUPPORTED = (
    "SQS queues, SNS topics, Lambda functions, EventBridge event buses, Kinesis streams,"
    " Firehose delivery streams and CloudWatch Logs log groups"
)
SOURCE_NAMES = {"sqs": "aws:sqs", "kinesis": "aws:kinesis", "dynamodb": "aws:dynamodb"}


@dataclass
class Call:
    """One call a pipe made to its enrichment or target: what execution logs show."""

    service: str
    operation: str
    params: Doc
    result: Doc | None = None
    error: ServiceError | None = None


CALLS: ContextVar[list[Call] | None] = ContextVar("pipes_calls", default=None)
"""Where ``Deliverer`` notes its calls while an execution is being logged."""


def target_kind(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, resource = parts[2], parts[5]
    if service in ("sqs", "sns"):
        return service
    if service == "lambda" and resource.startswith("function:"):
        return "lambda"
    if service == "events" and resource.startswith("event-bus/"):
        return "events"
    if service == "kinesis" and resource.startswith("stream/"):
        return "kinesis"
    if service == "firehose" and resource.startswith("deliverystream/"):
        return "firehose" if len(resource) > len("deliverystream/") else None
    if service == "logs" and resource.startswith("log-group:"):
        return "logs"
    return None


def variables(pipe: Pipe) -> dict[str, str]:
    return {
        "aws.pipes.pipe-arn": pipe.arn,
        "aws.pipes.pipe-name": pipe.name,
        "aws.pipes.source-arn": pipe.source,
        "aws.pipes.enrichment-arn": pipe.enrichment or "",
        "aws.pipes.target-arn": pipe.target,
    }


def _text(event: Any, template: str | None, values: dict[str, str]) -> str:
    if template:
        return render(template, event, values)
    return event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))


def rendered(pipe: Pipe, events: list[Any]) -> list[str]:
    """The target's view of ``events``: each rendered by its ``InputTemplate``, or as
    its JSON."""
    template = (pipe.target_parameters or {}).get("InputTemplate")
    values = variables(pipe)
    return [_text(e, template, values) for e in events]


def _chunks(size: int, limit: int) -> list[range]:
    return [range(i, min(size, i + limit)) for i in range(0, size, limit)]


class Deliverer:
    """Enrichment and target calls for the pipes of one server."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._streams: set[tuple[str, str]] = set()

    async def _call(self, service: str, operation: str, params: Doc, arn: str) -> Doc:
        account, region = where(arn)
        noted = CALLS.get()
        call = Call(service, operation, params)
        if noted is not None:
            noted.append(call)
        try:
            call.result = await self.env.call(
                service, operation, params, account=account, region=region
            )
        except ServiceError as exc:
            call.error = exc
            raise
        return call.result

    # -- enrichment -------------------------------------------------------------------

    async def enrich(self, pipe: Pipe, events: list[Any]) -> list[Any] | None:
        """The enrichment's answer as events, or None when the invocation failed."""
        template = (pipe.enrichment_parameters or {}).get("InputTemplate")
        values = variables(pipe)
        batch = [payload_json(_text(e, template, values)) if template else e for e in events]
        answer = await self._invoke(pipe.enrichment or "", batch, "RequestResponse")
        if answer is None:
            return None
        value = answer[1]
        if value in ("", {}, [], None):
            return []
        return value if isinstance(value, list) else [value]

    async def _invoke(self, arn: str, batch: list[Any], kind: str) -> tuple[bool, Any] | None:
        """Invoke a function with ``batch``: (True, parsed answer), None on failure."""
        try:
            out = await self._call(
                "lambda",
                "Invoke",
                {
                    "FunctionName": arn,
                    "InvocationType": kind,
                    "Payload": json.dumps(batch).encode(),
                },
                arn,
            )
        except (ServiceError, NotImplementedOperation) as exc:
            log.info("pipes: invoking %s failed: %s", arn, exc.code)
            return None
        if out.get("FunctionError"):
            log.info("pipes: function %s failed", arn)
            return None
        payload = out.get("Payload") or b""
        if hasattr(payload, "read"):
            payload = payload.read()
        try:
            return True, json.loads(payload) if payload else None
        except ValueError:
            return True, None

    # -- targets ----------------------------------------------------------------------

    async def deliver(self, pipe: Pipe, events: list[Any]) -> set[int]:
        """Send ``events`` to the pipe's target: the indexes of those that failed."""
        if not events:
            return set()
        kind = target_kind(pipe.target) or ""
        params = pipe.target_parameters or {}
        texts = rendered(pipe, events)
        send = getattr(self, f"_to_{kind}")
        try:
            return await send(pipe, events, texts, params.get(KINDS.get(kind) or "") or {})
        except (ServiceError, NotImplementedOperation) as exc:
            log.info("pipes: %s refused a batch of %s: %s", pipe.target, pipe.name, exc.code)
            return set(range(len(events)))

    async def _batched(self, count: int, limit: int, send: Any, failed_ids: Any) -> set[int]:
        """Call ``send(indexes)`` per chunk; ``failed_ids(result, indexes)`` names failures."""
        failed: set[int] = set()
        for chunk in _chunks(count, limit):
            try:
                result = await send(chunk)
            except ServiceError as exc:
                log.info("pipes: a target batch failed: %s", exc.code)
                failed.update(chunk)
                continue
            failed.update(failed_ids(result, chunk))
        return failed

    async def _to_sqs(self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc) -> set[int]:
        url = queue_url(pipe.target)

        def entry(i: int) -> Doc:
            out: Doc = {"Id": str(i), "MessageBody": texts[i]}
            for key in ("MessageGroupId", "MessageDeduplicationId"):
                value = dynamic(p.get(key), events[i])
                if value:
                    out[key] = value
            return out

        async def send(chunk: range) -> Doc:
            entries = [entry(i) for i in chunk]
            return await self._call(
                "sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": entries}, pipe.target
            )

        return await self._batched(
            len(events), 10, send, lambda r, _: {int(f["Id"]) for f in r.get("Failed") or []}
        )

    async def _to_sns(self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc) -> set[int]:
        async def send(chunk: range) -> Doc:
            entries = [{"Id": str(i), "Message": texts[i]} for i in chunk]
            return await self._call(
                "sns",
                "PublishBatch",
                {"TopicArn": pipe.target, "PublishBatchRequestEntries": entries},
                pipe.target,
            )

        return await self._batched(
            len(events), 10, send, lambda r, _: {int(f["Id"]) for f in r.get("Failed") or []}
        )

    async def _to_lambda(self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc) -> set[int]:
        sync = p.get("InvocationType", "REQUEST_RESPONSE") == "REQUEST_RESPONSE"
        batch = [payload_json(t) for t in texts]
        answer = await self._invoke(pipe.target, batch, "RequestResponse" if sync else "Event")
        if answer is None:
            return set(range(len(events)))
        return _item_failures(answer[1], events)

    async def _to_events(self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc) -> set[int]:
        detail_type = f"Event from {SOURCE_NAMES.get(pipe.kind, pipe.kind)}"

        def entry(i: int) -> Doc:
            out: Doc = {
                "Source": dynamic(p.get("Source"), events[i]) or f"Pipe {pipe.name}",
                "DetailType": dynamic(p.get("DetailType"), events[i]) or detail_type,
                "Detail": texts[i],
                "EventBusName": pipe.target,
            }
            resources = [dynamic(r, events[i]) for r in p.get("Resources") or []]
            if resources:
                out["Resources"] = [r for r in resources if r]
            when = _time(dynamic(p.get("Time"), events[i]))
            if when is not None:
                out["Time"] = when
            return out

        async def send(chunk: range) -> Doc:
            return await self._call(
                "events", "PutEvents", {"Entries": [entry(i) for i in chunk]}, pipe.target
            )

        def failures(result: Doc, chunk: range) -> set[int]:
            answers = result.get("Entries") or []
            return {i for i, a in zip(chunk, answers, strict=False) if a.get("ErrorCode")}

        return await self._batched(len(events), 10, send, failures)

    async def _to_kinesis(
        self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc
    ) -> set[int]:
        def record(i: int) -> Doc:
            key = dynamic(p.get("PartitionKey"), events[i]) or ""
            return {"Data": texts[i].encode(), "PartitionKey": key}

        async def send(chunk: range) -> Doc:
            return await self._call(
                "kinesis",
                "PutRecords",
                {"StreamARN": pipe.target, "Records": [record(i) for i in chunk]},
                pipe.target,
            )

        def failures(result: Doc, chunk: range) -> set[int]:
            answers = result.get("Records") or []
            return {i for i, a in zip(chunk, answers, strict=False) if a.get("ErrorCode")}

        return await self._batched(len(events), 500, send, failures)

    async def _to_firehose(
        self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc
    ) -> set[int]:
        name = pipe.target.split(":", 5)[5].split("/", 1)[1]

        async def send(chunk: range) -> Doc:
            records = [{"Data": texts[i].encode()} for i in chunk]
            return await self._call(
                "firehose",
                "PutRecordBatch",
                {"DeliveryStreamName": name, "Records": records},
                pipe.target,
            )

        def failures(result: Doc, chunk: range) -> set[int]:
            answers = result.get("RequestResponses") or []
            return {i for i, a in zip(chunk, answers, strict=False) if a.get("ErrorCode")}

        return await self._batched(len(events), 500, send, failures)

    async def _to_logs(self, pipe: Pipe, events: list[Any], texts: list[str], p: Doc) -> set[int]:
        group = pipe.target.split(":log-group:", 1)[1].removesuffix(":*")
        failed: set[int] = set()
        by_stream: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            name = dynamic(p.get("LogStreamName"), event) or pipe.name
            by_stream.setdefault(name, []).append(i)
        now = int(time.time() * 1000)
        for stream, indexes in by_stream.items():
            await self._log_stream(pipe.target, group, stream)
            stamped = sorted(
                (_millis(dynamic(p.get("Timestamp"), events[i])) or now, i) for i in indexes
            )
            for chunk in _chunks(len(stamped), 10000):
                part = [stamped[j] for j in chunk]
                params = {
                    "logGroupName": group,
                    "logStreamName": stream,
                    "logEvents": [{"timestamp": ts, "message": texts[i]} for ts, i in part],
                }
                try:
                    await self._call("logs", "PutLogEvents", params, pipe.target)
                except ServiceError as exc:
                    log.info("pipes: PutLogEvents to %s failed: %s", group, exc.code)
                    failed.update(i for _, i in part)
        return failed

    async def _log_stream(self, arn: str, group: str, stream: str) -> None:
        if (arn, stream) in self._streams:
            return
        try:
            await self._call(
                "logs", "CreateLogStream", {"logGroupName": group, "logStreamName": stream}, arn
            )
        except ServiceError as exc:
            if exc.code != "ResourceAlreadyExistsException":
                raise
        self._streams.add((arn, stream))


def _item_failures(answer: Any, events: list[Any]) -> set[int]:
    """Indexes a ``batchItemFailures`` answer names (by ``messageId`` or ``eventID``);
    every event when an entry names none of them, as the user guide has it."""
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return set()
    ids: dict[str, int] = {}
    for i, event in enumerate(events):
        if isinstance(event, dict):
            ident = event.get("messageId") or event.get("eventID")
            if ident:
                ids[str(ident)] = i
    failed: set[int] = set()
    for item in answer["batchItemFailures"]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or str(ident) not in ids:
            return set(range(len(events)))
        failed.add(ids[str(ident)])
    return failed


def _time(value: Any) -> datetime | None:
    """An EventBridge ``Time`` parameter's value (ISO 8601 text or epoch seconds)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        pass
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _millis(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
