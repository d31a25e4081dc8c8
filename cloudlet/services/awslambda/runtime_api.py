"""The Lambda Runtime API, one tiny HTTP server per worker.

Every runtime client (ours in ``bootstrap/``, AWS's ``awslambdaric``, a shell
script with curl) finds the API at ``AWS_LAMBDA_RUNTIME_API``. The paths are
fixed (``/2018-06-01/runtime/...``), so each worker gets its own loopback port
and the port alone says which worker is talking: no routing table, no auth.
The server is a minimal HTTP/1.1 reader on asyncio streams (keep-alive,
Content-Length bodies, chunked bodies for curl's ``-T -``): the runtime
clients send nothing fancier, and a full HTTP stack per worker would cost
start-up time and memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime"
NEXT = PREFIX + "/invocation/next"
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
        self._conns: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=8)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            try:
                await asyncio.wait_for(self.server.wait_closed(), 1)
            except TimeoutError:
                pass
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            while True:
                request = await _read_request(reader, writer)
                if request is None:
                    break
                method, path, headers, body = request
                if method == "GET" and path.split("?", 1)[0] == NEXT:
                    await self._next(writer)
                else:
                    status, out_headers, out = self._dispatch(method, path, headers, body)
                    if method == "POST":
                        # Let the invocation's caller be answered before this acknowledgement:
                        # the runtime only needs it to ask for the next event.
                        await asyncio.sleep(0)
                    _write(writer, status, out_headers, out)
                    await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()

    async def _next(self, writer: asyncio.StreamWriter) -> None:
        """``GET /invocation/next``: wait until the host has written the event."""
        written = asyncio.get_running_loop().create_future()

        def deliver(headers: dict[str, str], payload: bytes) -> bool:
            if writer.is_closing():
                return False
            _write(writer, 200, {"Content-Type": "application/json", **headers}, payload)
            if not written.done():
                written.set_result(None)
            return True

        self.host.next_invocation(deliver)
        await written
        await writer.drain()

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = path.split("?", 1)[0]
        if not path.startswith(PREFIX):
            return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})
        rest = path[len(PREFIX) :]
        error_type = headers.get("lambda-runtime-function-error-type")
        if method == "POST" and rest == "/init/error":
            self.host.init_error(body, error_type)
            return _json(202, {"status": "OK"})
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
            return _json(202, {"status": "OK"})
        return _json(404, {"errorMessage": "not found", "errorType": "NotFound"})


def _write(writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes) -> None:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _json(status: int, doc: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > _MAX_BODY:
                raise ValueError("body too large")
        return method, path, headers, bytes(body)
    length = int(headers.get("content-length", "0") or 0)
    if length > _MAX_BODY:
        raise ValueError("body too large")
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body
