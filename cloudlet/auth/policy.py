"""IAM policy documents: parse and check their grammar, compile, evaluate.

Plain Python, no HTTP: the IAM service uses ``parse`` to refuse malformed
documents (``MalformedPolicyDocument``), strict mode uses ``evaluate`` on
every request. A document is compiled once (wildcards become regexes,
conditions become bound operator calls) and reused until IAM changes it.

Evaluation follows AWS's logic for a request within one account: an explicit
``Deny`` in any applicable policy wins; otherwise the request is allowed when an
identity policy *or* the resource policy allows it; otherwise it is implicitly
denied. ``Decision`` says which, and where the deciding statement was, so the
caller can word AWS's ``AccessDenied`` message.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
LAZY_KEYS = "cloudlet:lazy"
"""A request context entry holding a function that answers the keys the context does
not list (None when it has no value): for keys that cost a lookup to know (S3's
``s3:ExistingObjectTag/<key>`` reads the object), asked only by a policy naming them."""


class MalformedPolicy(ValueError):
    """A document IAM would refuse; the message is AWS's wording."""


# -- wildcards ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """``*`` (any run) and ``?`` (one character), anchored at both ends."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def substitute(pattern: str, context: dict[str, Any]) -> str | None:
    """Policy variables (``${aws:username}``, ``${*}``...); None when one is unknown."""
    if "${" not in pattern:
        return pattern
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        name, _, default = name.partition(", ")
        if name in ("*", "?", "$"):
            return "\\" + name  # a literal character, escaped for the wildcard step
        value = _lookup(context, name)
        if value is None:
            if default:
                return default.strip("'")
            missing = True
            return ""
        return str(value[0] if isinstance(value, list) else value)

    out = _VARIABLE.sub(repl, pattern)
    return None if missing else out


def _lookup(context: dict[str, Any], key: str) -> Any:
    if key in context:
        return context[key]
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    lazy = context.get(LAZY_KEYS)
    return lazy(key) if lazy is not None else None


