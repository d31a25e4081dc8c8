"""The ``query`` protocol (SQS, SNS, IAM, STS, CloudWatch, ...): form in, XML out.

A request is a flat set of form fields (POST body or GET query string) whose
dotted names spell the input shape: ``Tags.member.2.Key``,
``Attributes.entry.1.value``, flattened ``Item.3``. We split the names into a
tree once (``build_tree``) and walk it with a per-shape plan, so lookups are
dict hits rather than string scans. ``Ec2Codec`` reuses everything here with
EC2's naming rules and envelopes.

Responses are ``<OpResponse><OpResult>...</OpResult><ResponseMetadata>`` (the
result element only when the output shape names a ``resultWrapper``, as
botocore expects) and errors ``<ErrorResponse><Error>...``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, unquote_plus

from botocore.model import NoShapeFoundError, OperationModel, OperationNotFoundError, ServiceModel

from cloudlet.core.errors import ServiceError, UnknownOperation
from cloudlet.protocols.base import HttpRequest, HttpResponse
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.xml import (
    BadValue,
    MissingValue,
    escape_text,
    scalar_parser,
    shape_writer,
)

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'


# -- form field tree -------------------------------------------------------------


def build_tree(pairs: list[tuple[str, str]]) -> dict:
    """``a.b.1=x`` pairs as nested dicts; a node's own value sits under key ``None``."""
    root: dict = {}
    for key, value in pairs:
        if "." not in key:
            node = root.get(key)
            if node is None:
                node = root[key] = {}
            node[None] = value
            continue
        node = root
        for part in key.split("."):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            node = nxt
        node[None] = value
    return root


def _indexed(node: dict) -> list[tuple[str, dict]]:
    """Children named ``1``, ``2``, ... in numeric order, with their names."""
    items = [(k, v) for k, v in node.items() if k is not None and k.isdigit()]
    items.sort(key=lambda kv: int(kv[0]))
    return items


def _at(exc: BadValue | MissingValue, *segments: str) -> BadValue | MissingValue:
    """Prefix the field path of an error on its way out of a container."""
    exc.path = [*segments, *getattr(exc, "path", ())]
    return exc


class _ScalarF:
    __slots__ = ("parse",)

    def __init__(self, parse: Any) -> None:
        self.parse = parse

    def read(self, node: dict) -> Any:
        text = node.get(None)
        if text is None:
            # boto 2 sends some single values as one-element lists (``InstanceId.1=``),
            # which EC2 accepts.
            only = node.get("1") if len(node) == 1 else None
            text = only.get(None) if isinstance(only, dict) and len(only) == 1 else None
            if text is None:
                raise BadValue("a single value is expected")
        return self.parse(text)


class _StructF:
    __slots__ = ("by_wire", "required")

    def __init__(self) -> None:
        self.by_wire: dict[str, tuple[str, Any]] = {}
        self.required: tuple[tuple[str, str], ...] = ()

    def read(self, node: dict) -> dict:
        out: dict[str, Any] = {}
        by_wire = self.by_wire
        for seg, child in node.items():
            if seg is None:
                continue
            hit = by_wire.get(seg)
            if hit is not None and hit[0] not in out:
                try:
                    out[hit[0]] = hit[1].read(child)
                except (BadValue, MissingValue) as exc:
                    raise _at(exc, seg) from None
        for name, wire in self.required:
            if name not in out:
                raise _at(MissingValue(wire), wire)
        return out


class _ListF:
    __slots__ = ("member_name", "item")

    def read(self, node: dict) -> list:
        items = node
        if self.member_name is not None:
            inner = node.get(self.member_name)
            # Some clients send non-flattened lists flattened; accept both.
            items = inner if inner is not None else node
        read = self.item.read
        out = []
        for index, child in _indexed(items):
            try:
                out.append(read(child))
            except (BadValue, MissingValue) as exc:
                raise _at(exc, *([self.member_name] if items is not node else []), index) from None
        return out


class _MapF:
    __slots__ = ("flattened", "key_name", "val_name", "key", "val")

    def read(self, node: dict) -> dict:
        entries = node
        if not self.flattened:
            entries = node.get("entry", node)
        out = {}
        for index, entry in _indexed(entries):
            knode = entry.get(self.key_name)
            try:
                if knode is None:
                    raise _at(MissingValue(self.key_name), self.key_name)
                k = self.key.read(knode)
                vnode = entry.get(self.val_name)
                out[k] = None if vnode is None else self.val.read(vnode)
            except (BadValue, MissingValue) as exc:
                raise _at(exc, index) from None
        return out


