"""Where Firehose keeps its delivery streams and every record it has acknowledged.

Why records live in SQLite: PutRecord and PutRecordBatch answer only once their records
are committed (WAL, ``synchronous=NORMAL``), so a restart, even a ``kill -9``, loses
nothing a producer was told was taken; a record leaves the database only after its
object (or HTTP request, or error record) was written. Delivery is therefore at least
once, as AWS documents it: a crash between the write and the delete repeats a batch.

Records wait in *lanes*, one table for all: ``in`` (waiting for the Lambda
transformation), ``out`` (ready for the destination, ``part`` naming a dynamic
partition's keys), ``failed`` (error records for the error prefix, ``part`` naming the
error output type) and ``backup`` (source records for the backup bucket). Each lane's
count, bytes and oldest arrival in the lane are kept in memory (``Lane``), so deciding
whether a buffer is due costs no query.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from cloudlet.core.clock import clock
from cloudlet.services.firehose.model import DeliveryStream
from cloudlet.state.db import Transaction
from cloudlet.state.documents import DocumentStore


class Row(NamedTuple):
    """A record to buffer: its lane and part, id, arrival, bytes and metadata."""

    lane: str
    part: str
    record_id: str
    arrival: float
    data: bytes
    meta: dict[str, Any] | None = None


def failed_row(
    rid: str,
    arrival: float,
    data: bytes,
    code: str,
    message: str,
    kind: str = "processing-failed",
) -> Row:
    """An error record for the error prefix (``kind`` is its error output type), failed
    at its first attempt."""
    meta = {
        "attemptsMade": 1,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": int(clock.time() * 1000),
    }
    return Row("failed", kind, rid, arrival, data, meta)


class Buffered(NamedTuple):
    seq: int
    record_id: str
    arrival: float
    data: bytes
    meta: dict[str, Any] | None


@dataclass
class Lane:
    count: int = 0
    size: int = 0
    oldest: float = 0.0
    """When the longest-waiting record entered the lane (epoch seconds)."""


class FirehoseStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.docs = DocumentStore(conn, "streams")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS buffered ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,"
            " lane TEXT NOT NULL, part TEXT NOT NULL, record_id TEXT NOT NULL,"
            " arrival REAL NOT NULL, queued REAL NOT NULL, data BLOB NOT NULL, meta TEXT)"
        )
        conn.execute(
            "CREATE INDEX IF NOT EXISTS buffered_lane ON buffered (stream, lane, part, seq)"
        )
        self.streams: dict[str, DeliveryStream] = {
            d["arn"]: DeliveryStream.from_doc(d) for d in self.docs.load("stream")
        }
        self.lanes: dict[str, dict[tuple[str, str], Lane]] = {}
        rows = conn.execute(
            "SELECT stream, lane, part, COUNT(*), SUM(LENGTH(data)), MIN(queued)"
            " FROM buffered GROUP BY stream, lane, part"
        )
        for stream, lane, part, count, size, oldest in rows:
            self.lanes.setdefault(stream, {})[(lane, part)] = Lane(count, size or 0, oldest)

    def transaction(self) -> Transaction:
        return Transaction(self.conn)

    # -- streams -------------------------------------------------------------------

    def save(self, stream: DeliveryStream) -> None:
        self.streams[stream.arn] = stream
        self.docs.put("stream", stream.arn, stream.to_doc())

    def drop(self, stream: DeliveryStream) -> None:
        with self.transaction():
            self.docs.delete("stream", stream.arn)
            self.conn.execute("DELETE FROM buffered WHERE stream = ?", (stream.arn,))
        self.streams.pop(stream.arn, None)
        self.lanes.pop(stream.arn, None)

    # -- buffered records ------------------------------------------------------------

    def add(self, arn: str, rows: Iterable[Row], now: float) -> None:
        """Buffer ``rows`` for stream ``arn`` (inside the caller's transaction, if any)."""
        rows = list(rows)
        self.conn.executemany(
            "INSERT INTO buffered (stream, lane, part, record_id, arrival, queued, data, meta)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    arn,
                    r.lane,
                    r.part,
                    r.record_id,
                    r.arrival,
                    now,
                    r.data,
                    json.dumps(r.meta) if r.meta is not None else None,
                )
                for r in rows
            ],
        )
        lanes = self.lanes.setdefault(arn, {})
        for r in rows:
            lane = lanes.get((r.lane, r.part))
            if lane is None or lane.count == 0:
                lane = lanes[(r.lane, r.part)] = Lane(0, 0, now)
            lane.count += 1
            lane.size += len(r.data)

    def take(self, arn: str, lane: str, part: str, limit: int) -> list[Buffered]:
        """The lane's oldest records, at most ``limit`` bytes (always at least one)."""
        out: list[Buffered] = []
        size = 0
        cursor = self.conn.execute(
            "SELECT seq, record_id, arrival, data, meta FROM buffered"
            " WHERE stream = ? AND lane = ? AND part = ? ORDER BY seq",
            (arn, lane, part),
        )
        for seq, record_id, arrival, data, meta in cursor:
            if out and size + len(data) > limit:
                break
            out.append(Buffered(seq, record_id, arrival, data, json.loads(meta) if meta else None))
            size += len(data)
        cursor.close()
        return out

    def remove(self, arn: str, lane: str, part: str, seqs: list[int]) -> None:
        """Forget delivered records (inside the caller's transaction, if any)."""
        self.conn.executemany("DELETE FROM buffered WHERE seq = ?", [(s,) for s in seqs])
        self.recount(arn, lane, part)

    def recount(self, arn: str, lane: str, part: str) -> None:
        count, size, oldest = self.conn.execute(
            "SELECT COUNT(*), SUM(LENGTH(data)), MIN(queued) FROM buffered"
            " WHERE stream = ? AND lane = ? AND part = ?",
            (arn, lane, part),
        ).fetchone()
        lanes = self.lanes.setdefault(arn, {})
        if count:
            lanes[(lane, part)] = Lane(count, size or 0, oldest)
        else:
            lanes.pop((lane, part), None)

    def waiting(self, arn: str) -> dict[tuple[str, str], Lane]:
        return self.lanes.get(arn, {})

    def close(self) -> None:
        self.docs.close()