@lru_cache(maxsize=4096)
def _resource_regex(pattern: str) -> re.Pattern[str]:
    """A resource pattern after variable substitution (``\\*`` is a literal star)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?$":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def match_resource(pattern: str, resource: str, context: dict[str, Any]) -> bool:
    if pattern == "*":
        return True
    concrete = substitute(pattern, context)
    if concrete is None:
        return False
    return _resource_regex(concrete).fullmatch(resource) is not None


# -- conditions ---------------------------------------------------------------------------


def _to_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _to_date(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _ip_in(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return False


def _string_like(value: Any, pattern: Any, context: dict[str, Any], ignore_case: bool) -> bool:
    concrete = substitute(str(pattern), context)
    if concrete is None:
        return False
    regex = _resource_regex(concrete)
    if ignore_case:
        regex = re.compile(regex.pattern, re.DOTALL | re.IGNORECASE)
    return regex.fullmatch(str(value)) is not None


def _string_equals(value: Any, pattern: Any, context: dict[str, Any], ignore_case: bool) -> bool:
    concrete = substitute(str(pattern), context)
    if concrete is None:
        return False
    if ignore_case:
        return str(value).lower() == concrete.lower()
    return str(value) == concrete


def _arn_like(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
    """ARNs compare part by part (six colon-separated parts), each with wildcards."""
    concrete = substitute(str(pattern), context)
    if concrete is None:
        return False
    v_parts = str(value).split(":", 5)
    p_parts = concrete.split(":", 5)
    if len(v_parts) != 6 or len(p_parts) != 6:
        return concrete == "*" or _resource_regex(concrete).fullmatch(str(value)) is not None
    return all(_resource_regex(p).fullmatch(v) for p, v in zip(p_parts, v_parts, strict=True))


def _numeric(cmp: Callable[[float, float], bool]) -> Callable[..., bool]:
    def check(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
        a, b = _to_number(value), _to_number(pattern)
        return a is not None and b is not None and cmp(a, b)

    return check


def _date(cmp: Callable[[float, float], bool]) -> Callable[..., bool]:
    def check(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
        a, b = _to_date(value), _to_date(pattern)
        return a is not None and b is not None and cmp(a, b)

    return check


def _bool(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
    return str(value).lower() == str(pattern).lower()


def _ip(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
    return _ip_in(value, pattern)


def _binary(value: Any, pattern: Any, context: dict[str, Any], _: bool) -> bool:
    return str(value) == str(pattern)


# name -> (positive test, negated operator, ignore case)
_OPERATORS: dict[str, tuple[Callable[..., bool], bool, bool]] = {
    "StringEquals": (_string_equals, False, False),
    "StringNotEquals": (_string_equals, True, False),
    "StringEqualsIgnoreCase": (_string_equals, False, True),
    "StringNotEqualsIgnoreCase": (_string_equals, True, True),
    "StringLike": (_string_like, False, False),
    "StringNotLike": (_string_like, True, False),
    "ArnEquals": (_arn_like, False, False),
    "ArnLike": (_arn_like, False, False),
    "ArnNotEquals": (_arn_like, True, False),
    "ArnNotLike": (_arn_like, True, False),
    "NumericEquals": (_numeric(lambda a, b: a == b), False, False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True, False),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False, False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False, False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False, False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False, False),
    "DateEquals": (_date(lambda a, b: a == b), False, False),
    "DateNotEquals": (_date(lambda a, b: a == b), True, False),
    "DateLessThan": (_date(lambda a, b: a < b), False, False),
    "DateLessThanEquals": (_date(lambda a, b: a <= b), False, False),
    "DateGreaterThan": (_date(lambda a, b: a > b), False, False),
    "DateGreaterThanEquals": (_date(lambda a, b: a >= b), False, False),
    "Bool": (_bool, False, False),
    "BinaryEquals": (_binary, False, False),
    "IpAddress": (_ip, False, False),
    "NotIpAddress": (_ip, True, False),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``Operator: {key: values}`` pair of a Condition block."""

    operator: str
    key: str
    values: tuple[Any, ...]
    test: Callable[..., bool] | None
    negated: bool
    ignore_case: bool
    if_exists: bool
    qualifier: str | None  # "ForAnyValue" / "ForAllValues"

    def holds(self, context: dict[str, Any]) -> bool:
        present = _lookup(context, self.key)
        if self.test is None:  # Null: true means the key must be absent
            want_absent = str(self.values[0]).lower() == "true"
            return (present is None) == want_absent
        if present is None:
            if self.if_exists:
                return True
            if self.qualifier == "ForAllValues":
                return True
            # A missing key matches no value: negated operators are then true (AWS).
            return self.negated and self.qualifier is None
        items = present if isinstance(present, list) else [present]
        if self.qualifier == "ForAllValues":
            return all(self._one(v, context) for v in items)
        if self.qualifier == "ForAnyValue":
            return any(self._one(v, context) for v in items)
        return any(self._one(v, context) for v in items)

    def _one(self, value: Any, context: dict[str, Any]) -> bool:
        assert self.test is not None
        hit = any(self.test(value, p, context, self.ignore_case) for p in self.values)
        return not hit if self.negated else hit


def _compile_conditions(block: Any) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    out = []
    for raw_op, pairs in block.items():
        if not isinstance(pairs, dict):
            raise MalformedPolicy("Syntax errors in policy.")
        op = raw_op
        qualifier = None
        if ":" in op:
            qualifier, _, op = op.partition(":")
            if qualifier not in ("ForAnyValue", "ForAllValues"):
                raise MalformedPolicy(f"Invalid Condition type : {raw_op}.")
        if_exists = op.endswith("IfExists")
        base = op[: -len("IfExists")] if if_exists else op
        if base == "Null":
            test, negated, ignore_case = None, False, False
        elif base in _OPERATORS:
            test, negated, ignore_case = _OPERATORS[base]
        else:
            raise MalformedPolicy(f"Invalid Condition type : {raw_op}.")
        for key, values in pairs.items():
            vals = tuple(_listify(values))
            if not vals:
                raise MalformedPolicy("Syntax errors in policy.")
            out.append(Condition(op, key, vals, test, negated, ignore_case, if_exists, qualifier))
    return tuple(out)


