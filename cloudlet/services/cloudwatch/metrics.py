"""Metric data: PutMetricData's validation and storage, statistics per period,
the series that GetMetricData, metric math and alarms read, and ListMetrics.

Plain Python over ``Store``; time comes from the injected clock so tests can
move it.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.statistics import BASIC, Aggregate, bucket, percentile_of
from cloudlet.services.cloudwatch.store import Store, canonical_dims
from cloudlet.state.db import Transaction

UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits "
    "Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second "
    "Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
    "Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split()
)
MAX_DATAPOINTS = 1440
_TWO_WEEKS = 14 * 86400
_TWO_HOURS = 2 * 3600
_RECENT = 3 * 3600
_PAGE = 500


def epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _check_number(value: float, parameter: str) -> None:
    if (
        math.isnan(value)
        or math.isinf(value)
        or (value != 0 and not 8.515920e-109 <= abs(value) <= 1.174271e108)
    ):
        raise errors.bad_value(value, parameter)


@dataclass(slots=True)
class MetricRef:
    """One metric: namespace, name and its exact dimension set."""

    namespace: str
    name: str
    dims: str

    @classmethod
    def of(cls, metric: dict) -> MetricRef:
        return cls(
            metric["Namespace"], metric["MetricName"], canonical_dims(metric.get("Dimensions"))
        )

    def shape(self) -> dict:
        out: dict = {"Namespace": self.namespace, "MetricName": self.name}
        out["Dimensions"] = [{"Name": n, "Value": v} for n, v in json.loads(self.dims)]
        return out


def check_period(period: int, parameter: str = "Period") -> None:
    """AWS's rule: 1, 5, 10, 20, 30 or a multiple of 60 seconds."""
    if (
        period <= 0
        or (period < 60 and period not in (1, 5, 10, 20, 30))
        or (period >= 60 and period % 60)
    ):
        raise errors.invalid_value(
            f"The parameter {parameter} must be a multiple of 60 or equal to 1, 5, 10, 20 or 30."
        )


def origin(start: float, period: int) -> float:
    """Where the first period begins: StartTime rounded down to the second (high-
    resolution periods) or to the minute."""
    grain = 1 if period < 60 else 60
    return math.floor(start / grain) * grain


