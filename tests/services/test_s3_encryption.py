"""Server-side encryption as S3 answers it, with real boto3 against a real server.

SDKs and tools read the encryption fields back (``aws s3 cp --sse``, Terraform's
``server_side_encryption``, audits that want ``aws:kms``), and S3 is strict about them:

- SSE-S3 (``AES256``) is the default for every write, and is reported on every answer;
- SSE-KMS reports the key as an ARN (the account's ``aws/s3`` key when none is given),
  the bucket key and the context, and its ETag is no longer the body's MD5;
- a bucket's default encryption applies to writes that name none;
- SSE-C is blocked on new buckets (since April 2026); once unblocked, the customer
  key must come with every read, every part and every copy, and is checked as S3
  checks it (algorithm, length, MD5);
- a POST form may ask for encryption too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error, md5_hex
from tests.services.s3_helpers import post_form as _post

MiB = 1024 * 1024
KEY = bytes(range(32))
OTHER = b"\xa5" * 32
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ETAG = re.compile(r'^"[0-9a-f]{32}"$')
KMS = {"ServerSideEncryption": "aws:kms"}

STORED = (
    "The object was stored using a form of Server Side Encryption. "
    "The correct parameters must be provided to retrieve the object."
)
WRONG_KEY = (
    "Requests specifying Server Side Encryption with Customer provided keys "
    "must provide the correct secret key."
)
INITIATE = (
    "The multipart upload initiate requested encryption. "
    "Subsequent part requests must include the appropriate encryption parameters."
)
BLOCKED = (
    "because this bucket has blocked upload requests that specify "
    "Server Side Encryption with Customer provided keys (SSE-C)"
)


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3) -> str:
    name = bname("sse")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def ssec_bucket(s3) -> str:
    """A bucket that accepts SSE-C: new buckets block it."""
    name = bname("ssec")
    s3.create_bucket(Bucket=name)
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
    }
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
    return name


@pytest.fixture
def account(aws_client) -> str:
    return aws_client("sts").get_caller_identity()["Account"]


def _ssec(key: bytes | str = KEY) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def _source_ssec(key: bytes = KEY) -> dict[str, Any]:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def _at(bucket: str, key: str = "k", body: bytes = b"x") -> dict[str, Any]:
    """PutObject's Bucket, Key and Body."""
    return {"Bucket": bucket, "Key": key, "Body": body}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _key_md5(key: bytes) -> str:
    return _b64(hashlib.md5(key).digest())


def _fails(call: Callable[..., Any], **kw: Any) -> tuple[str, int, str]:
    """The (code, status, message) of a call that must fail."""
    with pytest.raises(ClientError) as exc:
        call(**kw)
    return (*error(exc), exc.value.response["Error"].get("Message", ""))


def _missing(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def _rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]


# -- A. SSE-S3 by default ---------------------------------------------------------------


