"""Requests through S3 access points: S3's own operations, acting on the access point's
bucket.

Why it is built this way:

- **Resolved before the request is parsed.** A request names an access point by its
  alias wherever a bucket name goes (path-style or virtual-hosted), or by its ARN, which
  boto3 and the AWS CLI turn into the host ``<name>-<account>.<endpoint host>`` (the
  gateway reads that host's first label as the bucket, ``gateway/detect.py``). The S3
  service's ``prepare_request`` sees that name: an alias, or ``<name>-<12 digits>`` in
  the Host when no bucket has that name, is an access point of that account in the
  request's Region (a path-style ``/<name>-<12 digits>`` is a bucket's name, as such
  names are valid bucket names), and the path is rewritten to its bucket. Every operation then runs unchanged on the
  bucket: same keys, versions, ETags, notifications, metrics, replication.
- **Only what AWS lets through.** The S3 user guide's "Access point compatibility"
  lists the operations an access point serves (object operations, the listings,
  HeadBucket, GetBucketLocation and a few bucket reads); any other is refused (405
  ``MethodNotAllowed``: AWS's answer is not on record, so cloudlet's message says
  which operation and why). Requests must be signed with SigV4, as AWS requires of
  access points ("Access points restrictions and limitations").
- **Two doors, both must open** (the user guide's "Configuring IAM policies for using
  access points"). In strict mode every check a request needs is made twice: on the
  access point's resource (``arn:aws:s3:<region>:<account>:accesspoint/<name>``, its
  objects ``.../object/<key>``) under the access point policy, and on the bucket's
  (``arn:aws:s3:::<bucket>/<key>``) under the bucket policy; a bucket policy may
  delegate to access points with ``s3:DataAccessPointAccount`` or
  ``s3:DataAccessPointArn``, which requests through one carry, with
  ``s3:AccessPointNetworkOrigin``. DeleteObjects makes both checks per key. Anonymous
  requests through an access point are refused (AWS's restrictions list), and an
  access point's ``IgnorePublicAcls`` makes ACL grants to everyone count for nothing
  through it.
- **The access point is remembered on the request** under a header name no HTTP client
  can send (it starts with ``:``), set here and removed first on every request, so the
  authorizer's callbacks (checks, condition keys, refusals) know which access point a
  request came through without a module global.
- **VPC access points refuse everything.** AWS serves a ``VPC`` access point only to
  requests from that VPC. cloudlet cannot tell: an EC2 instance's connections to
  cloudlet's endpoint leave from 127.0.0.1 like any local program's (the network shim
  keeps them there, ``runtime/shim``), so no request can be shown to come from the VPC,
  and every one is ``AccessDenied``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from cloudlet.auth.actions import action_for
from cloudlet.services.s3 import errors
from cloudlet.services.s3.access_points import ALIAS_SUFFIX, VPC, AccessPoint, AccessPointStore
from cloudlet.services.s3.request_checks import COPY_SOURCE

THROUGH = ":cloudlet-access-point"
"""The header (no client can send it) naming the ARN of the access point a request came
through; ``SOURCE_THROUGH`` names the one a copy's source was read through."""
SOURCE_THROUGH = ":cloudlet-copy-source-access-point"
HOSTED = re.compile(r"(?P<name>[a-z0-9][a-z0-9-]{1,48}[a-z0-9])-(?P<account>\d{12})")
_SOURCE_ARN = re.compile(r"/?(?P<arn>[^/]*accesspoint/[a-z0-9-]+)/object/(?P<key>.*)", re.DOTALL)
_COPIES = frozenset(("CopyObject", "UploadPartCopy"))
COMPATIBLE = frozenset(
    (
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteObject",
        "DeleteObjects",
        "DeleteObjectTagging",
        "GetBucketAcl",
        "GetBucketCors",
        "GetBucketLocation",
        "GetBucketNotification",
        "GetBucketNotificationConfiguration",
        "GetBucketPolicy",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "HeadBucket",
        "HeadObject",
        "ListMultipartUploads",
        "ListObjects",
        "ListObjectsV2",
        "ListObjectVersions",
        "ListParts",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "RestoreObject",
        "UploadPart",
        "UploadPartCopy",
    )
)
"""The S3 user guide's "Access point compatibility" table, for access points of buckets."""


def _access_denied() -> Exception:
    return errors.s3_error("AccessDenied", "Access Denied", 403)


