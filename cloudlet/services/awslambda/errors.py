"""Lambda's errors with AWS's codes, statuses and wording, raised by meaning."""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.core.model_constraints import violations


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 404, fields={"Type": "User"})


def function_not_found(arn: str) -> ServiceError:
    return not_found(f"Function not found: {arn}")


def resource_not_found() -> ServiceError:
    return not_found("The resource you requested does not exist.")


def conflict(message: str) -> ServiceError:
    return ServiceError("ResourceConflictException", message, 409, fields={"Type": "User"})


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400, fields={"Type": "User"})


def too_many_requests(reason: str, message: str = "Rate Exceeded.") -> ServiceError:
    return ServiceError(
        "TooManyRequestsException",
        message,
        429,
        fields={"Type": "User", "Reason": reason},
        headers={"Retry-After": "1"},
    )


def request_too_large(size: int, limit: int, kind: str) -> ServiceError:
    return ServiceError(
        "RequestTooLargeException",
        f"{size} byte payload is too large for the {kind} invocation type (limit {limit} bytes)",
        413,
        fields={"Type": "User"},
    )


def invalid_request_content(message: str) -> ServiceError:
    return ServiceError("InvalidRequestContentException", message, 400, fields={"Type": "User"})


def precondition_failed(message: str) -> ServiceError:
    return ServiceError("PreconditionFailedException", message, 412, fields={"Type": "User"})


def provisioned_not_found() -> ServiceError:
    return ServiceError(
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
        404,
        fields={"Type": "User"},
    )


def validation(message: str) -> ServiceError:
    """A request outside the model's constraints (an enum value, a pattern)."""
    return ServiceError("ValidationException", message, 400)


def check_model(operation: str, params: dict[str, Any]) -> None:
    """``ValidationException`` for every constraint of ``operation``'s input (patterns,
    enums, lengths, ranges) that ``params`` breaks, in AWS's words
    (``core.model_constraints``)."""
    broken = violations("lambda", operation, params)
    if broken:
        noun = "error" if len(broken) == 1 else "errors"
        texts = "; ".join(text for _path, text in broken)
        raise validation(f"{len(broken)} validation {noun} detected: {texts}")


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDeniedException", message, 403)


def policy_too_long(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "PolicyLengthExceededException",
        f"The final policy size ({size}) is bigger than the limit ({limit}).",
        400,
        fields={"Type": "User"},
    )


def recursive_invocation() -> ServiceError:
    return ServiceError(
        "RecursiveInvocationException",
        "Lambda has detected your function being invoked in a recursive loop with other AWS "
        "resources and stopped your function's invocation.",
        400,
        fields={"Type": "User"},
    )


def invalid_runtime(message: str) -> ServiceError:
    return ServiceError("InvalidRuntimeException", message, 502, fields={"Type": "User"})


def snap_start_not_ready() -> ServiceError:
    """A SnapStart version invoked while its snapshot is being made."""
    return ServiceError(
        "SnapStartNotReadyException",
        "Lambda is initializing your function. It will be ready to invoke once your function "
        "state becomes ACTIVE.",
        409,
        fields={"Type": "User"},
    )


def snap_start_failed() -> ServiceError:
    """An after-restore runtime hook failed in a restored execution environment."""
    return ServiceError(
        "SnapStartException",
        "The afterRestore() runtime hook encountered an error. For more information, check "
        "the Amazon CloudWatch logs.",
        400,
        fields={"Type": "User"},
    )


def snap_start_timeout() -> ServiceError:
    """A restore (runtime load and after-restore hooks) past its 10 seconds."""
    return ServiceError(
        "SnapStartTimeoutException",
        "Lambda couldn't restore the snapshot within the timeout limit.",
        408,
        fields={"Type": "User"},
    )


def not_active(state: str) -> ServiceError:
    """An operation on a function (version) that is not Active."""
    return conflict(
        "The operation cannot be performed at this time. The function is currently in the "
        f"following state: {state}"
    )
