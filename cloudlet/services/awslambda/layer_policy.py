"""Layer version permissions: which other accounts may use a layer version.

Why: a layer is its account's own until the owner grants other accounts
``lambda:GetLayerVersion`` on one version (AddLayerVersionPermission), as AWS's
"Granting layer access to other accounts" describes. The grant is what lets another
account read the version (GetLayerVersion, GetLayerVersionByArn) and build functions on
it (CreateFunction, UpdateFunctionConfiguration's ``Layers``); without one AWS answers
``AccessDeniedException`` "... because no resource-based policy allows the
lambda:GetLayerVersion action". The layer's own account always may. Functions that
already use a version keep it when the grant is removed, as on AWS.

Cross-account access needs the grant in every auth mode, as CloudWatch Logs'
destinations need their access policy: accounts are told apart by their keys in open
mode too (a 12-digit access key names its account). Statements are kept with the
version as AWS writes them (``Principal`` ``*`` or ``{"AWS": "arn:aws:iam::<id>:root"}``,
``OrganizationId`` as an ``aws:PrincipalOrgID`` condition, which never matches here:
cloudlet has no Organizations) and evaluated by the IAM policy engine. The policy,
its revision id and the statements go away with the version (DeleteLayerVersion).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.auth import policy
from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors

Result = dict[str, Any]
GET_LAYER = "lambda:GetLayerVersion"
MAX_POLICY_BYTES = 20480
"""Lambda's limit for a resource-based policy (its quotas page: 20 KB)."""
LAYER_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>\d+))?$"
)


def caller_arn(ctx: Any) -> str:
    """Who AWS names in an access-denied message: the signed principal, else the account."""
    principal = getattr(ctx, "principal", None)
    arn = getattr(principal, "arn", None)
    return arn if arn and arn != "*" else f"arn:aws:iam::{ctx.account_id}:root"


def denied(ctx: Any, action: str, resource: str, why: str = "") -> errors.ServiceError:
    reason = why or f" because no resource-based policy allows the {action} action"
    return errors.access_denied(
        f"User: {caller_arn(ctx)} is not authorized to perform: {action} on resource: "
        f"{resource}{reason}"
    )


def layer_key(ctx: Any, name_or_arn: str) -> tuple[str, str, str]:
    """(account, region, name) a LayerName (a name or a layer ARN) names."""
    m = LAYER_ARN.match(name_or_arn)
    if m is not None:
        return m.group("account"), m.group("region"), m.group("name")
    return ctx.account_id, ctx.region, name_or_arn


def _statement_doc(version: dict[str, Any]) -> dict[str, Any] | None:
    statements = version.get("_policy") or []
    if not statements:
        return None
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}


def policy_text(version: dict[str, Any] | None) -> str | None:
    """The version's policy as JSON text (None when it has no statement)."""
    doc = _statement_doc(version or {})
    return json.dumps(doc, separators=(",", ":")) if doc else None


def grants(version: dict[str, Any] | None, account: str) -> bool:
    """Whether the version's policy lets ``account`` use it."""
    text = policy_text(version)
    if text is None or version is None:
        return False
    try:
        compiled = policy.parse(text, "resource")
    except policy.MalformedPolicy:
        return False
    caller = policy.Caller(f"arn:aws:iam::{account}:root", account, "root")
    context = {"aws:PrincipalAccount": account}
    request = policy.Request(GET_LAYER, version["LayerVersionArn"], caller, context)
    return policy.evaluate(request, (), compiled).allowed


class LayerPermissionsMixin:
    """AddLayerVersionPermission, GetLayerVersionPolicy, RemoveLayerVersionPermission,
    and the access check every other use of a layer version goes through."""

    store: Any

    def _check_layer_access(
        self, ctx: Any, account: str, version: dict[str, Any] | None, resource: str
    ) -> None:
        """Refuse another account's use of a version its policy does not grant (a missing
        version of another account is refused the same way: nothing says it exists)."""
        if account == ctx.account_id:
            return
        if not grants(version, ctx.account_id):
            raise denied(ctx, GET_LAYER, resource)

    def _own_version(
        self, ctx: Any, params: dict[str, Any], action: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(layer document, version) of a version of the caller's own layer: only the
        owner manages its policy."""
        account, region, name = layer_key(ctx, params["LayerName"])
        number = params["VersionNumber"]
        arn = f"arn:aws:lambda:{region}:{account}:layer:{name}:{number}"
        if account != ctx.account_id:
            raise denied(ctx, action, arn)
        doc = self.store.layers.get((account, region, name))
        version = (doc or {"versions": {}})["versions"].get(str(number))
        if doc is None or version is None:
            raise errors.not_found(f"Layer version {arn} does not exist.")
        return doc, version

    def _check_layer_revision(self, version: dict[str, Any], revision: str | None) -> None:
        if revision and revision != version.get("_revision"):
            raise errors.precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetLayerVersionPolicy API to retrieve the latest Revision Id"
            )

    def add_layer_version_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        errors.check_model("AddLayerVersionPermission", params)
        doc, version = self._own_version(ctx, params, "lambda:AddLayerVersionPermission")
        sid, principal = params["StatementId"], params["Principal"]
        org = params.get("OrganizationId")
        self._check_layer_revision(version, params.get("RevisionId"))
        statements = list(version.get("_policy") or [])
        if any(s.get("Sid") == sid for s in statements):
            raise errors.conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": "*"
            if principal == "*"
            else {
                "AWS": principal
                if principal.startswith("arn:")
                else f"arn:aws:iam::{principal}:root"
            },
            "Action": GET_LAYER,
            "Resource": version["LayerVersionArn"],
        }
        if org:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": org}}
        statements.append(statement)
        size = len(policy_text({"_policy": statements}) or "")
        if size > MAX_POLICY_BYTES:
            raise errors.policy_too_long(size, MAX_POLICY_BYTES)
        version["_policy"] = statements
        version["_revision"] = fast_uuid()
        self.store.save_layer(doc)
        return {
            "Statement": json.dumps(statement, separators=(",", ":")),
            "RevisionId": version["_revision"],
        }

    def get_layer_version_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        _, version = self._own_version(ctx, params, "lambda:GetLayerVersionPolicy")
        text = policy_text(version)
        if text is None:
            raise errors.resource_not_found()
        return {"Policy": text, "RevisionId": version["_revision"]}

    def remove_layer_version_permission(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc, version = self._own_version(ctx, params, "lambda:RemoveLayerVersionPermission")
        sid = params["StatementId"]
        statements = version.get("_policy") or []
        self._check_layer_revision(version, params.get("RevisionId"))
        kept = [s for s in statements if s.get("Sid") != sid]
        if len(kept) == len(statements):
            raise errors.not_found(f"Statement {sid} is not found in resource policy.")
        version["_policy"] = kept
        version["_revision"] = fast_uuid()
        self.store.save_layer(doc)
        return {}
