"""CloudWatch operations: validate, hand the work to the engines, shape the result.

One method per operation of botocore's ``cloudwatch`` model, named as botocore
names it; the same handlers answer cbor, json and query requests. Metrics live
in ``metrics``/``queries``, alarms in ``alarms`` (evaluated every second by a
background loop), dashboards in ``dashboards``, Contributor Insights in
``insights``; the metric stream operations are ``stream_ops`` (streams delivered to
Firehose every second by ``metric_streams``), tagging is ``tagging``.

Four handlers are internal operations, absent from botocore's model and so
reachable only through ``ServiceEnv.call``: ``PutManagedContributorRules``,
``DeleteManagedContributorRules`` and ``RecordContributions``, through which
DynamoDB owns its Contributor Insights rules and feeds them, and
``RecordLogEvents``, through which CloudWatch Logs hands a log group's new events to
the Contributor Insights rules that watch it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.cloudwatch import alarm_config, errors, queries
from cloudlet.services.cloudwatch.alarms import STATES, AlarmEngine, alarm_period, public
from cloudlet.services.cloudwatch.anomaly import AnomalyEngine
from cloudlet.services.cloudwatch.composite import children
from cloudlet.services.cloudwatch.dashboards import Dashboards
from cloudlet.services.cloudwatch.insights import Insights
from cloudlet.services.cloudwatch.metric_streams import MetricStreams
from cloudlet.services.cloudwatch.metrics import Metrics, epoch
from cloudlet.services.cloudwatch.store import Store, canonical_dims
from cloudlet.services.cloudwatch.stream_ops import MetricStreamOps
from cloudlet.services.cloudwatch.tagging import TaggingOps

Result = dict[str, Any]
TICK_SECONDS = 1.0
SWEEP_SECONDS = 3600.0
ALARM_TYPES = ("MetricAlarm", "CompositeAlarm")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.b64decode(token, validate=True).decode())
    except ValueError:
        raise errors.invalid_next_token() from None


def _token(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _page(
    items: list, params: dict, default: int, limit: int = 100, key: str = "MaxRecords"
) -> tuple[list, str | None]:
    size = int(params.get(key) or default)
    if not 1 <= size <= limit:
        raise errors.invalid_value(f"The value {size} for parameter {key} is invalid.")
    start = _offset(params.get("NextToken"))
    end = start + size
    return items[start:end], _token(end) if end < len(items) else None


class CloudWatchService(MetricStreamOps, TaggingOps, Service):
    name = "cloudwatch"
    internal_operations = frozenset(
        {
            "put_managed_contributor_rules",
            "delete_managed_contributor_rules",
            "record_contributions",
            "record_log_events",
        }
    )
    """Handlers only other services call (``ServiceEnv.call``): not in botocore's model,
    so no request reaches them."""
    internal_error = (  # the modelled InternalServiceFault
        "InternalServiceError",
        "Request processing has failed due to some unknown error, exception, or failure.",
    )

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("cloudwatch"))
        self.metrics = Metrics(self.store, clock)
        self.anomaly = AnomalyEngine(self.store, self.metrics, clock)
        self.alarms = AlarmEngine(self.store, self.metrics, clock, env.call, self.anomaly)
        self.dashboards = Dashboards(self.store, clock)
        self.insights = Insights(self.store, clock)
        self.streams = MetricStreams(self.store, self.metrics, clock, env)

    async def start(self) -> None:
        self.env.every(TICK_SECONDS, self.alarms.tick, "cloudwatch-alarms")
        self.env.every(TICK_SECONDS, self.streams.tick, "cloudwatch-metric-streams")
        self.env.every(
            SWEEP_SECONDS, lambda: self.store.sweep(clock.time()), "cloudwatch-retention"
        )

    async def stop(self) -> None:
        self.store.conn.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "alarms": len(self.alarms.alarms),
            "anomaly_detectors": len(self.anomaly.detectors),
            "metric_streams": len(self.streams.streams),
        }

    # --- metrics -------------------------------------------------------------------

    def put_metric_data(self, ctx: Any, params: dict[str, Any]) -> Result:
        internal = getattr(ctx, "request", None) is None  # other services publish AWS/*
        self.metrics.put(
            ctx.account_id,
            ctx.region,
            params["Namespace"],
            params.get("MetricData") or [],
            internal,
        )
        return {}

    def get_metric_statistics(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self.metrics.statistics(ctx.account_id, ctx.region, params)

    def list_metrics(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self.metrics.list(ctx.account_id, ctx.region, params)

    def get_metric_data(self, ctx: Any, params: dict[str, Any]) -> Result:
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if start >= end:
            raise errors.validation(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        results = queries.run(
            self.metrics,
            ctx.account_id,
            ctx.region,
            params["MetricDataQueries"],
            start,
            end,
            self.anomaly.bands(ctx.account_id, ctx.region, create=False),
        )
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        limit = int(params.get("MaxDatapoints") or 100800)
        skip = _offset(params.get("NextToken"))
        budget = limit
        out, position, more = [], 0, False
        for r in (r for r in results if r.return_data):
            stamps = sorted(r.points, reverse=descending)
            lo = max(skip - position, 0)
            position += len(stamps)
            chunk = stamps[lo : lo + budget] if lo < len(stamps) else []
            budget -= len(chunk)
            partial = lo + len(chunk) < len(stamps)
            more = more or partial
            if chunk or not partial and lo == 0:
                out.append(
                    {
                        "Id": r.id,
                        "Label": r.label,
                        "Timestamps": chunk,
                        "Values": [r.points[t] for t in chunk],
                        "StatusCode": "PartialData" if partial else "Complete",
                    }
                )
        result: Result = {"MetricDataResults": out, "Messages": []}
        if more:
            result["NextToken"] = _token(skip + limit)
        return result

    # --- alarms --------------------------------------------------------------------

    def put_metric_alarm(self, ctx: Any, params: dict[str, Any]) -> Result:
        alarm = alarm_config.metric_alarm(params)
        if alarm.get("ThresholdMetricId"):  # the band's model is created with the alarm
            self.anomaly.ensure_for_alarm(
                ctx.account_id, ctx.region, alarm["Metrics"], alarm["ThresholdMetricId"]
            )
        self.alarms.put(ctx.account_id, ctx.region, alarm, "MetricAlarm")
        return {}

    def put_composite_alarm(self, ctx: Any, params: dict[str, Any]) -> Result:
        def exists(ref: str) -> bool:
            name = ref.split(":alarm:", 1)[1] if ref.startswith("arn:") else ref
            return self.alarms.get(ctx.account_id, ctx.region, name) is not None

        alarm = alarm_config.composite_alarm(params, exists)
        self.alarms.put(ctx.account_id, ctx.region, alarm, "CompositeAlarm")
        return {}

    def _mine(self, ctx: Any) -> list[dict]:
        return sorted(
            (
                a
                for (acct, reg, _), a in self.alarms.alarms.items()
                if (acct, reg) == (ctx.account_id, ctx.region)
            ),
            key=lambda a: a["AlarmName"],
        )

    def describe_alarms(self, ctx: Any, params: dict[str, Any]) -> Result:
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        for t in types:
            if t not in ALARM_TYPES:
                raise errors.validation(f"The value {t} for parameter AlarmTypes is invalid.")
        names = params.get("AlarmNames")
        prefix = params.get("AlarmNamePrefix")
        if names and prefix:
            raise errors.combination("AlarmNames and AlarmNamePrefix cannot be specified together.")
        state = params.get("StateValue")
        action = params.get("ActionPrefix")
        found = []
        children_of = params.get("ChildrenOfAlarmName")
        parents_of = params.get("ParentsOfAlarmName")
        kids: set[str] | None = None
        if children_of:
            parent = self.alarms.get(ctx.account_id, ctx.region, children_of)
            rule = self.alarms.rules.get((ctx.account_id, ctx.region, children_of))
            kids = set()
            if parent is not None and rule is not None:
                kids = {c.split(":alarm:", 1)[-1] for c in children(rule)}
        for alarm in self._mine(ctx):
            name = alarm["AlarmName"]
            if alarm["_type"] not in types and not (children_of or parents_of):
                continue
            if names and name not in names or prefix and not name.startswith(prefix):
                continue
            if state and alarm["StateValue"] != state:
                continue
            if action and not any(
                a.startswith(action)
                for k in ("AlarmActions", "OKActions", "InsufficientDataActions")
                for a in alarm.get(k, [])
            ):
                continue
            if kids is not None and name not in kids:
                continue
            if parents_of and not self._is_parent(ctx, alarm, parents_of):
                continue
            found.append(alarm)
        page, token = _page(found, params, 50)
        out: Result = {
            "MetricAlarms": [public(a) for a in page if a["_type"] == "MetricAlarm"],
            "CompositeAlarms": [public(a) for a in page if a["_type"] == "CompositeAlarm"],
        }
        if token:
            out["NextToken"] = token
        return out

    def _is_parent(self, ctx: Any, alarm: dict, child: str) -> bool:
        rule = self.alarms.rules.get((ctx.account_id, ctx.region, alarm["AlarmName"]))
        return rule is not None and child in {c.split(":alarm:", 1)[-1] for c in children(rule)}

    def describe_alarms_for_metric(self, ctx: Any, params: dict[str, Any]) -> Result:
        dims = canonical_dims(params.get("Dimensions")) if "Dimensions" in params else None
        found = []
        for alarm in self._mine(ctx):
            if alarm["_type"] != "MetricAlarm" or alarm.get("MetricName") != params["MetricName"]:
                continue
            if alarm.get("Namespace") != params["Namespace"]:
                continue
            if dims is not None and canonical_dims(alarm.get("Dimensions")) != dims:
                continue
            if any(
                params.get(k) is not None and alarm.get(k) != params[k]
                for k in ("Statistic", "ExtendedStatistic", "Unit")
            ):
                continue
            if params.get("Period") is not None and alarm_period(alarm) != params["Period"]:
                continue
            found.append(public(alarm))
        return {"MetricAlarms": found}

    def delete_alarms(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.alarms.delete(ctx.account_id, ctx.region, params["AlarmNames"])
        return {}

    async def set_alarm_state(self, ctx: Any, params: dict[str, Any]) -> Result:
        state = params["StateValue"]
        if state not in STATES:
            raise errors.validation(f"The value {state} for parameter StateValue is invalid.")
        data = params.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError:
                raise errors.invalid_format("StateReasonData must be valid JSON.") from None
        await self.alarms.set_state(
            ctx.account_id, ctx.region, params["AlarmName"], state, params["StateReason"], data
        )
        return {}

    def enable_alarm_actions(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.alarms.set_actions_enabled(ctx.account_id, ctx.region, params["AlarmNames"], True)
        return {}

    def disable_alarm_actions(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.alarms.set_actions_enabled(ctx.account_id, ctx.region, params["AlarmNames"], False)
        return {}

    def describe_alarm_history(self, ctx: Any, params: dict[str, Any]) -> Result:
        start = epoch(params["StartDate"]) if params.get("StartDate") else 0.0
        end = epoch(params["EndDate"]) if params.get("EndDate") else clock.time() + 1
        types = params.get("AlarmTypes") or list(ALARM_TYPES)
        kind = params.get("HistoryItemType")
        rows = self.store.history(ctx.account_id, ctx.region, params.get("AlarmName"), start, end)
        items = [
            {
                "AlarmName": name,
                "AlarmType": atype,
                "Timestamp": ts,
                "HistoryItemType": item,
                "HistorySummary": summary,
                "HistoryData": data,
            }
            for name, atype, ts, item, summary, data in rows
            if atype in types and (kind is None or item == kind)
        ]
        if params.get("ScanBy") == "TimestampAscending":
            items.reverse()
        page, token = _page(items, params, 100)
        out: Result = {"AlarmHistoryItems": page}
        if token:
            out["NextToken"] = token
        return out

    # --- anomaly detection -----------------------------------------------------------

    def put_anomaly_detector(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.anomaly.put(ctx.account_id, ctx.region, params)
        return {}

    def describe_anomaly_detectors(self, ctx: Any, params: dict[str, Any]) -> Result:
        found = self.anomaly.describe(ctx.account_id, ctx.region, params)
        page, token = _page(found, params, 100, 100, "MaxResults")
        shaped = [d.shape(self.anomaly.state(ctx.account_id, ctx.region, d)) for d in page]
        out: Result = {"AnomalyDetectors": shaped}
        if token:
            out["NextToken"] = token
        return out

    def delete_anomaly_detector(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.anomaly.delete(ctx.account_id, ctx.region, params)
        return {}

    # --- dashboards ----------------------------------------------------------------

    def put_dashboard(self, ctx: Any, params: dict[str, Any]) -> Result:
        messages = self.dashboards.put(
            ctx.account_id, params["DashboardName"], params["DashboardBody"]
        )
        return {"DashboardValidationMessages": messages}

    def get_dashboard(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self.dashboards.get(ctx.account_id, params["DashboardName"])

    def list_dashboards(self, ctx: Any, params: dict[str, Any]) -> Result:
        entries = self.dashboards.list(ctx.account_id, params.get("DashboardNamePrefix") or "")
        start = _offset(params.get("NextToken"))
        out: Result = {"DashboardEntries": entries[start : start + 1000]}
        if start + 1000 < len(entries):
            out["NextToken"] = _token(start + 1000)
        return out

    def delete_dashboards(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.dashboards.delete(ctx.account_id, params["DashboardNames"])
        return {}

    # --- Contributor Insights (users' rules over log groups, and managed rules) -----

    def put_managed_contributor_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Internal: {"Rules": [{RuleName, Definition, ResourceARN}]}, all or none."""
        self.insights.put_managed(ctx.account_id, ctx.region, params.get("Rules") or [])
        return {}

    def delete_managed_contributor_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Internal: {"RuleNames": [...]}; the rules' data goes with them."""
        self.insights.delete_managed(ctx.account_id, ctx.region, params.get("RuleNames") or [])
        return {}

    def record_contributions(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Internal: {"Contributions": [{RuleName, Timestamp, Keys, Value}]}."""
        self.insights.record(ctx.account_id, ctx.region, params.get("Contributions") or [])
        return {}

    def describe_insight_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        rules = self.insights.list(ctx.account_id, ctx.region)
        page, token = _page(rules, params, 500, 500, "MaxResults")
        out: Result = {"InsightRules": [r.shape() for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def get_insight_rule_report(self, ctx: Any, params: dict[str, Any]) -> Result:
        return self.insights.report(ctx.account_id, ctx.region, params)

    def put_insight_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.insights.put_user(ctx.account_id, ctx.region, params)
        return {}

    def record_log_events(self, ctx: Any, params: dict[str, Any]) -> Result:
        """Internal, from CloudWatch Logs: {"LogGroupName", "Events": [(timestamp in ms,
        message)]}, a group's newly accepted events, for the rules watching it."""
        kept = self.insights.observe_logs(
            ctx.account_id, ctx.region, params["LogGroupName"], params.get("Events") or []
        )
        return {"Kept": kept}

    def delete_insight_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params["RuleNames"]
        return {"Failures": self.insights.change(ctx.account_id, ctx.region, names, "delete")}

    def enable_insight_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params["RuleNames"]
        return {"Failures": self.insights.change(ctx.account_id, ctx.region, names, "ENABLED")}

    def disable_insight_rules(self, ctx: Any, params: dict[str, Any]) -> Result:
        names = params["RuleNames"]
        return {"Failures": self.insights.change(ctx.account_id, ctx.region, names, "DISABLED")}
