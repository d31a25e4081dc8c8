"""Recursive loop detection: Lambda stops a chain of requests that keeps coming back.

Why, and how AWS does it ("Use Lambda recursive loop detection to prevent infinite
loops"): a function that writes to the queue, topic or bucket that invokes it loops for
ever. Lambda follows each event with the X-Ray trace header: the header it gives a
function (``Lambda-Runtime-Trace-Id``, which the runtime puts in ``_X_AMZN_TRACE_ID``)
carries a ``Lineage`` field, ``<hash of the function>:<times it has run in this chain>``
entries joined by ``|`` (``Lineage=12326a9d:0`` on a chain's first run). The AWS SDKs
send that header with every request a function makes (botocore's
``add_recursion_detection_header`` does when ``AWS_LAMBDA_FUNCTION_NAME`` is set); SQS
keeps it as the message's ``AWSTraceHeader``, SNS and S3 pass it on with what they
deliver, and the next invocation of the same function counts one more. Past 16 runs in
one chain, Lambda stops the next invocation, unless the function's recursion config is
``Allow`` (PutFunctionRecursionConfig; ``Terminate`` by default), and publishes
``RecursiveInvocationsDropped`` (``AWS/Lambda``, per function and for the account).

What a stop does, by how the event came:

- **Synchronous Invoke**: ``RecursiveInvocationException`` (400) to the caller.
- **Asynchronous** (``Event``: SNS and S3 deliver this way, and functions invoking
  functions): the event goes to the on-failure destination, else the dead-letter queue,
  else nowhere, as AWS documents; the invocation record's ``condition`` is
  ``RecursiveInvocationDetected`` and ``approximateInvokeCount`` 0 (the function never
  ran; AWS does not document the condition for this case).
- **SQS event source mappings**: the message is not handed to the function. A queue with
  a redrive policy gets it back after its visibility timeout and moves it to its
  dead-letter queue after ``maxReceiveCount`` receives (AWS's blog on the feature shows
  exactly that); without one the message is deleted (dropped), which is what AWS does
  with a stopped event that has nowhere to go.

In-process callers (SNS, S3, the mappings) hand Lambda's Invoke the header the causing
request carried as ``params[TRACE_PARAM]``, the header AWS's services send with their
Invoke; over HTTP it is the request's own ``X-Amzn-Trace-Id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from cloudlet.core.ids import fast_uuid, token_hex
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import parse_name
from cloudlet.services.awslambda.workers import Outcome

log = logging.getLogger(__name__)
Result = dict[str, Any]
Doc = dict[str, Any]

TRACE_PARAM = "X-Amzn-Trace-Id"
"""Where an in-process Invoke carries the causing request's trace header."""
LIMIT = 16
"""Runs of one function in one chain Lambda lets through; the next is stopped."""


def incoming_trace(ctx: Any, params: dict[str, Any]) -> str | None:
    """The trace header an Invoke arrived with (an in-process caller's, or HTTP's)."""
    given = params.get(TRACE_PARAM)
    if given:
        return str(given)
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    return headers.get("x-amzn-trace-id") if headers else None


