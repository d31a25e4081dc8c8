"""S3 additional checksums end to end, with boto3 as it is used.

Over plain HTTP botocore sends a checksum as a header computed before the
request; over HTTPS it sends it as an ``aws-chunked`` trailer. The
``trailer`` client flips botocore's own decision so the trailer path (the one
real AWS traffic takes) runs here too: same botocore code, same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import zlib

import pytest
from awscrt import checksums as crt
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore import httpchecksum
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024
PART = 5 * MiB
NO_RETRY = Config(retries={"total_max_attempts": 1})  # botocore retries BadDigest

CLASSIC = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
NEWER = ["SHA512", "XXHASH64", "XXHASH3", "XXHASH128"]
_BOTOCORE = {
    "CRC32": httpchecksum.Crc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
    "SHA512": httpchecksum.Sha512Checksum,
    "XXHASH64": httpchecksum.CrtXxhash64Checksum,
    "XXHASH3": httpchecksum.CrtXxhash3Checksum,
    "XXHASH128": httpchecksum.CrtXxhash128Checksum,
}


def checksum(algorithm: str, body: bytes) -> str:
    """What botocore itself computes (the client's view of the value)."""
    hasher = _BOTOCORE[algorithm]()
    hasher.update(body)
    return hasher.b64digest()


def data(size: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def code_of(err: pytest.ExceptionInfo) -> str:
    return err.value.response["Error"]["Code"]


def _force_trailer(params, **_):
    algorithm = params["context"].get("checksum", {}).get("request_algorithm")
    if algorithm:
        algorithm["in"] = "trailer"


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


@pytest.fixture
def trailer_s3(aws_client):
    client = aws_client("s3", config=NO_RETRY)
    client.meta.events.register("before-call.s3", _force_trailer)
    return client


@pytest.fixture(params=["header", "trailer"])
def any_s3(request, s3, trailer_s3):
    return s3 if request.param == "header" else trailer_s3


@pytest.fixture
def bucket(s3):
    name = f"sums-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _tamper_trailer(request, **_):
    """Corrupt the trailing checksum value botocore put at the end of the body."""
    body = request.body.read() if hasattr(request.body, "read") else request.body
    name = body.rfind(b"x-amz-checksum-")
    colon = body.index(b":", name)
    flipped = b"B" if body[colon + 1 : colon + 2] == b"A" else b"A"
    request.body = io.BytesIO(body[: colon + 1] + flipped + body[colon + 2 :])


# -- single PUTs ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", CLASSIC + NEWER)
def test_put_get_head_with_each_algorithm(any_s3, s3, bucket, algorithm):
    body = data(100_000, 1)
    expected = checksum(algorithm, body)
    put = any_s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == expected
    assert put["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == expected
    assert got["Body"].read() == body  # botocore validates what it can as it reads
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected and head["ChecksumType"] == "FULL_OBJECT"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"][f"Checksum{algorithm}"] == expected
    # Without ChecksumMode the checksum is not sent.
    assert f"Checksum{algorithm}" not in s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.parametrize("algorithm", CLASSIC)
def test_precomputed_value_checked(aws_client, bucket, algorithm):
    s3 = aws_client("s3", config=NO_RETRY)
    body = b"precomputed"
    member = f"Checksum{algorithm}"
    s3.put_object(Bucket=bucket, Key="k", Body=body, **{member: checksum(algorithm, body)})
    with pytest.raises(ClientError) as err:
        s3.put_object(
            Bucket=bucket, Key="k", Body=b"something else", **{member: checksum(algorithm, body)}
        )
    assert code_of(err) == "BadDigest"
    assert err.value.response["Error"]["Message"] == (
        f"The {algorithm} you specified did not match the calculated checksum."
    )
    # The stored object is untouched.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_wrong_trailer_rejected_and_nothing_stored(trailer_s3, bucket):
    trailer_s3.meta.events.register("before-send.s3.PutObject", _tamper_trailer)
    with pytest.raises(ClientError) as err:
        trailer_s3.put_object(Bucket=bucket, Key="k", Body=b"hello", ChecksumAlgorithm="SHA256")
    assert code_of(err) == "BadDigest"
    assert "SHA256 you specified" in err.value.response["Error"]["Message"]
    trailer_s3.meta.events.unregister("before-send.s3.PutObject", _tamper_trailer)
    with pytest.raises(ClientError) as err:
        trailer_s3.head_object(Bucket=bucket, Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _with_headers(client, operation: str, headers: dict[str, str]):
    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register(f"before-sign.s3.{operation}", add)
    return client


@pytest.mark.parametrize(
    "headers,fragment",
    [
        (
            {"x-amz-checksum-sha1": "Kq5sNclPz7QV2+lfQIuc6R7oRu0="},
            "Expecting a single x-amz-checksum- header",
        ),
        ({"x-amz-checksum-crc32": "not-base64!"}, "Value for x-amz-checksum-crc32"),
        ({"x-amz-sdk-checksum-algorithm": "SHA1"}, "x-amz-sdk-checksum-algorithm"),
        ({"x-amz-trailer": "x-amz-checksum-nope"}, "x-amz-trailer"),
    ],
)
def test_incoherent_checksum_headers(aws_client, bucket, headers, fragment):
    s3 = _with_headers(aws_client("s3", config=NO_RETRY), "PutObject", headers)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"body", ChecksumAlgorithm="CRC32")
    assert code_of(err) == "InvalidRequest"
    assert fragment in err.value.response["Error"]["Message"]


def test_algorithm_named_without_value(aws_client, bucket):
    s3 = aws_client("s3", config=Config(request_checksum_calculation="when_required"))
    s3 = _with_headers(s3, "PutObject", {"x-amz-sdk-checksum-algorithm": "CRC32"})
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    assert code_of(err) == "InvalidRequest"
    assert "no corresponding x-amz-checksum-*" in err.value.response["Error"]["Message"]


def test_content_md5(aws_client, bucket):
    s3 = aws_client("s3", config=NO_RETRY)
    body = b"md5 body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=good)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"other", ContentMD5=good)
    assert code_of(err) == "BadDigest"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"other", ContentMD5="bad")
    assert code_of(err) == "InvalidDigest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_default_boto3_settings(aws_client, bucket):
    """boto3 as installed: CRC32 on uploads, validation on ChecksumMode reads."""
    s3 = aws_client("s3")
    body = data(50_000, 2)
    put = s3.put_object(Bucket=bucket, Key="default", Body=body)
    assert put["ChecksumCRC32"] == checksum("CRC32", body)
    got = s3.get_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == checksum("CRC32", body)
    assert got["Body"].read() == body
    # A client that sends no checksum still gets S3's default, CRC64NVME.
    bare = aws_client("s3", config=Config(request_checksum_calculation="when_required"))
    put = bare.put_object(Bucket=bucket, Key="bare", Body=body)
    assert not any(k.startswith("ChecksumCRC") for k in put)
    head = bare.head_object(Bucket=bucket, Key="bare", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == checksum("CRC64NVME", body)
    # The upload_fileobj path (s3transfer, single request) as well.
    s3.upload_fileobj(io.BytesIO(body), bucket, "fileobj")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "fileobj", out)
    assert out.getvalue() == body


# -- multipart --------------------------------------------------------------------------

MULTIPART_CASES = [
    ("CRC32", "COMPOSITE"),
    ("CRC32C", "COMPOSITE"),
    ("SHA1", "COMPOSITE"),
    ("SHA256", "COMPOSITE"),
    ("CRC32", "FULL_OBJECT"),
    ("CRC32C", "FULL_OBJECT"),
    ("CRC64NVME", "FULL_OBJECT"),
]


def _object_value(algorithm: str, kind: str, parts: list[bytes]) -> str:
    if kind == "COMPOSITE":
        raw = b"".join(base64.b64decode(checksum(algorithm, p)) for p in parts)
        return f"{checksum(algorithm, raw)}-{len(parts)}"
    return checksum(algorithm, b"".join(parts))


@pytest.mark.parametrize("algorithm,kind", MULTIPART_CASES)
def test_multipart_checksums(s3, trailer_s3, bucket, algorithm, kind):
    parts = [data(PART, 1), data(1234, 2)]
    member = f"Checksum{algorithm}"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=kind
    )
    assert created["ChecksumAlgorithm"] == algorithm and created["ChecksumType"] == kind
    upload_id = created["UploadId"]
    done = []
    # Part 1 with its checksum as a header, part 2 as an aws-chunked trailer.
    for number, (client, body) in enumerate(zip((s3, trailer_s3), parts, strict=True), start=1):
        r = client.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=algorithm,
        )
        assert r[member] == checksum(algorithm, body)
        done.append({"PartNumber": number, "ETag": r["ETag"], member: r[member]})
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert listed["ChecksumAlgorithm"] == algorithm and listed["ChecksumType"] == kind
    assert [p[member] for p in listed["Parts"]] == [d[member] for d in done]

    expected = _object_value(algorithm, kind, parts)
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result[member] == expected and result["ChecksumType"] == kind
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[member] == expected and got["ChecksumType"] == kind
    assert got["Body"].read() == b"".join(parts)
    # A part read names its own checksum only where the object's is composite of them
    # (LocalStack's AWS-validated tests in localstack#12842).
    part = s3.get_object(Bucket=bucket, Key="k", PartNumber=1, ChecksumMode="ENABLED")
    assert part.get(member) == (done[0][member] if kind == "COMPOSITE" else None)
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="k", ObjectAttributes=["Checksum", "ObjectParts"]
    )
    # GetObjectAttributes gives a composite checksum without its "-N" part count.
    assert attrs["Checksum"][member] == expected.partition("-")[0]
    object_parts = attrs["ObjectParts"]
    assert object_parts["TotalPartsCount"] == 2
    assert [(p["PartNumber"], p["Size"], p[member]) for p in object_parts["Parts"]] == [
        (1, PART, done[0][member]),
        (2, 1234, done[1][member]),
    ]


