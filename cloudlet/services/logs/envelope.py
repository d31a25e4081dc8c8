"""The envelope CloudWatch Logs wraps subscription deliveries in, for every destination.

Why one module: Lambda, Kinesis streams and cross-account destinations all receive the
same gzipped JSON (AWS's "subscription filter" format), so it is built in one place:

- a ``DATA_MESSAGE`` (``owner``, ``logGroup``, ``logStream``, ``subscriptionFilters``,
  ``logEvents`` of ``id``/``timestamp``/``message``) per filter and PutLogEvents batch;
  a space-delimited filter pattern (``[ip, user, status]``) adds each event's
  ``extractedFields``, as AWS's examples show;
- the ``CONTROL_MESSAGE`` AWS writes when a subscription to a Kinesis stream is created:
  ``owner`` ``CloudwatchLogs``, empty group, stream and filter list, and one event
  ``CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.`` (the shape
  captured from AWS in Clever's amazon-kinesis-client-go tests and Vector's parser);
- ``fitted`` splits a message whose gzip would exceed a record's size into several
  messages of fewer events, as AWS splits large batches.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from cloudlet.services.logs.events import event_id
from cloudlet.services.logs.patterns import Pattern

Message = dict[str, Any]
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."


def log_events(pattern: Pattern, events: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """The ``logEvents`` of the stored events ``(row id, timestamp, message)`` that
    ``pattern`` matches, in order."""
    out = []
    for rid, ts, message in events:
        bound = pattern.match(message)
        if bound is None:
            continue
        event: dict[str, Any] = {"id": event_id(ts, rid), "timestamp": ts, "message": message}
        if pattern.kind == "space" and bound:
            event["extractedFields"] = dict(bound)
        out.append(event)
    return out


def data_message(
    owner: str, group: str, stream: str, filter_name: str, events: list[dict[str, Any]]
) -> Message:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": events,
    }


def control_message(now_ms: int) -> Message:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": now_ms, "message": CONTROL_TEXT}],
    }


def encode(message: Message) -> bytes:
    """The gzipped compact JSON a destination receives (Lambda gets it base64'd too)."""
    return gzip.compress(json.dumps(message, separators=(",", ":")).encode())


def fitted(message: Message, limit: int) -> list[bytes]:
    """``message`` encoded, split by halves of its events until each part is at most
    ``limit`` bytes (one event is never split: AWS's events are at most 256 KB)."""
    data = encode(message)
    events = message["logEvents"]
    if len(data) <= limit or len(events) < 2:
        return [data]
    half = len(events) // 2
    return fitted({**message, "logEvents": events[:half]}, limit) + fitted(
        {**message, "logEvents": events[half:]}, limit
    )
