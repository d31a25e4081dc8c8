"""Timestamps for S3 Select: Ion timestamp text, TO_STRING patterns and date arithmetic.

S3 Select's timestamps are Ion timestamps (``2007T``, ``2007-02-23T12:14:33.079-08:00``);
values here are aware ``datetime`` objects, an unknown offset (``-00:00``, or a date with
no time) taken as UTC. TO_STRING patterns are compiled once into small formatters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from cloudlet.services.s3.select_errors import SelectError

_ION_TS = re.compile(
    r"(\d{4})(?:T|-(\d{2})(?:T|-(\d{2})(?:T(?:(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2}))?)?)?)"
)


def parse_timestamp(text: str) -> datetime | None:
    """An Ion timestamp's text as an aware datetime, or None when it is not one."""
    m = _ION_TS.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, offset = m.groups()
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            _zone(offset),
        )
    except ValueError:
        return None


def _zone(offset: str | None) -> timezone:
    if not offset or offset in ("Z", "-00:00"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return timezone(sign * delta)


def ensure_aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


# ---------------------------------------------------------------- DATE_ADD / DATE_DIFF / EXTRACT


def date_add(part: str, quantity: int, ts: datetime) -> datetime:
    if part in ("year", "month"):
        months = ts.year * 12 + ts.month - 1 + quantity * (12 if part == "year" else 1)
        year, month = divmod(months, 12)
        if not 1 <= year <= 9999:
            raise SelectError("IntegerOverflow")
        return ts.replace(year=year, month=month + 1, day=min(ts.day, _month_days(year, month + 1)))
    unit = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}[part]
    try:
        return ts + timedelta(seconds=quantity * unit)
    except OverflowError as exc:
        raise SelectError("IntegerOverflow") from exc


def _month_days(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days


def date_diff(part: str, first: datetime, second: datetime) -> int:
    a, b = first.astimezone(UTC), second.astimezone(UTC)
    if part in ("year", "month"):
        months = (b.year - a.year) * 12 + (b.month - a.month)
        rest_a = (a.day, a.hour, a.minute, a.second, a.microsecond)
        rest_b = (b.day, b.hour, b.minute, b.second, b.microsecond)
        if months > 0 and rest_b < rest_a:
            months -= 1
        elif months < 0 and rest_b > rest_a:
            months += 1
        return months if part == "month" else int(months / 12)
    unit = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}[part]
    delta = b - a
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(micros / (unit * 1_000_000))


def extract(part: str, ts: datetime) -> int:
    if part == "timezone_hour" or part == "timezone_minute":
        offset = ts.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = -1 if minutes < 0 else 1
        hours, mins = divmod(abs(minutes), 60)
        return sign * (hours if part == "timezone_hour" else mins)
    return getattr(ts, part)


# ---------------------------------------------------------------- TO_STRING

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
Formatter = Callable[[datetime], str]


def compile_pattern(pattern: str) -> Formatter:
    """A TO_STRING format pattern as one formatter; raises S3's pattern errors."""
    parts: list[Formatter] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            text, i = _quoted(pattern, i)
            parts.append(lambda _ts, t=text: t)
            continue
        if ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            parts.append(_symbol(ch, j - i))
            i = j
            continue
        parts.append(lambda _ts, t=ch: t)
        i += 1
    return lambda ts: "".join(p(ts) for p in parts)


def _quoted(pattern: str, i: int) -> tuple[str, int]:
    if pattern.startswith("''", i):
        return "'", i + 2
    out, j = [], i + 1
    while j < len(pattern):
        if pattern[j] == "'":
            if pattern.startswith("''", j):
                out.append("'")
                j += 2
                continue
            return "".join(out), j + 1
        out.append(pattern[j])
        j += 1
    raise SelectError("EvaluatorUnterminatedTimestampFormatPatternToken")


def _symbol(ch: str, width: int) -> Formatter:
    maker = _SYMBOLS.get(ch)
    if maker is None:
        raise SelectError("EvaluatorInvalidTimestampFormatPatternSymbol")
    fmt = maker(width)
    if fmt is None:
        raise SelectError("EvaluatorInvalidTimestampFormatPatternToken")
    return fmt


def _padded(get: Callable[[datetime], int], limit: int) -> Callable[[int], Formatter | None]:
    def make(width: int) -> Formatter | None:
        if width > limit:
            return None
        return lambda ts: str(get(ts)).zfill(width)

    return make


def _year(width: int) -> Formatter:
    if width == 2:
        return lambda ts: str(ts.year % 100).zfill(2)
    return lambda ts: str(ts.year).zfill(width)


def _month(width: int) -> Formatter | None:
    if width <= 2:
        return lambda ts: str(ts.month).zfill(width)
    return {
        3: lambda ts: _MONTHS[ts.month - 1][:3],
        4: lambda ts: _MONTHS[ts.month - 1],
        5: lambda ts: _MONTHS[ts.month - 1][0],
    }.get(width)


def _fraction(width: int) -> Formatter | None:
    if width > 9:
        return None
    return lambda ts: (str(ts.microsecond).zfill(6) + "000")[:width]


def _offset(width: int, zulu: bool) -> Formatter | None:
    if width > 5:
        return None

    def fmt(ts: datetime) -> str:
        total = int((ts.utcoffset() or timedelta(0)).total_seconds())
        if total == 0 and zulu:
            return "Z"
        sign = "-" if total < 0 else "+"
        hours, rest = divmod(abs(total), 3600)
        minutes, seconds = divmod(rest, 60)
        if width == 1:
            return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
        sep = ":" if width in (3, 5) else ""
        text = f"{sign}{hours:02d}{sep}{minutes:02d}"
        if width >= 4 and seconds:
            text += f"{sep}{seconds:02d}"
        return text

    return fmt


_SYMBOLS: dict[str, Callable[[int], Formatter | None]] = {
    "y": _year,
    "M": _month,
    "d": _padded(lambda ts: ts.day, 2),
    "a": lambda w: (lambda ts: "AM" if ts.hour < 12 else "PM") if w == 1 else None,
    "h": _padded(lambda ts: (ts.hour % 12) or 12, 2),
    "H": _padded(lambda ts: ts.hour, 2),
    "m": _padded(lambda ts: ts.minute, 2),
    "s": _padded(lambda ts: ts.second, 2),
    "S": _fraction,
    "n": _padded(lambda ts: ts.microsecond * 1000, 9),
    "X": lambda w: _offset(w, True),
    "x": lambda w: _offset(w, False),
}
