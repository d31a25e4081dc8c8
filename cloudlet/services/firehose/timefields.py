"""The week-based and zone fields of Java's ``DateTimeFormatter``, computed as Java does.

Why a module of its own: these are the letters whose values depend on a convention
rather than on the calendar alone. Week fields follow ``WeekFields`` of the locale
Firehose formats in, US English, which the developer guide spells out for its own week
numbers ("a week starts on Sunday; the first week of the year is the first week that
contains a Saturday": first day Sunday, one minimal day in the first week). The
functions here are ``WeekFields``' own algorithms (``localizedWeekOfWeekBasedYear``,
``localizedWeekBasedYear``, ``localizedWeekOfMonth``), so the edges of a year (the
days of late December that belong to week 1 of the next week-based year) come out as
Java's do.

Zones and offsets are ``DateTimeFormatterBuilder``'s printers: ``OffsetIdPrinterParser``
(``X``, ``x``, ``Z``), ``LocalizedOffsetIdPrinterParser`` (``O``, ``ZZZZ``), the zone id
(``VV``) and the short zone name (``z``): the time zone database's abbreviation (``JST``,
``PDT``, ``CET``), or the localized offset where the database has only a number.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

FIRST_DAY = 7
"""ISO day number of the first day of the week (Sunday)."""
MINIMAL_DAYS = 1
OFFSET_PATTERNS = (
    "+HH",
    "+HHmm",
    "+HH:mm",
    "+HHMM",
    "+HH:MM",
    "+HHMMss",
    "+HH:MM:ss",
    "+HHMMSS",
    "+HH:MM:SS",
)
"""``OffsetIdPrinterParser.PATTERNS``: the index is the printer's ``type``."""


def day_of_week(day: date) -> int:
    """The localized day of the week, 1 (Sunday) to 7 (Saturday)."""
    return (day.isoweekday() - FIRST_DAY) % 7 + 1


def _start_of_week_offset(day: int, dow: int) -> int:
    week_start = (day - dow) % 7
    offset = -week_start
    if week_start + 1 > MINIMAL_DAYS:
        offset = 7 - week_start
    return offset


def _compute_week(offset: int, day: int) -> int:
    return (7 + offset + (day - 1)) // 7


def _year_length(year: int) -> int:
    return 366 if date(year, 12, 31).timetuple().tm_yday == 366 else 365


def _week_and_year(day: date) -> tuple[int, int]:
    dow = day_of_week(day)
    doy = day.timetuple().tm_yday
    offset = _start_of_week_offset(doy, dow)
    week = _compute_week(offset, doy)
    if week == 0:
        return _week_and_year(day - timedelta(days=doy))[0], day.year - 1
    new_year_week = _compute_week(offset, _year_length(day.year) + MINIMAL_DAYS)
    if week >= new_year_week:
        return week - new_year_week + 1, day.year + 1
    return week, day.year


def week_of_week_based_year(day: date) -> int:
    """``w``: the week of the week-based year."""
    return _week_and_year(day)[0]


def week_based_year(day: date) -> int:
    """``Y``: the year the day's week belongs to."""
    return _week_and_year(day)[1]


def week_of_month(day: date) -> int:
    """``W``: the week of the month (0 for days before the month's first full week)."""
    offset = _start_of_week_offset(day.day, day_of_week(day))
    return _compute_week(offset, day.day)


def _offset_seconds(when: datetime) -> int:
    offset = when.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_id(when: datetime, kind: int, zero: str) -> str:
    """The offset printed by ``OffsetIdPrinterParser`` of pattern ``OFFSET_PATTERNS[kind]``,
    ``zero`` for a zero offset."""
    total = _offset_seconds(when)
    if total == 0:
        return zero
    hours, minutes, seconds = abs(total) // 3600 % 100, abs(total) // 60 % 60, abs(total) % 60
    colon = ":" if kind % 2 == 0 else ""
    out = f"{'-' if total < 0 else '+'}{hours:02d}"
    printed = hours
    if kind >= 3 or (kind >= 1 and minutes > 0):
        out += f"{colon}{minutes:02d}"
        printed += minutes
        if kind >= 7 or (kind >= 5 and seconds > 0):
            out += f"{colon}{seconds:02d}"
            printed += seconds
    return out if printed else zero


def localized_offset(when: datetime, full: bool) -> str:
    """``O`` (short: ``GMT+8``, ``GMT+5:30``) and ``OOOO``/``ZZZZ`` (full: ``GMT+08:00``);
    ``GMT`` alone for a zero offset."""
    total = _offset_seconds(when)
    if total == 0:
        return "GMT"
    hours, minutes, seconds = abs(total) // 3600 % 100, abs(total) // 60 % 60, abs(total) % 60
    sign = "-" if total < 0 else "+"
    if full:
        out = f"GMT{sign}{hours:02d}:{minutes:02d}"
        return out + (f":{seconds:02d}" if seconds else "")
    out = f"GMT{sign}{hours}"
    if minutes or seconds:
        out += f":{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    return out


def zone_id(when: datetime) -> str:
    """``VV``: the region id (``Asia/Tokyo``), ``UTC`` for Firehose's default zone."""
    return getattr(when.tzinfo, "key", None) or "UTC"


def zone_short_name(when: datetime) -> str:
    """``z``: the zone's abbreviation at that instant (``JST``, ``PST``/``PDT``)."""
    name = when.tzname() or ""
    if name and name[0] not in "+-" and not name[0].isdigit():
        return name
    return localized_offset(when, full=True)
