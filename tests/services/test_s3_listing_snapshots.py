"""Listing answers checked, with real boto3 against a real server, against what AWS
answered: LocalStack's AWS-recorded snapshots (``tests/aws/services/s3/
test_s3_list_operations.snapshot.json`` of localstack/localstack). Each test names the
snapshot keys it follows. Pages are compared as boto3 parses them, with volatile
values (bucket name, dates, owners, checksums) left out and entries reduced to what
identifies them; errors are compared whole (code, message and every extra element)
with their status."""

from __future__ import annotations

import pytest
from botocore.config import Config

from tests.services.s3_helpers import NO_RETRIES, bname, refused

FOLDER_KEYS = [
    "folder/aSubfolder/subFile1",
    "folder/aSubfolder/subFile2",
    "folder/file1",
    "folder/file2",
]
"""``test_*_marker_common_prefixes``' keys: two under ``folder/aSubfolder/``, two not."""
IN_FOLDER = {"Prefix": "folder/", "Delimiter": "/"}


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("listsnap")
    s3.create_bucket(Bucket=name)
    return name


def page(response: dict) -> dict:
    """A listing as compared here: no metadata nor bucket name; each entry reduced to
    its key (objects), (key, version id) or (key, upload id), or part number and size."""
    out = {k: v for k, v in response.items() if k not in ("ResponseMetadata", "Name", "Bucket")}
    if "Contents" in out:
        out["Contents"] = [o["Key"] for o in out["Contents"]]
    if "Versions" in out:
        out["Versions"] = [(v["Key"], v["VersionId"]) for v in out["Versions"]]
    if "Uploads" in out:
        out["Uploads"] = [(u["Key"], u["UploadId"]) for u in out["Uploads"]]
    if "Parts" in out:
        out["Parts"] = [(p["PartNumber"], p["Size"]) for p in out["Parts"]]
    for owner in ("Owner", "Initiator"):
        out.pop(owner, None)
    return out


# -- a marker inside a common prefix ------------------------------------------------------


def test_list_objects_marker_inside_a_common_prefix(s3, bucket):
    """``test_list_objects_marker_common_prefixes``: ``list-objects-start``, ``-next-1``,
    ``-end`` and ``list-objects-manual-first-file``. A marker under the common prefix
    ``folder/aSubfolder/`` sorts after it: the prefix is not listed again (a pager would
    see it twice), and the keys under it after the marker are skipped with it."""
    for key in FOLDER_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"content 123")
    base = {"Delimiter": "/", "EncodingType": "url", "MaxKeys": 1, "Prefix": "folder/"}
    start = s3.list_objects(Bucket=bucket, MaxKeys=1, **IN_FOLDER)
    assert page(start) == {
        **base,
        "CommonPrefixes": [{"Prefix": "folder/aSubfolder/"}],
        "IsTruncated": True,
        "Marker": "",
        "NextMarker": "folder/aSubfolder/",
    }
    next_1 = s3.list_objects(Bucket=bucket, MaxKeys=1, Marker=start["NextMarker"], **IN_FOLDER)
    assert page(next_1) == {
        **base,
        "Contents": ["folder/file1"],
        "IsTruncated": True,
        "Marker": "folder/aSubfolder/",
        "NextMarker": "folder/file1",
    }
    end = s3.list_objects(Bucket=bucket, MaxKeys=1, Marker=next_1["NextMarker"], **IN_FOLDER)
    assert page(end) == {
        **base,
        "Contents": ["folder/file2"],
        "IsTruncated": False,
        "Marker": "folder/file1",
    }
    manual = s3.list_objects(Bucket=bucket, MaxKeys=1, Marker=FOLDER_KEYS[0], **IN_FOLDER)
    assert page(manual) == {
        **base,
        "Contents": ["folder/file1"],
        "IsTruncated": True,
        "Marker": "folder/aSubfolder/subFile1",
        "NextMarker": "folder/file1",
    }


