"""A destination's ``ProcessingConfiguration``: what its processors are and what they
do to records that need no Lambda.

Why here: the processors are checked when a delivery stream is created or updated and
read on every record, so ``plan`` turns the configuration into a ``Plan`` once (and
raises AWS's errors for a bad one). The order is Firehose's: ``Decompression`` (GZIP,
for CloudWatch Logs subscriptions), ``CloudWatchLogProcessing`` (with
``DataMessageExtraction``: each log event's message, one a line, control messages
dropped; it needs ``Decompression``) and ``RecordDeAggregation`` (``JSON`` objects or
``DELIMITED`` by a base64 delimiter) split and unpack records as they arrive
(``unpack``); the ``Lambda`` processor transforms them in batches (``transform.py``);
``MetadataExtraction`` reads partition keys with a jq query (``partitioning.py``);
``AppendDelimiterToRecord`` ends each record delivered with a newline (or its base64
``Delimiter``).

A record a processor cannot read goes to the error prefix with the original bytes: as
``decompression-failed`` when it is not GZIP (the developer guide's "Troubleshoot
decompression"), as ``processing-failed`` when it is not what the next step reads.

Lambda defaults are the developer guide's: 1 MB or 60 s of records per invocation
(``BufferSizeInMBs`` 0.2-3, ``BufferIntervalInSeconds`` 0-900) and 3 retries
(``NumberOfRetries`` 0-300); ``RoleArn`` defaults to the destination's role.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from cloudlet.services.firehose import errors, partitioning

MB = 1024 * 1024
KNOWN = {
    "Lambda": {
        "LambdaArn",
        "NumberOfRetries",
        "RoleArn",
        "BufferSizeInMBs",
        "BufferIntervalInSeconds",
    },
    "AppendDelimiterToRecord": {"Delimiter"},
    "RecordDeAggregation": {"SubRecordType", "Delimiter"},
    "Decompression": {"CompressionFormat"},
    "MetadataExtraction": {"MetadataExtractionQuery", "JsonParsingEngine"},
    "CloudWatchLogProcessing": {"DataMessageExtraction"},
}


@dataclass(frozen=True)
class Plan:
    lambda_arn: str | None = None
    lambda_role: str | None = None
    retries: int = 3
    buffer_bytes: int = MB
    buffer_seconds: float = 60.0
    delimiter: bytes | None = None
    deaggregate: str | None = None
    """JSON or DELIMITED."""
    split_on: bytes = b""
    decompress: bool = False
    extract_messages: bool = False
    """CloudWatchLogProcessing with DataMessageExtraction."""
    query: str | None = None
    """MetadataExtraction's jq query."""


NONE = Plan()


