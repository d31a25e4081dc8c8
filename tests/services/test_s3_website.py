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


def _get(
    server,
    bucket: str,
    path: str,
    method: str = "GET",
    host_form: str = "s3-website",
    headers: dict[str, str] | None = None,
):
    url = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        host = {"Host": f"{bucket}.{host_form}.localhost:{url.port}"}
        conn.request(method, path, headers={**host, **(headers or {})})
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
    assert b"NoSuchKey" in body and b"Custom Error Document" not in body


def _site(s3, bucket: str, rules: list[dict]) -> None:
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "404.html"},
            "RoutingRules": rules,
        },
    )


def test_website_routing_rules_redirect_in_order(cloudlet_server, s3):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="docs/a.html", Body=b"old docs")
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"missing!")
    s3.put_object(Bucket=bucket, Key="here.html", Body=b"here")
    rules = [
        # A prefix rule redirects whether the object exists or not.
        {
            "Condition": {"KeyPrefixEquals": "docs/"},
            "Redirect": {"ReplaceKeyPrefixWith": "documents/"},
        },
        {
            "Condition": {"KeyPrefixEquals": "docs/"},
            "Redirect": {"ReplaceKeyWith": "never.html"},
        },
        {"Condition": {"KeyPrefixEquals": "moved"}, "Redirect": {"ReplaceKeyWith": "here.html"}},
        # Error rules replace the error page, optionally for one prefix only.
        {
            "Condition": {"KeyPrefixEquals": "img/", "HttpErrorCodeReturnedEquals": "404"},
            "Redirect": {
                "HostName": "cdn.example.com",
                "Protocol": "https",
                "HttpRedirectCode": "302",
                "ReplaceKeyPrefixWith": "fallback/",
            },
        },
        {
            "Condition": {"HttpErrorCodeReturnedEquals": "404"},
            "Redirect": {"HostName": "errors.example.com", "ReplaceKeyPrefixWith": "report/"},
        },
    ]
    _site(s3, bucket, rules)
    host = f"{bucket}.s3-website.localhost:{urlsplit(cloudlet_server.endpoint).port}"
    status, headers, _ = _get(cloudlet_server, bucket, "/docs/a.html")
    assert (status, headers["location"]) == (301, f"http://{host}/documents/a.html")
    status, headers, _ = _get(cloudlet_server, bucket, "/docs/")
    assert (status, headers["location"]) == (301, f"http://{host}/documents/")
    status, headers, _ = _get(cloudlet_server, bucket, "/moved/away%20now", method="HEAD")
    assert (status, headers["location"]) == (301, f"http://{host}/here.html")
    status, headers, _ = _get(cloudlet_server, bucket, "/img/cat.png")
    assert (status, headers["location"]) == (302, "https://cdn.example.com/fallback/cat.png")
    status, headers, _ = _get(cloudlet_server, bucket, "/lost%20page.html")
    assert (status, headers["location"]) == (
        301,
        "http://errors.example.com/report/lost%20page.html",
    )
    # Objects that exist are served as before; the configuration reads back whole.
    assert _get(cloudlet_server, bucket, "/here.html")[:3:2] == (200, b"here")
    assert s3.get_bucket_website(Bucket=bucket)["RoutingRules"] == rules

    # Without an error rule, a missing page is the error document again.
    _site(s3, bucket, rules[:3])
    assert _get(cloudlet_server, bucket, "/lost.html")[:3:2] == (404, b"missing!")
    # A rule with no condition redirects every request.
    _site(s3, bucket, [{"Redirect": {"HostName": "example.org"}}])
    status, headers, _ = _get(cloudlet_server, bucket, "/here.html")
    assert (status, headers["location"]) == (301, "http://example.org/here.html")


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        (
            {
                "RedirectAllRequestsTo": {"HostName": "example.com"},
                "IndexDocument": {"Suffix": "index.html"},
            },
            "InvalidArgument",
            "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
        ),
        (
            {"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "ftp"}},
            "InvalidRequest",
            "Invalid protocol, protocol can be http or https. If not defined the protocol will "
            "be selected automatically.",
        ),
        (
            {"RoutingRules": [{"Redirect": {"HostName": "example.com"}}]},
            "InvalidArgument",
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ),
        (
            {"Redirect": {"ReplaceKeyWith": "a", "ReplaceKeyPrefixWith": "b/"}},
            "InvalidRequest",
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
        ),
        (
            {"Redirect": {"HttpRedirectCode": "300"}},
            "InvalidRequest",
            "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300.",
        ),
        (
            {"Condition": {"HttpErrorCodeReturnedEquals": "302"}, "Redirect": {"HostName": "x"}},
            "InvalidRequest",
            "The provided HTTP error code (302) is not valid. Valid codes are 4XX or 5XX.",
        ),
        (
            {"Condition": {}, "Redirect": {"HostName": "x"}},
            "InvalidRequest",
            "Condition cannot be empty. To redirect all requests without a condition, the "
            "condition element shouldn't be present.",
        ),
    ],
)
def test_website_configuration_errors(s3, document, code, message):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    if "Redirect" in document:  # one routing rule, on an otherwise valid configuration
        document = {"IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [document]}
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=document)
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message.startswith("A value for IndexDocument"):  # AWS-recorded invalid-website-conf-3
        assert (error["ArgumentName"], error["ArgumentValue"]) == ("IndexDocument", "null")
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_website(Bucket=bucket)


