"""CopyObject with real boto3: directives, cross-bucket, versions, conditions, self-copy."""

from __future__ import annotations

import base64
import datetime
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

from tests.services.s3_helpers import NO_RETRIES, bname, error


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname()
    s3.create_bucket(Bucket=name)
    return name


def test_copy_keeps_metadata_by_default(s3, bucket):
    src = s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=b"payload",
        ContentType="text/csv",
        Metadata={"a": "1"},
        StorageClass="STANDARD_IA",
        WebsiteRedirectLocation="/r",
    )
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert out["CopyObjectResult"]["ETag"] == src["ETag"]
    assert isinstance(out["CopyObjectResult"]["LastModified"], datetime.datetime)
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"] == {"a": "1"}
    assert "StorageClass" not in head  # not copied: STANDARD unless asked
    assert "WebsiteRedirectLocation" not in head  # never copied
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"payload"
    # The copy is independent of its source.
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"payload"


def test_copy_replace_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ContentType="text/csv", Metadata={"a": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="application/json",
        StorageClass="ONEZONE_IA",
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "application/json"
    assert head["StorageClass"] == "ONEZONE_IA"


def test_cross_bucket_and_special_key(s3, bucket):
    other = bname()
    s3.create_bucket(Bucket=other)
    key = "dir/ünï cødé+%?.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"moved")
    s3.copy_object(Bucket=other, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other, Key=key)["Body"].read() == b"moved"
    # The string form with a leading slash (botocore URL-encodes it into the header).
    s3.copy_object(Bucket=other, Key="raw", CopySource=f"/{bucket}/{key}")
    assert s3.get_object(Bucket=other, Key="raw")["Body"].read() == b"moved"


def test_copy_by_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"second")
    out = s3.copy_object(
        Bucket=bucket, Key="old", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1}
    )
    assert out["CopySourceVersionId"] == v1
    assert out["VersionId"] and out["VersionId"] != v1
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"first"
    # Restoring an old version onto its own key is a legitimate self-copy.
    s3.copy_object(
        Bucket=bucket, Key="v", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1}
    )
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"first"
    marker = s3.delete_object(Bucket=bucket, Key="v")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "v"})
    assert error(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "v", "VersionId": marker}
        )
    assert error(exc) == ("InvalidRequest", 400)


def test_copy_onto_itself(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"a": "1"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error(exc) == ("InvalidRequest", 400)
    assert "copy an object to itself" in exc.value.response["Error"]["Message"]
    # Changing the metadata (or the storage class) makes it legal.
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"a": "2"},
    )
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"a": "2"}
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        StorageClass="STANDARD_IA",
    )
    assert s3.head_object(Bucket=bucket, Key="self")["StorageClass"] == "STANDARD_IA"


def test_conditional_copy(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"x")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    before = modified - datetime.timedelta(hours=1)
    after = modified + datetime.timedelta(hours=1)
    source = {"Bucket": bucket, "Key": "c"}
    for kw in (
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"other"'},
        {"CopySourceIfModifiedSince": before},
        {"CopySourceIfUnmodifiedSince": after},
        {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": before},
    ):
        s3.copy_object(Bucket=bucket, Key="ok", CopySource=source, **kw)
    # An If-Modified-Since in the future is ignored (LocalStack's AWS-recorded
    # copy-ignore-future-modified-since); one at the object's own time fails.
    s3.copy_object(Bucket=bucket, Key="ok", CopySource=source, CopySourceIfModifiedSince=after)
    for kw in (
        {"CopySourceIfMatch": '"other"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified},
        {"CopySourceIfUnmodifiedSince": before},
    ):
        with pytest.raises(ClientError) as exc:
            s3.copy_object(Bucket=bucket, Key="no", CopySource=source, **kw)
        assert error(exc) == ("PreconditionFailed", 412), kw
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="no")


def test_copy_errors(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert error(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bname(), "Key": "k"})
    assert error(exc) == ("NoSuchBucket", 404)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bname(), Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert error(exc) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}")
    assert error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket,
            Key="x",
            CopySource={"Bucket": bucket, "Key": "src"},
            MetadataDirective="MERGE",
        )
    assert error(exc)[1] == 400


