"""SnapStart's snapshots without CRIU: a forked, already-initialised process.

Lambda initialises a SnapStart version once, when it is published, takes a Firecracker
snapshot of that execution environment and resumes every new environment of the
version from it. Here the snapshot is a live process, the version's *template*: our
Python runtime client (``bootstrap``) runs the function's Init and its before-snapshot
hooks, says so at the Runtime API's ``GET /restore/next`` (where AWS's runtime clients
stop for the snapshot) and then waits on a control socket. A new environment is a
``fork()`` of it: the server hands the template the environment's own Runtime API
connection and log file (``SCM_RIGHTS``), and the template forks twice, so that the
environment is orphaned at once and re-parented to the server, a child subreaper
(``PR_SET_CHILD_SUBREAPER``): the server supervises and reaps it as it does a spawned
worker (a pidfd for its exit, its own session for kills that spare the template and
its siblings, the template's ``RLIMIT_DATA`` inherited). What Init made is the same in
every environment, as a snapshot's is on AWS (module state, the ``random`` generator's
state, open files); connections Init opened are dead in the environment, as a restored
microVM's are (SDKs reconnect), and threads Init started are not there (a fork copies
only the thread that forks).

``Template`` (a ``Worker`` that never takes an invocation), ``RestoredWorker`` (an
environment forked from one: its restore duration runs from the fork request to its
first ``/invocation/next``) and ``ForkedProcess`` (what ``ProcessGroup`` is to a spawned
worker: stop, reap, exit status) live here; the service's side is ``snapstart.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import socket
import time
from pathlib import Path

import psutil

from cloudlet.runtime.processes import group_alive, reap, signal_group
from cloudlet.services.awslambda.runtime_api import Deliver
from cloudlet.services.awslambda.workers import Outcome, Spec, Worker

log = logging.getLogger(__name__)

FORK_TIMEOUT = 10.0
"""How long a template may take to fork an environment before it is given up."""
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""What each restored environment gets fresh: the execution role's keys (the snapshot's
would expire, and AWS's restored environments get theirs from Lambda too)."""
_POLL = 0.02


class TemplateGone(Exception):
    """The template could not fork an environment (it exited, or stopped answering)."""


