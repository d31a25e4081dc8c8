"""Routes as EC2 checks and describes them: destinations, targets, state.

A route table's ``local`` routes (one per CIDR block of its VPC) are not
stored: they follow the VPC's blocks, so a block added with
AssociateVpcCidrBlock appears in every table at once. Stored routes keep their
destination (a CIDR block or a managed prefix list), target and origin; their
state is worked out when described: ``blackhole`` once the gateway is
detached or deleted, the instance is no longer running or the VPC peering
connection is no longer active, as on AWS. Where traffic really goes is
``reach``'s business.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, errors
from cloudlet.services.ec2.instance_network import interface_id
from cloudlet.services.ec2.instances import Instance
from cloudlet.services.ec2.peerings import LIVE, Peerings
from cloudlet.services.ec2.vpc_docs import Doc, blocks, ipv6_blocks
from cloudlet.services.ec2.vpcs import Network

DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")
TARGETS = (
    "GatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "NatGatewayId",
    "VpcPeeringConnectionId",
    "TransitGatewayId",
    "EgressOnlyInternetGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "VpcEndpointId",
    "CoreNetworkArn",
    "OdbNetworkArn",
)
_ABSENT = {
    "NatGatewayId": "natGateway",
    "TransitGatewayId": "transitGateway",
    "LocalGatewayId": "localGateway",
    "CarrierGatewayId": "carrierGateway",
    "VpcEndpointId": "vpcEndpoint",
}
ROUTES_PER_TABLE = 50


def destination(params: dict[str, Any]) -> tuple[str, str]:
    """(field, normalised value) of the one destination ``params`` names."""
    given = [name for name in DESTINATIONS if params.get(name)]
    if not given:
        raise errors.missing("destinationCidrBlock")
    if len(given) > 1:
        raise errors.invalid_combination(
            "Only one of destinationCidrBlock, destinationIpv6CidrBlock and "
            "destinationPrefixListId may be specified"
        )
    field = given[0]
    value = params[field]
    if field == "DestinationPrefixListId":
        return field, value  # checked by the caller, which knows the lists
    param = (
        "destinationCidrBlock" if field == "DestinationCidrBlock" else "destinationIpv6CidrBlock"
    )
    net = cidrs.any_block(value, param)
    if (net.version == 4) != (field == "DestinationCidrBlock"):
        raise errors.invalid_value(param, value, "This is not a valid CIDR block.")
    return field, str(net)


def find(table: Doc, field: str, value: str) -> Doc | None:
    for route in table["_routes"]:
        if route.get(field) == value:
            return route
    return None


def local_blocks(vpc: Doc) -> list[tuple[str, str]]:
    return [("DestinationCidrBlock", b) for b in blocks(vpc)] + [
        ("DestinationIpv6CidrBlock", b) for b in ipv6_blocks(vpc)
    ]


def is_local(vpc: Doc, field: str, value: str) -> bool:
    return (field, value) in local_blocks(vpc)


def within_vpc(vpc: Doc, field: str, value: str) -> bool:
    """Whether the destination is one of the VPC's blocks or inside one."""
    if field == "DestinationPrefixListId":
        return False
    net = ipaddress.ip_network(value)
    inside = blocks(vpc) if field == "DestinationCidrBlock" else ipv6_blocks(vpc)
    return cidrs.within(net, inside)


def target(
    net: Network,
    ctx: Any,
    table: Doc,
    params: dict[str, Any],
    instances: Callable[[str], Instance | None],
    family: int = 4,
) -> Doc:
    """The route's target fields, checked: it exists and belongs to the table's network
    (``family``: 4 or 6, the destination's)."""
    given = [name for name in TARGETS if params.get(name)]
    if not given:
        raise errors.missing("gatewayId, instanceId, natGatewayId or networkInterfaceId")
    if len(given) > 1:
        raise errors.invalid_combination("More than one target specified")
    field, value = given[0], params[given[0]]
    table_id, vpc_id = table["RouteTableId"], table["VpcId"]
    if field in ("CoreNetworkArn", "OdbNetworkArn"):
        raise errors.not_built("Routes to Cloud WAN and ODB networks")
    if field in _ABSENT:
        raise errors.not_found(_ABSENT[field], value)
    if field == "VpcPeeringConnectionId":
        return _peering_target(net, ctx, table, value)
    if field == "EgressOnlyInternetGatewayId":
        return _egress_target(net, ctx, table, value, family)
    if field == "GatewayId":
        if not value.startswith("igw-"):
            raise ServiceError(
                "InvalidGatewayID.NotFound", f"The gateway ID '{value}' does not exist"
            )
        gateway = net.gateway(ctx.account_id, ctx.region, value)
        if not any(a["VpcId"] == vpc_id for a in gateway["Attachments"]):
            raise errors.invalid_value(
                "gatewayId",
                value,
                f"route table {table_id} and network gateway {value} belong to different networks",
            )
        return {"GatewayId": value}
    if field == "InstanceId":
        inst = instances(value)
        if inst is None:
            raise errors.instance_not_found([value])
    else:
        inst = next(
            (
                i
                for i in net.instances.values()
                if interface_id(i) == value and i.state != "terminated"
            ),
            None,
        )
        if inst is None or inst.account != ctx.account_id or inst.region != ctx.region:
            raise errors.not_found("networkInterface", value)
    if inst.vpc_id != vpc_id:
        raise errors.invalid_value(
            field[0].lower() + field[1:],
            value,
            f"route table {table_id} and {inst.id} belong to different networks",
        )
    return {
        "InstanceId": inst.id,
        "InstanceOwnerId": inst.account,
        "NetworkInterfaceId": interface_id(inst),
    }


