"""Contributor Insights: users' rules over log groups, and the rules other AWS
services manage in CloudWatch.

A user's rule (PutInsightRule) watches log groups: CloudWatch Logs hands each
group's accepted events to CloudWatch (the internal ``RecordLogEvents``), and the
rules naming the group turn them into contributions (``log_rules.py``). When
"CloudWatch Contributor Insights for DynamoDB" is on, DynamoDB owns rules in
CloudWatch and reports every item it reads or writes to them. Users read the top
contributors of either with GetInsightRuleReport. Why it is built this way:

- Managed rules are fed by the service that owns them, not by log groups, so
  the engine takes their contributions directly (the internal
  ``RecordContributions``); they change only through that service.
- DynamoDB sends thousands of contributions every few seconds and hot keys
  repeat, so each call is folded per (rule, minute, contributor keys) into a
  statistic set (count, sum, min, max) in Python and upserted with one
  ``executemany`` in one transaction. A minute is the finest grain a report
  asks for (Period is a multiple of 60), as on AWS.
- A report is one range read over one rule's primary key, with SQLite grouping
  the minutes into the requested periods; only the top-N choice and the
  per-period metrics are computed here.
- Rules are few (100 per account and Region by default), so the engine keeps
  them in memory, SQLite being the durable copy: checking a contribution's rule
  is a dict lookup.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.log_rules import LogRule, compile_rule
from cloudlet.services.cloudwatch.metrics import epoch
from cloudlet.services.cloudwatch.store import RETENTION_SECONDS, Store
from cloudlet.state.db import Transaction

RULE_LIMIT = 100
"""AWS's quota "Number of Contributor Insights rules" per account and Region."""
LIMIT_ENV = "CLOUDLET_CLOUDWATCH_INSIGHT_RULE_LIMIT"
DEFAULT_SCHEMA = "CloudWatchLogRule/1"
METRICS = (
    "UniqueContributors",
    "MaxContributorValue",
    "SampleCount",
    "Sum",
    "Minimum",
    "Maximum",
    "Average",
)
ORDER_BY = ("Sum", "Maximum")
AGGREGATES = ("Sum", "Count")
MAX_CONTRIBUTORS = 100
DYNAMODB_CONTRIBUTORS = 25
DEFAULT_CONTRIBUTORS = 10
_NAME = re.compile(r"^[\x20-\x7E]{1,128}$")
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}

Key = tuple[str, str, str]


def rule_limit(environ: Mapping[str, str] | None = None) -> int:
    """How many insight rules an account may hold in one Region."""
    return int(seconds_setting(LIMIT_ENV, RULE_LIMIT, low=0, environ=environ))


@dataclass(slots=True)
class Rule:
    """A rule: its definition as given, what a report reads from it, and for a user's
    rule over log groups its compiled form."""

    name: str
    definition: str
    resource_arn: str
    state: str = "ENABLED"
    key_labels: list[str] = field(default_factory=list)
    aggregate_on: str = "Sum"
    schema: str = DEFAULT_SCHEMA
    managed: bool = True
    log: LogRule | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    transformed: bool = False
    """ApplyOnTransformedLogs (cloudlet's log groups have no transformers: the same events)."""

    @classmethod
    def parse(
        cls,
        name: str,
        definition: str,
        resource_arn: str,
        state: str = "ENABLED",
        *,
        managed: bool = True,
        account: str = "",
        region: str = "",
    ) -> Rule:
        """A rule from its definition (JSON text); InvalidParameterValue when the
        definition lacks what a report needs (or, for a user's rule, is not a valid
        rule over log groups)."""
        try:
            doc = json.loads(definition)
            keys = doc["Contribution"]["Keys"]
            aggregate = doc["AggregateOn"]
        except (ValueError, TypeError, KeyError):
            raise errors.invalid_value(
                f"The definition of rule {name} must be a JSON object with Contribution.Keys "
                "and AggregateOn."
            ) from None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise errors.invalid_value(
                f"Contribution.Keys of rule {name} must be a non-empty list of strings."
            )
        if aggregate not in AGGREGATES:
            raise errors.bad_value(aggregate, "AggregateOn")
        schema = doc.get("Schema")
        label = DEFAULT_SCHEMA  # AWS shows the definition's Schema as Name/Version
        if isinstance(schema, dict) and schema.get("Name"):
            label = f"{schema['Name']}/{schema.get('Version', 1)}"
        log = None if managed else compile_rule(doc, account, region)
        return cls(name, definition, resource_arn, state, keys, aggregate, label, managed, log)

    def document(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "Name": self.name,
            "State": self.state,
            "Definition": self.definition,
            "ResourceARN": self.resource_arn,
            "ManagedRule": self.managed,
            "Tags": self.tags,
            "ApplyOnTransformedLogs": self.transformed,
        }

    def shape(self) -> dict[str, Any]:
        """DescribeInsightRules' InsightRule (ApplyOnTransformedLogs: a user's rule's)."""
        out: dict[str, Any] = {
            "Name": self.name,
            "State": self.state,
            "Schema": self.schema,
            "Definition": self.definition,
            "ManagedRule": self.managed,
        }
        if not self.managed:
            out["ApplyOnTransformedLogs"] = self.transformed
        return out


