"""The contract between the gateway and the wire-protocol codecs.

A codec turns an ``HttpRequest`` into ``(operation, params)`` using a botocore
``ServiceModel`` and turns a result dict (or a ``ServiceError``) back into an
``HttpResponse``. Codecs know nothing of services, auth or state: they are
pure functions of the model and the bytes, which is what lets the conformance
suite drive them without a server.

Values inside params and results are real Python types: ``int``/``float``/
``bool``/``str``, ``bytes`` for blobs, timezone-aware ``datetime`` for
timestamps, ``Decimal`` never (botocore's shapes have no decimal type),
``list``/``dict`` for lists, maps and structures. A streaming blob payload is
passed as an ``AsyncIterable[bytes]`` (request) or may be returned as one
(response).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from botocore.model import OperationModel, ServiceModel

from cloudlet.core.errors import ServiceError


def encoded_word(text: str) -> str:
    """``text`` as an RFC 2047 encoded word (``=?UTF-8?B?...?=``): how S3 sends a header
    value that is not ASCII, and how any value no header can carry goes out."""
    try:
        data = text.encode("utf-8", "surrogateescape")  # a stored key's undecodable bytes
    except UnicodeEncodeError:  # other lone surrogates (from JSON) have no bytes at all
        data = text.encode("utf-8", "replace")
    return f"=?UTF-8?B?{base64.b64encode(data).decode()}?="


@dataclass(slots=True)
class HttpRequest:
    """One HTTP request as the codecs see it.

    ``path`` is the raw (still percent-encoded) path; ``query`` the raw query
    string without ``?``. ``headers`` has lower-cased names; repeated headers
    are joined with ``,`` as HTTP allows. ``raw_headers`` keeps the original
    pairs for signature checks. ``body`` is the whole body when the gateway
    buffered it; ``stream`` is set instead when the operation streams its
    payload and the body has not been read. ``signed_path`` keeps the path as
    the client sent (and signed) it when the gateway rewrote ``path`` (S3's
    virtual-hosted style: ``bucket.s3.localhost/key`` routes as ``/bucket/key``).
    """

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    stream: AsyncIterable[bytes] | None = None
    signed_path: str | None = None
    client: str | None = None
    """The peer's address (what ``aws:SourceIp`` is), when the server knows it."""
    _query_params: dict[str, list[str]] | None = None

    @property
    def query_params(self) -> dict[str, list[str]]:
        """Decoded query string, every value of every key, in order."""
        if self._query_params is None:
            out: dict[str, list[str]] = {}
            if not self.query:
                self._query_params = out
                return out
            for k, v in parse_qsl(self.query, keep_blank_values=True):
                out.setdefault(k, []).append(v)
            self._query_params = out
        return self._query_params

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterable[bytes] = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None


class Codec(Protocol):
    """One wire protocol (``query``, ``ec2``, ``json``, ``rest-json``, ...)."""

    protocol: str

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        """The operation the request names.

        Raises ``UnknownOperation`` (with the protocol's own code, e.g.
        ``InvalidAction`` for query) when the model has no such operation.
        """
        ...

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        """Params for the operation's input shape, in real Python types.

        Malformed input raises a ``ServiceError`` with the protocol's error
        code for it (``SerializationException``, ``MalformedQueryString``,
        ``InvalidParameterValue`` ...) and a 4xx status.
        """
        ...

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        """The success response for ``result`` (a dict shaped by the output shape)."""
        ...

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        """The protocol's error document for ``error``."""
        ...
