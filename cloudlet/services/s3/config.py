"""Bucket configuration documents: stored, returned, and deleted with the bucket.

Every configuration S3 keeps on a bucket (policy, ACL, CORS, lifecycle,
website, encryption, tagging, ownership controls, public access block,
logging, request payment, accelerate, notifications) is one row of one table,
keyed by bucket and kind, holding the operation's params document as JSON
(``BucketConfigs``). The modules that make a configuration *do* something
(``cors.py``, ``lifecycle.py``, ``notifications.py``, ``objectlock.py``,
``public.py``, ``website.py``) read it from here.

``ConfigHandlers`` holds the Put/Get/Delete operations that only store and
return (each with the error S3 answers when nothing is configured), and object
tagging (kept in the version's ``extra["tags"]``). Tag sets follow one set of rules
for buckets and objects, worded apart where S3 words them apart (the ``aws:``
prefix, the limits), and an empty bucket tag set is none. ACLs are returned without
``DisplayName``, which S3 stopped sending on 21 November 2025, even when stored or
sent with one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from cloudlet.core.errors import ServiceError
from cloudlet.core.tags import tag_text_ok
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors
from cloudlet.services.s3.bucket_policy import parse_bucket_policy
from cloudlet.services.s3.common import Result, S3Handlers, canonical_user_id, owner_of
from cloudlet.services.s3.directory import express_arn, is_directory
from cloudlet.services.s3.store import Bucket, ObjectVersion, S3Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_config (
    bucket TEXT NOT NULL,
    kind TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bucket_config_kind ON bucket_config (kind);
"""

_MISSING = object()
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
_LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
CANNED_ACLS = frozenset(
    (
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
    )
)
MAX_BUCKET_TAGS = 50
MAX_OBJECT_TAGS = 10
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_QUERY_SYNTAX = str.maketrans("", "", "%&")
"""What an URL-encoded query adds to tag text: escapes and pair separators."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


class BucketConfigs:
    """One table of configuration documents, cached in memory (event-loop thread only)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        store.add_schema(SCHEMA)
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, bucket: str, kind: str) -> Any | None:
        hit = self._cache.get((bucket, kind), _MISSING)
        if hit is _MISSING:
            row = self.store.conn.execute(
                "SELECT document FROM bucket_config WHERE bucket = ? AND kind = ?", (bucket, kind)
            ).fetchone()
            hit = json.loads(row[0], object_hook=_decode) if row else None
            self._cache[(bucket, kind)] = hit
        return hit

    def put(self, bucket: str, kind: str, document: Any) -> None:
        text = json.dumps(document, default=_encode, separators=(",", ":"))
        self.store.conn.execute(
            "INSERT OR REPLACE INTO bucket_config (bucket, kind, document) VALUES (?, ?, ?)",
            (bucket, kind, text),
        )
        self._cache[(bucket, kind)] = json.loads(text, object_hook=_decode)

    def delete(self, bucket: str, kind: str) -> None:
        self.store.conn.execute(
            "DELETE FROM bucket_config WHERE bucket = ? AND kind = ?", (bucket, kind)
        )
        self._cache[(bucket, kind)] = None

    def delete_all(self, bucket: str) -> None:
        self.store.conn.execute("DELETE FROM bucket_config WHERE bucket = ?", (bucket,))
        for key in [k for k in self._cache if k[0] == bucket]:
            del self._cache[key]

    def all_of(self, kind: str) -> list[tuple[str, Any]]:
        """Every bucket's document of one kind (for background loops)."""
        rows = self.store.conn.execute(
            "SELECT bucket, document FROM bucket_config WHERE kind = ?", (kind,)
        ).fetchall()
        return [(b, json.loads(d, object_hook=_decode)) for b, d in rows]


# -- ACLs ------------------------------------------------------------------------------


def _grant(grantee: dict[str, Any], permission: str) -> dict[str, Any]:
    return {"Grantee": grantee, "Permission": permission}


