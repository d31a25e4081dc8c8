"""Resource policies: Put/Describe/DeleteResourcePolicy, and the policy AWS services meet.

A mixin of ``LogsService``. Why it works this way (the PutResourcePolicy reference and
the CloudFormation resource's limits):

- **Two scopes.** Without ``resourceArn`` a policy is the account's, by name, at most
  ``MAX_ACCOUNT_POLICIES`` (10) per Region (``LimitExceededException``). With a log
  group's ARN it is that group's one policy, guarded by revisions: each put gives a new
  ``revisionId``, and replacing or deleting one needs the current one as
  ``expectedRevisionId`` (none when creating), else ``OperationAbortedException``.
  Documents are IAM resource policies (checked by ``auth.policy``) of at most 5,120
  characters; a group's policy goes with the group.
- **Only AWS service principals.** The reference: a policy "only applies when
  operations are invoked by AWS service principals (not IAM users, roles, or
  cross-account principals)". So the document strict mode evaluates
  (``LogsService.policy_resource``) is the statements of the account's policies and the
  group's own whose ``Principal`` is ``{"Service": ...}``: EventBridge delivering to a
  log group (``ServiceEnv.service_may``) needs ``logs:CreateLogStream`` and
  ``logs:PutLogEvents`` granted there, while a user's request is decided by IAM alone.
- Durable in Logs' database (``policies`` documents; group policies in ``group_docs``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.auth import policy
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import group_arn, now_ms, page
from cloudlet.services.logs.store import Row, Store
from cloudlet.state.documents import DocumentStore

Result = dict[str, Any]
MAX_ACCOUNT_POLICIES = 10
MAX_DOCUMENT = 5120
KIND = "resource_policy"


def _aborted(message: str) -> ServiceError:
    return ServiceError("OperationAbortedException", message, 400)


def _service_statements(text: str) -> list[dict]:
    doc = json.loads(text)
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    return [
        st
        for st in statements or []
        if isinstance(st.get("Principal"), dict) and set(st["Principal"]) == {"Service"}
    ]


class ResourcePoliciesMixin:
    """Needs ``store`` and ``_group_by_arn`` (GroupsMixin)."""

    store: Store
    _group_by_arn: Callable[[Any, str], Row]

    def _start_resource_policies(self) -> None:
        self._policy_docs = DocumentStore(self.store.conn, "policies")
        self._resource_policies: dict[tuple[str, str, str], Result] = {
            (d["account"], d["region"], d["policyName"]): d
            for d in self._policy_docs.load("resource")
        }

    def _account_resource_policies(self, account: str, region: str) -> list[Result]:
        return [
            d
            for (a, r, _), d in sorted(self._resource_policies.items())
            if (a, r) == (account, region)
        ]

    # --- operations ------------------------------------------------------------------

    def put_resource_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        text = params.get("policyDocument")
        if not text:
            raise errors.invalid("policyDocument is required.")
        if len(text) > MAX_DOCUMENT:
            raise errors.invalid(
                f"The policy document can be at most {MAX_DOCUMENT} characters; it has {len(text)}."
            )
        try:
            policy.parse(text, "resource")
        except policy.MalformedPolicy as exc:
            raise errors.invalid(f"Invalid policy document: {exc}") from None
        if params.get("resourceArn"):
            return self._put_group_policy(ctx, params, text)
        name = params.get("policyName")
        if not name:
            raise errors.invalid("policyName is required when resourceArn is not given.")
        key = (ctx.account_id, ctx.region, name)
        mine = self._account_resource_policies(ctx.account_id, ctx.region)
        if key not in self._resource_policies and len(mine) >= MAX_ACCOUNT_POLICIES:
            raise errors.limit_exceeded()
        doc = {
            "account": ctx.account_id,
            "region": ctx.region,
            "policyName": name,
            "policyDocument": text,
            "lastUpdatedTime": now_ms(),
        }
        self._resource_policies[key] = doc
        self._policy_docs.put("resource", "|".join(key), doc)
        return {"resourcePolicy": _shape(doc)}

    def _put_group_policy(self, ctx: Any, params: dict[str, Any], text: str) -> Result:
        group = self._group_by_arn(ctx, params["resourceArn"])
        current = self.store.group_doc(group["id"], KIND)
        expected = params.get("expectedRevisionId")
        if current is None and expected is not None:
            raise _aborted(
                "The resource has no policy; leave expectedRevisionId out to create one."
            )
        if current is not None and expected != current["revisionId"]:
            raise _aborted(
                "expectedRevisionId does not match the current revision of the resource policy."
            )
        doc = {
            "policyDocument": text,
            "lastUpdatedTime": now_ms(),
            "resourceArn": group_arn(ctx, group["name"]),
            "revisionId": new_uuid(),
        }
        if params.get("policyName"):
            doc["policyName"] = params["policyName"]
        self.store.put_group_doc(group["id"], KIND, doc)
        return {"resourcePolicy": _shape(doc), "revisionId": doc["revisionId"]}

    def describe_resource_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        limit = int(params.get("limit") or 50)
        if not 1 <= limit <= 50:
            raise errors.constraint(
                limit, "limit", "Member must have value less than or equal to 50"
            )
        scope = params.get("policyScope") or (
            "RESOURCE" if params.get("resourceArn") else "ACCOUNT"
        )
        if scope == "ACCOUNT":
            found = self._account_resource_policies(ctx.account_id, ctx.region)
        elif params.get("resourceArn"):
            group = self._group_by_arn(ctx, params["resourceArn"])
            own = self.store.group_doc(group["id"], KIND)
            found = [own] if own is not None else []
        else:
            mine = {g["id"] for g in self.store.groups(ctx.account_id, ctx.region)}
            found = [doc for gid, doc in self.store.group_docs(KIND) if gid in mine]
            found.sort(key=lambda d: d["resourceArn"])
        chunk, token = page(found, params.get("nextToken"), limit)
        out: Result = {"resourcePolicies": [_shape(d) for d in chunk]}
        if token:
            out["nextToken"] = token
        return out

    def delete_resource_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("resourceArn"):
            group = self._group_by_arn(ctx, params["resourceArn"])
            current = self.store.group_doc(group["id"], KIND)
            if current is None:
                raise errors.not_found(f"The log group {group['name']} has no resource policy.")
            if params.get("expectedRevisionId") != current["revisionId"]:
                raise _aborted(
                    "expectedRevisionId does not match the current revision of the resource policy."
                )
            self.store.delete_group_doc(group["id"], KIND)
            return {}
        name = params.get("policyName")
        if not name:
            raise errors.invalid("policyName is required when resourceArn is not given.")
        key = (ctx.account_id, ctx.region, name)
        if self._resource_policies.pop(key, None) is None:
            raise errors.not_found(f"Policy with name [{name}] does not exist")
        self._policy_docs.delete("resource", "|".join(key))
        return {}

    # --- what AWS services meet --------------------------------------------------------

    def _service_policy(self, account: str, region: str, group_name: str | None) -> str | None:
        """The statements for AWS service principals that apply to ``group_name``: the
        account's policies' and the group's own, as one document (None: there are none)."""
        texts = [d["policyDocument"] for d in self._account_resource_policies(account, region)]
        group = self.store.group(account, region, group_name) if group_name else None
        own = self.store.group_doc(group["id"], KIND) if group is not None else None
        if own is not None:
            texts.append(own["policyDocument"])
        statements = [st for text in texts for st in _service_statements(text)]
        if not statements:
            return None
        return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _shape(doc: Result) -> Result:
    out: Result = {
        "policyDocument": doc["policyDocument"],
        "lastUpdatedTime": doc["lastUpdatedTime"],
        "policyScope": "RESOURCE" if doc.get("resourceArn") else "ACCOUNT",
    }
    for key in ("policyName", "resourceArn", "revisionId"):
        if doc.get(key):
            out[key] = doc[key]
    return out