class FormReader:
    """Builds form-reading plans for one naming dialect (query or ec2)."""

    ec2 = False

    def __init__(self) -> None:
        self._plans = PlanCache(self._new)

    def plan(self, shape: Any) -> _StructF:
        return self._plans.get(shape)

    def _new(self, shape: Any) -> _StructF:
        return self._build(shape, {})

    def wire_name(self, member: Any, name: str) -> str:
        """The form field name of a structure member."""
        return member.serialization.get("name") or name

    def _build(self, shape: Any, memo: dict) -> Any:
        t = shape.type_name
        if t == "structure":
            key = (shape.name, repr(sorted(shape.serialization.items())))
            plan = memo.get(key)
            if plan is not None:
                return plan
            plan = memo[key] = _StructF()
            required = set(shape.required_members)
            req = []
            for name, member in shape.members.items():
                wire = self.wire_name(member, name)
                reader = self._build(member, memo)
                plan.by_wire[wire] = (name, reader)
                if not self.ec2 and member.type_name == "list":
                    # A flattened list whose member has a locationName is sent
                    # under that name (botocore); keep the member name too.
                    ser = member.serialization
                    item_name = member.member.serialization.get("name")
                    if ser.get("flattened") and item_name:
                        plan.by_wire.setdefault(item_name, (name, reader))
                if name in required:
                    req.append((name, wire))
            plan.required = tuple(req)
            return plan
        if t == "list":
            plan = _ListF()
            if self.ec2 or shape.serialization.get("flattened"):
                plan.member_name = None
            else:
                plan.member_name = shape.member.serialization.get("name") or "member"
            plan.item = self._build(shape.member, memo)
            return plan
        if t == "map":
            plan = _MapF()
            plan.flattened = bool(shape.serialization.get("flattened"))
            plan.key_name = self.wire_name(shape.key, "key")
            plan.val_name = self.wire_name(shape.value, "value")
            plan.key = self._build(shape.key, memo)
            plan.val = self._build(shape.value, memo)
            return plan
        return _ScalarF(scalar_parser(shape))


# -- request helpers -------------------------------------------------------------


def _form_field(body: bytes, name: bytes) -> str | None:
    """One field of a url-encoded body, found without decoding the whole body."""
    needle = name + b"="
    pos = 0
    while True:
        pos = body.find(needle, pos)
        if pos < 0:
            return None
        if pos == 0 or body[pos - 1] == 0x26:  # '&'
            start = pos + len(needle)
            end = body.find(b"&", start)
            raw = body[start:] if end < 0 else body[start:end]
            return unquote_plus(raw.decode("utf-8", "replace"))
        pos += len(needle)


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unquote(text: str) -> str:
    if _BAD_ESCAPE.search(text):
        raise ServiceError(
            "MalformedQueryString", f"Invalid percent-encoding in {text[:64]!r}", 400
        )
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ServiceError(
            "MalformedQueryString", "Percent-encoded bytes are not valid UTF-8", 400
        ) from None


def _split_form(text: str, pairs: list[tuple[str, str]]) -> None:
    # parse_qsl, minus its generality: most fields need no unquoting at all.
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "+" in key:
            key = key.replace("+", " ")
        if "%" in key:
            key = _unquote(key)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote(value)
        pairs.append((key, value))


def form_pairs(req: HttpRequest, error_code: str) -> list[tuple[str, str]]:
    """Every field of the query string then the form body, in order."""
    pairs: list[tuple[str, str]] = []
    if req.query:
        _split_form(req.query, pairs)
    if req.body:
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(error_code, "The request body is not valid UTF-8", 400) from None
        _split_form(text, pairs)
    return pairs


def request_action(req: HttpRequest) -> str | None:
    action = _form_field(req.body, b"Action") if req.body else None
    if action is None and req.query:
        values = req.query_params.get("Action")
        action = values[0] if values else None
    return action


def error_code_for(service: ServiceModel, error: ServiceError) -> str:
    """The wire code: the legacy query code, else the error shape's code trait."""
    if error.query_code:
        return error.query_code
    hit = modelled_error(service, error.code)
    return hit.code if hit is not None else error.code


class ErrorPlan:
    """A modelled error of a service: its wire code, shape and body writer."""

    __slots__ = ("code", "shape", "writer", "members")

    def __init__(self, code: str, shape: Any) -> None:
        self.code = code
        self.shape = shape
        self.writer = shape_writer(shape)
        self.members = frozenset(shape.members)


_ERRORS: PlanCache = PlanCache(lambda service: {})


def modelled_error(service: ServiceModel, name: str) -> ErrorPlan | None:
    """The plan of error shape ``name`` of ``service``; None if it is not modelled."""
    known = _ERRORS.get(service)
    try:
        return known[name]
    except KeyError:
        pass
    try:
        shape = service.shape_for(name)
    except NoShapeFoundError:
        shape = None
    hit = None
    if shape is not None and shape.metadata.get("exception"):
        hit = ErrorPlan(shape.metadata.get("error", {}).get("code") or name, shape)
    known[name] = hit
    return hit


