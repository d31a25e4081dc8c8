"""IAM roles (with their trust policies) and instance profiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.iam import errors
from cloudlet.services.iam.boundaries import boundary_view
from cloudlet.services.iam.common import (
    check_document,
    check_path,
    dt,
    encode,
    merge_tags,
    page,
    tag_list,
    tag_page,
    unique_id,
    with_prefix,
)
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]


def public_role(doc: Doc, *, full: bool = True) -> Result:
    out: Result = {
        "Path": doc["Path"],
        "RoleName": doc["RoleName"],
        "RoleId": doc["RoleId"],
        "Arn": doc["Arn"],
        "CreateDate": dt(doc["CreateDate"]),
        "AssumeRolePolicyDocument": encode(doc["AssumeRolePolicyDocument"]),
        "MaxSessionDuration": doc["MaxSessionDuration"],
    }
    if doc.get("Description"):
        out["Description"] = doc["Description"]
    if full:
        boundary = boundary_view(doc)
        if boundary is not None:
            out["PermissionsBoundary"] = boundary
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        out["RoleLastUsed"] = {}
    return out


def unmodifiable(name: str) -> ServiceError:
    """What IAM answers a change to a service-linked role (``service_roles``)."""
    return ServiceError(
        "UnmodifiableEntity",
        f"Cannot perform the operation on the protected role '{name}' - "
        "this role is only modifiable by AWS",
        400,
    )


def _check_duration(value: int | None) -> int:
    if value is None:
        return 3600
    if not 3600 <= value <= 43200:
        raise errors.validation(
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to "
            "satisfy constraint: Member must have value less than or equal to 43200"
        )
    return value


class RoleHandlers:
    store: Any
    _entity: Any
    _changed: Any
    _now: Any
    _boundary_arn: Callable[[str, str], str]
    tracker: Any

    def _role_last_used(self, doc: Doc) -> Result:
        """When and where the role's sessions last made a request strict mode evaluated
        (access advisor's data, ``tracking``): empty when never."""
        used = self.tracker.last_used(doc["Arn"])
        return {} if used is None else {"LastUsedDate": dt(used[0]), "Region": used[1]}

    # -- roles ------------------------------------------------------------------------------

    def create_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["RoleName"]
        if self.store.get("role", key(account, name)) is not None:
            raise errors.already_exists("role", name)
        path = check_path(params.get("Path"))
        doc: Doc = {
            "RoleName": name,
            "RoleId": unique_id("AROA"),
            "Arn": f"arn:aws:iam::{account}:role{path}{name}",
            "Path": path,
            "CreateDate": self._now(),
            "AssumeRolePolicyDocument": check_document(params["AssumeRolePolicyDocument"], "trust"),
            "Description": params.get("Description") or "",
            "MaxSessionDuration": _check_duration(params.get("MaxSessionDuration")),
            "Tags": {},
            "Inline": {},
            "Attached": [],
        }
        if params.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = self._boundary_arn(account, params["PermissionsBoundary"])
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("role", key(account, name), doc)
        self._changed()
        return {"Role": public_role(doc)}

    def get_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        out = public_role(doc)
        out["RoleLastUsed"] = self._role_last_used(doc)
        return {"Role": out}

    def list_roles(self, ctx: Any, params: dict[str, Any]) -> Result:
        docs = with_prefix(
            self.store.all("role", ctx.account_id), params.get("PathPrefix"), "RoleName"
        )
        return page([public_role(d, full=False) for d in docs], params, "Roles")

    def update_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        if "Description" in params:
            doc["Description"] = params["Description"]
        if params.get("MaxSessionDuration") is not None:
            doc["MaxSessionDuration"] = _check_duration(params["MaxSessionDuration"])
        self.store.save("role", doc)
        return {}

    def update_role_description(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        doc["Description"] = params["Description"]
        self.store.save("role", doc)
        return {"Role": public_role(doc)}

    def update_assume_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        if doc.get("ServiceLinked"):
            raise unmodifiable(doc["RoleName"])
        doc["AssumeRolePolicyDocument"] = check_document(params["PolicyDocument"], "trust")
        self.store.save("role", doc)
        self._changed()
        return {}

    def delete_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["RoleName"]
        doc = self._entity("role", account, name)
        if doc.get("ServiceLinked"):
            raise unmodifiable(name)
        if doc["Attached"]:
            raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
        if doc["Inline"]:
            raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
        if any(name in p["Roles"] for p in self.store.all("instance_profile", account)):
            raise errors.delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        self.store.delete("role", key(account, name))
        self.tracker.forget(doc["Arn"])
        self._changed()
        return {}

    def tag_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("role", doc)
        return {}

    def untag_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("role", ctx.account_id, params["RoleName"])
        for k in params["TagKeys"]:
            doc["Tags"].pop(k, None)
        self.store.save("role", doc)
        return {}

    def list_role_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        return tag_page(self._entity("role", ctx.account_id, params["RoleName"])["Tags"], params)

    # -- instance profiles ---------------------------------------------------------------------

    def _public_profile(self, account: str, doc: Doc) -> Result:
        roles = [self.store.get("role", key(account, r)) for r in doc["Roles"]]
        out: Result = {
            "Path": doc["Path"],
            "InstanceProfileName": doc["InstanceProfileName"],
            "InstanceProfileId": doc["InstanceProfileId"],
            "Arn": doc["Arn"],
            "CreateDate": dt(doc["CreateDate"]),
            "Roles": [public_role(r, full=False) for r in roles if r is not None],
        }
        if doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return out

    def create_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["InstanceProfileName"]
        if self.store.get("instance_profile", key(account, name)) is not None:
            raise errors.already_exists("instance_profile", name)
        path = check_path(params.get("Path"))
        doc: Doc = {
            "InstanceProfileName": name,
            "InstanceProfileId": unique_id("AIPA"),
            "Arn": f"arn:aws:iam::{account}:instance-profile{path}{name}",
            "Path": path,
            "CreateDate": self._now(),
            "Roles": [],
            "Tags": {},
        }
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("instance_profile", key(account, name), doc)
        return {"InstanceProfile": self._public_profile(account, doc)}

    def get_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("instance_profile", ctx.account_id, params["InstanceProfileName"])
        return {"InstanceProfile": self._public_profile(ctx.account_id, doc)}

    def list_instance_profiles(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        docs = with_prefix(
            self.store.all("instance_profile", account),
            params.get("PathPrefix"),
            "InstanceProfileName",
        )
        return page([self._public_profile(account, d) for d in docs], params, "InstanceProfiles")

    def delete_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("instance_profile", account, params["InstanceProfileName"])
        if doc["Roles"]:
            raise errors.delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        self.store.delete("instance_profile", doc["_key"])
        self._changed()
        return {}

    def add_role_to_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("instance_profile", account, params["InstanceProfileName"])
        role = self._entity("role", account, params["RoleName"])
        if doc["Roles"]:
            raise errors.limit_exceeded(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
            )
        doc["Roles"].append(role["RoleName"])
        self.store.save("instance_profile", doc)
        self._changed()
        return {}

    def remove_role_from_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("instance_profile", account, params["InstanceProfileName"])
        name = params["RoleName"]
        self._entity("role", account, name)
        if name not in doc["Roles"]:
            raise errors.no_such_entity(
                f"The role with name {name} cannot be found in instance profile "
                f"{doc['InstanceProfileName']}."
            )
        doc["Roles"].remove(name)
        self.store.save("instance_profile", doc)
        self._changed()
        return {}

    def list_instance_profiles_for_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["RoleName"]
        self._entity("role", account, name)
        docs = [p for p in self.store.all("instance_profile", account) if name in p["Roles"]]
        docs.sort(key=lambda p: p["InstanceProfileName"].lower())
        return page([self._public_profile(account, d) for d in docs], params, "InstanceProfiles")

    def tag_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("instance_profile", ctx.account_id, params["InstanceProfileName"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("instance_profile", doc)
        return {}

    def untag_instance_profile(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("instance_profile", ctx.account_id, params["InstanceProfileName"])
        for k in params["TagKeys"]:
            doc["Tags"].pop(k, None)
        self.store.save("instance_profile", doc)
        return {}

    def list_instance_profile_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("instance_profile", ctx.account_id, params["InstanceProfileName"])
        return tag_page(doc["Tags"], params)
