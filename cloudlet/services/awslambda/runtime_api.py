"""The Lambda Runtime API, one tiny HTTP server per worker.

Every runtime client (ours in ``bootstrap/``, AWS's ``awslambdaric``, a shell
script with curl) finds the API at ``AWS_LAMBDA_RUNTIME_API``. The paths are
fixed (``/2018-06-01/runtime/...``), so each worker gets its own loopback port
and the port alone says which worker is talking: no routing table, no auth.

The server is a minimal HTTP/1.1 reader written as an ``asyncio.Protocol``
(keep-alive, pipelining, Content-Length bodies, chunked bodies for curl's
``-T -``): the runtime clients send nothing fancier, and it sits on every warm
invocation's path. Requests are parsed and answered inside ``data_received``,
with no reader task to wake. When a runtime pipelines its result with the next
``GET /invocation/next`` (ours does), the result's 202 is held back and leaves
in one write with the next event, so the runtime wakes once per invocation.

SnapStart's two paths are here too: ``GET /restore/next`` (init is done: the template
stops there for its snapshot, ``snapshots.py``) and ``POST /restore/error`` (an
after-restore hook failed in a restored environment).

A streamed response (``POST /invocation/<id>/response`` with
``Lambda-Runtime-Function-Response-Mode: streaming``, chunked) is the one body not
read whole: each piece goes to the invocation's ``ResponseStream`` as it arrives
(``_Upload``), the connection pauses while the caller lags, and the chunked body's
trailers (``Lambda-Runtime-Function-Error-Type``, ``Lambda-Runtime-Function-Error-Body``,
base64) report an error met mid-stream, as AWS's Runtime API documents.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
from collections.abc import Callable
from typing import Any, Protocol

from cloudlet.services.awslambda.chunked import ChunkedBody, LengthBody, whole_chunked

PREFIX = "/2018-06-01/runtime"
NEXT = PREFIX + "/invocation/next"
_NEXT_LINE = b"GET " + NEXT.encode()
_MAX_HEAD = 64 * 1024
_MAX_BODY = 8 * 1024 * 1024
_RESPONSE_MODE = "lambda-runtime-function-response-mode"
_ERROR_TYPE = "lambda-runtime-function-error-type"
_ERROR_BODY = "lambda-runtime-function-error-body"
_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


Deliver = Callable[[dict[str, str], bytes], bool]
"""Answers a waiting ``/invocation/next`` with (headers, event); False if the runtime's
connection is gone (the event was not handed over)."""


class RuntimeHost(Protocol):
    """What the API asks of its worker (``workers.Worker``)."""

    def next_invocation(self, deliver: Deliver) -> None:
        """Call ``deliver`` with the next event: at once if one is waiting, else from
        inside the call that hands the event over. The answer is written right there,
        without a trip through the event loop: it is on every warm invocation's path."""

    def invocation_response(self, request_id: str, body: bytes) -> bool: ...

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> bool: ...

    def init_error(self, body: bytes, error_type: str | None) -> None: ...

    def restore_next(self) -> bool:
        """``GET /restore/next``: init is done, the snapshot may be taken (SnapStart);
        False where no snapshot is made."""

    def restore_error(self, body: bytes, error_type: str | None) -> bool:
        """``POST /restore/error``: an after-restore hook failed; False where nothing was
        restored."""

    def stream_response(
        self, request_id: str, content_type: str | None, reader: asyncio.Transport
    ) -> Sink | None:
        """Where a streamed response's pieces go; None for no invocation awaiting one."""

    def stream_end(self, request_id: str, error_type: str | None, error_body: bytes) -> None:
        """A streamed response is complete (its trailers' error, if any)."""


class Sink(Protocol):
    """An invocation's ``stream.ResponseStream``, as the runtime's side sees it."""

    def write(self, data: bytes) -> bool:
        """Take a piece; False once the response is past its size limit."""


