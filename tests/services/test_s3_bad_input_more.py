"""More malformed S3 requests found by fuzzing: each gets S3's own error (code, status,
XML document), never a 500, and none of them changes what is stored.

- a sub-resource on a DELETE (or PUT) that no operation of that method serves is S3's
  405 ``MethodNotAllowed``, never DeleteBucket/DeleteObject/PutObject;
- a POST form's unparseable ``success_action_redirect`` is ignored, and a policy's
  ``content-length-range`` must hold two whole numbers;
- ``partNumber`` outside 1..10000 is ``InvalidArgument``, not a 416;
- CORS ``MaxAgeSeconds``, encryption and checksum headers, tag characters and bucket
  policy documents are checked as S3 checks them;
- keys with control characters list as S3 lists them;
- a key whose percent-decoded bytes are no UTF-8 is ``InvalidURI``, not a U+FFFD key;
- a copy source S3 cannot decode, or one on a request that copies nothing, is
  ``InvalidArgument``.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.services.s3_helpers import bname, error, open_bucket
from tests.services.s3_helpers import post_form as _post
from tests.services.test_s3_stored_values import raw


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


def _selectors() -> dict[str, set[tuple[str, str]]]:
    """Every query literal of botocore's S3 model: name -> {(method, "bucket"|"key")}."""
    model = botocore.session.get_session().get_service_model("s3")
    out: dict[str, set[tuple[str, str]]] = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        where = "key" if "{Key+}" in path else "bucket"
        for part in filter(None, query.split("&")):
            out.setdefault(part.split("=")[0], set()).add((http["method"], where))
    return out


SELECTORS = _selectors()
SELECTORS["uploadId"] = {("DELETE", "key")}  # AbortMultipartUpload's required member
# Not sub-resources on their own; S3 answers ``session`` and ``renameObject`` as the
# bare path does (see ``request_checks.py``).
NOT_REFUSED = {"x-id", "list-type", "select-type", "session", "renameObject"}
SUBRESOURCES = sorted(set(SELECTORS) - NOT_REFUSED)


