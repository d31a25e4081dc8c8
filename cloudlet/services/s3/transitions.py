"""Lifecycle transitions: objects move down S3's storage-class waterfall on schedule.

A rule's ``Transitions`` (``Days`` after creation, rounded up to the next
midnight UTC, or a ``Date``) and ``NoncurrentVersionTransitions``
(``NoncurrentDays`` after a version became noncurrent, keeping the
``NewerNoncurrentVersions`` newest noncurrent versions where they are) change
the storage class of the versions they select, in place: same version id,
same bytes, same Last-Modified. When several transitions of a rule are due,
the version goes to the lowest class among them.

Only moves down the waterfall happen, as on AWS: STANDARD (and
REDUCED_REDUNDANCY) ▸ STANDARD_IA ▸ INTELLIGENT_TIERING ▸ ONEZONE_IA ▸
GLACIER_IR ▸ GLACIER ▸ DEEP_ARCHIVE. A version already at or below the
target stays. A version moved to GLACIER or DEEP_ARCHIVE is archived
(``restore.py``): its bytes are readable again only after RestoreObject.

Objects under 128 KiB are not transitioned unless the rule's filter names
an object size (the filter then decides); with the bucket's
``TransitionDefaultMinimumObjectSize`` set to ``varies_by_storage_class`` they
may still go to GLACIER and DEEP_ARCHIVE. Expiration wins over a transition
due at the same pass (``lifecycle.py`` expires first). Each move sends an
``s3:LifecycleTransition`` notification.

``check_transitions`` makes PutBucketLifecycleConfiguration's checks of the
transition actions, with AWS's codes and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.lifecycle_rules import check_midnight
from cloudlet.services.s3.store import ObjectVersion

DAY = 86400.0
WATERFALL = {
    "STANDARD": 0,
    "REDUCED_REDUNDANCY": 0,
    "STANDARD_IA": 1,
    "INTELLIGENT_TIERING": 2,
    "ONEZONE_IA": 3,
    "GLACIER_IR": 4,
    "GLACIER": 5,
    "DEEP_ARCHIVE": 6,
}
"""Each class's place on the waterfall: objects only move to a higher number."""
INFREQUENT = frozenset(("STANDARD_IA", "ONEZONE_IA"))
"""Classes an object may enter only 30 days or more after its creation."""
SMALL_OBJECT = 128 * 1024
MIN_SIZE_DEFAULT = "all_storage_classes_128K"
MIN_SIZE_CHOICES = frozenset((MIN_SIZE_DEFAULT, "varies_by_storage_class"))
SMALL_OK_BY_CLASS = frozenset(("GLACIER", "DEEP_ARCHIVE"))
"""Where objects under 128 KiB may go under ``varies_by_storage_class``."""


