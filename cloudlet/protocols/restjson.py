"""The ``rest-json`` protocol: REST bindings (rest.py) with JSON bodies.

The operation comes from the method and URI template; members live in the
path, query string, headers and a JSON body, or the whole body is one
``payload`` member (raw bytes/text for blobs and strings, JSON for a
structure or document). Errors carry their code in ``x-amzn-ErrorType`` and
in the body's ``__type``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from botocore.model import OperationModel, ServiceModel

from cloudlet.core.errors import ServiceError
from cloudlet.protocols import rest
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.converters import JSON_CONVERTERS, BadValue, MissingMember
from cloudlet.protocols.eventstream import encode_event_stream, is_event_stream
from cloudlet.protocols.json import (
    dumps,
    error_document,
    error_shape,
    event_body,
    load_body,
    missing_error,
    query_error_header,
)


class RestJsonCodec:
    """rest-json: URI-template routing, HTTP bindings, JSON bodies."""

    protocol = "rest-json"

    def __init__(self) -> None:
        self.converters = JSON_CONVERTERS

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        return rest.find_operation(req, service)

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        service = operation.service_model
        params = rest.bind_request(req, operation)
        plan = rest.rest_plan(shape)
        try:
            if plan.payload is not None:
                self._parse_payload(req, operation, plan, params)
            elif plan.has_body_members:
                data = load_body(req.body)
                if type(data) is not dict:
                    raise ServiceError(
                        "SerializationException", "Request body must be a JSON object", 400
                    )
                body = self.converters.reader(service, shape, only=plan.body_members)(data)
                params.update(body)
        except BadValue as exc:
            raise ServiceError("SerializationException", str(exc), 400) from exc
        except MissingMember as exc:
            raise missing_error(operation, exc.member, exc.path) from exc
        for name in plan.required:
            if name not in params:
                raise missing_error(operation, name)
        return params

    def _parse_payload(
        self,
        req: HttpRequest,
        operation: OperationModel,
        plan: rest.RestPlan,
        params: dict[str, Any],
    ) -> None:
        name = plan.payload
        member = plan.payload_shape
        assert name is not None and member is not None
        required = name in plan.required
        if plan.payload_raw:
            if req.stream is not None:  # the gateway streams every blob payload
                params[name] = req.stream
            elif req.body or required:
                if member.type_name == "string":
                    params[name] = req.body.decode("utf-8")
                else:
                    params[name] = req.body
            return
        if not req.body:
            return
        data = load_body(req.body)
        if data == {} and member.type_name == "structure" and not required:
            # botocore sends ``{}`` when the payload member is unset.
            return
        params[name] = self.converters.reader(operation.service_model, member)(data)

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        status = rest.response_status(operation, result)
        headers = [("x-amzn-RequestId", request_id)]
        if shape is None:
            return HttpResponse(status, headers, b"")
        everything = rest.all_headers_member(shape)
        if everything is not None and result and result.get(everything):
            headers = []
        headers.extend(rest.response_headers(shape, result))
        plan = rest.rest_plan(shape)
        body: bytes | AsyncIterable[bytes] = b""
        content_type: str | None = None
        if plan.payload is not None:
            value = result.get(plan.payload) if result else None
            if value is not None:
                body, content_type = self._payload_body(operation, plan, value)
        elif plan.has_body_members:
            conv = self.converters.writer(operation.service_model, shape, only=plan.body_members)
            body = dumps(conv(result) if result else {})
            content_type = "application/json"
        if content_type is not None and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        return HttpResponse(status, headers, body)

    def _payload_body(
        self, operation: OperationModel, plan: rest.RestPlan, value: Any
    ) -> tuple[bytes | AsyncIterable[bytes], str]:
        """The body for a payload member: raw bytes/text, a JSON document or events.

        An async iterable (a streamed blob) is returned unread.
        """
        member = plan.payload_shape
        assert member is not None
        if is_event_stream(member):
            events = encode_event_stream(
                member,
                value,
                event_body(self.converters, operation.service_model),
                "application/json",
            )
            return events, "application/vnd.amazon.eventstream"
        if plan.payload_raw:
            if member.type_name == "string":
                text = value.encode("utf-8") if isinstance(value, str) else value
                return text, "text/plain"
            if isinstance(value, bytes | bytearray | memoryview):
                value = bytes(value)
            return value, "application/octet-stream"
        conv = self.converters.writer(operation.service_model, member)
        return dumps(value if conv is None else conv(value)), "application/json"

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        shape = error_shape(service, error.code)
        body_members = None
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
        ]
        if shape is not None:
            plan = rest.rest_plan(shape)
            body_members = plan.body_members
            taken = {k.lower() for k, _ in headers}
            headers.extend(
                (k, v)
                for k, v in rest.response_headers(shape, error.fields)
                if k.lower() not in taken
            )
        qe = query_error_header(service, error)
        if qe is not None:
            headers.append(qe)
        headers.extend(error.headers.items())
        doc = error_document(
            service, error, self.converters, type_value=error.code, body_members=body_members
        )
        return HttpResponse(error.status, headers, dumps(doc))
