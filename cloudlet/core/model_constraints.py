"""The constraints of a botocore model's input shapes (lengths, ranges, patterns, enums),
checked the way AWS's service framework checks them before an operation runs.

Why one module: the gateway checks only that required members are present; services
whose AWS answers every other broken constraint as one ``ValidationException`` ("2
validation errors detected: Value 'x' at 'name' failed to satisfy constraint: ...")
need the same walk of the shape (Pipes adds a ``fieldList``, Firehose words its own
message). Member paths are AWS's: lower camel case, list entries ``records.1.member``
counted from one. A blob shows as Java's ``HeapByteBuffer``, as AWS prints it; a
sensitive member never shows its value. Patterns' ``\\p{L}\\p{Z}\\p{N}`` classes (tag
patterns) are read as Python's ``\\w\\s``; a pattern Python cannot compile is left to the
operation's own checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import Shape

from cloudlet.core.models import load_model

Exempt = Callable[[Shape, str], bool]
"""Whether a string member's value is let through its pattern (a service's allowance)."""


def violations(
    service: str, operation: str, params: dict[str, Any], exempt: Exempt | None = None
) -> list[tuple[str, str]]:
    """Each broken constraint of ``operation``'s input as (member path, AWS's sentence)."""
    shape = load_model(service).operation_model(operation).input_shape
    broken: list[tuple[str, str]] = []
    _walk(shape, params, "", broken, exempt)
    return broken


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text.replace(r"\p{L}\p{Z}\p{N}", r"\w\s"))
    except re.error:
        return None


def _shown(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return "[...]" if isinstance(value, list) else "{...}"
    return str(value)


def _walk(
    shape: Shape, value: Any, path: str, broken: list[tuple[str, str]], exempt: Exempt | None
) -> None:
    if value is None:
        return
    kind = shape.type_name
    meta = shape.metadata
    rules: list[str] = []
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                where = f"{path}.{_camel(name)}" if path else _camel(name)
                _walk(member, value[name], where, broken, exempt)
        return
    if kind == "list" and isinstance(value, list):
        rules += _length(len(value), meta)
        for i, item in enumerate(value, 1):
            where = f"{path}.{i}.member" if path else str(i)
            _walk(shape.member, item, where, broken, exempt)
    elif kind == "map" and isinstance(value, dict):
        rules += _length(len(value), meta)
        for key, item in value.items():
            _walk(shape.key, key, f"{path}.{key}.key", broken, exempt)
            _walk(shape.value, item, f"{path}.{key}.value", broken, exempt)
    elif kind == "blob" and isinstance(value, bytes | bytearray):
        rules += _length(len(value), meta)
    elif kind == "string" and isinstance(value, str):
        rules += _length(len(value), meta)
        enum = meta.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            rules.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        allowed = exempt is not None and exempt(shape, value)
        if compiled is not None and not allowed and compiled.fullmatch(value) is None:
            rules.append(f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            rules.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            rules.append(f"Member must have value less than or equal to {meta['max']}")
    for rule in rules:
        shown = "" if meta.get("sensitive") else f" '{_shown(value)}'"
        broken.append((path, f"Value{shown} at '{path}' failed to satisfy constraint: {rule}"))


def _length(size: int, meta: dict[str, Any]) -> list[str]:
    out = []
    if "min" in meta and size < meta["min"]:
        out.append(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        out.append(f"Member must have length less than or equal to {meta['max']}")
    return out
