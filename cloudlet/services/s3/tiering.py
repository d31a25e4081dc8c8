"""S3 Intelligent-Tiering archive configurations that really archive.

Why: an Intelligent-Tiering configuration (PutBucketIntelligentTieringConfiguration,
Id-keyed as metrics and inventory configurations are: ``idconfigs.py``) is how a bucket
opts its ``INTELLIGENT_TIERING`` objects into the two archive tiers, and an archived
object is not readable until it is restored: code that reads such objects must handle
that, so cloudlet archives them as S3 does ("How S3 Intelligent-Tiering works", S3 User
Guide):

- an object of the class, at least ``MIN_SIZE`` bytes (smaller ones are not monitored
  and stay in the Frequent Access tier), that an ``Enabled`` configuration's filter
  (prefix, tag, or both: ``metrics.Selector``) selects and that has not been accessed
  for a tiering's ``Days`` moves to that tier: the deepest tier whose Days have passed,
  over every configuration that selects it. The sweep runs in the lifecycle loop
  (``CLOUDLET_S3_LIFECYCLE_INTERVAL``) on the lifecycle clock
  (``clock.time() + CLOUDLET_S3_LIFECYCLE_SHIFT``), so a test server run 100 days ahead
  sees unread objects archived;
- an archived object's tier is its ``extra["tier"]`` (``ARCHIVE_ACCESS`` or
  ``DEEP_ARCHIVE_ACCESS``): GetObject and copies from it answer 403
  ``InvalidObjectState`` with its ``AccessTier``, HeadObject shows
  ``x-amz-archive-status`` (``restore.py``), and RestoreObject (without ``Days``) brings
  it back to the Frequent Access tier at once;
- what counts as an access is S3's list: GetObject, CopyObject and UploadPartCopy of a
  source, RestoreObject, and a write (PutObject, a completed multipart upload, a copy
  onto the key: each makes a version whose Last-Modified is its access). HEAD, listings
  and tagging do not count. A write's access is its Last-Modified; a read's is stamped on
  the lifecycle clock, so on a server run N days ahead a read object looks fresh and an
  unread one N days idle.

Reads of other classes pay one string comparison. A read of an Intelligent-Tiering
object writes its stamp to ``s3_tiering_access`` (object row id, the version's
Last-Modified, when it was read) at most once per ``STAMP_EVERY`` seconds per object,
which the days-long rules cannot tell apart; a row whose Last-Modified is not the
version's (a null version rewritten in place keeps its row id) is ignored.

Left out: the automatic Infrequent Access and Archive Instant Access tiers (they
change only the price, so every readable object reports FREQUENT), restore timing (a
restore completes at once, as ``restore.py``'s do). A move to an archive tier notifies
``s3:IntelligentTiering`` (and EventBridge's "Object Access Tier Changed").
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.idconfigs import IdConfigs, check_filter, check_id
from cloudlet.services.s3.lifecycle import LIFECYCLE_SHIFT
from cloudlet.services.s3.lifecycle_rules import DAY
from cloudlet.services.s3.metrics import Selector
from cloudlet.services.s3.store import _COLUMNS, ObjectVersion, row_to_version

log = logging.getLogger(__name__)

KIND = "intelligent-tiering"
CLASS = "INTELLIGENT_TIERING"
TIER = "tier"
"""The ``ObjectVersion.extra`` key of an archived Intelligent-Tiering object's tier."""
DAYS = {"ARCHIVE_ACCESS": (90, 730), "DEEP_ARCHIVE_ACCESS": (180, 730)}
"""Each archive tier's allowed ``Days`` (the ``Tiering`` reference), shallow first."""
DEPTH = {"ARCHIVE_ACCESS": 1, "DEEP_ARCHIVE_ACCESS": 2}
INVENTORY_TIER = {
    None: "FREQUENT",
    "ARCHIVE_ACCESS": "ARCHIVE",
    "DEEP_ARCHIVE_ACCESS": "DEEP_ARCHIVE",
}
"""An Intelligent-Tiering object's tier as inventory reports spell it."""
MIN_SIZE = 128 * 1024
"""Smaller objects are not monitored and never leave the Frequent Access tier."""
STAMP_EVERY = 3600.0
"""A read of an object read less than this long ago (on the tiering clock) is not written."""
_STAMPS_KEPT = 4096
ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_tiering_access (
    object_id INTEGER PRIMARY KEY,
    modified REAL NOT NULL,
    accessed REAL NOT NULL
);
"""


def tiering_clock() -> float:
    """The time tiers are decided on: the lifecycle clock."""
    return clock.time() + LIFECYCLE_SHIFT


def access_tier(version: ObjectVersion) -> str | None:
    """The archive tier an Intelligent-Tiering version is in (None: an active tier)."""
    if version.storage_class != CLASS:
        return None
    return version.extra.get(TIER)


def inventory_tier(version: ObjectVersion) -> str | None:
    """Inventory's ``IntelligentTieringAccessTier`` (None for other classes)."""
    if version.storage_class != CLASS:
        return None
    return INVENTORY_TIER[access_tier(version)]