@dataclass(slots=True)
class _Period:
    count: float = 0.0
    value: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    unique: int = 0
    top: float = 0.0

    def metrics(self) -> dict[str, float]:
        if not self.unique:
            return dict.fromkeys(METRICS, 0.0)
        return {
            "UniqueContributors": float(self.unique),
            "MaxContributorValue": self.top,
            "SampleCount": self.count,
            "Sum": self.value,
            "Minimum": self.low,
            "Maximum": self.high,
            # per observation, as CloudWatch's Average: Minimum <= Average <= Maximum
            "Average": self.value / self.count,
        }


@dataclass(slots=True)
class _Contributor:
    keys: str
    total: float = 0.0
    peak: float = 0.0
    points: dict[int, float] = field(default_factory=dict)


class Insights:
    def __init__(self, store: Store, clock: Any, limit: int | None = None) -> None:
        self.store = store
        self.clock = clock
        self.limit = rule_limit() if limit is None else limit
        self.rules: dict[Key, Rule] = {}
        for account, region, doc in store.insight_rules():
            self.rules[(account, region, doc["Name"])] = Rule.parse(
                doc["Name"],
                doc["Definition"],
                doc.get("ResourceARN", ""),
                doc["State"],
                managed=doc.get("ManagedRule", True),
                account=account,
                region=region,
            )
            rule = self.rules[(account, region, doc["Name"])]
            rule.tags = doc.get("Tags") or []
            rule.transformed = bool(doc.get("ApplyOnTransformedLogs"))

    # --- rules -----------------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> Rule | None:
        return self.rules.get((account, region, name))

    def list(self, account: str, region: str) -> list[Rule]:
        return sorted(
            (r for (a, g, _), r in self.rules.items() if (a, g) == (account, region)),
            key=lambda r: r.name,
        )

    def put_managed(self, account: str, region: str, rules: list[dict]) -> None:
        """Create or replace each rule, enabled; all or none, within the rule limit."""
        prepared: dict[str, Rule] = {}
        for i, r in enumerate(rules, 1):
            name = r.get("RuleName")
            if not isinstance(name, str) or not _NAME.match(name):
                raise errors.bad_value(name, f"Rules.member.{i}.RuleName")
            definition, arn = r.get("Definition"), r.get("ResourceARN")
            if not isinstance(definition, str) or not isinstance(arn, str) or not arn:
                raise errors.missing(
                    f"The parameters Rules.member.{i}.Definition and ResourceARN are required."
                )
            prepared[name] = Rule.parse(name, definition, arn)
        self._check_room(account, region, prepared)
        with Transaction(self.store.conn):
            for rule in prepared.values():
                self.store.save_insight_rule(account, region, rule.document())
        for rule in prepared.values():
            self.rules[(account, region, rule.name)] = rule

    def _check_room(self, account: str, region: str, prepared: Mapping[str, Rule]) -> None:
        held = sum(1 for a, g, _ in self.rules if (a, g) == (account, region))
        new = sum(1 for n in prepared if (account, region, n) not in self.rules)
        if held + new > self.limit:
            raise errors.limit_exceeded(
                f"The maximum number of Contributor Insights rules ({self.limit}) would be "
                f"exceeded: this account holds {held} in {region} and {new} more were requested."
            )

    def put_user(self, account: str, region: str, params: dict[str, Any]) -> None:
        """PutInsightRule: create or replace a user's rule over log groups. Tags are a new
        rule's (an existing rule keeps its own: TagResource changes them, as the API
        reference says of PutInsightRule's Tags)."""
        name, state = params.get("RuleName"), params.get("RuleState")
        definition = params.get("RuleDefinition")
        if not isinstance(name, str) or not _NAME.match(name):
            raise errors.bad_value(name, "RuleName")
        state = state or "ENABLED"
        if state not in ("ENABLED", "DISABLED"):
            raise errors.bad_value(state, "RuleState")
        if not isinstance(definition, str) or not definition:
            raise errors.missing("The parameter RuleDefinition is required.")
        held = self.get(account, region, name)
        if held is not None and held.managed:
            raise errors.invalid_value(
                f"Rule {name} is a managed rule: it can be changed only through the service "
                "that created it."
            )
        arn = f"arn:aws:cloudwatch:{region}:{account}:insight-rule/{name}"
        rule = Rule.parse(
            name, definition, arn, state, managed=False, account=account, region=region
        )
        rule.tags = held.tags if held is not None else _tags(params.get("Tags") or [])
        rule.transformed = bool(params.get("ApplyOnTransformedLogs"))
        self._check_room(account, region, {name: rule})
        with Transaction(self.store.conn):
            self.store.save_insight_rule(account, region, rule.document())
        self.rules[(account, region, name)] = rule

    def user_rule(self, account: str, region: str, arn: str) -> Rule | None:
        """The user's rule an ARN names (TagResource and kin), or None."""
        prefix = f"arn:aws:cloudwatch:{region}:{account}:insight-rule/"
        rule = self.get(account, region, arn[len(prefix) :]) if arn.startswith(prefix) else None
        return rule if rule is not None and not rule.managed else None

    def set_tags(self, account: str, region: str, rule: Rule, tags: list[dict]) -> None:
        rule.tags = _tags(tags)
        with Transaction(self.store.conn):
            self.store.save_insight_rule(account, region, rule.document())

    def change(self, account: str, region: str, names: list[str], action: str) -> list[dict]:
        """DeleteInsightRules, EnableInsightRules or DisableInsightRules (``action``:
        "delete", "ENABLED", "DISABLED") on the user's rules named; the PartialFailure
        entries of the names that are unknown or managed (``refusals``)."""
        failures = self.refusals(account, region, names)
        refused = {f["FailureResource"] for f in failures}
        mine = [n for n in dict.fromkeys(names) if n not in refused]
        if action == "delete":
            with Transaction(self.store.conn):
                for name in mine:
                    self.store.delete_insight_rule(account, region, name)
            for name in mine:
                del self.rules[(account, region, name)]
            return failures
        with Transaction(self.store.conn):
            for name in mine:
                rule = self.rules[(account, region, name)]
                rule.state = action
                self.store.save_insight_rule(account, region, rule.document())
        return failures

    def delete_managed(self, account: str, region: str, names: list[str]) -> None:
        """Delete the rules and their data; unknown names are ignored."""
        doomed = [n for n in dict.fromkeys(names) if (account, region, n) in self.rules]
        with Transaction(self.store.conn):
            for name in doomed:
                self.store.delete_insight_rule(account, region, name)
        for name in doomed:
            del self.rules[(account, region, name)]

    def refusals(self, account: str, region: str, names: list[str]) -> list[dict[str, str]]:
        """PartialFailure entries for DeleteInsightRules, EnableInsightRules and
        DisableInsightRules: unknown rules, and managed ones, which AWS changes only
        through the service that owns them (a user's rule yields none). The API reference documents the
        PartialFailure fields but not their values for either case; the codes here are
        the modelled error codes the corresponding single-rule error would carry."""
        out = []
        for name in names:
            rule = self.get(account, region, name)
            if rule is None:
                out.append(
                    {
                        "FailureResource": name,
                        "ExceptionType": "ResourceNotFoundException",
                        "FailureCode": "ResourceNotFoundException",
                        "FailureDescription": f"Rule {name} does not exist.",
                    }
                )
                continue
            if not rule.managed:
                continue
            owner = rule.resource_arn.split(":")[2] if rule.resource_arn.count(":") >= 2 else ""
            out.append(
                {
                    "FailureResource": name,
                    "ExceptionType": "InvalidParameterValueException",
                    "FailureCode": "InvalidParameterValue",
                    "FailureDescription": f"Rule {name} is a managed rule: it can be changed "
                    f"only through the service that created it ({owner or 'its owner'}).",
                }
            )
        return out

    # --- contributions ---------------------------------------------------------------

    def watching(self, account: str, region: str, group: str) -> list[Rule]:
        """The enabled user rules of the account and Region that watch log group ``group``."""
        return [
            r
            for (a, g, _), r in self.rules.items()
            if (a, g) == (account, region)
            and r.log is not None
            and r.state == "ENABLED"
            and r.log.watches(group)
        ]

    def observe_logs(
        self, account: str, region: str, group: str, events: list[tuple[int, str]]
    ) -> int:
        """Run a log group's new events ((timestamp in ms, message) each) through the
        rules watching it; returns how many contributions were kept."""
        rules = self.watching(account, region, group)
        if not rules:
            return 0
        contributions = []
        for stamp, message in events:
            when = float(stamp) / 1000.0
            for rule in rules:
                assert rule.log is not None
                found = rule.log.contribution(message)
                if found is not None:
                    keys, value = found
                    contributions.append(
                        {"RuleName": rule.name, "Keys": keys, "Value": value, "Timestamp": when}
                    )
        return self.record(account, region, contributions) if contributions else 0

    def record(self, account: str, region: str, contributions: list[dict]) -> int:
        """Fold contributions into their rules' per-minute data; those to an unknown or
        disabled rule, or older than the retention, are dropped. Returns how many
        were kept."""
        cutoff = self.clock.time() - RETENTION_SECONDS
        folded: dict[tuple[str, int, str], list[float]] = {}
        kept = 0
        for i, c in enumerate(contributions, 1):
            try:
                name, keys = c["RuleName"], c["Keys"]
                ts, value = epoch(c["Timestamp"]), float(c["Value"])
            except (KeyError, TypeError, ValueError):
                raise errors.invalid_value(
                    f"Contributions.member.{i} needs RuleName, Timestamp, Keys and Value."
                ) from None
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise errors.bad_value(keys, f"Contributions.member.{i}.Keys")
            if not (math.isfinite(value) and math.isfinite(ts)):
                raise errors.bad_value(value, f"Contributions.member.{i}.Value")
            rule = self.rules.get((account, region, name))
            if rule is None or rule.state != "ENABLED" or ts < cutoff:
                continue
            kept += 1
            slot = (name, math.floor(ts / 60) * 60, json.dumps(keys, **_COMPACT))
            stats = folded.get(slot)
            if stats is None:
                folded[slot] = [1.0, value, value, value]
            else:
                stats[0] += 1.0
                stats[1] += value
                stats[2] = min(stats[2], value)
                stats[3] = max(stats[3], value)
        if folded:
            rows = [(account, region, *slot, *stats) for slot, stats in folded.items()]
            with Transaction(self.store.conn):
                self.store.add_contributions(rows)
        return kept

    # --- GetInsightRuleReport --------------------------------------------------------

    def report(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if start >= end:
            raise errors.invalid_value(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        period = int(params["Period"])
        if period < 60 or period % 60:
            raise errors.invalid_value(
                f"The value {period} for parameter Period is invalid: it must be a multiple "
                "of 60 seconds."
            )
        limit = params.get("MaxContributorCount")
        limit = DEFAULT_CONTRIBUTORS if limit is None else int(limit)
        if not 1 <= limit <= MAX_CONTRIBUTORS:
            raise errors.invalid_value(
                f"The value {limit} for parameter MaxContributorCount is invalid: the range "
                f"is 1 to {MAX_CONTRIBUTORS}."
            )
        wanted = list(params.get("Metrics") or [])
        for m in wanted:
            if m not in METRICS:
                raise errors.invalid_value(
                    f"The value {m} for parameter Metrics is invalid: valid values are "
                    f"{', '.join(METRICS)}."
                )
        order = params.get("OrderBy") or "Sum"
        if order not in ORDER_BY:
            raise errors.invalid_value(
                f"The value {order} for parameter OrderBy is invalid: valid values are Sum "
                "and Maximum."
            )
        rule = self.get(account, region, params["RuleName"])
        if rule is None:
            raise errors.insight_rule_not_found(params["RuleName"])
        if rule.managed and ":dynamodb:" in rule.resource_arn and limit > DYNAMODB_CONTRIBUTORS:
            # The DynamoDB developer guide: "a limit of 25 contributors. Requesting more than
            # 25 contributors will return an error" (its text is not on record).
            raise errors.invalid_value(
                f"The value {limit} for parameter MaxContributorCount is invalid: rules of "
                f"CloudWatch Contributor Insights for DynamoDB report at most "
                f"{DYNAMODB_CONTRIBUTORS} contributors."
            )
        origin = math.floor(start / 60) * 60
        periods, contributors = self._aggregate(account, region, rule, origin, period, end)
        ranked = sorted(
            contributors.values(),
            key=lambda c: (
                (-c.total, -c.peak) if order == "Sum" else (-c.peak, -c.total),
                c.keys,
            ),
        )
        out: dict[str, Any] = {
            "KeyLabels": list(rule.key_labels),
            "AggregationStatistic": rule.aggregate_on,
            "AggregateValue": float(sum(c.total for c in contributors.values())),
            "ApproximateUniqueCount": len(contributors),
            "Contributors": [
                {
                    "Keys": json.loads(c.keys),
                    "ApproximateAggregateValue": c.total,
                    "Datapoints": [
                        {"Timestamp": float(origin + p * period), "ApproximateValue": v}
                        for p, v in sorted(c.points.items())
                    ],
                }
                for c in ranked[:limit]
            ],
        }
        if wanted:  # AWS leaves MetricDatapoints out when no Metrics were asked for
            out["MetricDatapoints"] = [
                {"Timestamp": float(origin + p * period)}
                | {m: v for m, v in periods.get(p, _Period()).metrics().items() if m in wanted}
                for p in self._indices(origin, period, end, periods)
            ]
        return out

    def _aggregate(
        self, account: str, region: str, rule: Rule, origin: int, period: int, end: float
    ) -> tuple[dict[int, _Period], dict[str, _Contributor]]:
        """Per-period statistics and per-contributor values. A contributor's value in a
        period is what the rule aggregates on: the sum of its values, or its count."""
        by_sum = rule.aggregate_on == "Sum"
        periods: dict[int, _Period] = {}
        contributors: dict[str, _Contributor] = {}
        rows = self.store.contribution_buckets(account, region, rule.name, origin, period, end)
        for p, keys, count, total, low, high in rows:
            value = total if by_sum else count
            c = contributors.get(keys)
            if c is None:
                c = contributors[keys] = _Contributor(keys)
            c.total += value
            c.peak = max(c.peak, value)
            c.points[p] = value
            s = periods.get(p)
            if s is None:
                s = periods[p] = _Period()
            s.count += count
            s.value += value
            # a Count rule's observation is worth 1
            s.low = min(s.low, low if by_sum else 1.0)
            s.high = max(s.high, high if by_sum else 1.0)
            s.unique += 1
            s.top = max(s.top, value)
        return periods, contributors

    def _indices(self, origin: int, period: int, end: float, periods: dict) -> list[int]:
        """Every period of the range that could hold data: none before the retention
        window or after now, so a range of years stays a bounded answer."""
        now = self.clock.time()
        first = max(0, math.floor((now - RETENTION_SECONDS - origin) / period))
        last = math.ceil((min(end, now) - origin) / period)
        return sorted(set(range(first, max(first, last))) | set(periods))


def _tags(tags: list[dict]) -> list[dict[str, str]]:
    merged = {t["Key"]: t["Value"] for t in tags}
    if len(merged) > 50:
        raise errors.invalid_value("A resource can have at most 50 tags.")
    return [{"Key": k, "Value": v} for k, v in merged.items()]
