"""EC2 operations on network ACLs: ACLs, their numbered entries, their subnets.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. Every subnet is associated with exactly one ACL (its VPC's
default one until ReplaceNetworkAclAssociation moves it); a new ACL holds
only the ``*`` entries that deny everything. Entries are recorded and
described as AWS does, not enforced: instance traffic is loopback traffic, as
for security groups.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, errors, filters
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.vpc_docs import LAST_RULE, Doc, new_id

ACLS_PER_VPC = 200
ENTRIES_PER_DIRECTION = 20
_PROTOCOLS = {"all": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}


def _entries(field: str) -> Any:
    def get(acl: Doc) -> list[str]:
        out = []
        for entry in acl["Entries"]:
            value: Any = entry
            for part in field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                out.append(str(value).lower() if isinstance(value, bool) else str(value))
        return out

    return get


_ACL_FILTERS: dict[str, Any] = {
    "network-acl-id": lambda a: a["NetworkAclId"],
    "vpc-id": lambda a: a["VpcId"],
    "owner-id": lambda a: a["OwnerId"],
    "default": lambda a: str(a["IsDefault"]).lower(),
    "association.association-id": lambda a: [
        x["NetworkAclAssociationId"] for x in a["Associations"]
    ],
    "association.network-acl-id": lambda a: [x["NetworkAclId"] for x in a["Associations"]],
    "association.subnet-id": lambda a: [x["SubnetId"] for x in a["Associations"]],
    "entry.cidr": _entries("CidrBlock"),
    "entry.ipv6-cidr": _entries("Ipv6CidrBlock"),
    "entry.egress": _entries("Egress"),
    "entry.protocol": _entries("Protocol"),
    "entry.rule-action": _entries("RuleAction"),
    "entry.rule-number": _entries("RuleNumber"),
    "entry.port-range.from": _entries("PortRange.From"),
    "entry.port-range.to": _entries("PortRange.To"),
    "entry.icmp.type": _entries("IcmpTypeCode.Type"),
    "entry.icmp.code": _entries("IcmpTypeCode.Code"),
}


def _entry(params: dict[str, Any]) -> Doc:
    """An entry from Create/ReplaceNetworkAclEntry's parameters, checked as EC2 does."""
    number = int(params["RuleNumber"])
    if not 1 <= number <= LAST_RULE - 1:
        raise errors.invalid_value(
            "ruleNumber", number, f"The rule number must be between 1 and {LAST_RULE - 1}."
        )
    action = str(params["RuleAction"]).lower()
    if action not in ("allow", "deny"):
        raise errors.invalid_value("ruleAction", params["RuleAction"])
    raw = str(params["Protocol"]).lower()
    protocol = _PROTOCOLS.get(raw, raw)
    if protocol != "-1" and not (protocol.isdigit() and 0 <= int(protocol) <= 255):
        raise errors.invalid_value("protocol", params["Protocol"], "Invalid protocol.")
    entry: Doc = {
        "RuleNumber": number,
        "Protocol": protocol,
        "RuleAction": action,
        "Egress": bool(params["Egress"]),
    }
    cidr, ipv6 = params.get("CidrBlock"), params.get("Ipv6CidrBlock")
    if bool(cidr) == bool(ipv6):
        raise errors.invalid_combination("Exactly one of CidrBlock and Ipv6CidrBlock is required")
    if cidr:
        entry["CidrBlock"] = str(cidrs.ipv4(cidr))
    else:
        entry["Ipv6CidrBlock"] = str(cidrs.ipv6(ipv6))
    if protocol in ("6", "17"):
        ports = params.get("PortRange") or {}
        if ports.get("From") is None or ports.get("To") is None:
            raise errors.missing("portRange")
        low, high = int(ports["From"]), int(ports["To"])
        if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
            raise errors.invalid_value("portRange", f"{low}-{high}", "Invalid port range.")
        entry["PortRange"] = {"From": low, "To": high}
    if protocol in ("1", "58"):
        icmp = params.get("IcmpTypeCode") or {}
        if icmp.get("Type") is None or icmp.get("Code") is None:
            raise errors.missing("icmpTypeCode")
        entry["IcmpTypeCode"] = {"Type": int(icmp["Type"]), "Code": int(icmp["Code"])}
    return entry


def _find_entry(acl: Doc, number: int, egress: bool) -> Doc | None:
    for entry in acl["Entries"]:
        if entry["RuleNumber"] == number and entry["Egress"] == egress:
            return entry
    return None


def _ordered(acl: Doc) -> None:
    acl["Entries"].sort(key=lambda e: (e["Egress"], e["RuleNumber"], "Ipv6CidrBlock" in e))


