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
