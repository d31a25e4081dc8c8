"""The constraints of Firehose's botocore model (lengths, ranges, patterns, enums),
checked as AWS's framework checks them before an operation looks at its input.

Why here: the gateway checks only that required members are present; Firehose answers
every other broken constraint as one ``ValidationException`` ("2 validation errors
detected: Value 'a b' at 'deliveryStreamName' failed to satisfy constraint: ...").
Member paths are AWS's: lower camel case, list entries ``records.1.member.data``
counted from one. A blob shows as Java's ``HeapByteBuffer``, as AWS prints it; a
sensitive member (an endpoint URL or access key) never shows its value.

Two departures, both deliberate: the tag patterns' ``\\p{L}\\p{Z}\\p{N}`` classes are read
as Python's ``\\w\\s``, and an HTTP endpoint URL may be ``http://`` to a loopback host
(AWS takes only HTTPS; local test servers do not have certificates), as cloudlet's
EventBridge API destinations allow.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from botocore.model import Shape

from cloudlet.core.http_client import is_loopback
from cloudlet.core.models import load_model
from cloudlet.services.firehose import errors

MAX_REPORTED = 10


def check(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException for every constraint of ``operation``'s input that
    ``params`` breaks."""
    shape = load_model("firehose").operation_model(operation).input_shape
    broken: list[str] = []
    _walk(shape, params, "", broken)
    if broken:
        count = len(broken)
        noun = "error" if count == 1 else "errors"
        shown = "; ".join(broken[:MAX_REPORTED])
        raise errors.validation(f"{count} validation {noun} detected: {shown}")


def local_http(url: str) -> bool:
    """Whether ``url`` is plain HTTP to this machine (cloudlet's allowance)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text.replace(r"\p{L}\p{Z}\p{N}", r"\w\s"))
    except re.error:
        return None


def _shown(shape: Shape, value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        size = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _walk(shape: Shape, value: Any, path: str, broken: list[str]) -> None:
    if value is None:
        return
    kind = shape.type_name
    meta = shape.metadata
    rules: list[str] = []
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                where = f"{path}.{_camel(name)}" if path else _camel(name)
                _walk(member, value[name], where, broken)
        return
    if kind == "list" and isinstance(value, list):
        rules += _length(len(value), meta)
        for i, item in enumerate(value, 1):
            _walk(shape.member, item, f"{path}.{i}.member", broken)
    elif kind == "blob" and isinstance(value, bytes | bytearray):
        rules += _length(len(value), meta)
    elif kind == "string" and isinstance(value, str):
        rules += _length(len(value), meta)
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            rules.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        exempt = shape.name == "HttpEndpointUrl" and local_http(value)
        if compiled is not None and not exempt and compiled.fullmatch(value) is None:
            rules.append(f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            rules.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            rules.append(f"Member must have value less than or equal to {meta['max']}")
    for rule in rules:
        if meta.get("sensitive"):
            broken.append(f"Value at '{path}' failed to satisfy constraint: {rule}")
        else:
            shown = _shown(shape, value)
            broken.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {rule}")


def _length(size: int, meta: dict[str, Any]) -> list[str]:
    out = []
    if "min" in meta and size < meta["min"]:
        out.append(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        out.append(f"Member must have length less than or equal to {meta['max']}")
    return out
