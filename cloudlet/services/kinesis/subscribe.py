"""SubscribeToShard: a shard's records pushed to an enhanced fan-out consumer.

The answer is an event stream of ``SubscribeToShardEvent``s, each the records that
arrived since the last (GetRecords's shape, read by the same code, ``RecordOps._page``),
a ``ContinuationSequenceNumber`` to resume from and ``MillisBehindLatest``. The first
event goes at once; after that one goes when records arrive (PutRecord(s) wake the
subscriptions of their stream), else one a second, as Kinesis keeps a subscription
alive. A subscription lasts ``SUBSCRIPTION_SECONDS`` (five minutes, as on AWS), then the
stream ends cleanly; the client subscribes again from its continuation number. A closed
shard's subscription ends with the event that carries its ``ChildShards``, once its
records are read.

One subscription per consumer and shard, as AWS documents: another SubscribeToShard
within ``TAKEOVER_SECONDS`` (5) of a subscription's start is refused with
ResourceInUseException; a later one takes over, and the first ends with that exception.
A consumer deregistered, or its stream deleted, ends its subscriptions with an exception
event too. Subscriptions begun or refused, and every event sent, are counted for the
consumer's ``SubscribeToShard*`` metrics (``metrics.py``). However the sending of the response ends (the server stopping cancels it
after uvicorn's grace period; ``Subscriptions.end_all`` ends any left at service stop),
the event source is closed at once and lets go of its subscription. A client that
leaves ends its subscription at once too: the gateway closes a streamed body whose
client has gone (``gateway/asgi.send_response``).

Each event goes out as soon as it is made: the gateway sends an event stream's pieces as
they come (``gateway/asgi.send_response``), not one behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.protocols.eventstream import StreamError
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.consumers import ConsumerOps
from cloudlet.services.kinesis.model import Shard, Stream, sequence_number
from cloudlet.services.kinesis.records import RecordOps

Result = dict[str, Any]
SUBSCRIPTION_SECONDS = seconds_setting(
    "CLOUDLET_KINESIS_SUBSCRIPTION_SECONDS", 300.0, low=0.1, high=300.0
)
TAKEOVER_SECONDS = seconds_setting("CLOUDLET_KINESIS_TAKEOVER_SECONDS", 5.0, high=300.0)
HEARTBEAT = 1.0
EVENT_RECORDS = 10000
EVENT_BYTES = 2 * 1024 * 1024
"""A shard pushes 2 MiB a second to each consumer: one event's worth, at most."""


@dataclass(eq=False)
class Subscription:
    consumer_arn: str
    stream_arn: str
    shard_id: str
    started: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    failure: ServiceError | None = None
    """Why it must end with an exception event (another subscription took over)."""
    stopping: bool = False
    """The server is stopping: end cleanly."""

    def live(self, now: float) -> bool:
        return (
            self.failure is None and not self.stopping and now < self.started + SUBSCRIPTION_SECONDS
        )

    def poke(self) -> None:
        """Wake the subscription's sender, from any thread."""
        with contextlib.suppress(RuntimeError):  # its loop is closed: nothing to wake
            self.loop.call_soon_threadsafe(self.wake.set)


