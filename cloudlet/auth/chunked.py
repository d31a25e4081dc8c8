"""``aws-chunked`` request bodies: strip the framing, check the chunk signatures.

SDKs upload S3 objects of unknown length (and objects with trailing checksums)
as a sequence of chunks inside the HTTP body::

    <hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n      (signed)
    <hex size>\\r\\n<data>\\r\\n                           (unsigned, with trailer)
    0[;chunk-signature=<sig>]\\r\\n
    [x-amz-checksum-crc32:<b64>\\r\\n]                   (trailing headers)
    [x-amz-trailer-signature:<sig>\\r\\n]
    \\r\\n

Each chunk signature chains from the previous one, starting at the seed
signature of the request's Authorization header, so a verifier checks chunk by
chunk as data streams in. Bodies can be gigabytes: ``AwsChunkedDecoder`` is
sans-IO and passes data through as it arrives, holding only one header line at
a time, so memory stays flat whatever the chunk size. A consequence: bytes of a
chunk are handed on before that chunk's signature has been checked (the check
needs the whole chunk), so a consumer must not commit what it read until the
stream ends without an error -- the same rule as for any trailing checksum.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterable, AsyncIterator

from cloudlet.auth import errors
from cloudlet.auth.sigv4 import EMPTY_SHA256, hmac_hex

MAX_HEADER_LINE = 4096
MAX_TRAILER_BYTES = 16 * 1024
_HEX_DIGITS = b"0123456789abcdefABCDEF"

_HEADER, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkVerifier:
    """The chain of chunk signatures that starts at a request's seed signature."""

    def __init__(
        self,
        signing_key: bytes,
        timestamp: str,
        credential_scope: str,
        seed_signature: str,
        *,
        signed_trailer: bool = False,
        s3: bool = True,
        access_key: str = "",
    ) -> None:
        self._key = signing_key
        self._chunk_prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{credential_scope}\n"
        self._trailer_prefix = f"AWS4-HMAC-SHA256-TRAILER\n{timestamp}\n{credential_scope}\n"
        self.previous = seed_signature.lower()
        self.signed_trailer = signed_trailer
        self._s3 = s3
        self._access_key = access_key

    def _check(self, string_to_sign: str, signature: str | None, what: str) -> None:
        if not signature:
            raise errors.signature_mismatch(
                s3=self._s3, access_key=self._access_key, detail=f"missing {what}"
            )
        expected = hmac_hex(self._key, string_to_sign)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise errors.signature_mismatch(
                s3=self._s3,
                access_key=self._access_key,
                signature=signature,
                string_to_sign=string_to_sign,
                detail=f"{what} does not match",
            )
        self.previous = expected

    def check_chunk(self, chunk_sha256: str, signature: str | None) -> None:
        """Check one chunk (its data's SHA-256 hex) and advance the chain."""
        sts = f"{self._chunk_prefix}{self.previous}\n{EMPTY_SHA256}\n{chunk_sha256}"
        self._check(sts, signature, "chunk-signature")

    def check_trailer(self, canonical_trailers: str, signature: str | None) -> None:
        """Check ``x-amz-trailer-signature`` over the ``name:value\\n`` trailer lines."""
        digest = hashlib.sha256(canonical_trailers.encode("utf-8")).hexdigest()
        sts = f"{self._trailer_prefix}{self.previous}\n{digest}"
        self._check(sts, signature, "x-amz-trailer-signature")


