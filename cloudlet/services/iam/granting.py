"""ListPoliciesGrantingServiceAccess, and what access advisor shares with it: the IAM
entity an ARN names and the permissions policies that apply to it.

The policies of an identity are AWS's list for this operation: a user's own managed
and inline policies and those of its groups; a group's or a role's own. A managed
policy shows its ARN and name (once, however many ways it applies); an inline one
its name and the user, group or role it is part of. Permissions boundaries are not
permissions policies and never appear. Whether a policy grants a namespace is
``namespaces.grants``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_constraints
from cloudlet.services.iam.namespaces import grants
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
ENTITY_KINDS = ("user", "group", "role")
_ENTITY_TYPES = {"user": "USER", "group": "GROUP", "role": "ROLE"}
_NAME_KEYS = {"user": "UserName", "group": "GroupName", "role": "RoleName"}


def parse_iam_arn(arn: str) -> tuple[str, str, str]:
    """(account, kind, name) of a user, group, role or policy ARN (``InvalidInput``)."""
    parts = arn.split(":", 5)
    word = parts[5].split("/", 1)[0] if len(parts) == 6 else ""
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or "/" not in parts[5]:
        raise errors.invalid_input(f"ARN {arn} is not valid.")
    if word not in (*ENTITY_KINDS, "policy"):
        raise errors.invalid_input(f"ARN {arn} is not valid.")
    return parts[4], word, parts[5].rsplit("/", 1)[-1]


class GrantingHandlers:
    store: Any
    identities: Any
    _managed_policy: Any

    def _entity_by_arn(self, account: str, arn: str, kinds: tuple[str, ...]) -> tuple[str, Doc]:
        """The user, group or role (or managed policy) ``arn`` names in ``account``."""
        owner, kind, name = parse_iam_arn(arn)
        if kind not in kinds:
            raise errors.invalid_input(f"ARN {arn} is not valid.")
        if kind == "policy":
            if owner not in ("aws", account):
                raise errors.not_found("policy", arn)
            return kind, self._managed_policy(account, arn)
        doc = self.store.get(kind, key(account, name)) if owner == account else None
        if doc is None or doc["Arn"] != arn:
            raise errors.not_found(kind, name)
        return kind, doc

    def _groups_of(self, account: str, user: Doc) -> list[Doc]:
        groups = [g for g in self.store.all("group", account) if user["UserName"] in g["Members"]]
        return sorted(groups, key=lambda g: g["GroupName"].lower())

    def _permission_policies(self, account: str, kind: str, doc: Doc) -> list[tuple[Result, str]]:
        """The permissions policies that apply to a user, group or role, as (what
        ListPoliciesGrantingServiceAccess shows of it, its document)."""
        holders = [(kind, doc)]
        if kind == "user":
            holders += [("group", g) for g in self._groups_of(account, doc)]
        out: list[tuple[Result, str]] = []
        seen: set[str] = set()
        for holder_kind, holder in holders:
            name = holder[_NAME_KEYS[holder_kind]]
            for arn in holder.get("Attached", []):
                source = self.identities.managed_source(account, arn)
                if source is None or arn in seen:
                    continue
                seen.add(arn)
                shown = {"PolicyName": source[0], "PolicyType": "MANAGED", "PolicyArn": arn}
                out.append((shown, source[2]))
            for policy_name, text in holder.get("Inline", {}).items():
                shown = {
                    "PolicyName": policy_name,
                    "PolicyType": "INLINE",
                    "EntityType": _ENTITY_TYPES[holder_kind],
                    "EntityName": name,
                }
                out.append((shown, text))
        return out

    def list_policies_granting_service_access(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("ListPoliciesGrantingServiceAccess", params)
        account = ctx.account_id
        kind, doc = self._entity_by_arn(account, params["Arn"], ENTITY_KINDS)
        policies = self._permission_policies(account, kind, doc)
        listed = []
        for namespace in params["ServiceNamespaces"]:
            granting = [shown for shown, text in policies if grants(text, namespace)]
            listed.append({"ServiceNamespace": namespace, "Policies": granting})
        return {"PoliciesGrantingServiceAccess": listed, "IsTruncated": False}
