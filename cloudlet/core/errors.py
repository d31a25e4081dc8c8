"""Typed AWS errors: the one exception tree every layer raises.

A handler or engine raises ``ServiceError`` (or a subclass named after the AWS
error code); the gateway hands it to the codec of the protocol the request
arrived in, which renders the protocol's own error document. Nothing else is
allowed to escape as a 500 or a traceback: unexpected exceptions are mapped to
``InternalFailure`` at exactly one boundary (the gateway).

Tree::

    ServiceError(code, message, status)      any AWS error
      ├─ ValidationError                      400 ValidationException / ValidationError
      ├─ NotImplementedOperation              501 NotImplemented (known op, not built)
      ├─ UnknownOperation                     400 protocol's unknown-operation code
      └─ InternalFailure                      500 (only from the gateway boundary)
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An AWS error with its wire code, message and HTTP status.

    ``code`` is the error shape name when the error is modelled (e.g.
    ``QueueDoesNotExist``), else AWS's literal code. ``query_code`` is the
    legacy awsQuery code for query-compatible services (e.g.
    ``AWS.SimpleQueueService.NonExistentQueue``): codecs send it as the code in
    the query protocol and in the ``x-amzn-query-error`` header elsewhere.
    ``fields`` carries modelled members of the error shape beyond the message.
    """

    code: str = "InternalFailure"
    status: int = 400

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        status: int | None = None,
        *,
        sender_fault: bool | None = None,
        query_code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.message = message
        self.sender_fault = self.status < 500 if sender_fault is None else sender_fault
        self.query_code = query_code
        self.fields = fields or {}
        self.headers = headers or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.status})"


class ValidationError(ServiceError):
    code = "ValidationException"
    status = 400


class NotImplementedOperation(ServiceError):
    """A known operation of a known service that cloudlet has not built yet."""

    code = "NotImplemented"
    status = 501

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            message=f"{operation} of {service} is not implemented in cloudlet yet",
            sender_fault=False,
        )


class UnknownOperation(ServiceError):
    """The request names an operation the service model does not have.

    Codecs override ``code`` with their protocol's own name for it.
    """

    code = "UnknownOperationException"
    status = 400


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500