def test_missing_error_document_is_reported_on_the_error_page(cloudlet_server, s3):
    # A real AWS website's answer when its ErrorDocument does not exist (a curl of
    # darkinjector-phish.s3-website-us-west-2.amazonaws.com/test in a TryHackMe
    # write-up): the NoSuchKey list, then a second list under this heading.
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "missing-err.html"},
        },
    )
    status, headers, body = _get(cloudlet_server, bucket, "/nope")
    assert status == 404 and headers["content-type"].startswith("text/html")
    page = body.decode()
    first, nested = page.split(
        "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>"
    )
    assert "<li>Code: NoSuchKey</li>" in first and "<li>Key: nope</li>" in first
    assert "<li>RequestId: " in first and first.rstrip().endswith("</ul>")
    assert nested == (
        "\n<ul>\n<li>Code: NoSuchKey</li>\n<li>Message: The specified key does not exist.</li>"
        "\n<li>Key: missing-err.html</li>\n</ul>\n<hr/>\n</body>\n</html>\n"
    )
    # Once the document exists it is served instead, without the section.
    s3.put_object(Bucket=bucket, Key="missing-err.html", Body=b"custom 404")
    status, _, body = _get(cloudlet_server, bucket, "/nope")
    assert (status, body) == (404, b"custom 404")


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_other_methods_get_aws_405_page(cloudlet_server, s3, method):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    status, headers, body = _get(cloudlet_server, bucket, "/index.html", method=method)
    rid = headers["x-amz-request-id"]
    assert status == 405
    assert headers["content-type"].startswith("text/html")
    items = [
        "Code: MethodNotAllowed",
        "Message: The specified method is not allowed against this resource.",
        f"Method: {method}",
        "ResourceType: OBJECT",
        f"RequestId: {rid}",
        f"HostId: {rid}",
    ]
    assert "\n".join(f"<li>{item}</li>" for item in items).encode() in body


def test_options_page_is_unchanged(cloudlet_server, s3):
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    status, headers, body = _get(cloudlet_server, bucket, "/", method="OPTIONS")
    rid = headers["x-amz-request-id"]
    assert status == 405
    assert (
        b"<li>Code: MethodNotAllowed</li>\n"
        b"<li>Message: The specified method is not allowed against this resource.</li>\n"
        b"<li>RequestId: " + rid.encode() + b"</li>\n"
        b"<li>HostId: " + rid.encode() + b"</li>\n</ul>"
    ) in body


def test_pages_answer_conditional_gets(cloudlet_server, s3):
    """A page is an object: a browser's revalidation gets 304 (LocalStack's AWS-validated
    ``test_s3_static_website_hosting`` asserts it), a failed If-Match 412."""
    bucket = bname("site")
    s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket=bucket, Key="index.html", Body=b"home", ContentType="text/html")[
        "ETag"
    ]
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    status, headers, body = _get(cloudlet_server, bucket, "/", headers={"If-None-Match": etag})
    assert (status, body, headers["etag"]) == (304, b"", etag)
    status, headers, _ = _get(cloudlet_server, bucket, "/")
    since = {"If-Modified-Since": headers["last-modified"]}
    assert _get(cloudlet_server, bucket, "/index.html", headers=since)[0] == 304
    assert _get(cloudlet_server, bucket, "/", headers={"If-None-Match": '"other"'})[2] == b"home"
    status, _, body = _get(cloudlet_server, bucket, "/", headers={"If-Match": '"other"'})
    assert status == 412
    assert b"<li>Code: PreconditionFailed</li>\n" in body
    assert b"<li>Condition: If-Match</li>\n" in body
    assert _get(cloudlet_server, bucket, "/", headers={"If-Modified-Since": "junk"})[0] == 200
