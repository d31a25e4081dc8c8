"""Where a launching instance sits in the network, and how its interface is described.

RunInstances names the network several ways (``SubnetId``, a zone, a
``NetworkInterfaces`` entry, security groups by name or id, a private
address, ``AssociatePublicIpAddress``); ``placement`` turns them into one
``Placement`` checked as EC2 checks them, with the addresses taken from the
subnet (``vpcs.Network.allocate``). ``interface`` is the instance's one
network interface as DescribeInstances shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.ec2 import catalog, errors
from cloudlet.services.ec2.instances import Instance
from cloudlet.services.ec2.launch_templates import TEMPLATE_PUBLIC_IP
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.vpcs import Network

Doc = dict[str, Any]


@dataclass
class Placement:
    zone: str
    subnet: Doc
    groups: list[dict[str, str]]
    public: bool
    tenancy: str
    addresses: list[str | None] = field(default_factory=list)
    """One private address per instance to launch; None keeps the loopback one."""

    @property
    def vpc_id(self) -> str:
        return self.subnet["VpcId"]


def mac_address(inst: Instance) -> str:
    """A stable, locally administered MAC for the instance's one interface."""
    digest = hashlib.sha256(inst.id.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def interface_id(inst: Instance) -> str:
    return "eni-" + inst.id[2:]


def dns(inst: Instance) -> tuple[str, str]:
    """(private, public) DNS names: from the private address and from the public one."""
    private = inst.address.replace(".", "-")
    public = inst.private_ip.replace(".", "-")
    if inst.region == "us-east-1":
        return f"ip-{private}.ec2.internal", f"ec2-{public}.compute-1.amazonaws.com"
    return (
        f"ip-{private}.{inst.region}.compute.internal",
        f"ec2-{public}.{inst.region}.compute.amazonaws.com",
    )


def interface(inst: Instance, public: bool, public_dns: str) -> Doc:
    """The instance's primary network interface (device 0), as DescribeInstances has it."""
    private_dns = dns(inst)[0]
    association = (
        {"IpOwnerId": "amazon", "PublicIp": inst.private_ip, "PublicDnsName": public_dns}
        if public
        else None
    )
    address: Doc = {"Primary": True, "PrivateIpAddress": inst.address}
    address["PrivateDnsName"] = private_dns
    out: Doc = {
        "NetworkInterfaceId": interface_id(inst),
        "SubnetId": inst.subnet_id,
        "VpcId": inst.vpc_id,
        "OwnerId": inst.account,
        "Description": "",
        "Status": "in-use",
        "MacAddress": mac_address(inst),
        "PrivateIpAddress": inst.address,
        "PrivateDnsName": private_dns,
        "SourceDestCheck": True,
        "InterfaceType": "interface",
        "Groups": [dict(g) for g in inst.groups],
        "Ipv6Addresses": [],
        "Attachment": {
            "AttachmentId": "eni-attach-" + inst.id[2:],
            "AttachTime": datetime.fromtimestamp(inst.launch_time, UTC),
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "Status": "attached",
        },
        "PrivateIpAddresses": [address],
    }
    if association:
        out["Association"] = association
        address["Association"] = dict(association)
    return out


def _interface_request(params: dict[str, Any]) -> Doc:
    """The one ``NetworkInterfaces`` entry cloudlet launches with, checked."""
    interfaces = params.get("NetworkInterfaces") or []
    if not interfaces:
        return {}
    for name, what in (
        ("SubnetId", "an instance-level subnet ID"),
        ("SecurityGroupIds", "an instance-level security groups"),
        ("SecurityGroups", "an instance-level security groups"),
        ("PrivateIpAddress", "an instance-level private IP address"),
    ):
        if params.get(name):
            verb = "should not" if name == "PrivateIpAddress" else "may not"
            raise errors.invalid_combination(
                f"Network interfaces and {what} {verb} be specified on the same request"
            )
    if len(interfaces) > 1:
        raise errors.not_built("Launching an instance with more than one network interface")
    spec = interfaces[0]
    if int(spec.get("DeviceIndex") or 0) != 0:
        raise errors.invalid_value(
            "DeviceIndex", spec["DeviceIndex"], "The first network interface must be device 0."
        )
    if spec.get("NetworkInterfaceId"):
        raise errors.not_built("Launching with an existing network interface")
    if spec.get("SecondaryPrivateIpAddressCount") or len(spec.get("PrivateIpAddresses") or []) > 1:
        raise errors.not_built("Secondary private IP addresses")
    return spec


def _wanted_address(params: dict[str, Any], spec: Doc) -> str | None:
    wanted = params.get("PrivateIpAddress") or spec.get("PrivateIpAddress")
    for item in spec.get("PrivateIpAddresses") or []:
        if item.get("Primary", True) and item.get("PrivateIpAddress"):
            wanted = wanted or item["PrivateIpAddress"]
    return wanted


def _groups(
    groups: SecurityGroups, ctx: Any, params: dict[str, Any], spec: Doc, subnet: Doc
) -> list[dict[str, str]]:
    names = params.get("SecurityGroups") or []
    ids = list(params.get("SecurityGroupIds") or []) + list(spec.get("Groups") or [])
    if names and subnet["VpcId"] != groups.default_vpc(ctx.account_id, ctx.region):
        raise errors.invalid_combination(
            "The parameter groupName cannot be used with the parameter subnet"
        )
    found = [groups.find(ctx.account_id, ctx.region, None, name) for name in names]
    for group_id in ids:
        group = groups.find(ctx.account_id, ctx.region, group_id, None)
        if group["VpcId"] != subnet["VpcId"]:
            raise errors.ServiceError(
                "InvalidParameter",
                f"Security group {group_id} and subnet {subnet['SubnetId']} belong to "
                "different networks.",
            )
        found.append(group)
    if not found:
        found.append(groups.ensure_default(ctx.account_id, ctx.region, subnet["VpcId"]))
    unique = {g["GroupId"]: g for g in found}
    return [{"GroupName": g["GroupName"], "GroupId": g["GroupId"]} for g in unique.values()]


def _subnet(net: Network, ctx: Any, params: dict[str, Any], spec: Doc) -> Doc:
    zone = (params.get("Placement") or {}).get("AvailabilityZone")
    subnet_id = params.get("SubnetId") or spec.get("SubnetId")
    if subnet_id:
        subnet = net.subnet(ctx.account_id, ctx.region, subnet_id)
        if zone and zone != subnet["AvailabilityZone"]:
            raise errors.invalid_value(
                "availabilityZone", zone, "The subnet is in another availability zone."
            )
        return subnet
    if zone and zone not in catalog.zone_names(ctx.region):
        raise errors.zone_invalid(zone)
    default_vpc = net.default_vpc_id(ctx.account_id, ctx.region)
    if default_vpc is None:
        raise errors.no_default_vpc()
    for name in [zone] if zone else catalog.zone_names(ctx.region):
        subnet = net.default_subnet(ctx.account_id, ctx.region, name)
        if subnet is not None:
            return subnet
    if zone:
        raise errors.ServiceError(
            "InvalidInput", f"No default subnet for availability zone: '{zone}'."
        )
    raise errors.ServiceError(
        "MissingInput",
        f"No subnets found for the default VPC '{default_vpc}'. Please specify a subnet.",
    )


def placement(
    net: Network,
    groups: SecurityGroups,
    ctx: Any,
    params: dict[str, Any],
    min_count: int,
    max_count: int,
) -> Placement:
    """Subnet, groups, public address and private addresses for up to ``max_count``
    instances (``len(addresses)``, at least ``min_count``, else EC2's error)."""
    spec = _interface_request(params)
    subnet = _subnet(net, ctx, params, spec)
    vpc = net.vpc(ctx.account_id, ctx.region, subnet["VpcId"])
    found = _groups(groups, ctx, params, spec, subnet)
    wanted = _wanted_address(params, spec)
    if wanted and max_count > 1:
        raise errors.invalid_combination(
            "Cannot specify a primary private IP address when launching more than one instance"
        )
    available = net.available(subnet)
    if available < min_count:
        raise errors.ServiceError(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet['SubnetId']}' to satisfy "
            "the requested number of instances.",
        )
    count = min(max_count, available)
    addresses: list[str | None]
    if wanted or not subnet["DefaultForAz"]:
        addresses = list(net.allocate(subnet, count, wanted))
    else:
        addresses = [None] * count
    public = spec.get("AssociatePublicIpAddress")
    if public is None:
        public = params.get(TEMPLATE_PUBLIC_IP)
    tenancy = (params.get("Placement") or {}).get("Tenancy") or "default"
    if vpc["InstanceTenancy"] == "dedicated":
        tenancy = "dedicated"
    return Placement(
        zone=subnet["AvailabilityZone"],
        subnet=subnet,
        groups=found,
        public=bool(subnet["MapPublicIpOnLaunch"] if public is None else public),
        tenancy=tenancy,
        addresses=addresses,
    )
