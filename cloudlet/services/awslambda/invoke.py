"""Invoke: synchronous, asynchronous (with retries and destinations) and dry runs.

``_execute`` is the one path every invocation takes (sync, async, function
URLs, and later event source mappings through ``env.call("lambda",
"Invoke")``): pick the version (alias weights), hold a concurrency slot, take
a warm worker or cold-start one, run the event with the function's timeout,
write START/END/REPORT with the function's output to the logs, and shape the
result as Lambda does. Asynchronous events are queued durably (an ``event``
document per event, its attempts counted, removed when the event is done, so
a restart resumes every queued event where it stood, as Lambda keeps its
queue) and retried with growing delays (``CLOUDLET_LAMBDA_RETRY_SECONDS``,
default 60 as on AWS), then sent to the on-failure destination or the
dead-letter queue.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, page
from cloudlet.services.awslambda.workers import BOOTSTRAP, Invocation, Outcome, Spec

log = logging.getLogger(__name__)
Result = dict[str, Any]

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024
"""An Event invocation's payload: 1 MB (Invoke's API reference; it was 256 KB)."""
TAIL_BYTES = 4096
ACCOUNT_CONCURRENCY = 1000


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class InvokeMixin:
    # -- concurrency slots ------------------------------------------------------

    def _pool(self, doc: dict[str, Any]) -> tuple[tuple[str, ...], int, str]:
        """Where an invocation of ``doc`` takes its slot: (pool, size, throttle reason).
        A function with reserved concurrency has a pool of its own; every other function
        of the account and Region shares what the reservations leave."""
        if doc["reserved"] is not None:
            pool = ("function", *self._key(doc))
            return pool, doc["reserved"], "ReservedFunctionConcurrentInvocationLimitExceeded"
        account, region = doc["account"], doc["region"]
        size = ACCOUNT_CONCURRENCY - self.store.reserved_total(account, region)
        return ("unreserved", account, region), size, "ConcurrentInvocationLimitExceeded"

    def _key(self, doc: dict[str, Any]) -> tuple[str, str, str]:
        return doc["account"], doc["region"], doc["name"]

    async def _enter(self, doc: dict[str, Any], wait: bool) -> tuple[str, ...]:
        """Take a concurrency slot (throttled, or waiting when ``wait``); returns the
        pool to give it back to (``_leave``), even if the function's reservation
        changes meanwhile."""
        key = self._key(doc)
        while True:
            pool, size, reason = self._pool(doc)
            if self.inflight.get(pool, 0) < size:
                self.inflight[pool] = self.inflight.get(pool, 0) + 1
                return pool
            if not wait:
                raise errors.too_many_requests(reason)
            self.slot_waiters += 1
            try:
                async with self.slots:
                    await self.slots.wait()
            finally:
                self.slot_waiters -= 1
            doc = self.store.functions.get(key, doc)

    async def _leave(self, pool: tuple[str, ...]) -> None:
        self.inflight[pool] = max(0, self.inflight.get(pool, 0) - 1)
        if self.slot_waiters:  # queued asynchronous invocations waiting for a slot
            async with self.slots:
                self.slots.notify_all()

    # -- the execution environment ----------------------------------------------

    def _spec(self, doc: dict[str, Any], config: dict[str, Any], code: str, version: str) -> Spec:
        key = f"{doc['account']}/{doc['region']}/{doc['name']}/{version}/{config['RevisionId']}"
        spec = self.specs.get(key)
        if spec is None:
            if len(self.specs) > 4096:
                self.specs.clear()
            spec = self.specs[key] = self._new_spec(key, doc, config, code, version)
        return spec

    def _new_spec(
        self, key: str, doc: dict[str, Any], config: dict[str, Any], code: str, version: str
    ) -> Spec:
        layer_shas = []
        for layer in config.get("Layers") or []:
            v = self._layer_version_by_arn(None, layer["Arn"])
            if v is not None:
                layer_shas.append(v["_code"])
        return Spec(
            key=key,
            account=doc["account"],
            region=doc["region"],
            name=doc["name"],
            version=version,
            runtime=config["Runtime"],
            handler=config.get("Handler", ""),
            memory=config["MemorySize"],
            timeout=config["Timeout"],
            code_dir=self.store.tree(code),
            opt_dir=self.store.opt_dir(layer_shas),
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            log_group=(config.get("LoggingConfig") or {}).get("LogGroup")
            or f"/aws/lambda/{doc['name']}",
        )

    async def _worker_env(self, spec: Spec, role: str, provisioned: bool = False) -> dict[str, str]:
        """The environment Lambda gives a function, with the execution role's keys."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(BOOTSTRAP),
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"
            if provisioned
            else "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_ENDPOINT_URL": self.env.endpoint,
        }
        paths = [str(spec.code_dir)]
        if spec.opt_dir is not None:
            opt = spec.opt_dir
            env["CLOUDLET_LAMBDA_OPT"] = str(opt)
            host = f"python{sys.version_info.major}.{sys.version_info.minor}"
            for version in dict.fromkeys([spec.runtime, host]):
                if version.startswith("python"):
                    paths.append(str(opt / "python" / "lib" / version / "site-packages"))
            paths.append(str(opt / "python"))
            env["PATH"] = f"{opt / 'bin'}:{env['PATH']}"
            env["LD_LIBRARY_PATH"] = str(opt / "lib")
        env["PYTHONPATH"] = ":".join(paths)
        env.update(await self._credentials(spec, role))
        env.update(spec.environment)
        return env

    async def _credentials(self, spec: Spec, role: str) -> dict[str, str]:
        try:
            out = await self.env.call(
                "sts",
                "AssumeRole",
                {"RoleArn": role, "RoleSessionName": spec.name[:64]},
                account=spec.account,
                region=spec.region,
            )
            creds = out["Credentials"]
            return {
                "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"],
            }
        except (ServiceError, KeyError) as err:
            # The role cannot be assumed by Lambda (strict mode: not in IAM, or its trust
            # policy does not name lambda.amazonaws.com). In open mode STS issues root
            # credentials for an unknown role, so this is strict mode refusing: the
            # function gets no credentials, never someone else's.
            log.warning("AssumeRole %s for %s failed (%s): no credentials", role, spec.name, err)
            return {}

    async def _execute(
        self,
        ctx: Any,
        doc: dict[str, Any],
        qualifier: str | None,
        payload: bytes,
        *,
        wait: bool = False,
        client_context: str | None = None,
        tail: bool = False,
    ) -> tuple[Outcome, str, str, str]:
        """Run one invocation: (outcome, executed version, request id, log text).

        The log text is made now only for ``tail`` (``LogType=Tail``); otherwise it is
        written just after the caller has answered, off the invocation's path."""
        version = self._route_alias(doc, qualifier)
        config, code, executed = self._config(ctx, doc, version)
        invoked_arn = function_arn(ctx, doc["name"], qualifier)
        pool = await self._enter(doc, wait)
        try:
            spec = self._spec(doc, config, code, executed)
            request_id = fast_uuid()

            async def make_env(s: Spec) -> dict[str, str]:
                return await self._worker_env(s, config["Role"])

            for _attempt in range(3):
                worker, cold = await self.pool.acquire(spec, make_env)
                if worker.init_error_type is not None:
                    outcome = self._init_failure(worker, request_id)
                    break
                deadline = int((time.time() + spec.timeout) * 1000)
                inv = Invocation(request_id, payload, deadline, invoked_arn, client_context)
                try:
                    outcome = await self.pool.run(worker, inv, spec.timeout)
                finally:
                    self.pool.release(worker)
                if outcome.kind == "undelivered":
                    # The warm worker exited before taking the event: run it on another.
                    continue
                if cold:
                    outcome.init_ms = worker.init_ms
                self._shape_failure(outcome, worker, request_id, spec.timeout)
                break
            if outcome.kind == "undelivered":
                outcome.kind = "exit"
                self._shape_failure(outcome, worker, request_id, spec.timeout)
        finally:
            await self._leave(pool)
        if not tail:
            asyncio.get_running_loop().call_soon(
                self._write_log, outcome, request_id, executed, spec, doc
            )
            return outcome, executed, request_id, ""
        return (
            outcome,
            executed,
            request_id,
            self._write_log(outcome, request_id, executed, spec, doc),
        )

    def _write_log(
        self, outcome: Outcome, request_id: str, version: str, spec: Spec, doc: dict[str, Any]
    ) -> str:
        text = self._log_text(outcome, request_id, version, spec)
        self.logs.add(doc["account"], doc["region"], spec.log_group, outcome.stream, text)
        return text

    def _init_failure(self, worker: Any, request_id: str) -> Outcome:
        body = worker.ready.result() if worker.ready.done() else None
        error_type = worker.init_error_type
        if not body:
            body = json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {worker.exit_reason()}",
                }
            ).encode()
        out = Outcome(
            "init", body, error_type, worker.read_log(), 0.0, worker.init_ms, 0, worker.stream
        )
        return out

    def _shape_failure(self, outcome: Outcome, worker: Any, request_id: str, timeout: int) -> None:
        if outcome.kind == "timeout":
            message = f"{_iso(time.time())} {request_id} Task timed out after {timeout:.2f} seconds"
            outcome.payload = json.dumps({"errorMessage": message}).encode()
            outcome.log += message + "\n"
        elif outcome.kind == "exit":
            outcome.payload = json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {worker.exit_reason()}",
                }
            ).encode()
            outcome.log += f"RequestId: {request_id} Error: Runtime exited with error: {worker.exit_reason()}\n"
        elif outcome.kind == "error" and not outcome.payload:
            outcome.payload = json.dumps(
                {"errorType": outcome.error_type, "errorMessage": ""}
            ).encode()

    def _log_text(self, outcome: Outcome, request_id: str, version: str, spec: Spec) -> str:
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(outcome.duration_ms + 0.999))} ms\t"
            f"Memory Size: {spec.memory} MB\tMax Memory Used: {outcome.memory_mb} MB\t"
        )
        if outcome.init_ms is not None:
            report += f"Init Duration: {outcome.init_ms:.2f} ms\t"
        body = outcome.log
        if body and not body.endswith("\n"):
            body += "\n"
        if outcome.kind == "init":
            return f"{body}INIT_REPORT Init Duration: {outcome.init_ms or 0:.2f} ms\tPhase: init\tStatus: error\tError Type: {outcome.error_type}\n"
        return f"START RequestId: {request_id} Version: {version}\n{body}END RequestId: {request_id}\n{report}\n"

    # -- Invoke -------------------------------------------------------------------

    async def invoke(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"], params.get("Qualifier"))
        qualifier = self._qualifier(params)
        self._config(ctx, doc, qualifier)
        kind = params.get("InvocationType") or "RequestResponse"
        payload = await _payload(ctx, params)
        if kind == "DryRun":
            return {"StatusCode": 204}
        limit = ASYNC_LIMIT if kind == "Event" else SYNC_LIMIT
        if len(payload) > limit:
            raise errors.request_too_large(len(payload), limit, kind)
        if payload.strip():
            try:
                json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                raise errors.invalid_request_content(
                    f"Could not parse request body into json: Could not parse payload into json: {exc}"
                ) from None
        else:
            payload = b"{}"
        if kind == "Event":
            self._queue_event(ctx, doc, qualifier, payload)
            return {"StatusCode": 202, "Payload": b""}
        outcome, executed, _, text = await self._execute(
            ctx,
            doc,
            qualifier,
            payload,
            client_context=_client_context(params.get("ClientContext")),
            tail=params.get("LogType") == "Tail",
        )
        out: Result = {"StatusCode": 200, "Payload": outcome.payload, "ExecutedVersion": executed}
        if outcome.kind != "ok":
            out["FunctionError"] = "Unhandled"
        if params.get("LogType") == "Tail":
            tail = text.encode()[-TAIL_BYTES:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out

    # -- asynchronous invocation ----------------------------------------------------

    def _queue_event(
        self, ctx: Any, doc: dict[str, Any], qualifier: str | None, payload: bytes
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
                    ctx, doc, qualifier, payload, wait=True
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
            "timestamp": _iso(time.time()),
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


async def _payload(ctx: Any, params: dict[str, Any]) -> bytes:
    """The request payload: the body stream the codec bound (read up to the
    synchronous limit), or bytes from an internal call."""
    payload = params.get("Payload")
    if payload is None:
        return b""
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    chunks, size = [], 0
    async for chunk in payload:
        size += len(chunk)
        if size > SYNC_LIMIT:
            raise errors.request_too_large(size, SYNC_LIMIT, "RequestResponse")
        chunks.append(chunk)
    return b"".join(chunks)


def _client_context(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid("Client context must be a valid Base64-encoded JSON object.") from None


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")
