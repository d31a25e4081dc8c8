"""Streams and shards as plain data, and the number formats Kinesis shows for them.

Why these formats: clients compare and store what Kinesis hands out, so hash keys are
decimal strings over 0..2^128-1 (a partition key's MD5 read as a big-endian number picks
the shard whose range holds it), and sequence numbers are 56-digit decimal strings that
grow within a shard. A sequence number here is ``49 * 10^54 + shard index * 10^44 +
counter``: the counter (microseconds of arrival, kept strictly increasing) orders the
records of a shard in storage, and the shard index lets a sequence number used on the
wrong shard be refused, as Kinesis refuses it.

A consumer's ARN ends in its creation time in epoch seconds, as Kinesis's does, so a
consumer registered again under the same name (in a later second) has a new ARN.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_HASH = 2**128 - 1
_SEQ_BASE = 49 * 10**54
_SHARD_UNIT = 10**44


@dataclass
class Shard:
    shard_id: str
    start_key: int
    end_key: int
    start_counter: int
    end_counter: int | None = None
    """The last counter the shard may hold once closed (by resharding)."""
    parent: str | None = None
    adjacent_parent: str | None = None

    @property
    def index(self) -> int:
        return int(self.shard_id.rsplit("-", 1)[1])

    @property
    def is_open(self) -> bool:
        return self.end_counter is None

    def holds(self, key: int) -> bool:
        return self.start_key <= key <= self.end_key


@dataclass
class Stream:
    name: str
    arn: str
    account: str
    region: str
    created: float
    ready_at: float
    """Until then the stream is ``busy`` (CREATING or UPDATING)."""
    busy: str = "CREATING"
    mode: str = "PROVISIONED"
    retention_hours: int = 24
    tags: dict[str, str] = field(default_factory=dict)
    encryption: str = "NONE"
    key_id: str | None = None
    shards: list[Shard] = field(default_factory=list)
    next_index: int = 0
    mode_changes: list[float] = field(default_factory=list)
    """When UpdateStreamMode switched the mode (epoch s), for its 24-hour allowance."""
    shard_metrics: list[str] = field(default_factory=list)
    """The shard-level metrics EnableEnhancedMonitoring turned on, in AWS's order."""
    policy: str | None = None
    """The resource policy document PutResourcePolicy attached, as given."""

    def status(self, now: float) -> str:
        return self.busy if now < self.ready_at else "ACTIVE"

    def open_shards(self) -> list[Shard]:
        return [s for s in self.shards if s.is_open]

    def shard(self, shard_id: str) -> Shard | None:
        return next((s for s in self.shards if s.shard_id == shard_id), None)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Stream:
        shards = [Shard(**s) for s in doc.get("shards", [])]
        return cls(**{**doc, "shards": shards})

    def add_shards(self, count: int, counter: int, parents: list[Shard] | None = None) -> None:
        """``count`` new open shards splitting the hash key space evenly; with
        ``parents``, each names the old shards its range overlaps."""
        width = (MAX_HASH + 1) // count
        for i in range(count):
            start = i * width
            end = MAX_HASH if i == count - 1 else (i + 1) * width - 1
            shard = Shard(shard_id(self.next_index), start, end, counter)
            self.next_index += 1
            overlapping = [p for p in parents or [] if p.start_key <= end and start <= p.end_key]
            if overlapping:
                shard.parent = overlapping[0].shard_id
                if len(overlapping) > 1:
                    shard.adjacent_parent = overlapping[1].shard_id
            self.shards.append(shard)


@dataclass
class Consumer:
    """An enhanced fan-out consumer registered with a stream."""

    name: str
    arn: str
    stream_arn: str
    created: float
    ready_at: float
    """Until then the consumer is ``busy`` (CREATING or DELETING); a DELETING one is
    gone after it."""
    busy: str = "CREATING"
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None
    """The resource policy document PutResourcePolicy attached, as given."""

    def status(self, now: float) -> str | None:
        """CREATING, ACTIVE or DELETING; None once a deregistration has finished."""
        if now < self.ready_at:
            return self.busy
        return "ACTIVE" if self.busy == "CREATING" else None

    @property
    def stream_name(self) -> str:
        return self.stream_arn.split(":stream/", 1)[1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Consumer:
        return cls(**doc)


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")  # noqa: S324


def sequence_number(shard: Shard, counter: int) -> str:
    return str(_SEQ_BASE + shard.index * _SHARD_UNIT + counter)


def parse_sequence(text: str) -> tuple[int, int] | None:
    """(shard index, counter) of a sequence number; None when it is not one of ours."""
    if not text.isdigit() or len(text) != 56:
        return None
    rest = int(text) - _SEQ_BASE
    if rest < 0:
        return None
    return rest // _SHARD_UNIT, rest % _SHARD_UNIT


def stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


def consumer_arn(stream_arn: str, name: str, created: float) -> str:
    return f"{stream_arn}/consumer/{name}:{int(created)}"
