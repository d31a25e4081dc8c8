"""Java ``DateTimeFormatter`` patterns, as Firehose's ``!{timestamp:...}`` reads them.

Why: S3 prefixes name their time parts with Java's pattern letters (``yyyy/MM/dd/HH``,
``'year='yyyy``), not strftime's, and users copy them from AWS's examples. ``compile``
checks a pattern once (when a delivery stream is created or updated) and turns it into
parts; ``render`` formats an instant with them, in US English as Firehose does.

Covered, with Java's widths and its errors for wrong ones (``DateTimeFormatterBuilder``'s
``parsePattern``): dates and times of day (``G u y D M L d Q q E a h K k H m s S n N
A g``: ``yy`` two digits, ``MMM`` ``Jan``, ``MMMM`` ``January``, ``MMMMM`` ``J``,
``EEEE`` ``Monday``, ``QQQ`` ``Q1``), the week-based letters of the US week (``Y w W e
c``, Sunday first; ``F``, the aligned day of the week in the month, as Java 8-19 print
it) and zones and offsets (``VV`` the zone id, ``z`` its abbreviation, ``O``, ``X``,
``x`` and ``Z`` offsets) of the destination's ``CustomTimeZone`` (UTC by default),
computed in ``timefields.py``; quoted literals (``'T'``, ``''`` for a quote), optional
sections (``[...]``, always printed: every field of an instant is known) and any other
character as itself. Full and generic zone names (``zzzz``, ``v``) and day periods
(``B``) need locale data cloudlet does not have and answer 501, as does pad ``p``; a
letter Java does not know, a wrong width or a reserved character (``#{}``) is an
``InvalidArgumentException``, as a bad pattern is on AWS.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from cloudlet.services.firehose import errors, timefields

Part = tuple[str, int | str]
SUPPORTED = set("yuMLdDHhkKmsSaEQqGYwWecFVzOXxZnNAg")
NOT_BUILT = {
    "B": "day periods need locale data cloudlet does not have",
    "v": "generic zone names need locale data cloudlet does not have",
    "p": "pad modifiers are not built",
}
MJD_EPOCH = date(1858, 11, 17).toordinal()


def compile_pattern(pattern: str) -> list[Part]:
    """The parts of ``pattern``: (letter, width), or ("'", text) for a literal; raises
    for what cannot be formatted."""
    parts: list[Part] = []
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            text, i = _quoted(pattern, i)
            parts.append(("'", text))
            continue
        if c.isascii() and c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            _check(pattern, c, j - i)
            parts.append((c, j - i))
            i = j
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            if depth == 0:
                raise errors.invalid(
                    f"The timestamp pattern '{pattern}' is invalid as it contains ] without "
                    "previous ["
                )
            depth -= 1
        elif c in "{}#":
            raise errors.invalid(
                f"The timestamp pattern '{pattern}' includes reserved character: '{c}'"
            )
        else:
            parts.append(("'", c))
        i += 1
    return parts


def _quoted(pattern: str, i: int) -> tuple[str, int]:
    """The literal opened by the quote at ``i`` and where the pattern goes on."""
    end = i + 1
    text = ""
    while True:
        close = pattern.find("'", end)
        if close < 0:
            raise errors.invalid(f"The timestamp pattern '{pattern}' has an unclosed quote.")
        text += pattern[end:close]
        if pattern[close + 1 : close + 2] == "'":
            text += "'"
            end = close + 2
            continue
        return (text if text or close > i + 1 else "'"), close + 1


_MAX_WIDTH = {
    "d": 2, "H": 2, "h": 2, "k": 2, "K": 2, "m": 2, "s": 2, "D": 3, "a": 1, "F": 1,
    "W": 1, "w": 2, "M": 5, "L": 5, "E": 5, "e": 5, "c": 5, "Q": 5, "q": 5, "G": 5,
    "X": 5, "x": 5, "Z": 5, "z": 4, "S": 9,
}  # fmt: skip


def _check(pattern: str, letter: str, width: int) -> None:
    if letter in NOT_BUILT:
        raise errors.not_built(
            f"the timestamp pattern letter '{letter}' ({NOT_BUILT[letter]}; cloudlet formats "
            f"{''.join(sorted(SUPPORTED))})"
        )
    if letter not in SUPPORTED:
        raise errors.invalid(f"Unknown pattern letter: {letter} in timestamp '{pattern}'")
    if width > _MAX_WIDTH.get(letter, 19):
        raise errors.invalid(f"Too many pattern letters: {letter} in timestamp '{pattern}'")
    if letter == "c" and width == 2:
        raise errors.invalid(f"Invalid pattern \"cc\" in timestamp '{pattern}'")
    if letter == "V" and width != 2:
        raise errors.invalid(f"Pattern letter count must be 2: V in timestamp '{pattern}'")
    if letter == "O" and width not in (1, 4):
        raise errors.invalid(f"Pattern letter count must be 1 or 4: O in timestamp '{pattern}'")
    if letter == "z" and width == 4:
        raise errors.not_built(
            "the timestamp pattern 'zzzz' (full zone names need locale data cloudlet does "
            "not have; 'z' gives the abbreviation, 'VV' the zone id)"
        )


def render(parts: list[Part], when: datetime) -> str:
    """``when`` formatted by compiled ``parts``."""
    out: list[str] = []
    for letter, width in parts:
        if letter == "'":
            out.append(str(width))
            continue
        assert isinstance(width, int)
        out.append(_field(letter, width, when))
    return "".join(out)


def _number(value: int, width: int) -> str:
    return str(value).zfill(width)


def _year(value: int, width: int) -> str:
    return _number(value % 100, 2) if width == 2 else _number(value, width)


def _field(letter: str, width: int, when: datetime) -> str:
    if letter in "yu":
        return _year(when.year, width)
    if letter in "ML":
        if width >= 3:
            return _text(calendar.month_name[when.month], width)
        return _number(when.month, width)
    if letter == "E" or (letter in "ec" and width >= 3):
        return _text(calendar.day_name[when.weekday()], max(width, 3))
    if letter in "Qq":
        return _quarter((when.month - 1) // 3 + 1, width)
    if letter == "G":
        return ("AD", "AD", "AD", "Anno Domini", "A")[width - 1]
    if letter == "S":
        return f"{when.microsecond:06d}{'0' * max(0, width - 6)}"[:width]
    if letter == "a":
        return "AM" if when.hour < 12 else "PM"
    if letter in "YwWecF":
        return _week_field(letter, width, when.date())
    if letter in "VzOXxZ":
        return _zone_field(letter, width, when)
    nanos = when.microsecond * 1000
    values = {
        "d": when.day,
        "D": when.timetuple().tm_yday,
        "H": when.hour,
        "h": (when.hour % 12) or 12,
        "k": when.hour or 24,
        "K": when.hour % 12,
        "m": when.minute,
        "s": when.second,
        "n": nanos,
        "N": (when.hour * 3600 + when.minute * 60 + when.second) * 10**9 + nanos,
        "A": (when.hour * 3600 + when.minute * 60 + when.second) * 1000 + nanos // 10**6,
        "g": when.date().toordinal() - MJD_EPOCH,
    }
    return _number(values[letter], width)


def _week_field(letter: str, width: int, day: date) -> str:
    if letter == "Y":
        return _year(timefields.week_based_year(day), width)
    if letter == "F":
        return str((day.day - 1) % 7 + 1)
    value = {
        "w": timefields.week_of_week_based_year,
        "W": timefields.week_of_month,
        "e": timefields.day_of_week,
        "c": timefields.day_of_week,
    }[letter](day)
    return _number(value, 2 if width == 2 else 1)


def _zone_field(letter: str, width: int, when: datetime) -> str:
    if letter == "V":
        return timefields.zone_id(when)
    if letter == "z":
        return timefields.zone_short_name(when)
    if letter == "O":
        return timefields.localized_offset(when, full=width == 4)
    if letter == "Z":
        if width == 4:
            return timefields.localized_offset(when, full=True)
        if width == 5:
            return timefields.offset_id(when, 6, "Z")
        return timefields.offset_id(when, 3, "+0000")
    kind = width + (0 if width == 1 else 1)
    if letter == "X":
        return timefields.offset_id(when, kind, "Z")
    zero = "+00" if width == 1 else ("+0000" if width % 2 == 0 else "+00:00")
    return timefields.offset_id(when, kind, zero)


def _quarter(quarter: int, width: int) -> str:
    if width == 3:
        return f"Q{quarter}"
    if width == 4:
        return f"{quarter}{('st', 'nd', 'rd', 'th')[quarter - 1]} quarter"
    if width == 5:
        return str(quarter)
    return _number(quarter, width)


def _text(full: str, width: int) -> str:
    if width == 4:
        return full
    if width == 5:
        return full[:1]
    return full[:3]
