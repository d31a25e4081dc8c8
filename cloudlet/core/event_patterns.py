"""Event patterns as AWS's event filters write them: SNS filter policies, Lambda's
event source mapping filters (and EventBridge's rules, whose syntax both follow).

A pattern is a JSON object whose keys are paths into a document (nested objects) and
whose values are lists of what may match there, any element of an array matching:
exact strings, numbers, booleans and null; ``prefix``, ``suffix``,
``equals-ignore-case``, ``anything-but`` (values, ``prefix``, ``suffix``), ``numeric``
ranges, ``exists``, ``cidr``; ``$or`` of alternative patterns. It is compiled once
(``compile_node``, which raises ``PatternError`` with AWS's wording, for each service
to answer in its own error) and matched per message (``match_node``).

EventBridge's rules speak a little more (``extended=True``): ``wildcard`` (``*`` any
run of characters, ``\\*`` a star), ``prefix``/``suffix`` with ``equals-ignore-case``,
and ``anything-but`` of ``wildcard`` or ``equals-ignore-case``. SNS and Lambda refuse
these as AWS's do (``Unrecognized match type``), so they compile without it.

Why here: SNS and Lambda evaluate the same language, and a service's folder owns only
its own state; the services keep their limits and scopes (``sns/filterpolicy.py``,
``awslambda/filters.py``).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ABSENT = object()
"""What ``body_values`` answers for a path the document does not have."""
Cond = Callable[[Any], bool]


class PatternError(ValueError):
    """A pattern AWS refuses; the message is AWS's text."""


def _bad(message: str) -> Exception:
    return PatternError(message)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num_eq(a: float, b: float) -> bool:
    return round(float(a), 5) == round(float(b), 5)


@dataclass
class Key:
    path: tuple[str, ...]
    conditions: list[Cond]
    exists: bool | None = None
    """``{"exists": true/false}`` as the key's only condition."""


@dataclass
class Node:
    keys: list[Key] = field(default_factory=list)
    ors: list[list[Node]] = field(default_factory=list)


def compile_node(
    doc: dict[str, Any],
    prefix: tuple[str, ...] = (),
    nested: Callable[[], Exception] | None = None,
    *,
    extended: bool = False,
) -> Node:
    """Compile a pattern object. ``nested``: the error to raise for a nested object where
    the caller's scope takes none (None: nesting allowed); ``extended``: EventBridge's
    operators too."""
    node = Node()
    for name, value in doc.items():
        if name == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _bad("Value of $or must be an array of at least 2 objects")
            branches = []
            for branch in value:
                if not isinstance(branch, dict):
                    raise _bad("Value of $or must be an array of objects")
                branches.append(compile_node(branch, prefix, nested, extended=extended))
            node.ors.append(branches)
        elif isinstance(value, dict):
            if nested is not None:
                raise nested()
            inner = compile_node(value, (*prefix, name), nested, extended=extended)
            node.keys.extend(inner.keys)
            node.ors.extend(inner.ors)
        elif isinstance(value, list):
            node.keys.append(_compile_key((*prefix, name), value, extended))
        else:
            raise _bad(f'"{name}" must be an object or an array')
    return node


def _compile_key(path: tuple[str, ...], values: list[Any], extended: bool = False) -> Key:
    if not values:
        raise _bad("Empty arrays are not allowed")
    key = Key(path, [])
    for value in values:
        if isinstance(value, dict):
            if len(value) != 1:
                raise _bad("Only one key allowed in match expression")
            [(op, arg)] = value.items()
            if op == "exists":
                if not isinstance(arg, bool):
                    raise _bad("exists match pattern must be either true or false.")
                key.exists = arg
                key.conditions.append(lambda v: True)
            else:
                key.conditions.append(_operator(op, arg, extended))
        elif isinstance(value, list):
            raise _bad("Match value must be String, number, true, false, or null")
        else:
            key.conditions.append(_literal(value))
    return key


def _literal(value: Any) -> Cond:
    if value is None:
        return lambda v: v is None
    if isinstance(value, bool):
        return lambda v: isinstance(v, bool) and v == value
    if _is_number(value):
        if not -1e9 <= value <= 1e9:
            raise _bad("Numeric values must be within -1000000000 and 1000000000")
        return lambda v: _is_number(v) and _num_eq(v, value)
    return lambda v: isinstance(v, str) and v == value


def _string_arg(op: str, arg: Any) -> str:
    if not isinstance(arg, str):
        raise _bad(f"{op} match pattern must be a string")
    return arg


def _operator(op: str, arg: Any, extended: bool = False) -> Cond:
    if extended and op in ("prefix", "suffix") and isinstance(arg, dict):
        return _affix_ignoring_case(op, arg)
    if op == "prefix":
        s = _string_arg(op, arg)
        return lambda v: isinstance(v, str) and v.startswith(s)
    if op == "suffix":
        s = _string_arg(op, arg)
        return lambda v: isinstance(v, str) and v.endswith(s)
    if op == "equals-ignore-case":
        s = _string_arg(op, arg).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == s
    if op == "anything-but":
        return _anything_but(arg, extended)
    if op == "numeric":
        return _numeric(arg)
    if op == "cidr":
        return _cidr(arg)
    if extended and op == "wildcard":
        return _wildcard(_string_arg(op, arg))
    raise _bad(f"Unrecognized match type {op}")


