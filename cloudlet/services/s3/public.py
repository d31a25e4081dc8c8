"""Block Public Access, ACLs on or off, and policy status: what makes a bucket "public",
and refusing it.

New buckets get AWS's defaults since April 2023: all four public access block
flags on, and ACLs disabled (ownership ``BucketOwnerEnforced``) unless
CreateBucket's ``x-amz-object-ownership`` names another setting. A CreateBucket
ACL granting anyone but the owner answers ``InvalidBucketAclWithObjectOwnership``
(ACLs disabled) or ``InvalidBucketAclWithBlockPublicAccessError`` (a public one).
Buckets made before this rule keep what they had.

With ACLs disabled, a write or Put*Acl may name only the owner's full control
(``bucket-owner-full-control``, or a document granting just that), else 400
``AccessControlListNotSupported``; Get*Acl shows the owner's full control; and
PutBucketOwnershipControls cannot disable ACLs while the bucket ACL grants others.

S3 calls a bucket policy public when an ``Allow`` statement grants to everyone
(``"Principal": "*"``, a wildcard principal, or ``NotPrincipal``) and no
condition pins it to fixed values of the keys AWS lists (source IP ranges
other than ``0.0.0.0/0``, source ARN, VPC, VPC endpoint, account, owner,
user id, organization, principal ARN or account, access point). An ACL is
public when it grants to the AllUsers or AuthenticatedUsers group.

With the bucket's public access block set:

- ``BlockPublicPolicy``: PutBucketPolicy of a public policy answers 403
  AccessDenied (AWS's message names the setting);
- ``BlockPublicAcls``: PutBucketAcl, PutObjectAcl and writes carrying a public
  canned ACL or grant header (PutObject, CopyObject, CreateMultipartUpload)
  answer 403 AccessDenied.

In strict mode an unsigned request (an anonymous caller) is allowed what the
bucket makes public (``public_access``, called by the authorizer with the
bucket policy's answer for ``"Principal": "*"``): a policy grant, unless
``RestrictPublicBuckets`` is on and the policy is public; or an ACL grant to
AllUsers, unless ``IgnorePublicAcls`` is on or the bucket's ownership is
``BucketOwnerEnforced`` (ACLs disabled). Anything else is 403 AccessDenied.
A signed caller no policy allows (and none denies) gets what an ACL grants the
AllUsers or AuthenticatedUsers group, under the same two settings
(``acl_allows``). Open mode lets everyone do everything, so there these two
settings change nothing.

GetBucketPolicyStatus answers ``IsPublic`` by the same rule. The
Put/Get/DeletePublicAccessBlock operations live here too. PutObject's ACL is
kept on the version (``extra["acl"]``), where GetObjectAcl reads it.
"""

from __future__ import annotations

import json
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.bucket_policy import parse_bucket_policy
from cloudlet.services.s3.buckets import check_object_ownership, valid_bucket_name
from cloudlet.services.s3.common import Result, canonical_user_id
from cloudlet.services.s3.config import (
    ALL_USERS,
    AUTH_USERS,
    ConfigHandlers,
    acl_from_params,
    canned_acl,
    check_acl_request,
)
from cloudlet.services.s3.store import Bucket, ObjectVersion

