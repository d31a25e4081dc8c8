"""Values a request stores that could later break reading the object or the bucket,
and documents that are not the operation's.

Found by fuzzing: each of these was accepted and then made every GET, HEAD or
DELETE of the object (or every write to the bucket) answer 500 or drop the
connection. Now they are refused with a 400, or stored so they can be sent back.
"""

from __future__ import annotations

import base64
import http.client
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from cloudlet.services.s3.store import _ts as store_ts
from tests.services.s3_helpers import bname, open_bucket
from tests.services.s3_helpers import post_form as _post


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


def raw(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def test_form_values_no_header_can_carry_come_back_as_encoded_words(s3, cloudlet_server):
    bucket = open_bucket(s3, "stored")
    fields = {
        "key": "k",
        "x-amz-meta-lang": "中文",
        "x-amz-meta-lines": "a\r\nb",
        "Content-Disposition": "inline; filename=\x00x",
    }
    status, _, body = _post(f"{cloudlet_server.endpoint}/{bucket}", fields, b"data")
    assert status == 204, body
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"data"
    assert got["Metadata"] == {"lang": word("中文"), "lines": word("a\r\nb")}
    assert got["ContentDisposition"] == word("inline; filename=\x00x")
    s3.delete_object(Bucket=bucket, Key="k")


def test_form_expires_is_stored_as_sent(s3, cloudlet_server):
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)
    url = f"{cloudlet_server.endpoint}/{bucket}"
    for key, text in (("e", "Wed, 21 Oct 2037 07:28:00 GMT"), ("f", "soon")):
        status, _, body = _post(url, {"key": key, "expires": text}, b"x")
        assert status == 204, body
        assert s3.head_object(Bucket=bucket, Key=key)["ExpiresString"] == text


def test_expires_is_kept_as_sent_date_or_not(s3, cloudlet_server):
    """S3 stores ``Expires`` verbatim and sends it back so (it answered ``Expires: 5d``,
    hence botocore's ``ExpiresString``): a PUT, a multipart upload and a copy that
    replaces metadata keep text that is no date; a copy that keeps metadata keeps it."""
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)

    def header(text):
        def hook(request, **_):
            request.headers["Expires"] = text

        return hook

    events = s3.meta.events
    for op, text in (("PutObject", "5d"), ("CreateMultipartUpload", "0"), ("CopyObject", "never")):
        events.register_first(f"before-sign.s3.{op}", header(text), unique_id=f"x-{op}")
    s3.put_object(Bucket=bucket, Key="put", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"y")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
    )
    s3.copy_object(
        Bucket=bucket, Key="replaced", CopySource=f"{bucket}/put", MetadataDirective="REPLACE"
    )
    events.unregister("before-sign.s3.CopyObject", unique_id="x-CopyObject")
    s3.copy_object(Bucket=bucket, Key="kept", CopySource=f"{bucket}/put")
    for key, text in (("put", "5d"), ("mp", "0"), ("replaced", "never"), ("kept", "5d")):
        # botocore keeps the header's text here (and a date in Expires when it is one)
        assert s3.get_object(Bucket=bucket, Key=key)["ExpiresString"] == text, key
    assert s3.head_object(Bucket=bucket, Key="put").get("Expires") is None


def test_times_past_year_9999_in_utc_are_invalid_arguments(s3, cloudlet_server):
    """An offset date that leaves the calendar once in UTC cannot be rendered back: a
    ``response-expires`` so is refused, an ``Expires`` header so is kept as sent (it is
    never read as a date), and a time stored so by an earlier version reads back
    clamped to the last representable time."""
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    late = "Fri, 31 Dec 9999 23:59:59 -0100"
    status, body = raw(cloudlet_server.endpoint, "PUT", f"/{bucket}/e", b"x", {"Expires": late})
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="e")["ExpiresString"] == late
    path = f"/{bucket}/k?response-expires=0001-01-01T00:00:00%2B01:00"
    status, body = raw(cloudlet_server.endpoint, "GET", path)
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body, body
    assert store_ts(1e13) == datetime.max.replace(tzinfo=UTC)
    assert store_ts(-1e13) == datetime.min.replace(tzinfo=UTC)


def test_object_lock_periods_and_dates_out_of_range_are_refused(s3, cloudlet_server):
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    for retention in ({"Years": 10000}, {"Days": 36501}, {"Days": 2147483648}):
        with pytest.raises(ClientError) as err:
            s3.put_object_lock_configuration(
                Bucket=bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **retention}},
                },
            )
        assert err.value.response["Error"]["Code"] in ("InvalidArgument", "MalformedXML")
    s3.put_object(Bucket=bucket, Key="still-writable", Body=b"x")  # the bucket still works
    status, body = raw(
        cloudlet_server.endpoint,
        "PUT",
        f"/{bucket}/late",
        b"x",
        {
            "x-amz-object-lock-mode": "GOVERNANCE",
            "x-amz-object-lock-retain-until-date": "9999-12-31T23:59:59-01:00",
        },
    )
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body, body


def test_list_parts_marker_out_of_range_is_an_invalid_argument(s3, cloudlet_server):
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    status, body = raw(
        cloudlet_server.endpoint,
        "GET",
        f"/{bucket}/mp?uploadId={upload}&part-number-marker=9223372036854775808",
    )
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body, body
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)


def test_a_document_with_another_root_is_malformed_xml_and_changes_nothing(s3, cloudlet_server):
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    documents = [
        ("POST", f"/{bucket}?delete", b"<Foo><Object><Key>kept</Key></Object></Foo>"),
        ("PUT", f"/{bucket}?tagging", b"<Foo><TagSet/></Foo>"),
        ("POST", f"/{bucket}/kept?restore", b"<Foo><Days>1</Days></Foo>"),
    ]
    for method, path, body in documents:
        status, resp = raw(cloudlet_server.endpoint, method, path, body)
        assert status == 400 and b"<Code>MalformedXML</Code>" in resp, (path, resp)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_a_restore_kept_past_the_calendar_is_an_invalid_argument(s3):
    bucket = bname("stored")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 3_650_000})
    assert err.value.response["Error"]["Code"] == "InvalidArgument"
    s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
    assert 'ongoing-request="' in s3.head_object(Bucket=bucket, Key="cold")["Restore"]


def test_raw_utf8_metadata_comes_back_as_an_encoded_word(s3, cloudlet_server):
    """S3 decodes metadata before storing and sends what is not ASCII as an RFC 2047
    encoded word; an encoded word sent in comes back as it was."""
    bucket = open_bucket(s3, "stored")
    headers = {
        "x-amz-meta-utf": "café ✓".encode().decode("latin-1"),  # raw UTF-8 bytes on the wire
        "x-amz-meta-word": word("日本"),
        "x-amz-meta-plain": "ascii",
    }
    status, body = raw(cloudlet_server.endpoint, "PUT", f"/{bucket}/m", b"x", headers)
    assert status == 200, body
    meta = s3.head_object(Bucket=bucket, Key="m")["Metadata"]
    assert meta == {"utf": word("café ✓"), "word": word("日本"), "plain": "ascii"}
    s3.delete_object(Bucket=bucket, Key="m")