def _code(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else body.decode()


def _element(body: bytes, name: str) -> str | None:
    m = re.search(rb"<%s>([^<]*)</%s>" % (name.encode(), name.encode()), body)
    return m.group(1).decode() if m else None


def _exists(call, **kw) -> bool:
    """Whether a HeadBucket/HeadObject call finds what it names (False on its 404)."""
    try:
        call(**kw)
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return True


# -- 1. sub-resources never fall through to the bare bucket or key ---------------------


@pytest.mark.parametrize("name", SUBRESOURCES)
def test_delete_with_a_subresource_never_deletes_the_bucket(s3, cloudlet_server, name):
    bucket = bname("subres")
    s3.create_bucket(Bucket=bucket)
    status, body = raw(cloudlet_server.endpoint, "DELETE", f"/{bucket}?{name}")
    assert status < 500 or _code(body) == "NotImplemented", body  # a configuration cloudlet lacks
    assert _exists(s3.head_bucket, Bucket=bucket), (name, status, body)
    if ("DELETE", "bucket") not in SELECTORS.get(name, set()):
        assert (status, _code(body)) == (405, "MethodNotAllowed"), body
        assert _element(body, "Method") == "DELETE" and _element(body, "ResourceType")
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("name", SUBRESOURCES)
def test_delete_with_a_subresource_never_deletes_the_object(s3, cloudlet_server, name):
    bucket = bname("subres")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    status, body = raw(cloudlet_server.endpoint, "DELETE", f"/{bucket}/kept?{name}")
    assert status < 500 or _code(body) == "NotImplemented", body
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x", (name, body)
    if ("DELETE", "key") not in SELECTORS.get(name, set()):
        assert (status, _code(body)) == (405, "MethodNotAllowed"), body


def test_put_with_a_subresource_no_put_serves_changes_nothing(s3, cloudlet_server):
    bucket = bname("subres")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    for path, kind in [
        (f"/{bucket}/kept?restore", "RESTORE"),
        (f"/{bucket}/kept?uploads", "UPLOADS"),
        (f"/{bucket}/kept?uploadId=u", "UPLOAD"),
        (f"/{bucket}?delete", "MULTI_OBJECT_DELETE"),
        (f"/{bname('subres')}?location", "LOCATION"),
    ]:
        status, body = raw(cloudlet_server.endpoint, "PUT", path, b"new")
        assert (status, _code(body), _element(body, "ResourceType")) == (
            405,
            "MethodNotAllowed",
            kind,
        ), (path, body)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_query_parameters_that_are_no_subresource_are_ignored_as_s3_ignores_them(
    s3, cloudlet_server
):
    """``DELETE /bucket?foo`` is DeleteBucket on S3 too (SDKs add ``?x-id=...``)."""
    bucket = bname("subres")
    s3.create_bucket(Bucket=bucket)
    status, body = raw(cloudlet_server.endpoint, "DELETE", f"/{bucket}?notarealthing=1")
    assert status == 204, body
    assert not _exists(s3.head_bucket, Bucket=bucket)


# -- 2. and 3. POST forms ------------------------------------------------------------


def test_post_with_an_unparseable_redirect_answers_as_without_one(s3, cloudlet_server):
    bucket = bname("form")
    s3.create_bucket(Bucket=bucket)
    url = f"{cloudlet_server.endpoint}/{bucket}"
    fields = {"key": "r", "success_action_redirect": "http://[::1"}
    status, headers, body = _post(url, fields, b"data")
    assert status == 204 and "location" in headers and "[::1" not in headers["location"], body
    status, _, body = _post(url, {**fields, "key": "s", "success_action_status": "201"}, b"d")
    assert status == 201 and b"<Key>s</Key>" in body, body
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"data"


@pytest.mark.parametrize(
    "low, high",
    [
        (0, float("inf")),
        (float("nan"), 10),
        (0, 10**30),
        (1.5, 10),
        (-1, 10),
        ("ten", 10),
        (True, 10),
    ],
    ids=["infinity", "nan", "huge", "fraction", "negative", "word", "boolean"],
)
def test_post_policy_content_length_range_must_hold_whole_numbers(s3, low, high):
    bucket = bname("form")
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(
        bucket, "ranged", Conditions=[["content-length-range", low, high]]
    )
    status, _, body = _post(post["url"], post["fields"], b"x")
    assert (status, _code(body)) == (400, "InvalidPolicyDocument"), body
    assert not _exists(s3.head_object, Bucket=bucket, Key="ranged")


def test_post_policy_content_length_range_past_a_double_is_invalid(s3, cloudlet_server):
    """``1e400`` is JSON for infinity once parsed: the same refusal, never a 500."""
    bucket = bname("form")
    s3.create_bucket(Bucket=bucket)
    doc = '{"expiration": "2099-01-01T00:00:00Z", "conditions": [{"key": "k"}, '
    doc += '["content-length-range", 0, 1e400]]}'
    fields = {"key": "k", "policy": base64.b64encode(doc.encode()).decode()}
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bucket}", fields, b"x")
    assert (status, _code(body)) == (400, "InvalidPolicyDocument"), body
    # Whole numbers, as digit strings too, still bound the upload.
    post = s3.generate_presigned_post(bucket, "ok", Conditions=[["content-length-range", "1", 5]])
    assert _post(post["url"], post["fields"], b"abc")[0] == 204


# -- 4. partNumber ------------------------------------------------------------------


@pytest.mark.parametrize("part", [0, -1, 10001])
def test_part_number_out_of_range_is_an_invalid_argument(s3, part):
    bucket = bname("parts")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", PartNumber=part)
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["Message"] == (
        "Part number must be an integer between 1 and 10000, inclusive"
    )
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", PartNumber=part)
    assert error(exc)[1] == 400
    assert s3.get_object(Bucket=bucket, Key="k", PartNumber=1)["Body"].read() == b"hello"