def _describe(rule: dict[str, Any]) -> str:
    """How AWS's messages name a rule: ``filter '(prefix=logs/)'`` or ``prefix 'logs/'``."""
    if rule.get("Filter") is None and rule.get("Prefix") is not None:
        return f"prefix '{rule['Prefix']}'"
    flt = rule.get("Filter") or {}
    both = flt.get("And") or flt
    parts = [
        f"{name.lower()}={both[name]}"
        for name in ("Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
        if both.get(name) is not None
    ]
    tags = list(both.get("Tags") or []) + ([flt["Tag"]] if flt.get("Tag") else [])
    parts += [f"tag: key={t['Key']}, value={t.get('Value', '')}" for t in tags]
    return f"filter '({' and '.join(parts)})'"


def _check_actions(
    rule: dict[str, Any], actions: list[dict[str, Any]], action: str, days_field: str
) -> None:
    seen: set[str] = set()
    for item in actions:
        klass = item.get("StorageClass")
        if klass not in WATERFALL or not WATERFALL[klass]:
            raise errors.malformed_xml()
        if klass in seen:
            raise errors.invalid_request(
                f"'StorageClass' must be different for '{action}' actions in same 'Rule' "
                f"with {_describe(rule)}"
            )
        seen.add(klass)
        days = item.get(days_field)
        if days is None:
            continue
        if days < 0:
            raise errors.invalid_argument(
                f"'{days_field}' in {action} action must be nonnegative", days_field, days
            )
        if klass in INFREQUENT and days < 30:
            raise errors.invalid_argument(
                f"'{days_field}' in {action} action must be greater than or equal to 30 "
                f"for storageClass '{klass}'",
                days_field,
                days,
            )


def _check_order(rule: dict[str, Any], actions: list[dict[str, Any]], field: str) -> None:
    """A later transition must go further down the waterfall than an earlier one."""
    timed = sorted(actions, key=lambda a: (a[field], WATERFALL[a["StorageClass"]]))
    for earlier, later in zip(timed, timed[1:], strict=False):
        if WATERFALL[later["StorageClass"]] < WATERFALL[earlier["StorageClass"]]:
            word = "later" if field == "Date" else "greater"
            described = _describe(rule)
            raise errors.invalid_argument(
                f"'{field}' in the 'Transition' action for StorageClass "
                f"'{earlier['StorageClass']}' for {described} must be {word} than "
                f"'{field}' in the 'Transition' action for StorageClass "
                f"'{later['StorageClass']}' for {described}",
                field,
                earlier[field],
            )


def check_transitions(rule: dict[str, Any]) -> None:
    """PutBucketLifecycleConfiguration's checks of one rule's transition actions."""
    transitions = rule.get("Transitions") or []
    for item in transitions:
        if ("Date" in item) == ("Days" in item):
            raise errors.malformed_xml()
        if "Date" in item:
            check_midnight(item["Date"])
    _check_actions(rule, transitions, "Transition", "Days")
    expiration = rule.get("Expiration") or {}
    kinds = {"Date" if "Date" in t else "Days" for t in transitions}
    kinds |= {k for k in ("Date", "Days") if k in expiration}
    if len(kinds) > 1:
        raise errors.invalid_request(
            "Found mixed 'Date' and 'Days' based Expiration and Transition actions in "
            f"lifecycle rule for {_describe(rule)}"
        )
    if transitions:
        field = kinds.pop()
        _check_order(rule, transitions, field)
        if field in expiration and expiration[field] <= max(t[field] for t in transitions):
            word = "later" if field == "Date" else "greater"
            raise errors.invalid_argument(
                f"'{field}' in the Expiration action for {_describe(rule)} must be {word} "
                f"than '{field}' in the Transition action",
                field,
                expiration[field],
            )
    noncurrent = rule.get("NoncurrentVersionTransitions") or []
    if any("NoncurrentDays" not in t for t in noncurrent):
        raise errors.malformed_xml()
    _check_actions(rule, noncurrent, "NoncurrentVersionTransition", "NoncurrentDays")
    ending = (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")
    if noncurrent and ending is not None:
        if ending <= max(t["NoncurrentDays"] for t in noncurrent):
            raise errors.invalid_argument(
                f"'NoncurrentDays' in the NoncurrentVersionExpiration action for "
                f"{_describe(rule)} must be greater than 'NoncurrentDays' in the "
                "NoncurrentVersionTransition action",
                "NoncurrentDays",
                ending,
            )


def _target(
    version: ObjectVersion,
    due: list[str],
    sized_filter: bool,
    min_size: str,
) -> str | None:
    """The class ``version`` moves to, of the ``due`` ones (None: it stays)."""
    here = WATERFALL.get(version.storage_class)
    if here is None:
        return None  # a class outside the waterfall (EXPRESS_ONEZONE, OUTPOSTS, ...)
    if not sized_filter and version.size < SMALL_OBJECT:
        if min_size != "varies_by_storage_class":
            return None
        due = [c for c in due if c in SMALL_OK_BY_CLASS]
    best = max(due, key=WATERFALL.__getitem__, default=None)
    return best if best is not None and WATERFALL[best] > here else None


def due_moves(
    rule: dict[str, Any],
    versions: list[ObjectVersion],
    selected: Callable[[ObjectVersion], bool],
    sized_filter: bool,
    min_size: str,
    now: float,
    midnight_after: Callable[[float], float],
) -> list[tuple[ObjectVersion, str]]:
    """The (version, new class) moves the rule makes now among one key's ``versions``.

    ``versions`` is newest first; the first is the current one (or a delete marker).
    """
    moves: list[tuple[ObjectVersion, str]] = []
    current = versions[0] if versions else None
    transitions = rule.get("Transitions") or []
    if current is not None and current.is_latest and not current.delete_marker:
        born = current.last_modified.timestamp()
        due = [
            t["StorageClass"]
            for t in transitions
            if (
                t["Date"].timestamp() <= now
                if "Date" in t
                else midnight_after(born + t["Days"] * DAY) <= now
            )
        ]
        target = _target(current, due, sized_filter, min_size) if due else None
        if target is not None and selected(current):
            moves.append((current, target))
    noncurrent = rule.get("NoncurrentVersionTransitions") or []
    if not noncurrent:
        return moves
    rank = 0  # how many noncurrent versions are newer than this one
    for newer, version in zip(versions, versions[1:], strict=False):
        if version.delete_marker:
            continue
        rank += 1
        since = newer.last_modified.timestamp()
        due = [
            t["StorageClass"]
            for t in noncurrent
            if rank > (t.get("NewerNoncurrentVersions") or 0)
            and midnight_after(since + t["NoncurrentDays"] * DAY) <= now
        ]
        target = _target(version, due, sized_filter, min_size) if due else None
        if target is not None and selected(version):
            moves.append((version, target))
    return moves
