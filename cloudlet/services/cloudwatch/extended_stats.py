"""CloudWatch's statistics beyond the basic five and percentiles: trimmed mean (``tm``,
``TM``), winsorized mean (``wm``, ``WM``), trimmed count (``tc``, ``TC``), trimmed sum
(``ts``, ``TS``), percentile rank (``PR``) and interquartile mean (``IQM``).

Why a module of its own: each is one small computation over the raw values a period
holds (weighted by their counts, as percentiles are), but parsing their names, with
bounds that are percentages or absolute values, is a grammar of its own. Metric streams
in the JSON format send them (``stream_formats``); ``statistics.Aggregate.stat``
computes them beside percentiles.

Following the user guide's "CloudWatch statistics definitions":

- Bounds are ``(low:high)``, either may be left out; a bound is a percentage (``10%``,
  0 to 100) or an absolute value. A value is inside when it is greater than the low
  bound and at most the high bound (``TM(150:1000)`` drops values of 150 or less and of
  more than 1000; ``PR(100:2000)`` excludes 100 and includes 2000).
- Percentage bounds trim by rank: ``TM(10%:90%)`` drops the lowest and highest tenth of
  the values (by count). When a bound falls inside a value's share of ranks, that value
  counts in part, as the interquartile mean of a set whose size is not a multiple of
  four weighs its edge values (IQM of 1..10 is 5.5).
- ``tm90`` is ``TM(:90%)`` (the highest 10% dropped), likewise ``wm``, ``tc`` and
  ``ts``; ``IQM`` is ``TM(25%:75%)``.
- Winsorized means replace the values trimmed by rank with the nearest value kept
  (``WM(10%:90%)`` of 1..10 counts 1 as 2 and 10 as 9), clamp values outside absolute
  bounds to those bounds, and average them all.
- Percentile rank takes absolute bounds only and is the percentage (0 to 100) of values
  inside them.

A period that holds only statistic sets has none of these (no distribution), as it has
no percentiles; a trimmed mean with no value inside its bounds has none either, while a
trimmed count or sum is then 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

_SHORT = re.compile(r"^(tm|wm|tc|ts)(\d{1,2}(?:\.\d{1,10})?)$")
_LONG = re.compile(r"^(TM|WM|TC|TS|PR)\(([^():]*):([^():]*)\)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d{1,10})?$")
_PERCENT = re.compile(r"^(\d{1,3}(?:\.\d{1,10})?)%$")
KINDS = ("TM", "WM", "TC", "TS", "PR")


@dataclass(frozen=True, slots=True)
class Bound:
    value: float
    percent: bool


@dataclass(frozen=True, slots=True)
class Extended:
    """One parsed statistic: its kind (``TM``, ``WM``, ``TC``, ``TS``, ``PR``) and bounds."""

    kind: str
    low: Bound | None
    high: Bound | None


class BadStatistic(ValueError):
    """A name in the statistics' grammar whose bounds are not valid (the message says why)."""


def looks_extended(stat: str) -> bool:
    """Whether ``stat`` is written as one of these statistics (valid or not)."""
    return stat == "IQM" or bool(_SHORT.match(stat) or _LONG.match(stat))


@lru_cache(maxsize=512)
def parse(stat: str) -> Extended | None:
    """``stat`` parsed; None when it is not one of these statistics at all.

    Raises ``BadStatistic`` when it is written as one but its bounds are not valid."""
    if stat == "IQM":
        return Extended("TM", Bound(25.0, True), Bound(75.0, True))
    if m := _SHORT.match(stat):
        high = float(m.group(2))
        if not 0 < high < 100:
            raise BadStatistic(f"{stat}: the percentage must be between 0 and 100")
        return Extended(m.group(1).upper(), None, Bound(high, True))
    m = _LONG.match(stat)
    if m is None:
        return None
    kind = m.group(1)
    low, high = _bound(m.group(2), stat), _bound(m.group(3), stat)
    if low is None and high is None:
        raise BadStatistic(f"{stat}: at least one bound is needed")
    if kind == "PR" and any(b is not None and b.percent for b in (low, high)):
        raise BadStatistic(f"{stat}: percentile rank takes absolute values, not percentages")
    if low is not None and high is not None and low.percent == high.percent:
        if low.value >= high.value:
            raise BadStatistic(f"{stat}: the lower bound must be less than the upper bound")
    return Extended(kind, low, high)


def _bound(text: str, stat: str) -> Bound | None:
    text = text.strip()
    if not text:
        return None
    if m := _PERCENT.match(text):
        value = float(m.group(1))
        if value > 100:
            raise BadStatistic(f"{stat}: a percentage must be between 0 and 100")
        return Bound(value, True)
    if _NUMBER.match(text):
        return Bound(float(text), False)
    raise BadStatistic(f"{stat}: '{text}' is neither a number nor a percentage")


def compute(ext: Extended, values: list[tuple[float, float]]) -> float | None:
    """``ext`` over ``values``: (value, count) pairs."""
    if not values:
        return None
    ordered = sorted(values)
    total = sum(c for _, c in ordered)
    if total <= 0:
        return None
    if ext.kind == "PR":
        low, high = _absolute(ext.low, -math.inf), _absolute(ext.high, math.inf)
        inside = sum(c for v, c in ordered if low < v <= high)
        return 100.0 * inside / total
    # the window of ranks kept, [start, stop) of [0, total), and the absolute bounds
    start = total * ext.low.value / 100 if ext.low is not None and ext.low.percent else 0.0
    stop = total * ext.high.value / 100 if ext.high is not None and ext.high.percent else total
    low = -math.inf if ext.low is None or ext.low.percent else ext.low.value
    high = math.inf if ext.high is None or ext.high.percent else ext.high.value
    kept = kept_sum = 0.0
    first = last = None
    seen = 0.0
    for value, count in ordered:
        weight = max(0.0, min(seen + count, stop) - max(seen, start))
        seen += count
        if weight <= 0:
            continue
        if first is None:
            first = value
        last = value
        if ext.kind == "WM":
            value = min(max(value, low), high)
        elif not low < value <= high:
            continue
        kept += weight
        kept_sum += value * weight
    if ext.kind == "TC":
        return kept
    if ext.kind == "TS":
        return kept_sum
    if ext.kind == "WM":
        if first is None or last is None:
            return None
        edges = min(max(first, low), high) * start + min(max(last, low), high) * (total - stop)
        return (kept_sum + edges) / total
    return kept_sum / kept if kept else None


def _absolute(bound: Bound | None, none: float) -> float:
    return none if bound is None else bound.value
