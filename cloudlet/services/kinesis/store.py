"""Where streams and their records live: one SQLite database for the service.

Streams are few and read on every call, so they are held in memory and written through
as documents. Records are many: a table keyed by (stream, shard, counter), so a shard
reads in order from any position with one index range scan and the retention sweep is
one DELETE. The counter is arrival time in microseconds, kept strictly increasing across
the whole service (and across restarts, from the largest one stored), so it orders a
shard's records and tells their age at once. Enhanced fan-out consumers are documents
beside the streams, held in memory the same way; deleting a stream deletes them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from cloudlet.core.clock import clock
from cloudlet.services.kinesis.model import Consumer, Stream
from cloudlet.state.db import Transaction
from cloudlet.state.documents import DocumentStore


@dataclass(slots=True)
class Record:
    shard_id: str
    counter: int
    partition_key: str
    data: bytes
    arrival: float


class KinesisStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.docs = DocumentStore(conn, "streams")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS records (stream TEXT NOT NULL, shard TEXT NOT NULL,"
            " counter INTEGER NOT NULL, pkey TEXT NOT NULL, data BLOB NOT NULL,"
            " arrival REAL NOT NULL, PRIMARY KEY (stream, shard, counter)) WITHOUT ROWID"
        )
        self.streams: dict[str, Stream] = {
            d["arn"]: Stream.from_doc(d) for d in self.docs.load("stream")
        }
        self.consumers: dict[str, Consumer] = {
            d["arn"]: Consumer.from_doc(d) for d in self.docs.load("consumer")
        }
        (top,) = conn.execute("SELECT MAX(counter) FROM records").fetchone()
        top_shard = max(
            (s.end_counter or s.start_counter for st in self.streams.values() for s in st.shards),
            default=0,
        )
        self.last_counter = max(top or 0, top_shard)

    def next_counter(self) -> int:
        self.last_counter = max(self.last_counter + 1, int(clock.time() * 1_000_000))
        return self.last_counter

    def save(self, stream: Stream) -> None:
        self.streams[stream.arn] = stream
        self.docs.put("stream", stream.arn, stream.to_doc())

    def drop(self, stream: Stream) -> None:
        """The stream, its records and its consumers."""
        with Transaction(self.conn):
            self.streams.pop(stream.arn, None)
            self.docs.delete("stream", stream.arn)
            self.conn.execute("DELETE FROM records WHERE stream = ?", (stream.arn,))
            for consumer in self.consumers_of(stream.arn):
                self.drop_consumer(consumer)

    def consumers_of(self, stream_arn: str) -> list[Consumer]:
        return [c for c in self.consumers.values() if c.stream_arn == stream_arn]

    def live_consumers(self, stream_arn: str, now: float) -> list[Consumer]:
        """The stream's consumers, dropping those whose deregistration has finished."""
        live = []
        for consumer in self.consumers_of(stream_arn):
            if consumer.status(now) is None:
                self.drop_consumer(consumer)
            else:
                live.append(consumer)
        return live

    def save_consumer(self, consumer: Consumer) -> None:
        self.consumers[consumer.arn] = consumer
        self.docs.put("consumer", consumer.arn, consumer.to_doc())

    def drop_consumer(self, consumer: Consumer) -> None:
        self.consumers.pop(consumer.arn, None)
        self.docs.delete("consumer", consumer.arn)

    def append(self, stream: Stream, rows: list[Record]) -> None:
        with Transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (stream.arn, r.shard_id, r.counter, r.partition_key, r.data, r.arrival)
                    for r in rows
                ],
            )

    def read(
        self, stream: Stream, shard_id: str, start: int, since: float, limit: int
    ) -> list[Record]:
        """Up to ``limit`` records of a shard from counter ``start`` that arrived at or
        after ``since`` (older ones are past retention even before the sweep runs)."""
        rows = self.conn.execute(
            "SELECT counter, pkey, data, arrival FROM records WHERE stream = ? AND shard = ?"
            " AND counter >= ? AND arrival >= ? ORDER BY counter LIMIT ?",
            (stream.arn, shard_id, start, since, limit),
        ).fetchall()
        return [Record(shard_id, c, k, bytes(d), a) for c, k, d, a in rows]

    def first_at(self, stream: Stream, shard_id: str, when: float) -> int | None:
        """The counter of the first record of a shard that arrived at or after ``when``."""
        (found,) = self.conn.execute(
            "SELECT MIN(counter) FROM records WHERE stream = ? AND shard = ? AND arrival >= ?",
            (stream.arn, shard_id, when),
        ).fetchone()
        return found

    def sweep(self, stream: Stream, before: float) -> int:
        """Drop the stream's records that arrived before ``before``; how many went."""
        cur = self.conn.execute(
            "DELETE FROM records WHERE stream = ? AND arrival < ?", (stream.arn, before)
        )
        return cur.rowcount

    def close(self) -> None:
        self.conn.close()
