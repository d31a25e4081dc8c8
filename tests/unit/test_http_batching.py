"""Batched response writes (cloudlet/http_batching.py) on a real uvicorn server.

A small ASGI app whose requests can be held open stands in for the gateway,
so the tests choose when requests overlap; raw sockets see exactly what is
written and when.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import uvicorn

from cloudlet.http_batching import BatchingHttpProtocol

BIG = 200 * 1024


class App:
    """``/hold/<name>`` answers once ``release(name)``; ``/echo/<x>`` answers ``x``;
    ``/split`` sends its head, then its body once ``body_go`` is set;
    ``/big`` streams small and large chunks alternately."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.body_go = asyncio.Event()

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope["path"]
        chunks = [path.encode()]
        if path.startswith("/hold/"):
            await self.gate(path[6:]).wait()
        elif path == "/big":
            chunks = [b"a" * 10, b"b" * BIG, b"c" * 10, b"d" * 10, b"e" * BIG, b"f"]
        length = str(sum(map(len, chunks))).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        if path == "/split":
            await self.body_go.wait()
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


WRITES: list[bytes] = []
"""What ``CountingProtocol`` connections handed to their socket, one entry a write."""


class _Counting:
    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class CountingProtocol(BatchingHttpProtocol):
    """``BatchingHttpProtocol`` over a transport that records each write."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Counting(transport))  # type: ignore[arg-type]


def run(
    test: Callable[[App, int, uvicorn.Server], Awaitable[None]],
    protocol: type[BatchingHttpProtocol] = BatchingHttpProtocol,
) -> None:
    async def main() -> None:
        app = App()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            http=protocol,
            lifespan="off",
            log_level="warning",
            loop="none",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(test(app, sock.getsockname()[1], server), 10)
        finally:
            for gate in app.gates.values():
                gate.set()
            app.body_go.set()
            server.should_exit = True
            await serving
            sock.close()

    asyncio.run(main())


def in_flight(server: uvicorn.Server) -> int:
    return server.server_state.cloudlet_load.in_flight  # type: ignore[attr-defined]


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def written_as_sent(
    app: App, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """``/split``'s body waits for its head to have arrived: nothing may be held back."""
    app.body_go.clear()
    writer.write(get("/split"))
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    app.body_go.set()
    assert await reader.readexactly(len(b"/split")) == b"/split"


def test_a_lone_request_is_written_as_it_is_sent() -> None:
    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await written_as_sent(app, reader, writer)
        writer.close()

    run(test)


def test_a_lone_response_goes_out_in_one_write() -> None:
    """Head and body, sent in one turn, reach the socket as one write; a body that
    comes later (``/split``) still lets its head go at the end of the turn."""

    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        WRITES.clear()
        writer.write(get("/echo/1"))
        assert await read_response(reader) == b"/echo/1"
        assert len(WRITES) == 1
        assert WRITES[0].startswith(b"HTTP/1.1 200") and WRITES[0].endswith(b"/echo/1")
        await written_as_sent(app, reader, writer)
        writer.close()

    run(test, CountingProtocol)


def test_overlapping_requests_are_answered_whole_and_in_order() -> None:
    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        held_r, held_w = await asyncio.open_connection("127.0.0.1", port)
        held_w.write(get("/hold/a"))
        await until(lambda: in_flight(server) == 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get("/echo/1") + get("/echo/2") + get("/big") + get("/echo/3"))
        assert await read_response(reader) == b"/echo/1"
        assert await read_response(reader) == b"/echo/2"
        assert await read_response(reader) == (
            b"a" * 10 + b"b" * BIG + b"c" * 10 + b"d" * 10 + b"e" * BIG + b"f"
        )
        assert await read_response(reader) == b"/echo/3"
        app.gate("a").set()
        assert await read_response(held_r) == b"/hold/a"
        await until(lambda: in_flight(server) == 0)
        for w in (held_w, writer):
            w.close()

    run(test)


def test_dropped_connections_give_back_their_requests() -> None:
    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        _, dropped = await asyncio.open_connection("127.0.0.1", port)
        dropped.write(get("/hold/x"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get("/hold/y"))
        await until(lambda: in_flight(server) == 2)
        dropped.close()
        await until(lambda: in_flight(server) == 1)
        app.gate("y").set()
        assert await read_response(reader) == b"/hold/y"
        await until(lambda: in_flight(server) == 0)
        await written_as_sent(app, reader, writer)  # alone again
        # A request queued behind a running one (pipelined) counts until it is
        # answered or its connection goes, even when the client left first.
        _, pipelined = await asyncio.open_connection("127.0.0.1", port)
        pipelined.write(get("/hold/z") + get("/echo/queued"))
        await until(lambda: in_flight(server) == 2)
        pipelined.close()
        app.gate("z").set()
        await until(lambda: in_flight(server) == 0)
        writer.close()

    run(test)


def expecting(path: str, length: int) -> bytes:
    return (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_small_body_is_asked_for_before_the_app_reads_it() -> None:
    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(expecting("/hold/c", 5))
        # The app is held and has not read anything, yet the client may go on.
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        app.gate("c").set()
        assert await read_response(reader) == b"/hold/c"
        # The body the app never read is skipped: the connection serves the next one.
        writer.write(get("/echo/next"))
        assert await read_response(reader) == b"/echo/next"
        writer.close()

    run(test)


def test_a_large_body_waits_to_be_asked_for() -> None:
    async def test(app: App, port: int, server: uvicorn.Server) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(expecting("/hold/d", 100_000))
        await until(lambda: in_flight(server) == 1)
        try:
            early = await asyncio.wait_for(reader.read(100), 0.3)
        except TimeoutError:
            early = b""
        assert early == b""
        app.gate("d").set()
        assert await read_response(reader) == b"/hold/d"
        writer.close()

    run(test)
