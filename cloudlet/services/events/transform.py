"""What a target receives: the event itself, ``Input``, ``InputPath`` or an
``InputTransformer``'s filled-in template.

- No input setting: the whole event as compact JSON (what SQS bodies show on AWS).
- ``Input``: that JSON text, as given.
- ``InputPath``: the JSON value at the path (``$.detail``, ``$.detail.items[0]``,
  ``$['detail-type']``).
- ``InputTransformer``: each ``InputPathsMap`` entry names a value by path, and the
  template's ``<name>`` placeholders take them, plus the predefined
  ``<aws.events.rule-arn>``, ``<aws.events.rule-name>``,
  ``<aws.events.event.ingestion-time>``, ``<aws.events.event>`` (the event without its
  detail) and ``<aws.events.event.json>`` (the whole event). A template that is a JSON
  object gets JSON values where a placeholder stands bare and a string's characters
  where it stands inside quotes; any other template gets strings' characters and other
  values' JSON (the EventBridge user guide's "Transforming target input" examples). A
  path the event lacks gives ``null`` where JSON is expected and nothing inside text
  (cloudlet's choice; the guide does not say).

All of it is checked at PutTargets (paths, placeholders, one input setting per target)
with EventBridge's ValidationException texts.

A Kinesis stream target's partition key is read here too: the value at
``KinesisParameters.PartitionKeyPath`` in the event (a string as it is, other values as
JSON), else the event's ``id``, AWS's default (the API reference's
``KinesisParameters``). A path the event lacks, or a null or empty value, gives the
``id`` as well (cloudlet's choice: Kinesis takes no empty key, and the reference does
not say).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.services.events import errors

PLACEHOLDER = re.compile(r"<([^<>\s]+)>")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")
_KEY = re.compile(r"[A-Za-z0-9_\-]+")
PREDEFINED = frozenset(
    (
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    )
)
_ABSENT = object()
MAX_PATHS = 100


def parse_path(path: str) -> list[str | int] | None:
    """A JSON path's steps (names and indexes), or None when it is not one we read."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        m = _PATH_PART.match(path, at)
        if m is None:
            return None
        name, index, single, double = m.groups()
        steps.append(int(index) if index is not None else (name or single or double or ""))
        at = m.end()
    return steps


def read_path(doc: Any, steps: list[str | int]) -> Any:
    """The value at ``steps`` in ``doc``, or ``_ABSENT``."""
    for step in steps:
        if isinstance(step, int) and isinstance(doc, list) and step < len(doc):
            doc = doc[step]
        elif isinstance(step, str) and isinstance(doc, dict) and step in doc:
            doc = doc[step]
        else:
            return _ABSENT
    return doc


def check_target_input(target: dict[str, Any]) -> None:
    """PutTargets' checks of one target's input settings."""
    tid = target["Id"]
    given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k) is not None]
    if len(given) > 1:
        raise errors.validation(
            f"Only one of Input, InputPath, or InputTransformer must be provided for target {tid}."
        )
    if target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError:
            raise errors.validation(f"Input for target {tid} is not a valid JSON text.") from None
    if target.get("InputPath") is not None and parse_path(target["InputPath"]) is None:
        raise errors.validation(f"InputPath for target {tid} is not a valid JSON path.")
    transformer = target.get("InputTransformer")
    if transformer is not None:
        _check_transformer(tid, transformer)


def _check_transformer(tid: str, transformer: dict[str, Any]) -> None:
    paths = transformer.get("InputPathsMap") or {}
    if len(paths) > MAX_PATHS:
        raise errors.validation(
            f"InputPathsMap for target {tid} can have at most {MAX_PATHS} entries."
        )
    for key, path in paths.items():
        if not _KEY.fullmatch(key) or key.startswith("aws."):
            raise errors.validation(f"InputPathsMap for target {tid} contains invalid key {key}.")
        if parse_path(path) is None:
            raise errors.validation(
                f"InputPathsMap for target {tid} contains invalid JSON path {path}."
            )
    for name in PLACEHOLDER.findall(transformer["InputTemplate"]):
        if name not in paths and name not in PREDEFINED:
            raise errors.validation(
                f"InputTemplate for target {tid} contains invalid placeholder {name}."
            )


def check_partition_key_path(target: dict[str, Any]) -> None:
    """PutTargets' check of a target's ``KinesisParameters.PartitionKeyPath``."""
    path = (target.get("KinesisParameters") or {}).get("PartitionKeyPath")
    if path is None:
        return
    if len(path) > 256 or parse_path(path) is None:
        raise errors.validation(
            f"KinesisParameters.PartitionKeyPath for target {target['Id']} is not a valid "
            "JSON path."
        )


def partition_key(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The partition key of the record a Kinesis stream target gets for ``event``."""
    path = (target.get("KinesisParameters") or {}).get("PartitionKeyPath")
    value = read_path(event, parse_path(path) or []) if path else _ABSENT
    if value is _ABSENT or value is None or value == "":
        return event["id"]
    return value if isinstance(value, str) else _json(value)


def target_input(target: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> str:
    """The text delivered to ``target`` for ``event`` matched by ``rule``."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath") is not None:
        value = read_path(event, parse_path(target["InputPath"]) or [])
        return _json(None if value is _ABSENT else value)
    transformer = target.get("InputTransformer")
    if transformer is not None:
        return _fill(transformer, event, rule)
    return _json(event)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _values(transformer: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> dict:
    values: dict[str, Any] = {
        "aws.events.rule-arn": rule["Arn"],
        "aws.events.rule-name": rule["Name"],
        "aws.events.event.ingestion-time": event.get("time"),
        "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
        "aws.events.event.json": event,
    }
    for key, path in (transformer.get("InputPathsMap") or {}).items():
        values[key] = read_path(event, parse_path(path) or [])
    return values


def _fill(transformer: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> str:
    template = transformer["InputTemplate"]
    values = _values(transformer, event, rule)
    as_json = template.lstrip().startswith("{")
    out: list[str] = []
    in_string = False
    at = 0
    while at < len(template):
        c = template[at]
        m = PLACEHOLDER.match(template, at) if c == "<" else None
        if m is not None and m.group(1) in values:
            out.append(_render(values[m.group(1)], as_json and not in_string, in_string))
            at = m.end()
            continue
        if as_json and c == "\\" and in_string and at + 1 < len(template):
            out.append(template[at : at + 2])
            at += 2
            continue
        if as_json and c == '"':
            in_string = not in_string
        out.append(c)
        at += 1
    return "".join(out)


def _render(value: Any, bare_json: bool, quoted: bool) -> str:
    """A placeholder's value: JSON where the template wants a JSON value, else a
    string's characters (escaped for the JSON string it stands in) or the JSON text."""
    if bare_json:
        return _json(None if value is _ABSENT else value)
    if value is _ABSENT or value is None and quoted:
        return ""
    text = value if isinstance(value, str) else _json(value)
    return _json(text)[1:-1] if quoted else text
