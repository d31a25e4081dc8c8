"""Trust policies: may this caller, or this web identity, assume the role?

Why a module of its own: AssumeRole and AssumeRoleWithWebIdentity decide the same
question (the role's trust policy as a resource policy, evaluated by strict mode's own
engine) with different callers and condition keys; ``api.py`` keeps the operations.
A trust policy naming an account lets any of its principals in: their own identity
policies, which the gateway checks in strict mode, must allow ``sts:AssumeRole`` too.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from cloudlet.auth import policy
from cloudlet.auth.credentials import Principal
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"


def _now() -> dict[str, str]:
    now = clock.time()
    return {
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now)),
    }


def caller_of(principal: Principal) -> policy.Caller:
    """The policy engine's caller for a principal (an assumed role names its role)."""
    kind = "assumed-role" if ":assumed-role/" in principal.arn else principal.kind
    role_arn = None
    if kind == "assumed-role":
        role_name = principal.arn.rsplit(":", 1)[1].split("/")[1]
        role_arn = f"arn:aws:iam::{principal.account_id}:role/{role_name}"
    return policy.Caller(principal.arn, principal.account_id, kind, role_arn=role_arn)


def trusts(role: dict[str, Any], caller: policy.Caller, mfa: float | None = None) -> bool:
    """Whether the role's trust policy lets ``caller`` assume it (``mfa``: the session's
    MFA time, for ``aws:MultiFactorAuthPresent`` conditions)."""
    try:
        trust = policy.parse(role["AssumeRolePolicyDocument"], "trust")
    except policy.MalformedPolicy:
        return False
    # A trust policy naming an account lets any of its principals in (their own
    # identity policies, checked by the gateway, must allow sts:AssumeRole too).
    as_account = dataclasses.replace(caller, kind="root") if caller.kind != "service" else caller
    context = {
        "aws:PrincipalArn": caller.role_arn or caller.arn,
        "aws:PrincipalAccount": caller.account,
        "aws:SourceAccount": caller.account,
        **_now(),
    }
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = "0"
    request = policy.Request("sts:AssumeRole", role["Arn"], as_account, context)
    return policy.evaluate(request, (), trust).allowed


def trusts_token(
    role: dict[str, Any],
    provider: dict[str, Any],
    claims: dict[str, Any],
    audience: str,
    session: str,
) -> bool:
    """The trust policy, for the provider as a ``Federated`` principal and the token's
    claims as the provider's condition keys (the IAM user guide's web identity keys)."""
    try:
        trust = policy.parse(role["AssumeRolePolicyDocument"], "trust")
    except policy.MalformedPolicy:
        return False
    name = provider["Arn"].split(":oidc-provider/", 1)[1]
    account = provider["Arn"].split(":")[4]
    context: dict[str, Any] = {
        f"{name}:aud": audience,
        "aws:FederatedProvider": provider["Arn"],
        "sts:RoleSessionName": session,
        **_now(),
    }
    for claim in ("sub", "amr", "azp"):
        value = claims.get(claim)
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            context[f"{name}:{claim}"] = value
    caller = policy.Caller(provider["Arn"], account, "federated")
    request = policy.Request(WEB_IDENTITY, role["Arn"], caller, context)
    return policy.evaluate(request, (), trust).allowed


def denied(ctx: Any, role_arn: str, who: str | None = None) -> ServiceError:
    """AWS's AccessDenied for an AssumeRole the trust policy refuses."""
    principal = getattr(ctx, "principal", None)
    arn = who or (principal.arn if principal is not None else f"arn:aws:iam::{ctx.account_id}:root")
    return ServiceError(
        "AccessDenied",
        f"User: {arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )
