"""What the REST protocols (rest-json, rest-xml) share: routing and HTTP bindings.

In the REST protocols an operation is named by its method and URI template
(``GET /{Bucket}/{Key+}?tagging``) and its members live in four places: path
labels, the query string, headers, and the body. Only the body format differs
between rest-json and rest-xml, so everything else lives here and each codec
keeps only its body (de)serializer:

- ``find_operation`` / ``get_router``: the operation for a request, from the
  compiled ``http.requestUri`` templates of a ``ServiceModel`` (cached per
  model).
- ``bind_request``: params from labels, query string and headers.
- ``rest_plan``: where each member of a structure lives (cached per shape),
  including which member is the payload and which go in the body.
- ``response_status`` / ``response_headers``: the status and headers of a
  success response (or a modelled error) from the result dict.
- Scalar helpers for text locations: ``parse_text``, ``format_header``,
  ``split_header_list``.

Values going in and out are real Python types (see ``base.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel, Shape

from cloudlet.core.errors import ServiceError, UnknownOperation
from cloudlet.protocols.base import HttpRequest
from cloudlet.protocols.modelcache import PlanCache
from cloudlet.protocols.values import format_timestamp, parse_timestamp

__all__ = [
    "HTTP_HEADERS",
    "HTTP_STATUS",
    "RestPlan",
    "Router",
    "bind_request",
    "find_operation",
    "format_float_text",
    "format_header",
    "get_router",
    "parse_header",
    "parse_text",
    "path_labels",
    "all_headers_member",
    "response_headers",
    "response_status",
    "rest_plan",
    "split_header_list",
]

_LABEL = re.compile(r"\{([^}]+)\}")
_WEEKDAY = re.compile(r"[A-Za-z]{3}")

# --------------------------------------------------------------------------- routing


@dataclass(slots=True)
class _Route:
    operation: OperationModel
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    query_literals: tuple[tuple[str, str | None], ...]
    specificity: tuple[int, ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]

    def literals_present(self, query: dict[str, list[str]]) -> bool:
        for key, value in self.query_literals:
            got = query.get(key)
            if got is None or (value is not None and value not in got):
                return False
        return True

    def fit(self, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, int]:
        """Tie-break between routes with the same template (S3's ``PUT /{Bucket}/{Key+}``).

        Prefer a route whose required query/header members are all present,
        and among those the one that requires the most.
        """
        n = len(self.required_query) + len(self.required_headers)
        if all(k in query for k in self.required_query) and all(
            h in headers for h in self.required_headers
        ):
            return (1, n)
        return (0, -n)


def _compile_template(uri: str) -> tuple[re.Pattern[str], tuple[str, ...], tuple, tuple]:
    """Regex, label names, literal query pairs and specificity of one requestUri."""
    path, _, query = uri.partition("?")
    literals: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if part:
            key, sep, value = part.partition("=")
            literals.append((unquote(key), unquote(value) if sep else None))
    pattern = []
    labels = []
    pos = 0
    greedy = 0
    for m in _LABEL.finditer(path):
        pattern.append(re.escape(path[pos : m.start()]))
        name = m.group(1)
        if name.endswith("+"):
            labels.append(name[:-1])
            pattern.append("(.+)")
            greedy += 1
        else:
            labels.append(name)
            pattern.append("([^/]+)")
        pos = m.end()
    pattern.append(re.escape(path[pos:]))
    if not path.endswith("/"):
        pattern.append("/?")
    segments = [s for s in path.split("/") if s]
    literal_segments = sum(1 for s in segments if "{" not in s)
    literal_chars = len(_LABEL.sub("", path))
    specificity = (-literal_segments, greedy, -len(literals), len(labels), -literal_chars)
    regex = re.compile("".join(pattern) + r"\Z")
    return regex, tuple(labels), tuple(literals), specificity


def _route_for(operation: OperationModel) -> _Route:
    http = operation.http
    regex, labels, literals, specificity = _compile_template(http.get("requestUri", "/"))
    req_query: list[str] = []
    req_headers: list[str] = []
    shape = operation.input_shape
    if shape is not None:
        members = shape.members
        for name in shape.required_members:
            member = members.get(name)
            if member is None:
                continue
            loc = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if loc == "querystring" and member.type_name != "map":
                req_query.append(wire)
            elif loc == "header":
                req_headers.append(wire.lower())
    return _Route(
        operation,
        regex,
        labels,
        literals,
        specificity,
        tuple(req_query),
        tuple(req_headers),
    )


class Router:
    """The compiled URI templates of one service, by HTTP method.

    Routes are ordered most specific first: more literal path segments, fewer
    greedy labels, more literal query keys, fewer labels. Routes whose
    templates are equally specific (several S3 operations share
    ``PUT /{Bucket}/{Key+}``) are told apart by which required query/header
    members the request carries.
    """

    def __init__(self, service: ServiceModel) -> None:
        self._by_op: dict[str, _Route] = {}
        by_method: dict[str, list[_Route]] = {}
        for name in service.operation_names:
            op = service.operation_model(name)
            route = _route_for(op)
            self._by_op[name] = route
            by_method.setdefault(op.http.get("method", "POST").upper(), []).append(route)
        # Index by the first path segment when it is a literal, so a request
        # only tries the routes that can match it.
        self._index: dict[str, tuple[dict[str, list[_Route]], list[_Route]]] = {}
        for method, routes in by_method.items():
            literal: dict[str, list[_Route]] = {}
            wild: list[_Route] = []
            for r in routes:
                first = _first_segment(r.operation.http.get("requestUri", "/"))
                if first is None:
                    wild.append(r)
                else:
                    literal.setdefault(first, []).append(r)
            # Equally specific routes: a deprecated operation (S3's GetBucketLifecycle,
            # PutBucketNotification) yields to its successor on the same URI.
            for key, rs in literal.items():
                literal[key] = sorted(rs + wild, key=_route_order)
            wild.sort(key=_route_order)
            self._index[method] = (literal, wild)
        # Requests that only the label-first ("wild") routes can match, e.g. every
        # path-style S3 request (``/{Bucket}/{Key+}``), would try dozens of routes
        # each; their answer depends only on the request's shape, so remember it.
        self._shape_routes: dict[tuple[Any, ...], tuple[_Route, ...] | None] = {}
        self._shape_keys = _ShapeKeys([r for _, wild in self._index.values() for r in wild])

    def match(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str] | None = None,
    ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation and raw (still percent-encoded) labels, or ``None``.

        ``query`` is the decoded query string (``HttpRequest.query_params``);
        ``headers`` the lower-cased request headers, used only to break ties.
        """
        entry = self._index.get(method.upper())
        if entry is None:
            return None
        literal, wild = entry
        routes = literal.get(_path_first_segment(path), wild)
        if routes is wild and self._shape_keys.usable:
            key = self._shape_keys.key(method, path, query, headers or {})
            if key in self._shape_routes:
                found = self._shape_routes[key]
            else:
                best_route = self._best(routes, path, query, headers)
                found = None if best_route is None else best_route[0]
                if len(self._shape_routes) < _SHAPE_CACHE:
                    self._shape_routes[key] = found
            m = None if found is None else found.regex.match(path)
            if found is None or m is None:
                return None
            return found.operation, dict(zip(found.labels, m.groups(), strict=True))
        best = self._best(routes, path, query, headers)
        if best is None:
            return None
        route, m = best
        return route.operation, dict(zip(route.labels, m.groups(), strict=True))

    @staticmethod
    def _best(
        routes: list[_Route],
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str] | None,
    ) -> tuple[_Route, re.Match[str]] | None:
        best: _Route | None = None
        best_match: re.Match[str] | None = None
        best_fit: tuple[int, int] = (-1, 0)
        for route in routes:
            if best is not None and route.specificity != best.specificity:
                break
            # Query literals first: a dict lookup rules out most routes before a regex.
            if not route.literals_present(query):
                continue
            m = route.regex.match(path)
            if m is None:
                continue
            fit = route.fit(query, headers or {})
            if best is None or fit > best_fit:
                best, best_match, best_fit = route, m, fit
        if best is None or best_match is None:
            return None
        return best, best_match

    def route_of(self, operation: OperationModel) -> _Route | None:
        return self._by_op.get(operation.name)


