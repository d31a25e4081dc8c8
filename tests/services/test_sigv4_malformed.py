"""An incomplete SigV4 signature described in AWS's words (--auth strict).

AWS's front end (every service but S3) checks a signature's syntax before it looks at
the key, and names every part that is missing at once, echoing the header or asking to
re-examine the query string. The exact bodies, with their CRC-32s, are dynalite's
test/connection.js, checked against DynamoDB; SES answers the same words
(brendanhay/amazonka#316), SSM too (aws/aws-sdk-js#4285): only the error code is the
service's own. S3 words these failures its own way and keeps doing so.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer

KEY, SECRET = "AKIDSIGV4TEXT", "sigv4-s3cr3t"
ARGS = ["--root-access-key", KEY, "--root-secret-key", SECRET]
NO_RETRY = Config(retries={"total_max_attempts": 1})
INCOMPLETE = "com.amazon.coral.service#IncompleteSignatureException"
LIST_TABLES = "DynamoDB_20120810.ListTables"
NO_CREDENTIAL = "Authorization header requires 'Credential' parameter. "
NO_SIGNATURE = "Authorization header requires 'Signature' parameter. "
NO_SIGNED_HEADERS = "Authorization header requires 'SignedHeaders' parameter. "
NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
EVERY_QUERY_PART = (
    "AWS query-string parameters must include 'X-Amz-Algorithm'. "
    "AWS query-string parameters must include 'X-Amz-Credential'. "
    "AWS query-string parameters must include 'X-Amz-Signature'. "
    "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
    "AWS query-string parameters must include 'X-Amz-Date'. "
    "Re-examine the query-string parameters."
)
NO_SIGNED_HEADERS_QUERY = (
    "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
    "Re-examine the query-string parameters."
)
X_AMZ_DATE = {"X-Amz-Date": "20260101T000000Z"}


@pytest.fixture(scope="module")
def server():
    server = CloudletServer.start(auth="strict", extra_args=ARGS)
    yield server
    server.stop()


def _send(
    server: CloudletServer, headers: dict[str, str], path: str, body: bytes, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    """A raw request: (status, headers, body)."""
    req = urllib.request.Request(server.endpoint + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def _post_dynamodb(
    server: CloudletServer, headers: dict[str, str], path: str = "/"
) -> tuple[int, dict[str, str], bytes]:
    sent = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": LIST_TABLES, **headers}
    return _send(server, sent, path, b"{}")


def _query_error(
    server: CloudletServer, headers: dict[str, str], path: str, action: str
) -> tuple[int, str, str]:
    """A raw query-protocol POST of ``action``: (status, error code, message)."""
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    status, _, body = _send(server, sent, path, f"Action={action}".encode())
    error = ET.fromstring(body).find(".//{*}Error")
    assert error is not None, body
    return status, error.findtext("{*}Code") or "", error.findtext("{*}Message") or ""


@pytest.mark.parametrize(
    ("headers", "path", "message", "crc32"),
    [
        (
            {"Authorization": "AWS4-"},
            "/",
            NO_CREDENTIAL + NO_SIGNATURE + NO_SIGNED_HEADERS + NO_DATE + "Authorization=AWS4-",
            1828866742,
        ),
        (
            {"Authorization": "AWS4- Signature=b Credential=a", "Date": "a"},
            "/",
            NO_SIGNED_HEADERS + "Authorization=AWS4- Signature=b Credential=a",
            15336762,
        ),
        (
            {"Authorization": "AWS4- Signature=b,Credential=a", "Date": "a"},
            "/",
            NO_SIGNED_HEADERS + "Authorization=AWS4- Signature=b,Credential=a",
            1159703774,
        ),
        (
            {"Authorization": "AWS4- Signature=b, Credential=a", "Date": "a"},
            "/",
            NO_SIGNED_HEADERS + "Authorization=AWS4- Signature=b, Credential=a",
            164353342,
        ),
        ({}, "/?X-Amz-Algorithm", EVERY_QUERY_PART, 2900502663),
        (
            {},
            "/?X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d",
            NO_SIGNED_HEADERS_QUERY,
            3712057481,
        ),
    ],
    ids=[
        "aws4-dash-alone",
        "no-signed-headers-spaces",
        "no-signed-headers-comma",
        "no-signed-headers-comma-space",
        "empty-algorithm-query",
        "query-without-signed-headers",
    ],
)
def test_dynamodb_names_every_missing_part(server, headers, path, message, crc32):
    """dynalite's connection.js: the body, byte for byte (its CRC-32 as recorded)."""
    status, sent_headers, body = _post_dynamodb(server, headers, path)
    assert (status, json.loads(body)) == (400, {"__type": INCOMPLETE, "message": message})
    assert zlib.crc32(body) == int(sent_headers["x-amz-crc32"]) == crc32


