"""CloudWatch Contributor Insights for DynamoDB: the most accessed keys of a table or GSI.

Why it is built this way:

- **The rules are CloudWatch's.** Enabling insights on a table or global secondary index
  makes CloudWatch insight rules named as AWS names them
  (``DynamoDBContributorInsights-PKC-<resource>-<ms>``; PKT, and SKC/SKT when there is a
  sort key), which ``GetInsightRuleReport`` reads. DynamoDB only decides which rules should
  exist (an entry's ``want``) and feeds them.
- **Asynchronous, as on AWS**: UpdateContributorInsights answers ENABLING or DISABLING at
  once; a loop every ``INTERVAL`` seconds makes CloudWatch's rules match ``want`` and then
  settles the status (ENABLED, DISABLED, or FAILED with CloudWatch's
  LimitExceededException when the account's 100 rules are used; FAILED stays until the
  next ENABLE). The entries live in the table's definition, so a restart carries on.
- **Contributions are counted where the work is done**: each GetItem, PutItem,
  UpdateItem, DeleteItem, batch item, transaction item, item a Scan returns and Query
  adds its ConsumedThroughputUnits (3 per write unit plus the read units, the developer
  guide's definition; "all read and write requests" are monitored) to the accessed-keys
  rules of the table or index it touched, keyed by the partition key (PKC) and the
  partition and sort key (SKC); a Query counts once, by its partition key; transaction
  items count twice their units, as transactions cost; a GSI's rules also count the
  index entries each write puts or removes (the write units the index consumes, which
  the engine reports through ``Engine.index_writes`` while a request watches), by the
  index's keys; PartiQL is not counted (the
  developer guide: Contributor Insights "does not support PartiQL requests"). Throttled-keys
  rules (PKT, SKT) exist but stay empty: cloudlet does not throttle. Contributions are
  buffered in memory and sent with the same loop; a crash loses at most one interval of
  them, never a write.

Behaviour and texts follow the lab captures of live DynamoDB (ack-api-quirks
DDB-TABLE-089 to -092, -095, -097, -116, -137, -161, -337 to -343, 2026-10). Not on
record, so judgement calls: the rules' definitions, the resource name of an index's rules
(``<table>-<index>``), a Scan item's units (its own size, as a GetItem of it would
cost) and a transaction's Update, Delete and ConditionCheck items' (one unit each, twice).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.tables import Table

INTERVAL = seconds_setting("CLOUDLET_DYNAMODB_INSIGHTS_INTERVAL", 1.0, low=0.05)
"""Seconds between the loop's passes: how long ENABLING and DISABLING last, at most."""

ACCESSED = "ACCESSED_AND_THROTTLED_KEYS"
MODES = (ACCESSED, "THROTTLED_KEYS")
ACTIONS = ("ENABLE", "DISABLE")
SETTLING = ("ENABLING", "DISABLING")
RECORDING = ("ENABLING", "ENABLED")
LIMIT_TEXT = (
    "Amazon CloudWatch Contributor Insights rule limit reached. Please disable Contributor "
    "Insights for other tables/indexes OR disable other CloudWatch Contributor Insights rules "
    "before retrying."
)
_NOT_ACTIVE = (
    "Table or Index is not in a valid state to update Key Access Insights: {} must be ACTIVE "
    "to enable ContributorInsights."
)

Entry = dict[str, Any]
"""One table's or index's insights: status, mode, updated (epoch s), stamp (ms: the rule
names' suffix), rules (existing in CloudWatch), want (rules that should), failure."""


def check_request(params: dict[str, Any]) -> None:
    """UpdateContributorInsights' enums, before the table is looked up."""
    errors.check_enum(params.get("ContributorInsightsAction"), "contributorInsightsAction", ACTIONS)
    errors.check_enum(params.get("ContributorInsightsMode"), "contributorInsightsMode", MODES)


def resolve_index(table: Table, index: str | None) -> str:
    """The entry key of ``index`` ("" for the table); an LSI or unknown name is not found."""
    if index is None:
        return ""
    for ix in table.indexes:
        if ix.name == index and ix.kind == "GSI":
            return index
    raise errors.resource_not_found(
        f"Requested resource not found: Index: {index} not found for table: {table.name}"
    )


def key_attributes(table: Table, index: str) -> tuple[str, str | None]:
    if not index:
        return table.hash[0], table.range[0] if table.range else None
    ix = next(i for i in table.indexes if i.name == index)
    return ix.hash[0], ix.range[0] if ix.range else None


def rule_names(table: Table, index: str, mode: str, stamp: int) -> list[str]:
    """The rules an entry in ``mode`` has, in AWS's order."""
    kinds = ["PKC", "PKT"] if mode == ACCESSED else ["PKT"]
    if key_attributes(table, index)[1] is not None:
        kinds += ["SKC", "SKT"] if mode == ACCESSED else ["SKT"]
    resource = f"{table.name}-{index}" if index else table.name
    return [f"DynamoDBContributorInsights-{k}-{resource}-{stamp}" for k in kinds]


