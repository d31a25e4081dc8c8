"""Permissions boundaries: the managed policy that caps what a user's or role's
identity policies can grant.

A boundary is only an ARN on the user's or role's document; what makes it bite is
strict mode: ``identities`` compiles the boundary's default version into the
principal's ``Identity`` and the authorizer intersects it with the identity
policies (``authorizer.decide``). A policy bounding anyone is in use, so
DeletePolicy refuses it (``DeleteConflict``) as AWS does, and GetPolicy counts it
(``PermissionsBoundaryUsageCount``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.store import Doc

Result = dict[str, Any]
_POLICY_ARN = re.compile(r"arn:aws[\w-]*:iam::(aws|\d{12}):policy/.+")
HOLDERS = ("user", "role")


def boundary_view(doc: Doc) -> Result | None:
    """``PermissionsBoundary`` as GetUser/GetRole show it, None without one."""
    arn = doc.get("PermissionsBoundary")
    if not arn:
        return None
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}


class BoundaryHandlers:
    store: Any
    _entity: Callable[[str, str, str], Doc]
    _changed: Callable[[], None]
    _managed_policy: Callable[[str, str], Doc]

    def _boundary_arn(self, account: str, arn: str) -> str:
        """``arn`` if it names a managed policy the account can use as a boundary."""
        if not _POLICY_ARN.fullmatch(arn):
            raise errors.invalid_input(f"ARN {arn} is not valid.")
        self._managed_policy(account, arn)
        return arn

    def _boundary_holders(self, account: str, arn: str) -> dict[str, list[Doc]]:
        """The users and roles ``arn`` bounds."""
        return {
            kind: [d for d in self.store.all(kind, account) if d.get("PermissionsBoundary") == arn]
            for kind in HOLDERS
        }

    def _put_boundary(self, ctx: Any, kind: str, name: str, arn: str) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        holder["PermissionsBoundary"] = self._boundary_arn(ctx.account_id, arn)
        self.store.save(kind, holder)
        self._changed()
        return {}

    def _delete_boundary(self, ctx: Any, kind: str, name: str) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        if holder.pop("PermissionsBoundary", None) is not None:
            self.store.save(kind, holder)
            self._changed()
        return {}

    def put_user_permissions_boundary(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_boundary(ctx, "user", params["UserName"], params["PermissionsBoundary"])

    def put_role_permissions_boundary(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_boundary(ctx, "role", params["RoleName"], params["PermissionsBoundary"])

    def delete_user_permissions_boundary(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._delete_boundary(ctx, "user", params["UserName"])

    def delete_role_permissions_boundary(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._delete_boundary(ctx, "role", params["RoleName"])