_SHAPE_CACHE = 4096


class _ShapeKeys:
    """What of a request decides which of the label-first routes matches it.

    Usable when every such route's path is at most two segments, each one whole
    label (``/{Bucket}``, ``/{Bucket}/{Key+}``): then a path matters only by which
    of its first segments are empty, and the query and headers only by the keys
    (and literal values) the routes look at.
    """

    def __init__(self, routes: list[_Route]) -> None:
        self.usable = bool(routes) and all(_labels_only(r) for r in routes)
        self.valued = {k for r in routes for k, v in r.query_literals if v is not None}
        self.query = {k for r in routes for k, _ in r.query_literals} | {
            k for r in routes for k in r.required_query
        }
        self.headers = sorted({h for r in routes for h in r.required_headers})

    def key(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[Any, ...]:
        shape = tuple(map(bool, path.split("/", 3)))
        wanted = self.query
        q = (
            tuple(
                sorted(
                    (k, tuple(v) if k in self.valued else None)
                    for k, v in query.items()
                    if k in wanted
                )
            )
            if query
            else ()
        )
        h = tuple(map(headers.__contains__, self.headers))
        return (method, shape, q, h)


def _labels_only(route: _Route) -> bool:
    path = route.operation.http.get("requestUri", "/").partition("?")[0]
    segments = [s for s in path.split("/") if s]
    return len(segments) <= 2 and all(
        s.startswith("{") and s.endswith("}") and s.count("{") == 1 for s in segments
    )


def _route_order(route: _Route) -> tuple[Any, bool]:
    return route.specificity, bool(route.operation.deprecated)


def _first_segment(uri: str) -> str | None:
    path = uri.partition("?")[0]
    first = path.lstrip("/").split("/", 1)[0]
    if not first or "{" in first:
        return None
    return first


def _path_first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


_routers = PlanCache(Router)


def get_router(service: ServiceModel) -> Router:
    """The (cached) router for ``service``."""
    return _routers.get(service)


def find_operation(
    req: HttpRequest,
    service: ServiceModel,
    *,
    code: str = "UnknownOperationException",
    status: int = 404,
) -> OperationModel:
    """The operation whose method and URI template match ``req``.

    Raises ``UnknownOperation`` with ``code``/``status`` when none does.
    """
    found = get_router(service).match(req.method, req.path, req.query_params, req.headers)
    if found is None:
        raise UnknownOperation(code, f"No operation matches {req.method} {req.path}", status)
    return found[0]


def path_labels(req: HttpRequest, operation: OperationModel) -> dict[str, str]:
    """Percent-decoded path labels of ``req`` for ``operation``'s template.

    Keys are the template's label names (the members' ``locationName``).
    Returns ``{}`` when the path does not fit the template.
    """
    route = get_router(operation.service_model).route_of(operation)
    if route is None:
        route = _route_for(operation)
    m = route.regex.match(req.path)
    if m is None:
        return {}
    return {name: unquote(raw) for name, raw in zip(route.labels, m.groups(), strict=True)}


# --------------------------------------------------------------------------- plans


@dataclass(slots=True)
class RestPlan:
    """Where the members of one input/output/error structure live.

    Tuples hold ``(member name, wire name, member shape)``; header wire names
    are lower-cased (``HttpRequest.headers`` keys are), ``header_names`` keeps
    the model's spelling (the prefix of a header map) for responses. ``payload`` is the member bound to the
    whole body (``payload`` trait); ``payload_raw`` says the body is that
    member's bytes/text (blob or string) rather than a document.
    ``body_members`` are the members serialized in the body when there is no
    payload member. ``query_literals`` are the literal query keys of the
    operation's template (never bound to a querystring map).
    """

    labels: tuple[tuple[str, str, Shape], ...]
    query: tuple[tuple[str, str, Shape], ...]
    query_map: tuple[str, Shape] | None
    headers: tuple[tuple[str, str, Shape], ...]
    header_names: dict[str, str]
    header_maps: tuple[tuple[str, str, Shape], ...]
    status_code: str | None
    payload: str | None
    payload_shape: Shape | None
    payload_raw: bool
    body_members: tuple[str, ...]
    has_body_members: bool
    required: tuple[str, ...]
    response_header_of: dict[str, tuple[str, Shape]]
    """Member name -> (header as the model spells it, member shape)."""
    request_header_of: dict[str, tuple[str, Shape]] | None
    """Lower-cased header -> (member name, member shape); None when two members
    share a header (then ``headers`` is walked)."""
    maps_in_order: tuple[tuple[str, str, Shape], ...]
    """``header_maps``, the shortest prefix (most complete map) first."""


def rest_plan(shape: Shape) -> RestPlan:
    """The (cached) ``RestPlan`` of a structure shape."""
    return _plans.get(shape)


def _build_plan(shape: Shape) -> RestPlan:
    labels, query, headers, header_maps, body = [], [], [], [], []
    header_names: dict[str, str] = {}
    query_map = None
    status_code = None
    members = shape.members
    for name, member in members.items():
        ser = member.serialization
        loc = ser.get("location")
        wire = ser.get("name", name)
        if loc == "uri":
            labels.append((name, wire, member))
        elif loc == "querystring":
            if member.type_name == "map":
                query_map = (name, member)
            else:
                query.append((name, wire, member))
        elif loc == "header":
            headers.append((name, wire.lower(), member))
            header_names[name] = wire
        elif loc == "headers":
            # Without a locationName botocore sends the member name as the
            # prefix but reads every header back (prefix "").
            header_maps.append((name, wire.lower(), member))
            header_names[name] = ser.get("name", "")
        elif loc == "statusCode":
            status_code = name
        else:
            body.append(name)
    payload = shape.serialization.get("payload")
    payload_shape = members.get(payload) if payload else None
    raw = payload_shape is not None and payload_shape.type_name in ("blob", "string")
    if payload is not None:
        body = []
    by_wire = {wire: (name, m) for name, wire, m in headers}
    return RestPlan(
        labels=tuple(labels),
        query=tuple(query),
        query_map=query_map,
        headers=tuple(headers),
        header_names=header_names,
        header_maps=tuple(header_maps),
        status_code=status_code,
        payload=payload,
        payload_shape=payload_shape,
        payload_raw=raw,
        body_members=tuple(body),
        has_body_members=bool(body),
        required=tuple(shape.required_members),
        response_header_of={name: (header_names[name], m) for name, _, m in headers},
        request_header_of=by_wire if len(by_wire) == len(headers) else None,
        maps_in_order=tuple(sorted(header_maps, key=lambda m: len(header_names[m[0]]))),
    )


_plans = PlanCache(_build_plan)


# --------------------------------------------------------------------------- request


def bind_request(
    req: HttpRequest,
    operation: OperationModel,
    *,
    error_code: str = "SerializationException",
    text_headers: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Params bound to the path, query string and headers of ``req``.

    A header named in ``text_headers`` (lower-case) binds as the text sent, whatever
    its member's type: S3 keeps ``Expires`` as given, even when it is no date.

    The body (payload member or body members) is left to the codec. A value
    that does not convert to its member's type raises ``ServiceError``
    (``error_code``, 400). Header-prefix maps (``location: headers``) are
    always present (possibly empty), as the Smithy protocol tests expect. A
    querystring map gets every query key except the template's literal ones,
    including keys also bound to named members (Smithy's server rule).
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    plan = rest_plan(shape)
    params: dict[str, Any] = {}
    if plan.labels:
        labels = path_labels(req, operation)
        for name, wire, member in plan.labels:
            raw = labels.get(wire)
            if raw is not None:
                params[name] = parse_text(member, raw, "uri", error_code)
    if plan.query or plan.query_map is not None:
        qp = req.query_params
        for name, wire, member in plan.query:
            values = qp.get(wire)
            if values is None:
                continue
            if member.type_name == "list":
                item = member.member
                params[name] = [parse_text(item, v, "querystring", error_code) for v in values]
            else:
                params[name] = parse_text(member, values[0], "querystring", error_code)
        if plan.query_map is not None:
            name, member = plan.query_map
            route = get_router(operation.service_model).route_of(operation)
            skip = {k for k, _ in route.query_literals} if route is not None else set()
            multi = member.value.type_name == "list"
            out: dict[str, Any] = {}
            for key, values in qp.items():
                if key in skip:
                    continue
                out[key] = list(values) if multi else values[0]
            if out:
                params[name] = out
    if plan.headers:
        hdrs = req.headers
        by_wire = plan.request_header_of
        if by_wire is not None and len(hdrs) < len(by_wire):
            # A request sends a few of the (for S3's PutObject, forty) header members.
            for wire, text in hdrs.items():
                bound = by_wire.get(wire)
                if bound is not None:
                    params[bound[0]] = (
                        text if wire in text_headers else parse_header(bound[1], text, error_code)
                    )
        else:
            for name, wire, member in plan.headers:
                text = hdrs.get(wire)
                if text is not None:
                    params[name] = (
                        text if wire in text_headers else parse_header(member, text, error_code)
                    )
    for name, prefix, _member in plan.header_maps:
        pairs = req.raw_headers or list(req.headers.items())
        params[name] = {k[len(prefix) :]: v for k, v in pairs if k.lower().startswith(prefix)}
    return params


def parse_header(shape: Shape, text: str, error_code: str = "SerializationException") -> Any:
    """A header value as ``shape``'s type (lists are split per RFC 7230 quoting)."""
    if shape.type_name == "list":
        item = shape.member
        if not text.strip():
            return []
        parts = split_header_list(text, http_dates=_is_http_date(item))
        return [parse_text(item, p, "header", error_code) for p in parts]
    return parse_text(shape, text, "header", error_code)


def _is_http_date(shape: Shape) -> bool:
    return shape.type_name == "timestamp" and shape.serialization.get(
        "timestampFormat", "rfc822"
    ) in ("rfc822",)


def split_header_list(text: str, http_dates: bool = False) -> list[str]:
    """Split a comma-separated header into items.

    Items may be double-quoted (``"a,b"``) with ``\\"`` and ``\\\\`` escapes;
    whitespace around items is dropped. With ``http_dates`` the comma inside
    an RFC 822 date (``Mon, 16 Dec 2019 ...``) does not split.
    """
    items: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            buf = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            items.append("".join(buf))
            end = text.find(",", i)
            i = n + 1 if end < 0 else end + 1
        else:
            end = text.find(",", i)
            if end < 0:
                items.append(text[i:].strip())
                break
            items.append(text[i:end].strip())
            i = end + 1
    if http_dates:
        merged: list[str] = []
        k = 0
        while k < len(items):
            if _WEEKDAY.fullmatch(items[k]) and k + 1 < len(items):
                merged.append(f"{items[k]}, {items[k + 1]}")
                k += 2
            else:
                merged.append(items[k])
                k += 1
        items = merged
    return items


_TRUE_FALSE = {"true": True, "false": False}


def parse_text(
    shape: Shape, text: str, where: str = "header", error_code: str = "SerializationException"
) -> Any:
    """A label, query or header string converted to ``shape``'s Python type.

    ``where`` (``uri``, ``querystring``, ``header``) picks the default
    timestamp format (ISO 8601 for uri/querystring, RFC 822 for headers);
    other formats are still accepted. Strings with the ``jsonvalue`` trait are
    base64-encoded JSON in headers.
    """
    t = shape.type_name
    try:
        if t == "string":
            if where == "header" and shape.serialization.get("jsonvalue"):
                return json.loads(base64.b64decode(text))
            return text
        if t in ("integer", "long", "short", "byte"):
            return int(text.strip())
        if t in ("float", "double"):
            return float(text.strip())
        if t == "boolean":
            return _TRUE_FALSE[text.strip().lower()]
        if t == "timestamp":
            return _parse_ts(shape, text, where)
        if t == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError) as exc:
        raise ServiceError(
            error_code, f"Invalid value {text!r} for {shape.name} ({t}) in {where}", 400
        ) from exc
    return text


def _parse_ts(shape: Shape, text: str, where: str) -> datetime:
    fmt = shape.serialization.get("timestampFormat")
    if fmt is None:
        fmt = "rfc822" if where == "header" else "iso8601"
    try:
        return parse_timestamp(text, fmt)
    except (ValueError, TypeError, IndexError):
        return parse_timestamp(text)


# --------------------------------------------------------------------------- response


HTTP_STATUS = "__http_status__"
"""Result key a handler may set to choose the success status where the model has
no ``statusCode`` member (S3's 206 Partial Content for a ranged GetObject)."""
HTTP_HEADERS = "__http_headers__"
"""Result key for response headers the output shape does not model (a dict)."""


def response_status(operation: OperationModel, result: dict[str, Any] | None) -> int:
    """The success status: a ``statusCode`` member if set, else ``HTTP_STATUS``,
    else the http trait's."""
    if result and result.get(HTTP_STATUS) is not None:
        return int(result[HTTP_STATUS])
    status = operation.http.get("responseCode", 200)
    shape = operation.output_shape
    if shape is not None and result:
        name = rest_plan(shape).status_code
        if name is not None and result.get(name) is not None:
            status = int(result[name])
    return status


def response_headers(shape: Shape | None, result: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Headers for members bound to ``header``/``headers`` locations of ``shape``."""
    if shape is None or not result:
        return []
    plan = rest_plan(shape)
    out: list[tuple[str, str]] = []
    header_of = plan.response_header_of
    # A result names a few of the (for S3's GetObject, forty) header members:
    # walk whichever of the two is shorter.
    names = result if len(result) < len(header_of) else header_of
    for name in names:
        bound = header_of.get(name)
        if bound is None:
            continue
        value = result.get(name)
        if value is None:
            continue
        member = bound[1]
        if member.type_name == "list" and not value:
            continue
        out.append((bound[0], format_header(member, value)))
    seen: set[str] | None = None
    for name, _prefix, member in plan.maps_in_order:
        # A header may be claimed by several maps (``x-`` and the catch-all
        # ``""``); it goes on the wire once, spelled as the shortest-prefix
        # (most complete) map has it.
        value = result.get(name)
        if not value:
            continue
        if seen is None:
            seen = {k.lower() for k, _ in out}
        prefix = plan.header_names[name]
        for k, v in value.items():
            full = prefix + k
            if v is not None and full.lower() not in seen:
                seen.add(full.lower())
                out.append((full, format_header(member.value, v)))
    return out


def all_headers_member(shape: Shape | None) -> str | None:
    """The member bound to every header (``location: headers`` without prefix).

    When a result sets it, those are the response's headers: a codec should
    not add its own (``x-amzn-RequestId``) or clients would see them in it.
    """
    if shape is None:
        return None
    plan = rest_plan(shape)
    for name, _prefix, _member in plan.header_maps:
        if plan.header_names[name] == "":
            return name
    return None


def format_header(shape: Shape, value: Any) -> str:
    """A value as header text: RFC 822 timestamps by default (a timestamp held as text,
    S3's ``Expires``, goes out as it is), base64 JSON for ``jsonvalue``, comma-joined
    lists with quoting where needed."""
    t = shape.type_name
    if t == "string":
        if shape.serialization.get("jsonvalue"):
            raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
            return base64.b64encode(raw).decode("ascii")
        return str(value)
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        if isinstance(value, str):
            return value
        fmt = shape.serialization.get("timestampFormat", "rfc822")
        return str(format_timestamp(value, fmt))
    if t in ("float", "double"):
        return format_float_text(value)
    if t == "list":
        item = shape.member
        parts = []
        for v in value:
            if v is None:
                continue
            if item.type_name == "string":
                s = str(v)
                if '"' in s or "," in s:
                    s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                parts.append(s)
            else:
                parts.append(format_header(item, v))
        return ",".join(parts)
    if t == "blob":
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(data).decode("ascii")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def format_float_text(value: float | int) -> str:
    """A float as text the way AWS writes it: ``NaN``, ``Infinity``, ``-Infinity``."""
    f = float(value)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if isinstance(value, int):
        return str(value)
    return repr(f)
