"""Function logs into CloudWatch Logs, batched off the invoke path.

Each invocation's lines (START, the function's output, END, REPORT) are
queued here and written every half second through the Logs service's own
operations (``/aws/lambda/<function>``, one stream per worker, as AWS names
them). Without a Logs service (``NotImplementedOperation``) the lines are
dropped; ``LogType=Tail`` does not depend on this.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.base import ServiceEnv

log = logging.getLogger(__name__)
# PutLogEvents' quotas: 10,000 events and 1,048,576 bytes a call, counting each
# event's UTF-8 message plus 26 bytes.
_MAX_BATCH = 10000
_MAX_BYTES = 1_048_576
_OVERHEAD = 26


class LogWriter:
    def __init__(self, env: ServiceEnv) -> None:
        self.env = env
        self.pending: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        self.created: set[tuple[str, str, str, str | None]] = set()
        self.disabled = False

    def add(self, account: str, region: str, group: str, stream: str, text: str) -> None:
        if self.disabled or "logs" not in self.env.services:
            return
        now = int(time.time() * 1000)
        events = self.pending.setdefault((account, region, group, stream), [])
        for line in text.splitlines():
            if line:
                events.append({"timestamp": now, "message": line})

    async def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for (account, region, group, stream), events in pending.items():
            try:
                await self._ensure(account, region, group, None)
                await self._ensure(account, region, group, stream)
                for batch in batches(events):
                    await self.env.call(
                        "logs",
                        "PutLogEvents",
                        {"logGroupName": group, "logStreamName": stream, "logEvents": batch},
                        account=account,
                        region=region,
                    )
            except NotImplementedOperation:
                self.disabled = True
                return
            except ServiceError as err:
                log.warning("writing Lambda logs to %s failed: %s", group, err.message)

    async def _ensure(self, account: str, region: str, group: str, stream: str | None) -> None:
        key = (account, region, group, stream)
        if key in self.created:
            return
        try:
            if stream is None:
                await self.env.call(
                    "logs",
                    "CreateLogGroup",
                    {"logGroupName": group},
                    account=account,
                    region=region,
                )
            else:
                await self.env.call(
                    "logs",
                    "CreateLogStream",
                    {"logGroupName": group, "logStreamName": stream},
                    account=account,
                    region=region,
                )
        except ServiceError as err:
            if (
                isinstance(err, NotImplementedOperation)
                or err.code != "ResourceAlreadyExistsException"
            ):
                raise
        self.created.add(key)


def batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``events`` in PutLogEvents-sized calls; a line too long for any call is cut."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        data = event["message"].encode()
        if len(data) + _OVERHEAD > _MAX_BYTES:
            message = data[: _MAX_BYTES - _OVERHEAD].decode("utf-8", "ignore")
            event = {"timestamp": event["timestamp"], "message": message}
            data = message.encode()
        n = len(data) + _OVERHEAD
        if batch and (size + n > _MAX_BYTES or len(batch) >= _MAX_BATCH):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += n
    if batch:
        yield batch
