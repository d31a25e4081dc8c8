"""Archived objects and RestoreObject.

Objects stored in ``GLACIER`` (S3 Glacier Flexible Retrieval) or
``DEEP_ARCHIVE`` are archived: their metadata stays readable (HeadObject,
GetObjectAttributes, tagging, listings) but their bytes are not until a
restore has made a temporary copy of them. ``GLACIER_IR`` (Instant Retrieval)
is readable at once, like every other class. S3's answers, kept here:

- GetObject of an archived object: 403 ``InvalidObjectState`` "The operation
  is not valid for the object's storage class", with a ``<StorageClass>``
  element; HeadObject still answers 200;
- CopyObject or UploadPartCopy from such a source: 403 ``InvalidObjectState``
  "Operation is not valid for the source object's storage class";
- RestoreObject: 202 for a first restore, 200 when the object already has a
  restored copy (the expiry is then recomputed from the new ``Days``);
  ``InvalidObjectState`` "Restore is not allowed for the object's current
  storage class" for an object that is not archived; ``MalformedXML`` for a
  restore of an archived object without ``Days``;
- while a restored copy exists, HeadObject and GetObject send
  ``x-amz-restore: ongoing-request="false", expiry-date="<HTTP date>"``.

The restore state is the version's ``extra["restore"]``: ``{"expiry": <epoch
seconds>, "days": N, "tier": "Standard"|"Bulk"|"Expedited", "completed":
<epoch seconds>}``. As S3 does, the expiry is the completion time plus
``Days``, rounded up to the next midnight UTC. Expiry is checked lazily, when
a read or a restore looks at the state: once past it, the object is archived
again (reads refused, no ``x-amz-restore``). That clock is the lifecycle
clock, ``clock.time() + CLOUDLET_S3_LIFECYCLE_SHIFT`` (``lifecycle.py``), so a
test server run days ahead sees restored copies expire as it sees lifecycle
rules act.

An ``INTELLIGENT_TIERING`` object in the Archive Access or Deep Archive Access tier
(``tiering.py``) is archived too: reads and copies answer ``InvalidObjectState``
naming its ``AccessTier``; its restore takes no ``Days`` (``InvalidArgument``), moves
it back to the Frequent Access tier and counts as an access; a restore of one in an
active tier is 403 ``ObjectAlreadyInActiveTierError``.

Restores emit ``s3:ObjectRestore:Post`` and ``s3:ObjectRestore:Completed``
notifications (``notifications.py``). A sweep on the lifecycle interval finds restored
copies past their expiry, drops their restore state and sends
``s3:ObjectRestore:Delete`` (EventBridge's ``Object Restore Expired``), S3's own doing
like a completed restore; reads do not wait for it, they check the expiry themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, S3Handlers
from cloudlet.services.s3.lifecycle import LIFECYCLE_SHIFT
from cloudlet.services.s3.lifecycle_rules import DAY, next_midnight
from cloudlet.services.s3.notifications import time_text
from cloudlet.services.s3.store import _COLUMNS, ObjectVersion, row_to_version
from cloudlet.services.s3.tiering import TIER, access_tier

ARCHIVE_CLASSES = frozenset(("GLACIER", "DEEP_ARCHIVE"))
"""Storage classes whose objects must be restored before their bytes can be read."""
TIERS = frozenset(("Standard", "Bulk", "Expedited"))
DEFAULT_TIER = "Standard"
MAX_RESTORE_DAYS = 36500
"""A restored copy kept at most 100 years: its expiry date stays a date."""
ARCHIVED_TIER = "The action is not valid for the object's access tier"
"""GetObject's text for an Intelligent-Tiering object in an archive tier."""


def restore_clock() -> float:
    """The time restored copies expire against (the lifecycle clock)."""
    return clock.time() + LIFECYCLE_SHIFT


def restored_until(version: ObjectVersion) -> float | None:
    """The expiry (epoch seconds) of the version's restored copy, if it has a live one."""
    state = version.extra.get("restore")
    if not state:
        return None
    expiry = float(state["expiry"])
    return expiry if expiry > restore_clock() else None


def needs_restore(version: ObjectVersion) -> bool:
    """Whether the version's bytes are archived and not restored right now: a
    GLACIER/DEEP_ARCHIVE object without a live restored copy, or an Intelligent-Tiering
    object in an archive tier (``tiering.py``)."""
    if version.storage_class in ARCHIVE_CLASSES:
        return restored_until(version) is None
    return access_tier(version) is not None


