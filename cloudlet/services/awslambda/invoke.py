"""Invoke: the one path every invocation takes, and the synchronous and dry-run answers.

``_execute`` runs every invocation (sync, async (``asynchronous.py``), function
URLs, InvokeWithResponseStream (``streaming.py``), and event source mappings
through ``env.call("lambda", "Invoke")``): pick the version (alias weights), hold a
concurrency slot, take a warm worker or cold-start one, run the event with the
function's timeout, write START/END/REPORT with the function's output to the logs,
and shape the result as Lambda does. A SnapStart version's environments are restored
from its snapshot (``snapstart.py``), their first REPORT saying so.
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

from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn
from cloudlet.services.awslambda.recursion import incoming_trace
from cloudlet.services.awslambda.snapstart import snap_started
from cloudlet.services.awslambda.stream import ResponseStream
from cloudlet.services.awslambda.workers import BOOTSTRAP, Invocation, Outcome, Spec

log = logging.getLogger(__name__)
Result = dict[str, Any]

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024
"""An Event invocation's payload: 1 MB (Invoke's API reference; it was 256 KB)."""
TAIL_BYTES = 4096
ACCOUNT_CONCURRENCY = 1000


def iso_time(t: float) -> str:
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
            snap_start=version != "$LATEST" and snap_started(config),
        )

    async def _worker_env(
        self, spec: Spec, role: str, provisioned: bool = False, snap_start: bool = False
    ) -> dict[str, str]:
        """The environment Lambda gives a function, with the execution role's keys (a
        SnapStart snapshot's has no log group or stream names, as on AWS)."""
        init_type = "on-demand"
        if snap_start:
            init_type = "snap-start"
        elif provisioned:
            init_type = "provisioned-concurrency"
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
            "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
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
        if snap_start:
            del env["AWS_LAMBDA_LOG_GROUP_NAME"]
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
        stream: ResponseStream | None = None,
        trace: str | None = None,
    ) -> tuple[Outcome, str, str, str]:
        """Run one invocation: (outcome, executed version, request id, log text).

        The log text is made now only for ``tail`` (``LogType=Tail``); otherwise it is
        written just after the caller has answered, off the invocation's path. With a
        ``stream``, the response goes there as the function streams it; its ``started``
        resolves once the invocation holds its slot (the caller may answer then). ``trace``:
        the function's trace header (``recursion.py``), a new chain's when None."""
        version = self._route_alias(doc, qualifier)
        config, code, executed = self._config(ctx, doc, version)
        self._check_runtime_version(ctx, doc, executed, config)
        if executed != "$LATEST" and snap_started(config):
            await self._snap_ready(doc, executed, config, wait)
        if trace is None:
            trace, _ = self._chain(doc, None)
        invoked_arn = function_arn(ctx, doc["name"], qualifier)
        pool = await self._enter(doc, wait)
        if stream is not None:
            stream.started.set_result(executed)
        try:
            spec = self._spec(doc, config, code, executed)
            request_id = fast_uuid()

            async def make_env(s: Spec) -> dict[str, str]:
                return await self._worker_env(s, config["Role"])

            for _attempt in range(3):
                worker, cold = await self.pool.acquire(spec, make_env)
                if worker.init_error_type is not None:
                    self._restore_failed(worker)
                    outcome = self._init_failure(worker, request_id)
                    break
                deadline = int((time.time() + spec.timeout) * 1000)
                inv = Invocation(
                    request_id,
                    payload,
                    deadline,
                    invoked_arn,
                    client_context,
                    stream=stream,
                    trace=trace,
                )
                try:
                    outcome = await self.pool.run(worker, inv, spec.timeout)
                finally:
                    self.pool.release(worker)
                if outcome.kind == "undelivered":
                    # The warm worker exited before taking the event: run it on another.
                    continue
                if cold:
                    worker.cold_start(outcome)
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
            message = (
                f"{iso_time(time.time())} {request_id} Task timed out after {timeout:.2f} seconds"
            )
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
        if outcome.restore_ms is not None:
            report += (
                f"Restore Duration: {outcome.restore_ms:.2f} ms\t"
                f"Billed Restore Duration: {outcome.billed_restore_ms} ms\t"
            )
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
        payload = await request_payload(ctx, params)
        if kind == "DryRun":
            return {"StatusCode": 204}
        payload = event_payload(payload, kind)
        trace, stop = self._chain(doc, incoming_trace(ctx, params))
        if stop and kind != "Event":
            self._dropped(doc)
            raise errors.recursive_invocation()
        if kind == "Event":
            if stop:
                self._stop_event(ctx, doc, qualifier, payload)
            else:
                self._queue_event(ctx, doc, qualifier, payload, trace)
            return {"StatusCode": 202, "Payload": b""}
        outcome, executed, _, text = await self._execute(
            ctx,
            doc,
            qualifier,
            payload,
            client_context=client_context(params.get("ClientContext")),
            tail=params.get("LogType") == "Tail",
            trace=trace,
        )
        out: Result = {"StatusCode": 200, "Payload": outcome.payload, "ExecutedVersion": executed}
        if outcome.kind != "ok":
            out["FunctionError"] = "Unhandled"
        if params.get("LogType") == "Tail":
            tail = text.encode()[-TAIL_BYTES:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out


async def request_payload(ctx: Any, params: dict[str, Any]) -> bytes:
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


def event_payload(payload: bytes, kind: str) -> bytes:
    """The event a request carries, checked as Invoke checks it (size, JSON); ``{}``
    for none."""
    limit = ASYNC_LIMIT if kind == "Event" else SYNC_LIMIT
    if len(payload) > limit:
        raise errors.request_too_large(len(payload), limit, kind)
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.invalid_request_content(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None
    return payload


def client_context(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid("Client context must be a valid Base64-encoded JSON object.") from None
