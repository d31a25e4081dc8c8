"""S3 events to Amazon EventBridge: what a bucket with an ``EventBridgeConfiguration``
sends, in the shape of the S3 user guide's "Using EventBridge" event examples.

Every event S3 notifies about (``notifications.py`` calls ``_to_eventbridge`` for each)
goes, whatever the queue, topic and function configurations say, to the default bus
of the bucket's account and region, as an ``aws.s3`` event: ``Object Created``,
``Object Deleted``, ``Object Restore Initiated``/``Completed``/``Expired``, ``Object Tags
Added``/``Deleted``, ``Object ACL Updated``, ``Object Storage Class Changed`` (lifecycle
transitions) and ``Object Access Tier Changed``; ``resources`` is the bucket's ARN and
``detail``::

    {"version": "0", "bucket": {"name"}, "object": {"key", "size", "etag", "version-id",
     "sequencer"}, "request-id", "requester", "source-ip-address", "reason",
     "deletion-type", ...}

with the fields each type has (creations and deletions a ``reason``, deletions their
``deletion-type``, restores their ``source-storage-class``, a completed restore its
``restore-expiry-time``, a transition its ``destination-storage-class``). Keys are not
URL-encoded, unlike the notification records. What S3 does by itself (lifecycle,
completed and expired restores) has ``s3.amazonaws.com`` as requester and no source
address.

Sent through EventBridge's internal ``PutServiceEvents`` (``ServiceEnv.call``), after
the response; when EventBridge does not run or refuses, the event is logged and
dropped: a notification never fails the write that caused it.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3.store import NULL_VERSION, Bucket

log = logging.getLogger(__name__)

S3_PRINCIPAL = "s3.amazonaws.com"
DETAIL_TYPES: dict[str, tuple[str, str | None]] = {
    "s3:ObjectCreated:Put": ("Object Created", "PutObject"),
    "s3:ObjectCreated:Post": ("Object Created", "POST Object"),
    "s3:ObjectCreated:Copy": ("Object Created", "CopyObject"),
    "s3:ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload"),
    "s3:ObjectRemoved:Delete": ("Object Deleted", "DeleteObject"),
    "s3:ObjectRemoved:DeleteMarkerCreated": ("Object Deleted", "DeleteObject"),
    "s3:LifecycleExpiration:Delete": ("Object Deleted", "Lifecycle Expiration"),
    "s3:LifecycleExpiration:DeleteMarkerCreated": ("Object Deleted", "Lifecycle Expiration"),
    "s3:ObjectRestore:Post": ("Object Restore Initiated", None),
    "s3:ObjectRestore:Completed": ("Object Restore Completed", None),
    "s3:ObjectRestore:Delete": ("Object Restore Expired", None),
    "s3:ObjectTagging:Put": ("Object Tags Added", None),
    "s3:ObjectTagging:Delete": ("Object Tags Deleted", None),
    "s3:ObjectAcl:Put": ("Object ACL Updated", None),
    "s3:LifecycleTransition": ("Object Storage Class Changed", None),
    "s3:IntelligentTiering": ("Object Access Tier Changed", None),
}
"""S3 event name -> (EventBridge detail type, ``reason``). Replication events have no
EventBridge counterpart and are not sent."""
_BY_S3 = frozenset(
    (
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
    )
)
"""Events S3 causes by itself, not a client's request."""
_SEQUENCED = ("Object Created", "Object Deleted")
_SIZED = ("Object Created", "Object Restore Initiated", "Object Restore Completed")
_sequence = itertools.count(1)


def _seconds_text(text: str) -> str:
    """``2021-11-13T00:00:00.000Z`` as EventBridge's ``2021-11-13T00:00:00Z``."""
    return text.split(".")[0].rstrip("Z") + "Z" if text else text


