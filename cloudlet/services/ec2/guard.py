"""Security groups enforced between instances: what each instance may send to whom.

Why: on AWS an instance reaches another's private address only where the
source's security groups allow the traffic out (egress) and the destination's
allow it in (ingress); anything else is dropped. Instances here share the
machine's network stack, so the shims that already translate private addresses
(``cloudlet/runtime/shim``) also apply the groups, from lines that EC2
precomputes into each source instance's address map (``vpc_addresses``):

    guard 10.20.0.5               traffic to this mapped address is checked
    allow 10.20.0.5 tcp 80 80     ...and only this gets through (protocol, ports)

A mapped destination without a ``guard`` line is wide open (the common case:
the VPC's default group allows all traffic between its members, and all
egress), so such maps stay as small as before. Rules match as AWS documents
them: an IPv4 CIDR holding the peer's private address, a prefix list's current
entries, or a referenced group the peer is a member of (in this VPC or a
peered one); protocol ``-1`` is every protocol, ``tcp``/``udp`` (or ``6``/``17``)
a port range. ICMP rules are ignored (the shims see no ICMP), as are IPv6
ranges (instances have no IPv6 addresses here). Groups are stateful: replies
are never checked, since the shims only look at what an instance sends first
(``connect``, ``sendto``).

Bounded: at most ``MAX_GUARDS`` guarded destinations and ``MAX_ALLOWS`` allow
lines per map (what the shims read, see ``vpcmap.c``); a destination that
would not fit is left unguarded (allowed), and that is logged.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cloudlet.services.ec2.prefix_lists import PrefixLists
from cloudlet.services.ec2.security_groups import SecurityGroups

if TYPE_CHECKING:
    from cloudlet.services.ec2.instances import Instance

log = logging.getLogger(__name__)

MAX_GUARDS = 4096
MAX_ALLOWS = 8192
PROTOCOLS = ("tcp", "udp")
_FULL = (0, 65535)
_NAMES = {"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}

Span = tuple[str, int, int]
"""(protocol, first port, last port)."""


def spans(rule: dict[str, Any]) -> list[Span]:
    """What one rule lets through, as (protocol, ports) for the protocols the shims see."""
    proto = _NAMES.get(str(rule.get("IpProtocol", "-1")).lower())
    if proto is None:
        return []  # icmp and other protocols: not seen by the shims
    if proto == "-1":
        return [(p, *_FULL) for p in PROTOCOLS]
    low, high = rule.get("FromPort"), rule.get("ToPort")
    low = 0 if low is None or int(low) < 0 else int(low)
    high = 65535 if high is None or int(high) < 0 else int(high)
    return [(proto, max(low, 0), min(high, 65535))] if low <= high else []


def _merge(found: Iterable[Span]) -> list[Span]:
    """Overlapping or touching ranges of one protocol joined, sorted."""
    out: list[Span] = []
    for proto, low, high in sorted(found):
        if out and out[-1][0] == proto and low <= out[-1][2] + 1:
            out[-1] = (proto, out[-1][1], max(out[-1][2], high))
        else:
            out.append((proto, low, high))
    return out


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    return _merge(
        (pa, max(la, lb), min(ha, hb))
        for pa, la, ha in a
        for pb, lb, hb in b
        if pa == pb and max(la, lb) <= min(ha, hb)
    )


def _within(address: ipaddress.IPv4Address, block: str) -> bool:
    try:
        return address in ipaddress.IPv4Network(block, strict=False)
    except ValueError:  # an IPv6 block: instances have no IPv6 addresses here
        return False


class Guard:
    """The ``guard``/``allow`` lines of an instance's map (see the module's docstring)."""

    def __init__(self, groups: SecurityGroups, prefix_lists: PrefixLists) -> None:
        self.groups = groups
        self.prefix_lists = prefix_lists

    def _group_ids(self, inst: Instance) -> set[str]:
        return {g["GroupId"] for g in inst.groups if g.get("GroupId") in self.groups.groups}

    def _matches(self, rule: dict[str, Any], peer: Instance, peer_groups: set[str]) -> bool:
        """Whether a single-source rule (``security_groups``' shape) names ``peer``."""
        address = ipaddress.IPv4Address(peer.address)
        blocks = [item.get("CidrIp") or "" for item in rule.get("IpRanges") or []]
        for item in rule.get("PrefixListIds") or []:
            blocks += self.prefix_lists.blocks(item.get("PrefixListId") or "", peer.region)
        if any(_within(address, block) for block in blocks):
            return True
        return any(
            item.get("GroupId") in peer_groups for item in rule.get("UserIdGroupPairs") or []
        )

    def _allowed(
        self, field: str, own: set[str], peer: Instance, peer_groups: set[str]
    ) -> list[Span]:
        found: list[Span] = []
        for group_id in sorted(own):
            for rule in self.groups.groups[group_id][field]:
                if self._matches(rule, peer, peer_groups):
                    found += spans(rule)
        return _merge(found)

    def permitted(self, src: Instance, dest: Instance) -> list[Span]:
        """What ``src`` may send to ``dest``: its egress and the destination's ingress."""
        src_groups, dest_groups = self._group_ids(src), self._group_ids(dest)
        out = self._allowed("_egress", src_groups, dest, dest_groups)
        into = self._allowed("_ingress", dest_groups, src, src_groups)
        return _intersect(out, into)

    def lines(self, src: Instance, dests: Iterable[tuple[str, Instance]]) -> list[str]:
        """Lines for the mapped destinations (private address, instance) of ``src``'s map."""
        out: list[str] = []
        guards = allows = 0
        skipped = 0
        wide_open = [(p, *_FULL) for p in PROTOCOLS]
        for address, dest in dests:
            if dest.id == src.id:
                continue  # an instance's own address never leaves it
            allowed = self.permitted(src, dest)
            if allowed == wide_open:
                continue
            if guards + 1 > MAX_GUARDS or allows + len(allowed) > MAX_ALLOWS:
                skipped += 1
                continue
            guards += 1
            allows += len(allowed)
            out.append(f"guard {address}")
            out += [f"allow {address} {p} {low} {high}" for p, low, high in allowed]
        if skipped:
            log.warning(
                "address map of %s full: %d destinations left unguarded (allowed)", src.id, skipped
            )
        return out