def _owner_grantee(account: str) -> dict[str, Any]:
    return {"Type": "CanonicalUser", **owner_of(account)}


def _group(uri: str) -> dict[str, Any]:
    return {"Type": "Group", "URI": uri}


def canned_acl(name: str, account: str, bucket_owner: str | None = None) -> dict[str, Any]:
    """The ``AccessControlPolicy`` a canned ACL stands for, owned by ``account``; the
    ``bucket-owner-*`` ones also grant the ``bucket_owner``'s account, when another."""
    if name not in CANNED_ACLS:
        raise errors.invalid_argument("", "x-amz-acl", name)
    grants = [_grant(_owner_grantee(account), "FULL_CONTROL")]
    if bucket_owner is not None and bucket_owner != account:
        if name == "bucket-owner-read":
            grants.append(_grant(_owner_grantee(bucket_owner), "READ"))
        elif name == "bucket-owner-full-control":
            grants.append(_grant(_owner_grantee(bucket_owner), "FULL_CONTROL"))
    if name in ("public-read", "public-read-write"):
        grants.append(_grant(_group(ALL_USERS), "READ"))
    if name == "public-read-write":
        grants.append(_grant(_group(ALL_USERS), "WRITE"))
    if name == "authenticated-read":
        grants.append(_grant(_group(AUTH_USERS), "READ"))
    if name == "log-delivery-write":
        grants.append(_grant(_group(_LOG_DELIVERY), "WRITE"))
        grants.append(_grant(_group(_LOG_DELIVERY), "READ_ACP"))
    return {"Owner": owner_of(account), "Grants": grants}


_GRANT_HEADERS = (
    ("GrantFullControl", "FULL_CONTROL", "x-amz-grant-full-control"),
    ("GrantRead", "READ", "x-amz-grant-read"),
    ("GrantReadACP", "READ_ACP", "x-amz-grant-read-acp"),
    ("GrantWrite", "WRITE", "x-amz-grant-write"),
    ("GrantWriteACP", "WRITE_ACP", "x-amz-grant-write-acp"),
)
"""Each grant header: its request member, the permission it grants, its wire name."""
_PERMISSIONS = frozenset(permission for _, permission, _ in _GRANT_HEADERS)
_GRANTEE_FIELD = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}
_GROUPS = frozenset((ALL_USERS, AUTH_USERS, _LOG_DELIVERY))
_CANONICAL_ID = re.compile(r"[0-9a-fA-F]{64}")


def _grantee_item(text: str) -> tuple[str, str] | None:
    """One grant header item (``id="..."``, ``uri=...``, ``emailAddress=...``) as its
    lower-cased kind and its value, or None when it is no such item."""
    kind, sep, value = text.strip().partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in ("id", "uri", "emailaddress"):
        return None
    return kind, value.strip().strip('"')


def _header_grantee(text: str) -> dict[str, Any]:
    """One grant header item, already checked by ``_check_grant_header``."""
    kind, value = _grantee_item(text) or ("", "")
    if kind == "id":
        return {"Type": "CanonicalUser", "ID": value}
    if kind == "uri":
        return _group(value)
    return {"Type": "AmazonCustomerByEmail", "EmailAddress": value}


def _check_grantee(kind: str, value: str, *, id_name: str, uri_name: str) -> None:
    if kind == "emailaddress":
        # S3 stopped taking email grantees on 1 October 2025: "the request will receive
        # an HTTP 405 (Method Not Allowed) error" (PutBucketAcl's end-of-support notice,
        # for us-east-1 and seven other Regions; elsewhere an address resolves to no
        # account here, which S3 would refuse too).
        raise errors.s3_error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    if kind == "id" and not _CANONICAL_ID.fullmatch(value):
        raise errors.invalid_argument("Invalid id", id_name, value)
    if kind == "uri" and value not in _GROUPS:
        raise errors.invalid_argument("Invalid group uri", uri_name, value)


