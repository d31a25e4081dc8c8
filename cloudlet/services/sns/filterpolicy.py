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

import json
from dataclasses import dataclass
from typing import Any

from cloudlet.core.event_patterns import (
    ABSENT,
    Node,
    PatternError,
    body_values,
    compile_node,
    expand,
    match_node,
)
from cloudlet.services.sns import errors

MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_SIZE = 256 * 1024


def _bad(message: str) -> Exception:
    return errors.invalid_parameter(f"FilterPolicy: {message}")


@dataclass
class FilterPolicy:
    """A compiled policy; ``matches(attributes, message)``."""

    root: Node
    scope: str

    def matches(self, attributes: dict[str, dict[str, Any]], message: str) -> bool:
        if self.scope == "MessageBody":
            try:
                body = json.loads(message)
            except ValueError:
                return False
            if not isinstance(body, dict):
                return False
            return match_node(self.root, lambda path: body_values(body, path))
        return match_node(self.root, lambda path: _attribute_values(attributes, path[0]))


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
    try:
        root = compile_node(doc, (), None if scope == "MessageBody" else _nested)
    except PatternError as exc:
        raise _bad(str(exc)) from None
    total = 0
    for keys, combos in expand(root):
        if keys > MAX_KEYS:
            raise _bad("Filter policy can not have more than 5 keys")
        total += combos
    if total > MAX_COMBINATIONS:
        raise _bad("Filter policy is too complex")
    return FilterPolicy(root, scope)


def _nested() -> Exception:
    return errors.invalid_parameter(
        "Filter policy scope MessageAttributes does not support nested filter policy"
    )


def _attribute_values(attributes: dict[str, dict[str, Any]], name: str) -> Any:
    attr = attributes.get(name)
    if attr is None:
        return ABSENT
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
