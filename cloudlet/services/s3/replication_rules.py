"""Replication configuration: what PutBucketReplication accepts, and which rule a version follows.

Plain functions over the configuration document (the operation's params, as
stored in ``bucket_config``), so the S3 rules are readable in one place and
testable without a server:

- ``check_configuration`` refuses what S3 refuses, with S3's error codes, and
  returns the document to store (rule IDs filled in, as S3 assigns them).
- ``monitoring`` says whether a rule has replication metrics and Replication Time
  Control (``replication_metrics.py`` does what they promise).
- ``select_targets`` picks, for one object version, the destinations it goes
  to: per destination bucket the highest-priority enabled rule whose filter
  matches (S3: "the rule with the highest priority" wins when several rules
  send an object to the same bucket), then that rule's settings decide
  (delete marker replication, replica modification sync, storage class).

The two schemas S3 keeps: a rule with a ``Filter`` is V2 (it must state
``Priority`` and ``DeleteMarkerReplication``; delete markers replicate only when
that is Enabled, and never for tag-based rules); a rule without one is V1
(rule-level ``Prefix``), which replicates delete markers made by user deletes
(AWS's "Backward compatibility considerations").
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import errors
from cloudlet.services.s3.objects import STORAGE_CLASSES
from cloudlet.services.s3.store import Bucket, S3Store

MAX_RULES = 1000
MAX_ID_LENGTH = 255
RTC_MINUTES = 15
"""The only ``ReplicationTime``/``EventThreshold`` value S3 takes."""
_ARN_PREFIX = "arn:aws:s3:::"
_STATUSES = ("Enabled", "Disabled")
_SCHEMA = "for this version of Cross Region Replication configuration schema."


def bucket_from_arn(arn: str | None) -> str | None:
    """``arn:aws:s3:::name`` -> ``name``; None for anything else."""
    if not arn or not arn.startswith(_ARN_PREFIX):
        return None
    name = arn[len(_ARN_PREFIX) :]
    return name if name and "/" not in name and ":" not in name else None


def _enabled(element: dict[str, Any] | None) -> bool:
    return (element or {}).get("Status") == "Enabled"


def _status_ok(element: dict[str, Any] | None) -> bool:
    return element is None or element.get("Status") in _STATUSES


def rule_filter(rule: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    """The key prefix and the tags a rule selects (V1: its rule-level ``Prefix``)."""
    if "Filter" not in rule:
        return rule.get("Prefix") or "", []
    selector = rule["Filter"] or {}
    if "And" in selector:
        both = selector["And"] or {}
        return both.get("Prefix") or "", list(both.get("Tags") or [])
    if "Tag" in selector:
        return "", [selector["Tag"]]
    return selector.get("Prefix") or "", []


def _priority(rule: dict[str, Any]) -> int:
    return int(rule.get("Priority") or 0)


def monitoring(rule: dict[str, Any]) -> tuple[bool, bool]:
    """(tracked, timed): whether a rule publishes replication metrics (``Metrics``
    Enabled, or ``ReplicationTime`` Enabled, which turns them on) and whether it has
    Replication Time Control (``replication_metrics.py`` does what they promise)."""
    destination = rule.get("Destination") or {}
    timed = _enabled(destination.get("ReplicationTime"))
    return timed or _enabled(destination.get("Metrics")), timed


def _minutes_of(element: dict[str, Any] | None) -> Any:
    return (element or {}).get("Minutes")


def _check_monitoring(destination: dict[str, Any]) -> None:
    """A destination's ``Metrics`` and ``ReplicationTime`` as S3 checks them.

    Users' PutBucketReplication errors (crossplane-contrib/provider-aws#1117,
    pulumi/pulumi-aws#5806) give S3's answer to an ``EventThreshold`` without RTC
    Enabled. The rest is S3's model (``Time`` is required; 15 minutes is the only
    value) in the words S3 is reported to use: both elements or neither, and an RTC
    rule's metrics need the 15-minute threshold.
    """
    metrics, timed = destination.get("Metrics"), destination.get("ReplicationTime")
    if timed is not None:
        if timed.get("Time") is None:
            raise errors.malformed_xml()
        if metrics is None:
            raise errors.invalid_request(
                "Replication destination must contain both ReplicationTime and Metrics or neither."
            )
        if _minutes_of(timed["Time"]) != RTC_MINUTES:
            raise errors.invalid_argument(
                "Invalid time minute value", "ReplicationTime", _minutes_of(timed["Time"])
            )
    threshold = (metrics or {}).get("EventThreshold")
    if not _enabled(timed):
        if threshold is not None:
            raise errors.invalid_argument(
                "Metrics cannot contain an event threshold when ReplicationTime is not "
                "specified or Disabled"
            )
        return
    if _minutes_of(threshold) is None:
        raise errors.invalid_argument(
            "ReplicationMetrics must contain an event threshold", "ReplicationMetrics"
        )
    if _minutes_of(threshold) != RTC_MINUTES:
        raise errors.invalid_argument(
            "Invalid event threshold minute value", "ReplicationMetrics", _minutes_of(threshold)
        )


def _check_rule(rule: dict[str, Any], seen_ids: set[str], priorities: set[int]) -> dict[str, Any]:
    """One rule by S3's schema rules; the rule as stored (an ID filled in)."""
    if rule.get("Status") not in _STATUSES or ("Prefix" in rule and "Filter" in rule):
        raise errors.malformed_xml()
    destination = rule.get("Destination") or {}
    klass = destination.get("StorageClass")
    if klass is not None and klass not in STORAGE_CLASSES:
        raise errors.malformed_xml()
    translation = destination.get("AccessControlTranslation")
    if translation is not None and translation.get("Owner") != "Destination":
        raise errors.malformed_xml()
    selection = rule.get("SourceSelectionCriteria") or {}
    if not all(
        _status_ok(e)
        for e in (
            rule.get("DeleteMarkerReplication"),
            selection.get("ReplicaModifications"),
            selection.get("SseKmsEncryptedObjects"),
            destination.get("Metrics"),
            destination.get("ReplicationTime"),
        )
    ):
        raise errors.malformed_xml()
    # KMS objects replicate only when a rule asks for them, with the key replicas get.
    kms_selected = _enabled(selection.get("SseKmsEncryptedObjects"))
    replica_key = (destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID")
    if destination.get("EncryptionConfiguration") is not None and not kms_selected:
        raise errors.invalid_request(
            "SseKmsEncryptedObjects must be specified if EncryptionConfiguration is present."
        )
    if kms_selected and not replica_key:
        raise errors.invalid_request(
            "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present."
        )
    _check_monitoring(destination)
    if _enabled(rule.get("ExistingObjectReplication")):
        # No longer accepted by S3: existing objects need S3 Batch Replication.
        raise errors.malformed_xml()
    selector = rule.get("Filter")
    if selector is not None and sum(k in selector for k in ("Prefix", "Tag", "And")) > 1:
        raise errors.malformed_xml()

    rule_id = rule.get("ID") or fast_uuid().replace("-", "")
    if len(rule_id) > MAX_ID_LENGTH:
        raise errors.invalid_argument(
            f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}", "ID", rule_id
        )
    if rule_id in seen_ids:
        raise errors.invalid_argument("Rule Id must be unique", "ID", rule_id)
    seen_ids.add(rule_id)
    if bucket_from_arn(destination.get("Bucket")) is None:
        raise errors.invalid_argument(
            "Invalid bucket ARN", "Destination.Bucket", destination.get("Bucket")
        )
    if translation is not None and not destination.get("Account"):
        raise errors.invalid_request(
            "Destination Account must be specified when AccessControlTranslation is specified"
        )
    if selector is not None:
        if "Priority" not in rule:
            raise errors.invalid_request(f"Priority must be specified {_SCHEMA}")
        if rule.get("DeleteMarkerReplication") is None:
            raise errors.invalid_request(f"DeleteMarkerReplication must be specified {_SCHEMA}")
        if _enabled(rule["DeleteMarkerReplication"]) and rule_filter(rule)[1]:
            raise errors.invalid_request(
                "Delete marker replication is not supported if any Tag filter is specified."
            )
        if rule["Priority"] in priorities:
            raise errors.invalid_request(
                f"Found duplicate priority {rule['Priority']} in replication configuration rules"
            )
        priorities.add(rule["Priority"])
    elif "ReplicaModifications" in selection:
        raise errors.invalid_request(f"ReplicaModifications cannot be specified {_SCHEMA}")
    return {**rule, "ID": rule_id}


