"""SQS's SQLite schema and the statements the hot path runs.

Why these tables and indexes: every send is one INSERT and every receive one
indexed range read plus one UPDATE per message, whatever the queue depth.

- ``messages(queue_id, visible_at, receive_count)``: the next visible messages
  of a standard queue are the first entries at or below ``now``; the same index
  answers the three counters with index-only range counts.
- ``messages(queue_id, enqueued_at)``: the retention sweep deletes the oldest.
- ``messages(queue_id, group_id, seq)`` (FIFO only, partial): a group's head.
- ``fifo_groups(queue_id, ready_at)``: one row per non-empty FIFO group with
  the time its head becomes deliverable (later than now while any message of
  the group is in flight). A FIFO receive reads ready groups, never messages
  stuck behind an in-flight one.
- ``fifo_dedup``: deduplication ids for five minutes, kept after a delete.

Statements are module constants so ``sqlite3``'s statement cache prepares each
once per connection.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    modified REAL NOT NULL,
    purged_at REAL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS deleted_queues (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    deleted_at REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    md5_body TEXT NOT NULL,
    attributes TEXT,
    md5_attributes TEXT,
    trace_header TEXT,
    md5_system TEXT,
    sender_id TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt INTEGER,
    group_id TEXT,
    dedup_id TEXT,
    seq INTEGER,
    dlq_source TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue_id, visible_at, receive_count);
CREATE INDEX IF NOT EXISTS messages_age ON messages (queue_id, enqueued_at);
CREATE INDEX IF NOT EXISTS messages_group ON messages (queue_id, group_id, seq)
    WHERE group_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS fifo_groups (
    queue_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    ready_at REAL NOT NULL,
    PRIMARY KEY (queue_id, group_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_groups_ready ON fifo_groups (queue_id, ready_at);
CREATE TABLE IF NOT EXISTS fifo_dedup (
    queue_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (queue_id, scope, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_dedup_expiry ON fifo_dedup (expires_at);
CREATE TABLE IF NOT EXISTS move_tasks (
    task_id TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    rate INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL DEFAULT 0,
    to_move INTEGER,
    started_ms INTEGER NOT NULL,
    failure TEXT
);
"""

# Columns a delivery needs, in this order (see ``messages.Row``).
ROW_COLUMNS = (
    "id, message_id, body, md5_body, attributes, md5_attributes, trace_header, sender_id, "
    "sent_ms, enqueued_at, visible_at, receive_count, first_receive_ms, receipt, group_id, "
    "dedup_id, seq, dlq_source, md5_system"
)

# Positions in a row selected with ROW_COLUMNS.
(
    R_ID,
    R_MESSAGE_ID,
    R_BODY,
    R_MD5_BODY,
    R_ATTRIBUTES,
    R_MD5_ATTRIBUTES,
    R_TRACE,
    R_SENDER,
    R_SENT_MS,
    R_ENQUEUED_AT,
    R_VISIBLE_AT,
    R_RECEIVE_COUNT,
    R_FIRST_RECEIVE_MS,
    R_RECEIPT,
    R_GROUP_ID,
    R_DEDUP_ID,
    R_SEQ,
    R_DLQ_SOURCE,
    R_MD5_SYSTEM,
) = range(19)

INSERT_MESSAGE = (
    "INSERT INTO messages (queue_id, message_id, body, md5_body, attributes, md5_attributes, "
    "trace_header, md5_system, sender_id, sent_ms, enqueued_at, visible_at, receive_count, "
    "group_id, dedup_id, seq, dlq_source) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_VISIBLE = (
    f"SELECT {ROW_COLUMNS} FROM messages WHERE queue_id = ? AND visible_at <= ? "
    "ORDER BY visible_at LIMIT ?"
)
SELECT_BY_ID = f"SELECT {ROW_COLUMNS} FROM messages WHERE id = ? AND queue_id = ?"
SELECT_GROUP_HEAD = (
    f"SELECT {ROW_COLUMNS} FROM messages WHERE queue_id = ? AND group_id = ? ORDER BY seq LIMIT ?"
)
SELECT_GROUP_PREFIX = (
    "SELECT visible_at, receive_count FROM messages WHERE queue_id = ? AND group_id = ? "
    "ORDER BY seq LIMIT 11"
)
MARK_RECEIVED = (
    "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?, "
    "first_receive_ms = coalesce(first_receive_ms, ?) WHERE id = ?"
)
SET_VISIBLE_AT = "UPDATE messages SET visible_at = ? WHERE id = ?"
DELETE_BY_RECEIPT = "DELETE FROM messages WHERE id = ? AND queue_id = ? AND receipt = ?"
DELETE_BY_ID = "DELETE FROM messages WHERE id = ?"
NEXT_VISIBLE = "SELECT min(visible_at) FROM messages WHERE queue_id = ? AND visible_at > ?"

READY_GROUPS = (
    "SELECT group_id FROM fifo_groups WHERE queue_id = ? AND ready_at <= ? "
    "ORDER BY ready_at LIMIT ?"
)
NEXT_READY_GROUP = "SELECT min(ready_at) FROM fifo_groups WHERE queue_id = ? AND ready_at > ?"
ADD_GROUP = "INSERT OR IGNORE INTO fifo_groups (queue_id, group_id, ready_at) VALUES (?, ?, ?)"
SET_GROUP = "INSERT OR REPLACE INTO fifo_groups (queue_id, group_id, ready_at) VALUES (?, ?, ?)"
DROP_GROUP = "DELETE FROM fifo_groups WHERE queue_id = ? AND group_id = ?"

FIND_DEDUP = (
    "SELECT message_id, seq, expires_at FROM fifo_dedup "
    "WHERE queue_id = ? AND scope = ? AND dedup_id = ?"
)
PUT_DEDUP = (
    "INSERT OR REPLACE INTO fifo_dedup (queue_id, scope, dedup_id, message_id, seq, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)

COUNT_VISIBLE = "SELECT count(*) FROM messages WHERE queue_id = ? AND visible_at <= ?"
COUNT_IN_FLIGHT = (
    "SELECT count(*) FROM messages WHERE queue_id = ? AND visible_at > ? AND receive_count > 0"
)
COUNT_DELAYED = (
    "SELECT count(*) FROM messages WHERE queue_id = ? AND visible_at > ? AND receive_count = 0"
)
EXPIRED = (
    "SELECT id, group_id FROM messages WHERE queue_id = ? AND enqueued_at <= ? "
    "ORDER BY enqueued_at LIMIT ?"
)


def open_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
