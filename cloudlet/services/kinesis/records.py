"""Records: PutRecord(s), shard iterators and GetRecords.

A record goes to the open shard whose hash key range holds its ExplicitHashKey, or the
MD5 of its partition key. A provisioned shard takes 1 MiB and 1,000 records a second,
as on AWS: past that a PutRecord is refused, and PutRecords reports the records it
could not take (``ProvisionedThroughputExceededException``) beside those it did, so
producers' retry paths are exercised. On-demand streams are not throttled.

A shard iterator is an opaque token (base64 of stream, shard, position and issue time)
that expires after ``ITERATOR_SECONDS`` (five minutes, as on AWS). A position is a
storage counter: reading resumes at the first record at or after it. SubscribeToShard
(``subscribe.py``) starts from the same positions and reads the same pages (``_page``),
so its records are GetRecords's to the byte.

Each PutRecord(s) and GetRecords tells the service's ``Meter`` what it did (stored,
refused, returned), for the ``AWS/Kinesis`` metrics (``metrics.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.core.environ import seconds_setting
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.metrics import Meter
from cloudlet.services.kinesis.model import (
    MAX_HASH,
    Shard,
    Stream,
    hash_key,
    parse_sequence,
    sequence_number,
)
from cloudlet.services.kinesis.store import KinesisStore, Record

if TYPE_CHECKING:
    from cloudlet.services.kinesis.subscribe import Subscriptions

Result = dict[str, Any]
ITERATOR_SECONDS = seconds_setting("CLOUDLET_KINESIS_ITERATOR_SECONDS", 300.0, low=1)
HOUR_SECONDS = seconds_setting("CLOUDLET_KINESIS_HOUR_SECONDS", 3600.0, low=0.01)
"""How long one hour of retention lasts (tests shorten it to see the sweep work)."""
MAX_RECORD = 1024 * 1024
MAX_REQUEST = 5 * 1024 * 1024
MAX_GET_BYTES = 10 * 1024 * 1024
SHARD_BYTES_PER_SECOND = 1024 * 1024
SHARD_RECORDS_PER_SECOND = 1000


class RecordOps:
    store: KinesisStore
    subscriptions: Subscriptions
    meter: Meter
    _usage: dict[tuple[str, str], tuple[int, int, int]]
    """(stream ARN, shard) -> (second, bytes, records) written in that second."""

    _stream: Callable[..., Stream]

    def _writable(self, ctx: Any, params: Result) -> Stream:
        stream = self._stream(ctx, params)
        if stream.status(clock.time()) == "CREATING":
            raise errors.not_found(stream.name, stream.account)
        return stream

    # -- writing --------------------------------------------------------------------

    def _route(self, stream: Stream, entry: Result) -> Shard:
        explicit = entry.get("ExplicitHashKey")
        if explicit is not None:
            if not explicit.isdigit() or int(explicit) > MAX_HASH:
                raise errors.invalid(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]."
                    f" Specified value was {explicit}"
                )
            key = int(explicit)
        else:
            key = hash_key(entry["PartitionKey"])
        return next(s for s in stream.open_shards() if s.holds(key))

    def _take(self, stream: Stream, shard: Shard, size: int) -> bool:
        """Whether the shard's write budget for this second has room for ``size`` bytes."""
        if stream.mode == "ON_DEMAND":
            return True
        second = int(clock.time())
        key = (stream.arn, shard.shard_id)
        at, used, count = self._usage.get(key, (second, 0, 0))
        if at != second:
            used, count = 0, 0
        if used + size > SHARD_BYTES_PER_SECOND or count + 1 > SHARD_RECORDS_PER_SECOND:
            return False
        self._usage[key] = (second, used + size, count + 1)
        return True

    @staticmethod
    def _size(entry: Result, where: str) -> int:
        data = entry["Data"]
        if len(data) > MAX_RECORD:
            raise errors.validation(
                f"1 validation error detected: Value at '{where}' failed to satisfy constraint:"
                f" Member must have length less than or equal to {MAX_RECORD}"
            )
        return len(data) + len(entry["PartitionKey"].encode())

    def put_record(self, ctx: Any, params: Result) -> Result:
        started = time.perf_counter()
        stream = self._writable(ctx, params)
        size = self._size(params, "data")
        shard = self._route(stream, params)
        if not self._take(stream, shard, size):
            self.meter.put_record(stream, shard.shard_id, None, started)
            raise errors.throttled(shard.shard_id, stream.name, stream.account)
        counter = self.store.next_counter()
        self.store.append(
            stream,
            [Record(shard.shard_id, counter, params["PartitionKey"], params["Data"], clock.time())],
        )
        self.subscriptions.wake(stream.arn)
        self.meter.put_record(stream, shard.shard_id, size, started)
        return {
            "ShardId": shard.shard_id,
            "SequenceNumber": sequence_number(shard, counter),
            "EncryptionType": stream.encryption,
        }

    def put_records(self, ctx: Any, params: Result) -> Result:
        started = time.perf_counter()
        stream = self._writable(ctx, params)
        entries = params["Records"]
        if len(entries) > 500:
            raise errors.validation(
                "1 validation error detected: Value at 'records' failed to satisfy constraint:"
                " Member must have length less than or equal to 500"
            )
        sizes = [self._size(e, f"records.{i + 1}.member.data") for i, e in enumerate(entries)]
        if sum(sizes) > MAX_REQUEST:
            raise errors.invalid("Records size exceeds 5 MB limit")
        shards = [self._route(stream, e) for e in entries]
        rows: list[Record] = []
        results: list[Result] = []
        now = clock.time()
        stored_bytes = 0
        by_shard: dict[str, list[int]] | None = {} if stream.shard_metrics else None
        for entry, shard, size in zip(entries, shards, sizes, strict=True):
            taken = self._take(stream, shard, size)
            if by_shard is not None:  # [bytes, stored, refused] for shard-level metrics
                tally = by_shard.setdefault(shard.shard_id, [0, 0, 0])
                if taken:
                    tally[0] += size
                    tally[1] += 1
                else:
                    tally[2] += 1
            if not taken:
                failure = errors.throttled(shard.shard_id, stream.name, stream.account)
                results.append({"ErrorCode": failure.code, "ErrorMessage": failure.message})
                continue
            stored_bytes += size
            counter = self.store.next_counter()
            rows.append(Record(shard.shard_id, counter, entry["PartitionKey"], entry["Data"], now))
            results.append(
                {"ShardId": shard.shard_id, "SequenceNumber": sequence_number(shard, counter)}
            )
        self.store.append(stream, rows)
        if rows:
            self.subscriptions.wake(stream.arn)
        self.meter.put_records(stream, len(entries), stored_bytes, len(rows), by_shard, started)
        return {
            "FailedRecordCount": len(entries) - len(rows),
            "Records": results,
            "EncryptionType": stream.encryption,
        }

    # -- reading --------------------------------------------------------------------

    def _shard(self, stream: Stream, shard_id: str) -> Shard:
        shard = stream.shard(shard_id)
        if shard is None:
            raise errors.shard_not_found(shard_id, stream.name, stream.account)
        return shard

    def _oldest(self, stream: Stream) -> float:
        return clock.time() - stream.retention_hours * HOUR_SECONDS

    def get_shard_iterator(self, ctx: Any, params: Result) -> Result:
        stream = self._writable(ctx, params)
        shard = self._shard(stream, params["ShardId"])
        position = self._position(
            stream,
            shard,
            params["ShardIteratorType"],
            params.get("StartingSequenceNumber"),
            params.get("Timestamp"),
        )
        return {"ShardIterator": _iterator(stream, shard, position)}

    def _position(
        self,
        stream: Stream,
        shard: Shard,
        kind: str,
        text: str | None,
        when: Any,
        *,
        operation: str = "GetShardIterator",
        member: str = "StartingSequenceNumber",
    ) -> int:
        """The storage counter a reader of ``shard`` starts at (GetShardIterator's
        iterator types, SubscribeToShard's starting positions)."""
        if kind == "TRIM_HORIZON":
            return shard.start_counter
        if kind == "LATEST":
            if shard.end_counter is not None:
                return shard.end_counter + 1
            return self.store.last_counter + 1
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not text:
                raise errors.invalid(f"{member} must be specified for ShardIteratorType {kind}.")
            parsed = parse_sequence(text)
            if parsed is None:
                raise errors.invalid(
                    f"{member} {text} used in {operation} on shard {shard.shard_id} in stream"
                    f" {stream.name} under account {stream.account} is invalid."
                )
            index, counter = parsed
            if index != shard.index:
                raise errors.invalid(
                    f"Invalid {member}. It encodes shardId-{index:012d}, while it was used in a"
                    f" call to a shard with {shard.shard_id}"
                )
            return counter + (kind == "AFTER_SEQUENCE_NUMBER")
        if kind == "AT_TIMESTAMP":
            if when is None:
                raise errors.invalid(
                    "The timestampInMillis parameter cannot be null for ShardIteratorType"
                    " AT_TIMESTAMP."
                )
            seconds = when.timestamp() if hasattr(when, "timestamp") else float(when)
            found = self.store.first_at(stream, shard.shard_id, seconds)
            return found if found is not None else self.store.last_counter + 1
        raise errors.validation(
            f"1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to"
            " satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER,"
            " AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
        )

    def get_records(self, ctx: Any, params: Result) -> Result:
        started = time.perf_counter()
        arn, shard_id, position, issued = _parse_iterator(params["ShardIterator"])
        now = clock.time()
        if now - issued > ITERATOR_SECONDS:
            if (known := self.store.streams.get(arn)) is not None:
                self.meter.get_records_failed(known, started)
            raise errors.expired_iterator(issued, now, ITERATOR_SECONDS)
        stream = self._stream(ctx, {"StreamARN": arn})
        shard = self._shard(stream, shard_id)
        limit = int(params.get("Limit") or 10000)
        if not 1 <= limit <= 10000:
            raise errors.validation(
                f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy"
                " constraint: Member must have value less than or equal to 10000"
            )
        page = self._page(stream, shard, position, limit, MAX_GET_BYTES)
        out: Result = {"Records": page.records, "MillisBehindLatest": page.behind}
        if page.children is not None:
            out["ChildShards"] = page.children
        else:
            out["NextShardIterator"] = _iterator(stream, shard, page.position)
        self.meter.get_records(stream, shard_id, len(page.records), page.size, page.age, started)
        return out

    def _page(self, stream: Stream, shard: Shard, position: int, limit: int, budget: int) -> Page:
        """Up to ``limit`` records (``budget`` bytes, at least one record) of ``shard``
        from ``position``, as GetRecords and SubscribeToShard hand them out."""
        now = clock.time()
        rows = self.store.read(stream, shard.shard_id, position, self._oldest(stream), limit + 1)
        taken: list[Record] = []
        size = 0
        for row in rows[:limit]:
            more_size = size + len(row.data) + len(row.partition_key)
            if taken and more_size > budget:
                break
            size = more_size
            taken.append(row)
        more = len(rows) > len(taken)
        records = [
            {
                "SequenceNumber": sequence_number(shard, r.counter),
                "ApproximateArrivalTimestamp": utc_datetime(r.arrival),
                "Data": r.data,
                "PartitionKey": r.partition_key,
                **({"EncryptionType": stream.encryption} if stream.encryption != "NONE" else {}),
            }
            for r in taken
        ]
        behind = int((now - rows[len(taken)].arrival) * 1000) if more else 0
        children = None
        if shard.end_counter is not None and not more:
            children = [
                {
                    "ShardId": child.shard_id,
                    "ParentShards": [p for p in (child.parent, child.adjacent_parent) if p],
                    "HashKeyRange": {
                        "StartingHashKey": str(child.start_key),
                        "EndingHashKey": str(child.end_key),
                    },
                }
                for child in stream.shards
                if shard.shard_id in (child.parent, child.adjacent_parent)
            ]
        next_position = taken[-1].counter + 1 if taken else position
        age = int((now - taken[-1].arrival) * 1000) if taken and more else 0
        return Page(records, next_position, more, max(0, behind), children, size, max(0, age))


@dataclass(slots=True)
class Page:
    """One read of a shard: the records in the API's shape and where the next starts."""

    records: list[Result]
    position: int
    more: bool
    """Records past this page are already there."""
    behind: int
    """MillisBehindLatest."""
    children: list[Result] | None
    """The shard's children once it is closed and this page read its end; else None."""
    size: int
    """The bytes of the page's records (data and partition keys)."""
    age: int
    """Milliseconds since the last record of the page arrived; 0 when the page caught up
    with the shard, or holds nothing (the iterator age metrics)."""


def _iterator(stream: Stream, shard: Shard, position: int) -> str:
    text = json.dumps([stream.arn, shard.shard_id, position, clock.time()])
    return base64.b64encode(text.encode()).decode()


def _parse_iterator(token: str) -> tuple[str, str, int, float]:
    try:
        arn, shard_id, position, issued = json.loads(base64.b64decode(token, validate=True))
        return str(arn), str(shard_id), int(position), float(issued)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise errors.invalid(f"Invalid ShardIterator: {token}") from None
