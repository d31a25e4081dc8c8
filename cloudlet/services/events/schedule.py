"""Schedule expressions: ``rate(...)`` and AWS's six-field ``cron(...)``, and when each
fires next.

Why its own module: PutRule checks an expression the moment it is given (AWS's one
"Parameter ScheduleExpression is not valid."), and the scheduler asks only "when next
after t?", which a test can ask without waiting for the clock.

- ``rate(N unit)``: N a positive integer, the unit ``minute``/``hour``/``day`` for 1
  and ``minutes``/``hours``/``days`` otherwise, nothing else (no spaces around).
  It fires every N units counted from the rule's anchor (when its schedule was set),
  so a restart keeps the cadence.
- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` in UTC: ``,`` lists,
  ``-`` ranges, ``*``, ``/`` steps; month names ``JAN``-``DEC`` and day names
  ``SUN``-``SAT`` (1 is Sunday); exactly one of the two day fields is ``?``; day of month
  ``L`` (last), ``LW`` (last weekday), ``15W`` (weekday nearest the 15th, within the
  month); day of week ``L`` (Saturday), ``6L`` (last Friday), ``3#2`` (second Tuesday);
  years 1970-2199.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloudlet.core import cron_fields

_RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
LAST_YEAR = 2199


class ScheduleError(ValueError):
    """An expression AWS refuses."""


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, after: float, anchor: float) -> float:
        """The first firing later than ``after``: ``anchor`` plus a whole number of
        periods (at least one)."""
        periods = max(1, math.floor((after - anchor) / self.seconds) + 1)
        return anchor + periods * self.seconds


DaySet = Callable[[int, int], set[int]]
"""(year, month) -> the days of that month a day field allows."""


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DaySet
    months: frozenset[int]
    years: frozenset[int]

    def next_after(self, after: float, anchor: float = 0.0) -> float:
        """The first whole minute later than ``after`` the expression names (``inf``
        when none is left before 2200)."""
        start = datetime.fromtimestamp(math.floor(after), UTC).replace(second=0) + timedelta(
            minutes=1
        )
        for year in range(start.year, LAST_YEAR + 1):
            if year not in self.years:
                continue
            for month in range(1, 13):
                if month not in self.months or (year, month) < (start.year, start.month):
                    continue
                for day in sorted(self.days(year, month)):
                    when = (year, month, day)
                    if when < (start.year, start.month, start.day):
                        continue
                    found = self._in_day(when, start)
                    if found is not None:
                        return found.timestamp()
        return math.inf

    def _in_day(self, when: tuple[int, int, int], start: datetime) -> datetime | None:
        today = when == (start.year, start.month, start.day)
        for hour in self.hours:
            if today and hour < start.hour:
                continue
            for minute in self.minutes:
                if today and hour == start.hour and minute < start.minute:
                    continue
                return datetime(*when, hour, minute, tzinfo=UTC)
        return None


Schedule = Rate | Cron


def parse_schedule(text: str) -> Schedule:
    """The schedule ``text`` names; ``ScheduleError`` for anything AWS refuses."""
    m = _RATE.fullmatch(text)
    if m is not None:
        n, unit = int(m.group(1)), m.group(2)
        if (n == 1) != (not unit.endswith("s")):
            raise ScheduleError(text)
        return Rate(n * _UNIT_SECONDS[unit.removesuffix("s")])
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(text[5:-1])
    raise ScheduleError(text)


def _cron(body: str) -> Cron:
    fields = body.split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise ScheduleError(body)
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("exactly one day field must be ?")
    days = _dow(dow) if dom == "?" else _dom(dom)
    return Cron(
        minutes=tuple(sorted(_values(minute, 0, 59))),
        hours=tuple(sorted(_values(hour, 0, 23))),
        days=days,
        months=frozenset(_values(month, 1, 12, _MONTHS)),
        years=frozenset(_values(year, 1970, LAST_YEAR)),
    )


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    return cron_fields.number(text, low, high, names, error=ScheduleError)


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """A field of lists, ranges, ``*`` and steps as the set of values it allows."""
    return cron_fields.values(field, low, high, names, error=ScheduleError, step_limit=high)


def _dom(field: str) -> DaySet:
    """Day of month: values, ``*``, ``L``, ``LW``, ``<n>W``."""
    if field == "L":
        return lambda y, m: {calendar.monthrange(y, m)[1]}
    if field == "LW":
        return lambda y, m: {_weekday_near(y, m, calendar.monthrange(y, m)[1])}
    if field.endswith("W"):
        day = _number(field[:-1], 1, 31)
        return lambda y, m: (
            {_weekday_near(y, m, day)} if day <= calendar.monthrange(y, m)[1] else set()
        )
    allowed = _values(field, 1, 31)
    return lambda y, m: {d for d in allowed if d <= calendar.monthrange(y, m)[1]}


def _weekday_near(year: int, month: int, day: int) -> int:
    """The Monday-to-Friday day nearest ``day``, not leaving the month."""
    weekday = calendar.weekday(year, month, day)  # Monday 0
    last = calendar.monthrange(year, month)[1]
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 (Sunday) to 7 (Saturday)."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _dow(field: str) -> DaySet:
    """Day of week: values (1-7 or names), ``*``, ``L``, ``<n>L``, ``<n>#<k>``."""
    if field == "L":
        field = "7"
    if "#" in field:
        a, _, b = field.partition("#")
        weekday, nth = _number(a, 1, 7, _DAYS), _number(b, 1, 5)

        def nth_day(y: int, m: int) -> set[int]:
            matching = _month_days(y, m, {weekday})
            return {matching[nth - 1]} if len(matching) >= nth else set()

        return nth_day
    if field.endswith("L"):
        weekday = _number(field[:-1], 1, 7, _DAYS)
        return lambda y, m: {_month_days(y, m, {weekday})[-1]}
    allowed = _values(field, 1, 7, _DAYS)
    return lambda y, m: set(_month_days(y, m, allowed))


def _month_days(year: int, month: int, weekdays: set[int]) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    return [d for d in range(1, last + 1) if _aws_weekday(year, month, d) in weekdays]
