"""Delivery streams' states settling in the background, and what runs while ACTIVE.

Why: on AWS, CreateDeliveryStream answers at once with the stream CREATING, and it
becomes ACTIVE a little later; DeleteDeliveryStream leaves it DELETING until it is
gone; Start/StopDeliveryStreamEncryption move the encryption status through ENABLING or
DISABLING to ENABLED or DISABLED. Here each change settles
``CLOUDLET_FIREHOSE_CHANGE_SECONDS`` after it was asked for (default 1 s). An ACTIVE
stream has its delivery loop (``worker.py``) and, when it reads a Kinesis stream, its
reader (``kinesis_source.py``); deleting a stream stops both at once and drops what it
had buffered when the deletion settles (the API reference makes no promise about it).
Settle times are stored with the stream, so after a restart what was settling settles
and ACTIVE streams deliver what they had buffered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.firehose.kinesis_source import KinesisReader
from cloudlet.services.firehose.model import DeliveryStream
from cloudlet.services.firehose.store import FirehoseStore

log = logging.getLogger(__name__)
CHANGE_SECONDS = seconds_setting("CLOUDLET_FIREHOSE_CHANGE_SECONDS", 1.0, high=300)
SETTLED = {"ENABLING": "ENABLED", "DISABLING": "DISABLED"}


class Lifecycle:
    """State changes and the tasks of ACTIVE streams (mixed into the service)."""

    env: Any
    store: FirehoseStore
    deliveries: Any
    readers: dict[str, asyncio.Task]
    settlers: dict[str, asyncio.Task]

    def _resume(self) -> None:
        for stream in list(self.store.streams.values()):
            if stream.status == "ACTIVE":
                self._run(stream)
            if self._pending(stream) is not None:
                self._schedule(stream)

    async def _close_tasks(self) -> None:
        tasks = [*self.readers.values(), *self.settlers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.readers.clear()
        self.settlers.clear()
        await self.deliveries.close()

    @staticmethod
    def _pending(stream: DeliveryStream) -> float | None:
        times = []
        if stream.status in ("CREATING", "DELETING"):
            times.append(stream.settle_at)
        if stream.encryption.get("Status") in SETTLED:
            times.append(stream.encryption_settle_at)
        return min(times) if times else None

    def _schedule(self, stream: DeliveryStream) -> None:
        old = self.settlers.pop(stream.arn, None)
        if old is not None:
            old.cancel()
        self.settlers[stream.arn] = asyncio.get_running_loop().create_task(
            self._settle(stream.arn), name=f"firehose-settle-{stream.name}"
        )

    async def _settle(self, arn: str) -> None:
        while (stream := self.store.streams.get(arn)) is not None:
            when = self._pending(stream)
            if when is None:
                break
            await asyncio.sleep(max(0.0, when - clock.time()))
            stream = self.store.streams.get(arn)
            if stream is None:
                break
            now = clock.time()
            if stream.status == "DELETING" and now >= stream.settle_at:
                await self._halt(arn)
                self.store.drop(stream)
                break
            if stream.status == "CREATING" and now >= stream.settle_at:
                stream.status = "ACTIVE"
                self._run(stream)
            status = stream.encryption.get("Status")
            if status in SETTLED and now >= stream.encryption_settle_at:
                stream.encryption["Status"] = SETTLED[status]
                if status == "DISABLING":
                    stream.encryption = {"Status": "DISABLED"}
            self.store.save(stream)
        self.settlers.pop(arn, None)

    def _run(self, stream: DeliveryStream) -> None:
        self.deliveries.start(stream)
        if stream.type == "KinesisStreamAsSource" and stream.arn not in self.readers:
            reader = KinesisReader(self, stream)
            self.readers[stream.arn] = asyncio.get_running_loop().create_task(
                reader.run(), name=f"firehose-read-{stream.name}"
            )

    async def _halt(self, arn: str) -> None:
        task = self.readers.pop(arn, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.deliveries.stop(arn)
