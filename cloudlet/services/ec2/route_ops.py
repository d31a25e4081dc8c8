"""EC2 operations on route tables: tables, their routes and their associations.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. Every VPC has one main route table (the one subnets without an
explicit association use); ReplaceRouteTableAssociation on the main
association makes another table the main one. Checks on routes live in
``routes``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import errors, filters, routes
from cloudlet.services.ec2.instances import Instance, InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.prefix_lists import AWS_OWNER, FAMILIES, PrefixLists
from cloudlet.services.ec2.vpc_docs import Doc, new_id

TABLES_PER_VPC = 200


def _in_routes(field: str) -> Any:
    return lambda t: [r.get(field) for r in t["Routes"] if r.get(field)]


def _in_assocs(field: str) -> Any:
    return lambda t: [str(a[field]).lower() if field == "Main" else a.get(field)
                      for a in t["Associations"] if a.get(field) is not None]  # fmt: skip


_TABLE_FILTERS: dict[str, Any] = {
    "route-table-id": lambda t: t["RouteTableId"],
    "vpc-id": lambda t: t["VpcId"],
    "owner-id": lambda t: t["OwnerId"],
    "association.main": _in_assocs("Main"),
    "association.route-table-association-id": _in_assocs("RouteTableAssociationId"),
    "association.route-table-id": _in_assocs("RouteTableId"),
    "association.subnet-id": _in_assocs("SubnetId"),
    "association.gateway-id": _in_assocs("GatewayId"),
    "route.destination-cidr-block": _in_routes("DestinationCidrBlock"),
    "route.destination-ipv6-cidr-block": _in_routes("DestinationIpv6CidrBlock"),
    "route.destination-prefix-list-id": _in_routes("DestinationPrefixListId"),
    "route.gateway-id": _in_routes("GatewayId"),
    "route.instance-id": _in_routes("InstanceId"),
    "route.network-interface-id": _in_routes("NetworkInterfaceId"),
    "route.nat-gateway-id": _in_routes("NatGatewayId"),
    "route.transit-gateway-id": _in_routes("TransitGatewayId"),
    "route.vpc-peering-connection-id": _in_routes("VpcPeeringConnectionId"),
    "route.egress-only-internet-gateway-id": _in_routes("EgressOnlyInternetGatewayId"),
    "route.origin": _in_routes("Origin"),
    "route.state": _in_routes("State"),
}


def _association_out(table: Doc, assoc: Doc) -> Doc:
    return {
        **assoc,
        "RouteTableId": table["RouteTableId"],
        "AssociationState": {"State": "associated"},
    }


class RouteOps(NetworkOpsBase):
    engine: InstanceEngine
    prefix_lists: PrefixLists

    def _family(self, ctx: Any, field: str, value: str) -> int:
        """The destination's address family (4 or 6); a prefix list's is checked here."""
        if field != "DestinationPrefixListId":
            return 4 if field == "DestinationCidrBlock" else 6
        doc = self.prefix_lists.find(ctx.account_id, ctx.region, value)
        if doc["OwnerId"] == AWS_OWNER:
            raise errors.invalid_value(
                "destinationPrefixListId",
                value,
                "AWS-managed prefix lists are routed to by gateway endpoints, not by CreateRoute.",
            )
        return FAMILIES[doc["AddressFamily"]]

    def _routes_changed(self, table: Doc) -> None:
        """Where its subnets' instances reach changed: their VPC's maps (and peers')."""
        self.engine.vpc_maps.refresh(table["VpcId"])

    def _instance(self, ctx: Any) -> Any:
        def lookup(instance_id: str) -> Instance | None:
            inst = self.engine.instances.get(instance_id)
            if inst is None or inst.state == "terminated":
                return None
            if inst.account != ctx.account_id or inst.region != ctx.region:
                return None
            return inst

        return lookup

    def _table_out(self, table: Doc) -> Result:
        out = self._doc_out(table, "RouteTableId")
        out["Routes"] = routes.described(self.network, table)
        out["Associations"] = [_association_out(table, a) for a in table["_associations"]]
        return out

    def create_route_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        token = params.get("ClientToken")
        mine = self.network.in_vpc(self.network.tables, vpc["VpcId"])
        if token:
            for table in self.network.tables.mine(ctx.account_id, ctx.region):
                if table.get("_client_token") == token:
                    return {"RouteTable": self._table_out(table), "ClientToken": token}
        tags = self._spec_tags(params, "route-table")
        if len(mine) >= TABLES_PER_VPC:
            raise ServiceError(
                "RouteTableLimitExceeded", "The maximum number of route tables has been reached."
            )
        table = self.network.new_table(vpc)
        if token:
            table["_client_token"] = token
            self.network.tables.save(table)
        self._created(table["RouteTableId"], tags)
        out: Result = {"RouteTable": self._table_out(table)}
        if token:
            out["ClientToken"] = token
        return out

    def describe_route_tables(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        tables = [self._table_out(t) for t in self.network.tables.mine(ctx.account_id, ctx.region)]
        page, token = filters.listing(
            tables,
            "RouteTableId",
            params.get("RouteTableIds"),
            lambda one: errors.not_found("routeTable", one),
            params,
            _TABLE_FILTERS,
            self._tags_of("RouteTableId"),
            hi=100,
        )
        out: Result = {"RouteTables": page}
        if token:
            out["NextToken"] = token
        return out

    def delete_route_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        if table["_associations"]:
            raise errors.dependency("routeTable", table["RouteTableId"])
        self.network.tables.drop(table["RouteTableId"])
        self.tags.drop(table["RouteTableId"])
        return {}

    # -- routes --------------------------------------------------------------------

    def create_route(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        vpc = self.network.vpc(ctx.account_id, ctx.region, table["VpcId"])
        field, value = routes.destination(params)
        if routes.find(table, field, value) is not None or routes.is_local(vpc, field, value):
            raise ServiceError(
                "RouteAlreadyExists", f"The route identified by {value} already exists."
            )
        family = self._family(ctx, field, value)
        target = routes.target(self.network, ctx, table, params, self._instance(ctx), family)
        routes.check_specific(vpc, field, value, target)
        fresh = {field: value, **target, "Origin": "CreateRoute"}
        used = sum(routes.weight(self.network, r) for r in table["_routes"])
        if used + routes.weight(self.network, fresh) > routes.ROUTES_PER_TABLE:
            raise ServiceError(
                "RouteLimitExceeded", "The maximum number of routes has been reached."
            )
        table["_routes"].append(fresh)
        self.network.tables.save(table)
        self._routes_changed(table)
        return {"Return": True}

    def replace_route(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        vpc = self.network.vpc(ctx.account_id, ctx.region, table["VpcId"])
        field, value = routes.destination(params)
        route = routes.find(table, field, value)
        local = routes.is_local(vpc, field, value)
        if route is None and not local:
            raise errors.invalid_value(
                "destinationCidrBlock",
                value,
                f"There is no route defined for '{value}' in the route table. "
                "Use CreateRoute instead.",
            )
        if params.get("LocalTarget"):
            if not local:
                raise errors.invalid_value(
                    "localTarget", True, f"The route {value} is not a local route."
                )
            if route is not None:
                table["_routes"].remove(route)
                self.network.tables.save(table)
                self._routes_changed(table)
            return {}
        family = self._family(ctx, field, value)
        target = routes.target(self.network, ctx, table, params, self._instance(ctx), family)
        if local or routes.within_vpc(vpc, field, value):
            routes.check_specific(vpc, field, value, target)
        fresh = {field: value, **target, "Origin": "CreateRoute"}
        if route is None:
            table["_routes"].append(fresh)
        else:
            table["_routes"][table["_routes"].index(route)] = fresh
        self.network.tables.save(table)
        self._routes_changed(table)
        return {}

    def delete_route(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        vpc = self.network.vpc(ctx.account_id, ctx.region, table["VpcId"])
        field, value = routes.destination(params)
        route = routes.find(table, field, value)
        if route is None and routes.is_local(vpc, field, value):
            raise errors.invalid_value(
                "destinationCidrBlock",
                value,
                f"cannot remove local route {value} in route table {table['RouteTableId']}",
            )
        if route is None:
            raise ServiceError(
                "InvalidRoute.NotFound",
                f"no route with destination-cidr-block {value} in route table "
                f"{table['RouteTableId']}",
            )
        table["_routes"].remove(route)
        self.network.tables.save(table)
        self._routes_changed(table)
        return {}

    # -- associations --------------------------------------------------------------

    def _association(self, ctx: Any, assoc_id: str) -> tuple[Doc, Doc]:
        self._defaults(ctx)
        for table in self.network.tables.mine(ctx.account_id, ctx.region):
            for assoc in table["_associations"]:
                if assoc["RouteTableAssociationId"] == assoc_id:
                    return table, assoc
        raise errors.not_found("association", assoc_id)

    def associate_route_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        table_id = table["RouteTableId"]
        subnet_id, gateway_id = params.get("SubnetId"), params.get("GatewayId")
        if params.get("PublicIpv4Pool"):
            raise errors.not_built("Route table associations with public IPv4 pools")
        if bool(subnet_id) == bool(gateway_id):
            raise errors.invalid_combination("Exactly one of SubnetId and GatewayId is required")
        conflict = ServiceError(
            "Resource.AlreadyAssociated",
            f"the specified association for route table {table_id} conflicts with an existing "
            "association",
        )
        if subnet_id:
            subnet = self.network.subnet(ctx.account_id, ctx.region, subnet_id)
            if subnet["VpcId"] != table["VpcId"]:
                raise errors.invalid_value(
                    "subnetId",
                    subnet_id,
                    f"Route table {table_id} and subnet {subnet_id} belong to different networks",
                )
            if self.network.table_association(subnet_id) is not None:
                raise conflict
            assoc = {"RouteTableAssociationId": new_id("rtbassoc"), "Main": False}
            assoc["SubnetId"] = subnet_id
        else:
            gateway = self.network.gateway(ctx.account_id, ctx.region, gateway_id)
            if not any(a["VpcId"] == table["VpcId"] for a in gateway["Attachments"]):
                raise errors.invalid_value(
                    "gatewayId",
                    gateway_id,
                    f"route table {table_id} and network gateway {gateway_id} belong to "
                    "different networks",
                )
            for other in self.network.tables.by_id.values():
                if any(a.get("GatewayId") == gateway_id for a in other["_associations"]):
                    raise conflict
            assoc = {"RouteTableAssociationId": new_id("rtbassoc"), "Main": False}
            assoc["GatewayId"] = gateway_id
        table["_associations"].append(assoc)
        self.network.tables.save(table)
        self._routes_changed(table)
        return {
            "AssociationId": assoc["RouteTableAssociationId"],
            "AssociationState": {"State": "associated"},
        }

    def disassociate_route_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        table, assoc = self._association(ctx, params["AssociationId"])
        if assoc.get("Main"):
            raise errors.invalid_value(
                "associationId",
                params["AssociationId"],
                f"cannot disassociate the main route table association {params['AssociationId']}",
            )
        table["_associations"].remove(assoc)
        self.network.tables.save(table)
        self._routes_changed(table)
        return {}

    def replace_route_table_association(self, ctx: Any, params: dict[str, Any]) -> Result:
        old_table, assoc = self._association(ctx, params["AssociationId"])
        table = self.network.table(ctx.account_id, ctx.region, params["RouteTableId"])
        if table["VpcId"] != old_table["VpcId"]:
            raise errors.invalid_value(
                "routeTableId",
                table["RouteTableId"],
                f"Route table {table['RouteTableId']} and association "
                f"{assoc['RouteTableAssociationId']} belong to different networks",
            )
        old_table["_associations"].remove(assoc)
        self.network.tables.save(old_table)
        fresh = {**assoc, "RouteTableAssociationId": new_id("rtbassoc")}
        table["_associations"].append(fresh)
        self.network.tables.save(table)
        self._routes_changed(table)
        return {
            "NewAssociationId": fresh["RouteTableAssociationId"],
            "AssociationState": {"State": "associated"},
        }
