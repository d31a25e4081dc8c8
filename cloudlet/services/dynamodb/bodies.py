"""What DynamoDB does with a request body before it reads it as JSON.

Why: some SDKs gzip their requests (the SDKs' request compression feature), and
DynamoDB takes them: a body with ``Content-Encoding: gzip`` is inflated (every member
of a multi-member stream, as gzip allows) after the signature, made over the body as
sent, has been checked. DynamoDB answers 500 ``InternalServerError`` to any other
encoding and to a body that is not gzip after all, and writes nothing (ScyllaDB
Alternator's ``test_compressed_request.py``, run against DynamoDB, records both).

A request over 16 MiB, the largest DynamoDB takes, is refused 413 before it is
parsed (Alternator's ``test_too_large_request_*``), inflated or not.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpRequest
from cloudlet.protocols.gzip_body import NotGzip, TooLarge, gunzip

MAX_REQUEST_BYTES = 16 * 1024 * 1024


def _too_large() -> ServiceError:
    return ServiceError(
        "RequestEntityTooLarge", "Request must be smaller than 16777216 bytes.", 413
    )


def _undecodable() -> ServiceError:
    return ServiceError(
        "InternalServerError",
        "The request processing has failed because of an unknown error, exception or failure.",
        500,
    )


def request_body(req: HttpRequest) -> bytes:
    """``req``'s body as JSON text: inflated when gzip, refused past 16 MiB."""
    body = req.body
    if len(body) > MAX_REQUEST_BYTES:
        raise _too_large()
    encoding = req.headers.get("content-encoding", "").strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding != "gzip" or not body:
        raise _undecodable()
    try:
        return gunzip(body, MAX_REQUEST_BYTES)
    except NotGzip:
        raise _undecodable() from None
    except TooLarge:
        raise _too_large() from None
