"""EC2 operations on VPC peering connections: request, accept, reject, delete, options.

Mixed into ``Ec2Service``; every public method is an operation of botocore's
``ec2`` model. The lifecycle and who sees a peering are ``peerings``; a
peering's effect (instances of the two VPCs reaching each other where both
route tables send the traffic through it) is ``reach``, applied by
refreshing the VPCs' address maps whenever a peering starts or ends.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import catalog, errors, filters
from cloudlet.services.ec2.instances import InstanceEngine
from cloudlet.services.ec2.network_ops import NetworkOpsBase, Result
from cloudlet.services.ec2.peerings import (
    FAILED_MESSAGE,
    OPTION_KEYS,
    SIDES,
    Peerings,
    overlapping,
)
from cloudlet.services.ec2.vpc_docs import Doc

OUTSTANDING_LIMIT = 25
"""Pending requests per account and region (AWS's quota)."""
ACTIVE_LIMIT = 50
"""Active peerings per VPC (AWS's default quota)."""
_CLASSIC = OPTION_KEYS[1:]


def _info(field: str, key: str) -> Any:
    return lambda p: p[field].get(key)


def _cidrs(field: str) -> Any:
    return lambda p: [c["CidrBlock"] for c in p[field].get("CidrBlockSet") or []]


_FILTERS: dict[str, Any] = {
    "vpc-peering-connection-id": lambda p: p["VpcPeeringConnectionId"],
    "status-code": lambda p: p["Status"]["Code"],
    "status-message": lambda p: p["Status"]["Message"],
    "expiration-time": lambda p: p["ExpirationTime"].isoformat() if "ExpirationTime" in p else None,
    "requester-vpc-info.vpc-id": _info("RequesterVpcInfo", "VpcId"),
    "requester-vpc-info.owner-id": _info("RequesterVpcInfo", "OwnerId"),
    "requester-vpc-info.cidr-block": _cidrs("RequesterVpcInfo"),
    "accepter-vpc-info.vpc-id": _info("AccepterVpcInfo", "VpcId"),
    "accepter-vpc-info.owner-id": _info("AccepterVpcInfo", "OwnerId"),
    "accepter-vpc-info.cidr-block": _cidrs("AccepterVpcInfo"),
}


class PeeringOps(NetworkOpsBase):
    engine: InstanceEngine
    peerings: Peerings

    def _peering_out(self, doc: Doc, code: str | None = None, message: str | None = None) -> Result:
        out = self.peerings.describe(doc, code, message)
        tags = self.tags.of(doc["VpcPeeringConnectionId"])
        if tags:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return out

    def _refresh(self, doc: Doc) -> None:
        """Both VPCs' address maps: what their instances reach changed."""
        self.engine.vpc_maps.refresh(doc["_requester"]["VpcId"], doc["_accepter"]["VpcId"])

    def create_vpc_peering_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        vpc = self.network.vpc(ctx.account_id, ctx.region, params.get("VpcId"))
        peer_vpc_id = params.get("PeerVpcId")
        if not peer_vpc_id:
            raise errors.missing("PeerVpcId")
        owner = params.get("PeerOwnerId") or ctx.account_id
        region = params.get("PeerRegion") or ctx.region
        if region not in catalog.REGIONS:
            raise errors.invalid_value("PeerRegion", region, "Invalid region.")
        if peer_vpc_id == vpc["VpcId"]:
            raise errors.invalid_value(
                "peerVpcId", peer_vpc_id, "The accepter VPC must be another VPC than the requester."
            )
        if owner == ctx.account_id and region == ctx.region:
            self.network.vpc(owner, region, peer_vpc_id)  # InvalidVpcID.NotFound
        tags = self._spec_tags(params, "vpc-peering-connection")
        same = self.peerings.between(vpc["VpcId"], peer_vpc_id, ("pending-acceptance", "active"))
        if same is not None and same["_requester"]["VpcId"] == vpc["VpcId"]:
            return {"VpcPeeringConnection": self._peering_out(same)}  # AWS answers the same one
        pending = [
            d
            for d, sides in self.peerings.visible(ctx.account_id, ctx.region)
            if "requester" in sides and d["_code"] == "pending-acceptance"
        ]
        if len(pending) >= OUTSTANDING_LIMIT:
            raise ServiceError(
                "OutstandingVpcPeeringConnectionLimitExceeded",
                "You have reached the limit for outstanding VPC peering connection requests.",
            )
        accepter = {"OwnerId": owner, "VpcId": peer_vpc_id, "Region": region}
        doc = self.peerings.create(vpc, accepter)
        self._created(doc["VpcPeeringConnectionId"], tags)
        shown = self._peering_out(doc, "initiating-request", f"Initiating Request to {owner}")
        return {"VpcPeeringConnection": shown}

    def _as_accepter(self, ctx: Any, doc: Doc, sides: list[str], verb: str) -> None:
        if "accepter" in sides:
            return
        pcx_id, accepter = doc["VpcPeeringConnectionId"], doc["_accepter"]
        if accepter["OwnerId"] == ctx.account_id:
            where = "accepted" if verb == "accept" else "accepted or rejected"
            raise errors.not_permitted(
                f"Incorrect region ({ctx.region}) specified for this request. VPC peering "
                f"connection {pcx_id} must be {where} in region {accepter['Region']}"
            )
        raise errors.not_permitted(f"User ({ctx.account_id}) cannot {verb} peering {pcx_id}")

    def accept_vpc_peering_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        pcx_id = params["VpcPeeringConnectionId"]
        doc, sides = self.peerings.find(ctx.account_id, ctx.region, pcx_id)
        self._as_accepter(ctx, doc, sides, "accept")
        if doc["_code"] != "pending-acceptance":
            raise errors.state_transition(pcx_id, doc["_code"], "active")
        requester = self.peerings.vpc_of(doc, "requester")
        accepter = self.peerings.vpc_of(doc, "accepter")
        if requester is None or accepter is None or overlapping(requester, accepter):
            self.peerings.set_status(doc, "failed", FAILED_MESSAGE)
            return {"VpcPeeringConnection": self._peering_out(doc)}
        if self.peerings.between(requester["VpcId"], accepter["VpcId"], ("active",)):
            raise ServiceError(
                "VpcPeeringConnectionAlreadyExists",
                f"The vpc peering connection identified by {pcx_id} already exists.",
            )
        for vpc in (requester, accepter):
            if len(self.peerings.active_peers(vpc["VpcId"])) >= ACTIVE_LIMIT:
                raise ServiceError(
                    "ActiveVpcPeeringConnectionPerVpcLimitExceeded",
                    f"The VPC {vpc['VpcId']} has reached its limit of active VPC peering "
                    "connections.",
                )
        self.peerings.set_status(doc, "active", "Active")
        self._refresh(doc)
        return {"VpcPeeringConnection": self._peering_out(doc, "provisioning", "Provisioning")}

    def reject_vpc_peering_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        pcx_id = params["VpcPeeringConnectionId"]
        doc, sides = self.peerings.find(ctx.account_id, ctx.region, pcx_id)
        self._as_accepter(ctx, doc, sides, "reject")
        if doc["_code"] != "pending-acceptance":
            raise errors.state_transition(pcx_id, doc["_code"], "rejected")
        self.peerings.set_status(doc, "rejected", f"Rejected by {ctx.account_id}")
        return {"Return": True}

    def delete_vpc_peering_connection(self, ctx: Any, params: dict[str, Any]) -> Result:
        pcx_id = params["VpcPeeringConnectionId"]
        doc, sides = self.peerings.find(ctx.account_id, ctx.region, pcx_id)
        code = doc["_code"]
        if code not in ("pending-acceptance", "active"):
            raise errors.state_transition(pcx_id, code, "deleted")
        if code == "pending-acceptance" and "requester" not in sides:
            raise errors.not_permitted(
                f"User ({ctx.account_id}) cannot delete peering {pcx_id}: only its requester "
                "can delete a pending request (the accepter rejects it)"
            )
        self._delete_peering(doc, ctx.account_id)
        return {"Return": True}

    def _delete_peering(self, doc: Doc, account: str) -> None:
        """Mark ``doc`` deleted by ``account``; the VPCs' instances stop reaching each other."""
        was_active = doc["_code"] == "active"
        doc["_deleted_by"] = account
        self.peerings.set_status(doc, "deleted", f"Deleted by {account}")
        if was_active:
            self._refresh(doc)

    def describe_vpc_peering_connections(self, ctx: Any, params: dict[str, Any]) -> Result:
        seen = [self._peering_out(d) for d, _ in self.peerings.visible(ctx.account_id, ctx.region)]
        page, token = filters.listing(
            seen,
            "VpcPeeringConnectionId",
            params.get("VpcPeeringConnectionIds"),
            lambda one: errors.not_found("vpcPeeringConnection", one),
            params,
            _FILTERS,
            lambda p: {t["Key"]: t["Value"] for t in p.get("Tags") or []},
        )
        out: Result = {"VpcPeeringConnections": page}
        if token:
            out["NextToken"] = token
        return out

    def modify_vpc_peering_connection_options(self, ctx: Any, params: dict[str, Any]) -> Result:
        pcx_id = params["VpcPeeringConnectionId"]
        doc, sides = self.peerings.find(ctx.account_id, ctx.region, pcx_id)
        asked = {
            side: params[key]
            for side, key in (
                ("requester", "RequesterPeeringConnectionOptions"),
                ("accepter", "AccepterPeeringConnectionOptions"),
            )
            if params.get(key) is not None
        }
        if not asked:
            raise errors.missing("RequesterPeeringConnectionOptions")
        if doc["_code"] != "active":
            raise errors.not_permitted(
                f"Peering {pcx_id} is not active. Peering options can be added only to active "
                "peerings."
            )
        cross_region = doc["_requester"]["Region"] != doc["_accepter"]["Region"]
        for side, options in asked.items():
            if side not in sides:
                raise errors.not_permitted(
                    f"User ({ctx.account_id}) cannot modify the {side} options of peering "
                    f"{pcx_id}: they belong to the owner of the {side} VPC"
                )
            classic = [k for k in _CLASSIC if options.get(k) is not None]
            if classic and cross_region:
                raise errors.not_permitted(
                    f"Modifying VPC peering connection options {', '.join(classic)} is not "
                    "supported for cross-region VPC peering connections"
                )
            if any(options.get(k) for k in classic):
                raise errors.not_permitted(
                    "ClassicLink options cannot be enabled: EC2-Classic and ClassicLink have "
                    "been retired"
                )
            if options.get("AllowDnsResolutionFromRemoteVpc"):
                self._check_dns(doc)
        for side, options in asked.items():
            for key in OPTION_KEYS:
                if options.get(key) is not None:
                    doc["_options"][side][key] = bool(options[key])
        self.peerings.kind.save(doc)
        self._refresh(doc)  # names of one VPC resolve in the other, or no longer
        keys = {"requester": "RequesterPeeringConnectionOptions",
                "accepter": "AccepterPeeringConnectionOptions"}  # fmt: skip
        return {keys[side]: dict(doc["_options"][side]) for side in asked}

    def _check_dns(self, doc: Doc) -> None:
        """AWS's requirement: both VPCs resolve DNS and have DNS hostnames."""
        for side in SIDES:
            vpc = self.peerings.vpc_of(doc, side)
            attrs = (vpc or {}).get("_attributes") or {}
            if not (attrs.get("EnableDnsSupport") and attrs.get("EnableDnsHostnames")):
                raise errors.not_permitted(
                    f"DNS resolution through {doc['VpcPeeringConnectionId']} needs DNS "
                    f"resolution and DNS hostnames enabled in {doc['_' + side]['VpcId']}"
                )
