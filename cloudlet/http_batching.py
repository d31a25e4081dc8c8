"""uvicorn's httptools HTTP/1.1 protocol, with response writes batched while the server is busy.

Why: uvicorn writes each ASGI message to the socket as it is sent, so every
response costs two ``send`` calls (head, then body), and each wakes the client
at once. Under concurrent load the woken clients then compete with the server
for the CPU in the middle of its event-loop turn (on the 2-core machine CI
runs on, ``wrk`` with two threads plus the server is already one thread more
than there are cores). Holding the writes of the turn and sending them when it
ends lets the server answer every request that was ready before any client is
woken. Measured with ``wrk -c32`` on a signed GetItem: 9,000 → 12,600 req/s,
server CPU 112 → 79 µs per request; a presigned S3 GET: 4,900 → 7,500 req/s.
Joining head and body into one write without waiting for the end of the turn
gained nothing: the waiting is what helps.

A client alone gets nothing from waiting (holding its answer to the end of the
turn made a one-connection client about a fifth slower), so while no other
request is in flight a write waits only for the next one: a response's head is
held until its body (sent in the same turn) and the two go out as one write, or
at the end of the turn if the body is not ready by then. One ``send`` a response
instead of two: measured on a one-connection signed GetItem, server system time
63 -> 53 µs a request.
Large writes (a streamed download's chunks) always go straight to the socket,
after whatever is held, so order is kept and memory does not grow.

``Expect: 100-continue`` (boto3 sends it with every PutObject): uvicorn says
``100 Continue`` when the app first reads the body, after routing and checking
the request, and the client only then sends it; the round trip adds to every
upload. For a body of at most 64 KiB the answer goes out as soon as the head is
parsed, as nginx does, so the body travels while the request is checked
(measured: a 1 KiB PutObject from boto3, 0.80 -> 0.85 of the canned-response
floor's rate). A larger body still waits to be asked for, so an early error
saves sending it. The scope then carries ``CONTINUE_SENT``: the gateway knows
the body is coming even if it answers without reading it, and keeps the
connection (the parser skips the unread body).

A request head that repeats ``Content-Length`` with one value (Go's net/http sends
both ``Content-Length`` and ``content-length`` when a client copies the signed
headers of a presigned PUT, as rclone before 1.59 did for every single-part upload)
is read with the header once: llhttp refuses any repeat, where AWS and RFC 9110
(section 8.6) accept equal values. Differing values are still refused.

A request that stops arriving is dropped after ``request_timeout`` seconds
without a byte (20 by default, about what S3 waits): uvicorn times out only the
wait between requests, so a head or body that stalled (or a connection that never
sent anything) held its socket for ever, and enough of them exhaust the server's
files. A stalled body is answered ``400 RequestTimeout`` in the service's own
format (the app's next read raises it) and the connection closed; a stalled head
or a silent connection is closed. Time the server itself holds the client up
does not count: reading paused by flow control (the app has not asked for more)
or a ``100 Continue`` not yet sent. One timer per connection, re-armed only when
it fires, so the request path pays a clock read per ``data_received``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cloudlet.gateway.asgi import CONTINUE_SENT, RequestTimeout

_DIRECT = 64 * 1024
"""Writes at least this big, and held bytes reaching it, go to the socket at once."""
EARLY_CONTINUE = 64 * 1024
"""Bodies up to this size are asked for as soon as their request's head is in."""
REQUEST_TIMEOUT = 20.0
"""Seconds without a byte of a request in progress before it is dropped (the default
of ``ServerConfig.request_timeout``)."""


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r\n)", re.IGNORECASE)


