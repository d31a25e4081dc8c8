"""CloudWatch Logs' SQLite schema and the statements the hot paths run.

Why these tables and indexes:

- ``events(sid, ts, id)``: GetLogEvents reads one stream in time order from a
  cursor in both directions; ``events(gid, ts, id)``: FilterLogEvents and
  Insights page through a whole group in time order without loading it, and
  the retention sweep deletes a group's oldest events with one range delete.
- A stream row carries its first/last timestamps, last ingestion and stored
  bytes, updated once per PutLogEvents batch (one transaction per batch).
- ``filters``: metric and subscription filters as JSON documents by group.
- ``events.raw``: the event as ingested when a data protection policy masked it
  (``message`` holds what readers see); NULL when nothing was masked, so ``unmask``
  reads ``COALESCE(raw, message)``.
- ``field_index`` and ``field_index_fields`` (``field_index_store``): which events hold
  which value of an indexed field, written with the events.
- ``group_docs``: one JSON document per group and kind (its data protection policy,
  transformer, group-scoped resource policy), deleted with the group.

Cursors are ``(ts, id)`` pairs: ``id`` is the insertion order, which breaks
ties between events with the same timestamp, as AWS's event ids do.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from cloudlet.services.logs.field_index_store import Entries, FieldIndexStore
from cloudlet.state.db import Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    retention INTEGER,
    kms TEXT,
    class TEXT NOT NULL DEFAULT 'STANDARD',
    tags TEXT NOT NULL DEFAULT '{}',
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gid INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_ts INTEGER,
    last_ts INTEGER,
    last_ingest INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (gid, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    gid INTEGER NOT NULL,
    sid INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingest INTEGER NOT NULL,
    message TEXT NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS events_stream ON events (sid, ts, id);
CREATE INDEX IF NOT EXISTS events_group ON events (gid, ts, id);
CREATE TABLE IF NOT EXISTS filters (
    gid INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (gid, kind, name)
);
CREATE TABLE IF NOT EXISTS group_docs (
    gid INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (gid, kind)
);
CREATE TABLE IF NOT EXISTS query_definitions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, id)
);
"""

Row = dict[str, Any]
_GROUP_COLS = "id, account, region, name, created, retention, kms, class, tags"
_STREAM_COLS = "id, gid, name, created, first_ts, last_ts, last_ingest, bytes, seq"


def _group(row: tuple) -> Row:
    keys = ("id", "account", "region", "name", "created", "retention", "kms", "class", "tags")
    out = dict(zip(keys, row, strict=True))
    out["tags"] = json.loads(out["tags"])
    return out


def _text(unmask: bool) -> str:
    return "COALESCE(raw, message)" if unmask else "message"


def _stream(row: tuple) -> Row:
    keys = ("id", "gid", "name", "created", "first_ts", "last_ts", "last_ingest", "bytes", "seq")
    return dict(zip(keys, row, strict=True))


