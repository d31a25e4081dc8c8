"""POST policy uploads: HTML-form POSTs built from boto3's ``generate_presigned_post``."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import re
import urllib.request
import uuid
import zlib
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from awscrt import checksums as crt_checksums
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import bname, pattern_bytes
from tests.services.s3_helpers import post_form as _post


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


def test_post_response_location_is_form_encoded(s3, bucket):
    """S3's PostResponse names the object's URL with the key form-encoded ('/' as %2F,
    a space as '+': captured AWS answers), in the body and the Location header; the
    URL reads the object back."""
    key = "up loads/k+1.txt"
    post = s3.generate_presigned_post(
        bucket,
        key,
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}],
    )
    status, headers, body = _post(post["url"], post["fields"], b"posted")
    assert status == 201
    location = headers["location"]
    assert location.endswith(f"/{bucket}/up+loads%2Fk%2B1.txt")
    assert f"<Location>{location}</Location>".encode() in body
    assert b"<Key>up loads/k+1.txt</Key>" in body
    with urllib.request.urlopen(location) as r:
        assert r.read() == b"posted"


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
    assert _message(_post(post["url"], _hand_made({"conditions": []}), b"x")[2]) == (
        "Invalid Policy: Policy missing expiration."
    )
    # ceph/s3-tests' missing_conditions_list and condition_is_case_sensitive: 400.
    soon = "2099-01-01T00:00:00.000Z"
    for doc in ({"expiration": soon}, {"expiration": soon, "CONDITIONS": []}):
        status, _, body = _post(post["url"], _hand_made(doc), b"x")
        assert (status, _code(body)) == (400, "InvalidPolicyDocument")
        assert _message(body) == "Invalid Policy: Policy missing conditions."
    # The expiration is ISO 8601 in UTC, as written in the reference; Python's
    # str(datetime) (ceph/s3-tests' invalid_date_format) is refused.
    doc = {"expiration": "2099-01-01 00:00:00.000000+00:00", "conditions": []}
    status, _, body = _post(post["url"], _hand_made(doc), b"x")
    assert (status, _code(body)) == (400, "InvalidPolicyDocument")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def _hand_made(doc: dict, key: str = "k") -> dict[str, str]:
    return {"key": key, "policy": base64.b64encode(json.dumps(doc).encode()).decode()}


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


def test_conditions_see_the_key_with_the_filename_put_in(bucket, cloudlet_server, s3):
    """ceph/s3-tests' ``set_key_from_filename``: ``${filename}`` is replaced before the
    policy's conditions are checked."""
    doc = {"expiration": "2099-01-01T00:00:00.000Z", "conditions": [["starts-with", "$key", "foo"]]}
    fields = _hand_made(doc, key="${filename}")
    url = f"{cloudlet_server.endpoint}/{bucket}"
    status, _, body = _post(url, fields, b"bar", filename="foo.txt")
    assert status == 204, body
    assert s3.get_object(Bucket=bucket, Key="foo.txt")["Body"].read() == b"bar"
    status, _, body = _post(url, fields, b"bar", filename="other.txt")
    assert (status, _code(body)) == (403, "AccessDenied")


