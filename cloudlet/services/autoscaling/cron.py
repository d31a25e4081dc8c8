"""Recurrence of scheduled actions: traditional five-field Unix cron, in a time zone.

Why its own module: EC2 Auto Scaling takes ``Recurrence`` as crontab's
``minute hour day-of-month month day-of-week`` (not EventBridge's six-field
``cron(...)`` with ``?``), evaluated in ``TimeZone`` (an IANA name, UTC by
default). PutScheduledUpdateGroupAction checks the expression when it is given,
and the group loop only asks "when next after t?", which a test can ask without
waiting for the clock.

Fields take ``*``, numbers, ``a-b`` ranges, ``,`` lists and ``/n`` steps;
months ``JAN``-``DEC`` and days ``SUN``-``SAT`` by name, Sunday as 0 or 7. As in
crontab, when both day fields are restricted a day matching either runs.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloudlet.core import cron_fields

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
SEARCH_DAYS = 366 * 5
"""How far ahead a recurrence is looked for (Feb 29 needs four years)."""


class CronError(ValueError):
    """A recurrence or time zone AWS refuses."""


@dataclass(frozen=True)
class Recurrence:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool
    zone: ZoneInfo

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        on_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and on_weekday
        return in_month or on_weekday

    def next_after(self, after: float) -> float | None:
        """The first run strictly later than epoch ``after``; None if none within
        ``SEARCH_DAYS`` (``0 0 31 2 *`` never runs)."""
        start = datetime.fromtimestamp(after, UTC).astimezone(self.zone)
        day = start.date()
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        local = datetime(day.year, day.month, day.day, hour, minute)
                        when = local.replace(tzinfo=self.zone).timestamp()
                        if when > after:
                            return when
            day += timedelta(days=1)
        return None


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Etc/UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"Invalid time zone: {name}") from exc


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    return cron_fields.values(text, low, high, names, error=CronError)


def parse(text: str, time_zone: str | None = None) -> Recurrence:
    """``text`` as a recurrence in ``time_zone``; ``CronError`` if AWS would refuse it."""
    fields = text.split()
    if len(fields) != 5:
        raise CronError(text)
    try:
        minutes = _field(fields[0], 0, 59)
        hours = _field(fields[1], 0, 23)
        days = _field(fields[2], 1, 31)
        months = _field(fields[3], 1, 12, _MONTHS)
        weekdays = {d % 7 for d in _field(fields[4], 0, 7, _DAYS)}
    except CronError as exc:
        raise CronError(text) from exc
    return Recurrence(
        frozenset(minutes),
        frozenset(hours),
        frozenset(days),
        frozenset(months),
        frozenset(weekdays),
        fields[2].startswith("*"),
        fields[4].startswith("*"),
        zone(time_zone),
    )
