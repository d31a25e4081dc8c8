"""The documents VPC networking keeps, and the small rules that shape them.

``vpcs.Network`` holds the state (each kind of document a ``Kind``, kept in
memory and written through to the EC2 store); this module says what a VPC's
CIDR associations, a subnet's extra fields, a network ACL's entries or a zone
named by name or id look like, so the engine and the operations build them
the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from cloudlet.core.ids import token_hex
from cloudlet.services.ec2 import catalog, errors
from cloudlet.services.ec2.store import Store

Doc = dict[str, Any]
ALL = "0.0.0.0/0"
LAST_RULE = 32767
"""The ``*`` rule every network ACL ends with: deny what no other rule matched."""


class Kind:
    """Documents of one kind by id, written through to the store."""

    def __init__(self, store: Store, kind: str, key: str) -> None:
        self.store = store
        self.kind = kind
        self.key = key
        self.by_id: dict[str, Doc] = {doc[key]: doc for doc in store.load(kind)}

    def save(self, doc: Doc) -> Doc:
        self.by_id[doc[self.key]] = doc
        self.store.put(self.kind, doc[self.key], doc)
        return doc

    def drop(self, resource_id: str) -> None:
        self.by_id.pop(resource_id, None)
        self.store.delete(self.kind, resource_id)

    def mine(self, account: str, region: str) -> list[Doc]:
        return [
            d for d in self.by_id.values() if d["OwnerId"] == account and d["_region"] == region
        ]

    def get(self, account: str, region: str, resource_id: str | None) -> Doc | None:
        doc = self.by_id.get(resource_id or "")
        if doc is None or doc["OwnerId"] != account or doc["_region"] != region:
            return None
        return doc


def new_id(prefix: str) -> str:
    return f"{prefix}-{token_hex(9)[:17]}"


def acl_entry(number: int, action: str, egress: bool, ipv6: bool = False) -> Doc:
    """An all-protocols entry for every address (``0.0.0.0/0``, or ``::/0``)."""
    block = {"Ipv6CidrBlock": "::/0"} if ipv6 else {"CidrBlock": ALL}
    return {"RuleNumber": number, "Protocol": "-1", "RuleAction": action, "Egress": egress} | block


def default_entries(allow: bool) -> list[Doc]:
    """A default ACL allows everything (rule 100); a new one denies everything."""
    out = []
    for egress in (False, True):
        if allow:
            out.append(acl_entry(100, "allow", egress))
        out.append(acl_entry(LAST_RULE, "deny", egress))
    return out


def subnet_extras() -> Doc:
    return {
        "EnableDns64": False,
        "Ipv6Native": False,
        "MapCustomerOwnedIpOnLaunch": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
    }


def ipv4_address(value: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise errors.invalid_value("PrivateIpAddresses", value) from None


def ipv6_association(block: str, region: str) -> Doc:
    return {
        "AssociationId": new_id("vpc-cidr-assoc"),
        "Ipv6CidrBlock": block,
        "Ipv6CidrBlockState": {"State": "associated"},
        "NetworkBorderGroup": region,
        "Ipv6Pool": "Amazon",
        "Ipv6AddressAttribute": "public",
        "IpSource": "amazon",
    }


def subnet_ipv6_association(block: str) -> Doc:
    return {
        "AssociationId": new_id("subnet-cidr-assoc"),
        "Ipv6CidrBlock": block,
        "Ipv6CidrBlockState": {"State": "associated"},
        "Ipv6AddressAttribute": "public",
        "IpSource": "amazon",
    }


def zone_of(region: str, name: str | None, zone_id: str | None) -> tuple[str, str]:
    """(zone name, zone id) from either, checked against the region's zones."""
    zones = catalog.zone_names(region)
    ids = [catalog.zone_id(region, i) for i in range(len(zones))]
    if name and zone_id:
        raise errors.invalid_combination(
            "The parameters AvailabilityZone and AvailabilityZoneId cannot be used together"
        )
    if zone_id:
        if zone_id not in ids:
            raise errors.invalid_value("AvailabilityZoneId", zone_id, "Invalid zone id.")
        return zones[ids.index(zone_id)], zone_id
    if name:
        if name not in zones:
            raise errors.invalid_value(
                "availabilityZone",
                name,
                "Subnets can currently only be created in the following availability zones: "
                + ", ".join(zones)
                + ".",
            )
        return name, ids[zones.index(name)]
    return zones[0], ids[0]


def blocks(vpc: Doc) -> Iterable[str]:
    return [a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]]


def ipv6_blocks(vpc: Doc) -> Iterable[str]:
    return [a["Ipv6CidrBlock"] for a in vpc["Ipv6CidrBlockAssociationSet"]]
