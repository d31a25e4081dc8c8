"""Signatures made by botocore's own signers (and real boto3 clients), verified by cloudlet.

Requests are signed client-side exactly as the SDK does it, turned into the
``HttpRequest`` the gateway would build, and handed to ``Authenticator``.
aws-chunked bodies are checked against the worked example in AWS's S3 docs and
against the body botocore builds for a PutObject with a CRC32 trailer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV2Auth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from cloudlet.auth import (
    Authenticator,
    AwsChunkedDecoder,
    ChunkVerifier,
    CredentialStore,
    Principal,
    SignatureKind,
    credential_scope,
    decode_aws_chunked,
    decode_aws_chunked_body,
)
from cloudlet.auth.sigv4 import EMPTY_SHA256, signing_key
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.protocols.base import HttpRequest

KEY, SECRET = "AKIDCLOUDLET", "cloudlet/secret+key"
ENDPOINT = "http://localhost:4566"
CREDS = Credentials(KEY, SECRET)
WRONG = Credentials(KEY, "not-the-secret")
NOBODY = Credentials("AKIDNOBODY", SECRET)


# -- plumbing -------------------------------------------------------------------------------


def to_http(prepared) -> HttpRequest:
    """A botocore prepared request as the gateway would see it on the wire."""
    split = urlsplit(prepared.url)
    raw: list[tuple[str, str]] = []
    for name, value in prepared.headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        raw.append((name.lower(), value))
    if not any(name == "host" for name, _ in raw):
        default = {"http": 80, "https": 443}[split.scheme]
        host = split.hostname if split.port in (None, default) else f"{split.hostname}:{split.port}"
        raw.insert(0, ("host", host))
    body = prepared.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers: dict[str, str] = {}
    for name, value in raw:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return HttpRequest(prepared.method, split.path or "/", split.query, headers, body or b"", raw)


def signed(signer, method: str, url: str, *, headers=None, data=b"", params=None, auth_path=None):
    req = AWSRequest(method=method, url=url, headers=headers or {}, data=data, params=params or {})
    if auth_path is not None:
        req.auth_path = auth_path
    signer.add_auth(req)
    return to_http(req.prepare())


class _Captured(Exception):
    pass


def capture(client, operation: str, **params) -> HttpRequest:
    """The request a real boto3 client would send, caught just before sending."""
    grabbed = {}

    def grab(request, **_):
        grabbed["request"] = request
        raise _Captured

    client.meta.events.register("before-send", grab)
    with pytest.raises(_Captured):
        getattr(client, operation)(**params)
    return to_http(grabbed["request"])


def client(service: str, *, key=KEY, secret=SECRET, endpoint=ENDPOINT, **config):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, **config),
    )


def store() -> CredentialStore:
    return CredentialStore(KEY, SECRET)


def strict() -> Authenticator:
    return Authenticator("strict", store())


def refused(req: HttpRequest, *, auth: Authenticator | None = None, **kw) -> ServiceError:
    with pytest.raises(ServiceError) as exc:
        (auth or strict()).authenticate(req, credential_scope(req), **kw)
    return exc.value


def accepted(req: HttpRequest, *, auth: Authenticator | None = None, **kw) -> Principal:
    return (auth or strict()).authenticate(req, credential_scope(req), **kw)


def tampered_query(req: HttpRequest, name: str, value: str) -> HttpRequest:
    parts = [p if not p.startswith(f"{name}=") else f"{name}={value}" for p in req.query.split("&")]
    return HttpRequest(
        req.method, req.path, "&".join(parts), req.headers, req.body, req.raw_headers
    )


async def _collect(stream: AsyncIterator[bytes] | Iterable[bytes]) -> bytes:
    return b"".join([piece async for piece in stream])


def read_stream(req: HttpRequest) -> bytes:
    assert req.stream is not None
    return asyncio.run(_collect(req.stream))


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def streaming(req: HttpRequest, size: int = 1000) -> HttpRequest:
    """The same request with its body as a stream of ``size``-byte pieces."""
    return HttpRequest(
        req.method,
        req.path,
        req.query,
        dict(req.headers),
        b"",
        req.raw_headers,
        stream=_pieces(req.body, size),
    )


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch):
    """Move cloudlet's clock 20 minutes ahead, so signatures made now are stale."""
    monkeypatch.setattr(clock, "offset", clock.offset + 20 * 60)


# -- credential_scope ------------------------------------------------------------------------


def test_scope_from_sigv4_header():
    req = capture(client("sqs"), "list_queues")
    scope = credential_scope(req)
    assert scope is not None
    assert scope.kind is SignatureKind.V4_HEADER
    assert (scope.access_key, scope.region, scope.service) == (KEY, "us-east-1", "sqs")
    assert len(scope.date or "") == 8 and not scope.is_s3


