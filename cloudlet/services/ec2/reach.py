"""What an instance reaches beyond its own VPC, and which names it resolves.

Why: an instance's address map (``vpc_addresses``) lists the instances of its
own VPC; peering adds those of other VPCs, but only where AWS would carry
the traffic: the peering is ``active``, the route table of the instance's
subnet sends the peer's address through it, and the route table of the
peer's subnet sends the instance's address back through it (traffic needs
both directions' routes). The route chosen is AWS's: the longest prefix
matching the address among the VPC's own blocks (``local``), the table's
CIDR routes and the entries of its prefix-list routes (a CIDR route winning a
tie with a prefix list); a ``blackhole`` route still wins, and drops.

What this adds to a map (the keywords ``cloudlet/runtime/shim/vpcmap.c``
reads):

    map 10.1.0.5 127.5.1.9   a peered instance both tables route to and from
    cidr 10.1.0.0/24         the part of a peer's blocks a route sends into an
                             active peering: an address there that no mapped
                             instance answers times out (AWS drops it)
    nodns 10.1.0.0/16        a peer's blocks whose names do not resolve here:
                             the peer's side of the peering does not allow DNS
                             resolution from this VPC (AllowDnsResolutionFromRemoteVpc,
                             which also needs DNS support and hostnames in both)
    domain corp.example      the custom domain of the VPC's DHCP option set, whose
                             names resolve as the region's do: only with custom
                             domain name servers, as the DHCP option set docs say
                             ("To have your instances receive custom DNS hostnames
                             as specified in domain-name, you must specify a custom
                             DNS server"); cloudlet stands in for that server
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cloudlet.services.ec2.peerings import Peerings, other
from cloudlet.services.ec2.prefix_lists import PrefixLists
from cloudlet.services.ec2.vpc_addresses import LIVE, private_domain
from cloudlet.services.ec2.vpc_docs import Doc, blocks
from cloudlet.services.ec2.vpcs import Network

if TYPE_CHECKING:
    from cloudlet.services.ec2.instances import Instance

Net = ipaddress.IPv4Network
MAX_DOMAINS = 4
_LOCAL: Doc = {"GatewayId": "local"}


def _overlap(a: Net, b: Net) -> Net | None:
    if a.subnet_of(b):
        return a
    if b.subnet_of(a):
        return b
    return None


def _dns_on(vpc: Doc) -> bool:
    attrs = vpc.get("_attributes") or {}
    return bool(attrs.get("EnableDnsSupport", True)) and bool(attrs.get("EnableDnsHostnames", True))


class Reach:
    """Peering routes and DHCP domains, as address map lines."""

    def __init__(self, net: Network, peerings: Peerings, prefix_lists: PrefixLists) -> None:
        self.net = net
        self.peerings = peerings
        self.prefix_lists = prefix_lists

    def related(self, vpc_ids: Iterable[str]) -> set[str]:
        """The VPCs whose maps depend on these: themselves and their active peers."""
        out = set(vpc_ids)
        for vpc_id in list(out):
            out.update(peer["VpcId"] for _, _, peer in self.peerings.active_peers(vpc_id))
        return out

    def domains(self, vpc: Doc) -> list[str]:
        """Custom domains whose names resolve in the VPC (see the module's docstring)."""
        options = self.net.dhcp.by_id.get(vpc.get("DhcpOptionsId") or "")
        if options is None:
            return []
        conf = {c["Key"]: [v["Value"] for v in c["Values"]] for c in options["DhcpConfigurations"]}
        if not any(s != "AmazonProvidedDNS" for s in conf.get("domain-name-servers", [])):
            return []
        region_domain = private_domain(vpc["_region"])
        names = [n.lower().rstrip(".") for n in " ".join(conf.get("domain-name", [])).split()]
        return [n for n in dict.fromkeys(names) if n and n != region_domain][:MAX_DOMAINS]

    # -- routing -------------------------------------------------------------------

    def _table(self, inst: Instance) -> Doc | None:
        subnet = self.net.subnets.by_id.get(inst.subnet_id)
        return self.net.table_of(subnet) if subnet is not None else None

    def _destinations(self, route: Doc, region: str) -> list[Net]:
        """A route's IPv4 destinations (a prefix list's current entries)."""
        if route.get("DestinationCidrBlock"):
            return [ipaddress.IPv4Network(route["DestinationCidrBlock"])]
        pl_id = route.get("DestinationPrefixListId")
        found = self.prefix_lists.blocks(pl_id, region) if pl_id else []
        return [ipaddress.IPv4Network(b) for b in found if ":" not in b]

    def hop(self, table: Doc, vpc: Doc, address: str) -> Doc | None:
        """The route a packet to ``address`` takes from a subnet using ``table``."""
        try:
            addr = ipaddress.IPv4Address(address)
        except ValueError:
            return None
        best: tuple[int, int] = (-1, 0)
        found: Doc | None = None
        candidates: list[tuple[Doc, list[Net], int]] = [
            (_LOCAL, [ipaddress.IPv4Network(b) for b in blocks(vpc)], 2)
        ]
        for route in table["_routes"]:
            rank = 0 if route.get("DestinationPrefixListId") else 1
            candidates.append((route, self._destinations(route, vpc["_region"]), rank))
        for route, nets, rank in candidates:
            for net in nets:
                if addr in net and (net.prefixlen, rank) > best:
                    best, found = (net.prefixlen, rank), route
        return found

    def _through(self, table: Doc | None, vpc: Doc, address: str, pcx_id: str) -> bool:
        if table is None:
            return False
        route = self.hop(table, vpc, address)
        return route is not None and route.get("VpcPeeringConnectionId") == pcx_id

    def lines(self, inst: Instance, vpc: Doc) -> list[str]:
        """What the instance's map says beyond its own VPC's instances."""
        out = [f"domain {d}" for d in self.domains(vpc)]
        table = self._table(inst)
        for doc, side, peer in self.peerings.active_peers(inst.vpc_id):
            pcx_id = doc["VpcPeeringConnectionId"]
            peer_blocks = [ipaddress.IPv4Network(b) for b in blocks(peer)]
            named = doc["_options"][other(side)]["AllowDnsResolutionFromRemoteVpc"]
            if not (named and _dns_on(vpc) and _dns_on(peer)):
                out += [f"nodns {b}" for b in peer_blocks]
            if table is None:
                continue
            for route in table["_routes"]:
                if route.get("VpcPeeringConnectionId") != pcx_id:
                    continue
                for dest in self._destinations(route, vpc["_region"]):
                    for block in peer_blocks:
                        common = _overlap(dest, block)
                        if common is not None:
                            out.append(f"cidr {common}")
            for there in self._live_in(peer["VpcId"]):
                if not there.vpc_ip or there.vpc_ip == there.private_ip:
                    continue
                if self._through(table, vpc, there.vpc_ip, pcx_id) and self._through(
                    self._table(there), peer, inst.address, pcx_id
                ):
                    out.append(f"map {there.vpc_ip} {there.private_ip}")
        return out

    def _live_in(self, vpc_id: str) -> list[Any]:
        return sorted(
            (i for i in self.net.instances.values() if i.vpc_id == vpc_id and i.state in LIVE),
            key=lambda i: i.id,
        )