def _not_through(operation: str) -> Exception:
    return errors.s3_error(
        "MethodNotAllowed",
        f"{operation} is not supported through an access point: access points serve the "
        "object operations of S3's access point compatibility list.",
        405,
    )


def _sigv2(request: Any) -> bool:
    return request.headers.get("authorization", "").startswith("AWS ") or (
        "AWSAccessKeyId=" in request.query
    )


def resource_through(point: AccessPoint, resource: str) -> str | None:
    """The access point's ARN for the bucket ARN ``resource`` (the bucket's: the access
    point's; an object's: ``.../object/<key>``); None when it is not of its bucket."""
    bucket = f"arn:aws:s3:::{point.bucket}"
    if resource == bucket:
        return point.arn
    if resource.startswith(bucket + "/"):
        return f"{point.arn}/object/{resource[len(bucket) + 1 :]}"
    return None


class AccessPointSide:
    """The access point's side of a request through it, as the authorizer sees a service:
    the access point policy is the resource policy; the condition keys are S3's."""

    def __init__(self, s3: Any, point: AccessPoint) -> None:
        self.s3, self.point = s3, point

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        return self.point.arn, self.point.policy

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        self.s3.condition_keys(ctx, context)

    def acl_allows(self, ctx: Any, action: str, resource: str) -> bool:
        return False

    def public_access(self, ctx: Any, action: str, *, granted: bool) -> bool:
        return False


