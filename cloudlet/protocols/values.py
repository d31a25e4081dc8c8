"""Scalar conversions shared by every codec: timestamps, blobs, booleans.

Wire strings exist only at the protocol boundary; inside cloudlet a timestamp
is an aware ``datetime`` in UTC and a blob is ``bytes``. These helpers are the
one place that knows the three AWS timestamp formats.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from cloudlet.core.errors import ServiceError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(value: object) -> datetime:
    """Any accepted timestamp input (datetime, epoch number, ISO/RFC 822 text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("boolean is not a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError(f"not a timestamp: {value!r}")


def parse_timestamp(text: str, fmt: str | None = None) -> datetime:
    """Parse ``text`` as ``fmt`` (iso8601, rfc822, unixTimestamp) or by sniffing."""
    text = text.strip()
    if fmt == "unixTimestamp" or (fmt is None and _is_number(text)):
        return datetime.fromtimestamp(float(text), UTC)
    if fmt == "rfc822" or (fmt is None and "," in text):
        dt = parsedate_to_datetime(text)
    else:
        iso = text
        if iso.endswith(("Z", "z")):
            iso = iso[:-1] + "+00:00"
        dt = datetime.fromisoformat(iso)
    if not dt.tzinfo:
        return dt.replace(tzinfo=UTC)
    try:
        dt.astimezone(UTC)
    except OverflowError:
        # "9999-12-31T23:59:59-01:00" is past the last instant a time can be
        # rendered in UTC: refused here rather than failing whoever renders it.
        raise ValueError(f"timestamp out of range: {text!r}") from None
    return dt


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_RFC822: dict[datetime, str] = {}
"""Recent ``rfc822`` renderings: an object's Last-Modified header is the same text on
every GET and HEAD of it, and ``format_datetime`` costs several microseconds."""
_RFC822_KEPT = 4096


def format_timestamp(value: object, fmt: str) -> str | float | int:
    """Render a timestamp: ``iso8601`` text, ``rfc822`` text or epoch number."""
    if fmt == "rfc822" and type(value) is datetime:
        text = _RFC822.get(value)
        if text is None:
            if len(_RFC822) >= _RFC822_KEPT:
                _RFC822.clear()
            text = _RFC822[value] = format_datetime(to_datetime(value).astimezone(UTC), usegmt=True)
        return text
    dt = to_datetime(value).astimezone(UTC)
    if fmt == "unixTimestamp":
        return epoch_seconds(dt)
    if fmt == "rfc822":
        return format_datetime(dt, usegmt=True)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso8601_millis(value: object) -> str:
    """ISO 8601 with milliseconds always (``2023-11-15T12:02:40.000Z``): S3's form in every
    XML document, whole seconds included (AWS-recorded ``*_timestamp_precision`` of
    LocalStack's list-operation snapshots)."""
    dt = to_datetime(value).astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def epoch_seconds(dt: datetime) -> int | float:
    """Epoch seconds, an int when whole (so JSON shows ``1398796238`` not ``.0``)."""
    delta = dt - EPOCH
    whole = delta.days * 86400 + delta.seconds
    if delta.microseconds:
        return round(whole + delta.microseconds / 1e6, 3)
    return whole


def b64decode(text: str | bytes, error_code: str = "SerializationException") -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError(error_code, "Invalid base64 value") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
