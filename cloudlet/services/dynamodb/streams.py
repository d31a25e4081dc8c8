"""DynamoDB Streams: the table change log read as streams, shards, iterators and records.

Why it is built on ``changes``: ``Engine.write`` logs every item change in the
transaction that makes it, labelled with the table's current stream, so a
stream can neither miss a change nor show one that was rolled back. This module
only reads that log: a stream's records are the ``changes`` rows of its table
whose ``record["stream"]`` is the stream's label, in ``seq`` order (``seq`` is
one counter for the whole engine, so it doubles as the sequence number).

Shapes, as AWS has them:

- one shard per stream (``shardId-<created ms>-<hash>``), closed (it gets an
  ``EndingSequenceNumber``) when the stream is disabled; a disabled stream stays
  readable for 24 hours, then the table forgets it;
- a shard iterator is ``<stream arn>|1|<base64 of shard, position, issue time>``,
  valid for 15 minutes;
- records older than 24 hours are trimmed from every stream; ``changes`` rows are
  kept longer (35 days) only for point-in-time recovery.

When UpdateTable replaces a disabled stream by a new one, the table only keeps
the new one; the old stream's view type and label are remembered in
``stream_history`` (noted when the stream logs its first record, or is listed or
described) so the old stream stays readable, as on AWS, until its 24 hours pass.

DeleteTable does the same for the whole table: a table with a readable stream is
remembered in ``dropped_tables`` (its description, the stream disabled at the
drop) and its ``changes`` rows stay, so the stream is listed, described and read,
DISABLED with its shard closed, for 24 hours, even beside a new table of the same
name; then the retention sweep forgets it and its rows.

Consumers inside cloudlet (a Lambda event-source mapping) use two things:

- ``engine.change_hooks``: callables ``hook(table, change)`` run right after a
  change is logged, inside the writer's transaction, on the event-loop thread.
  ``change`` is the stored record plus ``"seq"`` and ``"at"``; a hook must be
  quick and must not raise (schedule the delivery, e.g. set an ``asyncio.Event``
  the poller waits on). A hook interested in one stream compares
  ``change["stream"]`` with ``table.stream["label"]``.
- the Streams operations themselves (GetShardIterator, GetRecords) through
  ``ServiceEnv.call("dynamodbstreams", ...)``, as DESIGN.md has services talk;
  a mapping checkpoints by ``int(record["dynamodb"]["SequenceNumber"])``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.core.models import load_model
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.store import load
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import item_size

Result = dict[str, Any]

RETENTION = 24 * 3600.0
"""How long stream records stay readable, and a disabled stream stays listed."""
PITR_RETENTION = 35 * 24 * 3600.0
"""How long ``changes`` rows are kept for a table with point-in-time recovery on."""
ITERATOR_LIFETIME = 15 * 60.0
MAX_RECORDS = 1000
MAX_RESPONSE_BYTES = 1024 * 1024
SCAN_BUDGET = 10_000
"""``changes`` rows one GetRecords looks at (other streams' and PITR-only rows are skipped)."""
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
NEW_VIEWS = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
OLD_VIEWS = ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")

HISTORY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stream_history "
    "(arn TEXT PRIMARY KEY, tid INTEGER NOT NULL, meta TEXT NOT NULL) WITHOUT ROWID"
)

DROPPED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dropped_tables (tid INTEGER PRIMARY KEY, account TEXT NOT NULL, "
    "region TEXT NOT NULL, name TEXT NOT NULL, meta TEXT NOT NULL, dropped REAL NOT NULL)"
)

_ARN = re.compile(r"arn:[\w-]+:dynamodb:([^:]+):([^:]+):table/([^/]+)/stream/(.+)", re.ASCII)
"""A stream ARN, matched whole (``fullmatch``)."""


@dataclass(slots=True)
class Stream:
    """One stream of a table: the table's current one or a replaced one from history."""

    table: Table
    arn: str
    label: str
    view: str
    created: float
    disabled: float | None
    """When the stream was disabled (None while enabled); its shard is closed then."""

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    @property
    def shard_id(self) -> str:
        return f"shardId-{int(self.created * 1000):020d}-{zlib.crc32(self.arn.encode()):08x}"


