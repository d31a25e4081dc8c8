"""The running side both load balancer services share (``elbv2`` and classic ``elb``).

Each service owns its documents, but both run the same things: a loopback
address block of their own (``ec2/addresses.py``) from which every load
balancer takes its address (its DNSName), listeners (``proxy.py``), target
pools with health checks (``health.py``) and keep-alive backend connections.
This mixin claims the block at start (re-addressing load balancers whose old
block another server holds now) and closes everything at stop. Each load
balancer also gets the key its stickiness cookies are sealed with
(``sticky.py``), kept in its document so cookies outlive a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.ec2.addresses import AddressBlock
from cloudlet.services.elbv2 import metrics
from cloudlet.services.elbv2.health import TargetPool
from cloudlet.services.elbv2.proxy import Backends
from cloudlet.services.elbv2.sticky import Sealer
from cloudlet.services.elbv2.store import Store

Batch = tuple[str, str, str, list[metrics.Datum]]
"""(namespace, account, region, MetricData)."""


class BalancerRuntime:
    """Mixed into a load balancer service; ``address_key`` names the document field
    holding a load balancer's address."""

    address_key = "DNSName"
    dialect: metrics.Dialect
    store: Store
    env: Any
    name: str
    _metric_batches: Callable[[dict[tuple[str, str | None], metrics.Tally]], list[Batch]]
    """Each service's: what to publish from an interval's tallies."""

    def _init_runtime(self) -> None:
        self.pools: dict[str, TargetPool] = {}
        self.servers: dict[Any, Any] = {}
        self.backends = Backends()
        self.block: AddressBlock | None = None
        self.meter = metrics.Meter(self.dialect)

    def _start_metrics(self) -> None:
        self.env.every(metrics.interval_from_env(), self._publish_metrics, f"{self.name}-metrics")

    async def _publish_metrics(self) -> None:
        for namespace, account, region, data in self._metric_batches(self.meter.take()):
            await self.env.put_metric_data(namespace, data, account=account, region=region)

    def _sealer(self, doc: dict[str, Any]) -> Sealer:
        """The cookie sealer of load balancer ``doc`` (its key made on first use)."""
        key = doc.get("stickiness_key")
        if key is None:
            doc["stickiness_key"] = key = Sealer.new_key()
            if self.store.get("lb", doc["Arn"]) is doc:
                self.store.put("lb", doc)
        return Sealer(key)

    def _claim_addresses(self) -> None:
        preferred = self.store.meta("block")
        self.block = AddressBlock.claim(int(preferred) if preferred else None)
        self.store.set_meta("block", str(self.block.block))
        for doc in self.store.all("lb"):
            if not self.block.contains(doc[self.address_key]):
                doc[self.address_key] = doc["DNSName"] = self._free_address()
                self.store.put("lb", doc)

    def _free_address(self) -> str:
        assert self.block is not None
        taken = {lb[self.address_key] for lb in self.store.all("lb")}
        return next(ip for ip in self.block.addresses() if ip not in taken)

    async def _stop_runtime(self) -> None:
        for server in list(self.servers.values()):
            await server.close()
        self.servers.clear()
        for pool in self.pools.values():
            pool.close()
        self.backends.close()
        if self.block is not None:
            self.block.release()
        self.store.conn.close()