def test_copy_with_new_checksum_algorithm(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"abc")
    out = s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        ChecksumAlgorithm="SHA256",
    )
    assert (
        out["CopyObjectResult"]["ChecksumSHA256"] == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    )


def _tags(s3, bucket, key):
    return s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]


def test_copy_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="team=data&env=prod")
    source = {"Bucket": bucket, "Key": "src"}
    src_tags = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "prod"}]
    # COPY is the default: the source's tags go with the copy.
    s3.copy_object(Bucket=bucket, Key="default", CopySource=source)
    assert _tags(s3, bucket, "default") == src_tags
    # An explicit COPY ignores x-amz-tagging.
    s3.copy_object(
        Bucket=bucket, Key="copy", CopySource=source, TaggingDirective="COPY", Tagging="x=y"
    )
    assert _tags(s3, bucket, "copy") == src_tags
    # REPLACE takes the request's tags, and none means none.
    s3.copy_object(
        Bucket=bucket, Key="replace", CopySource=source, TaggingDirective="REPLACE", Tagging="a=1"
    )
    assert _tags(s3, bucket, "replace") == [{"Key": "a", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="cleared", CopySource=source, TaggingDirective="REPLACE")
    assert _tags(s3, bucket, "cleared") == []
    # Tags of a later PutObjectTagging on the source are what a copy takes.
    s3.put_object_tagging(
        Bucket=bucket, Key="src", Tagging={"TagSet": [{"Key": "new", "Value": "v"}]}
    )
    s3.copy_object(Bucket=bucket, Key="later", CopySource=source)
    assert _tags(s3, bucket, "later") == [{"Key": "new", "Value": "v"}]


def test_copy_tagging_directive_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    source = {"Bucket": bucket, "Key": "src"}
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, TaggingDirective="MERGE")
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["ArgumentName"] == "x-amz-tagging-directive"
    assert exc.value.response["Error"]["ArgumentValue"] == "MERGE"
    # Bad replacement tags refuse the whole copy: no object without its tags.
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource=source,
            TaggingDirective="REPLACE",
            Tagging="aws:reserved=1",
        )
    assert error(exc) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="dst")
    assert error(exc)[1] == 404


def test_copy_takes_the_tags_of_the_source_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"1", Tagging="gen=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"2", Tagging="gen=2")
    s3.copy_object(
        Bucket=bucket, Key="old", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1}
    )
    assert _tags(s3, bucket, "old") == [{"Key": "gen", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "v"})
    assert _tags(s3, bucket, "new") == [{"Key": "gen", "Value": "2"}]


def _multipart(s3, bucket: str, key: str, parts: list[bytes], **kw) -> str:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]
    done = []
    for n, data in enumerate(parts, 1):
        out = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=data)
        done.append(
            {
                "PartNumber": n,
                "ETag": out["ETag"],
                **{k: v for k, v in out.items() if k.startswith("Checksum")},
            }
        )
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
    )["ETag"]


def test_copy_of_a_multipart_object_is_one_part_with_the_md5_etag(s3, bucket):
    """API_Object: objects made by "the PUT Object, POST Object, or Copy operation" (SSE-S3
    or plain) have the MD5 of their data as ETag, so a CopyObject of a multipart object
    is a single-part object (rclone and sync tools compare ETags with MD5s); its
    composite checksum becomes the whole object's, in the same algorithm."""
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]
    data = b"".join(parts)
    source_etag = _multipart(s3, bucket, "mp", parts, ChecksumAlgorithm="CRC32")
    assert source_etag.endswith('-2"')
    out = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/mp")
    md5 = f'"{hashlib.md5(data).hexdigest()}"'
    assert out["CopyObjectResult"]["ETag"] == md5
    head = s3.head_object(Bucket=bucket, Key="copy", ChecksumMode="ENABLED", PartNumber=1)
    assert head["ETag"] == md5 and "PartsCount" not in head
    assert head["ContentLength"] == len(data)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (crc, "FULL_OBJECT")
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="copy", ObjectAttributes=["ETag", "ObjectParts"]
    )
    assert "ObjectParts" not in attrs and attrs["ETag"] == md5.strip('"')
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == data
    # The source is unchanged.
    assert s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)["PartsCount"] == 2