@pytest.mark.parametrize("text", ["abc", "1.5", "", "99999999999999999999"])
def test_part_number_that_is_no_integer_is_an_invalid_argument(s3, cloudlet_server, text):
    bucket = bname("parts")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    status, body = raw(cloudlet_server.endpoint, "GET", f"/{bucket}/k?partNumber={text}")
    assert (status, _code(body)) == (400, "InvalidArgument"), body
    assert _element(body, "ArgumentName") == "partNumber"
    assert raw(cloudlet_server.endpoint, "HEAD", f"/{bucket}/k?partNumber={text}")[0] == 400


# -- 5. list-type --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["3", "1", "0", "bogus"])
def test_a_list_type_other_than_2_is_a_version_1_listing(s3, cloudlet_server, value):
    """S3 answers ``list-type=2`` with ListObjectsV2 and any other value with ListObjects."""
    bucket = bname("listtype")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, body = raw(cloudlet_server.endpoint, "GET", f"/{bucket}?list-type={value}")
    assert status == 200, body
    assert b"<Marker>" in body and b"<KeyCount>" not in body and b"<Key>k</Key>" in body


# -- 6. CORS MaxAgeSeconds ------------------------------------------------------------


def _cors(max_age: int) -> dict:
    rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": max_age}
    return {"CORSRules": [rule]}


@pytest.mark.parametrize("max_age", [-1, 2**31, 10**20])
def test_cors_max_age_out_of_range_is_malformed_xml(s3, max_age):
    bucket = bname("cors")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=_cors(60))
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=_cors(max_age))
    assert error(exc) == ("MalformedXML", 400)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 60
    for edge in (0, 2**31 - 1):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=_cors(edge))


# -- 7. encryption and checksum headers -------------------------------------------------


def test_an_unknown_server_side_encryption_is_an_invalid_argument(s3):
    bucket = bname("sse")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    calls = [
        (s3.put_object, {"Key": "k", "Body": b"x", "ServerSideEncryption": "BOGUS"}),
        (s3.put_object, {"Key": "k", "Body": b"x", "ServerSideEncryption": "aes256"}),
        (s3.create_multipart_upload, {"Key": "k", "ServerSideEncryption": "BOGUS"}),
        (
            s3.copy_object,
            {"Key": "k", "CopySource": f"{bucket}/src", "ServerSideEncryption": "BOGUS"},
        ),
    ]
    for call, kw in calls:
        with pytest.raises(ClientError) as exc:
            call(Bucket=bucket, **kw)
        assert error(exc) == ("InvalidArgument", 400)
        assert exc.value.response["Error"]["Message"] == (
            "The encryption method specified is not supported"
        )
    assert not _exists(s3.head_object, Bucket=bucket, Key="k")
    for algorithm in ("AES256", "aws:kms", "aws:kms:dsse"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=algorithm)


def test_a_kms_key_needs_kms_encryption(s3):
    bucket = bname("sse")
    s3.create_bucket(Bucket=bucket)
    for extra in ({}, {"ServerSideEncryption": "AES256"}):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSEKMSKeyId="key", **extra)
        assert error(exc) == ("InvalidArgument", 400)
        assert (
            "requires HTTP header x-amz-server-side-encryption : aws:kms"
            in (exc.value.response["Error"]["Message"])
        )
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id
    )


def test_encryption_header_on_a_read_is_not_supported(s3, cloudlet_server):
    bucket = bname("sse")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    headers = {"x-amz-server-side-encryption": "AES256"}
    status, body = raw(cloudlet_server.endpoint, "GET", f"/{bucket}/k", headers=headers)
    assert (status, _code(body)) == (400, "InvalidArgument"), body
    assert b"header is not supported for this operation" in body


def test_a_form_with_an_unknown_encryption_is_refused(s3, cloudlet_server):
    bucket = bname("sse")
    s3.create_bucket(Bucket=bucket)
    url = f"{cloudlet_server.endpoint}/{bucket}"
    status, _, body = _post(url, {"key": "f", "x-amz-server-side-encryption": "BOGUS"}, b"x")
    assert (status, _code(body)) == (400, "InvalidArgument"), body
    assert not _exists(s3.head_object, Bucket=bucket, Key="f")
    assert _post(url, {"key": "f", "x-amz-server-side-encryption": "AES256"}, b"x")[0] == 204