def test_a_plain_put_is_sse_s3_and_keeps_the_md5_etag(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{md5_hex(b"hello")}"'
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"hello"


def test_multipart_and_copy_answer_sse_s3(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert upload["ServerSideEncryption"] == "AES256"
    uid = upload["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x")
    assert part["ServerSideEncryption"] == "AES256"
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload=parts
    )
    assert done["ServerSideEncryption"] == "AES256"
    copy = s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/mp")
    assert copy["ServerSideEncryption"] == "AES256"


# -- B. SSE-KMS ------------------------------------------------------------------------


def test_kms_without_a_key_uses_the_accounts_aws_s3_key(s3, bucket, account):
    first = s3.put_object(**_at(bucket, "a"), **KMS)
    assert first["ServerSideEncryption"] == "aws:kms"
    arn = first["SSEKMSKeyId"]
    assert re.fullmatch(rf"arn:aws:kms:us-east-1:{account}:key/[0-9a-f-]{{36}}", arn), arn
    second = s3.put_object(**_at(bucket, "b"), **KMS)
    assert second["SSEKMSKeyId"] == arn
    for read in (s3.head_object, s3.get_object):
        got = read(Bucket=bucket, Key="a")
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", arn)
    assert "BucketKeyEnabled" not in first


@pytest.mark.parametrize(
    "given, expected",
    [
        (KEY_ID, "arn:aws:kms:us-east-1:{account}:key/" + KEY_ID),
        ("arn:aws:kms:us-east-1:111122223333:key/" + KEY_ID, None),
        ("alias/my-key", "arn:aws:kms:us-east-1:{account}:alias/my-key"),
    ],
    ids=["key-id", "key-arn", "alias"],
)
def test_a_kms_key_id_is_answered_as_an_arn(s3, bucket, account, given, expected):
    expected = given if expected is None else expected.format(account=account)
    put = s3.put_object(**_at(bucket), **KMS, SSEKMSKeyId=given)
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", expected)
    for read in (s3.head_object, s3.get_object):
        got = read(Bucket=bucket, Key="k")
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", expected)


def test_bucket_key_is_echoed_only_when_enabled(s3, bucket):
    put = s3.put_object(**_at(bucket, "on"), BucketKeyEnabled=True, **KMS)
    assert put["BucketKeyEnabled"] is True
    assert s3.head_object(Bucket=bucket, Key="on")["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="on")["BucketKeyEnabled"] is True
    put = s3.put_object(**_at(bucket, "off"), BucketKeyEnabled=False, **KMS)
    assert "BucketKeyEnabled" not in put
    assert "BucketKeyEnabled" not in s3.head_object(Bucket=bucket, Key="off")


def test_dsse_is_kms_without_a_bucket_key(s3, bucket, account):
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "BucketKeyEnabled": True}
    put = s3.put_object(**_at(bucket, "d"), **dsse)
    assert put["ServerSideEncryption"] == "aws:kms:dsse"
    assert put["SSEKMSKeyId"].startswith(f"arn:aws:kms:us-east-1:{account}:key/")
    assert "BucketKeyEnabled" not in put
    head = s3.head_object(Bucket=bucket, Key="d")
    assert head["ServerSideEncryption"] == "aws:kms:dsse" and "BucketKeyEnabled" not in head


def test_the_encryption_context_is_echoed_by_put_only(s3, bucket):
    context = _b64(json.dumps({"project": "cloudlet"}).encode())
    put = s3.put_object(**_at(bucket), **KMS, SSEKMSEncryptionContext=context)
    assert put["SSEKMSEncryptionContext"] == context
    assert "SSEKMSEncryptionContext" not in s3.head_object(Bucket=bucket, Key="k")


def test_a_key_id_of_no_known_form_is_not_found(s3, bucket):
    got = _fails(s3.put_object, **_at(bucket), **KMS, SSEKMSKeyId="fake-key-id")
    assert got == ("KMS.NotFoundException", 400, "Invalid keyId fake-key-id")
    assert _missing(s3, bucket, "k")


@pytest.mark.parametrize("context", [_b64(b"[1]"), "nope!"], ids=["json-list", "not-base64"])
def test_a_context_that_is_no_base64_json_map_is_invalid(s3, bucket, context):
    put = {**_at(bucket), **KMS, "SSEKMSEncryptionContext": context}
    code, status, message = _fails(s3.put_object, **put)
    assert (code, status) == ("InvalidArgument", 400)
    assert message.startswith(
        "The header 'x-amz-server-side-encryption-context' shall be "
        "Base64-encoded UTF-8 string holding JSON"
    ), message
    assert _missing(s3, bucket, "k")


def test_a_kms_etag_is_no_md5_of_the_body(s3, bucket):
    body = b"same body"
    etags = [s3.put_object(**_at(bucket, k, body), **KMS)["ETag"] for k in ("a", "b")]
    assert all(ETAG.match(e) for e in etags), etags
    assert f'"{md5_hex(body)}"' not in etags and etags[0] != etags[1]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == body


# -- C. bucket default encryption -------------------------------------------------------


def test_bucket_default_kms_applies_unless_the_request_names_one(s3, bucket, account):
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ID},
        "BucketKeyEnabled": True,
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == f"arn:aws:kms:us-east-1:{account}:key/{KEY_ID}"
    assert put["BucketKeyEnabled"] is True
    own = s3.put_object(Bucket=bucket, Key="s3", Body=b"x", ServerSideEncryption="AES256")
    assert own["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_two_encryption_rules_are_malformed(s3, bucket):
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    config = {"Rules": [rule, rule]}
    got = _fails(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=config)
    assert got[:2] == ("MalformedXML", 400)


# -- D. SSE-C blocked on new buckets --------------------------------------------------


def test_a_new_bucket_blocks_sse_c(s3, bucket):
    assert _rules(s3, bucket) == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
            "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
        }
    ]