class Template(Worker):
    """A version's snapshot: its initialised runtime, which forks new environments.

    Its ``ready`` resolves at ``/restore/next`` (None) or to an init error document;
    ``init_ms`` is the Init phase with the before-snapshot hooks."""

    stream_env = False  # SnapStart functions have no AWS_LAMBDA_LOG_STREAM_NAME

    def __init__(self, spec: Spec, directory: Path) -> None:
        super().__init__(spec, directory)
        self.control: socket.socket | None = None
        self._forking = asyncio.Lock()

    async def start(self, env: dict[str, str]) -> None:
        self.control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control.setblocking(False)
        self.pass_sockets["_CLOUDLET_SNAPSHOT_FD"] = child
        await super().start(env)

    def restore_next(self) -> bool:
        if not self.ready.done():
            self.init_ms = (time.monotonic() - self.started) * 1000
            self.ready.set_result(None)
        return True

    def init_error(self, body: bytes, error_type: str | None) -> None:
        if self.init_ms is None:
            self.init_ms = (time.monotonic() - self.started) * 1000
        super().init_error(body, error_type)

    def next_invocation(self, deliver: Deliver) -> None:
        # Only a runtime client that does not stop for the snapshot asks for an event.
        doc = b'{"errorMessage":"The runtime did not stop for the snapshot.","errorType":"Runtime.ExitError"}'
        self.init_error(doc, "Runtime.ExitError")

    async def fork(
        self, api: str, runtime: socket.socket, log_fd: int, env: dict[str, str | None]
    ) -> tuple[int, int, float]:
        """A new environment talking to the Runtime API at ``api`` over ``runtime``, its
        output to ``log_fd``, with ``env`` set: (pid, process group, monotonic time of its
        fork). ``TemplateGone`` if the template cannot make one."""
        control = self.control
        if control is None or self.dead or not self.ready.done() or self.init_error_type:
            raise TemplateGone("the template is not running")
        order = json.dumps({"api": api, "env": env}).encode()
        loop = asyncio.get_running_loop()
        async with self._forking:
            try:
                socket.send_fds(control, [order], [runtime.fileno(), log_fd])
                reply = await asyncio.wait_for(loop.sock_recv(control, 4096), FORK_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                # A reply may still come: it would answer the next order. Start afresh.
                self._abandon()
                raise TemplateGone(f"the template did not fork: {exc!r}") from None
        if not reply:
            raise TemplateGone("the template exited")
        done = json.loads(reply)
        if not done.get("pid"):
            raise TemplateGone("the template could not fork")
        return int(done["pid"]), int(done["pgid"]), float(done["forked_at"])

    def _abandon(self) -> None:
        self.dead = True
        asyncio.get_running_loop().create_task(self.kill())

    async def kill(self, grace: float = 0.0) -> None:
        if self.control is not None:
            self.control.close()  # the template exits when its control socket closes
            self.control = None
        await super().kill(grace)


class ForkedProcess:
    """An environment forked from a template, as ``workers.Worker`` drives a
    ``ProcessGroup``: the server is its parent (subreaper), it leads its own group."""

    def __init__(self, pid: int, pgid: int) -> None:
        self.pid = pid
        self.pgid = pgid
        self._code: int | None = None
        self._gone = False

    def leader_exited(self) -> bool:
        """Whether the environment has exited (reaping it if so)."""
        if self._gone:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            # Not ours to reap (no subreaper here): ask whether it still runs.
            try:
                self._gone = psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE
            except psutil.Error:
                self._gone = True
            return self._gone
        if pid == 0:
            return False
        self._code = os.waitstatus_to_exitcode(status)
        self._gone = True
        return True

    @property
    def returncode(self) -> int | None:
        self.leader_exited()
        return self._code

    def alive(self) -> bool:
        """Whether the environment or anything it started still runs."""
        return not self.leader_exited() or group_alive(self.pgid)

    def _signal(self, sig: int) -> None:
        signal_group(self.pgid, sig)
        try:
            os.kill(self.pid, sig)  # in case it has left its group
        except (ProcessLookupError, PermissionError):
            pass

    async def astop(self, grace: float = 0.0) -> None:
        """SIGTERM, up to ``grace`` seconds, SIGKILL, reap: this environment only."""
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGCONT)
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            await asyncio.sleep(_POLL)
        self._signal(signal.SIGKILL)
        for _ in range(100):
            if not self.alive():
                break
            await asyncio.sleep(_POLL)
        reap(self.pgid)


class RestoredWorker(Worker):
    """An execution environment resumed from its version's snapshot (a fork of the
    template) instead of initialised."""

    def __init__(
        self, spec: Spec, directory: Path, template: Template, provisioned: bool = False
    ) -> None:
        super().__init__(spec, directory, provisioned)
        self.template = template
        self.restore_ms: float | None = None
        self.billed_restore_ms: int | None = None
        self._forked_at: float | None = None

    async def start(self, env: dict[str, str]) -> None:
        port = await self.api.start()
        private, child_end = socket.socketpair()
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fresh: dict[str, str | None] = {key: env.get(key) for key in CREDENTIALS}
        self.started = time.monotonic()  # the restore starts with the fork request
        try:
            pid, pgid, self._forked_at = await self.template.fork(
                f"127.0.0.1:{port}", child_end, log_fd, fresh
            )
        except TemplateGone as gone:
            private.close()
            log.warning("restoring %s from its snapshot failed: %s", self.spec.key, gone)
            doc = json.dumps({"errorMessage": str(gone), "errorType": "Runtime.RestoreError"})
            self.init_error(doc.encode(), "Runtime.RestoreError")
            self._mark_exited()
            return
        finally:
            child_end.close()
            os.close(log_fd)
        self.group = ForkedProcess(pid, pgid)  # type: ignore[assignment]
        await self.api.adopt(private)
        self._watch_exit()

    def next_invocation(self, deliver: Deliver) -> None:
        if not self.ready.done():
            now = time.monotonic()
            self.restore_ms = (now - self.started) * 1000
            since_fork = now - (self._forked_at or self.started)
            self.billed_restore_ms = max(1, math.ceil(since_fork * 1000))
        super().next_invocation(deliver)

    def restore_error(self, body: bytes, error_type: str | None) -> bool:
        self.init_error(body, error_type or "Runtime.AfterRestoreError")
        return True

    def cold_start(self, outcome: Outcome) -> None:
        outcome.restore_ms = self.restore_ms
        outcome.billed_restore_ms = self.billed_restore_ms
