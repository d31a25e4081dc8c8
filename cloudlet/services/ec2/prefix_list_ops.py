"""EC2 operations on managed prefix lists, and DescribePrefixLists (AWS's lists).

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. Entry changes are checked against ``CurrentVersion`` and
``MaxEntries`` and make a new version (``prefix_lists``); a list named by a
route changes where the route sends traffic, so the address maps of the
VPCs whose tables name it are refreshed.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import errors, filters
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.prefix_lists import AWS_OWNER, FAMILIES, MAX_ENTRIES, PrefixLists
from cloudlet.services.ec2.vpc_docs import Doc

_FILTERS: dict[str, Any] = {
    "owner-id": lambda p: p["OwnerId"],
    "prefix-list-id": lambda p: p["PrefixListId"],
    "prefix-list-name": lambda p: p["PrefixListName"],
}


def _mismatch() -> ServiceError:
    return ServiceError(
        "PrefixListVersionMismatch", "The prefix list has the incorrect version number."
    )


def _too_many(doc: Doc) -> ServiceError:
    return ServiceError(
        "PrefixListMaxEntriesExceeded",
        f"The maximum number of entries ({doc['MaxEntries']}) for prefix list "
        f"{doc['PrefixListId']} has been exceeded.",
    )


def _max_entries(value: Any) -> int:
    if value is None:
        raise errors.missing("MaxEntries")
    if not 1 <= int(value) <= MAX_ENTRIES:
        raise errors.invalid_value("MaxEntries", value, f"Must be between 1 and {MAX_ENTRIES}.")
    return int(value)


class PrefixListOps(NetworkOpsBase):
    engine: InstanceEngine
    prefix_lists: PrefixLists

    def _list_out(self, doc: Doc, state: str | None = None) -> Result:
        out = self._doc_out(doc, "PrefixListId")
        if state:
            out["State"] = state
        return out

    def _refresh_routes(self, doc: Doc) -> None:
        """The maps of the VPCs whose route tables or security groups name the list."""
        groups = self.network.groups.groups
        vpcs = [
            self.network.tables.by_id[r["ResourceId"]]["VpcId"]
            if r["ResourceId"] in self.network.tables.by_id
            else groups[r["ResourceId"]]["VpcId"]
            for r in self.prefix_lists.references(doc)
            if r["ResourceId"] in self.network.tables.by_id or r["ResourceId"] in groups
        ]
        if vpcs:
            self.engine.vpc_maps.refresh(*vpcs)

    def create_managed_prefix_list(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        token = params.get("ClientToken")
        if token:
            for doc in self.network.prefix_lists.mine(ctx.account_id, ctx.region):
                if doc.get("_client_token") == token:
                    return {"PrefixList": self._list_out(doc)}
        name = params.get("PrefixListName") or ""
        if not name:
            raise errors.missing("PrefixListName")
        if len(name) > 255 or name.lower().startswith("com.amazonaws"):
            raise errors.invalid_value(
                "PrefixListName", name, "Names may not start with com.amazonaws (AWS's lists)."
            )
        family = params.get("AddressFamily") or ""
        if family not in FAMILIES:
            raise errors.invalid_value("AddressFamily", family, "Must be IPv4 or IPv6.")
        max_entries = _max_entries(params.get("MaxEntries"))
        entries = PrefixLists.checked_entries(family, params.get("Entries") or [])
        tags = self._spec_tags(params, "prefix-list")
        doc = self.prefix_lists.create(ctx.account_id, ctx.region, name, family, max_entries, [])
        if len(entries) > max_entries:
            self.network.prefix_lists.drop(doc["PrefixListId"])
            raise _too_many(doc)
        doc["_versions"]["1"] = entries
        if token:
            doc["_client_token"] = token
        self.network.prefix_lists.save(doc)
        self._created(doc["PrefixListId"], tags)
        return {"PrefixList": self._list_out(doc, "create-in-progress")}

    def describe_managed_prefix_lists(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        page, token = filters.listing(
            [self._list_out(d) for d in self.prefix_lists.visible(ctx.account_id, ctx.region)],
            "PrefixListId",
            params.get("PrefixListIds"),
            lambda one: errors.not_found("prefixList", one),
            params,
            _FILTERS,
            lambda p: {t["Key"]: t["Value"] for t in p.get("Tags") or []},
            hi=100,
            lo=1,
        )
        out: Result = {"PrefixLists": page}
        if token:
            out["NextToken"] = token
        return out

    def modify_managed_prefix_list(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self.prefix_lists.owned(ctx.account_id, ctx.region, params.get("PrefixListId"))
        adds, removes = params.get("AddEntries") or [], params.get("RemoveEntries") or []
        if params.get("IpamPrefixListResolverSyncEnabled") is not None:
            raise errors.not_built("Prefix lists kept in sync by IPAM prefix list resolvers")
        if params.get("MaxEntries") is not None and (adds or removes):
            raise errors.invalid_combination(
                "You cannot modify the entries of a prefix list and modify the size of a prefix "
                "list at the same time."
            )
        current = params.get("CurrentVersion")
        if current is not None and int(current) != doc["Version"]:
            raise _mismatch()
        state = "modify-complete"
        if adds or removes:
            if current is None:
                raise errors.missing("CurrentVersion")
            entries = {e["Cidr"]: e for e in self.prefix_lists.entries(doc)}
            added = PrefixLists.checked_entries(doc["AddressFamily"], adds)
            gone = [e["Cidr"] for e in PrefixLists.checked_entries(doc["AddressFamily"], removes)]
            for cidr in gone:
                if cidr not in entries:
                    raise ServiceError(
                        "InvalidPrefixListModification", f"The CIDR {cidr} does not exist."
                    )
                del entries[cidr]
            for entry in added:
                if entry["Cidr"] in entries or entry["Cidr"] in gone:
                    raise ServiceError(
                        "InvalidPrefixListModification",
                        f"The CIDR {entry['Cidr']} already exists in the prefix list.",
                    )
                entries[entry["Cidr"]] = entry
            if len(entries) > doc["MaxEntries"]:
                raise _too_many(doc)
            self.prefix_lists.new_version(doc, list(entries.values()), state)
        if params.get("MaxEntries") is not None:
            size = _max_entries(params["MaxEntries"])
            if size < len(self.prefix_lists.entries(doc)):
                raise errors.invalid_value(
                    "MaxEntries", size, "The prefix list has more entries than that."
                )
            doc["MaxEntries"] = size
        if params.get("PrefixListName"):
            doc["PrefixListName"] = params["PrefixListName"]
        doc["State"] = state
        self.network.prefix_lists.save(doc)
        if adds or removes:
            self._refresh_routes(doc)
        return {"PrefixList": self._list_out(doc, "modify-in-progress")}

    def restore_managed_prefix_list_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self.prefix_lists.owned(ctx.account_id, ctx.region, params.get("PrefixListId"))
        if int(params["CurrentVersion"]) != doc["Version"]:
            raise _mismatch()
        entries = self.prefix_lists.entries(doc, int(params["PreviousVersion"]))
        if len(entries) > doc["MaxEntries"]:
            raise _too_many(doc)
        self.prefix_lists.new_version(doc, entries, "restore-complete")
        self._refresh_routes(doc)
        return {"PrefixList": self._list_out(doc, "restore-in-progress")}

    def delete_managed_prefix_list(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self.prefix_lists.owned(ctx.account_id, ctx.region, params.get("PrefixListId"))
        if self.prefix_lists.references(doc):
            raise errors.dependency("prefixList", doc["PrefixListId"])
        out = self._list_out(doc, "delete-in-progress")
        self.network.prefix_lists.drop(doc["PrefixListId"])
        self.tags.drop(doc["PrefixListId"])
        return {"PrefixList": out}

    def get_managed_prefix_list_entries(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self.prefix_lists.find(ctx.account_id, ctx.region, params.get("PrefixListId"))
        version = params.get("TargetVersion")
        entries = self.prefix_lists.entries(doc, None if version is None else int(version))
        page, token = filters.page(
            entries, params.get("MaxResults"), params.get("NextToken"), 1, 100
        )
        out: Result = {"Entries": page}
        if token:
            out["NextToken"] = token
        return out

    def get_managed_prefix_list_associations(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self.prefix_lists.find(ctx.account_id, ctx.region, params.get("PrefixListId"))
        found = self.prefix_lists.references(doc)
        if doc["OwnerId"] == AWS_OWNER:
            found = [r for r in found if r["ResourceOwner"] == ctx.account_id]
        page, token = filters.page(found, params.get("MaxResults"), params.get("NextToken"), 5, 255)
        out: Result = {"PrefixListAssociations": page}
        if token:
            out["NextToken"] = token
        return out

    def describe_prefix_lists(self, ctx: Any, params: dict[str, Any]) -> Result:
        """AWS's own lists (the ones gateway endpoints route to), with their CIDRs."""
        lists = [
            {
                "PrefixListId": d["PrefixListId"],
                "PrefixListName": d["PrefixListName"],
                "Cidrs": [e["Cidr"] for e in self.prefix_lists.entries(d)],
            }
            for d in self.prefix_lists.aws_managed(ctx.region)
        ]
        page, token = filters.listing(
            lists,
            "PrefixListId",
            params.get("PrefixListIds"),
            lambda one: errors.not_found("prefixList", one),
            params,
            {k: v for k, v in _FILTERS.items() if k != "owner-id"},
            lambda _: {},
        )
        out: Result = {"PrefixLists": page}
        if token:
            out["NextToken"] = token
        return out