def eventbridge_entry(
    bucket: str,
    event: str,
    key: str,
    *,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
    storage_class: str | None = None,
    glacier: dict[str, Any] | None = None,
    tiering: dict[str, Any] | None = None,
    ctx: Any = None,
) -> dict[str, Any] | None:
    """The ``PutServiceEvents`` entry for S3 event ``event`` (None: not one EventBridge
    gets). ``storage_class``: the object's class now (a restore's source, a
    transition's destination); ``glacier``: a completed restore's ``glacierEventData``;
    ``tiering``: an Intelligent-Tiering move's ``intelligentTieringEventData``."""
    kind = DETAIL_TYPES.get(event)
    if kind is None:
        return None
    detail_type, reason = kind
    obj: dict[str, Any] = {"key": key}
    if size is not None and detail_type in _SIZED + ("Object Storage Class Changed",):
        obj["size"] = size
    if etag:
        obj["etag"] = etag.strip('"')
    if version_id and version_id != NULL_VERSION:
        obj["version-id"] = version_id
    if detail_type in _SEQUENCED:
        obj["sequencer"] = f"{int(clock.time() * 1000):012X}{next(_sequence):06X}"
    by_request = event not in _BY_S3 and getattr(ctx, "request", None) is not None
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": ctx.request_id if by_request else fast_uuid().replace("-", "")[:16].upper(),
        "requester": ctx.account_id if by_request else S3_PRINCIPAL,
    }
    if by_request:
        detail["source-ip-address"] = getattr(ctx.request, "client", None) or "127.0.0.1"
    if reason is not None:
        detail["reason"] = reason
    if detail_type == "Object Deleted":
        marker = event.endswith("DeleteMarkerCreated")
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    restored = (glacier or {}).get("restoreEventData") or {}
    if detail_type == "Object Restore Completed" and restored.get("lifecycleRestorationExpiryTime"):
        detail["restore-expiry-time"] = _seconds_text(restored["lifecycleRestorationExpiryTime"])
    if detail_type.startswith("Object Restore"):
        source = restored.get("lifecycleRestoreStorageClass") or storage_class
        if source:
            detail["source-storage-class"] = source
    if detail_type == "Object Storage Class Changed" and storage_class:
        detail["destination-storage-class"] = storage_class
    if detail_type == "Object Access Tier Changed" and tiering:
        detail["destination-access-tier"] = tiering["destinationAccessTier"]
    return {
        "source": "aws.s3",
        "detail-type": detail_type,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "time": clock.time(),
        "detail": detail,
    }


class EventBridgeNotifications:
    """The notification mixin's EventBridge half: ``_to_eventbridge``."""

    env: Any
    store: Any
    _eventbridge_sends: Background

    def _to_eventbridge(
        self,
        bucket: Bucket,
        event: str,
        key: str,
        *,
        size: int | None,
        etag: str | None,
        version_id: str | None,
        glacier: dict[str, Any] | None,
        ctx: Any,
        tiering: dict[str, Any] | None = None,
    ) -> None:
        """Send ``event`` to the default bus of the bucket's account and region."""
        storage_class = None
        if event in ("s3:ObjectRestore:Post", "s3:LifecycleTransition", "s3:IntelligentTiering"):
            version = self.store.version(bucket.name, key, version_id or NULL_VERSION)
            storage_class = version.storage_class if version is not None else None
        entry = eventbridge_entry(
            bucket.name,
            event,
            key,
            size=size,
            etag=etag,
            version_id=version_id,
            storage_class=storage_class,
            glacier=glacier,
            tiering=tiering,
            ctx=ctx,
        )
        if entry is None:
            return
        if not hasattr(self, "_eventbridge_sends"):
            self._eventbridge_sends = Background()
        self._eventbridge_sends.spawn(self._put_service_event(bucket, entry))

    async def _put_service_event(self, bucket: Bucket, entry: dict[str, Any]) -> None:
        try:
            await self.env.call(
                "events",
                "PutServiceEvents",
                {"Entries": [entry]},
                account=bucket.account,
                region=bucket.region,
            )
        except ServiceError as err:  # NotImplementedOperation too: EventBridge not running
            log.warning(
                "S3 event %s of %s not sent to EventBridge: %s",
                entry["detail-type"],
                bucket.name,
                err.message,
            )
