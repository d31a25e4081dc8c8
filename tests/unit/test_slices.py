"""``run_sliced``: a job's slices, one per loop turn, and how it ends."""

from __future__ import annotations

import asyncio

from cloudlet.core.slices import Job, run_for, run_sliced


async def _run(step) -> list[str]:
    events: list[str] = []
    handles: set[asyncio.Handle] = set()
    run_sliced(
        step,
        handles,
        name="test job",
        done=lambda: events.append("done"),
        ended=lambda: events.append("ended"),
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert not handles
    return events


def test_a_finished_job_is_done_then_ended() -> None:
    sizes: list[int] = []

    def step(n: int) -> bool:
        sizes.append(n)
        return len(sizes) == 3

    assert asyncio.run(_run(step)) == ["done", "ended"]
    assert len(sizes) == 3 and all(n >= 1 for n in sizes)


def test_a_failed_job_is_ended_not_done() -> None:
    def step(n: int) -> bool:
        raise RuntimeError("broken slice")

    assert asyncio.run(_run(step)) == ["ended"]


def test_run_for_stops_at_its_time_and_says_how_far_it_got() -> None:
    calls: list[int] = []

    def endless(n: int) -> bool:
        calls.append(n)
        return False

    finished, size = run_for(endless, 0.01)
    assert not finished and calls and size >= 1
    assert run_for(lambda n: True, 10.0) == (True, 32)


def test_a_job_runs_one_at_a_time_and_again_once_ended() -> None:
    async def main() -> list[str]:
        handles: set[asyncio.Handle] = set()
        job = Job("test job", handles)
        made: list[str] = []

        def make_step():
            made.append("made")
            return lambda n: True

        job.start(make_step)
        job.start(make_step)  # still running: left to finish
        assert job.running
        for _ in range(5):
            await asyncio.sleep(0)
        assert not job.running
        job.start(make_step)
        for _ in range(5):
            await asyncio.sleep(0)
        return made

    assert asyncio.run(main()) == ["made", "made"]
