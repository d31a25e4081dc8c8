"""SQS operations: find the queue, hand the work to the engine, shape the result.

One method per operation of botocore's ``sqs`` model, named as botocore names
it. Params arrive parsed and type-checked against the input shape; results use
the output shape's member names and real Python types. ``receive_message`` is
the only coroutine (long polls); the rest are quick synchronous calls.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.sqs import errors
from cloudlet.services.sqs.attributes import SYSTEM_ATTRIBUTE_NAMES
from cloudlet.services.sqs.engine import SWEEP_INTERVAL, SqsEngine
from cloudlet.services.sqs.messages import Sent
from cloudlet.services.sqs.query_names import QUERY_NAMES
from cloudlet.services.sqs.queues import Queue
from cloudlet.services.sqs.targets import queue_url_from_path

Result = dict[str, Any]
_ALL_SYSTEM = frozenset(SYSTEM_ATTRIBUTE_NAMES)
_NO_NAMES: frozenset[str] = frozenset()


def _is_query(ctx: Any) -> bool:
    return getattr(ctx, "protocol", None) == "query"


def _trace_header(ctx: Any) -> str | None:
    request = getattr(ctx, "request", None)
    headers = getattr(request, "headers", None)
    return headers.get("x-amzn-trace-id") if headers else None


def _system_names(params: dict[str, Any]) -> frozenset[str]:
    names = params.get("MessageSystemAttributeNames") or []
    legacy = params.get("AttributeNames") or []
    if not names and not legacy:
        return _NO_NAMES
    wanted = set(names) | set(legacy)
    if "All" in wanted:
        return _ALL_SYSTEM
    return frozenset(wanted & _ALL_SYSTEM)


def _sent(sent: Sent) -> Result:
    out: Result = {"MD5OfMessageBody": sent.md5_body, "MessageId": sent.message_id}
    if sent.md5_attributes is not None:
        out["MD5OfMessageAttributes"] = sent.md5_attributes
    if sent.md5_system is not None:
        out["MD5OfMessageSystemAttributes"] = sent.md5_system
    if sent.sequence_number is not None:
        out["SequenceNumber"] = sent.sequence_number
    return out


def _failed(entry_id: str, exc: ServiceError) -> Result:
    return {
        "Id": entry_id,
        "SenderFault": exc.sender_fault,
        "Code": exc.query_code or exc.code,
        "Message": exc.message,
    }


def _page(
    urls: list[str], max_results: int | None, token: str | None
) -> tuple[list[str], str | None]:
    """Pagination over a sorted list: the token is the index of the next item."""
    start = 0
    if token:
        try:
            start = int(base64.b64decode(token, validate=True).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise errors.invalid_parameter("Invalid NextToken value.") from None
    if max_results is None:
        return urls[start : start + 1000], None
    if not 1 <= max_results <= 1000:
        raise errors.invalid_value(
            max_results, "MaxResults", "MaxResults must be an integer between 1 and 1000."
        )
    end = start + max_results
    nxt = base64.b64encode(str(end).encode()).decode() if end < len(urls) else None
    return urls[start:end], nxt


class SqsService(Service):
    name = "sqs"
    query_names = QUERY_NAMES

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.engine = SqsEngine(env.database("sqs"))

    async def start(self) -> None:
        self.env.every(SWEEP_INTERVAL, self.engine.sweep, "sqs-retention")
        self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        self.engine.conn.close()

    def prepare_request(self, ctx: Any) -> None:
        queue_url_from_path(ctx)

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the queue's ARN and its ``Policy`` attribute."""
        url = params.get("QueueUrl")
        if not url:
            name = params.get("QueueName")
            if name and operation == "CreateQueue":
                return f"arn:aws:sqs:{ctx.region}:{ctx.account_id}:{name}", None
            return "*", None
        try:
            queue = self._queue(ctx, params)
        except ServiceError:
            parts = [p for p in url.split("?", 1)[0].split("/") if p]
            if len(parts) < 2:
                return "*", None
            return f"arn:aws:sqs:{ctx.region}:{parts[-2]}:{parts[-1]}", None
        return queue.arn, self.engine.get_attributes(queue, ["Policy"]).get("Policy")

    def health(self) -> dict[str, Any]:
        return {"state": "running", "queues": len(self.engine.registry.queues)}

    def _queue(self, ctx: Any, params: dict[str, Any]) -> Queue:
        return self.engine.queue_for_url(params["QueueUrl"], ctx.region, query=_is_query(ctx))

    # --- queues -------------------------------------------------------------------------

    def create_queue(self, ctx: Any, params: dict[str, Any]) -> Result:
        queue = self.engine.create_queue(
            ctx.account_id,
            ctx.region,
            params["QueueName"],
            params.get("Attributes"),
            params.get("tags"),
        )
        return {"QueueUrl": queue.url(ctx.host)}

    def get_queue_url(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = params.get("QueueOwnerAWSAccountId") or ctx.account_id
        queue = self.engine.get_queue(
            account, ctx.region, params["QueueName"], query=_is_query(ctx)
        )
        return {"QueueUrl": queue.url(ctx.host)}

    def delete_queue(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.delete_queue(self._queue(ctx, params))
        return {}

    def list_queues(self, ctx: Any, params: dict[str, Any]) -> Result:
        queues = self.engine.list_queues(
            ctx.account_id, ctx.region, params.get("QueueNamePrefix") or ""
        )
        urls, token = _page(
            [q.url(ctx.host) for q in queues], params.get("MaxResults"), params.get("NextToken")
        )
        out: Result = {"QueueUrls": urls} if urls else {}
        if token:
            out["NextToken"] = token
        return out

    def list_dead_letter_source_queues(self, ctx: Any, params: dict[str, Any]) -> Result:
        sources = self.engine.dead_letter_sources(self._queue(ctx, params))
        urls, token = _page(
            [q.url(ctx.host) for q in sources], params.get("MaxResults"), params.get("NextToken")
        )
        out: Result = {"queueUrls": urls}
        if token:
            out["NextToken"] = token
        return out

    def get_queue_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        queue = self._queue(ctx, params)
        attributes = self.engine.get_attributes(queue, params.get("AttributeNames") or [])
        return {"Attributes": attributes} if attributes else {}

    def set_queue_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.set_attributes(self._queue(ctx, params), params.get("Attributes") or {})
        return {}

    def purge_queue(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.purge(self._queue(ctx, params))
        return {}

    def tag_queue(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.registry.tag(self._queue(ctx, params), params.get("Tags") or {})
        return {}

    def untag_queue(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.registry.untag(self._queue(ctx, params), params.get("TagKeys") or [])
        return {}

    def list_queue_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        tags = self._queue(ctx, params).tags
        return {"Tags": dict(tags)} if tags else {}

    def add_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.registry.add_permission(
            self._queue(ctx, params),
            params["Label"],
            params.get("AWSAccountIds") or [],
            params.get("Actions") or [],
        )
        return {}

    def remove_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.registry.remove_permission(self._queue(ctx, params), params["Label"])
        return {}

    # --- messages -----------------------------------------------------------------------

    def send_message(self, ctx: Any, params: dict[str, Any]) -> Result:
        queue = self._queue(ctx, params)
        sent = self.engine.send(
            queue,
            params["MessageBody"],
            sender_id=ctx.account_id,
            message_attributes=params.get("MessageAttributes"),
            system_attributes=params.get("MessageSystemAttributes"),
            delay=params.get("DelaySeconds"),
            dedup_id=params.get("MessageDeduplicationId"),
            group_id=params.get("MessageGroupId"),
            trace_header=_trace_header(ctx),
        )
        return _sent(sent)

    def send_message_batch(self, ctx: Any, params: dict[str, Any]) -> Result:
        queue = self._queue(ctx, params)
        ok, failed = self.engine.send_batch(
            queue, params["Entries"], sender_id=ctx.account_id, trace_header=_trace_header(ctx)
        )
        return {
            "Successful": [{"Id": entry_id, **_sent(sent)} for entry_id, sent in ok],
            "Failed": [_failed(entry_id, exc) for entry_id, exc in failed],
        }

    async def receive_message(self, ctx: Any, params: dict[str, Any]) -> Result:
        queue = self._queue(ctx, params)
        count = params.get("MaxNumberOfMessages")
        deliveries = await self.engine.receive(
            queue,
            1 if count is None else count,
            params.get("VisibilityTimeout"),
            params.get("WaitTimeSeconds"),
            params.get("ReceiveRequestAttemptId"),
        )
        if not deliveries:
            return {}
        system = _system_names(params)
        wanted = params.get("MessageAttributeNames") or []
        return {"Messages": [d.to_message(system, wanted) for d in deliveries]}

    def delete_message(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.delete(self._queue(ctx, params), params["ReceiptHandle"])
        return {}

    def delete_message_batch(self, ctx: Any, params: dict[str, Any]) -> Result:
        ok, failed = self.engine.delete_batch(self._queue(ctx, params), params["Entries"])
        return {
            "Successful": [{"Id": entry_id} for entry_id in ok],
            "Failed": [_failed(entry_id, exc) for entry_id, exc in failed],
        }

    def change_message_visibility(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.engine.change_visibility(
            self._queue(ctx, params), params["ReceiptHandle"], params["VisibilityTimeout"]
        )
        return {}

    def change_message_visibility_batch(self, ctx: Any, params: dict[str, Any]) -> Result:
        ok, failed = self.engine.change_visibility_batch(
            self._queue(ctx, params), params["Entries"]
        )
        return {
            "Successful": [{"Id": entry_id} for entry_id in ok],
            "Failed": [_failed(entry_id, exc) for entry_id, exc in failed],
        }

    # --- message move tasks -------------------------------------------------------------

    def start_message_move_task(self, ctx: Any, params: dict[str, Any]) -> Result:
        task = self.engine.moves.start(
            params["SourceArn"],
            params.get("DestinationArn"),
            params.get("MaxNumberOfMessagesPerSecond"),
        )
        return {"TaskHandle": task.handle}

    def cancel_message_move_task(self, ctx: Any, params: dict[str, Any]) -> Result:
        task = self.engine.moves.cancel(params["TaskHandle"])
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    def list_message_move_tasks(self, ctx: Any, params: dict[str, Any]) -> Result:
        tasks = self.engine.moves.list(params["SourceArn"], params.get("MaxResults"))
        return {"Results": [t.to_entry() for t in tasks]}
