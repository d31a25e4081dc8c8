"""S3 objects with real boto3: put/get/head/delete, metadata, keys, errors, presigned URLs."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from cloudlet.services.s3.common import new_version_id
from tests.services.s3_helpers import NO_RETRIES, bname, error, md5_hex


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    return name


def test_put_get_head_with_metadata_and_content_headers(s3, bucket):
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    put = s3.put_object(
        Bucket=bucket,
        Key="doc.txt",
        Body=b"hello world",
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="doc.txt"',
        ContentLanguage="en-GB",
        CacheControl="max-age=60",
        Expires=expires,
        Metadata={"Owner": "ada", "purpose": "tests"},
        StorageClass="STANDARD_IA",
        WebsiteRedirectLocation="/elsewhere.html",
    )
    assert put["ETag"] == f'"{md5_hex(b"hello world")}"'
    assert "VersionId" not in put
    got = s3.get_object(Bucket=bucket, Key="doc.txt")
    assert got["Body"].read() == b"hello world"
    for out in (got, s3.head_object(Bucket=bucket, Key="doc.txt")):
        assert out["ContentLength"] == 11
        assert out["ETag"] == put["ETag"]
        assert out["ContentType"] == "text/plain; charset=utf-8"
        assert out["ContentEncoding"] == "identity"
        assert out["ContentDisposition"] == 'attachment; filename="doc.txt"'
        assert out["ContentLanguage"] == "en-GB"
        assert out["CacheControl"] == "max-age=60"
        assert out["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert out["Metadata"] == {"owner": "ada", "purpose": "tests"}
        assert out["StorageClass"] == "STANDARD_IA"
        assert out["WebsiteRedirectLocation"] == "/elsewhere.html"
        assert out["AcceptRanges"] == "bytes"
        assert isinstance(out["LastModified"], datetime.datetime)
        assert "VersionId" not in out


def test_defaults_and_overwrite(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentType"] == "binary/octet-stream"
    assert "StorageClass" not in head  # STANDARD is implied, as on S3
    s3.put_object(Bucket=bucket, Key="k", Body=b"two!")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two!"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


SPECIAL_KEYS = [
    "with space",
    "unicodé/ключ/鍵/🙂",
    "plus+sign",
    "percent%20literal",
    "question?mark",
    "hash#and&amp",
    "a//double//slash",
    "trailing/",
    "/leading",
    "tilde~star*quote'paren()",
    "semi;colon:equals=comma,",
    "brackets[]{}<>",
    "dots/../and/./",
    "x" * 1024,
]


def test_special_keys_round_trip(s3, bucket):
    for i, key in enumerate(SPECIAL_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=f"body {i}".encode())
    for i, key in enumerate(SPECIAL_KEYS):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"body {i}".encode(), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(f"body {i}")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(SPECIAL_KEYS, key=lambda k: k.encode())
    v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert v1 == listed
    for key in SPECIAL_KEYS:
        s3.delete_object(Bucket=bucket, Key=key)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_key_too_long(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error(exc) == ("KeyTooLongError", 400)
    # 1024 bytes of UTF-8 is the limit, not 1024 characters.
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")
    assert error(exc) == ("KeyTooLongError", 400)


def test_missing_bucket_key_and_version(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error(exc) == ("NoSuchKey", 404)
    assert exc.value.response["Error"]["Key"] == "nope"
    assert "Resource" not in exc.value.response["Error"]  # as S3's recorded answers
    assert exc.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error(exc) == ("404", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bname(), Key="k")
    assert error(exc) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bname(), Key="k", Body=b"x")
    assert error(exc) == ("NoSuchBucket", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=new_version_id())  # well-formed
    assert error(exc) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert error(exc) == ("InvalidArgument", 400)


def test_head_404_has_no_body(cloudlet_server, s3, bucket):
    req = urllib.request.Request(f"{cloudlet_server.endpoint}/{bucket}/missing", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 404
    assert exc.value.read() == b""


def test_content_md5(s3, bucket):
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"replacement", ContentMD5=wrong)
    assert error(exc) == ("BadDigest", 400)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"replacement", ContentMD5="not base64!")
    assert error(exc) == ("InvalidDigest", 400)
    # Nothing already stored is harmed by the failed requests.
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == body


def test_invalid_storage_class(cloudlet_server, s3, bucket):
    conn = http.client.HTTPConnection("127.0.0.1", cloudlet_server.port)
    conn.request("PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-storage-class": "NOPE"})
    resp = conn.getresponse()
    assert resp.status == 400
    assert b"<Code>InvalidStorageClass</Code>" in resp.read()


def test_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert error(exc) == ("MetadataTooLarge", 400)


def test_entity_too_large_single_put(cloudlet_server, bucket):
    """Over 5 GiB in one PUT is refused from the Content-Length, before any body."""
    conn = http.client.HTTPConnection("127.0.0.1", cloudlet_server.port)
    conn.putrequest("PUT", f"/{bucket}/huge")
    conn.putheader("Content-Length", str(5 * 1024**3 + 1))
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 400
    assert b"<Code>EntityTooLarge</Code>" in body
    assert b"<MaxSizeAllowed>5368709120</MaxSizeAllowed>" in body


def test_truncated_upload_leaves_nothing(cloudlet_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    conn = http.client.HTTPConnection("127.0.0.1", cloudlet_server.port)
    conn.putrequest("PUT", f"/{bucket}/k")
    conn.putheader("Content-Length", "1000")
    conn.endheaders()
    conn.send(b"partial")
    conn.close()  # the client goes away mid-body
    for _ in range(50):
        # Whenever the server notices, the upload is dropped; the old object stays.
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"
        time.sleep(0.01)


def test_ranges(s3, bucket):
    data = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {
        "bytes=0-9": (data[0:10], "bytes 0-9/1024"),
        "bytes=1000-": (data[1000:], "bytes 1000-1023/1024"),
        "bytes=-24": (data[-24:], "bytes 1000-1023/1024"),
        "bytes=1000-5000": (data[1000:], "bytes 1000-1023/1024"),
        "bytes=-5000": (data, "bytes 0-1023/1024"),
        "bytes=5-5": (data[5:6], "bytes 5-5/1024"),
    }
    for header, (want, content_range) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, header
        assert got["ContentRange"] == content_range, header
        assert got["ContentLength"] == len(want), header
        assert got["Body"].read() == want, header
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    for header in ("bytes=1024-", "bytes=2000-3000", "bytes=-0"):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert error(exc) == ("InvalidRange", 416), header
        assert exc.value.response["Error"]["ActualObjectSize"] == "1024"
    # Headers S3 cannot parse are ignored: the whole object, 200.
    for header in ("bytes=9-3", "items=0-1", "bytes=0-1,4-5"):
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200, header
        assert got["Body"].read() == data


def test_part_number_of_single_part_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"whole")
    got = s3.get_object(Bucket=bucket, Key="p", PartNumber=1)
    assert got["Body"].read() == b"whole"
    # S3 answers part 1 of a single-part object as a range over all of it.
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-4/5" and "PartsCount" not in got
    head = s3.head_object(Bucket=bucket, Key="p", PartNumber=1, ChecksumMode="ENABLED")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentRange"] == "bytes 0-4/5" and head["ContentLength"] == 5
    assert head["ChecksumCRC32"]  # the part is the whole object
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    empty = s3.get_object(Bucket=bucket, Key="empty", PartNumber=1)
    assert empty["ResponseMetadata"]["HTTPStatusCode"] == 200 and "ContentRange" not in empty
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="p", PartNumber=2)
    assert error(exc) == ("InvalidPartNumber", 416)


def test_conditional_reads(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    before = modified - datetime.timedelta(hours=1)
    after = modified + datetime.timedelta(hours=1)
    ok = [
        {"IfMatch": etag},
        {"IfMatch": "*"},
        {"IfNoneMatch": '"00000000000000000000000000000000"'},
        {"IfModifiedSince": before},
        {"IfUnmodifiedSince": after},
        # If-Match true wins over If-Unmodified-Since false.
        {"IfMatch": etag, "IfUnmodifiedSince": before},
        # If-None-Match true wins over If-Modified-Since false.
        {"IfNoneMatch": '"other"', "IfModifiedSince": after},
        # A future If-Modified-Since is ignored (AWS-recorded obj-ignore-future-modified-since).
        {"IfModifiedSince": after},
    ]
    for kw in ok:
        assert s3.get_object(Bucket=bucket, Key="c", **kw)["Body"].read() == b"conditional", kw
        s3.head_object(Bucket=bucket, Key="c", **kw)
    failing = [
        ({"IfMatch": '"nope"'}, ("PreconditionFailed", 412)),
        ({"IfUnmodifiedSince": before}, ("PreconditionFailed", 412)),
        ({"IfNoneMatch": etag}, ("304", 304)),
        ({"IfNoneMatch": "*"}, ("304", 304)),
        ({"IfModifiedSince": modified}, ("304", 304)),
        # 412 conditions are evaluated before 304 ones.
        ({"IfMatch": '"nope"', "IfNoneMatch": etag}, ("PreconditionFailed", 412)),
        # If-None-Match false wins over If-Modified-Since true.
        ({"IfNoneMatch": etag, "IfModifiedSince": before}, ("304", 304)),
    ]
    for kw, want in failing:
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="c", **kw)
        assert error(exc) == want, kw
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key="c", **kw)
        assert error(exc)[1] == want[1], kw


def test_a_second_after_last_modified_is_no_future_once_it_has_begun(s3, bucket):
    """ceph/s3-tests' ``get_object_ifmodifiedsince_failed``: a second after the
    object's Last-Modified, asked for once that second has come, is not modified."""
    s3.put_object(Bucket=bucket, Key="c", Body=b"x")
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    time.sleep(1.05)
    since = modified + datetime.timedelta(seconds=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=since)
    assert error(exc) == ("304", 304)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert exc.value.response["Error"]["Condition"] == "If-Match"


