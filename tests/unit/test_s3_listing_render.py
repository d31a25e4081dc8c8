"""Listing pages are rendered straight from rows: byte for byte what the generic writer makes."""

from __future__ import annotations

import json

import pytest

from cloudlet.gateway.catalog import load_model
from cloudlet.protocols.restxml import RestXmlCodec
from cloudlet.services.s3.listing import (
    _content,
    _render_contents,
    _render_versions,
    _version_entry,
)


def row(key: str, ts: float, checksums: dict | None = None, klass: str = "STANDARD") -> tuple:
    # (key, version_id, is_latest, delete_marker, size, etag, last_modified, owner,
    #  storage_class, checksums, checksum_type, id): the store's listing row.
    return (
        key.encode("utf-8", "surrogateescape"),
        "null",
        1,
        0,
        len(key) * 7,
        '"0123456789abcdef0123456789abcdef"',
        ts,
        "000000000000",
        klass,
        json.dumps(checksums) if checksums else None,
        "FULL_OBJECT" if checksums else None,
        1,
    )


ROWS = [
    row("plain/key-1.txt", 1_790_000_000.0),
    row("with space & <angle> +plus", 1_790_000_000.123456, {"CRC32": "SNfwYw=="}),
    row("unicodé/ключ/键", 1_790_000_000.9999),
    row("multi", 1_790_000_000.5, {"CRC64NVME": "AAAAAAAAAAA=", "SHA256": "x/y+z="}, "GLACIER"),
    row("tricky\r\nline", 1_790_000_001.0004),
]


@pytest.mark.parametrize("encoding", [None, "url"])
@pytest.mark.parametrize("owner", [False, True])
def test_rendered_contents_match_the_generic_writer(encoding, owner):
    operation = load_model("s3").operation_model("ListObjectsV2")
    codec = RestXmlCodec()

    def page(contents) -> bytes:
        out = {"Name": "b", "KeyCount": len(ROWS), "IsTruncated": False, "Contents": contents}
        return codec.serialize(operation, out, "req").body

    generic = page([_content(r, encoding, owner) for r in ROWS])
    assert page(_render_contents(ROWS, encoding, owner)) == generic


def version_row(key: str, version: str, latest: bool, marker: bool, **kw) -> tuple:
    base = row(key, 1_790_000_000.25, **kw)
    return (base[0], version, int(latest), int(marker), *base[4:])


VERSION_ROWS = [
    version_row("a & <b>", "v3", True, False, checksums={"CRC32": "SNfwYw=="}),
    version_row("a & <b>", "v2", False, True),
    version_row("a & <b>", "v1", False, False, klass="GLACIER"),
    version_row("ключ +plus", "null", True, True),
    version_row("z", "v9", True, False),
]


@pytest.mark.parametrize("encoding", [None, "url"])
def test_rendered_versions_match_the_generic_writer(encoding):
    operation = load_model("s3").operation_model("ListObjectVersions")
    codec = RestXmlCodec()
    versions = [r for r in VERSION_ROWS if not r[3]]
    markers = [r for r in VERSION_ROWS if r[3]]
    generic = codec.serialize(
        operation,
        {
            "Name": "b",
            "Versions": [_version_entry(r, encoding) for r in versions],
            "DeleteMarkers": [_version_entry(r, encoding) for r in markers],
        },
        "req",
    ).body
    rendered = _render_versions(versions + markers, encoding)
    assert codec.serialize(operation, {"Name": "b", "Versions": rendered}, "req").body == generic
