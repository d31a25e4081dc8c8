"""One pipe execution's log records, in the shape and at the levels AWS gives them.

Why a record per step: the user guide's "Log EventBridge Pipes" has a pipe execution
(one batch through enrichment and target) emit a record for each step it performs:
``ExecutionStarted``, ``EnrichmentStageEntered``, ``TargetInvocationFailed`` ... Each
step has its level: failures are ERROR (so they show at every level but OFF), stage
boundaries and the execution's start and end are INFO, transformation and invocation
steps and polling are TRACE. A record carries ``executionId``, ``timestamp`` (epoch
milliseconds), ``messageType``, ``resourceArn``, ``logLevel`` (the step's level) and,
for failures, ``error`` (``httpStatusCode``, ``message``, ``details``, ``awsService``,
``requestId``); with ``IncludeExecutionData: [ALL]`` also ``payload``, ``awsRequest`` and
``awsResponse`` as JSON text, cut to fit a 256 KB record with the cut ones named in
``truncatedFields`` (the log schema reference).

The records of an execution are gathered here and shipped together once the execution
is over (``logship.py``), so logging never slows the pipe or makes it fail.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudlet.services.pipes.targets import Call

Doc = dict[str, Any]

LEVELS = ("OFF", "ERROR", "INFO", "TRACE")
ERROR_STEPS = {
    "ExecutionFailed",
    "ExecutionPartiallyFailed",
    "ExecutionThrottled",
    "ExecutionTimeout",
    "PollingStageFailed",
    "EnrichmentStageFailed",
    "EnrichmentTransformationFailed",
    "EnrichmentInvocationFailed",
    "TargetStageFailed",
    "TargetStagePartiallyFailed",
    "TargetTransformationFailed",
    "TargetInvocationFailed",
    "TargetInvocationPartiallyFailed",
}
INFO_STEPS = {
    "ExecutionStarted",
    "ExecutionSucceeded",
    "EnrichmentStageEntered",
    "EnrichmentStageSucceeded",
    "TargetStageEntered",
    "TargetStageSucceeded",
    "TargetStageSkipped",
}
"""Every other step (``PollingStageSucceeded``, ``*TransformationStarted`` and
``*Succeeded``, ``*InvocationStarted`` and ``*Succeeded``) is TRACE."""
DATA_FIELDS = ("payload", "awsRequest", "awsResponse")
RECORD_LIMIT = 256 * 1024 - 26
"""The largest record: a CloudWatch Logs event (256 KB less its 26 bytes overhead)."""


def step_level(step: str) -> str:
    if step in ERROR_STEPS:
        return "ERROR"
    return "INFO" if step in INFO_STEPS else "TRACE"


def json_text(value: Any) -> str:
    """Execution data as the records carry it: JSON text (bytes decoded)."""
    return json.dumps(value, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value.hex()
    if hasattr(value, "read"):
        return _plain(value.read())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class Execution:
    """The records of one pipe execution, kept when the pipe's Level shows them."""

    def __init__(self, pipe_arn: str, config: Doc) -> None:
        self.id = str(uuid.uuid4())
        self.arn = pipe_arn
        level = config.get("Level") or "OFF"
        self.level = LEVELS.index(level) if level in LEVELS else 0
        self.data = "ALL" in (config.get("IncludeExecutionData") or [])
        self.records: list[Doc] = []

    @property
    def enabled(self) -> bool:
        return self.level > 0

    def step(self, message_type: str, *, error: Doc | None = None, **data: Any) -> None:
        """Record ``message_type``; ``data``: payload, awsRequest, awsResponse."""
        level = step_level(message_type)
        if not self.enabled or LEVELS.index(level) > self.level:
            return
        record: Doc = {
            "executionId": self.id,
            "timestamp": int(time.time() * 1000),
            "messageType": message_type,
            "resourceArn": self.arn,
            "logLevel": level,
        }
        if self.data:
            for key in DATA_FIELDS:
                if key in data and data[key] is not None:
                    value = data[key]
                    record[key] = value if isinstance(value, str) else json_text(value)
        if error is not None:
            record["error"] = error
        self.records.append(_fitted(record))


def _fitted(record: Doc) -> Doc:
    """``record`` cut to RECORD_LIMIT bytes of JSON, its execution data shortened
    (largest first) and named in ``truncatedFields``."""
    size = len(json_text(record).encode())
    if size <= RECORD_LIMIT:
        return record
    cut: list[str] = []
    for key in sorted(
        (k for k in DATA_FIELDS if k in record), key=lambda k: -len(record[k].encode())
    ):
        over = size - RECORD_LIMIT + len('"truncatedFields":[],') + 32 * (len(cut) + 1)
        text: str = record[key]
        encoded = text.encode()
        keep = max(0, len(encoded) - over * 2)
        record[key] = encoded[:keep].decode(errors="ignore")
        cut.append(key)
        record["truncatedFields"] = list(cut)
        size = len(json_text(record).encode())
        if size <= RECORD_LIMIT:
            break
    return record


def failure(
    service: str, message: str, status: int = 400, details: str = "", request_id: str = ""
) -> Doc:
    """A record's ``error`` member."""
    return {
        "httpStatusCode": status,
        "message": message,
        "details": details,
        "awsService": service,
        "requestId": request_id or str(uuid.uuid4()),
    }


def exchange(calls: list[Call]) -> Doc:
    """``awsRequest`` and ``awsResponse`` for the calls of an invocation step: the
    call's request and answer (its error's code and message when it failed), a list
    of them when the step took several calls."""
    made = [c for c in calls if c.operation != "CreateLogStream"]
    if not made:
        return {}
    requests = [{"service": c.service, "operation": c.operation, **c.params} for c in made]
    responses = [
        c.result
        if c.error is None
        else {"errorCode": c.error.code, "errorMessage": c.error.message}
        for c in made
    ]
    if len(made) == 1:
        return {"awsRequest": json_text(requests[0]), "awsResponse": json_text(responses[0])}
    return {"awsRequest": json_text(requests), "awsResponse": json_text(responses)}


def call_error(calls: list[Call], service: str, message: str) -> Doc:
    """The ``error`` of a failed invocation step: the last refused call's, else a
    function error's, else ``message`` (a batch answer naming failed entries)."""
    for call in reversed(calls):
        if call.error is not None:
            return failure(
                call.service,
                call.error.message or call.error.code,
                call.error.status,
                details=call.error.code,
            )
    for call in reversed(calls):
        result = call.result or {}
        if result.get("FunctionError"):
            return failure(
                "lambda",
                f"Function returned an error: {result['FunctionError']}",
                int(result.get("StatusCode") or 200),
                details=_plain(result.get("Payload") or b""),
            )
    return failure(service, message)
