"""EC2's rules about address blocks: which CIDRs a VPC or subnet may take.

``ipaddress`` does the arithmetic; this module holds what EC2 adds to it and
answers with EC2's errors: block sizes (/16 to /28 for IPv4, /56 VPCs and /64
subnets for IPv6), the five addresses AWS reserves in every subnet, the ranges
a VPC may add beside its first block (the VPC user guide's "IPv4 CIDR block
association restrictions"), and the "Amazon-provided" IPv6 blocks, which here
are /56s of the unique local range ``fd00::/8`` (RFC 4193): addresses no
network routes, as nothing on this machine routes IPv6 for instances.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import TypeVar

from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import random_bits
from cloudlet.services.ec2 import errors

_Net = TypeVar("_Net", IPv4Network, IPv6Network)

MIN_PREFIX, MAX_PREFIX = 16, 28
RESERVED_PER_SUBNET = 5
"""The network address, the VPC router (+1), DNS (+2), one for future use (+3), broadcast."""
MAX_CIDRS = 5
"""IPv4 (and, separately, IPv6) CIDR blocks per VPC: AWS's default quota."""

_RFC1918 = {
    "10": IPv4Network("10.0.0.0/8"),
    "172": IPv4Network("172.16.0.0/12"),
    "192": IPv4Network("192.168.0.0/16"),
}
_BENCHMARK = IPv4Network("198.19.0.0/16")
_RESTRICTED_WORDING = (
    "The CIDR '{cidr}' is restricted. Use a CIDR from the same private address range as the "
    "current VPC CIDR, or use a publicly-routable CIDR. For additional restrictions, see "
    "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html"
)


def _not_a_block(value: str, param: str) -> ServiceError:
    return errors.invalid_value(param, value, "This is not a valid CIDR block.")


def _block(value: str | None, param: str, kind: type[_Net]) -> _Net:
    """``value`` as a block of ``kind``; host bits are cleared (``10.0.0.5/16`` is
    ``10.0.0.0/16``)."""
    if not value:
        raise errors.missing(param)
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise _not_a_block(value, param) from None
    if not isinstance(net, kind) or "/" not in value:
        raise _not_a_block(value, param)
    return net


def ipv4(value: str | None, param: str = "cidrBlock") -> IPv4Network:
    """``value`` as an IPv4 block (``_block``)."""
    return _block(value, param, IPv4Network)


def ipv6(value: str | None, param: str = "ipv6CidrBlock") -> IPv6Network:
    """``value`` as an IPv6 block (``_block``)."""
    return _block(value, param, IPv6Network)


def any_block(value: str, param: str) -> IPv4Network | IPv6Network:
    """A route destination or an ACL entry's block: IPv4 or IPv6, any size."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise _not_a_block(value, param) from None


def sized(net: IPv4Network, code: str) -> IPv4Network:
    """Refuse blocks outside /16–/28 with ``code`` (``InvalidVpc.Range``, ``InvalidSubnet.Range``)."""
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise ServiceError(code, f"The CIDR '{net}' is invalid.")
    return net


def overlaps(net: IPv4Network | IPv6Network, others: Iterable[str]) -> bool:
    for other in others:
        block = ipaddress.ip_network(other)
        if block.version == net.version and net.overlaps(block):
            return True
    return False


def within(net: IPv4Network | IPv6Network, blocks: Iterable[str]) -> bool:
    for block in blocks:
        outer = ipaddress.ip_network(block)
        if outer.version == net.version and net.subnet_of(outer):  # type: ignore[arg-type]
            return True
    return False


def _range(net: IPv4Network) -> str:
    for name, block in _RFC1918.items():
        if net.subnet_of(block):
            return name
    if net.subnet_of(_BENCHMARK):
        return "198.19"
    return "public"


def check_secondary(primary: str, new: IPv4Network) -> None:
    """Refuse what AWS restricts beside a VPC's primary block (the user guide's table)."""
    first = IPv4Network(primary)
    home, kind = _range(first), _range(new)
    restricted = False
    if home in _RFC1918:
        restricted = (kind in _RFC1918 and kind != home) or kind == "198.19"
        if home == "10" and first.subnet_of(IPv4Network("10.0.0.0/15")):
            restricted = restricted or new.overlaps(IPv4Network("10.0.0.0/16"))
        if home == "172":
            restricted = restricted or new.overlaps(IPv4Network("172.31.0.0/16"))
    elif home == "198.19":
        restricted = kind in _RFC1918
    else:
        restricted = kind in _RFC1918 or kind == "198.19"
    if restricted:
        raise ServiceError("InvalidVpc.Range", _RESTRICTED_WORDING.format(cidr=new))


def reserved(net: IPv4Network) -> set[IPv4Address]:
    base = net.network_address
    return {base, base + 1, base + 2, base + 3, net.broadcast_address}


def capacity(net: IPv4Network) -> int:
    return max(net.num_addresses - RESERVED_PER_SUBNET, 0)


def usable(net: IPv4Network) -> Iterator[IPv4Address]:
    """The addresses instances may get, lowest first."""
    first = int(net.network_address) + 4
    last = int(net.broadcast_address) - 1
    for value in range(first, last + 1):
        yield IPv4Address(value)


def amazon_ipv6_block() -> str:
    """A fresh /56 of the unique local range: ``fd`` + 40 random bits + a zero byte."""
    global_id = random_bits(40)
    value = (0xFD << 120) | (global_id << 80)
    return str(IPv6Network((value, 56)))