def check_configuration(document: dict[str, Any], source: Bucket, store: S3Store) -> dict[str, Any]:
    """A PutBucketReplication document checked as S3 checks it; the document to store."""
    rules = document.get("Rules") or []
    if not document.get("Role") or not rules:
        raise errors.malformed_xml()
    if len(rules) > MAX_RULES:
        raise errors.invalid_request(f"Number of rules cannot exceed {MAX_RULES}")
    if not source.versioned:
        raise errors.invalid_request(
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration"
        )
    seen_ids: set[str] = set()
    priorities: set[int] = set()
    stored = [_check_rule(rule, seen_ids, priorities) for rule in rules]
    for rule in stored:
        name = bucket_from_arn(rule["Destination"]["Bucket"])
        destination = store.get_bucket(name or "")
        if destination is not None and destination.name == source.name:
            raise errors.invalid_request(
                "Destination bucket cannot be the same as the source bucket."
            )
        # A destination that does not exist is answered as one without versioning
        # (AWS-recorded ``expected_error_dest_does_not_exist`` of LocalStack's
        # ``test_replication_config_without_filter``).
        if destination is None or not destination.versioned:
            raise errors.invalid_request("Destination bucket must have versioning enabled.")
    return {"Role": document["Role"], "Rules": stored}


