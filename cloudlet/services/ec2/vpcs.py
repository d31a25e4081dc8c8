"""The state of VPC networking: VPCs, subnets, internet gateways, route tables, ACLs.

Why one engine for five kinds: they depend on each other the way AWS checks
them (a VPC is not deleted while it has subnets or an attached gateway, a
subnet is always associated with exactly one network ACL and at most one
route table besides the main one...), so the rules live next to all the
documents they read. Each kind is kept in memory and written through to the
EC2 store; documents hold AWS's field names plus ``_``-prefixed private ones.
The documents of peering connections, DHCP option sets, egress-only gateways
and prefix lists are kept here too (VPC deletion and routes check them); their
own rules are ``peerings``, ``dhcp_ops``, ``egress_ops`` and ``prefix_lists``,
and the default VPC's lifecycle is ``default_vpc``.

Addresses: an instance in a created subnet is described with a private
address from the subnet's CIDR (allocated here, never a reserved one, never
one in use), while its processes keep running on their loopback address
(``instances.py``). Instances in the default subnets keep their loopback
address as their private address, as before VPCs could be created.
"""

from __future__ import annotations

import ipaddress

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import cidrs, default_vpc, errors, network
from cloudlet.services.ec2.instances import Instance
from cloudlet.services.ec2.security_groups import SecurityGroups
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.vpc_docs import (
    LAST_RULE,
    Doc,
    Kind,
    acl_entry,
    default_entries,
    ipv4_address,
    ipv6_association,
    new_id,
    subnet_extras,
    subnet_ipv6_association,
)

__all__ = ["Doc", "Kind", "Network"]