def test_sse_c_writes_to_a_blocking_bucket_are_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    calls = [
        (s3.put_object, {"Body": b"x", **_ssec()}),
        (s3.create_multipart_upload, _ssec()),
        (s3.copy_object, {"CopySource": f"{bucket}/src", **_ssec()}),
    ]
    for call, kw in calls:
        code, status, message = _fails(call, Bucket=bucket, Key="k", **kw)
        assert (code, status) == ("AccessDenied", 403)
        assert BLOCKED in message, message
    assert _missing(s3, bucket, "k")


def test_sse_c_stays_blocked_until_the_rule_unblocks_it(s3, bucket):
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert _rules(s3, bucket)[0]["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
    assert _fails(s3.put_object, **_at(bucket), **_ssec())[:2] == ("AccessDenied", 403)
    rule["BlockedEncryptionTypes"] = {"EncryptionType": ["NONE"]}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert _rules(s3, bucket)[0]["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **_ssec())


# -- E. SSE-C objects -----------------------------------------------------------------


def test_an_sse_c_object_is_read_with_its_key_only(s3, ssec_bucket):
    b = ssec_bucket
    put = s3.put_object(Bucket=b, Key="k", Body=b"secret", **_ssec())
    assert (put["SSECustomerAlgorithm"], put["SSECustomerKeyMD5"]) == ("AES256", _key_md5(KEY))
    assert "ServerSideEncryption" not in put
    assert put["ETag"] != f'"{md5_hex(b"secret")}"'
    got = s3.get_object(Bucket=b, Key="k", **_ssec())
    assert got["Body"].read() == b"secret"
    head = s3.head_object(Bucket=b, Key="k", **_ssec())
    for answer in (got, head):
        assert answer["SSECustomerAlgorithm"] == "AES256"
        assert answer["SSECustomerKeyMD5"] == _key_md5(KEY)
    assert _fails(s3.get_object, Bucket=b, Key="k") == ("InvalidRequest", 400, STORED)
    assert _fails(s3.head_object, Bucket=b, Key="k")[:2] == ("400", 400)
    other = _fails(s3.get_object, Bucket=b, Key="k", **_ssec(OTHER))
    assert other == ("AccessDenied", 403, WRONG_KEY)


def test_sse_c_headers_on_a_plain_object_are_not_applicable(s3, ssec_bucket):
    s3.put_object(Bucket=ssec_bucket, Key="plain", Body=b"x")
    message = "The encryption parameters are not applicable to this object."
    got = _fails(s3.get_object, Bucket=ssec_bucket, Key="plain", **_ssec())
    assert got == ("InvalidRequest", 400, message)


def test_attributes_and_ranges_need_the_key_and_delete_does_not(s3, ssec_bucket):
    b = ssec_bucket
    s3.put_object(Bucket=b, Key="k", Body=b"0123456789", **_ssec())
    attrs = {"Bucket": b, "Key": "k", "ObjectAttributes": ["ObjectSize"]}
    assert _fails(s3.get_object_attributes, **attrs)[:2] == ("InvalidRequest", 400)
    # botocore encodes no key for this call: the key goes base64 with its MD5.
    ssec = {**_ssec(_b64(KEY)), "SSECustomerKeyMD5": _key_md5(KEY)}
    assert s3.get_object_attributes(**attrs, **ssec)["ObjectSize"] == 10
    ranged = s3.get_object(Bucket=b, Key="k", Range="bytes=2-5", **_ssec())
    assert ranged["Body"].read() == b"2345"
    s3.delete_object(Bucket=b, Key="k")
    assert _missing(s3, b, "k")


def test_each_version_keeps_its_own_key(s3, ssec_bucket):
    b = ssec_bucket
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one", **_ssec(KEY))["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"two", **_ssec(OTHER))
    wrong = _fails(s3.get_object, Bucket=b, Key="k", VersionId=v1, **_ssec(OTHER))
    assert wrong == ("AccessDenied", 403, WRONG_KEY)
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1, **_ssec(KEY))["Body"].read() == b"one"
    assert s3.get_object(Bucket=b, Key="k", **_ssec(OTHER))["Body"].read() == b"two"


