"""Listeners opened on a load balancer's address, and the choice of target for a flow.

A mixin of ``Elbv2Service``, apart from ``api.py`` so the operations stay
short: each listener document becomes a server (``proxy.ListenerServer`` for
HTTP and HTTPS, ``tcp.TcpListenerServer`` for TCP and TLS,
``udp.UdpListenerServer`` for UDP, both of the last two on one port for
``TCP_UDP``) started on the load balancer's address; a changed listener is
reopened, the old one serving on if the new one cannot start; at start-up
every stored listener is opened again the same way.
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Callable
from typing import Any

from cloudlet.services.elbv2 import errors, metrics, rules, tls
from cloudlet.services.elbv2.health import Target, TargetPool
from cloudlet.services.elbv2.metrics import Flows
from cloudlet.services.elbv2.proxy import Backends, ListenerServer
from cloudlet.services.elbv2.sticky import Sealer
from cloudlet.services.elbv2.tcp import TcpListenerServer
from cloudlet.services.elbv2.udp import DualListenerServer, UdpListenerServer

log = logging.getLogger(__name__)
Doc = dict[str, Any]


class ListenerServing:
    """Mixed into ``Elbv2Service``: what its listeners run on."""

    store: Any
    env: Any
    servers: dict[Any, Any]
    backends: Backends
    meter: metrics.Meter
    _route: Callable[[str, Any, int], Any]
    _sealer: Callable[[Doc], Sealer]
    _rules_in_order: Callable[[str], list[Doc]]
    _pool: Callable[[Doc], TargetPool]
    _tcp_idle: Callable[[str], float | None]

    async def _server_for(self, listener: Doc) -> Any:
        """The (not yet started) server a listener document describes."""
        lb = self.store.get("lb", listener["LoadBalancerArn"])
        assert lb is not None
        context = None
        if listener["Protocol"] in ("HTTPS", "TLS"):
            context = await tls.server_context(
                self.env, listener["Certificates"], listener["SslPolicy"]
            )
        protocol = listener["Protocol"]
        if protocol in ("TCP", "TLS", "UDP", "TCP_UDP"):
            return self._network_server(lb, listener, context)
        return ListenerServer(
            lb["Ip"],
            int(listener["Port"]),
            lambda req, port, arn=listener["Arn"]: self._route(arn, req, port),
            lambda: float(lb["Attributes"]["idle_timeout.timeout_seconds"]),
            self.backends,
            lambda req, lb_arn=lb["Arn"]: self.meter.record(lb_arn, req),
            context,
            self._sealer(lb),
        )

    async def _start(self, server: Any, listener: Doc) -> None:
        try:
            await server.start()
        except PermissionError:
            raise errors.validation(
                f"cloudlet may not listen on port {listener['Port']}: ports below 1024 need root"
                " or CAP_NET_BIND_SERVICE (or a lower net.ipv4.ip_unprivileged_port_start);"
                " use a port of 1024 or more"
            ) from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise errors.invalid_config(
                    f"Port {listener['Port']} on {server.ip} is already in use on this machine"
                ) from None
            raise
        self.servers[listener["Arn"]] = server

    async def _open(self, listener: Doc) -> None:
        await self._start(await self._server_for(listener), listener)

    async def _reopen(self, listener: Doc) -> None:
        """Serve a changed listener; on failure the old one serves on."""
        server = await self._server_for(listener)  # certificates are read first
        old = self.servers.pop(listener["Arn"], None)
        if old is not None:
            await old.close()
        try:
            await self._start(server, listener)
        except Exception:
            previous = self.store.get("listener", listener["Arn"])
            if previous is not None:
                try:
                    await self._open(previous)
                except Exception:  # noqa: BLE001 - the new error is the one to report
                    log.exception("listener %s not restored", listener["Arn"])
            raise

    def _network_server(self, lb: Doc, listener: Doc, context: ssl.SSLContext | None) -> Any:
        """A network load balancer's listener: TCP, TLS, UDP, or both TCP and UDP on
        one port, each counting its flows by protocol."""
        ip, port, arn = lb["Ip"], int(listener["Port"]), listener["Arn"]
        protocol = listener["Protocol"]

        def flows(kind: str) -> Flows | None:
            return self.meter.flows_of(lb["Arn"], kind) if lb["Type"] == "network" else None

        tcp = TcpListenerServer(
            ip,
            port,
            lambda source: self._pick(arn, source),
            context,
            flows("TLS" if protocol == "TLS" else "TCP"),
            (lambda: self._tcp_idle(arn)) if lb["Type"] == "network" else None,
        )
        if protocol in ("TCP", "TLS"):
            return tcp
        udp = UdpListenerServer(
            ip, port, lambda client: self._pick_flow(arn, client, (ip, port)), flows("UDP")
        )
        return udp if protocol == "UDP" else DualListenerServer(tcp, udp)

    def _pick(self, listener_arn: str, source: str) -> tuple[str, int, bool] | None:
        """A TCP/TLS listener's target for a new connection from ``source``; with
        ``source_ip`` stickiness the same for every connection from that address (all
        local clients are 127.0.0.1, so they all stick together, as one source IP
        would on AWS)."""
        for rule in self._rules_in_order(listener_arn):
            for action in rule["Actions"]:
                if action["Type"] != "forward":
                    continue
                live = [(a, w) for a, w in rules.forward_groups(action) if w > 0]
                for tg_arn, _ in live:
                    doc = self.store.get("tg", tg_arn)
                    if doc is not None:
                        pool = self._pool(doc)
                        target = pool.pick_for(source) if pool.sticky else pool.pick()
                        return (target.ip, target.port, pool.tls) if target else None
        return None

    def _pick_flow(
        self, listener_arn: str, client: tuple[str, int], local: tuple[str, int]
    ) -> tuple[TargetPool, Target] | None:
        """A new UDP flow's target group and target: the client's ``source_ip`` binding
        when the group is sticky, else by the hash of the flow's 5-tuple."""
        for rule in self._rules_in_order(listener_arn):
            for action in rule["Actions"]:
                if action["Type"] != "forward":
                    continue
                for tg_arn, weight in rules.forward_groups(action):
                    doc = self.store.get("tg", tg_arn) if weight > 0 else None
                    if doc is None:
                        continue
                    pool = self._pool(doc)
                    if pool.sticky:
                        target = pool.pick_for(client[0])
                    else:
                        tuple5 = f"{client[0]}|{client[1]}|{local[0]}|{local[1]}|17"
                        target = pool.pick_hashed(tuple5.encode())
                    return (pool, target) if target is not None else None
        return None