# -- the configuration -------------------------------------------------------------------


def _check_tierings(tierings: list[dict[str, Any]]) -> None:
    """At least one tiering, each archive tier at most once, its Days in range."""
    if not tierings:
        raise errors.malformed_xml()
    seen: set[str] = set()
    for tiering in tierings:
        tier, days = tiering.get("AccessTier"), tiering.get("Days")
        if tier not in DAYS or not isinstance(days, int):
            raise errors.malformed_xml()
        if tier in seen:
            raise errors.invalid_argument(
                f"Multiple tierings specified for the {tier} tier", "AccessTier", tier
            )
        seen.add(tier)
        low, high = DAYS[tier]
        if days < low:
            raise errors.invalid_argument(
                f"Days specified in {tier} tier should not be less than {low}.", "Days", days
            )
        if days > high:
            raise errors.invalid_argument(
                f"Days specified in {tier} tier should not be more than {high}.", "Days", days
            )


def check_configuration(params: dict[str, Any]) -> dict[str, Any]:
    """PutBucketIntelligentTieringConfiguration's document, checked: its Id as the
    query's (``MalformedXML`` otherwise, as LocalStack's
    ``validate_bucket_intelligent_tiering_configuration`` answers), its Status, its
    filter and its tierings."""
    config = params.get("IntelligentTieringConfiguration") or {}
    config_id = params.get("Id") or ""
    check_id(config_id)
    if config.get("Id") != config_id or config.get("Status") not in ("Enabled", "Disabled"):
        raise errors.malformed_xml()
    check_filter(config.get("Filter"), ("Prefix", "Tag", "And"))
    _check_tierings(config.get("Tierings") or [])
    return config


def due_tier(config: dict[str, Any], idle: float) -> str | None:
    """The deepest tier of ``config`` whose Days an object ``idle`` seconds unread has
    passed (None: none yet)."""
    due = [t["AccessTier"] for t in config["Tierings"] if idle >= t["Days"] * DAY]
    return max(due, key=DEPTH.__getitem__, default=None)


# -- the handlers ---------------------------------------------------------------------------