def one_content_length(data: bytes) -> bytes:
    """``data`` (bytes that start in a request head) with a repeated, equal
    ``Content-Length`` line of the head dropped; ``data`` itself otherwise."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[: end + 2]  # each header line with its CRLF
    if head.count(b"ength:") < 2:  # the common case: one Content-Length at most
        return data
    lines = list(_CONTENT_LENGTH.finditer(head))
    if len(lines) < 2 or len({m.group(1).lstrip(b"0") for m in lines}) != 1:
        return data
    kept = bytearray(data[: lines[1].start()])
    for m, following in zip(lines[1:], [*lines[2:], None], strict=True):
        kept += data[m.end() : following.start() if following is not None else len(data)]
    return bytes(kept)


class _Load:
    """Requests of one server whose response is not complete (one per uvicorn server,
    so servers on other loops or threads do not share it)."""

    __slots__ = ("in_flight",)

    def __init__(self) -> None:
        self.in_flight = 0


class _BatchingTransport:
    """A transport that holds small writes until the end of the loop turn when asked to."""

    __slots__ = ("_transport", "_load", "_loop", "_held", "_size", "_scheduled")

    def __init__(
        self, transport: asyncio.Transport, load: _Load, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._transport = transport
        self._load = load
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if len(data) >= _DIRECT:
            if self._held:
                self.flush()
            self._transport.write(data)
            return
        if self._load.in_flight <= 1 and self._held:
            # The body after its head (or any write after a held one): out together.
            self._held.append(data)
            self.flush()
            return
        self._held.append(data)
        self._size += len(data)
        if self._size >= _DIRECT:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._end_of_turn)

    def write_now(self, data: bytes) -> None:
        """Write at once, after whatever is held (a ``100 Continue`` the client waits on)."""
        self.flush()
        self._transport.write(data)

    def writelines(self, pieces: Any) -> None:
        self.write(b"".join(pieces))

    def _end_of_turn(self) -> None:
        self._scheduled = False
        if self._transport.is_closing():
            self._held.clear()
            self._size = 0
        else:
            self.flush()

    def flush(self) -> None:
        """Send whatever is held, as one write."""
        if self._held:
            held = self._held
            data = held[0] if len(held) == 1 else b"".join(held)
            held.clear()
            self._size = 0
            self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held.clear()
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BatchingHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose transport batches writes while requests overlap."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        load = getattr(self.server_state, "cloudlet_load", None)
        if load is None:
            load = self.server_state.cloudlet_load = _Load()  # type: ignore[attr-defined]
        self._load: _Load = load
        self._open = 0
        self._in_body = False  # between a head and its message's end: body bytes
        batching = _BatchingTransport(transport, load, self.loop)
        super().connection_made(batching)  # type: ignore[arg-type]
        self._timeout: float = getattr(self.config, "cloudlet_request_timeout", REQUEST_TIMEOUT)
        self._waiting = True  # for a request's bytes: none yet, or one is half in
        self._last = self.loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out: Any = None  # the cycle whose body stalled
        self._arm(self._timeout)

    def data_received(self, data: bytes) -> None:
        self._last = self.loop.time()
        super().data_received(data if self._in_body else one_content_length(data))

    def on_message_begin(self) -> None:
        self._waiting = True
        if self._timer is None:
            self._arm(self._timeout)
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._waiting = False
        super().on_message_complete()

    def on_headers_complete(self) -> None:
        self._in_body = True
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # a request (not an upgrade) to answer
            self._open += 1
            self._load.in_flight += 1
            self._time_reads(self.cycle)
            if self.expect_100_continue and not self.pipeline:
                self._continue_early(self.cycle)

    # -- requests that stop arriving ----------------------------------------------

    def _arm(self, delay: float) -> None:
        self._timer = self.loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        self._timer = None
        if not self._waiting or self.transport.is_closing():
            return  # nothing half in: the next message's start arms the timer again
        if self.transport.get_protocol() is not self:
            return  # upgraded: the connection is another protocol's now
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or (
            self._in_body and cycle is not None and cycle.waiting_for_100_continue
        ):
            self._last = now  # the server is what holds the client up
        left = self._last + self._timeout - now
        if left > 0:
            self._arm(left)
            return
        if self._in_body and cycle is not None and not cycle.response_started:
            # The app answers it (its next read raises), in its service's format.
            self._timed_out = cycle
            cycle.keep_alive = False
            cycle.message_event.set()
            self._waiting = False
        else:
            self.transport.close()

    def _time_reads(self, cycle: Any) -> None:
        """Make ``cycle``'s reads raise ``RequestTimeout`` once its body has stalled
        (set before its task first runs, so the app is handed this ``receive``)."""
        read = cycle.receive

        async def receive() -> Any:
            message = await read()
            if self._timed_out is cycle and message["type"] == "http.request":
                raise RequestTimeout()
            return message

        cycle.receive = receive

    def _continue_early(self, cycle: Any) -> None:
        """Say ``100 Continue`` now to a small body, rather than when the app first
        reads it: the client sends it while the request is routed and checked."""
        for name, value in self.headers:
            if name == b"content-length":
                if value.isdigit() and int(value) <= EARLY_CONTINUE:
                    cycle.waiting_for_100_continue = False
                    cycle.scope[CONTINUE_SENT] = True
                    self.transport.write_now(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[attr-defined]
                return

    def on_response_complete(self) -> None:
        if self._open:
            self._open -= 1
            self._load.in_flight -= 1
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._load.in_flight -= self._open
        self._open = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)
