"""POST policy uploads: HTML-form POSTs built from boto3's ``generate_presigned_post``."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import re
import uuid
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, pattern_bytes


def _form(fields: dict[str, str], file: bytes, filename: str = "upload.bin", after=None):
    """``multipart/form-data`` as a browser sends it: the fields, then ``file``."""
    boundary = f"----cloudletform{uuid.uuid4().hex}"
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    out += file + b"\r\n"
    for name, value in (after or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def _post(url: str, fields: dict[str, str], file: bytes, **kw):
    content_type, body = _form(fields, file, **kw)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", parts.path or "/", body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _code(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else body.decode()


def _message(body: bytes) -> str:
    m = re.search(rb"<Message>([^<]*)</Message>", body)
    return m.group(1).decode() if m else ""


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


@pytest.fixture
def bucket(s3):
    name = bname("post")
    s3.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_post_uploads_with_filename_metadata_and_content_type(
    cloudlet_server, bucket, version
):
    s3 = cloudlet_server.client("s3", config=Config(signature_version=version))
    post = s3.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "text/plain", "x-amz-meta-color": "blue"},
        Conditions=[
            ["starts-with", "$Content-Type", "text/"],
            {"x-amz-meta-color": "blue"},
            ["content-length-range", 1, 1024],
        ],
    )
    signed_by = "x-amz-algorithm" if version == "s3v4" else "AWSAccessKeyId"
    assert signed_by in post["fields"]
    status, headers, body = _post(post["url"], post["fields"], b"hello form", filename="a.txt")
    assert status == 204, body
    assert headers["etag"] == f'"{hashlib.md5(b"hello form").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="uploads/a.txt")
    assert got["Body"].read() == b"hello form"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue"}


def test_success_action_status_and_redirect(s3, bucket):
    post = s3.generate_presigned_post(
        bucket,
        "k201",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}],
    )
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert status == 201
    assert b"<Key>k201</Key>" in body and f"<Bucket>{bucket}</Bucket>".encode() in body

    post = s3.generate_presigned_post(
        bucket,
        "k200",
        Fields={"success_action_status": "200"},
        Conditions=[{"success_action_status": "200"}],
    )
    assert _post(post["url"], post["fields"], b"x")[0] == 200

    target = "https://example.com/done?from=form"
    post = s3.generate_presigned_post(
        bucket,
        "kredirect",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
    )
    status, headers, _ = _post(post["url"], post["fields"], b"x")
    assert status == 303
    location = headers["location"]
    assert location.startswith("https://example.com/done?from=form&")
    assert f"bucket={bucket}" in location and "key=kredirect" in location and "etag=" in location


def test_content_length_range_is_enforced(s3, bucket):
    post = s3.generate_presigned_post(
        bucket, "ranged", Conditions=[["content-length-range", 10, 100]]
    )
    status, _, body = _post(post["url"], post["fields"], b"x" * 101)
    assert (status, _code(body)) == (400, "EntityTooLarge")
    status, _, body = _post(post["url"], post["fields"], b"x" * 9)
    assert (status, _code(body)) == (400, "EntityTooSmall")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert _post(post["url"], post["fields"], b"x" * 10)[0] == 204


def test_policy_conditions_refuse_with_aws_wording(s3, bucket):
    post = s3.generate_presigned_post(
        bucket, "docs/${filename}", Conditions=[["starts-with", "$key", "docs/"]]
    )
    fields = dict(post["fields"], key="elsewhere/x")
    status, _, body = _post(post["url"], fields, b"x")
    assert (status, _code(body)) == (403, "AccessDenied")
    assert _message(body).startswith("Invalid according to Policy: Policy Condition failed")

    fields = dict(post["fields"], **{"x-amz-meta-sneaky": "1"})
    status, _, body = _post(post["url"], fields, b"x")
    assert (status, _code(body)) == (403, "AccessDenied")
    assert _message(body) == "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"

    post = s3.generate_presigned_post(bucket, "late", ExpiresIn=-10)
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert (status, _message(body)) == (403, "Invalid according to Policy: Policy expired.")

    status, _, body = _post(post["url"], {"policy": "not base64 json!"}, b"x")
    assert (status, _code(body)) == (400, "InvalidArgument")  # no key field
    fields = {"key": "k", "policy": base64.b64encode(b"{nope").decode()}
    assert _code(_post(post["url"], fields, b"x")[2]) == "InvalidPolicyDocument"
    fields = {"key": "k", "policy": base64.b64encode(json.dumps({"conditions": []}).encode())}
    fields["policy"] = fields["policy"].decode()
    assert _message(_post(post["url"], fields, b"x")[2]) == (
        "Invalid Policy: Policy missing expiration."
    )
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_missing_bucket_and_fields_after_file_are_ignored(s3, bucket, cloudlet_server):
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bname('nobucket')}", {"key": "k"}, b"x")
    assert (status, _code(body)) == (404, "NoSuchBucket")
    post = s3.generate_presigned_post(bucket, "trailing")
    status, _, body = _post(post["url"], post["fields"], b"data", after={"ignored": "yes"})
    assert status == 204, body
    assert s3.get_object(Bucket=bucket, Key="trailing")["Body"].read() == b"data"


def test_large_file_streams_intact(s3, bucket):
    data = pattern_bytes(0, 12 * 1024 * 1024 + 17)
    post = s3.generate_presigned_post(bucket, "big.bin")
    # The boundary-like bytes inside the file must not end it early.
    status, headers, body = _post(post["url"], post["fields"], data + b"\r\n--not-the-boundary")
    assert status == 204, body
    got = s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert got == data + b"\r\n--not-the-boundary"


def test_unsigned_form_without_policy_works_in_open_mode(bucket, cloudlet_server, s3):
    url = f"{cloudlet_server.endpoint}/{bucket}"
    assert _post(url, {"key": "open.txt"}, b"anon")[0] == 204
    assert s3.get_object(Bucket=bucket, Key="open.txt")["Body"].read() == b"anon"


def test_hand_made_policy_without_bucket_condition(bucket, cloudlet_server, s3):
    """A policy written by hand (no ``bucket`` condition), with a starts-with on
    Content-Type and a content-length-range."""
    doc = {
        "expiration": "2099-01-01T00:00:00.000Z",
        "conditions": [
            ["starts-with", "$key", "hand/"],
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 0, 10],
        ],
    }
    policy = base64.b64encode(json.dumps(doc).encode()).decode()
    fields = {"key": "hand/${filename}", "Content-Type": "image/png", "policy": policy}
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bucket}", fields, b"png", filename="p")
    assert status == 204, body
    assert s3.head_object(Bucket=bucket, Key="hand/p")["ContentType"] == "image/png"
    fields["Content-Type"] = "text/plain"
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bucket}", fields, b"txt")
    assert (status, _code(body)) == (403, "AccessDenied")


# -- strict mode ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server():
    server = CloudletServer.start(
        auth="strict",
        extra_args=["--root-access-key", "AKIDPOST", "--root-secret-key", "postsecret"],
    )
    yield server
    server.stop()


def _strict_s3(server, secret="postsecret", signature_version=None):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDPOST",
        aws_secret_access_key=secret,
        config=Config(signature_version=signature_version) if signature_version else None,
    )


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_strict_mode_verifies_v4_and_v2_signatures(strict_server, version):
    s3 = _strict_s3(strict_server)
    name = bname("strictpost")
    s3.create_bucket(Bucket=name)
    post = _strict_s3(strict_server, signature_version=version).generate_presigned_post(
        name, "signed.txt"
    )
    if version == "s3":
        assert "AWSAccessKeyId" in post["fields"] and "signature" in post["fields"]
    status, _, body = _post(post["url"], post["fields"], b"signed")
    assert status == 204, body
    assert s3.get_object(Bucket=name, Key="signed.txt")["Body"].read() == b"signed"

    forged = _strict_s3(strict_server, "wrong", version).generate_presigned_post(name, "f.txt")
    status, _, body = _post(forged["url"], forged["fields"], b"forged")
    assert (status, _code(body)) == (403, "SignatureDoesNotMatch")
    status, _, body = _post(post["url"], {"key": "anon.txt"}, b"anon")
    assert (status, _code(body)) == (403, "AccessDenied")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    assert keys == ["signed.txt"]


def test_strict_mode_checks_the_signed_expiry(strict_server):
    s3 = _strict_s3(strict_server)
    name = bname("strictexp")
    s3.create_bucket(Bucket=name)
    post = s3.generate_presigned_post(name, "k", ExpiresIn=60)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires > datetime.datetime.now(datetime.UTC)
    assert _post(post["url"], post["fields"], b"ok")[0] == 204
