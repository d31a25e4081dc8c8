"""The transformer processors that change a parsed event: JSON, string and data type mutators.

Why a module of its own: these processors all work on the event's JSON object through
dotted paths (``outer_key.inner_key``, at most three levels, as the user guide's limits
say), never on the raw text, so they share the path helpers here; the parsers that make
the object from the text are ``processors``'s.

Each follows the user guide's "JSON mutate processors", "String mutate processors" and
"Datatype converter processors": a key that is absent is left alone; ``overwriteIfExists``
(default false) decides whether an existing key is replaced; ``copyValue`` also reads the
metadata keys ``@logGroupName``, ``@logGroupStream``, ``@accountId`` and ``@regionName``.
``substituteString`` takes Java-style regular expressions and ``$1`` group references;
``dateTimeConverter`` reads and writes Java ``DateTimeFormatter`` patterns (letters
``yMdHhmsSaEzZX`` and quoted literals), in ``sourceTimezone`` (default UTC) and
``targetTimezone`` (default UTC), with AWS's default target format
``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``. A value a converter cannot convert fails the event's
transformation (``TransformError``).
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Event = dict[str, Any]
MISSING = object()
DEFAULT_DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"


class TransformError(ValueError):
    """The processor could not handle this event: it is stored as it was ingested."""


def get(event: Event, path: str, meta: dict[str, str] | None = None) -> Any:
    if meta is not None and path in meta:
        return meta[path]
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def put(event: Event, path: str, value: Any, overwrite: bool = True) -> None:
    parts = path.split(".")
    node = event
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            if nxt is not None and not overwrite:
                return
            nxt = node[part] = {}
        node = nxt
    if parts[-1] in node and not overwrite:
        return
    node[parts[-1]] = value


def delete(event: Event, path: str) -> Any:
    parts = path.split(".")
    node: Any = event
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        return node.pop(parts[-1], MISSING)
    return MISSING


# --- JSON mutators ---------------------------------------------------------------------


def add_keys(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        put(event, e["key"], e["value"], bool(e.get("overwriteIfExists")))


def delete_keys(event: Event, conf: dict, meta: dict) -> None:
    for key in conf["withKeys"]:
        delete(event, key)


def move_keys(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["source"])
        if value is MISSING:
            continue
        if get(event, e["target"]) is not MISSING and not e.get("overwriteIfExists"):
            continue
        delete(event, e["source"])
        put(event, e["target"], value)


def rename_keys(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["key"])
        if value is MISSING:
            continue
        parent = e["key"].rpartition(".")[0]
        target = f"{parent}.{e['renameTo']}" if parent else e["renameTo"]
        if get(event, target) is not MISSING and not e.get("overwriteIfExists"):
            continue
        delete(event, e["key"])
        put(event, target, value)


def copy_value(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["source"], meta)
        if value is not MISSING:
            put(event, e["target"], copy.deepcopy(value), bool(e.get("overwriteIfExists")))


def list_to_map(event: Event, conf: dict, meta: dict) -> None:
    items = get(event, conf["source"])
    if not isinstance(items, list):
        return
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or conf["key"] not in item:
            continue
        name = str(item[conf["key"]])
        value = item.get(conf["valueKey"]) if conf.get("valueKey") else item
        if conf.get("flatten"):
            if conf.get("flattenedElement", "first") == "last" or name not in out:
                out[name] = value
        else:
            out.setdefault(name, []).append(value)
    if conf.get("target"):
        put(event, conf["target"], out)
    else:
        event.update(out)


# --- string mutators -------------------------------------------------------------------


def _strings(event: Event, keys: list[str], fn: Any) -> None:
    for key in keys:
        value = get(event, key)
        if isinstance(value, str):
            put(event, key, fn(value))


def lower_case(event: Event, conf: dict, meta: dict) -> None:
    _strings(event, conf["withKeys"], str.lower)


def upper_case(event: Event, conf: dict, meta: dict) -> None:
    _strings(event, conf["withKeys"], str.upper)


def trim(event: Event, conf: dict, meta: dict) -> None:
    _strings(event, conf["withKeys"], str.strip)


def java_replacement(to: str) -> str:
    """A Java replacement (``$1``) as Python's (``\\g<1>``)."""
    return re.sub(r"\$(\d+)", r"\\g<\1>", to.replace("\\", "\\\\"))


def substitute(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["source"])
        if isinstance(value, str):
            put(event, e["source"], re.sub(e["from"], java_replacement(e["to"]), value))


def split(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["source"])
        if isinstance(value, str):
            put(event, e["source"], value.split(e["delimiter"]))


# --- data type converters --------------------------------------------------------------


def _convert(value: Any, kind: str) -> Any:
    if kind == "string":
        return str(value).lower() if isinstance(value, bool) else str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise TransformError(f"{value!r} is not a boolean")
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise TransformError(f"{value!r} is not a number")
    if kind == "integer":
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?\d+\s*", value):
            raise TransformError(f"{value!r} is not an integer")
        return int(number)
    return number


def type_convert(event: Event, conf: dict, meta: dict) -> None:
    for e in conf["entries"]:
        value = get(event, e["key"])
        if value is not MISSING:
            put(event, e["key"], _convert(value, e["type"]))


