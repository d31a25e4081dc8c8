"""UDP listeners of network load balancers (``UDP``, and the UDP half of ``TCP_UDP``).

Why apart from ``tcp.py``: UDP has no connections, so the relay keeps the
flows itself. As on an NLB, a flow is the 5-tuple (client address and port,
load balancer address and port, protocol): its first datagram picks a target
(``choose``: by the hash of the tuple, or the client's ``source_ip`` binding),
the flow gets its own datagram socket to that target, and the target's
replies on that socket go back to the client. A flow ends when nothing has
passed either way for the idle timeout (AWS's fixed 120 seconds for UDP;
``CLOUDLET_ELB_UDP_IDLE_SECONDS`` shortens it, for tests), or when its target
leaves the group or turns unhealthy while another is healthy: the next
datagram then starts a new flow to a healthy target.

At most ``MAX_FLOWS`` flows are open per listener (each holds a socket):
datagrams that would start another are dropped, as a full flow table drops
them. Targets see datagrams from the load balancer's own address (its
DNSName) and a port of the flow, not the client's: on loopback cloudlet
cannot preserve the client's address, as an NLB does for UDP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.elbv2.health import Target, TargetPool
from cloudlet.services.elbv2.metrics import Flows

IDLE_ENV = "CLOUDLET_ELB_UDP_IDLE_SECONDS"
DEFAULT_IDLE = 120.0
"""AWS's idle timeout for UDP flows through a network load balancer (not configurable)."""
MAX_FLOWS = 4096
PENDING = 64
"""Datagrams held per flow while its socket to the target opens; more are dropped."""

Choose = Callable[[tuple[str, int]], tuple[TargetPool, Target] | None]
"""Client (address, port) -> the target group and target of its new flow, or None."""


def idle_from_env() -> float:
    """``CLOUDLET_ELB_UDP_IDLE_SECONDS``, at least 0.1 (default AWS's 120)."""
    return seconds_setting(IDLE_ENV, DEFAULT_IDLE, low=0.1)


@dataclass(eq=False)
class Flow:
    client: tuple[str, int]
    pool: TargetPool
    target: Target
    seen: float
    transport: asyncio.DatagramTransport | None = None
    pending: list[bytes] = field(default_factory=list)
    closed: bool = False


class _Front(asyncio.DatagramProtocol):
    """The listener's socket: datagrams from clients."""

    def __init__(self, server: UdpListenerServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.from_client(data, addr)

    def error_received(self, exc: Exception) -> None:
        """An ICMP error about a client: the datagram is lost, as on a network."""


class _Back(asyncio.DatagramProtocol):
    """One flow's socket to its target: the target's replies."""

    def __init__(self, server: UdpListenerServer, flow: Flow) -> None:
        self.server, self.flow = server, flow

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.from_target(self.flow, data)

    def error_received(self, exc: Exception) -> None:
        """Nothing listens on the target's port: the datagram is lost (the flow stays
        until idle, as on an NLB, which has no passive health checks for UDP)."""


class UdpListenerServer:
    """A UDP listener on ``ip:port`` relaying each client flow to one target."""

    def __init__(
        self,
        ip: str,
        port: int,
        choose: Choose,
        flows: Flows | None = None,
        idle: float | None = None,
        max_flows: int = MAX_FLOWS,
    ) -> None:
        self.ip, self.port = ip, port
        self.choose = choose
        self.flows = flows
        self.idle = idle_from_env() if idle is None else idle
        self.max_flows = max_flows
        self.active: dict[tuple[str, int], Flow] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.sweeper: asyncio.Task | None = None
        self.connecting: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Front(self), local_addr=(self.ip, self.port)
        )
        self.sweeper = loop.create_task(self._sweep(), name=f"elbv2-udp-{self.ip}:{self.port}")

    def from_client(self, data: bytes, client: tuple[str, int]) -> None:
        now = asyncio.get_running_loop().time()
        flow = self.active.get(client)
        if flow is not None and not flow.pool.carries(flow.target):
            self._end(flow)
            flow = None
        if flow is None:
            if len(self.active) >= self.max_flows:
                return
            chosen = self.choose(client[:2])
            if chosen is None:
                return
            flow = self.active[client] = Flow(client, *chosen, seen=now)
            if self.flows is not None:
                self.flows.opened()
            task = asyncio.get_running_loop().create_task(self._connect(flow))
            self.connecting.add(task)
            task.add_done_callback(self.connecting.discard)
        flow.seen = now
        if self.flows is not None:
            self.flows.carried(len(data))
        if flow.transport is not None:
            flow.transport.sendto(data)
        elif len(flow.pending) < PENDING:
            flow.pending.append(data)

    async def _connect(self, flow: Flow) -> None:
        target = flow.target
        # From the load balancer's own address when the target is on loopback too.
        local = (self.ip, 0) if target.ip.startswith("127.") else None
        try:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Back(self, flow), local_addr=local, remote_addr=(target.ip, target.port)
            )
        except OSError:
            self._end(flow)
            return
        if flow.closed:
            transport.close()
            return
        flow.transport = transport
        for data in flow.pending:
            transport.sendto(data)
        flow.pending.clear()

    def from_target(self, flow: Flow, data: bytes) -> None:
        if flow.closed or self.transport is None:
            return
        flow.seen = asyncio.get_running_loop().time()
        if self.flows is not None:
            self.flows.carried(len(data))
        self.transport.sendto(data, flow.client)

    def _end(self, flow: Flow) -> None:
        if flow.closed:
            return
        flow.closed = True
        if self.active.get(flow.client) is flow:
            del self.active[flow.client]
        if flow.transport is not None:
            flow.transport.close()
        if self.flows is not None:
            self.flows.closed()

    async def _sweep(self) -> None:
        """End the flows idle for the idle timeout."""
        while True:
            await asyncio.sleep(min(max(self.idle / 4, 0.05), 5.0))
            limit = asyncio.get_running_loop().time() - self.idle
            for flow in [f for f in self.active.values() if f.seen <= limit]:
                self._end(flow)

    async def close(self) -> None:
        for task in [self.sweeper, *self.connecting]:
            if task is not None:
                task.cancel()
        for flow in list(self.active.values()):
            self._end(flow)
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        if self.sweeper is not None:
            await asyncio.gather(self.sweeper, return_exceptions=True)
        self.sweeper = None


class DualListenerServer:
    """A ``TCP_UDP`` listener: a TCP and a UDP server on the same address and port."""

    def __init__(self, tcp: Any, udp: UdpListenerServer) -> None:
        self.tcp, self.udp = tcp, udp
        self.ip, self.port = udp.ip, udp.port

    async def start(self) -> None:
        await self.tcp.start()
        try:
            await self.udp.start()
        except Exception:
            await self.tcp.close()
            raise

    async def close(self) -> None:
        await self.udp.close()
        await self.tcp.close()
