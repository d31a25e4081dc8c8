"""What a service is to the framework, and what the framework gives a service.

A service is a class named in ``cloudlet.services.registry`` whose methods are
the snake_case names of its botocore operations (``send_message`` for
``SendMessage``). Each method takes ``(ctx, params)`` and returns the result
dict for the operation's output shape, or raises ``ServiceError``. A method may
be ``async`` (long polls); synchronous ones run on the event loop and must be
quick.

``ServiceEnv`` is what a service gets at start-up: where its state lives and
the shared background scheduler. A service owns its state; no other service
reaches into it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudlet.state.db import open_database

log = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def handler_name(operation: str) -> str:
    """``SendMessageBatch`` -> ``send_message_batch`` (botocore's xform_name rules)."""
    from botocore import xform_name

    return xform_name(operation)


@dataclass
class ServiceEnv:
    data_dir: Path | None
    """Root data dir, or None when ephemeral."""
    tasks: list[asyncio.Task] = field(default_factory=list)

    def database(self, name: str) -> sqlite3.Connection:
        return open_database(self.data_dir, name)

    def every(self, seconds: float, fn: Callable[[], Awaitable[None] | None], name: str) -> None:
        """Run ``fn`` every ``seconds`` until the server stops (errors are logged)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    result = fn()
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # noqa: BLE001 - a background loop must not die
                    log.exception("background task %s failed", name)

        self.tasks.append(asyncio.get_running_loop().create_task(loop(), name=name))


class Service:
    """Base for service implementations."""

    name: str = ""

    def __init__(self, env: ServiceEnv) -> None:
        self.env = env

    async def start(self) -> None:
        """Called once on the event loop before the first request."""

    async def stop(self) -> None:
        """Called once at shutdown: stop work, close state, reap children."""

    def prepare_request(self, ctx: Any) -> None:
        """Adjust a request before its params are parsed (rarely needed).

        SQS uses it to take the queue URL from the request path, as old query
        clients send it.
        """

    def health(self) -> dict[str, Any]:
        return {"state": "running"}
