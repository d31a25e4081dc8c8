"""Subscription filters whose destination is a stream: a Kinesis data stream or a Firehose
delivery stream (directly, or through a cross-account destination): the test message at
creation, the role, and the records after each PutLogEvents.

Why it is built this way (the PutSubscriptionFilter reference, the user guide's
"Subscription filters with Kinesis Data Streams" and "... with Amazon Data Firehose", and
the refusals AWS users quote); what is Firehose's own is ``firehose_delivery``'s, the rest
is shared:

- **Creation tests the stream.** A Kinesis or Firehose destination needs ``roleArn``
  (without one: ``destinationArn for vendor kinesis cannot be used without roleArn``).
  The stream must be the filter's account's, in its Region, and ACTIVE (a Kinesis stream
  may be UPDATING, which takes writes): PutSubscriptionFilter writes AWS's
  ``CONTROL_MESSAGE`` to it with the stream's own PutRecords or PutRecordBatch, and
  answers ``Could not deliver test message to specified Kinesis stream...`` (``Firehose
  stream``) when it cannot.
- **As the role.** CloudWatch Logs writes as ``roleArn`` (a destination's own role for a
  destination). In strict mode the role's identity policies must allow
  ``kinesis:PutRecord`` or ``kinesis:PutRecords`` (``firehose:PutRecord`` or
  ``firehose:PutRecordBatch``) on the stream (``ServiceEnv.role_may``): else the test
  message is refused as above, and records a role no longer may write are refused and
  retried like throttled ones. The role's trust policy is not consulted.
- **Records after the answer.** Each filter that matches a batch gives one DATA_MESSAGE
  (``envelope``), split into several records when its gzip would pass the stream's
  record size (1 MiB for Kinesis, 1,000 KiB for Firehose), queued here and sent by a
  background task (``ServiceEnv.call``), so PutLogEvents never waits for the stream.
- **Partition keys follow ``distribution``** (Kinesis only): ``ByLogStream`` (the
  default) keys a record by its log stream's name, so one stream's events stay on one
  shard in order (an MD5 hex digest stands in for names longer than Kinesis's
  256-character keys); ``Random`` gives every record a random key, spreading load over
  the shards. AWS documents the two behaviours, not the key strings; the strings are
  cloudlet's.
- **Throttled records are retried, not lost.** A record the stream refuses (a shard's
  1 MiB or 1,000 records a second, a stream that went away, a role that may not write)
  is retried with doubling back-off up to ``MAX_BACKOFF`` seconds, for up to 24 hours as
  AWS documents ("Throttled deliverables are retried for up to 24 hours. After 24 hours,
  the failed deliverables are dropped."); then it is dropped with a warning.
  ``CLOUDLET_LOGS_KINESIS_RETRY_INTERVAL`` and ``CLOUDLET_LOGS_KINESIS_GIVE_UP_SECONDS``
  shorten both for tests (for Firehose streams too). At most ``MAX_PENDING`` records
  wait (the oldest are dropped, with a warning, past that), and waiting records do not
  survive a restart.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import token_hex
from cloudlet.services.logs import errors, firehose_delivery
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
SESSION = "CloudWatchLogsSubscription"
WRITES = {
    "kinesis": ("kinesis:PutRecord", "kinesis:PutRecords"),
    "firehose": ("firehose:PutRecord", "firehose:PutRecordBatch"),
}
"""The actions a role must be allowed (any one) to write to each kind of stream."""


class Target(NamedTuple):
    """Where a subscription's records go, and as whom."""

    account: str
    region: str
    arn: str
    """A Kinesis stream's ARN or a Firehose delivery stream's."""
    role: str | None = None

    @property
    def kind(self) -> str:
        """``kinesis`` or ``firehose``."""
        return self.arn.split(":", 3)[2]


def partition_key(distribution: str | None, log_stream: str) -> str:
    """A record's partition key under the filter's ``distribution``."""
    if distribution == "Random":
        return token_hex(16)
    if len(log_stream) <= MAX_KEY:
        return log_stream
    return hashlib.md5(log_stream.encode(), usedforsecurity=False).hexdigest()


def stream_target(arn: str, role: str | None = None) -> Target | None:
    """The target of a Kinesis stream ARN (``arn:aws:kinesis:<region>:<account>:stream/<name>``)
    or a Firehose delivery stream ARN, None when ``arn`` is neither."""
    where = firehose_delivery.hose_where(arn)
    if where is not None:
        return Target(*where, role)
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
        return None
    if not parts[5][len("stream/") :]:
        return None
    return Target(parts[4], parts[3], arn, role)


def unreachable(kind: str) -> ServiceError:
    """The refusal of a stream that cannot take the test message, in AWS's words."""
    return firehose_delivery.unreachable() if kind == "firehose" else errors.kinesis_unreachable()


def role_may_write(env: Any, target: Target) -> bool:
    """Strict mode: whether the target's role may write to its stream."""
    return env.role_may(target.role, WRITES[target.kind], target.arn, session=SESSION)


@dataclass(slots=True)
class Pending:
    target: Target
    key: str
    data: bytes
    first: float
    tries: int = 0
    due: float = 0.0


