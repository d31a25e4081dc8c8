"""Subscription filter policies: validated and compiled once, matched per message.

A policy is compiled when a subscription's ``FilterPolicy`` is set (AWS
validates it then, with its ``InvalidParameter`` wording and complexity
limits: at most 5 keys and 150 value combinations per expanded ``$or``
branch set) and kept with the subscription, so a Publish only evaluates.

Two scopes, as AWS: ``MessageAttributes`` (keys are attribute names, values
of type String, Number, String.Array; Binary attributes only count for
``exists``) and ``MessageBody`` (keys are paths into the JSON message, nested
objects, arrays of values match when any element matches). Every operator
SNS documents: exact string/number/boolean/null, ``prefix``, ``suffix``,
``equals-ignore-case``, ``anything-but`` (values, ``prefix``, ``suffix``),
``numeric`` ranges, ``exists``, ``cidr`` and ``$or``.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.sns import errors

MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_SIZE = 256 * 1024
_ABSENT = object()
Cond = Callable[[Any], bool]


def _bad(message: str) -> Exception:
    return errors.invalid_parameter(f"FilterPolicy: {message}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num_eq(a: float, b: float) -> bool:
    return round(float(a), 5) == round(float(b), 5)


@dataclass
class _Key:
    path: tuple[str, ...]
    conditions: list[Cond]
    exists: bool | None = None
    """``{"exists": true/false}`` as the key's only condition."""


@dataclass
class _Node:
    keys: list[_Key] = field(default_factory=list)
    ors: list[list[_Node]] = field(default_factory=list)


@dataclass
class FilterPolicy:
    """A compiled policy; ``matches(attributes, message)``."""

    root: _Node
    scope: str

    def matches(self, attributes: dict[str, dict[str, Any]], message: str) -> bool:
        if self.scope == "MessageBody":
            try:
                body = json.loads(message)
            except ValueError:
                return False
            if not isinstance(body, dict):
                return False
            return _match_node(self.root, lambda path: _body_values(body, path))
        return _match_node(self.root, lambda path: _attribute_values(attributes, path[0]))


def compile_policy(text: str, scope: str = "MessageAttributes") -> FilterPolicy:
    """Validate and compile ``text``; raises ``InvalidParameter`` as AWS does."""
    if len(text.encode()) > MAX_SIZE:
        raise _bad("Filter policy is too large")
    try:
        doc = json.loads(text)
    except ValueError:
        raise _bad("failed to parse JSON.") from None
    if not isinstance(doc, dict):
        raise _bad("Filter policy must be a JSON object")
    root = _compile_node(doc, (), scope)
    total = 0
    for keys, combos in _expand(root):
        if keys > MAX_KEYS:
            raise _bad("Filter policy can not have more than 5 keys")
        total += combos
    if total > MAX_COMBINATIONS:
        raise _bad("Filter policy is too complex")
    return FilterPolicy(root, scope)


# -- compiling -----------------------------------------------------------------------


def _compile_node(doc: dict[str, Any], prefix: tuple[str, ...], scope: str) -> _Node:
    node = _Node()
    for name, value in doc.items():
        if name == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _bad("Value of $or must be an array of at least 2 objects")
            branches = []
            for branch in value:
                if not isinstance(branch, dict):
                    raise _bad("Value of $or must be an array of objects")
                branches.append(_compile_node(branch, prefix, scope))
            node.ors.append(branches)
        elif isinstance(value, dict):
            if scope != "MessageBody":
                raise errors.invalid_parameter(
                    "Filter policy scope MessageAttributes does not support nested filter policy"
                )
            inner = _compile_node(value, (*prefix, name), scope)
            node.keys.extend(inner.keys)
            node.ors.extend(inner.ors)
        elif isinstance(value, list):
            node.keys.append(_compile_key((*prefix, name), value))
        else:
            raise _bad(f'"{name}" must be an object or an array')
    return node


def _compile_key(path: tuple[str, ...], values: list[Any]) -> _Key:
    if not values:
        raise _bad("Empty arrays are not allowed")
    key = _Key(path, [])
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
                key.conditions.append(_operator(op, arg))
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


def _operator(op: str, arg: Any) -> Cond:
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
        return _anything_but(arg)
    if op == "numeric":
        return _numeric(arg)
    if op == "cidr":
        return _cidr(arg)
    raise _bad(f"Unrecognized match type {op}")


def _anything_but(arg: Any) -> Cond:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise _bad("Only one key allowed in match expression")
        [(op, inner)] = arg.items()
        if op not in ("prefix", "suffix"):
            raise _bad(f"Unsupported anything-but pattern: {op}")
        positive = _operator(op, inner)
        return lambda v: isinstance(v, str) and not positive(v)
    values = arg if isinstance(arg, list) else [arg]
    if not values or any(isinstance(x, dict | list | bool) or x is None for x in values):
        raise _bad("Value of anything-but must be an array or single string/number value.")
    excluded = [_literal(x) for x in values]
    return lambda v: not any(c(v) for c in excluded)


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


def _expand(node: _Node) -> list[tuple[int, int]]:
    """(keys, value combinations) of every ``$or``-free policy the node stands for."""
    keys = len(node.keys)
    combos = math.prod(len(k.conditions) for k in node.keys) if node.keys else 1
    out = [(keys, combos)]
    for branches in node.ors:
        options = [e for b in branches for e in _expand(b)]
        out = [(k + bk, c * bc) for k, c in out for bk, bc in options]
    return out


# -- matching ------------------------------------------------------------------------


def _match_node(node: _Node, values: Callable[[tuple[str, ...]], Any]) -> bool:
    for key in node.keys:
        found = values(key.path)
        if key.exists is not None and len(key.conditions) == 1:
            if (found is not _ABSENT) != key.exists:
                return False
            continue
        if found is _ABSENT:
            return False
        if not any(cond(v) for v in found for cond in key.conditions):
            return False
    return all(any(_match_node(b, values) for b in branches) for branches in node.ors)


def _attribute_values(attributes: dict[str, dict[str, Any]], name: str) -> Any:
    attr = attributes.get(name)
    if attr is None:
        return _ABSENT
    kind, value = attr.get("Type", "String"), attr.get("Value")
    if kind == "Number":
        try:
            return [float(value)]
        except (TypeError, ValueError):
            return []
    if kind == "String.Array":
        try:
            items = json.loads(value)
        except (TypeError, ValueError):
            return [value]
        return items if isinstance(items, list) else [items]
    if kind == "Binary":
        return []
    return [value]


def _body_values(body: Any, path: tuple[str, ...]) -> Any:
    current = [body]
    for part in path:
        nxt: list[Any] = []
        for item in current:
            for obj in item if isinstance(item, list) else [item]:
                if isinstance(obj, dict) and part in obj:
                    nxt.append(obj[part])
        if not nxt:
            return _ABSENT
        current = nxt
    flat: list[Any] = []
    for item in current:
        flat.extend(item if isinstance(item, list) else [item])
    return flat
