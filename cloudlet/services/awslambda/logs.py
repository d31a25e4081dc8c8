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
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.base import ServiceEnv

log = logging.getLogger(__name__)
_MAX_BATCH = 10000


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
                for i in range(0, len(events), _MAX_BATCH):
                    await self.env.call(
                        "logs",
                        "PutLogEvents",
                        {
                            "logGroupName": group,
                            "logStreamName": stream,
                            "logEvents": events[i : i + _MAX_BATCH],
                        },
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
