"""Work a service starts after its response: deliveries and sends that must not hold it up.

Why one class: every service that answers first and delivers after (SNS, EventBridge,
S3's notifications, CloudWatch Logs' subscriptions) needs the same three things: a
reference to each task until it ends (the event loop keeps only weak ones, so an
unreferenced task can vanish mid-delivery), nothing started when no loop runs (a call
made outside the server), and what still runs cancelled when the service stops.

``cancelled`` is that last step for any tasks (pollers of Lambda's mappings and Pipes
too): cancel until they have ended, as one cancellation can be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def cancelled(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` until they have ended. Once is not always enough: a task whose
    wait is answered just as it is cancelled (a long poll that SQS, stopping first, wakes)
    has the cancellation swallowed by Python 3.11's ``asyncio.wait_for``, and runs on."""
    pending = [t for t in tasks if not t.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
        pending = [t for t in pending if not t.done()]
    await asyncio.gather(*tasks, return_exceptions=True)


class Background:
    """The tasks one service started and has not seen end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a task of the running loop (None, and ``coro`` closed, when no
        loop runs)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def stop(self) -> None:
        """Cancel what still runs and wait for it to end."""
        await cancelled(list(self._tasks))
