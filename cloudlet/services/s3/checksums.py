"""S3's additional checksums: streaming hashers, request validation, multipart rules.

Why a module of its own: every upload path (PutObject, UploadPart,
UploadPartCopy, CompleteMultipartUpload, POST uploads) has to agree on the
same algorithms, the same wire formats and the same error answers, and the
multipart rules (composite "checksum of checksums" and full-object CRCs
combined from part CRCs) are arithmetic that deserves unit tests of its own.
Nothing here touches HTTP, SQLite or files: callers feed bytes and headers.
Errors are built with ``errors.py``, like every S3 error.

- Hashers share one interface (``update``, ``digest``, ``b64``) and are chosen
  by S3's algorithm names. CRC32 comes from zlib; CRC32C, CRC64NVME and the
  xxHash family from ``awscrt`` (AWS's own native library, also what botocore
  uses for them), fast enough for GiB objects.
- ``request_checksum(headers)`` reads what a request claims (a
  ``x-amz-checksum-<alg>`` header, or ``x-amz-sdk-checksum-algorithm`` with an
  ``x-amz-trailer`` whose value arrives after the body) and ``verify`` checks
  it once the body has been read, answering as S3 does (``BadDigest``,
  ``InvalidRequest``). ``content_md5`` / ``verify_content_md5`` do the same for
  ``Content-MD5`` (``InvalidDigest``, ``BadDigest``).
- ``composite_checksum`` and ``full_object_checksum`` turn the checksums of
  an upload's parts into the object's. CRC combination is done with
  polynomial arithmetic modulo the CRC's generator (crc(A‖B) from crc(A),
  crc(B) and len(B)), so completing an upload never re-reads its parts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from awscrt import checksums as crt

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors

# Every algorithm S3's model names; the first five are the classic ones.
ALGORITHMS: tuple[str, ...] = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
CRC_ALGORITHMS = frozenset({"CRC32", "CRC32C", "CRC64NVME"})
"""Algorithms whose part values combine into a checksum of the whole object."""
COMPOSITE_ALGORITHMS = frozenset(ALGORITHMS) - {"CRC64NVME"}
"""Algorithms a multipart upload may use with ``ChecksumType=COMPOSITE``."""

FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"
DEFAULT_ALGORITHM = "CRC64NVME"
"""What S3 stores for an object uploaded without any checksum."""

_DIGEST_SIZES = {
    "CRC32": 4,
    "CRC32C": 4,
    "CRC64NVME": 8,
    "SHA1": 20,
    "SHA256": 32,
    "SHA512": 64,
    "MD5": 16,
    "XXHASH64": 8,
    "XXHASH3": 8,
    "XXHASH128": 16,
}
# Headers that start like a checksum value but are not one.
_NOT_VALUES = frozenset({"x-amz-checksum-type", "x-amz-checksum-algorithm", "x-amz-checksum-mode"})
_HEADER_PREFIX = "x-amz-checksum-"


class Hasher(Protocol):
    algorithm: str

    def update(self, data: bytes | bytearray | memoryview) -> None: ...

    def digest(self) -> bytes: ...

    def b64(self) -> str: ...


class _Crc:
    """A running CRC (``update`` continues from the previous value)."""

    __slots__ = ("algorithm", "value", "_fn", "_size")

    def __init__(self, algorithm: str, fn: Callable[[bytes, int], int], size: int) -> None:
        self.algorithm = algorithm
        self.value = 0
        self._fn = fn
        self._size = size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.value = self._fn(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self._size, "big")

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode()


class _Hashlib:
    __slots__ = ("algorithm", "_h")

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm.lower())

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()

    def b64(self) -> str:
        return base64.b64encode(self._h.digest()).decode()


class _XXHash:
    """awscrt's xxHash; ``finalize`` may only run once, so the digest is kept."""

    __slots__ = ("algorithm", "_h", "_digest")

    _FACTORIES = {
        "XXHASH64": crt.XXHash.new_xxhash64,
        "XXHASH3": crt.XXHash.new_xxhash3_64,
        "XXHASH128": crt.XXHash.new_xxhash3_128,
    }

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._h = self._FACTORIES[algorithm]()
        self._digest: bytes | None = None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._digest is not None:
            raise ValueError("xxHash already finalized")
        # awscrt's binding takes bytes-like objects but not memoryviews.
        self._h.update(data if isinstance(data, bytes) else bytes(data))

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = self._h.finalize()
        return self._digest

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode()