# -- principals -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes the request, as resource policies and the evaluator see it."""

    arn: str
    account: str
    kind: str = "user"  # root, user, assumed-role, service, federated, anonymous
    role_arn: str | None = None  # for assumed-role sessions: the role's ARN
    service: str | None = None  # for service principals: lambda.amazonaws.com


def _principal_matches(spec: Any, caller: Caller, *, allow: bool) -> bool:
    if spec == "*":
        return True
    if not isinstance(spec, dict):
        return False
    for kind, values in spec.items():
        for value in _listify(values):
            value = str(value)
            if kind == "AWS":
                if value == "*":
                    return True
                if _aws_principal(value, caller, allow=allow):
                    return True
            elif kind == "Service":
                if caller.service is not None and value == caller.service:
                    return True
            elif kind == "Federated":
                # a web identity caller is its identity provider's ARN (STS's trust check)
                if caller.kind == "federated" and value == caller.arn:
                    return True
            elif kind == "CanonicalUser":
                continue
    return False


def _aws_principal(value: str, caller: Caller, *, allow: bool) -> bool:
    account = None
    if value.isdigit() and len(value) == 12:
        account = value
    elif value.startswith("arn:") and value.endswith(":root"):
        account = value.split(":")[4]
    if account is not None:
        if account != caller.account:
            return False
        # Naming an account delegates to its identity policies: it grants the
        # root itself, and a Deny applies to everyone in the account.
        return caller.kind == "root" or not allow
    if value == caller.arn:
        return True
    return caller.role_arn is not None and value == caller.role_arn


