"""EC2 operations on internet gateways: create, attach, detach, delete, describe.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. A VPC has at most one internet gateway and a gateway at most
one VPC; routes to a detached or deleted gateway stay, as ``blackhole``
routes (``route_ops``), as on AWS.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import errors, filters
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result, vpc_limit
from cloudlet.services.ec2.vpcs import Doc

_GATEWAY_FILTERS: dict[str, Any] = {
    "internet-gateway-id": lambda g: g["InternetGatewayId"],
    "attachment.vpc-id": lambda g: [a["VpcId"] for a in g["Attachments"]],
    "attachment.state": lambda g: [a["State"] for a in g["Attachments"]],
    "owner-id": lambda g: g["OwnerId"],
}


class GatewayOps(NetworkOpsBase):
    def _gateway_out(self, gateway: Doc) -> Result:
        return self._doc_out(gateway, "InternetGatewayId")

    def create_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        tags = self._spec_tags(params, "internet-gateway")
        # AWS ties this quota to the VPCs per region one (5, the default VPC's gateway included).
        if len(self.network.gateways.mine(ctx.account_id, ctx.region)) >= vpc_limit():
            raise ServiceError(
                "InternetGatewayLimitExceeded",
                "The maximum number of internet gateways has been reached.",
            )
        gateway = self.network.new_gateway(ctx.account_id, ctx.region)
        self._created(gateway["InternetGatewayId"], tags)
        return {"InternetGateway": self._gateway_out(gateway)}

    def describe_internet_gateways(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        page, token = filters.listing(
            self.network.gateways.mine(ctx.account_id, ctx.region),
            "InternetGatewayId",
            params.get("InternetGatewayIds"),
            lambda one: errors.not_found("internetGateway", one),
            params,
            _GATEWAY_FILTERS,
            self._tags_of("InternetGatewayId"),
        )
        out: Result = {"InternetGateways": [self._gateway_out(g) for g in page]}
        if token:
            out["NextToken"] = token
        return out

    def attach_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        gateway = self.network.gateway(ctx.account_id, ctx.region, params["InternetGatewayId"])
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        gateway_id, vpc_id = gateway["InternetGatewayId"], vpc["VpcId"]
        for attachment in gateway["Attachments"]:
            raise ServiceError(
                "Resource.AlreadyAssociated",
                f"resource {gateway_id} is already attached to network {attachment['VpcId']}",
            )
        if self.network.attached_gateway(vpc_id) is not None:
            raise ServiceError(
                "Resource.AlreadyAssociated",
                f"Network {vpc_id} already has an internet gateway attached",
            )
        self.network.attach(gateway, vpc_id)
        return {}

    def detach_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        gateway = self.network.gateway(ctx.account_id, ctx.region, params["InternetGatewayId"])
        vpc = self.network.vpc(ctx.account_id, ctx.region, params["VpcId"])
        gateway_id, vpc_id = gateway["InternetGatewayId"], vpc["VpcId"]
        if not any(a["VpcId"] == vpc_id for a in gateway["Attachments"]):
            raise ServiceError(
                "Gateway.NotAttached", f"resource {gateway_id} is not attached to network {vpc_id}"
            )
        mapped = [
            i
            for i in self.network.instances_in(vpc_id=vpc_id)
            if i.public and i.state in ("pending", "running")
        ]
        if mapped:
            raise ServiceError(
                "DependencyViolation",
                f"Network {vpc_id} has some mapped public address(es). Please unmap those "
                "public address(es) before detaching the gateway.",
            )
        gateway["Attachments"] = []
        self.network.gateways.save(gateway)
        return {}

    def delete_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        gateway = self.network.gateway(ctx.account_id, ctx.region, params["InternetGatewayId"])
        if gateway["Attachments"]:
            raise errors.dependency("internetGateway", gateway["InternetGatewayId"])
        self.network.gateways.drop(gateway["InternetGatewayId"])
        self.tags.drop(gateway["InternetGatewayId"])
        return {}