PUBLIC_GROUPS = frozenset((ALL_USERS, AUTH_USERS))
_FIXING_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SourceIp",
        "aws:SourceArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOwner",
        "aws:SourceAccount",
        "aws:userid",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "s3:DataAccessPointArn",
        "s3:DataAccessPointAccount",
    )
)
"""Condition keys whose fixed values make an open grant non-public."""
_ANYWHERE = frozenset(("0.0.0.0/0", "::/0"))
_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_BUCKET_ACL = {
    "s3:ListBucket": "READ",
    "s3:ListBucketVersions": "READ",
    "s3:ListBucketMultipartUploads": "READ",
    "s3:PutObject": "WRITE",
    "s3:DeleteObject": "WRITE",
    "s3:DeleteObjectVersion": "WRITE",
    "s3:AbortMultipartUpload": "WRITE",
    "s3:GetBucketAcl": "READ_ACP",
    "s3:PutBucketAcl": "WRITE_ACP",
}
"""Actions a bucket ACL grant allows, by the permission each needs."""
_OBJECT_ACL = {
    "s3:GetObject": "READ",
    "s3:GetObjectVersion": "READ",
    "s3:GetObjectAcl": "READ_ACP",
    "s3:GetObjectVersionAcl": "READ_ACP",
    "s3:PutObjectAcl": "WRITE_ACP",
    "s3:PutObjectVersionAcl": "WRITE_ACP",
}
"""Actions an object ACL grant allows, by the permission each needs."""
_READS = frozenset(("s3:GetObject", "s3:GetObjectVersion"))
ARN_PREFIX = "arn:aws:s3:::"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _to_everyone(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return any("*" in str(p) for value in principal.values() for p in _listed(value))
    return principal == "*"


def _pinned(condition: Any) -> bool:
    """Whether a condition fixes one of the keys that make a grant non-public."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        test = operator.rsplit(":", 1)[-1]
        if "Not" in test or test == "Null" or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if key.lower() not in _FIXING_KEYS:
                continue
            texts = [str(v) for v in _listed(values)]
            if texts and all("*" not in t and "?" not in t and t not in _ANYWHERE for t in texts):
                return True
    return False


def policy_is_public(policy: dict[str, Any]) -> bool:
    """S3's rule for a public bucket policy (see the module docstring)."""
    return any(
        isinstance(st, dict)
        and st.get("Effect") == "Allow"
        and _to_everyone(st)
        and not _pinned(st.get("Condition"))
        for st in _listed(policy.get("Statement") or [])
    )


def acl_is_public(acl: dict[str, Any] | None) -> bool:
    """An ACL granting anything to the AllUsers or AuthenticatedUsers group."""
    return any(
        (grant.get("Grantee") or {}).get("URI") in PUBLIC_GROUPS
        for grant in (acl or {}).get("Grants") or []
    )


def _owner_only(acl: dict[str, Any], account: str) -> bool:
    """Whether ``acl`` grants nothing but FULL_CONTROL to ``account`` (the bucket owner)."""
    owner = canonical_user_id(account)
    return all(
        (grant.get("Grantee") or {}).get("ID") == owner
        and grant.get("Permission") == "FULL_CONTROL"
        for grant in acl.get("Grants") or []
    )


def _acl_with_acls_off() -> Exception:
    return errors.s3_error(
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )


def _check_creation_acl(
    acl: dict[str, Any], account: str, *, acls_off: bool, public_blocked: bool
) -> None:
    """A CreateBucket ACL may grant others only with ACLs enabled, and the public
    only where public ACLs are not blocked (a new bucket blocks them)."""
    if _owner_only(acl, account):
        return
    if acls_off:
        raise _acl_with_acls_off()
    if public_blocked and acl_is_public(acl):
        raise errors.s3_error(
            "InvalidBucketAclWithBlockPublicAccessError",
            "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
        )


_ANYONE = frozenset((ALL_USERS,))


def _grants(acl: dict[str, Any] | None, permission: str, groups: frozenset[str]) -> bool:
    """Whether ``acl`` grants ``permission`` (or FULL_CONTROL) to one of ``groups``."""
    return any(
        (grant.get("Grantee") or {}).get("URI") in groups
        and grant.get("Permission") in (permission, "FULL_CONTROL")
        for grant in (acl or {}).get("Grants") or []
    )


class PublicAccessHandlers(ConfigHandlers):
    """Put/Get/DeletePublicAccessBlock, GetBucketPolicyStatus, and the checks they make."""

    def _blocks(self, bucket: str, flag: str) -> bool:
        return bool((self.configs.get(bucket, "public-access-block") or {}).get(flag))

    def public_access(self, ctx: Any, action: str, *, granted: bool) -> bool:
        """Strict mode, an anonymous caller: see the module docstring."""
        params = ctx.params
        bucket = self.store.get_bucket(params.get("Bucket") or "")
        if bucket is None:
            # No bucket, so no policy or ACL keeps anyone out: S3 answers NoSuchBucket
            # to an anonymous caller too (LocalStack's AWS-validated
            # test_bucket_does_not_exist: 404 to an unsigned GET). Creating one is not
            # for anonymous callers.
            return bool(params.get("Bucket")) and ctx.operation.name != "CreateBucket"
        if granted:
            text = self.configs.get(bucket.name, "policy")
            if not (
                self._blocks(bucket.name, "RestrictPublicBuckets")
                and text
                and policy_is_public(json.loads(text))
            ):
                return True
        return self._acl_grants(bucket, action, params.get("Key"), params.get("VersionId"), _ANYONE)

    def acl_allows(self, ctx: Any, action: str, resource: str) -> bool:
        """Strict mode, a signed caller no policy allows: the bucket's or object's ACL
        grants to everyone or to every signed caller (AllUsers, AuthenticatedUsers), which
        S3 evaluates with the bucket owner's policies. A grant to the caller's own account
        is no grant to its IAM users: like an account principal, it delegates to their
        policies. (Cloudlet's strict mode has one account.)"""
        name, _, key = resource.removeprefix(ARN_PREFIX).partition("/")
        bucket = self.store.get_bucket(name) if resource.startswith(ARN_PREFIX) else None
        if bucket is None:
            return False
        params = ctx.params or {}
        same_key = key and params.get("Bucket") == name and params.get("Key") == key
        version_id = params.get("VersionId") if same_key else None
        return self._acl_grants(bucket, action, key or None, version_id, PUBLIC_GROUPS)

    def _acl_grants(
        self,
        bucket: Bucket,
        action: str,
        key: str | None,
        version_id: str | None,
        groups: frozenset[str],
    ) -> bool:
        """Whether the ACL of ``bucket`` (bucket actions) or of its ``key`` (object
        actions) grants ``action`` to one of ``groups``: never with ``IgnorePublicAcls``
        on or ACLs disabled."""
        if self._blocks(bucket.name, "IgnorePublicAcls") or self._acls_disabled(bucket):
            return False
        if action in _BUCKET_ACL:
            return _grants(self.configs.get(bucket.name, "acl"), _BUCKET_ACL[action], groups)
        if action in _OBJECT_ACL and key is not None:
            version = (
                self.store.latest(bucket.name, key)
                if version_id is None
                else self.store.version(bucket.name, key, version_id)
            )
            if version is not None:
                return _grants(version.extra.get("acl"), _OBJECT_ACL[action], groups)
            if action in _READS:
                # No such object: a caller who may list the bucket is told so (404),
                # as S3 answers whoever has s3:ListBucket, a bucket READ grant too.
                bucket_acl = self.configs.get(bucket.name, "acl")
                return _grants(bucket_acl, _BUCKET_ACL["s3:ListBucket"], groups)
        return False

    # -- new buckets: AWS's defaults since April 2023 ---------------------------------

    def create_bucket(self, ctx: Any, params: dict[str, Any]) -> Result:
        """A new bucket blocks all public access and has ACLs disabled
        (``BucketOwnerEnforced``) unless its request names another ownership; an ACL
        in the request must fit both, else AWS's ``InvalidBucketAcl...`` errors.
        us-east-1's re-create of one's own bucket resets its ACL: to the request's, else
        to ``private``."""
        name = params["Bucket"]
        existing = self.store.get_bucket(name) if valid_bucket_name(name) else None
        if existing is not None:
            out = super().create_bucket(ctx, params)  # refused unless the re-create
            acl = acl_from_params(params, existing.account)
            acls_off = self._acls_disabled(existing)
            if acl is not None:
                _check_creation_acl(
                    acl,
                    existing.account,
                    acls_off=acls_off,
                    public_blocked=self._blocks(name, "BlockPublicAcls"),
                )
            if not acls_off:
                # "returns 200 OK and resets the bucket access control lists"
                # (BucketAlreadyOwnedByYou's description): to the request's, else private.
                self.configs.put(name, "acl", acl or canned_acl("private", existing.account))
            return out
        if not valid_bucket_name(name):
            return super().create_bucket(ctx, params)  # InvalidBucketName
        check_object_ownership(params.get("ObjectOwnership"))  # before the ACL's checks
        ownership = params.get("ObjectOwnership") or "BucketOwnerEnforced"
        acls_off = ownership == "BucketOwnerEnforced"
        acl = acl_from_params(params, ctx.account_id)
        if acl is not None:
            _check_creation_acl(acl, ctx.account_id, acls_off=acls_off, public_blocked=True)
        with self.store.transaction():
            out = super().create_bucket(ctx, {**params, "ObjectOwnership": ownership})
            self.configs.put(name, "public-access-block", dict.fromkeys(_FLAGS, True))
            if acl is not None and not acls_off:
                self.configs.put(name, "acl", acl)
        return out

    def put_bucket_ownership_controls(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = (params.get("OwnershipControls") or {}).get("Rules") or [{}]
        acl = self.configs.get(bucket.name, "acl")
        if (
            rules[0].get("ObjectOwnership") == "BucketOwnerEnforced"
            and acl is not None
            and not _owner_only(acl, bucket.account)
        ):
            raise _acl_with_acls_off()
        return super().put_bucket_ownership_controls(ctx, params)

    def _acls_disabled(self, bucket: Bucket) -> bool:
        document = self.configs.get(bucket.name, "ownership")
        if document is not None:
            rules = document.get("Rules") or [{}]
            return rules[0].get("ObjectOwnership") == "BucketOwnerEnforced"
        return bucket.config.get("ownership") == "BucketOwnerEnforced"

    def put_public_access_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = params.get("PublicAccessBlockConfiguration") or {}
        if not document:
            raise errors.invalid_request("Must specify at least one configuration.")
        self.configs.put(
            bucket.name, "public-access-block", {f: bool(document.get(f)) for f in _FLAGS}
        )
        return {}

    def get_public_access_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = self._required(
            bucket.name,
            "public-access-block",
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )
        return {"PublicAccessBlockConfiguration": document}

    def delete_public_access_block(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._drop_config(params, "public-access-block")

    def get_bucket_policy_status(self, ctx: Any, params: dict[str, Any]) -> Result:
        text = self.get_bucket_policy(ctx, params)["Policy"]  # or NoSuchBucketPolicy
        return {"PolicyStatus": {"IsPublic": policy_is_public(json.loads(text))}}

    def put_bucket_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        if self._blocks(bucket.name, "BlockPublicPolicy"):
            policy = parse_bucket_policy(
                params.get("Policy") or "", bucket.name
            )  # or MalformedPolicy
            if policy_is_public(policy):
                who = ctx.principal.arn if ctx.principal is not None else "anonymous"
                raise errors.s3_error(
                    "AccessDenied",
                    f"User: {who} is not authorized to perform: s3:PutBucketPolicy on "
                    f'resource: "arn:aws:s3:::{bucket.name}" because public policies are '
                    "blocked by the BlockPublicPolicy block public access setting.",
                    403,
                )
        return super().put_bucket_policy(ctx, params)

    def _acl_to_set(
        self, bucket: Bucket, params: dict[str, Any], writer: str | None = None
    ) -> dict[str, Any] | None:
        """The ACL a request sets (an object's is owned by its ``writer``), None when
        there is none to keep. With ACLs disabled only the bucket owner's full control
        may be named (the canned ``bucket-owner-full-control`` or a document saying just
        that), else 400 AccessControlListNotSupported; a public ACL is refused under
        BlockPublicAcls."""
        acl = acl_from_params(params, writer or bucket.account, bucket_owner=bucket.account)
        if acl is None:
            return None
        if self._acls_disabled(bucket):
            canned = params.get("ACL")
            if canned == "bucket-owner-full-control" or (
                canned is None and _owner_only(acl, bucket.account)
            ):
                return None
            raise errors.s3_error("AccessControlListNotSupported", "The bucket does not allow ACLs")
        if acl_is_public(acl) and self._blocks(bucket.name, "BlockPublicAcls"):
            raise errors.s3_error("AccessDenied", "Access Denied", 403)
        return acl

    def _owner_acl_with_acls_off(self, bucket: Bucket, params: dict[str, Any]) -> bool:
        """Put*Acl: refuse what the bucket does not allow; True when ACLs are disabled
        and the request names the owner's full control, which it has anyway."""
        self._acl_to_set(bucket, params)
        return self._acls_disabled(bucket) and acl_from_params(params, bucket.account) is not None

    def put_bucket_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        check_acl_request(params)
        if self._owner_acl_with_acls_off(bucket, params):
            return {}
        return super().put_bucket_acl(ctx, params)

    def put_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        check_acl_request(params)
        owner_only = self._owner_acl_with_acls_off(bucket, params)
        # NoSuchKey; 405 MethodNotAllowed on a delete marker (LocalStack's AWS-recorded
        # test_put_object_acl_on_delete_marker)
        self._find(bucket, params["Key"], params.get("VersionId"), "PUT", marker_not_allowed=True)
        if owner_only:
            return {}
        return super().put_object_acl(ctx, params)

    def get_bucket_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        if self._acls_disabled(bucket):  # reads show the owner's full control, nothing else
            return canned_acl("private", bucket.account)
        return super().get_bucket_acl(ctx, params)

    def get_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        if self._acls_disabled(bucket):
            self._find(bucket, params["Key"], params.get("VersionId"), "GET")  # NoSuchKey
            return canned_acl("private", bucket.account)
        return super().get_object_acl(ctx, params)

    def _write_extra(
        self,
        bucket: Bucket,
        params: dict[str, Any],
        *,
        defaults: bool = True,
        source: ObjectVersion | None = None,
        writer: str | None = None,
    ) -> dict[str, Any]:
        """A write's canned ACL or grant headers, kept as the new version's ACL (owned
        by the ``writer``'s account)."""
        extra = super()._write_extra(  # type: ignore[misc]
            bucket, params, defaults=defaults, source=source, writer=writer
        )
        acl = self._acl_to_set(bucket, params, writer)
        if acl is not None:
            extra["acl"] = acl
        return extra
