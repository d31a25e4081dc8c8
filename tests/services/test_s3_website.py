"""Static website hosting: configured with boto3, pages fetched over HTTP as a browser
would from the bucket's website address (``<bucket>.s3-website.localhost``)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from tests.services.s3_helpers import NO_RETRIES, bname


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


def _get(server, bucket: str, path: str, method: str = "GET", host_form: str = "s3-website"):
    url = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": f"{bucket}.{host_form}.localhost:{url.port}"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_website_serves_index_and_error_documents(cloudlet_server, s3):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    status, _, body = _get(cloudlet_server, bucket, "/")
    assert status == 404 and b"NoSuchWebsiteConfiguration" in body

    html = "text/html"
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType=html)
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs", ContentType=html)
    s3.put_object(Bucket=bucket, Key="style.css", Body=b"body{}", ContentType="text/css")
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"missing!", ContentType=html)
    s3.put_object(Bucket=bucket, Key="old", Body=b"", WebsiteRedirectLocation="/docs/")
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "404.html"},
        },
    )
    status, headers, body = _get(cloudlet_server, bucket, "/")
    assert (status, body, headers["content-type"]) == (200, b"<h1>home</h1>", html)
    assert _get(cloudlet_server, bucket, "/style.css")[2] == b"body{}"
    assert _get(cloudlet_server, bucket, "/docs/")[2] == b"docs"
    status, headers, _ = _get(cloudlet_server, bucket, "/docs")
    assert status == 302 and headers["location"] == "/docs/"
    status, headers, _ = _get(cloudlet_server, bucket, "/old")
    assert status == 301 and headers["location"] == "/docs/"
    status, _, body = _get(cloudlet_server, bucket, "/nope.html")
    assert (status, body) == (404, b"missing!")
    status, headers, body = _get(cloudlet_server, bucket, "/", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "13"
    assert _get(cloudlet_server, bucket, "/", method="PUT")[0] == 405
    # AWS's regional spelling works too; the API on the same bucket is untouched.
    assert (
        _get(cloudlet_server, bucket, "/", host_form="s3-website-us-east-1")[2] == b"<h1>home</h1>"
    )
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>home</h1>"


def test_website_redirect_all_and_missing_bucket(cloudlet_server, s3):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}
        },
    )
    status, headers, _ = _get(cloudlet_server, bucket, "/a/b")
    assert status == 301 and headers["location"] == "https://example.com/a/b"
    status, _, body = _get(cloudlet_server, bname("none"), "/")
    assert status == 404 and b"NoSuchBucket" in body
    # No error document configured: S3's HTML error page.
    other = bname("site")
    s3.create_bucket(Bucket=other)
    s3.put_bucket_website(
        Bucket=other, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    status, headers, body = _get(cloudlet_server, other, "/x")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"NoSuchKey" in body
