"""S3Service: the S3 operations, composed of one handler mixin per operation group.

Each mixin lives in its own module and reads like the AWS docs for its
group (``buckets.py``, ``objects.py``, ``copy.py``, ``restore.py``,
``multipart.py``, ``listing.py``; bucket configuration in ``config.py``, ``cors.py``,
``lifecycle.py``, ``notifications.py``, ``objectlock.py``, ``public.py``,
``replication.py``, ``website.py``, ``metrics.py``, ``inventory.py``, ``tiering.py``,
``analytics.py``; S3 Select in ``select.py``; requests through access points in
``access_point_requests.py`` (the access points themselves: ``access_points.py``);
directory buckets' sessions and limits in ``directory.py``, their objects' own
behaviours in ``directory_objects.py``, ``append.py`` and ``rename.py``). This class owns
the state they share: the metadata store (SQLite via ``env.database("s3")``) and the
blob store (files under ``<data_dir>/s3/blobs``, or a private temp dir when ephemeral;
composed multipart blobs under its ``mp/``), the start-up sweep that keeps the two
consistent after a crash, and the background work (lifecycle, Intelligent-Tiering
archiving, replication, metrics, inventory reports, analytics exports).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from cloudlet.auth.actions import action_for
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.s3 import errors
from cloudlet.services.s3.abac import AbacHandlers
from cloudlet.services.s3.access_point_requests import AccessPointRequests
from cloudlet.services.s3.access_points import AccessPointStore
from cloudlet.services.s3.analytics import AnalyticsHandlers
from cloudlet.services.s3.buckets import BucketHandlers
from cloudlet.services.s3.common import plus_as_space
from cloudlet.services.s3.composed import ComposedBlobStore
from cloudlet.services.s3.condition_keys import add_condition_keys
from cloudlet.services.s3.copy import CopyHandlers, parse_copy_source
from cloudlet.services.s3.cors import CorsHandlers
from cloudlet.services.s3.directory import SUFFIX as DIRECTORY_SUFFIX
from cloudlet.services.s3.directory import DirectoryHandlers, directory_name
from cloudlet.services.s3.directory_objects import DirectoryObjectHandlers
from cloudlet.services.s3.document_checks import (
    is_configuration_put,
    read_empty_tagging_as_no_tags,
)
from cloudlet.services.s3.document_checks import refusal as document_refusal
from cloudlet.services.s3.encryption_config import EncryptionHandlers
from cloudlet.services.s3.inventory import InventoryHandlers
from cloudlet.services.s3.lifecycle import LIFECYCLE_INTERVAL, LifecycleHandlers
from cloudlet.services.s3.listing import ListingHandlers
from cloudlet.services.s3.metrics import MetricsHandlers
from cloudlet.services.s3.mfa import MfaDeleteHandlers
from cloudlet.services.s3.multipart import MultipartHandlers
from cloudlet.services.s3.notifications import NotificationHandlers
from cloudlet.services.s3.object_encryption import ObjectEncryptionHandlers
from cloudlet.services.s3.object_lambda import ObjectLambdaStore
from cloudlet.services.s3.object_lambda_requests import ObjectLambdaHandlers
from cloudlet.services.s3.objectlock import ObjectLockHandlers
from cloudlet.services.s3.objects import ObjectHandlers
from cloudlet.services.s3.presigned import hoist_query_headers
from cloudlet.services.s3.public import PublicAccessHandlers
from cloudlet.services.s3.replication import ReplicationHandlers
from cloudlet.services.s3.request_checks import COPY_SOURCE
from cloudlet.services.s3.request_checks import check as check_request
from cloudlet.services.s3.restore import RestoreHandlers
from cloudlet.services.s3.select import SelectHandlers
from cloudlet.services.s3.store import S3Store
from cloudlet.services.s3.tiering import TieringHandlers
from cloudlet.services.s3.torrent import TorrentHandlers
from cloudlet.services.s3.website import WebsiteHandlers

_HIDES_MISSING_KEYS = frozenset(("GetObject", "HeadObject", "GetObjectAttributes"))
_VERSION_ACTIONS = {
    "GetObject": "s3:GetObjectVersion",
    "HeadObject": "s3:GetObjectVersion",
    "DeleteObject": "s3:DeleteObjectVersion",
    "GetObjectTagging": "s3:GetObjectVersionTagging",
    "PutObjectTagging": "s3:PutObjectVersionTagging",
    "DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "GetObjectAcl": "s3:GetObjectVersionAcl",
    "PutObjectAcl": "s3:PutObjectVersionAcl",
    "GetObjectAttributes": "s3:GetObjectVersion",
}
"""The action an object operation needs when it names a version (the Service
Authorization Reference: a version is its own resource action)."""
_ANY_REGION = frozenset(("CreateBucket", "GetBucketLocation", "ListBuckets"))
"""Operations any region's signature may make: bucket creation has its own region
rules (``buckets.py``), and GetBucketLocation is how a client finds a bucket's region."""
_ACL_PARAMS = ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")