def _check_grant_header(header: str, text: str) -> None:
    """A grant header: comma-separated ``id=``, ``uri=`` or ``emailAddress=`` grantees."""
    for part in text.split(","):
        item = _grantee_item(part)
        if item is None:
            raise errors.invalid_argument("Argument format not recognized", header, text)
        _check_grantee(*item, id_name="id", uri_name="uri")


def _check_policy(policy: Any) -> None:
    """An ``AccessControlPolicy`` document: S3's schema first (an ``Owner`` with an
    ``ID``, known permissions and grantee types, each grantee naming itself), else
    MalformedACLError; then canonical ids and group URIs, else InvalidArgument."""
    owner = policy.get("Owner") if isinstance(policy, dict) else None
    if not isinstance(owner, dict) or not owner.get("ID"):
        raise errors.malformed_acl()
    grantees = []
    for grant in policy.get("Grants") or []:
        grantee = grant.get("Grantee") if isinstance(grant, dict) else None
        if not isinstance(grantee, dict) or grant.get("Permission") not in _PERMISSIONS:
            raise errors.malformed_acl()
        field = _GRANTEE_FIELD.get(grantee.get("Type") or "")
        if field is None or not grantee.get(field):
            raise errors.malformed_acl()
        grantees.append((field.lower(), str(grantee[field])))
    grantees.insert(0, ("id", str(owner["ID"])))
    for kind, value in grantees:
        _check_grantee(kind, value, id_name="CanonicalUser/ID", uri_name="Group/URI")


def check_acl_request(params: dict[str, Any]) -> None:
    """Put*Acl's request, checked as S3 does before the bucket's ACL settings
    (LocalStack's AWS-recorded ``test_s3_bucket_acl_exceptions`` and
    ``test_s3_object_acl_exceptions``): a document with a canned ACL or grant headers
    is UnexpectedContent; a canned ACL with grant headers InvalidRequest; grant headers
    with a malformed grantee, an invalid canonical id or an unknown group
    InvalidArgument; a request with none of the three MissingSecurityHeader."""
    grants = [(wire, params[h]) for h, _, wire in _GRANT_HEADERS if params.get(h)]
    policy = params.get("AccessControlPolicy")
    canned = params.get("ACL")
    if policy is not None and (canned is not None or grants):
        raise errors.unexpected_content()
    if canned is not None and grants:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    for header, text in grants:
        _check_grant_header(header, str(text))
    if policy is not None:
        _check_policy(policy)
    elif canned is None and not grants:
        raise errors.missing_security_header("x-amz-acl")


def acl_from_params(
    params: dict[str, Any], account: str, bucket_owner: str | None = None
) -> dict[str, Any] | None:
    """The ACL a request sets (canned, grant headers or a document), owned by
    ``account``; None if none. Grant headers are checked as Put*Acl checks them,
    whichever operation carries them (CreateBucket, PutObject, CopyObject,
    CreateMultipartUpload). ``bucket_owner``: an object's bucket's owner, whom the
    ``bucket-owner-*`` canned ACLs name."""
    sources = [
        params.get("ACL") is not None,
        any(params.get(h) for h, _, _ in _GRANT_HEADERS),
        params.get("AccessControlPolicy") is not None,
    ]
    if sum(sources) > 1:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    if params.get("ACL") is not None:
        return canned_acl(params["ACL"], account, bucket_owner)
    if sources[1]:
        grants = []
        for header, permission, wire in _GRANT_HEADERS:
            if params.get(header):
                _check_grant_header(wire, str(params[header]))
            for text in (params.get(header) or "").split(","):
                if text.strip():
                    grants.append(_grant(_header_grantee(text), permission))
        return {"Owner": owner_of(account), "Grants": grants}
    policy = params.get("AccessControlPolicy")
    if policy is None:
        return None
    owner = policy.get("Owner") or {}
    if owner.get("ID") and owner["ID"] != canonical_user_id(account):
        raise errors.s3_error("AccessDenied", "Access Denied", 403)
    for grant in policy.get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        if grant.get("Permission") not in _PERMISSIONS or grantee.get("Type") not in _GRANTEE_FIELD:
            raise errors.malformed_xml()
    return without_display_names({"Owner": owner_of(account), "Grants": policy.get("Grants") or []})


