"""A pipe's ``FilterCriteria``: which of its source's records go on.

Why it is built this way: Pipes filters "work in the same way as filtering on an
EventBridge event bus or Lambda event source mapping", so patterns compile with the
shared ``cloudlet.core.event_patterns`` (EventBridge's operators, ``wildcard``
included) and only Pipes' rules live here (the user guide's "Amazon EventBridge Pipes
filtering"):

- up to five patterns (the model's limit, checked with the others), ORed;
- each pattern a JSON object of at most 4,096 characters, checked at CreatePipe and
  UpdatePipe;
- records are matched as ``records.view`` shows them (an SQS body or Kinesis data that
  is JSON, parsed), without the fields the poller adds (``eventSource``,
  ``eventSourceARN``, ``awsRegion`` ..., ``records.POLLER_FIELDS``), which the guide
  says patterns cannot use.

What happens to records no pattern matches is the reader's: SQS messages are deleted,
stream records passed over.
"""

from __future__ import annotations

import json
from typing import Any

from cloudlet.core.event_patterns import Node, PatternError, body_values, compile_node, match_node
from cloudlet.services.pipes import errors
from cloudlet.services.pipes.records import POLLER_FIELDS, view

FIELD = "sourceParameters.filterCriteria.filters"


def check(criteria: Any) -> None:
    """Refuse a FilterCriteria with a pattern that is not a valid event pattern."""
    for n, entry in enumerate((criteria or {}).get("Filters") or [], 1):
        _compile(entry.get("Pattern"), f"{FIELD}.{n}.member.pattern")


def compile_filters(criteria: Any) -> list[Node] | None:
    """The compiled patterns of a stored FilterCriteria (None: every record goes on)."""
    filters = (criteria or {}).get("Filters") or []
    if not filters:
        return None
    return [_compile(f.get("Pattern"), FIELD) for f in filters]


def matches(patterns: list[Node] | None, record: dict[str, Any]) -> bool:
    if patterns is None:
        return True
    added = POLLER_FIELDS.get(record.get("eventSource", ""), frozenset())
    seen = {k: v for k, v in view(record).items() if k not in added}
    return any(match_node(p, lambda path: body_values(seen, path)) for p in patterns)


def _compile(pattern: Any, field: str) -> Node:
    if not isinstance(pattern, str) or not pattern:
        raise errors.invalid_field(
            field, "Invalid filter pattern definition: a Pattern is required"
        )
    try:
        doc = json.loads(pattern)
    except ValueError:
        raise errors.invalid_field(
            field, f"Invalid filter pattern definition: not valid JSON: {pattern}"
        ) from None
    if not isinstance(doc, dict):
        raise errors.invalid_field(
            field, "Invalid filter pattern definition: a pattern is a JSON object"
        )
    try:
        return compile_node(doc, extended=True)
    except PatternError as exc:
        raise errors.invalid_field(field, f"Invalid filter pattern definition: {exc}") from None
