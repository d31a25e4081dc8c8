"""IAM's policy simulator operations: SimulatePrincipalPolicy, SimulateCustomPolicy and
the context keys their policies name (GetContextKeysForPrincipalPolicy,
GetContextKeysForCustomPolicy).

The handlers gather the policies as IAM does (a user's inline, attached and groups'
policies and its permissions boundary; a group's or role's own; the documents given
as strings) and hand them to ``simulation``, which decides with strict mode's own
evaluator.
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.auth import policy
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import page
from cloudlet.services.iam.identities import Identities
from cloudlet.services.iam.simulation import (
    Simulation,
    Source,
    context_keys,
    parse_source,
    request_context,
)
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
_SOURCE_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):(user|group|role)(/.*)?/([\w+=,.@-]+)")
_USER_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):user(/.*)?/[\w+=,.@-]+")
_HANDLING = frozenset(
    {
        "EC2-VPC-InstanceStore",
        "EC2-VPC-InstanceStore-Subnet",
        "EC2-VPC-EBS",
        "EC2-VPC-EBS-Subnet",
        "EC2-Classic-InstanceStore",
        "EC2-Classic-EBS",
    }
)


def _inputs(texts: list[str] | None, member: str) -> list[Source]:
    return [
        parse_source(text, f"{member}.{n}", "none", "identity")
        for n, text in enumerate(texts or [], 1)
    ]


def _owner(value: str | None, default: str) -> str:
    """ResourceOwner as an account id (given as one, or as ``arn:aws:iam::<id>:root``)."""
    if not value:
        return default
    if re.fullmatch(r"\d{12}", value):
        return value
    match = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):root", value)
    if match is None:
        raise errors.invalid_input(f"Invalid ResourceOwner: {value}")
    return match.group(1)


class SimulatorHandlers:
    store: Any
    identities: Identities

    # -- the policies of an entity ----------------------------------------------------

    def _policy_source(self, account: str, arn: str) -> tuple[str, Doc]:
        """The user, group or role ``arn`` names (``PolicySourceArn``)."""
        match = _SOURCE_ARN.fullmatch(arn)
        if match is None:
            raise errors.invalid_input(f"Invalid ARN: {arn}")
        kind, name = match.group(2), match.group(4)
        doc = self.store.get(kind, key(account, name))
        if match.group(1) != account or doc is None or doc["Arn"] != arn:
            raise errors.not_found(kind, name)
        return kind, doc

    def _entity_sources(self, account: str, kind: str, doc: Doc) -> list[Source]:
        found = self.identities.sources_of(account, doc)
        if kind == "user":
            for group in sorted(self.store.all("group", account), key=lambda g: g["GroupName"]):
                if doc["UserName"] in group["Members"]:
                    found += self.identities.sources_of(account, group)
        return [
            Source(pid, ptype, text, self.identities.compile(text)) for pid, ptype, text in found
        ]

    def _entity_boundary(self, account: str, doc: Doc) -> Source | None:
        arn = doc.get("PermissionsBoundary")
        found = self.identities.managed_source(account, arn) if arn else None
        if found is None:
            return None
        pid, ptype, text = found
        return Source(pid, ptype, text, self.identities.compile(text))

    # -- simulations ------------------------------------------------------------------

    def simulate_principal_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, arn = ctx.account_id, params["PolicySourceArn"]
        kind, doc = self._policy_source(account, arn)
        sources = self._entity_sources(account, kind, doc)
        sources += _inputs(params.get("PolicyInputList"), "PolicyInputList")
        boundary = self._given_boundary(params)
        if boundary is None and kind != "group":
            boundary = self._entity_boundary(account, doc)
        if params.get("ResourcePolicy") and kind == "role":
            raise errors.invalid_input(
                "Simulation of resource-based policies isn't supported for IAM roles."
            )
        caller = params.get("CallerArn") or (arn if kind == "user" else None)
        return self._simulate(ctx, params, sources, boundary, caller)

    def simulate_custom_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        for action in params["ActionNames"]:
            if "*" in action or "?" in action:
                raise errors.invalid_input(f"Action names cannot contain wildcards: {action}.")
        sources = _inputs(params["PolicyInputList"], "PolicyInputList")
        boundary = self._given_boundary(params)
        return self._simulate(ctx, params, sources, boundary, params.get("CallerArn"))

    @staticmethod
    def _given_boundary(params: dict[str, Any]) -> Source | None:
        given = params.get("PermissionsBoundaryPolicyInputList") or []
        if len(given) > 1:
            raise errors.invalid_input("You can specify only one permissions boundary policy.")
        found = _inputs(given, "PermissionsBoundaryPolicyInputList")
        return found[0] if found else None

    def _simulate(
        self,
        ctx: Any,
        params: dict[str, Any],
        sources: list[Source],
        boundary: Source | None,
        caller_arn: str | None,
    ) -> Result:
        account = ctx.account_id
        handling = params.get("ResourceHandlingOption")
        if handling is not None and handling not in _HANDLING:
            raise errors.invalid_input(f"Invalid ResourceHandlingOption: {handling}")
        text = params.get("ResourcePolicy")
        resource_policy = (
            parse_source(text, "ResourcePolicy", "resource", "resource") if text else None
        )
        if caller_arn is not None and not _USER_ARN.fullmatch(caller_arn):
            raise errors.invalid_input(
                f"Invalid CallerArn: {caller_arn}. The caller must be an IAM user."
            )
        if resource_policy is not None and caller_arn is None:
            raise errors.invalid_input(
                "CallerArn is required when a ResourcePolicy is simulated for a "
                "PolicySourceArn that is not an IAM user."
            )
        caller_account = caller_arn.split(":")[4] if caller_arn else account
        caller = policy.Caller(caller_arn or f"arn:aws:iam::{account}:root", caller_account, "user")
        owner = _owner(params.get("ResourceOwner"), caller_account)
        simulation = Simulation(
            identity=sources,
            boundary=boundary,
            resource_policy=resource_policy,
            caller=caller,
            context=request_context(params.get("ContextEntries")),
            cross_account=owner != caller_account,
        )
        named = params.get("ResourceArns") or []
        resources = named or ["*"]
        results = [
            simulation.evaluate(action, resource, specific=bool(named))
            for action in params["ActionNames"]
            for resource in resources
        ]
        return page(results, params, "EvaluationResults")

    # -- context keys ---------------------------------------------------------------------

    def get_context_keys_for_custom_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        sources = _inputs(params["PolicyInputList"], "PolicyInputList")
        return {"ContextKeyNames": context_keys(s.compiled for s in sources)}

    def get_context_keys_for_principal_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        kind, doc = self._policy_source(account, params["PolicySourceArn"])
        sources = self._entity_sources(account, kind, doc)
        sources += _inputs(params.get("PolicyInputList"), "PolicyInputList")
        return {"ContextKeyNames": context_keys(s.compiled for s in sources)}
