"""Strict mode's authorization step: may this principal do this operation?

The gateway calls ``Authorizer.authorize(ctx, service)`` once the operation and
its params are known, and only in strict mode (open mode never gets here, so
it pays nothing). The answer combines:

- the principal's identity policies, compiled and cached by the IAM service
  (``PolicySource.identity_for``; None means the principal is not governed
  by IAM: role credentials for a role IAM does not know), bounded by the user's or
  role's permissions boundary and a session's policies. The account root has
  no policies and may do everything, except what a resource policy explicitly
  denies it (AWS's rule), bar S3's lockout protection: the root may always get,
  put and delete a bucket policy;
- the resource policy of what the request acts on (``Service.policy_resource``:
  S3 bucket policy, SQS queue policy ...), compiled once per document text;
- the request context keys (aws:SourceIp, aws:username ...), with the service's own
  (``Service.condition_keys``: S3's ``s3:x-amz-acl``, ``s3:ExistingObjectTag/...``);
- AWS's dependent actions (``Service.dependent_actions``), checked the same way;
- or, for a request that is not one action on one resource, the service's own list
  of checks (``Service.authorization_checks``: S3's copies, DynamoDB's batches and
  transactions), each with its resource's policy.

``Authorizer.allows`` answers one check without raising, for a service that decides
per part of a request (S3's DeleteObjects, key by key): the gateway hands it to the
handler as ``ctx.allows``.

A service may also turn an error into a refusal once the operation has run
(``Service.strict_error``, given ``Authorizer.allows``): S3 answers a missing key
with 403, not 404, to a caller who may not list the bucket.

An anonymous caller (an unsigned S3 request: the authenticator lets no other
through in strict mode) has no identity: the resource policy's answer for
``"Principal": "*"`` goes to ``Service.public_access``, which has the last word
(S3's Block Public Access settings and ACLs).

A refusal is ``AccessDenied`` in the request's protocol, worded as AWS words it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from cloudlet.auth import policy
from cloudlet.auth.actions import action_for
from cloudlet.auth.credentials import Principal
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError

_JSON_PROTOCOLS = ("json", "rest-json", "smithy-rpc-v2-cbor")
# Actions AWS allows every authenticated principal, whatever its policies say.
ALWAYS_ALLOWED = frozenset(
    {"sts:GetCallerIdentity", "sts:GetSessionToken", "sts:AssumeRoleWithWebIdentity"}
)
ROOT_KEEPS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})
"""What the root may do whatever a bucket policy denies it, so that a bucket's owner
cannot lock itself out (the S3 API reference, DeleteBucketPolicy)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A principal as IAM knows it: who (for resource policies) and its policies."""

    caller: policy.Caller
    policies: tuple[policy.Policy, ...]
    username: str | None = None
    session: tuple[policy.Policy, ...] | None = None
    """Session policies: when set, an identity-based Allow must also be theirs."""
    boundary: policy.Policy | None = None
    """The user's or role's permissions boundary: when set, an identity-based Allow
    must also be the boundary's."""
    record: Callable[[str, str], None] | None = None
    """Told (action, Region) of every check evaluated for the principal, allowed or not:
    IAM's access advisor data (``services/iam/tracking.py``), one dict write."""


_ROOT_POLICIES = (
    policy.parse(
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
        "identity",
    ),
)


@lru_cache(maxsize=64)
def _root_identity(arn: str, account: str) -> Identity:
    """The account root: every action allowed by identity, so only a resource
    policy's explicit Deny refuses it."""
    return Identity(policy.Caller(arn, account, "root"), _ROOT_POLICIES)


class PolicySource(Protocol):
    def identity_for(self, principal: Principal) -> Identity | None:
        """The principal's compiled identity policies; None when IAM does not govern it."""


@lru_cache(maxsize=1024)
def resource_policy(text: str) -> policy.Policy | None:
    """A resource policy compiled once per document text (None if it does not parse)."""
    try:
        return policy.parse(text, "resource")
    except policy.MalformedPolicy:
        return None


