"""Asynchronous invocation: the durable event queue, retries, destinations, DLQs.

Asynchronous events are queued durably (an ``event`` document per event, its
attempts counted, removed when the event is done, so a restart resumes every
queued event where it stood, as Lambda keeps its queue), run on Invoke's own
path (``InvokeMixin._execute``) and retried with growing delays
(``CLOUDLET_LAMBDA_RETRY_SECONDS``, default 60 as on AWS), then sent to the
on-success or on-failure destination (SQS, SNS, Lambda, EventBridge) or the
dead-letter queue. The event invoke configs that steer this live here too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, page
from cloudlet.services.awslambda.invoke import iso_time
from cloudlet.services.awslambda.workers import Outcome

log = logging.getLogger(__name__)
Result = dict[str, Any]


class AsyncInvokeMixin:
    invoke: Callable[[Any, dict[str, Any]], Coroutine[Any, Any, Result]]
    """Provided by ``InvokeMixin``."""

    async def invoke_async(self, ctx: Any, params: dict[str, Any]) -> Result:
        """The deprecated InvokeAsync: Invoke's ``Event`` type under its old name."""
        call = {
            "FunctionName": params["FunctionName"],
            "InvocationType": "Event",
            "Payload": params.get("InvokeArgs"),
        }
        await self.invoke(ctx, call)
        return {"Status": 202}

    # -- asynchronous invocation ----------------------------------------------------

    def _queue_event(
        self,
        ctx: Any,
        doc: dict[str, Any],
        qualifier: str | None,
        payload: bytes,
        trace: str | None = None,
    ) -> None:
        event = {
            "id": fast_uuid(),
            "account": doc["account"],
            "region": doc["region"],
            "name": doc["name"],
            "qualifier": qualifier,
            "payload": base64.b64encode(payload).decode(),
            "queued": time.time(),
            "attempts": 0,
            "trace": trace,
        }
        self.store.docs.put("event", event["id"], event)
        self._spawn_event(ctx, doc, event)

    def _spawn_event(self, ctx: Any, doc: dict[str, Any], event: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._run_event(ctx, doc, event))
        self.event_tasks.add(task)
        task.add_done_callback(self.event_tasks.discard)

    def _resume_events(self) -> None:
        """At start: run again every event a previous run queued and did not finish."""
        from cloudlet.services.base import InternalContext

        for event in self.store.docs.load("event"):
            doc = self.store.functions.get((event["account"], event["region"], event["name"]))
            if doc is None:
                self.store.docs.delete("event", event["id"])
                continue
            ctx = InternalContext(
                account_id=event["account"], region=event["region"], service_name="lambda"
            )
            self._spawn_event(ctx, doc, event)

    def _event_config(self, doc: dict[str, Any], qualifier: str | None) -> dict[str, Any]:
        configs = doc["invoke_configs"]
        return configs.get(qualifier or "$LATEST") or {}

    async def _run_event(self, ctx: Any, doc: dict[str, Any], event: dict[str, Any]) -> None:
        """Run one queued event to its end, then forget it (a cancel at stop keeps it)."""
        if event["attempts"]:  # resumed after a restart: wait out the retry delay
            await asyncio.sleep(self.retry_seconds * event["attempts"])
        await self._await_endpoint()
        try:
            await self._attempt_event(ctx, doc, event)
        except Exception:  # noqa: BLE001 - a bug must not replay the event at every start
            log.exception("async invoke of %s failed", event["name"])
        self.store.docs.delete("event", event["id"])

    async def _await_endpoint(self) -> None:
        """Until the server's socket is bound (functions call back to it), at most 5 s."""
        for _ in range(100):
            if self.env.endpoint:
                return
            await asyncio.sleep(0.05)

    async def _attempt_event(self, ctx: Any, doc: dict[str, Any], event: dict[str, Any]) -> None:
        qualifier, queued, attempts = event["qualifier"], event["queued"], event["attempts"]
        payload = base64.b64decode(event["payload"])
        config = self._event_config(doc, qualifier)
        retries = config.get("MaximumRetryAttempts", 2)
        max_age = config.get("MaximumEventAgeInSeconds", 21600)
        while True:
            doc = self.store.functions.get(self._key(doc))
            if doc is None:
                return
            try:
                outcome, executed, request_id, _ = await self._execute(
                    ctx, doc, qualifier, payload, wait=True, trace=event.get("trace")
                )
            except ServiceError as err:
                log.warning("async invoke of %s failed: %s", doc["name"], err.message)
                return
            attempts += 1
            event["attempts"] = attempts
            self.store.docs.put("event", event["id"], event)
            if outcome.kind == "ok":
                await self._deliver(
                    ctx, doc, config, "OnSuccess", payload, outcome, executed, request_id, attempts
                )
                return
            if attempts > retries or time.time() - queued > max_age:
                condition = "RetriesExhausted" if attempts > retries else "EventAgeExceeded"
                await self._deliver(
                    ctx,
                    doc,
                    config,
                    "OnFailure",
                    payload,
                    outcome,
                    executed,
                    request_id,
                    attempts,
                    condition,
                )
                return
            await asyncio.sleep(self.retry_seconds * attempts)

    async def _deliver(
        self,
        ctx: Any,
        doc: dict[str, Any],
        config: dict[str, Any],
        which: str,
        payload: bytes,
        outcome: Outcome,
        executed: str,
        request_id: str,
        attempts: int,
        condition: str = "Success",
    ) -> None:
        target = ((config.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
        if target is None and which == "OnFailure":
            dlq = (doc["latest"].get("DeadLetterConfig") or {}).get("TargetArn")
            if dlq:
                await self._dead_letter(ctx, dlq, payload, outcome, request_id)
            return
        if target is None:
            return
        record: Result = {
            "version": "1.0",
            "timestamp": iso_time(time.time()),
            "requestContext": {
                "requestId": request_id,
                "functionArn": function_arn(ctx, doc["name"], executed),
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": _json_or_text(payload),
            "responseContext": {"statusCode": 200, "executedVersion": executed},
            "responsePayload": _json_or_text(outcome.payload),
        }
        if outcome.kind != "ok":
            record["responseContext"]["functionError"] = "Unhandled"
        detail_type = "Success" if which == "OnSuccess" else "Failure"
        await self._send(
            ctx,
            target,
            json.dumps(record),
            event=(f"Lambda Function Invocation Result - {detail_type}", record),
        )

    async def _dead_letter(
        self, ctx: Any, target: str, payload: bytes, outcome: Outcome, request_id: str
    ) -> None:
        doc = _json_or_text(outcome.payload)
        message = doc.get("errorMessage", "") if isinstance(doc, dict) else str(doc)
        attrs = {
            "RequestID": request_id,
            "ErrorCode": "200",
            "ErrorMessage": message[:256],
        }
        await self._send(ctx, target, payload.decode("utf-8", "replace"), attrs)

    async def _send(
        self,
        ctx: Any,
        target: str,
        body: str,
        attrs: dict[str, str] | None = None,
        event: tuple[str, Result] | None = None,
    ) -> None:
        """Send to an SQS, SNS, Lambda or (``event``: its detail type and detail, a
        destination's invocation record) EventBridge destination."""
        parts = target.split(":")
        service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
        try:
            if service == "sqs":
                url = await self.env.call(
                    "sqs",
                    "GetQueueUrl",
                    {"QueueName": resource, "QueueOwnerAWSAccountId": account},
                    account=account,
                    region=region,
                )
                msg: Result = {"QueueUrl": url["QueueUrl"], "MessageBody": body}
                if attrs:
                    msg["MessageAttributes"] = {
                        k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()
                    }
                await self.env.call("sqs", "SendMessage", msg, account=account, region=region)
            elif service == "sns":
                msg = {"TopicArn": target, "Message": body}
                if attrs:
                    msg["MessageAttributes"] = {
                        k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()
                    }
                await self.env.call("sns", "Publish", msg, account=account, region=region)
            elif service == "lambda":
                await self.env.call(
                    "lambda",
                    "Invoke",
                    {"FunctionName": target, "InvocationType": "Event", "Payload": body.encode()},
                    account=account,
                    region=region,
                )
            elif service == "events" and event is not None:
                # AWS's event: source "lambda", the bus and the function as resources.
                detail_type, record = event
                function = record["requestContext"]["functionArn"]
                entry = {
                    "source": "lambda",
                    "detail-type": detail_type,
                    "detail": record,
                    "resources": [target, function],
                    "EventBusName": target,
                }
                await self.env.call(
                    "events",
                    "PutServiceEvents",
                    {"Entries": [entry]},
                    account=account,
                    region=region,
                )
        except (ServiceError, NotImplementedOperation) as err:
            log.warning("Lambda destination %s failed: %s", target, err.message)

    # -- event invoke configs ---------------------------------------------------------

    def _check_destinations(self, params: dict[str, Any]) -> None:
        for which in ("OnSuccess", "OnFailure"):
            dest = ((params.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
            if dest is None:
                continue
            parts = dest.split(":")
            service = parts[2] if len(parts) > 5 else ""
            if service == "events" and ":event-bus/" not in dest:
                raise errors.invalid(f"The destination ARN {dest} is invalid.")
            if service not in ("sqs", "sns", "lambda", "events"):
                raise errors.invalid(f"The destination ARN {dest} is invalid.")

    def _invoke_config_out(
        self, ctx: Any, doc: dict[str, Any], qualifier: str, cfg: dict[str, Any]
    ) -> Result:
        return {
            "LastModified": datetime.fromtimestamp(cfg["LastModified"], UTC),
            "FunctionArn": function_arn(ctx, doc["name"], qualifier),
            **{k: v for k, v in cfg.items() if k != "LastModified"},
        }

    def _put_invoke_config(self, ctx: Any, params: dict[str, Any], merge: bool) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params) or "$LATEST"
        self._config(ctx, doc, qualifier)
        self._check_destinations(params)
        age = params.get("MaximumEventAgeInSeconds")
        if age is not None and not 60 <= age <= 21600:
            raise errors.invalid("MaximumEventAgeInSeconds must be between 60 and 21600.")
        current = doc["invoke_configs"].get(qualifier, {}) if merge else {}
        if merge and qualifier not in doc["invoke_configs"]:
            raise errors.not_found(
                f"The function {function_arn(ctx, doc['name'], qualifier)} doesn't have an EventInvokeConfig"
            )
        cfg = dict(current)
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if key in params:
                cfg[key] = params[key]
        cfg.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        cfg["LastModified"] = time.time()
        doc["invoke_configs"][qualifier] = cfg
        self.store.save_function(doc)
        return self._invoke_config_out(ctx, doc, qualifier, cfg)

    def put_function_event_invoke_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_invoke_config(ctx, params, merge=False)

    def update_function_event_invoke_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_invoke_config(ctx, params, merge=True)

    def get_function_event_invoke_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params) or "$LATEST"
        cfg = doc["invoke_configs"].get(qualifier)
        if cfg is None:
            raise errors.not_found(
                f"The function {function_arn(ctx, doc['name'], qualifier)} doesn't have an EventInvokeConfig"
            )
        return self._invoke_config_out(ctx, doc, qualifier, cfg)

    def delete_function_event_invoke_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params) or "$LATEST"
        if doc["invoke_configs"].pop(qualifier, None) is None:
            raise errors.not_found(
                f"The function {function_arn(ctx, doc['name'], qualifier)} doesn't have an EventInvokeConfig"
            )
        self.store.save_function(doc)
        return {}

    def list_function_event_invoke_configs(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        configs = [
            self._invoke_config_out(ctx, doc, q, c)
            for q, c in sorted(doc["invoke_configs"].items())
        ]
        return page(
            configs, "FunctionEventInvokeConfigs", params.get("Marker"), params.get("MaxItems")
        )


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")