# -- statements and policies ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    allow: bool
    actions: tuple[re.Pattern[str], ...]
    not_actions: tuple[re.Pattern[str], ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principal: Any
    not_principal: Any
    conditions: tuple[Condition, ...]

    def matches_action(self, action: str) -> bool:
        if self.actions:
            return any(p.fullmatch(action) for p in self.actions)
        return not any(p.fullmatch(action) for p in self.not_actions)

    def applies(self, action: str, resource: str, caller: Caller, context: dict[str, Any]) -> bool:
        """Whether the statement covers the request (its action already matched)."""
        if self.resources:
            if not any(match_resource(p, resource, context) for p in self.resources):
                return False
        elif self.not_resources:
            if any(match_resource(p, resource, context) for p in self.not_resources):
                return False
        if self.principal is not None and not _principal_matches(
            self.principal, caller, allow=self.allow
        ):
            return False
        if self.not_principal is not None and _principal_matches(
            self.not_principal, caller, allow=False
        ):
            return False
        return all(c.holds(context) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]
    version: str = "2012-10-17"
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def for_action(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers ``action`` (memoised)."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(st for st in self.statements if st.matches_action(action))
            if len(self._by_action) < 1024:
                self._by_action[action] = found
        return found

    def effects(
        self, action: str, resource: str, caller: Caller, context: dict[str, Any]
    ) -> tuple[bool, bool]:
        """(allowed by some statement, denied by some statement)."""
        allowed = denied = False
        for st in self.for_action(action):
            if st.applies(action, resource, caller, context):
                if st.allow:
                    allowed = True
                else:
                    return allowed, True
        return allowed, denied


PolicyKind = Literal["identity", "resource", "trust"]


def parse(text: str | dict[str, Any], kind: PolicyKind = "identity") -> Policy:
    """Check a document's grammar and compile it; ``MalformedPolicy`` if IAM would refuse it.

    ``identity`` documents must not name a principal and must name resources;
    ``resource`` and ``trust`` documents must name a principal (trust policies
    need no resource).
    """
    if isinstance(text, str):
        try:
            doc = json.loads(text)
        except ValueError:
            raise MalformedPolicy("Syntax errors in policy.") from None
    else:
        doc = text
    if not isinstance(doc, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy("Syntax errors in policy.")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    raw = doc.get("Statement")
    if raw is None:
        raise MalformedPolicy("Syntax errors in policy.")
    statements = [_compile_statement(st, kind) for st in _listify(raw)]
    if not statements:
        raise MalformedPolicy("Syntax errors in policy.")
    return Policy(tuple(statements), version)


def _strings(value: Any) -> list[str]:
    items = _listify(value)
    if not all(isinstance(v, str) for v in items):
        raise MalformedPolicy("Syntax errors in policy.")
    return items


def _compile_statement(st: Any, kind: PolicyKind) -> Statement:
    if not isinstance(st, dict) or set(st) - _STATEMENT_KEYS:
        raise MalformedPolicy("Syntax errors in policy.")
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy("Syntax errors in policy.")
    if "Action" in st and "NotAction" in st:
        raise MalformedPolicy("Syntax errors in policy.")
    if "Action" not in st and "NotAction" not in st:
        raise MalformedPolicy("Policy statement must contain actions.")
    if "Resource" in st and "NotResource" in st:
        raise MalformedPolicy("Syntax errors in policy.")
    has_principal = "Principal" in st or "NotPrincipal" in st
    if kind == "identity":
        if has_principal:
            raise MalformedPolicy("Policy document should not specify a principal.")
        if "Resource" not in st and "NotResource" not in st:
            raise MalformedPolicy("Policy statement must contain resources.")
    elif not has_principal:
        raise MalformedPolicy("Missing required field Principal")
    actions = _strings(st.get("Action"))
    not_actions = _strings(st.get("NotAction"))
    for action in actions + not_actions:
        if action != "*" and ":" not in action:
            raise MalformedPolicy(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            )
    for principal in (st.get("Principal"), st.get("NotPrincipal")):
        if principal is not None and principal != "*" and not isinstance(principal, dict):
            raise MalformedPolicy("Invalid principal in policy")
    return Statement(
        sid=st.get("Sid"),
        allow=effect == "Allow",
        actions=tuple(wildcard(a, True) for a in actions),
        not_actions=tuple(wildcard(a, True) for a in not_actions),
        resources=tuple(_strings(st.get("Resource"))) if "Resource" in st else (),
        not_resources=tuple(_strings(st.get("NotResource"))),
        principal=st.get("Principal"),
        not_principal=st.get("NotPrincipal"),
        conditions=_compile_conditions(st.get("Condition")),
    )


# -- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    denied_by: Literal["identity", "resource", "boundary", "session", None] = None
    """Where the explicit Deny was, when there was one (a permissions boundary's or a
    session policy's Deny is the authorizer's to find: ``evaluate`` sees neither)."""
    session: bool = False
    """Refused because no session policy allows the action."""
    boundary: bool = False
    """Refused because the principal's permissions boundary does not allow the action."""

    @property
    def explicit_deny(self) -> bool:
        return self.denied_by is not None


@dataclass(slots=True)
class Request:
    """What is asked: ``action`` (``sqs:SendMessage``) on ``resource`` by ``caller``."""

    action: str
    resource: str
    caller: Caller
    context: dict[str, Any] = field(default_factory=dict)


def evaluate(
    request: Request,
    identity: Iterable[Policy],
    resource_policy: Policy | None = None,
) -> Decision:
    """AWS's same-account logic: explicit Deny wins; identity OR resource Allow grants."""
    allowed = False
    args = (request.action, request.resource, request.caller, request.context)
    for policy in identity:
        ok, denied = policy.effects(*args)
        if denied:
            return Decision(False, "identity")
        allowed = allowed or ok
    if resource_policy is not None:
        ok, denied = resource_policy.effects(*args)
        if denied:
            return Decision(False, "resource")
        allowed = allowed or ok
    return Decision(allowed)