class Authorizer:
    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    def authorize(self, ctx: Any, service: Any) -> None:
        """Raise ``AccessDenied`` unless ``ctx.principal`` may do ``ctx.operation``."""
        principal: Principal | None = ctx.principal
        if principal is not None and principal.kind == "anonymous":
            _authorize_anonymous(ctx, service)
            return
        identity = self._identity(principal)
        if identity is None:
            return
        assert principal is not None
        operation = ctx.operation.name
        action = action_for(ctx.service_name, operation)
        if action in ALWAYS_ALLOWED or (principal.kind == "root" and action in ROOT_KEEPS):
            return
        context = request_context(ctx, principal, identity, service)
        checks = (
            service.authorization_checks(ctx, operation, ctx.params)
            if service is not None
            else None
        )
        if checks is not None:
            for extra, target, target_text in checks:
                _check(
                    ctx,
                    principal,
                    identity,
                    policy.Request(extra, target, identity.caller, context),
                    resource_policy(target_text) if target_text else None,
                    service,
                )
            return
        resource, text = ("*", None)
        dependent: tuple[tuple[str, str], ...] = ()
        if service is not None:
            resource, text = service.policy_resource(ctx, operation, ctx.params)
            dependent = service.dependent_actions(ctx, operation, ctx.params)
        compiled = resource_policy(text) if text else None
        _check(
            ctx,
            principal,
            identity,
            policy.Request(action, resource, identity.caller, context),
            compiled,
            service,
        )
        for extra, target in dependent:
            _check(
                ctx,
                principal,
                identity,
                policy.Request(extra, target, identity.caller, context),
                None,
                service,
            )

    def _identity(self, principal: Principal | None) -> Identity | None:
        """The principal's policies; None when nothing limits it (a principal IAM
        does not govern)."""
        if principal is None:
            return None
        if principal.kind == "root":
            return _root_identity(principal.arn, principal.account_id)
        source: PolicySource | None = self.credentials.policies
        return source.identity_for(principal) if source is not None else None

    def allows(self, ctx: Any, service: Any, action: str, resource: str) -> bool:
        """Whether ``ctx.principal`` may do ``action`` on ``resource`` (whose policy
        ``service.policy_resource`` gives, for the request's own params)."""
        principal: Principal | None = ctx.principal
        text = service.policy_resource(ctx, ctx.operation.name, ctx.params)[1]
        if principal is not None and principal.kind == "anonymous":
            return anonymous_allowed(ctx, service, action, resource, text)
        identity = self._identity(principal)
        if identity is None:
            return True
        assert principal is not None
        context = request_context(ctx, principal, identity, service)
        request = policy.Request(action, resource, identity.caller, context)
        decision = decide(request, identity, resource_policy(text) if text else None)
        return decision.allowed or _acl_grants(ctx, service, decision, action, resource)


ANONYMOUS_CALLER = policy.Caller(arn="*", account="", kind="anonymous")


def _authorize_anonymous(ctx: Any, service: Any) -> None:
    """An unsigned request (S3 only reaches here): the resource policy is all there is,
    and the service has the last word (``Service.public_access``: S3's Block Public
    Access settings and ACLs). Refused as AWS refuses anonymous callers."""
    action = action_for(ctx.service_name, ctx.operation.name)
    resource, text = ("*", None)
    if service is not None:
        resource, text = service.policy_resource(ctx, ctx.operation.name, ctx.params)
    if not anonymous_allowed(ctx, service, action, resource, text):
        raise ServiceError("AccessDenied", "Access Denied", 403)


def anonymous_allowed(ctx: Any, service: Any, action: str, resource: str, text: str | None) -> bool:
    """Whether an anonymous caller may do ``action`` on ``resource`` whose resource policy
    is ``text``: no explicit Deny, and ``service.public_access`` agrees (``ctx.params``
    names what is acted on). S3's website endpoint asks this for every page in strict mode."""
    compiled = resource_policy(text) if text else None
    request = policy.Request(action, resource, ANONYMOUS_CALLER, base_context(ctx, service))
    decision = policy.evaluate(request, (), compiled)
    if decision.denied_by is not None or service is None:
        return False
    return bool(service.public_access(ctx, action, granted=decision.allowed))


