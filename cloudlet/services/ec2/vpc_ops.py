"""EC2 operations on VPCs: create, describe, delete, attributes, extra CIDR blocks.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. A created VPC comes with its main route table, default network
ACL and default security group (``vpcs.Network.new_vpc``), as on AWS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, errors, filters
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result, vpc_limit
from cloudlet.services.ec2.peerings import Peerings
from cloudlet.services.ec2.vpc_docs import Doc, blocks, ipv6_association, new_id

_ATTRIBUTES = {
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
    "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics",
}


def _assocs(field: str, key: str) -> Any:
    return lambda v: [a[key] for a in v[field]]


def _assoc_states(field: str, state: str) -> Any:
    return lambda v: [a[state]["State"] for a in v[field]]


_VPC_FILTERS: dict[str, Any] = {
    "vpc-id": lambda v: v["VpcId"],
    "cidr": lambda v: v["CidrBlock"],
    "cidr-block-association.cidr-block": _assocs("CidrBlockAssociationSet", "CidrBlock"),
    "cidr-block-association.association-id": _assocs("CidrBlockAssociationSet", "AssociationId"),
    "cidr-block-association.state": _assoc_states("CidrBlockAssociationSet", "CidrBlockState"),
    "ipv6-cidr-block-association.ipv6-cidr-block": _assocs(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock"
    ),
    "ipv6-cidr-block-association.association-id": _assocs(
        "Ipv6CidrBlockAssociationSet", "AssociationId"
    ),
    "ipv6-cidr-block-association.ipv6-pool": _assocs("Ipv6CidrBlockAssociationSet", "Ipv6Pool"),
    "ipv6-cidr-block-association.state": _assoc_states(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlockState"
    ),
    "dhcp-options-id": lambda v: v["DhcpOptionsId"],
    "is-default": lambda v: str(v["IsDefault"]).lower(),
    "owner-id": lambda v: v["OwnerId"],
    "state": lambda v: v["State"],
}


def _refuse_pools(params: dict[str, Any]) -> None:
    if params.get("Ipv4IpamPoolId") or params.get("Ipv6IpamPoolId"):
        raise errors.not_built("Allocating VPC CIDR blocks from IPAM pools")
    if params.get("Ipv6Pool") or params.get("Ipv6CidrBlock"):
        raise errors.not_built("IPv6 CIDR blocks from your own address pools (BYOIP)")


class VpcOps(NetworkOpsBase):
    engine: InstanceEngine
    peerings: Peerings
    _delete_peering: Callable[[Doc, str], None]

    def _vpc_out(self, vpc: Doc, state: str | None = None) -> Result:
        out = self._doc_out(vpc, "VpcId")
        out["BlockPublicAccessStates"] = {"InternetGatewayBlockMode": "off"}
        if state:
            out["State"] = state
        return out

    def create_vpc(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        _refuse_pools(params)
        if params.get("VpcEncryptionControl"):
            raise errors.not_built("VPC encryption controls")
        cidr = cidrs.sized(cidrs.ipv4(params.get("CidrBlock")), "InvalidVpc.Range")
        tenancy = params.get("InstanceTenancy") or "default"
        if tenancy not in ("default", "dedicated"):
            raise errors.invalid_value("InstanceTenancy", tenancy)
        tags = self._spec_tags(params, "vpc")
        if len(self.network.vpcs.mine(ctx.account_id, ctx.region)) >= vpc_limit():
            raise ServiceError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        ipv6 = cidrs.amazon_ipv6_block() if params.get("AmazonProvidedIpv6CidrBlock") else None
        vpc = self.network.new_vpc(ctx.account_id, ctx.region, str(cidr), tenancy, ipv6)
        self._created(vpc["VpcId"], tags)
        return {"Vpc": self._vpc_out(vpc, "pending")}

    def describe_vpcs(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        vpcs = self.network.vpcs.mine(ctx.account_id, ctx.region)
        page, token = filters.listing(
            vpcs,
            "VpcId",
            params.get("VpcIds"),
            errors.vpc_not_found,
            params,
            _VPC_FILTERS,
            self._tags_of("VpcId"),
        )
        out: Result = {"Vpcs": [self._vpc_out(v) for v in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_vpc(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        if self.network.vpc_dependency(vpc):
            raise errors.dependency("vpc", vpc["VpcId"])
        # The VPC Peering Guide: its active peerings and its own pending requests go with
        # it; a request another account made to it must be rejected first.
        peerings = self.peerings.of_vpc(vpc["VpcId"])
        for doc, side in peerings:
            foreign = doc["_requester"]["OwnerId"] != ctx.account_id
            if doc["_code"] == "pending-acceptance" and side == "accepter" and foreign:
                raise errors.dependency("vpc", vpc["VpcId"])
        for doc, _ in peerings:
            self._delete_peering(doc, ctx.account_id)
        for resource_id in self.network.remove_vpc(vpc):
            self.tags.drop(resource_id)
        return {}

    def modify_vpc_attribute(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        given = [(name, key) for name, key in _ATTRIBUTES.items() if params.get(key) is not None]
        if not given:
            raise errors.missing(
                "EnableDnsSupport, EnableDnsHostnames or EnableNetworkAddressUsageMetrics"
            )
        if len(given) > 1:
            raise errors.invalid_combination(
                "Fields for multiple attribute types specified: "
                + ", ".join(name for name, _ in given)
            )
        (name, key) = given[0]
        value = params[key].get("Value")
        if value is None:
            raise errors.missing(f"{name}.Value")
        vpc["_attributes"][key] = bool(value)
        self.network.vpcs.save(vpc)
        self.engine.vpc_maps.refresh(vpc["VpcId"])  # names resolve, or no longer
        return {}

    def describe_vpc_attribute(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        attribute = params["Attribute"]
        key = _ATTRIBUTES.get(attribute)
        if key is None:
            raise errors.invalid_value("attribute", attribute, "Unknown attribute.")
        return {"VpcId": vpc["VpcId"], key: {"Value": vpc["_attributes"][key]}}

    # -- CIDR blocks ---------------------------------------------------------------

    def associate_vpc_cidr_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        _refuse_pools(params)
        if params.get("CidrBlock") and params.get("AmazonProvidedIpv6CidrBlock"):
            raise errors.invalid_combination(
                "The parameters CidrBlock and AmazonProvidedIpv6CidrBlock cannot be used together"
            )
        if params.get("AmazonProvidedIpv6CidrBlock"):
            if len(vpc["Ipv6CidrBlockAssociationSet"]) >= cidrs.MAX_CIDRS:
                raise self._cidr_limit(vpc)
            assoc = ipv6_association(cidrs.amazon_ipv6_block(), ctx.region)
            vpc["Ipv6CidrBlockAssociationSet"].append(assoc)
            self.network.vpcs.save(vpc)
            shown = {**assoc, "Ipv6CidrBlockState": {"State": "associating"}}
            return {"VpcId": vpc["VpcId"], "Ipv6CidrBlockAssociation": shown}
        cidr = cidrs.sized(cidrs.ipv4(params.get("CidrBlock")), "InvalidVpc.Range")
        if len(vpc["CidrBlockAssociationSet"]) >= cidrs.MAX_CIDRS:
            raise self._cidr_limit(vpc)
        if cidrs.overlaps(cidr, blocks(vpc)):
            raise ServiceError(
                "InvalidVpc.Range",
                f"The CIDR '{cidr}' conflicts with another CIDR block of the VPC.",
            )
        cidrs.check_secondary(vpc["CidrBlock"], cidr)
        for peering, _, peer in self.peerings.active_peers(vpc["VpcId"]):
            if cidrs.overlaps(cidr, blocks(peer)):
                raise ServiceError(
                    "InvalidVpc.Range",
                    f"The CIDR '{cidr}' conflicts with a CIDR block of {peer['VpcId']}, peered "
                    f"with this VPC through {peering['VpcPeeringConnectionId']}.",
                )
        for table in self.network.in_vpc(self.network.tables, vpc["VpcId"]):
            for route in table["_routes"]:
                dest = route.get("DestinationCidrBlock")
                if dest and ipaddress.ip_network(dest).subnet_of(cidr):
                    raise ServiceError(
                        "InvalidVpc.Range",
                        f"The CIDR '{cidr}' is the same as or larger than the destination "
                        f"'{dest}' of a route in {table['RouteTableId']}.",
                    )
        assoc = {
            "AssociationId": new_id("vpc-cidr-assoc"),
            "CidrBlock": str(cidr),
            "CidrBlockState": {"State": "associated"},
        }
        vpc["CidrBlockAssociationSet"].append(assoc)
        self.network.vpcs.save(vpc)
        self.engine.vpc_maps.refresh(vpc["VpcId"])
        shown = {**assoc, "CidrBlockState": {"State": "associating"}}
        return {"VpcId": vpc["VpcId"], "CidrBlockAssociation": shown}

    @staticmethod
    def _cidr_limit(vpc: Doc) -> ServiceError:
        return ServiceError(
            "CidrLimitExceeded",
            f"This network '{vpc['VpcId']}' has met its maximum number of allowed CIDRs: "
            f"{cidrs.MAX_CIDRS}",
        )

    def disassociate_vpc_cidr_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        assoc_id = params["AssociationId"]
        for vpc in self.network.vpcs.mine(ctx.account_id, ctx.region):
            for field in ("CidrBlockAssociationSet", "Ipv6CidrBlockAssociationSet"):
                for assoc in vpc[field]:
                    if assoc["AssociationId"] == assoc_id:
                        return self._disassociate(vpc, field, assoc)
        raise ServiceError(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            f"The vpc CIDR block association ID '{assoc_id}' does not exist",
        )

    def _disassociate(self, vpc: Doc, field: str, assoc: Doc) -> Result:
        ipv6 = field == "Ipv6CidrBlockAssociationSet"
        block = ipaddress.ip_network(assoc["Ipv6CidrBlock" if ipv6 else "CidrBlock"])
        if not ipv6 and assoc["CidrBlock"] == vpc["CidrBlock"]:
            raise ServiceError(
                "OperationNotPermitted",
                f"The vpc CIDR block with association ID {assoc['AssociationId']} may not be "
                "disassociated. It is the primary IPv4 CIDR block of the VPC",
            )
        for subnet in self.network.in_vpc(self.network.subnets, vpc["VpcId"]):
            held = [subnet["CidrBlock"]]
            if ipv6:
                held = [a["Ipv6CidrBlock"] for a in subnet["Ipv6CidrBlockAssociationSet"]]
            if cidrs.overlaps(block, held):
                raise ServiceError(
                    "DependencyViolation",
                    f"The CIDR block {block} of {vpc['VpcId']} is in use by "
                    f"{subnet['SubnetId']} and cannot be disassociated.",
                )
        vpc[field].remove(assoc)
        self.network.vpcs.save(vpc)
        self.engine.vpc_maps.refresh(vpc["VpcId"])
        state_key = "Ipv6CidrBlockState" if ipv6 else "CidrBlockState"
        shown = {**assoc, state_key: {"State": "disassociating"}}
        key = "Ipv6CidrBlockAssociation" if ipv6 else "CidrBlockAssociation"
        return {"VpcId": vpc["VpcId"], key: shown}
