"""The ASGI edge: turn a scope into an ``HttpRequest``, send an ``HttpResponse``.

Bodies are read here and only here: ``read_body`` buffers (with a size cap) for
protocols that need the whole document; ``body_stream`` hands the body on as
an async iterator for streaming payloads, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpRequest, HttpResponse, encoded_word
from cloudlet.protocols.gzip_body import NotGzip, TooLarge, gunzip

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CONTINUE_SENT = "cloudlet.continue_sent"
"""Scope key the HTTP server sets when it already answered a request's
``Expect: 100-continue`` (``cloudlet.http_batching``): the client sends the body
whether or not the app reads it."""
EVENT_STREAM = "application/vnd.amazon.eventstream"


def build_request(scope: dict[str, Any]) -> HttpRequest:
    # ASGI servers send header names lower-cased.
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    headers = dict(raw)
    if len(headers) != len(raw):  # repeated headers: join them as HTTP allows
        headers = {}
        for name, value in raw:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1").partition("?")[0] if raw_path else scope["path"]
    return HttpRequest(
        method=scope["method"],
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        raw_headers=raw,
        client=scope["client"][0] if scope.get("client") else None,
    )


class BodyTooLarge(ServiceError):
    code = "RequestEntityTooLarge"
    status = 413


class RequestTimeout(ServiceError):
    """A request's body stopped arriving (``cloudlet.http_batching`` times it out)."""

    code = "RequestTimeout"
    status = 400

    def __init__(self) -> None:
        super().__init__(
            message="Your socket connection to the server was not read from or written to "
            "within the timeout period. Idle connections will be closed."
        )


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(message=f"Request body is larger than {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def body_stream(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


_NOT_TOKEN = re.compile(rb"[^!#$%&'*+.^_`|~0-9a-z-]")
_NOT_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def encode_headers(pairs: list[tuple[str, Any]]) -> list[tuple[bytes, bytes]]:
    """Response headers as bytes. Values stored from a request (user metadata, a
    content type, a CORS rule) may hold what no header can carry: such a value is
    sent as an RFC 2047 encoded word (S3 does so for non-ASCII metadata), a name that
    is no HTTP token is left out, so the response still goes out."""
    try:
        headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in pairs]
    except UnicodeEncodeError:
        return _careful_headers(pairs)
    if _NOT_VALUE.search(b"\t".join([v for _, v in headers])) or _NOT_TOKEN.search(
        b"".join([k for k, _ in headers])
    ):
        return _careful_headers(pairs)
    return headers


def _careful_headers(pairs: list[tuple[str, Any]]) -> list[tuple[bytes, bytes]]:
    out = []
    for k, v in pairs:
        try:
            name = k.lower().encode("latin-1")
        except UnicodeEncodeError:
            continue
        if not name or _NOT_TOKEN.search(name):
            continue
        text = str(v)
        try:
            value = text.encode("latin-1")
            safe = not _NOT_VALUE.search(value)
        except UnicodeEncodeError:
            safe = False
        if not safe:
            value = encoded_word(text).encode()
        out.append((name, value))
    return out


async def send_response(
    send: Send, resp: HttpResponse, head_only: bool = False, receive: Receive | None = None
) -> None:
    """Send ``resp``. With ``receive``, a streamed body stops (and is closed) as soon as
    the client disconnects, not at its next piece: a body that waits for its pieces (a
    Kinesis subscription, an Object Lambda relay) would otherwise outlive its reader."""
    body = resp.body
    if receive is not None and not isinstance(body, bytes | bytearray) and not head_only:
        sending = asyncio.ensure_future(send_response(send, resp))
        leaving = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait((sending, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            leaving.cancel()
            if not sending.done():
                sending.cancel()
            await asyncio.gather(sending, leaving, return_exceptions=True)
        if not sending.cancelled() and sending.exception() is not None:
            raise sending.exception()  # type: ignore[misc]
        return
    headers = encode_headers(resp.headers)
    if isinstance(body, bytes | bytearray):
        if not any(k == b"content-length" for k, _ in headers):
            headers.append((b"content-length", b"%d" % len(body)))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head_only else bytes(body)})
        return
    # A streamed body (an S3 object) is sent piece by piece; ``send`` waits
    # while the client is slow, so memory stays at one piece. The body is
    # closed however sending ends (a HEAD sends none of it, a client may leave).
    try:
        if head_only:
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if getattr(body, "live", False) or resp.header("content-type") == EVENT_STREAM:
            # A live body (an event stream, a function's streamed response): each piece
            # goes out as soon as it exists, never held until the next one does.
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            async for piece in body:
                if piece:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        # One piece of look-ahead: a body that fits in one piece (most objects)
        # goes out as a single final message rather than a piece and an end.
        pieces = body.__aiter__()
        piece = await _next_piece(pieces)
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        if piece is None:
            await send({"type": "http.response.body", "body": b""})
        while piece is not None:
            following = await _next_piece(pieces)
            await send(
                {"type": "http.response.body", "body": piece, "more_body": following is not None}
            )
            piece = following
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()


async def _disconnect(receive: Receive) -> None:
    """Return when the client has gone (or the response is complete: the server then
    answers ``http.disconnect`` too); what is left of the request's body is dropped."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _next_piece(pieces: AsyncIterator[bytes]) -> bytes | None:
    """The next non-empty piece of a streamed body, or None at its end."""
    async for piece in pieces:
        if piece:
            return piece
    return None


def inflate_request(req: HttpRequest, limit: int) -> bytes:
    """The body of a request to an operation with the ``requestcompression`` trait,
    which botocore gzips past a size (CloudWatch PutMetricData): inflated, at most
    ``limit`` bytes (a gzip bomb is refused)."""
    if req.headers.get("content-encoding", "").lower() != "gzip" or not req.body:
        return req.body
    try:
        return gunzip(req.body, limit)
    except NotGzip:
        raise ServiceError(
            "InvalidParameterValue", "The request body is not valid gzip.", 400
        ) from None
    except TooLarge:
        raise ServiceError("RequestEntityTooLarge", "The request body is too large.", 413) from None
