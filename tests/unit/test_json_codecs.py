"""The JSON-family codecs against botocore's own client code, on real models.

Requests are built by botocore's serializers and parsed by our codecs;
responses are built by our codecs and parsed by botocore's parsers. The
conformance suite covers the protocol corners; these cover real service
models and the server-only behaviour (errors for bad input, streaming).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from urllib.parse import urlsplit

import botocore.session
import cbor2
import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from cloudlet.core.errors import ServiceError
from cloudlet.protocols import HttpRequest, get_codec
from cloudlet.protocols.rest import get_router, split_header_list

_session = botocore.session.get_session()
_models: dict[str, botocore.model.ServiceModel] = {}


def model(name: str):
    if name not in _models:
        _models[name] = _session.get_service_model(name)
    return _models[name]


def client_request(service, op_name: str, params: dict, protocol: str | None = None):
    """The HttpRequest botocore would send for ``params``."""
    protocol = protocol or service.protocol
    op = service.operation_model(op_name)
    serialized = create_serializer(protocol).serialize_to_request(params, op)
    prepare_request_dict(serialized, "http://localhost:4566")
    prepared = create_request_object(serialized).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()
    }
    return (
        op,
        HttpRequest(
            method=prepared.method,
            path=url.path,
            query=url.query,
            headers=headers,
            body=body,
            raw_headers=list(headers.items()),
        ),
    )


def client_parse(protocol: str, op, resp):
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    parsed = create_parser(protocol).parse(
        {"status_code": resp.status, "headers": headers, "body": resp.body}, op.output_shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def roundtrip_input(service_name: str, op_name: str, params: dict, protocol: str | None = None):
    service = model(service_name)
    protocol = protocol or service.protocol
    op, req = client_request(service, op_name, params, protocol)
    codec = get_codec(protocol)
    assert codec.find_operation(req, service).name == op_name
    return codec.parse(req, op)


T0 = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)


# ---------------------------------------------------------------------- requests


def test_sqs_send_message_roundtrip() -> None:
    params = {
        "QueueUrl": "http://localhost:4566/000000000000/q",
        "MessageBody": "hello",
        "DelaySeconds": 3,
        "MessageAttributes": {
            "bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
            "s": {"DataType": "String", "StringValue": "x"},
        },
    }
    assert roundtrip_input("sqs", "SendMessage", params) == params


def test_json11_timestamps_and_blobs() -> None:
    params = {"Entries": [{"Time": T0, "Source": "s", "DetailType": "d", "Detail": "{}"}]}
    assert roundtrip_input("events", "PutEvents", params) == params
    params = {"StreamName": "s", "Data": b"\x01\x02", "PartitionKey": "k"}
    assert roundtrip_input("kinesis", "PutRecord", params) == params


def test_cbor_roundtrip_cloudwatch() -> None:
    params = {
        "Namespace": "App",
        "MetricData": [
            {
                "MetricName": "Latency",
                "Timestamp": T0,
                "Value": 1.5,
                "Dimensions": [{"Name": "host", "Value": "a"}],
            }
        ],
    }
    assert roundtrip_input("cloudwatch", "PutMetricData", params) == params


def test_cloudwatch_json_protocol_too() -> None:
    params = {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 2.0}]}
    assert roundtrip_input("cloudwatch", "PutMetricData", params, protocol="json") == params


def test_rest_json_lambda_labels_query_headers_payload() -> None:
    got = roundtrip_input(
        "lambda",
        "Invoke",
        {"FunctionName": "fn", "InvocationType": "Event", "Payload": b'{"a": 1}', "Qualifier": "3"},
    )
    assert got == {
        "FunctionName": "fn",
        "InvocationType": "Event",
        "Payload": b'{"a": 1}',
        "Qualifier": "3",
    }
    got = roundtrip_input("lambda", "ListFunctions", {"MaxItems": 5, "Marker": "m"})
    assert got == {"MaxItems": 5, "Marker": "m"}
    params = {
        "FunctionName": "fn",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Code": {"ZipFile": b"PK\x03\x04"},
        "Runtime": "python3.12",
        "Handler": "h.main",
        "Environment": {"Variables": {"A": "1"}},
    }
    assert roundtrip_input("lambda", "CreateFunction", params) == params


def test_rest_router_s3_like_ties() -> None:
    s3 = model("s3")
    router = get_router(s3)

    def op(method: str, path: str, query: str = "", headers: dict | None = None) -> str:
        req = HttpRequest(method, path, query, headers or {})
        found = router.match(method, path, req.query_params, req.headers)
        return found[0].name if found else ""

    assert op("PUT", "/b/k") == "PutObject"
    assert op("PUT", "/b/k", "partNumber=1&uploadId=u") == "UploadPart"
    assert op("PUT", "/b/k", "", {"x-amz-copy-source": "a/b"}) == "CopyObject"
    assert op("GET", "/b/k", "uploadId=u") == "ListParts"
    assert op("GET", "/b", "list-type=2") == "ListObjectsV2"
    assert op("GET", "/b/") == "ListObjects"
    assert op("POST", "/b/k", "uploads") == "CreateMultipartUpload"


def test_split_header_list() -> None:
    assert split_header_list('a, "b,c", "\\"q\\"" ,d') == ["a", "b,c", '"q"', "d"]
    dates = "Mon, 16 Dec 2019 23:48:18 GMT, Tue, 17 Dec 2019 23:48:18 GMT"
    assert split_header_list(dates, http_dates=True) == [
        "Mon, 16 Dec 2019 23:48:18 GMT",
        "Tue, 17 Dec 2019 23:48:18 GMT",
    ]


# ---------------------------------------------------------------------- bad input


def _json_req(target: str, body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", {"x-amz-target": target}, body)


@pytest.mark.parametrize("target", ["AmazonSQS.Nope", "", "Nope", "Other.SendMessage"])
def test_json_unknown_operation(target: str) -> None:
    with pytest.raises(ServiceError) as exc:
        get_codec("json").find_operation(_json_req(target, b"{}"), model("sqs"))
    assert exc.value.code == "UnknownOperationException"
    assert exc.value.status == 400


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"QueueUrl": 5}', b'{"QueueUrl": "u", "MaxNumberOfMessages": "3"}'],
)
def test_json_serialization_exception(body: bytes) -> None:
    sqs = model("sqs")
    op = sqs.operation_model("ReceiveMessage")
    with pytest.raises(ServiceError) as exc:
        get_codec("json").parse(_json_req("AmazonSQS.ReceiveMessage", body), op)
    assert (exc.value.code, exc.value.status) == ("SerializationException", 400)


def test_json_missing_required_is_missing_parameter_for_query_compatible() -> None:
    sqs = model("sqs")
    op = sqs.operation_model("SendMessage")
    codec = get_codec("json")
    with pytest.raises(ServiceError) as exc:
        codec.parse(_json_req("AmazonSQS.SendMessage", b""), op)
    err = exc.value
    assert (err.code, err.status, err.query_code) == (
        "ValidationException",
        400,
        "MissingParameter",
    )
    parsed = create_parser("json").parse(
        _as_response(codec.serialize_error(sqs, op, err, "r")), op.output_shape
    )
    assert parsed["Error"]["Code"] == "MissingParameter"


def test_json_missing_nested_required_and_unknown_members_ignored() -> None:
    ddb = model("dynamodb")
    op = ddb.operation_model("DescribeTable")
    codec = get_codec("json")
    assert codec.parse(_json_req("", b'{"TableName": "t", "Extra": [1]}'), op) == {"TableName": "t"}
    with pytest.raises(ServiceError) as exc:
        codec.parse(_json_req("", b"{}"), op)
    assert exc.value.code == "ValidationException" and exc.value.query_code is None


def test_json_error_document_and_query_header() -> None:
    sqs = model("sqs")
    op = sqs.operation_model("GetQueueUrl")
    err = ServiceError(
        "QueueDoesNotExist", "no queue", 400, query_code="AWS.SimpleQueueService.NonExistentQueue"
    )
    resp = get_codec("json").serialize_error(sqs, op, err, "rid")
    assert resp.header("x-amzn-query-error") == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert resp.header("content-type") == "application/x-amz-json-1.0"
    parsed = create_parser("json").parse(_as_response(resp), op.output_shape)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    assert parsed["Error"]["Message"] == "no queue"
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"


def test_rest_json_unknown_route_and_bad_body() -> None:
    lam = model("lambda")
    codec = get_codec("rest-json")
    with pytest.raises(ServiceError) as exc:
        codec.find_operation(HttpRequest("GET", "/nothing/here"), lam)
    assert exc.value.code == "UnknownOperationException"
    op, req = client_request(
        lam, "CreateAlias", {"FunctionName": "f", "Name": "a", "FunctionVersion": "1"}
    )
    req.body = b"{oops"
    with pytest.raises(ServiceError) as exc:
        codec.parse(req, op)
    assert exc.value.code == "SerializationException"
    req.body = b'{"Name": "a"}'
    with pytest.raises(ServiceError) as exc:
        codec.parse(req, op)
    assert exc.value.code == "ValidationException"


def test_rest_json_error_headers() -> None:
    lam = model("lambda")
    op = lam.operation_model("GetFunction")
    err = ServiceError("ResourceNotFoundException", "Function not found", 404)
    resp = get_codec("rest-json").serialize_error(lam, op, err, "rid")
    assert resp.header("x-amzn-ErrorType") == "ResourceNotFoundException"
    parsed = create_parser("rest-json").parse(_as_response(resp), op.output_shape)
    assert parsed["Error"]["Code"] == "ResourceNotFoundException"
    assert parsed["Error"]["Message"] == "Function not found"


def test_cbor_bad_input_and_unknown_operation() -> None:
    cw = model("cloudwatch")
    codec = get_codec("smithy-rpc-v2-cbor")
    with pytest.raises(ServiceError) as exc:
        codec.find_operation(HttpRequest("POST", "/service/X/operation/Nope"), cw)
    assert exc.value.code == "UnknownOperationException"
    op = cw.operation_model("ListMetrics")
    with pytest.raises(ServiceError) as exc:
        codec.parse(HttpRequest("POST", "/", body=b"\xff\xfe\x00"), op)
    assert exc.value.code == "SerializationException"
    with pytest.raises(ServiceError) as exc:
        codec.parse(HttpRequest("POST", "/", body=cbor2.dumps({"Namespace": 3})), op)
    assert exc.value.code == "SerializationException"


# ---------------------------------------------------------------------- responses


def _as_response(resp) -> dict:
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    return {"status_code": resp.status, "headers": headers, "body": resp.body}


def test_json_output_roundtrip() -> None:
    sqs = model("sqs")
    op = sqs.operation_model("ReceiveMessage")
    result = {
        "Messages": [
            {
                "MessageId": "m",
                "ReceiptHandle": "r",
                "Body": "b",
                "Attributes": {"SentTimestamp": "1"},
                "MessageAttributes": {"x": {"DataType": "Binary", "BinaryValue": b"\x00"}},
            }
        ]
    }
    resp = get_codec("json").serialize(op, result, "rid")
    assert resp.header("x-amzn-RequestId") == "rid"
    assert client_parse("json", op, resp) == result


def test_aws_json_non_finite_floats_are_bare_tokens() -> None:
    """awsJson writes NaN and infinities as bare tokens (which botocore reads back as
    floats), finite floats as numbers, whichever JSON writer the body takes."""
    cw = model("cloudwatch")
    op = cw.operation_model("GetMetricData")
    values = [1.5, float("inf"), float("-inf"), float("nan"), 2.0]
    result = {"MetricDataResults": [{"Id": "a", "Values": values, "StatusCode": "Complete"}]}
    resp = get_codec("json").serialize(op, result, "rid")
    assert b"[1.5,Infinity,-Infinity,NaN,2.0]" in resp.body
    got = client_parse("json", op, resp)["MetricDataResults"][0]["Values"]
    assert got[:3] == values[:3] and math.isnan(got[3]) and got[4] == 2.0
    finite = {"MetricDataResults": [{"Id": "a", "Values": [0.5, 3.0], "StatusCode": "Complete"}]}
    resp = get_codec("json").serialize(op, finite, "rid")
    assert client_parse("json", op, resp) == finite


def test_cbor_output_roundtrip() -> None:
    cw = model("cloudwatch")
    op = cw.operation_model("GetMetricData")
    result = {
        "MetricDataResults": [
            {"Id": "a", "Timestamps": [T0], "Values": [1.5, float("inf")], "StatusCode": "Complete"}
        ]
    }
    resp = get_codec("smithy-rpc-v2-cbor").serialize(op, result, "rid")
    assert resp.header("smithy-protocol") == "rpc-v2-cbor"
    assert client_parse("smithy-rpc-v2-cbor", op, resp) == result


def test_rest_json_output_headers_status_and_payload() -> None:
    lam = model("lambda")
    op = lam.operation_model("Invoke")
    result = {"StatusCode": 202, "Payload": b'{"ok": true}', "ExecutedVersion": "$LATEST"}
    resp = get_codec("rest-json").serialize(op, result, "rid")
    assert resp.status == 202
    assert resp.body == b'{"ok": true}'
    assert resp.header("X-Amz-Executed-Version") == "$LATEST"


def test_rest_json_streams_pass_through() -> None:
    lam = model("lambda")
    codec = get_codec("rest-json")

    async def chunks():
        yield b"a"
        yield b"b"

    op = lam.operation_model("Invoke")
    stream = chunks()
    resp = codec.serialize(op, {"StatusCode": 200, "Payload": stream}, "rid")
    assert resp.body is stream
    # A streaming blob payload in a request is handed over unread.
    glacier = model("glacier")
    upload = glacier.operation_model("UploadArchive")
    incoming = chunks()
    req = HttpRequest(
        "POST", "/-/vaults/v/archives", headers={"x-amz-archive-description": "d"}, stream=incoming
    )
    assert codec.find_operation(req, glacier).name == "UploadArchive"
    params = codec.parse(req, upload)
    assert params["body"] is incoming
    assert params["vaultName"] == "v" and params["archiveDescription"] == "d"

    async def drain(it):
        return b"".join([c async for c in it])

    assert asyncio.run(drain(stream)) == b"ab"
