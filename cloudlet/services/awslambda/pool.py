"""The worker pool: warm workers by the exact code they run, cold starts, reaping.

Workers (``workers.Worker``) are kept by spec key (function, version, revision):
an invocation takes a free warm worker of its key, else starts one and waits for
its init (``INIT_TIMEOUT``); ``run`` hands an invocation over and waits for its
answer, its worker's exit or the function's timeout, after which a worker that
timed out or exited is killed and forgotten. Idle workers are reclaimed after
``idle_seconds``; ``retire`` stops the workers of code that changed. A SnapStart
version's workers are restored from its snapshot (``restorer``, ``snapshots.py``)
instead of started: the pool treats them as any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cloudlet.services.awslambda.snapshots import RestoredWorker, Template
from cloudlet.services.awslambda.workers import INIT_TIMEOUT, Invocation, Outcome, Spec, Worker

EnvFactory = Callable[[Spec], Awaitable[dict[str, str]]]
Restorer = Callable[[Spec], Awaitable[Template]]
"""The live snapshot of a SnapStart version's spec."""


class WorkerPool:
    """Every worker of the service, by spec key."""

    def __init__(
        self,
        directory: Callable[[str], Path],
        idle_seconds: float,
        restorer: Restorer | None = None,
    ) -> None:
        self.directory = directory
        self.idle_seconds = idle_seconds
        self.restorer = restorer
        self.workers: dict[str, list[Worker]] = {}
        self.cold_starts = 0
        self.restores = 0

    def all(self) -> list[Worker]:
        return [w for ws in self.workers.values() for w in ws]

    def count(self, key: str) -> int:
        return len(self.workers.get(key, ()))

    async def acquire(self, spec: Spec, make_env: EnvFactory) -> tuple[Worker, bool]:
        """A free warm worker of ``spec`` (cold=False), else a new one once it has
        initialised or failed to (the caller reads ``init_error_type``)."""
        for worker in self.workers.get(spec.key, ()):
            if not worker.busy and not worker.dead and worker.ready.done():
                worker.busy = True
                return worker, False
        worker = await self.spawn(spec, make_env)
        worker.busy = True
        return worker, True

    async def spawn(self, spec: Spec, make_env: EnvFactory, provisioned: bool = False) -> Worker:
        worker: Worker
        if spec.snap_start and self.restorer is not None:
            template = await self.restorer(spec)
            worker = RestoredWorker(spec, Path(), template, provisioned)
            self.restores += 1
        else:
            worker = Worker(spec, Path(), provisioned)
            self.cold_starts += 1
        worker.dir = self.directory(worker.id)
        worker.log_path = worker.dir / "output.log"
        self.workers.setdefault(spec.key, []).append(worker)
        worker.busy = True
        worker.on_exit = self._exited
        try:
            env = await make_env(spec)
            await worker.start(env)
            try:
                await asyncio.wait_for(asyncio.shield(worker.ready), INIT_TIMEOUT)
            except TimeoutError:
                worker.init_error_type = "Runtime.InitTimeout"
        except BaseException:
            await self.discard(worker)
            raise
        if worker.init_error_type is not None:
            self._forget(worker)
            asyncio.get_running_loop().create_task(worker.kill())
        worker.busy = False
        return worker

    def release(self, worker: Worker) -> None:
        worker.busy = False
        worker.current = None
        worker.last_used = time.monotonic()
        if worker.dead:
            self._exited(worker)

    def _exited(self, worker: Worker) -> None:
        """A worker's process ended by itself (crash, ``exit``): forget it and close its
        API server; a busy one is handled when its invocation is released."""
        if worker.busy:
            return
        self._forget(worker)
        asyncio.get_running_loop().create_task(worker.kill())

    def _forget(self, worker: Worker) -> None:
        workers = self.workers.get(worker.spec.key)
        if workers and worker in workers:
            workers.remove(worker)
            if not workers:
                del self.workers[worker.spec.key]

    async def discard(self, worker: Worker) -> None:
        self._forget(worker)
        await worker.kill()

    async def run(self, worker: Worker, inv: Invocation, timeout: float) -> Outcome:
        """Hand ``inv`` to ``worker`` and wait for its answer, its exit or the timeout."""
        start = time.monotonic()
        worker.hand(inv)
        future = inv.future

        def expire() -> None:
            if not future.done():
                future.set_result(("timeout", b"", "Sandbox.Timedout"))

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        try:
            kind, payload, error_type = await future
        finally:
            timer.cancel()
        duration = (time.monotonic() - start) * 1000
        memory = worker.sample_memory() if kind != "timeout" else worker.max_rss // 1048576
        log = worker.read_log()
        if kind in ("timeout", "exit", "undelivered"):
            self._forget(worker)
            await worker.kill()
        return Outcome(kind, payload, error_type, log, duration, None, memory, worker.stream)

    async def retire(self, predicate: Callable[[Spec], bool]) -> None:
        """Stop the idle workers whose spec matches (busy ones stop when released)."""
        victims = []
        for worker in self.all():
            if predicate(worker.spec):
                self._forget(worker)
                worker.dead = True
                if not worker.busy:
                    victims.append(worker)
                else:
                    asyncio.get_running_loop().create_task(self._kill_when_free(worker))
        await asyncio.gather(*(w.kill() for w in victims), return_exceptions=True)

    async def _kill_when_free(self, worker: Worker) -> None:
        while worker.busy:
            await asyncio.sleep(0.05)
        await worker.kill()

    async def reclaim_idle(self) -> int:
        now = time.monotonic()
        idle = [
            w
            for w in self.all()
            if not w.busy and not w.provisioned and now - w.last_used >= self.idle_seconds
        ]
        for w in idle:
            self._forget(w)
        await asyncio.gather(*(w.kill() for w in idle), return_exceptions=True)
        return len(idle)

    async def stop(self) -> None:
        workers = self.all()
        self.workers.clear()
        await asyncio.gather(*(w.kill(0.2) for w in workers), return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        return {
            "workers": len(self.all()),
            "cold_starts": self.cold_starts,
            "restores": self.restores,
        }