def _anything_but(arg: Any, extended: bool = False) -> Cond:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise _bad("Only one key allowed in match expression")
        [(op, inner)] = arg.items()
        allowed = ("prefix", "suffix", "wildcard", "equals-ignore-case") if extended else ()
        if op not in ("prefix", "suffix", *allowed):
            raise _bad(f"Unsupported anything-but pattern: {op}")
        positives = [_operator(op, x, extended) for x in _one_or_many(op, inner, extended)]
        return lambda v: isinstance(v, str) and not any(p(v) for p in positives)
    values = arg if isinstance(arg, list) else [arg]
    if not values or any(isinstance(x, dict | list | bool) or x is None for x in values):
        raise _bad("Value of anything-but must be an array or single string/number value.")
    excluded = [_literal(x) for x in values]
    return lambda v: not any(c(v) for c in excluded)


def _one_or_many(op: str, arg: Any, extended: bool) -> list[Any]:
    """EventBridge's ``anything-but`` takes a list of strings for ``equals-ignore-case``
    and ``wildcard`` (and ``prefix``/``suffix`` since 2024); SNS's a single string."""
    if extended and isinstance(arg, list):
        if not arg or not all(isinstance(x, str) for x in arg):
            raise _bad(f"Value of anything-but {op} must be an array of strings.")
        return arg
    return [arg]


def _affix_ignoring_case(op: str, arg: dict[str, Any]) -> Cond:
    """EventBridge's ``{"prefix": {"equals-ignore-case": "x"}}`` (and suffix)."""
    if len(arg) != 1 or "equals-ignore-case" not in arg:
        raise _bad(f"Unsupported {op} pattern: {', '.join(arg) or '{}'}")
    s = _string_arg("equals-ignore-case", arg["equals-ignore-case"]).casefold()
    if op == "prefix":
        return lambda v: isinstance(v, str) and v.casefold().startswith(s)
    return lambda v: isinstance(v, str) and v.casefold().endswith(s)


def _wildcard(text: str) -> Cond:
    """EventBridge's ``wildcard``: ``*`` is any run of characters, ``\\*`` and ``\\\\``
    a literal star and backslash; two stars in a row, or any other escape, is refused
    with event-ruler's words."""
    parts: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise _bad(f"Invalid escape character at pos {i}")
            parts.append(re.escape(text[i + 1]))
            i += 2
            continue
        if c == "*":
            if i + 1 < len(text) and text[i + 1] == "*":
                raise _bad(f"Consecutive wildcard characters at pos {i}")
            parts.append(".*")
        else:
            parts.append(re.escape(c))
        i += 1
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


_LOWER = {">", ">="}
_UPPER = {"<", "<="}
_CMP: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: _num_eq(a, b),
    ">": lambda a, b: a > b and not _num_eq(a, b),
    ">=": lambda a, b: a > b or _num_eq(a, b),
    "<": lambda a, b: a < b and not _num_eq(a, b),
    "<=": lambda a, b: a < b or _num_eq(a, b),
}


def _numeric(arg: Any) -> Cond:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise _bad("Value of numeric must be an array.")
    pairs: list[tuple[str, float]] = []
    for i in range(0, len(arg), 2):
        op, bound = arg[i], arg[i + 1]
        if op not in _CMP:
            raise _bad(f"Unrecognized numeric range operator: {op}")
        if not _is_number(bound):
            raise _bad(f"Value of {op} must be numeric")
        if not -1e9 <= bound <= 1e9:
            raise _bad("Numeric values must be within -1000000000 and 1000000000")
        pairs.append((op, float(bound)))
    if len(pairs) > 2 or (pairs[0][0] == "=" and len(pairs) > 1):
        raise _bad("Too many elements in numeric expression")
    if len(pairs) == 2:
        (lo_op, lo), (hi_op, hi) = pairs
        if lo_op not in _LOWER or hi_op not in _UPPER:
            raise _bad(f"Bad numeric range operator: {hi_op}")
        if lo >= hi:
            raise _bad("Bottom must be less than top")
    checks = [(_CMP[op], bound) for op, bound in pairs]
    return lambda v: _is_number(v) and all(c(float(v), b) for c, b in checks)


def _cidr(arg: Any) -> Cond:
    if not isinstance(arg, str) or arg.count("/") != 1:
        raise _bad("Malformed CIDR, one '/' required")
    try:
        net = ipaddress.ip_network(arg, strict=False)
    except ValueError:
        raise _bad(f"Nonstandard IP address: {arg.split('/')[0]}") from None

    def match(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in net
        except ValueError:
            return False

    return match


def expand(node: Node) -> list[tuple[int, int]]:
    """(keys, value combinations) of every ``$or``-free policy the node stands for."""
    keys = len(node.keys)
    combos = math.prod(len(k.conditions) for k in node.keys) if node.keys else 1
    out = [(keys, combos)]
    for branches in node.ors:
        options = [e for b in branches for e in expand(b)]
        out = [(k + bk, c * bc) for k, c in out for bk, bc in options]
    return out


def match_node(node: Node, values: Callable[[tuple[str, ...]], Any]) -> bool:
    """Whether a document matches: ``values(path)`` is the list of values at ``path``, or
    ``ABSENT``."""
    for key in node.keys:
        found = values(key.path)
        if key.exists is not None and len(key.conditions) == 1:
            if (found is not ABSENT) != key.exists:
                return False
            continue
        if found is ABSENT:
            return False
        if not any(cond(v) for v in found for cond in key.conditions):
            return False
    return all(any(match_node(b, values) for b in branches) for branches in node.ors)


def body_values(body: Any, path: tuple[str, ...]) -> Any:
    """The values at ``path`` in a JSON document (arrays flattened), or ``ABSENT``."""
    current = [body]
    for part in path:
        nxt: list[Any] = []
        for item in current:
            for obj in item if isinstance(item, list) else [item]:
                if isinstance(obj, dict) and part in obj:
                    nxt.append(obj[part])
        if not nxt:
            return ABSENT
        current = nxt
    flat: list[Any] = []
    for item in current:
        flat.extend(item if isinstance(item, list) else [item])
    return flat
