"""One invocation's streamed response, between the runtime writing it and the caller.

A runtime streams a response by POSTing it to ``/invocation/<id>/response`` with
``Lambda-Runtime-Function-Response-Mode: streaming`` and a chunked body; the Runtime
API (``runtime_api.py``) hands each piece here as it arrives and the caller
(InvokeWithResponseStream's event stream, a ``RESPONSE_STREAM`` function URL's body,
``streaming.py``) takes them in order. Nothing waits for the whole response: the queue
is bounded, and past ``HIGH_WATER`` queued bytes the runtime's connection stops being
read, so TCP pushes back on the function's writes while a caller reads slowly. A caller
that goes away (``detach``) has the rest dropped and the reading resumes: the function
runs to its end (or its timeout), as on Lambda.

Lambda's limits for streamed responses ("Response streaming for Lambda functions"):
up to 200 MB of payload, the first 6 MB at full speed and the rest at 2 MBps at most
(``read`` paces it). A plain Invoke of a function that streams gets the response
buffered (``forward=False``) within the 6 MB a synchronous response may have.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Protocol

STREAM_LIMIT = 200 * 1024 * 1024
"""A streamed response's payload at most (it was a 20 MB soft limit until 2025)."""
BUFFERED_LIMIT = 6 * 1024 * 1024 + 100
"""A buffered response's payload at most: 6291556 bytes, the figure in Lambda's error."""
BURST = 6 * 1024 * 1024
RATE = 2 * 1024 * 1024
"""Bytes a second a stream goes at once its first ``BURST`` bytes are out."""
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


class Reader(Protocol):
    """The runtime's connection, as far as flow control goes (an asyncio transport)."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class ResponseStream:
    """The pieces of one invocation's response, in order, from runtime to caller."""

    def __init__(self, forward: bool = True) -> None:
        self.forward = forward
        """The caller reads the pieces as they come; else they are kept for one payload."""
        self.limit = STREAM_LIMIT if forward else BUFFERED_LIMIT
        self.started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        """The executed version, once the invocation holds its concurrency slot."""
        self.began = False
        """The runtime began a streamed response (else it answered in one piece)."""
        self.content_type: str | None = None
        self.size = 0
        self.too_large = False
        self._chunks: deque[bytes] = deque()
        self._queued = 0
        self._ended = False
        self._detached = False
        self._wake = asyncio.Event()
        self._reader: Reader | None = None
        self._paused = False
        self._sent = 0
        self._free_at = 0.0

    # -- the runtime's side -------------------------------------------------------

    def begin(self, content_type: str | None, reader: Reader | None) -> None:
        self.began = True
        self.content_type = content_type
        self._reader = reader

    def write(self, data: bytes) -> bool:
        """Queue a piece; False once the response has gone past its limit (the piece
        and the rest are refused)."""
        self.size += len(data)
        if self.too_large or self.size > self.limit:
            self.too_large = True
            return False
        if self._detached or not data:
            return True
        self._chunks.append(data)
        self._queued += len(data)
        if self.forward:
            self._wake.set()
            if self._queued > HIGH_WATER and not self._paused and self._reader is not None:
                self._paused = True
                self._reader.pause_reading()
        return True

    def end(self) -> None:
        """No more pieces will come (the runtime finished, or the invocation is over)."""
        self._ended = True
        self._wake.set()
        self._resume()

    def body(self) -> bytes:
        """A buffered response, whole."""
        return b"".join(self._chunks)

    def too_large_error(self) -> bytes:
        """Lambda's error document for a response past its limit."""
        message = (
            f"Response payload size exceeded maximum allowed payload size ({self.limit} bytes)."
        )
        return json.dumps(
            {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
        ).encode()

    # -- the caller's side ----------------------------------------------------------

    async def read(self) -> bytes | None:
        """The next piece as soon as there is one; None at the end of the response."""
        while not self._chunks:
            if self._ended or self._detached:
                return None
            self._wake.clear()
            await self._wake.wait()
        chunk = self._chunks.popleft()
        self._queued -= len(chunk)
        if self._paused and self._queued <= LOW_WATER:
            self._resume()
        await self._pace(len(chunk))
        return chunk

    async def _pace(self, size: int) -> None:
        """Past the first ``BURST`` bytes, wait so the stream goes at ``RATE`` at most."""
        over = min(size, self._sent + size - BURST)
        self._sent += size
        if over <= 0:
            return
        loop = asyncio.get_running_loop()
        self._free_at = max(self._free_at, loop.time()) + over / RATE
        delay = self._free_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def detach(self) -> None:
        """The caller is gone: drop what is queued and what is still to come."""
        self._detached = True
        self._chunks.clear()
        self._queued = 0
        self._wake.set()
        self._resume()

    def _resume(self) -> None:
        if self._paused and self._reader is not None:
            self._paused = False
            self._reader.resume_reading()
