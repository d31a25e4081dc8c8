"""Messages: send, receive, delete, visibility, purge, retention, redrive.

The model is huey's: a dequeue is one short transaction. A message row carries
``visible_at`` (when it may next be delivered: send time + delay, or receive
time + visibility timeout) and the random ``receipt`` token of its latest
delivery. Receiving standard messages reads the index
``(queue_id, visible_at)`` from the bottom, so the cost is the same with ten
messages queued or a million; FIFO receiving is in ``fifo.py``.

Receipt handles are opaque base64 of (queue id, row id, receipt token,
checksum): a handle from an older delivery names the row but no longer matches
its token, which is how stale handles are told from garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sqlite3
import struct
import zlib
from typing import TYPE_CHECKING, Any

from cloudlet.core import clock as _clock
from cloudlet.core.ids import fast_uuid, random_bits
from cloudlet.services.sqs import errors, fifo, store
from cloudlet.services.sqs.attributes import (
    MAX_MESSAGE_SIZE,
    check_body,
    check_fifo_id,
    check_message_attributes,
    check_system_attributes,
    pack_attributes,
    select_attributes,
    unpack_attributes,
)
from cloudlet.services.sqs.md5 import md5_of_attributes
from cloudlet.services.sqs.store import (
    R_ATTRIBUTES,
    R_BODY,
    R_DEDUP_ID,
    R_DLQ_SOURCE,
    R_ENQUEUED_AT,
    R_FIRST_RECEIVE_MS,
    R_GROUP_ID,
    R_ID,
    R_MD5_ATTRIBUTES,
    R_MD5_BODY,
    R_MD5_SYSTEM,
    R_MESSAGE_ID,
    R_RECEIPT,
    R_RECEIVE_COUNT,
    R_SENDER,
    R_SENT_MS,
    R_SEQ,
    R_TRACE,
    R_VISIBLE_AT,
)
from cloudlet.state.db import Transaction

if TYPE_CHECKING:
    from cloudlet.services.sqs.queues import Queue, QueueRegistry

PURGE_INTERVAL = 60.0
SWEEP_BATCH = 2000

# --- receipt handles -------------------------------------------------------------------

_HANDLE = struct.Struct(">QQQ")
_HANDLE_CHARS = 40  # base64 of 24 bytes of ids + a 4-byte checksum


def encode_handle(queue_id: int, row_id: int, receipt: int) -> str:
    # The random receipt masks the ids, so handles look as opaque as AWS's.
    raw = _HANDLE.pack(receipt, queue_id ^ receipt, row_id ^ receipt)
    return base64.b64encode(raw + zlib.crc32(raw).to_bytes(4, "big")).decode("ascii")


def decode_handle(handle: str) -> tuple[int, int, int] | None:
    """(queue id, row id, receipt) of a handle we issued, or None for anything else."""
    if len(handle) != _HANDLE_CHARS:
        return None
    try:
        raw = base64.b64decode(handle, validate=True)
    except (binascii.Error, ValueError):
        return None
    body, check = raw[:24], raw[24:]
    if zlib.crc32(body).to_bytes(4, "big") != check:
        return None
    receipt, queue_id, row_id = _HANDLE.unpack(body)
    return queue_id ^ receipt, row_id ^ receipt, receipt


def format_seq(seq: int) -> str:
    return f"{seq:020d}"


# --- what goes in and what comes out ---------------------------------------------------


class Outgoing:
    """A checked message ready to be stored (digests computed once, here)."""

    __slots__ = (
        "message_id",
        "body",
        "md5_body",
        "attributes",
        "md5_attributes",
        "trace",
        "md5_system",
        "group_id",
        "dedup_id",
        "delay",
    )

    def __init__(self) -> None:
        self.attributes: str | None = None
        self.md5_attributes: str | None = None
        self.trace: str | None = None
        self.md5_system: str | None = None
        self.group_id: str | None = None
        self.dedup_id: str | None = None


class Sent:
    """What SendMessage answers for one message."""

    __slots__ = ("message_id", "md5_body", "md5_attributes", "md5_system", "sequence_number")

    def __init__(self, out: Outgoing, message_id: str, seq: int | None) -> None:
        self.message_id = message_id
        self.md5_body = out.md5_body
        self.md5_attributes = out.md5_attributes
        self.md5_system = out.md5_system
        self.sequence_number = format_seq(seq) if seq is not None else None


class Delivery:
    """One received message: its stored row and this delivery's handle and counts."""

    __slots__ = ("row", "handle", "receive_count", "first_receive_ms")

    def __init__(self, row: tuple, handle: str, receive_count: int, first_receive_ms: int) -> None:
        self.row = row
        self.handle = handle
        self.receive_count = receive_count
        self.first_receive_ms = first_receive_ms

    def to_message(self, system_names: frozenset[str], attribute_names: list[str]) -> dict:
        """The ``Message`` structure, with the attributes the caller asked for."""
        row = self.row
        message: dict[str, Any] = {
            "MessageId": row[R_MESSAGE_ID],
            "ReceiptHandle": self.handle,
            "MD5OfBody": row[R_MD5_BODY],
            "Body": row[R_BODY],
        }
        if system_names:
            message["Attributes"] = self._system_attributes(system_names)
        if attribute_names and row[R_ATTRIBUTES] is not None:
            stored = unpack_attributes(row[R_ATTRIBUTES])
            chosen = select_attributes(stored, attribute_names)
            if chosen:
                message["MessageAttributes"] = chosen
                message["MD5OfMessageAttributes"] = (
                    row[R_MD5_ATTRIBUTES]
                    if len(chosen) == len(stored)
                    else md5_of_attributes(chosen)
                )
        return message

    def _system_attributes(self, names: frozenset[str]) -> dict[str, str]:
        row = self.row
        values = {
            "SenderId": row[R_SENDER],
            "SentTimestamp": str(row[R_SENT_MS]),
            "ApproximateReceiveCount": str(self.receive_count),
            "ApproximateFirstReceiveTimestamp": str(self.first_receive_ms),
        }
        if row[R_SEQ] is not None:
            values["SequenceNumber"] = format_seq(row[R_SEQ])
        if row[R_DEDUP_ID] is not None:
            values["MessageDeduplicationId"] = row[R_DEDUP_ID]
        if row[R_GROUP_ID] is not None:
            values["MessageGroupId"] = row[R_GROUP_ID]
        if row[R_TRACE] is not None:
            values["AWSTraceHeader"] = row[R_TRACE]
        if row[R_DLQ_SOURCE] is not None:
            values["DeadLetterQueueSourceArn"] = row[R_DLQ_SOURCE]
        return {k: v for k, v in values.items() if k in names}


