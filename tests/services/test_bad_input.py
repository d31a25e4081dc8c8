"""Malformed requests: each gets an AWS error code and a 4xx, never a 5xx, and the
server keeps serving (and keeps what it stored)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import cbor2
import pytest

JSON10 = {"Content-Type": "application/x-amz-json-1.0"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CBOR = {
    "Content-Type": "application/cbor",
    "Accept": "application/cbor",
    "smithy-protocol": "rpc-v2-cbor",
}
CW_PATH = "/service/GraniteServiceVersion20100801/operation/"


def sqs_target(op: str) -> dict[str, str]:
    return {**JSON10, "X-Amz-Target": f"AmazonSQS.{op}"}


def ddb_target(op: str) -> dict[str, str]:
    return {**JSON10, "X-Amz-Target": f"DynamoDB_20120810.{op}"}


def sign_hint(service: str) -> dict[str, str]:
    """An Authorization header naming the service (open mode does not verify it)."""
    cred = f"AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request"
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00"
    }


# (id, method, path, headers, body, expected code or None for "any code")
CASES = [
    (
        "json-invalid",
        "POST",
        "/",
        sqs_target("CreateQueue"),
        b"{not json",
        "SerializationException",
    ),
    ("json-array-body", "POST", "/", sqs_target("CreateQueue"), b"[1,2]", "SerializationException"),
    (
        "json-string-for-int",
        "POST",
        "/",
        sqs_target("ReceiveMessage"),
        b'{"QueueUrl":"http://x/000000000000/q","MaxNumberOfMessages":"ten"}',
        "SerializationException",
    ),
    (
        "json-number-for-string",
        "POST",
        "/",
        sqs_target("CreateQueue"),
        b'{"QueueName": 5}',
        "SerializationException",
    ),
    (
        "json-list-for-map",
        "POST",
        "/",
        sqs_target("CreateQueue"),
        b'{"QueueName":"a","Attributes":["x"]}',
        "SerializationException",
    ),
    (
        "json-map-for-list",
        "POST",
        "/",
        sqs_target("SendMessageBatch"),
        b'{"QueueUrl":"http://x/000000000000/q","Entries":{"a":1}}',
        "SerializationException",
    ),
    ("json-missing-required", "POST", "/", sqs_target("CreateQueue"), b"{}", None),
    ("json-empty-body", "POST", "/", sqs_target("GetQueueUrl"), b"", None),
    ("json-unknown-op", "POST", "/", sqs_target("Frobnicate"), b"{}", "UnknownOperationException"),
    (
        "json-bad-utf8",
        "POST",
        "/",
        sqs_target("CreateQueue"),
        b'{"QueueName":"\xff\xfe"}',
        "SerializationException",
    ),
    (
        "json-too-deep",
        "POST",
        "/",
        sqs_target("CreateQueue"),
        b"[" * 100_000 + b"]" * 100_000,
        "SerializationException",
    ),
    (
        "json-bool-for-string",
        "POST",
        "/",
        sqs_target("SendMessage"),
        b'{"QueueUrl":"http://x/000000000000/q","MessageBody":true}',
        "SerializationException",
    ),
    (
        "json-nonexistent-queue",
        "POST",
        "/",
        sqs_target("SendMessage"),
        b'{"QueueUrl":"not a url","MessageBody":"x"}',
        "QueueDoesNotExist",
    ),
    (
        "json-garbage-receipt",
        "POST",
        "/",
        sqs_target("DeleteMessage"),
        b'{"QueueUrl":"http://x/000000000000/bad-input-kept","ReceiptHandle":"!!"}',
        "ReceiptHandleIsInvalid",
    ),
    (
        "json-float-for-int",
        "POST",
        "/",
        sqs_target("ReceiveMessage"),
        b'{"QueueUrl":"http://x/000000000000/q","WaitTimeSeconds":1.5}',
        "SerializationException",
    ),
    (
        "query-broken-encoding",
        "POST",
        "/",
        FORM,
        b"Action=ListQueues&Version=2012-11-05&QueueNamePrefix=%zz%",
        None,
    ),
    ("query-missing-action", "POST", "/000000000000/q", FORM, b"Version=2012-11-05", None),
    (
        "query-unknown-action",
        "POST",
        "/000000000000/q",
        FORM,
        b"Action=Frobnicate&Version=2012-11-05",
        "InvalidAction",
    ),
    (
        "query-bad-int",
        "POST",
        "/",
        FORM,
        b"Action=ReceiveMessage&Version=2012-11-05&QueueUrl=http://x/000000000000/q&MaxNumberOfMessages=abc",
        "InvalidParameterValue",
    ),
    (
        "query-missing-param",
        "POST",
        "/",
        FORM,
        b"Action=CreateQueue&Version=2012-11-05",
        "MissingParameter",
    ),
    (
        "query-bad-bool",
        "POST",
        "/",
        {**FORM, **sign_hint("ec2")},
        b"Action=DescribeInstances&Version=2016-11-15&DryRun=maybe",
        "InvalidParameterValue",
    ),
    (
        "query-bad-int-ec2",
        "POST",
        "/",
        {**FORM, **sign_hint("ec2")},
        b"Action=DescribeInstances&Version=2016-11-15&MaxResults=lots",
        "InvalidParameterValue",
    ),
    (
        "cbor-invalid",
        "POST",
        CW_PATH + "ListMetrics",
        CBOR,
        b"\xff\x00\x13garbage",
        "SerializationException",
    ),
    (
        "cbor-array-not-map",
        "POST",
        CW_PATH + "ListMetrics",
        CBOR,
        cbor2.dumps([1, 2, 3]),
        "SerializationException",
    ),
    (
        "cbor-wrong-type",
        "POST",
        CW_PATH + "ListMetrics",
        CBOR,
        cbor2.dumps({"Namespace": 7}),
        "SerializationException",
    ),
    (
        "cbor-unknown-op",
        "POST",
        CW_PATH + "Frobnicate",
        CBOR,
        cbor2.dumps({}),
        "UnknownOperationException",
    ),
    (
        "restjson-invalid-json",
        "POST",
        "/2015-03-31/functions",
        {"Content-Type": "application/json", **sign_hint("lambda")},
        b"{oops",
        "SerializationException",
    ),
    (
        "restjson-unknown-route",
        "GET",
        "/2015-03-31/no/such/route/here",
        sign_hint("lambda"),
        b"",
        None,
    ),
    (
        "restxml-malformed-xml",
        "PUT",
        "/some-bucket?tagging",
        {"Content-Type": "application/xml", **sign_hint("s3")},
        b"<Tagging><TagSet><Tag>",
        None,
    ),
    (
        "json-oversized-body",
        "POST",
        "/",
        sqs_target("SendMessage"),
        json.dumps(
            {"QueueUrl": "http://x/000000000000/bad-input-kept", "MessageBody": "x" * 1_100_000}
        ).encode(),
        "InvalidParameterValue",
    ),
    (
        "body-over-server-limit",
        "POST",
        "/",
        sqs_target("SendMessage"),
        b" " * (65 * 1024 * 1024),
        None,
    ),
    ("json-get-method", "GET", "/", sqs_target("ListQueues"), b"", None),
    # A lone UTF-16 surrogate escaped in JSON names no character: no UTF-8 key,
    # size or digest can be made of it.
    (
        "json-lone-surrogate",
        "POST",
        "/",
        ddb_target("PutItem"),
        b'{"TableName":"t","Item":{"pk":{"S":"\\ud800"}}}',
        "SerializationException",
    ),
    (
        "json-null-list-member",
        "POST",
        "/",
        ddb_target("BatchGetItem"),
        b'{"RequestItems":{"t":{"Keys":[null]}}}',
        "SerializationException",
    ),
    (
        "json-null-list-member-of-strings",
        "POST",
        "/",
        ddb_target("PutItem"),
        b'{"TableName":"t","Item":{"pk":{"S":"a"},"s":{"SS":[null]}}}',
        "SerializationException",
    ),
]


def call(endpoint: str, method: str, path: str, headers: dict, body: bytes):
    req = urllib.request.Request(endpoint + path, data=body or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_code(headers: dict, body: bytes) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    ctype = lower.get("content-type", "")
    if "cbor" in ctype:
        doc = cbor2.loads(body)
        return doc.get("__type", "").rsplit("#", 1)[-1]
    if "json" in ctype:
        doc = json.loads(body or b"{}")
        raw = doc.get("__type") or doc.get("code") or lower.get("x-amzn-errortype", "")
        return raw.split(":", 1)[0].rsplit("#", 1)[-1]
    text = body.decode("utf-8", "replace")
    start = text.find("<Code>")
    return text[start + 6 : text.find("</Code>")] if start >= 0 else ""


@pytest.fixture(scope="module")
def kept_queue(cloudlet_server):
    sqs = cloudlet_server.client("sqs")
    url = sqs.create_queue(QueueName="bad-input-kept")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="precious")
    return url


def test_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_request_gets_4xx_aws_error(cloudlet_server, kept_queue, case):
    _, method, path, headers, body, expected = case
    status, resp_headers, resp_body = call(cloudlet_server.endpoint, method, path, headers, body)
    assert 400 <= status < 500, (status, resp_body[:300])
    got = error_code(resp_headers, resp_body)
    assert got, f"no AWS error code in {resp_body[:300]!r}"
    if expected:
        assert got == expected, (got, resp_body[:300])
    status, _, _ = call(cloudlet_server.endpoint, "GET", "/_cloudlet/health", {}, b"")
    assert status == 200


def test_stored_data_survives_the_bad_input(cloudlet_server, kept_queue):
    for case in CASES:
        call(cloudlet_server.endpoint, *case[1:5])
    sqs = cloudlet_server.client("sqs")
    msgs = sqs.receive_message(QueueUrl=kept_queue, VisibilityTimeout=0)["Messages"]
    assert [m["Body"] for m in msgs] == ["precious"]


def test_expressions_nested_past_the_parsers_answer_400(cloudlet_server):
    """Parentheses nested deeper than a recursive parser goes: the request's fault,
    a 400 ValidationException, and the server goes on serving."""
    endpoint = cloudlet_server.endpoint
    table = {
        "TableName": "bad-input-deep",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    status, _, _ = call(
        endpoint, "POST", "/", ddb_target("CreateTable"), json.dumps(table).encode()
    )
    assert status == 200
    deep = "(" * 1500 + "a = :v" + ")" * 1500
    requests = [
        ("Scan", {"FilterExpression": deep}),
        (
            "UpdateItem",
            {
                "Key": {"pk": {"S": "k"}},
                "UpdateExpression": "SET a = " + "(" * 1500 + ":v" + ")" * 1500,
            },
        ),
    ]
    for op, params in requests:
        body = {
            "TableName": "bad-input-deep",
            "ExpressionAttributeValues": {":v": {"S": "x"}},
            **params,
        }
        status, headers, resp = call(
            endpoint, "POST", "/", ddb_target(op), json.dumps(body).encode()
        )
        assert status == 400, (op, status, resp[:300])
        assert error_code(headers, resp) == "ValidationException", resp[:300]
    status, _, _ = call(
        endpoint, "POST", "/", ddb_target("DescribeTable"), b'{"TableName":"bad-input-deep"}'
    )
    assert status == 200


def test_json_nested_200000_deep_answers_400_and_the_server_lives(cloudlet_server):
    """ScyllaDB Alternator's ``test_deeply_nested_put``: a body nested far past any
    parser's depth is refused, never a crash (orjson before 3.9.15 overflowed the C
    stack on it and took the process down: CVE-2024-27454)."""
    endpoint = cloudlet_server.endpoint
    depth = 200_000
    body = '{"TableName":"bad-input-deep","Item":{"a":' + '{"":' * depth + "{}" + "}" * depth + "}}"
    status, headers, resp = call(endpoint, "POST", "/", ddb_target("PutItem"), body.encode())
    assert status == 400, resp[:300]
    status, _, _ = call(endpoint, "GET", "/_cloudlet/health", {}, b"")
    assert status == 200


def test_dynamodb_takes_gzip_bodies_and_refuses_other_encodings(cloudlet_server):
    """ScyllaDB Alternator's ``test_compressed_request.py``, run against DynamoDB: a
    ``Content-Encoding: gzip`` body (one gzip member or several) is inflated; another
    encoding, or a body that is not gzip after all, is a 500 and writes nothing."""
    endpoint = cloudlet_server.endpoint
    ddb = cloudlet_server.client("dynamodb")
    ddb.create_table(
        TableName="bad-input-gzip",
        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def put(p: str, body_of, encoding: str) -> int:
        text = json.dumps({"TableName": "bad-input-gzip", "Item": {"p": {"S": p}}}).encode()
        headers = {**ddb_target("PutItem"), "Content-Encoding": encoding}
        return call(endpoint, "POST", "/", headers, body_of(text))[0]

    assert put("one", gzip.compress, "gzip") == 200
    assert put("two", lambda t: gzip.compress(t[:10]) + gzip.compress(t[10:]), "gzip") == 200
    assert put("plain", lambda t: t, "gzip") == 500
    assert put("garbage", lambda t: t, "garbage") == 500
    keys = {i["p"]["S"] for i in ddb.scan(TableName="bad-input-gzip")["Items"]}
    assert keys == {"one", "two"}


def test_dynamodb_refuses_a_request_past_16_mib(cloudlet_server):
    """DynamoDB's request size limit (Alternator's ``test_too_large_request_*``): 413."""
    body = b'{"TableName": "bad-input-deep", ' + b" " * (17 * 1024 * 1024) + b'"Item": {}}'
    status, _, _ = call(cloudlet_server.endpoint, "POST", "/", ddb_target("PutItem"), body)
    assert status == 413


def test_browser_sdks_get_cors_from_the_json_apis(cloudlet_server):
    """ScyllaDB Alternator's test_cors.py, modelled on DynamoDB: a request with ``Origin``
    gets ``Access-Control-Allow-Origin: *`` and the exposed headers; a preflight to the
    endpoint's root lets the asked method and headers through, cached; without
    ``Origin`` nothing changes."""
    endpoint = cloudlet_server.endpoint
    origin = {"Origin": "http://example.com"}
    asked = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-amz-target, x-amz-date",
    }
    status, headers, _ = call(endpoint, "OPTIONS", "/", asked, b"")
    lower = {k.lower(): v for k, v in headers.items()}
    assert status == 200
    assert lower["access-control-allow-origin"] == "*"
    assert lower["access-control-allow-methods"] == "POST"
    assert lower["access-control-allow-headers"] == asked["Access-Control-Request-Headers"]
    assert (
        "access-control-max-age" in lower
        and "x-amzn-requestid" in lower["access-control-expose-headers"].lower()
    )
    body = b'{"Limit": 1}'
    status, headers, _ = call(endpoint, "POST", "/", {**ddb_target("ListTables"), **origin}, body)
    lower = {k.lower(): v for k, v in headers.items()}
    assert status == 200 and lower["access-control-allow-origin"] == "*"
    assert "access-control-max-age" not in lower
    status, headers, _ = call(endpoint, "POST", "/", ddb_target("ListTables"), body)
    assert status == 200 and "access-control-allow-origin" not in {k.lower() for k in headers}
