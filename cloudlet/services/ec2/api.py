"""The EC2 service: instances that run as local process groups, and what surrounds them.

Operations live in mixins split by group (``instance_ops`` and
``instance_attributes``: instances; ``resource_ops``: types, zones, key pairs,
security groups, tags; ``vpc_ops``, ``subnet_ops``, ``gateway_ops``,
``route_ops``, ``acl_ops``, ``egress_ops``, ``dhcp_ops``, ``default_vpc_ops``:
VPC networking on ``vpcs.Network``; ``peering_ops`` on ``peerings``,
``prefix_list_ops`` on ``prefix_lists``, both reaching instances through
``reach``; ``interface_ops``: instances' network interfaces;
``launch_templates``; ``images``: DescribeImages, CreateImage); this class
wires them to the engine and the stores, runs the
supervision loop and the CPU sampler (``metrics``), and holds the instances'
metadata service (``imds``, reached through the gateway). Operations not built
here answer 501 NotImplemented.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.runtime.processes import become_subreaper
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.ec2 import metrics
from cloudlet.services.ec2.acl_ops import AclOps
from cloudlet.services.ec2.default_vpc_ops import DefaultVpcOps
from cloudlet.services.ec2.dhcp_ops import DhcpOps
from cloudlet.services.ec2.egress_ops import EgressOps
from cloudlet.services.ec2.gateway_ops import GatewayOps
from cloudlet.services.ec2.guard import Guard
from cloudlet.services.ec2.images import ImageOps, Images
from cloudlet.services.ec2.imds import IMDS_PATH, MetadataService
from cloudlet.services.ec2.instance_attributes import InstanceAttributeOps
from cloudlet.services.ec2.instance_ops import InstanceOps
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.interface_ops import InterfaceOps
from cloudlet.services.ec2.keypairs import KeyPairs
from cloudlet.services.ec2.launch_templates import LaunchTemplateOps, LaunchTemplates
from cloudlet.services.ec2.peering_ops import PeeringOps
from cloudlet.services.ec2.peerings import Peerings
from cloudlet.services.ec2.prefix_list_ops import PrefixListOps
from cloudlet.services.ec2.prefix_lists import PrefixLists
from cloudlet.services.ec2.reach import Reach
from cloudlet.services.ec2.resource_ops import ResourceOps
from cloudlet.services.ec2.route_ops import RouteOps
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.subnet_ops import SubnetOps
from cloudlet.services.ec2.tags import Tags
from cloudlet.services.ec2.vpc_ops import VpcOps
from cloudlet.services.ec2.vpcs import Network

MONITOR_INTERVAL = 0.25
PEERING_SWEEP_INTERVAL = 30.0
_MIXINS = (
    InstanceOps,
    InstanceAttributeOps,
    ResourceOps,
    VpcOps,
    SubnetOps,
    GatewayOps,
    RouteOps,
    AclOps,
    EgressOps,
    DhcpOps,
    DefaultVpcOps,
    PeeringOps,
    PrefixListOps,
    InterfaceOps,
    LaunchTemplateOps,
    ImageOps,
)
_OPERATIONS = [
    name
    for cls in _MIXINS
    for name, _ in inspect.getmembers(cls, inspect.isfunction)
    if not name.startswith("_")
]


def _honour_dry_run(fn: Callable[[Any, dict[str, Any]], Any]) -> Callable[..., Any]:
    """EC2's ``DryRun``: validate nothing further, answer DryRunOperation (412)."""

    @functools.wraps(fn)
    def handler(ctx: Any, params: dict[str, Any]) -> Any:
        if params.get("DryRun"):
            raise ServiceError(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )
        return fn(ctx, params)

    return handler


class Ec2Service(*_MIXINS, Service):  # type: ignore[misc]
    name = "ec2"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("ec2"))
        self.tags = Tags(self.store)
        self.groups = SecurityGroups(self.store)
        self.keys = KeyPairs(self.store)
        self.templates = LaunchTemplates(self.store)
        self.images = Images(self.store)
        self.engine = InstanceEngine(self.store, env.data_dir, self._endpoint)
        self.network = Network(self.store, self.groups, self.engine.instances)
        self.peerings = Peerings(self.network)
        self.prefix_lists = PrefixLists(self.network, self._endpoint)
        # Each instance's address map (``vpc_addresses``) follows its VPC's blocks and DNS
        # attributes, and (``reach``) its peerings, route tables and DHCP options.
        self.engine.vpc_maps.vpcs = self.network.vpcs.by_id
        self.engine.vpc_maps.extension = Reach(self.network, self.peerings, self.prefix_lists)
        # ... and (``guard``) the security groups of the instances it maps and its own.
        self.engine.vpc_maps.guard = Guard(self.groups, self.prefix_lists)
        # Instances' metadata service, at /_cloudlet/imds/ (``claims``/``serve``).
        self.metadata = MetadataService(self.engine, self.tags)
        for name in _OPERATIONS:
            setattr(self, name, _honour_dry_run(getattr(self, name)))

    def claims(self, req: Any) -> bool:
        return req.path.startswith(IMDS_PATH)

    async def serve(self, req: Any, body: bytes) -> HttpResponse:
        """The metadata service: unsigned, as on EC2; role keys it hands out are
        registered in the server's credential store."""
        status, headers, payload = self.metadata.handle(
            req.method, req.path, req.headers, self.env.credentials
        )
        return HttpResponse(status, headers, payload)

    def _endpoint(self) -> str:
        return self.env.endpoint or "http://127.0.0.1:4566"

    async def start(self) -> None:
        # Orphans of instance process trees re-parent to the server, which reaps them.
        become_subreaper()
        await self.engine.open()
        self.env.every(MONITOR_INTERVAL, self.engine.monitor, "ec2-monitor")
        # Pending peering requests expire; finished ones are forgotten after a while.
        self.env.every(PEERING_SWEEP_INTERVAL, self.peerings.tick, "ec2-peerings")
        sampler = metrics.CpuSampler(self.engine, self.tags, self.env)
        self.env.every(sampler.interval, sampler.tick, "ec2-cpu-metrics")

    async def stop(self) -> None:
        await self.engine.close()
        self.store.close()

    def health(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for inst in self.engine.instances.values():
            counts[inst.state] = counts.get(inst.state, 0) + 1
        return {
            "state": "running",
            "instances": counts,
            "process_groups": self.engine.process_ids(),
        }