def _fields(header: str | None) -> list[tuple[str, str]]:
    out = []
    # The SDKs percent-encode what they send (botocore keeps ``-=;:`` but not ``|``).
    for part in unquote(header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out.append((key, value))
    return out


def _lineage(value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in value.split("|"):
        key, _, count = entry.rpartition(":")
        key = key.rsplit(":", 1)[-1]  # a versioned entry ("1:<hash>:<count>") too
        if key and count.isdigit():
            out[key] = int(count)
    return out


@lru_cache(maxsize=4096)
def function_hash(account: str, region: str, name: str) -> str:
    """A function's Lineage key: eight hex digits of its unqualified ARN's hash."""
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return hashlib.sha256(arn.encode()).hexdigest()[:8]


def runs(header: str | None, key: str) -> int | None:
    """How many times function ``key`` has run in the chain ``header`` comes from (None:
    never)."""
    for name, value in _fields(header):
        if name == "Lineage":
            return _lineage(value).get(key)
    return None


def next_trace(header: str | None, key: str) -> tuple[str, int]:
    """The trace header for the next run of function ``key`` in the chain ``header``
    comes from (a new chain for None), and that run's count (0 for the first)."""
    fields = dict(_fields(header))
    previous = runs(header, key)
    count = 0 if previous is None else previous + 1
    lineage = _lineage(fields.get("Lineage", ""))
    lineage[key] = count
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{fast_uuid().replace('-', '')[:24]}"
    parts = [f"Root={root}", f"Parent={token_hex(8)}", f"Sampled={fields.get('Sampled', '0')}"]
    parts.append("Lineage=" + "|".join(f"{k}:{v}" for k, v in lineage.items()))
    return ";".join(parts), count


class RecursionMixin:
    """Get/PutFunctionRecursionConfig and the loop check every invocation passes."""

    store: Any
    env: Any
    event_tasks: set[Any]

    _function: Callable[..., Doc]
    _config: Callable[..., tuple[Doc, str, str]]
    _route_alias: Callable[[Doc, str | None], str | None]
    _event_config: Callable[[Doc, str | None], Doc]
    _deliver: Callable[..., Coroutine[Any, Any, None]]
    _delete: Callable[..., Coroutine[Any, Any, None]]
    """Provided by ``FunctionsMixin``, ``VersionsMixin``, ``AsyncInvokeMixin`` and
    ``EventSourceMappingOps``."""

    def get_function_recursion_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        return {"RecursiveLoop": doc.get("recursion", "Terminate")}

    def put_function_recursion_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        errors.check_model("PutFunctionRecursionConfig", params)
        doc = self._function(ctx, params["FunctionName"])
        mode = params["RecursiveLoop"]
        doc["recursion"] = mode
        self.store.save_function(doc)
        return {"RecursiveLoop": mode}

    # -- the check ------------------------------------------------------------------

    def _chain(self, doc: Doc, header: str | None) -> tuple[str, bool]:
        """(the trace header the next run of ``doc`` gets, whether Lambda stops it)."""
        key = function_hash(doc["account"], doc["region"], doc["name"])
        trace, count = next_trace(header, key)
        return trace, self._stops(doc, count)

    @staticmethod
    def _stops(doc: Doc, count: int) -> bool:
        """Whether Lambda stops a function's run numbered ``count`` (from 0) in a chain."""
        return count >= LIMIT and doc.get("recursion", "Terminate") == "Terminate"

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.event_tasks.add(task)
        task.add_done_callback(self.event_tasks.discard)

    def _dropped(self, doc: Doc) -> None:
        """Count one stopped invocation: the log, and ``RecursiveInvocationsDropped``."""
        log.warning(
            "Lambda stopped a recursive invocation of %s (more than %d in one chain)",
            doc["name"],
            LIMIT,
        )
        datum = {"MetricName": "RecursiveInvocationsDropped", "Value": 1.0, "Unit": "Count"}
        data = [datum, {**datum, "Dimensions": [{"Name": "FunctionName", "Value": doc["name"]}]}]
        self._spawn(
            self.env.put_metric_data(
                "AWS/Lambda", data, account=doc["account"], region=doc["region"]
            )
        )

    def _stop_event(self, ctx: Any, doc: Doc, qualifier: str | None, payload: bytes) -> None:
        """An asynchronous invocation stopped: the event to the on-failure destination or
        dead-letter queue, if there is one."""
        self._dropped(doc)
        _, _, executed = self._config(ctx, doc, self._route_alias(doc, qualifier))
        error = errors.recursive_invocation()
        body = json.dumps({"errorType": error.code, "errorMessage": error.message}).encode()
        outcome = Outcome("error", body, error.code)
        self._spawn(
            self._deliver(
                ctx,
                doc,
                self._event_config(doc, qualifier),
                "OnFailure",
                payload,
                outcome,
                executed,
                fast_uuid(),
                0,
                "RecursiveInvocationDetected",
            )
        )

    async def _recursion_filter(
        self, mapping: Doc, sqs: Callable[..., Any], url: str, batch: list[Doc]
    ) -> tuple[list[bool], str | None]:
        """An SQS mapping's batch: which messages may reach the function (the others are
        stopped: left to the queue's redrive, or deleted), and the trace header of the
        longest chain among those kept, which the invocation continues."""
        name, _ = parse_name(mapping["FunctionArn"])
        doc = self.store.functions.get((mapping["account"], mapping["region"], name))
        if doc is None:
            return [True] * len(batch), None
        key = function_hash(doc["account"], doc["region"], doc["name"])
        keep: list[bool] = []
        longest: tuple[int, str | None] = (-1, None)
        stopped: list[Doc] = []
        for message in batch:
            header = (message.get("Attributes") or {}).get("AWSTraceHeader")
            previous = runs(header, key)
            count = -1 if previous is None else previous
            keep.append(not self._stops(doc, count + 1))
            if not keep[-1]:
                stopped.append(message)
            elif header and count >= longest[0]:
                longest = (count, header)
        for _ in stopped:
            self._dropped(doc)
        if stopped:
            attrs = await sqs("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
            if not (attrs.get("Attributes") or {}).get("RedrivePolicy"):
                await self._delete(sqs, url, stopped)
        return keep, longest[1]
