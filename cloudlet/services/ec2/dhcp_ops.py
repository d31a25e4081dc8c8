"""EC2 operations on DHCP option sets: create, describe, delete, associate with VPCs.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. Every region has a default set (AWS's domain and
AmazonProvidedDNS, ``default_vpc``) that new VPCs use; AssociateDhcpOptions
with ``default`` leaves a VPC with no options, as AWS documents. What a set
changes inside instances (the custom domain whose ``ip-a-b-c-d`` names
resolve) is ``reach``'s, applied to the VPC's address maps as soon as the set
is associated: AWS's instances pick a change up at their next lease renewal,
without a restart.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import errors, filters
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.vpc_docs import Doc, new_id

AMAZON_DNS = "AmazonProvidedDNS"
_ADDRESS_LIMITS = {"domain-name-servers": 4, "netbios-name-servers": 4, "ntp-servers": 8}
_KEYS = (
    "domain-name",
    "domain-name-servers",
    "ntp-servers",
    "netbios-name-servers",
    "netbios-node-type",
    "ipv6-address-preferred-lease-time",
)
_FILTERS: dict[str, Any] = {
    "dhcp-options-id": lambda d: d["DhcpOptionsId"],
    "key": lambda d: [c["Key"] for c in d["DhcpConfigurations"]],
    "value": lambda d: [v["Value"] for c in d["DhcpConfigurations"] for v in c["Values"]],
    "owner-id": lambda d: d["OwnerId"],
}


def _values(key: str, given: list[str]) -> list[str]:
    """The option's values, checked as AWS checks them (servers may be comma separated)."""
    values = [v.strip() for item in given for v in str(item).split(",") if v.strip()]
    if not values:
        raise errors.invalid_value("dhcpConfiguration.value", "", f"No value given for {key}.")
    if key == "domain-name":
        if len(values) != 1 or len(values[0]) > 255:
            raise errors.invalid_value("domain-name", ",".join(values), "Give one domain name.")
    elif key in _ADDRESS_LIMITS:
        if len(values) > _ADDRESS_LIMITS[key]:
            raise errors.invalid_value(
                key, ",".join(values), f"At most {_ADDRESS_LIMITS[key]} addresses are allowed."
            )
        for value in values:
            if key == "domain-name-servers" and value == AMAZON_DNS:
                continue
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                raise errors.invalid_value(key, value, "Not an IP address.") from None
            if address.version == 6 and key != "ntp-servers":
                raise errors.invalid_value(key, value, "Give IPv4 addresses.")
    elif key == "netbios-node-type":
        if values not in (["1"], ["2"], ["4"], ["8"]):
            raise errors.invalid_value(key, ",".join(values), "Must be 1, 2, 4 or 8.")
    elif key == "ipv6-address-preferred-lease-time":
        if len(values) != 1 or not values[0].isdigit() or not 140 <= int(values[0]) <= 2**31 - 1:
            raise errors.invalid_value(
                key, ",".join(values), "Must be between 140 and 2147483647 seconds."
            )
    return values


class DhcpOps(NetworkOpsBase):
    engine: InstanceEngine

    def _dhcp_out(self, doc: Doc) -> Result:
        return self._doc_out(doc, "DhcpOptionsId")

    def _dhcp(self, ctx: Any, dhcp_id: str) -> Doc:
        self._defaults(ctx)
        if not dhcp_id.startswith("dopt-"):
            raise ServiceError(
                "InvalidDhcpOptionsId.Malformed", f'Invalid id: "{dhcp_id}" (expecting "dopt-...")'
            )
        doc = self.network.dhcp.get(ctx.account_id, ctx.region, dhcp_id)
        if doc is None:
            raise errors.not_found("dhcpOption", dhcp_id)
        return doc

    def create_dhcp_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        given = params.get("DhcpConfigurations") or []
        if not given:
            raise errors.missing("DhcpConfigurations")
        configurations = []
        seen: set[str] = set()
        for item in given:
            key = str(item.get("Key") or "").strip()
            if key not in _KEYS:
                raise errors.invalid_value("dhcpConfiguration.key", key, "Unknown DHCP option.")
            if key in seen:
                raise errors.invalid_value("dhcpConfiguration.key", key, "Given more than once.")
            seen.add(key)
            values = _values(key, item.get("Values") or [])
            configurations.append({"Key": key, "Values": [{"Value": v} for v in values]})
        tags = self._spec_tags(params, "dhcp-options")
        doc = self.network.dhcp.save(
            {
                "DhcpOptionsId": new_id("dopt"),
                "OwnerId": ctx.account_id,
                "_region": ctx.region,
                "DhcpConfigurations": configurations,
            }
        )
        self._created(doc["DhcpOptionsId"], tags)
        return {"DhcpOptions": self._dhcp_out(doc)}

    def describe_dhcp_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        page, token = filters.listing(
            self.network.dhcp.mine(ctx.account_id, ctx.region),
            "DhcpOptionsId",
            params.get("DhcpOptionsIds"),
            lambda one: errors.not_found("dhcpOption", one),
            params,
            _FILTERS,
            self._tags_of("DhcpOptionsId"),
        )
        out: Result = {"DhcpOptions": [self._dhcp_out(d) for d in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_dhcp_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._dhcp(ctx, params.get("DhcpOptionsId") or "")
        dhcp_id = doc["DhcpOptionsId"]
        if any(v.get("DhcpOptionsId") == dhcp_id for v in self.network.vpcs.by_id.values()):
            raise errors.dependency("dhcpOptions", dhcp_id)
        self.network.dhcp.drop(dhcp_id)
        self.tags.drop(dhcp_id)
        return {}

    def associate_dhcp_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params.get("VpcId"))
        dhcp_id = params.get("DhcpOptionsId") or ""
        if dhcp_id != "default":
            dhcp_id = self._dhcp(ctx, dhcp_id)["DhcpOptionsId"]
        vpc["DhcpOptionsId"] = dhcp_id
        self.network.vpcs.save(vpc)
        self.engine.vpc_maps.refresh(vpc["VpcId"])
        return {}
