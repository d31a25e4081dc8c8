"""Gzip request bodies: what ``Content-Encoding: gzip`` sends, inflated with a limit.

Why: SDKs gzip requests (botocore for operations with the ``requestcompression``
trait, other SDKs for DynamoDB), and a gzip stream may hold several members. The
gateway and DynamoDB both inflate such bodies and answer the failures each in its
own service's words, so the inflating is done once, here.
"""

from __future__ import annotations

import zlib


class NotGzip(ValueError):
    """The body is not gzip, or a member of it is cut short."""


class TooLarge(ValueError):
    """The inflated body would pass the limit (a gzip bomb, or just too much)."""


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, inflated, at most ``limit`` bytes in all."""
    out: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            piece = inflater.decompress(data, limit + 1 - size)
        except zlib.error:
            raise NotGzip from None
        size += len(piece)
        if size > limit or inflater.unconsumed_tail:
            raise TooLarge
        if not inflater.eof:
            raise NotGzip
        out.append(piece)
        data = inflater.unused_data
    return b"".join(out)
