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
        if not isinstance(value, dict):
            return value
        out = {}
        for k, v in value.items():
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
    return a == b and type(a) is type(b) or (isinstance(a, int | float) and a == b
                                             and not isinstance(a, bool) and not isinstance(b, bool))


def _body_bytes(protocol: str, body: str | None) -> bytes:
    if not body:
        return b""
    if protocol == "smithy-rpc-v2-cbor":
        return base64.b64decode(body)
    return body.encode("utf-8")


@pytest.mark.parametrize("suite,case", _collect("input"))
def test_input(suite: dict, case: dict) -> None:
    protocol = suite["metadata"]["protocol"]
    service, operation = _model(suite, case)
    ser = case["serialized"]
    path, _, query = ser["uri"].partition("?")
    headers = {k.lower(): v for k, v in ser.get("headers", {}).items()}
    if "host" in ser:
        headers["host"] = ser["host"]
    body = _body_bytes(protocol, ser.get("body"))
    headers.setdefault("content-length", str(len(body)))
    req = HttpRequest(
        method=ser.get("method", "POST"),
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
    assert same(params, expected), f"\n got: {params!r}\nwant: {expected!r}"


@pytest.mark.parametrize("suite,case", _collect("output"))
def test_output(suite: dict, case: dict) -> None:
    protocol = suite["metadata"]["protocol"]
    service, operation = _model(suite, case)
    codec = get_codec(protocol)
    parser = create_parser(protocol)
    if "errorCode" in case:
        error_shape = service.shape_for(case["errorCode"]) if case["errorCode"] in service.shape_names else None
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
        result = native(operation.output_shape, case.get("result", {})) if operation.output_shape else {}
        resp = codec.serialize(operation, result, "req-1")
        shape = operation.output_shape
    body = resp.body
    assert isinstance(body, bytes | bytearray), "conformance bodies must not stream"
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    response = {"status_code": resp.status, "headers": headers, "body": bytes(body)}
    if "errorCode" in case:
        parsed = parser.parse(response, shape)
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
        expected = native(shape, case.get("result", {})) if shape is not None else {}
        assert same(parsed, expected), f"\n got: {parsed!r}\nwant: {expected!r}"
