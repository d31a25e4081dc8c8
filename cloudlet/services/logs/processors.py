"""A transformer: its configuration's rules, its parsers, and running it over one event.

Why it works this way (the user guide's "Create and manage log transformers" and
"Processors that you can use"):

- **The rules PutTransformer, PutAccountPolicy and TestTransformer check**: 1 to 20
  processors, each exactly one kind; the first is a parser; at most five parsers; a
  parser for an AWS vended log must come first and alone; one ``grok``, one ``addKeys``
  and one ``copyValue`` at most. Refusals are ``InvalidParameterException`` in
  cloudlet's words (AWS's are not published).
- **Processors cloudlet builds**: the configurable parsers ``parseJSON``, ``grok``,
  ``csv`` and ``parseKeyValue``, and every mutator (``mutators``). The parsers of AWS
  vended logs (``parseCloudfront``, ``parseVPC``, ``parseRoute53``, ``parseWAF``,
  ``parsePostgres``, ``parseToOCSF``) are refused by name.
- **An event** is a JSON object the processors build in order: parsers read a source
  (``@message``, the text as ingested, by default; or a field holding text) and write
  what they parse at the root or under ``destination``; "the original ``@message``
  content is not changed". The transformed event is the object as compact JSON. If a
  processor cannot handle the event (text that is not JSON, a grok that does not match,
  a value a converter refuses) or nothing was parsed, the transformation fails and the
  event is kept as ingested, as AWS keeps events whose transformation failed.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any

from cloudlet.services.logs import errors
from cloudlet.services.logs.grok import GrokError, compile_grok
from cloudlet.services.logs.mutators import (
    MUTATORS,
    Event,
    TransformError,
    get,
    java_date_regex,
    put,
    zone,
)

MAX_PROCESSORS = 20
MAX_PARSERS = 5
PARSERS = ("parseJSON", "grok", "csv", "parseKeyValue")
VENDED = (
    "parseCloudfront",
    "parseVPC",
    "parseRoute53",
    "parseWAF",
    "parsePostgres",
    "parseToOCSF",
)
SINGLE = ("grok", "addKeys", "copyValue")
BUILT = PARSERS + tuple(MUTATORS)
MESSAGE = "@message"


def _text(event: Event, conf: dict, meta: dict) -> str:
    source = conf.get("source") or MESSAGE
    value = meta[MESSAGE] if source == MESSAGE else get(event, source)
    if not isinstance(value, str):
        raise TransformError(f"{source} is not text")
    return value


def _place(event: Event, conf: dict, parsed: dict[str, Any], overwrite: bool = True) -> None:
    if conf.get("destination"):
        put(event, conf["destination"], parsed)
        return
    for key, value in parsed.items():
        if overwrite or key not in event:
            event[key] = value


def parse_json(event: Event, conf: dict, meta: dict) -> None:
    try:
        parsed = json.loads(_text(event, conf, meta))
    except ValueError:
        raise TransformError("not JSON") from None
    if conf.get("destination"):
        put(event, conf["destination"], parsed)
    elif isinstance(parsed, dict):
        event.update(parsed)
    else:
        raise TransformError("not a JSON object")


def parse_grok(event: Event, conf: dict, meta: dict) -> None:
    found = compile_grok(conf["match"]).match(_text(event, conf, meta))
    if found is None:
        raise TransformError("the grok pattern does not match")
    for path, value in found.items():
        put(event, path, value)


def _delimiter(value: str | None, default: str) -> str:
    if not value:
        return default
    return {"\\t": "\t", "\\s": " "}.get(value, value)


def parse_csv(event: Event, conf: dict, meta: dict) -> None:
    text = _text(event, conf, meta)
    delimiter = _delimiter(conf.get("delimiter"), ",")
    quote = conf.get("quoteCharacter") or '"'
    if len(delimiter) == 1:
        values = next(csv.reader([text], delimiter=delimiter, quotechar=quote), [])
    else:
        values = text.split(delimiter)
    columns = conf.get("columns") or []
    names = [columns[i] if i < len(columns) else f"column_{i + 1}" for i in range(len(values))]
    _place(event, conf, dict(zip(names, values, strict=True)))


def parse_key_value(event: Event, conf: dict, meta: dict) -> None:
    text = _text(event, conf, meta)
    field_sep = _delimiter(conf.get("fieldDelimiter"), "&")
    pair_sep = _delimiter(conf.get("keyValueDelimiter"), "=")
    prefix = conf.get("keyPrefix") or ""
    parsed: dict[str, Any] = {}
    for token in text.split(field_sep):
        if not token:
            continue
        key, sep, value = token.partition(pair_sep)
        if not sep:
            if conf.get("nonMatchValue") is None:
                continue
            value = conf["nonMatchValue"]
        parsed[prefix + key] = value
    if not parsed:
        raise TransformError("no key-value pairs")
    _place(event, conf, parsed, overwrite=bool(conf.get("overwriteIfExists")))


_RUN = {
    "parseJSON": parse_json,
    "grok": parse_grok,
    "csv": parse_csv,
    "parseKeyValue": parse_key_value,
    **MUTATORS,
}


def _kind(processor: Any) -> tuple[str, dict]:
    if not isinstance(processor, dict):
        raise errors.invalid("Each processor must be an object naming one processor type.")
    named = [(k, v) for k, v in processor.items() if v is not None]
    if len(named) != 1 or not isinstance(named[0][1], dict):
        raise errors.invalid("Each processor must contain exactly one processor type.")
    return named[0]


def _check_one(name: str, conf: dict) -> None:
    """What a processor's own fields need beyond the model's shape."""
    try:
        if name == "grok":
            compile_grok(conf["match"])
        elif name == "substituteString":
            for e in conf["entries"]:
                re.compile(e["from"])
        elif name == "dateTimeConverter":
            for pattern in conf["matchPatterns"]:
                java_date_regex(pattern)
            java_date_regex(conf.get("targetFormat") or "yyyy")
            zone(conf.get("sourceTimezone"))
            zone(conf.get("targetTimezone"))
        elif name == "csv" and len(conf.get("quoteCharacter") or '"') != 1:
            raise ValueError("quoteCharacter must be one character")
    except (GrokError, re.error, ValueError) as exc:
        raise errors.invalid(f"Invalid {name} processor: {exc}") from None
    except KeyError as exc:
        raise errors.invalid(f"Invalid {name} processor: {exc.args[0]} is required.") from None


def check_config(config: Any) -> list[tuple[str, dict]]:
    """Check a transformer configuration; its processors as (kind, settings)."""
    if not isinstance(config, list) or not 1 <= len(config) <= MAX_PROCESSORS:
        raise errors.invalid(f"A transformer must have between 1 and {MAX_PROCESSORS} processors.")
    steps = [_kind(p) for p in config]
    names = [name for name, _ in steps]
    for name in names:
        if name in VENDED:
            raise errors.invalid(
                f"cloudlet does not build the {name} processor; it builds {', '.join(BUILT)}."
            )
        if name not in _RUN:
            raise errors.invalid(f"Unknown processor type: {name}")
    if names[0] not in PARSERS:
        raise errors.invalid("The first processor in a transformer must be a parser.")
    if sum(n in PARSERS for n in names) > MAX_PARSERS:
        raise errors.invalid(f"A transformer can include at most {MAX_PARSERS} parsers.")
    for name in SINGLE:
        if names.count(name) > 1:
            raise errors.invalid(f"A transformer can include only one {name} processor.")
    for name, conf in steps:
        _check_one(name, conf)
    return steps


def transform(
    steps: list[tuple[str, dict]], message: str, meta: dict[str, str] | None = None
) -> str | None:
    """The transformed event of ``message`` as JSON text; None when it failed."""
    context = {**(meta or {}), MESSAGE: message}
    event: Event = {}
    try:
        for name, conf in steps:
            _RUN[name](event, conf, context)
    except Exception:  # noqa: BLE001 - a processor's failure fails this event's transformation
        return None
    if not event:
        return None
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