class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
        if "raw" not in columns:  # a data dir from before data protection
            conn.execute("ALTER TABLE events ADD COLUMN raw TEXT")
        self.fields = FieldIndexStore(conn)

    # --- groups ----------------------------------------------------------------------

    def group(self, account: str, region: str, name: str) -> Row | None:
        row = self.conn.execute(
            f"SELECT {_GROUP_COLS} FROM groups WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        return _group(row) if row else None

    def groups(self, account: str, region: str, prefix: str = "") -> list[Row]:
        rows = self.conn.execute(
            f"SELECT {_GROUP_COLS} FROM groups WHERE account = ? AND region = ? "
            "AND substr(name, 1, ?) = ? ORDER BY name",
            (account, region, len(prefix), prefix),
        ).fetchall()
        return [_group(r) for r in rows]

    def all_groups(self) -> list[Row]:
        return [_group(r) for r in self.conn.execute(f"SELECT {_GROUP_COLS} FROM groups")]

    def create_group(self, account: str, region: str, name: str, now: int, **kw: Any) -> None:
        self.conn.execute(
            "INSERT INTO groups (account, region, name, created, kms, class, tags) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                account,
                region,
                name,
                now,
                kw.get("kms"),
                kw.get("cls") or "STANDARD",
                json.dumps(kw.get("tags") or {}),
            ),
        )

    def update_group(self, gid: int, **fields: Any) -> None:
        for key, value in fields.items():
            if key == "tags":
                value = json.dumps(value)
            self.conn.execute(f"UPDATE groups SET {key} = ? WHERE id = ?", (value, gid))

    def delete_group(self, gid: int) -> None:
        with Transaction(self.conn):
            self.fields.forget_group(gid)
            self.conn.execute("DELETE FROM events WHERE gid = ?", (gid,))
            self.conn.execute("DELETE FROM groups WHERE id = ?", (gid,))

    def group_bytes(self, gid: int) -> int:
        return self.conn.execute(
            "SELECT COALESCE(SUM(bytes), 0) FROM streams WHERE gid = ?", (gid,)
        ).fetchone()[0]

    # --- streams ---------------------------------------------------------------------

    def stream(self, gid: int, name: str) -> Row | None:
        row = self.conn.execute(
            f"SELECT {_STREAM_COLS} FROM streams WHERE gid = ? AND name = ?", (gid, name)
        ).fetchone()
        return _stream(row) if row else None

    def streams(self, gid: int, prefix: str = "") -> list[Row]:
        rows = self.conn.execute(
            f"SELECT {_STREAM_COLS} FROM streams WHERE gid = ? AND substr(name, 1, ?) = ? "
            "ORDER BY name",
            (gid, len(prefix), prefix),
        ).fetchall()
        return [_stream(r) for r in rows]

    def create_stream(self, gid: int, name: str, now: int) -> None:
        self.conn.execute(
            "INSERT INTO streams (gid, name, created) VALUES (?, ?, ?)", (gid, name, now)
        )

    def delete_stream(self, sid: int) -> None:
        with Transaction(self.conn):
            gid = self.conn.execute("SELECT gid FROM streams WHERE id = ?", (sid,)).fetchone()
            if gid is not None:
                self.fields.forget_stream(gid[0], sid)
            self.conn.execute("DELETE FROM events WHERE sid = ?", (sid,))
            self.conn.execute("DELETE FROM streams WHERE id = ?", (sid,))

    # --- events ----------------------------------------------------------------------

    def append(
        self,
        stream: Row,
        events: list[tuple[int, str, str | None]],
        now: int,
        index: tuple[set[str], Entries] | None = None,
    ) -> list[int]:
        """Store one batch ``(ts, message, raw or None)`` in one transaction; returns the
        new event ids. ``index``: the fields indexed now and each event's index entries."""
        ids: list[int] = []
        size = sum(len(m.encode()) for _, m, _ in events)
        with Transaction(self.conn):
            cur = self.conn.cursor()
            for ts, message, raw in events:
                cur.execute(
                    "INSERT INTO events (gid, sid, ts, ingest, message, raw) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (stream["gid"], stream["id"], ts, now, message, raw),
                )
                ids.append(cur.lastrowid or 0)
            first = min(e[0] for e in events)
            last = max(e[0] for e in events)
            cur.execute(
                "UPDATE streams SET first_ts = MIN(COALESCE(first_ts, ?), ?), "
                "last_ts = MAX(COALESCE(last_ts, ?), ?), last_ingest = ?, "
                "bytes = bytes + ?, seq = seq + 1 WHERE id = ?",
                (first, first, last, last, now, size, stream["id"]),
            )
            if index is not None:
                fields, entries = index
                rows = [(i, e[0], p) for i, e, p in zip(ids, events, entries, strict=True)]
                self.fields.record(cur, stream["gid"], fields, rows, now, ids[0])
        return ids

    def stream_page(
        self,
        sid: int,
        after: tuple[int, int] | None,
        before: tuple[int, int] | None,
        start: int | None,
        end: int | None,
        limit: int,
        backward: bool,
        unmask: bool = False,
    ) -> list[tuple[int, int, int, str]]:
        """Up to ``limit`` events ``(id, ts, ingest, message)`` of one stream in
        ascending order: the first ones after ``after``, or (``backward``) the
        last ones before ``before``; ``unmask``: as ingested, not as masked."""
        where, args = ["sid = ?"], [sid]
        if after is not None:
            where.append("(ts, id) > (?, ?)")
            args += list(after)
        if before is not None:
            where.append("(ts, id) < (?, ?)")
            args += list(before)
        if start is not None:
            where.append("ts >= ?")
            args.append(start)
        if end is not None:
            where.append("ts < ?")
            args.append(end)
        order = "DESC" if backward else "ASC"
        rows = self.conn.execute(
            f"SELECT id, ts, ingest, {_text(unmask)} FROM events WHERE {' AND '.join(where)} "
            f"ORDER BY ts {order}, id {order} LIMIT ?",
            (*args, limit),
        ).fetchall()
        return rows[::-1] if backward else rows

    def scan(
        self,
        gid: int,
        sids: list[int] | None,
        after: tuple[int, int] | None,
        start: int | None,
        end: int | None,
        chunk: int = 1000,
        unmask: bool = False,
        with_raw: bool = False,
        where_sql: tuple[list[str], list[Any]] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """A group's events ``(id, sid, ts, ingest, message)`` in time order from
        ``after``, read ``chunk`` rows at a time (never the whole group at once);
        ``unmask``: as ingested, not as masked; ``with_raw``: each with a sixth column,
        the event as ingested when it was masked (else None); ``where_sql``: more
        conditions (``field_indexes``' index lookups) and their arguments."""
        cursor = after
        while True:
            where, args = ["gid = ?"], [gid]
            if sids is not None:
                where.append(f"sid IN ({','.join('?' * len(sids))})")
                args += sids
            if cursor is not None:
                where.append("(ts, id) > (?, ?)")
                args += list(cursor)
            if start is not None:
                where.append("ts >= ?")
                args.append(start)
            if end is not None:
                where.append("ts <= ?")
                args.append(end)
            if where_sql is not None:
                where += where_sql[0]
                args += where_sql[1]
            rows = self.conn.execute(
                f"SELECT id, sid, ts, ingest, {_text(unmask)}{', raw' if with_raw else ''} "
                "FROM events "
                f"WHERE {' AND '.join(where)} ORDER BY ts, id LIMIT ?",
                (*args, chunk),
            ).fetchall()
            yield from rows
            if len(rows) < chunk:
                return
            cursor = (rows[-1][2], rows[-1][0])

    def recent(self, gid: int, until: int | None, limit: int) -> list[tuple[int, int, int, str]]:
        """A group's latest events ``(sid, ts, ingest, message)`` up to ``until``."""
        return self.conn.execute(
            "SELECT sid, ts, ingest, message FROM events WHERE gid = ? AND ts <= ? "
            "ORDER BY ts DESC, id DESC LIMIT ?",
            (gid, until if until is not None else 2**62, limit),
        ).fetchall()

    def event(
        self, gid: int, row_id: int, unmask: bool = False
    ) -> tuple[int, int, int, str] | None:
        return self.conn.execute(
            f"SELECT sid, ts, ingest, {_text(unmask)} FROM events WHERE gid = ? AND id = ?",
            (gid, row_id),
        ).fetchone()

    def expire(self, gid: int, before_ts: int) -> int:
        """Delete a group's events older than ``before_ts``; fix the streams' stats."""
        with Transaction(self.conn):
            touched = [
                sid
                for (sid,) in self.conn.execute(
                    "SELECT DISTINCT sid FROM events WHERE gid = ? AND ts < ?", (gid, before_ts)
                )
            ]
            self.fields.expire(gid, before_ts)
            n = self.conn.execute(
                "DELETE FROM events WHERE gid = ? AND ts < ?", (gid, before_ts)
            ).rowcount
            for sid in touched:
                self.conn.execute(
                    "UPDATE streams SET (first_ts, bytes) = (SELECT MIN(ts), "
                    "COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM events "
                    "WHERE sid = ?) WHERE id = ?",
                    (sid, sid),
                )
        return n

    # --- filters ---------------------------------------------------------------------

    def filters(self, gid: int, kind: str) -> list[Row]:
        rows = self.conn.execute(
            "SELECT doc FROM filters WHERE gid = ? AND kind = ? ORDER BY name", (gid, kind)
        ).fetchall()
        return [json.loads(doc) for (doc,) in rows]

    def put_filter(self, gid: int, kind: str, name: str, now: int, doc: Row) -> None:
        self.conn.execute(
            "INSERT INTO filters (gid, kind, name, created, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (gid, kind, name) DO UPDATE SET doc = excluded.doc",
            (gid, kind, name, now, json.dumps(doc)),
        )

    def delete_filter(self, gid: int, kind: str, name: str) -> bool:
        return (
            self.conn.execute(
                "DELETE FROM filters WHERE gid = ? AND kind = ? AND name = ?", (gid, kind, name)
            ).rowcount
            > 0
        )

    # --- per-group documents ---------------------------------------------------------

    def group_doc(self, gid: int, kind: str) -> Row | None:
        row = self.conn.execute(
            "SELECT doc FROM group_docs WHERE gid = ? AND kind = ?", (gid, kind)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def group_docs(self, kind: str) -> list[tuple[int, Row]]:
        rows = self.conn.execute("SELECT gid, doc FROM group_docs WHERE kind = ?", (kind,))
        return [(gid, json.loads(doc)) for gid, doc in rows]

    def put_group_doc(self, gid: int, kind: str, doc: Row) -> None:
        self.conn.execute(
            "INSERT INTO group_docs (gid, kind, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (gid, kind) DO UPDATE SET doc = excluded.doc",
            (gid, kind, json.dumps(doc)),
        )

    def delete_group_doc(self, gid: int, kind: str) -> bool:
        cur = self.conn.execute("DELETE FROM group_docs WHERE gid = ? AND kind = ?", (gid, kind))
        return cur.rowcount > 0

    # --- query definitions -----------------------------------------------------------

    def definitions(self, account: str, region: str) -> list[Row]:
        rows = self.conn.execute(
            "SELECT doc FROM query_definitions WHERE account = ? AND region = ?",
            (account, region),
        ).fetchall()
        return sorted((json.loads(d) for (d,) in rows), key=lambda d: d["name"])

    def put_definition(self, account: str, region: str, doc: Row) -> None:
        self.conn.execute(
            "INSERT INTO query_definitions (account, region, id, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, region, id) DO UPDATE SET doc = excluded.doc",
            (account, region, doc["queryDefinitionId"], json.dumps(doc)),
        )

    def delete_definition(self, account: str, region: str, def_id: str) -> bool:
        return (
            self.conn.execute(
                "DELETE FROM query_definitions WHERE account = ? AND region = ? AND id = ?",
                (account, region, def_id),
            ).rowcount
            > 0
        )

    def filter_count(self, gid: int, kind: str) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM filters WHERE gid = ? AND kind = ?", (gid, kind)
        ).fetchone()[0]
