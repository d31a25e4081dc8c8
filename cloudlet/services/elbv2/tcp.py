"""TCP and TLS listeners (network load balancers, classic TCP and SSL): bytes piped
to one target per connection, and the flows counted for ``AWS/NetworkELB``.

Why apart from ``proxy.py``: nothing here reads HTTP. A connection is a flow:
the listener asks ``pick`` for a target with the client's address (so
``source_ip`` stickiness can keep a client on its target), connects (over TLS
when the target group speaks it), and copies both ways until either side
closes. When ``flows`` is given it counts new and active flows, the bytes
carried and the resets (RST) each side sent, as an NLB reports them.

A network load balancer forgets a flow that carried no data either way for its
idle timeout (a TCP listener's ``tcp.idle_timeout.seconds``, 350 s for TLS);
AWS then answers the next segment from either side with a TCP RST. Here the
relay holds the two sockets, so when the timeout passes it resets both at once
(``SO_LINGER`` 0, so the close sends RST, not FIN) and counts the two resets it
generated as ``TCP_ELB_Reset_Count``: both sides learn at once what on AWS each
learns when it next sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any

from cloudlet.services.elbv2.metrics import Flows
from cloudlet.services.elbv2.proxy import CHUNK, _Listening, open_target

Pick = Callable[[str], tuple[str, int, bool] | None]
"""Client address -> (target address, port, TLS or not), or None: no target."""
Idle = Callable[[], float | None]
"""The idle timeout, in seconds, for a new flow (None: none)."""
_LINGER_ZERO = struct.pack("ii", 1, 0)


class TcpListenerServer(_Listening):
    """A TCP or TLS listener: each connection is piped to one healthy target, over TLS
    when ``pick`` says the target speaks it; ``idle`` gives each new flow its idle
    timeout."""

    def __init__(
        self,
        ip: str,
        port: int,
        pick: Pick,
        tls: ssl.SSLContext | None = None,
        flows: Flows | None = None,
        idle: Idle | None = None,
    ) -> None:
        self.ip, self.port = ip, port
        self.pick = pick
        self.tls = tls
        self.flows = flows
        self.idle = idle
        self.server: asyncio.Server | None = None
        self.clients: set[Any] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.clients.add(writer)
        b_writer = None
        flows = self.flows
        counted = False
        watch = None
        try:
            peer = writer.get_extra_info("peername") or ("", 0)
            target = self.pick(peer[0])
            if target is None:
                return
            b_reader, b_writer = await open_target(*target)
            self.clients.add(b_writer)
            if flows is not None:
                flows.opened()
                counted = True
            timeout = self.idle() if self.idle is not None else None
            if timeout is not None:
                watch = IdleWatch(timeout)
            try:
                await asyncio.gather(
                    _pipe(reader, b_writer, flows, "client", watch),
                    _pipe(b_reader, writer, flows, "target", watch),
                )
            except asyncio.CancelledError:
                if watch is None or not watch.expired:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                reset(writer), reset(b_writer)
                if flows is not None:
                    flows.elb_reset(2)
        except (OSError, TimeoutError):
            pass
        finally:
            if watch is not None:
                watch.stop()
            if counted:
                flows.closed()  # type: ignore[union-attr]
            for w in (writer, b_writer):
                if w is not None:
                    self.clients.discard(w)
                    w.close()


class IdleWatch:
    """Cancels the flow's task once ``timeout`` seconds pass with no data either way.

    ``touch`` (on every chunk) only stores the time; the one timer re-arms itself for
    the last activity when it fires early, so a busy flow costs no timer per chunk."""

    __slots__ = ("timeout", "last", "expired", "task", "loop", "handle")

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout = timeout
        self.expired = False
        self.last = self.loop.time()
        self.handle = self.loop.call_at(self.last + timeout, self._check)

    def touch(self) -> None:
        self.last = self.loop.time()

    def _check(self) -> None:
        due = self.last + self.timeout
        if self.loop.time() < due:
            self.handle = self.loop.call_at(due, self._check)
            return
        self.expired = True
        if self.task is not None:
            self.task.cancel()

    def stop(self) -> None:
        self.handle.cancel()


def reset(writer: Any) -> None:
    """Close ``writer``'s connection with a TCP RST (``SO_LINGER`` 0), not a FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    writer.transport.abort()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: Any,
    flows: Flows | None,
    side: str,
    watch: IdleWatch | None = None,
) -> None:
    """Copy ``side``'s bytes to the other; a reset from ``side`` is passed on as one."""
    while True:
        try:
            data = await reader.read(CHUNK)
        except ConnectionResetError:
            if flows is not None:
                flows.reset(side)
            reset(writer)
            return
        except OSError:
            writer.close()
            return
        try:
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            if watch is not None:
                watch.touch()
            if flows is not None:
                flows.carried(len(data))
            writer.write(data)
            await writer.drain()
        except OSError:
            writer.close()
            return
