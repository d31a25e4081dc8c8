"""The execution environments: warm worker processes, cold starts, timeouts, reaping.

A worker is one supervised process group (``runtime/processes.py``) running a
runtime client against its own Runtime API server (``runtime_api.py``). It is
keyed by the exact code and configuration it runs (function, version,
revision), so an update never hands an invocation to a worker of the old code:
new invocations start new workers and the pool (``pool.py``) retires the old
ones. An invocation takes a free warm worker of its key if there is one, else
starts one (a cold start, whose init duration is the time to the first
``/invocation/next``). A worker that times out, runs out of memory or exits is
killed and forgotten; the next invocation cold-starts a replacement.

Process exit is watched with a ``pidfd`` on the event loop (no polling), where
the platform has one. Memory: ``RLIMIT_DATA`` = the function's memory size,
so allocations past it fail (``MemoryError``) as on Lambda; the limit is per
process, like EC2's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cloudlet.core.ids import fast_uuid, token_hex
from cloudlet.runtime.processes import ProcessGroup
from cloudlet.services.awslambda.runtime_api import Deliver, RuntimeApi
from cloudlet.services.awslambda.stream import ResponseStream

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

BOOTSTRAP = str(Path(__file__).parent / "bootstrap" / "__main__.py")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
INIT_TIMEOUT = 10.0
"""Lambda's limit for the init phase of on-demand functions."""


@dataclass
class Spec:
    """What a worker runs: one version of one function, exactly."""

    key: str
    account: str
    region: str
    name: str
    version: str
    runtime: str
    handler: str
    memory: int
    timeout: int
    code_dir: Path
    opt_dir: Path | None
    environment: dict[str, str]
    log_group: str
    snap_start: bool = False
    """A published version with SnapStart on: its environments are restored from the
    version's snapshot (``snapshots.py``), not initialised."""


