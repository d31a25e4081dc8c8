"""Lifecycle configuration: what PutBucketLifecycleConfiguration accepts, and which rule
expires a version when.

Plain functions over the stored rules (the operation's params), shared by the
background loop (``lifecycle.py``) and by the object responses: S3 tells a reader
when the current version will expire in ``x-amz-expiration`` on PUT, GET, HEAD, copy
and CompleteMultipartUpload (``expiry-date="<HTTP date>", rule-id="<ID>"``), from the
same computation the loop uses to delete it.

The schema S3 enforces, with its codes: a rule has exactly one of ``Filter`` and the
legacy rule-level ``Prefix``; a ``Filter`` holds exactly one of ``Prefix``, ``Tag``,
``ObjectSizeGreaterThan``, ``ObjectSizeLessThan`` and ``And``, or nothing (the whole
bucket); anything else is ``MalformedXML`` (real answers: hashicorp/terraform-provider-aws
#41399, aws/aws-sdk-net#784). A rule without an ``ID`` gets one, as S3 assigns it.
Then what S3 refuses in a well-shaped rule, with the codes and messages its answers
carry (LocalStack's snapshots recorded against AWS): duplicate tag keys, a
``NoncurrentVersionExpiration`` without ``NoncurrentDays``, tag or size filters on
actions that cannot have them, and size bounds out of S3's range.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.store import ObjectVersion

DAY = 86400.0
MAX_RULES = 1000
_ACTIONS = (
    "Expiration",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
    "Transitions",
    "NoncurrentVersionTransitions",
)
_FILTER_KINDS = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And")
MAX_OBJECT_SIZE = 1099511627776000  # the largest size bound S3 takes (1000 TiB)


def next_midnight(moment: float) -> float:
    """``moment`` rounded up to midnight UTC, as S3 rounds the days of its rules."""
    try:
        day = datetime.fromtimestamp(moment, UTC)
    except (OverflowError, ValueError, OSError):  # a rule's days past the calendar
        return float("inf")  # never due
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    midnight = day.timestamp()
    return midnight if midnight == moment else midnight + DAY


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """The objects a rule applies to: a key prefix, tags (all must match), size bounds."""

    prefix: str
    tags: dict[str, str]
    greater: int | None
    less: int | None

    @property
    def sized(self) -> bool:
        return self.greater is not None or self.less is not None

    def selects(self, v: ObjectVersion) -> bool:
        """Whether version ``v`` (under ``prefix``, which the caller checks) matches."""
        if self.greater is not None and v.size <= self.greater:
            return False
        if self.less is not None and v.size >= self.less:
            return False
        if self.tags:
            have = {t["Key"]: t["Value"] for t in v.extra.get("tags") or []}
            return all(have.get(k) == val for k, val in self.tags.items())
        return True


def rule_filter(rule: dict[str, Any]) -> RuleFilter:
    flt = rule.get("Filter") or {}
    both = flt.get("And") or {}
    prefix = flt.get("Prefix", both.get("Prefix", rule.get("Prefix"))) or ""
    tags = {t["Key"]: t.get("Value", "") for t in both.get("Tags") or []}
    if flt.get("Tag"):
        tags[flt["Tag"]["Key"]] = flt["Tag"].get("Value", "")
    greater = flt.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan"))
    less = flt.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan"))
    return RuleFilter(prefix, tags, greater, less)


def expires_at(expiration: dict[str, Any], current: ObjectVersion) -> float | None:
    """When an ``Expiration`` action removes ``current`` (None: it never does)."""
    if expiration.get("Date") is not None:
        return expiration["Date"].timestamp()
    if "Days" in expiration:
        return next_midnight(current.last_modified.timestamp() + expiration["Days"] * DAY)
    return None


def expiration_header(rules: list[dict[str, Any]] | None, current: ObjectVersion) -> str | None:
    """``x-amz-expiration`` of ``current``: the enabled rule that expires it first."""
    if not rules:
        return None
    first: tuple[float, str] | None = None
    for rule in rules:
        if rule.get("Status") != "Enabled" or not rule.get("Expiration"):
            continue
        when = expires_at(rule["Expiration"], current)
        if when is None or when == float("inf") or (first is not None and when >= first[0]):
            continue
        flt = rule_filter(rule)
        if current.key.startswith(flt.prefix) and flt.selects(current):
            first = (when, rule.get("ID") or "")
    if first is None:
        return None
    return f'expiry-date="{formatdate(first[0], usegmt=True)}", rule-id="{first[1]}"'


# -- PutBucketLifecycleConfiguration ---------------------------------------------------


def check_configuration(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules to store, or S3's error for the first thing it refuses."""
    if not rules or len(rules) > MAX_RULES:
        raise errors.malformed_xml()
    ids = [r["ID"] for r in rules if r.get("ID")]
    if len(ids) != len(set(ids)):
        raise errors.invalid_argument(
            "Rule ID must be unique. Found same ID for more than one rule", "ID"
        )
    for rule in rules:
        _check_rule(rule)
    return [
        rule if rule.get("ID") else {"ID": _new_id(), **rule}
        for rule in rules  # S3 names the rules it was given unnamed
    ]


