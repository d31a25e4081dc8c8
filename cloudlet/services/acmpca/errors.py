"""AWS Private CA's errors by meaning, so handlers never spell codes.

Every Private CA error is a 400 of the JSON protocol whose code is the error shape's
name; the texts follow AWS's where its documentation gives them.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def error(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, 400)


def not_found(arn: str) -> ServiceError:
    return error("ResourceNotFoundException", f"Could not find resource {arn}.")


def bad_arn(arn: str) -> ServiceError:
    return error("InvalidArnException", f"The ARN {arn} is not valid.")


def bad_state(arn: str, status: str, action: str) -> ServiceError:
    return error(
        "InvalidStateException",
        f"The certificate authority {arn} is in the {status} state; it cannot {action}.",
    )


def args(message: str) -> ServiceError:
    return error("InvalidArgsException", message)