class Network:
    """VPC networking of every account and region."""

    def __init__(
        self, store: Store, groups: SecurityGroups, instances: dict[str, Instance]
    ) -> None:
        self.vpcs = Kind(store, "vpc", "VpcId")
        self.subnets = Kind(store, "subnet", "SubnetId")
        self.gateways = Kind(store, "igw", "InternetGatewayId")
        self.tables = Kind(store, "rtb", "RouteTableId")
        self.acls = Kind(store, "acl", "NetworkAclId")
        self.peerings = Kind(store, "pcx", "VpcPeeringConnectionId")
        self.dhcp = Kind(store, "dopt", "DhcpOptionsId")
        self.eigws = Kind(store, "eigw", "EgressOnlyInternetGatewayId")
        self.prefix_lists = Kind(store, "pl", "PrefixListId")
        self.store = store
        self.marked = {doc["Key"] for doc in store.load(default_vpc.MARKER)}
        """Accounts and regions (``account/region``) whose default network was made."""
        self.groups = groups
        self.instances = instances
        # A group named without a VPC is in the current default VPC, if there is one.
        groups.default_vpc = self.default_vpc_id

    def kinds(self) -> dict[str, Kind]:
        """Each kind by the resource type its tags are listed under (``tags.resource_type``)."""
        return {
            "vpc": self.vpcs,
            "subnet": self.subnets,
            "internet-gateway": self.gateways,
            "route-table": self.tables,
            "network-acl": self.acls,
            "dhcp-options": self.dhcp,
            "egress-only-internet-gateway": self.eigws,
            "prefix-list": self.prefix_lists,
        }

    # -- lookups that answer AWS's NotFound errors ---------------------------------

    def vpc(self, account: str, region: str, vpc_id: str | None) -> Doc:
        self.ensure_defaults(account, region)
        doc = self.vpcs.get(account, region, vpc_id)
        if doc is None:
            raise errors.vpc_not_found(vpc_id or "")
        return doc

    def subnet(self, account: str, region: str, subnet_id: str | None) -> Doc:
        self.ensure_defaults(account, region)
        doc = self.subnets.get(account, region, subnet_id)
        if doc is None:
            raise errors.subnet_not_found(subnet_id or "")
        return doc

    def gateway(self, account: str, region: str, gateway_id: str | None) -> Doc:
        self.ensure_defaults(account, region)
        doc = self.gateways.get(account, region, gateway_id)
        if doc is None:
            raise errors.not_found("internetGateway", gateway_id or "")
        return doc

    def table(self, account: str, region: str, table_id: str | None) -> Doc:
        self.ensure_defaults(account, region)
        doc = self.tables.get(account, region, table_id)
        if doc is None:
            raise errors.not_found("routeTable", table_id or "")
        return doc

    def acl(self, account: str, region: str, acl_id: str | None) -> Doc:
        self.ensure_defaults(account, region)
        doc = self.acls.get(account, region, acl_id)
        if doc is None:
            raise errors.not_found("networkAcl", acl_id or "")
        return doc

    def default_vpc_id(self, account: str, region: str) -> str | None:
        """The account's default VPC in the region, while it has one."""
        vpc = default_vpc.current(self, account, region)
        return vpc["VpcId"] if vpc else None

    def default_subnet(self, account: str, region: str, zone: str) -> Doc | None:
        vpc_id = self.default_vpc_id(account, region)
        for doc in self.subnets.mine(account, region):
            if doc["VpcId"] == vpc_id and doc["DefaultForAz"] and doc["AvailabilityZone"] == zone:
                return doc
        return None

    def table_of(self, subnet: Doc) -> Doc | None:
        """The route table a subnet's traffic uses: its own association's, else the main one."""
        found = self.table_association(subnet["SubnetId"])
        if found is not None:
            return found[0]
        try:
            return self.main_table(subnet["VpcId"])
        except ServiceError:
            return None

    # -- the default VPC -----------------------------------------------------------

    def ensure_defaults(self, account: str, region: str) -> None:
        """Write the default VPC and what AWS puts in it, once per account and region
        (``default_vpc``: deleted, it stays deleted until CreateDefaultVpc)."""
        if f"{account}/{region}" not in self.marked:
            default_vpc.ensure(self, account, region)

    # -- creation ------------------------------------------------------------------

    def vpc_document(
        self, account: str, region: str, cidr: str, tenancy: str, attributes: Doc, default: bool
    ) -> Doc:
        """A new VPC's description (not saved): new ids, the region's DHCP option set."""
        vpc_id = new_id("vpc")
        dhcp_id = network.dhcp_options_id(account, region)
        return {
            "VpcId": vpc_id,
            "OwnerId": account,
            "_region": region,
            "State": "available",
            "CidrBlock": cidr,
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": new_id("vpc-cidr-assoc"),
                    "CidrBlock": cidr,
                    "CidrBlockState": {"State": "associated"},
                }
            ],
            "Ipv6CidrBlockAssociationSet": [],
            # The region's default DHCP option set while it exists (DeleteDhcpOptions).
            "DhcpOptionsId": dhcp_id if dhcp_id in self.dhcp.by_id else "default",
            "InstanceTenancy": tenancy,
            "IsDefault": default,
            "_attributes": attributes,
        }

    def new_vpc(self, account: str, region: str, cidr: str, tenancy: str, ipv6: str | None) -> Doc:
        attributes = {
            "EnableDnsSupport": True,
            "EnableDnsHostnames": False,
            "EnableNetworkAddressUsageMetrics": False,
        }
        vpc = self.vpc_document(account, region, cidr, tenancy, attributes, default=False)
        vpc_id = vpc["VpcId"]
        if ipv6:
            vpc["Ipv6CidrBlockAssociationSet"].append(ipv6_association(ipv6, region))
        self.vpcs.save(vpc)
        self.main_table_for(vpc, new_id("rtb"))
        acl = self.default_acl_for(vpc, new_id("acl"))
        if ipv6:
            # AWS's default ACL allows IPv6 too (rule 101) in a VPC that has it.
            for egress in (False, True):
                acl["Entries"].append(acl_entry(101, "allow", egress, ipv6=True))
                acl["Entries"].append(acl_entry(LAST_RULE, "deny", egress, ipv6=True))
            self.acls.save(acl)
        self.groups.ensure_default(account, region, vpc_id)
        return vpc

    def main_table_for(self, vpc: Doc, table_id: str) -> Doc:
        return self.new_table(vpc, table_id, main=True)

    def new_table(self, vpc: Doc, table_id: str | None = None, main: bool = False) -> Doc:
        table: Doc = {
            "RouteTableId": table_id or new_id("rtb"),
            "VpcId": vpc["VpcId"],
            "OwnerId": vpc["OwnerId"],
            "_region": vpc["_region"],
            "PropagatingVgws": [],
            "_routes": [],
            "_associations": [],
        }
        if main:
            table["_associations"].append(
                {"RouteTableAssociationId": new_id("rtbassoc"), "Main": True}
            )
        return self.tables.save(table)

    def default_acl_for(self, vpc: Doc, acl_id: str) -> Doc:
        return self.new_acl(vpc, acl_id, default=True)

    def new_acl(self, vpc: Doc, acl_id: str | None = None, default: bool = False) -> Doc:
        acl = {
            "NetworkAclId": acl_id or new_id("acl"),
            "VpcId": vpc["VpcId"],
            "OwnerId": vpc["OwnerId"],
            "_region": vpc["_region"],
            "IsDefault": default,
            "Entries": default_entries(allow=default),
            "Associations": [],
        }
        return self.acls.save(acl)

    def new_gateway(self, account: str, region: str, gateway_id: str | None = None) -> Doc:
        return self.gateways.save(
            {
                "InternetGatewayId": gateway_id or new_id("igw"),
                "OwnerId": account,
                "_region": region,
                "Attachments": [],
            }
        )

    def new_subnet(
        self,
        vpc: Doc,
        cidr: str,
        zone: str,
        zone_id: str,
        ipv6: str | None,
        *,
        default: bool = False,
    ) -> Doc:
        """A new subnet of ``vpc``; ``default``: the default subnet of its zone (public
        addresses mapped on launch)."""
        subnet_id = new_id("subnet")
        region, account = vpc["_region"], vpc["OwnerId"]
        doc = {
            "SubnetId": subnet_id,
            "SubnetArn": f"arn:aws:ec2:{region}:{account}:subnet/{subnet_id}",
            "VpcId": vpc["VpcId"],
            "OwnerId": account,
            "_region": region,
            "State": "available",
            "AvailabilityZone": zone,
            "AvailabilityZoneId": zone_id,
            "CidrBlock": cidr,
            "DefaultForAz": default,
            "MapPublicIpOnLaunch": default,
            "AssignIpv6AddressOnCreation": False,
            "Ipv6CidrBlockAssociationSet": [],
            **subnet_extras(),
        }
        if ipv6:
            doc["Ipv6CidrBlockAssociationSet"].append(subnet_ipv6_association(ipv6))
        return self.add_subnet(doc)

    def add_subnet(self, doc: Doc) -> Doc:
        """Save a subnet and associate it with its VPC's default network ACL, as AWS does."""
        self.subnets.save(doc)
        acl = self.default_acl(doc["VpcId"])
        acl["Associations"].append(
            {
                "NetworkAclAssociationId": new_id("aclassoc"),
                "NetworkAclId": acl["NetworkAclId"],
                "SubnetId": doc["SubnetId"],
            }
        )
        self.acls.save(acl)
        return doc

    # -- gateways ------------------------------------------------------------------

    def attach(self, gateway: Doc, vpc_id: str) -> None:
        gateway["Attachments"] = [{"VpcId": vpc_id, "State": "available"}]
        self.gateways.save(gateway)

    def attached_gateway(self, vpc_id: str) -> Doc | None:
        for gateway in self.gateways.by_id.values():
            if any(a["VpcId"] == vpc_id for a in gateway["Attachments"]):
                return gateway
        return None

    # -- relations -----------------------------------------------------------------

    def in_vpc(self, kind: Kind, vpc_id: str) -> list[Doc]:
        return [d for d in kind.by_id.values() if d.get("VpcId") == vpc_id]

    def main_table(self, vpc_id: str) -> Doc:
        for table in self.in_vpc(self.tables, vpc_id):
            if any(a.get("Main") for a in table["_associations"]):
                return table
        raise ServiceError("InvalidRouteTableID.NotFound", f"No main route table for {vpc_id}")

    def default_acl(self, vpc_id: str) -> Doc:
        for acl in self.in_vpc(self.acls, vpc_id):
            if acl["IsDefault"]:
                return acl
        raise ServiceError("InvalidNetworkAclID.NotFound", f"No default network ACL for {vpc_id}")

    def table_association(self, subnet_id: str) -> tuple[Doc, Doc] | None:
        """The subnet's explicit route table association, if it has one."""
        for table in self.tables.by_id.values():
            for assoc in table["_associations"]:
                if assoc.get("SubnetId") == subnet_id:
                    return table, assoc
        return None

    def acl_association(self, subnet_id: str) -> tuple[Doc, Doc] | None:
        for acl in self.acls.by_id.values():
            for assoc in acl["Associations"]:
                if assoc["SubnetId"] == subnet_id:
                    return acl, assoc
        return None

    def instances_in(self, *, subnet_id: str = "", vpc_id: str = "") -> list[Instance]:
        """Instances that still hold an address there (all but terminated ones)."""
        return [
            i
            for i in self.instances.values()
            if i.state != "terminated"
            and ((subnet_id and i.subnet_id == subnet_id) or (vpc_id and i.vpc_id == vpc_id))
        ]

    # -- addresses -----------------------------------------------------------------

    def available(self, subnet: Doc) -> int:
        net = ipaddress.IPv4Network(subnet["CidrBlock"])
        return max(cidrs.capacity(net) - len(self.instances_in(subnet_id=subnet["SubnetId"])), 0)

    def used(self, subnet: Doc) -> set[str]:
        return {i.vpc_ip for i in self.instances_in(subnet_id=subnet["SubnetId"]) if i.vpc_ip}

    def allocate(self, subnet: Doc, count: int, wanted: str | None = None) -> list[str]:
        """``count`` free addresses of the subnet, ``wanted`` first when given (checked)."""
        net = ipaddress.IPv4Network(subnet["CidrBlock"])
        used = self.used(subnet)
        out: list[str] = []
        if wanted:
            address = ipv4_address(wanted)
            if address not in net:
                raise errors.invalid_value(
                    "PrivateIpAddresses",
                    wanted,
                    "Address does not fall within the subnet's address range",
                )
            if address in cidrs.reserved(net):
                raise errors.invalid_value(
                    "PrivateIpAddresses", wanted, "Address is in subnet's reserved address range"
                )
            if str(address) in used:
                raise ServiceError("InvalidIPAddress.InUse", f"Address {address} is in use.")
            out.append(str(address))
        for address in cidrs.usable(net):
            if len(out) >= count:
                break
            if str(address) not in used and str(address) not in out:
                out.append(str(address))
        return out

    # -- removal -------------------------------------------------------------------

    def remove_subnet(self, subnet: Doc) -> None:
        found = self.table_association(subnet["SubnetId"])
        if found is not None:
            table, assoc = found
            table["_associations"].remove(assoc)
            self.tables.save(table)
        found_acl = self.acl_association(subnet["SubnetId"])
        if found_acl is not None:
            acl, acl_assoc = found_acl
            acl["Associations"].remove(acl_assoc)
            self.acls.save(acl)
        self.subnets.drop(subnet["SubnetId"])

    def remove_vpc(self, vpc: Doc) -> list[str]:
        """Delete the VPC with the main table, default ACL and default group it came with;
        the ids of everything removed (their tags go too)."""
        vpc_id = vpc["VpcId"]
        gone = [vpc_id]
        for kind in (self.tables, self.acls):
            for doc in self.in_vpc(kind, vpc_id):
                gone.append(doc[kind.key])
                kind.drop(doc[kind.key])
        for group in list(self.groups.groups.values()):
            if group["VpcId"] == vpc_id:
                gone.append(group["GroupId"])
                self.groups.drop(group)
        self.vpcs.drop(vpc_id)
        return gone

    def vpc_dependency(self, vpc: Doc) -> bool:
        """Whether something the user made still lives in the VPC (AWS's DependencyViolation)."""
        vpc_id = vpc["VpcId"]
        if self.in_vpc(self.subnets, vpc_id) or self.attached_gateway(vpc_id):
            return True
        if any(a["VpcId"] == vpc_id for g in self.eigws.by_id.values() for a in g["Attachments"]):
            return True
        if self.instances_in(vpc_id=vpc_id):
            return True
        if any(not any(a.get("Main") for a in t["_associations"])
               for t in self.in_vpc(self.tables, vpc_id)):  # fmt: skip
            return True
        if any(not acl["IsDefault"] for acl in self.in_vpc(self.acls, vpc_id)):
            return True
        return any(
            g["VpcId"] == vpc_id and g["GroupName"] != "default"
            for g in self.groups.groups.values()
        )