class AccessPointRequests:
    """S3Service's side of access points: resolving them, and what changes through one."""

    access_points: AccessPointStore
    store: Any

    # -- resolution (``S3Service.prepare_request``) -------------------------------------

    def _through_access_point(self, ctx: Any) -> None:
        """Rewrite a request addressed to an access point (alias or ``<name>-<account>``)
        to its bucket, and a copy's source read through one; refuse what AWS refuses
        through access points."""
        request = ctx.request
        headers = request.headers
        headers.pop(THROUGH, None)
        headers.pop(SOURCE_THROUGH, None)
        first, slash, rest = request.path.lstrip("/").partition("/")
        label = unquote(first)
        point = self._addressed(ctx, label) if label else None
        if point is not None:
            self._check_through(ctx, point)
            request.path = f"/{point.bucket}{slash}{rest}"
            headers[THROUGH] = point.arn
        if COPY_SOURCE in headers and ctx.operation.name in _COPIES:
            self._copy_source_through(ctx)

    def _addressed(self, ctx: Any, label: str) -> AccessPoint | None:
        if label.endswith(ALIAS_SUFFIX):
            point = self.access_points.by_alias(label)
            if point is None and ctx.operation.name != "CreateBucket":
                # no bucket may have such a name (CreateBucket says so itself)
                raise errors.s3_error(
                    "InvalidAccessPointAliasError",
                    "The specified access point alias name is not valid.",
                    400,
                )
            return point
        if ctx.request.signed_path is None:  # path style names buckets only
            return None
        m = HOSTED.fullmatch(label)
        if m is None or self.store.get_bucket(label):
            return None  # path style names buckets only: ``<name>-<account>`` is one too
        return self.access_points.get(m["account"], ctx.region, m["name"])

    def _check_through(self, ctx: Any, point: AccessPoint) -> None:
        if _sigv2(ctx.request):
            raise errors.invalid_request(
                "The request is using the wrong signature version. "
                "Use AWS4-HMAC-SHA256 (Signature Version 4)."
            )
        if ctx.operation.name not in COMPATIBLE:
            raise _not_through(ctx.operation.name)
        if point.network_origin == VPC:
            raise _access_denied()  # see the module docstring

    def _copy_source_through(self, ctx: Any) -> None:
        """``x-amz-copy-source`` naming an object through an access point (its ARN's
        ``.../object/<key>``, or its alias in place of the bucket) -> the bucket's."""
        headers = ctx.request.headers
        path, mark, query = headers[COPY_SOURCE].partition("?")
        m = _SOURCE_ARN.fullmatch(path)
        if m is not None:
            point = self.access_points.by_arn(unquote(m["arn"]))
            key = m["key"]
        else:
            label, _, key = path.lstrip("/").partition("/")
            label = unquote(label)
            point = self.access_points.by_alias(label) if label.endswith(ALIAS_SUFFIX) else None
        if point is None:
            return
        if point.network_origin == VPC:
            raise _access_denied()
        headers[COPY_SOURCE] = f"/{point.bucket}/{key}{mark}{query}"
        headers[SOURCE_THROUGH] = point.arn

    def _request_access_point(self, ctx: Any, source: bool = False) -> AccessPoint | None:
        """The access point the request (or, ``source``, its copy source) came through."""
        arn = ctx.request.headers.get(SOURCE_THROUGH if source else THROUGH)
        return self.access_points.by_arn(arn) if arn else None

    # -- strict mode --------------------------------------------------------------------

    def _access_point_checks(
        self,
        ctx: Any,
        operation: str,
        params: dict[str, Any],
        checks: tuple[tuple[str, str, str | None], ...] | None,
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """``checks`` (the bucket's side of the request), each preceded by the same check
        on the access point it came through under the access point policy."""
        target = self._request_access_point(ctx)
        source = self._request_access_point(ctx, source=True)
        if (target is None and source is None) or checks == ():
            return checks  # DeleteObjects: per key (``delete_objects``)
        if checks is None:
            arn, text = self.policy_resource(ctx, operation, params)  # type: ignore[attr-defined]
            checks = ((action_for("s3", operation), arn, text),)
        out: list[tuple[str, str, str | None]] = []
        for i, (action, resource, text) in enumerate(checks):
            point = source if operation in _COPIES and i == 1 else target
            through = resource_through(point, resource) if point is not None else None
            if point is not None and through is not None:
                out.append((action, through, point.policy))
            out.append((action, resource, text))
        return tuple(out)

    def _access_point_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """``s3:DataAccessPointArn``, ``s3:DataAccessPointAccount`` and
        ``s3:AccessPointNetworkOrigin`` of a request through an access point."""
        point = self._request_access_point(ctx)
        if point is not None:
            context["s3:DataAccessPointArn"] = point.arn
            context["s3:DataAccessPointAccount"] = point.account
            context["s3:AccessPointNetworkOrigin"] = point.network_origin

    def _may_list_bucket(self, ctx: Any, auth: Any, bucket: str) -> bool:
        """Whether the caller may list ``bucket`` (through the access point, if it came
        through one): who may not is told a missing key is 403, not 404."""
        if not auth.allows(ctx, self, "s3:ListBucket", f"arn:aws:s3:::{bucket}"):
            return False
        point = self._request_access_point(ctx)
        return point is None or auth.allows(
            ctx, AccessPointSide(self, point), "s3:ListBucket", point.arn
        )

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Any:
        """Through an access point, each key is checked on both sides."""
        point = self._request_access_point(ctx)
        allows = getattr(ctx, "allows", None)
        if point is None or allows is None:
            return super().delete_objects(ctx, params)  # type: ignore[misc]
        side = AccessPointSide(self, point)
        authorize = getattr(allows, "func", None)  # Authorizer.allows, bound

        def both(action: str, resource: str) -> bool:
            through = resource_through(point, resource)
            if through is not None and (
                authorize is None or not authorize(ctx, side, action, through)
            ):
                return False
            return bool(allows(action, resource))

        ctx.allows = both
        try:
            return super().delete_objects(ctx, params)  # type: ignore[misc]
        finally:
            ctx.allows = allows

    def public_access(self, ctx: Any, action: str, *, granted: bool) -> bool:
        """Anonymous callers get nothing through an access point."""
        headers = ctx.request.headers
        if THROUGH in headers or SOURCE_THROUGH in headers:
            return False
        return super().public_access(ctx, action, granted=granted)  # type: ignore[misc]

    def acl_allows(self, ctx: Any, action: str, resource: str) -> bool:
        """An access point's ``IgnorePublicAcls`` applies to requests through it."""
        point = self._request_access_point(ctx)
        if point is not None and point.blocks("IgnorePublicAcls"):
            return False
        return super().acl_allows(ctx, action, resource)  # type: ignore[misc]

    # -- buckets with access points ------------------------------------------------------

    def delete_bucket(self, ctx: Any, params: dict[str, Any]) -> Any:
        """A bucket with access points attached is not deleted (AWS's
        ``BucketHasAccessPointsAttached``, worded as S3 words it)."""
        bucket = self._bucket(params["Bucket"])  # type: ignore[attr-defined]
        if self.access_points.attached(bucket.name):
            raise errors.s3_error(
                "BucketHasAccessPointsAttached",
                "Bucket has access points attached and cannot be deleted.",
                400,
            )
        return super().delete_bucket(ctx, params)  # type: ignore[misc]
