"""Event bus permissions: PutPermission, RemovePermission, and what a bus's policy lets
other accounts do.

Why: a bus's resource policy is how another account (or a role of its) may put events
on it, as the user guide's "Permissions for Amazon EventBridge event buses" and
"Sending and receiving events between AWS accounts" describe. Two things ask it:

- a rule's event bus target in another account (``bus_grants``, from ``publish.py``):
  the event is put there only when the target bus's policy allows ``events:PutEvents``
  to the rule's account, or to the target's ``RoleArn`` (whose own policies must allow
  it too, in strict mode). AWS requires this in every mode, so cloudlet does: open mode
  tells accounts apart by their 12-digit access keys. A refusal is the target's
  ``NO_PERMISSIONS`` failure, to its dead-letter queue as other refusals go;
- in strict mode, PutEvents by another account's principal onto a bus
  (``PublishHandlers``), and the bus's policy is the resource policy strict mode weighs
  for every operation on the bus (``EventsService.policy_resource``).

PutPermission has two forms, as the API reference gives them: the legacy one adds (or
replaces, by ``StatementId``) one statement granting ``Action`` (``events:PutEvents``)
to an account (``{"AWS": "arn:aws:iam::<id>:root"}``) or to ``*``, with an optional
``Condition`` (``StringEquals`` on ``aws:PrincipalOrgID``, which matches no one here:
cloudlet has no Organizations); the ``Policy`` form replaces the whole document. The
document is at most 10,240 bytes (``PolicyLengthExceededException``). RemovePermission
drops one statement by ``StatementId`` or every one (``RemoveAllPermissions``); a bus
left without statements has no policy. The policy is kept in the bus's own document, so
it is as durable as the bus and goes with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from cloudlet.auth import policy
from cloudlet.auth.authorizer import resource_policy
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.events import errors
from cloudlet.services.events.common import DEFAULT_BUS
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
PUT_EVENTS = "events:PutEvents"
MAX_POLICY = 10240
"""The most bytes a bus's policy may take (PutPermission: "cannot exceed 10 KB")."""
_BUS_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
_STATEMENT_ID = re.compile(r"[a-zA-Z0-9-_]+")
_ACTION = re.compile(r"events:[a-zA-Z]+")
_ACCOUNT = re.compile(r"\d{12}")


def bus_grants(
    text: str | None,
    bus_arn: str,
    account: str,
    principal_arn: str | None = None,
    role_arn: str | None = None,
) -> bool:
    """Whether the bus policy ``text`` lets ``account`` put events on ``bus_arn``: a
    statement allowing its root (an account grant, which delegates to the account's own
    policies), or ``principal_arn`` (a user, a role session of ``role_arn``) itself,
    and none denying it."""
    compiled = resource_policy(text) if text else None
    if compiled is None:
        return False
    root = f"arn:aws:iam::{account}:root"
    callers = [policy.Caller(root, account, "root")]
    if principal_arn and principal_arn != root:
        kind = "assumed-role" if role_arn else "user"
        callers.append(policy.Caller(principal_arn, account, kind, role_arn=role_arn))
    allowed = False
    for caller in callers:
        context = {"aws:PrincipalAccount": account, "aws:PrincipalArn": role_arn or caller.arn}
        request = policy.Request(PUT_EVENTS, bus_arn, caller, context)
        decision = policy.evaluate(request, (), compiled)
        if decision.explicit_deny:
            return False
        allowed = allowed or decision.allowed
    return allowed


def denied(principal_arn: str, bus_arn: str) -> ServiceError:
    """AWS's refusal of a PutEvents the bus's policy does not allow (403, as strict
    mode's other refusals of EventBridge requests)."""
    return ServiceError(
        "AccessDeniedException",
        f"User: {principal_arn} is not authorized to perform: {PUT_EVENTS} on resource: "
        f"{bus_arn} because no resource-based policy allows the {PUT_EVENTS} action",
        403,
    )


