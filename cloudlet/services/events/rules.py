"""Rule operations: PutRule, DescribeRule, ListRules, DeleteRule, Enable/DisableRule,
ListRuleNamesByTarget, and TestEventPattern.

A rule has an event pattern, a schedule, or both (AWS: it then fires on matching events
and on its schedule); schedules only on the default bus. PutRule on an existing rule
replaces what it says and keeps the rule's targets and tags (AWS ignores ``Tags`` on
an update). A rule is deleted only without targets (or with ``Force``), as AWS refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.events import errors
from cloudlet.services.events.buses import _checked_tags
from cloudlet.services.events.common import (
    DEFAULT_BUS,
    check_length,
    check_rule_name,
    page,
    rule_arn,
)
from cloudlet.services.events.patterns import check_pattern, matches
from cloudlet.services.events.schedule import ScheduleError, parse_schedule
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
MAX_RULES = 300
EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")
"""What TestEventPattern's event must have (AWS's API reference also lists
``resources``, which AWS does not in fact require)."""
_SHOWN = ("EventPattern", "State", "Description", "ScheduleExpression", "RoleArn")


def rule_view(rule: Doc) -> Result:
    out: Result = {"Name": rule["Name"], "Arn": rule["Arn"]}
    out.update({k: rule[k] for k in _SHOWN if rule.get(k)})
    out["EventBusName"] = rule["EventBusName"]
    return out


def enabled(rule: Doc) -> bool:
    return rule["State"] != "DISABLED"


class RuleHandlers:
    store: EventsStore
    _bus: Callable[..., Doc]
    """``BusHandlers._bus``: the bus a request names, or AWS's not-found error."""
    _schedule_rule: Callable[[Doc], None]
    """``Scheduler._schedule_rule``: (re)compute when a rule fires next."""

    def _rule(self, ctx: Any, name: str, bus_name: str | None, member: str = "name") -> Doc:
        check_rule_name(name, member)
        bus = self._bus(ctx, bus_name)
        rule = self.store.rule(bus, name)
        if rule is None:
            raise errors.rule_not_found(name, bus["Name"])
        return rule

    def put_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["Name"]
        check_rule_name(name)
        check_length(params.get("Description"), "description", 512)
        check_length(params.get("ScheduleExpression"), "scheduleExpression", 256)
        state = params.get("State") or "ENABLED"
        if state not in STATES:
            raise errors.constraint(
                state, "state", f"Member must satisfy enum value set: [{', '.join(STATES)}]"
            )
        bus = self._bus(ctx, params.get("EventBusName"))
        pattern, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        if not pattern and not schedule:
            raise errors.validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        if schedule:
            if bus["Name"] != DEFAULT_BUS:
                raise errors.validation(
                    "ScheduleExpression is supported only on the default event bus."
                )
            try:
                parse_schedule(schedule)
            except ScheduleError:
                raise errors.bad_schedule() from None
        if pattern:
            check_pattern(pattern)
        old = self.store.rule(bus, name)
        if old is None and len(self.store.rules_of(bus)) >= MAX_RULES:
            raise errors.limit_exceeded()
        now = clock.time()
        rule: Doc = {
            "Name": name,
            "Arn": rule_arn(bus["Region"], bus["Account"], bus["Name"], name),
            "EventBusName": bus["Name"],
            "BusArn": bus["Arn"],
            "Account": bus["Account"],
            "Region": bus["Region"],
            "State": state,
            "Targets": old["Targets"] if old else [],
            "Tags": old["Tags"] if old else _checked_tags(params.get("Tags")),
            "CreatedBy": ctx.account_id,
        }
        for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
            if params.get(key):
                rule[key] = params[key]
        if schedule:
            same = old is not None and old.get("ScheduleExpression") == schedule
            rule["ScheduleAnchor"] = old["ScheduleAnchor"] if same else now
        self.store.save_rule(rule)
        self._schedule_rule(rule)
        return {"RuleArn": rule["Arn"]}

    def describe_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        rule = self._rule(ctx, params["Name"], params.get("EventBusName"))
        return {**rule_view(rule), "CreatedBy": rule["CreatedBy"]}

    def list_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        bus = self._bus(ctx, params.get("EventBusName"))
        prefix = params.get("NamePrefix") or ""
        rules = [r for r in self.store.rules_of(bus) if r["Name"].startswith(prefix)]
        shown, token = page(rules, params)
        out: Result = {"Rules": [rule_view(r) for r in shown]}
        if token:
            out["NextToken"] = token
        return out

    def delete_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        """A rule that does not exist is deleted already: success, as on AWS."""
        check_rule_name(params["Name"])
        bus = self._bus(ctx, params.get("EventBusName"))
        rule = self.store.rule(bus, params["Name"])
        if rule is None:
            return {}
        if rule["Targets"] and not params.get("Force"):
            raise errors.validation("Rule can't be deleted since it has targets.")
        self.store.delete_rule(rule)
        self._schedule_rule(rule)
        return {}

    def enable_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._set_state(ctx, params, "ENABLED")

    def disable_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self._set_state(ctx, params, "DISABLED")

    def _set_state(self, ctx: Any, params: dict[str, Any], state: str) -> Result:
        rule = self._rule(ctx, params["Name"], params.get("EventBusName"))
        if rule["State"] != state:
            rule["State"] = state
            self.store.save_rule(rule)
            self._schedule_rule(rule)
        return {}

    def list_rule_names_by_target(self, ctx: Any, params: dict[str, Any]) -> Result:
        bus = self._bus(ctx, params.get("EventBusName"))
        arn = params["TargetArn"]
        names = [
            r["Name"]
            for r in self.store.rules_of(bus)
            if any(t["Arn"] == arn for t in r["Targets"])
        ]
        shown, token = page(names, params)
        out: Result = {"RuleNames": shown}
        if token:
            out["NextToken"] = token
        return out

    def test_event_pattern(self, ctx: Any, params: dict[str, Any]) -> Result:
        node = check_pattern(params["EventPattern"])
        try:
            event = json.loads(params["Event"])
        except ValueError:
            raise errors.validation("Parameter Event is not valid.") from None
        if not isinstance(event, dict) or any(f not in event for f in EVENT_FIELDS):
            raise errors.validation("Parameter Event is not valid.")
        return {"Result": matches(node, event)}
