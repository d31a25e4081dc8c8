"""EC2 operations on egress-only internet gateways: create, describe, delete.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. An egress-only gateway is attached to its VPC from creation to
deletion; routes send IPv6 destinations only to it (``routes``), and turn
``blackhole`` once it is deleted. Its VPC is not deleted while it is there.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.ec2 import errors, filters
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.vpc_docs import Doc, new_id

_FILTERS: dict[str, Any] = {
    "egress-only-internet-gateway-id": lambda g: g["EgressOnlyInternetGatewayId"],
    "attachment.vpc-id": lambda g: [a["VpcId"] for a in g["Attachments"]],
    "attachment.state": lambda g: [a["State"] for a in g["Attachments"]],
}


class EgressOps(NetworkOpsBase):
    def _egress_out(self, gateway: Doc) -> Result:
        return self._doc_out(gateway, "EgressOnlyInternetGatewayId")

    def create_egress_only_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params.get("VpcId"))
        token = params.get("ClientToken")
        if token:
            for gateway in self.network.eigws.mine(ctx.account_id, ctx.region):
                if gateway.get("_client_token") == token:
                    return {"EgressOnlyInternetGateway": self._egress_out(gateway),
                            "ClientToken": token}  # fmt: skip
        tags = self._spec_tags(params, "egress-only-internet-gateway")
        gateway: Doc = {
            "EgressOnlyInternetGatewayId": new_id("eigw"),
            "OwnerId": ctx.account_id,
            "_region": ctx.region,
            "Attachments": [{"State": "attached", "VpcId": vpc["VpcId"]}],
        }
        if token:
            gateway["_client_token"] = token
        self.network.eigws.save(gateway)
        self._created(gateway["EgressOnlyInternetGatewayId"], tags)
        out: Result = {"EgressOnlyInternetGateway": self._egress_out(gateway)}
        if token:
            out["ClientToken"] = token
        return out

    def describe_egress_only_internet_gateways(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._defaults(ctx)
        page, token = filters.listing(
            self.network.eigws.mine(ctx.account_id, ctx.region),
            "EgressOnlyInternetGatewayId",
            params.get("EgressOnlyInternetGatewayIds"),
            lambda one: errors.not_found("egressOnlyInternetGateway", one),
            params,
            _FILTERS,
            self._tags_of("EgressOnlyInternetGatewayId"),
            hi=255,
        )
        out: Result = {"EgressOnlyInternetGateways": [self._egress_out(g) for g in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_egress_only_internet_gateway(self, ctx: Any, params: dict[str, Any]) -> Result:
        gateway_id = params.get("EgressOnlyInternetGatewayId") or ""
        if self.network.eigws.get(ctx.account_id, ctx.region, gateway_id) is None:
            raise errors.not_found("egressOnlyInternetGateway", gateway_id)
        self.network.eigws.drop(gateway_id)
        self.tags.drop(gateway_id)
        return {"ReturnCode": True}
