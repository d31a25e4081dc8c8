"""Each instance's address map: where the instances it reaches really listen.

Why: an instance in a created subnet is described at an address from the
subnet's CIDR (``10.20.0.4``), while its processes listen on the instance's
own loopback address (``instances.py``). Inside a VPC, instances reach each
other at those private addresses (and their private DNS names), so the network
shims loaded into every instance (``cloudlet/runtime/shim``: ``vpcmap.c`` and
the Python one) translate them, reading the instance's map:

    dns 1                     the VPC resolves private DNS names
    cidr 10.20.0.0/16         the VPC's IPv4 blocks
    map 10.20.0.4 127.5.1.1   private address, loopback address

and, from ``reach``, what VPC peering and the VPC's DHCP option set add:
the peered instances both route tables carry traffic to and from (more
``map`` and ``cidr`` lines), the peers' blocks whose names do not resolve
here (``nodns``) and custom DNS domains (``domain``); and, from ``guard``,
what the security groups let through to each mapped instance (``guard`` and
``allow`` lines).

One file per instance (``<instance root>/vpc-addresses/<instance id>``: the
route tables of subnets, hence what peering lets through, differ between
instances of one VPC), named to it in ``CLOUDLET_VPC_ADDRESSES``. It lists
the instances with processes (``pending`` and ``running``), and is replaced
atomically (written, then renamed: readers see the old file or the new one)
whenever one of them starts, stops, terminates or comes back at another
loopback address after a restart, and when the VPC's blocks, DNS attributes,
DHCP options, route tables, peerings, security group rules or instances'
groups change (``refresh`` with the VPCs
concerned; their active peers' maps follow). Without peering only instances
of the same VPC are in it, so the private addresses of other VPCs, which may
overlap, stay out of reach; the host has no shim, so it reaches instances
only at their loopback (public) addresses, as from outside AWS.

Decisions where AWS says nothing we can copy: the default VPC lists no blocks
(its instances are described at their loopback addresses, and its
``172.31.0.0/16`` may well be the host's own network), so only instances given
an explicit ``PrivateIpAddress`` there are translated; names resolve when the
VPC has both ``enableDnsSupport`` and ``enableDnsHostnames``, as the EC2 API
reference says of private DNS hostnames.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # instances.py imports this module
    from cloudlet.services.ec2.instances import Instance


class Extension(Protocol):
    """What the network adds to an instance's map (``reach.Reach``)."""

    def related(self, vpc_ids: Iterable[str]) -> set[str]: ...

    def lines(self, inst: Instance, vpc: dict[str, Any]) -> list[str]: ...


class Guard(Protocol):
    """What security groups let through to the mapped instances (``guard.Guard``)."""

    def lines(self, src: Instance, dests: Iterable[tuple[str, Instance]]) -> list[str]: ...


log = logging.getLogger(__name__)

DIRECTORY = "vpc-addresses"
LIVE = ("pending", "running")
"""States in which an instance has processes, hence an entry in its VPC's map."""


def private_domain(region: str) -> str:
    """The domain of the region's private DNS names (``ip-10-0-0-4.<domain>``)."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


class VpcAddresses:
    """The address maps of every instance with processes, kept in step with them."""

    def __init__(self, base: Callable[[], Path], instances: dict[str, Instance]) -> None:
        self._base = base
        self.instances = instances
        self.vpcs: dict[str, dict[str, Any]] = {}
        """The VPC documents by id (``vpcs.Network``'s, given by the service)."""
        self.extension: Extension | None = None
        """Peering and DHCP options (``reach.Reach``, given by the service)."""
        self.guard: Guard | None = None
        """Security groups between instances (``guard.Guard``, given by the service)."""
        self._written: dict[str, str] = {}

    def directory(self) -> Path:
        return self._base() / DIRECTORY

    def path(self, instance_id: str) -> Path:
        return self.directory() / instance_id

    def reset(self) -> None:
        """Forget every map (at server start: instances write theirs again as they boot)."""
        shutil.rmtree(self.directory(), ignore_errors=True)
        self._written.clear()

    def environment(self, inst: Instance) -> dict[str, str]:
        """What an instance's shims need, its map written first (before it boots)."""
        self.refresh(inst.vpc_id)
        return {
            "CLOUDLET_VPC_ADDRESSES": str(self.path(inst.id)),
            "CLOUDLET_VPC_DOMAIN": private_domain(inst.region),
        }

    def _live(self, vpc_id: str) -> list[Instance]:
        return sorted(
            (i for i in self.instances.values() if i.vpc_id == vpc_id and i.state in LIVE),
            key=lambda i: i.id,
        )

    def render(self, inst: Instance) -> str | None:
        """The instance's map; None when it has no processes."""
        if inst.state not in LIVE:
            return None
        vpc_id = inst.vpc_id
        vpc = self.vpcs.get(vpc_id) or {}
        attributes = vpc.get("_attributes") or {}
        dns = bool(attributes.get("EnableDnsSupport", True)) and bool(
            attributes.get("EnableDnsHostnames", True)
        )
        lines = [
            f"# cloudlet: where what {inst.id} of {vpc_id} reaches listens (EC2 writes this)",
            f"dns {int(dns)}",
        ]
        if not vpc.get("IsDefault", True):
            for assoc in vpc.get("CidrBlockAssociationSet") or []:
                lines.append(f"cidr {assoc['CidrBlock']}")
        for other in self._live(vpc_id):
            if other.vpc_ip and other.vpc_ip != other.private_ip:
                lines.append(f"map {other.vpc_ip} {other.private_ip}")
        if self.extension is not None and vpc:
            lines += self.extension.lines(inst, vpc)
        if self.guard is not None:
            lines += self.guard.lines(inst, self._mapped(lines))
        return "\n".join(lines) + "\n"

    def _mapped(self, lines: list[str]) -> list[tuple[str, Instance]]:
        """The instances the map's ``map`` lines name (by their loopback addresses)."""
        by_loopback = {i.private_ip: i for i in self.instances.values() if i.state in LIVE}
        out = []
        for line in lines:
            words = line.split()
            if len(words) == 3 and words[0] == "map" and words[2] in by_loopback:
                out.append((words[1], by_loopback[words[2]]))
        return out

    def refresh(self, *vpc_ids: str) -> None:
        """Replace the maps of the instances of these VPCs (and of the VPCs peered with them)
        whose text changed (a failure is logged: instances keep the map they had, and the
        next change tries again)."""
        related = set(vpc_ids)
        if self.extension is not None:
            try:
                related = self.extension.related(vpc_ids)
            except Exception:  # noqa: BLE001 - a map left as it was beats a failed call
                log.exception("could not find the VPCs peered with %s", vpc_ids)
        for inst in list(self.instances.values()):
            if inst.vpc_id in related:
                self._refresh_one(inst)
        for instance_id in [i for i in self._written if i not in self.instances]:
            self._remove(instance_id)

    def _refresh_one(self, inst: Instance) -> None:
        try:
            self._write(inst)
        except Exception:  # noqa: BLE001 - see refresh
            log.exception("could not write the address map of %s", inst.id)

    def _remove(self, instance_id: str) -> None:
        self._written.pop(instance_id, None)
        self.path(instance_id).unlink(missing_ok=True)

    def _write(self, inst: Instance) -> None:
        text = self.render(inst)
        if self._written.get(inst.id) == text:
            return
        if text is None:
            self._remove(inst.id)
            return
        path = self.path(inst.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{inst.id}-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._written[inst.id] = text
