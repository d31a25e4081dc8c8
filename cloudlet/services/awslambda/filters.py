"""Event filtering of an event source mapping (``FilterCriteria``): which records reach
the function.

Why it is built this way: the filter language is EventBridge's event patterns, the one
SNS filter policies speak too, so patterns compile with ``cloudlet.core.event_patterns``
and only Lambda's rules live here (the developer guide's "Control which events Lambda
sends to your function"):

- up to five filters, ORed: a record is delivered when any pattern matches it;
- each pattern is a JSON object of at most 4,096 characters, checked when the mapping
  is created or updated;
- an SQS record is matched with its ``body`` parsed when it is JSON (a body that is not
  can still be matched as a plain string); DynamoDB stream records are matched as the
  function receives them (``eventName``, ``dynamodb.NewImage`` ...);
- a Kinesis record is matched with its ``data`` decoded and parsed when it is JSON, at
  the top level (``{"data": {...}}``, as AWS documents) and under ``kinesis``, beside the
  record's metadata (``partitionKey`` ...), which patterns may name at either level.

What happens to records no filter matches is the poller's (``mappings.py``): SQS messages
are deleted, as AWS deletes them; stream records are passed over.

The refusal texts are not on record: judgement calls, each naming what is wrong.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cloudlet.core.event_patterns import Node, PatternError, body_values, compile_node, match_node
from cloudlet.services.awslambda import errors

MAX_FILTERS = 5
MAX_PATTERN = 4096


@dataclass
class Filters:
    """A mapping's compiled patterns; ``matches(record)``."""

    patterns: list[Node]
    sqs: bool
    kinesis: bool = False

    def matches(self, record: dict[str, Any]) -> bool:
        doc = record
        if self.sqs:
            try:
                doc = {**record, "body": json.loads(record["body"])}
            except (TypeError, ValueError):
                doc = record
        elif self.kinesis:
            doc = _kinesis_view(record)
        return any(match_node(p, lambda path: body_values(doc, path)) for p in self.patterns)


def check(criteria: Any) -> list[dict[str, str]]:
    """The ``Filters`` of a FilterCriteria, each pattern valid; raises
    InvalidParameterValueException naming what is not."""
    if not isinstance(criteria, dict):
        raise errors.invalid("FilterCriteria must be an object with a Filters list")
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
        raise errors.invalid('FilterCriteria.Filters must be a list of {"Pattern": ...} objects')
    if len(filters) > MAX_FILTERS:
        raise errors.invalid(
            f"The number of filters in FilterCriteria ({len(filters)}) exceeds the limit of "
            f"{MAX_FILTERS}"
        )
    for entry in filters:
        _compile(entry.get("Pattern"))
    return [{"Pattern": entry["Pattern"]} for entry in filters]


def compile_filters(
    criteria: dict[str, Any] | None, *, sqs: bool, kinesis: bool = False
) -> Filters | None:
    """The compiled filters of a mapping's stored FilterCriteria (None: every record)."""
    filters = (criteria or {}).get("Filters") or []
    if not filters:
        return None
    return Filters([_compile(f["Pattern"]) for f in filters], sqs, kinesis)


def _kinesis_view(record: dict[str, Any]) -> dict[str, Any]:
    """A Kinesis record as patterns see it: ``data`` decoded (parsed when JSON) both at
    the top level and under ``kinesis``, with the ``kinesis`` metadata beside it."""
    meta = dict(record.get("kinesis") or {})
    data: Any = meta.get("data")
    try:
        text = base64.b64decode(data or "").decode()
        try:
            data = json.loads(text)
        except ValueError:
            data = text
    except (ValueError, UnicodeDecodeError):
        pass
    meta["data"] = data
    return {**meta, **record, "data": data, "kinesis": meta}


def _compile(pattern: Any) -> Node:
    if not isinstance(pattern, str) or not pattern:
        raise errors.invalid("Invalid filter pattern definition: a Pattern is required")
    if len(pattern) > MAX_PATTERN:
        raise errors.invalid(
            f"Invalid filter pattern definition: longer than {MAX_PATTERN} characters"
        )
    try:
        doc = json.loads(pattern)
    except ValueError:
        raise errors.invalid(
            f"Invalid filter pattern definition: not valid JSON: {pattern}"
        ) from None
    if not isinstance(doc, dict):
        raise errors.invalid("Invalid filter pattern definition: a pattern is a JSON object")
    try:
        return compile_node(doc)
    except PatternError as exc:
        raise errors.invalid(f"Invalid filter pattern definition: {exc}") from None
