"""Subscription filters whose destination is a Kinesis data stream (directly, or through a
cross-account destination): the test message at creation, and the records after each
PutLogEvents.

Why it is built this way (the PutSubscriptionFilter reference, the user guide's
"Subscription filters with Kinesis Data Streams", and the refusals AWS users quote):

- **Creation tests the stream.** A Kinesis destination needs ``roleArn`` (without one:
  ``destinationArn for vendor kinesis cannot be used without roleArn``). The stream must
  be the filter's account's, in its Region, and ACTIVE (or UPDATING, which takes writes):
  PutSubscriptionFilter writes AWS's ``CONTROL_MESSAGE`` to it with Kinesis's own
  PutRecords, and answers ``Could not deliver test message to specified Kinesis
  stream...`` when it cannot. The role itself is not assumed (cloudlet does not check
  that it trusts ``logs.amazonaws.com``).
- **Records after the answer.** Each filter that matches a batch gives one DATA_MESSAGE
  (``envelope``), split into several records when its gzip would pass Kinesis's 1 MiB,
  queued here and sent by a background task with PutRecords (``ServiceEnv.call``), so
  PutLogEvents never waits for Kinesis.
- **Partition keys follow ``distribution``**: ``ByLogStream`` (the default) keys a record
  by its log stream's name, so one stream's events stay on one shard in order (an MD5 hex
  digest stands in for names longer than Kinesis's 256-character keys); ``Random`` gives
  every record a random key, spreading load over the shards. AWS documents the two
  behaviours, not the key strings; the strings are cloudlet's.
- **Throttled records are retried, not lost.** A record PutRecords refuses (a shard's
  1 MiB or 1,000 records a second, a stream that went away) is retried with doubling
  back-off up to ``MAX_BACKOFF`` seconds, for up to 24 hours as AWS documents
  ("Throttled deliverables are retried for up to 24 hours. After 24 hours, the failed
  deliverables are dropped."); then it is dropped with a warning.
  ``CLOUDLET_LOGS_KINESIS_RETRY_INTERVAL`` and ``CLOUDLET_LOGS_KINESIS_GIVE_UP_SECONDS``
  shorten both for tests. At most ``MAX_PENDING`` records wait (the oldest are dropped,
  with a warning, past that), and waiting records do not survive a restart.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import token_hex
from cloudlet.services.logs import errors
from cloudlet.services.logs.envelope import Message, control_message, encode, fitted
from cloudlet.services.logs.groups import now_ms

log = logging.getLogger(__name__)
RETRY_INTERVAL = seconds_setting("CLOUDLET_LOGS_KINESIS_RETRY_INTERVAL", 1.0, low=0.05)
GIVE_UP_SECONDS = seconds_setting("CLOUDLET_LOGS_KINESIS_GIVE_UP_SECONDS", 86_400.0, low=0.1)
MAX_BACKOFF = 60.0
MAX_RECORD = 1024 * 1024
BATCH_RECORDS = 500
BATCH_BYTES = 5 * 1024 * 1024
MAX_PENDING = 100_000
MAX_KEY = 256
WRITABLE = ("ACTIVE", "UPDATING")
Target = tuple[str, str, str]
"""(account, region, stream ARN): where a subscription's records go, and as whom."""


def partition_key(distribution: str | None, log_stream: str) -> str:
    """A record's partition key under the filter's ``distribution``."""
    if distribution == "Random":
        return token_hex(16)
    if len(log_stream) <= MAX_KEY:
        return log_stream
    return hashlib.md5(log_stream.encode(), usedforsecurity=False).hexdigest()


