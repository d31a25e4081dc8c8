"""Process groups that cloudlet starts, supervises and always reaps.

An EC2 instance (and later a Lambda worker or an EMR task) is a tree of
ordinary processes. Each tree is started as the leader of a new session, so
the whole tree shares one process group id that can be signalled at once even
after the leader has exited and its children were re-parented. Stopping is the
shutdown every init system does: SIGTERM to the group, a grace period, then
SIGKILL to whatever is left. The leader is our child, so we reap it; children
it leaves behind are re-parented to us too when ``become_subreaper`` was called
(Linux), and ``reap`` collects those of a supervised group, so no zombie is
left even where PID 1 does not reap (containers).

Resource limits (``limits``: ``resource.RLIMIT_*`` -> bytes or count) are set on
the leader with ``prlimit(2)`` right after it starts. That is enough for a leader
that forks nothing before its own work (a Lambda runtime: the limit holds for it
from then on), but not for a script that starts processes at once (an instance's
boot script: on a loaded machine its children were forked, unlimited, before the
limits came). So with ``gated`` the leader starts as a ``/bin/sh`` that waits
for one line on a pipe: the server sets the limits on it and writes the line,
and the shell then ``exec``s the program (same pid, limits kept). Not the
default, because the program is then started by a shell, whose ``exec`` runs a
file with no ``#!`` line as a shell script where ``execve`` fails, and a
missing program is the shell's exit status 127 rather than ``spawn``'s
``OSError``. No ``preexec_fn`` (not safe in a threaded server). Where ``prlimit``
is missing (not Linux) the limits are not applied and ``spawn`` says so in
``limited``.

Plain Python: no asyncio in the hot path, no gateway imports. ``stop`` blocks
for at most the grace period; ``astop`` is the same for the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

DEFAULT_GRACE = 3.0
_PR_SET_CHILD_SUBREAPER = 36
_POLL = 0.02


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux ``PR_SET_CHILD_SUBREAPER``)
    so their zombies can be reaped here. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def reap(pgid: int) -> int:
    """Reap our zombie children that belong to group ``pgid``; how many were reaped."""
    reaped = 0
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return 0
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE or _pgid_of(child.pid) != pgid:
                continue
            os.waitpid(child.pid, os.WNOHANG)
            reaped += 1
        except (psutil.Error, ChildProcessError):
            continue
    return reaped


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes of group ``pgid``."""
    pids = []
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if _pgid_of(proc.pid) == pgid:
            pids.append(proc.pid)
    return pids


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    reap(pgid)
    return bool(group_members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of group ``pgid``; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


_GATED = 'IFS= read -r _ || exit 111; exec "$@" </dev/null'
"""The leader's shell: wait for the go line on the gate (its standard input), then
become the program (``"$@"``) with ``/dev/null`` as its input, as ``spawn`` gives
every program. No line (the server died first): exit."""


def _apply_limits(pid: int, limits: Mapping[int, int]) -> bool:
    prlimit = getattr(resource, "prlimit", None)
    if prlimit is None:
        return False
    try:
        for which, value in limits.items():
            prlimit(pid, which, (value, value))
    except (OSError, ValueError):
        return False
    return True


class ProcessGroup:
    """One supervised process tree: a leader in its own session and its descendants."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.pgid = proc.pid  # a session leader's group id is its pid
        self.limited = False
        """Whether the ``limits`` given to ``spawn`` were applied."""

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
        limits: Mapping[int, int] | None = None,
        pass_fds: Sequence[int] = (),
        gated: bool = False,
    ) -> ProcessGroup:
        """Start ``argv`` as the leader of a new session; output appended to ``log_path``;
        ``limits`` (``resource.RLIMIT_*`` -> soft and hard value) set on the leader;
        ``pass_fds`` stay open in the child (every other descriptor is closed); ``gated``:
        the program starts only once its limits are set (see the module docstring)."""
        gate = None
        if gated and limits and hasattr(resource, "prlimit"):
            gate = os.pipe()  # the leader waits on it until its limits are set
            argv = ["/bin/sh", "-c", _GATED, "sh", *argv]
        if log_path is not None:
            out = open(log_path, "ab", buffering=0)  # noqa: SIM115 - handed to the child
        else:
            out = open(os.devnull, "wb")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=str(cwd) if cwd is not None else None,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL if gate is None else gate[0],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(pass_fds),
            )
        except BaseException:
            if gate is not None:
                os.close(gate[1])
            raise
        finally:
            out.close()
            if gate is not None:
                os.close(gate[0])
        group = cls(proc)
        if limits:
            group.limited = _apply_limits(proc.pid, limits)
        if gate is not None:
            try:
                os.write(gate[1], b"go\n")
            except BrokenPipeError:
                pass  # the shell is gone already (killed): nothing to start
            finally:
                os.close(gate[1])
        return group

    def leader_exited(self) -> bool:
        """Whether the leader has exited (reaping it if so)."""
        return self.proc.poll() is not None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def alive(self) -> bool:
        """Whether any process of the group is still running."""
        self.proc.poll()  # reap the leader so its zombie does not keep the group "alive"
        return group_alive(self.pgid)

    def _begin_stop(self) -> None:
        self.proc.poll()
        signal_group(self.pgid, signal.SIGTERM)
        # A stopped (SIGSTOP) process only acts on SIGTERM once continued.
        signal_group(self.pgid, signal.SIGCONT)

    def _finish(self) -> None:
        signal_group(self.pgid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        deadline = time.monotonic() + 2
        while group_alive(self.pgid) and time.monotonic() < deadline:
            time.sleep(_POLL)
        reap(self.pgid)

    def stop(self, grace: float = DEFAULT_GRACE) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds, SIGKILL the rest, reap."""
        self._begin_stop()
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            time.sleep(_POLL)
        self._finish()

    async def astop(self, grace: float = DEFAULT_GRACE) -> None:
        """``stop`` without blocking the event loop during the grace period."""
        self._begin_stop()
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            await asyncio.sleep(_POLL * 2)
        if self.alive():
            signal_group(self.pgid, signal.SIGKILL)
            for _ in range(100):
                if not self.alive():
                    break
                await asyncio.sleep(_POLL)
        self._finish()


def kill_stale_group(pgid: int, create_time: float) -> bool:
    """Kill a group left by a previous server (crash) if its leader is still the same
    process (pid reuse guarded by the recorded start time). True if one was killed."""
    try:
        leader = psutil.Process(pgid)
        if abs(leader.create_time() - create_time) > 0.5:
            return False
    except psutil.Error:
        # The leader is gone; its group may live on, but without the leader we cannot
        # prove the group is ours, so only a group with our recorded leader is killed.
        return False
    signal_group(pgid, signal.SIGKILL)
    return True
