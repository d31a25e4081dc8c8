"""The default VPC and its default subnets, one per availability zone.

Every account and region has them on AWS from the start, so their ids are
derived from (account, region): stable across restarts without being stored.
They describe the network programs expect; the addresses instances really get
are loopback ones (see ``instances.py``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cloudlet.services.ec2 import catalog

VPC_CIDR = "172.31.0.0/16"


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def default_vpc_id(account: str, region: str) -> str:
    return _stable_id("vpc", account, region, "default-vpc")


def default_subnet_id(account: str, region: str, zone: str) -> str:
    return _stable_id("subnet", account, region, zone)


def default_vpc(account: str, region: str) -> dict[str, Any]:
    vpc_id = default_vpc_id(account, region)
    return {
        "VpcId": vpc_id,
        "OwnerId": account,
        "State": "available",
        "CidrBlock": VPC_CIDR,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": _stable_id("vpc-cidr-assoc", vpc_id),
                "CidrBlock": VPC_CIDR,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "DhcpOptionsId": _stable_id("dopt", account, region),
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
                "AvailableIpAddressCount": 4091,
                "DefaultForAz": True,
                "MapPublicIpOnLaunch": True,
                "AssignIpv6AddressOnCreation": False,
                "Ipv6CidrBlockAssociationSet": [],
            }
        )
    return out


def subnet(account: str, region: str, subnet_id: str) -> dict[str, Any] | None:
    for item in default_subnets(account, region):
        if item["SubnetId"] == subnet_id:
            return item
    return None


def subnet_for_zone(account: str, region: str, zone: str) -> dict[str, Any] | None:
    for item in default_subnets(account, region):
        if item["AvailabilityZone"] == zone:
            return item
    return None