def test_dynamodb_checks_the_parts_before_the_key(server):
    """A credential of the right shape does not get the key looked up while parts are
    missing (the same words SES answers: brendanhay/amazonka#316)."""
    header = "AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20260101/us-east-1/dynamodb/aws4_request"
    status, _, body = _post_dynamodb(server, {"Authorization": header, **X_AMZ_DATE})
    message = NO_SIGNATURE + NO_SIGNED_HEADERS + "Authorization=" + header
    assert (status, json.loads(body)) == (400, {"__type": INCOMPLETE, "message": message})


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders",
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization "
            "header: 'AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders'.",
        ),
        (
            "AWS4-HMAC-SHA25 Credential=a/b/c/d/e, SignedHeaders=host, Signature=b",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA25' (only AWS4-HMAC-SHA256 for now). ",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=b",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term, got 'a/b/c/d'",
        ),
    ],
    ids=["missing-equal-sign", "unknown-algorithm", "four-element-credential"],
)
def test_dynamodb_words_a_broken_header_as_aws_does(server, header, message):
    """The further texts dynalite's index.js records from DynamoDB."""
    status, _, body = _post_dynamodb(server, {"Authorization": header, **X_AMZ_DATE})
    assert (status, json.loads(body)) == (400, {"__type": INCOMPLETE, "message": message})


def _client(server: CloudletServer, service: str, rewrite: Callable[[str], str]) -> Any:
    """A boto3 client whose signed Authorization header goes out as ``rewrite`` makes it."""
    client = boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=NO_RETRY,
    )

    def _rewrite(request: Any, **_: Any) -> None:
        value = request.headers["Authorization"]
        if isinstance(value, bytes):
            value = value.decode()
        request.headers["Authorization"] = rewrite(value)

    client.meta.events.register(
        f"before-send.{client.meta.service_model.service_id.hyphenize()}", _rewrite
    )
    return client


def _credential_only(value: str) -> str:
    return value.split(",")[0]


def test_sts_names_every_missing_part_with_its_own_code(server):
    """boto3's own header with only its Credential left: SES's answer in amazonka#316."""
    sts = _client(server, "sts", _credential_only)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    error = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "IncompleteSignature"
    header = rf"AWS4-HMAC-SHA256 Credential={KEY}/\d{{8}}/us-east-1/sts/aws4_request"
    pattern = re.escape(NO_SIGNATURE + NO_SIGNED_HEADERS + "Authorization=") + header
    assert re.fullmatch(pattern, error["Message"]), error["Message"]


def test_dynamodb_from_boto3(server):
    ddb = _client(server, "dynamodb", _credential_only)
    with pytest.raises(ClientError) as exc:
        ddb.list_tables()
    error = exc.value.response["Error"]
    assert error["Code"] == "IncompleteSignatureException"
    assert error["Message"].startswith(NO_SIGNATURE + NO_SIGNED_HEADERS + "Authorization=")


@pytest.mark.parametrize(
    ("action", "headers", "path", "message"),
    [
        (
            "GetCallerIdentity",
            {"Authorization": "AWS4- Signature=b Credential=a", "Date": "a"},
            "/",
            NO_SIGNED_HEADERS + "Authorization=AWS4- Signature=b Credential=a",
        ),
        ("ListQueues", {}, "/?X-Amz-Algorithm", EVERY_QUERY_PART),
        (
            "ListQueues",
            {"Authorization": "Bearer eyJ0eXAi", **X_AMZ_DATE},
            "/",
            NO_CREDENTIAL + NO_SIGNATURE + NO_SIGNED_HEADERS + "Authorization=Bearer eyJ0eXAi",
        ),
    ],
    ids=["sts-header", "sqs-query", "sqs-other-scheme"],
)
def test_query_services_say_the_same_with_their_code(server, action, headers, path, message):
    """STS and SQS: ``IncompleteSignature`` 400 with the front end's words. A header of
    another scheme has no parameters at all (SSM's answer to ``AWS key:signature`` in
    aws/aws-sdk-js#4285; API Gateway's to a bearer token in aws/chalice#828)."""
    assert _query_error(server, headers, path, action) == (400, "IncompleteSignature", message)


def test_s3_keeps_its_own_words(server):
    status, _, body = _send(server, {"Authorization": "AWS4-"}, "/", b"", method="GET")
    doc = ET.fromstring(body)
    assert (status, doc.findtext("Code"), doc.findtext("Message")) == (
        400,
        "AuthorizationHeaderMalformed",
        "Unsupported Authorization Type: AWS4-",
    )
    path = "/?X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d"
    status, _, body = _send(server, {}, path, b"", method="GET")
    doc = ET.fromstring(body)
    assert (status, doc.findtext("Code")) == (400, "AuthorizationQueryParametersError")
    assert doc.findtext("Message") == (
        "X-Amz-Credential must name an access key, a date, a region, a service and aws4_request"
    )