@pytest.mark.parametrize(
    "header",
    ["x-amz-checksum-algorithm", "x-amz-checksum-type"],
)
def test_unknown_checksum_algorithm_or_type_is_an_invalid_request(s3, cloudlet_server, header):
    bucket = bname("sums")
    s3.create_bucket(Bucket=bucket)
    for method, path in [("PUT", f"/{bucket}/k"), ("POST", f"/{bucket}/k?uploads")]:
        status, body = raw(cloudlet_server.endpoint, method, path, b"x", {header: "BOGUS"})
        assert (status, _code(body)) == (400, "InvalidRequest"), body
        if header == "x-amz-checksum-type":
            assert _element(body, "Message") == f"Value for {header} header is invalid."
        else:
            assert _element(body, "Message") == (
                "Checksum algorithm provided is unsupported. Please try again with any of the "
                "valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, "
                "XXHASH3, XXHASH64]"
            )
    assert not _exists(s3.head_object, Bucket=bucket, Key="k")


def test_complete_with_an_unknown_checksum_type_is_an_invalid_request(s3):
    bucket = bname("sums")
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"x")
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]}
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, ChecksumType="BOGUS"
        )
    assert error(exc) == ("InvalidRequest", 400)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts)


# -- 8. tags and keys with control characters ------------------------------------------


@pytest.mark.parametrize(
    "tagging, message",
    [("a=b%01c", "TagValue"), ("a%1F=b", "TagKey"), ("a=b%7F", "TagValue")],
)
def test_tags_with_control_characters_are_invalid(s3, tagging, message):
    bucket = bname("tags")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=tagging)
    assert error(exc) == ("InvalidTag", 400)
    assert message in exc.value.response["Error"]["Message"]
    assert not _exists(s3.head_object, Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b c:d/e@f")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("platform", "metal,openstack", "TagValue"),  # AWS refuses a comma
        ("Name", "a (b)", "TagValue"),
        ("a#b", "v", "TagKey"),
        ("k", "semi;colon", "TagValue"),
    ],
)
def test_tags_outside_aws_tag_characters_are_invalid(s3, key, value, message):
    bucket = bname("tags")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tag_set = {"TagSet": [{"Key": key, "Value": value}]}
    for call in (
        lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set),
        lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("InvalidTag", 400)
        assert (
            exc.value.response["Error"]["Message"] == f"The {message} you have provided is invalid"
        )
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    # Letters, digits and spaces of any script, and + - = . _ : / @, are tags.
    fine = [{"Key": "Ключ 名前 +-=._:/@", "Value": "ß 3 ½"}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": fine})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == fine


def test_a_key_twice_in_the_tagging_header_is_an_invalid_argument(s3):
    bucket = bname("tags")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=&a=")
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["Message"] == (
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
        "parameters without tag name duplicates."
    )
    assert not _exists(s3.head_object, Bucket=bucket, Key="k")


def test_keys_with_control_characters_list_back_as_they_were_put(s3, cloudlet_server):
    bucket = bname("ctrl")
    s3.create_bucket(Bucket=bucket)
    keys = ["a\x01b", "tab\tand\x1fus", "dir\x02/inside"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(keys)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]) == sorted(keys)
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(keys)
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir\x02/"]
    for query in ("", "?list-type=2", "?list-type=2&delimiter=/"):
        status, body = raw(cloudlet_server.endpoint, "GET", f"/{bucket}{query}")
        assert status == 200 and b"\x01" not in body and b"\x02" not in body, body
        assert b"&#x1;" in body or b"&#x2;" in body
        # Well-formed once the references S3 writes are read as characters.
        ET.fromstring(re.sub(rb"&#x[0-9a-f]+;", b"?", body))


# -- 9. bucket policy documents -------------------------------------------------------


def _statement(**changes) -> dict:
    st = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    for key, value in changes.items():
        if value is None:
            st.pop(key)
        else:
            st[key] = value
    return st