def stream_target(arn: str) -> Target | None:
    """The target of a Kinesis stream ARN (``arn:aws:kinesis:<region>:<account>:stream/<name>``),
    None when ``arn`` is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
        return None
    if not parts[5][len("stream/") :]:
        return None
    return parts[4], parts[3], arn


@dataclass(slots=True)
class Pending:
    target: Target
    key: str
    data: bytes
    first: float
    tries: int = 0
    due: float = 0.0


class KinesisSender:
    """Records waiting for Kinesis, sent in order by one background flush at a time."""

    def __init__(self, env: Any, background: Background) -> None:
        self.env = env
        self._background = background
        self._pending: deque[Pending] = deque()
        self._scheduled = False

    def __len__(self) -> int:
        return len(self._pending)

    def send(self, target: Target, records: list[tuple[str, bytes]]) -> None:
        """Queue ``records`` (partition key, data) for ``target`` and start a flush."""
        now = clock.time()
        for key, data in records:
            self._pending.append(Pending(target, key, data, now, due=now))
        while len(self._pending) > MAX_PENDING:
            dropped = self._pending.popleft()
            log.warning(
                "subscription records for %s dropped: more than %d waiting",
                dropped.target[2],
                MAX_PENDING,
            )
        self._kick()

    def _kick(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            if self._background.spawn(self.flush()) is None:
                self._scheduled = False

    async def flush(self) -> None:
        """Send every record that is due; what Kinesis refuses waits for a later flush."""
        self._scheduled = False
        now = clock.time()
        due: dict[Target, list[Pending]] = {}
        waiting: deque[Pending] = deque()
        for p in self._pending:
            if p.due <= now:
                due.setdefault(p.target, []).append(p)
            else:
                waiting.append(p)
        self._pending = waiting
        for target, records in due.items():
            for chunk in _chunks(records):
                await self._put(target, chunk)

    async def tick(self) -> None:
        """The periodic retry pass (``RETRY_INTERVAL``)."""
        if self._pending:
            await self.flush()

    async def _put(self, target: Target, chunk: list[Pending]) -> None:
        account, region, arn = target
        entries = [{"PartitionKey": p.key, "Data": p.data} for p in chunk]
        refused = await self.env.put_records(arn, entries, account=account, region=region)
        now = clock.time()
        for p, code in zip(chunk, refused, strict=False):
            if not code:
                continue
            if now - p.first >= GIVE_UP_SECONDS:
                log.warning(
                    "subscription record for %s dropped after %d tries over %.0f s: %s",
                    arn,
                    p.tries + 1,
                    now - p.first,
                    code,
                )
                continue
            p.tries += 1
            p.due = now + min(MAX_BACKOFF, RETRY_INTERVAL * 2 ** (p.tries - 1))
            self._pending.append(p)


def _chunks(records: list[Pending]) -> list[list[Pending]]:
    """PutRecords-sized groups: at most 500 records and 5 MiB of data and keys."""
    out: list[list[Pending]] = []
    chunk: list[Pending] = []
    size = 0
    for p in records:
        n = len(p.data) + len(p.key.encode())
        if chunk and (len(chunk) >= BATCH_RECORDS or size + n > BATCH_BYTES):
            out.append(chunk)
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        out.append(chunk)
    return out


class KinesisDeliveryMixin:
    """Kinesis targets for ``FiltersMixin``: the creation test and the records. Needs
    ``env``, ``_kinesis`` (a ``KinesisSender``) and ``_destination_target``
    (``DestinationsMixin``)."""

    env: Any
    _kinesis: KinesisSender

    _destination_target: Callable[[str], Target | None]

    async def _check_stream_filter(self, ctx: Any, arn: str) -> None:
        """PutSubscriptionFilter's checks of a Kinesis stream destination, and its test
        message (the role's presence is checked before the filter limit)."""
        target = stream_target(arn)
        if target is None or target[:2] != (ctx.account_id, ctx.region):
            raise errors.kinesis_unreachable()
        await self._test_stream(target)

    async def _test_stream(self, target: Target) -> None:
        """Write AWS's CONTROL_MESSAGE to the stream, or refuse as AWS does."""
        account, region, arn = target
        test = {"PartitionKey": token_hex(16), "Data": encode(control_message(now_ms()))}
        try:
            summary = await self.env.call(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": arn},
                account=account,
                region=region,
            )
            writable = summary["StreamDescriptionSummary"]["StreamStatus"] in WRITABLE
            out = (
                await self.env.call(
                    "kinesis",
                    "PutRecords",
                    {"StreamARN": arn, "Records": [test]},
                    account=account,
                    region=region,
                )
                if writable
                else {"FailedRecordCount": 1}
            )
        except ServiceError as err:  # NotImplementedOperation too: Kinesis is not running
            log.debug("test message to %s refused: %s", arn, err.message)
            raise errors.kinesis_unreachable() from None
        if out.get("FailedRecordCount"):
            raise errors.kinesis_unreachable()

    def _to_kinesis(self, doc: dict[str, Any], log_stream: str, message: Message) -> None:
        """Queue a DATA_MESSAGE for the filter ``doc``'s stream (or destination's)."""
        arn = doc["destinationArn"]
        target = stream_target(arn) or self._destination_target(arn)
        if target is None:
            log.debug("subscription %s: destination %s is gone", doc["filterName"], arn)
            return
        distribution = doc.get("distribution")
        records = [
            (partition_key(distribution, log_stream), data) for data in fitted(message, MAX_RECORD)
        ]
        self._kinesis.send(target, records)