def _also_needed(operation: str, params: dict[str, Any]) -> tuple[str, ...]:
    """Actions an object request needs besides its own, for what it carries (each
    operation's reference, "Permissions"): tags on a new object need
    ``s3:PutObjectTagging`` and an ACL on it ``s3:PutObjectAcl``; GetObjectAttributes
    needs ``s3:GetObjectAttributes`` (``s3:GetObjectVersionAttributes`` for a version)
    besides ``s3:GetObject``; a new bucket's tags need ``s3:TagResource`` (CreateBucket's
    reference, ``CreateBucketConfiguration.Tags``)."""
    if operation == "CreateBucket":
        tagged = (params.get("CreateBucketConfiguration") or {}).get("Tags")
        return ("s3:TagResource",) if tagged else ()
    if operation == "UpdateObjectEncryption":  # besides s3:UpdateObjectEncryption
        return ("s3:PutObject",)
    if operation == "GetObjectAttributes":
        if params.get("VersionId") is not None:
            return ("s3:GetObjectVersionAttributes",)
        return ("s3:GetObjectAttributes",)
    if operation not in ("PutObject", "CreateMultipartUpload"):
        return ()
    needed = ("s3:PutObjectTagging",) if params.get("Tagging") else ()
    if operation == "PutObject" and any(params.get(name) for name in _ACL_PARAMS):
        needed += ("s3:PutObjectAcl",)
    return needed


EXPECTED_OWNER = "x-amz-expected-bucket-owner"
SOURCE_EXPECTED_OWNER = "x-amz-source-expected-bucket-owner"

log = logging.getLogger(__name__)


def _bucket_in_path(path: str) -> str:
    """The bucket a path-style request names (virtual hosts are rewritten to it)."""
    return unquote(path.lstrip("/").partition("/")[0])


