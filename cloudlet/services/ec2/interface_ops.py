"""DescribeNetworkInterfaces: the network interface every instance has.

Each instance has one interface (device 0, ``instance_network.interface``);
tools read them to find what still uses a subnet or a security group before
deleting it (Terraform does, for instance), so they are listed here as
DescribeNetworkInterfaces shows them. Interfaces of their own
(CreateNetworkInterface, attach, detach) are not built and answer 501.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.ec2 import catalog, errors, filters
from cloudlet.services.ec2.instance_network import dns, interface, interface_id
from cloudlet.services.ec2.instances import Instance, InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result

_INTERFACE_FILTERS: dict[str, Any] = {
    "network-interface-id": lambda n: n["NetworkInterfaceId"],
    "subnet-id": lambda n: n["SubnetId"],
    "vpc-id": lambda n: n["VpcId"],
    "availability-zone": lambda n: n["AvailabilityZone"],
    "group-id": lambda n: [g["GroupId"] for g in n["Groups"]],
    "group-name": lambda n: [g["GroupName"] for g in n["Groups"]],
    "attachment.instance-id": lambda n: n["Attachment"]["InstanceId"],
    "attachment.instance-owner-id": lambda n: n["Attachment"]["InstanceOwnerId"],
    "attachment.attachment-id": lambda n: n["Attachment"]["AttachmentId"],
    "attachment.status": lambda n: n["Attachment"]["Status"],
    "attachment.device-index": lambda n: str(n["Attachment"]["DeviceIndex"]),
    "attachment.delete-on-termination": lambda n: "true",
    "private-ip-address": lambda n: n["PrivateIpAddress"],
    "addresses.private-ip-address": lambda n: [
        a["PrivateIpAddress"] for a in n["PrivateIpAddresses"]
    ],
    "addresses.primary": lambda n: "true",
    "private-dns-name": lambda n: n["PrivateDnsName"],
    "association.public-ip": lambda n: (n.get("Association") or {}).get("PublicIp"),
    "mac-address": lambda n: n["MacAddress"],
    "owner-id": lambda n: n["OwnerId"],
    "status": lambda n: n["Status"],
    "interface-type": lambda n: n["InterfaceType"],
    "requester-managed": lambda n: "false",
    "source-dest-check": lambda n: "true",
    "description": lambda n: n["Description"],
}


class InterfaceOps(NetworkOpsBase):
    engine: InstanceEngine
    _dns_hostnames: Callable[[Instance], bool]

    def _interface_out(self, inst: Instance) -> Result:
        public = inst.public and inst.state in ("pending", "running")
        public_dns = dns(inst)[1] if self._dns_hostnames(inst) else ""
        out = interface(inst, public, public_dns)
        out["Attachment"] = {
            **out["Attachment"],
            "InstanceId": inst.id,
            "InstanceOwnerId": inst.account,
        }
        if inst.state == "shutting-down":
            out["Attachment"]["Status"] = "detaching"
        zones = catalog.zone_names(inst.region)
        out["AvailabilityZone"] = inst.zone
        if inst.zone in zones:
            out["AvailabilityZoneId"] = catalog.zone_id(inst.region, zones.index(inst.zone))
        out["RequesterManaged"] = False
        tags = self.tags.of(out["NetworkInterfaceId"])
        out["TagSet"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return out

    def describe_network_interfaces(self, ctx: Any, params: dict[str, Any]) -> Result:
        found = [
            self._interface_out(i)
            for i in self.engine.instances.values()
            if i.account == ctx.account_id and i.region == ctx.region and i.state != "terminated"
        ]
        page, token = filters.listing(
            found,
            "NetworkInterfaceId",
            params.get("NetworkInterfaceIds"),
            lambda one: errors.not_found("networkInterface", one),
            params,
            _INTERFACE_FILTERS,
            self._tags_of("NetworkInterfaceId"),
        )
        out: Result = {"NetworkInterfaces": page}
        if token:
            out["NextToken"] = token
        return out


def owned_interface(engine: InstanceEngine, ctx: Any, resource_id: str) -> bool:
    """Whether ``resource_id`` is the interface of one of the caller's live instances."""
    return any(
        interface_id(i) == resource_id
        and i.account == ctx.account_id
        and i.region == ctx.region
        and i.state != "terminated"
        for i in engine.instances.values()
    )
