"""IAM users, groups (membership) and access keys."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.common import (
    check_path,
    dt,
    merge_tags,
    page,
    tag_page,
    unique_id,
    with_prefix,
)
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_KEYS_PER_USER = 2
_KEY_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"
# What a user holds besides access keys that DeleteUser refuses to leave behind.
_USER_CREDENTIALS = {
    "signing_certificate": "signing certificates",
    "ssh_public_key": "SSH public keys",
    "service_credential": "service-specific credentials",
}


class UserHandlers:
    store: Any
    _entity: Any
    _changed: Any
    _now: Any
    _public_user: Any
    _register_key: Any
    _unregister_key: Any
    _caller_user: Any
    _boundary_arn: Callable[[str, str], str]
    tracker: Any

    # -- users ---------------------------------------------------------------------------

    def create_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["UserName"]
        if self.store.get("user", key(account, name)) is not None:
            raise errors.already_exists("user", name)
        path = check_path(params.get("Path"))
        doc: Doc = {
            "UserName": name,
            "UserId": unique_id("AIDA"),
            "Arn": f"arn:aws:iam::{account}:user{path}{name}",
            "Path": path,
            "CreateDate": self._now(),
            "Tags": {},
            "Inline": {},
            "Attached": [],
        }
        if params.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = self._boundary_arn(account, params["PermissionsBoundary"])
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("user", key(account, name), doc)
        self._changed()
        return {"User": self._public_user(doc, tags=True)}

    def get_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params.get("UserName")
        if name is None:
            me = self._caller_user(ctx)
            if me is None:
                principal = getattr(ctx, "principal", None)
                if principal is not None and principal.kind == "assumed-role":
                    raise errors.validation(
                        "Must specify userName when calling with non-User credentials"
                    )
                account = ctx.account_id
                return {
                    "User": {
                        "Path": "/",
                        "UserId": account,
                        "Arn": f"arn:aws:iam::{account}:root",
                        "CreateDate": dt(0),
                    }
                }
            return {"User": self._public_user(me, tags=True)}
        return {"User": self._public_user(self._entity("user", ctx.account_id, name), tags=True)}

    def list_users(self, ctx: Any, params: dict[str, Any]) -> Result:
        docs = with_prefix(
            self.store.all("user", ctx.account_id), params.get("PathPrefix"), "UserName"
        )
        return page([self._public_user(d) for d in docs], params, "Users")

    def update_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("user", account, params["UserName"])
        new_name = params.get("NewUserName")
        if params.get("NewPath"):
            doc["Path"] = check_path(params["NewPath"])
        if new_name and new_name != doc["UserName"]:
            if self.store.get("user", key(account, new_name)) is not None:
                raise errors.already_exists("user", new_name)
            old = doc["UserName"]
            self.store.delete("user", key(account, old))
            doc["UserName"] = new_name
            for group in self.store.all("group", account):
                if old in group["Members"]:
                    group["Members"] = [new_name if m == old else m for m in group["Members"]]
                    self.store.save("group", group)
            for akey in self.store.all("access_key", account):
                if akey["UserName"] == old:
                    akey["UserName"] = new_name
                    self.store.save("access_key", akey)
            for device in self.store.all("mfa_device", account):
                if device.get("User") == old:
                    device["User"] = new_name
                    self.store.save("mfa_device", device)
            for kind in _USER_CREDENTIALS:
                for held in self.store.all(kind, account):
                    if held["UserName"] == old:
                        held["UserName"] = new_name
                        self.store.save(kind, held)
        old_arn = doc["Arn"]
        doc["Arn"] = f"arn:aws:iam::{account}:user{doc['Path']}{doc['UserName']}"
        self.tracker.rename(old_arn, doc["Arn"])
        self.store.put("user", key(account, doc["UserName"]), doc)
        for akey in self.store.all("access_key", account):
            if akey["UserName"] == doc["UserName"] and akey["Status"] == "Active":
                self._register_key(akey)
        self._changed()
        return {}

    def delete_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["UserName"]
        doc = self._entity("user", account, name)
        if any(k["UserName"] == name for k in self.store.all("access_key", account)):
            raise errors.delete_conflict("Cannot delete entity, must delete access keys first.")
        for kind, what in _USER_CREDENTIALS.items():
            if any(d["UserName"] == name for d in self.store.all(kind, account)):
                raise errors.delete_conflict(f"Cannot delete entity, must delete {what} first.")
        if doc.get("LoginProfile"):
            raise errors.delete_conflict("Cannot delete entity, must delete login profile first.")
        if any(d.get("User") == name for d in self.store.all("mfa_device", account)):
            raise errors.delete_conflict("Cannot delete entity, must delete MFA device first.")
        if doc["Inline"]:
            raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
        if doc["Attached"]:
            raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
        if any(name in g["Members"] for g in self.store.all("group", account)):
            raise errors.delete_conflict(
                "Cannot delete entity, must remove users from group first."
            )
        self.store.delete("user", key(account, name))
        self.tracker.forget(doc["Arn"])
        self._changed()
        return {}

    def tag_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("user", ctx.account_id, params["UserName"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("user", doc)
        return {}

    def untag_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("user", ctx.account_id, params["UserName"])
        for k in params["TagKeys"]:
            doc["Tags"].pop(k, None)
        self.store.save("user", doc)
        return {}

    def list_user_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._entity("user", ctx.account_id, params["UserName"])
        return tag_page(doc["Tags"], params)

    # -- groups ---------------------------------------------------------------------------

    @staticmethod
    def _public_group(doc: Doc) -> Result:
        return {
            "Path": doc["Path"],
            "GroupName": doc["GroupName"],
            "GroupId": doc["GroupId"],
            "Arn": doc["Arn"],
            "CreateDate": dt(doc["CreateDate"]),
        }

    def create_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["GroupName"]
        if self.store.get("group", key(account, name)) is not None:
            raise errors.already_exists("group", name)
        path = check_path(params.get("Path"))
        doc: Doc = {
            "GroupName": name,
            "GroupId": unique_id("AGPA"),
            "Arn": f"arn:aws:iam::{account}:group{path}{name}",
            "Path": path,
            "CreateDate": self._now(),
            "Members": [],
            "Inline": {},
            "Attached": [],
        }
        self.store.put("group", key(account, name), doc)
        return {"Group": self._public_group(doc)}

    def get_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("group", account, params["GroupName"])
        users = [self.store.get("user", key(account, m)) for m in doc["Members"]]
        listed = [self._public_user(u) for u in users if u is not None]
        out = page(listed, params, "Users")
        out["Group"] = self._public_group(doc)
        return out

    def list_groups(self, ctx: Any, params: dict[str, Any]) -> Result:
        docs = with_prefix(
            self.store.all("group", ctx.account_id), params.get("PathPrefix"), "GroupName"
        )
        return page([self._public_group(d) for d in docs], params, "Groups")

    def update_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._entity("group", account, params["GroupName"])
        if params.get("NewPath"):
            doc["Path"] = check_path(params["NewPath"])
        new_name = params.get("NewGroupName")
        if new_name and new_name != doc["GroupName"]:
            if self.store.get("group", key(account, new_name)) is not None:
                raise errors.already_exists("group", new_name)
            self.store.delete("group", key(account, doc["GroupName"]))
            doc["GroupName"] = new_name
        doc["Arn"] = f"arn:aws:iam::{account}:group{doc['Path']}{doc['GroupName']}"
        self.store.put("group", key(account, doc["GroupName"]), doc)
        self._changed()
        return {}

    def delete_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["GroupName"]
        doc = self._entity("group", account, name)
        if doc["Members"]:
            raise errors.delete_conflict(
                "Cannot delete entity, must remove users from group first."
            )
        if doc["Inline"]:
            raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
        if doc["Attached"]:
            raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
        self.store.delete("group", key(account, name))
        self._changed()
        return {}

    def add_user_to_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        group = self._entity("group", account, params["GroupName"])
        user = self._entity("user", account, params["UserName"])
        if user["UserName"] not in group["Members"]:
            group["Members"].append(user["UserName"])
            self.store.save("group", group)
            self._changed()
        return {}

    def remove_user_from_group(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        group = self._entity("group", account, params["GroupName"])
        name = params["UserName"]
        self._entity("user", account, name)
        if name not in group["Members"]:
            raise errors.no_such_entity(
                f"The user with name {name} cannot be found in group {group['GroupName']}."
            )
        group["Members"].remove(name)
        self.store.save("group", group)
        self._changed()
        return {}

    def list_groups_for_user(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["UserName"]
        self._entity("user", account, name)
        groups = [g for g in self.store.all("group", account) if name in g["Members"]]
        groups.sort(key=lambda g: g["GroupName"].lower())
        return page([self._public_group(g) for g in groups], params, "Groups")

    # -- access keys -------------------------------------------------------------------------

    def _key_owner(self, ctx: Any, params: dict[str, Any]) -> str:
        """The named user, else the caller (an IAM user managing their own keys)."""
        if params.get("UserName"):
            return self._entity("user", ctx.account_id, params["UserName"])["UserName"]
        me = self._caller_user(ctx)
        if me is None:
            raise errors.validation("Must specify userName when calling with non-User credentials")
        return me["UserName"]

    def _access_key(self, ctx: Any, params: dict[str, Any]) -> Doc:
        owner = self._key_owner(ctx, params)
        access_key = params["AccessKeyId"]
        doc = self.store.get("access_key", key(ctx.account_id, access_key))
        if doc is None or doc["UserName"] != owner:
            raise errors.no_such_entity(f"The Access Key with id {access_key} cannot be found.")
        return doc

    def create_access_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        owner = self._key_owner(ctx, params)
        existing = [k for k in self.store.all("access_key", account) if k["UserName"] == owner]
        if len(existing) >= MAX_KEYS_PER_USER:
            raise errors.limit_exceeded(
                f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )
        access_key = "AKIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))
        doc: Doc = {
            "UserName": owner,
            "AccessKeyId": access_key,
            "SecretAccessKey": "".join(secrets.choice(_SECRET_CHARS) for _ in range(40)),
            "Status": "Active",
            "CreateDate": self._now(),
        }
        self.store.put("access_key", key(account, access_key), doc)
        self._register_key(doc)
        return {"AccessKey": {**self._public_key(doc), "SecretAccessKey": doc["SecretAccessKey"]}}

    @staticmethod
    def _public_key(doc: Doc) -> Result:
        return {
            "UserName": doc["UserName"],
            "AccessKeyId": doc["AccessKeyId"],
            "Status": doc["Status"],
            "CreateDate": dt(doc["CreateDate"]),
        }

    def list_access_keys(self, ctx: Any, params: dict[str, Any]) -> Result:
        owner = self._key_owner(ctx, params)
        docs = [k for k in self.store.all("access_key", ctx.account_id) if k["UserName"] == owner]
        docs.sort(key=lambda k: k["CreateDate"])
        return page([self._public_key(d) for d in docs], params, "AccessKeyMetadata")

    def update_access_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._access_key(ctx, params)
        status = params["Status"]
        if status not in ("Active", "Inactive"):
            raise errors.validation(
                f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Active, Inactive]"
            )
        doc["Status"] = status
        self.store.save("access_key", doc)
        if status == "Active":
            self._register_key(doc)
        else:
            self._unregister_key(doc["AccessKeyId"])
        return {}

    def delete_access_key(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._access_key(ctx, params)
        self.store.delete("access_key", doc["_key"])
        self._unregister_key(doc["AccessKeyId"])
        return {}

    def get_access_key_last_used(self, ctx: Any, params: dict[str, Any]) -> Result:
        access_key = params["AccessKeyId"]
        doc = self.store.get("access_key", key(ctx.account_id, access_key))
        if doc is None:
            raise errors.no_such_entity(f"The Access Key with id {access_key} cannot be found.")
        used = None
        credentials = getattr(self, "env", None) and self.env.credentials  # type: ignore[attr-defined]
        if credentials is not None:
            used = credentials.last_used.get(access_key)
        last: Result = {"ServiceName": "N/A", "Region": "N/A"}
        if used is not None:
            last = {"LastUsedDate": dt(used[0]), "ServiceName": used[1], "Region": used[2]}
        return {"UserName": doc["UserName"], "AccessKeyLastUsed": last}
