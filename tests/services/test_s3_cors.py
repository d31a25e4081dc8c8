"""CORS with real clients: rules via boto3, preflights as a browser sends them."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error

RULES = [
    {
        "AllowedOrigins": ["https://app.example.com", "http://*.example.org"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["content-type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("cors")
    s3.create_bucket(Bucket=name)
    return name


def _request(endpoint: str, method: str, path: str, headers: dict[str, str]):
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_cors_configuration(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert error(exc) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    bad = [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": bad})
    assert error(exc) == ("InvalidRequest", 400)
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert error(exc)[0] == "NoSuchCORSConfiguration"


def test_preflight(cloudlet_server, s3, bucket):
    endpoint = cloudlet_server.endpoint
    ask = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Owner",
    }
    status, _, body = _request(endpoint, "OPTIONS", f"/{bucket}/file.txt", ask)
    assert status == 403 and b"CORS is not enabled for this bucket" in body

    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    status, headers, _ = _request(endpoint, "OPTIONS", f"/{bucket}/file.txt", ask)
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-owner"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"

    # Wildcard origin pattern, and the "*" rule answers "*".
    wild = {"Origin": "http://sub.example.org", "Access-Control-Request-Method": "GET"}
    status, headers, _ = _request(endpoint, "OPTIONS", f"/{bucket}", wild)
    assert status == 200 and headers["access-control-allow-origin"] == "http://sub.example.org"
    anyone = {"Origin": "https://else.test", "Access-Control-Request-Method": "HEAD"}
    status, headers, _ = _request(endpoint, "OPTIONS", f"/{bucket}/x", anyone)
    assert status == 200 and headers["access-control-allow-origin"] == "*"

    # No rule allows this method / header / origin.
    for denied in (
        {**ask, "Access-Control-Request-Method": "DELETE"},
        {**ask, "Access-Control-Request-Headers": "authorization"},
        {**ask, "Origin": "https://evil.test"},
    ):
        status, _, body = _request(endpoint, "OPTIONS", f"/{bucket}/file.txt", denied)
        assert status == 403 and b"<Code>AccessForbidden</Code>" in body
        assert b"This CORS request is not allowed" in body
    status, _, body = _request(endpoint, "OPTIONS", f"/{bucket}/file.txt", {"Origin": "x"})
    assert status == 400
    status, _, body = _request(endpoint, "OPTIONS", f"/{bname('none')}/k", ask)
    assert status == 403 and b"CORSResponse: Bucket not found" in body


def test_preflight_virtual_host(cloudlet_server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    host = f"{bucket}.s3.localhost.localstack.cloud:{cloudlet_server.port}"
    ask = {
        "Host": host,
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
    }
    status, headers, _ = _request(cloudlet_server.endpoint, "OPTIONS", "/k", ask)
    assert status == 200 and headers["access-control-allow-methods"] == "GET, PUT"


def test_cors_headers_on_ordinary_responses(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")

    def add_origin(request, **_):
        request.headers["Origin"] = "https://app.example.com"

    s3.meta.events.register("before-sign.s3.GetObject", add_origin)
    got = s3.get_object(Bucket=bucket, Key="k")
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert got["Body"].read() == b"hello"
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    # Without a matching rule (DELETE is not allowed): no CORS headers.
    s3.meta.events.register("before-sign.s3.DeleteObject", add_origin)
    out = s3.delete_object(Bucket=bucket, Key="k")
    assert "access-control-allow-origin" not in out["ResponseMetadata"]["HTTPHeaders"]


def _error(body: bytes) -> dict[str, str]:
    """The fields of an S3 XML error body, without the ids."""
    fields = {e.tag: e.text or "" for e in ElementTree.fromstring(body)}
    return {k: v for k, v in fields.items() if k not in ("RequestId", "HostId")}


# Source for the two tests below: LocalStack's AWS-recorded snapshots
# (tests/aws/services/s3/test_s3_cors.snapshot.json, recorded 31-07-2023):
# test_cors_http_options_non_existent_bucket and test_cors_http_options_no_config.
NO_ORIGIN = {
    "Code": "BadRequest",
    "Message": "Insufficient information. Origin request header needed.",
}


def test_preflight_to_a_missing_bucket(cloudlet_server):
    endpoint = cloudlet_server.endpoint
    path = f"/{bname('fake-bucket')}/test-cors-options-no-bucket"
    status, _, body = _request(endpoint, "OPTIONS", path, {})
    assert (status, _error(body)) == (400, NO_ORIGIN)
    status, _, body = _request(endpoint, "OPTIONS", path, {"Origin": "whatever"})
    assert status == 403
    assert _error(body) == {
        "Code": "AccessForbidden",
        "Message": "CORSResponse: Bucket not found",
        "Method": "OPTIONS",
        "ResourceType": "BUCKET",
    }


def test_preflight_without_cors_configuration(cloudlet_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="test-cors-options-no-config", Body=b"cors-test")
    endpoint = cloudlet_server.endpoint
    path = f"/{bucket}/test-cors-options-no-config"
    status, _, body = _request(endpoint, "OPTIONS", path, {})
    assert (status, _error(body)) == (400, NO_ORIGIN)
    not_enabled = {
        "Code": "AccessForbidden",
        "Message": "CORSResponse: CORS is not enabled for this bucket.",
        "ResourceType": "BUCKET",  # for a key's URL too
    }
    ask = {"Origin": "whatever", "Access-Control-Request-Method": "PUT"}
    status, _, body = _request(endpoint, "OPTIONS", path, ask)
    assert (status, _error(body)) == (403, {**not_enabled, "Method": "PUT"})
    # No Access-Control-Request-Method: the same answer, naming OPTIONS.
    status, _, body = _request(endpoint, "OPTIONS", path, {"Origin": "whatever"})
    assert (status, _error(body)) == (403, {**not_enabled, "Method": "OPTIONS"})


def test_website_endpoint_answers_with_its_own_bucket_cors(cloudlet_server, s3, bucket):
    # A website endpoint's path is a key (the S3 user guide's "Website endpoints"), so
    # only the website bucket's CORS rules can apply to its responses.
    site = bname("site")
    s3.create_bucket(Bucket=site)
    s3.put_object(Bucket=site, Key="index.html", Body=b"home", ContentType="text/html")
    s3.put_bucket_website(
        Bucket=site, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    rule = {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=site, CORSConfiguration={"CORSRules": [rule]})
    # Another bucket allowing every origin and method, named by a website path.
    anyone = ["GET", "PUT", "HEAD", "POST", "DELETE"]
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": anyone}]},
    )
    port = cloudlet_server.port
    host = {"Host": f"{site}.s3-website.localhost:{port}"}
    ask = {**host, "Origin": "https://app.example.com"}
    status, headers, body = _request(cloudlet_server.endpoint, "GET", "/", ask)
    assert (status, body) == (200, b"home")
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET"
    # A missing key named like the other bucket: the site's rule, never the other's "*".
    status, headers, _ = _request(cloudlet_server.endpoint, "GET", f"/{bucket}", ask)
    assert status == 404
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET"
    evil = {**host, "Origin": "http://evil"}
    status, headers, _ = _request(cloudlet_server.endpoint, "GET", f"/{bucket}", evil)
    assert status == 404 and not any(h.startswith("access-control-") for h in headers)


# Source for the two tests below: LocalStack's AWS-recorded snapshots
# (tests/aws/services/s3/test_s3_cors.snapshot.json): test_cors_match_methods
# (recorded 17-03-2025) and test_cors_match_headers (recorded 02-01-2024).
ORIGIN = "https://localhost:4200"


def _cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "vary"}


def _get_op_headers(rule: dict) -> dict[str, str]:
    """What AWS sends on a GET that the (non-wildcard) rule allows (``get-op``)."""
    return {
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": ", ".join(rule["AllowedMethods"]),
        "access-control-allow-origin": ORIGIN,
        "access-control-max-age": str(rule["MaxAgeSeconds"]),
        "vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def test_actual_request_is_matched_with_its_access_control_request_method(
    cloudlet_server, s3, bucket
):
    """An ordinary GET carrying ``Access-Control-Request-Method`` is matched as a
    preflight asking for that method. Source: LocalStack's AWS-recorded
    ``test_cors_match_methods`` (``opt-get``, ``get-wrong-op``, ``get-op``,
    ``opt-put``, ``put-op``)."""
    rule = {
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["GET"],
        "MaxAgeSeconds": 3000,
        "AllowedHeaders": ["*"],
    }
    s3.put_object(Bucket=bucket, Key="test-cors-method", Body=b"test-cors")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    endpoint, path = cloudlet_server.endpoint, f"/{bucket}/test-cors-method"

    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    status, headers, _ = _request(endpoint, "OPTIONS", path, ask)
    assert (status, _cors_headers(headers)) == (200, _get_op_headers(rule))
    # get-wrong-op: 200 and the object, but no CORS header (nor Vary) at all.
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    status, headers, body = _request(endpoint, "GET", path, ask)
    assert (status, body, _cors_headers(headers)) == (200, b"test-cors", {})
    # get-op: the same GET without the preflight header.
    status, headers, body = _request(endpoint, "GET", path, {"Origin": ORIGIN})
    assert (status, body) == (200, b"test-cors")
    assert _cors_headers(headers) == _get_op_headers(rule)
    # opt-put / put-op: PUT is not allowed, asked for or done.
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    status, _, body = _request(endpoint, "OPTIONS", f"{path}new", ask)
    assert status == 403 and _error(body)["Method"] == "PUT"
    status, headers, _ = _request(endpoint, "PUT", f"{path}new", {"Origin": ORIGIN})
    assert (status, _cors_headers(headers)) == (200, {})


def test_actual_request_is_matched_with_its_access_control_request_headers(
    cloudlet_server, s3, bucket
):
    """An ordinary GET carrying ``Access-Control-Request-Headers`` is matched with
    those headers (as a preflight is), while headers it sends itself are never
    matched. Source: LocalStack's AWS-recorded ``test_cors_match_headers``
    (``opt-get-non-allowed``, ``opt-get-allowed``, ``get-non-allowed-with-acl``,
    ``get-non-allowed``)."""
    rule = {
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["GET"],
        "MaxAgeSeconds": 3000,
        "AllowedHeaders": [
            "x-amz-expected-bucket-owner",
            "x-amz-server-side-encryption-customer-algorithm",
            "x-AMZ-server-SIDE-encryption",
        ],
    }
    s3.put_object(Bucket=bucket, Key="test-cors-method", Body=b"test-cors")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    endpoint, path = cloudlet_server.endpoint, f"/{bucket}/test-cors-method"

    ask = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-amz-request-payer",
    }
    status, _, body = _request(endpoint, "OPTIONS", path, ask)
    assert status == 403 and _error(body)["Message"] == _NOT_ALLOWED_MESSAGE
    ask["Access-Control-Request-Headers"] = (
        "x-AMZ-expected-BUCKET-owner, x-amz-server-side-encryption"
    )
    status, headers, _ = _request(endpoint, "OPTIONS", path, ask)
    assert status == 200
    assert headers["access-control-allow-headers"] == (
        "x-amz-expected-bucket-owner, x-amz-server-side-encryption"
    )
    # get-non-allowed-with-acl: 200 and the object, no CORS header.
    ask = {"Origin": ORIGIN, "Access-Control-Request-Headers": "x-amz-request-payer"}
    status, headers, body = _request(endpoint, "GET", path, ask)
    assert (status, body, _cors_headers(headers)) == (200, b"test-cors", {})
    # get-non-allowed: the header itself, not requested: the rule applies.
    ask = {"Origin": ORIGIN, "x-amz-request-payer": "requester"}
    status, headers, body = _request(endpoint, "GET", path, ask)
    assert (status, body) == (200, b"test-cors")
    assert _cors_headers(headers) == _get_op_headers(rule)


_NOT_ALLOWED_MESSAGE = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
    "of Origin, request method / Access-Control-Request-Method or Access-Control-Request-"
    "Headers are not whitelisted by the resource's CORS spec."
)
