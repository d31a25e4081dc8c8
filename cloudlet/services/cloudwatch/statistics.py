"""Statistics over stored datapoints: the five basic ones, exact percentiles, and the
trimmed, winsorized and rank statistics of ``extended_stats``.

Percentiles use the nearest-rank definition over the raw values put (weighted
by their counts): pNN is the smallest value with at least NN% of the samples
at or below it. Statistic sets (StatisticValues) carry no distribution, so a
period holding only statistic sets has no percentile, as on AWS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from cloudlet.services.cloudwatch import extended_stats
from cloudlet.services.cloudwatch.store import Row

BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0+)?)$")


def percentile_of(stat: str) -> float | None:
    """``p90`` -> 90.0, ``p99.9`` -> 99.9; None when ``stat`` is not a percentile."""
    m = _PERCENTILE.match(stat)
    return float(m.group(1)) if m else None


def is_valid_stat(stat: str) -> bool:
    return stat in BASIC or percentile_of(stat) is not None


class Aggregate:
    """The statistics of one period's datapoints."""

    __slots__ = ("count", "sum", "min", "max", "values")

    def __init__(self) -> None:
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.values: list[tuple[float, float]] = []

    def add(self, row: Row) -> None:
        self.count += row.count
        self.sum += row.sum
        self.min = min(self.min, row.min)
        self.max = max(self.max, row.max)
        if row.value is not None:
            self.values.append((row.value, row.count))

    def stat(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.sum / self.count if self.count else None
        if name == "Minimum":
            return self.min
        if name == "Maximum":
            return self.max
        p = percentile_of(name)
        if p is not None:
            return self.percentile(p)
        try:
            ext = extended_stats.parse(name)
        except extended_stats.BadStatistic:
            return None
        return None if ext is None else extended_stats.compute(ext, self.values)

    def percentile(self, p: float) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        total = sum(c for _, c in ordered)
        rank = max(math.ceil(p / 100.0 * total - 1e-9), 1)
        seen = 0.0
        for value, count in ordered:
            seen += count
            if seen >= rank:
                return value
        return ordered[-1][0]


def bucket(rows: Iterable[Row], start: float, period: int) -> dict[float, Aggregate]:
    """Group rows into periods ``[start + k*period, start + (k+1)*period)``."""
    out: dict[float, Aggregate] = {}
    for row in rows:
        key = start + ((row.ts - start) // period) * period
        agg = out.get(key)
        if agg is None:
            agg = out[key] = Aggregate()
        agg.add(row)
    return out
