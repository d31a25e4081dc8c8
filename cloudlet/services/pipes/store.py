"""Where pipes live: one SQLite database of JSON documents for the service.

Pipes are few and read on every poll, so they are held in memory and written through
on every change, their source positions included, so a pipe survives a restart and
resumes where it was.
"""

from __future__ import annotations

import sqlite3

from cloudlet.services.pipes.model import Pipe
from cloudlet.state.documents import DocumentStore


class PipeStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.docs = DocumentStore(conn, "pipes")
        self.pipes: dict[str, Pipe] = {d["arn"]: Pipe.from_doc(d) for d in self.docs.load("pipe")}

    def get(self, arn: str) -> Pipe | None:
        return self.pipes.get(arn)

    def save(self, pipe: Pipe) -> None:
        self.pipes[pipe.arn] = pipe
        self.docs.put("pipe", pipe.arn, pipe.to_doc())

    def drop(self, pipe: Pipe) -> None:
        self.pipes.pop(pipe.arn, None)
        self.docs.delete("pipe", pipe.arn)

    def close(self) -> None:
        self.docs.close()