@dataclass
class Outcome:
    """How one invocation ended."""

    kind: str
    """``ok``, ``error`` (the function's), ``timeout``, ``exit``, ``init`` or
    ``undelivered`` (the worker exited before taking it: the caller retries)."""
    payload: bytes = b""
    error_type: str | None = None
    log: str = ""
    duration_ms: float = 0.0
    init_ms: float | None = None
    memory_mb: int = 0
    stream: str = ""
    restore_ms: float | None = None
    """A restored environment's first invocation: its restore (``snapshots.py``)."""
    billed_restore_ms: int | None = None


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_arn: str
    client_context: str | None = None
    identity: str | None = None
    stream: ResponseStream | None = None
    """Where a streamed response goes (InvokeWithResponseStream, a streaming function
    URL); a plain Invoke gets one made when the runtime streams, buffering it."""
    trace: str | None = None
    """The X-Ray trace header the function gets (``recursion.py``: its Lineage counts the
    runs of a chain); a new trace when None."""
    future: asyncio.Future[tuple[str, bytes, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def headers(self) -> dict[str, str]:
        out = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_arn,
            "Lambda-Runtime-Trace-Id": self.trace or _trace_id(),
        }
        if self.client_context:
            out["Lambda-Runtime-Client-Context"] = self.client_context
        if self.identity:
            out["Lambda-Runtime-Cognito-Identity"] = self.identity
        return out


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{fast_uuid().replace('-', '')[:24]};Sampled=0"


class Worker:
    """One execution environment (the ``RuntimeHost`` of its Runtime API server)."""

    stream_env = True
    """Whether the runtime gets ``AWS_LAMBDA_LOG_STREAM_NAME`` (SnapStart's do not)."""

    def __init__(self, spec: Spec, directory: Path, provisioned: bool = False) -> None:
        self.id = token_hex(16)
        self.spec = spec
        self.dir = directory
        self.log_path = directory / "output.log"
        self.provisioned = provisioned
        self.api = RuntimeApi(self)
        self.group: ProcessGroup | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[bytes | None] = loop.create_future()
        """Resolves at the first ``/next`` (None) or to an init error document."""
        self.init_error_type: str | None = None
        self.exited: asyncio.Future[None] = loop.create_future()
        self.queue: deque[Invocation] = deque()
        """Events handed over while the runtime was not asking for one."""
        self._deliver: Deliver | None = None
        """The runtime's waiting ``/invocation/next``, if it is waiting."""
        self.current: Invocation | None = None
        self.busy = False
        self.dead = False
        self.started = time.monotonic()
        self.init_ms: float | None = None
        self.last_used = time.monotonic()
        self.max_rss = 0
        self._statm: int | None = None
        self._log: Any = None
        self._pidfd: int | None = None
        self.on_exit: Callable[[Worker], None] | None = None
        """Called once when the process exits (the pool forgets the worker)."""
        self.pass_sockets: dict[str, socket.socket] = {}
        """More sockets our Python runtime client inherits, by the variable naming its fd."""
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.stream = f"{day}/[{spec.version}]{self.id}"

    # -- the Runtime API side -------------------------------------------------

    def next_invocation(self, deliver: Deliver) -> None:
        if not self.ready.done():
            self.init_ms = (time.monotonic() - self.started) * 1000
            self.ready.set_result(None)
        if self.current is not None and not self.current.future.done():
            # Asking for the next event without answering this one: the runtime gave up on it.
            self.current.future.set_result(("error", b"", "Runtime.NoResponse"))
        self._deliver = deliver
        if self.queue:
            self.hand(self.queue.popleft())

    def hand(self, inv: Invocation) -> None:
        """Give ``inv`` to the runtime: now if it is waiting for an event, else when it asks."""
        deliver, self._deliver = self._deliver, None
        if deliver is not None:
            self.current = inv
            if deliver(inv.headers(), inv.payload):
                return
            self.current = None
        self.queue.append(inv)

    def invocation_response(self, request_id: str, body: bytes) -> bool:
        return self._finish(request_id, ("ok", body, None))

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        return self._finish(request_id, ("error", body, error_type or "Unhandled"))

    def stream_response(
        self, request_id: str, content_type: str | None, reader: asyncio.Transport
    ) -> ResponseStream | None:
        inv = self.current
        if inv is None or inv.request_id != request_id or inv.future.done():
            return None
        if inv.stream is None:
            inv.stream = ResponseStream(forward=False)
        inv.stream.begin(content_type, reader)
        return inv.stream

    def stream_end(self, request_id: str, error_type: str | None, error_body: bytes) -> None:
        inv = self.current
        if inv is None or inv.request_id != request_id or inv.stream is None:
            return
        stream = inv.stream
        stream.end()
        if stream.too_large:
            result = ("error", stream.too_large_error(), "Function.ResponseSizeTooLarge")
        elif error_type:
            # An error met mid-stream (the trailers): what was sent stays sent.
            result = ("error", error_body, error_type)
        else:
            result = ("ok", b"" if stream.forward else stream.body(), None)
        self._finish(request_id, result)

    def init_error(self, body: bytes, error_type: str | None) -> None:
        self.init_error_type = error_type or "Runtime.Unknown"
        if not self.ready.done():
            self.ready.set_result(body)

    def restore_next(self) -> bool:
        """``GET /restore/next``: only a SnapStart template stops there (``snapshots.py``)."""
        return False

    def restore_error(self, body: bytes, error_type: str | None) -> bool:
        """``POST /restore/error``: only a restored environment reports one."""
        return False

    def cold_start(self, outcome: Outcome) -> None:
        """Put how this environment started on its first invocation's outcome (REPORT)."""
        outcome.init_ms = self.init_ms

    def _finish(self, request_id: str, result: tuple[str, bytes, str | None]) -> bool:
        inv = self.current
        if inv is None or inv.request_id != request_id:
            return False
        if not inv.future.done():
            inv.future.set_result(result)
        return True

    # -- the process ----------------------------------------------------------

    async def start(self, env: dict[str, str]) -> None:
        port = await self.api.start()
        spec = self.spec
        env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        if self.stream_env:
            env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.stream
        private: socket.socket | None = None
        passed: list[socket.socket] = []
        if spec.runtime.startswith("python"):
            argv = [sys.executable, "-u", BOOTSTRAP]
            # Our bootstrap talks over its end of a socket pair (see RuntimeApi.adopt).
            private, child_end = socket.socketpair()
            passed = [child_end, *self.pass_sockets.values()]
            env["_CLOUDLET_RUNTIME_FD"] = str(child_end.fileno())
            for name, sock in self.pass_sockets.items():
                env[name] = str(sock.fileno())
        else:
            candidates = [spec.code_dir / "bootstrap"]
            if spec.opt_dir is not None:
                candidates.append(spec.opt_dir / "bootstrap")
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                doc = (
                    '{"errorMessage":"Couldn\'t find valid bootstrap(s): [/var/task/bootstrap '
                    '/opt/bootstrap]","errorType":"Runtime.InvalidEntrypoint"}'
                )
                self.init_error(doc.encode(), "Runtime.InvalidEntrypoint")
                self._mark_exited()
                return
            argv = [str(found)]
        limits = {}
        if resource is not None:
            limits[resource.RLIMIT_DATA] = spec.memory * 1024 * 1024
        try:
            self.group = ProcessGroup.spawn(
                argv,
                cwd=spec.code_dir,
                env=env,
                log_path=self.log_path,
                limits=limits,
                pass_fds=[s.fileno() for s in passed],
            )
        except OSError as exc:
            if private is not None:
                private.close()
            doc = f'{{"errorMessage":"{exc.strerror}","errorType":"Runtime.InvalidEntrypoint"}}'
            self.init_error(doc.encode(), "Runtime.InvalidEntrypoint")
            self._mark_exited()
            return
        finally:
            for sock in passed:
                sock.close()
        if private is not None:
            await self.api.adopt(private)
        self._watch_exit()

    def _watch_exit(self) -> None:
        assert self.group is not None
        loop = asyncio.get_running_loop()
        try:
            self._pidfd = os.pidfd_open(self.group.pid)
        except (AttributeError, OSError):
            loop.create_task(self._poll_exit())
            return
        loop.add_reader(self._pidfd, self._on_exit)

    async def _poll_exit(self) -> None:
        while self.group is not None and not self.group.leader_exited():
            await asyncio.sleep(0.05)
        self._on_exit()

    def _on_exit(self) -> None:
        if self._pidfd is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self.group is not None:
            self.group.leader_exited()  # reap the leader
        self._mark_exited()

    def _mark_exited(self) -> None:
        first = not self.exited.done()
        self.dead = True
        if not self.exited.done():
            self.exited.set_result(None)
        if not self.ready.done():
            self.init_error_type = "Runtime.ExitError"
            self.ready.set_result(None)
        if self.current is not None and not self.current.future.done():
            self.current.future.set_result(("exit", b"", "Runtime.ExitError"))
        self._deliver = None
        while self.queue:
            # Handed over after the previous invocation but never fetched: not run at all.
            inv = self.queue.popleft()
            if not inv.future.done():
                inv.future.set_result(("undelivered", b"", None))
        if first and self.on_exit is not None:
            self.on_exit(self)

    def exit_reason(self) -> str:
        code = self.group.returncode if self.group is not None else None
        if code is None:
            return "signal: killed"
        if code < 0:
            import signal

            try:
                return f"signal: {signal.Signals(-code).name[3:].lower()}"
            except ValueError:
                return f"signal: {-code}"
        return f"exit status {code}"

    def sample_memory(self) -> int:
        """Max RSS seen so far, in MB (sampled at the end of each invocation)."""
        rss = self.rss()
        self.max_rss = max(self.max_rss, rss)
        return self.max_rss // (1024 * 1024)

    def rss(self) -> int:
        """The leader's resident memory in bytes (``/proc/<pid>/statm`` kept open: this
        runs after every invocation)."""
        if self.group is None:
            return 0
        try:
            if self._statm is None:
                self._statm = os.open(f"/proc/{self.group.pid}/statm", os.O_RDONLY)
            return int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            try:
                return psutil.Process(self.group.pid).memory_info().rss
            except psutil.Error:
                return 0

    def read_log(self) -> str:
        """The function's output since the last call (the worker's stdout/stderr file)."""
        try:
            if self._log is None:
                self._log = open(self.log_path, "rb")  # noqa: SIM115 - kept for the worker's life
            data = self._log.read()
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    async def kill(self, grace: float = 0.0) -> None:
        self.dead = True
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._statm is not None:
            os.close(self._statm)
            self._statm = None
        if self.group is not None:
            await self.group.astop(grace)
            self._on_exit()
        else:
            self._mark_exited()
        await self.api.close()
