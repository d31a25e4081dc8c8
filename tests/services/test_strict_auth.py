"""--auth strict with real boto3: known keys and valid, fresh signatures only."""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer

NO_RETRY = Config(retries={"max_attempts": 0})


@pytest.fixture(scope="module")
def strict_server():
    server = CloudletServer.start(
        auth="strict", extra_args=["--root-access-key", "AKIDSTRICT", "--root-secret-key", "s3cr3t"]
    )
    yield server
    server.stop()


def _sqs(server, key="AKIDSTRICT", secret="s3cr3t"):
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=NO_RETRY,
    )


def _code(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_right_keys_work(strict_server):
    sqs = _sqs(strict_server)
    url = sqs.create_queue(QueueName="strict")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hi"


def test_wrong_secret_is_signature_does_not_match(strict_server):
    with pytest.raises(ClientError) as exc:
        _sqs(strict_server, secret="wrong").list_queues()
    assert _code(exc) == ("SignatureDoesNotMatch", 403)


def test_unknown_key_is_invalid_client_token_id(strict_server):
    with pytest.raises(ClientError) as exc:
        _sqs(strict_server, key="AKIDNOBODY").list_queues()
    assert _code(exc) == ("InvalidClientTokenId", 403)


def test_stale_date_is_request_expired(strict_server):
    stale = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        minutes=20
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        # With awscrt installed (a cloudlet dependency) botocore signs with its CRT
        # signers, which read the clock through their own module.
        with mock.patch(
            "botocore.crt.auth.get_current_datetime",
            return_value=stale.replace(tzinfo=datetime.UTC),
        ):
            with pytest.raises(ClientError) as exc:
                _sqs(strict_server).list_queues()
    assert _code(exc) == ("RequestExpired", 400)


def test_unsigned_request_is_refused(strict_server):
    req = urllib.request.Request(
        strict_server.endpoint + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "Content-Type": "application/x-amz-json-1.0",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 403


def _presigned(server, expires: int, at: datetime.datetime | None = None) -> str:
    """A presigned query-protocol GET, the way old SQS clients make them."""
    url = f"{server.endpoint}/?Action=ListQueues&Version=2012-11-05&QueueNamePrefix=presigned"
    req = AWSRequest(method="GET", url=url)
    signer = SigV4QueryAuth(Credentials("AKIDSTRICT", "s3cr3t"), "sqs", "us-east-1", expires)
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(req)
    return req.url


def test_presigned_url_works_then_expires(strict_server):
    _sqs(strict_server).create_queue(QueueName="presigned")
    with urllib.request.urlopen(_presigned(strict_server, 300)) as r:
        assert r.status == 200
        assert b"presigned" in r.read()
    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(_presigned(strict_server, 60, at=past))
    assert exc.value.code == 403
    assert b"AccessDenied" in exc.value.read()


def _put(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=b"hello", method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_s3_refuses_headers_the_signature_does_not_cover(strict_server):
    """S3 answers ``AccessDenied`` naming them in ``HeadersNotSigned``: a presigned URL's
    holder cannot add metadata, an ACL or tags (LocalStack's AWS-recorded
    ``test_s3_put_presigned_url_same_header_and_qs_parameter`` and
    ``test_put_object_with_md5_and_chunk_signature_bad_headers``)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=strict_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTRICT",
        aws_secret_access_key="s3cr3t",
        config=Config(signature_version="s3v4", retries={"max_attempts": 0}),
    )
    s3.create_bucket(Bucket="unsigned-headers")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "unsigned-headers", "Key": "k"})
    for headers, named in [
        ({"x-amz-meta-who": "me"}, b"x-amz-meta-who"),
        ({"x-amz-date": "20261122T000000Z", "x-amz-acl": "public-read"}, b"x-amz-acl, x-amz-date"),
        ({"Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="}, b"content-md5"),
    ]:
        status, body = _put(url, headers)
        assert status == 403
        assert b"<Code>AccessDenied</Code>" in body
        assert b"There were headers present in the request which were not signed" in body
        assert b"<HeadersNotSigned>" + named + b"</HeadersNotSigned>" in body
    with pytest.raises(ClientError):
        s3.head_object(Bucket="unsigned-headers", Key="k")
    # An unsigned payload hash is ignored; so is everything botocore signs itself.
    assert _put(url, {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})[0] == 200
    s3.put_object(Bucket="unsigned-headers", Key="k", Body=b"x", Metadata={"a": "b"}, Tagging="t=1")

    # Header-signed requests: an x-amz-* header added after signing is refused too.
    def add_header(request, **_):
        request.headers["x-amz-meta-late"] = "1"

    s3.meta.events.register_last("before-send.s3.PutObject", add_header)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="unsigned-headers", Key="late", Body=b"x")
    assert _code(exc) == ("AccessDenied", 403)
    assert exc.value.response["Error"]["HeadersNotSigned"] == "x-amz-meta-late"


def _s3_v2(server):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTRICT",
        aws_secret_access_key="s3cr3t",
        config=Config(signature_version="s3", retries={"max_attempts": 0}),
    )


def test_boto3_sigv2_works_on_bucket_paths(strict_server):
    """boto3 with ``signature_version="s3"`` signs a path-style bucket request
    (``PUT /bucket``) over ``/bucket/``: CreateBucket, listings and DeleteBucket pass."""
    s3 = _s3_v2(strict_server)
    s3.create_bucket(Bucket="sigv2-paths")
    s3.put_object(Bucket="sigv2-paths", Key="k", Body=b"v")
    assert [o["Key"] for o in s3.list_objects(Bucket="sigv2-paths")["Contents"]] == ["k"]
    s3.delete_object(Bucket="sigv2-paths", Key="k")
    s3.delete_bucket(Bucket="sigv2-paths")


def test_sigv2_presigned_url_without_its_signature(strict_server):
    """LocalStack's AWS-recorded ``test_s3_put_presigned_url_missing_sig_param[s3]``."""
    s3 = _s3_v2(strict_server)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "any-bucket", "Key": "k"})
    base, query = url.split("?", 1)
    kept = "&".join(p for p in query.split("&") if not p.startswith("Signature="))
    status, body = _put(f"{base}?{kept}", {})
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert b"Query-string authentication requires the Signature, Expires and" in body
