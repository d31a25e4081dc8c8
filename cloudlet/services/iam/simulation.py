"""The policy simulator's engine: one (action, resource) pair through the evaluator
strict mode uses, explained as IAM's simulator explains it.

The decision is ``authorizer.decide``'s, the very function that authorizes every
strict-mode request, so a simulation and a real request cannot disagree. On top of
it come the explanations: which statements decided (their policy, and where the
statement sits in the document as written, line and column), which condition keys
the policies name that the simulation was not given, and what the permissions
boundary said. A resource in another account than the caller's is evaluated as AWS
evaluates cross-account requests: both the identity side and the resource policy
must allow.

Plain Python, no HTTP: the handlers (``simulator``) find the policies and page
the results.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudlet.auth import policy
from cloudlet.auth.authorizer import Identity, decide
from cloudlet.services.iam import errors

Result = dict[str, Any]
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_LITERALS = ("*", "?", "$")
_TYPES = ("string", "numeric", "boolean", "ip", "binary", "date")
Position = tuple[int, int]


@dataclass
class Source:
    """One policy of the simulation: IAM's id and type for it, its text, compiled."""

    policy_id: str
    policy_type: str
    text: str
    compiled: policy.Policy
    _spans: list[tuple[Position, Position]] | None = field(default=None, repr=False)

    def spans(self) -> list[tuple[Position, Position]]:
        if self._spans is None:
            self._spans = statement_spans(self.text)
        return self._spans

    def matched(self, request: policy.Request, allow: bool) -> list[Result]:
        """The statements of this policy that apply to ``request`` with that effect."""
        out = []
        spans = self.spans()
        args = (request.action, request.resource, request.caller, request.context)
        for n, st in enumerate(self.compiled.statements):
            if st.allow == allow and st.matches_action(request.action) and st.applies(*args):
                entry: Result = {
                    "SourcePolicyId": self.policy_id,
                    "SourcePolicyType": self.policy_type,
                }
                if n < len(spans):
                    (line, column), (end_line, end_column) = spans[n]
                    entry["StartPosition"] = {"Line": line, "Column": column}
                    entry["EndPosition"] = {"Line": end_line, "Column": end_column}
                out.append(entry)
        return out


def parse_source(text: str, policy_id: str, policy_type: str, kind: policy.PolicyKind) -> Source:
    """An input document as a ``Source``; ``InvalidInput`` if IAM would not read it."""
    try:
        compiled = policy.parse(text, kind)
    except policy.MalformedPolicy as exc:
        raise errors.invalid_input(f"The policy {policy_id} is not valid: {exc}") from None
    return Source(policy_id, policy_type, text, compiled)


# -- where statements are ------------------------------------------------------------


def _position(text: str, index: int) -> Position:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def statement_spans(text: str) -> list[tuple[Position, Position]]:
    """Each statement's (start, end) in ``text``: 1-based line and column of its ``{``
    and of its ``}``."""
    decoder = json.JSONDecoder()
    try:
        i = _skip(text, 0)
        if text[i] != "{":
            return []
        i += 1
        while True:
            i = _skip(text, i)
            if text[i] in ",":
                i += 1
                continue
            if text[i] == "}":
                return []
            name, i = decoder.raw_decode(text, i)
            i = _skip(text, _skip(text, i) + 1)  # past the colon
            start = i
            _, i = decoder.raw_decode(text, i)
            if name != "Statement":
                continue
            if text[start] != "[":
                return [(_position(text, start), _position(text, i - 1))]
            spans = []
            j = start + 1
            while True:
                j = _skip(text, j)
                if text[j] == "]":
                    return spans
                if text[j] == ",":
                    j += 1
                    continue
                first = j
                _, j = decoder.raw_decode(text, j)
                spans.append((_position(text, first), _position(text, j - 1)))
    except (ValueError, IndexError):
        return []


# -- context keys ---------------------------------------------------------------------


def _variables(pattern: str) -> list[str]:
    names = []
    for raw in _VARIABLE.findall(pattern):
        name = raw.partition(", ")[0]
        if name not in _LITERALS:
            names.append(name)
    return names


def statement_keys(st: policy.Statement) -> list[str]:
    """The context keys a statement names: policy variables, then condition keys."""
    keys: list[str] = []
    for pattern in (*st.resources, *st.not_resources):
        keys.extend(_variables(pattern))
    for condition in st.conditions:
        keys.append(condition.key)
        for value in condition.values:
            if isinstance(value, str):
                keys.extend(_variables(value))
    return keys


