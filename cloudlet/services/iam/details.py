"""GetAccountAuthorizationDetails: every user, group, role and managed policy of the
account with their policies, in one paged answer (what auditing tools snapshot).

Local managed policies are all listed; AWS managed policies only those the account
uses (attached, or set as a permissions boundary), as AWS lists them. The pages run
over users, then groups, then roles, then policies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.boundaries import boundary_view
from cloudlet.services.iam.common import dt, encode, page, tag_list
from cloudlet.services.iam.managed import AWS_MANAGED
from cloudlet.services.iam.roles import public_role
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
_LISTS = {
    "user": "UserDetailList",
    "group": "GroupDetailList",
    "role": "RoleDetailList",
    "policy": "Policies",
}


class DetailHandlers:
    store: Any
    _public_policy: Callable[..., Result]
    _public_profile: Callable[[str, Doc], Result]
    _role_last_used: Callable[[Doc], Result]

    def _attached(self, account: str, doc: Doc) -> list[Result]:
        out = []
        for arn in doc["Attached"]:
            managed = AWS_MANAGED.get(arn) or self.store.get("policy", key(account, arn))
            if managed is not None:
                out.append({"PolicyName": managed["PolicyName"], "PolicyArn": arn})
        return out

    @staticmethod
    def _inline(doc: Doc) -> list[Result]:
        return [
            {"PolicyName": name, "PolicyDocument": encode(text)}
            for name, text in sorted(doc["Inline"].items())
        ]

    def _user_detail(self, account: str, doc: Doc) -> Result:
        groups = [
            g["GroupName"]
            for g in self.store.all("group", account)
            if doc["UserName"] in g["Members"]
        ]
        out: Result = {
            "Path": doc["Path"],
            "UserName": doc["UserName"],
            "UserId": doc["UserId"],
            "Arn": doc["Arn"],
            "CreateDate": dt(doc["CreateDate"]),
            "UserPolicyList": self._inline(doc),
            "GroupList": sorted(groups),
            "AttachedManagedPolicies": self._attached(account, doc),
            "Tags": tag_list(doc["Tags"]),
        }
        boundary = boundary_view(doc)
        if boundary is not None:
            out["PermissionsBoundary"] = boundary
        return out

    def _group_detail(self, account: str, doc: Doc) -> Result:
        return {
            "Path": doc["Path"],
            "GroupName": doc["GroupName"],
            "GroupId": doc["GroupId"],
            "Arn": doc["Arn"],
            "CreateDate": dt(doc["CreateDate"]),
            "GroupPolicyList": self._inline(doc),
            "AttachedManagedPolicies": self._attached(account, doc),
        }

    def _role_detail(self, account: str, doc: Doc) -> Result:
        out = public_role(doc)
        out["RoleLastUsed"] = self._role_last_used(doc)
        out.pop("Description", None)
        out.pop("MaxSessionDuration", None)
        out["Tags"] = tag_list(doc["Tags"])
        profiles = [
            p for p in self.store.all("instance_profile", account) if doc["RoleName"] in p["Roles"]
        ]
        out["InstanceProfileList"] = [self._public_profile(account, p) for p in profiles]
        out["RolePolicyList"] = self._inline(doc)
        out["AttachedManagedPolicies"] = self._attached(account, doc)
        return out

    def _policy_detail(self, account: str, doc: Doc) -> Result:
        out = self._public_policy(account, doc, tags=False)
        out["PolicyVersionList"] = [
            {
                "Document": encode(version["Document"]),
                "VersionId": version_id,
                "IsDefaultVersion": version_id == doc["DefaultVersionId"],
                "CreateDate": dt(version["CreateDate"]),
            }
            for version_id, version in sorted(
                doc["Versions"].items(), key=lambda v: int(v[0][1:]), reverse=True
            )
        ]
        return out

    def _used_aws_policies(self, account: str) -> list[Doc]:
        used: set[str] = set()
        for kind in ("user", "group", "role"):
            for doc in self.store.all(kind, account):
                used.update(doc["Attached"])
                if doc.get("PermissionsBoundary"):
                    used.add(doc["PermissionsBoundary"])
        return [AWS_MANAGED[arn] for arn in sorted(used) if arn in AWS_MANAGED]

    def get_account_authorization_details(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        wanted = params.get("Filter") or list(_FILTERS)
        for name in wanted:
            if name not in _FILTERS:
                raise errors.validation(
                    f"1 validation error detected: Value '[{name}]' at 'filter' failed to "
                    "satisfy constraint: Member must satisfy constraint: [Member must satisfy "
                    "enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]"
                )
        items: list[tuple[str, Result]] = []
        for kind, member, build in (
            ("user", "User", self._user_detail),
            ("group", "Group", self._group_detail),
            ("role", "Role", self._role_detail),
        ):
            if member in wanted:
                docs = sorted(self.store.all(kind, account), key=lambda d: d["Arn"])
                items += [(kind, build(account, d)) for d in docs]
        policies: list[Doc] = []
        if "LocalManagedPolicy" in wanted:
            policies += sorted(self.store.all("policy", account), key=lambda d: d["Arn"])
        if "AWSManagedPolicy" in wanted:
            policies += self._used_aws_policies(account)
        items += [("policy", self._policy_detail(account, d)) for d in policies]
        paged = page(items, params, "Items")
        out: Result = {member: [] for member in _LISTS.values()}
        for kind, detail in paged.pop("Items"):
            out[_LISTS[kind]].append(detail)
        return {**out, **paged}
