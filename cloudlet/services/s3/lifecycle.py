"""Lifecycle: the rules are stored, and a background loop really applies them.

Every ``LIFECYCLE_INTERVAL`` seconds (``CLOUDLET_S3_LIFECYCLE_INTERVAL``,
default 60) each bucket's enabled rules are evaluated against
``cloudlet.core.clock`` (so tests may move time):

- ``Expiration`` (``Date``, or ``Days`` after creation rounded up to the next
  midnight UTC, as S3 does) deletes current objects through the same path as
  DeleteObject: a delete marker in a versioned bucket, gone otherwise;
  ``ExpiredObjectDeleteMarker`` removes a delete marker left with no versions.
- ``NoncurrentVersionExpiration`` (``NoncurrentDays`` since a version became
  noncurrent, keeping ``NewerNoncurrentVersions``) removes old versions.
- ``AbortIncompleteMultipartUpload`` aborts uploads older than
  ``DaysAfterInitiation``.
- ``Transitions`` and ``NoncurrentVersionTransitions`` move versions down the
  storage-class waterfall (``transitions.py``), after any expiration of the
  same pass.

Filters: prefix, tags (all must match), object size bounds.

``CLOUDLET_S3_LIFECYCLE_SHIFT`` (seconds, default 0) evaluates the rules that
far in the future: how a test sees ``Days`` rules act without waiting days
(the server runs in its own process, so its clock cannot be moved from a test).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.directory import check_lifecycle as check_directory_lifecycle
from cloudlet.services.s3.directory import is_directory
from cloudlet.services.s3.lifecycle_rules import (
    DAY,
    check_configuration,
    expires_at,
    next_midnight,
    rule_filter,
)
from cloudlet.services.s3.store import (
    _COLUMNS,
    Bucket,
    ObjectVersion,
    key_bytes,
    row_to_version,
    successor,
)
from cloudlet.services.s3.transitions import (
    MIN_SIZE_CHOICES,
    MIN_SIZE_DEFAULT,
    check_transitions,
    due_moves,
)

log = logging.getLogger(__name__)

LIFECYCLE_INTERVAL = float(os.environ.get("CLOUDLET_S3_LIFECYCLE_INTERVAL", "60"))
LIFECYCLE_SHIFT = float(os.environ.get("CLOUDLET_S3_LIFECYCLE_SHIFT", "0"))


class LifecycleHandlers(ConfigHandlers):
    """Put/Get/DeleteBucketLifecycle(Configuration) and the loop that applies the rules."""

    def put_bucket_lifecycle_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = (params.get("LifecycleConfiguration") or {}).get("Rules") or []
        rules = check_configuration(rules)
        min_size = params.get("TransitionDefaultMinimumObjectSize") or MIN_SIZE_DEFAULT
        if min_size not in MIN_SIZE_CHOICES:
            raise errors.invalid_argument(
                "Invalid value for x-amz-transition-default-minimum-object-size",
                "x-amz-transition-default-minimum-object-size",
                min_size,
            )
        if is_directory(bucket):
            check_directory_lifecycle(rules)
        for rule in rules:
            check_transitions(rule)
        self.configs.put(bucket.name, "lifecycle", rules)
        self.configs.put(bucket.name, "lifecycle-min-size", min_size)
        return {"TransitionDefaultMinimumObjectSize": min_size}

    def get_bucket_lifecycle_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rules = self._required(
            bucket.name,
            "lifecycle",
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist",
        )
        return {"Rules": rules, "TransitionDefaultMinimumObjectSize": self._min_size(bucket.name)}

    def _min_size(self, bucket: str) -> str:
        return self.configs.get(bucket, "lifecycle-min-size") or MIN_SIZE_DEFAULT

    def delete_bucket_lifecycle(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._drop_config(params, "lifecycle", "lifecycle-min-size")

    # -- the background loop ----------------------------------------------------------

    def _apply_lifecycle(self) -> int:
        """Apply every bucket's enabled rules once; returns how many things were removed."""
        now = clock.time() + LIFECYCLE_SHIFT
        done = 0
        for name, rules in self.configs.all_of("lifecycle"):
            bucket = self.store.get_bucket(name)
            if bucket is None:
                continue
            for rule in rules:
                if rule.get("Status") != "Enabled":
                    continue
                try:
                    done += self._apply_rule(bucket, rule, now)
                except Exception:  # noqa: BLE001 - one bad rule must not stop the others
                    log.exception("lifecycle rule %r of bucket %s failed", rule.get("ID"), name)
        return done

    def _versions_under(self, bucket: str, prefix: str) -> list[ObjectVersion]:
        """Every version under ``prefix``, by key then newest first."""
        start = key_bytes(prefix)
        end = successor(start)
        sql = f"SELECT {_COLUMNS} FROM objects WHERE bucket = ? AND key >= ?"
        args: list[Any] = [bucket, start]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        rows = self.store.conn.execute(sql + " ORDER BY key, id DESC", args).fetchall()
        return [row_to_version(r) for r in rows]

    def _apply_rule(self, bucket: Bucket, rule: dict[str, Any], now: float) -> int:
        flt = rule_filter(rule)
        prefix, selected = flt.prefix, flt.selects
        done = 0
        expiration = rule.get("Expiration") or {}
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        moving = bool(rule.get("Transitions") or rule.get("NoncurrentVersionTransitions"))
        if expiration or noncurrent or moving:
            by_key: dict[str, list[ObjectVersion]] = {}
            for v in self._versions_under(bucket.name, prefix):
                by_key.setdefault(v.key, []).append(v)
            sized = flt.sized
            min_size = self._min_size(bucket.name)
            for key, versions in by_key.items():
                expired = self._expire_key(
                    bucket, key, versions, expiration, noncurrent, selected, now
                )
                done += expired
                if not moving:
                    continue
                if expired:
                    versions = self._versions_under_key(bucket.name, key)
                moves = due_moves(rule, versions, selected, sized, min_size, now, next_midnight)
                for version, klass in moves:
                    self._transition(bucket, version, klass)
                done += len(moves)
        abort = rule.get("AbortIncompleteMultipartUpload") or {}
        if abort.get("DaysAfterInitiation"):
            try:
                before = datetime.fromtimestamp(now, UTC) - timedelta(
                    days=abort["DaysAfterInitiation"]
                )
            except OverflowError:  # more days than the calendar holds: nothing is old enough
                before = None
            if before is not None:
                done += self._abort_uploads(bucket.name, prefix, before)  # type: ignore[attr-defined]
        return done

    def _expire_key(
        self,
        bucket: Bucket,
        key: str,
        versions: list[ObjectVersion],
        expiration: dict[str, Any],
        noncurrent: dict[str, Any],
        selected: Any,
        now: float,
    ) -> int:
        done = 0
        current = versions[0]
        if current.is_latest and not current.delete_marker and selected(current):
            when = expires_at(expiration, current)
            if when is not None and when <= now:
                entry, dropped = self._delete(bucket, key, None, bucket.account)  # type: ignore[attr-defined]
                self._drop_blobs(dropped)
                self._lifecycle_event(bucket, key, entry)
                done += 1
                versions = self._versions_under_key(bucket.name, key)
        if noncurrent.get("NoncurrentDays"):
            keep = noncurrent.get("NewerNoncurrentVersions") or 0
            is_locked = getattr(self, "_locked", None)
            older = 0
            for newer, version in zip(versions, versions[1:], strict=False):
                if not selected(version) and not version.delete_marker:
                    continue
                if is_locked is not None and is_locked(version):
                    continue  # Object Lock: retained versions outlive their rules
                older += 1
                since = newer.last_modified.timestamp()
                due = next_midnight(since + noncurrent["NoncurrentDays"] * DAY) <= now
                if due and older > keep:
                    _gone, dropped = self.store.delete_version(bucket.name, key, version.version_id)
                    self._drop_blobs(dropped)
                    done += 1
            versions = self._versions_under_key(bucket.name, key) if done else versions
        if (
            expiration.get("ExpiredObjectDeleteMarker")
            and len(versions) == 1
            and versions[0].delete_marker
        ):
            _gone, dropped = self.store.delete_version(bucket.name, key, versions[0].version_id)
            done += 1
        return done

    def _transition(self, bucket: Bucket, version: ObjectVersion, klass: str) -> None:
        """Move one version to ``klass``; a restored copy does not survive the move."""
        extra = {k: v for k, v in version.extra.items() if k != "restore"}
        if extra != version.extra:
            self.store.update_version(version, storage_class=klass, extra=extra)
        else:
            self.store.update_version(version, storage_class=klass)
        notify = getattr(self, "_notify", None)
        if notify is not None:
            notify(
                bucket,
                "s3:LifecycleTransition",
                version.key,
                size=version.size,
                etag=version.etag,
                version_id=version.version_id,
            )

    def _versions_under_key(self, bucket: str, key: str) -> list[ObjectVersion]:
        return [v for v in self._versions_under(bucket, key) if v.key == key]

    def _lifecycle_event(self, bucket: Bucket, key: str, entry: dict[str, Any]) -> None:
        """Tell the notification mixin (if any) about an expiration."""
        notify = getattr(self, "_notify", None)
        if notify is None:
            return
        if entry.get("DeleteMarker"):
            notify(
                bucket,
                "s3:LifecycleExpiration:DeleteMarkerCreated",
                key,
                version_id=entry.get("DeleteMarkerVersionId"),
            )
        else:
            notify(bucket, "s3:LifecycleExpiration:Delete", key)