def _peering_target(net: Network, ctx: Any, table: Doc, value: str) -> Doc:
    doc = net.peerings.by_id.get(value)
    if (
        doc is None
        or doc["_code"] not in LIVE
        or not Peerings.sides(doc, ctx.account_id, ctx.region)
    ):
        raise errors.not_found("vpcPeeringConnection", value)
    if table["VpcId"] not in (doc["_requester"]["VpcId"], doc["_accepter"]["VpcId"]):
        raise errors.invalid_value(
            "vpcPeeringConnectionId",
            value,
            f"route table {table['RouteTableId']} and peering connection {value} belong to "
            "different networks",
        )
    return {"VpcPeeringConnectionId": value}


def _egress_target(net: Network, ctx: Any, table: Doc, value: str, family: int) -> Doc:
    gateway = net.eigws.get(ctx.account_id, ctx.region, value)
    if gateway is None:
        raise errors.not_found("egressOnlyInternetGateway", value)
    if not any(a["VpcId"] == table["VpcId"] for a in gateway["Attachments"]):
        raise errors.invalid_value(
            "egressOnlyInternetGatewayId",
            value,
            f"route table {table['RouteTableId']} and network gateway {value} belong to "
            "different networks",
        )
    if family != 6:
        raise errors.invalid_value(
            "egressOnlyInternetGatewayId",
            value,
            "An egress-only internet gateway routes IPv6 traffic only: give an IPv6 "
            "destination (destinationIpv6CidrBlock, or an IPv6 prefix list).",
        )
    return {"EgressOnlyInternetGatewayId": value}


def weight(net: Network, route: Doc) -> int:
    """What a route counts against the table's route quota: a prefix list counts as its
    maximum number of entries, as on AWS."""
    pl = net.prefix_lists.by_id.get(route.get("DestinationPrefixListId") or "")
    return int(pl["MaxEntries"]) if pl else 1


def check_specific(vpc: Doc, field: str, value: str, target_fields: Doc) -> None:
    """Routes inside the VPC's blocks may only send traffic to an instance or interface."""
    if within_vpc(vpc, field, value) and "NetworkInterfaceId" not in target_fields:
        raise errors.invalid_value(
            "destinationCidrBlock",
            value,
            f"The destination CIDR block {value} is equal to or more specific than one of this "
            "VPC's CIDR blocks. This route can target only an interface or an instance.",
        )


def state(net: Network, vpc_id: str, route: Doc) -> str:
    gateway_id = route.get("GatewayId")
    if gateway_id and gateway_id != "local":
        gateway = net.gateways.by_id.get(gateway_id)
        attached = gateway is not None and any(a["VpcId"] == vpc_id for a in gateway["Attachments"])
        return "active" if attached else "blackhole"
    instance_id = route.get("InstanceId")
    if instance_id:
        inst = net.instances.get(instance_id)
        return (
            "active" if inst is not None and inst.state in ("pending", "running") else "blackhole"
        )
    pcx_id = route.get("VpcPeeringConnectionId")
    if pcx_id:
        doc = net.peerings.by_id.get(pcx_id)
        return "active" if doc is not None and doc["_code"] == "active" else "blackhole"
    eigw_id = route.get("EgressOnlyInternetGatewayId")
    if eigw_id:
        gateway = net.eigws.by_id.get(eigw_id)
        attached = gateway is not None and any(a["VpcId"] == vpc_id for a in gateway["Attachments"])
        return "active" if attached else "blackhole"
    return "active"


def described(net: Network, table: Doc) -> list[Doc]:
    """The table's routes as DescribeRouteTables shows them, local ones first."""
    vpc = net.vpcs.by_id.get(table["VpcId"])
    out: list[Doc] = []
    stored = {(f, r.get(f)) for r in table["_routes"] for f in DESTINATIONS if r.get(f)}
    for field, block in local_blocks(vpc) if vpc else []:
        if (field, block) not in stored:
            out.append(
                {
                    field: block,
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                }
            )
    for route in table["_routes"]:
        out.append({**route, "State": state(net, table["VpcId"], route)})
    return out
