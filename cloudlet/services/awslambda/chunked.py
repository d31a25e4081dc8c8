"""HTTP/1.1 request bodies for the Runtime API: whole, or piece by piece as they arrive.

Most runtime requests are read whole (``whole_chunked`` for curl's ``-T -``); a
streamed invocation response is read as it arrives (``ChunkedBody``, ``LengthBody``),
so its pieces reach the caller while the function is still writing, and its trailers
(an error met mid-stream) are kept. Both decoders consume what they read from the
connection's buffer and keep their place between ``data_received`` calls.
"""

from __future__ import annotations

MAX_LINE = 1024
"""A chunk-size line (with extensions) at most."""
MAX_TRAILERS = 64 * 1024


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body decoded incrementally, with its trailers."""

    def __init__(self) -> None:
        self.left = 0
        """Data bytes still to come in the current chunk."""
        self.state = "size"
        self.done = False
        self.trailers: dict[str, str] = {}

    def feed(self, buf: bytearray) -> list[bytes]:
        """The data pieces available in ``buf`` (consumed from it); ``done`` once the
        last chunk and the trailers are read. Raises ValueError on a malformed body."""
        pieces: list[bytes] = []
        while buf and not self.done:
            if self.state == "data":
                take = min(self.left, len(buf))
                pieces.append(bytes(buf[:take]))
                del buf[:take]
                self.left -= take
                if self.left == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                del buf[:2]
                self.state = "size"
            elif self.state == "size":
                eol = buf.find(b"\r\n")
                if eol < 0:
                    if len(buf) > MAX_LINE:
                        raise ValueError("chunk size line too long")
                    break
                size = int(bytes(buf[:eol]).split(b";", 1)[0].strip() or b"x", 16)
                del buf[: eol + 2]
                self.left = size
                self.state = "data" if size else "trailers"
            else:  # trailers: header lines up to an empty line
                if not self._trailers(buf):
                    break
        return pieces

    def _trailers(self, buf: bytearray) -> bool:
        if buf.startswith(b"\r\n"):
            del buf[:2]
            self.done = True
            return True
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_TRAILERS:
                raise ValueError("trailers too large")
            return False
        for line in bytes(buf[:end]).decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()
        del buf[: end + 4]
        self.done = True
        return True


class LengthBody:
    """A ``Content-Length`` body taken as it arrives."""

    def __init__(self, length: int) -> None:
        self.left = length
        self.done = length == 0
        self.trailers: dict[str, str] = {}

    def feed(self, buf: bytearray) -> list[bytes]:
        take = min(self.left, len(buf))
        if not take:
            return []
        piece = bytes(buf[:take])
        del buf[:take]
        self.left -= take
        self.done = self.left == 0
        return [piece]


def whole_chunked(buf: bytearray, start: int, limit: int) -> tuple[bytes, int] | None:
    """A complete chunked body from ``start``: (body, end offset), or None if incomplete
    (``buf`` is left as it is: the request is taken when all of it is there)."""
    body = bytearray()
    at = start
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buf[at:eol]).split(b";")[0].strip() or b"x", 16)
        at = eol + 2
        if size == 0:
            # Trailers, if any, end with an empty line.
            if buf[at : at + 2] == b"\r\n":
                return bytes(body), at + 2
            end = buf.find(b"\r\n\r\n", at)
            if end < 0:
                return None
            return bytes(body), end + 4
        if len(buf) < at + size + 2:
            return None
        body += buf[at : at + size]
        if len(body) > limit:
            raise ValueError("body too large")
        at += size + 2
