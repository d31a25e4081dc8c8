"""FIFO queues: deduplication, ordering within a group, and group locking.

A FIFO queue delivers a message group in ``seq`` order and never delivers from
a group while one of its messages is in flight. Instead of scanning messages
for that, each non-empty group has one ``fifo_groups`` row whose ``ready_at``
is when the group's head may next be delivered:

- after a send to an empty group: the message's ``visible_at``;
- after a receive: ``now + visibility timeout`` (the group is locked);
- after a delete or visibility change: the latest ``visible_at`` among the
  group's received-but-not-deleted messages, or the head's ``visible_at``.

Because messages are handed out strictly from the head, received messages are
always among the first few of their group (at most ten beyond the head), so
recomputing ``ready_at`` reads at most eleven rows, whatever the group's size.
A receive picks groups with ``ready_at <= now`` (oldest first), takes as many
messages as it may from each group, and locks the groups it took from.

Deduplication ids live five minutes in ``fifo_dedup`` (per queue, or per group
with ``DeduplicationScope=messageGroup``), also after the message is deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloudlet.services.sqs import store
from cloudlet.services.sqs.attributes import DEDUP_WINDOW
from cloudlet.services.sqs.store import (
    R_ENQUEUED_AT,
    R_ID,
    R_RECEIVE_COUNT,
    R_VISIBLE_AT,
)
from cloudlet.state.db import Transaction

if TYPE_CHECKING:
    from cloudlet.services.sqs.messages import Delivery, MessageStore, Outgoing
    from cloudlet.services.sqs.queues import Queue


def send(
    ms: MessageStore, queue: Queue, out: Outgoing, sender_id: str, now: float
) -> tuple[str, int]:
    """Store one FIFO message unless its deduplication id was seen in the last 5 minutes.

    Returns the (message id, sequence number) the send answers with: the
    original's for a duplicate. The caller holds the transaction.
    """
    conn = ms.conn
    scope = out.group_id if queue.config.deduplication_scope == "messageGroup" else ""
    seen = conn.execute(store.FIND_DEDUP, (queue.id, scope, out.dedup_id)).fetchone()
    if seen is not None and seen[2] > now:
        return seen[0], seen[1]
    seq = queue.next_seq(now)
    visible_at = now + out.delay
    ms._insert(queue, out, sender_id, now, seq)
    conn.execute(store.ADD_GROUP, (queue.id, out.group_id, visible_at))
    conn.execute(
        store.PUT_DEDUP,
        (queue.id, scope, out.dedup_id, out.message_id, seq, now + DEDUP_WINDOW),
    )
    return out.message_id, seq


def refresh_group(ms: MessageStore, queue: Queue, group_id: str) -> None:
    """Recompute a group's ``ready_at`` after its head or in-flight set changed."""
    rows = ms.conn.execute(store.SELECT_GROUP_PREFIX, (queue.id, group_id)).fetchall()
    if not rows:
        ms.conn.execute(store.DROP_GROUP, (queue.id, group_id))
        return
    ready = rows[0][0]
    for visible_at, receive_count in rows:
        if receive_count and visible_at > ready:
            ready = visible_at
    ms.conn.execute(store.SET_GROUP, (queue.id, group_id, ready))


def receive(
    ms: MessageStore, queue: Queue, max_messages: int, visibility_timeout: int, now: float
) -> list[Delivery]:
    """Deliver from ready groups: as many as possible from one group, then the next."""
    conn = ms.conn
    out: list[Delivery] = []
    tried: set[str] = set()
    with Transaction(conn):
        while len(out) < max_messages:
            groups = [
                g
                for (g,) in conn.execute(
                    store.READY_GROUPS, (queue.id, now, max_messages + len(tried))
                ).fetchall()
                if g not in tried
            ]
            if not groups:
                break
            for group in groups:
                tried.add(group)
                took = _take_group(ms, queue, group, out, max_messages, visibility_timeout, now)
                if took:
                    conn.execute(store.SET_GROUP, (queue.id, group, now + visibility_timeout))
                else:
                    refresh_group(ms, queue, group)
                if len(out) >= max_messages:
                    break
    return out


def _take_group(
    ms: MessageStore,
    queue: Queue,
    group: str,
    out: list[Delivery],
    max_messages: int,
    visibility_timeout: int,
    now: float,
) -> int:
    """Deliver from the head of one ready group into ``out``; return how many."""
    conn = ms.conn
    cutoff = now - queue.config.message_retention_period
    redrive = queue.config.redrive_policy
    dlq = ms.registry.by_arn(redrive.dead_letter_target_arn) if redrive else None
    took = 0
    while len(out) < max_messages:
        # Messages delivered by this call stay at the head (now in flight): skip them.
        limit = max_messages - len(out) + took
        fetched = conn.execute(store.SELECT_GROUP_HEAD, (queue.id, group, limit)).fetchall()
        rows = fetched[took:]
        dropped = blocked = False
        for row in rows:
            if row[R_ENQUEUED_AT] <= cutoff:
                conn.execute(store.DELETE_BY_ID, (row[R_ID],))
                dropped = True
            elif row[R_VISIBLE_AT] > now:
                blocked = True
                break
            elif dlq is not None and row[R_RECEIVE_COUNT] >= redrive.max_receive_count:
                ms.transfer(row, queue, dlq, now, dlq_source=queue.arn)
                dropped = True
            else:
                out.append(ms.deliver(row, queue, now, visibility_timeout))
                took += 1
                if len(out) >= max_messages:
                    break
        if blocked or not dropped or len(fetched) < limit:
            break
    return took


def visible_heads(ms: MessageStore, queue: Queue, now: float, limit: int) -> list[tuple]:
    """Up to ``limit`` deliverable messages, heads of ready groups first (for moves)."""
    rows: list[tuple] = []
    groups = ms.conn.execute(store.READY_GROUPS, (queue.id, now, limit)).fetchall()
    for (group,) in groups:
        for row in ms.conn.execute(
            store.SELECT_GROUP_HEAD, (queue.id, group, limit - len(rows))
        ).fetchall():
            if row[R_VISIBLE_AT] > now:
                break
            rows.append(row)
        if len(rows) >= limit:
            break
    return rows