def _check(
    ctx: Any,
    principal: Principal,
    identity: Identity,
    request: policy.Request,
    compiled: policy.Policy | None,
    service: Any,
) -> None:
    if identity.record is not None:
        identity.record(request.action, ctx.region)
    decision = decide(request, identity, compiled)
    if decision.allowed or _acl_grants(ctx, service, decision, request.action, request.resource):
        return
    raise access_denied(ctx, principal, request.action, request.resource, decision)


def _acl_grants(
    ctx: Any, service: Any, decision: policy.Decision, action: str, resource: str
) -> bool:
    """Whether a request no policy allows (and none explicitly denies) is granted by the
    resource's ACL (``Service.acl_allows``: S3's grants to the AllUsers and
    AuthenticatedUsers groups, which S3 evaluates with the bucket owner's policies)."""
    if decision.denied_by is not None or service is None:
        return False
    return bool(service.acl_allows(ctx, action, resource))


def decide(
    request: policy.Request, identity: Identity, compiled: policy.Policy | None
) -> policy.Decision:
    """The identity's policies and the resource policy, bounded by any permissions
    boundary and session policies (IAM's policy simulator asks this too)."""
    decision = policy.evaluate(request, identity.policies, compiled)
    if decision.denied_by is None and (
        identity.boundary is not None or identity.session is not None
    ):
        decision = _bounded(request, identity, decision, compiled)
    return decision


def _bounded(
    request: policy.Request,
    identity: Identity,
    decision: policy.Decision,
    resource: policy.Policy | None,
) -> policy.Decision:
    """AWS's rules within one account: a permissions boundary and session policies bound
    what identity policies (and a resource policy naming the role) allow, and a Deny in
    either refuses; a resource policy naming the caller itself (a user's ARN, a role
    session's ARN) grants whatever they say."""
    refused: str | None = None
    if identity.boundary is not None:
        bounded = policy.evaluate(request, (identity.boundary,))
        if bounded.explicit_deny:
            return policy.Decision(False, "boundary")
        if not bounded.allowed:
            refused = "boundary"
    if identity.session is not None:
        bounded = policy.evaluate(request, identity.session)
        if bounded.explicit_deny:
            return policy.Decision(False, "session")
        if not bounded.allowed and refused is None:
            refused = "session"
    if not decision.allowed or refused is None:
        return decision
    if resource is not None and names_caller(request, resource):
        return decision
    return policy.Decision(
        False, None, session=refused == "session", boundary=refused == "boundary"
    )


def names_caller(request: policy.Request, resource: policy.Policy) -> bool:
    """Whether ``resource`` allows the request to the caller's own ARN (a user, a role
    session), not through its role's ARN: such grants no boundary or session policy limits."""
    caller = request.caller
    if caller.role_arn is not None:
        caller = dataclasses.replace(caller, role_arn=None)
        request = policy.Request(request.action, request.resource, caller, request.context)
    return policy.evaluate(request, (), resource).allowed


def service_principal_allowed(
    text: str | None, service: str, action: str, resource: str, context: dict[str, Any]
) -> bool:
    """Whether the resource policy ``text`` lets the AWS service principal ``service``
    (``s3.amazonaws.com``) do ``action`` on ``resource``: a service has no identity
    policies, so without a policy granting it nothing is allowed. ``context`` carries
    ``aws:SourceArn`` / ``aws:SourceAccount`` for the policy's conditions."""
    compiled = resource_policy(text) if text else None
    if compiled is None:
        return False
    caller = policy.Caller(service, "", "service", service=service)
    return policy.evaluate(policy.Request(action, resource, caller, context), (), compiled).allowed


def check_identity(credentials: Any, principal: Principal, action: str, resource: str) -> None:
    """``CredentialStore.authorize``: identity policies only, no request context."""
    source: PolicySource | None = credentials.policies
    if principal.kind == "root" or source is None or action in ALWAYS_ALLOWED:
        return
    identity = source.identity_for(principal)
    if identity is None:
        return
    request = policy.Request(action, resource, identity.caller, {})
    decision = decide(request, identity, None)
    if not decision.allowed:
        raise access_denied(None, principal, action, resource, decision)