def _without_display_name(who: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in who.items() if k != "DisplayName"}


def without_display_names(acl: dict[str, Any]) -> dict[str, Any]:
    """``acl`` with no ``DisplayName`` in its owner or grantees: S3 stopped returning
    it on 21 November 2025 (the ``Owner`` data type's end-of-support notice), and ACLs
    stored before then, or sent with one, still carry it."""
    grants = [
        {**grant, "Grantee": _without_display_name(grant.get("Grantee") or {})}
        for grant in acl.get("Grants") or []
    ]
    return {**acl, "Owner": _without_display_name(acl.get("Owner") or {}), "Grants": grants}


# -- tags ------------------------------------------------------------------------------


def _invalid_tag(message: str, key: str | None = None, value: str | None = None) -> Exception:
    """S3's ``InvalidTag``, naming the offending ``TagKey`` (and ``TagValue``) as S3 does;
    text no XML document can hold (control characters) is left out rather than
    breaking the error document."""
    return errors.s3_error(
        "InvalidTag", message, 400, TagKey=_xml_text(key), TagValue=_xml_text(value)
    )


def _xml_text(text: str | None) -> str | None:
    """``text`` if XML 1.0 can carry it: no control characters but tab and newlines,
    no surrogates, no U+FFFE/U+FFFF."""
    if text is None or _NOT_XML.search(text):
        return None
    return text


def check_bucket_tags(tag_set: list[dict[str, str]]) -> list[dict[str, str]]:
    """A bucket's tag set (PutBucketTagging, CreateBucket's ``Tags``), checked."""
    return _check_tags(
        tag_set,
        MAX_BUCKET_TAGS,
        lambda: _invalid_tag("Bucket tag count cannot be greater than 50"),
        "System tags cannot be added/updated by requester",
    )


def check_object_tags(tag_set: list[dict[str, str]]) -> list[dict[str, str]]:
    """An object's tag set (PutObjectTagging, ``x-amz-tagging``), checked."""
    return _check_tags(
        tag_set,
        MAX_OBJECT_TAGS,
        # BadRequest, where a bucket's 51st tag is InvalidTag (moto's AWS-verified
        # test_put_object_tagging_too_many_tags)
        lambda: errors.s3_error("BadRequest", "Object tags cannot be greater than 10", 400),
        "Your TagKey cannot be prefixed with aws:",
    )


def _check_tags(
    tag_set: list[dict[str, str]],
    limit: int,
    too_many: Callable[[], Exception],
    system: str,
) -> list[dict[str, str]]:
    """S3's tag rules: at most ``limit``, unique keys, lengths, no control characters,
    no ``aws:`` prefix (``system`` says so: buckets and objects word it differently,
    LocalStack's AWS-recorded ``test_tagging_validation``)."""
    if len(tag_set) > limit:
        raise too_many()
    seen: set[str] = set()
    for tag in tag_set:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if key in seen:
            raise _invalid_tag("Cannot provide multiple Tags with the same key", key)
        seen.add(key)
        if not 1 <= len(key) <= 128 or not tag_text_ok(key):
            raise _invalid_tag("The TagKey you have provided is invalid", key)
        if len(value) > 256 or not tag_text_ok(value):
            raise _invalid_tag("The TagValue you have provided is invalid", key, value)
        if key.lower().startswith("aws:"):
            raise _invalid_tag(system, key)
    return [{"Key": t.get("Key", ""), "Value": t.get("Value", "")} for t in tag_set]