# -- F. SSE-C validation ---------------------------------------------------------------


INVALID = "InvalidArgument"
MUST = "Requests specifying Server Side Encryption with Customer provided keys must provide "
CHECKS = {
    "with-sse": (
        {**_ssec(), "ServerSideEncryption": "AES256"},
        INVALID,
        "Server Side Encryption with Customer provided key is incompatible with the "
        "encryption method specified",
    ),
    "aes128": (
        {**_ssec(), "SSECustomerAlgorithm": "AES128"},
        "InvalidEncryptionAlgorithmError",
        "The Encryption request you specified is not valid. Supported value: AES256.",
    ),
    "no-algorithm": (
        {"SSECustomerKey": _b64(KEY), "SSECustomerKeyMD5": _key_md5(KEY)},
        INVALID,
        MUST + "a valid encryption algorithm.",
    ),
    "no-key": ({"SSECustomerAlgorithm": "AES256"}, INVALID, MUST + "an appropriate secret key."),
    "short-key": (
        _ssec(KEY[:16]),
        INVALID,
        "The secret key was invalid for the specified algorithm.",
    ),
    "wrong-md5": (
        {**_ssec(_b64(KEY)), "SSECustomerKeyMD5": "AAAAAAAAAAAAAAAAAAAAAA=="},
        INVALID,
        "The calculated MD5 hash of the key did not match the hash that was provided.",
    ),
}


@pytest.mark.parametrize("case", list(CHECKS))
def test_sse_c_headers_are_checked(s3, ssec_bucket, case):
    headers, code, message = CHECKS[case]
    with pytest.raises(ClientError) as exc:
        s3.put_object(**_at(ssec_bucket), **headers)
    assert error(exc) == (code, 400)
    assert exc.value.response["Error"]["Message"] == message
    if case == "with-sse":
        assert exc.value.response["Error"]["ArgumentName"] == "x-amz-server-side-encryption"
    assert _missing(s3, ssec_bucket, "k")


def test_sse_c_key_without_its_md5_is_refused(s3, ssec_bucket):
    """ceph/s3-tests' ``encryption_sse_c_no_md5``: boto3 always adds the key's MD5, so the
    header is taken off the request after it is built."""

    def drop_md5(request, **_):
        del request.headers["x-amz-server-side-encryption-customer-key-MD5"]

    s3.meta.events.register("before-sign.s3.PutObject", drop_md5)
    try:
        with pytest.raises(ClientError) as exc:
            s3.put_object(**_at(ssec_bucket), **_ssec())
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", drop_md5)
    assert error(exc) == (INVALID, 400)
    assert (
        exc.value.response["Error"]["Message"]
        == MUST + "the client calculated MD5 of the secret key."
    )
    assert _missing(s3, ssec_bucket, "k")


# -- G. SSE-C multipart uploads and copies ------------------------------------------------


