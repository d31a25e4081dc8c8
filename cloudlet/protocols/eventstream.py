"""Encoding of ``application/vnd.amazon.eventstream`` responses (S3 SelectObjectContent, ...).

An event-stream payload is a sequence of binary messages: a prelude (total
and header lengths, CRC32), typed headers (``:message-type``,
``:event-type``, ``:content-type`` and the event's ``eventheader``
members), the payload and a CRC32 of the whole message. Only the payload
format differs between protocols, so the codec passes a ``body`` callback
that renders a structure (XML for rest-xml, JSON for the JSON family).

A handler returns the stream member as a list of events (``[{"Records":
{"Payload": b"..."}}, ...]``) or as an async iterable of them; the latter is
encoded lazily so the response streams. An async source that fails after the
response has begun raises ``StreamError``: the stream then ends with an error
message (``:message-type`` ``error``, ``:error-code``, ``:error-message``), or an
``exception`` message when the stream's shape models that error, the way services
report a failure they meet mid-stream. However sending ends, the source is closed
then (``aclose``), so its clean-up never waits for garbage collection.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from cloudlet.protocols.values import to_datetime

__all__ = [
    "StreamError",
    "encode_error",
    "encode_event",
    "encode_event_stream",
    "encode_failure",
    "encode_message",
    "is_event_stream",
]

BodyEncoder = Callable[[Any, dict, str], bytes]

_INT_TYPES = {"byte": (2, ">b"), "short": (3, ">h"), "integer": (4, ">i"), "long": (5, ">q")}


class StreamError(Exception):
    """A failure met after an event stream's response began: its last message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_event_stream(shape: Any) -> bool:
    return bool(shape is not None and shape.serialization.get("eventstream"))


def _header(name: str, shape_type: str, value: Any) -> bytes:
    raw_name = name.encode("utf-8")
    head = struct.pack(">B", len(raw_name)) + raw_name
    if shape_type == "boolean":
        return head + (b"\x00" if value else b"\x01")
    if shape_type in _INT_TYPES:
        code, fmt = _INT_TYPES[shape_type]
        return head + struct.pack(">B", code) + struct.pack(fmt, int(value))
    if shape_type == "timestamp":
        dt: datetime = to_datetime(value)
        return head + struct.pack(">Bq", 8, round(dt.timestamp() * 1000))
    if shape_type == "blob":
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return head + struct.pack(">BH", 6, len(data)) + data
    data = str(value).encode("utf-8")
    return head + struct.pack(">BH", 7, len(data)) + data


def encode_message(headers: Iterable[tuple[str, str, Any]], payload: bytes) -> bytes:
    """One message from ``(name, shape type, value)`` headers and a payload."""
    header_bytes = b"".join(_header(n, t, v) for n, t, v in headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack(">I", zlib.crc32(message))


def encode_error(code: str, message: str) -> bytes:
    """An error message: headers only, no payload."""
    headers = [
        (":message-type", "string", "error"),
        (":error-code", "string", code),
        (":error-message", "string", message),
    ]
    return encode_message(headers, b"")


def encode_event(stream_shape: Any, event: dict, body: BodyEncoder, content_type: str) -> bytes:
    """One ``{"EventName": {...}}`` event of the event-stream structure ``stream_shape``."""
    ((name, value),) = event.items()
    event_shape = stream_shape.members[name]
    headers: list[tuple[str, str, Any]] = [
        (":message-type", "string", "event"),
        (":event-type", "string", name),
    ]
    payload = b""
    payload_type = content_type
    rest: dict[str, Any] = {}
    explicit = False
    for member_name, member in event_shape.members.items():
        ser = member.serialization
        v = (value or {}).get(member_name)
        if ser.get("eventpayload"):
            explicit = True
            if v is None:
                continue
            if member.type_name == "blob":
                payload = v.encode("utf-8") if isinstance(v, str) else bytes(v)
                payload_type = "application/octet-stream"
            elif member.type_name == "string":
                payload = str(v).encode("utf-8")
                payload_type = "text/plain"
            else:  # the structure's own name is the document's root (S3's <Stats>)
                payload = body(member, v, member.name)
        elif ser.get("eventheader"):
            if v is not None:
                headers.append((member_name, member.type_name, v))
        elif v is not None:
            rest[member_name] = v
    if not explicit:
        payload = body(event_shape, rest, name)
    headers.insert(2, (":content-type", "string", payload_type))
    return encode_message(headers, payload)


def encode_event_stream(
    stream_shape: Any,
    events: Iterable[dict] | AsyncIterable[dict],
    body: BodyEncoder,
    content_type: str = "text/xml",
) -> bytes | AsyncIterator[bytes]:
    """All events as bytes, or an async iterator of messages for an async source."""
    if hasattr(events, "__aiter__"):
        return _encode_async(stream_shape, events, body, content_type)
    return b"".join(encode_event(stream_shape, e, body, content_type) for e in events)


async def _encode_async(
    stream_shape: Any, events: AsyncIterable[dict], body: BodyEncoder, content_type: str
) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield encode_event(stream_shape, event, body, content_type)
    except StreamError as error:
        yield encode_failure(stream_shape, error, body, content_type)
    finally:  # however sending ends: the source's own clean-up runs now, not at collection
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def encode_failure(
    stream_shape: Any, error: StreamError, body: BodyEncoder, content_type: str
) -> bytes:
    """The message ending a stream that failed: an ``exception`` message when the stream
    models that error (Kinesis's SubscribeToShard models ResourceInUseException ...), its
    fields as the payload, as services send it; else an ``error`` message."""
    member = stream_shape.members.get(error.code)
    if member is None or not member.metadata.get("exception"):
        return encode_error(error.code, error.message)
    key = next((n for n in member.members if n.lower() == "message"), "message")
    headers = [
        (":message-type", "string", "exception"),
        (":exception-type", "string", error.code),
        (":content-type", "string", content_type),
    ]
    return encode_message(headers, body(member, {key: error.message}, error.code))