_CRC_FUNCTIONS = {
    "CRC32": (zlib.crc32, 4),
    "CRC32C": (crt.crc32c, 4),
    "CRC64NVME": (crt.crc64nvme, 8),
}


def new_hasher(algorithm: str) -> Hasher:
    """A fresh streaming hasher for one of ``ALGORITHMS`` (upper-case name)."""
    crc = _CRC_FUNCTIONS.get(algorithm)
    if crc is not None:
        return _Crc(algorithm, crc[0], crc[1])
    if algorithm in ("SHA1", "SHA256", "SHA512", "MD5"):
        return _Hashlib(algorithm)
    if algorithm in _XXHash._FACTORIES:
        return _XXHash(algorithm)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def compute(algorithm: str, data: bytes) -> str:
    """The base64 checksum of ``data`` (for small buffers and tests)."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.b64()


def header_name(algorithm: str) -> str:
    """``CRC32`` -> ``x-amz-checksum-crc32``."""
    return _HEADER_PREFIX + algorithm.lower()


def member_name(algorithm: str) -> str:
    """``CRC32`` -> ``ChecksumCRC32`` (the output-shape member)."""
    return "Checksum" + algorithm


def result_fields(algorithm: str | None, value: str | None, kind: str | None) -> dict[str, str]:
    """The output members for a stored checksum: ``{ChecksumCRC32: ..., ChecksumType: ...}``."""
    if not algorithm or not value:
        return {}
    out = {member_name(algorithm): value}
    if kind:
        out["ChecksumType"] = kind
    return out


# -- errors, as S3 words them ------------------------------------------------------------


invalid_request = errors.invalid_request


def bad_digest(algorithm: str) -> ServiceError:
    """A checksum (not Content-MD5) that does not match the bytes received."""
    return errors.s3_error(
        "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
    )


def _invalid_value(header: str) -> ServiceError:
    return invalid_request(f"Value for {header} header is invalid.")


def parse_algorithm(value: str | None) -> str | None:
    """An algorithm name as a client sent it (any case) -> ``ALGORITHMS`` spelling.

    An unknown one gets S3's message listing the valid ones (LocalStack's AWS-recorded
    ``create-mpu-wrong-checksum-algo``, from before S3 took more than four)."""
    if value is None or value == "":
        return None
    name = value.strip().upper()
    if name not in _DIGEST_SIZES:
        raise invalid_request(
            "Checksum algorithm provided is unsupported. Please try again with any of the "
            f"valid types: [{', '.join(sorted(_DIGEST_SIZES))}]"
        )
    return name


def parse_checksum_type(value: str | None) -> str | None:
    """An ``x-amz-checksum-type`` as a client sent it (any case): ``COMPOSITE`` or
    ``FULL_OBJECT``, else ``InvalidRequest``."""
    if value is None:
        return None
    kind = value.strip().upper()
    if kind not in (FULL_OBJECT, COMPOSITE):
        raise _invalid_value("x-amz-checksum-type")
    return kind


def decode_value(algorithm: str, value: str, header: str | None = None) -> bytes:
    """The raw digest of a base64 checksum value; ``InvalidRequest`` if malformed."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_value(header or header_name(algorithm)) from None
    if len(raw) != _DIGEST_SIZES[algorithm]:
        raise _invalid_value(header or header_name(algorithm))
    return raw