def _number(kind: str, name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise errors.invalid(
            f"The {name} parameter of the {kind} processor must be a number, not '{text}'."
        ) from None
    if not low <= value <= high:
        raise errors.invalid(
            f"The {name} parameter of the {kind} processor must be between {low:g} and "
            f"{high:g}; got {text}."
        )
    return value


def _base64(kind: str, text: str) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid(
            f"The Delimiter parameter of the {kind} processor must be base64-encoded."
        ) from None
    if not value:
        raise errors.invalid(f"The Delimiter parameter of the {kind} processor is empty.")
    return value


def plan(config: dict[str, Any] | None, role: str | None) -> Plan:
    """The processing a destination's ``ProcessingConfiguration`` asks for."""
    if not config or not config.get("Enabled", False):
        return NONE
    fields: dict[str, Any] = {}
    seen: set[str] = set()
    for processor in config.get("Processors") or []:
        kind = processor["Type"]
        if kind in seen:
            raise errors.invalid(f"Only one processor of type {kind} is allowed.")
        seen.add(kind)
        params: dict[str, str] = {}
        for p in processor.get("Parameters") or []:
            name = p["ParameterName"]
            if name not in KNOWN[kind]:
                raise errors.invalid(f"The parameter {name} is not valid for the {kind} processor.")
            params[name] = p["ParameterValue"]
        fields.update(_one(kind, params, role))
    if "CloudWatchLogProcessing" in seen and "Decompression" not in seen:
        raise errors.invalid(
            "The CloudWatchLogProcessing processor needs the Decompression processor: "
            "message extraction reads decompressed CloudWatch Logs records."
        )
    return Plan(**fields)


def _one(kind: str, params: dict[str, str], role: str | None) -> dict[str, Any]:
    if kind == "Lambda":
        if "LambdaArn" not in params:
            raise errors.invalid("The Lambda processor requires the LambdaArn parameter.")
        size = params.get("BufferSizeInMBs", "1")
        interval = params.get("BufferIntervalInSeconds", "60")
        retries = params.get("NumberOfRetries", "3")
        return {
            "lambda_arn": params["LambdaArn"],
            "lambda_role": params.get("RoleArn") or role,
            "buffer_bytes": int(_number(kind, "BufferSizeInMBs", size, 0.2, 3) * MB),
            "buffer_seconds": _number(kind, "BufferIntervalInSeconds", interval, 0, 900),
            "retries": int(_number(kind, "NumberOfRetries", retries, 0, 300)),
        }
    if kind == "AppendDelimiterToRecord":
        text = params.get("Delimiter")
        return {"delimiter": _base64(kind, text) if text else b"\n"}
    if kind == "RecordDeAggregation":
        sub = params.get("SubRecordType", "JSON")
        if sub not in ("JSON", "DELIMITED"):
            raise errors.invalid(f"SubRecordType must be JSON or DELIMITED, not '{sub}'.")
        if sub == "DELIMITED":
            if "Delimiter" not in params:
                raise errors.invalid("A DELIMITED RecordDeAggregation needs a Delimiter.")
            return {"deaggregate": sub, "split_on": _base64(kind, params["Delimiter"])}
        return {"deaggregate": sub}
    if kind == "Decompression":
        form = params.get("CompressionFormat", "GZIP")
        if form != "GZIP":
            raise errors.invalid(f"Decompression supports GZIP, not '{form}'.")
        return {"decompress": True}
    if kind == "CloudWatchLogProcessing":
        value = params.get("DataMessageExtraction", "false")
        if value not in ("true", "false"):
            raise errors.invalid(f"DataMessageExtraction must be true or false, not '{value}'.")
        return {"extract_messages": value == "true"}
    return {"query": partitioning.check(params)}


class Unpackable(Exception):
    """A record a processor could not read (its code is the error record's, ``kind`` the
    error output type it goes to)."""

    def __init__(self, code: str, message: str, kind: str = "processing-failed") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind = kind


def unpack(plan: Plan, data: bytes) -> list[bytes]:
    """One arriving record as the records that go on (decompressed, log messages
    extracted, de-aggregated)."""
    if plan.decompress:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise Unpackable(
                "Decompression.Failed", "The record is not valid GZIP data.", "decompression-failed"
            ) from None
    parts = _messages(data) if plan.extract_messages else [data]
    if plan.deaggregate == "DELIMITED":
        return [piece for part in parts for piece in part.split(plan.split_on) if piece]
    if plan.deaggregate == "JSON":
        return [piece for part in parts for piece in _json_records(part)]
    return parts


def _messages(data: bytes) -> list[bytes]:
    """A decompressed CloudWatch Logs record as its log events' messages, each ended by
    a newline; a CONTROL_MESSAGE gives none."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    events = doc.get("logEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        raise Unpackable(
            "CloudWatchLogs.MessageExtractionFailed",
            "The decompressed record is not a CloudWatch Logs subscription record.",
        )
    if doc.get("messageType") == "CONTROL_MESSAGE":
        return []
    return [str(e.get("message", "")).encode() + b"\n" for e in events if isinstance(e, dict)]


def _json_records(data: bytes) -> list[bytes]:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise Unpackable("DeAggregation.Failed", "The record is not UTF-8 JSON.") from None
    decoder = json.JSONDecoder()
    out: list[bytes] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        try:
            _, end = decoder.raw_decode(text, at)
        except ValueError:
            raise Unpackable(
                "DeAggregation.Failed", f"The record holds invalid JSON at character {at}."
            ) from None
        out.append(text[at:end].encode())
        at = end
