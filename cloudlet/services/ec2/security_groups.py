"""Security groups: created, described, deleted, their rules recorded and returned.

Rules are recorded as AWS returns them (``IpPermissions`` /
``IpPermissionsEgress``); ``guard`` turns them into what each instance may send
to the others (enforced by the network shims). Every VPC has its ``default`` group: the default VPC's is made on first
use, a created VPC's with the VPC (``vpcs.Network``), and it goes with the VPC.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.ids import token_hex
from cloudlet.services.ec2 import errors
from cloudlet.services.ec2.network import default_vpc_id
from cloudlet.services.ec2.store import Store

Group = dict[str, Any]
_ALL_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _new_id() -> str:
    return "sg-" + token_hex(9)[:17]


def _key(perm: dict[str, Any], source: str) -> str:
    """One comparable rule per (protocol, ports, single source)."""
    proto = str(perm.get("IpProtocol", "-1")).lower()
    if proto in ("all", "-1"):
        proto = "-1"
    return json.dumps([proto, perm.get("FromPort"), perm.get("ToPort"), source])


def _explode(perm: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Split one IpPermission into (key, single-source permission) pairs."""
    base = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
    if str(base.get("IpProtocol", "")).lower() == "all":
        base["IpProtocol"] = "-1"
    out = []
    for field, ident in (
        ("IpRanges", "CidrIp"),
        ("Ipv6Ranges", "CidrIpv6"),
        ("PrefixListIds", "PrefixListId"),
        ("UserIdGroupPairs", "GroupId"),
    ):
        for source in perm.get(field) or []:
            src = {k: v for k, v in source.items() if v is not None}
            out.append((_key(base, f"{field}:{src.get(ident)}"), {**base, field: [src]}))
    if not out:
        raise errors.missing("IpPermissions.IpRanges")
    return out


def _merge(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group single-source rules back into AWS's shape (one entry per protocol/ports)."""
    merged: dict[str, dict[str, Any]] = {}
    for rule in rules:
        head = _key(rule, "")
        entry = merged.setdefault(
            head,
            {
                **{k: rule[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in rule},
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
        )
        for field in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
            entry[field].extend(rule.get(field) or [])
    return list(merged.values())


def _describe_rule(rule: dict[str, Any]) -> str:
    source = next(
        (
            v
            for f in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")
            for item in rule.get(f) or []
            for v in item.values()
        ),
        "",
    )
    proto = {"-1": "ALL", "6": "TCP", "17": "UDP"}.get(str(rule.get("IpProtocol")), "")
    proto = proto or str(rule.get("IpProtocol", "")).upper()
    return (
        f"peer: {source}, {proto}, from port: {rule.get('FromPort')}, "
        f"to port: {rule.get('ToPort')}, ALLOW"
    )


class SecurityGroups:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.groups: dict[str, Group] = {doc["GroupId"]: doc for doc in store.load("sg")}
        self.default_vpc: Callable[[str, str], str | None] = default_vpc_id
        """The account's current default VPC in a region, or None once it was deleted
        (``vpcs.Network`` installs its own lookup)."""

    def _save(self, group: Group) -> None:
        self.store.put("sg", group["GroupId"], group)

    def ensure_default(self, account: str, region: str, vpc_id: str) -> Group:
        """The VPC's ``default`` group, made with the VPC (the first default VPC's on first
        use)."""
        for group in self.groups.values():
            if (
                group["VpcId"] == vpc_id
                and group["OwnerId"] == account
                and group["GroupName"] == "default"
            ):
                return group
        group_id = _new_id()
        group = {
            "GroupId": group_id,
            "GroupName": "default",
            "Description": "default VPC security group",
            "OwnerId": account,
            "VpcId": vpc_id,
            "_region": region,
            "_ingress": [
                {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id, "UserId": account}]}
            ],
            "_egress": [dict(_ALL_EGRESS)],
        }
        self.groups[group_id] = group
        self._save(group)
        return group

    def visible(self, account: str, region: str) -> list[Group]:
        self.default_vpc(account, region)  # the default network exists once looked at
        return [
            g for g in self.groups.values() if g["OwnerId"] == account and g["_region"] == region
        ]

    def create(self, account: str, region: str, name: str, description: str, vpc_id: str) -> Group:
        """A new group in ``vpc_id`` (checked by the caller)."""
        if not name:
            raise errors.missing("GroupName")
        if not description:
            raise errors.missing("GroupDescription")
        if name.lower().startswith("sg-"):
            raise errors.invalid_value(
                "GroupName", name, "Group names may not be in the format sg-*."
            )
        for group in self.visible(account, region):
            if group["GroupName"] == name and group["VpcId"] == vpc_id:
                raise errors.group_duplicate(name, vpc_id)
        group = {
            "GroupId": _new_id(),
            "GroupName": name,
            "Description": description,
            "OwnerId": account,
            "VpcId": vpc_id,
            "_region": region,
            "_ingress": [],
            "_egress": [dict(_ALL_EGRESS)],
        }
        self.groups[group["GroupId"]] = group
        self._save(group)
        return group

    def find(self, account: str, region: str, group_id: str | None, name: str | None) -> Group:
        """A group by id, or by name in the default VPC (names name groups there only)."""
        default_vpc = self.default_vpc(account, region)
        for group in self.visible(account, region):
            if (group_id and group["GroupId"] == group_id) or (
                not group_id
                and name
                and group["GroupName"] == name
                and group["VpcId"] == default_vpc
            ):
                return group
        raise errors.group_not_found(group_id or name or "", default_vpc)

    def delete(self, group: Group) -> None:
        if group["GroupName"] == "default":
            raise errors.cannot_delete(group["GroupId"])
        self.drop(group)

    def drop(self, group: Group) -> None:
        """Remove ``group`` whatever it is (a VPC's default group goes with its VPC)."""
        del self.groups[group["GroupId"]]
        self.store.delete("sg", group["GroupId"])

    def authorize(self, group: Group, permissions: list[dict[str, Any]], egress: bool) -> None:
        field = "_egress" if egress else "_ingress"
        current = {k: one for rule in group[field] for k, one in _explode(rule)}
        new = [pair for perm in permissions for pair in _explode(perm)]
        for key, rule in new:
            if key in current:
                raise errors.permission_duplicate(group["GroupId"], _describe_rule(rule))
        for key, rule in new:
            current[key] = rule
        group[field] = list(current.values())
        self._save(group)

    def revoke(self, group: Group, permissions: list[dict[str, Any]], egress: bool) -> None:
        field = "_egress" if egress else "_ingress"
        current = {k: one for rule in group[field] for k, one in _explode(rule)}
        gone = [key for perm in permissions for key, _ in _explode(perm)]
        if not all(key in current for key in gone):
            raise errors.permission_not_found()
        for key in gone:
            current.pop(key, None)
        group[field] = list(current.values())
        self._save(group)

    @staticmethod
    def describe(group: Group, tags: dict[str, str]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in group.items() if not k.startswith("_")}
        out["IpPermissions"] = _merge(group["_ingress"])
        out["IpPermissionsEgress"] = _merge(group["_egress"])
        out["SecurityGroupArn"] = (
            f"arn:aws:ec2:{group['_region']}:{group['OwnerId']}:security-group/{group['GroupId']}"
        )
        if tags:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return out