class AclOps(NetworkOpsBase):
    def _acl_out(self, acl: Doc) -> Result:
        return self._doc_out(acl, "NetworkAclId")

    def create_network_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        token = params.get("ClientToken")
        if token:
            for acl in self.network.acls.mine(ctx.account_id, ctx.region):
                if acl.get("_client_token") == token:
                    return {"NetworkAcl": self._acl_out(acl), "ClientToken": token}
        tags = self._spec_tags(params, "network-acl")
        if len(self.network.in_vpc(self.network.acls, vpc["VpcId"])) >= ACLS_PER_VPC:
            raise ServiceError(
                "NetworkAclLimitExceeded", "The maximum number of network ACLs has been reached."
            )
        acl = self.network.new_acl(vpc)
        if token:
            acl["_client_token"] = token
            self.network.acls.save(acl)
        self._created(acl["NetworkAclId"], tags)
        out: Result = {"NetworkAcl": self._acl_out(acl)}
        if token:
            out["ClientToken"] = token
        return out

    def describe_network_acls(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        page, token = filters.listing(
            self.network.acls.mine(ctx.account_id, ctx.region),
            "NetworkAclId",
            params.get("NetworkAclIds"),
            lambda one: errors.not_found("networkAcl", one),
            params,
            _ACL_FILTERS,
            self._tags_of("NetworkAclId"),
            hi=100,
        )
        out: Result = {"NetworkAcls": [self._acl_out(a) for a in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_network_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        acl = self.network.acl(ctx.account_id, ctx.region, params["NetworkAclId"])
        if acl["IsDefault"]:
            raise errors.invalid_value(
                "networkAclId",
                acl["NetworkAclId"],
                f"cannot delete default network ACL {acl['NetworkAclId']}",
            )
        if acl["Associations"]:
            raise errors.dependency("networkAcl", acl["NetworkAclId"])
        self.network.acls.drop(acl["NetworkAclId"])
        self.tags.drop(acl["NetworkAclId"])
        return {}

    def create_network_acl_entry(self, ctx: Any, params: dict[str, Any]) -> Result:
        acl = self.network.acl(ctx.account_id, ctx.region, params["NetworkAclId"])
        entry = _entry(params)
        if _find_entry(acl, entry["RuleNumber"], entry["Egress"]) is not None:
            raise ServiceError(
                "NetworkAclEntryAlreadyExists",
                f"The network acl entry identified by {entry['RuleNumber']} already exists.",
            )
        direction = [e for e in acl["Entries"] if e["Egress"] == entry["Egress"]]
        if len([e for e in direction if e["RuleNumber"] != LAST_RULE]) >= ENTRIES_PER_DIRECTION:
            raise ServiceError(
                "NetworkAclEntryLimitExceeded",
                "The maximum number of network ACL entries has been reached.",
            )
        acl["Entries"].append(entry)
        _ordered(acl)
        self.network.acls.save(acl)
        return {}

    def replace_network_acl_entry(self, ctx: Any, params: dict[str, Any]) -> Result:
        acl = self.network.acl(ctx.account_id, ctx.region, params["NetworkAclId"])
        entry = _entry(params)
        old = _find_entry(acl, entry["RuleNumber"], entry["Egress"])
        if old is None:
            raise ServiceError(
                "InvalidNetworkAclEntry.NotFound",
                f"The network acl entry identified by {entry['RuleNumber']} does not exist.",
            )
        acl["Entries"][acl["Entries"].index(old)] = entry
        self.network.acls.save(acl)
        return {}

    def delete_network_acl_entry(self, ctx: Any, params: dict[str, Any]) -> Result:
        acl = self.network.acl(ctx.account_id, ctx.region, params["NetworkAclId"])
        number, egress = int(params["RuleNumber"]), bool(params["Egress"])
        if number == LAST_RULE:
            raise errors.invalid_value(
                "ruleNumber", number, "The default entry of a network ACL cannot be deleted."
            )
        old = _find_entry(acl, number, egress)
        if old is None:
            raise ServiceError(
                "InvalidNetworkAclEntry.NotFound",
                f"The network acl entry identified by {number} does not exist.",
            )
        acl["Entries"].remove(old)
        self.network.acls.save(acl)
        return {}

    def replace_network_acl_association(self, ctx: Any, params: dict[str, Any]) -> Result:
        assoc_id = params["AssociationId"]
        target = self.network.acl(ctx.account_id, ctx.region, params["NetworkAclId"])
        for acl in self.network.acls.mine(ctx.account_id, ctx.region):
            for assoc in acl["Associations"]:
                if assoc["NetworkAclAssociationId"] != assoc_id:
                    continue
                if acl["VpcId"] != target["VpcId"]:
                    raise errors.invalid_value(
                        "networkAclId",
                        target["NetworkAclId"],
                        f"Network ACL {target['NetworkAclId']} and subnet {assoc['SubnetId']} "
                        "belong to different networks",
                    )
                acl["Associations"].remove(assoc)
                self.network.acls.save(acl)
                fresh = {
                    "NetworkAclAssociationId": new_id("aclassoc"),
                    "NetworkAclId": target["NetworkAclId"],
                    "SubnetId": assoc["SubnetId"],
                }
                target["Associations"].append(fresh)
                self.network.acls.save(target)
                return {"NewAssociationId": fresh["NetworkAclAssociationId"]}
        raise errors.not_found("association", assoc_id)