class KinesisSender:
    """Records waiting for their stream (Kinesis or Firehose), sent in order by one
    background flush at a time."""

    def __init__(self, env: Any, background: Background) -> None:
        self.env = env
        self._background = background
        self._pending: deque[Pending] = deque()
        self._scheduled = False

    def __len__(self) -> int:
        return len(self._pending)

    def send(self, target: Target, records: list[tuple[str, bytes]]) -> None:
        """Queue ``records`` (partition key, data) for ``target`` and start a flush."""
        target = Target(*target)
        now = clock.time()
        for key, data in records:
            self._pending.append(Pending(target, key, data, now, due=now))
        while len(self._pending) > MAX_PENDING:
            dropped = self._pending.popleft()
            log.warning(
                "subscription records for %s dropped: more than %d waiting",
                dropped.target.arn,
                MAX_PENDING,
            )
        self._kick()

    def _kick(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            if self._background.spawn(self.flush()) is None:
                self._scheduled = False

    async def flush(self) -> None:
        """Send every record that is due; what the stream refuses waits for a later flush."""
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
            for chunk in _chunks(target, records):
                await self._put(target, chunk)

    async def tick(self) -> None:
        """The periodic retry pass (``RETRY_INTERVAL``)."""
        if self._pending:
            await self.flush()

    async def _put(self, target: Target, chunk: list[Pending]) -> None:
        refused: list[str | None]
        if target.role and not role_may_write(self.env, target):
            refused = ["AccessDeniedException"] * len(chunk)
        elif target.kind == "firehose":
            where = (target.account, target.region, target.arn)
            refused = await firehose_delivery.put_hose(self.env, where, [p.data for p in chunk])
        else:
            entries = [{"PartitionKey": p.key, "Data": p.data} for p in chunk]
            refused = await self.env.put_records(
                target.arn, entries, account=target.account, region=target.region
            )
        now = clock.time()
        for p, code in zip(chunk, refused, strict=False):
            if not code:
                continue
            if now - p.first >= GIVE_UP_SECONDS:
                log.warning(
                    "subscription record for %s dropped after %d tries over %.0f s: %s",
                    target.arn,
                    p.tries + 1,
                    now - p.first,
                    code,
                )
                continue
            p.tries += 1
            p.due = now + min(MAX_BACKOFF, RETRY_INTERVAL * 2 ** (p.tries - 1))
            self._pending.append(p)


def _chunks(target: Target, records: list[Pending]) -> list[list[Pending]]:
    """Groups of one call's size: 500 records and 5 MiB of data and keys for Kinesis's
    PutRecords, 500 records and 4 MiB for Firehose's PutRecordBatch."""
    if target.kind == "firehose":
        most, limit = firehose_delivery.BATCH_RECORDS, firehose_delivery.BATCH_BYTES
    else:
        most, limit = BATCH_RECORDS, BATCH_BYTES
    out: list[list[Pending]] = []
    chunk: list[Pending] = []
    size = 0
    for p in records:
        n = len(p.data) + len(p.key.encode())
        if chunk and (len(chunk) >= most or size + n > limit):
            out.append(chunk)
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        out.append(chunk)
    return out


class KinesisDeliveryMixin:
    """Stream targets for ``FiltersMixin``: the creation test and the records. Needs
    ``env``, ``_kinesis`` (a ``KinesisSender``) and ``_destination_target``
    (``DestinationsMixin``)."""

    env: Any
    _kinesis: KinesisSender

    _destination_target: Callable[[str], Target | None]

    async def _check_stream_filter(self, ctx: Any, arn: str, role: str | None) -> None:
        """PutSubscriptionFilter's checks of a Kinesis or Firehose stream destination,
        and its test message (the role's presence is checked before the filter limit)."""
        target = stream_target(arn, role)
        if target is None or (target.account, target.region) != (ctx.account_id, ctx.region):
            raise unreachable(arn.split(":")[2] if arn.count(":") >= 5 else "kinesis")
        await self._test_stream(target)

    async def _test_stream(self, target: Target) -> None:
        """Write AWS's CONTROL_MESSAGE to the stream as the target's role, or refuse as
        AWS does."""
        if target.role and not role_may_write(self.env, target):
            raise unreachable(target.kind)
        if target.kind == "firehose":
            where = (target.account, target.region, target.arn)
            return await firehose_delivery.write_control(self.env, where, now_ms())
        account, region, arn = target.account, target.region, target.arn
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

    def _to_stream(self, doc: dict[str, Any], log_stream: str, message: Message) -> None:
        """Queue a DATA_MESSAGE for the filter ``doc``'s stream (or destination's)."""
        arn = doc["destinationArn"]
        target = stream_target(arn, doc.get("roleArn")) or self._destination_target(arn)
        if target is None:
            log.debug("subscription %s: destination %s is gone", doc["filterName"], arn)
            return
        if target.kind == "firehose":
            records = [("", data) for data in fitted(message, firehose_delivery.MAX_RECORD)]
        else:
            distribution = doc.get("distribution")
            records = [
                (partition_key(distribution, log_stream), data)
                for data in fitted(message, MAX_RECORD)
            ]
        self._kinesis.send(target, records)
