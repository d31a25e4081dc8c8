"""GetObjectTorrent: an object's ``.torrent`` file, which BitTorrent clients download with.

Why it is built this way:

- **The file is made on demand**, as S3 makes it on the first request ("Publishing
  content using Amazon S3 and BitTorrent"): the object is read in pieces of 256 KiB
  and each piece's SHA-1 goes in ``info.pieces``, with the object's size and its key's
  last segment as ``name``, and its bucket and key as ``x-amz-bucket`` and ``x-amz-key``.
  It is bencoded (BEP 3) and sent as ``application/x-bittorrent``, as an attachment
  named ``<name>.torrent``.
- **cloudlet seeds over HTTP.** S3 was a BitTorrent seeder; cloudlet runs no tracker,
  so the file names the object's own URL as a web seed (``url-list``, BEP 19), from
  which BitTorrent clients fetch the pieces with ranged GETs. As on S3, only an object
  anonymous callers may read can be fetched so (open mode lets everyone read).
- **What S3 refuses** (the API reference and the user guide's "Retrieving Amazon S3
  objects using BitTorrent"): objects of 5 GB or more, objects encrypted with a
  customer-provided key, buckets of Regions launched after May 30, 2016, and
  directory buckets (``directory.py``). The texts are cloudlet's: S3's are not on
  record.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cloudlet.protocols import rest
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import object_url
from cloudlet.services.s3.restore import check_readable

PIECE = 256 * 1024
"""Bytes per piece (S3's torrents used 256 KiB pieces)."""
LIMIT = 5 * 1024**3
"""Objects of this size or more have no torrent (the API reference)."""
REGIONS = frozenset(
    """us-east-1 us-west-1 us-west-2 eu-west-1 eu-central-1 ap-southeast-1 ap-southeast-2
    ap-northeast-1 ap-northeast-2 sa-east-1""".split()
)
"""The Regions launched before May 30, 2016: the only ones that serve torrents (the
user guide; the rest opened later, from ap-south-1 in June 2016 on)."""


def bencode(value: Any) -> bytes:
    """BEP 3's encoding: integers, byte strings, lists and dictionaries (keys sorted)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted(
            (k.encode("utf-8") if isinstance(k, str) else k, v) for k, v in value.items()
        )
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


class TorrentHandlers:
    """GetObjectTorrent (mixed into ``S3Service``)."""

    async def get_object_torrent(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self._bucket(params["Bucket"])  # type: ignore[attr-defined]
        if bucket.region not in REGIONS:
            raise errors.s3_error(
                "NotImplemented",
                f"BitTorrent is not supported in {bucket.region}: S3 serves torrents only in "
                "Regions launched before May 30, 2016",
                501,
            )
        key = params["Key"]
        version = self._find(bucket, key, None, "GET")  # type: ignore[attr-defined]
        sse = version.extra.get("sse") or {}
        if sse.get("alg") == "SSE-C":
            raise errors.invalid_request(
                "Torrents are not available for objects encrypted with a customer-provided key"
            )
        if version.size >= LIMIT:
            raise errors.invalid_request("Torrents are available only for objects under 5 GB")
        check_readable(version)
        pieces = await self._pieces(version.blob_id or "", version.size)
        name = key.rsplit("/", 1)[-1] or key
        torrent = {
            "created by": "cloudlet",
            "info": {
                "length": version.size,
                "name": name,
                "piece length": PIECE,
                "pieces": pieces,
                "x-amz-bucket": bucket.name,
                "x-amz-key": key,
            },
            "url-list": [object_url(ctx, bucket.name, key).replace("+", "%20")],
        }
        filename = name.replace('"', "")
        return {
            "Body": bencode(torrent),
            rest.HTTP_HEADERS: {
                "Content-Type": "application/x-bittorrent",
                "Content-Disposition": f'attachment; filename="{filename}.torrent"',
            },
        }

    async def _pieces(self, blob_id: str, size: int) -> bytes:
        """The SHA-1 of each 256 KiB piece of the object, concatenated."""
        out = []
        digest = hashlib.sha1(usedforsecurity=False)
        filled = 0
        reader = self.blobs.reader(blob_id, 0, size, chunk_size=PIECE)  # type: ignore[attr-defined]
        async for chunk in reader:
            view = memoryview(chunk)
            while view:
                take = min(PIECE - filled, len(view))
                digest.update(view[:take])
                filled += take
                view = view[take:]
                if filled == PIECE:
                    out.append(digest.digest())
                    digest = hashlib.sha1(usedforsecurity=False)
                    filled = 0
        if filled:
            out.append(digest.digest())
        return b"".join(out)