def select_targets(
    config: dict[str, Any],
    key: str,
    tags: list[dict[str, str]],
    *,
    delete_marker: bool = False,
    replica: bool = False,
    kms: bool = False,
) -> list[dict[str, Any]]:
    """Where one version of ``key`` (with ``tags``) goes: one target per destination.

    Per destination bucket the highest-priority enabled rule that selects the
    version decides. ``delete_marker``: the version is a delete marker (it has
    no tags, so tag rules never select it; the deciding rule must replicate
    markers). ``replica``: a metadata change on a replica, which goes only
    where the deciding rule enables replica modification sync. ``kms``: an
    SSE-KMS version, which goes only where the deciding rule selects
    ``SseKmsEncryptedObjects`` (and is encrypted there with ``kms_key``).

    A target is what the queue keeps, so a configuration changed later does
    not change work already decided: ``{"bucket", "rule", "storage_class",
    "owner", "kms_key"}`` (``owner``: the account replicas belong to under
    ``AccessControlTranslation``, else None).
    """
    have = {(t.get("Key"), t.get("Value")) for t in tags}
    best: dict[str, dict[str, Any]] = {}
    for rule in config.get("Rules") or []:
        if rule.get("Status") != "Enabled":
            continue
        prefix, wanted = rule_filter(rule)
        if not key.startswith(prefix) or (delete_marker and wanted):
            continue
        if any((t.get("Key"), t.get("Value")) not in have for t in wanted):
            continue
        name = bucket_from_arn(rule["Destination"]["Bucket"])
        if name is None:
            continue
        current = best.get(name)
        if current is None or _priority(rule) > _priority(current):
            best[name] = rule
    targets = []
    for name, rule in best.items():
        if delete_marker and "Filter" in rule and not _enabled(rule.get("DeleteMarkerReplication")):
            continue
        selection = rule.get("SourceSelectionCriteria") or {}
        if replica and not _enabled(selection.get("ReplicaModifications")):
            continue
        if kms and not _enabled(selection.get("SseKmsEncryptedObjects")):
            continue
        destination = rule["Destination"]
        translated = destination.get("AccessControlTranslation") is not None
        targets.append(
            {
                "bucket": name,
                "rule": rule["ID"],
                "storage_class": destination.get("StorageClass"),
                "owner": destination.get("Account") if translated else None,
                "kms_key": (destination.get("EncryptionConfiguration") or {}).get(
                    "ReplicaKmsKeyID"
                ),
            }
        )
    return targets