def _new_id() -> str:
    return base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")


def _check_rule(rule: dict[str, Any]) -> None:
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise errors.malformed_xml()
    if len(rule.get("ID") or "") > 255:
        raise errors.invalid_argument("ID length should not exceed allowed limit of 255", "ID")
    flt = rule.get("Filter")
    if (flt is None) == (rule.get("Prefix") is None):  # exactly one of the two
        raise errors.malformed_xml()
    if flt is not None and sum(flt.get(k) is not None for k in _FILTER_KINDS) > 1:
        raise errors.malformed_xml()
    _check_filter_use(rule, flt or {})
    if not any(rule.get(a) for a in _ACTIONS):
        raise errors.malformed_xml()
    expiration = rule.get("Expiration") or {}
    if sum(k in expiration for k in ("Date", "Days", "ExpiredObjectDeleteMarker")) > 1:
        raise errors.malformed_xml()
    if "Days" in expiration and expiration["Days"] <= 0:
        raise errors.invalid_argument(
            "'Days' for Expiration action must be a positive integer", "Days"
        )
    if expiration.get("Date") is not None:
        check_midnight(expiration["Date"])
    abort = rule.get("AbortIncompleteMultipartUpload") or {}
    if "DaysAfterInitiation" in abort and abort["DaysAfterInitiation"] <= 0:
        raise errors.invalid_argument(
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
            "positive integer",
            "DaysAfterInitiation",
        )


def check_midnight(date: datetime) -> None:
    """An action's ``Date``: midnight UTC, or ``InvalidArgument`` (for expirations and
    transitions alike; the Transition reference: "The time is always midnight UTC")."""
    utc = date.astimezone(UTC)  # "2020-01-01T00:00:00+01:00" is no midnight GMT
    if (utc.hour, utc.minute, utc.second, utc.microsecond) != (0, 0, 0, 0):
        raise errors.invalid_argument("'Date' must be at midnight GMT", "Date", _as_sent(date))


def _as_sent(date: datetime) -> str:
    """A parsed ``Date`` as a client wrote it: botocore's ``...Z`` for UTC."""
    if date.utcoffset():
        return date.isoformat()
    return date.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if date.microsecond else "")) + "Z"


def _check_filter_use(rule: dict[str, Any], flt: dict[str, Any]) -> None:
    """What S3 refuses in a rule whose filter is well shaped, in the order S3 checks."""
    both = flt.get("And") or {}
    keys = [t.get("Key") for t in both.get("Tags") or []]
    if len(keys) != len(set(keys)):
        raise errors.invalid_request("Duplicate Tag Keys are not allowed.")
    _check_noncurrent_expiration(rule)
    tagged = bool(flt.get("Tag") or keys)
    greater = flt.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan"))
    less = flt.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan"))
    sized = greater is not None or less is not None
    if rule.get("AbortIncompleteMultipartUpload") is not None:
        if tagged:
            raise errors.invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with Tags."
            )
        if sized:
            raise errors.invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with Object Size."
            )
    marker = (rule.get("Expiration") or {}).get("ExpiredObjectDeleteMarker")
    if marker is not None and sized:
        raise errors.invalid_request(
            "ExpiredObjectDeleteMarker cannot be specified with Object Size."
        )
    for name, value, low in (
        ("ObjectSizeLessThan", less, 1),
        ("ObjectSizeGreaterThan", greater, 0),
    ):
        if value is not None and not low <= value <= MAX_OBJECT_SIZE:
            raise errors.invalid_request(f"'{name}' should be between {low} and {MAX_OBJECT_SIZE}.")
    if less is not None and greater is not None and less <= greater:
        raise errors.invalid_request(
            "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."
        )


def _check_noncurrent_expiration(rule: dict[str, Any]) -> None:
    """``NoncurrentDays`` is required and positive; ``NewerNoncurrentVersions`` (how
    many noncurrent versions to keep) positive, with no upper limit enforced."""
    if "NoncurrentVersionExpiration" not in rule:
        return
    noncurrent = rule["NoncurrentVersionExpiration"] or {}
    days = noncurrent.get("NoncurrentDays")
    newer = noncurrent.get("NewerNoncurrentVersions")
    if days is None and newer is None:
        raise errors.malformed_xml()
    if days is None or days <= 0:
        raise errors.invalid_argument(
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            "NoncurrentDays",
        )
    if newer is not None and newer < 1:
        raise errors.invalid_argument(
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a "
            "positive integer",
            "NewerNoncurrentVersions",
        )
