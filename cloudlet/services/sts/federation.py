"""STS GetFederationToken: temporary credentials for a federated user.

An IAM user (or, though AWS advises against it, the account root) hands a
federated user ``arn:aws:sts::<account>:federated-user/<Name>`` credentials whose
permissions are the intersection of the IAM user's identity policies (and its
permissions boundary) with the session policies passed here (``Policy``,
``PolicyArns``); with no session policy the federated user has no permissions, as
the STS API reference says. The principal carries the IAM user's name
(``Principal.federated_by``) so IAM's ``identities`` can build that intersection on
every strict-mode request; a federated user may call no IAM or STS operation but
GetCallerIdentity.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable
from typing import Any

from cloudlet.auth.credentials import Principal
from cloudlet.core.errors import ServiceError

Result = dict[str, Any]
_NAME_CHARS = set(string.ascii_letters + string.digits + "_+=,.@-")
DEFAULT_SECONDS = 43200
MAX_SECONDS = 129600
ROOT_MAX_SECONDS = 3600


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def is_session(principal: Principal) -> bool:
    """Whether the principal signs with temporary (session) credentials."""
    return (
        principal.kind == "assumed-role"
        or ":assumed-role/" in principal.arn
        or principal.federated_by is not None
    )


def check_name(name: str) -> None:
    if len(name) < 2:
        raise _validation(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must have length greater than or equal to 2"
        )
    if len(name) > 32:
        raise _validation(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must have length less than or equal to 32"
        )
    if not _NAME_CHARS.issuperset(name):
        raise _validation(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )


class FederationHandlers:
    _session_policies: Callable[[str, dict[str, Any]], tuple[str, ...]]
    _credentials: Callable[[Principal, int], tuple[Result, Principal]]

    def get_federation_token(self, ctx: Any, params: dict[str, Any]) -> Result:
        caller: Principal | None = getattr(ctx, "principal", None)
        if caller is None or caller.kind == "anonymous":
            caller = Principal.root(ctx.account_id)
        if is_session(caller):
            raise ServiceError(
                "AccessDenied", "Cannot call GetFederationToken with session credentials", 403
            )
        name = params["Name"]
        check_name(name)
        duration = params.get("DurationSeconds") or DEFAULT_SECONDS
        if not 900 <= duration <= MAX_SECONDS:
            bound = (
                f"less than or equal to {MAX_SECONDS}"
                if duration > MAX_SECONDS
                else "greater than or equal to 900"
            )
            raise _validation(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed "
                f"to satisfy constraint: Member must have value {bound}"
            )
        if caller.kind == "root":  # root sessions last an hour at most
            duration = min(duration, ROOT_MAX_SECONDS)
        if len(params.get("PolicyArns") or []) > 10:
            raise _validation(
                "1 validation error detected: Value at 'policyArns' failed to satisfy "
                "constraint: Member must have length less than or equal to 10"
            )
        account = caller.account_id
        texts = self._session_policies(account, params)
        federated_by = "" if caller.kind == "root" else caller.name
        arn = f"arn:aws:sts::{account}:federated-user/{name}"
        user_id = f"{account}:{name}"
        principal = Principal(None, account, arn, "user", user_id)
        principal = dataclasses.replace(
            principal, session_policies=texts, federated_by=federated_by
        )
        creds, _ = self._credentials(principal, duration)
        return {
            "Credentials": creds,
            "FederatedUser": {"FederatedUserId": user_id, "Arn": arn},
            "PackedPolicySize": min(100, sum(len(t) for t in texts) * 100 // 2048),
        }