def test_not_modified_has_no_body(cloudlet_server, s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"x")["ETag"]
    conn = http.client.HTTPConnection("127.0.0.1", cloudlet_server.port)
    conn.request("GET", f"/{bucket}/c", headers={"If-None-Match": etag})
    resp = conn.getresponse()
    assert resp.status == 304
    assert resp.read() == b""
    assert resp.getheader("ETag") == etag


def test_conditional_writes(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="w", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="w", Body=b"second", IfNoneMatch="*")
    assert error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="w", Body=b"second", IfMatch='"nope"')
    assert error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first["ETag"])
    assert error(exc) == ("NoSuchKey", 404)
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == b"first"
    s3.put_object(Bucket=bucket, Key="w", Body=b"third", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == b"third"
    # S3 implements neither an ETag in If-None-Match nor both headers at once
    # (versity/versitygw#1727, aws/aws-sdk-ruby#3144).
    for kw in ({"IfNoneMatch": first["ETag"]}, {"IfNoneMatch": "*", "IfMatch": first["ETag"]}):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="w", Body=b"fourth", **kw)
        assert error(exc) == ("NotImplemented", 501), kw
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == b"third"


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="gzip",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "gzip"
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "text/plain"


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    out = s3.delete_object(Bucket=bucket, Key="d")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "DeleteMarker" not in out
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="d")
    # Deleting what is not there succeeds, as on S3.
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects(s3, bucket):
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "missing"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "missing"]
    assert "Errors" not in out
    quiet = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "c"}, {"Key": "k" * 1025}], "Quiet": True},
    )
    assert "Deleted" not in quiet
    assert [(e["Key"], e["Code"]) for e in quiet["Errors"]] == [("k" * 1025, "KeyTooLongError")]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # Quiet with nothing to report is still a document (versitygw#2124, as AWS answers):
    # minio-py and OpenDAL parse it unconditionally.
    bodies = []
    s3.meta.events.register(
        "after-call.s3.DeleteObjects", lambda http_response, **_: bodies.append(http_response)
    )
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "gone"}], "Quiet": True})
    assert (
        bodies[-1]
        .content.decode()
        .endswith('<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>')
    )
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": str(i)} for i in range(1001)]})
    assert error(exc) == ("MalformedXML", 400)


