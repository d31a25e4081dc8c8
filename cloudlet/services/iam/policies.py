"""Managed policies and their versions, attachments, and inline policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
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
)
from cloudlet.services.iam.managed import AWS_MANAGED
from cloudlet.services.iam.roles import unmodifiable
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
MAX_VERSIONS = 5
_HOLDERS = (("user", "UserName"), ("group", "GroupName"), ("role", "RoleName"))


class PolicyHandlers:
    store: Any
    _entity: Any
    _changed: Any
    _now: Any
    _managed_policy: Any
    _boundary_holders: Callable[[str, str], dict[str, list[Doc]]]

    # -- helpers ----------------------------------------------------------------------------

    def _attachments(self, account: str, arn: str) -> dict[str, list[Doc]]:
        return {
            kind: [d for d in self.store.all(kind, account) if arn in d["Attached"]]
            for kind, _ in _HOLDERS
        }

    def _public_policy(self, account: str, doc: Doc, *, tags: bool = True) -> Result:
        count = sum(len(v) for v in self._attachments(account, doc["Arn"]).values())
        bounded = sum(len(v) for v in self._boundary_holders(account, doc["Arn"]).values())
        out: Result = {
            "PolicyName": doc["PolicyName"],
            "PolicyId": doc["PolicyId"],
            "Arn": doc["Arn"],
            "Path": doc["Path"],
            "DefaultVersionId": doc["DefaultVersionId"],
            "AttachmentCount": count,
            "PermissionsBoundaryUsageCount": bounded,
            "IsAttachable": True,
            "CreateDate": dt(doc["CreateDate"]),
            "UpdateDate": dt(doc["UpdateDate"]),
        }
        if doc.get("Description"):
            out["Description"] = doc["Description"]
        if tags and doc["Tags"]:
            out["Tags"] = tag_list(doc["Tags"])
        return out

    def _local_policy(self, account: str, arn: str) -> Doc:
        doc = self.store.get("policy", key(account, arn))
        if doc is None:
            if arn in AWS_MANAGED:
                raise errors.invalid_input(
                    f"ARN {arn} is an AWS managed policy and cannot be changed."
                )
            raise errors.no_such_entity(f"Policy {arn} was not found.")
        return doc

    @staticmethod
    def _version(doc: Doc, version_id: str, *, full: bool = True) -> Result:
        version = doc["Versions"][version_id]
        out: Result = {
            "VersionId": version_id,
            "IsDefaultVersion": version_id == doc["DefaultVersionId"],
            "CreateDate": dt(version["CreateDate"]),
        }
        if full:
            out["Document"] = encode(version["Document"])
        return out

    # -- managed policies --------------------------------------------------------------------

    def create_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["PolicyName"]
        path = check_path(params.get("Path"))
        arn = f"arn:aws:iam::{account}:policy{path}{name}"
        if self.store.get("policy", key(account, arn)) is not None:
            raise errors.ServiceError(
                "EntityAlreadyExists",
                f"A policy called {name} already exists. Duplicate names are not allowed.",
                409,
            )
        now = self._now()
        doc: Doc = {
            "PolicyName": name,
            "PolicyId": unique_id("ANPA"),
            "Arn": arn,
            "Path": path,
            "DefaultVersionId": "v1",
            "Description": params.get("Description") or "",
            "CreateDate": now,
            "UpdateDate": now,
            "Tags": {},
            "Versions": {
                "v1": {"Document": check_document(params["PolicyDocument"]), "CreateDate": now}
            },
            "NextVersion": 2,
        }
        merge_tags(doc["Tags"], params.get("Tags"))
        self.store.put("policy", key(account, arn), doc)
        return {"Policy": self._public_policy(account, doc)}

    def get_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["PolicyArn"]
        doc = AWS_MANAGED.get(arn) or self.store.get("policy", key(ctx.account_id, arn))
        if doc is None:
            raise errors.no_such_entity(f"Policy {arn} was not found.")
        return {"Policy": self._public_policy(ctx.account_id, doc)}

    def list_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        scope = params.get("Scope") or "All"
        docs: list[Doc] = []
        if scope in ("All", "AWS"):
            docs.extend(AWS_MANAGED.values())
        if scope in ("All", "Local"):
            docs.extend(self.store.all("policy", account))
        prefix = params.get("PathPrefix") or "/"
        listed = [
            self._public_policy(account, d, tags=False)
            for d in sorted(docs, key=lambda d: d["PolicyName"].lower())
            if d["Path"].startswith(prefix)
        ]
        if params.get("OnlyAttached"):
            listed = [p for p in listed if p["AttachmentCount"]]
        return page(listed, params, "Policies")

    def delete_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        doc = self._local_policy(account, params["PolicyArn"])
        if any(self._attachments(account, doc["Arn"]).values()) or any(
            self._boundary_holders(account, doc["Arn"]).values()
        ):
            raise errors.delete_conflict("Cannot delete a policy attached to entities.")
        if len(doc["Versions"]) > 1:
            raise errors.delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy."
            )
        self.store.delete("policy", doc["_key"])
        self._changed()
        return {}

    def tag_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._local_policy(ctx.account_id, params["PolicyArn"])
        merge_tags(doc["Tags"], params["Tags"])
        self.store.save("policy", doc)
        return {}

    def untag_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._local_policy(ctx.account_id, params["PolicyArn"])
        for k in params["TagKeys"]:
            doc["Tags"].pop(k, None)
        self.store.save("policy", doc)
        return {}

    def list_policy_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        return tag_page(self._local_policy(ctx.account_id, params["PolicyArn"])["Tags"], params)

    # -- versions --------------------------------------------------------------------------

    def create_policy_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._local_policy(ctx.account_id, params["PolicyArn"])
        text = check_document(params["PolicyDocument"])
        if len(doc["Versions"]) >= MAX_VERSIONS:
            raise errors.limit_exceeded(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new "
                "version, you must delete an existing version."
            )
        version_id = f"v{doc['NextVersion']}"
        doc["NextVersion"] += 1
        now = self._now()
        doc["Versions"][version_id] = {"Document": text, "CreateDate": now}
        if params.get("SetAsDefault"):
            doc["DefaultVersionId"] = version_id
        doc["UpdateDate"] = now
        self.store.save("policy", doc)
        self._changed()
        return {"PolicyVersion": self._version(doc, version_id, full=False)}

    def _version_of(self, doc: Doc, version_id: str) -> str:
        if version_id not in doc["Versions"]:
            raise errors.no_such_entity(
                f"Policy {doc['Arn']} version {version_id} does not exist or is not attachable."
            )
        return version_id

    def get_policy_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._managed_policy(ctx.account_id, params["PolicyArn"])
        version_id = self._version_of(doc, params["VersionId"])
        return {"PolicyVersion": self._version(doc, version_id)}

    def list_policy_versions(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._managed_policy(ctx.account_id, params["PolicyArn"])
        ids = sorted(doc["Versions"], key=lambda v: int(v[1:]), reverse=True)
        return page([self._version(doc, v, full=False) for v in ids], params, "Versions")

    def set_default_policy_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._local_policy(ctx.account_id, params["PolicyArn"])
        doc["DefaultVersionId"] = self._version_of(doc, params["VersionId"])
        doc["UpdateDate"] = self._now()
        self.store.save("policy", doc)
        self._changed()
        return {}

    def delete_policy_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._local_policy(ctx.account_id, params["PolicyArn"])
        version_id = self._version_of(doc, params["VersionId"])
        if version_id == doc["DefaultVersionId"]:
            raise errors.delete_conflict("Cannot delete the default version of a policy.")
        del doc["Versions"][version_id]
        self.store.save("policy", doc)
        return {}

    # -- attachments -------------------------------------------------------------------------

    def _attach(self, ctx: Any, kind: str, name: str, arn: str) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        self._managed_policy(ctx.account_id, arn)
        if arn not in holder["Attached"]:
            if len(holder["Attached"]) >= 10:
                raise errors.limit_exceeded(
                    f"Cannot exceed quota for PoliciesPer{kind.capitalize()}: 10"
                )
            holder["Attached"].append(arn)
            self.store.save(kind, holder)
            self._changed()
        return {}

    def _detach(self, ctx: Any, kind: str, name: str, arn: str) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        if arn not in holder["Attached"]:
            raise errors.no_such_entity(f"Policy {arn} was not found.")
        holder["Attached"].remove(arn)
        self.store.save(kind, holder)
        self._changed()
        return {}

    def _list_attached(self, ctx: Any, kind: str, name: str, params: dict[str, Any]) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        prefix = params.get("PathPrefix") or "/"
        listed = []
        for arn in holder["Attached"]:
            doc = AWS_MANAGED.get(arn) or self.store.get("policy", key(ctx.account_id, arn))
            if doc is not None and doc["Path"].startswith(prefix):
                listed.append({"PolicyName": doc["PolicyName"], "PolicyArn": arn})
        return page(listed, params, "AttachedPolicies")

    def attach_user_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._attach(ctx, "user", params["UserName"], params["PolicyArn"])

    def attach_group_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._attach(ctx, "group", params["GroupName"], params["PolicyArn"])

    def attach_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        if self._entity("role", ctx.account_id, params["RoleName"]).get("ServiceLinked"):
            raise unmodifiable(params["RoleName"])
        return self._attach(ctx, "role", params["RoleName"], params["PolicyArn"])

    def detach_user_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._detach(ctx, "user", params["UserName"], params["PolicyArn"])

    def detach_group_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._detach(ctx, "group", params["GroupName"], params["PolicyArn"])

    def detach_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        if self._entity("role", ctx.account_id, params["RoleName"]).get("ServiceLinked"):
            raise unmodifiable(params["RoleName"])
        return self._detach(ctx, "role", params["RoleName"], params["PolicyArn"])

    def list_attached_user_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_attached(ctx, "user", params["UserName"], params)

    def list_attached_group_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_attached(ctx, "group", params["GroupName"], params)

    def list_attached_role_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_attached(ctx, "role", params["RoleName"], params)

    def list_entities_for_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, arn = ctx.account_id, params["PolicyArn"]
        self._managed_policy(account, arn)
        usage = params.get("PolicyUsageFilter")
        if usage not in (None, "PermissionsPolicy", "PermissionsBoundary"):
            raise errors.validation(
                f"1 validation error detected: Value '{usage}' at 'policyUsageFilter' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[PermissionsPolicy, PermissionsBoundary]"
            )
        found: dict[str, list[Doc]] = {kind: [] for kind, _ in _HOLDERS}
        if usage != "PermissionsBoundary":
            found = self._attachments(account, arn)
        if usage != "PermissionsPolicy":
            for kind, docs in self._boundary_holders(account, arn).items():
                found[kind] += [d for d in docs if d not in found[kind]]
        prefix = params.get("PathPrefix") or "/"
        wanted = params.get("EntityFilter")
        out: Result = {"PolicyUsers": [], "PolicyGroups": [], "PolicyRoles": []}
        for kind, name_key in _HOLDERS:
            if wanted and wanted.lower() != kind:
                continue
            member = f"Policy{kind.capitalize()}s"
            id_key = name_key.replace("Name", "Id")
            out[member] = [
                {name_key: d[name_key], id_key: d[id_key]}
                for d in found[kind]
                if d["Path"].startswith(prefix)
            ]
        out["IsTruncated"] = False
        return out

    # -- inline policies -----------------------------------------------------------------------

    def _put_inline(self, ctx: Any, kind: str, name: str, params: dict[str, Any]) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        holder["Inline"][params["PolicyName"]] = check_document(params["PolicyDocument"])
        self.store.save(kind, holder)
        self._changed()
        return {}

    def _get_inline(self, ctx: Any, kind: str, name_key: str, params: dict[str, Any]) -> Result:
        holder = self._entity(kind, ctx.account_id, params[name_key])
        policy_name = params["PolicyName"]
        text = holder["Inline"].get(policy_name)
        if text is None:
            raise errors.no_such_entity(
                f"The {kind} policy with name {policy_name} cannot be found."
            )
        return {
            name_key: holder[name_key],
            "PolicyName": policy_name,
            "PolicyDocument": encode(text),
        }

    def _delete_inline(self, ctx: Any, kind: str, name: str, policy_name: str) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        if holder["Inline"].pop(policy_name, None) is None:
            raise errors.no_such_entity(
                f"The {kind} policy with name {policy_name} cannot be found."
            )
        self.store.save(kind, holder)
        self._changed()
        return {}

    def _list_inline(self, ctx: Any, kind: str, name: str, params: dict[str, Any]) -> Result:
        holder = self._entity(kind, ctx.account_id, name)
        return page(sorted(holder["Inline"]), params, "PolicyNames")

    def put_user_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_inline(ctx, "user", params["UserName"], params)

    def put_group_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_inline(ctx, "group", params["GroupName"], params)

    def put_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._put_inline(ctx, "role", params["RoleName"], params)

    def get_user_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._get_inline(ctx, "user", "UserName", params)

    def get_group_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._get_inline(ctx, "group", "GroupName", params)

    def get_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._get_inline(ctx, "role", "RoleName", params)

    def delete_user_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._delete_inline(ctx, "user", params["UserName"], params["PolicyName"])

    def delete_group_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._delete_inline(ctx, "group", params["GroupName"], params["PolicyName"])

    def delete_role_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._delete_inline(ctx, "role", params["RoleName"], params["PolicyName"])

    def list_user_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_inline(ctx, "user", params["UserName"], params)

    def list_group_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_inline(ctx, "group", params["GroupName"], params)

    def list_role_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._list_inline(ctx, "role", params["RoleName"], params)
