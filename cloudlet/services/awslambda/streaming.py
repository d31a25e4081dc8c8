"""Response streaming: InvokeWithResponseStream and ``RESPONSE_STREAM`` function URLs.

Both run the invocation on Invoke's own path (``InvokeMixin._execute``: versions,
aliases, concurrency, timeouts, logs) in a task of its own, with a
``stream.ResponseStream`` the runtime's streamed response flows through, and answer
as soon as the invocation holds its slot (a throttle is still an HTTP error).

InvokeWithResponseStream answers an event stream: a ``PayloadChunk`` per piece the
function streams, then ``InvokeComplete`` with ``ErrorCode``/``ErrorDetails`` when the
invocation failed (a timeout, an exit, or the error a runtime reports in its chunked
body's trailers) and ``LogResult`` for ``LogType=Tail``. A function that answers in
one piece (any Python function: AWS's managed Python runtimes have no streaming
handlers) has its response sent as one ``PayloadChunk`` when it ends.

A function URL in ``RESPONSE_STREAM`` mode sends the HTTP response as the function
writes it. When the runtime's response has the content type
``application/vnd.awslambda.http-integration-response`` (Node's
``awslambda.HttpResponseStream.from``), it begins with a JSON prelude
(``statusCode``, ``headers``, ``cookies``) ended by 8 NUL bytes, then the body;
otherwise the body is the whole response, status 200, with the runtime's content type.
Nothing streamed and a failed invocation is a 502, as in ``BUFFERED`` mode.

The bodies handed to the gateway are ``live`` (each piece goes out at once) and close
with ``aclose``: a caller that leaves stops the waiting, and the invocation runs to its
end in the background (``event_tasks``), its further pieces dropped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.protocols.eventstream import StreamError
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.invoke import (
    TAIL_BYTES,
    client_context,
    event_payload,
    request_payload,
)
from cloudlet.services.awslambda.stream import ResponseStream
from cloudlet.services.awslambda.workers import Outcome

log = logging.getLogger(__name__)
Result = dict[str, Any]
Run = asyncio.Task[tuple[Outcome, str, str, str]]

PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8
MAX_PRELUDE = 16 * 1024
"""The prelude must end within this many bytes (API Gateway's documented bound)."""


class StreamingMixin:
    async def invoke_with_response_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"], params.get("Qualifier"))
        qualifier = self._qualifier(params)
        self._config(ctx, doc, qualifier)
        kind = params.get("InvocationType") or "RequestResponse"
        if kind not in ("RequestResponse", "DryRun"):
            raise errors.invalid(
                f"1 validation error detected: Value '{kind}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
            )
        payload = await request_payload(ctx, params)
        if kind == "DryRun":
            return {"StatusCode": 204}
        payload = event_payload(payload, kind)
        tail = params.get("LogType") == "Tail"
        context = client_context(params.get("ClientContext"))
        stream = ResponseStream()
        run = self._run_streamed(ctx, doc, qualifier, payload, stream, context, tail)
        executed = await _started(run, stream)
        return {
            "StatusCode": 200,
            "ExecutedVersion": executed,
            "EventStream": _events(run, stream, tail),
        }

    def _run_streamed(
        self,
        ctx: Any,
        doc: dict[str, Any],
        qualifier: str | None,
        payload: bytes,
        stream: ResponseStream,
        client_context: str | None = None,
        tail: bool = False,
    ) -> Run:
        """The invocation, in a task that outlives its caller (stopped with the service)."""

        async def run() -> tuple[Outcome, str, str, str]:
            try:
                return await self._execute(
                    ctx,
                    doc,
                    qualifier,
                    payload,
                    client_context=client_context,
                    tail=tail,
                    stream=stream,
                )
            finally:
                stream.end()

        task = asyncio.get_running_loop().create_task(run())
        self.event_tasks.add(task)
        task.add_done_callback(self._streamed_done)
        return task

    def _streamed_done(self, task: Run) -> None:
        self.event_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Seen by its caller if it is still there (``_outcome``); otherwise only here.
            log.debug("streamed invocation failed: %r", task.exception())

    async def _serve_streamed(
        self,
        ctx: Any,
        doc: dict[str, Any],
        qualifier: str | None,
        payload: bytes,
        cors: list[tuple[str, str]],
    ) -> HttpResponse:
        """A ``RESPONSE_STREAM`` function URL's answer: status and headers once known,
        then the body as the function writes it."""
        stream = ResponseStream()
        run = self._run_streamed(ctx, doc, qualifier, payload, stream)
        await _started(run, stream)
        try:
            head = await _url_head(run, stream)
        except BaseException:
            stream.detach()
            raise
        if head is None:
            stream.detach()
            return HttpResponse(
                502,
                [("Content-Type", "application/json"), *cors],
                b'{"Message":"Internal Server Error"}',
            )
        status, headers, first = head
        return HttpResponse(status, headers + cors, LiveBody(first, stream))


async def _started(run: Run, stream: ResponseStream) -> str:
    """The executed version once the invocation holds its slot; else the error it met
    first (a throttle), raised."""
    try:
        await asyncio.wait((run, stream.started), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        stream.detach()
        raise
    if stream.started.done():
        return stream.started.result()
    stream.detach()
    run.result()  # raises the invocation's error
    raise AssertionError("an invocation ended without starting")


async def _outcome(run: Run) -> tuple[Outcome, str]:
    """How the invocation ended and its log text (``shield``: a caller leaving does not
    cancel the invocation)."""
    try:
        outcome, _, _, text = await asyncio.shield(run)
    except ServiceError as err:
        raise StreamError(err.code, err.message) from None
    except Exception:  # noqa: BLE001 - the response has begun: it ends with an error message
        log.exception("streamed invocation failed")
        raise StreamError(
            "ServiceException", "The Lambda service encountered an internal error."
        ) from None
    return outcome, text


async def _events(run: Run, stream: ResponseStream, tail: bool) -> AsyncIterator[Result]:
    """InvokeWithResponseStream's events: the pieces, then ``InvokeComplete``."""
    try:
        while (chunk := await stream.read()) is not None:
            yield {"PayloadChunk": {"Payload": chunk}}
        outcome, text = await _outcome(run)
        if outcome.kind == "ok" and not stream.began and outcome.payload:
            yield {"PayloadChunk": {"Payload": outcome.payload}}
        complete: Result = {}
        if outcome.kind != "ok":
            complete["ErrorCode"] = outcome.error_type or "Unhandled"
            complete["ErrorDetails"] = outcome.payload.decode("utf-8", "replace")
        if tail:
            complete["LogResult"] = base64.b64encode(text.encode()[-TAIL_BYTES:]).decode()
        yield {"InvokeComplete": complete}
    finally:
        stream.detach()


async def _url_head(
    run: Run, stream: ResponseStream
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """(status, headers, the body's first bytes) of a streamed function URL response;
    None when the invocation failed before any of its body was written."""
    first = await stream.read()
    if first is None:  # nothing streamed: the invocation's end says what to answer
        outcome, _ = await _outcome(run)
        if outcome.kind != "ok":
            return None
        if stream.began:  # a streamed response with no body at all
            return 200, [("Content-Type", _body_type(stream.content_type))], b""
        return 200, [("Content-Type", "application/json")], outcome.payload
    if stream.content_type != PRELUDE_TYPE:
        return 200, [("Content-Type", _body_type(stream.content_type))], first
    data = bytearray(first)
    while DELIMITER not in data and len(data) <= MAX_PRELUDE:
        more = await stream.read()
        if more is None:
            break
        data += more
    prelude, found, body = bytes(data).partition(DELIMITER)
    head = _prelude(prelude) if found else None
    if head is None:
        log.warning("a streamed function URL response has no valid prelude")
        return None
    status, headers = head
    return status, headers, body


def _body_type(content_type: str | None) -> str:
    """The content type a streamed body goes out with: the runtime's (Node's default
    when it names none, or names only the prelude format)."""
    if not content_type or content_type == PRELUDE_TYPE:
        return "application/octet-stream"
    return content_type


def _prelude(data: bytes) -> tuple[int, list[tuple[str, str]]] | None:
    """The status and headers an HTTP integration response's prelude names."""
    try:
        doc = json.loads(data) if data.strip() else {}
        status = int(doc.get("statusCode", 200))
        headers = [(str(k), str(v)) for k, v in (doc.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(c)) for c in doc.get("cookies") or []]
    except (ValueError, TypeError, AttributeError):
        return None
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    return status, headers


class LiveBody:
    """A streamed function URL body: the pieces as the function writes them. ``live``
    tells the gateway to send each at once; ``aclose`` lets the invocation go."""

    live = True

    def __init__(self, first: bytes, stream: ResponseStream) -> None:
        self.first = first
        self.stream = stream

    def __aiter__(self) -> LiveBody:
        return self

    async def __anext__(self) -> bytes:
        if self.first:
            first, self.first = self.first, b""
            return first
        chunk = await self.stream.read()
        if chunk is None:
            self.stream.detach()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self.stream.detach()
