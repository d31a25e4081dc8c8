"""Firehose's errors in AWS's words, raised by meaning so handlers never spell codes.

Firehose speaks JSON 1.1; every modelled error is a 400 with a ``message``. The texts
of the not-found and already-exists errors are AWS's ("Firehose x under account 1 not
found."); the others are judgement calls that name what is wrong. What cloudlet does
not deliver (other destinations and sources, format conversion, Secrets Manager
credentials) answers 501 ``NotImplemented`` naming what it does deliver, as unbuilt
operations do.
"""

from __future__ import annotations

from cloudlet.core.errors import NotImplementedOperation, ServiceError

DELIVERS = "cloudlet delivers to Amazon S3, HTTP endpoints and Splunk"


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def not_found(name: str, account: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException", f"Firehose {name} under account {account} not found.", 400
    )


def exists(name: str, account: str) -> ServiceError:
    return ServiceError(
        "ResourceInUseException",
        f"Firehose {name} under accountId {account} already exists",
        400,
    )


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 400)


def not_active(name: str, account: str, status: str) -> ServiceError:
    return in_use(f"Firehose {name} under account {account} is in {status} state, not ACTIVE.")


def inactive(name: str, account: str, status: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"Firehose {name} under account {account} is in {status} state, not ACTIVE.",
        400,
    )


def limit(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def concurrent(message: str) -> ServiceError:
    return ServiceError("ConcurrentModificationException", message, 400)


def not_built(what: str) -> NotImplementedOperation:
    """A 501 for a feature cloudlet does not have (``what`` names it and what is)."""
    return NotImplementedOperation("firehose", what)


def invalid_source() -> ServiceError:
    """A client's put to a stream that decompresses CloudWatch Logs records."""
    return ServiceError(
        "InvalidSourceException",
        "Only requests from CloudWatch Logs are supported when CloudWatch Logs "
        "decompression is enabled.",
        400,
    )
