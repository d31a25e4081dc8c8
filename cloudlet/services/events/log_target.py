"""CloudWatch Logs log group targets: what PutTargets checks and what one event becomes.

EventBridge writes each event it delivers to a log group as one log event, in a log
stream it creates and names after the event's ``id`` (so a retry or a second rule's
delivery of the same event lands in the same stream), with the event's ``time`` as the
log event's timestamp and the target's input (the whole event as compact JSON unless
``Input``, ``InputPath`` or ``InputTransformer`` shape it) as the message.

An ``InputTransformer`` on a log group target must produce a log record: its template is
a JSON object of exactly ``timestamp`` and ``message`` (the EventBridge user guide's
"Transforming target input" example for a CloudWatch log group; AWS refuses other
templates when the target is put, as aws-cdk#19451 found, so PutTargets refuses them
here with a ValidationException in cloudlet's words, AWS's not being published). The
record's ``timestamp`` is ISO 8601 text (``$.time``) or epoch milliseconds and its
``message`` the log text (a string as it is, another value as JSON). Shaped input that
is any other text (``Input``, ``InputPath``) is the message as it is, at the event's
time; a timestamp that does not read as a time gives the event's time too (both
cloudlet's choices: the guide does not say).

EventBridge writes through the log group's resource policy, not a role (the user
guide's "Using resource-based policies": ``logs:CreateLogStream`` and
``logs:PutLogEvents`` for ``events.amazonaws.com``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.events import errors
from cloudlet.services.events.common import event_seconds
from cloudlet.services.events.transform import PLACEHOLDER

LOG_GROUP_ARN = re.compile(
    r"arn:aws[\w-]*:logs:([a-z0-9-]+):([0-9]{12}):log-group:([\.\-_/#A-Za-z0-9]+(:\*)?)"
)
RECORD_KEYS = frozenset(("timestamp", "message"))


def check_log_target(target: dict[str, Any]) -> None:
    """PutTargets' check of a log group target's ``InputTransformer`` template."""
    transformer = target.get("InputTransformer")
    if transformer is None:
        return
    # Placeholders stand for values: any one value makes the template's JSON shape show.
    filled = PLACEHOLDER.sub("0", transformer["InputTemplate"])
    try:
        shape = json.loads(filled)
    except ValueError:
        shape = None
    if not isinstance(shape, dict) or set(shape) != RECORD_KEYS:
        raise errors.validation(
            f"InputTemplate for target {target['Id']} is not valid for a CloudWatch Logs "
            'log group: it must be {"timestamp": <timestamp>, "message": <message>}.'
        )


def log_group_name(arn: str) -> str:
    """The log group a target ARN names (as written, ``:*`` and all)."""
    return arn.split(":log-group:", 1)[1]


def log_record(body: str, event: dict[str, Any]) -> tuple[int, str]:
    """(timestamp in epoch milliseconds, message) of the log event ``body`` makes."""
    at = int(event_seconds(event) * 1000)
    try:
        doc = json.loads(body)
    except ValueError:
        return at, body
    if not isinstance(doc, dict) or set(doc) != RECORD_KEYS:
        return at, body
    message = doc["message"]
    if not isinstance(message, str):
        message = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    stamp = _millis(doc["timestamp"])
    return (at if stamp is None else stamp), message


def _millis(value: Any) -> int | None:
    """Epoch milliseconds of a record's timestamp (ISO 8601 text or a number), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
