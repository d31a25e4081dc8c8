"""The alarm engine: alarms in memory (written through to SQLite), their
evaluation on a schedule, state transitions, history and actions.

Scheduling: ``tick()`` runs every second (``ServiceEnv.every``). A metric alarm
is evaluated once per period, at the first tick after each period boundary
(epoch-aligned, as CloudWatch aligns alarm periods), over the periods that just
closed; so a transition lands within about a second of the deciding period
closing, and a SetAlarmState holds until the next boundary, as on AWS.
Composite alarms are re-evaluated from their children's states on the tick after
any alarm changes state or configuration (a SetAlarmState on a composite holds
until a child changes).

Alarms on an anomaly detection band (``bands``) read their band through the
injected anomaly engine, which creates the detector they need if it is missing.

Time comes from the injected clock and other services are reached through the
injected ``call``, so tests drive the engine without a server.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.cloudwatch import bands, composite, errors, queries
from cloudlet.services.cloudwatch.actions import Call, run_action
from cloudlet.services.cloudwatch.evaluation import Outcome, decide, iso_ms
from cloudlet.services.cloudwatch.metrics import MetricRef, Metrics
from cloudlet.services.cloudwatch.store import Store, canonical_dims
from cloudlet.state.db import Transaction

log = logging.getLogger(__name__)

Key = tuple[str, str, str]
ACTION_LISTS = {
    "ALARM": "AlarmActions",
    "OK": "OKActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}
STATES = tuple(ACTION_LISTS)
_TIMESTAMPS = (
    "AlarmConfigurationUpdatedTimestamp",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
)


def public(alarm: dict) -> dict:
    """The alarm as DescribeAlarms shows it (internal fields dropped)."""
    return {k: v for k, v in alarm.items() if not k.startswith("_")}


def _history_view(alarm: dict) -> dict:
    out = {}
    for k, v in public(alarm).items():
        out[k[0].lower() + k[1:]] = iso_ms(v) if k in _TIMESTAMPS else v
    return out


def alarm_period(alarm: dict) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = [
        int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics", []) if "MetricStat" in q
    ]
    periods += [int(q["Period"]) for q in alarm.get("Metrics", []) if q.get("Period")]
    return min(periods) if periods else 60


class AlarmEngine:
    def __init__(
        self, store: Store, metrics: Metrics, clock: Any, call: Call, anomaly: Any = None
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.call = call
        self.anomaly = anomaly
        """The ``AnomalyEngine`` band alarms read their bands from (and create their
        detectors in)."""
        self.alarms: dict[Key, dict] = {}
        self.evaluated: dict[Key, float] = {}
        self.rules: dict[Key, composite.Node] = {}
        self.dirty = True
        """Some alarm changed state or configuration: composites need a look."""
        for account, region, body in store.alarms():
            key = (account, region, body["AlarmName"])
            self.alarms[key] = body
            if body["_type"] == "CompositeAlarm":
                self.rules[key] = composite.parse(body["AlarmRule"])

    # --- configuration -------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> dict | None:
        return self.alarms.get((account, region, name))

    def put(self, account: str, region: str, alarm: dict, kind: str) -> None:
        """Create or replace an alarm from a validated configuration (AWS-shaped)."""
        now = self.clock.time()
        key = (account, region, alarm["AlarmName"])
        old = self.alarms.get(key)
        alarm["_type"] = kind
        alarm["AlarmArn"] = f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm['AlarmName']}"
        alarm["AlarmConfigurationUpdatedTimestamp"] = now
        if old is None:
            alarm.update(
                StateValue="INSUFFICIENT_DATA",
                StateReason="Unchecked: Initial alarm creation",
                StateUpdatedTimestamp=now,
                StateTransitionedTimestamp=now,
            )
            alarm["_tags"] = alarm.pop("Tags", None) or []
            data = {"type": "Create", "version": "1.0", "createdAlarm": _history_view(alarm)}
            summary = f'Alarm "{alarm["AlarmName"]}" created'
        else:
            for k in (
                "StateValue",
                "StateReason",
                "StateReasonData",
                "StateUpdatedTimestamp",
                "StateTransitionedTimestamp",
            ):
                if k in old:
                    alarm[k] = old[k]
            tags = {t["Key"]: t["Value"] for t in old.get("_tags", [])}
            tags.update({t["Key"]: t["Value"] for t in alarm.pop("Tags", None) or []})
            alarm["_tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            data = {
                "type": "Update",
                "version": "1.0",
                "originalUpdatedAlarm": _history_view(old),
                "updatedAlarm": _history_view(alarm),
            }
            summary = f'Alarm "{alarm["AlarmName"]}" updated'
        if kind == "CompositeAlarm":
            self.rules[key] = composite.parse(alarm["AlarmRule"])
        self.alarms[key] = alarm
        self.evaluated.pop(key, None)
        self.dirty = True
        with Transaction(self.store.conn):
            self.store.save_alarm(account, region, alarm)
            self._history(key, "ConfigurationUpdate", summary, data, now)

    def delete(self, account: str, region: str, names: list[str]) -> None:
        missing = [n for n in names if (account, region, n) not in self.alarms]
        if missing:
            raise errors.alarm_not_found(", ".join(missing))
        now = self.clock.time()
        with Transaction(self.store.conn):
            for name in names:
                key = (account, region, name)
                alarm = self.alarms.pop(key)
                self.rules.pop(key, None)
                self.evaluated.pop(key, None)
                self.store.delete_alarm(account, region, name)
                self.dirty = True
                data = {"type": "Delete", "version": "1.0", "deletedAlarm": _history_view(alarm)}
                self._history(
                    key, "ConfigurationUpdate", f'Alarm "{name}" deleted', data, now, alarm
                )

    def set_actions_enabled(self, account: str, region: str, names: list[str], on: bool) -> None:
        with Transaction(self.store.conn):
            for name in names:
                alarm = self.alarms.get((account, region, name))
                if alarm is not None:
                    alarm["ActionsEnabled"] = on
                    self.store.save_alarm(account, region, alarm)

    def save(self, account: str, region: str, alarm: dict) -> None:
        with Transaction(self.store.conn):
            self.store.save_alarm(account, region, alarm)

    def _history(
        self, key: Key, item: str, summary: str, data: dict, now: float, alarm: dict | None = None
    ) -> None:
        alarm = alarm or self.alarms[key]
        self.store.add_history(
            key[0], key[1], (key[2], alarm["_type"], now, item, summary, json.dumps(data))
        )

    # --- state ---------------------------------------------------------------------

    async def set_state(
        self, account: str, region: str, name: str, state: str, reason: str, data: str | None
    ) -> None:
        key = (account, region, name)
        if key not in self.alarms:
            raise errors.alarm_not_found(name)
        now = self.clock.time()
        if self.alarms[key]["_type"] == "MetricAlarm":
            # The state holds until the next period boundary's evaluation, as on AWS.
            period = alarm_period(self.alarms[key])
            self.evaluated[key] = math.floor(now / period) * period
        pending = self._transition(key, state, reason, data, now)
        if self.alarms[key]["_type"] == "CompositeAlarm":
            # Composites are re-evaluated when a child changes, not right away.
            self.dirty = False
        await self._run(pending)

    def _transition(
        self, key: Key, state: str, reason: str, data: str | None, now: float
    ) -> list[tuple]:
        alarm = self.alarms[key]
        old, old_reason = alarm["StateValue"], alarm.get("StateReason", "")
        alarm.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
        if data:
            alarm["StateReasonData"] = data
        else:
            alarm.pop("StateReasonData", None)
        pending: list[tuple] = []
        with Transaction(self.store.conn):
            if old != state:
                alarm["StateTransitionedTimestamp"] = now
                self.dirty = True
                new_state: dict[str, Any] = {"stateValue": state, "stateReason": reason}
                if data:
                    try:
                        new_state["stateReasonData"] = json.loads(data)
                    except ValueError:
                        new_state["stateReasonData"] = data
                history = {
                    "version": "1.0",
                    "oldState": {"stateValue": old, "stateReason": old_reason},
                    "newState": new_state,
                }
                self._history(
                    key, "StateUpdate", f"Alarm updated from {old} to {state}", history, now
                )
                if alarm.get("ActionsEnabled", True):
                    pending = [(key, arn, old, now) for arn in alarm.get(ACTION_LISTS[state], [])]
            self.store.save_alarm(key[0], key[1], alarm)
        return pending

    async def _run(self, pending: list[tuple]) -> None:
        for key, arn, old, now in pending:
            alarm = self.alarms.get(key)
            if alarm is None:
                continue
            ok, summary, data = await run_action(self.call, arn, alarm, old, key[0], key[1], now)
            with Transaction(self.store.conn):
                self._history(key, "Action", summary, data, self.clock.time(), alarm)

    # --- evaluation ----------------------------------------------------------------

    async def tick(self) -> None:
        """Evaluate every metric alarm whose period closed, then the composites."""
        now = self.clock.time()
        pending: list[tuple] = []
        for key, alarm in list(self.alarms.items()):
            if alarm["_type"] != "MetricAlarm":
                continue
            period = alarm_period(alarm)
            boundary = math.floor(now / period) * period
            if self.evaluated.get(key) == boundary:
                continue
            self.evaluated[key] = boundary
            try:
                pending += self.evaluate(key, boundary, now)
            except Exception:  # noqa: BLE001 - one broken alarm must not stop the others
                log.exception("evaluating alarm %s failed", key[2])
        if self.dirty:
            self.dirty = False
            pending += self.evaluate_composites(now)
        await self._run(pending)

    def evaluate(self, key: Key, boundary: float, now: float) -> list[tuple]:
        alarm = self.alarms[key]
        account, region, _ = key
        period = alarm_period(alarm)
        n = int(alarm["EvaluationPeriods"])
        start = boundary - n * period
        values: dict[float, float]
        counts: dict[float, float]
        band: bands.Band | None = None
        threshold_id = alarm.get("ThresholdMetricId")
        if alarm.get("Metrics"):
            source = self.anomaly.bands(account, region, True) if self.anomaly else None
            results = queries.run(
                self.metrics, account, region, alarm["Metrics"], start, boundary, source
            )
            if threshold_id:
                values, counts, band = bands.split(results, alarm["Metrics"], threshold_id)
            else:
                chosen = next(r for r in results if r.return_data)
                values, counts = chosen.points, chosen.counts
        else:
            ref = MetricRef(
                alarm["Namespace"], alarm["MetricName"], canonical_dims(alarm.get("Dimensions"))
            )
            stat = alarm.get("ExtendedStatistic") or alarm["Statistic"]
            raw = self.metrics.series(
                account, region, ref, start, boundary, period, stat, alarm.get("Unit")
            )
            values = {t: v for t, (v, _) in raw.items()}
            counts = {t: c for t, (_, c) in raw.items()}
        points = [
            (t, values.get(t), counts.get(t, 0.0)) for t in (start + k * period for k in range(n))
        ]
        outcome: Outcome = (
            bands.decide(alarm, points, band, period, now)
            if band is not None
            else decide(alarm, points, now, alarm["StateValue"])
        )
        if outcome.state is None:
            return []
        if outcome.state == alarm["StateValue"] and outcome.reason == alarm.get("StateReason"):
            return []
        return self._transition(key, outcome.state, outcome.reason, outcome.reason_data, now)

    def evaluate_composites(self, now: float) -> list[tuple]:
        pending: list[tuple] = []
        for _ in range(5):  # composites of composites settle in a few rounds
            changed = False
            for key, rule in list(self.rules.items()):
                alarm = self.alarms.get(key)
                if alarm is None:
                    continue
                state_of = self._state_lookup(key[0], key[1])
                state = "ALARM" if composite.holds(rule, state_of) else "OK"
                if state == alarm["StateValue"]:
                    continue
                reason, data = self._composite_reason(key, rule, state)
                pending += self._transition(key, state, reason, data, now)
                changed = True
            if not changed:
                break
        return pending

    def _state_lookup(self, account: str, region: str):  # noqa: ANN202
        def state_of(ref: str) -> str | None:
            name = ref.split(":alarm:", 1)[1] if ref.startswith("arn:") else ref
            child = self.alarms.get((account, region, name))
            return child["StateValue"] if child else None

        return state_of

    def _composite_reason(self, key: Key, rule: composite.Node, state: str) -> tuple[str, str]:
        account, region, _ = key
        triggering = []
        for ref in composite.children(rule):
            name = ref.split(":alarm:", 1)[1] if ref.startswith("arn:") else ref
            child = self.alarms.get((account, region, name))
            if child is not None:
                triggering.append(child)
        if not triggering:
            return f"The alarm rule evaluated to {'TRUE' if state == 'ALARM' else 'FALSE'}", ""
        latest = max(triggering, key=lambda c: c.get("StateTransitionedTimestamp", 0.0))
        when = datetime.fromtimestamp(latest["StateTransitionedTimestamp"], UTC)
        reason = (
            f"{latest['AlarmArn']} transitioned to {latest['StateValue']} at "
            f"{when.strftime('%A %d %B, %Y %H:%M:%S')} UTC"
        )
        data = {
            "triggeringAlarms": [
                {
                    "arn": c["AlarmArn"],
                    "state": {
                        "value": c["StateValue"],
                        "timestamp": iso_ms(c.get("StateTransitionedTimestamp", 0.0)),
                    },
                }
                for c in triggering
            ]
        }
        return reason, json.dumps(data)