_JAVA_TOKEN = re.compile(r"'([^']*)'|(y+|M+|d+|H+|h+|m+|s+|S+|a|E+|z+|Z+|X+)|(.)")
_PARSE = {
    "yyyy": r"(?P<Y>\d{4})", "yy": r"(?P<y>\d{2})", "MMMM": r"(?P<B>[A-Za-z]+)",
    "MMM": r"(?P<b>[A-Za-z]{3})", "MM": r"(?P<m>\d{2})", "M": r"(?P<m>\d{1,2})",
    "dd": r"(?P<d>\d{2})", "d": r"(?P<d>\d{1,2})", "HH": r"(?P<H>\d{2})",
    "H": r"(?P<H>\d{1,2})", "hh": r"(?P<I>\d{2})", "h": r"(?P<I>\d{1,2})",
    "mm": r"(?P<M>\d{2})", "ss": r"(?P<S>\d{2})", "a": r"(?P<p>AM|PM|am|pm)",
    "EEE": r"[A-Za-z]{3}", "EEEE": r"[A-Za-z]+", "z": r"(?P<Z>[A-Za-z]+)",
    "Z": r"(?P<z>[+-]\d{4})", "X": r"(?P<z>Z|[+-]\d{2}(?:\d{2})?)",
    "XX": r"(?P<z>Z|[+-]\d{4})", "XXX": r"(?P<z>Z|[+-]\d{2}:\d{2})",
}  # fmt: skip


def java_date_regex(pattern: str) -> re.Pattern[str]:
    """A Java date pattern as a regular expression with named parts; ``ValueError`` if
    it uses letters cloudlet does not read."""
    out = []
    for quoted, letters, other in _JAVA_TOKEN.findall(pattern):
        if letters:
            if letters[0] == "S":
                out.append(rf"(?P<f>\d{{{len(letters)}}})")
            elif letters in _PARSE:
                out.append(_PARSE[letters])
            else:
                raise ValueError(f"unsupported date pattern letters {letters!r}")
        elif other.isalpha():
            raise ValueError(f"unsupported date pattern letter {other!r}")
        else:
            out.append(re.escape(quoted if quoted or not other else other))
    return re.compile("".join(out))


def _parse_date(text: str, rx: re.Pattern[str], zone: Any) -> datetime | None:
    m = rx.fullmatch(text.strip())
    if m is None:
        return None
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    fmt, value = [], []
    for key in ("Y", "y", "B", "b", "m", "d", "H", "I", "M", "S", "p"):
        if key in g:
            fmt.append(f"%{key}")
            value.append(g[key])
    try:
        when = datetime.strptime(" ".join(value), " ".join(fmt))
    except ValueError:
        return None
    if "f" in g:
        when = when.replace(microsecond=int(g["f"].ljust(6, "0")[:6]))
    if "z" in g:
        off = g["z"].replace(":", "")
        if off == "Z":
            return when.replace(tzinfo=UTC)
        delta = timedelta(hours=int(off[1:3]), minutes=int(off[3:5] or 0))
        return when.replace(tzinfo=timezone(-delta if off[0] == "-" else delta))
    return when.replace(tzinfo=zone)


def format_java(when: datetime, pattern: str) -> str:
    out = []
    for quoted, letters, other in _JAVA_TOKEN.findall(pattern):
        if not letters:
            out.append(quoted if quoted or not other else other)
            continue
        c, n = letters[0], len(letters)
        if c == "y":
            out.append(f"{when.year:04d}" if n != 2 else f"{when.year % 100:02d}")
        elif c == "M":
            out.append(when.strftime("%B" if n >= 4 else "%b") if n >= 3 else f"{when.month:0{n}d}")
        elif c in "dHms":
            value = {"d": when.day, "H": when.hour, "m": when.minute, "s": when.second}[c]
            out.append(f"{value:0{n}d}")
        elif c == "h":
            out.append(f"{(when.hour % 12) or 12:0{n}d}")
        elif c == "S":
            out.append(f"{when.microsecond:06d}"[:n].ljust(n, "0"))
        elif c == "a":
            out.append(when.strftime("%p"))
        elif c == "E":
            out.append(when.strftime("%A" if n >= 4 else "%a"))
        elif c in "Zz":
            out.append(when.strftime("%z" if c == "Z" else "%Z"))
        else:  # X: Z for UTC, else the offset
            off = when.strftime("%z")
            out.append(
                "Z" if off in ("+0000", "") else (off[:3] + ":" + off[3:] if n >= 3 else off)
            )
    return "".join(out)


def zone(name: str | None) -> Any:
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def date_time(event: Event, conf: dict, meta: dict) -> None:
    value = get(event, conf["source"])
    if not isinstance(value, str):
        return
    source_zone, target_zone = zone(conf.get("sourceTimezone")), zone(conf.get("targetTimezone"))
    for pattern in conf["matchPatterns"]:
        when = _parse_date(value, java_date_regex(pattern), source_zone)
        if when is not None:
            target = conf.get("targetFormat") or DEFAULT_DATE_FORMAT
            put(event, conf["target"], format_java(when.astimezone(target_zone), target))
            return
    raise TransformError(f"{value!r} matches none of the date patterns")


MUTATORS = {
    "addKeys": add_keys,
    "deleteKeys": delete_keys,
    "moveKeys": move_keys,
    "renameKeys": rename_keys,
    "copyValue": copy_value,
    "listToMap": list_to_map,
    "lowerCaseString": lower_case,
    "upperCaseString": upper_case,
    "trimString": trim,
    "substituteString": substitute,
    "splitString": split,
    "typeConverter": type_convert,
    "dateTimeConverter": date_time,
}