# -- checksums --------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _expected_checksum(algorithm: str, data: bytes) -> str:
    """Computed independently of cloudlet: zlib/hashlib, and awscrt as botocore uses it."""
    if algorithm == "CRC32":
        return _b64(zlib.crc32(data).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return _b64(crt_checksums.crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return _b64(crt_checksums.crc64nvme(data).to_bytes(8, "big"))
    return _b64(hashlib.new(algorithm.lower(), data).digest())


def _checksum_post(s3, bucket: str, key: str, fields: dict[str, str]):
    """A presigned POST whose policy names every given field exactly."""
    return s3.generate_presigned_post(
        bucket, key, Fields=fields, Conditions=[{name: value} for name, value in fields.items()]
    )


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksum_field_is_verified_stored_and_returned(s3, bucket, algorithm):
    data = b"form bytes with a checksum " * 100
    value = _expected_checksum(algorithm, data)
    field = f"x-amz-checksum-{algorithm.lower()}"
    post = _checksum_post(
        s3, bucket, f"sum-{algorithm}", {field: value, "x-amz-checksum-algorithm": algorithm}
    )
    status, headers, body = _post(post["url"], post["fields"], data)
    assert status == 204, body
    assert headers[field] == value  # echoed, as PutObject echoes its checksum header
    member = f"Checksum{algorithm}"
    head = s3.head_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    got = s3.get_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    for out in (head, got):
        assert out[member] == value
        assert out["ChecksumType"] == "FULL_OBJECT"
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key=f"sum-{algorithm}", ObjectAttributes=["Checksum"]
    )
    assert attrs["Checksum"][member] == value


def test_checksum_mismatch_answers_what_put_object_answers(s3, bucket):
    wrong = _expected_checksum("SHA256", b"something else")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="put-bad", Body=b"the file", ChecksumSHA256=wrong)
    put_error = exc.value.response["Error"]
    post = _checksum_post(s3, bucket, "post-bad", {"x-amz-checksum-sha256": wrong})
    status, _, body = _post(post["url"], post["fields"], b"the file")
    assert (status, _code(body), _message(body)) == (400, put_error["Code"], put_error["Message"])
    assert (_code(body), _message(body)) == (
        "BadDigest",
        "The SHA256 you specified did not match the calculated checksum.",
    )
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_checksum_fields_must_be_covered_by_the_policy(s3, bucket):
    value = _expected_checksum("CRC32", b"data")
    post = s3.generate_presigned_post(bucket, "uncovered")
    fields = dict(post["fields"], **{"x-amz-checksum-crc32": value})
    status, _, body = _post(post["url"], fields, b"data")
    assert (status, _code(body)) == (403, "AccessDenied")
    assert _message(body) == "Invalid according to Policy: Extra input fields: x-amz-checksum-crc32"
    # A starts-with condition covers it as well as an exact one.
    post = s3.generate_presigned_post(
        bucket,
        "covered",
        Fields={"x-amz-checksum-crc32": value},
        Conditions=[["starts-with", "$x-amz-checksum-crc32", ""]],
    )
    assert _post(post["url"], post["fields"], b"data")[0] == 204
    head = s3.head_object(Bucket=bucket, Key="covered", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == value


def test_checksum_algorithm_field_alone_chooses_what_is_computed(s3, bucket):
    data = b"compute me"
    post = _checksum_post(s3, bucket, "alg-only", {"x-amz-checksum-algorithm": "sha1"})
    status, headers, body = _post(post["url"], post["fields"], data)
    assert status == 204, body
    assert headers["x-amz-checksum-sha1"] == _expected_checksum("SHA1", data)
    head = s3.head_object(Bucket=bucket, Key="alg-only", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == _expected_checksum("SHA1", data)
    # Without any checksum field the default is stored, as for PutObject.
    post = s3.generate_presigned_post(bucket, "no-sum")
    assert _post(post["url"], post["fields"], data)[0] == 204
    head = s3.head_object(Bucket=bucket, Key="no-sum", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == _expected_checksum("CRC64NVME", data)


def test_malformed_and_conflicting_checksum_fields(s3, bucket):
    cases = [
        {"x-amz-checksum-sha256": "not base64!"},
        {"x-amz-checksum-crc32": _b64(b"too long for crc32")},
        {
            "x-amz-checksum-crc32": _expected_checksum("CRC32", b"x"),
            "x-amz-checksum-sha1": _expected_checksum("SHA1", b"x"),
        },
        {
            "x-amz-checksum-crc32": _expected_checksum("CRC32", b"x"),
            "x-amz-checksum-algorithm": "SHA1",
        },
        {"x-amz-checksum-algorithm": "MD4"},
    ]
    for fields in cases:
        post = _checksum_post(s3, bucket, "bad-field", fields)
        status, _, body = _post(post["url"], post["fields"], b"x")
        assert (status, _code(body)) == (400, "InvalidRequest"), fields
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_content_md5_field(s3, bucket):
    data = b"md5 checked"
    good = _b64(hashlib.md5(data).digest())
    post = _checksum_post(s3, bucket, "md5", {"Content-MD5": good})
    assert _post(post["url"], post["fields"], data)[0] == 204
    bad = _b64(hashlib.md5(b"other").digest())
    post = _checksum_post(s3, bucket, "md5-bad", {"Content-MD5": bad})
    status, _, body = _post(post["url"], post["fields"], data)
    assert (status, _code(body)) == (400, "BadDigest")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


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


def test_strict_mode_names_a_missing_v4_field_as_s3_does(strict_server):
    """LocalStack's AWS-recorded ``exception-missing-signature`` and
    ``exception-missing-fields``: S3 names the field in its own spelling."""
    s3 = _strict_s3(strict_server, signature_version="s3v4")
    name = bname("strictmiss")
    s3.create_bucket(Bucket=name)
    post = s3.generate_presigned_post(name, "k")
    for dropped, named in [
        (("x-amz-signature",), "X-Amz-Signature"),
        (("x-amz-algorithm",), "X-Amz-Algorithm"),
        (("x-amz-algorithm", "x-amz-credential"), "X-Amz-Algorithm"),
        (("x-amz-credential",), "X-Amz-Credential"),
    ]:
        fields = {k: v for k, v in post["fields"].items() if k not in dropped}
        status, _, body = _post(post["url"], fields, b"x")
        assert (status, _code(body)) == (400, "InvalidArgument"), body
        assert _message(body) == (
            f"Bucket POST must contain a field named '{named}'.  If it is specified, please "
            "check the order of the fields."
        )
        assert f"<ArgumentName>{named}</ArgumentName>".encode() in body


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_strict_mode_takes_a_form_with_no_signature_field_as_anonymous(strict_server, version):
    """LocalStack's AWS-recorded ``exception-no-sig-related-fields``: only ``key`` and
    ``policy`` is an anonymous upload, refused 403 "Access Denied"."""
    s3 = _strict_s3(strict_server, signature_version=version)
    name = bname("strictanon")
    s3.create_bucket(Bucket=name)
    post = s3.generate_presigned_post(name, "k")
    fields = {k: v for k, v in post["fields"].items() if k in ("key", "policy")}
    status, _, body = _post(post["url"], fields, b"x")
    assert (status, _code(body), _message(body)) == (403, "AccessDenied", "Access Denied")


def test_strict_mode_takes_anonymous_forms_where_everyone_may_write(strict_server):
    """ceph/s3-tests' ``post_object_anonymous_request``: a bucket whose ACL lets
    everyone write takes an unsigned form without a policy, as it takes an unsigned PUT."""
    s3 = _strict_s3(strict_server)
    name = bname("strictpub")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    url = f"{strict_server.endpoint}/{name}"
    status, _, body = _post(url, {"key": "before"}, b"x")
    assert (status, _code(body), _message(body)) == (403, "AccessDenied", "Access Denied")
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    status, _, body = _post(url, {"key": "anon.txt", "success_action_status": "201"}, b"hi")
    assert status == 201, body
    assert s3.get_object(Bucket=name, Key="anon.txt")["Body"].read() == b"hi"


def test_strict_mode_checks_the_signer_may_put_the_object(strict_server):
    """A form signed by an IAM user is that user's PutObject: refused without a policy
    allowing it, as the same PUT would be."""
    root = _strict_s3(strict_server)
    name = bname("strictiam")
    root.create_bucket(Bucket=name)
    iam = strict_server.client(
        "iam", aws_access_key_id="AKIDPOST", aws_secret_access_key="postsecret"
    )
    user = bname("poster")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    signer = boto3.client(
        "s3",
        endpoint_url=strict_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    post = signer.generate_presigned_post(name, "k")
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert (status, _code(body)) == (403, "AccessDenied")
    assert "is not authorized to perform: s3:PutObject" in _message(body)
    allow = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}
    document = {"Version": "2012-10-17", "Statement": [allow]}
    iam.put_user_policy(UserName=user, PolicyName="put", PolicyDocument=json.dumps(document))
    assert _post(post["url"], post["fields"], b"x")[0] == 204


def test_strict_mode_checks_the_signed_expiry(strict_server):
    s3 = _strict_s3(strict_server)
    name = bname("strictexp")
    s3.create_bucket(Bucket=name)
    post = s3.generate_presigned_post(name, "k", ExpiresIn=60)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires > datetime.datetime.now(datetime.UTC)
    assert _post(post["url"], post["fields"], b"ok")[0] == 204


def test_post_upload_gets_the_bucket_default_retention(s3):
    name = bname("postlock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    post = s3.generate_presigned_post(name, "locked.txt")
    status, _, body = _post(post["url"], post["fields"], b"kept")
    assert status == 204, body
    retention = s3.get_object_retention(Bucket=name, Key="locked.txt")["Retention"]
    assert retention["Mode"] == "GOVERNANCE"


# -- success_action_redirect, tagging, the file field ----------------------------------


def _error_fields(body: bytes) -> dict[str, str]:
    """An S3 XML error body's fields, without the ids."""
    fields = {e.tag: e.text or "" for e in ElementTree.fromstring(body)}
    return {k: v for k, v in fields.items() if k not in ("RequestId", "HostId")}


@pytest.mark.parametrize("target", ["invalid-url", "/done.html", "//example.com/x", "http://[::1"])
def test_redirect_s3_cannot_interpret_acts_as_absent(s3, bucket, target):
    """AWS S3 API reference, POST Object, ``success_action_redirect``: "If Amazon S3
    cannot interpret the URL, it acts as if the field is not present", so
    ``success_action_status`` answers (204 by default). LocalStack's provider answers
    204 for a URL without a host too (``create_redirect_for_post_request``)."""
    post = s3.generate_presigned_post(
        bucket,
        "no-redirect",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
    )
    status, headers, body = _post(post["url"], post["fields"], b"x")
    assert (status, body) == (204, b"")
    assert headers["location"].endswith(f"/{bucket}/no-redirect")  # the object's, no redirect
    assert s3.get_object(Bucket=bucket, Key="no-redirect")["Body"].read() == b"x"
    # With success_action_status, that answers instead.
    fields = {"success_action_redirect": target, "success_action_status": "201"}
    post = s3.generate_presigned_post(
        bucket, "no-redirect-201", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert status == 201 and b"<Key>no-redirect-201</Key>" in body


TAGGING = (
    "<Tagging><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag>"
    "<Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
)


def test_tagging_field_tags_the_object(s3, bucket):
    """AWS S3 API reference, POST Object: the ``tagging`` field holds a ``Tagging``
    document (``<Tagging><TagSet><Tag><Key>..</Key><Value>..</Value></Tag>..``) whose
    tags the object gets; a policy names it as any other field."""
    post = s3.generate_presigned_post(
        bucket, "tagged", Fields={"tagging": TAGGING}, Conditions=[{"tagging": TAGGING}]
    )
    status, _, body = _post(post["url"], post["fields"], b"tagged")
    assert status == 204, body
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [
        {"Key": "project", "Value": "blue"},
        {"Key": "team", "Value": "web"},
    ]
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 2
    # A namespace, as S3's own documents carry, and a starts-with condition.
    namespaced = TAGGING.replace(
        "<Tagging>", '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    )
    post = s3.generate_presigned_post(
        bucket,
        "tagged-ns",
        Fields={"tagging": namespaced},
        Conditions=[["starts-with", "$tagging", "<Tagging"]],
    )
    assert _post(post["url"], post["fields"], b"x")[0] == 204
    assert len(s3.get_object_tagging(Bucket=bucket, Key="tagged-ns")["TagSet"]) == 2


def test_tagging_field_is_checked_by_the_policy(s3, bucket):
    """Conditions on ``tagging`` work as on other fields (AWS user guide, "Creating a
    POST policy": every form field but the exempt ones must be named)."""
    post = s3.generate_presigned_post(bucket, "uncovered")
    status, _, body = _post(post["url"], dict(post["fields"], tagging=TAGGING), b"x")
    assert (status, _message(body)) == (
        403,
        "Invalid according to Policy: Extra input fields: tagging",
    )
    post = s3.generate_presigned_post(
        bucket, "mismatch", Fields={"tagging": TAGGING}, Conditions=[{"tagging": "<Tagging/>"}]
    )
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert (status, _code(body)) == (403, "AccessDenied")
    assert _message(body).startswith("Invalid according to Policy: Policy Condition failed")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    "tagging",
    [
        "<Tagging><TagSet><Tag><Key>a</Key>",  # not well-formed
        "not xml at all",
        "<Tagging><Tag><Key>a</Key><Value>b</Value></Tag></Tagging>",  # no TagSet
        "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",  # no Value
        "<Other><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Other>",
    ],
)
def test_tagging_field_that_is_not_a_tagging_document(s3, bucket, tagging):
    """Invalid XML in ``tagging`` is S3's ``MalformedXML``, as PutObjectTagging's body
    (LocalStack's provider: ``parse_post_object_tagging_xml`` raises MalformedXML)."""
    post = s3.generate_presigned_post(
        bucket, "bad-tags", Fields={"tagging": tagging}, Conditions=[{"tagging": tagging}]
    )
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert (status, _error_fields(body)) == (
        400,
        {
            "Code": "MalformedXML",
            "Message": "The XML you provided was not well-formed or did not validate against "
            "our published schema",
        },
    )
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_tagging_field_follows_put_object_tagging_rules(s3, bucket):
    """The tags follow PutObjectTagging's rules: the same ``InvalidTag`` answers
    (compared with PutObjectTagging's own on this server)."""
    s3.put_object(Bucket=bucket, Key="ref", Body=b"x")
    eleven = "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11))
    cases = [
        [{"Key": "aws:reserved", "Value": "v"}],
        [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
        [{"Key": f"k{i}", "Value": "v"} for i in range(11)],
    ]
    documents = [
        "<Tagging><TagSet><Tag><Key>aws:reserved</Key><Value>v</Value></Tag></TagSet></Tagging>",
        "<Tagging><TagSet><Tag><Key>dup</Key><Value>1</Value></Tag>"
        "<Tag><Key>dup</Key><Value>2</Value></Tag></TagSet></Tagging>",
        f"<Tagging><TagSet>{eleven}</TagSet></Tagging>",
    ]
    for tag_set, document in zip(cases, documents, strict=True):
        with pytest.raises(ClientError) as exc:
            s3.put_object_tagging(Bucket=bucket, Key="ref", Tagging={"TagSet": tag_set})
        expected = exc.value.response["Error"]
        post = s3.generate_presigned_post(
            bucket, "bad", Fields={"tagging": document}, Conditions=[{"tagging": document}]
        )
        status, _, body = _post(post["url"], post["fields"], b"x")
        got = _error_fields(body)
        assert (status, got["Code"], got["Message"]) == (
            400,
            expected["Code"],
            expected["Message"],
        )
        assert got["Code"] in {"InvalidTag", "BadRequest"}  # BadRequest: over 10 tags
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def _post_without_file(url: str, fields: dict[str, str]):
    """A form with every field but no ``file`` part."""
    boundary = f"----cloudletform{uuid.uuid4().hex}"
    body = bytearray()
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value.encode() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        conn.request("POST", parts.path or "/", body=bytes(body), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_form_without_a_file_field(s3, bucket):
    """Real S3's answer to a form with no file, as users got it from AWS (GitHub
    itinance/react-native-fs#992, danialfarid/ng-file-upload#809): ``InvalidArgument``
    "POST requires exactly one file upload per request.", ``ArgumentName`` ``file``,
    ``ArgumentValue`` ``0``."""
    post = s3.generate_presigned_post(bucket, "no-file")
    status, body = _post_without_file(post["url"], post["fields"])
    assert (status, _error_fields(body)) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "POST requires exactly one file upload per request.",
            "ArgumentName": "file",
            "ArgumentValue": "0",
        },
    )
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