class Metrics:
    def __init__(self, store: Store, clock: Any) -> None:
        self.store = store
        self.clock = clock
        self.versions: dict[int, int] = {}
        """Puts per metric id since start: what tells a cached anomaly model that its
        metric has new data, without reading the data."""

    # --- PutMetricData ---------------------------------------------------------------

    def put(
        self, account: str, region: str, namespace: str, data: list[dict], internal: bool = False
    ) -> None:
        if not internal and namespace.startswith("AWS/"):
            raise errors.bad_value(namespace, "Namespace")
        if not data:
            raise errors.missing("The parameter MetricData is required.")
        if len(data) > 1000:
            raise errors.invalid_value(
                "The collection MetricData must not have a size greater than 1000."
            )
        now = self.clock.time()
        rows: list[tuple] = []
        prepared = [self._datum(now, i, d) for i, d in enumerate(data, 1)]
        with Transaction(self.store.conn):
            for datum, dims, points in prepared:
                mid = self.store.metric_id(
                    account, region, namespace, datum["MetricName"], dims, now
                )
                rows.extend((mid, *p) for p in points)
                self.versions[mid] = self.versions.get(mid, 0) + 1
            self.store.insert(rows)

    def _datum(self, now: float, i: int, d: dict) -> tuple[dict, str, list[tuple]]:
        where = f"MetricData.member.{i}"
        dims = d.get("Dimensions") or []
        if len(dims) > 30:
            raise errors.invalid_value(
                f"The collection {where}.Dimensions must not have a size greater than 30."
            )
        names = [x["Name"] for x in dims]
        if len(set(names)) != len(names):
            raise errors.invalid_value(
                f"No duplicate dimension names allowed in {where}.Dimensions."
            )
        for j, x in enumerate(dims, 1):
            if not x.get("Value"):
                raise errors.missing(
                    f"The parameter {where}.Dimensions.member.{j}.Value is required."
                )
        unit = d.get("Unit") or "None"
        if unit not in UNITS:
            raise errors.bad_value(unit, f"{where}.Unit")
        resolution = d.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise errors.bad_value(resolution, f"{where}.StorageResolution")
        ts = epoch(d["Timestamp"]) if d.get("Timestamp") is not None else now
        if ts < now - _TWO_WEEKS or ts > now + _TWO_HOURS:
            raise errors.invalid_value(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                "in the past and no more than two hours in the future."
            )
        if resolution == 60:
            ts = math.floor(ts)  # standard resolution keeps whole seconds, periods >= 60 s
        present = [k for k in ("Value", "StatisticValues", "Values") if d.get(k) is not None]
        if len(present) > 1:
            raise errors.combination(
                f"The parameters {where}.{present[0]} and {where}.{present[1]} are mutually "
                "exclusive and you have specified both."
            )
        if not present:
            raise errors.missing(
                f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
                f"{where}.Values must be specified."
            )
        points: list[tuple] = []
        if "Value" in present:
            v = float(d["Value"])
            _check_number(v, f"{where}.Value")
            points.append((ts, unit, v, 1.0, v, v, v))
        elif "StatisticValues" in present:
            s = d["StatisticValues"]
            n, total, lo, hi = (float(s[k]) for k in ("SampleCount", "Sum", "Minimum", "Maximum"))
            for key, val in zip(
                ("SampleCount", "Sum", "Minimum", "Maximum"), (n, total, lo, hi), strict=True
            ):
                _check_number(val, f"{where}.StatisticValues.{key}")
            if n <= 0:
                raise errors.bad_value(n, f"{where}.StatisticValues.SampleCount")
            if lo > hi:
                raise errors.invalid_value(
                    f"The parameter {where}.StatisticValues.Maximum must be greater than "
                    f"{where}.StatisticValues.Minimum."
                )
            points.append((ts, unit, None, n, total, lo, hi))
        else:
            values = d["Values"]
            counts = d.get("Counts") or [1.0] * len(values)
            if len(values) > 150:
                raise errors.invalid_value(
                    f"The collection {where}.Values must not have a size greater than 150."
                )
            if len(counts) != len(values):
                raise errors.invalid_value(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size."
                )
            for j, (v, c) in enumerate(zip(values, counts, strict=True), 1):
                _check_number(float(v), f"{where}.Values.member.{j}")
                if c < 0 or math.isnan(c):
                    raise errors.bad_value(c, f"{where}.Counts.member.{j}")
                if c:
                    points.append((ts, unit, float(v), float(c), v * c, float(v), float(v)))
        return d, canonical_dims(dims), points

    # --- reads -----------------------------------------------------------------------

    def version(self, account: str, region: str, ref: MetricRef) -> tuple[int | None, int]:
        """(metric id or None, puts since start): changes whenever the metric's data does."""
        mid = self.store.find_metric(account, region, ref.namespace, ref.name, ref.dims)
        return mid, self.versions.get(mid, 0) if mid is not None else 0

    def aggregates(
        self,
        account: str,
        region: str,
        ref: MetricRef,
        start: float,
        end: float,
        period: int,
        unit: str | None,
    ) -> dict[float, Aggregate]:
        mid = self.store.find_metric(account, region, ref.namespace, ref.name, ref.dims)
        if mid is None:
            return {}
        rows = self.store.rows(mid, start, end)
        if unit is not None:
            rows = [r for r in rows if r.unit == unit]
        return bucket(rows, start, period)

    def series(
        self,
        account: str,
        region: str,
        ref: MetricRef,
        start: float,
        end: float,
        period: int,
        stat: str,
        unit: str | None = None,
    ) -> dict[float, tuple[float, float]]:
        """{period start: (statistic, sample count)} for periods that hold data."""
        out: dict[float, tuple[float, float]] = {}
        for ts, agg in self.aggregates(account, region, ref, start, end, period, unit).items():
            value = agg.stat(stat)
            if value is not None:
                out[ts] = (value, agg.count)
        return out

    def statistics(self, account: str, region: str, params: dict) -> dict:
        stats = params.get("Statistics") or []
        extended = params.get("ExtendedStatistics") or []
        if bool(stats) == bool(extended):
            raise errors.combination(
                "Must specify either Statistics or ExtendedStatistics, but not both."
            )
        for s in stats:
            if s not in BASIC:
                raise errors.bad_value(s, "Statistics")
        for s in extended:
            if percentile_of(s) is None:
                raise errors.bad_value(s, "ExtendedStatistics")
        period = int(params["Period"])
        check_period(period)
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if start >= end:
            raise errors.invalid_value(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        begin = origin(start, period)
        wanted = math.ceil((end - begin) / period)
        if wanted > MAX_DATAPOINTS:
            raise errors.combination(
                f"You have requested up to {wanted:,} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
                "Period, or decreasing the time range."
            )
        unit = params.get("Unit")
        if unit is not None and unit not in UNITS:
            raise errors.bad_value(unit, "Unit")
        ref = MetricRef.of(params)
        mid = self.store.find_metric(account, region, ref.namespace, ref.name, ref.dims)
        rows = self.store.rows(mid, begin, end) if mid is not None else []
        units = [unit] if unit is not None else sorted({r.unit for r in rows})
        points = []
        for u in units:
            for ts, agg in sorted(bucket([r for r in rows if r.unit == u], begin, period).items()):
                point: dict = {"Timestamp": ts, "Unit": u}
                for s in stats:
                    point[s] = agg.stat(s)
                if extended:
                    point["ExtendedStatistics"] = {
                        s: v for s in extended if (v := agg.stat(s)) is not None
                    }
                points.append(point)
        return {"Label": ref.name, "Datapoints": points}

    def list(self, account: str, region: str, params: dict) -> dict:
        since = self.clock.time() - _RECENT if params.get("RecentlyActive") == "PT3H" else 0.0
        filters = params.get("Dimensions") or []
        found = []
        for ns, name, dims in self.store.list_metrics(
            account, region, params.get("Namespace"), params.get("MetricName"), since
        ):
            have = dict(json.loads(dims))
            if all(
                f["Name"] in have and (f.get("Value") is None or have[f["Name"]] == f["Value"])
                for f in filters
            ):
                found.append(MetricRef(ns, name, dims).shape())
        start = 0
        if params.get("NextToken"):
            try:
                start = int(base64.b64decode(params["NextToken"]).decode())
            except ValueError:
                raise errors.invalid_next_token() from None
        out: dict = {"Metrics": found[start : start + _PAGE]}
        if start + _PAGE < len(found):
            out["NextToken"] = base64.b64encode(str(start + _PAGE).encode()).decode()
        return out