def prepare(
    queue: Queue,
    body: str,
    message_attributes: dict[str, dict[str, Any]] | None = None,
    system_attributes: dict[str, dict[str, Any]] | None = None,
    delay: int | None = None,
    dedup_id: str | None = None,
    group_id: str | None = None,
) -> Outgoing:
    """Check one message for ``queue`` as SQS does; compute its digests."""
    config = queue.config
    check_body(body)
    data = body.encode("utf-8")
    size = len(data)
    out = Outgoing()
    if message_attributes:
        size += check_message_attributes(message_attributes)
    if size > config.maximum_message_size:
        raise errors.message_too_long(config.maximum_message_size)
    if message_attributes:
        out.attributes = pack_attributes(message_attributes)
        out.md5_attributes = md5_of_attributes(message_attributes)
    if system_attributes:
        out.trace = check_system_attributes(system_attributes)
        out.md5_system = md5_of_attributes(system_attributes)
    if delay is None:
        delay = config.delay_seconds
    elif not 0 <= delay <= 900:
        raise errors.invalid_value(delay, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")
    elif config.fifo and delay:
        raise errors.invalid_value(
            delay,
            "DelaySeconds",
            "The request include parameter that is not valid for this queue type.",
        )
    if config.fifo:
        if group_id is None:
            raise errors.missing_parameter("MessageGroupId")
        check_fifo_id(group_id, "MessageGroupId")
        if dedup_id is None:
            if not config.content_based_deduplication:
                raise errors.invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = hashlib.sha256(data).hexdigest()
        else:
            check_fifo_id(dedup_id, "MessageDeduplicationId")
    else:
        if dedup_id is not None:
            raise errors.invalid_value(
                dedup_id,
                "MessageDeduplicationId",
                "The request includes a parameter that is not valid for this queue type.",
            )
        if group_id is not None:
            check_fifo_id(group_id, "MessageGroupId")
    out.message_id = fast_uuid()
    out.body = body
    out.md5_body = hashlib.md5(data, usedforsecurity=False).hexdigest()
    out.group_id = group_id
    out.dedup_id = dedup_id
    out.delay = delay
    return out


def entry_size(body: str, message_attributes: dict[str, dict[str, Any]] | None) -> int:
    """Bytes one batch entry counts towards the batch limit (body plus attributes)."""
    size = len(body.encode("utf-8"))
    for name, value in (message_attributes or {}).items():
        size += len(name.encode("utf-8")) + len(str(value.get("DataType", "")).encode("utf-8"))
        if value.get("BinaryValue") is not None:
            size += len(value["BinaryValue"])
        elif value.get("StringValue") is not None:
            size += len(value["StringValue"].encode("utf-8"))
    return size


# --- the message store -----------------------------------------------------------------


class MessageStore:
    """Every message operation on one SQLite connection (event-loop thread only)."""

    def __init__(self, conn: sqlite3.Connection, registry: QueueRegistry) -> None:
        self.conn = conn
        self.registry = registry

    # sending ---------------------------------------------------------------------------

    def send(self, queue: Queue, out: Outgoing, sender_id: str) -> Sent:
        now = _clock.clock.time()
        if queue.config.fifo:
            with Transaction(self.conn):
                message_id, seq = fifo.send(self, queue, out, sender_id, now)
            sent = Sent(out, message_id, seq)
        else:
            self._insert(queue, out, sender_id, now)  # one statement: autocommit
            sent = Sent(out, out.message_id, None)
        queue.notify()
        return sent

    def send_many(self, queue: Queue, outs: list[Outgoing], sender_id: str) -> list[Sent]:
        """Store a batch's accepted entries in one transaction."""
        sent = []
        with Transaction(self.conn):
            for out in outs:
                now = _clock.clock.time()
                if queue.config.fifo:
                    message_id, seq = fifo.send(self, queue, out, sender_id, now)
                    sent.append(Sent(out, message_id, seq))
                else:
                    self._insert(queue, out, sender_id, now)
                    sent.append(Sent(out, out.message_id, None))
        queue.notify()
        return sent

    def _insert(
        self, queue: Queue, out: Outgoing, sender_id: str, now: float, seq: int | None = None
    ) -> None:
        """One message row; FIFO sends also pass their sequence number."""
        self.conn.execute(
            store.INSERT_MESSAGE,
            (
                queue.id,
                out.message_id,
                out.body,
                out.md5_body,
                out.attributes,
                out.md5_attributes,
                out.trace,
                out.md5_system,
                sender_id,
                int(now * 1000),
                now,
                now + out.delay,
                0,
                out.group_id,
                None if seq is None else out.dedup_id,
                seq,
                None,
            ),
        )

    # receiving -------------------------------------------------------------------------

    def receive(self, queue: Queue, max_messages: int, visibility_timeout: int) -> list[Delivery]:
        """Deliver up to ``max_messages`` visible messages now (no waiting)."""
        now = _clock.clock.time()
        if queue.config.fifo:
            return fifo.receive(self, queue, max_messages, visibility_timeout, now)
        conn = self.conn
        rows = conn.execute(store.SELECT_VISIBLE, (queue.id, now, max_messages)).fetchall()
        if not rows:
            return []  # an empty receive writes nothing and opens no transaction
        cutoff = now - queue.config.message_retention_period
        redrive = queue.config.redrive_policy
        out: list[Delivery] = []
        picked: set[int] = set()
        limit = max_messages
        with Transaction(conn):
            while True:
                dropped = False
                for row in rows:
                    if row[R_ID] in picked:
                        continue
                    if row[R_ENQUEUED_AT] <= cutoff:
                        conn.execute(store.DELETE_BY_ID, (row[R_ID],))
                        dropped = True
                        continue
                    if redrive is not None and row[R_RECEIVE_COUNT] >= redrive.max_receive_count:
                        dlq = self.registry.by_arn(redrive.dead_letter_target_arn)
                        if dlq is not None and not dlq.fifo:
                            self.transfer(row, queue, dlq, now, dlq_source=queue.arn)
                            dropped = True
                            continue
                    picked.add(row[R_ID])
                    out.append(self.deliver(row, queue, now, visibility_timeout))
                    if len(out) == max_messages:
                        break
                if len(out) == max_messages or not dropped or len(rows) < limit:
                    return out
                # Expired or dead-lettered rows made room: read further.
                limit = max_messages - len(out) + len(picked)
                rows = conn.execute(store.SELECT_VISIBLE, (queue.id, now, limit)).fetchall()

    def deliver(self, row: tuple, queue: Queue, now: float, visibility_timeout: int) -> Delivery:
        receipt = random_bits(63)
        now_ms = int(now * 1000)
        first = row[R_FIRST_RECEIVE_MS] if row[R_FIRST_RECEIVE_MS] is not None else now_ms
        self.conn.execute(
            store.MARK_RECEIVED, (now + visibility_timeout, receipt, now_ms, row[R_ID])
        )
        handle = encode_handle(queue.id, row[R_ID], receipt)
        return Delivery(row, handle, row[R_RECEIVE_COUNT] + 1, first)

    def redeliver(self, queue: Queue, row_id: int, receipt: int, now: float) -> Delivery | None:
        """The same delivery again (a retried FIFO receive), if still in flight."""
        row = self.conn.execute(store.SELECT_BY_ID, (row_id, queue.id)).fetchone()
        if row is None or row[R_RECEIPT] != receipt or row[R_VISIBLE_AT] <= now:
            return None
        first = row[R_FIRST_RECEIVE_MS] if row[R_FIRST_RECEIVE_MS] is not None else int(now * 1000)
        return Delivery(row, encode_handle(queue.id, row_id, receipt), row[R_RECEIVE_COUNT], first)

    def next_ready_in(self, queue: Queue) -> float | None:
        """Seconds until a message may become deliverable without a send, or None."""
        now = _clock.clock.time()
        sql = store.NEXT_READY_GROUP if queue.config.fifo else store.NEXT_VISIBLE
        (when,) = self.conn.execute(sql, (queue.id, now)).fetchone()
        return None if when is None else max(when - now, 0.0)

    # deleting and visibility -------------------------------------------------------------

    def _locate(self, queue: Queue, handle: str) -> tuple[int, int]:
        parts = decode_handle(handle)
        if parts is None or parts[0] != queue.id:
            raise errors.receipt_handle_invalid(handle)
        return parts[1], parts[2]

    def delete(self, queue: Queue, handle: str) -> None:
        """Delete by receipt handle. A stale handle of a message that is gone succeeds."""
        row_id, receipt = self._locate(queue, handle)
        if not queue.config.fifo:
            self.conn.execute(store.DELETE_BY_RECEIPT, (row_id, queue.id, receipt))
            return
        row = self.conn.execute(store.SELECT_BY_ID, (row_id, queue.id)).fetchone()
        if row is None or row[R_RECEIPT] != receipt:
            return
        if row[R_VISIBLE_AT] <= _clock.clock.time():
            raise errors.invalid_value(handle, "ReceiptHandle", "The receipt handle has expired.")
        with Transaction(self.conn):
            self.conn.execute(store.DELETE_BY_ID, (row_id,))
            fifo.refresh_group(self, queue, row[R_GROUP_ID])
        queue.notify()

    def change_visibility(self, queue: Queue, handle: str, timeout: int) -> None:
        if not 0 <= timeout <= 43_200:
            raise errors.invalid_value(
                timeout, "VisibilityTimeout", "Must be between 0 and 43200, if provided."
            )
        row_id, receipt = self._locate(queue, handle)
        row = self.conn.execute(store.SELECT_BY_ID, (row_id, queue.id)).fetchone()
        if row is None or row[R_RECEIPT] != receipt:
            raise errors.invalid_value(
                handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            )
        now = _clock.clock.time()
        if row[R_VISIBLE_AT] <= now:
            raise errors.message_not_inflight()
        with Transaction(self.conn):
            self.conn.execute(store.SET_VISIBLE_AT, (now + timeout, row_id))
            if queue.config.fifo:
                fifo.refresh_group(self, queue, row[R_GROUP_ID])
        if now + timeout < row[R_VISIBLE_AT]:
            queue.notify()

    def purge(self, queue: Queue) -> None:
        now = _clock.clock.time()
        if queue.purged_at is not None and now - queue.purged_at < PURGE_INTERVAL:
            raise errors.purge_in_progress(queue.name)
        with Transaction(self.conn):
            self.conn.execute("DELETE FROM messages WHERE queue_id = ?", (queue.id,))
            self.conn.execute("DELETE FROM fifo_groups WHERE queue_id = ?", (queue.id,))
            self.registry.mark_purged(queue, now)

    # counters --------------------------------------------------------------------------

    def counters(self, queue: Queue) -> dict[str, int]:
        now = _clock.clock.time()
        args = (queue.id, now)
        conn = self.conn
        return {
            "ApproximateNumberOfMessages": conn.execute(store.COUNT_VISIBLE, args).fetchone()[0],
            "ApproximateNumberOfMessagesNotVisible": conn.execute(
                store.COUNT_IN_FLIGHT, args
            ).fetchone()[0],
            "ApproximateNumberOfMessagesDelayed": conn.execute(
                store.COUNT_DELAYED, args
            ).fetchone()[0],
        }

    # moving between queues -------------------------------------------------------------

    def transfer(
        self, row: tuple, source: Queue, target: Queue, now: float, *, dlq_source: str | None
    ) -> None:
        """Move one stored message to ``target`` (same id, body and attributes).

        Standard queues keep the original enqueue time, so retention still counts
        from the first send, as AWS does; FIFO queues restart it. The caller owns
        the transaction and, for a FIFO source, refreshes the group.
        """
        seq = None
        enqueued = row[R_ENQUEUED_AT]
        if target.config.fifo:
            if row[R_GROUP_ID] is None:
                raise errors.invalid_parameter(
                    "A message without a MessageGroupId can't be moved to a FIFO queue."
                )
            seq = target.next_seq(now)
            enqueued = now
            self.conn.execute(store.ADD_GROUP, (target.id, row[R_GROUP_ID], now))
        self.conn.execute(
            store.INSERT_MESSAGE,
            (
                target.id,
                row[R_MESSAGE_ID],
                row[R_BODY],
                row[R_MD5_BODY],
                row[R_ATTRIBUTES],
                row[R_MD5_ATTRIBUTES],
                row[R_TRACE],
                row[R_MD5_SYSTEM],
                row[R_SENDER],
                row[R_SENT_MS],
                enqueued,
                now,
                0,
                row[R_GROUP_ID],
                row[R_DEDUP_ID],
                seq,
                dlq_source,
            ),
        )
        self.conn.execute(store.DELETE_BY_ID, (row[R_ID],))
        target.notify()

    def move_batch(self, source: Queue, limit: int, destination_arn: str | None) -> tuple[int, int]:
        """Move up to ``limit`` visible messages out of a dead-letter queue.

        Each goes to ``destination_arn`` or, without one, back to the queue it
        was dead-lettered from. Returns (moved, examined); raises
        ``ServiceError`` when a target is gone.
        """
        now = _clock.clock.time()
        cutoff = now - source.config.message_retention_period
        moved = 0
        with Transaction(self.conn):
            if source.config.fifo:
                rows = fifo.visible_heads(self, source, now, limit)
            else:
                rows = self.conn.execute(store.SELECT_VISIBLE, (source.id, now, limit)).fetchall()
            for row in rows:
                if row[R_ENQUEUED_AT] <= cutoff:
                    self.conn.execute(store.DELETE_BY_ID, (row[R_ID],))
                else:
                    arn = destination_arn or row[R_DLQ_SOURCE]
                    target = self.registry.by_arn(arn) if arn else None
                    if target is None:
                        raise errors.resource_not_found(
                            "CouldNotDetermineMessageSource"
                            if arn is None
                            else f"The destination queue {arn} doesn't exist."
                        )
                    self.transfer(row, source, target, now, dlq_source=None)
                    moved += 1
                if source.config.fifo:
                    fifo.refresh_group(self, source, row[R_GROUP_ID])
        return moved, len(rows)

    def visible_count(self, queue: Queue) -> int:
        now = _clock.clock.time()
        return self.conn.execute(store.COUNT_VISIBLE, (queue.id, now)).fetchone()[0]

    # retention -------------------------------------------------------------------------

    def sweep(self) -> int:
        """Delete messages past their queue's retention period; forget old dedup ids."""
        now = _clock.clock.time()
        conn = self.conn
        removed = 0
        for queue in list(self.registry.queues.values()):
            cutoff = now - queue.config.message_retention_period
            rows = conn.execute(store.EXPIRED, (queue.id, cutoff, SWEEP_BATCH)).fetchall()
            if not rows:
                continue
            with Transaction(conn):
                conn.executemany(store.DELETE_BY_ID, [(r[0],) for r in rows])
                if queue.config.fifo:
                    for group in {r[1] for r in rows}:
                        fifo.refresh_group(self, queue, group)
            removed += len(rows)
            queue.notify()
        conn.execute("DELETE FROM fifo_dedup WHERE expires_at <= ?", (now,))
        for queue in self.registry.queues.values():
            if queue.attempts:
                queue.attempts = {k: v for k, v in queue.attempts.items() if v[0] > now}
        return removed


def batch_size_ok(entries: list[dict[str, Any]]) -> None:
    """SendMessageBatch: the whole batch may carry at most 1 MiB."""
    total = sum(entry_size(e["MessageBody"], e.get("MessageAttributes")) for e in entries)
    if total > MAX_MESSAGE_SIZE:
        raise errors.batch_too_long(MAX_MESSAGE_SIZE, total)
