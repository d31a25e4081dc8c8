"""The reverse proxy behind every listener: asyncio HTTP/1.1, streamed both ways.

A ``ListenerServer`` accepts client connections on the load balancer's
address and the listener's port, parses each request head, asks its
``route`` callback what to do (forward to target groups, redirect, fixed
response), and for a forward picks a target from the group's ``TargetPool``
and relays the request and response bodies as they arrive (Content-Length,
chunked or close-delimited), never buffering a whole body. Connections to
targets are kept alive and reused (``Backends``). Errors are answered as an
ALB answers them: 503 when no target is registered, 502 when the target
refuses or drops the connection, 504 when it does not answer within the idle
timeout (or the 10 s connect timeout). Requests reach targets with
``X-Forwarded-For``/``-Proto``/``-Port`` and an ``X-Amzn-Trace-Id``; over
TLS when the target group (or classic instance protocol) says the targets
speak it (``tls.target_context``). Sticky sessions (``sticky.py``) are looked
at only when the forward, the listener (classic) or the chosen target group
has them on, so requests without stickiness pay a few attribute checks. TCP
and TLS listeners are in ``tcp.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.elbv2 import sticky as stick
from cloudlet.services.elbv2.health import TargetPool
from cloudlet.services.elbv2.tls import target_context

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
CHUNK = 65536
SMALL_BODY = 16384
"""Response bodies up to this size are read whole and sent with their head."""
HOP = {"connection", "keep-alive", "proxy-connection", "te", "upgrade", "trailer", "expect"}
Headers = list[tuple[str, str]]


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: Headers
    client_ip: str
    status: int = 0
    """The status the client got (0: none was sent)."""
    by_elb: bool = False
    """The load balancer wrote the answer itself (fixed response, redirect, 5xx)."""
    target_time: float | None = None
    """Seconds from sending the request to a target until its response head arrived."""
    group: str | None = None
    """The target group (ARN) the request was forwarded to."""
    scheme: str = "http"

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    @property
    def host(self) -> str:
        return (self.header("host") or "").rsplit(":", 1)[0] if self.header("host") else ""

    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


@dataclass
class Forward:
    key: str
    groups: list[tuple[TargetPool, int]]
    port: int | None = None
    """The targets' port for this listener when it is not the target's own (classic)."""
    tls: bool | None = None
    """Whether targets speak TLS for this listener (classic); None: the pool says."""
    group_ttl: int | None = None
    """Seconds a client stays on one of several target groups (``AWSALBTG``); None: off."""


@dataclass
class Reply:
    """A response the load balancer writes itself (fixed-response, redirect)."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


Action = Forward | Reply
Route = Callable[[Request, int], Action]
Meter = Callable[[Request], None]
"""Told of every finished request (``metrics.py``)."""