def test_list_objects_v2_start_after_inside_a_common_prefix(s3, bucket):
    """``StartAfter`` is ListObjects' ``Marker`` for V2: the rule of
    ``list-objects-manual-first-file`` (no V2 recording of it), with the V2 pages of
    ``test_list_objects_v2_continuation_common_prefixes`` (``list-objects-v2-start``,
    ``-next-1``, ``-end``) around it."""
    for key in FOLDER_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"content 123")
    base = {"Delimiter": "/", "EncodingType": "url", "MaxKeys": 1, "Prefix": "folder/"}
    start = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, **IN_FOLDER)
    token_1 = start.pop("NextContinuationToken")
    assert page(start) == {
        **base,
        "CommonPrefixes": [{"Prefix": "folder/aSubfolder/"}],
        "IsTruncated": True,
        "KeyCount": 1,
    }
    next_1 = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, ContinuationToken=token_1, **IN_FOLDER)
    token_2 = next_1.pop("NextContinuationToken")
    assert page(next_1) == {
        **base,
        "Contents": ["folder/file1"],
        "ContinuationToken": token_1,
        "IsTruncated": True,
        "KeyCount": 1,
    }
    end = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, ContinuationToken=token_2, **IN_FOLDER)
    assert page(end) == {
        **base,
        "Contents": ["folder/file2"],
        "ContinuationToken": token_2,
        "IsTruncated": False,
        "KeyCount": 1,
    }
    manual = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, StartAfter=FOLDER_KEYS[0], **IN_FOLDER)
    assert "NextContinuationToken" in manual
    manual.pop("NextContinuationToken")
    assert page(manual) == {
        **base,
        "Contents": ["folder/file1"],
        "IsTruncated": True,
        "KeyCount": 1,
        "StartAfter": "folder/aSubfolder/subFile1",
    }


