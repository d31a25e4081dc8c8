"""The ``rest-xml`` protocol (S3, Route 53, CloudFront): REST bindings, XML bodies.

Routing and the label/query/header bindings come from ``rest.py`` (shared
with rest-json); this module adds the XML body both ways, raw and streaming
payloads, and the two error documents botocore's ``RestXMLParser`` accepts:
S3's bare ``<Error>`` (with ``RequestId``/``HostId``) and everyone else's
``<ErrorResponse><Error>``.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from cloudlet.core.errors import ServiceError
from cloudlet.protocols import rest
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.eventstream import encode_event_stream, is_event_stream
from cloudlet.protocols.query import XML_DECL, error_code_for, error_fields, modelled_error
from cloudlet.protocols.xml import (
    BadValue,
    MissingValue,
    escape_text,
    ns_attrs,
    parse_document,
    shape_reader,
    shape_writer,
)

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
S3_DECL = XML_DECL + "\n"
"""S3 ends its XML declaration with a line break, and a client may depend on it: the
JavaScript SDK v2 reads GetBucketLocation's answer with ``/>(.+)<\\/Location/``,
which on one line takes the declaration's ``>`` into the region."""
S3_SCHEMA_MESSAGE = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


_S3_TEXT_HEADERS = frozenset(("expires",))
"""Request headers S3 keeps as sent: ``Expires`` is stored and returned verbatim, a date
or not (S3 answered ``Expires: 5d``, which is why the SDKs added ``ExpiresString``)."""


def _is_s3(service: ServiceModel) -> bool:
    return service.metadata.get("serviceId") == "S3"


def _namespace(service: ServiceModel) -> str:
    ns = service.metadata.get("xmlNamespace")
    if isinstance(ns, dict):
        ns = ns.get("uri")
    if ns:
        return ns
    if _is_s3(service):
        return S3_NAMESPACE
    prefix = service.metadata.get("endpointPrefix", "service")
    return f"https://{prefix}.amazonaws.com/doc/{service.metadata.get('apiVersion', '')}/"


S3_EMPTY_BODY = ("MissingRequestBodyError", "Request Body is empty", 400)
"""S3's answer to a configuration PUT (or DeleteObjects) sent without its document
(moto's AWS-verified ``test_put_object_lock_misconfiguration``; AWS's error list)."""

# The root element S3 names its response documents with. The model leaves
# it out (botocore ignores the root's name), but SAX-style clients (boto 2)
# match on it, so answer as S3 does.
_S3_ROOTS = {
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListObjectsV2Output": "ListBucketResult",
    "ListObjectVersionsOutput": "ListVersionsResult",
    "DeleteObjectsOutput": "DeleteResult",
    "GetBucketVersioningOutput": "VersioningConfiguration",
    "GetObjectAttributesOutput": "GetObjectAttributesResponse",
    "CreateMultipartUploadOutput": "InitiateMultipartUploadResult",
    "CompleteMultipartUploadOutput": "CompleteMultipartUploadResult",
    "ListPartsOutput": "ListPartsResult",
    "ListMultipartUploadsOutput": "ListMultipartUploadsResult",
    "GetBucketAclOutput": "AccessControlPolicy",
    "GetObjectAclOutput": "AccessControlPolicy",
    "GetBucketTaggingOutput": "Tagging",
    "GetObjectTaggingOutput": "Tagging",
    "GetBucketCorsOutput": "CORSConfiguration",
    "GetBucketLifecycleConfigurationOutput": "LifecycleConfiguration",
    "GetBucketWebsiteOutput": "WebsiteConfiguration",
    "GetBucketLoggingOutput": "BucketLoggingStatus",
    "GetBucketRequestPaymentOutput": "RequestPaymentConfiguration",
    "GetBucketAccelerateConfigurationOutput": "AccelerateConfiguration",
}


def _is_async_iterable(value: Any) -> bool:
    return hasattr(value, "__aiter__")


