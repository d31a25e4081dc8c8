"""Input templates (``InputTemplate``) and dynamic parameters: AWS's ``<$.path>`` syntax.

Why: a pipe reshapes what it passes to its enrichment and its target with a template
whose placeholders are JSON paths into the event (``<$.body.key>``) or reserved
variables (``<aws.pipes.pipe-name>`` ...), and target parameters may be a JSON path
themselves (``$.partitionKey``), replaced per event (the user guide's "Amazon
EventBridge Pipes input transformation" and "Dynamic path parameters"). Paths read the
event as ``records.view`` shows it (implicit body data parsing) and take dot names
(letters, digits, ``_``, ``-``, ``/``), array indexes and ``*`` wildcards.

Rendering: a template that is a JSON object or array gets a placeholder's JSON value
where it stands bare and its characters where it stands inside quotes (EventBridge's
rule: quote paths to strings, not to objects); any other template gets strings' text
and other values' JSON. A path the event lacks gives ``null`` where JSON is expected and
nothing inside text (cloudlet's choice; the guide does not say).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.services.pipes import errors
from cloudlet.services.pipes.records import view

ABSENT = object()
_PLACEHOLDER = re.compile(r"<([^<>\s]+)>")
_STEP = re.compile(r"\.([\w/\-]+|\*)|\[(\d+|\*)\]")
RESERVED = frozenset(
    (
        "aws.pipes.pipe-arn",
        "aws.pipes.pipe-name",
        "aws.pipes.source-arn",
        "aws.pipes.enrichment-arn",
        "aws.pipes.target-arn",
        "aws.pipes.event.ingestion-time",
        "aws.pipes.event",
        "aws.pipes.event.json",
    )
)


def parse_path(path: str) -> list[str | int] | None:
    """The steps of a JSON path (``*`` a wildcard), or None when it is not one."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        m = _STEP.match(path, at)
        if m is None:
            return None
        name, index = m.groups()
        steps.append(name if name is not None else ("*" if index == "*" else int(index)))
        at = m.end()
    return steps


def read_path(doc: Any, steps: list[str | int]) -> Any:
    """The value at ``steps`` (a list where a wildcard stood), or ABSENT."""
    current: list[Any] = [doc]
    spread = False
    for step in steps:
        nxt: list[Any] = []
        for item in current:
            if step == "*":
                spread = True
                if isinstance(item, dict):
                    nxt.extend(item.values())
                elif isinstance(item, list):
                    nxt.extend(item)
            elif isinstance(step, int):
                if isinstance(item, list) and step < len(item):
                    nxt.append(item[step])
            elif isinstance(item, dict) and step in item:
                nxt.append(item[step])
        current = nxt
    if spread:
        return current
    return current[0] if current else ABSENT


def check_template(template: str | None, field: str) -> None:
    """Refuse a template naming a placeholder that is neither a path nor reserved."""
    for m in _PLACEHOLDER.finditer(template or ""):
        name = m.group(1)
        if name.startswith("$"):
            if parse_path(name) is None:
                raise errors.invalid_field(field, f"Invalid JSON path in InputTemplate: {name}")
        elif name.startswith("aws.pipes.") and name not in RESERVED:
            raise errors.invalid_field(field, f"Unknown reserved variable in InputTemplate: {name}")


def is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$") and parse_path(value) is not None


def dynamic(value: Any, event: Any) -> Any:
    """A target parameter: the event's value when the parameter is a JSON path (None
    when the event lacks it; text for strings, JSON for other values), else itself."""
    if not is_path(value):
        return value
    found = read_path(view(event), parse_path(value) or [])
    if found is ABSENT or found is None:
        return None
    return found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))


def render(template: str, event: Any, variables: dict[str, str]) -> str:
    """``template`` filled in for ``event`` (``variables``: the pipe's reserved values)."""
    seen = view(event)
    json_mode = template.lstrip()[:1] in ("{", "[")
    out: list[str] = []
    at = 0
    quoted = False
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1)
        if not (name.startswith("$") or name in RESERVED):
            continue
        text = template[at : m.start()]
        if json_mode:
            quoted = _still_quoted(text, quoted)
        out.append(text)
        value = _value(name, event, seen, variables)
        out.append(_shown(value, json_mode and not quoted, json_mode and quoted))
        at = m.end()
    out.append(template[at:])
    return "".join(out)


def _still_quoted(text: str, quoted: bool) -> bool:
    """Whether a JSON string is open after ``text`` (it was ``quoted`` before it)."""
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = quoted
        elif ch == '"':
            quoted = not quoted
    return quoted


def _value(name: str, event: Any, seen: Any, variables: dict[str, str]) -> Any:
    if name.startswith("$"):
        return read_path(seen, parse_path(name) or [])
    if name == "aws.pipes.event":
        return event
    if name == "aws.pipes.event.json":
        return seen
    if name == "aws.pipes.event.ingestion-time":
        return clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return variables.get(name, "")


def _shown(value: Any, bare_json: bool, in_string: bool) -> str:
    if bare_json:
        return "null" if value is ABSENT else json.dumps(value, separators=(",", ":"))
    if value is ABSENT:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return json.dumps(text)[1:-1] if in_string else text