def test_scope_from_presigned_url():
    s3 = client("s3", signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    split = urlsplit(url)
    scope = credential_scope(HttpRequest("GET", split.path, split.query, {"host": split.netloc}))
    assert scope is not None and scope.kind is SignatureKind.V4_QUERY and scope.presigned
    assert (scope.access_key, scope.service, scope.is_s3) == (KEY, "s3", True)


def test_scope_from_sigv2_forms():
    s3v2 = signed(HmacV1Auth(CREDS), "GET", f"{ENDPOINT}/bucket/key")
    assert credential_scope(s3v2).kind is SignatureKind.S3_V2_HEADER
    form = signed(
        SigV2Auth(CREDS),
        "POST",
        f"{ENDPOINT}/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={"Action": "DescribeRegions", "Version": "2016-11-15"},
    )
    scope = credential_scope(form)
    assert scope.kind is SignatureKind.V2_FORM and scope.region is None and scope.service is None
    get = signed(SigV2Auth(CREDS), "GET", f"{ENDPOINT}/", params={"Action": "ListQueues"})
    assert credential_scope(get).kind is SignatureKind.V2_QUERY


def test_no_scope_for_unsigned_or_foreign_auth():
    assert credential_scope(HttpRequest("GET", "/", headers={"host": "x"})) is None
    assert credential_scope(HttpRequest("GET", "/", headers={"authorization": "Bearer t"})) is None
    broken = HttpRequest("GET", "/", headers={"authorization": "AWS4-HMAC-SHA256 Signature=x"})
    assert credential_scope(broken) is None


# -- SigV4 in the Authorization header ---------------------------------------------------------


def test_real_clients_verify():
    for req in (
        capture(
            client("sqs"), "send_message", QueueUrl=f"{ENDPOINT}/000000000000/q", MessageBody="hé"
        ),
        capture(client("ec2"), "describe_instances", InstanceIds=["i-1"]),
        capture(client("lambda"), "invoke", FunctionName="f:1", Payload=b"{}"),
        capture(client("s3"), "put_object", Bucket="b", Key="a b/ü+~!.txt", Body=b"data"),
        capture(client("s3"), "list_objects_v2", Bucket="b", Prefix="x/y z"),
    ):
        principal = accepted(req)
        assert principal.kind == "root" and principal.access_key == KEY


def test_header_signers_verify():
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = signed(
        SigV4Auth(CREDS, "sqs", "eu-west-1"),
        "POST",
        f"{ENDPOINT}/",
        headers=form,
        data={"Action": "ListQueues", "Version": "2012-11-05"},
    )
    assert accepted(req).kind == "root"
    req = signed(
        S3SigV4Auth(CREDS, "s3", "us-east-1"),
        "PUT",
        f"{ENDPOINT}/bucket/key",
        data=b"hello",
        headers={"x-amz-meta-a": "  spaced   out  "},
    )
    assert accepted(req).kind == "root"


def test_date_header_instead_of_x_amz_date():
    # botocore signs with the Date header when the request already has one.
    req = signed(SigV4Auth(CREDS, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/", headers={"Date": "x"})
    assert "x-amz-date" not in req.headers and "date" in req.headers
    assert accepted(req).kind == "root"


def test_s3_path_signed_as_sent_verifies():
    # botocore's S3 signer signs the path as given; S3's rule re-encodes it. Both verify.
    req = signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "GET", f"{ENDPOINT}/b/a!b(c)")
    assert accepted(req).kind == "root"


def test_plus_in_the_query_verifies_as_a_space_or_a_plus():
    """The Rust object_store crate (polars, obstore) sends a space in a query value as
    ``+`` and signs it as ``%20``; botocore sends and signs a literal ``+`` as ``%2B``."""
    signer = S3SigV4Auth(CREDS, "s3", "us-east-1")
    req = signed(signer, "GET", f"{ENDPOINT}/b?list-type=2&prefix=x%2Fy%20z&start-after=a%20b")
    form = HttpRequest(
        req.method, req.path, req.query.replace("%20", "+"), req.headers, req.body, req.raw_headers
    )
    assert "+" in form.query and accepted(form).kind == "root"
    assert form.query_params["prefix"] == ["x/y z"]
    plus = signed(signer, "GET", f"{ENDPOINT}/b?list-type=2&prefix=a%2Bb")
    assert accepted(plus).kind == "root"
    assert refused(tampered_query(form, "prefix", "x%2Fy+q")).code == "SignatureDoesNotMatch"


def test_wrong_secret_is_signature_does_not_match():
    for s3 in (False, True):
        signer = (S3SigV4Auth if s3 else SigV4Auth)(WRONG, "s3" if s3 else "sqs", "us-east-1")
        err = refused(signed(signer, "GET", f"{ENDPOINT}/b/k"))
        assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
        if s3:
            assert err.fields["CanonicalRequest"].startswith("GET\n/b/k\n")
            # S3's own wording (AWS-recorded): what it computed is in the fields only.
            assert err.message == (
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method."
            )
        else:
            assert "The Canonical String for this request should have been" in err.message


def test_unknown_key_is_invalid_client_token_id():
    err = refused(signed(SigV4Auth(NOBODY, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"))
    assert (err.code, err.status) == ("InvalidClientTokenId", 403)
    err = refused(signed(S3SigV4Auth(NOBODY, "s3", "us-east-1"), "GET", f"{ENDPOINT}/b"))
    assert (err.code, err.status) == ("InvalidAccessKeyId", 403)


def test_stale_date_is_request_expired(skewed):
    err = refused(signed(SigV4Auth(CREDS, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"))
    assert (err.code, err.status) == ("RequestExpired", 400)
    err = refused(signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "GET", f"{ENDPOINT}/b"))
    assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)


def test_future_date_is_refused(monkeypatch):
    monkeypatch.setattr(clock, "offset", clock.offset - 20 * 60)
    err = refused(signed(SigV4Auth(CREDS, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"))
    assert err.code == "SignatureDoesNotMatch" and "not yet current" in err.message


def test_tampered_body_is_refused():
    req = signed(SigV4Auth(CREDS, "lambda", "us-east-1"), "POST", f"{ENDPOINT}/f", data=b"{}")
    req.body = b'{"a": 1}'
    assert refused(req).code == "SignatureDoesNotMatch"
    # S3 signs the claimed hash; a body that does not match the claim is its own error.
    req = signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "PUT", f"{ENDPOINT}/b/k", data=b"one")
    req.body = b"two"
    err = refused(req)
    assert (err.code, err.status) == ("XAmzContentSHA256Mismatch", 400)


def test_streamed_body_is_checked_when_read():
    req = signed(SigV4Auth(CREDS, "lambda", "us-east-1"), "POST", f"{ENDPOINT}/f", data=b"x" * 5000)
    good = streaming(req)
    accepted(good)
    assert read_stream(good) == b"x" * 5000
    bad = streaming(req)
    bad.stream = _pieces(b"y" * 5000, 1000)
    accepted(bad)  # the hash is only known at the end of the stream
    with pytest.raises(ServiceError) as exc:
        read_stream(bad)
    assert exc.value.code == "SignatureDoesNotMatch"

    s3req = signed(
        S3SigV4Auth(CREDS, "s3", "us-east-1"), "PUT", f"{ENDPOINT}/b/k", data=b"z" * 3000
    )
    bad = streaming(s3req)
    bad.stream = _pieces(b"q" * 3000, 1000)
    accepted(bad)
    with pytest.raises(ServiceError) as exc:
        read_stream(bad)
    assert exc.value.code == "XAmzContentSHA256Mismatch"


def test_unsigned_payload_is_accepted():
    req = AWSRequest(method="PUT", url=f"{ENDPOINT}/b/k", data=b"payload")
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    http = to_http(req.prepare())
    assert http.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    accepted(http)
    http.body = b"anything else"
    accepted(http)


def test_unsigned_headers_may_change():
    req = signed(SigV4Auth(CREDS, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/")
    req.raw_headers.append(("user-agent", "proxy/1.0"))
    req.headers["user-agent"] = "proxy/1.0"
    accepted(req)


def test_unsigned_request_in_strict_mode():
    unsigned = HttpRequest("POST", "/", headers={"host": "localhost:4566"}, body=b"{}")
    err = refused(unsigned)
    assert (err.code, err.status) == ("MissingAuthenticationToken", 403)
    # S3 serves anonymous callers what a bucket makes public: the authorizer decides
    # (tests/services/test_s3_public_strict.py).
    assert accepted(unsigned, s3=True).kind == "anonymous"
    broken = HttpRequest("GET", "/", headers={"authorization": "AWS4-HMAC-SHA256 Signature=ab"})
    err = refused(broken)
    assert (err.code, err.status) == ("IncompleteSignature", 400)
    err = refused(broken, s3=True)
    assert (err.code, err.status) == ("AuthorizationHeaderMalformed", 400)


def test_session_tokens():
    creds = store()
    creds.add_key(
        "ASIATEMP", "temp-secret", Principal.root("000000000000", "ASIATEMP"), session_token="tok"
    )
    auth = Authenticator("strict", creds)
    ok = signed(
        SigV4Auth(Credentials("ASIATEMP", "temp-secret", "tok"), "sqs", "us-east-1"),
        "GET",
        f"{ENDPOINT}/",
    )
    accepted(ok, auth=auth)
    missing = signed(
        SigV4Auth(Credentials("ASIATEMP", "temp-secret"), "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"
    )
    assert refused(missing, auth=auth).code == "InvalidClientTokenId"


# -- SigV4 presigned URLs ---------------------------------------------------------------------


def _presign(signer_cls, service: str, url: str, expires: int, creds=CREDS) -> HttpRequest:
    return signed(signer_cls(creds, service, "us-east-1", expires=expires), "GET", url)


def test_presigned_urls_verify():
    accepted(
        _presign(SigV4QueryAuth, "sqs", f"{ENDPOINT}/?Action=ListQueues&QueueNamePrefix=a b", 300)
    )
    accepted(_presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/bucket/some%20key", 300))
    for version, kind in (("s3v4", SignatureKind.V4_QUERY), ("s3", SignatureKind.S3_V2_QUERY)):
        url = client("s3", signature_version=version).generate_presigned_url(
            "get_object",
            Params={"Bucket": "b", "Key": "dir/ünï code+plus.txt", "ResponseContentType": "text/x"},
        )
        split = urlsplit(url)
        req = HttpRequest(
            "GET",
            split.path,
            split.query,
            {"host": split.netloc},
            raw_headers=[("host", split.netloc)],
        )
        assert credential_scope(req).kind is kind
        assert accepted(req).kind == "root"


def test_presigned_url_tampering_is_refused():
    req = _presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/bucket/key?versionId=1", 300)
    assert refused(tampered_query(req, "versionId", "2")).code == "SignatureDoesNotMatch"
    assert refused(tampered_query(req, "X-Amz-Expires", "301")).code == "SignatureDoesNotMatch"
    wrong = _presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/bucket/key", 300, creds=WRONG)
    assert refused(wrong).code == "SignatureDoesNotMatch"


def test_expired_presigned_url_is_access_denied(monkeypatch):
    for cls, service, url in (
        (S3SigV4QueryAuth, "s3", f"{ENDPOINT}/bucket/key"),
        (SigV4QueryAuth, "sqs", f"{ENDPOINT}/?Action=ListQueues"),
    ):
        req = _presign(cls, service, url, 60)
        accepted(req)
        monkeypatch.setattr(clock, "offset", clock.offset + 61)
        err = refused(req)
        assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Request has expired")
        monkeypatch.undo()


def test_presigned_url_lifetime_is_at_most_a_week():
    accepted(_presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/b/k", 604800))
    err = refused(_presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/b/k", 604801))
    assert (err.code, err.status) == ("AuthorizationQueryParametersError", 400)
    assert err.message == (  # AWS's words, as aws/aws-cli#5464 quotes them
        "X-Amz-Expires must be less than a week (in seconds); that is, the given "
        "X-Amz-Expires must be less than 604800 seconds"
    )


# -- SigV2: S3 (HmacV1) and query services ----------------------------------------------------


def test_hmac_v1_verifies():
    req = signed(
        HmacV1Auth(CREDS),
        "PUT",
        f"{ENDPOINT}/bucket/key%20one?acl",
        headers={
            "Content-Type": "text/plain",
            "Content-MD5": "abc==",
            "x-amz-meta-b": "2",
            "X-Amz-Meta-A": " 1 ",
        },
        data=b"body",
    )
    assert accepted(req).kind == "root"
    virtual = signed(
        HmacV1Auth(CREDS),
        "GET",
        "http://my.bucket.localhost:4566/key?uploads",
        auth_path="/my.bucket/key",
    )
    assert accepted(virtual).kind == "root"


def test_hmac_v1_empty_subresource_sent_with_an_equals_sign():
    """Go's url.Values sends ``?uploads=`` where the signer signed ``?uploads`` (minio-go's
    SigV2, which S3 accepts); the ``uploads=`` form signed as such verifies too."""
    req = signed(HmacV1Auth(CREDS), "POST", f"{ENDPOINT}/bucket/key?uploads")
    with_equals = HttpRequest(
        req.method, req.path, "uploads=", req.headers, req.body, req.raw_headers
    )
    assert accepted(with_equals).kind == "root"
    assert accepted(req).kind == "root"
    signed_equals = signed(HmacV1Auth(CREDS), "POST", f"{ENDPOINT}/bucket/key?uploads=")
    assert accepted(signed_equals).kind == "root"


def test_hmac_v1_failures(skewed):
    err = refused(signed(HmacV1Auth(CREDS), "GET", f"{ENDPOINT}/bucket/key"))
    assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)


@pytest.mark.parametrize("amz_date", ["", "Tue, 07 Jul 1950 21:53:04 GMT"])
def test_hmac_v1_needs_a_valid_x_amz_date_once_it_is_sent(amz_date):
    """ceph/s3-tests' ``*_bad_date_empty_aws2`` and ``*_bad_date_before_epoch_aws2``: an
    x-amz-date that is empty or before 1970 is refused, Date or no Date."""
    req = signed(
        HmacV1Auth(CREDS), "GET", f"{ENDPOINT}/bucket/key", headers={"x-amz-date": amz_date}
    )
    err = refused(req)
    assert (err.code, err.status) == ("AccessDenied", 403)
    assert err.message == "AWS authentication requires a valid Date or x-amz-date header"


def test_hmac_v1_header_without_key_and_signature():
    """``Authorization: AWS HAHAHA``: S3's InvalidArgument, naming the header (ceph/s3-tests'
    ``*_bad_authorization_invalid_aws2``)."""
    req = HttpRequest("GET", "/bucket/key", "", {"authorization": "AWS HAHAHA", "host": "h"})
    err = refused(req, s3=True)
    assert (err.code, err.status) == ("InvalidArgument", 400)
    assert err.message == "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
    assert err.fields["ArgumentName"] == "Authorization"


def test_hmac_v1_wrong_secret_and_unknown_key():
    err = refused(signed(HmacV1Auth(WRONG), "GET", f"{ENDPOINT}/bucket/key"))
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
    assert err.fields["StringToSign"].endswith("/bucket/key")
    err = refused(signed(HmacV1Auth(NOBODY), "GET", f"{ENDPOINT}/bucket/key"))
    assert (err.code, err.status) == ("InvalidAccessKeyId", 403)
    req = signed(HmacV1Auth(CREDS), "GET", f"{ENDPOINT}/bucket/key?versionId=1")
    assert refused(tampered_query(req, "versionId", "2")).code == "SignatureDoesNotMatch"


def test_hmac_v1_presigned(monkeypatch):
    req = signed(
        HmacV1QueryAuth(CREDS, expires=60),
        "GET",
        f"{ENDPOINT}/bucket/key",
        headers={"x-amz-meta-x": "y"},
    )
    del req.headers["x-amz-meta-x"]  # the presigner moved it into the query string
    req.raw_headers = [(k, v) for k, v in req.raw_headers if k != "x-amz-meta-x"]
    assert credential_scope(req).kind is SignatureKind.S3_V2_QUERY
    accepted(req)
    monkeypatch.setattr(clock, "offset", clock.offset + 120)
    err = refused(req)
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Request has expired")


def _v2_form(creds=CREDS, **extra) -> HttpRequest:
    return signed(
        SigV2Auth(creds),
        "POST",
        f"{ENDPOINT}/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={
            "Action": "DescribeInstances",
            "Version": "2016-11-15",
            "Filter.1.Name": "a b+c",
            **extra,
        },
    )


def test_query_sigv2_verifies():
    assert accepted(_v2_form()).kind == "root"
    get = signed(
        SigV2Auth(CREDS),
        "GET",
        f"{ENDPOINT}/",
        params={"Action": "ListQueues", "QueueNamePrefix": "ü"},
    )
    assert accepted(get).kind == "root"


def test_sigv2_form_found_once_the_body_is_read():
    # The gateway takes the scope before reading the body; a v2 form post is still found.
    req = _v2_form()
    assert strict().authenticate(req, None).kind == "root"
    req = _v2_form(WRONG)
    with pytest.raises(ServiceError) as exc:
        strict().authenticate(req, None)
    assert exc.value.code == "SignatureDoesNotMatch"


def test_query_sigv2_failures(monkeypatch):
    assert refused(_v2_form(WRONG)).code == "SignatureDoesNotMatch"
    assert refused(_v2_form(NOBODY)).code == "InvalidClientTokenId"
    req = _v2_form()
    req.body = req.body.replace(b"DescribeInstances", b"TerminateInstances")
    assert refused(req).code == "SignatureDoesNotMatch"
    req = _v2_form()
    monkeypatch.setattr(clock, "offset", clock.offset + 20 * 60)
    err = refused(req)
    assert (err.code, err.status) == ("RequestExpired", 400)


# -- open mode and principals -------------------------------------------------------------------


def test_open_mode_accepts_anything(skewed):
    auth = Authenticator("open", store())
    for req in (
        signed(SigV4Auth(WRONG, "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"),
        signed(HmacV1Auth(NOBODY), "GET", f"{ENDPOINT}/bucket/key"),
        _v2_form(WRONG),
        _presign(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/b/k", 1),
    ):
        principal = accepted(req, auth=auth)
        assert principal.kind == "root" and principal.account_id == "000000000000"
    acct = signed(
        SigV4Auth(Credentials("123456789012", "x"), "sqs", "us-east-1"), "GET", f"{ENDPOINT}/"
    )
    assert accepted(acct, auth=auth).arn == "arn:aws:iam::123456789012:root"
    unsigned = HttpRequest("GET", "/", headers={"host": "localhost"})
    assert auth.authenticate(unsigned, None).kind == "anonymous"


def test_credential_store_is_the_iam_seam():
    creds = store()
    alice = Principal.user("111122223333", "alice", "AKIDALICE")
    creds.add_key("AKIDALICE", "alice-secret", alice)
    assert creds.secret_for("AKIDALICE") == ("alice-secret", alice)
    req = signed(
        SigV4Auth(Credentials("AKIDALICE", "alice-secret"), "sqs", "us-east-1"),
        "GET",
        f"{ENDPOINT}/",
    )
    assert accepted(req, auth=Authenticator("strict", creds)) == alice
    assert Authenticator("open", creds).authenticate(req, credential_scope(req)) == alice
    assert alice.arn == "arn:aws:iam::111122223333:user/alice"
    assert creds.authorize(alice, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q") is None
    assert creds.remove_key("AKIDALICE") is True
    assert creds.secret_for("AKIDALICE") is None
    with pytest.raises(ValueError):
        creds.remove_key(KEY)
    env = CredentialStore.from_env(
        {"CLOUDLET_ROOT_ACCESS_KEY": "AK", "CLOUDLET_ROOT_SECRET_KEY": "SK"}
    )
    assert env.secret_for("AK") == ("SK", env.root)
    with pytest.raises(ValueError):
        Authenticator("lenient", creds)


# -- aws-chunked: the worked example from AWS's S3 docs ---------------------------------------

DOC_KEY, DOC_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_TIME = datetime(2013, 5, 24, tzinfo=UTC).timestamp()
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
DOC_SIGNED_HEADERS = (
    "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
    "x-amz-decoded-content-length;x-amz-storage-class"
)


def doc_body(signatures=DOC_CHUNK_SIGNATURES) -> bytes:
    sig1, sig2, sig3 = (s.encode() for s in signatures)
    return (
        b"10000;chunk-signature=" + sig1 + b"\r\n" + b"a" * 65536 + b"\r\n"
        b"400;chunk-signature=" + sig2 + b"\r\n" + b"a" * 1024 + b"\r\n"
        b"0;chunk-signature=" + sig3 + b"\r\n\r\n"
    )


def doc_request(body: bytes | None = None) -> HttpRequest:
    """PUT /examplebucket/chunkObject.txt exactly as AWS's chunked-upload example sends it."""
    raw = [
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            f"AWS4-HMAC-SHA256 Credential={DOC_KEY}/20130524/us-east-1/s3/"
            f"aws4_request,SignedHeaders={DOC_SIGNED_HEADERS},Signature={DOC_SEED}",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ]
    body = doc_body() if body is None else body
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", dict(raw), body, raw)


@pytest.fixture
def doc_auth(monkeypatch) -> Authenticator:
    monkeypatch.setattr(clock, "time", lambda: DOC_TIME)
    return Authenticator("strict", CredentialStore(DOC_KEY, DOC_SECRET))


def _flip(body: bytes, at: int) -> bytes:
    return body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]


def test_docs_example_verifies_buffered(doc_auth):
    req = doc_request()
    assert len(req.body) == 66824
    assert doc_auth.authenticate(req, credential_scope(req)).access_key == DOC_KEY
    assert req.body == b"a" * 66560
    assert req.headers["content-length"] == "66560"
    assert "content-encoding" not in req.headers


def test_docs_example_verifies_streamed(doc_auth):
    req = streaming(doc_request(), size=777)
    doc_auth.authenticate(req, credential_scope(req))
    assert read_stream(req) == b"a" * 66560


def test_docs_example_chunk_signatures():
    key = signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
    verifier = ChunkVerifier(
        key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", DOC_SEED
    )
    for size, signature in zip((65536, 1024, 0), DOC_CHUNK_SIGNATURES, strict=True):
        verifier.check_chunk(hashlib.sha256(b"a" * size).hexdigest(), signature)
        assert verifier.previous == signature


@pytest.mark.parametrize(
    "where", ["first-chunk", "second-chunk", "final-signature", "no-signature"]
)
def test_docs_example_tampered(doc_auth, where):
    body = doc_body()
    if where == "first-chunk":
        body = _flip(body, 1000)
    elif where == "second-chunk":
        body = _flip(body, len(body) - 200)
    elif where == "final-signature":
        body = _flip(body, len(body) - 10)
    else:
        body = body.replace(b";chunk-signature=" + DOC_CHUNK_SIGNATURES[1].encode(), b"")
    req = doc_request(body)
    assert refused(req, auth=doc_auth).code == "SignatureDoesNotMatch"
    req = streaming(doc_request(body), size=4096)
    doc_auth.authenticate(req, credential_scope(req))  # the seed signature is fine
    with pytest.raises(ServiceError) as exc:
        read_stream(req)
    assert exc.value.code == "SignatureDoesNotMatch"
    # Open mode strips the framing without looking at signatures.
    opened = doc_request(body)
    Authenticator("open").authenticate(opened, credential_scope(opened))
    assert len(opened.body) == 66560


def test_bad_chunk_stops_the_stream_at_that_chunk():
    key = signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
    verifier = ChunkVerifier(
        key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", DOC_SEED
    )
    decoder = AwsChunkedDecoder(verifier)
    body = _flip(doc_body(), 100)
    first_chunk_end = body.index(b"400;")
    with pytest.raises(ServiceError) as exc:
        decoder.feed(body[:first_chunk_end])
    assert exc.value.code == "SignatureDoesNotMatch"


# -- aws-chunked: unsigned with a trailer, as botocore builds it --------------------------------


PAYLOAD = bytes(range(256)) * 300
CRC32 = base64.b64encode(zlib.crc32(PAYLOAD).to_bytes(4, "big")).decode()


def botocore_trailer_body(chunk_size: int = 8192) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(PAYLOAD),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    return wrapper.read()


def test_unsigned_trailer_body_decodes():
    body, trailers = decode_aws_chunked_body(botocore_trailer_body(), decoded_length=len(PAYLOAD))
    assert body == PAYLOAD
    assert trailers == {"x-amz-checksum-crc32": CRC32}

    got: dict[str, str] = {}
    decoded = asyncio.run(
        _collect(decode_aws_chunked(_pieces(botocore_trailer_body(), 100), trailers=got))
    )
    assert decoded == PAYLOAD and got == {"x-amz-checksum-crc32": CRC32}


def test_boto3_put_object_with_crc32_trailer():
    # botocore sends checksums as trailers over https; the request is caught before sending.
    s3 = client("s3", endpoint="https://localhost:4566")
    req = capture(
        s3, "put_object", Bucket="b", Key="k", Body=io.BytesIO(PAYLOAD), ChecksumAlgorithm="CRC32"
    )
    assert req.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert req.headers["content-encoding"] == "aws-chunked"
    buffered = HttpRequest(
        req.method, req.path, req.query, dict(req.headers), req.body, req.raw_headers
    )
    accepted(buffered)
    assert buffered.body == PAYLOAD
    assert buffered.headers["x-amz-checksum-crc32"] == CRC32
    assert buffered.headers["content-length"] == str(len(PAYLOAD))

    streamed = streaming(req, size=5000)
    accepted(streamed)
    assert "x-amz-checksum-crc32" not in streamed.headers  # not until the stream is read
    assert read_stream(streamed) == PAYLOAD
    assert streamed.headers["x-amz-checksum-crc32"] == CRC32


# -- aws-chunked: signed with a signed trailer, and framing errors --------------------------------


def _sign_chunks(
    data_chunks: list[bytes], trailers: dict[str, str] | None
) -> tuple[bytes, ChunkVerifier]:
    """Our own client-side encoder (for the cases botocore has no signer for)."""
    key = signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
    scope = "20130524/us-east-1/s3/aws4_request"
    previous = DOC_SEED
    out = bytearray()

    def sign(kind: str, *hashes: str) -> str:
        sts = "\n".join([kind, "20130524T000000Z", scope, previous, *hashes])
        return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

    for data in [*data_chunks, b""]:
        previous = sign("AWS4-HMAC-SHA256-PAYLOAD", EMPTY_SHA256, hashlib.sha256(data).hexdigest())
        out += f"{len(data):x};chunk-signature={previous}\r\n".encode()
        if data:
            out += data + b"\r\n"
    if trailers is not None:
        canonical = "".join(f"{k}:{v}\n" for k, v in trailers.items())
        for k, v in trailers.items():
            out += f"{k}:{v}\r\n".encode()
        signature = sign("AWS4-HMAC-SHA256-TRAILER", hashlib.sha256(canonical.encode()).hexdigest())
        out += f"x-amz-trailer-signature:{signature}\r\n".encode()
    out += b"\r\n"
    verifier = ChunkVerifier(
        key, "20130524T000000Z", scope, DOC_SEED, signed_trailer=trailers is not None
    )
    return bytes(out), verifier


def test_signed_trailer():
    body, verifier = _sign_chunks([b"x" * 9000, b"y" * 10], {"x-amz-checksum-crc32": "AAAAAA=="})
    payload, trailers = decode_aws_chunked_body(body, verifier)
    assert payload == b"x" * 9000 + b"y" * 10
    assert trailers == {"x-amz-checksum-crc32": "AAAAAA=="}
    _, verifier = _sign_chunks([b"x" * 9000, b"y" * 10], {"x-amz-checksum-crc32": "AAAAAA=="})
    with pytest.raises(ServiceError) as exc:
        decode_aws_chunked_body(body.replace(b"AAAAAA==", b"BBBBBB=="), verifier)
    assert exc.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"5\r\nhello\r\n", "IncompleteBody"),  # no final chunk
        (b"5\r\nhel", "IncompleteBody"),  # cut inside a chunk
        (b"zz\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # not a hex size
        (b"0x5\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
        (b"5\r\nhelloXX0\r\n\r\n", "InvalidRequest"),  # data not followed by CRLF
        (b"0\r\nno-colon\r\n\r\n", "InvalidRequest"),  # broken trailer
        (b"0\r\n\r\ntrailing garbage", "InvalidRequest"),
        (b"5\r\nhello\r\n0\r\n\r\n", None),
        (b"5\r\nhello\r\n0\r\n", None),  # a missing final CRLF is tolerated
    ],
)
def test_framing(body: bytes, code: str | None):
    if code is None:
        assert decode_aws_chunked_body(body) == (b"hello", {})
        return
    with pytest.raises(ServiceError) as exc:
        decode_aws_chunked_body(body)
    assert exc.value.code == code and exc.value.status == 400


def test_decoded_length_must_match():
    for declared in (4, 6):
        with pytest.raises(ServiceError) as exc:
            decode_aws_chunked_body(b"5\r\nhello\r\n0\r\n\r\n", decoded_length=declared)
        assert exc.value.code == "IncompleteBody"


def test_memory_stays_flat_for_a_large_signed_chunk():
    piece, count = b"m" * 65536, 256  # one 16 MiB chunk, fed 64 KiB at a time
    key = signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
    scope = "20130524/us-east-1/s3/aws4_request"
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(piece)

    def sign(previous: str, data_hash: str) -> str:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                "20130524T000000Z",
                scope,
                previous,
                EMPTY_SHA256,
                data_hash,
            ]
        )
        return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

    first = sign(DOC_SEED, digest.hexdigest())
    final = sign(first, EMPTY_SHA256)

    async def body() -> AsyncIterator[bytes]:
        yield f"{len(piece) * count:x};chunk-signature={first}\r\n".encode()
        for _ in range(count):
            yield piece
        yield f"\r\n0;chunk-signature={final}\r\n\r\n".encode()

    async def consume() -> int:
        verifier = ChunkVerifier(key, "20130524T000000Z", scope, DOC_SEED)
        total = 0
        async for data in decode_aws_chunked(body(), verifier):
            total += len(data)
        return total

    tracemalloc.start()
    try:
        total = asyncio.run(consume())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == len(piece) * count
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while decoding 16 MiB"


def test_request_times_past_the_calendar_are_refused_not_crashed():
    """A SigV2 ``Timestamp`` or an HTTP ``Date`` that is past year 9999 once in UTC
    is an ordinary stale or skewed request (fuzzing found a 500 here)."""
    for stamp in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"):
        query = (
            f"AWSAccessKeyId={KEY}&SignatureVersion=2&SignatureMethod=HmacSHA256"
            f"&Timestamp={quote(stamp)}&Signature=x&Action=ListQueues"
        )
        req = HttpRequest("GET", "/", query, {"host": "localhost"})
        err = refused(req)
        assert 400 <= err.status < 500, (stamp, err.code)
    req = signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "GET", f"{ENDPOINT}/b")
    del req.headers["x-amz-date"]
    req.headers["date"] = "Fri, 31 Dec 9999 23:59:59 -0100"
    err = refused(req)
    assert 400 <= err.status < 500, err.code