def test_full_object_crc_matches_a_local_crc(s3, bucket):
    """FULL_OBJECT values are plain CRCs of the object: comparable with zlib and awscrt."""
    parts = [data(PART, 5), data(PART, 6), data(777, 7)]
    whole = b"".join(parts)
    for algorithm, local in (
        ("CRC32", zlib.crc32(whole).to_bytes(4, "big")),
        ("CRC64NVME", crt.crc64nvme(whole).to_bytes(8, "big")),
    ):
        upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=algorithm, ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
        )["UploadId"]
        done = []
        for number, body in enumerate(parts, start=1):
            r = s3.upload_part(
                Bucket=bucket,
                Key=algorithm,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm=algorithm,
            )
            done.append({"PartNumber": number, "ETag": r["ETag"]})
        # Full-object uploads need no part checksums in Complete, but take the whole one.
        result = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=algorithm,
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            **{f"Checksum{algorithm}": base64.b64encode(local).decode()},
            ChecksumType="FULL_OBJECT",
        )
        assert result[f"Checksum{algorithm}"] == base64.b64encode(local).decode()


def test_multipart_checksum_errors(aws_client, bucket):
    s3 = aws_client("s3", config=NO_RETRY)

    def expect(code, call, **kwargs):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert code_of(err) == code, err.value.response
        return err.value.response["Error"]["Message"]

    expect(
        "InvalidRequest",
        s3.create_multipart_upload,
        Bucket=bucket,
        Key="k",
        ChecksumAlgorithm="SHA1",
        ChecksumType="FULL_OBJECT",
    )
    expect(
        "InvalidRequest",
        s3.create_multipart_upload,
        Bucket=bucket,
        Key="k",
        ChecksumAlgorithm="CRC64NVME",
        ChecksumType="COMPOSITE",
    )
    expect(
        "InvalidRequest",
        s3.create_multipart_upload,
        Bucket=bucket,
        Key="k",
        ChecksumType="COMPOSITE",
    )

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    common = {"Bucket": bucket, "Key": "k", "UploadId": upload_id}
    message = expect(
        "InvalidRequest",
        s3.upload_part,
        PartNumber=1,
        Body=b"x",
        ChecksumAlgorithm="CRC32",
        **common,
    )
    assert "expected checksum Type: sha256" in message
    expect(
        "BadDigest",
        s3.upload_part,
        PartNumber=1,
        Body=b"x",
        ChecksumSHA256=checksum("SHA256", b"y"),
        **common,
    )
    # boto3's default CRC32 does not fit an upload created for SHA256 (as on AWS);
    # a part sent without any checksum gets the upload's algorithm computed for it.
    expect("InvalidRequest", s3.upload_part, PartNumber=1, Body=b"x", **common)
    bare = aws_client("s3", config=Config(request_checksum_calculation="when_required"))
    r = bare.upload_part(PartNumber=1, Body=b"x", **common)
    assert r["ChecksumSHA256"] == checksum("SHA256", b"x")
    missing = expect(
        "InvalidRequest",
        s3.complete_multipart_upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]},
        **common,
    )
    assert "missing for part 1" in missing
    expect(
        "InvalidPart",
        s3.complete_multipart_upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": checksum("SHA256", b"z")}
            ]
        },
        **common,
    )
    expect(
        "BadDigest",
        s3.complete_multipart_upload,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}]
        },
        ChecksumSHA256=checksum("SHA256", b"not it") + "-1",
        **common,
    )
    done = s3.complete_multipart_upload(
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}]
        },
        **common,
    )
    assert done["ChecksumSHA256"].endswith("-1")


def test_upload_file_with_full_object_checksum(aws_client, bucket, tmp_path):
    """s3transfer's full-object path: the whole file's CRC32 checked at Complete."""
    s3 = aws_client("s3", config=NO_RETRY)
    body = data(2 * PART + 99, 8)
    path = tmp_path / "file.bin"
    path.write_bytes(body)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)
    value = checksum("CRC32", body)
    s3.upload_file(str(path), bucket, "full", Config=config, ExtraArgs={"ChecksumCRC32": value})
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == value and head["ChecksumType"] == "FULL_OBJECT"
    with pytest.raises(S3UploadFailedError, match="BadDigest"):
        s3.upload_file(
            str(path),
            bucket,
            "wrong",
            Config=config,
            ExtraArgs={"ChecksumCRC32": checksum("CRC32", b"other")},
        )
    # s3transfer aborted the failed upload; nothing is left.
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
