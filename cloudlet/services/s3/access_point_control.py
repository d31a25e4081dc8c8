"""S3 Control's access point operations, for access points of general purpose buckets.

Why it is built this way:

- **The operations read like the S3 Control API reference**: CreateAccessPoint,
  GetAccessPoint, ListAccessPoints, DeleteAccessPoint, Put/Get/DeleteAccessPointPolicy
  and GetAccessPointPolicyStatus over the rows of ``access_points.py``; S3 Control's
  TagResource family tags access points too (``control.py`` hands their ARNs here).
- **AWS's rules and words** (the S3 API reference's error list, the user guide's
  "Access points naming rules, restrictions, and limitations"): names of 3 to 50
  lowercase letters, digits and hyphens (``InvalidAccessPoint``), one name per account
  and Region (409 ``AccessPointAlreadyOwnedByYou``), a bucket that exists in the
  Region, owned by the caller or by the ``BucketAccountId`` named ("An access point
  can be created only for an existing bucket.", 400 ``InvalidRequest``), 404
  ``NoSuchAccessPoint``. No cross-account calls: ``AccountId`` must be the caller's.
- **Policies** are checked as bucket policies are (``bucket_policy.py``), their
  resources being the access point's ARN and its objects'; whether one is public is
  S3's rule for bucket policies (``public.py``), and with the access point's
  ``BlockPublicPolicy`` on a public one is refused as PutBucketPolicy refuses it.
- Access points of directory buckets (``--xa-s3``) are not built: 501.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cloudlet.auth import policy as iam_policy
from cloudlet.core.clock import clock
from cloudlet.services.s3 import errors
from cloudlet.services.s3.access_points import (
    INTERNET,
    VPC,
    AccessPoint,
    access_point_arn,
    caller_account,
    check_name,
    default_public_access_block,
    make_alias,
    parse_arn,
)
from cloudlet.services.s3.bucket_policy import (
    AWS_PRINCIPAL,
    _listed,
    checked_policy,
    malformed_policy,
)
from cloudlet.services.s3.config import check_bucket_tags
from cloudlet.services.s3.directory import directory_name
from cloudlet.services.s3.public import policy_is_public

Result = dict[str, Any]
_MAX_RESULTS = 1000
_OPERATIONS = frozenset(
    (
        "CreateAccessPoint",
        "GetAccessPoint",
        "DeleteAccessPoint",
        "PutAccessPointPolicy",
        "GetAccessPointPolicy",
        "DeleteAccessPointPolicy",
        "GetAccessPointPolicyStatus",
    )
)


def _names_access_point(resource: str, arn: str) -> bool:
    """Whether a policy's ``resource`` is the access point ``arn`` or objects through it
    (``<arn>/object/<key pattern>``; patterns may name it with wildcards)."""
    head, through, _key = resource.partition("/object/")
    pattern = iam_policy.wildcard(head if through else resource)
    return bool(pattern.fullmatch(arn) or (not through and pattern.fullmatch(f"{arn}/object/k")))


def parse_access_point_policy(text: str, arn: str, actions: str = "s3:") -> dict[str, Any]:
    """An access point policy, checked as a bucket policy is (``MalformedPolicy``): its
    resources must be the access point (``arn``) or objects through it, its actions
    ``actions`` ones (an Object Lambda access point's are ``s3-object-lambda:``)."""

    def names(statement: dict[str, Any]) -> None:
        for resource in _listed(statement.get("Resource", statement.get("NotResource"))):
            if not _names_access_point(resource, arn):
                raise malformed_policy("Policy has invalid resource")
        for action in _listed(statement.get("Action", statement.get("NotAction"))):
            if action != "*" and not action.lower().startswith(actions):
                raise malformed_policy("Policy has invalid action")
        principal = statement.get("Principal", statement.get("NotPrincipal"))
        if isinstance(principal, dict) and not all(
            value == "*" or AWS_PRINCIPAL.fullmatch(value)
            for value in _listed(principal.get("AWS", []))
        ):
            raise malformed_policy("Invalid principal in policy")

    return checked_policy(text, names)


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_request("The next token is not valid.") from None


def _listed_point(point: AccessPoint) -> Result:
    """An AccessPoint of ListAccessPoints."""
    out: Result = {
        "Name": point.name,
        "NetworkOrigin": point.network_origin,
        "Bucket": point.bucket,
        "AccessPointArn": point.arn,
        "Alias": point.alias,
        "BucketAccountId": point.bucket_account,
    }
    if point.vpc_id:
        out["VpcConfiguration"] = {"VpcId": point.vpc_id}
    return out


class AccessPointHandlers:
    """S3ControlService's access point operations (a mixin)."""

    s3: Any

    # -- the operations -----------------------------------------------------------------

    def create_access_point(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = caller_account(ctx, params)
        name = params["Name"]
        check_name(name)
        bucket_name = params.get("Bucket") or ""
        if directory_name(bucket_name) is not None:
            raise errors.s3_error(
                "NotImplemented",
                "Access points for directory buckets are not implemented in cloudlet",
                501,
            )
        owner = params.get("BucketAccountId") or account
        bucket = self.s3.store.get_bucket(bucket_name) if bucket_name else None
        if bucket is None or bucket.account != owner or bucket.region != ctx.region:
            raise errors.invalid_request(
                "An access point can be created only for an existing bucket."
            )
        tags = params.get("Tags") or []
        if tags:
            tags = check_bucket_tags(tags)
        vpc_id = (params.get("VpcConfiguration") or {}).get("VpcId") or None
        point = AccessPoint(
            name=name,
            account=account,
            region=ctx.region,
            bucket=bucket.name,
            bucket_account=bucket.account,
            arn=access_point_arn(ctx.region, account, name),
            alias=make_alias(name, ctx.region),
            network_origin=VPC if vpc_id else INTERNET,
            vpc_id=vpc_id,
            policy=None,
            public_access_block=default_public_access_block(
                params.get("PublicAccessBlockConfiguration")
            ),
            created=clock.now(),
        )
        if not self.s3.access_points.create(point, tags):
            raise errors.access_point_already_owned()
        return {"AccessPointArn": point.arn, "Alias": point.alias}

    def get_access_point(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point(ctx, params)
        region = point.region
        out: Result = {
            "Name": point.name,
            "Bucket": point.bucket,
            "NetworkOrigin": point.network_origin,
            "PublicAccessBlockConfiguration": dict(point.public_access_block),
            "CreationDate": point.created,
            "Alias": point.alias,
            "AccessPointArn": point.arn,
            "Endpoints": {  # AWS's, by the access point's Region
                "ipv4": f"s3-accesspoint.{region}.amazonaws.com",
                "fips": f"s3-accesspoint-fips.{region}.amazonaws.com",
                "fips_dualstack": f"s3-accesspoint-fips.dualstack.{region}.amazonaws.com",
                "dualstack": f"s3-accesspoint.dualstack.{region}.amazonaws.com",
            },
            "BucketAccountId": point.bucket_account,
        }
        if point.vpc_id:
            out["VpcConfiguration"] = {"VpcId": point.vpc_id}
        return out

    def list_access_points(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = caller_account(ctx, params)
        most = params.get("MaxResults")
        if most is None:
            most = _MAX_RESULTS
        if not 1 <= most <= _MAX_RESULTS:
            raise errors.invalid_request("The range for the MaxResults parameter is not valid.")
        bucket = params.get("Bucket")
        if bucket is not None and self.s3.store.get_bucket(bucket) is None:
            raise errors.invalid_request(
                "An access point can be listed only for an existing bucket."
            )
        after = _untoken(params["NextToken"]) if params.get("NextToken") else ""
        found = self.s3.access_points.page(
            account, ctx.region, bucket=bucket, after=after, limit=most + 1
        )
        out: Result = {"AccessPointList": [_listed_point(p) for p in found[:most]]}
        if len(found) > most:
            out["NextToken"] = _token(found[most - 1].name)
        return out

    def delete_access_point(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.s3.access_points.delete(self._access_point(ctx, params))
        return {}

    def put_access_point_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point(ctx, params)
        text = params.get("Policy") or ""
        document = parse_access_point_policy(text, point.arn)
        if point.blocks("BlockPublicPolicy") and policy_is_public(document):
            who = ctx.principal.arn if ctx.principal is not None else "anonymous"
            raise errors.s3_error(
                "AccessDenied",
                f"User: {who} is not authorized to perform: s3:PutAccessPointPolicy on "
                f'resource: "{point.arn}" because public policies are blocked by the '
                "BlockPublicPolicy block public access setting.",
                403,
            )
        self.s3.access_points.set_policy(point, text)
        return {}

    def get_access_point_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point(ctx, params)
        if point.policy is None:
            raise errors.no_such_access_point_policy()
        return {"Policy": point.policy}

    def delete_access_point_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point(ctx, params)
        self.s3.access_points.set_policy(point, None)
        return {}

    def get_access_point_policy_status(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point(ctx, params)
        if point.policy is None:
            raise errors.no_such_access_point_policy()
        return {"PolicyStatus": {"IsPublic": policy_is_public(json.loads(point.policy))}}

    # -- tags (S3 Control's TagResource family, ``control.py``) --------------------------

    def _tagged_access_point(self, ctx: Any, arn: str) -> AccessPoint | None:
        """The caller's access point ``arn`` names; None when ``arn`` names no access
        point; ``NoSuchResource`` when it names one that does not exist."""
        parsed = parse_arn(arn)
        if parsed is None:
            return None
        point = self.s3.access_points.by_arn(arn)
        if point is None or point.account != ctx.account_id:
            raise errors.s3_error("NoSuchResource", "The specified resource doesn't exist.", 404)
        return point

    def _access_point_tags(self, point: AccessPoint) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.s3.access_points.tags(point)}

    def _tag_access_point(self, point: AccessPoint, tags: list[dict[str, str]]) -> None:
        """TagResource: add the tags, replacing the values of keys it has (S3's rules)."""
        merged = self._access_point_tags(point)
        merged.update({t["Key"]: t["Value"] for t in check_bucket_tags(tags)})
        kept = check_bucket_tags([{"Key": k, "Value": v} for k, v in merged.items()])
        self.s3.access_points.set_tags(point, kept)

    def _untag_access_point(self, point: AccessPoint, keys: list[str]) -> None:
        gone = set(keys)
        kept = [
            {"Key": k, "Value": v}
            for k, v in self._access_point_tags(point).items()
            if k not in gone
        ]
        self.s3.access_points.set_tags(point, kept)

    # -- strict mode ---------------------------------------------------------------------

    def _access_point_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None] | None:
        """The access point an operation acts on and its policy; None for the others."""
        arn = params.get("ResourceArn") or ""
        if operation not in _OPERATIONS and parse_arn(arn) is None:
            return None
        if operation in _OPERATIONS:
            arn = access_point_arn(ctx.region, params.get("AccountId") or "", params["Name"])
        point = self.s3.access_points.by_arn(arn)
        return arn, point.policy if point is not None else None

    # -- finding them ---------------------------------------------------------------------

    def _access_point(self, ctx: Any, params: dict[str, Any]) -> AccessPoint:
        account = caller_account(ctx, params)
        point = self.s3.access_points.get(account, ctx.region, params["Name"])
        if point is None:
            raise errors.no_such_access_point()
        return point
