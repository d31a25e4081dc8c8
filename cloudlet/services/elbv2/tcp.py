"""TCP and TLS listeners (network load balancers, classic TCP and SSL): bytes piped
to one target per connection, and the flows counted for ``AWS/NetworkELB``.

Why apart from ``proxy.py``: nothing here reads HTTP. A connection is a flow:
the listener asks ``pick`` for a target with the client's address (so
``source_ip`` stickiness can keep a client on its target), connects (over TLS
when the target group speaks it), and copies both ways until either side
closes. When ``flows`` is given it counts new and active flows, the bytes
carried and the resets (RST) each side sent, as an NLB reports them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from cloudlet.services.elbv2.metrics import Flows
from cloudlet.services.elbv2.proxy import CHUNK, _Listening, open_target

Pick = Callable[[str], tuple[str, int, bool] | None]
"""Client address -> (target address, port, TLS or not), or None: no target."""


class TcpListenerServer(_Listening):
    """A TCP or TLS listener: each connection is piped to one healthy target, over TLS
    when ``pick`` says the target speaks it."""

    def __init__(
        self,
        ip: str,
        port: int,
        pick: Pick,
        tls: ssl.SSLContext | None = None,
        flows: Flows | None = None,
    ) -> None:
        self.ip, self.port = ip, port
        self.pick = pick
        self.tls = tls
        self.flows = flows
        self.server: asyncio.Server | None = None
        self.clients: set[Any] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.clients.add(writer)
        b_writer = None
        flows = self.flows
        counted = False
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
            await asyncio.gather(
                _pipe(reader, b_writer, flows, "client"), _pipe(b_reader, writer, flows, "target")
            )
        except (OSError, TimeoutError):
            pass
        finally:
            if counted:
                flows.closed()  # type: ignore[union-attr]
            for w in (writer, b_writer):
                if w is not None:
                    self.clients.discard(w)
                    w.close()


async def _pipe(reader: asyncio.StreamReader, writer: Any, flows: Flows | None, side: str) -> None:
    """Copy ``side``'s bytes to the other; a reset from ``side`` is passed on as one."""
    while True:
        try:
            data = await reader.read(CHUNK)
        except ConnectionResetError:
            if flows is not None:
                flows.reset(side)
            writer.transport.abort()
            return
        except OSError:
            writer.close()
            return
        try:
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            if flows is not None:
                flows.carried(len(data))
            writer.write(data)
            await writer.drain()
        except OSError:
            writer.close()
            return
