"""CloudWatch Logs' errors with AWS's codes and wording, in one place.

Logs speaks json 1.1 only, so each error has just its shape name.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


def group_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log group does not exist.", 400)


def stream_not_found() -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException", "The specified log stream does not exist.", 400
    )


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 400)


def group_exists() -> ServiceError:
    return ServiceError(
        "ResourceAlreadyExistsException", "The specified log group already exists", 400
    )


def stream_exists() -> ServiceError:
    return ServiceError(
        "ResourceAlreadyExistsException", "The specified log stream already exists", 400
    )


def limit_exceeded(message: str = "Resource limit exceeded.") -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def malformed_query(message: str) -> ServiceError:
    return ServiceError("MalformedQueryException", message, 400)


def constraint(value: object, member: str, rule: str) -> ServiceError:
    return invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDeniedException", message, 400)


def destination_not_found() -> ServiceError:
    return not_found("The specified destination does not exist.")


def kinesis_unreachable() -> ServiceError:
    """PutSubscriptionFilter's (and PutDestination's) answer when the test message cannot
    be written to the Kinesis stream: AWS's text, as CloudFormation and Terraform users
    quote it (``kinesis`` lower-case in the second sentence)."""
    return invalid(
        "Could not deliver test message to specified Kinesis stream. Check if the given "
        "kinesis stream is in ACTIVE state."
    )