_SCALARS = (str, int, float, bool)
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def error_fields(service: ServiceModel, error: ServiceError) -> str:
    """The members of an error beyond code and message, as XML elements.

    Modelled members are written by the error shape; fields the shape does not
    model (S3's ``BucketName``, ``Key`` ...) are written as plain elements when
    they are scalars.
    """
    if not error.fields:
        return ""
    hit = modelled_error(service, error.code)
    modelled = hit.members if hit is not None else frozenset()
    fields = {}
    out: list[str] = []
    for k, v in error.fields.items():
        if v is None or k.lower() in ("message", "code", "type", "requestid"):
            continue
        if k in modelled:
            fields[k] = v
        elif isinstance(v, _SCALARS) and _XML_NAME.fullmatch(k):
            text = ("true" if v else "false") if isinstance(v, bool) else str(v)
            out.append(f"<{k}>{escape_text(text)}</{k}>")
    if hit is not None and fields:
        hit.writer.write_members(out, fields)
    return "".join(out)


def service_namespace(service: ServiceModel) -> str:
    ns = service.metadata.get("xmlNamespace")
    if isinstance(ns, dict):
        ns = ns.get("uri")
    if ns:
        return ns
    prefix = service.metadata.get("endpointPrefix", "service")
    return f"https://{prefix}.amazonaws.com/doc/{service.metadata.get('apiVersion', '')}/"


# -- the codec -------------------------------------------------------------------


class _OpPlan:
    __slots__ = ("head", "tail", "wrapper", "writer", "reader")


class QueryCodec:
    """The ``query`` protocol, generic over service models."""

    protocol = "query"
    content_type = "text/xml"
    invalid_value_code = "InvalidParameterValue"
    missing_code = "MissingParameter"
    _forms = FormReader()

    def __init__(self) -> None:
        self._ops = PlanCache(self._build_op_plan)

    # -- requests

    def find_operation(self, req: HttpRequest, service: ServiceModel) -> OperationModel:
        action = request_action(req)
        if not action:
            raise UnknownOperation("MissingAction", "No action was supplied with this request.")
        try:
            return service.operation_model(action)
        except OperationNotFoundError:
            raise UnknownOperation(
                "InvalidAction", f"The action {action} is not valid for this web service."
            ) from None

    def parse(self, req: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        tree = build_tree(form_pairs(req, self.invalid_value_code))
        try:
            return self._forms.plan(shape).read(tree)
        except BadValue as exc:
            field = ".".join(getattr(exc, "path", ()))
            raise ServiceError(
                self.invalid_value_code, f"Invalid value for parameter {field}: {exc}", 400
            ) from None
        except MissingValue as exc:
            field = ".".join(getattr(exc, "path", ())) or str(exc)
            raise ServiceError(
                self.missing_code, f"The request must contain the parameter {field}", 400
            ) from None

    # -- responses

    def _op_plan(self, operation: OperationModel) -> _OpPlan:
        return self._ops.get(operation)

    def _build_op_plan(self, operation: OperationModel) -> _OpPlan:
        plan = _OpPlan()
        name = operation.name
        ns = escape_text(service_namespace(operation.service_model))
        shape = operation.output_shape
        plan.writer = shape_writer(shape) if shape is not None else None
        plan.wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
        plan.head = f'{XML_DECL}<{name}Response xmlns="{ns}">'
        plan.tail = f"</{name}Response>"
        return plan

    def serialize(
        self, operation: OperationModel, result: dict[str, Any], request_id: str
    ) -> HttpResponse:
        plan = self._op_plan(operation)
        out = [plan.head]
        if plan.writer is not None:
            if plan.wrapper:
                out.append(f"<{plan.wrapper}>")
                plan.writer.write_members(out, result or {})
                out.append(f"</{plan.wrapper}>")
            else:
                plan.writer.write_members(out, result or {})
        rid = escape_text(request_id)
        out.append(f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>")
        out.append(plan.tail)
        return HttpResponse(200, self._headers(request_id), "".join(out).encode("utf-8"))

    def _headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("x-amzn-RequestId", request_id)]

    def serialize_error(
        self,
        service: ServiceModel,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        code = escape_text(error_code_for(service, error))
        kind = "Sender" if error.sender_fault else "Receiver"
        body = (
            f'{XML_DECL}<ErrorResponse xmlns="{escape_text(service_namespace(service))}">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code>"
            f"<Message>{escape_text(error.message)}</Message>"
            f"{error_fields(service, error)}</Error>"
            f"<RequestId>{escape_text(request_id)}</RequestId></ErrorResponse>"
        )
        headers = self._headers(request_id)
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, body.encode("utf-8"))