class RuntimeApi:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host
        self.server: asyncio.Server | None = None
        self.port = 0
        self._conns: set[_Connection] = set()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, backlog=8)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def adopt(self, sock: socket.socket) -> None:
        """Serve one already-connected socket: our own runtime client's end of a socket
        pair (``workers.Worker.start``), a private channel cheaper than loopback TCP on
        every invocation's path. The TCP port stays for every other client."""
        loop = asyncio.get_running_loop()
        await loop.connect_accepted_socket(lambda: _Connection(self), sock)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for conn in list(self._conns):
                conn.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 1)
            except TimeoutError:
                pass
            self.server = None

    def dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Every request but ``GET /invocation/next``: (status, headers, body)."""
        path = path.split("?", 1)[0]
        if not path.startswith(PREFIX):
            return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})
        rest = path[len(PREFIX) :]
        error_type = headers.get(_ERROR_TYPE)
        if method == "POST" and rest == "/init/error":
            self.host.init_error(body, error_type)
            return _ACCEPTED
        if method == "GET" and rest == "/restore/next":
            if self.host.restore_next():
                return 200, {"Content-Type": "application/json"}, b"{}"
            return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})
        if method == "POST" and rest == "/restore/error":
            if self.host.restore_error(body, error_type):
                return _ACCEPTED
            return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})
        if method == "POST" and rest.startswith("/invocation/"):
            request_id, _, kind = rest[len("/invocation/") :].partition("/")
            if kind == "response":
                ok = self.host.invocation_response(request_id, body)
            elif kind == "error":
                ok = self.host.invocation_error(request_id, body, error_type)
            else:
                return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})
            if not ok:
                return _json(
                    400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
                )
            return _ACCEPTED
        return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})


class _Connection(asyncio.Protocol):
    """One runtime client's connection. Answers leave in request order: every answer
    goes through ``out``, written when the waiting ``/next`` is answered or, for any
    other answer, one loop turn later (so the invocation's caller is answered first)."""

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.out = bytearray()
        self.flush_due = False
        self.waiting = False
        """A ``/next`` has been asked and not yet answered: later requests wait."""
        self.continued = False
        """``100 Continue`` went out for the request at the head of ``buf``."""
        self.upload: _Upload | None = None
        """A streamed response being read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # A streamed response cut short ends with its invocation (timeout, exit, or a
        # ``/next`` that gives it up), as a buffered one that never came.
        self.api._conns.discard(self)
        self.transport = None
        self.upload = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._parse()

    def _parse(self) -> None:
        try:
            while not self.waiting and self.transport is not None:
                if self.upload is not None:
                    if not self.upload.pump():
                        return
                    self.upload = None
                    continue
                request = self._take_request()
                if request is None:
                    if self.upload is None:
                        return
                    continue
                self._handle(*request)
        except ValueError:
            self.close()

    def _take_request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        """The request at the head of ``buf`` (consumed), or None until it is complete."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _MAX_HEAD:
                raise ValueError("request head too large")
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        start = end + 4
        request_id = _streamed_response(method, path, headers)
        if request_id is not None:
            # Read as it arrives, never whole (``_Upload``).
            del buf[:start]
            self.continued = False
            self._continue(headers)
            self.upload = _Upload(self, request_id, headers)
            return None
        if headers.get("transfer-encoding", "").lower() == "chunked":
            found = whole_chunked(buf, start, _MAX_BODY)
            if found is None:
                self._continue(headers)
                return None
            body, stop = found
        else:
            length = int(headers.get("content-length", "0") or 0)
            if length > _MAX_BODY:
                raise ValueError("body too large")
            stop = start + length
            if len(buf) < stop:
                self._continue(headers)
                return None
            body = bytes(buf[start:stop])
        del buf[:stop]
        self.continued = False
        return method, path, headers, body

    def _continue(self, headers: dict[str, str]) -> None:
        if not self.continued and headers.get("expect", "").lower() == "100-continue":
            self.continued = True
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n", now=True)

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        closing = headers.get("connection", "").lower() == "close"
        if method == "GET" and path.split("?", 1)[0] == NEXT:
            self.waiting = True
            self.api.host.next_invocation(self._deliver_to(closing))
            return
        self._answer(self.api.dispatch(method, path, headers, body), closing)

    def _answer(self, answer: tuple[int, dict[str, str], bytes], closing: bool) -> None:
        # A pipelined ``/next`` right behind this result takes the answer along with the
        # next event; otherwise it goes out one loop turn from now.
        self._send(_encode(*answer), now=False, hold=self.buf.startswith(_NEXT_LINE))
        if closing:
            self._send(b"", now=True)
            self.close()

    def _deliver_to(self, closing: bool) -> Deliver:
        def deliver(headers: dict[str, str], payload: bytes) -> bool:
            if self.transport is None or self.transport.is_closing():
                return False
            self.waiting = False
            self._send(
                _encode(200, {"Content-Type": "application/json", **headers}, payload), now=True
            )
            if closing:
                self.close()
            elif self.buf:
                asyncio.get_running_loop().call_soon(self._parse)
            return True

        return deliver

    def _send(self, data: bytes, now: bool, hold: bool = False) -> None:
        self.out += data
        if now:
            self._flush()
        elif not hold and not self.flush_due:
            self.flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_due = False
        if self.out and self.transport is not None:
            self.transport.write(bytes(self.out))
        self.out.clear()


class _Upload:
    """A streamed response being read: its pieces go to the invocation as they arrive,
    and the connection stops being read while the caller lags (``ResponseStream``)."""

    def __init__(self, conn: _Connection, request_id: str, headers: dict[str, str]) -> None:
        self.conn = conn
        self.request_id = request_id
        self.closing = headers.get("connection", "").lower() == "close"
        self.body: ChunkedBody | LengthBody
        if headers.get("transfer-encoding", "").lower() == "chunked":
            self.body = ChunkedBody()
        else:
            self.body = LengthBody(int(headers.get("content-length", "0") or 0))
        assert conn.transport is not None
        host = conn.api.host
        self.sink = host.stream_response(request_id, headers.get("content-type"), conn.transport)
        self.refused = False

    def pump(self) -> bool:
        """Hand on what has arrived; True once the body is complete and answered."""
        for piece in self.body.feed(self.conn.buf):
            if self.sink is not None and not self.refused:
                self.refused = not self.sink.write(piece)
        if not self.body.done:
            return False
        if self.sink is None:
            answer = _json(
                400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            )
        else:
            trailers = self.body.trailers
            error_type = trailers.get(_ERROR_TYPE) or None
            self.conn.api.host.stream_end(
                self.request_id, error_type, _unbase64(trailers.get(_ERROR_BODY, ""))
            )
            if self.refused:
                answer = _json(
                    413,
                    {
                        "errorMessage": "Payload Too Large",
                        "errorType": "Function.ResponseSizeTooLarge",
                    },
                )
            else:
                answer = _ACCEPTED
        self.conn.continued = False
        self.conn._answer(answer, self.closing)
        return True


def _streamed_response(method: str, path: str, headers: dict[str, str]) -> str | None:
    """The request id of a streamed invocation response; None for any other request."""
    if method != "POST" or headers.get(_RESPONSE_MODE, "").lower() != "streaming":
        return None
    rest = path.split("?", 1)[0]
    if not rest.startswith(PREFIX + "/invocation/"):
        return None
    request_id, _, kind = rest[len(PREFIX) + len("/invocation/") :].partition("/")
    return request_id if kind == "response" else None


def _unbase64(text: str) -> bytes:
    """An error body trailer (base64, as the Runtime API asks); kept as sent if it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "replace")


def _encode(status: int, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _json(status: int, doc: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()


_ACCEPTED = _json(202, {"status": "OK"})
