"""The default VPC and what AWS puts in it: subnets, internet gateway, route table, ACL.

Every account and region has them on AWS from the start, so their ids are
derived from (account, region): the same on every server and across restarts.
``vpcs.Network`` writes these documents to the store the first time an
account and region touches the network, after which they change like any
other (routes added to the main table, a subnet's attributes modified...).
They describe the network programs expect; the addresses instances in the
default subnets really get are loopback ones (see ``instances.py``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cloudlet.services.ec2 import catalog

VPC_CIDR = "172.31.0.0/16"
DEFAULT_SUBNET_ADDRESSES = 4091
"""What a default /20 offers: 4,096 addresses less the five AWS reserves."""


def stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def default_vpc_id(account: str, region: str) -> str:
    return stable_id("vpc", account, region, "default-vpc")


def default_subnet_id(account: str, region: str, zone: str) -> str:
    return stable_id("subnet", account, region, zone)


def dhcp_options_id(account: str, region: str) -> str:
    return stable_id("dopt", account, region)


def default_gateway_id(account: str, region: str) -> str:
    return stable_id("igw", account, region, "default-vpc")


def default_table_id(account: str, region: str) -> str:
    return stable_id("rtb", account, region, "default-vpc")


def default_acl_id(account: str, region: str) -> str:
    return stable_id("acl", account, region, "default-vpc")


def default_vpc(account: str, region: str) -> dict[str, Any]:
    vpc_id = default_vpc_id(account, region)
    return {
        "VpcId": vpc_id,
        "OwnerId": account,
        "State": "available",
        "CidrBlock": VPC_CIDR,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": stable_id("vpc-cidr-assoc", vpc_id),
                "CidrBlock": VPC_CIDR,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Ipv6CidrBlockAssociationSet": [],
        "DhcpOptionsId": dhcp_options_id(account, region),
        "InstanceTenancy": "default",
        "IsDefault": True,
    }


def default_subnets(account: str, region: str) -> list[dict[str, Any]]:
    vpc_id = default_vpc_id(account, region)
    out = []
    for index, zone in enumerate(catalog.zone_names(region)):
        subnet_id = default_subnet_id(account, region, zone)
        out.append(
            {
                "SubnetId": subnet_id,
                "SubnetArn": f"arn:aws:ec2:{region}:{account}:subnet/{subnet_id}",
                "VpcId": vpc_id,
                "OwnerId": account,
                "State": "available",
                "AvailabilityZone": zone,
                "AvailabilityZoneId": catalog.zone_id(region, index),
                "CidrBlock": f"172.31.{index * 16}.0/20",
                "DefaultForAz": True,
                "MapPublicIpOnLaunch": True,
                "AssignIpv6AddressOnCreation": False,
                "Ipv6CidrBlockAssociationSet": [],
            }
        )
    return out
