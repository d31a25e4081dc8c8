"""Process supervision: whole groups stop, stubborn processes are killed, all are reaped."""

from __future__ import annotations

import asyncio
import os
import time

import psutil

from cloudlet.runtime import processes
from cloudlet.runtime.processes import ProcessGroup


def _gone(pid: int) -> bool:
    """Neither running nor a zombie."""
    try:
        psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return True
    return False


def _wait_for(path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never written")


def test_stop_kills_and_reaps_the_whole_group(tmp_path):
    processes.become_subreaper()
    pids = tmp_path / "pids"
    group = ProcessGroup.spawn(
        ["bash", "-c", f"sleep 60 & echo $! > {pids}; sleep 60 & wait"],
        log_path=tmp_path / "log",
    )
    child = int(_wait_for(pids))
    assert group.alive()
    assert os.getpgid(child) == group.pgid
    group.stop(grace=2)
    assert not group.alive()
    assert _gone(group.pid) and _gone(child)
    assert processes.group_members(group.pgid) == []


def test_orphans_are_reaped_after_their_parent_exits(tmp_path):
    processes.become_subreaper()
    pids = tmp_path / "pids"
    # The leader exits at once, leaving an orphan in its group.
    group = ProcessGroup.spawn(["bash", "-c", f"sleep 60 & echo $! > {pids}"])
    orphan = int(_wait_for(pids))
    deadline = time.monotonic() + 5
    while not group.leader_exited() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert group.alive()  # the orphan keeps the group alive
    group.stop(grace=1)
    assert _gone(orphan)
    assert not group.alive()


def test_sigterm_ignored_means_sigkill_after_grace(tmp_path):
    ready = tmp_path / "ready"
    group = ProcessGroup.spawn(
        ["bash", "-c", f"trap '' TERM; echo ok > {ready}; while :; do sleep 0.1; done"]
    )
    _wait_for(ready)
    started = time.monotonic()
    asyncio.run(group.astop(grace=0.5))
    assert 0.4 <= time.monotonic() - started < 5
    assert not group.alive()
    assert _gone(group.pid)


def test_output_goes_to_the_log(tmp_path):
    log = tmp_path / "console.log"
    group = ProcessGroup.spawn(["bash", "-c", "echo out; echo err >&2"], log_path=log)
    group.proc.wait(5)
    assert group.returncode == 0
    assert log.read_text().split() == ["out", "err"]
    group.stop(grace=0.1)


def test_a_gated_leader_forks_nothing_before_its_limits_are_set(tmp_path):
    """With ``gated`` the program starts only once ``prlimit`` has run, so a child it forks
    at once is limited too (without it, a loaded machine let boot scripts fork unlimited
    children before the limit came)."""
    import resource

    limit = 300 * 1024 * 1024
    out = tmp_path / "out"
    group = ProcessGroup.spawn(
        ["bash", "-c", f"(ulimit -d) > {out}; echo $$ >> {out}"],
        log_path=tmp_path / "log",
        limits={resource.RLIMIT_DATA: limit},
        gated=True,
    )
    deadline = time.monotonic() + 5
    while not group.leader_exited() and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = out.read_text().split()
    assert lines[0] == str(limit // 1024)  # ulimit -d counts KiB
    assert int(lines[1]) == group.pid  # the shell became the program: same pid
    assert group.limited
    group.stop(grace=1)
    assert _gone(group.pid)
