"""Long work on the event loop in slices short enough that requests keep flowing.

Why: a service's database work runs on the event loop (one SQLite connection, no
locks). A job over a whole table (a GSI backfill, purging a deleted table's rows)
done in one go, or in slices of a fixed count, holds every other client for as long
as a slice takes: a 500-item backfill slice took ~150 ms, a 100,000-item DeleteTable
10 s. Here each slice is sized from the last one's time to take about ``budget``
seconds, and the next runs a loop turn later, after the I/O that arrived meanwhile.
Measured on a 20,000-item GSI backfill: an S3 GET made meanwhile took 49 ms (p50)
with 500-item slices, 7 ms with 2 ms slices; the backfill took as long (1.3 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cloudlet.core.environ import seconds_setting

log = logging.getLogger(__name__)

BUDGET = 0.002
"""Seconds a slice aims at: a request waits at most about this per loop turn."""

MAX_SIZE = 1 << 16
"""The most units a slice is given, however fast the last one was."""

PAUSE = seconds_setting("CLOUDLET_SLICE_PAUSE", 0.0, high=1.0)
"""Seconds between two slices of a job (default: none, the next loop turn). A test
stretches a job with it to see what the service does while the job runs."""


def _later(loop: asyncio.AbstractEventLoop, run: Callable[[], None]) -> asyncio.Handle:
    return loop.call_later(PAUSE, run) if PAUSE else loop.call_soon(run)


def run_sliced(
    step: Callable[[int], bool],
    handles: set[asyncio.Handle],
    *,
    name: str,
    done: Callable[[], None] | None = None,
    ended: Callable[[], None] | None = None,
    size: int = 32,
    budget: float = BUDGET,
) -> None:
    """Call ``step(n)`` once per event-loop turn until it returns True (finished), then
    ``done()``. ``n`` is how many units the slice may do, grown or shrunk (at most
    doubled) toward ``budget`` seconds a slice. The pending turn's handle is kept in
    ``handles`` so a stopping service can cancel it. A step that raises ends the job,
    logged under ``name``; whatever it had committed stays. ``ended()`` follows however
    the job ends, finished or failed (a service's "running" flag is cleared there)."""
    loop = asyncio.get_running_loop()
    count = size

    def run() -> None:
        nonlocal count, handle
        handles.discard(handle)
        started = time.perf_counter()
        try:
            finished = step(count)
        except Exception:  # noqa: BLE001 - keep the server up
            log.exception("%s failed", name)
        else:
            if not finished:
                count = _next_size(count, time.perf_counter() - started, budget)
                handle = _later(loop, run)
                handles.add(handle)
                return
            if done is not None:
                done()
        if ended is not None:
            ended()

    handle = _later(loop, run)
    handles.add(handle)


def run_for(step: Callable[[int], bool], seconds: float, *, size: int = 32) -> tuple[bool, int]:
    """Call ``step(n)`` for up to about ``seconds`` now (a request doing the first part of
    a job before it answers), slices sized as ``run_sliced`` sizes them. Returns whether
    the job finished, and the size reached (``run_sliced``'s ``size`` for the rest)."""
    count = size
    deadline = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        if step(count):
            return True, count
        now = time.perf_counter()
        if now >= deadline:
            return False, count
        count = _next_size(count, now - started, BUDGET)


def _next_size(count: int, elapsed: float, budget: float) -> int:
    """The next slice's size: toward ``budget`` seconds, at most doubled, 1 to MAX_SIZE."""
    return max(1, min(count * 2, MAX_SIZE, int(count * budget / max(elapsed, 1e-6))))


class Job:
    """A kind of background job that runs one at a time, in slices: ``start`` begins
    one unless one is still running (a timer's tick or a second drop meanwhile leaves the
    running one to finish). ``make_step`` is called only when a job starts."""

    def __init__(self, name: str, handles: set[asyncio.Handle]) -> None:
        self.name = name
        self.handles = handles
        self.running = False

    def start(self, make_step: Callable[[], Callable[[int], bool]]) -> None:
        if self.running:
            return
        step = make_step()
        self.running = True
        run_sliced(step, self.handles, name=self.name, ended=self._ended)

    def _ended(self) -> None:  # finished, or failed (logged): the next start runs again
        self.running = False
