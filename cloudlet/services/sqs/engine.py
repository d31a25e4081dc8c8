"""The SQS engine: queues, messages, long polls and move tasks behind one object.

Plain Python over one SQLite connection: no HTTP, no protocol. ``api.py``
finds the queue and calls in here; tests drive it directly. Long polling is an
``asyncio.Event`` per queue: a waiting receive sleeps until a send (or a
delete/visibility change that frees a FIFO group) sets it, or until the next
moment a delayed or in-flight message becomes visible, whichever is first;
never a polling loop.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

from cloudlet.core import clock as _clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.sqs import errors, store
from cloudlet.services.sqs.attributes import ALL_QUEUE_ATTRIBUTES, COUNTERS, DEDUP_WINDOW
from cloudlet.services.sqs.messages import (
    Delivery,
    MessageStore,
    Sent,
    batch_size_ok,
    decode_handle,
    prepare,
)
from cloudlet.services.sqs.moves import MoveTasks
from cloudlet.services.sqs.queues import Queue, QueueRegistry

MAX_BATCH = 10
SWEEP_INTERVAL = 1.0


_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


class SqsEngine:
    def __init__(self, conn: sqlite3.Connection) -> None:
        # Large queues keep their hot index pages cached (the default is 2 MB).
        conn.execute("PRAGMA cache_size = -65536")
        store.open_schema(conn)
        self.conn = conn
        self.registry = QueueRegistry(conn)
        self.messages = MessageStore(conn, self.registry)
        self.moves = MoveTasks(conn, self.registry, self.messages)
        self.closing = False
        for queue in self.registry.queues.values():
            if queue.fifo:
                (top,) = conn.execute(
                    "SELECT max(seq) FROM messages WHERE queue_id = ?", (queue.id,)
                ).fetchone()
                queue.last_seq = top or 0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Resume move tasks (needs the running loop)."""
        self.moves.resume()

    async def stop(self) -> None:
        self.closing = True
        for queue in self.registry.queues.values():
            queue.notify()
        await self.moves.stop()

    def sweep(self) -> int:
        return self.messages.sweep()

    # --- queues -------------------------------------------------------------------------

    def create_queue(
        self,
        account: str,
        region: str,
        name: str,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Queue:
        return self.registry.create(account, region, name, attributes or {}, tags or {})

    def get_queue(self, account: str, region: str, name: str, *, query: bool = False) -> Queue:
        queue = self.registry.get(account, region, name)
        if queue is None:
            raise errors.queue_does_not_exist(query)
        return queue

    def queue_for_url(self, url: str, region: str, *, query: bool = False) -> Queue:
        """Resolve a queue URL by its last two path segments (account, name), any host."""
        parts = [p for p in url.split("?", 1)[0].split("/") if p]
        if len(parts) < 2:
            raise errors.queue_does_not_exist(query)
        return self.get_queue(parts[-2], region, parts[-1], query=query)

    def queue_for_arn(self, arn: str) -> Queue | None:
        return self.registry.by_arn(arn)

    def delete_queue(self, queue: Queue) -> None:
        self.registry.delete(queue)

    def list_queues(self, account: str, region: str, prefix: str = "") -> list[Queue]:
        return self.registry.list(account, region, prefix)

    def dead_letter_sources(self, queue: Queue) -> list[Queue]:
        return self.registry.dead_letter_sources(queue)

    def set_attributes(self, queue: Queue, attributes: dict[str, str]) -> None:
        self.registry.set_attributes(queue, attributes)

    def get_attributes(self, queue: Queue, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        for name in names:
            if name != "All" and name not in ALL_QUEUE_ATTRIBUTES:
                raise errors.unknown_attribute(name)
        wanted = ALL_QUEUE_ATTRIBUTES if "All" in names else names
        wire = queue.config.to_wire()
        counters: dict[str, int] | None = None
        out: dict[str, str] = {}
        for name in wanted:
            if name in COUNTERS:
                if counters is None:
                    counters = self.messages.counters(queue)
                out[name] = str(counters[name])
            elif name == "CreatedTimestamp":
                out[name] = str(int(queue.created))
            elif name == "LastModifiedTimestamp":
                out[name] = str(int(queue.modified))
            elif name == "QueueArn":
                out[name] = queue.arn
            elif name in wire:
                out[name] = wire[name]
        return out

    def purge(self, queue: Queue) -> None:
        self.messages.purge(queue)

    # --- sending ------------------------------------------------------------------------

    def send(
        self,
        queue: Queue,
        body: str,
        *,
        sender_id: str,
        message_attributes: dict[str, Any] | None = None,
        system_attributes: dict[str, Any] | None = None,
        delay: int | None = None,
        dedup_id: str | None = None,
        group_id: str | None = None,
        trace_header: str | None = None,
    ) -> Sent:
        out = prepare(queue, body, message_attributes, system_attributes, delay, dedup_id, group_id)
        if out.trace is None and trace_header:
            out.trace = trace_header
        return self.messages.send(queue, out, sender_id)

    def send_batch(
        self,
        queue: Queue,
        entries: list[dict[str, Any]],
        *,
        sender_id: str,
        trace_header: str | None = None,
    ) -> tuple[list[tuple[str, Sent]], list[tuple[str, ServiceError]]]:
        """SendMessageBatch: whole-request errors raise; entry errors come back per id.
        ``trace_header``: the request's ``X-Amzn-Trace-Id``, for entries naming none."""
        check_batch(entries, "SendMessage")
        batch_size_ok(entries)
        ok: list[tuple[str, Any]] = []
        failed: list[tuple[str, ServiceError]] = []
        for entry in entries:
            try:
                ok.append(
                    (
                        entry["Id"],
                        prepare(
                            queue,
                            entry["MessageBody"],
                            entry.get("MessageAttributes"),
                            entry.get("MessageSystemAttributes"),
                            entry.get("DelaySeconds"),
                            entry.get("MessageDeduplicationId"),
                            entry.get("MessageGroupId"),
                        ),
                    )
                )
            except ServiceError as exc:
                failed.append((entry["Id"], exc))
        for _, out in ok:
            if out.trace is None and trace_header:
                out.trace = trace_header
        sent = self.messages.send_many(queue, [out for _, out in ok], sender_id) if ok else []
        return [(entry_id, s) for (entry_id, _), s in zip(ok, sent, strict=True)], failed

    # --- receiving ----------------------------------------------------------------------

    def receive_now(
        self,
        queue: Queue,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        attempt_id: str | None = None,
    ) -> list[Delivery]:
        vt = queue.config.visibility_timeout if visibility_timeout is None else visibility_timeout
        if attempt_id is not None and queue.fifo:
            again = self._retry_attempt(queue, attempt_id)
            if again is not None:
                return again
        got = self.messages.receive(queue, max_messages, vt)
        if attempt_id is not None and queue.fifo and got:
            now = _clock.clock.time()
            keys = [decode_handle(d.handle) for d in got]
            queue.attempts[attempt_id] = (now + DEDUP_WINDOW, [(k[1], k[2]) for k in keys if k])
        return got

    def _retry_attempt(self, queue: Queue, attempt_id: str) -> list[Delivery] | None:
        cached = queue.attempts.get(attempt_id)
        now = _clock.clock.time()
        if cached is None or cached[0] <= now:
            return None
        out = []
        for row_id, receipt in cached[1]:
            delivery = self.messages.redeliver(queue, row_id, receipt, now)
            if delivery is None:
                queue.attempts.pop(attempt_id, None)
                return None
            out.append(delivery)
        return out

    async def receive(
        self,
        queue: Queue,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        wait_seconds: int | None = None,
        attempt_id: str | None = None,
    ) -> list[Delivery]:
        """ReceiveMessage with long polling (``wait_seconds`` None: the queue's setting)."""
        check_receive(max_messages, visibility_timeout, wait_seconds)
        wait = (
            queue.config.receive_message_wait_time_seconds if wait_seconds is None else wait_seconds
        )
        got = self.receive_now(queue, max_messages, visibility_timeout, attempt_id)
        if got or wait <= 0:
            return got
        clock = _clock.clock
        deadline = clock.monotonic() + wait
        while not (queue.deleted or self.closing):
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            event = queue.waiter()
            soon = self.messages.next_ready_in(queue)
            timeout = remaining if soon is None else min(remaining, soon + 0.001)
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass
            if queue.deleted or self.closing:
                break
            got = self.receive_now(queue, max_messages, visibility_timeout, attempt_id)
            if got:
                return got
        return []

    # --- deleting and visibility ----------------------------------------------------------

    def delete(self, queue: Queue, handle: str) -> None:
        self.messages.delete(queue, handle)

    def delete_batch(
        self, queue: Queue, entries: list[dict[str, Any]]
    ) -> tuple[list[str], list[tuple[str, ServiceError]]]:
        check_batch(entries, "DeleteMessage")
        ok, failed = [], []
        for entry in entries:
            try:
                self.messages.delete(queue, entry["ReceiptHandle"])
                ok.append(entry["Id"])
            except ServiceError as exc:
                failed.append((entry["Id"], exc))
        return ok, failed

    def change_visibility(self, queue: Queue, handle: str, timeout: int) -> None:
        self.messages.change_visibility(queue, handle, timeout)

    def change_visibility_batch(
        self, queue: Queue, entries: list[dict[str, Any]]
    ) -> tuple[list[str], list[tuple[str, ServiceError]]]:
        check_batch(entries, "ChangeMessageVisibility")
        ok, failed = [], []
        for entry in entries:
            try:
                timeout = entry.get("VisibilityTimeout")
                if timeout is None:
                    raise errors.missing_parameter("VisibilityTimeout")
                self.messages.change_visibility(queue, entry["ReceiptHandle"], timeout)
                ok.append(entry["Id"])
            except ServiceError as exc:
                failed.append((entry["Id"], exc))
        return ok, failed


def check_batch(entries: list[dict[str, Any]], action: str) -> None:
    if not entries:
        raise errors.empty_batch(action)
    if len(entries) > MAX_BATCH:
        raise errors.too_many_entries(len(entries), MAX_BATCH)
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id", "")
        if not isinstance(entry_id, str) or not _BATCH_ID.fullmatch(entry_id):
            raise errors.invalid_batch_entry_id()
        if entry_id in seen:
            raise errors.batch_ids_not_distinct(entry_id)
        seen.add(entry_id)


def check_receive(
    max_messages: int, visibility_timeout: int | None, wait_seconds: int | None
) -> None:
    if not 1 <= max_messages <= MAX_BATCH:
        raise errors.invalid_value(
            max_messages, "MaxNumberOfMessages", "Must be between 1 and 10, if provided."
        )
    if visibility_timeout is not None and not 0 <= visibility_timeout <= 43_200:
        raise errors.invalid_value(
            visibility_timeout, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided."
        )
    if wait_seconds is not None and not 0 <= wait_seconds <= 20:
        raise errors.invalid_value(
            wait_seconds, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided."
        )
