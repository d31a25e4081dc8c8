"""What CreateFunction and UpdateFunctionConfiguration refuse before they change anything.

AWS's checks on a function's configuration (runtime, role, handler, memory, timeout,
ephemeral storage, reserved environment variables, dead-letter target), with its
wording, apart from the operations that apply them (``functions.py``).
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.services.awslambda import errors

RUNTIMES = {
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "provided.al2",
    "provided.al2023",
    "provided",
}
_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")


class ValidationMixin:
    """The checks of ``FunctionsMixin`` (a mixin of ``LambdaService``)."""

    def _validate(self, ctx: Any, params: dict[str, Any], creating: bool) -> None:
        runtime = params.get("Runtime")
        if runtime is not None and runtime not in RUNTIMES:
            raise errors.invalid(
                f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
                f"{sorted(RUNTIMES)} or be a valid ARN"
            )
        if creating and runtime is None:
            raise errors.invalid("Runtime is required for .zip deployment packages.")
        if creating and runtime and runtime.startswith("python") and not params.get("Handler"):
            raise errors.invalid("Handler is required for .zip deployment packages.")
        role = params.get("Role")
        if role is not None and not _ROLE.match(role):
            raise errors.invalid(
                f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
            )
        _check_range(params.get("MemorySize"), "memorySize", 128, 10240)
        _check_range(params.get("Timeout"), "timeout", 1, 900)
        storage = (params.get("EphemeralStorage") or {}).get("Size")
        if storage is not None and not 512 <= storage <= 10240:
            raise errors.invalid(
                f"1 validation error detected: Value '{storage}' at 'ephemeralStorage.size' failed to satisfy constraint"
            )
        env = (params.get("Environment") or {}).get("Variables") or {}
        for key in env:
            if key in _RESERVED_ENV:
                raise errors.invalid(
                    f"Lambda was unable to configure your environment variables because the environment variables you have "
                    f"provided contains reserved keys that are currently not supported for modification. Reserved keys used "
                    f"in this request: {key}"
                )
        dlq = (params.get("DeadLetterConfig") or {}).get("TargetArn")
        if dlq and not (dlq.startswith("arn:aws:sqs:") or dlq.startswith("arn:aws:sns:")):
            raise errors.invalid(
                f"The provided target ARN {dlq} is invalid: only SQS and SNS are supported."
            )


_RESERVED_ENV = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
}


def _check_range(value: int | None, member: str, low: int, high: int) -> None:
    """AWS's validation error for a number outside ``[low, high]``."""
    if value is None or low <= value <= high:
        return
    bound = f"less than or equal to {high}" if value > high else f"greater than or equal to {low}"
    raise errors.invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must have value {bound}"
    )