def tags_from_header(text: str) -> list[dict[str, str]]:
    """``x-amz-tagging: k1=v1&k2=v2`` as a TagSet.

    The header's own errors are ``InvalidArgument`` where a TagSet document's are
    ``InvalidTag``: a key given twice, and a character no tag may hold sent as itself
    rather than URL-encoded (``key1=val1,key2=val2``: LocalStack's AWS-recorded
    ``put-obj-wrong-format``, where the same comma in a TagSet is ``InvalidTag``,
    ``put-object-tags-invalid-field``). Once decoded, tags follow the TagSet rules, so
    an encoded control character or an ``aws:`` key stays ``InvalidTag``."""
    pairs = parse_qsl(text, keep_blank_values=True)
    if len({k for k, _ in pairs}) < len(pairs) or not tag_text_ok(text.translate(_QUERY_SYNTAX)):
        raise errors.invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.",
            "x-amz-tagging",
            text,
        )
    return check_object_tags([{"Key": k, "Value": v} for k, v in pairs])


def tagging_directive(params: dict[str, Any]) -> str:
    """CopyObject's ``x-amz-tagging-directive``: COPY (the default) or REPLACE."""
    directive = params.get("TaggingDirective") or "COPY"
    if directive not in ("COPY", "REPLACE"):
        raise errors.invalid_argument(
            "Unknown tagging directive.", "x-amz-tagging-directive", directive
        )
    return directive


# -- the simple stored configurations ---------------------------------------------------


def _check_log_location(source: Bucket, target: Bucket) -> None:
    """S3 delivers access logs only within one region: a target bucket elsewhere is 403
    ``CrossLocationLoggingProhibitted`` (sic), naming the target's region, and the
    source's too unless that is us-east-1 (AWS-recorded snapshots of LocalStack's
    ``test_put_bucket_logging_wrong_target``, ``put-bucket-logging-different-regions``,
    and ``test_put_bucket_logging_cross_locations``)."""
    if source.region == target.region:
        return
    raise errors.s3_error(
        "CrossLocationLoggingProhibitted",
        "Cross S3 location logging not allowed. ",
        403,
        SourceBucketLocation=None if source.region == "us-east-1" else source.region,
        TargetBucketLocation=target.region,
    )


def _not_found(code: str, message: str, bucket: str) -> Exception:
    return errors.s3_error(code, message, 404, BucketName=bucket)


