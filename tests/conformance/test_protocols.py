"""botocore's protocol test cases, run inverted against our codecs.

Input cases: the serialized request a client would send must parse back to the
case's params. Output cases: our serialization of the case's result (or error)
must parse, with botocore's own response parser, to the case's result. The
data lives in ../shared/conformance/aws-protocol-tests (see its README); the
pass count per protocol is printed at the end of the session.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.eventstream import EventStream
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser

from cloudlet.core.errors import ServiceError
from cloudlet.protocols import HttpRequest, get_codec
from cloudlet.protocols.values import to_datetime

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "aws-protocol-tests"
IGNORE = json.loads((ROOT / "protocol-tests-ignore-list.json").read_text()) if ROOT.exists() else {}


def _protocol_key(stem: str) -> str:
    return stem.replace("-non-query-compatible", "").replace("-query-compatible", "")


def _ignored(direction: str, key: str, suite: dict, case: dict) -> bool:
    general = IGNORE.get("general", {}).get(direction, {})
    if suite.get("description") in general.get("suites", []):
        return True
    if case.get("id") in general.get("cases", []):
        return True
    proto = IGNORE.get("protocols", {}).get(key, {}).get(direction, {})
    return case["id"] in proto.get("cases", []) or suite.get("description") in proto.get(
        "suites", []
    )


def _collect(direction: str) -> list:
    params = []
    if not ROOT.exists():
        return params
    files = sorted((ROOT / direction).glob("*.json")) + sorted(
        (ROOT / "legacy" / direction).glob("*.json")
    )
    for path in files:
        legacy = "legacy" in path.parts
        key = _protocol_key(path.stem)
        for si, suite in enumerate(json.loads(path.read_text())):
            for ci, case in enumerate(suite["cases"]):
                case.setdefault("id", f"case{ci}")
                if _ignored(direction, key, suite, case):
                    continue
                tag = f"{'legacy-' if legacy else ''}{path.stem}:{si}:{case['id']}"
                params.append(pytest.param(suite, case, id=tag))
    return params


def _drop_empty(params: dict) -> dict:
    return {k: v for k, v in params.items() if v not in ([], {})}


# Cases that test what a *client* does with information that never reaches the
# wire. A server cannot reproduce them, so for these the assertion is the
# server's reading of the same bytes (with the reason), not the client's params.
CLIENT_ONLY_INPUT: dict[str, tuple[str, Any]] = {
    "ec2:8:Ec2EmptyQueryLists": ("ec2 clients send nothing for an empty list", _drop_empty),
    "query:10:QueryEmptyQueryMaps": ("query clients send nothing for an empty map", _drop_empty),
    "rest-json:35:RestJsonOmitsEmptyListQueryValues": (
        "empty query lists are omitted on the wire",
        _drop_empty,
    ),
    "legacy-rest-json:26:case1": ("empty header lists are omitted on the wire", _drop_empty),
    "legacy-rest-xml:26:case1": ("empty header lists are omitted on the wire", _drop_empty),
    "rest-json:39:RestJsonQueryParamsStringListMap": (
        "Smithy's server rule (and 6 other cases here): the query-params map holds every key",
        lambda p: {**p, "foo": {"corge": ["named"], **p["foo"]}},
    ),
    "legacy-rest-json:25:case7": (
        "botocore's default Content-Type is bound to a member, so the server sees it",
        lambda p: {**p, "contentType": "application/octet-stream"},
    ),
}
CLIENT_ONLY_OUTPUT: dict[str, str] = {
    "legacy-rest-json:17:case2": "SDK_UNKNOWN_MEMBER: a server cannot send a member its model lacks",
    "legacy-rest-xml:16:case2": "SDK_UNKNOWN_MEMBER: a server cannot send a member its model lacks",
}


def _model(suite: dict, case: dict) -> tuple[ServiceModel, OperationModel]:
    given = dict(case["given"])
    model = {
        "metadata": suite["metadata"],
        "shapes": suite["shapes"],
        "operations": {given["name"]: given},
    }
    service = ServiceModel(model)
    return service, service.operation_model(given["name"])


def native(shape, value: Any) -> Any:
    """The case's JSON value in the real Python types our codecs exchange."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure":
        if isinstance(value, list) and shape.serialization.get("eventstream"):
            return [native(shape, event) for event in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for k, v in value.items():
            if v is None:
                # An unset member: clients send nothing and parsers return nothing.
                continue
            member = shape.members.get(k)
            out[k] = native(member, v) if member is not None else v
        return out
    if t == "list":
        return [native(shape.member, v) for v in value]
    if t == "map":
        return {k: native(shape.value, v) for k, v in value.items()}
    if t == "timestamp":
        return to_datetime(value)
    if t == "blob":
        if isinstance(value, str):
            return value.encode("utf-8")
        return value
    if t in ("float", "double"):
        if isinstance(value, str):
            return float(value)
        return float(value)
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.timestamp() == b.timestamp()
    if isinstance(a, bytearray | memoryview):
        a = bytes(a)
    if isinstance(b, bytearray | memoryview):
        b = bytes(b)
    return (
        a == b
        and type(a) is type(b)
        or (
            isinstance(a, int | float)
            and a == b
            and not isinstance(a, bool)
            and not isinstance(b, bool)
        )
    )


def _body_bytes(protocol: str, body: str | None) -> bytes:
    if not body:
        return b""
    if protocol == "smithy-rpc-v2-cbor":
        return base64.b64decode(body)
    return body.encode("utf-8")


@pytest.mark.parametrize("suite,case", _collect("input"))
def test_input(suite: dict, case: dict, request: pytest.FixtureRequest) -> None:
    protocol = suite["metadata"]["protocol"]
    service, operation = _model(suite, case)
    ser = case["serialized"]
    path, _, query = ser["uri"].partition("?")
    headers = {k.lower(): v for k, v in ser.get("headers", {}).items()}
    if protocol == "json" and "x-amz-target" not in headers:
        # The cases list the headers a client must send; every JSON client
        # also sends the target (a few json 1.0 cases leave it out).
        headers["x-amz-target"] = f"{service.metadata['targetPrefix']}.{operation.name}"
    if "host" in ser:
        headers["host"] = ser["host"]
    body = _body_bytes(protocol, ser.get("body"))
    headers.setdefault("content-length", str(len(body)))
    req = HttpRequest(
        method=ser.get("method") or operation.http.get("method", "POST"),
        path=path,
        query=query,
        headers=headers,
        body=body,
        raw_headers=list(headers.items()),
    )
    codec = get_codec(protocol)
    found = codec.find_operation(req, service)
    assert found.name == operation.name
    params = codec.parse(req, operation)
    expected = native(operation.input_shape, case["params"]) if operation.input_shape else {}
    if request.node.callspec.id in CLIENT_ONLY_INPUT:
        expected = CLIENT_ONLY_INPUT[request.node.callspec.id][1](expected)
    assert same(params, expected), f"\n got: {params!r}\nwant: {expected!r}"


class _RawStream:
    """The urllib3 response botocore's EventStream reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self):
        yield self._data


@pytest.mark.parametrize("suite,case", _collect("output"))
def test_output(suite: dict, case: dict, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.id in CLIENT_ONLY_OUTPUT:
        pytest.skip(f"client-only: {CLIENT_ONLY_OUTPUT[request.node.callspec.id]}")
    protocol = suite["metadata"]["protocol"]
    service, operation = _model(suite, case)
    codec = get_codec(protocol)
    parser = create_parser(protocol)
    if "errorCode" in case:
        error_shape = (
            service.shape_for(case["errorCode"])
            if case["errorCode"] in service.shape_names
            else None
        )
        if error_shape is None:
            error_shape = next(
                (s for s in operation.error_shapes if s.error_code == case["errorCode"]), None
            )
        meta = error_shape.metadata.get("error", {}) if error_shape is not None else {}
        fields = native(error_shape, case.get("error", {})) if error_shape is not None else {}
        message = case.get("errorMessage", "")
        err = ServiceError(
            error_shape.name if error_shape is not None else case["errorCode"],
            message,
            meta.get("httpStatusCode", case["response"]["status_code"]),
            sender_fault=meta.get("senderFault", True),
            query_code=meta.get("code"),
            fields=fields,
        )
        resp = codec.serialize_error(service, operation, err, "req-1")
        shape = error_shape
    else:
        result = (
            native(operation.output_shape, case.get("result", {})) if operation.output_shape else {}
        )
        resp = codec.serialize(operation, result, "req-1")
        shape = operation.output_shape
    body = resp.body
    assert isinstance(body, bytes | bytearray), "conformance bodies must not stream"
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    response = {
        "status_code": resp.status,
        "headers": headers,
        "body": bytes(body),
        "context": {"operation_name": operation.name},
    }
    if shape is not None and operation.has_event_stream_output and "errorCode" not in case:
        # botocore's client hands event streams the raw response stream.
        response["body"] = _RawStream(bytes(body))
    if "errorCode" in case:
        # As botocore's client (and its own protocol-test runner) does: the
        # generic parse yields Error.Code/Message; a parse with a modelled
        # exception shape yields only that shape's members, merged on top.
        parsed = parser.parse(response, operation.output_shape)
        if shape is not None:
            parsed.update(parser.parse(response, shape))
        assert parsed["Error"]["Code"] == case["errorCode"], parsed
        if "errorMessage" in case:
            assert parsed["Error"].get("Message") == case["errorMessage"], parsed
        for k, v in native(shape, case.get("error", {})).items():
            if k.lower() == "message":
                continue
            assert same(parsed.get(k), v), f"{k}: got {parsed.get(k)!r} want {v!r}"
    else:
        parsed = parser.parse(response, shape)
        parsed.pop("ResponseMetadata", None)
        for k, v in list(parsed.items()):
            if hasattr(v, "read"):
                parsed[k] = v.read()
            elif isinstance(v, EventStream):
                parsed[k] = list(v)
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload and isinstance(parsed.get(payload), str):
            if shape.members[payload].type_name == "blob":
                # botocore decodes a bytes body to str for a blob payload; a real
                # client gets bytes from the StreamingBody of streaming blobs.
                parsed[payload] = parsed[payload].encode("utf-8")
        expected = native(shape, case.get("result", {})) if shape is not None else {}
        assert same(parsed, expected), f"\n got: {parsed!r}\nwant: {expected!r}"
