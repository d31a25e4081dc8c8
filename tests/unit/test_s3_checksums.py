"""S3 checksum arithmetic against independent oracles.

botocore's own checksum classes (what clients compute) are the oracle for the
single-object values, awscrt's ``combine_*`` functions for CRC combination,
and published check values (the CRC catalogue's "123456789") pin the CRCs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random

import pytest
from awscrt import checksums as crt
from botocore import httpchecksum

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import checksums as cs

CHECK = b"123456789"


@pytest.mark.parametrize(
    "algorithm,value",
    [("CRC32", 0xCBF43926), ("CRC32C", 0xE3069283), ("CRC64NVME", 0xAE8B14860A799888)],
)
def test_crc_check_values(algorithm, value):
    size = 8 if algorithm == "CRC64NVME" else 4
    assert cs.compute(algorithm, CHECK) == base64.b64encode(value.to_bytes(size, "big")).decode()


BOTOCORE = {
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


@pytest.mark.parametrize("algorithm", sorted(BOTOCORE))
def test_streaming_matches_botocore(algorithm):
    data = random.Random(7).randbytes(300_001)
    ours = cs.new_hasher(algorithm)
    for i in range(0, len(data), 65_536):
        ours.update(memoryview(data)[i : i + 65_536])
    theirs = BOTOCORE[algorithm]()
    theirs.update(data)
    assert ours.digest() == theirs.digest()
    assert ours.b64() == theirs.b64digest()


def test_md5_hasher():
    h = cs.new_hasher("MD5")
    h.update(b"abc")
    assert h.digest() == hashlib.md5(b"abc").digest()


def test_empty_and_unknown():
    assert cs.compute("CRC32", b"") == "AAAAAA=="
    with pytest.raises(ValueError):
        cs.new_hasher("CRC16")


def test_names():
    assert cs.header_name("CRC64NVME") == "x-amz-checksum-crc64nvme"
    assert cs.member_name("CRC32C") == "ChecksumCRC32C"
    assert cs.result_fields("SHA1", "x", "COMPOSITE") == {
        "ChecksumSHA1": "x",
        "ChecksumType": "COMPOSITE",
    }
    assert cs.result_fields(None, None, None) == {}


# -- CRC combination ------------------------------------------------------------------------

ORACLE = {
    "CRC32": (crt.crc32, crt.combine_crc32),
    "CRC32C": (crt.crc32c, crt.combine_crc32c),
    "CRC64NVME": (crt.crc64nvme, crt.combine_crc64nvme),
}


@pytest.mark.parametrize("algorithm", sorted(ORACLE))
def test_combine_matches_direct_and_awscrt(algorithm):
    rng = random.Random(algorithm)
    fn, oracle = ORACLE[algorithm]
    for len1, len2 in [(0, 0), (1, 0), (0, 1), (5, 7), (1000, 1), (4096, 65_537), (3, 1 << 20)]:
        a, b = rng.randbytes(len1), rng.randbytes(len2)
        ca, cb = fn(a), fn(b)
        combined = cs.crc_combine(algorithm, ca, cb, len2)
        assert combined == fn(a + b)
        assert combined == oracle(ca, cb, len2)


@pytest.mark.parametrize("algorithm", sorted(ORACLE))
def test_combine_huge_lengths(algorithm):
    # Lengths beyond what anyone would hash here: compare with awscrt's combine.
    fn, oracle = ORACLE[algorithm]
    for len2 in (5 << 30, (5 << 40) + 3, (1 << 62) - 1):
        assert cs.crc_combine(algorithm, 0x1234, 0x9876, len2) == oracle(0x1234, 0x9876, len2)


@pytest.mark.parametrize("algorithm", sorted(ORACLE))
def test_full_object_checksum_of_parts(algorithm):
    rng = random.Random(1)
    parts = [rng.randbytes(n) for n in (70_000, 70_000, 70_000, 12_345)]
    values = [(cs.compute(algorithm, p), len(p)) for p in parts]
    assert cs.full_object_checksum(algorithm, values) == cs.compute(algorithm, b"".join(parts))


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum(algorithm):
    parts = [b"a" * 10, b"b" * 20, b"c"]
    values = [cs.compute(algorithm, p) for p in parts]
    raw = b"".join(base64.b64decode(v) for v in values)
    expected = cs.compute(algorithm, raw) + "-3"
    assert cs.composite_checksum(algorithm, values) == expected


def test_composite_known_value():
    # crc32 over the big-endian part CRCs, as S3 documents.
    p1, p2 = os.urandom(100), os.urandom(50)
    c1, c2 = crt.crc32(p1), crt.crc32(p2)
    want = crt.crc32(c1.to_bytes(4, "big") + c2.to_bytes(4, "big"))
    value = cs.composite_checksum("CRC32", [cs.compute("CRC32", p1), cs.compute("CRC32", p2)])
    assert value == base64.b64encode(want.to_bytes(4, "big")).decode() + "-2"


# -- requests ---------------------------------------------------------------------------


def _code(exc_info) -> str:
    return exc_info.value.code


def test_request_checksum_header():
    value = cs.compute("SHA256", b"hello")
    claim = cs.request_checksum({"x-amz-checksum-sha256": value})
    assert claim is not None and claim.algorithm == "SHA256" and not claim.trailer
    h = claim.hasher()
    h.update(b"hello")
    assert claim.verify(h, {}) == value
    h = claim.hasher()
    h.update(b"HELLO")
    with pytest.raises(ServiceError) as err:
        claim.verify(h, {})
    assert _code(err) == "BadDigest"
    assert err.value.message == "The SHA256 you specified did not match the calculated checksum."


def test_request_checksum_trailer():
    headers = {
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    claim = cs.request_checksum(headers)
    assert claim is not None and claim.trailer and claim.algorithm == "CRC32"
    h = claim.hasher()
    h.update(b"data")
    with pytest.raises(ServiceError) as err:
        claim.verify(h, headers)  # trailer never arrived
    assert _code(err) == "InvalidRequest"
    merged = {**headers, "x-amz-checksum-crc32": cs.compute("CRC32", b"data")}
    assert claim.verify(h, merged) == cs.compute("CRC32", b"data")
    # Re-reading the request once trailers are merged gives the same claim.
    assert cs.request_checksum(merged) == claim
    merged["x-amz-checksum-crc32"] = cs.compute("CRC32", b"other")
    with pytest.raises(ServiceError) as err:
        claim.verify(h, merged)
    assert _code(err) == "BadDigest"
    assert "CRC32 you specified" in err.value.message


@pytest.mark.parametrize(
    "headers,fragment",
    [
        (
            {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": "x"},
            "Expecting a single x-amz-checksum- header",
        ),
        ({"x-amz-checksum-crc32": "not base64!"}, "x-amz-checksum-crc32 header is invalid"),
        ({"x-amz-checksum-crc32": "AAAAAAAA"}, "x-amz-checksum-crc32 header is invalid"),
        ({"x-amz-sdk-checksum-algorithm": "CRC32"}, "no corresponding x-amz-checksum-*"),
        ({"x-amz-sdk-checksum-algorithm": "BLAKE3"}, "Checksum algorithm provided is unsupported"),
        (
            {"x-amz-sdk-checksum-algorithm": "SHA1", "x-amz-checksum-crc32": "AAAAAA=="},
            "x-amz-sdk-checksum-algorithm",
        ),
        ({"x-amz-trailer": "x-amz-checksum-blake3"}, "x-amz-trailer header is not supported"),
        ({"x-amz-trailer": "x-amz-meta-foo"}, "x-amz-trailer header is not supported"),
        (
            {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-checksum-sha1": "x"},
            "Expecting a single",
        ),
    ],
)
def test_request_checksum_refusals(headers, fragment):
    with pytest.raises(ServiceError) as err:
        cs.request_checksum(headers)
    assert _code(err) == "InvalidRequest"
    assert fragment in err.value.message


def test_no_checksum_and_ignored_headers():
    assert cs.request_checksum({}) is None
    assert cs.request_checksum({"x-amz-checksum-mode": "ENABLED"}) is None
    assert cs.request_checksum({"x-amz-checksum-type": "FULL_OBJECT"}) is None


def test_content_md5():
    body = b"payload"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    expected = cs.content_md5({"content-md5": good})
    cs.verify_content_md5(expected, hashlib.md5(body).digest())
    with pytest.raises(ServiceError) as err:
        cs.verify_content_md5(expected, hashlib.md5(b"other").digest())
    assert _code(err) == "BadDigest"
    for bad in ("nope", base64.b64encode(b"short").decode()):
        with pytest.raises(ServiceError) as err:
            cs.content_md5({"content-md5": bad})
        assert _code(err) == "InvalidDigest"
    assert cs.content_md5({}) is None


# -- multipart settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm,kind,want",
    [
        (None, None, (None, None)),
        ("crc32", None, ("CRC32", "COMPOSITE")),
        ("CRC32C", "FULL_OBJECT", ("CRC32C", "FULL_OBJECT")),
        ("CRC64NVME", None, ("CRC64NVME", "FULL_OBJECT")),
        ("SHA256", "COMPOSITE", ("SHA256", "COMPOSITE")),
    ],
)
def test_upload_checksum_defaults(algorithm, kind, want):
    assert cs.upload_checksum(algorithm, kind) == want


@pytest.mark.parametrize(
    "algorithm,kind",
    [(None, "COMPOSITE"), ("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE"), ("MD4", None)],
)
def test_upload_checksum_refusals(algorithm, kind):
    with pytest.raises(ServiceError) as err:
        cs.upload_checksum(algorithm, kind)
    assert _code(err) == "InvalidRequest"
