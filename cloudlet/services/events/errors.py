"""EventBridge's errors, with the codes and wording AWS answers.

EventBridge speaks json 1.1 only, so each error is its modelled shape name; every
one a client causes is a 400, ``ResourceNotFoundException`` included. Handlers
raise by meaning through these helpers, never by string.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def constraint(value: Any, member: str, rule: str) -> ServiceError:
    """The framework's "1 validation error detected" for a member breaking its model."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 400)


def bus_not_found(name: str) -> ServiceError:
    return not_found(f"Event bus {name} does not exist.")


def rule_not_found(name: str, bus: str) -> ServiceError:
    return not_found(f"Rule {name} does not exist on EventBus {bus}.")


def already_exists(message: str) -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", message, 400)


def bad_pattern(reason: str) -> ServiceError:
    return ServiceError(
        "InvalidEventPatternException", f"Event pattern is not valid. Reason: {reason}", 400
    )


def limit_exceeded(
    message: str = "The requested resource exceeds the maximum number allowed.",
) -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def bad_schedule() -> ServiceError:
    return validation("Parameter ScheduleExpression is not valid.")


def bad_token() -> ServiceError:
    return validation("The NextToken provided is not valid.")


def illegal_status(replay: str) -> ServiceError:
    return ServiceError(
        "IllegalStatusException",
        f"Replay {replay} is not in a valid state for this operation.",
        400,
    )
