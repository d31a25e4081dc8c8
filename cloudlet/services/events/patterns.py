"""EventBridge event patterns: checked and compiled once, matched against each event.

The language is ``cloudlet.core.event_patterns`` (SNS's and Lambda's too) with
EventBridge's extra operators (``extended``: ``wildcard``, case-insensitive
``prefix``/``suffix``, more ``anything-but`` forms). A pattern is matched against the
whole event envelope (``source``, ``detail-type``, ``detail`` ...). A refused one is
``InvalidEventPatternException`` with "Event pattern is not valid. Reason: " and
event-ruler's own words, as AWS answers.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cloudlet.core.event_patterns import Node, PatternError, body_values, compile_node, match_node
from cloudlet.services.events import errors

MAX_LENGTH = 4096


def check_pattern(text: str, member: str = "eventPattern") -> Node:
    """The compiled pattern, or the error AWS answers for ``text``."""
    if len(text) > MAX_LENGTH:
        raise errors.constraint(
            text, member, f"Member must have length less than or equal to {MAX_LENGTH}"
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.bad_pattern(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise errors.bad_pattern("Filter is nested too deeply") from None
    if not isinstance(doc, dict):
        raise errors.bad_pattern("Filter is not an object")
    if _has_empty_object(doc):
        raise errors.bad_pattern("Empty objects are not allowed")
    try:
        return compile_node(doc, extended=True)
    except PatternError as exc:
        raise errors.bad_pattern(str(exc)) from None


def _has_empty_object(doc: dict[str, Any]) -> bool:
    """Whether the pattern, or an object nested in it (not a match expression in an
    array), is ``{}``: event-ruler refuses those ("Empty objects are not allowed")."""
    if not doc:
        return True
    for name, value in doc.items():
        if name == "$or" and isinstance(value, list):
            if any(isinstance(b, dict) and _has_empty_object(b) for b in value):
                return True
        elif isinstance(value, dict) and _has_empty_object(value):
            return True
    return False


@lru_cache(maxsize=1024)
def compiled(text: str) -> Node:
    """A stored (so already checked) pattern, compiled once per process."""
    return check_pattern(text)


def matches(node: Node, event: dict[str, Any]) -> bool:
    return match_node(node, lambda path: body_values(event, path))