class RestXmlCodec:
    """The ``rest-xml`` protocol, generic over service models."""

    protocol = "rest-xml"

    # -- requests

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        if _is_s3(service):
            return rest.find_operation(req, service, code="MethodNotAllowed", status=405)
        return rest.find_operation(req, service, code="UnknownOperationException", status=404)

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        s3 = _is_s3(operation.service_model)
        if s3:
            params = rest.bind_request(
                req, operation, error_code="InvalidArgument", text_headers=_S3_TEXT_HEADERS
            )
        else:
            params = rest.bind_request(req, operation, error_code="InvalidInput")
        plan = rest.rest_plan(shape)
        if plan.query_map is not None and plan.query:
            self._drop_named_from_map(plan, params)
        try:
            if plan.payload is not None:
                self._parse_payload(req, plan, params)
            elif plan.has_body_members and req.body.strip():
                params.update(shape_reader(shape).read(parse_document(req.body)))
        except BadValue as exc:
            raise ServiceError("MalformedXML" if s3 else "MalformedInput", str(exc), 400) from None
        except MissingValue as exc:
            if s3:  # S3 names no element: its one schema message (LocalStack's AWS captures)
                raise ServiceError("MalformedXML", S3_SCHEMA_MESSAGE, 400) from None
            raise ServiceError(
                "InvalidInput",
                f"The XML you provided did not contain the required element {exc}",
                400,
            ) from None
        for name in plan.required:
            if name not in params:
                if s3 and name == plan.payload and not plan.payload_raw:
                    raise ServiceError(*S3_EMPTY_BODY)
                raise ServiceError(
                    "InvalidRequest" if s3 else "InvalidInput",
                    f"Missing required parameter {name}",
                    400,
                )
        return params

    @staticmethod
    def _drop_named_from_map(plan: rest.RestPlan, params: dict) -> None:
        # A query key bound to a named member is that member's, not the map's
        # (what rest-xml clients mean when they send both).
        bound = params.get(plan.query_map[0])
        if bound:
            for _, wire, _ in plan.query:
                bound.pop(wire, None)
            if not bound:
                del params[plan.query_map[0]]

    def _parse_payload(self, req: HttpRequest, plan: rest.RestPlan, params: dict) -> None:
        name, member = plan.payload, plan.payload_shape
        if plan.payload_raw:
            if req.stream is not None:  # the gateway streams every blob payload
                params[name] = req.stream
            elif req.body:
                if member.type_name == "blob":
                    params[name] = bytes(req.body)
                else:
                    try:
                        params[name] = req.body.decode("utf-8")
                    except UnicodeDecodeError:
                        raise BadValue("The payload is not valid UTF-8") from None
            return
        if member is not None and member.type_name == "structure" and req.body.strip():
            root = parse_document(req.body)
            expected = member.serialization.get("name") or name
            if root.tag.rpartition("}")[2] != expected:
                # Another document than the operation's (AWS: MalformedXML), which
                # must not be read as if it were, e.g. a <Foo> deleting objects.
                raise BadValue(f"The XML document's root element must be {expected}")
            params[name] = shape_reader(member).read(root)

    # -- responses

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        result = result or {}
        shape = operation.output_shape
        headers = rest.response_headers(shape, result)
        status = rest.response_status(operation, result)
        body: Any = b""
        content_type = None
        if shape is not None:
            plan = rest.rest_plan(shape)
            if plan.payload is not None:
                body, content_type = self._payload_body(
                    plan, result.get(plan.payload), _is_s3(operation.service_model)
                )
            elif operation.name == "GetBucketLocation" and _is_s3(operation.service_model):
                # Not expressible in the model: the document's root element is the
                # value (botocore's parse_get_bucket_location reads root.text).
                value = escape_text(result.get("LocationConstraint") or "")
                body = f'{S3_DECL}<LocationConstraint xmlns="{S3_NAMESPACE}">{value}</LocationConstraint>'
                body, content_type = body.encode("utf-8"), "application/xml"
            else:
                s3 = _is_s3(operation.service_model)
                writer = shape_writer(shape, millis=s3)
                # S3 answers an operation whose output has a body with its root element
                # even when nothing is set (GetBucketVersioning of a never-versioned
                # bucket: <VersioningConfiguration/>; a quiet DeleteObjects that failed
                # nowhere: <DeleteResult/>): XML readers expect the document (minio-py
                # and OpenDAL parse a quiet DeleteObjects' answer whatever it holds).
                if writer.has_body(result) or (s3 and writer.fields):
                    tag = shape.serialization.get("name") or shape.name
                    if s3:
                        tag = _S3_ROOTS.get(tag, tag)
                    ns = ns_attrs(shape.serialization) or (
                        f' xmlns="{escape_text(_namespace(operation.service_model))}"'
                    )
                    out = [S3_DECL if s3 else XML_DECL]
                    writer.write(out, f"<{tag}{ns}", f"</{tag}>", result)
                    body = "".join(out).encode("utf-8")
                    content_type = "application/xml"
                elif s3 and operation.name == "HeadBucket":
                    content_type = "application/xml"  # as S3's (moto's AWS-verified test)
        extra = result.get(rest.HTTP_HEADERS)
        if extra:
            headers.extend(extra.items())
        names = {k.lower() for k, _ in headers}
        if content_type and "content-type" not in names:
            headers.append(("Content-Type", content_type))
        headers.extend(self._id_headers(operation.service_model, request_id))
        return HttpResponse(status, headers, body)

    def _payload_body(
        self, plan: rest.RestPlan, value: Any, s3: bool = False
    ) -> tuple[Any, str | None]:
        member = plan.payload_shape
        if value is None or member is None:
            return b"", None
        if is_event_stream(member):
            return encode_event_stream(
                member, value, _event_xml
            ), "application/vnd.amazon.eventstream"
        if plan.payload_raw:
            if _is_async_iterable(value):
                return value, None
            if isinstance(value, str):
                return value.encode("utf-8"), "text/plain"
            return bytes(value), "application/octet-stream"
        tag = member.serialization.get("name") or member.name
        out = [S3_DECL if s3 else XML_DECL]
        shape_writer(member, millis=s3).write(
            out, f"<{tag}{ns_attrs(member.serialization)}", f"</{tag}>", value
        )
        return "".join(out).encode("utf-8"), "application/xml"

    def _id_headers(self, service: ServiceModel, request_id: str) -> list[tuple[str, str]]:
        if _is_s3(service):
            return [("x-amz-request-id", request_id), ("x-amz-id-2", request_id)]
        return [("x-amzn-RequestId", request_id)]

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        code = escape_text(error_code_for(service, error))
        message = escape_text(error.message)
        rid = escape_text(request_id)
        fields = error_fields(service, error)
        if _is_s3(service):
            body = (
                f"{S3_DECL}<Error><Code>{code}</Code><Message>{message}</Message>{fields}"
                f"<RequestId>{rid}</RequestId><HostId>{rid}</HostId></Error>"
            )
        else:
            kind = "Sender" if error.sender_fault else "Receiver"
            body = (
                f'{XML_DECL}<ErrorResponse xmlns="{escape_text(_namespace(service))}">'
                f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
                f"{fields}</Error><RequestId>{rid}</RequestId></ErrorResponse>"
            )
        headers: list[tuple[str, str]] = []
        hit = modelled_error(service, error.code)
        if hit is not None and error.fields:
            headers.extend(rest.response_headers(hit.shape, error.fields))
        headers.extend(error.headers.items())
        headers.extend(self._id_headers(service, request_id))
        if error.status == 304 or (
            operation is not None and operation.http.get("method", "").upper() == "HEAD"
        ):
            # HEAD and 304 responses carry no body; clients fall back to the status.
            return HttpResponse(error.status, headers, b"")
        headers.append(("Content-Type", "application/xml"))
        return HttpResponse(error.status, headers, body.encode("utf-8"))


def _event_xml(shape: Any, value: dict, tag: str) -> bytes:
    out: list[str] = []
    shape_writer(shape).write(out, f"<{tag}", f"</{tag}>", value)
    return "".join(out).encode("utf-8")
