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
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any, Protocol

PREFIX = "/2018-06-01/runtime"
NEXT = PREFIX + "/invocation/next"
_NEXT_LINE = b"GET " + NEXT.encode()
_MAX_HEAD = 64 * 1024
_MAX_BODY = 8 * 1024 * 1024
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
        error_type = headers.get("lambda-runtime-function-error-type")
        if method == "POST" and rest == "/init/error":
            self.host.init_error(body, error_type)
            return _ACCEPTED
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

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.api._conns.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._parse()

    def _parse(self) -> None:
        try:
            while not self.waiting and self.transport is not None:
                request = self._take_request()
                if request is None:
                    return
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
        if headers.get("transfer-encoding", "").lower() == "chunked":
            found = _chunked(buf, start)
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
        status, out_headers, out = self.api.dispatch(method, path, headers, body)
        # A pipelined ``/next`` right behind this result takes the answer along with the
        # next event; otherwise it goes out one loop turn from now.
        self._send(
            _encode(status, out_headers, out), now=False, hold=self.buf.startswith(_NEXT_LINE)
        )
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


def _chunked(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """A complete chunked body from ``start``: (body, end offset), or None if incomplete."""
    body = bytearray()
    at = start
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buf[at:eol]).split(b";")[0], 16)
        at = eol + 2
        if size == 0:
            # Trailers (none from the runtime clients) end with an empty line.
            end = buf.find(b"\r\n", at)
            if end < 0:
                return None
            return bytes(body), end + 2
        if len(buf) < at + size + 2:
            return None
        body += buf[at : at + size]
        if len(body) > _MAX_BODY:
            raise ValueError("body too large")
        at += size + 2


def _encode(status: int, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _json(status: int, doc: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()


_ACCEPTED = _json(202, {"status": "OK"})
