"""The default VPC's lifecycle: there from the start, deletable, made again on request.

Why a module of its own: AWS gives every account and region a default VPC
(with a default subnet per zone, an internet gateway, a main route table
routing ``0.0.0.0/0`` to it, a default network ACL and security group) and a
default DHCP option set, before any call. Users may take the default VPC
apart (DeleteSubnet of its default subnets, DeleteVpc) and ask for a new one
(CreateDefaultVpc, CreateDefaultSubnet); EC2 then answers as AWS does where
a default VPC is missing (RunInstances without a subnet: ``VPCIdNotSpecified``).

The first default VPC's pieces have ids derived from (account, region)
(``network``: the same on every server); a marker per account and region
(``defaults`` documents) says they were written, so a deleted default VPC
stays deleted across restarts. A default VPC made by CreateDefaultVpc has new
ids, as on AWS. Stores written before the marker existed are recognised by
the derived default VPC id.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from cloudlet.services.ec2 import catalog, network
from cloudlet.services.ec2.vpc_addresses import private_domain
from cloudlet.services.ec2.vpc_docs import ALL, Doc, new_id, subnet_extras

if TYPE_CHECKING:  # vpcs.py imports this module
    from cloudlet.services.ec2.vpcs import Network

MARKER = "defaults"
"""The store kind of the per-(account, region) markers."""
SUBNET_PREFIX = 20
"""Default subnets are /20s of the default VPC's 172.31.0.0/16."""


def default_dhcp(account: str, region: str) -> Doc:
    """The region's default DHCP option set: AWS's domain and AmazonProvidedDNS."""
    return {
        "DhcpOptionsId": network.dhcp_options_id(account, region),
        "OwnerId": account,
        "_region": region,
        "DhcpConfigurations": [
            {"Key": "domain-name", "Values": [{"Value": private_domain(region)}]},
            {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]},
        ],
    }


def ensure(net: Network, account: str, region: str) -> None:
    """Write the first default VPC, its pieces and the default DHCP option set, once."""
    key = f"{account}/{region}"
    vpc_id = network.default_vpc_id(account, region)
    if vpc_id not in net.vpcs.by_id:
        _build_first(net, account, region)
    dhcp = default_dhcp(account, region)
    if dhcp["DhcpOptionsId"] not in net.dhcp.by_id:
        net.dhcp.save(dhcp)
    # Last: its presence says the rest is there (every piece above has a derived id,
    # so an interrupted run is simply done again).
    net.store.put(MARKER, key, {"Key": key})
    net.marked.add(key)


def _build_first(net: Network, account: str, region: str) -> None:
    vpc = network.default_vpc(account, region)
    vpc["_region"] = region
    vpc["_attributes"] = _attributes()
    gateway_id = network.default_gateway_id(account, region)
    _surround(net, vpc, network.default_table_id(account, region),
              network.default_acl_id(account, region), gateway_id)  # fmt: skip
    for subnet in network.default_subnets(account, region):
        net.add_subnet({**subnet, **subnet_extras(), "_region": region})
    net.vpcs.save(vpc)


def _attributes() -> dict[str, bool]:
    return {
        "EnableDnsSupport": True,
        "EnableDnsHostnames": True,
        "EnableNetworkAddressUsageMetrics": False,
    }


def _surround(net: Network, vpc: Doc, table_id: str, acl_id: str, gateway_id: str) -> None:
    """The main route table (``0.0.0.0/0`` to the gateway), default ACL, default group and
    attached internet gateway of a default VPC."""
    account, region, vpc_id = vpc["OwnerId"], vpc["_region"], vpc["VpcId"]
    net.main_table_for(vpc, table_id)
    net.default_acl_for(vpc, acl_id)
    net.groups.ensure_default(account, region, vpc_id)
    gateway = net.new_gateway(account, region, gateway_id)
    net.attach(gateway, vpc_id)
    main = net.main_table(vpc_id)
    main["_routes"].append(
        {"DestinationCidrBlock": ALL, "GatewayId": gateway_id, "Origin": "CreateRoute"}
    )
    net.tables.save(main)


def current(net: Network, account: str, region: str) -> Doc | None:
    """The account's default VPC in the region, if it has one now."""
    net.ensure_defaults(account, region)
    for vpc in net.vpcs.mine(account, region):
        if vpc.get("IsDefault"):
            return vpc
    return None


def create(net: Network, account: str, region: str) -> Doc:
    """A new default VPC (CreateDefaultVpc): new ids, a default subnet in every zone."""
    vpc = net.vpc_document(
        account, region, network.VPC_CIDR, "default", _attributes(), default=True
    )
    net.vpcs.save(vpc)
    _surround(net, vpc, new_id("rtb"), new_id("acl"), new_id("igw"))
    for index, zone in enumerate(catalog.zone_names(region)):
        cidr = free_block(net, vpc)
        if cidr is None:
            break
        add_subnet(net, vpc, zone, catalog.zone_id(region, index), cidr)
    return vpc


def free_block(net: Network, vpc: Doc) -> str | None:
    """The first /20 of the default VPC's block that no subnet of it overlaps."""
    taken = [ipaddress.ip_network(s["CidrBlock"]) for s in net.in_vpc(net.subnets, vpc["VpcId"])]
    for block in ipaddress.ip_network(vpc["CidrBlock"]).subnets(new_prefix=SUBNET_PREFIX):
        if not any(block.overlaps(t) for t in taken):
            return str(block)
    return None


def add_subnet(net: Network, vpc: Doc, zone: str, zone_id: str, cidr: str) -> Doc:
    """A default subnet (public addresses mapped on launch) of the default VPC in ``zone``."""
    return net.new_subnet(vpc, cidr, zone, zone_id, None, default=True)