def _doc(*statements, **top) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **top})


@pytest.mark.parametrize(
    "document, message",
    [
        ("[]", "Policies must be valid JSON and the first byte must be '{'"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (json.dumps({"Statement": "allow"}), "This policy contains invalid Json"),
        (json.dumps({"Statement": [1]}), "This policy contains invalid Json"),
        (_doc(), "Could not parse the policy: Statement is empty!"),
        (_doc(_statement(), Version="2020-01-01"), "The policy must contain a valid version"),
        (_doc(_statement(Effect=None)), "Missing required field Effect"),
        (_doc(_statement(Effect="Maybe")), "Invalid effect: Maybe"),
        (_doc(_statement(Principal=None)), "Missing required field Principal"),
        (_doc(_statement(Principal=7)), "Invalid principal in policy"),
        (_doc(_statement(Principal={"AWS": []})), "Invalid principal in policy"),
        (_doc(_statement(Action=None)), "Missing required field Action"),
        (_doc(_statement(Action=["s3:GetObject", 3])), "Policy has invalid action"),
        (_doc(_statement(Resource=None)), "Missing required field Resource"),
        (_doc(_statement(Resource={"a": "b"})), "Policy has invalid resource"),
    ],
)
def test_a_policy_of_the_wrong_shape_is_malformed(s3, document, message):
    bucket = open_bucket(s3, "policy")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert error(exc) == ("MalformedPolicy", 400)
    assert exc.value.response["Error"]["Message"].startswith(message)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert error(exc) == ("NoSuchBucketPolicy", 404)


def test_a_policy_of_the_right_shape_is_stored(s3):
    bucket = open_bucket(s3, "policy")
    single = json.dumps({"Statement": _statement(Resource=f"arn:aws:s3:::{bucket}/*")})
    s3.put_bucket_policy(Bucket=bucket, Policy=single)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == single
    negated = _doc(
        _statement(
            Effect="Deny",
            Principal=None,
            NotPrincipal={"AWS": ["arn:aws:iam::123456789012:root"]},
            Action=None,
            NotAction="s3:GetObject",
            Resource=None,
            NotResource=[f"arn:aws:s3:::{bucket}/public/*"],
        )
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=negated)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == negated


# -- 10. keys that are no UTF-8 ----------------------------------------------------------


@pytest.mark.parametrize("target", ["h%FF", "a%C3", "%ED%A0%80", "x%C3%28"])
def test_a_key_whose_bytes_are_no_utf8_is_an_invalid_uri(s3, cloudlet_server, target):
    bucket = bname("uri")
    s3.create_bucket(Bucket=bucket)
    for method, body in (("PUT", b"x"), ("GET", b"")):
        status, reply = raw(cloudlet_server.endpoint, method, f"/{bucket}/{target}", body)
        assert (status, _code(reply)) == (400, "InvalidURI"), reply
        assert b"Couldn't parse the specified URI." in reply
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# -- 11. copy sources --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{b}/%ZZ", "Invalid copy source encoding."),  # no hex digits
        ("{b}/100%", "Invalid copy source encoding."),  # an escape cut short
        ("{b}/%A/bar", "Invalid copy source encoding."),  # one digit
        ("{b}/h%FF", "Invalid copy source encoding."),  # no UTF-8
        ("%", "Invalid copy source encoding."),
        ("Bad_Bucket/k", "Invalid copy source bucket name"),
        ("{b}", "Invalid copy source object key"),
        ("/{b}/", "Invalid copy source object key"),
    ],
)
def test_a_copy_source_s3_cannot_read_is_an_invalid_argument(s3, cloudlet_server, source, message):
    bucket = bname("cps")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    header = {"x-amz-copy-source": source.format(b=bucket)}
    for target in (f"/{bucket}/copy", f"/{bucket}/m?partNumber=1&uploadId={upload}"):
        status, reply = raw(cloudlet_server.endpoint, "PUT", target, b"", header)
        assert (status, _code(reply)) == (400, "InvalidArgument"), reply
        assert f"<Message>{message}</Message>".encode() in reply
        assert b"<ArgumentName>x-amz-copy-source</ArgumentName>" in reply
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=upload).get("Parts", []) == []


