"""Function resource policies: AddPermission, RemovePermission, GetPolicy.

Statements are stored as AWS builds them (``Principal`` as ``{"Service": ...}``
or ``{"AWS": "arn:aws:iam::<account>:root"}``, conditions on the source ARN,
source account and function URL auth type) and rendered as one policy
document per qualifier. ``policy_resource`` hands the document to strict-mode
evaluation (the IAM seam in ``base.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, parse_name
from cloudlet.services.awslambda.layer_policy import GET_LAYER, LAYER_ARN, layer_key, policy_text

Result = dict[str, Any]
_SID = re.compile(r"^[a-zA-Z0-9-_]+$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _principal(value: str) -> dict[str, str] | str:
    if value == "*":
        return "*"
    if _ACCOUNT.match(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    return {"Service": value}


class PermissionsMixin:
    def _policy_doc(
        self, ctx: Any, doc: dict[str, Any], qualifier: str | None
    ) -> dict[str, Any] | None:
        statements = [s["statement"] for s in doc["policy"] if s.get("qualifier") == qualifier]
        if not statements:
            return None
        return {"Version": "2012-10-17", "Id": "default", "Statement": statements}

    def add_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params)
        if qualifier:
            self._config(ctx, doc, qualifier)
        sid = params["StatementId"]
        if not _SID.match(sid):
            raise errors.invalid(
                f"1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint"
            )
        action = params["Action"]
        if not (action.startswith("lambda:") or action == "*"):
            raise errors.invalid(
                f"1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint"
            )
        if any(
            s["statement"]["Sid"] == sid and s.get("qualifier") == qualifier for s in doc["policy"]
        ):
            raise errors.conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the "
                "existing statement."
            )
        if params.get("RevisionId") and params["RevisionId"] != doc["latest"]["RevisionId"]:
            raise errors.precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
                "the latest Revision Id"
            )
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": _principal(params["Principal"]),
            "Action": action,
            "Resource": function_arn(ctx, doc["name"], qualifier),
        }
        condition: dict[str, dict[str, str]] = {}
        if params.get("SourceAccount"):
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if params.get("PrincipalOrgID"):
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params[
                "PrincipalOrgID"
            ]
        if params.get("EventSourceToken"):
            condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params[
                "EventSourceToken"
            ]
        if params.get("FunctionUrlAuthType"):
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params[
                "FunctionUrlAuthType"
            ]
        if params.get("SourceArn"):
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if condition:
            statement["Condition"] = condition
        doc["policy"].append({"qualifier": qualifier, "statement": statement})
        doc["policy_revision"] = fast_uuid()
        self.store.save_function(doc)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params)
        sid = params["StatementId"]
        before = len(doc["policy"])
        doc["policy"] = [
            s
            for s in doc["policy"]
            if not (s["statement"]["Sid"] == sid and s.get("qualifier") == qualifier)
        ]
        if len(doc["policy"]) == before:
            raise errors.not_found(f"Statement {sid} is not found in resource policy.")
        doc["policy_revision"] = fast_uuid()
        self.store.save_function(doc)
        return {}

    def get_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        policy = self._policy_doc(ctx, doc, self._qualifier(params))
        if policy is None:
            raise errors.resource_not_found()
        return {
            "Policy": json.dumps(policy, separators=(",", ":")),
            "RevisionId": doc.get("policy_revision") or doc["latest"]["RevisionId"],
        }

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """The function or layer (version) an operation acts on and its resource policy
        (strict-mode seam)."""
        if operation in _LAYER_OPERATIONS:
            return self._layer_resource(ctx, params)
        name = params.get("FunctionName")
        if not name:
            return "*", None
        try:
            fn, qual = parse_name(name)
        except errors.ServiceError:
            return "*", None
        qualifier = params.get("Qualifier") or qual
        arn = function_arn(ctx, fn, qualifier)
        doc = self.store.functions.get((ctx.account_id, ctx.region, fn))
        if doc is None:
            return arn, None
        policy = self._policy_doc(ctx, doc, qualifier)
        return arn, json.dumps(policy) if policy else None

    def _layer_resource(self, ctx: Any, params: dict[str, Any]) -> tuple[str, str | None]:
        """A layer operation's resource: the version's ARN (with its policy, which may
        grant GetLayerVersion to the caller's account), else the layer's."""
        arn = params.get("Arn")
        if arn is None:
            account, region, name = layer_key(ctx, params.get("LayerName") or "")
            arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
            if params.get("VersionNumber") is not None:
                arn = f"{arn}:{params['VersionNumber']}"
        m = LAYER_ARN.match(arn)
        if m is None or m.group("version") is None:
            return arn, None
        doc = self.store.layers.get((m.group("account"), m.group("region"), m.group("name")))
        version = (doc or {"versions": {}})["versions"].get(m.group("version"))
        return arn, policy_text(version)

    def dependent_actions(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """A function built on layers needs ``lambda:GetLayerVersion`` on each version too
        (the developer guide's layer permissions)."""
        if operation not in ("CreateFunction", "UpdateFunctionConfiguration"):
            return ()
        return tuple((GET_LAYER, arn) for arn in params.get("Layers") or [] if isinstance(arn, str))


_LAYER_OPERATIONS = frozenset(
    {
        "PublishLayerVersion",
        "GetLayerVersion",
        "GetLayerVersionByArn",
        "ListLayerVersions",
        "DeleteLayerVersion",
        "AddLayerVersionPermission",
        "GetLayerVersionPolicy",
        "RemoveLayerVersionPermission",
    }
)
