"""The anomaly detection model: a metric's expected value and spread at any time,
learned from its stored datapoints. Plain functions over numbers, no I/O.

AWS documents what its model does ("trains on up to two weeks of metric data",
"assesses both trends and hourly, daily, and weekly patterns", the band is the
expected value plus and minus the function's number of standard deviations) but
not how. This is our approximation, and exactly what it computes:

Training data: one value per period (the band's period and statistic) over the
two weeks up to now, without the periods that overlap an excluded time range.
Fewer than ``MIN_POINTS`` values: no model (the detector is PENDING_TRAINING).

1. Season. A week when the values span at least two weeks (each moment of the
   week seen twice), else a day when they span at least two days, else none. A
   moment's phase is read on the wall clock of the detector's MetricTimezone
   (so a daylight-saving change moves the pattern with local time), UTC without
   one. The season is cut into slots of the period (at least 5 minutes; the
   largest divisor of the season not above that).
2. Trend: a least-squares slope with one level per slot (each slot's values
   compared across cycles, so the season does not leak into the trend and gaps
   do not bias it), fitted again without the values more than four robust
   standard deviations off.
3. Profile: the detrended values averaged per slot and cycle ("cells"), then
   per slot a robust local line through the cells of the slots within 30 minutes
   either side, read at the slot: it starts from their median, and three rounds
   of bisquare weights (zero beyond four robust standard deviations) drop the
   cells across a step (a weekend, business hours) or under a spike, while a
   slope is fitted rather than flattened (robust LOESS, as in STL). Its mean is
   the level, the rest the seasonal shape; a slot with no cells in reach takes
   the nearest slot's value. With PeriodicSpikes the slot alone, at the period's
   resolution: a spike that recurs at the same time of day (or week) becomes
   part of the expected value instead of being flagged, a one-off spike still
   does not.
4. Recent level: the median residual of the last six hours (when it holds three
   values or more) is added to the expected value, ramped in over those six
   hours, so a level shift is followed within hours rather than weeks.
5. Spread: sigma = 1.4826 x the median absolute residual (a standard deviation
   that the anomalies themselves barely move), at least 1% of the median
   absolute value so a flat metric still gets a band.

Without a season (under two days of data) the expected value is the median of
the last day's values and sigma comes from their median absolute deviation.

Band at a period starting at ``t``: expected(t) +/- N x sigma; its lower bound
never goes below zero for a metric that never went below zero in training (AWS:
"a band for a statistic that can't be negative will never extend below zero").
The trend is extrapolated at most a day past the last value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from zoneinfo import ZoneInfo

DAY = 86400
WEEK = 7 * DAY
WINDOW = 14 * DAY
"""How far back training reads (AWS: "up to two weeks of metric data")."""
MIN_POINTS = 5
"""Periods with data a model needs (AWS does not say how many it needs)."""
SLOT_MIN = 300
SMOOTH = 1800
RECENT = 6 * 3600
FLOOR = 0.01
MAD_SCALE = 1.4826
OUTLIER = 4.0
BISQUARE = 4.0


@dataclass(frozen=True, slots=True)
class Model:
    """What training learned; ``band`` answers for any period start."""

    season: int
    slot: int
    profile: tuple[float, ...]
    slope: float
    intercept: float
    first: float
    last: float
    offset: float
    sigma: float
    non_negative: bool
    tz: ZoneInfo | None
    points: int

    def expected(self, t: float) -> float:
        clamped = min(max(t, self.first), self.last + DAY)
        value = self.intercept + self.slope * (clamped - self.first)
        if self.season:
            value += self.profile[_slot(t, self.season, self.slot, self.tz)]
        ramp = min(max((t - (self.last - RECENT)) / RECENT, 0.0), 1.0)
        return value + self.offset * ramp

    def band(self, t: float, stddevs: float) -> tuple[float, float]:
        """(lower, upper) for the period starting at ``t``."""
        mid, half = self.expected(t), abs(stddevs) * self.sigma
        lower = mid - half
        if self.non_negative:
            lower = max(lower, 0.0)
        return lower, max(mid + half, lower)


def position(t: float, season: int, tz: ZoneInfo | None) -> tuple[int, float]:
    """(which cycle, seconds into it) for the day or the week (from Monday 00:00) on
    ``tz``'s wall clock (UTC without one)."""
    if tz is not None:
        local = datetime.fromtimestamp(t, tz)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        day = local.toordinal()
        if season == WEEK:
            return (day - local.weekday()) // 7, seconds + local.weekday() * DAY
        return day, seconds
    shifted = t + 3 * DAY if season == WEEK else t  # 1970-01-01 was a Thursday
    return int(shifted // season), shifted % season


def _slot(t: float, season: int, width: int, tz: ZoneInfo | None) -> int:
    return int(position(t, season, tz)[1] // width) % (season // width)


def _slot_width(period: int, season: int, periodic_spikes: bool) -> int:
    wanted = max(period, 60) if periodic_spikes else max(period, SLOT_MIN)
    for width in range(min(wanted, season), 0, -1):
        if season % width == 0:
            return width
    return 1


def _robust_sigma(values: list[float]) -> float:
    if not values:
        return 0.0
    centre = median(values)
    return MAD_SCALE * median(abs(v - centre) for v in values)


def _slope(ts: list[float], ys: list[float], slots: list[int], keep: list[bool]) -> float:
    """Least-squares slope with one level per slot: each slot's values compared across
    cycles, so the season does not leak into the trend (and gaps do not matter)."""
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(slots):
        if keep[i]:
            groups.setdefault(s, []).append(i)
    num = den = 0.0
    for members in groups.values():
        if len(members) < 2:
            continue
        mt = sum(ts[i] for i in members) / len(members)
        my = sum(ys[i] for i in members) / len(members)
        num += sum((ts[i] - mt) * (ys[i] - my) for i in members)
        den += sum((ts[i] - mt) ** 2 for i in members)
    return num / den if den > 0 else 0.0


def _trend(ts: list[float], ys: list[float], slots: list[int]) -> float:
    """The slope, fitted again without values more than ``OUTLIER`` robust standard
    deviations from their slot's line."""
    keep = [True] * len(ts)
    slope = _slope(ts, ys, slots, keep)
    level: dict[int, list[float]] = {}
    for t, y, s in zip(ts, ys, slots, strict=True):
        level.setdefault(s, []).append(y - slope * t)
    centre = {s: median(v) for s, v in level.items()}
    resid = [y - slope * t - centre[s] for t, y, s in zip(ts, ys, slots, strict=True)]
    spread = _robust_sigma(resid)
    if spread <= 0:
        return slope
    return _slope(ts, ys, slots, [abs(r) <= OUTLIER * spread for r in resid])


def _profile(cells: list[list[float]], reach: int, floor: float) -> list[float]:
    """Per slot, a robust local line through the cells (one mean per cycle) of the
    slots within ``reach``, read at the slot itself. Starts from the window's median;
    three rounds of bisquare weights (zero beyond ``BISQUARE`` robust standard
    deviations) then drop the cells across a step or under a spike, while a slope is
    fitted, not flattened. A slot without cells in reach takes the nearest value."""
    count = len(cells)

    def window(s: int) -> list[tuple[int, float]]:
        return [(k, v) for k in range(-reach, reach + 1) for v in cells[(s + k) % count]]

    windows = [window(s) for s in range(count)]
    start = [median(v for _, v in w) if w else None for w in windows]
    devs = [v - m for m, c in zip(start, cells, strict=True) if m is not None for v in c]
    scale = BISQUARE * max(_robust_sigma(devs), floor)
    out: list[float | None] = []
    for w, m in zip(windows, start, strict=True):
        if m is None:
            out.append(None)
            continue
        a, b = m, 0.0
        for _ in range(3):
            sw = swk = swv = swkk = swkv = 0.0
            for k, v in w:
                r = (v - a - b * k) / scale
                if abs(r) < 1:
                    wt = (1 - r * r) ** 2
                    sw, swk, swv = sw + wt, swk + wt * k, swv + wt * v
                    swkk, swkv = swkk + wt * k * k, swkv + wt * k * v
            if sw <= 0:
                break
            det = sw * swkk - swk * swk
            b = (sw * swkv - swk * swv) / det if det > 1e-9 * sw * swkk else 0.0
            a = (swv - b * swk) / sw
        out.append(a)
    seen = [i for i, v in enumerate(out) if v is not None]
    if not seen:
        return [0.0] * count
    filled = []
    for s, v in enumerate(out):
        if v is None:
            v = out[min(seen, key=lambda i: min((i - s) % count, (s - i) % count))]
        filled.append(float(v))  # type: ignore[arg-type]
    return filled


def _excluded(t: float, period: int, ranges: Iterable[tuple[float, float]]) -> bool:
    return any(t + period > start and t <= end for start, end in ranges)


def train(
    values: Mapping[float, float],
    period: int,
    *,
    excluded: Iterable[tuple[float, float]] = (),
    tz: ZoneInfo | None = None,
    periodic_spikes: bool = False,
) -> Model | None:
    """A model from ``values`` ({period start: value}, the training window's periods);
    None when fewer than ``MIN_POINTS`` remain once excluded ranges are left out."""
    ranges = list(excluded)
    pts = sorted((t, v) for t, v in values.items() if not _excluded(t, period, ranges))
    if len(pts) < MIN_POINTS:
        return None
    ts, ys = [t for t, _ in pts], [v for _, v in pts]
    first, last = ts[0], ts[-1]
    span = last - first + period
    floor = FLOOR * (median(abs(y) for y in ys) or max(abs(y) for y in ys)) or 1e-9
    non_negative = min(ys) >= 0
    season = WEEK if span >= 2 * WEEK else DAY if span >= 2 * DAY else 0
    if not season:
        recent = [y for t, y in pts if t > last - DAY]
        return Model(
            season=0,
            slot=period,
            profile=(),
            slope=0.0,
            intercept=median(recent),
            first=first,
            last=last,
            offset=0.0,
            sigma=max(_robust_sigma(recent), floor),
            non_negative=non_negative,
            tz=tz,
            points=len(pts),
        )
    width = _slot_width(period, season, periodic_spikes)
    count = season // width
    where = [position(t, season, tz) for t in ts]
    slots = [int(ph // width) % count for _, ph in where]
    slope = _trend(ts, ys, slots)
    detrended = [y - slope * (t - first) for t, y in pts]
    by_cell: dict[tuple[int, int], list[float]] = {}
    for (cycle, _), s, d in zip(where, slots, detrended, strict=True):
        by_cell.setdefault((s, cycle), []).append(d)
    cells: list[list[float]] = [[] for _ in range(count)]
    for (s, _), vs in by_cell.items():
        cells[s].append(sum(vs) / len(vs))
    profile = _profile(cells, 0 if periodic_spikes else SMOOTH // width, floor)
    level = sum(profile) / count
    profile = [p - level for p in profile]
    resid = [d - level - profile[s] for d, s in zip(detrended, slots, strict=True)]
    recent = [r for t, r in zip(ts, resid, strict=True) if t > last - RECENT]
    offset = median(recent) if len(recent) >= 3 else 0.0
    return Model(
        season=season,
        slot=width,
        profile=tuple(profile),
        slope=slope,
        intercept=level,
        first=first,
        last=last,
        offset=offset,
        sigma=max(_robust_sigma(resid), floor),
        non_negative=non_negative,
        tz=tz,
        points=len(pts),
    )