# -- what a request claims ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestChecksum:
    """The checksum a request carries: a header value now, or a trailer later."""

    algorithm: str
    value: str | None
    """Base64 value from the request headers; None while it is still a trailer."""
    trailer: bool = False

    @property
    def header(self) -> str:
        return header_name(self.algorithm)

    def hasher(self) -> Hasher:
        return new_hasher(self.algorithm)

    def expected(self, headers: Mapping[str, str]) -> str:
        """The claimed value: the header's, or the trailer's once the body is read."""
        if not self.trailer:
            return self.value or ""
        value = headers.get(self.header)
        if value is None:
            raise invalid_request(
                f"The x-amz-trailer header specified {self.header}, but the trailing "
                "checksum was not found in the request body."
            )
        return value

    def verify(self, computed: Hasher | bytes, headers: Mapping[str, str]) -> str:
        """Check the claim against what was computed; returns the base64 value.

        Call after the body has been read to its end (trailers are merged into
        ``headers`` then). ``BadDigest`` on mismatch.
        """
        digest = computed if isinstance(computed, bytes) else computed.digest()
        claimed = decode_value(self.algorithm, self.expected(headers), self.header)
        if claimed != digest:
            raise bad_digest(self.algorithm)
        return base64.b64encode(digest).decode()


def request_checksum(headers: Mapping[str, str]) -> RequestChecksum | None:
    """What checksum a PutObject/UploadPart request claims, checked for coherence.

    ``headers`` has lower-case names. Raises ``InvalidRequest`` for the
    combinations S3 refuses: several checksum headers, an unknown algorithm,
    an algorithm named without a matching header or trailer, a malformed value.
    """
    found: list[tuple[str, str]] = []
    for name, value in headers.items():
        if name.startswith(_HEADER_PREFIX) and name not in _NOT_VALUES:
            algorithm = name[len(_HEADER_PREFIX) :].upper()
            if algorithm in _DIGEST_SIZES:
                found.append((algorithm, value))
    trailer = _trailer_algorithm(headers)
    sdk = parse_algorithm(headers.get("x-amz-sdk-checksum-algorithm"))
    if trailer is not None:
        # The trailer's value was merged into the headers if the body is already read.
        found = [(a, v) for a, v in found if a != trailer]
    if len(found) + (trailer is not None) > 1:
        raise invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    if trailer is not None:
        if sdk is not None and sdk != trailer:
            raise _invalid_value("x-amz-sdk-checksum-algorithm")
        return RequestChecksum(trailer, None, trailer=True)
    if found:
        algorithm, value = found[0]
        if sdk is not None and sdk != algorithm:
            raise _invalid_value("x-amz-sdk-checksum-algorithm")
        decode_value(algorithm, value)
        return RequestChecksum(algorithm, value.strip())
    if sdk is not None:
        raise invalid_request(
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* "
            "or x-amz-trailer headers were found."
        )
    return None


def _trailer_algorithm(headers: Mapping[str, str]) -> str | None:
    declared = headers.get("x-amz-trailer")
    if declared is None:
        return None
    names = [n.strip().lower() for n in declared.split(",") if n.strip()]
    if len(names) != 1 or not names[0].startswith(_HEADER_PREFIX):
        raise invalid_request("The value specified in the x-amz-trailer header is not supported")
    algorithm = names[0][len(_HEADER_PREFIX) :].upper()
    if algorithm not in _DIGEST_SIZES:
        raise invalid_request("The value specified in the x-amz-trailer header is not supported")
    return algorithm


def content_md5(headers: Mapping[str, str]) -> bytes | None:
    """The raw digest a ``Content-MD5`` header claims; ``InvalidDigest`` if malformed."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise errors.invalid_digest(value)
    return raw


def verify_content_md5(expected: bytes | None, computed: bytes) -> None:
    """``BadDigest`` unless the body's MD5 is the one ``Content-MD5`` claimed."""
    if expected is not None and expected != computed:
        raise errors.bad_digest(
            base64.b64encode(expected).decode(), base64.b64encode(computed).decode()
        )


# -- multipart ------------------------------------------------------------------------------


