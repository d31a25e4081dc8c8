"""A private CA's tags, its permissions for ACM, and its resource policy.

Why apart: these are records kept on the CA and read back, with AWS's limits and
errors; none of them changes what the CA signs. Permissions are what lets ACM
renew certificates of a CA; resource policies share a CA with other accounts
(ACM's use of another account's CA is not built), so both are stored and shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.services.acmpca import errors

Doc = dict[str, Any]
MAX_TAGS = 50
ACTIONS = {"IssueCertificate", "GetCertificate", "ListPermissions"}


class AccessMixin:
    store: Any
    _ca: Callable[[Any, str], Doc]

    @staticmethod
    def _checked_tags(tags: list[Doc] | None, have: dict[str, str] | None = None) -> dict[str, str]:
        out = dict(have or {})
        for tag in tags or []:
            if tag["Key"].lower().startswith("aws:"):
                raise errors.error(
                    "InvalidTagException", f"Tag key {tag['Key']} uses the reserved prefix aws:."
                )
            out[tag["Key"]] = tag.get("Value", "")
        if len(out) > MAX_TAGS:
            raise errors.error(
                "TooManyTagsException", f"A certificate authority can have at most {MAX_TAGS} tags."
            )
        return out

    def _live(self, ctx: Any, arn: str) -> Doc:
        ca = self._ca(ctx, arn)
        if ca["status"] == "DELETED":
            raise errors.bad_state(ca["arn"], ca["status"], "be changed")
        return ca

    # -- tags ----------------------------------------------------------------------------

    def tag_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["CertificateAuthorityArn"])
        ca["tags"] = self._checked_tags(params["Tags"], ca["tags"])
        self.store.save_ca(ca)
        return {}

    def untag_certificate_authority(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["CertificateAuthorityArn"])
        for tag in params["Tags"]:
            if tag["Key"] in ca["tags"] and (
                "Value" not in tag or ca["tags"][tag["Key"]] == tag["Value"]
            ):
                del ca["tags"][tag["Key"]]
        self.store.save_ca(ca)
        return {}

    def list_tags(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in ca["tags"].items()]}

    # -- permissions ---------------------------------------------------------------------

    def create_permission(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["CertificateAuthorityArn"])
        if params["Principal"] != "acm.amazonaws.com":
            raise errors.error(
                "ValidationException", "The only principal allowed is acm.amazonaws.com."
            )
        actions = list(dict.fromkeys(params["Actions"]))
        if not actions or set(actions) - ACTIONS:
            raise errors.error("ValidationException", f"Actions must be among {sorted(ACTIONS)}.")
        source = params.get("SourceAccount") or ctx.account_id
        if any(
            p["Principal"] == params["Principal"] and p["SourceAccount"] == source
            for p in ca["permissions"]
        ):
            raise errors.error("PermissionAlreadyExistsException", "The permission already exists.")
        ca["permissions"].append(
            {
                "Principal": params["Principal"],
                "SourceAccount": source,
                "Actions": actions,
                "CreatedAt": clock.time(),
            }
        )
        self.store.save_ca(ca)
        return {}

    def list_permissions(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["CertificateAuthorityArn"])
        every = [
            {
                "CertificateAuthorityArn": ca["arn"],
                "CreatedAt": utc_datetime(p["CreatedAt"]),
                "Principal": p["Principal"],
                "SourceAccount": p["SourceAccount"],
                "Actions": p["Actions"],
                "Policy": json.dumps(_permission_policy(ca, p)),
            }
            for p in ca["permissions"]
        ]
        start = 0
        if token := params.get("NextToken"):
            if not token.isdigit() or int(token) > len(every):
                raise errors.error("InvalidNextTokenException", "The token is not valid.")
            start = int(token)
        size = int(params.get("MaxResults") or 100)
        out: Doc = {"Permissions": every[start : start + size]}
        if start + size < len(every):
            out["NextToken"] = str(start + size)
        return out

    def delete_permission(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["CertificateAuthorityArn"])
        source = params.get("SourceAccount") or ctx.account_id
        kept = [
            p
            for p in ca["permissions"]
            if not (p["Principal"] == params["Principal"] and p["SourceAccount"] == source)
        ]
        if len(kept) == len(ca["permissions"]):
            raise errors.error("ResourceNotFoundException", "The permission does not exist.")
        ca["permissions"] = kept
        self.store.save_ca(ca)
        return {}

    # -- resource policy -----------------------------------------------------------------

    def put_policy(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["ResourceArn"])
        try:
            policy = json.loads(params["Policy"])
        except ValueError:
            raise errors.error("InvalidPolicyException", "The policy is not valid JSON.") from None
        if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list | dict):
            raise errors.error("InvalidPolicyException", "The policy has no Statement.")
        ca["policy"] = params["Policy"]
        self.store.save_ca(ca)
        return {}

    def get_policy(self, ctx: Any, params: Doc) -> Doc:
        ca = self._ca(ctx, params["ResourceArn"])
        if not ca.get("policy"):
            raise errors.error(
                "ResourceNotFoundException", f"The certificate authority {ca['arn']} has no policy."
            )
        return {"Policy": ca["policy"]}

    def delete_policy(self, ctx: Any, params: Doc) -> Doc:
        ca = self._live(ctx, params["ResourceArn"])
        if not ca.get("policy"):
            raise errors.error(
                "ResourceNotFoundException", f"The certificate authority {ca['arn']} has no policy."
            )
        ca["policy"] = None
        self.store.save_ca(ca)
        return {}


def _permission_policy(ca: Doc, permission: Doc) -> Doc:
    """The resource policy AWS shows for a permission granted to ACM."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": permission["Principal"]},
                "Action": [f"acm-pca:{a}" for a in permission["Actions"]],
                "Resource": ca["arn"],
                "Condition": {"StringEquals": {"aws:SourceAccount": permission["SourceAccount"]}},
            }
        ],
    }