class S3Service(
    ObjectLambdaHandlers,
    AccessPointRequests,
    AbacHandlers,
    AnalyticsHandlers,
    TieringHandlers,
    InventoryHandlers,
    MetricsHandlers,
    MfaDeleteHandlers,
    ReplicationHandlers,
    NotificationHandlers,
    LifecycleHandlers,
    ObjectLockHandlers,
    CorsHandlers,
    WebsiteHandlers,
    PublicAccessHandlers,
    EncryptionHandlers,
    ObjectEncryptionHandlers,
    BucketHandlers,
    DirectoryObjectHandlers,
    MultipartHandlers,
    ObjectHandlers,
    RestoreHandlers,
    SelectHandlers,
    TorrentHandlers,
    CopyHandlers,
    ListingHandlers,
    DirectoryHandlers,
    Service,
):
    name = "s3"
    internal_error = ("InternalError", "We encountered an internal error. Please try again.")

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = S3Store(env.database("s3"))
        self.access_points = AccessPointStore(self.store)
        self.object_lambda = ObjectLambdaStore(self.store)
        self._init_object_lambda()
        # Multipart: a completed upload's blob is composed of its part files
        # (composed.py); the multipart tables join the same database.
        # Small blobs are rows of the same database (blobs.py).
        self.blobs = ComposedBlobStore.for_data_dir(env.data_dir, self.store.conn)
        if self.blobs.small is not None:
            self.store.add_transaction_hooks(self.blobs.small)
        self._init_multipart()
        self._init_configs()
        self._init_replication()
        self._init_tiering()
        self._init_sessions()

    async def start(self) -> None:
        # Before the first request: nothing is in flight, so any blob no row
        # names is debris of a crash (see blobs.py).
        referenced = self.store.referenced_blob_ids()
        if referenced:
            self.blobs.sweep(referenced.__contains__)
        else:
            # No row names a blob, so debris cannot be told from the files of a
            # database that was lost or replaced: keep them (temp files still go).
            kept = self.blobs.sweep(lambda _blob_id: True).kept
            if kept:
                log.warning("s3: the metadata names no object file but %d are on disk; kept", kept)
        self.env.every(LIFECYCLE_INTERVAL, self._apply_lifecycle, "s3-lifecycle")
        self.env.every(LIFECYCLE_INTERVAL, self._apply_tiering, "s3-tiering")  # same clock
        self.env.every(LIFECYCLE_INTERVAL, self._expire_restores, "s3-restore-expiry")
        self._start_request_metrics()
        self._start_inventory()
        self._start_analytics()
        self._start_replication()  # resumes what a previous run left queued

    async def stop(self) -> None:
        await self._stop_object_lambda()
        await self._stop_replication()  # a job cut short stays queued for the next start
        self.blobs.close()  # first: small blobs still waiting are written to the database
        self.store.close()

    def prepare_request(self, ctx: Any) -> None:
        """Refuse what S3 refuses by the request's shape alone (``request_checks.py``):
        a sub-resource on a bare bucket or key write, a bad ``partNumber``, bad
        encryption or checksum headers (a presigned request's ``x-amz-*`` query
        parameters count as headers, ``presigned.py``); a bucket whose owner is not the one the
        request expects; and a configuration document the codec would refuse in
        words other than S3's (``document_checks.py``), once the bucket exists."""
        request = ctx.request
        if request.query:
            hoist_query_headers(request)
        if "+" in request.path:  # after the signature, which covers the path as sent
            request.path = plus_as_space(request.path)
        if not self._through_object_lambda(ctx):  # its function answers, or ...
            self._through_access_point(ctx)  # an access point's name -> its bucket's
        if ctx.operation.name == "ListBuckets" and (
            ctx.signing_service == "s3express" or "max-directory-buckets" in request.query
        ):
            ctx.operation = ctx.service_model.operation_model("ListDirectoryBuckets")
        if ctx.signed_region is not None and ctx.operation.name not in _ANY_REGION:
            self._check_signed_region(ctx)
        if DIRECTORY_SUFFIX in request.path:
            name = _bucket_in_path(request.path)
            if name.endswith(DIRECTORY_SUFFIX):
                self._check_directory_request(ctx, name)
        if self._live:
            session = self._live.get(ctx.access_key or "")
            if session is not None:
                self._check_session(ctx, session, _bucket_in_path(request.path))
        check_request(ctx.operation, request)
        headers = request.headers
        if EXPECTED_OWNER in headers or SOURCE_EXPECTED_OWNER in headers:
            self._check_expected_owners(request)
        if is_configuration_put(ctx.operation):
            self._bucket(_bucket_in_path(request.path))  # NoSuchBucket first, as S3
            refused = document_refusal(ctx.operation, request)
            if refused is not None:
                raise refused
            read_empty_tagging_as_no_tags(ctx.operation, request)

    def _check_signed_region(self, ctx: Any) -> None:
        """A request signed for a region other than its bucket's is refused, naming the
        bucket's region, as S3 refuses it (clients re-sign from the answer)."""
        name = _bucket_in_path(ctx.request.path)
        bucket = self.store.get_bucket(name) if name else None
        if bucket is not None and bucket.region != ctx.signed_region:
            raise errors.wrong_region(ctx.signed_region, bucket.region, presigned=ctx.presigned)

    def _check_expected_owners(self, request: Any) -> None:
        """``x-amz-expected-bucket-owner`` (and a copy's ``x-amz-source-expected-bucket-owner``):
        an account other than the bucket's owner is 403 ``AccessDenied``, whatever the
        operation; a bucket that does not exist is left to the operation (404)."""
        headers = request.headers
        expected = headers.get(EXPECTED_OWNER)
        if expected is not None:
            self._expect_owner(_bucket_in_path(request.path), expected)
        source_expected = headers.get(SOURCE_EXPECTED_OWNER)
        if source_expected is not None and COPY_SOURCE in headers:
            self._expect_owner(parse_copy_source(headers[COPY_SOURCE])[0], source_expected)

    def _expect_owner(self, name: str, account: str) -> None:
        bucket = self.store.get_bucket(name) if name else None
        if bucket is not None and bucket.account != account:
            raise errors.s3_error("AccessDenied", "Access Denied", 403)

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the bucket or object ARN and the bucket policy."""
        bucket = params.get("Bucket")
        if not bucket:
            return "*", None
        key = params.get("Key")
        if key is None and operation == "DeleteObjects":
            key = "*"
        arn = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
        return arn, self.configs.get(bucket, "policy")

    def authorization_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """The bucket's checks (``_bucket_checks``); through an access point, each also
        made on the access point (``access_point_requests.py``)."""
        checks = self._bucket_checks(ctx, operation, params)
        checks = self._access_point_checks(ctx, operation, params, checks)
        return self._object_lambda_checks(ctx, operation, checks)

    def _bucket_checks(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str, str | None], ...] | None:
        """Strict mode, where a request is not one action on one object (AWS's rules in
        each operation's reference, "Permissions"):

        - DeleteObjects: nothing up front; each key needs ``s3:DeleteObject`` (with a
          version, ``s3:DeleteObjectVersion``), and a refused key is an ``AccessDenied``
          entry of the answer while the others are deleted (``objects.delete_objects``);
        - CopyObject and UploadPartCopy: ``s3:PutObject`` on the target and
          ``s3:GetObject`` (``s3:GetObjectVersion`` for a version) on the source, each
          under its own bucket's policy;
        - an object operation naming a version: the action's version form
          (``s3:GetObjectVersion``, ``s3:DeleteObjectVersion``, ...);
        - the actions ``_also_needed`` names, on the same object.
        """
        if operation == "ListDirectoryBuckets":
            return (("s3express:ListAllMyDirectoryBuckets", "*", None),)
        bucket = params.get("Bucket")
        if not bucket:
            return None
        if directory_name(bucket) is not None:
            return self._directory_checks(ctx, operation, bucket)
        if operation == "DeleteObjects":
            return ()
        if operation in ("CopyObject", "UploadPartCopy") and params.get("Key"):
            source, key, version = parse_copy_source(params.get("CopySource") or "")
            return (
                ("s3:PutObject", f"arn:aws:s3:::{bucket}/{params['Key']}", self._policy(bucket)),
                (
                    "s3:GetObjectVersion" if version is not None else "s3:GetObject",
                    f"arn:aws:s3:::{source}/{key}",
                    self._policy(source),
                ),
            )
        versioned = _VERSION_ACTIONS.get(operation)
        if params.get("VersionId") is None:
            versioned = None
        also = _also_needed(operation, params)
        if versioned is None and not also:
            return None
        arn, text = self.policy_resource(ctx, operation, params)
        action = versioned or action_for("s3", operation)
        return tuple((needed, arn, text) for needed in (action, *also))

    def condition_keys(self, ctx: Any, context: dict[str, Any]) -> None:
        add_condition_keys(self.store, ctx, context, self._abac_tags)
        self._access_point_keys(ctx, context)
        self._object_lambda_keys(ctx, context)

    def _policy(self, bucket: str) -> str | None:
        return self.configs.get(bucket, "policy")

    def strict_error(self, ctx: Any, err: Any, auth: Any) -> Any:
        """A missing key is 404 only to a caller who may list the bucket; anyone else
        gets 403 AccessDenied, which does not say whether the key exists (AWS's rule
        for GetObject, HeadObject and GetObjectAttributes)."""
        if err.code != "NoSuchKey" or ctx.operation.name not in _HIDES_MISSING_KEYS:
            return err
        bucket = ctx.params["Bucket"]
        if self._may_list_bucket(ctx, auth, bucket):
            return err
        return ServiceError("AccessDenied", "Access Denied", 403)

    def health(self) -> dict[str, Any]:
        row = self.store.conn.execute("SELECT count(*) FROM buckets").fetchone()
        return {"state": "running", "buckets": row[0], "blobs": str(self.blobs.root)}
