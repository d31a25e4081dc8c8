"""DynamoDB's own words for authentication failures (--auth strict).

DynamoDB (and DynamoDB Streams, the same Coral front end) answers every
authentication failure with HTTP 400 and a ``com.amazon.coral.service#...Exception``,
where the query services (STS, IAM, SQS) say ``InvalidClientTokenId`` 403 and the
like. The texts are AWS's as users quote them (boto3#509, baopham/laravel-dynamodb#228,
aws/aws-sdk-js#254 and #2565, guregu/dynamo#68) and dynalite's test/connection.js,
checked against DynamoDB.
"""

from __future__ import annotations

import datetime
import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer

KEY, SECRET = "AKIDDDBAUTH", "ddb-s3cr3t"
ARGS = ["--root-access-key", KEY, "--root-secret-key", SECRET]
NO_RETRY = Config(retries={"total_max_attempts": 1})
CORAL = "com.amazon.coral.service#"
LIST_TABLES = "DynamoDB_20120810.ListTables"
INVALID_TOKEN = "The security token included in the request is invalid."
MISSING = "Request is missing Authentication Token"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@pytest.fixture(scope="module")
def server():
    server = CloudletServer.start(auth="strict", extra_args=ARGS)
    yield server
    server.stop()


def _client(server: CloudletServer, service: str = "dynamodb", **creds: Any) -> Any:
    config = (
        NO_RETRY.merge(Config(signature_version=UNSIGNED)) if creds.get("unsigned") else NO_RETRY
    )
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds.get("key", KEY),
        aws_secret_access_key=creds.get("secret", SECRET),
        aws_session_token=creds.get("token"),
        config=config,
    )


def _error(exc: pytest.ExceptionInfo) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def _post(
    server: CloudletServer, headers: dict[str, str], path: str = "/", target: str = LIST_TABLES
) -> tuple[int, dict[str, Any]]:
    """A raw POST of ``{}`` to ``target``: (status, the JSON error document)."""
    sent = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target, **headers}
    req = urllib.request.Request(server.endpoint + path, data=b"{}", headers=sent, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _signed(
    server: CloudletServer,
    *,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    minutes: float = 0,
    target: str = LIST_TABLES,
) -> tuple[int, dict[str, Any]]:
    """``_post`` signed with SigV4 as botocore signs, ``minutes`` off our clock."""
    url = server.endpoint + "/"
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    req = AWSRequest(method="POST", url=url, data=b"{}", headers=headers)
    when = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    when += datetime.timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(Credentials(key, secret, token), "dynamodb", "us-east-1").add_auth(req)
    return _post(server, dict(req.headers.items()), target=target)


def test_right_keys_work(server):
    assert "TableNames" in _client(server).list_tables()


def test_unknown_access_key_is_unrecognized_client(server):
    with pytest.raises(ClientError) as exc:
        _client(server, key="AKIDNOBODY").list_tables()
    assert _error(exc) == ("UnrecognizedClientException", 400, INVALID_TOKEN)
    assert _signed(server, key="AKIDNOBODY") == (
        400,
        {"__type": CORAL + "UnrecognizedClientException", "message": INVALID_TOKEN},
    )


def test_wrong_secret_is_invalid_signature(server):
    with pytest.raises(ClientError) as exc:
        _client(server, secret="wrong").list_tables()
    code, status, message = _error(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith(MISMATCH)
    status, body = _signed(server, secret="wrong")
    assert (status, body["__type"]) == (400, CORAL + "InvalidSignatureException")
    # as DynamoDB's, the canonical request and string to sign follow (boto/boto#1552)
    assert body["message"].startswith(MISMATCH + "\n\nThe Canonical String for this request")


def test_stale_signature_is_invalid_signature(server):
    status, body = _signed(server, minutes=-20)
    assert (status, body["__type"]) == (400, CORAL + "InvalidSignatureException")
    assert re.fullmatch(
        r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
        r"\(\d{8}T\d{6}Z - 15 min\.\)",
        body["message"],
    ), body["message"]


def test_future_signature_is_invalid_signature(server):
    status, body = _signed(server, minutes=20)
    assert (status, body["__type"]) == (400, CORAL + "InvalidSignatureException")
    assert re.fullmatch(
        r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z "
        r"\(\d{8}T\d{6}Z \+ 15 min\.\)",
        body["message"],
    ), body["message"]


def test_unsigned_request_is_missing_authentication_token(server):
    with pytest.raises(ClientError) as exc:
        _client(server, unsigned=True).list_tables()
    assert _error(exc) == ("MissingAuthenticationTokenException", 400, MISSING)
    assert _post(server, {}) == (
        400,
        {"__type": CORAL + "MissingAuthenticationTokenException", "message": MISSING},
    )


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"Authorization": "AWS4"}, "/"),
        ({"Authorization": "X"}, "/?X-Amz-Algorith"),
        ({}, "/?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d"),
    ],
    ids=["aws4-without-dash", "unknown-scheme", "presigned-without-algorithm"],
)
def test_no_sigv4_signature_is_missing_authentication_token(server, headers, path):
    """dynalite's connection.js: what is neither an ``AWS4-`` header nor a presigned
    query with ``X-Amz-Algorithm`` is no signature at all to DynamoDB."""
    assert _post(server, headers, path) == (
        400,
        {"__type": CORAL + "MissingAuthenticationTokenException", "message": MISSING},
    )


