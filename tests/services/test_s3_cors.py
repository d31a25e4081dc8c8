"""CORS with real clients: rules via boto3, preflights as a browser sends them."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

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
    assert status == 404 and b"NoSuchBucket" in body


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
