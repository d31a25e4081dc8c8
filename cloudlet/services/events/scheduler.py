"""Scheduled rules: when each fires next, and firing the ones that are due.

A periodic check (every second, from ``EventsService.start``) asks ``fire_due``; it is
plain Python over the store, so a test moves time by passing ``now``. Each enabled rule
with a ``ScheduleExpression`` has its next firing in memory, recomputed whenever the
rule is put, enabled or disabled, and at start (a rate counts from the rule's stored
anchor, so a restart keeps its cadence; firings missed while the server was down are
not made up). A firing sends each target AWS's scheduled event::

    {"version": "0", "id", "detail-type": "Scheduled Event", "source": "aws.events",
     "account", "time", "region", "resources": [rule ARN], "detail": {}}

with ``time`` the moment it was due.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from cloudlet.core.clock import clock
from cloudlet.services.events.publish import envelope
from cloudlet.services.events.rules import enabled
from cloudlet.services.events.schedule import ScheduleError, parse_schedule
from cloudlet.services.events.store import Doc, EventsStore

log = logging.getLogger(__name__)
Send = Callable[[Doc, Doc, Doc], None]
"""(rule, target, event) -> None: start a delivery."""


def scheduled_event(rule: Doc, when: float) -> Doc:
    return envelope(
        rule["Account"], rule["Region"], "aws.events", "Scheduled Event", {}, [rule["Arn"]], when
    )


class ScheduleBook:
    def __init__(self, store: EventsStore, send: Send) -> None:
        self.store = store
        self.send = send
        self.due: dict[str, float] = {}
        """rule ARN -> when it fires next (epoch seconds)."""
        self._rules: dict[str, tuple[str, str]] = {}
        """rule ARN -> (bus ARN, rule name), to find the rule as it is now."""

    def load(self) -> None:
        for rule in self.store.all_rules():
            self.update(rule)

    def update(self, rule: Doc, now: float | None = None) -> None:
        """(Re)compute when ``rule`` fires next; forget it when it no longer fires."""
        arn, text = rule["Arn"], rule.get("ScheduleExpression")
        if (
            not text
            or not enabled(rule)
            or self.store.rule_by(rule["BusArn"], rule["Name"]) is None
        ):
            self.due.pop(arn, None)
            self._rules.pop(arn, None)
            return
        try:
            schedule = parse_schedule(text)
        except ScheduleError:
            log.warning("rule %s has a schedule cloudlet cannot read: %s", arn, text)
            return
        after = clock.time() if now is None else now
        when = schedule.next_after(after, rule.get("ScheduleAnchor", after))
        if math.isinf(when):
            self.due.pop(arn, None)
            return
        self.due[arn] = when
        self._rules[arn] = (rule["BusArn"], rule["Name"])

    def fire_due(self, now: float | None = None) -> int:
        """Fire every rule due by ``now`` (default: the clock); how many fired."""
        now = clock.time() if now is None else now
        fired = 0
        for arn, when in list(self.due.items()):
            if when > now:
                continue
            bus_arn, name = self._rules[arn]
            rule = self.store.rule_by(bus_arn, name)
            if rule is None or rule["Arn"] != arn:
                self.due.pop(arn, None)
                continue
            event = scheduled_event(rule, when)
            for target in rule["Targets"]:
                self.send(rule, target, event)
            fired += 1
            self.update(rule, max(now, when))
        return fired