AWS_TITLES = {503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def error_reply(status: int) -> Reply:
    """The page an ALB writes itself for its own 4xx/5xx answers."""
    title = f"{status} {AWS_TITLES.get(status) or HTTPStatus(status).phrase}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    return Reply(status, [("Content-Type", "text/html")], body)


def _parse_head(head: bytes) -> tuple[str, Headers] | None:
    try:
        lines = head.decode("latin-1").split("\r\n")
    except UnicodeDecodeError:
        return None
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return None
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _get(headers: Headers, name: str) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


async def _relay_exact(reader: asyncio.StreamReader, writer: Any, n: int) -> None:
    while n > 0:
        data = await reader.read(min(CHUNK, n))
        if not data:
            raise ConnectionResetError("body cut short")
        n -= len(data)
        if writer is not None:
            writer.write(data)
            await writer.drain()


async def _relay_chunked(reader: asyncio.StreamReader, writer: Any) -> None:
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionResetError("chunked body cut short")
        if writer is not None:
            writer.write(line)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:
                trailer = await reader.readline()
                if writer is not None:
                    writer.write(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    break
            if writer is not None:
                await writer.drain()
            return
        await _relay_exact(reader, writer, size + 2)


async def relay_body(
    reader: asyncio.StreamReader, writer: Any, headers: Headers, *, to_eof: bool = False
) -> None:
    """Copy one message body as framed by ``headers`` (``writer`` None discards it)."""
    if "chunked" in (_get(headers, "transfer-encoding") or "").lower():
        await _relay_chunked(reader, writer)
    elif (length := _get(headers, "content-length")) is not None:
        await _relay_exact(reader, writer, int(length))
    elif to_eof:
        while data := await reader.read(CHUNK):
            if writer is not None:
                writer.write(data)
                await writer.drain()


def _has_body(headers: Headers) -> bool:
    return _get(headers, "transfer-encoding") is not None or (
        _get(headers, "content-length") not in (None, "0")
    )


async def open_target(ip: str, port: int, tls: bool) -> tuple[asyncio.StreamReader, Any]:
    """A new connection to a target (TLS when ``tls``), within the connect timeout."""
    async with asyncio.timeout(CONNECT_TIMEOUT):
        return await asyncio.open_connection(ip, port, ssl=target_context() if tls else None)


class Backends:
    """Idle keep-alive connections to targets, by (address, port, TLS or not)."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, int, bool], list[tuple[asyncio.StreamReader, Any]]] = {}

    async def connect(
        self, ip: str, port: int, tls: bool = False
    ) -> tuple[asyncio.StreamReader, Any, bool]:
        pool = self.idle.get((ip, port, tls), [])
        while pool:
            reader, writer = pool.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer, True
            writer.close()
        reader, writer = await open_target(ip, port, tls)
        return reader, writer, False

    def release(
        self, ip: str, port: int, reader: asyncio.StreamReader, writer: Any, tls: bool = False
    ) -> None:
        self.idle.setdefault((ip, port, tls), []).append((reader, writer))

    def close(self) -> None:
        for conns in self.idle.values():
            for _, writer in conns:
                writer.close()
        self.idle.clear()


class _Listening(ABC):
    """What every listener shares: an asyncio server on ``ip:port`` and its open
    client connections, all closed by ``close``."""

    ip: str
    port: int
    server: asyncio.Server | None
    clients: set[Any]
    read_limit = 2**16
    tls: ssl.SSLContext | None = None
    """Set for HTTPS/SSL/TLS listeners: connections are TLS, terminated here."""

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve,
            self.ip,
            self.port,
            reuse_address=True,
            limit=self.read_limit,
            ssl=self.tls,
            ssl_handshake_timeout=CONNECT_TIMEOUT if self.tls else None,
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.clients):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None

    @abstractmethod
    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        """Handle one client connection until it closes."""


class ListenerServer(_Listening):
    """One listener: an HTTP server on ``ip:port`` that routes every request."""

    read_limit = CHUNK

    def __init__(
        self,
        ip: str,
        port: int,
        route: Route,
        idle_timeout: Callable[[], float],
        backends: Backends,
        meter: Meter | None = None,
        tls: ssl.SSLContext | None = None,
        sealer: stick.Sealer | None = None,
    ) -> None:
        self.ip, self.port = ip, port
        self.route = route
        self.meter = meter
        self.sealer = sealer
        """The load balancer's cookie key (``sticky.py``)."""
        self.sticky: stick.Stickiness | None = None
        """A classic listener's stickiness policy; ALB stickiness is the target group's."""
        self.tls = tls
        self.scheme = "https" if tls is not None else "http"
        self.idle_timeout = idle_timeout
        self.backends = backends
        self.server: asyncio.Server | None = None
        self.clients: set[Any] = set()
        self._weights: dict[str, dict[str, float]] = {}

    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.clients.add(writer)
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout()):  # no Task per read
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    break
                parsed = _parse_head(head)
                parts = parsed[0].split(" ") if parsed else []
                if parsed is None or len(parts) != 3:
                    await self._write_reply(writer, error_reply(400), False)
                    break
                req = Request(parts[0], parts[1], parts[2], parsed[1], peer[0])
                req.scheme = self.scheme
                if not await self._handle(req, reader, writer):
                    break
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        except Exception:  # noqa: BLE001 - one bad connection must not kill the listener
            log.exception("listener %s:%s failed on a request", self.ip, self.port)
        finally:
            self.clients.discard(writer)
            writer.close()

    async def _write_reply(
        self, writer: Any, reply: Reply, keep: bool, req: Request | None = None
    ) -> None:
        if req is not None:
            req.status, req.by_elb = reply.status, True
        lines = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}", "Server: awselb/2.0"]
        lines += [f"{k}: {v}" for k, v in reply.headers]
        lines.append(f"Content-Length: {len(reply.body)}")
        lines.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)
        await writer.drain()

    def _choose_group(self, action: Forward) -> TargetPool:
        if len(action.groups) == 1:
            return action.groups[0][0]
        # smooth weighted round robin (nginx's): exact shares, no randomness
        current = self._weights.setdefault(action.key, {})
        total = sum(w for _, w in action.groups)
        best = None
        for pool, weight in action.groups:
            current[pool.arn] = current.get(pool.arn, 0) + weight
            if best is None or current[pool.arn] > current[best.arn]:
                best = pool
        assert best is not None
        current[best.arn] -= total
        return best

    async def _handle(self, req: Request, reader: asyncio.StreamReader, writer: Any) -> bool:
        try:
            return await self._answer(req, reader, writer)
        finally:
            if self.meter is not None:
                self.meter(req)

    async def _answer(self, req: Request, reader: asyncio.StreamReader, writer: Any) -> bool:
        keep = req.keep_alive()
        action = self.route(req, self.port)
        if isinstance(action, Reply):
            await relay_body(reader, None, req.headers)
            await self._write_reply(writer, action, keep, req)
            return keep
        live = [(p, w) for p, w in action.groups if w > 0] or action.groups
        bindings: list[Any] | None = None
        if action.group_ttl is not None and len(live) > 1 and self.sealer is not None:
            pool, tg = stick.choose_group(
                req.headers,
                action.key,
                live,
                action.group_ttl,
                self.sealer,
                lambda: self._choose_group(Forward(action.key, live)),
            )
            bindings = [tg]
        else:
            pool = self._choose_group(Forward(action.key, live)) if live else None
        port = action.port
        policy = self.sticky or (pool.sticky if pool is not None else None)
        if policy is None or pool is None or self.sealer is None:
            target = pool.pick() if pool is not None else None
        else:
            group = str(port) if policy.classic else pool.arn.rsplit("/", 1)[-1]
            target, binding = stick.choose(policy, pool, req.headers, self.sealer, group)
            bindings = [*(bindings or []), binding]
        if target is None:
            await relay_body(reader, None, req.headers)
            await self._write_reply(writer, error_reply(503), keep, req)
            return keep
        req.group = pool.arn if pool is not None else None
        if (req.header("expect") or "").lower() == "100-continue" and _has_body(req.headers):
            # the proxy takes the body itself, so it says "go on" for the target
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        target.outstanding += 1
        try:
            tls = pool.tls if action.tls is None else action.tls
            target_port = port or target.port
            return await self._forward(
                req, reader, writer, target.ip, target_port, keep, tls, bindings
            )
        finally:
            target.outstanding -= 1

    async def _final_head(self, reader: asyncio.StreamReader) -> bytes:
        """The target's response head, skipping interim 1xx answers (100 Continue)."""
        while True:
            async with asyncio.timeout(self.idle_timeout()):
                head = await reader.readuntil(b"\r\n\r\n")
            parts = head.split(b" ", 2)
            if not (len(parts) > 1 and parts[1].startswith(b"1") and parts[1] != b"101"):
                return head

    def _backend_head(self, req: Request) -> bytes:
        headers = [(k, v) for k, v in req.headers if k.lower() not in HOP]
        names = {k.lower() for k, _ in headers}
        forwarded = req.header("x-forwarded-for")
        headers = [(k, v) for k, v in headers if not k.lower().startswith("x-forwarded-")]
        xff = f"{forwarded}, {req.client_ip}" if forwarded else req.client_ip
        headers += [
            ("X-Forwarded-For", xff),
            ("X-Forwarded-Proto", self.scheme),
            ("X-Forwarded-Port", str(self.port)),
        ]
        if "x-amzn-trace-id" not in names:
            headers.append(
                ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x}")
            )
        headers.append(("Connection", "keep-alive"))
        lines = [f"{req.method} {req.target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _forward(
        self,
        req: Request,
        reader: asyncio.StreamReader,
        writer: Any,
        ip: str,
        port: int,
        keep: bool,
        tls: bool,
        bindings: list[Any] | None = None,
    ) -> bool:
        has_body = _has_body(req.headers)
        head = self._backend_head(req)
        sent = time.perf_counter()
        for attempt in (0, 1):
            try:
                b_reader, b_writer, reused = await self.backends.connect(ip, port, tls)
            except TimeoutError:
                await relay_body(reader, None, req.headers)
                await self._write_reply(writer, error_reply(504), keep, req)
                return keep
            except OSError:
                await relay_body(reader, None, req.headers)
                await self._write_reply(writer, error_reply(502), keep, req)
                return keep
            try:
                b_writer.write(head)
                await relay_body(reader, b_writer, req.headers)
                await b_writer.drain()
                resp_head = await self._final_head(b_reader)
                req.target_time = time.perf_counter() - sent
                break
            except TimeoutError:
                b_writer.close()
                await self._write_reply(writer, error_reply(504), False, req)
                return False
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                b_writer.close()
                if reused and not has_body and attempt == 0:
                    continue  # a kept-alive connection the target had closed: retry fresh
                await self._write_reply(writer, error_reply(502), False, req)
                return False
        parsed = _parse_head(resp_head)
        parts = parsed[0].split(" ", 2) if parsed else []
        if parsed is None or len(parts) < 2 or not parts[1].isdigit():
            b_writer.close()
            await self._write_reply(writer, error_reply(502), False, req)
            return False
        status, headers = int(parts[1]), parsed[1]
        req.status = status
        conn = (_get(headers, "connection") or "").lower()
        backend_keep = "close" not in conn and (parts[0] != "HTTP/1.0" or "keep-alive" in conn)
        bodiless = req.method == "HEAD" or status in (204, 304) or 100 <= status < 200
        framed = bodiless or _has_body(headers) or _get(headers, "content-length") == "0"
        keep = keep and framed
        out = [f"HTTP/1.1 {status} {parts[2] if len(parts) > 2 else ''}".rstrip()]
        out += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP]
        if bindings:
            now = clock.time()
            out += [f"Set-Cookie: {c}" for b in bindings for c in b.cookies(headers, now)]
        out.append("Connection: keep-alive" if keep else "Connection: close")
        head = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        length = _get(headers, "content-length")
        try:
            if bodiless:
                writer.write(head)
            elif length is not None and length.isdigit() and int(length) <= SMALL_BODY:
                # a small body goes out with the head: one send instead of two
                writer.write(head + await b_reader.readexactly(int(length)))
            else:
                writer.write(head)
                await relay_body(b_reader, writer, headers, to_eof=True)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            b_writer.close()
            return False
        if backend_keep and framed:
            self.backends.release(ip, port, b_reader, b_writer, tls)
        else:
            b_writer.close()
        return keep
