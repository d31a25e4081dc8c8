"""VPC peering connections: their documents, their lifecycle, and who sees them.

Why apart from the operations (``peering_ops``): routes (``routes``), VPC
deletion (``vpc_ops``) and what instances reach (``reach``) all ask the same
questions of a peering (is it active, which VPCs does it join, what does each
side allow), and its lifecycle moves on with time as well as with calls.

A peering is one document seen from two sides, the requester's account and
region and the accepter's. Its status, as the VPC Peering Guide describes:

    initiating-request   what CreateVpcPeeringConnection answers; then at once
    pending-acceptance   (or ``failed``: overlapping blocks, or a VPC that is not
                         there), which expires after 7 days
                         (``CLOUDLET_EC2_PEERING_EXPIRY_SECONDS``)
    active               once accepted (AcceptVpcPeeringConnection answers
                         ``provisioning``)
    rejected, deleted, expired

Finished peerings stay visible for a while, then are forgotten: failed for 2
hours (to the requester only), rejected for 2 days to the requester and 2
hours to the accepter, expired for 2 days, deleted for 2 hours to whoever
deleted it and 2 days to the other side; within one account, rejected and
deleted ones for 2 hours.
"""

from __future__ import annotations

import ipaddress
import os

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.services.ec2 import errors
from cloudlet.services.ec2.vpc_docs import Doc, Kind, blocks, ipv6_blocks, new_id
from cloudlet.services.ec2.vpcs import Network

EXPIRY_ENV = "CLOUDLET_EC2_PEERING_EXPIRY_SECONDS"
HOUR, DAY = 3600.0, 86400.0
SIDES = ("requester", "accepter")
LIVE = ("pending-acceptance", "active")
"""Statuses in which a peering still joins its VPCs (and blocks its accepter's deletion)."""
FAILED_MESSAGE = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
OPTION_KEYS = (
    "AllowDnsResolutionFromRemoteVpc",
    "AllowEgressFromLocalClassicLinkToRemoteVpc",
    "AllowEgressFromLocalVpcToRemoteClassicLink",
)


def expiry() -> float:
    """Seconds a request waits for acceptance: 7 days, as on AWS."""
    try:
        return float(os.environ.get(EXPIRY_ENV) or 7 * DAY)
    except ValueError:
        return 7 * DAY


def other(side: str) -> str:
    return "accepter" if side == "requester" else "requester"


