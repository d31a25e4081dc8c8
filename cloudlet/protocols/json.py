"""The ``json`` protocol (awsJson 1.0 and 1.1), and the JSON pieces rest-json reuses.

Requests name their operation in ``X-Amz-Target: {targetPrefix}.{Op}`` and
carry the input structure as a JSON document; responses are the output
structure as JSON, errors ``{"__type": "ns#Code", "message": ...}`` (plus the
``x-amzn-query-error`` header for awsQueryCompatible services such as SQS).
Values are converted by the cached per-shape closures of ``converters.py``,
so a request costs about one ``loads`` and a response one ``dumps``.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from cloudlet.core.errors import ServiceError, UnknownOperation
from cloudlet.protocols import coral
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.converters import (
    JSON_CONVERTERS,
    BadValue,
    MissingMember,
    Reader,
    ShapeConverters,
    Writer,
)
from cloudlet.protocols.eventstream import encode_event_stream, encode_message
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.values import epoch_seconds, to_datetime

__all__ = [
    "JsonCodec",
    "dumps",
    "error_document",
    "event_body",
    "load_body",
    "loads",
    "missing_error",
    "query_error_header",
]

# --------------------------------------------------------------------------- JSON text


def _json_default(value: Any) -> Any:
    """Safety net for values a writer did not convert (a plain shape holding one)."""
    if isinstance(value, datetime):
        return epoch_seconds(to_datetime(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """JSON bytes for ``value``: orjson, or the stdlib for what orjson refuses (a
    ``NonFinite`` float, which only the stdlib writes as a bare token)."""
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTS)
    except TypeError:
        return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """Parse a JSON body; ``ValueError`` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            # Nested past 1,024 levels: no AWS document is, and the stdlib would only
            # recurse into it until RecursionError.
            raise ValueError("the JSON text is nested too deeply") from None
        # orjson is stricter than AWS services (NaN literals); give the
        # stdlib the final word, but not on text that is no Unicode.
        return _no_lone_surrogates(json.loads(data))


def _no_lone_surrogates(doc: Any) -> Any:
    """``doc``, unless a string of it holds a lone UTF-16 surrogate (``"\\ud800"``):
    JSON that escapes one names no Unicode character, and nothing downstream (UTF-8
    keys, sizes, digests) can encode it, so it is refused as invalid JSON."""
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the JSON text holds a lone UTF-16 surrogate") from None
    return doc


def dumps_std(value: Any) -> bytes:
    """JSON bytes with bare ``NaN``/``Infinity`` tokens for non-finite floats."""
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def load_body(body: bytes, error_code: str = "SerializationException") -> Any:
    """The parsed JSON body (``{}`` when empty); invalid JSON is a 400."""
    if not body or body.isspace():
        return {}
    try:
        return loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError(error_code, "Request body is not valid JSON", 400) from exc


# --------------------------------------------------------------------------- errors


def missing_error(
    operation: OperationModel, member: str, path: Sequence[str] | None = None
) -> ServiceError:
    """The error AWS answers for an absent required member (``path``: where it
    sits in the input, ``MissingMember.path``; a top-level member without)."""
    if operation.service_model.is_query_compatible:
        return ServiceError(
            "ValidationException",
            f"The request must contain the parameter {member}.",
            400,
            query_code="MissingParameter",
        )
    where = ".".join(path) if path else member[:1].lower() + member[1:]
    return ServiceError(
        "ValidationException",
        f"1 validation error detected: Value null at '{where}' "
        "failed to satisfy constraint: Member must not be null",
        400,
    )


def error_shape(service: ServiceModel, code: str) -> Shape | None:
    """The modelled exception shape named ``code`` (cached per service)."""
    cache = JSON_CONVERTERS.cache(service)
    key = ("error-shape", code)
    if key not in cache:
        shape = None
        if code in service.shape_names:
            s = service.shape_for(code)
            if s.type_name == "structure" and s.metadata.get("exception"):
                shape = s
        cache[key] = shape
    return cache[key]


def query_error_header(service: ServiceModel, error: ServiceError) -> tuple[str, str] | None:
    """``x-amzn-query-error`` for awsQueryCompatible services: the legacy query code."""
    if not service.is_query_compatible:
        return None
    code = error.query_code
    if code is None:
        shape = error_shape(service, error.code)
        if shape is not None:
            code = shape.metadata.get("error", {}).get("code")
    fault = "Sender" if error.sender_fault else "Receiver"
    return ("x-amzn-query-error", f"{code or error.code};{fault}")