def context_keys(policies: Iterable[policy.Policy]) -> list[str]:
    """Every context key the policies name, once each (case aside), in document order."""
    seen: dict[str, str] = {}
    for compiled in policies:
        for st in compiled.statements:
            for name in statement_keys(st):
                seen.setdefault(name.lower(), name)
    return list(seen.values())


def _valid(value: str, kind: str) -> bool:
    if kind == "numeric":
        try:
            float(value)
        except ValueError:
            return False
    elif kind == "boolean":
        return value.lower() in ("true", "false")
    elif kind == "ip":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
    elif kind == "date":
        try:
            float(value)
        except ValueError:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return False
    return True


def request_context(entries: list[dict[str, Any]] | None) -> dict[str, Any]:
    """ContextEntries as the evaluator's context (lists for the ``...List`` types)."""
    context: dict[str, Any] = {}
    for entry in entries or []:
        name = entry.get("ContextKeyName")
        kind = entry.get("ContextKeyType") or ""
        values = [str(v) for v in entry.get("ContextKeyValues") or []]
        base = kind.removesuffix("List")
        if not name or base not in _TYPES:
            raise errors.invalid_input(
                f"Invalid context entry: {name or '(no name)'} of type {kind or '(no type)'}."
            )
        for value in values:
            if not _valid(value, base):
                raise errors.invalid_input(
                    f"The value {value} of context key {name} is not a valid {base}."
                )
        if base == "boolean":
            values = [v.lower() for v in values]
        if values:
            context[name] = values if kind.endswith("List") or len(values) > 1 else values[0]
    return context


def _has(context: dict[str, Any], name: str) -> bool:
    lowered = name.lower()
    return any(k.lower() == lowered for k in context)


def _missing(sources: Iterable[Source], request: policy.Request) -> list[str]:
    """Keys named by the statements that cover the request's action and resource (their
    conditions aside) that the context lacks."""
    found: dict[str, str] = {}
    for source in sources:
        for st in source.compiled.for_action(request.action):
            patterns = st.resources or st.not_resources
            covers = not st.resources or any(
                policy.match_resource(p, request.resource, request.context) for p in st.resources
            )
            if not covers and not any(_variables(p) for p in patterns):
                continue
            for name in statement_keys(st):
                if not _has(request.context, name):
                    found.setdefault(name.lower(), name)
    return list(found.values())


# -- one evaluation ------------------------------------------------------------------


def _word(decision: policy.Decision) -> str:
    if decision.allowed:
        return "allowed"
    return "explicitDeny" if decision.denied_by is not None else "implicitDeny"


@dataclass
class Simulation:
    """The policies and caller of one simulation, evaluated pair by pair."""

    identity: list[Source]
    boundary: Source | None
    resource_policy: Source | None
    caller: policy.Caller
    context: dict[str, Any]
    cross_account: bool

    def evaluate(self, action: str, resource: str, *, specific: bool) -> Result:
        request = policy.Request(action, resource, self.caller, self.context)
        bound = self.boundary.compiled if self.boundary is not None else None
        who = Identity(self.caller, tuple(s.compiled for s in self.identity), boundary=bound)
        granted = self.resource_policy.compiled if self.resource_policy is not None else None
        details: dict[str, str] | None = None
        if self.cross_account:
            mine = decide(request, who, None)
            theirs = policy.evaluate(request, (), granted) if granted else policy.Decision(False)
            details = {"IAM Policy": _word(mine), "Resource Policy": _word(theirs)}
            denied = mine.denied_by or theirs.denied_by
            decision = policy.Decision(mine.allowed and theirs.allowed, denied)
        else:
            decision = decide(request, who, granted)
        word = _word(decision)
        everything = [*self.identity, *filter(None, (self.boundary, self.resource_policy))]
        matched: list[Result] = []
        if word == "explicitDeny":
            for source in everything:
                matched += source.matched(request, allow=False)
        elif word == "allowed":
            for source in (*self.identity, *filter(None, (self.resource_policy,))):
                matched += source.matched(request, allow=True)
        missing = _missing(everything, request)
        detail: Result = {"MatchedStatements": matched, "MissingContextValues": missing}
        if bound is not None:
            allowed = policy.evaluate(request, (bound,)).allowed
            detail["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
        if details is not None:
            detail["EvalDecisionDetails"] = details
        out: Result = {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": word}
        if not specific:
            return {**out, **detail}
        # Named resources: the explanation goes in ResourceSpecificResults (IAM's layout).
        specific_result = {"EvalResourceName": resource, "EvalResourceDecision": word, **detail}
        out.update(MatchedStatements=matched, MissingContextValues=[])
        out["ResourceSpecificResults"] = [specific_result]
        return out