@lru_cache(maxsize=2)
def _timestamp(second: int) -> tuple[str, str]:
    """aws:CurrentTime and aws:EpochTime, formatted once per second."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), str(second)


_PRINCIPAL_TYPES = {
    "assumed-role": "AssumedRole",
    "root": "Account",
    "federated-user": "FederatedUser",
}


def request_context(
    ctx: Any, principal: Principal, identity: Identity, service: Any = None
) -> dict[str, Any]:
    """The global condition keys of a signed HTTP request, and ``service``'s own."""
    caller = identity.caller
    context = base_context(ctx, service)
    context["aws:PrincipalArn"] = caller.role_arn or caller.arn
    context["aws:PrincipalAccount"] = principal.account_id
    context["aws:PrincipalType"] = _PRINCIPAL_TYPES.get(caller.kind, "User")
    context["aws:userid"] = principal.user_id
    if identity.username is not None:
        context["aws:username"] = identity.username
    if principal.mfa_time is not None:
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = str(max(0, int(clock.time() - principal.mfa_time)))
    elif (principal.access_key or "").startswith("ASIA"):
        # Temporary credentials opened without MFA say so; long-term keys have no such key.
        context["aws:MultiFactorAuthPresent"] = "false"
    return context


def base_context(ctx: Any, service: Any = None) -> dict[str, Any]:
    """The condition keys every request has, signed or anonymous: time, transport,
    source address, Region, Referer and User-Agent; and ``service``'s own keys
    (``Service.condition_keys``)."""
    stamp = _timestamp(int(clock.time()))
    req = ctx.request
    # The connection's peer, as AWS uses: X-Forwarded-For is the client's to forge.
    source_ip = getattr(req, "client", None) or "127.0.0.1"
    context: dict[str, Any] = {
        "aws:CurrentTime": stamp[0],
        "aws:EpochTime": stamp[1],
        "aws:SecureTransport": "false",
        "aws:SourceIp": source_ip,
        "aws:RequestedRegion": ctx.region,
    }
    headers = req.headers
    if "referer" in headers:
        context["aws:Referer"] = headers["referer"]
    if "user-agent" in headers:
        context["aws:UserAgent"] = headers["user-agent"]
    if service is not None and ctx.operation is not None:
        service.condition_keys(ctx, context)
    return context


def access_denied(
    ctx: Any, principal: Principal, action: str, resource: str, decision: policy.Decision
) -> ServiceError:
    service = getattr(ctx, "service_name", None)
    # S3 quotes the resource ("on resource: \"arn:aws:s3:::b/k\"", as AWS's "Troubleshoot
    # access denied" guide and real messages show); the other services do not.
    shown = f'"{resource}"' if service == "s3" else resource
    target = f" on resource: {shown}" if resource != "*" else ""
    if decision.denied_by == "identity":
        why = "with an explicit deny in an identity-based policy"
    elif decision.denied_by == "resource":
        why = "with an explicit deny in a resource-based policy"
    elif decision.denied_by == "boundary":
        why = "with an explicit deny in a permissions boundary"
    elif decision.denied_by == "session":
        why = "with an explicit deny in a session policy"
    elif decision.boundary:
        why = f"because no permissions boundary allows the {action} action"
    elif decision.session:
        why = f"because no session policy allows the {action} action"
    else:
        why = f"because no identity-based policy allows the {action} action"
    message = f"User: {principal.arn} is not authorized to perform: {action}{target} {why}"
    if service == "ec2":
        return ServiceError("UnauthorizedOperation", message, 403)
    if service == "sqs":
        return ServiceError("AccessDenied", message, 403, query_code="AccessDenied")
    if service in ("dynamodb", "dynamodbstreams"):
        # DynamoDB answers every request error 400, this one too (its developer guide's
        # "Error handling": AccessDeniedException under "HTTP status code 400").
        return ServiceError("AccessDeniedException", message, 400)
    if getattr(ctx, "protocol", None) in _JSON_PROTOCOLS:
        return ServiceError("AccessDeniedException", message, 403)
    return ServiceError("AccessDenied", message, 403)