class ConfigHandlers(S3Handlers):
    """Operations that store and return a bucket's configuration documents."""

    configs: BucketConfigs

    def _init_configs(self) -> None:
        self.configs = BucketConfigs(self.store)

    def delete_bucket(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_bucket(ctx, params)  # type: ignore[misc]
        self.configs.delete_all(params["Bucket"])
        return out

    def _required(self, bucket: str, kind: str, code: str, message: str) -> Any:
        document = self.configs.get(bucket, kind)
        if document is None:
            raise _not_found(code, message, bucket)
        return document

    def _drop_config(self, params: dict[str, Any], *kinds: str) -> Result:
        """A ``DeleteBucket*`` answer: the bucket's documents of ``kinds`` are gone
        (deleting one that is not there is no error, as in S3)."""
        bucket = self._bucket(params["Bucket"])
        for kind in kinds:
            self.configs.delete(bucket.name, kind)
        return {}

    # -- policy ---------------------------------------------------------------------

    def put_bucket_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        text = params.get("Policy") or ""
        directory = None
        if is_directory(bucket):
            directory = express_arn(bucket.region, bucket.account, bucket.name)
        # MalformedPolicy unless S3 would store it
        parse_bucket_policy(text, bucket.name, directory)
        self.configs.put(bucket.name, "policy", text)
        return {HTTP_STATUS: 204}  # S3's answer (boto 2 checks for it)

    def get_bucket_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        text = self._required(
            bucket.name, "policy", "NoSuchBucketPolicy", "The bucket policy does not exist"
        )
        return {"Policy": text}

    def delete_bucket_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._drop_config(params, "policy")

    # -- ACL ------------------------------------------------------------------------

    def put_bucket_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        acl = acl_from_params(params, bucket.account)
        if acl is None:
            raise errors.malformed_xml()
        self.configs.put(bucket.name, "acl", acl)
        return {}

    def get_bucket_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        acl = self.configs.get(bucket.name, "acl") or canned_acl("private", bucket.account)
        return without_display_names(acl)

    def put_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        version = self._find(bucket, params["Key"], params.get("VersionId"), "PUT")
        acl = acl_from_params(params, version.owner, bucket_owner=bucket.account)
        if acl is None:
            raise errors.malformed_xml()
        self.store.update_version(version, extra={**version.extra, "acl": acl})
        return {}

    def get_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        version = self._find(bucket, params["Key"], params.get("VersionId"), "GET")
        return without_display_names(
            version.extra.get("acl") or canned_acl("private", version.owner)
        )

    # -- documents stored as sent ---------------------------------------------------

    def put_bucket_ownership_controls(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = (params.get("OwnershipControls") or {}).get("Rules") or []
        if len(rules) != 1 or rules[0].get("ObjectOwnership") not in (
            "BucketOwnerPreferred",
            "ObjectWriter",
            "BucketOwnerEnforced",
        ):
            raise errors.malformed_xml()
        self.configs.put(bucket.name, "ownership", params["OwnershipControls"])
        return {}

    def get_bucket_ownership_controls(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = self.configs.get(bucket.name, "ownership")
        if document is None and bucket.config.get("ownership"):
            # Set by CreateBucket's x-amz-object-ownership.
            document = {"Rules": [{"ObjectOwnership": bucket.config["ownership"]}]}
        if document is None:
            raise _not_found(
                "OwnershipControlsNotFoundError",
                "The bucket ownership controls were not found",
                bucket.name,
            )
        return {"OwnershipControls": document}

    def delete_bucket_ownership_controls(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self.configs.delete(bucket.name, "ownership")
        self.store.set_config(bucket.name, "ownership", None)
        return {}

    def put_bucket_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._refuse_tagging_under_abac(bucket.name, "PutBucketTagging")  # type: ignore[attr-defined]
        tag_set = check_bucket_tags((params.get("Tagging") or {}).get("TagSet") or [])
        if tag_set:
            self.configs.put(bucket.name, "tagging", tag_set)
        else:  # an empty TagSet deletes the tag set (test_bucket_tagging_crud)
            self.configs.delete(bucket.name, "tagging")
        return {HTTP_STATUS: 204}  # S3's answer (boto 2's set_tags checks for it)

    def get_bucket_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        tag_set = self.configs.get(bucket.name, "tagging")
        if not tag_set:  # none, or an empty one kept before empty meant none
            raise _not_found("NoSuchTagSet", "The TagSet does not exist", bucket.name)
        return {"TagSet": tag_set}

    def delete_bucket_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._refuse_tagging_under_abac(params["Bucket"], "DeleteBucketTagging")  # type: ignore[attr-defined]
        return self._drop_config(params, "tagging")

    def put_bucket_logging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        status = params.get("BucketLoggingStatus") or {}
        enabled = status.get("LoggingEnabled")
        if not enabled:
            self.configs.delete(bucket.name, "logging")
            return {}
        target = enabled.get("TargetBucket")
        target_bucket = self.store.get_bucket(target) if target else None
        if target_bucket is None:
            raise errors.s3_error(
                "InvalidTargetBucketForLogging",
                "The target bucket for logging does not exist",
                400,
                TargetBucket=target,
            )
        _check_log_location(bucket, target_bucket)
        self.configs.put(bucket.name, "logging", enabled)
        return {}

    def get_bucket_logging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        enabled = self.configs.get(bucket.name, "logging")
        if not enabled:
            return {}
        grants = without_display_names({"Grants": enabled.get("TargetGrants") or []})["Grants"]
        return {"LoggingEnabled": {**enabled, "TargetGrants": grants} if grants else enabled}

    def put_bucket_request_payment(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        payer = (params.get("RequestPaymentConfiguration") or {}).get("Payer")
        if payer not in ("Requester", "BucketOwner"):
            raise errors.malformed_xml()
        self.configs.put(bucket.name, "request-payment", payer)
        return {}

    def get_bucket_request_payment(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return {"Payer": self.configs.get(bucket.name, "request-payment") or "BucketOwner"}

    def put_bucket_accelerate_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        status = (params.get("AccelerateConfiguration") or {}).get("Status")
        # The bucket's name before the document (AWS's put-bucket-accelerate-config-dot-bucket).
        if "." in bucket.name:
            raise errors.invalid_request(
                "S3 Transfer Acceleration is not supported for buckets with periods (.) in "
                "their names"
            )
        if status not in ("Enabled", "Suspended"):
            raise errors.malformed_xml()
        self.configs.put(bucket.name, "accelerate", status)
        return {}

    def get_bucket_accelerate_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        status = self.configs.get(bucket.name, "accelerate")
        return {"Status": status} if status else {}

    # -- object tagging -------------------------------------------------------------

    def _write_extra(
        self,
        bucket: Bucket,
        params: dict[str, Any],
        *,
        defaults: bool = True,
        source: ObjectVersion | None = None,
        writer: str | None = None,
    ) -> dict[str, Any]:
        """A new object's tags: ``x-amz-tagging``, or for a copy (``source``) what
        ``x-amz-tagging-directive`` says: COPY (the default) takes the source's
        tags and ignores ``x-amz-tagging``, REPLACE takes ``x-amz-tagging`` (none:
        no tags)."""
        extra = super()._write_extra(  # type: ignore[misc]
            bucket, params, defaults=defaults, source=source, writer=writer
        )
        if source is not None and tagging_directive(params) == "COPY":
            tag_set = [dict(t) for t in source.extra.get("tags") or []]
        else:
            header = params.get("Tagging")
            tag_set = tags_from_header(header) if header else []
        if tag_set:
            extra["tags"] = tag_set
        return extra

    def _tagged_version(self, bucket: Bucket, params: dict[str, Any], method: str) -> ObjectVersion:
        """The version an object-tagging call names: a delete marker, named or current,
        is 405 ``MethodNotAllowed`` (``*-object-tags-delete-marker-id`` and ``-latest``)."""
        return self._find(
            bucket, params["Key"], params.get("VersionId"), method, marker_not_allowed=True
        )

    def put_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        version = self._tagged_version(bucket, params, "PUT")
        tag_set = check_object_tags((params.get("Tagging") or {}).get("TagSet") or [])
        self.store.update_version(version, extra={**version.extra, "tags": tag_set})
        return {"VersionId": self._version_header(bucket, version.version_id)}

    def get_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        try:
            version = self._tagged_version(bucket, params, "GET")
        except ServiceError as err:
            if err.code == "NoSuchKey":
                # GetObjectTagging's NoSuchKey names "bucket/key" (LocalStack's AWS-recorded
                # ``get-no-key-tags``; Put and Delete name the key alone).
                raise errors.no_such_key(f"{bucket.name}/{params['Key']}") from None
            raise
        return {
            "VersionId": self._version_header(bucket, version.version_id),
            "TagSet": version.extra.get("tags") or [],
        }

    def delete_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        version = self._tagged_version(bucket, params, "DELETE")
        extra = {k: v for k, v in version.extra.items() if k != "tags"}
        self.store.update_version(version, extra=extra)
        return {"VersionId": self._version_header(bucket, version.version_id)}