def _statement(bus_arn: str, params: dict[str, Any]) -> Doc:
    """The statement the legacy form of PutPermission writes, as AWS writes it."""
    sid, action, principal = (params.get(k) for k in ("StatementId", "Action", "Principal"))
    condition = params.get("Condition")
    if not principal:
        raise errors.validation("Parameter Principal must be specified.")
    if not action:
        raise errors.validation("Parameter Action must be specified.")
    if not sid:
        raise errors.validation("Parameter StatementId must be specified.")
    if len(sid) > 64 or not _STATEMENT_ID.fullmatch(sid):
        raise errors.constraint(
            sid, "statementId", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
        )
    if principal != "*" and not _ACCOUNT.fullmatch(principal):
        raise errors.constraint(
            principal, "principal", r"Member must satisfy regular expression pattern: (\d{12}|\*)"
        )
    if not _ACTION.fullmatch(action) or action != PUT_EVENTS:
        raise errors.validation("Provided value in parameter 'action' is not supported.")
    out: Doc = {"Sid": sid, "Effect": "Allow"}
    out["Principal"] = "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"}
    out["Action"] = action
    out["Resource"] = bus_arn
    if condition:
        if principal != "*":
            raise errors.validation(
                "Value of the parameter 'principal' must be '*' when the parameter "
                "'condition' is set."
            )
        if condition["Type"] != "StringEquals" or condition["Key"] != "aws:PrincipalOrgID":
            raise errors.validation("Provided value in parameter 'condition' is not supported.")
        out["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": condition["Value"]}}
    return out


def _document(text: str) -> Doc:
    """The ``Policy`` form's document, checked as AWS checks it."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise errors.validation("This policy contains invalid Json") from None
    try:
        policy.parse(doc, "resource")
    except policy.MalformedPolicy as err:
        raise errors.validation(f"This policy is not valid. Reason: {err}") from None
    return doc


def _statements(doc: Doc) -> list[Doc]:
    raw = doc.get("Statement")
    return list(raw) if isinstance(raw, list) else [raw] if raw else []


class PermissionHandlers:
    store: EventsStore
    _bus: Callable[..., Doc]
    """``BusHandlers._bus``: the bus a name or ARN names, else ResourceNotFoundException."""

    def _own_bus(self, ctx: Any, name: str | None) -> Doc:
        """The caller's bus a permission operation names (a name only, as the model says)."""
        if name is not None and (len(name) > 256 or not _BUS_NAME.fullmatch(name)):
            raise errors.constraint(
                name,
                "eventBusName",
                r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
            )
        return self._bus(ctx, name or DEFAULT_BUS)

    def _save_policy(self, bus: Doc, doc: Doc | None) -> None:
        if doc is None:
            bus.pop("Policy", None)
        else:
            text = json.dumps(doc, separators=(",", ":"))
            if len(text.encode()) > MAX_POLICY:
                raise ServiceError(
                    "PolicyLengthExceededException",
                    f"The event bus policy exceeds the maximum size of {MAX_POLICY} bytes.",
                    400,
                )
            bus["Policy"] = text
        bus["LastModifiedTime"] = clock.time()
        self.store.save_bus(bus)

    def put_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        bus = self._own_bus(ctx, params.get("EventBusName"))
        if params.get("Policy") is not None:
            self._save_policy(bus, _document(params["Policy"]))
            return {}
        statement = _statement(bus["Arn"], params)
        doc = json.loads(bus["Policy"]) if bus.get("Policy") else {"Version": "2012-10-17"}
        kept = [s for s in _statements(doc) if s.get("Sid") != statement["Sid"]]
        doc["Statement"] = [*kept, statement]
        self._save_policy(bus, doc)
        return {}

    def remove_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        bus = self._own_bus(ctx, params.get("EventBusName"))
        sid = params.get("StatementId")
        if params.get("RemoveAllPermissions"):
            if sid:
                raise errors.validation(
                    "Parameter StatementId is not valid. Reason: StatementId must not be "
                    "specified when RemoveAllPermissions is true."
                )
            self._save_policy(bus, None)
            return {}
        if not sid:
            raise errors.validation("Parameter StatementId must be specified.")
        if not bus.get("Policy"):
            raise errors.not_found("EventBus does not have a policy.")
        doc = json.loads(bus["Policy"])
        statements = _statements(doc)
        kept = [s for s in statements if s.get("Sid") != sid]
        if len(kept) == len(statements):
            raise errors.not_found("Statement with the provided id does not exist.")
        doc["Statement"] = kept
        self._save_policy(bus, doc if kept else None)
        return {}
