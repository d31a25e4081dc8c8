"""Java ``DateTimeFormatter`` patterns, as Firehose's ``!{timestamp:...}`` reads them.

Why: S3 prefixes name their time parts with Java's pattern letters (``yyyy/MM/dd/HH``,
``'year='yyyy``), not strftime's, and users copy them from AWS's examples. ``compile``
checks a pattern once (when a delivery stream is created or updated) and turns it into
parts; ``render`` formats an instant with them.

Covered: the letters of dates and times of day (``y u M L d D H h k K m s S a E Q G``)
with Java's widths (``yy`` two digits, ``MMM`` ``Jan``, ``MMMM`` ``January``, ``E``
``Mon``, ``EEEE`` ``Monday``), quoted literals (``'T'``, ``''`` for a quote) and any
other character as itself. Week-based fields, zone and offset letters and optional
sections answer 501 naming the letter; a letter Java does not know is an
``InvalidArgumentException``, as a bad pattern is on AWS.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from cloudlet.services.firehose import errors

SUPPORTED = set("yuMLdDHhkKmsSaEQG")
JAVA_ONLY = set("wWYecFVzOXxZnNAgvB")
"""Letters Java knows that cloudlet does not format (501)."""


def compile_pattern(pattern: str) -> list[tuple[str, int | str]]:
    """The parts of ``pattern``: (letter, width), or ("'", text) for a literal; raises
    for what cannot be formatted."""
    parts: list[tuple[str, int | str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = i + 1
            text = ""
            while True:
                close = pattern.find("'", end)
                if close < 0:
                    raise errors.invalid(
                        f"The timestamp pattern '{pattern}' has an unclosed quote."
                    )
                text += pattern[end:close]
                if pattern[close + 1 : close + 2] == "'":
                    text += "'"
                    end = close + 2
                    continue
                break
            parts.append(("'", text if text or close > i + 1 else "'"))
            i = close + 1
            continue
        if c.isascii() and c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            _check(pattern, c, j - i)
            parts.append((c, j - i))
            i = j
            continue
        if c in "[]{}#":
            raise errors.not_built(
                f"the timestamp pattern character '{c}' (optional sections and reserved "
                "characters; cloudlet formats dates, times and quoted text)"
            )
        parts.append(("'", c))
        i += 1
    return parts


def _check(pattern: str, letter: str, width: int) -> None:
    if letter in JAVA_ONLY:
        raise errors.not_built(
            f"the timestamp pattern letter '{letter}' (cloudlet formats the letters "
            f"{''.join(sorted(SUPPORTED))})"
        )
    if letter not in SUPPORTED:
        raise errors.invalid(f"Unknown pattern letter: {letter} in timestamp '{pattern}'")
    limits = {"d": 2, "H": 2, "h": 2, "k": 2, "K": 2, "m": 2, "s": 2, "D": 3, "a": 1}
    if letter in limits and width > limits[letter]:
        raise errors.invalid(f"Too many pattern letters: {letter} in timestamp '{pattern}'")
    if letter in "MLEQG" and width > 5:
        raise errors.invalid(f"Too many pattern letters: {letter} in timestamp '{pattern}'")


def _number(value: int, width: int) -> str:
    return str(value).zfill(width)


def render(parts: list[tuple[str, int | str]], when: datetime) -> str:
    """``when`` formatted by compiled ``parts``."""
    out: list[str] = []
    for letter, width in parts:
        if letter == "'":
            out.append(str(width))
            continue
        assert isinstance(width, int)
        out.append(_field(letter, width, when))
    return "".join(out)


def _field(letter: str, width: int, when: datetime) -> str:
    if letter in "yu":
        return _number(when.year % 100, 2) if width == 2 else _number(when.year, width)
    if letter in "ML":
        if width >= 3:
            return _text(calendar.month_name[when.month], width)
        return _number(when.month, width)
    if letter == "E":
        return _text(calendar.day_name[when.weekday()], max(width, 3))
    if letter == "Q":
        quarter = (when.month - 1) // 3 + 1
        if width == 3:
            return f"Q{quarter}"
        if width >= 4:
            return f"{quarter}{('st', 'nd', 'rd', 'th')[quarter - 1]} quarter"
        return _number(quarter, width)
    if letter == "G":
        return "AD" if width < 4 else "Anno Domini"
    if letter == "S":
        return f"{when.microsecond:06d}{'0' * max(0, width - 6)}"[:width]
    if letter == "a":
        return "AM" if when.hour < 12 else "PM"
    values = {
        "d": when.day,
        "D": when.timetuple().tm_yday,
        "H": when.hour,
        "h": (when.hour % 12) or 12,
        "k": when.hour or 24,
        "K": when.hour % 12,
        "m": when.minute,
        "s": when.second,
    }
    return _number(values[letter], width)


def _text(full: str, width: int) -> str:
    if width == 4:
        return full
    if width == 5:
        return full[:1]
    return full[:3]