def test_header_and_presigned_query_is_invalid_signature(server):
    assert _post(server, {"Authorization": "X"}, "/?X-Amz-Algorithm") == (
        400,
        {
            "__type": CORAL + "InvalidSignatureException",
            "message": "Found both 'X-Amz-Algorithm' as a query-string param and "
            "'Authorization' as HTTP header.",
        },
    )


def test_malformed_sigv4_header_is_incomplete_signature(server):
    status, body = _post(server, {"Authorization": "AWS4-HMAC-SHA256 Credential=ABCDEF"})
    assert (status, body["__type"]) == (400, CORAL + "IncompleteSignatureException")
    assert body["message"].startswith("Authorization header requires ")
    assert body["message"].endswith("Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF")


def test_bad_session_token_is_unrecognized_client(server):
    sts = _client(server, "sts")
    creds = sts.get_session_token()["Credentials"]
    temp = {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"]}
    assert "TableNames" in _client(server, token=creds["SessionToken"], **temp).list_tables()
    # without the final period when the token is what fails (dynalite's index.js,
    # laravel-dynamodb#228, PynamoDB#603)
    text = INVALID_TOKEN.rstrip(".")
    for token in ("not-the-token", None):
        with pytest.raises(ClientError) as exc:
            _client(server, token=token, **temp).list_tables()
        assert _error(exc) == ("UnrecognizedClientException", 400, text)
    assert _signed(server, token="not-the-token", **temp) == (
        400,
        {"__type": CORAL + "UnrecognizedClientException", "message": text},
    )


def test_streams_answers_as_dynamodb(server):
    with pytest.raises(ClientError) as exc:
        _client(server, "dynamodbstreams", key="AKIDNOBODY").list_streams()
    assert _error(exc) == ("UnrecognizedClientException", 400, INVALID_TOKEN)
    status, body = _signed(server, key="AKIDNOBODY", target="DynamoDBStreams_20120810.ListStreams")
    assert (status, body["message"]) == (400, INVALID_TOKEN)
    assert body["__type"].endswith("#UnrecognizedClientException")
    with pytest.raises(ClientError) as exc:
        _client(server, "dynamodbstreams", unsigned=True).list_streams()
    assert _error(exc) == ("MissingAuthenticationTokenException", 400, MISSING)


def test_query_services_keep_their_codes(server):
    with pytest.raises(ClientError) as exc:
        _client(server, "sqs", key="AKIDNOBODY").list_queues()
    assert _error(exc)[:2] == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError) as exc:
        _client(server, "sts", secret="wrong").get_caller_identity()
    assert _error(exc)[:2] == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as exc:
        _client(server, "sts", unsigned=True).get_caller_identity()
    assert _error(exc)[:2] == ("MissingAuthenticationToken", 403)


def _expire_soon(data_dir: Path, access_key: str, seconds: float) -> None:
    """Bring the stored expiry of STS key ``access_key`` to ``seconds`` from now (the
    server is stopped: no client can ask for credentials this short-lived)."""
    (path,) = data_dir.rglob("sts.sqlite3")
    conn = sqlite3.connect(path)
    try:
        (doc,) = conn.execute("SELECT doc FROM sessions WHERE id = ?", (access_key,)).fetchone()
        stored = json.loads(doc)
        stored["expires"] = time.time() + seconds
        conn.execute("UPDATE sessions SET doc = ? WHERE id = ?", (json.dumps(stored), access_key))
        conn.commit()
    finally:
        conn.close()


def test_expired_session_is_expired_token(tmp_path):
    server = CloudletServer.start(auth="strict", data_dir=tmp_path, extra_args=ARGS)
    try:
        creds = _client(server, "sts").get_session_token()["Credentials"]
    finally:
        server.stop()
    _expire_soon(tmp_path, creds["AccessKeyId"], 8)
    server = CloudletServer.start(auth="strict", data_dir=tmp_path, extra_args=ARGS)
    try:
        temp = {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"]}
        ddb = _client(server, token=creds["SessionToken"], **temp)
        deadline = time.monotonic() + 30
        while True:  # good until it expires; STS forgets it a minute later
            try:
                ddb.list_tables()
            except ClientError as exc:
                error = exc.response
                break
            assert time.monotonic() < deadline, "the session never expired"
            time.sleep(0.5)
        code, status = error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]
        text = "The security token included in the request is expired"
        assert (code, status, error["Error"]["Message"]) == ("ExpiredTokenException", 400, text)
        assert _signed(server, token=creds["SessionToken"], **temp) == (
            400,
            {"__type": CORAL + "ExpiredTokenException", "message": text},
        )
    finally:
        server.stop()
