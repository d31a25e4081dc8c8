"""Each VPC's address map: where its running instances really listen.

Why: an instance in a created subnet is described at an address from the
subnet's CIDR (``10.20.0.4``), while its processes listen on the instance's
own loopback address (``instances.py``). Inside a VPC, instances reach each
other at those private addresses (and their private DNS names), so the network
shims loaded into every instance (``cloudlet/runtime/shim``: ``vpcmap.c`` and
the Python one) translate them, reading the map of the instance's own VPC:

    dns 1                     the VPC resolves private DNS names
    cidr 10.20.0.0/16         the VPC's IPv4 blocks
    map 10.20.0.4 127.5.1.1   private address, loopback address

One file per VPC (``<instance root>/vpc-addresses/<vpc id>``), named to its
instances in ``CLOUDLET_VPC_ADDRESSES``. It lists the instances with processes
(``pending`` and ``running``), and is replaced atomically (written, then
renamed: readers see the old file or the new one) whenever one of them starts,
stops, terminates or comes back at another loopback address after a restart,
and when the VPC's blocks or DNS attributes change. Only instances of the same
VPC are in it, so the private addresses of other VPCs, which may overlap, stay
out of reach, as without peering on AWS; the host has no shim, so it reaches
instances only at their loopback (public) addresses, as from outside AWS.

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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # instances.py imports this module
    from cloudlet.services.ec2.instances import Instance

log = logging.getLogger(__name__)

DIRECTORY = "vpc-addresses"
LIVE = ("pending", "running")
"""States in which an instance has processes, hence an entry in its VPC's map."""


def private_domain(region: str) -> str:
    """The domain of the region's private DNS names (``ip-10-0-0-4.<domain>``)."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


class VpcAddresses:
    """The address maps of every VPC with running instances, kept in step with them."""

    def __init__(self, base: Callable[[], Path], instances: dict[str, Instance]) -> None:
        self._base = base
        self.instances = instances
        self.vpcs: dict[str, dict[str, Any]] = {}
        """The VPC documents by id (``vpcs.Network``'s, given by the service)."""
        self._written: dict[str, str] = {}

    def directory(self) -> Path:
        return self._base() / DIRECTORY

    def path(self, vpc_id: str) -> Path:
        return self.directory() / vpc_id

    def reset(self) -> None:
        """Forget every map (at server start: instances write theirs again as they boot)."""
        shutil.rmtree(self.directory(), ignore_errors=True)
        self._written.clear()

    def environment(self, inst: Instance) -> dict[str, str]:
        """What an instance's shims need, its VPC's map written first (before it boots)."""
        self.refresh(inst.vpc_id)
        return {
            "CLOUDLET_VPC_ADDRESSES": str(self.path(inst.vpc_id)),
            "CLOUDLET_VPC_DOMAIN": private_domain(inst.region),
        }

    def render(self, vpc_id: str) -> str | None:
        """The map's text; None when no instance of the VPC has processes."""
        live = sorted(
            (i for i in self.instances.values() if i.vpc_id == vpc_id and i.state in LIVE),
            key=lambda i: i.id,
        )
        if not live:
            return None
        vpc = self.vpcs.get(vpc_id) or {}
        attributes = vpc.get("_attributes") or {}
        dns = bool(attributes.get("EnableDnsSupport", True)) and bool(
            attributes.get("EnableDnsHostnames", True)
        )
        lines = [
            f"# cloudlet: where the running instances of {vpc_id} listen (EC2 writes this)",
            f"dns {int(dns)}",
        ]
        if not vpc.get("IsDefault", True):
            for assoc in vpc.get("CidrBlockAssociationSet") or []:
                lines.append(f"cidr {assoc['CidrBlock']}")
        for inst in live:
            if inst.vpc_ip and inst.vpc_ip != inst.private_ip:
                lines.append(f"map {inst.vpc_ip} {inst.private_ip}")
        return "\n".join(lines) + "\n"

    def refresh(self, vpc_id: str) -> None:
        """Replace the VPC's map if what it should say changed (a failure is logged:
        instances keep the map they had, and the next change tries again)."""
        try:
            self._write(vpc_id)
        except OSError:
            log.exception("could not write the address map of %s", vpc_id)

    def _write(self, vpc_id: str) -> None:
        text = self.render(vpc_id)
        if self._written.get(vpc_id) == text:
            return
        if text is None:
            self._written.pop(vpc_id, None)
            self.path(vpc_id).unlink(missing_ok=True)
            return
        path = self.path(vpc_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{vpc_id}-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._written[vpc_id] = text