def _archived(version: ObjectVersion, message: str) -> ServiceError:
    """403 ``InvalidObjectState`` for archived bytes; an Intelligent-Tiering object's
    names its ``AccessTier`` ("The action is not valid for the object's access tier",
    the GetObject reference's sample)."""
    tier = access_tier(version)
    if tier is None:
        return errors.invalid_object_state(version.storage_class, message)
    if message == errors.READ_ARCHIVED:
        message = ARCHIVED_TIER
    return errors.s3_error(
        "InvalidObjectState", message, 403, StorageClass=version.storage_class, AccessTier=tier
    )


def restore_header(version: ObjectVersion) -> str | None:
    """``x-amz-restore`` for a version with a live restored copy (None otherwise)."""
    if version.storage_class not in ARCHIVE_CLASSES:
        return None
    expiry = restored_until(version)
    if expiry is None:
        return None
    when = datetime.fromtimestamp(expiry, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return f'ongoing-request="false", expiry-date="{when}"'


def check_readable(version: ObjectVersion) -> None:
    """GetObject's rule: archived bytes need a restored copy."""
    if needs_restore(version):
        raise _archived(version, errors.READ_ARCHIVED)


def check_copy_source(version: ObjectVersion) -> None:
    """CopyObject's and UploadPartCopy's rule for their source."""
    if needs_restore(version):
        raise _archived(version, errors.COPY_ARCHIVED)


def _restore_expiry(completed: float, days: int) -> float:
    """Completion time plus ``days``, rounded up to the next midnight UTC (S3's rule)."""
    return next_midnight(completed + days * DAY)


def _job_tier(request: dict[str, Any], storage_class: str) -> str:
    """``GlacierJobParameters.Tier``, checked (Standard when absent)."""
    tier = (request.get("GlacierJobParameters") or {}).get("Tier") or DEFAULT_TIER
    if tier not in TIERS:
        raise errors.malformed_xml()
    if tier == "Expedited" and storage_class != "GLACIER":
        raise errors.invalid_argument(
            f"Expedited retrievals are not available for the {storage_class} storage class",
            "Tier",
            tier,
        )
    return tier


def _check_tiered_request(version: ObjectVersion, days: Any, request: dict[str, Any]) -> str:
    """A RestoreRequest for an Intelligent-Tiering object: no Days (its restore moves it
    back to the Frequent Access tier, it has no expiry), and only out of an archive
    tier. Expedited is refused: the archive tiers offer Standard and Bulk only."""
    if days is not None:
        raise errors.invalid_argument(
            "INTELLIGENT_TIERING objects are not subject to restore expiry. Do not "
            "specify Days when restoring this object",
            "Days",
            days,
        )
    if access_tier(version) is None:
        raise errors.s3_error(
            "ObjectAlreadyInActiveTierError",
            "This action is not allowed against this storage tier.",
            403,
        )
    return _job_tier(request, version.storage_class)


def _check_request(version: ObjectVersion, request: dict[str, Any]) -> tuple[int | None, str]:
    """A RestoreRequest for an archive restore, checked: (days, tier); days is None for
    an Intelligent-Tiering object."""
    if request.get("Type") == "SELECT" or request.get("SelectParameters") is not None:
        raise ServiceError(
            "NotImplemented",
            "S3 Select restores are not implemented in cloudlet (archive restores are)",
            501,
        )
    # OutputLocation and a top-level Tier belong to select restores only.
    if request.get("OutputLocation") is not None or request.get("Tier") is not None:
        raise errors.malformed_xml()
    days = request.get("Days")
    if version.storage_class == "INTELLIGENT_TIERING":
        return None, _check_tiered_request(version, days, request)
    if version.storage_class not in ARCHIVE_CLASSES:
        raise errors.invalid_object_state(version.storage_class, errors.RESTORE_NOT_ARCHIVED)
    if days is None or days < 1:
        raise errors.malformed_xml()
    if days > MAX_RESTORE_DAYS:  # an expiry past the calendar could not be shown
        raise errors.invalid_argument(f"Days must be at most {MAX_RESTORE_DAYS}", "Days", days)
    return int(days), _job_tier(request, version.storage_class)


class RestoreHandlers(S3Handlers):
    """RestoreObject."""

    def restore_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Restore a temporary, readable copy of an archived object for ``Days`` days
        (an Intelligent-Tiering object in an archive tier: move it back to the Frequent
        Access tier, ``_restore_tiered``).

        On AWS the restore is a retrieval job that takes minutes (Expedited)
        to hours (Standard, Bulk; up to 48 hours from DEEP_ARCHIVE), during
        which HeadObject shows ``ongoing-request="true"`` and a repeated
        request answers 409 ``RestoreAlreadyInProgress``. cloudlet has no
        tape to wait for: every restore completes immediately, whatever the
        ``GlacierJobParameters.Tier``, so the first answer is already 202 with
        the copy readable, ``x-amz-restore`` shows ``ongoing-request="false"``
        at once, and ``RestoreAlreadyInProgress`` never happens. A repeated
        restore of a restored object answers 200 and moves the expiry to the
        new ``Days`` counted from now (how S3 extends a restored copy).
        """
        bucket = self._bucket(params["Bucket"])
        version = self._find(bucket, params["Key"], params.get("VersionId"), "POST")
        days, tier = _check_request(version, params.get("RestoreRequest") or {})
        if days is None:
            return self._restore_tiered(ctx, bucket.name, version)
        already = restored_until(version) is not None
        completed = clock.time()
        expiry = _restore_expiry(completed, days)
        state = {"expiry": expiry, "days": days, "tier": tier, "completed": completed}
        self.store.update_version(version, extra={**version.extra, "restore": state})
        if not already:
            self._restore_events(ctx, bucket.name, version, expiry)
        return {HTTP_STATUS: 200 if already else 202}

    def _restore_tiered(self, ctx: Any, bucket_name: str, version: ObjectVersion) -> Result:
        """An Intelligent-Tiering object leaves its archive tier for the Frequent Access
        tier (at once here; 3 to 48 hours on AWS), and the restore counts as an access."""
        extra = {k: v for k, v in version.extra.items() if k != TIER}
        self.store.update_version(version, extra=extra)
        self._note_access(version)
        self._restore_events(ctx, bucket_name, version, None)
        return {HTTP_STATUS: 202}

    def _expire_restores(self) -> int:
        """Drop every restored copy past its expiry, notifying ``s3:ObjectRestore:Delete``;
        returns how many expired."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM objects WHERE storage_class IN ('GLACIER', 'DEEP_ARCHIVE')"
            " AND delete_marker = 0 AND json_extract(extra, '$.restore.expiry') <= ?",
            (restore_clock(),),
        ).fetchall()
        for row in rows:
            version = row_to_version(row)
            extra = {k: v for k, v in version.extra.items() if k != "restore"}
            self.store.update_version(version, extra=extra)
            notifying = getattr(self, "_notifying", None)
            bucket = notifying(version.bucket) if notifying is not None else None
            if bucket is not None:
                self._notify(  # type: ignore[attr-defined]
                    bucket,
                    "s3:ObjectRestore:Delete",
                    version.key,
                    etag=version.etag,
                    version_id=version.version_id,
                )
        return len(rows)

    def _note_access(self, version: ObjectVersion) -> None:
        """Hook: ``tiering.py`` records accesses of Intelligent-Tiering objects."""

    def _restore_events(
        self, ctx: Any, bucket_name: str, version: ObjectVersion, expiry: float | None
    ) -> None:
        """``ObjectRestore:Post`` (``ctx``'s request) then ``:Completed`` (S3's own
        doing), when notifications are configured."""
        notifying = getattr(self, "_notifying", None)
        bucket = notifying(bucket_name) if notifying is not None else None
        if bucket is None:
            return
        notify = self._notify  # type: ignore[attr-defined]
        version_id = version.version_id
        size, etag = version.size, version.etag
        notify(
            bucket,
            "s3:ObjectRestore:Post",
            version.key,
            size=size,
            etag=etag,
            version_id=version_id,
            ctx=ctx,
        )
        restored = {"lifecycleRestoreStorageClass": version.storage_class}
        if expiry is not None:  # an Intelligent-Tiering restore has no expiry
            restored["lifecycleRestorationExpiryTime"] = time_text(expiry)
        glacier = {"restoreEventData": dict(sorted(restored.items()))}
        notify(
            bucket,
            "s3:ObjectRestore:Completed",
            version.key,
            size=size,
            etag=etag,
            version_id=version_id,
            glacier=glacier,
        )