def test_list_object_versions_key_marker_inside_a_common_prefix(s3, bucket):
    """``test_list_object_versions_pagination_common_prefixes``:
    ``list-object-versions-start``, ``-next-1``, ``-end`` and
    ``list-object-versions-manual-first-file``."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = {
        key: s3.put_object(Bucket=bucket, Key=key, Body=b"content 123")["VersionId"]
        for key in FOLDER_KEYS
    }
    base = {"Delimiter": "/", "EncodingType": "url", "MaxKeys": 1, "Prefix": "folder/"}
    start = s3.list_object_versions(Bucket=bucket, MaxKeys=1, **IN_FOLDER)
    assert page(start) == {
        **base,
        "CommonPrefixes": [{"Prefix": "folder/aSubfolder/"}],
        "IsTruncated": True,
        "KeyMarker": "",
        "NextKeyMarker": "folder/aSubfolder/",
        "VersionIdMarker": "",
    }
    file1 = ("folder/file1", ids["folder/file1"])
    next_1 = s3.list_object_versions(
        Bucket=bucket, MaxKeys=1, KeyMarker=start["NextKeyMarker"], **IN_FOLDER
    )
    assert page(next_1) == {
        **base,
        "IsTruncated": True,
        "KeyMarker": "folder/aSubfolder/",
        "NextKeyMarker": "folder/file1",
        "NextVersionIdMarker": ids["folder/file1"],
        "VersionIdMarker": "",
        "Versions": [file1],
    }
    end = s3.list_object_versions(
        Bucket=bucket, MaxKeys=1, KeyMarker=next_1["NextKeyMarker"], **IN_FOLDER
    )
    assert page(end) == {
        **base,
        "IsTruncated": False,
        "KeyMarker": "folder/file1",
        "VersionIdMarker": "",
        "Versions": [("folder/file2", ids["folder/file2"])],
    }
    manual = s3.list_object_versions(
        Bucket=bucket, MaxKeys=1, KeyMarker=FOLDER_KEYS[0], **IN_FOLDER
    )
    assert page(manual) == {
        **base,
        "IsTruncated": True,
        "KeyMarker": "folder/aSubfolder/subFile1",
        "NextKeyMarker": "folder/file1",
        "NextVersionIdMarker": ids["folder/file1"],
        "VersionIdMarker": "",
        "Versions": [file1],
    }


def test_list_multipart_uploads_key_marker_inside_a_common_prefix(s3, bucket):
    """``test_list_multipart_uploads_marker_common_prefixes``: ``list-multiparts-start``
    (truncated by a common prefix: both Next markers ""), ``list-multiparts-manual-prefix``
    and ``list-multiparts-manual-first-file``."""
    ids = {
        key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in FOLDER_KEYS
    }
    base = {"Delimiter": "/", "MaxUploads": 1, "Prefix": "folder/", "UploadIdMarker": ""}
    start = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, **IN_FOLDER)
    assert page(start) == {
        **base,
        "CommonPrefixes": [{"Prefix": "folder/aSubfolder/"}],
        "IsTruncated": True,
        "KeyMarker": "",
        "NextKeyMarker": "",
        "NextUploadIdMarker": "",
    }
    for marker in ("folder/aSubfolder/", FOLDER_KEYS[0]):
        manual = s3.list_multipart_uploads(
            Bucket=bucket, MaxUploads=1, KeyMarker=marker, **IN_FOLDER
        )
        assert page(manual) == {
            **base,
            "IsTruncated": True,
            "KeyMarker": marker,
            "NextKeyMarker": "folder/file1",
            "NextUploadIdMarker": ids["folder/file1"],
            "Uploads": [("folder/file1", ids["folder/file1"])],
        }, marker


# -- ListMultipartUploads' markers --------------------------------------------------------


def test_list_multipart_uploads_next_markers(s3, bucket):
    """``test_list_multiparts_next_marker``, every key in its order: ``list-multiparts-empty``
    (Next markers "" and no Prefix element), ``-all`` (Next markers name the last upload
    though not truncated), ``-max-1``, ``-next-key-only``, ``-next-key-last`` (nothing after
    the marker: ""), ``-next-upload-only`` (UploadIdMarker without KeyMarker: ignored,
    echoed ""), ``-both-markers``, ``-both-markers-2``, ``-get-last-upload-no-truncate``,
    ``-wrong-id-for-key`` and ``-next-key-empty``."""
    empty = s3.list_multipart_uploads(Bucket=bucket)
    assert page(empty) == {
        "IsTruncated": False,
        "KeyMarker": "",
        "MaxUploads": 1000,
        "NextKeyMarker": "",
        "NextUploadIdMarker": "",
        "UploadIdMarker": "",
    }
    keys = ["test_c", "test_b", "test_a"]
    ids = []  # as the recording's upload-id:1..5: test_c, test_b, then test_a's three
    for key in keys:
        ids.append(s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
        if key == "test_a":
            ids += [
                s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for _ in range(2)
            ]
    a1, a2, a3 = (("test_a", i) for i in ids[2:])
    b, c = ("test_b", ids[1]), ("test_c", ids[0])

    def listed(**kwargs) -> dict:
        return page(s3.list_multipart_uploads(Bucket=bucket, **kwargs))

    def one(key_marker: str, id_marker: str, nxt: tuple[str, str], truncated=True) -> dict:
        return {
            "IsTruncated": truncated,
            "KeyMarker": key_marker,
            "MaxUploads": 1,
            "NextKeyMarker": nxt[0],
            "NextUploadIdMarker": nxt[1],
            "UploadIdMarker": id_marker,
            "Uploads": [nxt],
        }

    assert listed() == {
        "IsTruncated": False,
        "KeyMarker": "",
        "MaxUploads": 1000,
        "NextKeyMarker": "test_c",
        "NextUploadIdMarker": ids[0],
        "UploadIdMarker": "",
        "Uploads": [a1, a2, a3, b, c],
    }
    assert listed(MaxUploads=1) == one("", "", a1)
    assert listed(MaxUploads=1, KeyMarker="test_a") == one("test_a", "", b)
    assert listed(MaxUploads=1, KeyMarker="test_c") == {
        "IsTruncated": False,
        "KeyMarker": "test_c",
        "MaxUploads": 1,
        "NextKeyMarker": "",
        "NextUploadIdMarker": "",
        "UploadIdMarker": "",
    }
    assert listed(MaxUploads=1, UploadIdMarker=a1[1]) == one("", "", a1)
    assert listed(MaxUploads=1, KeyMarker="test_a", UploadIdMarker=a1[1]) == one(
        "test_a", a1[1], a2
    )
    assert listed(MaxUploads=1, KeyMarker="test_a", UploadIdMarker=a3[1]) == one("test_a", a3[1], b)
    assert listed(MaxUploads=1, KeyMarker="test_b", UploadIdMarker=b[1]) == one(
        "test_b", b[1], c, truncated=False
    )
    assert refused(
        s3.list_multipart_uploads,
        Bucket=bucket,
        MaxUploads=1,
        KeyMarker="test_c",
        UploadIdMarker=b[1],
    ) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "Invalid uploadId marker",
            "ArgumentName": "upload-id-marker",
            "ArgumentValue": b[1],
        },
    )
    assert listed(MaxUploads=1, KeyMarker="") == one("", "", a1)


def test_list_multipart_uploads_with_prefix_and_delimiter(s3, bucket):
    """``test_list_multiparts_with_prefix_and_delimiter``: ``list-multiparts-1``, ``-2``,
    ``-3`` (only common prefixes: Next markers "") and ``list-multiparts-no-encoding``
    (no delimiter nor encoding asked: neither echoed; Next markers the last upload)."""
    keys = ["test/foo/bar/123", "test/foo/bar/456", "test/bar/foo/123"]
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in keys}
    nothing_next = {
        "Delimiter": "/",
        "EncodingType": "url",
        "IsTruncated": False,
        "KeyMarker": "",
        "MaxUploads": 1000,
        "NextKeyMarker": "",
        "NextUploadIdMarker": "",
        "UploadIdMarker": "",
    }
    for prefix, common in (
        ("test/", ["test/bar/", "test/foo/"]),
        ("test/foo/", ["test/foo/bar/"]),
        ("test/foo/bar", ["test/foo/bar/"]),
    ):
        listed = s3.list_multipart_uploads(
            Bucket=bucket, Prefix=prefix, EncodingType="url", Delimiter="/"
        )
        assert page(listed) == {
            **nothing_next,
            "CommonPrefixes": [{"Prefix": p} for p in common],
            "Prefix": prefix,
        }, prefix
    plain = s3.list_multipart_uploads(Bucket=bucket, Prefix="test/foo")
    assert page(plain) == {
        "IsTruncated": False,
        "KeyMarker": "",
        "MaxUploads": 1000,
        "NextKeyMarker": "test/foo/bar/456",
        "NextUploadIdMarker": ids["test/foo/bar/456"],
        "Prefix": "test/foo",
        "UploadIdMarker": "",
        "Uploads": [(k, ids[k]) for k in keys[:2]],
    }


# -- ListParts ----------------------------------------------------------------------------


def test_list_parts_pages_and_empty_pages(s3, bucket):
    """``test_list_parts_pagination``: ``list-parts-empty`` and ``list-parts-wrong-part``
    (no part listed: NextPartNumberMarker 0), ``list-parts-all``, ``-1`` and ``-next``."""
    key = "test-list-part-pagination"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    base = {"Key": key, "StorageClass": "STANDARD", "UploadId": upload_id}

    def parts(**kwargs) -> dict:
        return page(s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, **kwargs))

    assert parts() == {
        **base,
        "IsTruncated": False,
        "MaxParts": 1000,
        "NextPartNumberMarker": 0,
        "PartNumberMarker": 0,
    }
    for n in (1, 2):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=b"data")
    assert parts() == {
        **base,
        "IsTruncated": False,
        "MaxParts": 1000,
        "NextPartNumberMarker": 2,
        "PartNumberMarker": 0,
        "Parts": [(1, 4), (2, 4)],
    }
    assert parts(MaxParts=1) == {
        **base,
        "IsTruncated": True,
        "MaxParts": 1,
        "NextPartNumberMarker": 1,
        "PartNumberMarker": 0,
        "Parts": [(1, 4)],
    }
    assert parts(MaxParts=1, PartNumberMarker=1) == {
        **base,
        "IsTruncated": False,
        "MaxParts": 1,
        "NextPartNumberMarker": 2,
        "PartNumberMarker": 1,
        "Parts": [(2, 4)],
    }
    assert parts(MaxParts=1, PartNumberMarker=10) == {
        **base,
        "IsTruncated": False,
        "MaxParts": 1,
        "NextPartNumberMarker": 0,
        "PartNumberMarker": 10,
    }


@pytest.mark.parametrize("blank", ["PartNumberMarker", "MaxParts"])
def test_list_parts_blank_marker_or_max_parts_is_the_default(aws_client, s3, bucket, blank):
    """``test_list_parts_empty_part_number_marker``: ``list-parts-empty-marker`` and
    ``list-parts-empty-max-parts``. ``part-number-marker=`` or ``max-parts=`` sent empty
    (boto3 sends them so without its parameter validation) are the defaults, not an
    invalid integer."""
    raw = aws_client("s3", config=Config(retries={"max_attempts": 0}, parameter_validation=False))
    key = "test-list-part-empty-marker"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"data")
    listed = raw.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, **{blank: ""})
    assert page(listed) == {
        "IsTruncated": False,
        "Key": key,
        "MaxParts": 1000,
        "NextPartNumberMarker": 1,
        "PartNumberMarker": 0,
        "Parts": [(1, 4)],
        "StorageClass": "STANDARD",
        "UploadId": upload_id,
    }


# -- ListObjectsV2's continuation token ---------------------------------------------------


def test_list_objects_v2_empty_continuation_token(s3, bucket):
    """``exc-continuation-token``: an empty token is refused naming the argument, with no
    ArgumentValue element at all."""
    s3.put_object(Bucket=bucket, Key="test_0", Body=b"content 123")
    assert refused(s3.list_objects_v2, Bucket=bucket, ContinuationToken="") == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "The continuation token provided is incorrect",
            "ArgumentName": "continuation-token",
        },
    )