class Peerings:
    """Every peering of every account and region (``Network.peerings`` documents)."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.kind: Kind = net.peerings

    # -- who sees what -------------------------------------------------------------

    @staticmethod
    def sides(doc: Doc, account: str, region: str) -> list[str]:
        """The sides (``requester``, ``accepter``) a caller in ``account``/``region`` is."""
        return [
            side
            for side in SIDES
            if doc["_" + side]["OwnerId"] == account and doc["_" + side]["Region"] == region
        ]

    @staticmethod
    def _visible_until(doc: Doc, side: str) -> float | None:
        """Until when ``side`` sees a finished peering; None while it is not finished."""
        code, changed = doc["_code"], doc["_changed"]
        one_account = doc["_requester"]["OwnerId"] == doc["_accepter"]["OwnerId"]
        if code == "failed":
            return changed + 2 * HOUR if side == "requester" else changed
        if code == "expired":
            return changed + 2 * DAY
        if code == "rejected":
            keep = 2 * DAY if side == "requester" and not one_account else 2 * HOUR
            return changed + keep
        if code == "deleted":
            by_side = doc["_" + side]["OwnerId"] == doc.get("_deleted_by")
            return changed + (2 * HOUR if by_side or one_account else 2 * DAY)
        return None

    def sees(self, doc: Doc, side: str, now: float) -> bool:
        until = self._visible_until(doc, side)
        return until is None or now < until

    def tick(self) -> None:
        """Expire requests left pending too long; forget peerings no side sees any more."""
        now = clock.time()
        for doc in list(self.kind.by_id.values()):
            if doc["_code"] == "pending-acceptance" and now >= doc["_expires"]:
                self.set_status(doc, "expired", "Expired", at=doc["_expires"])
            if not any(self.sees(doc, side, now) for side in SIDES):
                self.kind.drop(doc["VpcPeeringConnectionId"])

    def visible(self, account: str, region: str) -> list[tuple[Doc, list[str]]]:
        """The peerings a caller sees, each with the sides the caller is."""
        self.tick()
        now = clock.time()
        out = []
        for doc in self.kind.by_id.values():
            sides = self.sides(doc, account, region)
            if any(self.sees(doc, side, now) for side in sides):
                out.append((doc, sides))
        return out

    def find(self, account: str, region: str, pcx_id: str) -> tuple[Doc, list[str]]:
        for doc, sides in self.visible(account, region):
            if doc["VpcPeeringConnectionId"] == pcx_id:
                return doc, sides
        raise errors.not_found("vpcPeeringConnection", pcx_id)

    # -- lifecycle -----------------------------------------------------------------

    def set_status(self, doc: Doc, code: str, message: str, at: float | None = None) -> None:
        doc["_code"], doc["_message"] = code, message
        doc["_changed"] = clock.time() if at is None else at
        for side in SIDES:  # what the VPCs were, for when they are gone
            vpc = self.net.vpcs.by_id.get(doc["_" + side]["VpcId"])
            if vpc is not None and code in ("active", "deleted"):
                doc["_" + side]["_blocks"] = _blocks_of(vpc)
        self.kind.save(doc)

    def create(self, requester: Doc, accepter: dict[str, str]) -> Doc:
        """A request from VPC ``requester`` to ``accepter`` (OwnerId, VpcId, Region), already
        ``pending-acceptance`` or ``failed`` (what the caller is shown is
        ``initiating-request``)."""
        now = clock.time()
        doc: Doc = {
            "VpcPeeringConnectionId": new_id("pcx"),
            "OwnerId": requester["OwnerId"],
            "_region": requester["_region"],
            "_requester": {
                "OwnerId": requester["OwnerId"],
                "VpcId": requester["VpcId"],
                "Region": requester["_region"],
            },
            "_accepter": dict(accepter),
            "_created": now,
            "_expires": now + expiry(),
            "_options": {side: dict.fromkeys(OPTION_KEYS, False) for side in SIDES},
        }
        peer = self.peer_vpc(doc)
        if peer is None or overlapping(requester, peer):
            code, message = "failed", FAILED_MESSAGE
        else:
            code, message = "pending-acceptance", f"Pending Acceptance by {accepter['OwnerId']}"
        self.set_status(doc, code, message, at=now)
        return doc

    def peer_vpc(self, doc: Doc) -> Doc | None:
        """The accepter VPC, if it is there (in its owner's account and region)."""
        acc = doc["_accepter"]
        return self.net.vpcs.get(acc["OwnerId"], acc["Region"], acc["VpcId"])

    def vpc_of(self, doc: Doc, side: str) -> Doc | None:
        info = doc["_" + side]
        return self.net.vpcs.get(info["OwnerId"], info["Region"], info["VpcId"])

    def between(self, vpc_a: str, vpc_b: str, codes: tuple[str, ...]) -> Doc | None:
        """A peering of ``codes`` joining the two VPCs (either way round)."""
        for doc in self.kind.by_id.values():
            pair = {doc["_requester"]["VpcId"], doc["_accepter"]["VpcId"]}
            if pair == {vpc_a, vpc_b} and doc["_code"] in codes:
                return doc
        return None

    def of_vpc(self, vpc_id: str, codes: tuple[str, ...] = LIVE) -> list[tuple[Doc, str]]:
        """The peerings of ``codes`` a VPC is in, each with the VPC's side."""
        out = []
        for doc in self.kind.by_id.values():
            if doc["_code"] not in codes:
                continue
            for side in SIDES:
                if doc["_" + side]["VpcId"] == vpc_id:
                    out.append((doc, side))
        return out

    def active_peers(self, vpc_id: str) -> list[tuple[Doc, str, Doc]]:
        """(peering, the VPC's side, peer VPC) for each active peering of the VPC."""
        out = []
        for doc, side in self.of_vpc(vpc_id, ("active",)):
            peer = self.vpc_of(doc, other(side))
            if peer is not None:
                out.append((doc, side, peer))
        return out

    # -- how it is described --------------------------------------------------------

    def vpc_info(self, doc: Doc, side: str) -> Doc:
        info = doc["_" + side]
        out: Doc = {"OwnerId": info["OwnerId"], "VpcId": info["VpcId"], "Region": info["Region"]}
        shown = side == "requester" or doc["_code"] not in ("pending-acceptance", "failed")
        vpc = self.vpc_of(doc, side)
        found = _blocks_of(vpc) if vpc is not None else info.get("_blocks")
        if shown and found:
            out.update(found)
        if doc["_code"] == "active":
            out["PeeringOptions"] = dict(doc["_options"][side])
        return out

    def describe(self, doc: Doc, code: str | None = None, message: str | None = None) -> Doc:
        out: Doc = {
            "VpcPeeringConnectionId": doc["VpcPeeringConnectionId"],
            "RequesterVpcInfo": self.vpc_info(doc, "requester"),
            "AccepterVpcInfo": self.vpc_info(doc, "accepter"),
            "Status": {"Code": code or doc["_code"], "Message": message or doc["_message"]},
        }
        if (code or doc["_code"]) in ("initiating-request", "pending-acceptance"):
            out["ExpirationTime"] = utc_datetime(doc["_expires"])
        return out


def _blocks_of(vpc: Doc) -> Doc:
    ipv4 = list(blocks(vpc))
    return {
        "CidrBlock": vpc["CidrBlock"],
        "CidrBlockSet": [{"CidrBlock": b} for b in ipv4],
        "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": b} for b in ipv6_blocks(vpc)],
    }


def overlapping(a: Doc, b: Doc) -> bool:
    """Whether two VPCs have overlapping IPv4 (or IPv6) blocks: AWS refuses to peer them."""
    mine = [ipaddress.ip_network(x) for x in [*blocks(a), *ipv6_blocks(a)]]
    theirs = [ipaddress.ip_network(x) for x in [*blocks(b), *ipv6_blocks(b)]]
    return any(m.version == t.version and m.overlaps(t) for m in mine for t in theirs)  # type: ignore[arg-type]