def sequence_number(seq: int) -> str:
    return f"{seq:021d}"


def parse_arn(arn: str, member: str = "StreamArn") -> re.Match[str]:
    """The parts of a stream ARN (region, account, table, label). A value that is no stream
    ARN is a ValidationException naming ``member`` (``Invalid StreamArn``, as aws-sdk-js's
    integration test of DescribeStream quotes AWS); a well-formed ARN of no stream is the
    caller's ResourceNotFoundException."""
    m = _ARN.fullmatch(arn)
    if m is None:
        raise errors.validation(f"Invalid {member}")
    return m


def stream_not_found(arn: str) -> ServiceError:
    return errors.resource_not_found(f"Requested resource not found: Stream: {arn} not found")


def trimmed() -> ServiceError:
    return ServiceError(
        "TrimmedDataAccessException", "The data you are trying to access has been trimmed.", 400
    )


def expired() -> ServiceError:
    return ServiceError(
        "ExpiredIteratorException", "The provided iterator exceeds the maximum age allowed.", 400
    )


# --------------------------------------------------------------------------- the log


class StreamLog:
    """Streams of an engine's tables and their records; plain Python, no HTTP."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = engine.store.conn
        self.conn.execute(HISTORY_SCHEMA)
        self.conn.execute(DROPPED_SCHEMA)
        self._noted: set[str] = set()
        self._first: dict[str, int] = {}
        """A seq no readable record of the stream precedes: scans start there."""
        self._last: dict[str, int | None] = {}
        """The last record of a closed stream (it gets no more)."""

    # ---- finding streams

    def note(self, table: Table) -> None:
        """Remember the table's current stream, so it stays readable once replaced."""
        stream = table.stream
        if stream is None or stream["arn"] in self._noted:
            return
        self._noted.add(stream["arn"])
        meta = {k: stream[k] for k in ("arn", "label", "view", "created")}
        self.conn.execute(
            "INSERT OR IGNORE INTO stream_history (arn, tid, meta) VALUES (?, ?, ?)",
            (stream["arn"], table.tid, json.dumps(meta)),
        )

    def on_change(self, table: Table, change: dict[str, Any]) -> None:
        """The change hook: note a stream when it logs a record."""
        stream = table.stream
        if stream is not None and change.get("stream") and stream["arn"] not in self._noted:
            self.note(table)

    def streams_of(self, table: Table) -> list[Stream]:
        return streams_of(self.engine, table)

    def find(self, arn: str, ctx: Any = None) -> Stream:
        """The stream named by ``arn`` (in the caller's account and region), or ResourceNotFound
        (ValidationException if ``arn`` is not a stream ARN at all)."""
        m = parse_arn(arn)
        if ctx is not None and (m.group(2), m.group(1)) != (ctx.account_id, ctx.region):
            raise stream_not_found(arn)
        account, region, name = m.group(2), m.group(1), m.group(3)
        table = self.engine.find(account, region, name)
        if table is not None:
            for stream in self.streams_of(table):
                if stream.arn == arn:
                    return stream
        # Not the live table's: a deleted table's, in its 24 hours (looked up only then).
        for ghost in dropped_tables(self.engine, account, region, name):
            for stream in self.streams_of(ghost):
                if stream.arn == arn:
                    return stream
        raise stream_not_found(arn)

    # ---- sequence numbers

    def _rows(
        self, stream: Stream, start: int, end: int | None = None, budget: int = 0
    ) -> Iterator[tuple[int, float | None, dict[str, Any] | None]]:
        """``(seq, at, record)`` of the stream's readable records from ``start``, in order.

        With a ``budget``, stops after looking at that many rows (other streams' and
        PITR-only rows count) and yields ``(last seq looked at, None, None)`` to resume from.
        """
        horizon = self.engine.clock() - RETENTION
        label = stream.label
        tid = stream.table.tid
        start = max(start, self._first.get(stream.arn, 0))
        seen = 0
        while True:
            sql = "SELECT seq, at, record FROM changes WHERE tid = ? AND seq >= ?"
            args: list[Any] = [tid, start]
            if end is not None:
                sql += " AND seq <= ?"
                args.append(end)
            rows = self.conn.execute(sql + " ORDER BY seq LIMIT 500", args).fetchall()
            for seq, at, blob in rows:
                record = load(blob)
                if record.get("stream") == label and at >= horizon:
                    yield seq, at, record
                seen += 1
                if budget and seen >= budget:
                    yield seq, None, None
                    return
            if len(rows) < 500:
                return
            start = rows[-1][0] + 1

    def _since(self, stream: Stream) -> int:
        """The first seq logged after the stream was created and within the last 24 h, less
        a minute: a binary search on the log's times (they grow with seq)."""
        since = max(stream.created, self.engine.clock() - RETENTION) - 60
        lo, hi = 0, self.engine.seq + 1
        while lo < hi:
            mid = (lo + hi) // 2
            row = self.conn.execute(
                "SELECT at FROM changes WHERE tid = ? AND seq >= ? ORDER BY seq LIMIT 1",
                (stream.table.tid, mid),
            ).fetchone()
            if row is None or row[0] >= since:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def first_seq(self, stream: Stream) -> int | None:
        """The sequence number of the stream's oldest readable record."""
        if stream.arn not in self._first:
            self._first[stream.arn] = self._since(stream)
        for seq, _at, _record in self._rows(stream, 0):
            self._first[stream.arn] = seq
            return seq
        # Nothing readable up to now: later records can only come after the current seq.
        self._first[stream.arn] = self.engine.seq + 1
        return None

    def last_seq(self, stream: Stream) -> int | None:
        """The sequence number of the stream's newest record (cached once it is closed)."""
        if stream.arn in self._last:
            return self._last[stream.arn]
        rows = self.conn.execute(
            "SELECT seq, record FROM changes WHERE tid = ? AND seq >= ? ORDER BY seq DESC",
            (stream.table.tid, self._first.get(stream.arn, 0)),
        )
        last = None
        for seq, blob in rows:
            if load(blob).get("stream") == stream.label:
                last = int(seq)
                break
        if not stream.enabled:
            self._last[stream.arn] = last
        return last

    def shard(self, stream: Stream) -> Result:
        first = self.first_seq(stream)
        start = sequence_number(first if first is not None else 0)
        numbers = {"StartingSequenceNumber": start}
        if not stream.enabled:
            last = self.last_seq(stream)
            numbers["EndingSequenceNumber"] = sequence_number(last) if last is not None else start
        return {"ShardId": stream.shard_id, "SequenceNumberRange": numbers}

    # ---- iterators and records

    def iterator(self, stream: Stream, shard_id: str, kind: str, seq_text: str | None) -> str:
        """A shard iterator of ``kind`` (the four of GetShardIterator), with AWS's checks."""
        if kind not in ITERATOR_TYPES:
            raise errors.validation(
                f"1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )
        if shard_id != stream.shard_id:
            raise errors.resource_not_found("Requested resource not found: Shard does not exist")
        if kind in ("TRIM_HORIZON", "LATEST") and seq_text is not None:
            raise errors.validation(
                f"SequenceNumber must not be specified for ShardIteratorType {kind}"
            )
        if kind == "TRIM_HORIZON":
            pos = self.first_seq(stream) or 0
        elif kind == "LATEST":
            pos = self.engine.seq + 1
        else:
            if not seq_text:
                raise errors.validation(
                    f"SequenceNumber must be specified for ShardIteratorType {kind}"
                )
            n = _parse_seq(seq_text, kind)
            first = self.first_seq(stream)
            last = self.last_seq(stream)
            if n > (last or 0):
                raise errors.validation(
                    f"Invalid SequenceNumber for ShardIteratorType {kind}: {seq_text}"
                )
            if n and (first is None or n < first) and self._may_be_trimmed(stream):
                raise trimmed()
            pos = n if kind == "AT_SEQUENCE_NUMBER" else n + 1
        return encode_iterator(stream.arn, stream.shard_id, pos, self.engine.clock())

    def _may_be_trimmed(self, stream: Stream) -> bool:
        """Whether the stream is old enough for its first records to be trimmed (24 h)."""
        return self.engine.clock() - stream.created > RETENTION

    def records(
        self, stream: Stream, pos: int, limit: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Up to ``limit`` records from position ``pos``: (records, next position, at end).

        "At end" means the shard is closed and every record has been read.
        """
        out: list[dict[str, Any]] = []
        end = None if stream.enabled else self.last_seq(stream)
        if not stream.enabled and (end is None or pos > end):
            return out, pos, True
        size = 0
        nxt = pos
        exhausted = True
        for seq, at, record in self._rows(stream, pos, end, budget=SCAN_BUDGET):
            nxt = seq + 1
            if record is None or at is None:
                exhausted = False
                break
            rec = shape_record(stream, seq, at, record)
            out.append(rec)
            size += rec["dynamodb"]["SizeBytes"]
            if len(out) >= limit or size >= MAX_RESPONSE_BYTES:
                exhausted = False
                break
        if exhausted and stream.enabled:
            # Every row up to the newest was looked at: skip them next time.
            nxt = max(nxt, self.engine.seq + 1)
        at_end = not stream.enabled and (exhausted or (end is not None and nxt > end))
        return out, nxt, at_end


def streams_of(engine: Engine, table: Table) -> list[Stream]:
    """The table's readable streams (current and remembered), oldest first."""
    now = engine.clock()
    current = table.stream
    rows = engine.store.conn.execute(
        "SELECT meta FROM stream_history WHERE tid = ?", (table.tid,)
    ).fetchall()
    past = sorted((json.loads(meta) for (meta,) in rows), key=lambda m: m["created"])
    if current is not None:
        past = [m for m in past if m["arn"] != current["arn"]]
    # A replaced stream was disabled by the time its successor was created.
    entries = list(zip(past, [m["created"] for m in past[1:]], strict=False))
    if current is not None:
        if past:
            entries.append((past[-1], current["created"]))
        entries.append((current, None if current["enabled"] else current.get("disabled", now)))
    found = [Stream(table, m["arn"], m["label"], m["view"], m["created"], d) for m, d in entries]
    return [s for s in found if s.disabled is None or now - s.disabled <= RETENTION]


def retire(engine: Engine, table: Table) -> bool:
    """Before DeleteTable drops ``table``: remember it while a stream of it is readable
    (its current one, disabled now, or a replaced one). True when one is, and the
    table's change log must then stay."""
    now = engine.clock()
    ghost = Table.from_meta(table.tid, table.to_meta())
    if ghost.stream is not None and ghost.stream["enabled"]:
        ghost.stream = {**ghost.stream, "enabled": False, "disabled": now}
    conn = engine.store.conn
    conn.execute(HISTORY_SCHEMA)
    conn.execute(DROPPED_SCHEMA)
    if not streams_of(engine, ghost):
        return False
    conn.execute(
        "INSERT OR REPLACE INTO dropped_tables (tid, account, region, name, meta, dropped) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (table.tid, table.account, table.region, table.name, ghost.to_meta(), now),
    )
    return True


def dropped_tables(
    engine: Engine, account: str, region: str, name: str | None = None
) -> list[Table]:
    """Deleted tables of the account and region whose streams are still readable (named
    ``name``, when given), as they were when deleted, oldest first."""
    sql = "SELECT tid, meta FROM dropped_tables WHERE account = ? AND region = ? AND dropped >= ?"
    args: list[Any] = [account, region, engine.clock() - RETENTION]
    if name is not None:
        sql += " AND name = ?"
        args.append(name)
    rows = engine.store.conn.execute(sql + " ORDER BY tid", args).fetchall()
    # A table still loaded was not dropped after all (the process died in between).
    return [Table.from_meta(tid, meta) for tid, meta in rows if tid not in engine.by_id]


def forget_dropped(engine: Engine, now: float) -> None:
    """Forget deleted tables whose streams' 24 hours have passed; their change log is left
    to the background purge (``Store.purge``: a day of a busy table's changes took one
    long statement on the event loop)."""
    conn = engine.store.conn
    conn.execute(DROPPED_SCHEMA)
    for tid, dropped in conn.execute("SELECT tid, dropped FROM dropped_tables").fetchall():
        if tid in engine.by_id:  # not dropped after all: the process died in between
            conn.execute("DELETE FROM dropped_tables WHERE tid = ?", (tid,))
        elif now - dropped > RETENTION:
            with engine.store.transaction():
                engine.store.schedule_purge("changes", tid)
                conn.execute("DELETE FROM stream_history WHERE tid = ?", (tid,))
                conn.execute("DELETE FROM dropped_tables WHERE tid = ?", (tid,))
            engine.purge_soon()


def forget_streams(engine: Engine) -> None:
    """Drop remembered streams that are gone (table deleted a day ago, or disabled 24 h ago)."""
    conn = engine.store.conn
    conn.execute(HISTORY_SCHEMA)
    conn.execute(DROPPED_SCHEMA)
    dropped = {tid for (tid,) in conn.execute("SELECT tid FROM dropped_tables").fetchall()}
    by_table: dict[int, list[str]] = {}
    for arn, tid in conn.execute("SELECT arn, tid FROM stream_history").fetchall():
        by_table.setdefault(tid, []).append(arn)
    for tid, arns in by_table.items():
        if tid in dropped:
            continue  # forgotten with the deleted table (``forget_dropped``)
        table = engine.by_id.get(tid)
        keep = {s.arn for s in streams_of(engine, table)} if table is not None else set()
        for arn in arns:
            if arn not in keep:
                conn.execute("DELETE FROM stream_history WHERE arn = ?", (arn,))


_INT64 = 2**63
"""Positions and times inside an iterator must fit SQLite's integers."""


def check_request(operation: str, params: dict[str, Any]) -> None:
    """The model's length bounds and patterns of the request's string members, checked
    before anything is looked up, as AWS's request validation does: ``1 validation error
    detected: Value 'x' at 'streamArn' failed to satisfy constraint: Member must have
    length greater than or equal to 37`` (botocore's ``dynamodbstreams`` model, AWS's
    message form with the member's name in lower camel case)."""
    shape = load_model("dynamodbstreams").operation_model(operation).input_shape
    for name, member in shape.members.items():
        value = params.get(name)
        if not isinstance(value, str):
            continue
        low, high = member.metadata.get("min"), member.metadata.get("max")
        pattern = member.metadata.get("pattern")
        if low is not None and len(value) < low:
            rule = f"Member must have length greater than or equal to {low}"
        elif high is not None and len(value) > high:
            rule = f"Member must have length less than or equal to {high}"
        elif pattern is not None and not _pattern(pattern).fullmatch(value):
            rule = f"Member must satisfy regular expression pattern: {pattern}"
        else:
            continue
        raise errors.constraint(value, name[0].lower() + name[1:], rule)


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _parse_seq(text: str, kind: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise errors.validation(f"Invalid SequenceNumber for ShardIteratorType {kind}: {text}")
    return int(text)


def _field(text: str) -> int:
    """A number field of an iterator: ASCII digits within SQLite's integer range."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise ValueError(text)
    n = int(text)
    if n >= _INT64:
        raise ValueError(text)
    return n


def encode_iterator(arn: str, shard_id: str, pos: int, now: float) -> str:
    """A shard iterator: the stream, then an opaque token of shard, position and issue time."""
    payload = f"{shard_id}|{pos}|{int(now * 1000)}".encode()
    check = zlib.crc32(arn.encode() + payload)
    token = base64.b64encode(payload + b"|" + str(check).encode()).decode()
    return f"{arn}|1|{token}"


def decode_iterator(text: str) -> tuple[str, str, int, float]:
    """(stream arn, shard id, position, issue time) of an iterator; ValidationException if bad.

    The checksum only catches damage, not forgery: the fields are checked too, so a
    made-up position or time beyond what the log can hold is an invalid iterator.
    """
    try:
        arn, version, token = text.rsplit("|", 2)
        raw = base64.b64decode(token.encode(), validate=True)
        body, check = raw.rsplit(b"|", 1)
        if version != "1" or zlib.crc32(arn.encode() + body) != _field(check.decode()):
            raise ValueError
        shard, pos, issued = body.decode().split("|")
        return arn, shard, _field(pos), _field(issued) / 1000
    except (ValueError, UnicodeError) as exc:
        raise errors.validation("Invalid ShardIterator") from exc


def shape_record(stream: Stream, seq: int, at: float, record: dict[str, Any]) -> dict[str, Any]:
    """A logged change as a stream record of ``stream``'s view type."""
    view = stream.view
    keys = record["keys"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": datetime.fromtimestamp(int(at), UTC),
        "Keys": keys,
        "SequenceNumber": sequence_number(seq),
        "StreamViewType": view,
    }
    size = item_size(keys)
    if view in NEW_VIEWS and record.get("new") is not None:
        dynamodb["NewImage"] = record["new"]
        size += item_size(record["new"])
    if view in OLD_VIEWS and record.get("old") is not None:
        dynamodb["OldImage"] = record["old"]
        size += item_size(record["old"])
    dynamodb["SizeBytes"] = size
    out: dict[str, Any] = {
        "eventID": hashlib.md5(f"{stream.arn}/{seq}".encode(), usedforsecurity=False).hexdigest(),
        "eventName": record["op"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream.table.region,
        "dynamodb": dynamodb,
    }
    if record.get("user"):
        out["userIdentity"] = dict(record["user"])
    return out


def retention_of(table: Table) -> float:
    """Seconds of change log to keep: 24 h, or the recovery period while PITR is on."""
    pitr = table.pitr
    if not pitr or not pitr.get("enabled"):
        return RETENTION
    days = pitr.get("days")
    return max(RETENTION, days * 24 * 3600.0) if days else PITR_RETENTION


def retention_sweep(engine: Engine, now: float | None = None) -> int:
    """Trim the change log (``forget_expired``, then ``trim`` until done) in one go; the
    service trims in slices instead. Returns the number of rows deleted."""
    now = engine.clock() if now is None else now
    forget_expired(engine, now)
    deleted = 0
    while True:
        n = trim(engine, now, 1000)
        deleted += n
        if n < 1000:
            return deleted


def forget_expired(engine: Engine, now: float) -> None:
    """A sweep's start: keep the sequence counter's high-water mark; forget streams
    disabled more than 24 h ago, and deleted tables' streams after their day."""
    # ``Engine`` starts its counter from the newest logged change: keep the high-water
    # mark so sequence numbers never go back after the log is trimmed and the server restarts.
    engine.store.conn.execute(
        "INSERT INTO counters (name, value) VALUES ('change_seq', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
        (engine.seq,),
    )
    for table in list(engine.by_id.values()):
        stream = table.stream
        if stream is not None and not stream["enabled"]:
            if now - stream.get("disabled", now) > RETENTION:
                table.stream = None
                engine.save(table)
    forget_dropped(engine, now)
    forget_streams(engine)


def trim(engine: Engine, now: float, limit: int) -> int:
    """Delete up to ``limit`` change-log rows older than their table keeps them (24 h,
    the recovery period with PITR on), oldest first; returns how many. Fewer than
    ``limit``: none is left. Each table's rows are read in order up to its first one
    still kept, so a table with nothing to trim costs one short read."""
    conn = engine.store.conn
    deleted = 0
    for table in list(engine.by_id.values()):
        if deleted >= limit:
            break
        cutoff = now - retention_of(table)
        rows = conn.execute(
            "SELECT seq, at FROM changes WHERE tid = ? ORDER BY seq LIMIT ?",
            (table.tid, limit - deleted),
        ).fetchall()
        upto = None
        for seq, at in rows:
            if at >= cutoff:
                break
            upto = seq
        if upto is not None:
            with engine.store.transaction():
                cur = conn.execute(
                    "DELETE FROM changes WHERE tid = ? AND seq <= ?", (table.tid, upto)
                )
            deleted += cur.rowcount
    return deleted


# --------------------------------------------------------------------------- the service


class StreamsService(Service):
    """The ``dynamodbstreams`` API over the DynamoDB service's engine (same state owner)."""

    name = "dynamodbstreams"
    internal_error = ("InternalServerError", "Internal server error")  # as DynamoDB's
    auth_errors = errors.CORAL_AUTH_ERRORS  # as DynamoDB's, all 400

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self._log: StreamLog | None = None

    @property
    def log(self) -> StreamLog:
        if self._log is None:
            engine: Engine = self.env.services["dynamodb"].engine  # type: ignore[attr-defined]
            self._log = StreamLog(engine)
            engine.change_hooks.append(self._log.on_change)
        return self._log

    async def start(self) -> None:
        _ = self.log

    async def stop(self) -> None:
        # The connection belongs to the DynamoDB service, which closes it.
        if self._log is not None and self._log.on_change in self._log.engine.change_hooks:
            self._log.engine.change_hooks.remove(self._log.on_change)

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the stream's ARN and its resource policy (``policies.py``)."""
        arn = params.get("StreamArn")
        if not arn and params.get("ShardIterator"):
            try:
                arn = decode_iterator(params["ShardIterator"])[0]
            except ServiceError:
                return "*", None
        if not arn:
            return "*", None
        owner: Any = self.env.services["dynamodb"]
        return arn, owner._resource_policy_text(arn)

    # ---- operations

    def list_streams(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_request("ListStreams", params)
        log = self.log
        limit = errors.check_limit(params.get("Limit"), 100)
        start_arn = params.get("ExclusiveStartStreamArn")
        start = None if start_arn is None else parse_arn(start_arn, "ExclusiveStartStreamArn")
        name = params.get("TableName")
        engine = log.engine
        if name is not None:
            table = engine.find(ctx.account_id, ctx.region, name)
            tables = [] if table is None else [table]
        else:
            tables = [
                t
                for (a, r, _n), t in engine.tables.items()
                if (a, r) == (ctx.account_id, ctx.region)
            ]
        for table in tables:
            log.note(table)
        # Deleted tables' streams are listed for their 24 hours, DISABLED.
        tables.extend(dropped_tables(engine, ctx.account_id, ctx.region, name))
        if name is not None and not tables:
            raise errors.table_not_found(name)
        streams = sorted(
            (s for table in tables for s in log.streams_of(table)),
            key=lambda s: (s.table.name, s.label),
        )
        if start is not None:
            # Resume after the start's place in (table, label) order, even if it is gone.
            after = (start.group(3), start.group(4))
            streams = [s for s in streams if (s.table.name, s.label) > after]
        out: Result = {
            "Streams": [
                {"StreamArn": s.arn, "TableName": s.table.name, "StreamLabel": s.label}
                for s in streams[:limit]
            ]
        }
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1].arn
        return out

    def describe_stream(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_request("DescribeStream", params)
        log = self.log
        errors.check_limit(params.get("Limit"), 100)  # one shard per stream: any limit fits
        stream = log.find(params["StreamArn"], ctx)
        table = stream.table
        if table.tid in log.engine.by_id:
            log.note(table)
        keys = [{"AttributeName": table.hash[0], "KeyType": "HASH"}]
        if table.range is not None:
            keys.append({"AttributeName": table.range[0], "KeyType": "RANGE"})
        # One shard per stream: no shard follows any ExclusiveStartShardId (an unknown one
        # included, as on AWS), and none has children for a ShardFilter.
        shards = [log.shard(stream)]
        if params.get("ExclusiveStartShardId") is not None or params.get("ShardFilter"):
            shards = []
        return {
            "StreamDescription": {
                "StreamArn": stream.arn,
                "StreamLabel": stream.label,
                "StreamStatus": "ENABLED" if stream.enabled else "DISABLED",
                "StreamViewType": stream.view,
                "CreationRequestDateTime": datetime.fromtimestamp(stream.created, UTC),
                "TableName": table.name,
                "KeySchema": keys,
                "Shards": shards,
            }
        }

    def get_shard_iterator(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_request("GetShardIterator", params)
        log = self.log
        stream = log.find(params["StreamArn"], ctx)
        it = log.iterator(
            stream, params["ShardId"], params["ShardIteratorType"], params.get("SequenceNumber")
        )
        return {"ShardIterator": it}

    def get_records(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_request("GetRecords", params)
        log = self.log
        limit = errors.check_limit(params.get("Limit"), MAX_RECORDS)
        arn, shard_id, pos, issued = decode_iterator(params["ShardIterator"])
        now = log.engine.clock()
        if now - issued > ITERATOR_LIFETIME:
            raise expired()
        stream = log.find(arn, ctx)
        if shard_id != stream.shard_id:
            raise errors.validation("Invalid ShardIterator")
        records, nxt, at_end = log.records(stream, pos, limit)
        out: Result = {"Records": records}
        if not at_end:
            out["NextShardIterator"] = encode_iterator(stream.arn, stream.shard_id, nxt, now)
        return out