class AwsChunkedDecoder:
    """Incremental aws-chunked decoder: ``feed`` wire bytes, get payload bytes back.

    ``trailers`` holds the trailing headers (lower-case names) once ``done``.
    ``decoded_length`` (``x-amz-decoded-content-length``) is enforced when given.
    Errors are ``ServiceError``: ``SignatureDoesNotMatch`` on the first bad
    chunk, ``InvalidRequest`` for broken framing, ``IncompleteBody`` when the
    body ends early or its length is not the declared one.
    """

    def __init__(
        self, verifier: ChunkVerifier | None = None, *, decoded_length: int | None = None
    ) -> None:
        self.verifier = verifier
        self.decoded_length = decoded_length
        self.decoded = 0
        self.trailers: dict[str, str] = {}
        self._state = _HEADER
        self._line = bytearray()
        self._remaining = 0
        self._hasher: hashlib._Hash | None = None
        self._chunk_signature: str | None = None
        self._trailer_lines: list[str] = []
        self._trailer_signature: str | None = None
        self._trailer_bytes = 0

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                piece = data if take == end else data[pos : pos + take]
                if self._hasher is not None:
                    self._hasher.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_chunk()
            elif state == _DATA_END:
                need = 2 - len(self._line)
                self._line += data[pos : pos + need]
                pos = min(pos + need, end)
                if len(self._line) == 2:
                    if self._line != b"\r\n":
                        raise errors.bad_chunk("Chunk data is not followed by CRLF.")
                    self._line.clear()
                    self._state = _HEADER
            elif state == _DONE:
                if data[pos:].strip(b"\r\n"):
                    raise errors.bad_chunk("Unexpected data after the final chunk.")
                pos = end
            else:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    self._line += data[pos:]
                    pos = end
                    if len(self._line) > MAX_HEADER_LINE:
                        raise errors.bad_chunk("Chunk header line is too long.")
                    break
                self._line += data[pos:newline]
                pos = newline + 1
                line = bytes(self._line)
                self._line.clear()
                if len(line) > MAX_HEADER_LINE:
                    raise errors.bad_chunk("Chunk header line is too long.")
                if line.endswith(b"\r"):
                    line = line[:-1]
                if state == _HEADER:
                    self._start_chunk(line)
                else:
                    self._trailer_line(line)
        return out

    def close(self) -> None:
        """The body ended: raise unless the final chunk (and trailers) arrived."""
        if self._state == _TRAILER and self._line in (b"", b"\r"):
            self._end_trailers()  # tolerate a missing final CRLF
        if self._state != _DONE:
            raise errors.incomplete_body("The request body terminated unexpectedly.")

    # -- framing ----------------------------------------------------------------------

    def _start_chunk(self, line: bytes) -> None:
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.strip()
        if not size_text or len(size_text) > 16 or size_text.translate(None, _HEX_DIGITS):
            raise errors.bad_chunk(f"Invalid chunk size: {size_text[:32]!r}.")
        size = int(size_text, 16)
        signature = None
        for item in extensions.split(b";"):
            name, _, value = item.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        if self.decoded_length is not None and self.decoded + size > self.decoded_length:
            raise errors.incomplete_body(
                "The chunks carry more data than x-amz-decoded-content-length declares."
            )
        self.decoded += size
        if size == 0:
            if self.verifier is not None:
                self.verifier.check_chunk(EMPTY_SHA256, signature)
            self._state = _TRAILER
            return
        if self.verifier is not None:
            self._hasher = hashlib.sha256()
            self._chunk_signature = signature
        self._remaining = size
        self._state = _DATA

    def _end_chunk(self) -> None:
        if self.verifier is not None and self._hasher is not None:
            self.verifier.check_chunk(self._hasher.hexdigest(), self._chunk_signature)
            self._hasher = None
        self._state = _DATA_END

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        self._trailer_bytes += len(line)
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise errors.bad_chunk("Trailing headers are too large.")
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise errors.bad_chunk("Malformed trailing header.")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        if key == "x-amz-trailer-signature":
            self._trailer_signature = text
        else:
            self.trailers[key] = text
            self._trailer_lines.append(f"{key}:{text}\n")

    def _end_trailers(self) -> None:
        if self.verifier is not None and self.verifier.signed_trailer:
            self.verifier.check_trailer("".join(self._trailer_lines), self._trailer_signature)
        if self.decoded_length is not None and self.decoded != self.decoded_length:
            raise errors.incomplete_body(
                f"The chunks carry {self.decoded} bytes but x-amz-decoded-content-length "
                f"declares {self.decoded_length}."
            )
        self._state = _DONE


async def decode_aws_chunked(
    chunks: AsyncIterable[bytes],
    verifier: ChunkVerifier | None = None,
    *,
    trailers: dict[str, str] | None = None,
    decoded_length: int | None = None,
) -> AsyncIterator[bytes]:
    """Decode an aws-chunked body as it streams.

    Pass a dict as ``trailers`` to receive the trailing headers; it is filled
    when the stream has been read to its end (and all checks passed).
    """
    decoder = AwsChunkedDecoder(verifier, decoded_length=decoded_length)
    async for data in chunks:
        for piece in decoder.feed(data):
            yield piece
    decoder.close()
    if trailers is not None:
        trailers.update(decoder.trailers)


def decode_aws_chunked_body(
    body: bytes, verifier: ChunkVerifier | None = None, *, decoded_length: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Decode an already-buffered aws-chunked body: ``(payload, trailers)``."""
    decoder = AwsChunkedDecoder(verifier, decoded_length=decoded_length)
    pieces = decoder.feed(body)
    decoder.close()
    return b"".join(pieces), decoder.trailers