def test_sse_c_multipart_parts_need_the_initiating_key(s3, ssec_bucket):
    b = ssec_bucket
    upload = s3.create_multipart_upload(Bucket=b, Key="mp", **_ssec())
    assert upload["SSECustomerAlgorithm"] == "AES256"
    assert upload["SSECustomerKeyMD5"] == _key_md5(KEY)
    part = {"Bucket": b, "Key": "mp", "UploadId": upload["UploadId"], "PartNumber": 1}
    assert _fails(s3.upload_part, Body=b"part", **part) == ("InvalidRequest", 400, INITIATE)
    mismatch = "The provided encryption parameters did not match the ones used originally."
    assert _fails(s3.upload_part, Body=b"part", **part, **_ssec(OTHER)) == (
        "InvalidRequest",
        400,
        mismatch,
    )
    sent = s3.upload_part(Body=b"part", **part, **_ssec())
    assert sent["SSECustomerAlgorithm"] == "AES256"
    assert sent["SSECustomerKeyMD5"] == _key_md5(KEY)
    parts = {"Parts": [{"PartNumber": 1, "ETag": sent["ETag"]}]}
    s3.complete_multipart_upload(
        Bucket=b, Key="mp", UploadId=upload["UploadId"], MultipartUpload=parts
    )
    assert _fails(s3.get_object, Bucket=b, Key="mp") == ("InvalidRequest", 400, STORED)
    assert s3.get_object(Bucket=b, Key="mp", **_ssec())["Body"].read() == b"part"


def test_sse_c_headers_on_a_plain_upload_part_are_refused(s3, ssec_bucket):
    uid = s3.create_multipart_upload(Bucket=ssec_bucket, Key="mp")["UploadId"]
    part = {"Bucket": ssec_bucket, "Key": "mp", "UploadId": uid, "PartNumber": 1}
    assert _fails(s3.upload_part, Body=b"x", **part, **_ssec()) == ("InvalidRequest", 400, INITIATE)


def test_transfer_manager_round_trips_an_sse_c_file(s3, ssec_bucket, tmp_path):
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    data = os.urandom(11 * MiB)
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
    s3.upload_file(str(src), ssec_bucket, "big", ExtraArgs=extra, Config=config)
    assert _fails(s3.get_object, Bucket=ssec_bucket, Key="big")[:2] == ("InvalidRequest", 400)
    s3.download_file(ssec_bucket, "big", str(dst), ExtraArgs=extra, Config=config)
    assert dst.read_bytes() == data


def test_copying_an_sse_c_object_needs_the_source_key(s3, ssec_bucket):
    b = ssec_bucket
    s3.put_object(Bucket=b, Key="src", Body=b"payload", **_ssec())
    copy = {"Bucket": b, "CopySource": f"{b}/src"}
    assert _fails(s3.copy_object, Key="t", **copy) == ("InvalidRequest", 400, STORED)
    plain = s3.copy_object(Key="plain", **copy, **_source_ssec())
    assert plain["ServerSideEncryption"] == "AES256"
    assert plain["CopyObjectResult"]["ETag"] == f'"{md5_hex(b"payload")}"'
    assert s3.get_object(Bucket=b, Key="plain")["Body"].read() == b"payload"
    s3.copy_object(Key="rekeyed", **copy, **_source_ssec(), **_ssec(OTHER))
    assert _fails(s3.get_object, Bucket=b, Key="rekeyed", **_ssec())[:2] == ("AccessDenied", 403)
    assert s3.get_object(Bucket=b, Key="rekeyed", **_ssec(OTHER))["Body"].read() == b"payload"


def test_upload_part_copy_from_an_sse_c_source_needs_its_key(s3, ssec_bucket):
    b = ssec_bucket
    s3.put_object(Bucket=b, Key="src", Body=b"payload", **_ssec())
    uid = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    part = {"Bucket": b, "Key": "mp", "UploadId": uid, "PartNumber": 1, "CopySource": f"{b}/src"}
    assert _fails(s3.upload_part_copy, **part) == ("InvalidRequest", 400, STORED)
    etag = s3.upload_part_copy(**part, **_source_ssec())["CopyPartResult"]["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid, MultipartUpload=parts)
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == b"payload"


# -- H. POST forms ---------------------------------------------------------------------


def test_a_form_may_ask_for_kms(s3, bucket, account, cloudlet_server):
    fields = {"key": "f", "x-amz-server-side-encryption": "aws:kms"}
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bucket}", fields, b"data")
    assert status == 204, body
    head = s3.head_object(Bucket=bucket, Key="f")
    assert head["ServerSideEncryption"] == "aws:kms"
    key_arn = rf"arn:aws:kms:us-east-1:{account}:key/[0-9a-f-]{{36}}"
    assert re.fullmatch(key_arn, head["SSEKMSKeyId"]), head["SSEKMSKeyId"]
