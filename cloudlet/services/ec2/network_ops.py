"""What the VPC networking operations share: the engine, tags on creation, limits.

The operations themselves are mixins split by resource (``vpc_ops``,
``subnet_ops``, ``route_ops``, ``acl_ops``, ``gateway_ops``, ``egress_ops``,
``dhcp_ops``, ``default_vpc_ops``, ``peering_ops``, ``prefix_list_ops``) that
all derive from ``NetworkOpsBase``, so the way a created resource takes its
``TagSpecifications`` (checked before anything is made, so a bad tag creates
nothing) is written once.
"""

from __future__ import annotations

import os
from typing import Any

from cloudlet.services.ec2 import filters
from cloudlet.services.ec2.tags import Tags
from cloudlet.services.ec2.vpcs import Doc, Network

Result = dict[str, Any]
VPC_LIMIT_ENV = "CLOUDLET_EC2_VPC_LIMIT"
"""VPCs per account and region, the default VPC included: AWS's default quota is 5."""


def vpc_limit() -> int:
    try:
        return int(os.environ.get(VPC_LIMIT_ENV) or 5)
    except ValueError:
        return 5


class NetworkOpsBase:
    network: Network
    tags: Tags

    def _spec_tags(self, params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        """The tags ``TagSpecifications`` give a new ``kind`` resource, checked now."""
        out: list[dict[str, Any]] = []
        for spec in params.get("TagSpecifications") or []:
            if spec.get("ResourceType") == kind:
                out.extend(spec.get("Tags") or [])
        Tags.check(out)
        return out

    def _created(self, resource_id: str, tags: list[dict[str, Any]]) -> None:
        if tags:
            self.tags.add(resource_id, tags)

    def _doc_out(self, doc: Doc, key: str) -> Result:
        return filters.public(doc, self.tags.of(doc[key]))

    def _tags_of(self, key: str) -> Any:
        return lambda doc: self.tags.of(doc[key])

    def _defaults(self, ctx: Any) -> None:
        self.network.ensure_defaults(ctx.account_id, ctx.region)
