"""Turning a request's ``MixedInstancesPolicy`` into the group's mixed document.

Mixed into ``AutoScalingService`` next to ``GroupOps`` (whose ``_template``
resolves launch templates). CreateAutoScalingGroup, UpdateAutoScalingGroup and
StartInstanceRefresh's desired configuration all come through here, so they
validate alike: every launch template exists (the base and each override's own,
20 at most), every override's instance type is one EC2 offers, each
``InstanceRequirements`` selects at least one type of the catalogue. An update
may give only the parts it changes (AWS's own example updates only the
overrides); the rest is kept. The document keeps the policy as
DescribeAutoScalingGroups shows it and the ordered launch choices
(``mixed.choices``) the loop tries.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.autoscaling import errors, mixed

MAX_TEMPLATES = 20


class MixedOps:
    """Needs ``_template`` from ``GroupOps``."""

    env: Any
    _template: Any

    async def _instance_types(self, ctx: Any) -> dict[str, dict[str, Any]] | None:
        """EC2's instance type catalogue by name (None when EC2 cannot describe it)."""
        out: dict[str, dict[str, Any]] = {}
        params: dict[str, Any] = {}
        while True:
            try:
                res = await self.env.call(
                    "ec2",
                    "DescribeInstanceTypes",
                    params,
                    account=ctx.account_id,
                    region=ctx.region,
                )
            except NotImplementedOperation:
                return None
            out.update({t["InstanceType"]: t for t in res.get("InstanceTypes", [])})
            if not res.get("NextToken"):
                return out
            params = {"NextToken": res["NextToken"]}

    async def _mixed_policy(
        self, ctx: Any, raw: dict[str, Any], old: dict[str, Any] | None, capacity_type: str
    ) -> dict[str, Any]:
        """The mixed document for ``raw`` (merged over ``old`` on an update)."""
        before = (old or {}).get("policy") or {}
        given_lt = raw.get("LaunchTemplate") or {}
        old_lt = before.get("LaunchTemplate") or {}
        spec = given_lt.get("LaunchTemplateSpecification") or old_lt.get(
            "LaunchTemplateSpecification"
        )
        if not spec:
            raise errors.validation(
                "The MixedInstancesPolicy must specify a LaunchTemplate with a "
                "LaunchTemplateSpecification."
            )
        overrides = [
            dict(o)
            for o in (
                given_lt["Overrides"]
                if given_lt.get("Overrides") is not None
                else old_lt.get("Overrides") or []
            )
        ]
        weighted = mixed.check_overrides(overrides, capacity_type)
        attribute_based = any(o.get("InstanceRequirements") for o in overrides)
        dist = mixed.distribution(
            raw.get("InstancesDistribution") or before.get("InstancesDistribution"),
            attribute_based,
        )
        base = await self._template(ctx, spec)
        templates: list[dict[str, Any] | None] = []
        for o in overrides:
            own = o.get("LaunchTemplateSpecification")
            templates.append(await self._template(ctx, own) if own else None)
            if own:
                o["LaunchTemplateSpecification"] = templates[-1]
        distinct = {base["LaunchTemplateId"]} | {t["LaunchTemplateId"] for t in templates if t}
        if len(distinct) > MAX_TEMPLATES:
            raise errors.validation(
                f"You can specify up to {MAX_TEMPLATES} launch templates per Auto Scaling group."
            )
        catalogue = await self._instance_types(ctx)
        matched: list[list[dict[str, Any]]] = []
        for o in overrides:
            if o.get("InstanceRequirements"):
                if catalogue is None:
                    raise NotImplementedOperation(
                        "autoscaling", "InstanceRequirements without EC2 DescribeInstanceTypes"
                    )
                found = mixed.matching(o["InstanceRequirements"], list(catalogue.values()))
                if not found:
                    raise errors.validation(
                        "No instance types satisfy the specified InstanceRequirements."
                    )
                matched.append(found)
                continue
            kind = o.get("InstanceType")
            if kind and catalogue is not None and kind not in catalogue:
                raise errors.validation(
                    f"The instance type '{kind}' is not supported in the requested Region."
                )
            matched.append([])
        policy = {
            "LaunchTemplate": {"LaunchTemplateSpecification": base, "Overrides": overrides},
            "InstancesDistribution": dist,
        }
        return {
            "policy": policy,
            "choices": mixed.choices(
                overrides,
                base,
                templates,
                matched,
                dist["OnDemandAllocationStrategy"],
                capacity_type,
            ),
            "weighted": weighted,
            "id": mixed.policy_id(policy),
        }
