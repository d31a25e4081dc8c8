"""The one source of time. Tests may replace ``clock`` to move time forward.

Engines call ``clock.time()`` (wall seconds, float) for anything that is
stored or shown, and ``clock.monotonic()`` for timeouts inside one process.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return _time.time() + self.offset

    def monotonic(self) -> float:
        return _time.monotonic() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move time forward (tests only)."""
        self.offset += seconds


clock = Clock()

_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def utc_datetime(ts: float) -> datetime:
    """Epoch seconds as a UTC datetime; a time past the calendar (stored from, or sent as,
    ``Fri, 31 Dec 9999 23:59:59 -0100``) as the nearest one a datetime holds, so showing
    it never fails."""
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, ValueError, OSError):
        return _LAST if ts > 0 else _FIRST