def definition(table: Table, index: str, rule: str) -> str:
    """A rule's CloudWatch definition: its key labels and what it sums."""
    hash_name, range_name = key_attributes(table, index)
    kind = rule.split("-")[1]
    keys = [hash_name] if kind.startswith("PK") or range_name is None else [hash_name, range_name]
    value = "ConsumedThroughputUnits" if kind.endswith("C") else "ThrottleCount"
    return json.dumps(
        {
            "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "AggregateOn": "Sum",
            "Contribution": {"Keys": keys, "ValueOf": value, "Filters": []},
            "LogFormat": "JSON",
            "LogGroupNames": [f"/aws/dynamodb/{table.name}"],
        },
        separators=(",", ":"),
    )


def update(table: Table, index: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    """Apply UpdateContributorInsights to ``table``'s entry ``index``; the caller saves."""
    entry = table.insights.get(index)
    if params["ContributorInsightsAction"] == "DISABLE":
        if entry is None or entry["status"] == "DISABLED":
            return _summary(table, index, entry, status="DISABLED")
        entry.update(status="DISABLING", want=[], updated=now)
        return _summary(table, index, entry)
    if table.status != "ACTIVE":
        raise errors.validation(_NOT_ACTIVE.format("TableStatus"))
    if index and next(i for i in table.indexes if i.name == index).status != "ACTIVE":
        raise errors.validation(_NOT_ACTIVE.format("IndexStatus"))
    mode = params.get("ContributorInsightsMode") or ACCESSED
    if entry is not None and entry["status"] in RECORDING and entry["mode"] == mode:
        return _summary(table, index, entry)  # nothing to change: ENABLED stays ENABLED
    if entry is not None and entry["status"] in RECORDING:
        stamp = entry["stamp"]  # a new mode keeps the rules' names, adding or dropping some
    else:
        stamp = int(now * 1000)
    rules = entry["rules"] if entry is not None else []
    entry = {
        "status": "ENABLING",
        "mode": mode,
        "updated": now,
        "stamp": stamp,
        "rules": rules,
        "want": rule_names(table, index, mode, stamp),
        "failure": None,
    }
    table.insights[index] = entry
    return _summary(table, index, entry)


def _summary(
    table: Table, index: str, entry: Entry | None, status: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"TableName": table.name}
    if index:
        out["IndexName"] = index
    out["ContributorInsightsStatus"] = status or (entry["status"] if entry else "DISABLED")
    if entry is not None:
        out["ContributorInsightsMode"] = entry["mode"]
    return out


def describe(table: Table, index: str) -> dict[str, Any]:
    """DescribeContributorInsights: status alone for a never-configured entry; the rules
    while they exist (not when FAILED or DISABLED); mode and time once configured."""
    entry = table.insights.get(index)
    out = _summary(table, index, entry)
    if entry is None:
        return out
    if entry["status"] in ("ENABLING", "ENABLED", "DISABLING") and entry["rules"]:
        out["ContributorInsightsRuleList"] = list(entry["rules"])
    elif entry["status"] == "ENABLING":
        out["ContributorInsightsRuleList"] = list(entry["want"])
    out["LastUpdateDateTime"] = entry["updated"]
    if entry.get("failure"):
        out["FailureException"] = dict(entry["failure"])
    return out


def listed(table: Table) -> list[dict[str, Any]]:
    """ListContributorInsights' entries of ``table``: every entry but DISABLED ones, the
    table's first, then its indexes'."""
    out = []
    for index in sorted(table.insights):
        entry = table.insights[index]
        if entry["status"] != "DISABLED":
            out.append(_summary(table, index, entry))
    return out


def recording_rules(table: Table, index: str) -> tuple[str | None, str | None]:
    """The (PKC, SKC) rule names that take ``index``'s accessed keys now, or Nones."""
    entry = table.insights.get(index)
    if entry is None or entry["status"] not in RECORDING or entry["mode"] != ACCESSED:
        return None, None
    pk = sk = None
    for name in entry["want"]:
        kind = name.split("-")[1]
        if kind == "PKC":
            pk = name
        elif kind == "SKC":
            sk = name
    return pk, sk


def key_text(value: dict[str, Any]) -> str:
    """A key attribute value as CloudWatch shows a contributor key."""
    (kind, v), *_ = value.items()
    if isinstance(v, bytes | bytearray):
        return base64.b64encode(v).decode()
    return str(v) if kind != "B" else v


def throughput_units(consumed: dict[str, Any] | None, kind: str, index: str = "") -> float:
    """ConsumedThroughputUnits of one operation's ConsumedCapacity (INDEXES or TOTAL) on
    the table, or on ``index`` for a Query of a GSI."""
    if not consumed:
        return 0.0
    part = (consumed.get("GlobalSecondaryIndexes") or {}).get(index) if index else None
    part = part or consumed.get("Table") or consumed
    units = float(part.get("CapacityUnits") or 0.0)
    return 3 * units if kind == "write" else units
