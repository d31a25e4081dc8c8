"""The ``smithy-rpc-v2-cbor`` protocol (Smithy RPC v2 with CBOR bodies).

Requests go to ``POST /service/{ServiceName}/operation/{Operation}`` with a
``smithy-protocol: rpc-v2-cbor`` header and the input structure as a CBOR
map. CBOR has what JSON lacks, so values travel natively: blobs as byte
strings, timestamps as tag 1 epoch seconds, NaN and the infinities as floats.
Errors are a map with ``__type`` (``namespace#Code``) and ``message``.

The shape walk is ``converters.ShapeConverters`` with CBOR's scalar
rules; ``cbor2`` does the encoding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from cloudlet.core.errors import ServiceError, UnknownOperation
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.converters import BadValue, MissingMember, Reader, ShapeConverters, Writer
from cloudlet.protocols.json import (
    error_document,
    error_type,
    missing_error,
    operation_map,
    query_error_header,
)
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.values import to_datetime

_INTS = ("integer", "long", "short", "byte")
_PREFIX = "/service/"
_CONTENT_TYPE = "application/cbor"


class CborConverters(ShapeConverters):
    """CBOR's scalar rules: native bytes, floats and tag-1 timestamps.

    Members are read by their serialized name (what botocore sends) and
    written under their member name (what botocore's parser looks up).
    """

    def wire_name(self, name: str, member: Shape) -> str:
        return name

    def read_name(self, name: str, member: Shape) -> str:
        return member.serialization.get("name", name)

    def scalar_reader(self, shape: Shape) -> tuple[tuple[type, ...] | None, Reader | None]:
        t = shape.type_name
        if t == "string":
            return (str,), None
        if t in _INTS:
            return (int,), None
        if t == "boolean":
            return (bool,), None
        if t == "blob":
            return (bytes,), None
        if t in ("float", "double"):
            return None, _float_in
        if t == "timestamp":
            return None, _timestamp_in
        return None, _any

    def scalar_writer(self, shape: Shape) -> Writer | None:
        if shape.type_name == "timestamp":
            return _timestamp_out
        return None


def _any(value: Any) -> Any:
    return value


def _float_in(value: Any) -> float:
    t = type(value)
    if t is float:
        return value
    if t is int:
        return float(value)
    raise BadValue(f"Expected a number, got {type(value).__name__}")


def _timestamp_in(value: Any) -> datetime:
    t = type(value)
    if t is datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if t is int or t is float:
        try:
            return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise BadValue(f"Invalid timestamp {value!r}") from exc
    raise BadValue(f"Expected a timestamp, got {type(value).__name__}")


def _timestamp_out(value: Any) -> datetime:
    if type(value) is datetime and value.tzinfo is not None:
        return value
    return to_datetime(value)


CBOR_CONVERTERS = CborConverters()


def _dumps(value: Any) -> bytes:
    return cbor2.dumps(value, datetime_as_timestamp=True, timezone=UTC)


class CborCodec:
    """smithy-rpc-v2-cbor: the path names the operation, bodies are CBOR maps."""

    protocol = "smithy-rpc-v2-cbor"

    def __init__(self) -> None:
        self.converters = CBOR_CONVERTERS
        self._ops = PlanCache(operation_map)

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        path = req.path
        name = None
        if path.startswith(_PREFIX):
            parts = path[len(_PREFIX) :].split("/")
            if len(parts) >= 3 and parts[1] == "operation":
                name = parts[2]
        op = self._ops.get(service).get(name) if name else None
        if op is None:
            raise UnknownOperation(
                "UnknownOperationException", f"No operation matches {req.method} {path}", 404
            )
        return op

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if not req.body:
            data: Any = {}
        else:
            try:
                data = cbor2.loads(req.body)
            except Exception as exc:  # cbor2 raises several types for bad input
                raise ServiceError(
                    "SerializationException", "Request body is not valid CBOR", 400
                ) from exc
        if shape is None:
            return {}
        if type(data) is not dict:
            raise ServiceError("SerializationException", "Request body must be a CBOR map", 400)
        try:
            return self.converters.reader(operation.service_model, shape)(data)
        except BadValue as exc:
            raise ServiceError("SerializationException", str(exc), 400) from exc
        except MissingMember as exc:
            raise missing_error(operation, exc.member, exc.path) from exc

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        value: Any = {}
        if shape is not None and result:
            writer = self.converters.writer(operation.service_model, shape)
            value = result if writer is None else writer(result)
        return HttpResponse(200, self._headers(request_id), _dumps(value))

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        doc = error_document(
            service,
            error,
            self.converters,
            type_value=error_type(service, error.code),
        )
        headers = self._headers(request_id)
        qe = query_error_header(service, error)
        if qe is not None:
            headers.append(qe)
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, _dumps(doc))

    @staticmethod
    def _headers(request_id: str) -> list[tuple[str, str]]:
        return [
            ("Content-Type", _CONTENT_TYPE),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-RequestId", request_id),
        ]
