"""EC2 operations on subnets: create, describe, delete, attributes, IPv6 blocks.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. ``AvailableIpAddressCount`` is counted, not stored: the block's
size, less the five addresses AWS reserves, less one per instance holding an
address there.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, errors, filters
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.vpc_docs import (
    Doc,
    blocks,
    ipv6_blocks,
    subnet_ipv6_association,
    zone_of,
)

SUBNETS_PER_VPC = 200


def _ipv6(field: str) -> Any:
    return lambda s: [a[field] for a in s["Ipv6CidrBlockAssociationSet"]]


_SUBNET_FILTERS: dict[str, Any] = {
    "subnet-id": lambda s: s["SubnetId"],
    "subnet-arn": lambda s: s["SubnetArn"],
    "vpc-id": lambda s: s["VpcId"],
    "availability-zone": lambda s: s["AvailabilityZone"],
    "availabilityZone": lambda s: s["AvailabilityZone"],
    "availability-zone-id": lambda s: s["AvailabilityZoneId"],
    "available-ip-address-count": lambda s: str(s["AvailableIpAddressCount"]),
    "default-for-az": lambda s: str(s["DefaultForAz"]).lower(),
    "defaultForAz": lambda s: str(s["DefaultForAz"]).lower(),
    "cidr-block": lambda s: s["CidrBlock"],
    "cidr": lambda s: s["CidrBlock"],
    "cidrBlock": lambda s: s["CidrBlock"],
    "map-public-ip-on-launch": lambda s: str(s["MapPublicIpOnLaunch"]).lower(),
    "ipv6-cidr-block-association.ipv6-cidr-block": _ipv6("Ipv6CidrBlock"),
    "ipv6-cidr-block-association.association-id": _ipv6("AssociationId"),
    "ipv6-cidr-block-association.state": lambda s: [
        a["Ipv6CidrBlockState"]["State"] for a in s["Ipv6CidrBlockAssociationSet"]
    ],
    "ipv6-native": lambda s: str(s["Ipv6Native"]).lower(),
    "state": lambda s: s["State"],
    "owner-id": lambda s: s["OwnerId"],
}
_BOOLEAN_ATTRIBUTES = {
    "MapPublicIpOnLaunch": "MapPublicIpOnLaunch",
    "AssignIpv6AddressOnCreation": "AssignIpv6AddressOnCreation",
    "EnableDns64": "EnableDns64",
}
_DNS_RECORD_ATTRIBUTES = {
    "EnableResourceNameDnsARecordOnLaunch": "EnableResourceNameDnsARecord",
    "EnableResourceNameDnsAAAARecordOnLaunch": "EnableResourceNameDnsAAAARecord",
}


class SubnetOps(NetworkOpsBase):
    def _subnet_out(self, subnet: Doc) -> Result:
        out = self._doc_out(subnet, "SubnetId")
        out["AvailableIpAddressCount"] = self.network.available(subnet)
        out["BlockPublicAccessStates"] = {"InternetGatewayBlockMode": "off"}
        return out

    def _check_ipv6_block(self, vpc: Doc, value: str, others: list[str]) -> str:
        block = cidrs.ipv6(value)
        if block.prefixlen != 64 or not cidrs.within(block, ipv6_blocks(vpc)):
            raise ServiceError("InvalidSubnet.Range", f"The CIDR '{value}' is invalid.")
        if cidrs.overlaps(block, others):
            raise ServiceError(
                "InvalidSubnet.Conflict", f"The CIDR '{block}' conflicts with another subnet"
            )
        return str(block)

    def _ipv6_in_vpc(self, vpc_id: str) -> list[str]:
        return [
            a["Ipv6CidrBlock"]
            for s in self.network.in_vpc(self.network.subnets, vpc_id)
            for a in s["Ipv6CidrBlockAssociationSet"]
        ]

    def create_subnet(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        if params.get("Ipv4IpamPoolId") or params.get("Ipv6IpamPoolId"):
            raise errors.not_built("Allocating subnet CIDR blocks from IPAM pools")
        if params.get("OutpostArn"):
            raise errors.not_built("Subnets on Outposts")
        if params.get("Ipv6Native"):
            raise errors.not_built("IPv6-only subnets")
        cidr = cidrs.sized(cidrs.ipv4(params.get("CidrBlock")), "InvalidSubnet.Range")
        if not cidrs.within(cidr, blocks(vpc)):
            raise ServiceError("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
        siblings = self.network.in_vpc(self.network.subnets, vpc["VpcId"])
        if cidrs.overlaps(cidr, [s["CidrBlock"] for s in siblings]):
            raise ServiceError(
                "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
            )
        ipv6 = None
        if params.get("Ipv6CidrBlock"):
            ipv6 = self._check_ipv6_block(
                vpc, params["Ipv6CidrBlock"], self._ipv6_in_vpc(vpc["VpcId"])
            )
        zone, zone_id = zone_of(
            ctx.region, params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
        )
        tags = self._spec_tags(params, "subnet")
        if len(siblings) >= SUBNETS_PER_VPC:
            raise ServiceError(
                "SubnetLimitExceeded", "The maximum number of subnets has been reached."
            )
        subnet = self.network.new_subnet(vpc, str(cidr), zone, zone_id, ipv6)
        self._created(subnet["SubnetId"], tags)
        return {"Subnet": self._subnet_out(subnet)}

    def describe_subnets(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        subnets = [
            {**s, "AvailableIpAddressCount": self.network.available(s)}
            for s in self.network.subnets.mine(ctx.account_id, ctx.region)
        ]
        page, token = filters.listing(
            subnets,
            "SubnetId",
            params.get("SubnetIds"),
            errors.subnet_not_found,
            params,
            _SUBNET_FILTERS,
            self._tags_of("SubnetId"),
        )
        out: Result = {"Subnets": [self._subnet_out(s) for s in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_subnet(self, ctx: Any, params: dict[str, Any]) -> Result:
        subnet = self.network.subnet(ctx.account_id, ctx.region, params["SubnetId"])
        if self.network.instances_in(subnet_id=subnet["SubnetId"]):
            raise errors.dependency("subnet", subnet["SubnetId"])
        self.network.remove_subnet(subnet)
        self.tags.drop(subnet["SubnetId"])
        return {}

    def modify_subnet_attribute(self, ctx: Any, params: dict[str, Any]) -> Result:
        subnet = self.network.subnet(ctx.account_id, ctx.region, params["SubnetId"])
        for name in ("MapCustomerOwnedIpOnLaunch", "CustomerOwnedIpv4Pool"):
            if params.get(name) is not None:
                raise errors.not_built("Customer-owned IP addresses (Outposts)")
        for name in ("EnableLniAtDeviceIndex", "DisableLniAtDeviceIndex"):
            if params.get(name) is not None:
                raise errors.not_built("Local network interfaces (Outposts)")
        changed = False
        for name, key in _BOOLEAN_ATTRIBUTES.items():
            if params.get(name) is not None:
                value = bool(params[name].get("Value"))
                if key == "AssignIpv6AddressOnCreation" and value:
                    raise errors.not_built("Assigning IPv6 addresses to instances")
                subnet[key] = value
                changed = True
        options = subnet["PrivateDnsNameOptionsOnLaunch"]
        for name, key in _DNS_RECORD_ATTRIBUTES.items():
            if params.get(name) is not None:
                options[key] = bool(params[name].get("Value"))
                changed = True
        hostname = params.get("PrivateDnsHostnameTypeOnLaunch")
        if hostname is not None:
            if hostname not in ("ip-name", "resource-name"):
                raise errors.invalid_value("PrivateDnsHostnameTypeOnLaunch", hostname)
            options["HostnameType"] = hostname
            changed = True
        if not changed:
            raise errors.missing("MapPublicIpOnLaunch")
        self.network.subnets.save(subnet)
        return {}

    def associate_subnet_cidr_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        subnet = self.network.subnet(ctx.account_id, ctx.region, params["SubnetId"])
        if params.get("Ipv6IpamPoolId"):
            raise errors.not_built("Allocating subnet CIDR blocks from IPAM pools")
        if subnet["Ipv6CidrBlockAssociationSet"]:
            raise ServiceError(
                "InvalidParameterValue",
                f"The subnet '{subnet['SubnetId']}' already has an IPv6 CIDR block.",
            )
        vpc = self.network.vpc(ctx.account_id, ctx.region, subnet["VpcId"])
        block = self._check_ipv6_block(
            vpc, params.get("Ipv6CidrBlock") or "", self._ipv6_in_vpc(vpc["VpcId"])
        )
        assoc = subnet_ipv6_association(block)
        subnet["Ipv6CidrBlockAssociationSet"].append(assoc)
        self.network.subnets.save(subnet)
        shown = {**assoc, "Ipv6CidrBlockState": {"State": "associating"}}
        return {"SubnetId": subnet["SubnetId"], "Ipv6CidrBlockAssociation": shown}

    def disassociate_subnet_cidr_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        assoc_id = params["AssociationId"]
        self._defaults(ctx)
        for subnet in self.network.subnets.mine(ctx.account_id, ctx.region):
            for assoc in subnet["Ipv6CidrBlockAssociationSet"]:
                if assoc["AssociationId"] == assoc_id:
                    subnet["Ipv6CidrBlockAssociationSet"].remove(assoc)
                    self.network.subnets.save(subnet)
                    shown = {**assoc, "Ipv6CidrBlockState": {"State": "disassociating"}}
                    return {"SubnetId": subnet["SubnetId"], "Ipv6CidrBlockAssociation": shown}
        raise ServiceError(
            "InvalidSubnetCidrBlockAssociationID.NotFound",
            f"The subnet CIDR block with association ID '{assoc_id}' does not exist",
        )