class TieringHandlers(ConfigHandlers):
    """Bucket Intelligent-Tiering configurations, object accesses, and the sweep that
    moves unread objects to the archive tiers."""

    _stamps: dict[int, tuple[float, float]]
    """Row id -> (Last-Modified, access) last written to ``s3_tiering_access``."""

    def _init_tiering(self) -> None:
        self.store.add_schema(ACCESS_SCHEMA)
        self._stamps = {}

    @property
    def _tierings(self) -> IdConfigs:
        return IdConfigs(self.configs, KIND, "IntelligentTieringConfigurationList")

    # -- the operations ----------------------------------------------------------------

    def put_bucket_intelligent_tiering_configuration(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._tierings.put(bucket.name, check_configuration(params))
        return {}

    def get_bucket_intelligent_tiering_configuration(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        bucket = self._bucket(params["Bucket"])
        return {"IntelligentTieringConfiguration": self._tierings.get(bucket.name, params["Id"])}

    def delete_bucket_intelligent_tiering_configuration(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._tierings.delete(bucket.name, params["Id"])
        return {HTTP_STATUS: 204}

    def list_bucket_intelligent_tiering_configurations(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self._tierings.page(bucket.name, params.get("ContinuationToken"))

    # -- accesses -----------------------------------------------------------------------

    def _note_access(self, version: ObjectVersion) -> None:
        """Record a read (or restore) of an Intelligent-Tiering version; callers check
        the storage class first, so other reads pay nothing more."""
        if version.size < MIN_SIZE or not version.row_id:
            return
        now = tiering_clock()
        modified = version.last_modified.timestamp()
        kept = self._stamps.get(version.row_id)
        if kept is not None and kept[0] == modified and now - kept[1] < STAMP_EVERY:
            return
        self.store.conn.execute(
            "INSERT OR REPLACE INTO s3_tiering_access (object_id, modified, accessed) "
            "VALUES (?, ?, ?)",
            (version.row_id, modified, now),
        )
        if len(self._stamps) >= _STAMPS_KEPT:
            self._stamps.clear()
        self._stamps[version.row_id] = (modified, now)

    def _last_accesses(self, bucket: str) -> dict[int, tuple[float, float]]:
        """Row id -> (Last-Modified, last read) of the bucket's read objects."""
        rows = self.store.conn.execute(
            "SELECT a.object_id, a.modified, a.accessed FROM s3_tiering_access a "
            "JOIN objects o ON o.id = a.object_id WHERE o.bucket = ?",
            (bucket,),
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- the sweep ------------------------------------------------------------------------

    def _apply_tiering(self) -> int:
        """Move every bucket's unread Intelligent-Tiering objects that enabled
        configurations select to their due archive tier; returns how many moved."""
        now = tiering_clock()
        moved = 0
        # Stamps of versions gone since (row ids are never reused).
        self.store.conn.execute(
            "DELETE FROM s3_tiering_access WHERE object_id NOT IN (SELECT id FROM objects)"
        )
        for name, configs in self.configs.all_of(KIND):
            enabled = [c for c in configs.values() if c.get("Status") == "Enabled"]
            if not enabled or self.store.get_bucket(name) is None:
                continue
            try:
                moved += self._tier_bucket(name, enabled, now)
            except Exception:  # noqa: BLE001 - one bucket's failure must not stop the rest
                log.exception("intelligent-tiering sweep of bucket %s failed", name)
        return moved

    def _tier_bucket(self, bucket: str, configs: list[dict[str, Any]], now: float) -> int:
        selectors = [(Selector.of(c), c) for c in configs]
        read = self._last_accesses(bucket)
        moved = 0
        for version in self._monitored(bucket):
            modified = version.last_modified.timestamp()
            stamp = read.get(version.row_id)
            last = max(modified, stamp[1]) if stamp and stamp[0] == modified else modified
            target = self._target_tier(version, selectors, now - last)
            current = access_tier(version)
            if target is not None and DEPTH[target] > DEPTH.get(current or "", 0):
                self.store.update_version(version, extra={**version.extra, TIER: target})
                self._notify_tiered(bucket, version, target)
                moved += 1
        return moved

    def _notify_tiered(self, name: str, version: ObjectVersion, tier: str) -> None:
        """``s3:IntelligentTiering``: the move to an archive access tier, with its
        ``intelligentTieringEventData`` (the S3 user guide's event message structure)."""
        notify = getattr(self, "_notify", None)
        bucket = self.store.get_bucket(name)
        if notify is None or bucket is None:
            return
        notify(
            bucket,
            "s3:IntelligentTiering",
            version.key,
            size=version.size,
            etag=version.etag,
            version_id=version.version_id if bucket.versioning is not None else None,
            tiering={"destinationAccessTier": tier},
        )

    @staticmethod
    def _target_tier(
        version: ObjectVersion, selectors: list[tuple[Selector, dict[str, Any]]], idle: float
    ) -> str | None:
        def tags() -> dict[str, str]:
            return {t["Key"]: t["Value"] for t in version.extra.get("tags") or []}

        due = [
            due_tier(config, idle)
            for selector, config in selectors
            if selector.selects(version.key, tags)
        ]
        return max((t for t in due if t), key=DEPTH.__getitem__, default=None)

    def _monitored(self, bucket: str) -> list[ObjectVersion]:
        """The bucket's Intelligent-Tiering versions big enough to be monitored."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND storage_class = ? "
            "AND delete_marker = 0 AND size >= ?",
            (bucket, CLASS, MIN_SIZE),
        ).fetchall()
        return [row_to_version(r) for r in rows]
