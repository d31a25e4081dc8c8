"""Object Lock: retention and legal holds that really refuse deletes.

A bucket created with Object Lock (or given a lock configuration once
versioning is on) keeps a default retention rule; each new version gets the
default (``_default_extra``) or the ``x-amz-object-lock-*`` headers of its
PutObject, CopyObject or CreateMultipartUpload (``_write_extra``), kept in the
version's ``extra`` with any legal hold and written with the version's row. A
copy never takes its source's retention or legal hold; a multipart upload's
headers are checked when it is created and the default is counted from its
completion, when the version is created. Deleting a *version* (DeleteObject or
DeleteObjects with a version id) is refused with ``AccessDenied`` while a
legal hold is on, while COMPLIANCE retention lasts, and while GOVERNANCE
retention lasts unless ``x-amz-bypass-governance-retention`` is sent. A plain
delete only adds a delete marker, as on S3, and is allowed. Lifecycle skips
locked versions (``_locked``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.store import Bucket, ObjectVersion

MODES = ("GOVERNANCE", "COMPLIANCE")
MAX_DAYS = 36500
"""The longest retention S3 allows: 100 years."""


def _utc_text(until: datetime) -> str:
    """A retain-until date as stored (ISO 8601 in UTC); one that leaves the calendar
    once moved to UTC (``9999-12-31T23:59:59-01:00``) is an invalid argument."""
    try:
        return until.astimezone(UTC).isoformat()
    except (OverflowError, ValueError) as exc:
        raise errors.invalid_argument(
            "The retain until date is out of range", "x-amz-object-lock-retain-until-date"
        ) from exc


def _denied() -> ServiceError:
    return errors.s3_error(
        "AccessDenied", "Access Denied because object protected by object lock.", 403
    )


def _missing_lock() -> ServiceError:
    return errors.invalid_request("Bucket is missing Object Lock Configuration")


def _no_lock_config() -> ServiceError:
    return errors.s3_error(
        "NoSuchObjectLockConfiguration",
        "The specified object does not have a ObjectLock configuration",
        404,
    )


def _until(version: ObjectVersion) -> datetime | None:
    retention = version.extra.get("retention")
    return datetime.fromisoformat(retention["until"]) if retention else None


def locked(version: ObjectVersion, bypass_governance: bool = False) -> bool:
    """Whether deleting (or overwriting the retention of) this version is refused now."""
    if version.extra.get("legal_hold") == "ON":
        return True
    until = _until(version)
    if until is None or until.timestamp() <= clock.time():
        return False
    return not (bypass_governance and version.extra["retention"]["mode"] == "GOVERNANCE")


def _default_retention(document: dict[str, Any]) -> dict[str, Any] | None:
    """A lock configuration's ``Rule.DefaultRetention`` (None without a ``Rule``), as
    S3 checks it: a ``Rule`` holds one (``<Rule/>`` alone is MalformedXML, LocalStack's
    AWS-recorded ``put-lock-config-empty-rule``), with a mode and either days or years."""
    given = document.get("Rule")
    if given is None:
        return None
    rule = given.get("DefaultRetention")
    if rule is None or rule.get("Mode") not in MODES:
        raise errors.malformed_xml()
    days, years = rule.get("Days"), rule.get("Years")
    if (days is None) == (years is None):
        raise errors.malformed_xml()
    named = "Days" if days is not None else "Years"
    if (days is not None and days <= 0) or (years is not None and years <= 0):
        raise errors.invalid_argument(
            "Default retention period must be a positive integer value", named
        )
    if (days or 0) > MAX_DAYS or (years or 0) > MAX_DAYS // 365:
        raise errors.invalid_argument(
            f"Default retention period is too large: at most {MAX_DAYS} days "
            f"or {MAX_DAYS // 365} years",
            named,
        )
    return rule


class ObjectLockHandlers(ConfigHandlers):
    """Object Lock configuration, retention, legal hold, and the deletes they refuse."""

    _lock_flags: dict[str, bool]

    def _locked(self, version: ObjectVersion) -> bool:
        return locked(version)

    def _lock_enabled(self, name: str) -> bool:
        """Whether a bucket has Object Lock, cached so writes and reads of other
        buckets pay one dict lookup (cleared when the bucket goes or gets a lock)."""
        if not hasattr(self, "_lock_flags"):
            self._lock_flags = {}
        hit = self._lock_flags.get(name)
        if hit is None:
            bucket = self.store.get_bucket(name)
            if bucket is None:
                return False
            hit = self._lock_flags[name] = bucket.object_lock
        return hit

    def delete_bucket(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_bucket(ctx, params)
        getattr(self, "_lock_flags", {}).pop(params["Bucket"], None)
        return out

    # -- bucket configuration -----------------------------------------------------------

    def put_object_lock_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = params.get("ObjectLockConfiguration")
        if document is None:  # the model leaves it optional; S3 wants the document
            raise errors.missing_request_body()
        if document.get("ObjectLockEnabled") != "Enabled":
            raise errors.malformed_xml()
        if not bucket.object_lock and bucket.versioning != "Enabled":
            raise errors.s3_error(
                "InvalidBucketState",
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
                409,
            )
        rule = _default_retention(document)  # checked before anything changes
        if not bucket.object_lock:
            self.store.enable_object_lock(bucket.name)
            getattr(self, "_lock_flags", {}).pop(bucket.name, None)
        if rule is not None:
            self.configs.put(bucket.name, "object-lock", rule)
        else:
            self.configs.delete(bucket.name, "object-lock")
        return {}

    def get_object_lock_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        if not bucket.object_lock:
            raise errors.s3_error(
                "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
                404,
                BucketName=bucket.name,
            )
        document: Result = {"ObjectLockEnabled": "Enabled"}
        rule = self.configs.get(bucket.name, "object-lock")
        if rule:
            document["Rule"] = {"DefaultRetention": rule}
        return {"ObjectLockConfiguration": document}

    # -- per-version retention and legal hold ---------------------------------------------

    def _lock_version(self, params: dict[str, Any], method: str) -> tuple[Bucket, ObjectVersion]:
        bucket = self._bucket(params["Bucket"])
        if not bucket.object_lock:
            raise _missing_lock()
        return bucket, self._find(bucket, params["Key"], params.get("VersionId"), method)

    def put_object_retention(self, ctx: Any, params: dict[str, Any]) -> Result:
        _bucket, version = self._lock_version(params, "PUT")
        retention = params.get("Retention") or {}
        mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
        if (mode is None) != (until is None) or (mode is not None and mode not in MODES):
            raise errors.malformed_xml()
        if until is not None and until.timestamp() <= clock.time():
            raise errors.invalid_argument(
                "The retain until date must be in the future!", "RetainUntilDate"
            )
        current = version.extra.get("retention")
        if current is not None and _until(version).timestamp() > clock.time():  # type: ignore[union-attr]
            shortened = until is None or until < _until(version)  # type: ignore[operator]
            weaker = mode != current["mode"]
            if (shortened or weaker) and (
                current["mode"] == "COMPLIANCE" or not params.get("BypassGovernanceRetention")
            ):
                raise _denied()
        extra = {k: v for k, v in version.extra.items() if k != "retention"}
        if mode is not None:
            extra["retention"] = {"mode": mode, "until": _utc_text(until)}
        self.store.update_version(version, extra=extra)
        return {}

    def get_object_retention(self, ctx: Any, params: dict[str, Any]) -> Result:
        _bucket, version = self._lock_version(params, "GET")
        retention = version.extra.get("retention")
        if retention is None:
            raise _no_lock_config()
        return {"Retention": {"Mode": retention["mode"], "RetainUntilDate": _until(version)}}

    def put_object_legal_hold(self, ctx: Any, params: dict[str, Any]) -> Result:
        # S3 reads the body before it looks at the bucket's lock: no LegalHold on a
        # bucket without Object Lock is MalformedXML, a valid one InvalidRequest
        # (AWS-recorded ``put-object-retention-empty`` and
        # ``put-object-retention-regular-bucket`` of LocalStack's
        # ``test_put_object_legal_hold_exc``).
        self._bucket(params["Bucket"])  # NoSuchBucket still comes first
        status = (params.get("LegalHold") or {}).get("Status")
        if status not in ("ON", "OFF"):
            raise errors.malformed_xml()
        _bucket, version = self._lock_version(params, "PUT")
        self.store.update_version(version, extra={**version.extra, "legal_hold": status})
        return {}

    def get_object_legal_hold(self, ctx: Any, params: dict[str, Any]) -> Result:
        _bucket, version = self._lock_version(params, "GET")
        status = version.extra.get("legal_hold")
        if status is None:
            raise _no_lock_config()
        return {"LegalHold": {"Status": status}}

    # -- writes get their lock; deletes of locked versions are refused ---------------------

    def _default_extra(self, bucket: Bucket) -> dict[str, Any]:
        """The bucket's default retention, counted from now (the version's creation)."""
        extra = super()._default_extra(bucket)  # type: ignore[misc]
        if not self._lock_enabled(bucket.name):
            return extra
        rule = self.configs.get(bucket.name, "object-lock")
        if rule:
            days = rule.get("Days") or 365 * rule.get("Years", 0)
            until = clock.now() + timedelta(days=days)
            extra["retention"] = {"mode": rule["Mode"], "until": until.astimezone(UTC).isoformat()}
        return extra

    def _write_extra(
        self,
        bucket: Bucket,
        params: dict[str, Any],
        *,
        defaults: bool = True,
        source: ObjectVersion | None = None,
        writer: str | None = None,
    ) -> dict[str, Any]:
        """The ``x-amz-object-lock-*`` headers of a write, over the bucket's default.

        A copy's ``source`` lends nothing here: S3 copies neither its retention
        nor its legal hold; the copy gets the request's, or the bucket's default.
        """
        extra = super()._write_extra(  # type: ignore[misc]
            bucket, params, defaults=defaults, source=source, writer=writer
        )
        mode, until = params.get("ObjectLockMode"), params.get("ObjectLockRetainUntilDate")
        hold = params.get("ObjectLockLegalHoldStatus")
        asked = mode is not None or until is not None or hold is not None
        if not self._lock_enabled(bucket.name):
            if asked:
                raise _missing_lock()
            return extra
        if (mode is None) != (until is None) or (mode is not None and mode not in MODES):
            raise errors.invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both "
                "be supplied",
                "x-amz-object-lock-mode",
            )
        if until is not None and until.timestamp() <= clock.time():
            raise errors.invalid_argument(
                "The retain until date must be in the future!",
                "x-amz-object-lock-retain-until-date",
            )
        if mode is not None:
            extra["retention"] = {"mode": mode, "until": _utc_text(until)}
        if hold is not None:
            extra["legal_hold"] = hold
        return extra

    def head_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._lock_headers(params, super().head_object(ctx, params))  # type: ignore[misc]

    def get_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._lock_headers(params, super().get_object(ctx, params))  # type: ignore[misc]

    def _lock_headers(self, params: dict[str, Any], out: Result) -> Result:
        if out.get("VersionId") is None or not self._lock_enabled(params["Bucket"]):
            return out
        version = self.store.version(params["Bucket"], params["Key"], out["VersionId"])
        if version is None or not version.extra:
            return out
        retention = version.extra.get("retention")
        if retention is not None:
            out["ObjectLockMode"] = retention["mode"]
            out["ObjectLockRetainUntilDate"] = _until(version)
        if version.extra.get("legal_hold") is not None:
            out["ObjectLockLegalHoldStatus"] = version.extra["legal_hold"]
        return out

    def _check_bypass_header(self, params: dict[str, Any]) -> None:
        """``x-amz-bypass-governance-retention``, ``true`` or ``false``, on a bucket without
        Object Lock is an invalid argument (LocalStack's AWS-recorded
        ``test_delete_object_with_no_locking``: no ``ArgumentValue``)."""
        if params.get("BypassGovernanceRetention") is None:
            return
        if self._lock_enabled(params["Bucket"]):
            return
        self._bucket(params["Bucket"])  # NoSuchBucket first
        raise errors.invalid_argument(
            "x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.",
            "x-amz-bypass-governance-retention",
        )

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._check_bypass_header(params)
        version_id = params.get("VersionId")
        if version_id is not None and self._lock_enabled(params["Bucket"]):
            version = self.store.version(params["Bucket"], params["Key"], version_id)
            bypass = bool(params.get("BypassGovernanceRetention"))
            if version is not None and locked(version, bypass):
                raise _denied()
        return super().delete_object(ctx, params)  # type: ignore[misc]

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._check_bypass_header(params)
        if not self._lock_enabled(params["Bucket"]):
            return super().delete_objects(ctx, params)  # type: ignore[misc]
        bucket = self._bucket(params["Bucket"])
        request = params.get("Delete") or {}
        bypass = bool(params.get("BypassGovernanceRetention"))
        allowed, refused = [], []
        for entry in request.get("Objects") or []:
            version_id = entry.get("VersionId")
            version = (
                self.store.version(bucket.name, entry.get("Key", ""), version_id)
                if version_id
                else None
            )
            if version is not None and locked(version, bypass):
                refused.append(
                    {
                        "Key": entry.get("Key", ""),
                        "VersionId": version_id,
                        "Code": "AccessDenied",
                        "Message": "Access Denied because object protected by object lock.",
                    }
                )
            else:
                allowed.append(entry)
        if not refused:
            return super().delete_objects(ctx, params)  # type: ignore[misc]
        out: Result = {}
        if allowed:
            out = super().delete_objects(  # type: ignore[misc]
                ctx, {**params, "Delete": {**request, "Objects": allowed}}
            )
        out["Errors"] = (out.get("Errors") or []) + refused
        return out