class Subscriptions:
    """The subscriptions in flight, one per consumer and shard; the loop's own (no lock)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Subscription] = {}

    def open(self, consumer_arn: str, stream_arn: str, shard_id: str) -> Subscription:
        now = clock.time()
        key = (consumer_arn, shard_id)
        current = self._by_key.get(key)
        if current is not None and current.live(now):
            if now - current.started < TAKEOVER_SECONDS:
                raise errors.subscription_in_use()
            current.failure = errors.subscription_in_use()
            current.poke()
        sub = Subscription(consumer_arn, stream_arn, shard_id, now)
        self._by_key[key] = sub
        return sub

    def close(self, sub: Subscription) -> None:
        key = (sub.consumer_arn, sub.shard_id)
        if self._by_key.get(key) is sub:
            del self._by_key[key]

    def wake(self, stream_arn: str) -> None:
        """Records arrived in, or shards or consumers of, ``stream_arn`` changed."""
        for sub in self._by_key.values():
            if sub.stream_arn == stream_arn:
                sub.poke()

    def end_all(self) -> None:
        for sub in self._by_key.values():
            sub.stopping = True
            sub.poke()

    def __len__(self) -> int:
        return len(self._by_key)


class SubscribeOps(ConsumerOps, RecordOps):
    """SubscribeToShard (mixed into ``KinesisService``)."""

    subscriptions: Subscriptions

    def subscribe_to_shard(self, ctx: Any, params: Result) -> Result:
        consumer = self._consumer(ctx, {"ConsumerARN": params["ConsumerARN"]})
        if consumer.status(clock.time()) != "ACTIVE":
            raise errors.consumer_not_active(
                consumer.name, consumer.created, consumer.stream_name, consumer.account
            )
        stream = self.store.streams[consumer.stream_arn]  # deleting it deletes its consumers
        shard = self._shard(stream, params["ShardId"])
        start = params["StartingPosition"]
        position = self._position(
            stream,
            shard,
            start["Type"],
            start.get("SequenceNumber"),
            start.get("Timestamp"),
            operation="SubscribeToShard",
            member="SequenceNumber",
        )
        try:
            sub = self.subscriptions.open(consumer.arn, stream.arn, shard.shard_id)
        except ServiceError:
            self.meter.subscribed(stream.arn, consumer.name, ok=False)
            raise
        self.meter.subscribed(stream.arn, consumer.name, ok=True)
        return {"EventStream": self._events(sub, position, consumer.name)}

    async def _events(
        self, sub: Subscription, position: int, consumer: str
    ) -> AsyncIterator[Result]:
        loop = asyncio.get_running_loop()
        end = loop.time() + SUBSCRIPTION_SECONDS
        try:
            while True:
                sub.wake.clear()
                stream, shard = self._subscribed(sub)
                page = self._page(stream, shard, position, EVENT_RECORDS, EVENT_BYTES)
                event: Result = {"Records": page.records, "MillisBehindLatest": page.behind}
                self.meter.event(
                    stream, consumer, shard.shard_id, len(page.records), page.size, page.behind
                )
                if page.children is not None:  # the shard is closed and read to its end
                    event["ChildShards"] = page.children
                    yield {"SubscribeToShardEvent": event}
                    return
                position = page.position
                event["ContinuationSequenceNumber"] = sequence_number(shard, position - 1)
                yield {"SubscribeToShardEvent": event}
                left = end - loop.time()
                if left <= 0 or sub.stopping:
                    return
                if page.more:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.wake.wait(), min(HEARTBEAT, left))
                if sub.stopping or loop.time() >= end:
                    return
        finally:
            self.subscriptions.close(sub)

    def _subscribed(self, sub: Subscription) -> tuple[Stream, Shard]:
        """The stream and shard a subscription reads, while it may go on reading them;
        else the exception that ends it."""
        if sub.failure is not None:
            raise StreamError(sub.failure.code, sub.failure.message)
        consumer = self.store.consumers.get(sub.consumer_arn)
        status = consumer.status(clock.time()) if consumer is not None else None
        stream = self.store.streams.get(sub.stream_arn)
        if consumer is None or status is None or stream is None:
            owner, _, rest = sub.consumer_arn.partition("/consumer/")
            gone = errors.consumer_not_found(
                rest.rsplit(":", 1)[0], owner.split(":stream/", 1)[-1], owner.split(":")[4]
            )
            raise StreamError(gone.code, gone.message)
        if status != "ACTIVE":
            failure = errors.consumer_not_active(
                consumer.name, consumer.created, consumer.stream_name, consumer.account
            )
            raise StreamError(failure.code, failure.message)
        shard = stream.shard(sub.shard_id)
        assert shard is not None  # shards are never removed from a stream
        return stream, shard