def _post_delete(endpoint: str, bucket: str, body: bytes, headers: dict[str, str]):
    req = urllib.request.Request(
        f"{endpoint}/{bucket}?delete", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_delete_objects_requires_and_checks_an_integrity_header(cloudlet_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
    status, text = _post_delete(cloudlet_server.endpoint, bucket, body, {})
    assert status == 400 and b"<Code>InvalidRequest</Code>" in text
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, text = _post_delete(cloudlet_server.endpoint, bucket, body, {"Content-MD5": wrong})
    assert status == 400 and b"<Code>BadDigest</Code>" in text
    status, text = _post_delete(
        cloudlet_server.endpoint, bucket, b"<Delete><Object>", {"Content-MD5": wrong}
    )
    assert status == 400
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"x"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, text = _post_delete(cloudlet_server.endpoint, bucket, body, {"Content-MD5": good})
    assert status == 200 and b"<Deleted><Key>keep</Key></Deleted>" in text


def test_malformed_xml_body(cloudlet_server, bucket):
    body = b"<Delete><Object><Key>unclosed"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, text = _post_delete(cloudlet_server.endpoint, bucket, body, {"Content-MD5": md5})
    assert status == 400 and b"<Code>MalformedXML</Code>" in text


def test_get_object_attributes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="attrs", Body=b"12345", StorageClass="GLACIER_IR")
    out = s3.get_object_attributes(
        Bucket=bucket,
        Key="attrs",
        ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum", "ObjectParts"],
    )
    assert out["ETag"] == md5_hex(b"12345")
    assert out["ObjectSize"] == 5
    assert out["StorageClass"] == "GLACIER_IR"
    assert out["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert "ObjectParts" not in out
    assert isinstance(out["LastModified"], datetime.datetime)
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ETag"])
    assert error(exc) == ("NoSuchKey", 404)


def test_checksums_with_default_boto3(s3, bucket):
    """Current boto3 sends a CRC trailer by default and validates GETs with ChecksumMode."""
    s3.put_object(Bucket=bucket, Key="crc", Body=b"checksummed")
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checksummed"
    assert any(k.startswith("Checksum") for k in got)
    sha = s3.put_object(Bucket=bucket, Key="sha", Body=b"abc", ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    assert (
        s3.head_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")["ChecksumSHA256"]
        == sha["ChecksumSHA256"]
    )


def test_upload_and_download_file_below_multipart_threshold(s3, bucket, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    progress = []
    s3.upload_file(str(src), bucket, "files/src.bin", Callback=progress.append)
    assert sum(progress) == src.stat().st_size
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "files/src.bin", str(dst))
    assert dst.read_bytes() == src.read_bytes()


def test_resource_objects(cloudlet_server, bucket):
    res = boto3.resource(
        "s3",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    obj = res.Object(bucket, "res/obj.txt")
    obj.put(Body=b"via resource", Metadata={"k": "v"})
    obj.reload()
    assert obj.content_length == 12
    assert obj.metadata == {"k": "v"}
    assert obj.get()["Body"].read() == b"via resource"
    assert [o.key for o in res.Bucket(bucket).objects.filter(Prefix="res/")] == ["res/obj.txt"]
    obj.delete()


def test_presigned_get_and_put(s3, bucket):
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre signed.txt"}, ExpiresIn=300
    )
    req = urllib.request.Request(put_url, data=b"presigned body", method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
        assert r.headers["ETag"] == f'"{md5_hex(b"presigned body")}"'
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre signed.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url) as r:
        assert r.read() == b"presigned body"
    ranged = urllib.request.Request(get_url, headers={"Range": "bytes=0-8"})
    with urllib.request.urlopen(ranged) as r:
        assert r.status == 206
        assert r.read() == b"presigned"


def test_presigned_put_applies_hoisted_headers_but_not_checksums(s3, bucket):
    """x-amz-* query parameters of a presigned PUT (as the JavaScript SDK v3 presigner
    hoists them) count as headers (aws-sdk-js-v3#4694); a checksum there is ignored, as
    S3 ignores it (aws-sdk-go-v2#2610), and a header sent too wins over its parameter."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = (
        f"{s3.meta.endpoint_url}/{bucket}/hoisted?x-amz-meta-color=blue"
        "&x-amz-tagging=team%3Dcore&x-amz-storage-class=STANDARD_IA"
        "&x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-meta-shape=round"
    )
    request = AWSRequest(method="PUT", url=url)
    S3SigV4QueryAuth(Credentials("test", "test"), "s3", "us-east-1", expires=300).add_auth(request)
    put = urllib.request.Request(
        request.url, data=b"hoisted", method="PUT", headers={"x-amz-meta-shape": "square"}
    )
    with urllib.request.urlopen(put) as r:
        assert r.status == 200
    head = s3.head_object(Bucket=bucket, Key="hoisted", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"color": "blue", "shape": "square"}
    assert head["StorageClass"] == "STANDARD_IA"
    assert "ChecksumCRC32" not in head
    tags = s3.get_object_tagging(Bucket=bucket, Key="hoisted")["TagSet"]
    assert tags == [{"Key": "team", "Value": "core"}]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("gzip, aws-chunked", "gzip"),
        ("aws-chunked", None),
        ("aws-chunked, gzip", "gzip"),
        ("deflate, gzip", "deflate, gzip"),
    ],
)
def test_aws_chunked_in_content_encoding_of_a_plain_body(s3, bucket, sent, stored):
    """ceph/s3-tests' ``object_content_encoding_aws_chunked``: a body sent plain (its
    payload hash its own) whose Content-Encoding names aws-chunked is stored, and S3
    keeps the encoding without ``aws-chunked`` (aws/aws-sdk-java-v2#5769)."""
    s3.put_object(Bucket=bucket, Key="enc", Body=b"hello", ContentEncoding=sent)
    got = s3.get_object(Bucket=bucket, Key="enc")
    assert got["Body"].read() == b"hello"
    assert got.get("ContentEncoding") == stored
