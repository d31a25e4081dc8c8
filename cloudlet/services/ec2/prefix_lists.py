"""Managed prefix lists: named, versioned sets of CIDR blocks that rules and routes name.

Why an engine of its own: a prefix list is referenced by security group rules
(``PrefixListIds``) and routes (``DestinationPrefixListId``), so its entries
are read where those are (``reach`` expands a route's list to find where
traffic goes), its references are counted (GetManagedPrefixListAssociations,
and a referenced list is not deleted), and every change of entries makes a
new version whose entries stay readable (GetManagedPrefixListEntries'
``TargetVersion``, RestoreManagedPrefixListVersion).

AWS-managed lists (``com.amazonaws.<region>.s3`` and ``.dynamodb``, owner
``AWS``) are described read-only. Their entries say where those services
really are for programs here: cloudlet's own endpoint address, which is
where S3 and DynamoDB answer, rather than AWS's public ranges, which lead
nowhere from this machine.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, errors
from cloudlet.services.ec2.vpc_docs import Doc, new_id
from cloudlet.services.ec2.vpcs import Network

AWS_OWNER = "AWS"
AWS_SERVICES = ("s3", "dynamodb")
MAX_ENTRIES = 1000
FAMILIES = {"IPv4": 4, "IPv6": 6}


def aws_list_id(region: str, service: str) -> str:
    """The stable id of an AWS-managed list (AWS's are ``pl-`` and 8 hex digits)."""
    return "pl-" + hashlib.sha256(f"{region}/{service}".encode()).hexdigest()[:8]


class PrefixLists:
    """Customer-managed lists (``Network.prefix_lists`` documents) and AWS's."""

    def __init__(self, net: Network, endpoint: Callable[[], str]) -> None:
        self.net = net
        self.endpoint = endpoint

    # -- lookups -------------------------------------------------------------------

    def _endpoint_block(self) -> str:
        host = urlsplit(self.endpoint()).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = ipaddress.ip_address("127.0.0.1")
        return str(ipaddress.ip_network(address))

    def aws_managed(self, region: str) -> list[Doc]:
        block = self._endpoint_block()
        family = "IPv6" if ":" in block else "IPv4"
        out = []
        for service in AWS_SERVICES:
            pl_id = aws_list_id(region, service)
            out.append(
                {
                    "PrefixListId": pl_id,
                    "AddressFamily": family,
                    "State": "create-complete",
                    "PrefixListArn": f"arn:aws:ec2:{region}:aws:prefix-list/{pl_id}",
                    "PrefixListName": f"com.amazonaws.{region}.{service}",
                    "MaxEntries": 1,
                    "Version": 1,
                    "OwnerId": AWS_OWNER,
                    "_region": region,
                    "_versions": {"1": [{"Cidr": block}]},
                }
            )
        return out

    def visible(self, account: str, region: str) -> list[Doc]:
        return [*self.aws_managed(region), *self.net.prefix_lists.mine(account, region)]

    def find(
        self, account: str, region: str, pl_id: str | None, code: str = "InvalidPrefixListID"
    ) -> Doc:
        for doc in self.visible(account, region):
            if doc["PrefixListId"] == pl_id:
                return doc
        raise ServiceError(f"{code}.NotFound", f"The prefix list ID '{pl_id or ''}' does not exist")

    def owned(self, account: str, region: str, pl_id: str | None) -> Doc:
        """A list the caller may change: AWS's are read-only."""
        doc = self.find(account, region, pl_id)
        if doc["OwnerId"] == AWS_OWNER:
            raise ServiceError(
                "InvalidPrefixListModification",
                f"The prefix list {doc['PrefixListId']} is managed by AWS and cannot be "
                "modified or deleted.",
            )
        return doc

    @staticmethod
    def entries(doc: Doc, version: int | None = None) -> list[Doc]:
        found = doc["_versions"].get(str(doc["Version"] if version is None else version))
        if found is None:
            raise errors.invalid_value(
                "TargetVersion", version, f"The prefix list has no version {version}."
            )
        return [dict(e) for e in found]

    def blocks(self, pl_id: str, region: str) -> list[str]:
        """The current CIDRs of a list (any owner's), for routes and reachability."""
        doc = self.net.prefix_lists.by_id.get(pl_id)
        if doc is None:
            doc = next((d for d in self.aws_managed(region) if d["PrefixListId"] == pl_id), None)
        return [e["Cidr"] for e in self.entries(doc)] if doc else []

    def references(self, doc: Doc) -> list[Doc]:
        """Resources that name the list: route tables and security groups."""
        pl_id = doc["PrefixListId"]
        out = []
        for table in self.net.tables.by_id.values():
            if any(r.get("DestinationPrefixListId") == pl_id for r in table["_routes"]):
                out.append({"ResourceId": table["RouteTableId"], "ResourceOwner": table["OwnerId"]})
        for group in self.net.groups.groups.values():
            rules = [*group["_ingress"], *group["_egress"]]
            if any(
                p.get("PrefixListId") == pl_id for r in rules for p in r.get("PrefixListIds") or []
            ):
                out.append({"ResourceId": group["GroupId"], "ResourceOwner": group["OwnerId"]})
        return out

    # -- changes -------------------------------------------------------------------

    @staticmethod
    def checked_entries(family: str, given: list[Doc], param: str = "Cidr") -> list[Doc]:
        out: dict[str, Doc] = {}
        for entry in given:
            net = cidrs.any_block(entry.get("Cidr") or "", param)
            if net.version != FAMILIES[family]:
                raise errors.invalid_value(
                    param, entry.get("Cidr"), f"The CIDR is not an {family} CIDR block."
                )
            if str(net) in out:
                raise ServiceError(
                    "InvalidRequest", f"The request contains duplicate entries for {net}."
                )
            item: Doc = {"Cidr": str(net)}
            if entry.get("Description"):
                item["Description"] = entry["Description"]
            out[str(net)] = item
        return list(out.values())

    def create(
        self,
        account: str,
        region: str,
        name: str,
        family: str,
        max_entries: int,
        entries: list[Doc],
    ) -> Doc:
        pl_id = new_id("pl")
        return self.net.prefix_lists.save(
            {
                "PrefixListId": pl_id,
                "AddressFamily": family,
                "State": "create-complete",
                "PrefixListArn": f"arn:aws:ec2:{region}:{account}:prefix-list/{pl_id}",
                "PrefixListName": name,
                "MaxEntries": max_entries,
                "Version": 1,
                "OwnerId": account,
                "_region": region,
                "_versions": {"1": entries},
            }
        )

    def new_version(self, doc: Doc, entries: list[Doc], state: str) -> None:
        doc["Version"] += 1
        doc["_versions"][str(doc["Version"])] = entries
        doc["State"] = state
        self.net.prefix_lists.save(doc)