_NAMESPACES = {"dynamodb": "com.amazonaws.dynamodb.v20120810"}
"""Namespaces recorded from real answers where AWS's differ from the default."""
_FRAMEWORK = {
    "ValidationException": "com.amazon.coral.validate",
    "SerializationException": "com.amazon.coral.service",
    "UnknownOperationException": "com.amazon.coral.service",
    "UnrecognizedClientException": "com.amazon.coral.service",
    "InvalidSignatureException": "com.amazon.coral.service",
    "MissingAuthenticationTokenException": "com.amazon.coral.service",
    "IncompleteSignatureException": "com.amazon.coral.service",
    "ExpiredTokenException": "com.amazon.coral.service",
}
"""Where those services' framework errors live (not under the service's namespace)."""


def error_type(service: ServiceModel, code: str) -> str:
    """``__type`` of ``code``: ``namespace#Code`` (clients keep only what follows)."""
    meta = service.metadata
    prefix = meta.get("endpointPrefix") or meta.get("targetPrefix") or "cloudlet"
    namespace = _NAMESPACES.get(prefix)
    if namespace is None:
        namespace = f"com.amazonaws.{prefix}"
    else:
        namespace = _FRAMEWORK.get(code, namespace)
    return f"{namespace}#{code}"


def error_document(
    service: ServiceModel,
    error: ServiceError,
    converters: ShapeConverters,
    *,
    type_value: str | None,
    body_members: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """``{"__type": ..., "message": ..., <modelled fields>}`` for ``error``.

    The message goes under the shape's own message member name when it has
    one (``Message``), else ``message``.
    """
    doc: dict[str, Any] = {}
    if type_value is not None:
        doc["__type"] = type_value
    shape = error_shape(service, error.code)
    message_key = "message"
    if shape is not None:
        for name, member in shape.members.items():
            if name.lower() == "message":
                message_key = converters.wire_name(name, member)
        if error.fields:
            if body_members is not None:
                conv = converters.writer(service, shape, only=body_members)
            else:
                conv = converters.writer(service, shape)
            fields = conv(error.fields) if conv is not None else error.fields
            for k, v in fields.items():
                if v is not None:
                    doc[k] = v
    if error.message or message_key not in doc:
        doc[message_key] = error.message
    return doc


# --------------------------------------------------------------------------- codec

# rest-json writes non-finite floats as strings. For awsJson botocore's parser
# leaves such strings as str, but turns the bare tokens NaN/Infinity (which
# Python's json module reads and writes) into floats, so awsJson responses use
# the bare tokens: every client cloudlet serves is Python. Only the stdlib writes
# them, so awsJson marks a non-finite float (``NonFinite``) and its body falls
# back from orjson to the stdlib when, and only when, one is present. DynamoDB's
# scalars are read as its Java front end reads them (``coral``).
AWS_JSON_CONVERTERS = ShapeConverters(float_words=False, scalars=coral.scalar_readers)

_CRC32_PREFIXES = frozenset({"dynamodb", "streams.dynamodb"})


def sends_crc32(service: ServiceModel) -> bool:
    """Whether ``service`` answers with ``x-amz-crc32``, the CRC32 of the body as a
    decimal: DynamoDB and DynamoDB Streams do on every answer, and the SDKs that
    check it (botocore, the JavaScript v2, Go and Java SDKs) retry or fail when it
    does not match (their integrity check only runs when the header is there)."""
    return service.metadata.get("endpointPrefix") in _CRC32_PREFIXES


class _OpPlan:
    """What serving one operation needs, looked up once per request."""

    __slots__ = ("reader", "writer", "content_type", "event_stream", "crc32", "coral")

    def __init__(self, codec: JsonCodec, operation: OperationModel) -> None:
        service = operation.service_model
        conv = codec.converters
        inp, out = operation.input_shape, operation.output_shape
        self.reader: Reader | None = conv.reader(service, inp) if inp is not None else None
        self.writer: Writer | None = conv.writer(service, out) if out is not None else None
        self.content_type = codec.content_type(service)
        self.crc32 = sends_crc32(service)
        self.coral = coral.speaks_coral(service)
        self.event_stream: str | None = out.event_stream_name if out is not None else None
        if self.event_stream is not None:
            rest = tuple(n for n in out.members if n != self.event_stream)
            self.writer = conv.writer(service, out, only=rest)


class JsonCodec:
    """awsJson 1.0/1.1: ``X-Amz-Target`` names the operation, bodies are JSON."""

    protocol = "json"

    def __init__(self) -> None:
        self.converters = AWS_JSON_CONVERTERS
        self._plans = PlanCache(lambda operation: _OpPlan(self, operation))

    def _plan(self, operation: OperationModel) -> _OpPlan:
        return self._plans.get(operation)

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        target = req.headers.get("x-amz-target", "")
        if req.method != "POST":
            raise UnknownOperation(
                "UnknownOperationException",
                f"{req.method} is not allowed: JSON protocol operations are called with POST",
                400,
            )
        prefix, _, name = target.rpartition(".")
        expected = service.metadata.get("targetPrefix")
        if name and (expected is None or prefix == expected):
            op = _operations(service).get(name)
            if op is not None:
                return op
        # DynamoDB's framework names nothing (``coral``).
        text = (
            ""
            if coral.speaks_coral(service)
            else f"Operation {target or '(no X-Amz-Target)'} is not supported."
        )
        raise UnknownOperation("UnknownOperationException", text, 400)

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        plan = self._plan(operation)
        try:
            # DynamoDB reads no body (or no JSON) as nothing to name (``coral``).
            data = load_body(req.body) if req.body or not plan.coral else None
        except ServiceError:
            if not plan.coral:
                raise
            data = None
        if data is None and plan.coral:
            raise ServiceError("SerializationException", "", 400)
        reader = plan.reader
        if reader is None:
            return {}
        if type(data) is not dict:
            raise ServiceError("SerializationException", "Request body must be a JSON object", 400)
        try:
            return reader(data)
        except BadValue as exc:
            text = coral.message(exc) if plan.coral else str(exc)
            raise ServiceError("SerializationException", text, 400) from exc
        except MissingMember as exc:
            raise missing_error(operation, exc.member, exc.path) from exc

    def content_type(self, service: ServiceModel) -> str:
        return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        plan = self._plan(operation)
        if plan.event_stream is not None and result:
            return self._serialize_event_stream(operation, plan, result, request_id)
        if not result:
            body = b"{}"
        else:
            writer = plan.writer
            value = result if writer is None else writer(result)
            # A non-finite float reaches ``dumps`` as a ``NonFinite``: orjson refuses
            # it and the stdlib writes the whole body with bare NaN/Infinity tokens.
            body = dumps(value)
        headers = [("Content-Type", plan.content_type), ("x-amzn-RequestId", request_id)]
        if plan.crc32:
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        return HttpResponse(200, headers, body)

    def _serialize_event_stream(
        self, operation: OperationModel, plan: _OpPlan, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        """An ``initial-response`` event with the other members, then the events."""
        assert plan.event_stream is not None and plan.writer is not None
        initial = encode_message(
            [
                (":message-type", "string", "event"),
                (":event-type", "string", "initial-response"),
                (":content-type", "string", plan.content_type),
            ],
            dumps_std(plan.writer(result)),
        )
        stream_shape = operation.output_shape.members[plan.event_stream]
        events = encode_event_stream(
            stream_shape,
            result.get(plan.event_stream) or [],
            event_body(self.converters, operation.service_model),
            "application/json",
        )
        headers = [
            ("Content-Type", "application/vnd.amazon.eventstream"),
            ("x-amzn-RequestId", request_id),
        ]
        if isinstance(events, bytes):
            return HttpResponse(200, headers, initial + events)
        return HttpResponse(200, headers, _prepend(initial, events))

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
        if coral.speaks_coral(service):
            _coral_message(doc, error)
        headers = [
            ("Content-Type", self.content_type(service)),
            ("x-amzn-RequestId", request_id),
        ]
        qe = query_error_header(service, error)
        if qe is not None:
            headers.append(qe)
        headers.extend(error.headers.items())
        # Modelled fields may hold non-finite floats, which only the stdlib writes.
        body = dumps_std(doc) if error.fields else dumps(doc)
        if sends_crc32(service):
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        return HttpResponse(error.status, headers, body)


def _coral_message(doc: dict[str, Any], error: ServiceError) -> None:
    """DynamoDB's framework keys some messages ``Message`` and sends none it has not got."""
    text = doc.pop("message", None)
    if text:
        doc[coral.MESSAGE_KEYS.get(error.code, "message")] = text


def event_body(
    converters: ShapeConverters, service: ServiceModel
) -> Callable[[Shape, Any, str], bytes]:
    """The body encoder ``eventstream.encode_event_stream`` wants, for JSON events."""

    def body(shape: Shape, value: Any, _name: str) -> bytes:
        writer = converters.writer(service, shape)
        return dumps_std(value if writer is None else writer(value))

    return body


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:  # however sending ends (a client gone, the server stopping): end the source now
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()


def operation_map(service: ServiceModel) -> dict[str, OperationModel]:
    """Every operation of ``service`` by name."""
    return {n: service.operation_model(n) for n in service.operation_names}


_operations = PlanCache(operation_map).get
