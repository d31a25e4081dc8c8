"""The constraints of Pipes' botocore model (lengths, ranges, patterns, enums), checked
the way AWS's framework checks them, before an operation looks at its input.

Why here: the gateway checks only that required members are present; Pipes answers
every other broken constraint as one ``ValidationException`` listing each member at
fault ("2 validation errors detected: Value 'x' at 'name' failed to satisfy
constraint: ..."), with a ``fieldList`` entry per member, as AWS does. Member paths are
AWS's: lower camel case, ``sourceParameters.sqsQueueParameters.batchSize``, list
entries ``filters.1`` counted from one.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import Shape

from cloudlet.core.models import load_model
from cloudlet.services.pipes import errors

MAX_REPORTED = 10


def check(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException for every constraint of ``operation``'s input that
    ``params`` breaks."""
    shape = load_model("pipes").operation_model(operation).input_shape
    broken: list[tuple[str, str]] = []
    _walk(shape, params, "", broken)
    if broken:
        raise errors.constraints(broken[:MAX_REPORTED])


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct: left to the operation's own checks
        return None


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return "[...]" if isinstance(value, list) else "{...}"
    return str(value)


def _walk(shape: Shape, value: Any, path: str, broken: list[tuple[str, str]]) -> None:
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
            _walk(shape.member, item, f"{path}.{i}.member" if path else str(i), broken)
    elif kind == "map" and isinstance(value, dict):
        rules += _length(len(value), meta)
        for key, item in value.items():
            _walk(shape.key, key, f"{path}.{key}.key", broken)
            _walk(shape.value, item, f"{path}.{key}.value", broken)
    elif kind == "string" and isinstance(value, str):
        rules += _length(len(value), meta)
        enum = meta.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            rules.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            rules.append(f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            rules.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            rules.append(f"Member must have value less than or equal to {meta['max']}")
    for rule in rules:
        text = f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {rule}"
        broken.append((path, text))


def _length(size: int, meta: dict[str, Any]) -> list[str]:
    out = []
    if "min" in meta and size < meta["min"]:
        out.append(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        out.append(f"Member must have length less than or equal to {meta['max']}")
    return out