def test_an_escaped_utf8_copy_source_copies(s3):
    bucket = bname("cps")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="naïve 100%.txt", Body=b"data")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/naïve 100%.txt")
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"data"


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/{b}/k"), ("HEAD", "/{b}/k"), ("DELETE", "/{b}/k"), ("PUT", "/{b}"), ("GET", "/{b}")],
)
def test_a_copy_source_on_a_request_that_copies_nothing_is_refused(
    s3, cloudlet_server, method, target
):
    bucket = bname("cps")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    header = {"x-amz-copy-source": f"{bucket}/k"}
    status, reply = raw(cloudlet_server.endpoint, method, target.format(b=bucket), b"", header)
    assert status == 400, reply
    if method != "HEAD":
        assert _code(reply) == "InvalidArgument", reply
        assert b"You can only specify a copy source header for copy requests." in reply
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"


def _bare(endpoint: str, request: bytes) -> bytes:
    """One request written as given (http.client would add a Content-Length)."""
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_put_without_content_length_is_411_and_stores_nothing(s3, cloudlet_server):
    """S3's error list: MissingContentLength, 411, "You must provide the Content-Length
    HTTP header." Plain chunked transfer coding is S3's 501 naming the header (AWS's
    answer quoted in aws-sdk-js#15, botocore#35, aws-sdk-go#4944); an aws-chunked body,
    whose x-amz-decoded-content-length says its length, is still taken chunked."""
    bucket = open_bucket(s3, "nolen")
    head = f"PUT /{bucket}/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
    answer = _bare(cloudlet_server.endpoint, head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 411"), answer[:200]
    assert b"<Code>MissingContentLength</Code>" in answer
    assert b"You must provide the Content-Length HTTP header." in answer
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    answer = _bare(cloudlet_server.endpoint, chunked)
    assert answer.startswith(b"HTTP/1.1 501"), answer[:200]
    assert b"<Code>NotImplemented</Code>" in answer
    assert b"<Header>Transfer-Encoding</Header>" in answer
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    framed = b"3\r\nabc\r\n0\r\n\r\n"  # aws-chunked, unsigned, no trailer
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(framed), framed)
    aws_chunked = head + (
        b"Transfer-Encoding: chunked\r\nContent-Encoding: aws-chunked\r\n"
        b"x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\n"
        b"x-amz-decoded-content-length: 3\r\n\r\n"
    )
    answer = _bare(cloudlet_server.endpoint, aws_chunked + body)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"abc"


def test_a_repeated_equal_content_length_is_read_once(s3, cloudlet_server):
    """Go's net/http sends Content-Length twice when a client copies a presigned PUT's
    signed headers (rclone's presigned single-part uploads): equal values are one
    length, as AWS and RFC 9110 take them; differing ones stay a 400."""
    bucket = open_bucket(s3, "dup-len")
    head = f"PUT /{bucket}/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
    twice = head + b"Content-Length: 3\r\ncontent-length: 3\r\n\r\nabc"
    answer = _bare(cloudlet_server.endpoint, twice)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"abc"
    differing = head.replace(b"/k ", b"/j ") + b"Content-Length: 3\r\ncontent-length: 4\r\n\r\nabcd"
    assert _bare(cloudlet_server.endpoint, differing).startswith(b"HTTP/1.1 400")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="j")


def test_an_append_is_501_and_the_object_is_kept(s3):
    """``x-amz-write-offset-bytes`` (S3 Express One Zone's appends, which minio-py's
    append_object and OpenDAL send) is refused naming the header; it used to be ignored,
    and the "append" overwrote the object."""
    bucket = bname()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="log", Body=b"abc")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="log", Body=b"def", WriteOffsetBytes=3)
    assert error(exc) == ("NotImplemented", 501)
    assert exc.value.response["Error"]["Header"] == "x-amz-write-offset-bytes"
    assert s3.get_object(Bucket=bucket, Key="log")["Body"].read() == b"abc"
