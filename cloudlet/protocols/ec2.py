"""The ``ec2`` protocol: the query protocol with EC2's own names and envelopes.

EC2 clients name form fields by ``queryName``, else the member's
``locationName`` with its first letter upper-cased, and always send lists
flattened (``InstanceId.1``, ``Filter.1.Value.2``), with no ``member``
segment and nothing for an empty list. Responses put members straight under
``<OpResponse>`` next to a ``<requestId>``; errors are
``<Response><Errors><Error>...</Error></Errors><RequestID>``.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpResponse
from cloudlet.protocols.query import (
    XML_DECL,
    FormReader,
    QueryCodec,
    error_code_for,
    error_fields,
)
from cloudlet.protocols.xml import escape_text


class Ec2FormReader(FormReader):
    ec2 = True

    def wire_name(self, member: Any, name: str) -> str:
        ser = member.serialization
        query_name = ser.get("queryName")
        if query_name:
            return query_name
        location = ser.get("name")
        if location:
            return location[0].upper() + location[1:]
        return name


class Ec2Codec(QueryCodec):
    """The ``ec2`` protocol, generic over service models."""

    protocol = "ec2"
    content_type = "text/xml;charset=UTF-8"
    _forms = Ec2FormReader()

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        plan = self._op_plan(operation)
        out = [plan.head, f"<requestId>{escape_text(request_id)}</requestId>"]
        if plan.writer is not None:
            if plan.wrapper:
                out.append(f"<{plan.wrapper}>")
                plan.writer.write_members(out, result or {})
                out.append(f"</{plan.wrapper}>")
            else:
                plan.writer.write_members(out, result or {})
        out.append(plan.tail)
        return HttpResponse(200, self._headers(request_id), "".join(out).encode("utf-8"))

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        code = escape_text(error_code_for(service, error))
        body = (
            f"{XML_DECL}<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{escape_text(error.message)}</Message>"
            f"{error_fields(service, error)}</Error></Errors>"
            f"<RequestID>{escape_text(request_id)}</RequestID></Response>"
        )
        headers = self._headers(request_id)
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, body.encode("utf-8"))
