"""S3 Control: the tagging of buckets and access points (TagResource, UntagResource,
ListTagsForResource), access points (``access_point_control.py``) and S3 Batch
Operations jobs (``batch.py``).

Why it is built this way:

- **A face of S3, not a store of its own.** S3 Control manages S3's resources; the
  tags it sets are the bucket's one tag set, which S3 owns (``abac.py``), as the
  DynamoDB Streams API reads the DynamoDB service's engine. Since November 2025 these
  are how a bucket's tags are managed once ABAC is on, and what the Terraform AWS
  provider (6.23 on) uses for every ``aws_s3_bucket``.
- **The account is the request's.** Every call names ``x-amz-account-id`` (botocore
  also puts it in front of the host name: ``<account>.s3-control...``, so a client
  needs a host that resolves with any prefix, or a ``/etc/hosts`` line; the server
  reads the header). Another account than the caller's is refused, and a bucket of
  another account is not found.
- **Buckets and access points.** General purpose buckets (``arn:aws:s3:::<name>``),
  directory buckets (``arn:aws:s3express:<region>:<account>:bucket/<name>``) and access
  points (``arn:aws:s3:<region>:<account>:accesspoint/<name>``, tags kept with the
  access point) are what TagResource takes; an ARN of anything else S3 Control tags
  (Object Lambda and Multi-Region Access Points, Storage Lens, Batch Operations jobs,
  Access Grants) is answered 501 (a job's tags are those of Get/Put/DeleteJobTagging).
- **Access points** live in the S3 service's database (``access_points.py``); their
  operations are ``access_point_control.py``'s, and Object Lambda access points'
  ``object_lambda.py``'s.
- **Batch Operations jobs** live in the S3 service's database and run in the background
  (``batch.py``, ``batch_runner.py``): started and stopped with this service.
- Every other S3 Control operation answers 501 ``NotImplemented``.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.s3 import errors
from cloudlet.services.s3.abac import abac_tags, bucket_tags, tag_bucket, untag_bucket
from cloudlet.services.s3.access_point_control import AccessPointHandlers
from cloudlet.services.s3.access_points import caller_account, parse_arn
from cloudlet.services.s3.batch import BatchHandlers
from cloudlet.services.s3.batch_jobs import job_arn
from cloudlet.services.s3.directory import directory_name
from cloudlet.services.s3.object_lambda import ObjectLambdaControlHandlers

Result = dict[str, Any]
_TAGGABLE_ELSEWHERE = (
    "accesspoint/",
    "storage-lens",
    "job/",
    "access-grants",
    "multi-region-access-point",
)


def _no_such_resource() -> ServiceError:
    # AWS's code and text (LocalStack's S3 Control tagging, checked against AWS).
    return errors.s3_error("NoSuchResource", "The specified resource doesn't exist.", 404)


class S3ControlService(ObjectLambdaControlHandlers, AccessPointHandlers, BatchHandlers, Service):
    """The ``s3control`` API's bucket and access point tagging, access points and Batch
    Operations jobs over the S3 service's buckets."""

    name = "s3control"
    internal_error = ("InternalError", "We encountered an internal error. Please try again.")

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)

    @property
    def s3(self) -> Any:
        return self.env.services["s3"]

    async def start(self) -> None:
        self._start_batch()  # after S3's start (the registry's order): its database is open

    async def stop(self) -> None:
        await self._stop_batch()

    # ---- the operations

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point_of(ctx, params)
        if point is not None:
            self._tag_access_point(point, params.get("Tags") or [])
            return {}
        name = self._bucket_of(ctx, params)
        tag_bucket(self.s3.configs, name, params.get("Tags") or [])
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point_of(ctx, params)
        if point is not None:
            self._untag_access_point(point, params.get("TagKeys") or [])
            return {}
        name = self._bucket_of(ctx, params)
        untag_bucket(self.s3.configs, name, params.get("TagKeys") or [])
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._access_point_of(ctx, params)
        if point is not None:
            tags = self._access_point_tags(point)
        else:
            tags = bucket_tags(self.s3.configs, self._bucket_of(ctx, params))
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    # ---- ARNs

    def _access_point_of(self, ctx: Any, params: dict[str, Any]) -> Any:
        """The caller's access point ``ResourceArn`` names (None: it names none)."""
        if parse_arn(params.get("ResourceArn") or "") is None:
            return None
        caller_account(ctx, params)
        return self._tagged_access_point(ctx, params["ResourceArn"])

    def _bucket_of(self, ctx: Any, params: dict[str, Any]) -> str:
        """The name of the bucket ``ResourceArn`` names, checked as the caller's."""
        caller_account(ctx, params)
        name = bucket_name(params.get("ResourceArn") or "")
        bucket = self.s3.store.get_bucket(name) if name else None
        if bucket is None or bucket.account != ctx.account_id:
            raise _no_such_resource()
        return name

    # ---- strict mode

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """The resource ARN and, for a bucket, its bucket policy (a job's ARN for the
        operations on one job)."""
        if params.get("JobId"):
            return job_arn(ctx.region, params.get("AccountId") or "", params["JobId"]), None
        point = self._access_point_resource(ctx, operation, params)
        if point is not None:
            return point
        arn = params.get("ResourceArn") or "*"
        name = bucket_name(arn) if arn != "*" else None
        return arn, self.s3.configs.get(name, "policy") if name else None

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """A directory bucket's tags need ``s3express:`` actions (the API reference's
        "Directory bucket permissions"); a general purpose bucket's are ``s3:`` ones."""
        if ":s3express:" not in (params.get("ResourceArn") or ""):
            return None
        arn, text = self.policy_resource(ctx, operation, params)
        return ((f"s3express:{operation}", arn, text),)

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        """``aws:RequestTag/<key>`` and ``aws:TagKeys`` of the tags a request sets or
        removes, and ``aws:ResourceTag/<key>`` of the bucket's tags under ABAC (an access
        point's tags always)."""
        params = ctx.params
        tags = params.get("Tags") or []
        if ctx.operation.name == "TagResource":
            for tag in tags:
                context["aws:RequestTag/" + tag.get("Key", "")] = tag.get("Value", "")
            context["aws:TagKeys"] = [t.get("Key", "") for t in tags]
        elif ctx.operation.name == "UntagResource":
            context["aws:TagKeys"] = list(params.get("TagKeys") or [])
        arn = params.get("ResourceArn") or ""
        point = self.s3.access_points.by_arn(arn) if parse_arn(arn) else None
        name = bucket_name(arn) if point is None else ""
        found = abac_tags(self.s3.store, self.s3.configs, name) if name else None
        if point is not None:
            found = self._access_point_tags(point)
        for key, value in (found or {}).items():
            context["aws:ResourceTag/" + key] = value


def bucket_name(arn: str) -> str:
    """The bucket an S3 Control ResourceArn names ("" for none: an access point's names
    none). The ARN of another kind of resource S3 Control tags is 501."""
    if parse_arn(arn) is not None:
        return ""
    if arn.startswith("arn:aws:s3:::"):
        name = arn[len("arn:aws:s3:::") :]
        return "" if "/" in name else name
    fields = arn.split(":", 5)
    if len(fields) == 6 and fields[2] == "s3express" and fields[5].startswith("bucket/"):
        name = fields[5][len("bucket/") :]
        return name if directory_name(name) is not None else ""
    if len(fields) == 6 and fields[5].startswith(_TAGGABLE_ELSEWHERE):
        raise errors.s3_error(
            "NotImplemented",
            f"Tagging {fields[5].split('/')[0]} resources is not implemented in cloudlet: "
            "only buckets and access points are",
            501,
        )
    return ""