def upload_checksum(algorithm: str | None, kind: str | None) -> tuple[str | None, str | None]:
    """CreateMultipartUpload's ``ChecksumAlgorithm``/``ChecksumType``, checked and defaulted.

    CRC64NVME can only be full-object; SHA-family and xxHash only composite;
    CRC32/CRC32C default to composite, as S3 does.
    """
    alg = parse_algorithm(algorithm)
    kind = parse_checksum_type(kind)
    if alg is None:
        if kind is not None:
            raise invalid_request(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        return None, None
    if kind is None:
        kind = FULL_OBJECT if alg == "CRC64NVME" else COMPOSITE
    if kind == FULL_OBJECT and alg not in CRC_ALGORITHMS:
        raise invalid_request(
            f"The {FULL_OBJECT} checksum type cannot be used with the {alg.lower()} "
            "checksum algorithm."
        )
    if kind == COMPOSITE and alg not in COMPOSITE_ALGORITHMS:
        raise invalid_request(
            f"The {COMPOSITE} checksum type cannot be used with the {alg.lower()} "
            "checksum algorithm."
        )
    return alg, kind


def composite_checksum(algorithm: str, part_values: Iterable[str]) -> str:
    """The "checksum of checksums": ``alg(digest_1 ‖ … ‖ digest_N)`` in base64, then ``-N``."""
    hasher = new_hasher(algorithm)
    count = 0
    for value in part_values:
        hasher.update(base64.b64decode(value))
        count += 1
    return f"{hasher.b64()}-{count}"


def full_object_checksum(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """The CRC of the concatenated parts from ``(part CRC base64, part size)`` pairs."""
    crc = 0
    for value, size in parts:
        crc = crc_combine(algorithm, crc, int.from_bytes(base64.b64decode(value), "big"), size)
    return base64.b64encode(crc.to_bytes(_DIGEST_SIZES[algorithm], "big")).decode()


def crc_combine(algorithm: str, crc1: int, crc2: int, len2: int) -> int:
    """crc(A‖B) from crc(A), crc(B) and len(B), for CRC32, CRC32C and CRC64NVME."""
    return _GF[algorithm].combine(crc1, crc2, len2)


class _CrcField:
    """Arithmetic modulo a reflected CRC generator polynomial.

    For CRCs whose initial value and final xor are both all ones (the three S3
    uses), ``crc(A‖B) = crc(A)·x^(8·len(B)) mod P  ⊕  crc(B)``: the
    conditioning terms cancel. ``x^(8n) mod P`` is built by squaring (powers
    ``x^(2^k)`` are cached), so a combine costs O(log n) multiplications and
    a cache per length makes equal-sized parts one multiplication each.
    In the reflected representation the top bit stands for x^0.
    """

    def __init__(self, poly: int, width: int) -> None:
        self.poly = poly
        self.one = 1 << (width - 1)
        self._powers = [self.one >> 1]  # x^(2^0) = x
        self._by_length: dict[int, int] = {}

    def multiply(self, a: int, b: int) -> int:
        """a·b mod P."""
        m, p, poly = self.one, 0, self.poly
        while True:
            if a & m:
                p ^= b
                if a & (m - 1) == 0:
                    return p
            m >>= 1
            b = (b >> 1) ^ poly if b & 1 else b >> 1

    def _power(self, k: int) -> int:
        """x^(2^k) mod P."""
        powers = self._powers
        while len(powers) <= k:
            last = powers[-1]
            powers.append(self.multiply(last, last))
        return powers[k]

    def shift(self, length: int) -> int:
        """x^(8·length) mod P: the factor that moves a CRC past ``length`` bytes."""
        cached = self._by_length.get(length)
        if cached is not None:
            return cached
        p, n, k = self.one, length, 3
        while n:
            if n & 1:
                p = self.multiply(self._power(k), p)
            n >>= 1
            k += 1
        if len(self._by_length) < 4096:
            self._by_length[length] = p
        return p

    def combine(self, crc1: int, crc2: int, len2: int) -> int:
        if len2 == 0:
            return crc1
        return self.multiply(self.shift(len2), crc1) ^ crc2


_GF = {
    "CRC32": _CrcField(0xEDB88320, 32),
    "CRC32C": _CrcField(0x82F63B78, 32),
    "CRC64NVME": _CrcField(0x9A6C9329AC4BC9B5, 64),
}
