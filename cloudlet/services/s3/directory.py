"""Directory buckets (S3 Express One Zone): names, placement, sessions, what they refuse.

A directory bucket is named ``base--zone-id--x-s3`` and created with a
``CreateBucketConfiguration`` naming its zone (``Location``) and its type
(``Bucket``: ``Directory``). Its objects are all ``EXPRESS_ONEZONE``; it has no
versioning, ACLs, website, replication or the other general-purpose features, and
answers them ``NotSupported``. ListBuckets leaves it out; ListDirectoryBuckets lists
only these (``buckets.py``).

Requests on its objects are signed with session credentials: ``CreateSession`` hands
out a key, a secret and a token good for five minutes on one bucket, ``ReadWrite`` or
``ReadOnly``, and the SDK signs each request with them and sends the token as
``x-amz-s3session-token``. The keys join the server's credential store, so strict
mode verifies those signatures as any other; the session then stands for the
per-operation IAM check (as on AWS, where ``s3express:CreateSession`` is the
permission), and a ``ReadOnly`` session or one for another bucket is refused. Sessions
are kept in the metadata database, so a restart does not strand a client mid-session.

boto3 pointed at an ``endpoint_url`` asks for a session before every call on a
``--x-s3`` bucket, CreateBucket included: a session is therefore granted for a
well-formed directory bucket name that does not exist yet, and the call it was asked
for answers ``NoSuchBucket`` as usual. On AWS, CreateBucket goes to the regional
control endpoint and never asks.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cloudlet.auth.actions import action_for
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, S3Handlers
from cloudlet.services.s3.store import Bucket
from cloudlet.state.documents import DocumentStore

SUFFIX = "--x-s3"
SESSION_SECONDS = 300
"""A session's life: five minutes, as CreateSession's reference says."""
_NAME = re.compile(
    r"(?P<base>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"--(?P<zone>(?P<code>[a-z]+[0-9]+)(?:-[a-z]+[0-9]+)?-az[0-9]+)--x-s3"
)
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_DIRECTIONS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}
_REDUNDANCY = {"AvailabilityZone": "SingleAvailabilityZone", "LocalZone": "SingleLocalZone"}
_SESSION_MODES = frozenset(("ReadWrite", "ReadOnly"))
_KEY_CHARS = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"
_READS = frozenset(("GET", "HEAD"))

SUPPORTED = frozenset(
    (
        # Regional (bucket) operations
        "CreateBucket",
        "DeleteBucket",
        "ListDirectoryBuckets",
        "PutBucketPolicy",
        "GetBucketPolicy",
        "DeleteBucketPolicy",
        "PutBucketEncryption",
        "GetBucketEncryption",
        "DeleteBucketEncryption",
        "PutBucketLifecycleConfiguration",
        "GetBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
        # Zonal (object) operations
        "CreateSession",
        "HeadBucket",
        "ListObjectsV2",
        "PutObject",
        "GetObject",
        "HeadObject",
        "GetObjectAttributes",
        "DeleteObject",
        "DeleteObjects",
        "CopyObject",
        "RenameObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "ListMultipartUploads",
    )
)
"""What a directory bucket answers (the User Guide's "Directory bucket API operations");
every other operation on one is ``NotSupported``."""


@lru_cache(maxsize=1)
def _zone_regions() -> dict[str, str]:
    """Zone-id prefix -> region (``use1`` -> us-east-1, ``apne1`` -> ap-northeast-1)."""
    from cloudlet.services.s3.buckets import known_regions

    out = {}
    for region in known_regions():
        parts = region.split("-")
        if len(parts) == 3 and parts[1] in _DIRECTIONS:
            out[region_code(region)] = region
    return out


def region_code(region: str) -> str:
    """A Region's short code as AWS writes it in zone ids and aliases: ``use1``, ``apse2``."""
    parts = region.split("-")
    if len(parts) < 3:
        return re.sub(r"[^a-z0-9]", "", region)[:6]
    country, *middle, number = parts
    direction = "".join(_DIRECTIONS.get(word, word[:1]) for word in middle)
    return f"{country}{direction}{number}"


def is_directory(bucket: Bucket) -> bool:
    return "directory" in bucket.config


def directory_name(name: str) -> re.Match[str] | None:
    """The parts of a well-formed directory bucket name (the User Guide's naming rules),
    or None."""
    if not name.endswith(SUFFIX) or len(name) > 63 or name.startswith(_RESERVED_PREFIXES):
        return None
    return _NAME.fullmatch(name)


def express_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:s3express:{region}:{account}:bucket/{name}"


def placement(name: str, params: dict[str, Any], request_region: str) -> dict[str, str] | None:
    """A directory bucket's zone and type from CreateBucket, checked; None for a
    general-purpose bucket (one that names no ``Bucket`` type)."""
    config = params.get("CreateBucketConfiguration") or {}
    kind = (config.get("Bucket") or {}).get("Type")
    if kind is None and "Location" not in config:
        return None
    match = directory_name(name)
    if kind != "Directory" or match is None:
        raise errors.invalid_bucket_name(name)
    if config.get("LocationConstraint") is not None:
        # A regional constraint beside a zone is not in the schema (aws/aws-cli#8502).
        raise errors.malformed_xml()
    location = config.get("Location") or {}
    location_type = location.get("Type")
    if location_type not in _REDUNDANCY or not location.get("Name"):
        raise errors.malformed_xml()
    zone = match["zone"]
    if location["Name"] != zone:
        raise errors.invalid_request(
            f"The zone {location['Name']} in the bucket configuration does not match the "
            f"zone {zone} in the bucket name"
        )
    region = _zone_regions().get(match["code"])
    if region is None:
        raise errors.invalid_bucket_name(name)
    if region != request_region:
        raise errors.illegal_location_constraint(zone, request_region)
    redundancy = (config.get("Bucket") or {}).get("DataRedundancy")
    if redundancy is not None and redundancy != _REDUNDANCY[location_type]:
        raise errors.invalid_request(
            f"The data redundancy {redundancy} is not valid for a bucket in a {location_type}"
        )
    if params.get("ObjectLockEnabledForBucket"):
        raise errors.invalid_request("Object Lock is not supported for directory buckets")
    ownership = params.get("ObjectOwnership")
    if ownership not in (None, "BucketOwnerEnforced"):
        raise errors.invalid_argument(
            "Directory buckets support only the BucketOwnerEnforced object ownership",
            "x-amz-object-ownership",
            ownership,
        )
    return {
        "region": region,
        "LocationType": location_type,
        "LocationName": zone,
        "DataRedundancy": _REDUNDANCY[location_type],
    }


_LIFECYCLE_REFUSED = (
    ("Transitions", "Transition actions"),
    ("NoncurrentVersionTransitions", "Noncurrent version transitions"),
    ("NoncurrentVersionExpiration", "Noncurrent version expiration"),
)


def check_lifecycle(rules: list[dict[str, Any]]) -> None:
    """A directory bucket's lifecycle rules expire objects by age and abort uploads, no
    more (the User Guide's "Working with S3 Lifecycle for directory buckets"): no
    transitions, nothing about versions or delete markers, no dated expiry, no tag
    filters (``InvalidRequest`` naming what, a judgement call: the guide gives no code)."""
    for rule in rules:
        for member, what in _LIFECYCLE_REFUSED:
            if rule.get(member):
                raise _lifecycle_refusal(what)
        expiration = rule.get("Expiration") or {}
        if "Date" in expiration or "ExpiredObjectDeleteMarker" in expiration:
            raise _lifecycle_refusal("Expiration by date or of delete markers")
        found = rule.get("Filter") or {}
        if "Tag" in found or (found.get("And") or {}).get("Tags"):
            raise _lifecycle_refusal("Tag filters")


def _lifecycle_refusal(what: str) -> ServiceError:
    return errors.invalid_request(f"{what} are not supported for directory buckets")


def not_supported(operation: str) -> ServiceError:
    return errors.s3_error(
        "NotSupported", f"{operation} is not supported for directory buckets.", 400
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    bucket: str
    mode: str
    token: str
    expires: float


class DirectoryHandlers(S3Handlers):
    """CreateSession, and the checks a directory bucket's requests go through."""

    env: Any

    def _init_sessions(self) -> None:
        self._sessions = DocumentStore(self.store.conn, "express_sessions")
        self._live: dict[str, Session] = {}
        now = clock.time()
        for doc in self._sessions.load("session"):
            if doc["expires"] <= now:
                self._sessions.delete("session", doc["access_key"])
                continue
            self._register(doc)

    def _register(self, doc: dict[str, Any]) -> None:
        from cloudlet.auth.credentials import Principal

        key = doc["access_key"]
        self._live[key] = Session(doc["bucket"], doc["mode"], doc["token"], doc["expires"])
        credentials = self.env.credentials
        if credentials is not None:
            credentials.add_key(
                key,
                doc["secret_key"],
                Principal.from_doc(key, doc["principal"]),
                session_token=doc["token"],
                expires=doc["expires"],
            )

    def create_session(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["Bucket"]
        bucket = self.store.get_bucket(name)
        if bucket is None and directory_name(name) is None:
            raise errors.no_such_bucket(name)
        if bucket is not None and not is_directory(bucket):
            raise errors.invalid_request("CreateSession is supported only for directory buckets")
        mode = params.get("SessionMode") or "ReadWrite"
        if mode not in _SESSION_MODES:
            raise errors.invalid_argument(
                f"Invalid session mode: {mode}", "x-amz-create-session-mode", mode
            )
        out = self._session_encryption(bucket, params)
        self._forget_expired()
        access_key = "ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))
        expires = clock.time() + SESSION_SECONDS
        doc = {
            "access_key": access_key,
            "secret_key": "".join(secrets.choice(_SECRET_CHARS) for _ in range(40)),
            "token": secrets.token_urlsafe(96),
            "expires": expires,
            "bucket": name,
            "mode": mode,
            "principal": dataclasses.replace(ctx.principal, access_key=access_key).to_doc(),
        }
        self._sessions.put("session", access_key, doc)
        self._register(doc)
        out["Credentials"] = {
            "AccessKeyId": access_key,
            "SecretAccessKey": doc["secret_key"],
            "SessionToken": doc["token"],
            "Expiration": datetime.fromtimestamp(expires, UTC),
        }
        return out

    def _session_encryption(self, bucket: Bucket | None, params: dict[str, Any]) -> Result:
        """The encryption a session's writes get: the one it asks for, else the bucket's
        default (SSE-S3 unless configured)."""
        algorithm = params.get("ServerSideEncryption")
        if algorithm not in (None, "AES256", "aws:kms"):
            raise errors.invalid_argument(
                "The encryption method specified is not supported",
                "x-amz-server-side-encryption",
                algorithm,
            )
        if algorithm is None:
            rule = {} if bucket is None else self._encryption_rule(bucket)  # type: ignore[attr-defined]
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            algorithm = default.get("SSEAlgorithm", "AES256")
            key = default.get("KMSMasterKeyID")
            bucket_key = rule.get("BucketKeyEnabled")
        else:
            key = params.get("SSEKMSKeyId")
            bucket_key = params.get("BucketKeyEnabled")
        out: Result = {"ServerSideEncryption": algorithm}
        if algorithm == "aws:kms":
            if key:
                out["SSEKMSKeyId"] = key
            if params.get("SSEKMSEncryptionContext"):
                out["SSEKMSEncryptionContext"] = params["SSEKMSEncryptionContext"]
            out["BucketKeyEnabled"] = bool(bucket_key)
        return out

    def _forget_expired(self) -> None:
        now = clock.time()
        for key in [k for k, s in self._live.items() if s.expires <= now]:
            del self._live[key]
            self._sessions.delete("session", key)

    # -- the checks every request on a directory bucket goes through ---------------------

    def _check_directory_request(self, ctx: Any, name: str) -> None:
        """Refuse what a directory bucket does not do."""
        bucket = self.store.get_bucket(name)
        if bucket is not None and is_directory(bucket) and ctx.operation.name not in SUPPORTED:
            raise not_supported(ctx.operation.name)

    def _check_session(self, ctx: Any, session: Session, name: str) -> None:
        """Strict mode, a request signed with a session's key (its signature and token
        already verified): refused outside the session's bucket, or a write on a
        ``ReadOnly`` session."""
        if not getattr(self.env.credentials, "strict", False):
            return
        if session.bucket != name or (
            session.mode == "ReadOnly" and ctx.request.method not in _READS
        ):
            raise errors.s3_error("AccessDenied", "Access Denied", 403)

    def _directory_checks(
        self, ctx: Any, operation: str, name: str
    ) -> tuple[tuple[str, str, str | None], ...]:
        """Strict mode's IAM checks on a directory bucket: none for a request signed with
        a session's key (the session is the permission, ``_check_session``); else the
        ``s3express:`` action on the bucket's ARN, under its policy."""
        if ctx.access_key in self._live:
            return ()
        bucket = self.store.get_bucket(name)
        region = bucket.region if bucket is not None else ctx.region
        account = bucket.account if bucket is not None else ctx.account_id
        if operation == "CreateSession":
            action = "s3express:CreateSession"
        else:
            action = "s3express:" + action_for("s3", operation).partition(":")[2]
        return ((action, express_arn(region, account, name), self._policy(name)),)  # type: ignore[attr-defined]
