"""CloudWatch Logs filter patterns, compiled once to a predicate.

FilterLogEvents, metric filters, subscription filters and TestMetricFilter all
share this syntax, so it lives in one plain-Python module (unit-tested without
HTTP). Three families, chosen by the first character as AWS does:

- terms: ``ERROR "disk full" ?WARN ?CRIT -healthcheck %re%``: every plain term
  must occur (case-sensitive substring), at least one ``?`` term if any, no
  ``-`` term;
- JSON: ``{ $.status = 500 && ($.user.id = "x*" || $.a[0] IS NULL) }``;
- space-delimited: ``[ip, user, ..., status=4*, size>1000]`` over the
  message's whitespace-separated fields ("quoted" and [bracketed] fields count
  as one).

``compile_pattern`` returns a ``Pattern`` whose ``match`` gives the bindings a
metric filter reads its value and dimensions from (``$.field`` / ``$name``),
or None when the event does not match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudlet.core.errors import ServiceError


def invalid(message: str = "Invalid filter pattern") -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


def bad_term(term: str) -> ServiceError:
    return invalid(f"Invalid character(s) in term '{term}'")


Bindings = dict[str, Any]
_MISSING = object()


@dataclass(slots=True)
class Pattern:
    text: str
    kind: str  # "all" | "terms" | "json" | "space"
    _match: Callable[[str], Bindings | None]

    def match(self, message: str) -> Bindings | None:
        return self._match(message)

    def matches(self, message: str) -> bool:
        return self._match(message) is not None

    def value(self, bindings: Bindings, ref: str) -> Any:
        """The value ``ref`` (``$.a.b`` or ``$name``) names in a match, or None."""
        if ref.startswith("$."):
            doc = bindings.get("$")
            got = _select(doc, _path(ref)) if doc is not None else _MISSING
            return None if got is _MISSING else got
        if ref.startswith("$"):
            return bindings.get(ref[1:])
        return None


def compile_pattern(text: str | None) -> Pattern:
    text = (text or "").strip()
    if not text:
        return Pattern(text, "all", lambda _m: {})
    if text.startswith("{"):
        if not text.endswith("}"):
            raise invalid("If a filter pattern starts with '{' it must end with '}'")
        return Pattern(text, "json", _compile_json(text[1:-1]))
    if text.startswith("["):
        if not text.endswith("]"):
            raise invalid("If a filter pattern starts with '[' it must end with ']'")
        return Pattern(text, "space", _compile_space(text[1:-1]))
    return Pattern(text, "terms", _compile_terms(text))


# --- terms ---------------------------------------------------------------------------

_TERM = re.compile(r'([?\-]?)("(?:[^"\\]|\\.)*"|%[^%]*%|\S+)')
_PLAIN = re.compile(r"^[A-Za-z0-9_.\-:]+$")


def _term_test(raw: str) -> Callable[[str], bool]:
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise bad_term(raw)
        text = raw[1:-1].replace('\\"', '"')
        if not text:
            raise bad_term(raw)
        return lambda m: text in m
    if raw.startswith("%") and raw.endswith("%") and len(raw) > 2:
        try:
            rx = re.compile(raw[1:-1])
        except re.error:
            raise bad_term(raw) from None
        return lambda m: rx.search(m) is not None
    if not _PLAIN.match(raw):
        raise bad_term(raw)
    return lambda m: raw in m


def _compile_terms(text: str) -> Callable[[str], Bindings | None]:
    required: list[Callable[[str], bool]] = []
    optional: list[Callable[[str], bool]] = []
    excluded: list[Callable[[str], bool]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TERM.match(text, pos)
        if m is None:  # pragma: no cover - \S+ always matches
            raise invalid()
        prefix, raw = m.groups()
        test = _term_test(raw)
        {"?": optional, "-": excluded, "": required}[prefix].append(test)
        pos = m.end()

    def match(message: str) -> Bindings | None:
        if not all(t(message) for t in required):
            return None
        if optional and not any(t(message) for t in optional):
            return None
        if any(t(message) for t in excluded):
            return None
        return {}

    return match


# --- shared value comparison ---------------------------------------------------------

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _glob(value: str) -> Callable[[str], bool]:
    if "*" not in value:
        return lambda s: s == value
    rx = re.compile(".*".join(re.escape(part) for part in value.split("*")) + r"\Z", re.S)
    return lambda s: rx.match(s) is not None


def _comparison(op: str, raw: str, quoted: bool) -> Callable[[Any], bool]:
    """A test of one field value against a literal, with AWS's typing rules:
    unquoted numbers compare numerically; strings allow only = and != with ``*``."""
    if raw.startswith("%") and raw.endswith("%") and len(raw) > 1 and not quoted:
        rx = re.compile(raw[1:-1])
        test = lambda v: isinstance(v, str) and rx.search(v) is not None  # noqa: E731
        return test if op == "=" else (lambda v: not test(v))
    if not quoted and _NUMBER.match(raw):
        num = float(raw)

        def numeric(v: Any) -> bool:
            if isinstance(v, bool) or v is None:
                return False
            if isinstance(v, str):
                if not _NUMBER.match(v):
                    return False if op != "!=" else True
                v = float(v)
            if not isinstance(v, int | float):
                return op == "!="
            return {
                "=": v == num,
                "!=": v != num,
                "<": v < num,
                ">": v > num,
                "<=": v <= num,
                ">=": v >= num,
            }[op]

        return numeric
    if op not in ("=", "!="):
        raise invalid()
    g = _glob(raw)

    def textual(v: Any) -> bool:
        if isinstance(v, dict | list) or v is None:
            return op == "!=" and v is not None
        s = json.dumps(v) if isinstance(v, bool) else str(v)
        if isinstance(v, float) and v.is_integer():
            s = str(int(v))
        return g(s) if op == "=" else not g(s)

    return textual


# --- JSON patterns -------------------------------------------------------------------

_JTOK = re.compile(
    r"""\s*(?:
    (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
    |(?P<sel>\$(?:\.[^\s=!<>()&|\[\]]+|\[\d+\]|\.\*|\[\*\])*)
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<re>%[^%]*%)
    |(?P<word>[^\s=!<>()&|"]+)
    )""",
    re.X,
)
_PATH = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def _path(selector: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in _PATH.findall(selector[1:]):
        if name:
            out.append(name)
        else:
            out.append("*" if index == "*" else int(index))
    return out


def _select(doc: Any, path: list[str | int]) -> Any:
    for i, step in enumerate(path):
        if step == "*":
            items = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else []
            rest = path[i + 1 :]
            found = [_select(x, rest) for x in items]
            return [f for f in found if f is not _MISSING] or _MISSING
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
        else:
            if not isinstance(doc, dict) or step not in doc:
                return _MISSING
            doc = doc[step]
    return doc


def _tokens_json(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _JTOK.match(text, pos)
        if m is None or m.end() == pos:
            raise invalid()
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _JsonParser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise invalid()
        self.i += 1
        return tok

    def parse(self) -> Callable[[Any], bool]:
        expr = self.or_()
        if self.peek() is not None:
            raise invalid()
        return expr

    def or_(self) -> Callable[[Any], bool]:
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right, prev = self.and_(), left
            left = lambda d, a=prev, b=right: a(d) or b(d)  # noqa: E731
        return left

    def and_(self) -> Callable[[Any], bool]:
        left = self.atom()
        while self.peek() == ("op", "&&"):
            self.take()
            right, prev = self.atom(), left
            left = lambda d, a=prev, b=right: a(d) and b(d)  # noqa: E731
        return left

    def atom(self) -> Callable[[Any], bool]:
        kind, val = self.take()
        if (kind, val) == ("op", "("):
            inner = self.or_()
            if self.take() != ("op", ")"):
                raise invalid()
            return inner
        if kind != "sel":
            raise invalid()
        path = _path(val)
        kind2, op = self.take()
        if kind2 == "word" and op.upper() in ("IS", "NOT"):
            _, what = self.take()
            what = what.upper()
            if op.upper() == "NOT" and what == "EXISTS":
                return lambda d: _select(d, path) is _MISSING
            if op.upper() == "IS" and what in ("NULL", "TRUE", "FALSE"):
                want = {"NULL": None, "TRUE": True, "FALSE": False}[what]
                return lambda d: (v := _select(d, path)) is not _MISSING and v is want
            raise invalid()
        if kind2 != "op" or op not in ("=", "!=", "<", ">", "<=", ">="):
            raise invalid()
        vkind, raw = self.take()
        if vkind == "str":
            test = _comparison(op, raw[1:-1].replace('\\"', '"'), True)
        elif vkind in ("word", "re"):
            test = _comparison(op, raw, False)
        else:
            raise invalid()

        def check(d: Any) -> bool:
            v = _select(d, path)
            if v is _MISSING:
                return False
            if isinstance(v, list) and "*" in path:
                return any(test(x) for x in v)
            return test(v)

        return check


def _compile_json(body: str) -> Callable[[str], Bindings | None]:
    toks = _tokens_json(body)
    if not toks:
        raise invalid()
    pred = _JsonParser(toks).parse()

    def match(message: str) -> Bindings | None:
        if not message.lstrip().startswith("{"):  # JSON patterns read JSON events only
            return None
        try:
            doc = json.loads(message)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        return {"$": doc} if pred(doc) else None

    return match


# --- space-delimited patterns --------------------------------------------------------

_FIELD_RX = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
_COND = re.compile(r'^\s*([A-Za-z_][\w.]*)?\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|\S+)\s*$')
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def split_fields(message: str) -> list[str]:
    """The message's fields: whitespace-separated, quotes and brackets kept whole
    (and stripped, as AWS compares their content)."""
    out = []
    for f in _FIELD_RX.findall(message):
        if len(f) >= 2 and (f[0], f[-1]) in (('"', '"'), ("[", "]")):
            f = f[1:-1]
        out.append(f)
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, cur, i = [], 0, False, "", 0
    while i < len(text):
        c = text[i]
        if c == '"':
            quote = not quote
        elif not quote and c in "([":
            depth += 1
        elif not quote and c in ")]":
            depth -= 1
        if not quote and depth == 0 and text.startswith(sep, i):
            parts.append(cur)
            cur, i = "", i + len(sep)
            continue
        cur += c
        i += 1
    parts.append(cur)
    return parts


def _space_condition(text: str, default: str) -> Callable[[dict[str, str]], bool]:
    ors = _split_top(text, "||")
    if len(ors) > 1:
        tests = [_space_condition(p, default) for p in ors]
        return lambda b: any(t(b) for t in tests)
    ands = _split_top(text, "&&")
    if len(ands) > 1:
        tests = [_space_condition(p, default) for p in ands]
        return lambda b: all(t(b) for t in tests)
    m = _COND.match(text)
    if m is None:
        raise bad_term(text.strip())
    name, op, raw = m.groups()
    name = name or default
    quoted = raw.startswith('"')
    test = _comparison(op, raw[1:-1] if quoted else raw, quoted)
    return lambda b: name in b and test(b[name])


def _compile_space(body: str) -> Callable[[str], Bindings | None]:
    specs: list[str | None] = []  # field name, or None for an ellipsis
    conditions: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_top(body, ","):
        part = part.strip()
        if not part:
            if body.strip():
                raise invalid()
            continue
        if part == "...":
            specs.append(None)
            continue
        m = re.match(r"^([A-Za-z_][\w.]*)\s*(.*)$", part, re.S)
        if m is None:
            raise bad_term(part)
        name, rest = m.groups()
        specs.append(name)
        if rest.strip():
            conditions.append(_space_condition(part, name))
        elif not _NAME.match(name):  # pragma: no cover - the regex guarantees it
            raise bad_term(part)

    def bind(fields: list[str]) -> dict[str, str] | None:
        out: dict[str, str] = {}

        def go(si: int, fi: int) -> bool:
            if si == len(specs):
                return fi == len(fields)
            spec = specs[si]
            if spec is None:
                return any(go(si + 1, k) for k in range(len(fields), fi - 1, -1))
            if fi >= len(fields):
                return False
            out[spec] = fields[fi]
            return go(si + 1, fi + 1)

        return out if go(0, 0) else None

    def match(message: str) -> Bindings | None:
        if not specs:
            return {}
        bound = bind(split_fields(message))
        if bound is None or not all(c(bound) for c in conditions):
            return None
        return bound

    return match
