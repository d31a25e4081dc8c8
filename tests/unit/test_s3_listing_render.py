"""Listing pages are rendered straight from rows: byte for byte what the generic writer makes."""

from __future__ import annotations

import json

import pytest

from cloudlet.core.models import load_model
from cloudlet.protocols.restxml import RestXmlCodec
from cloudlet.services.s3.listing import (
    _content,
    _render_contents,
    _render_versions,
    _version_entry,
)

COMPACT = (",", ":")
"""How the store writes the ``checksums`` column (older rows have ``json.dumps``' spaces)."""


def row(
    key: str,
    ts: float,
    checksums: dict | None = None,
    klass: str = "STANDARD",
    kind: str = "FULL_OBJECT",
    separators: tuple[str, str] = COMPACT,
) -> tuple:
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
        json.dumps(checksums, separators=separators) if checksums else None,
        kind if checksums else None,
        1,
    )


ROWS = [
    row("plain/key-1.txt", 1_790_000_000.0),
    row("with space & <angle> +plus", 1_790_000_000.123456, {"CRC32": "SNfwYw=="}),
    row("unicodé/ключ/键", 1_790_000_000.9999),
    row("multi", 1_790_000_000.5, {"CRC64NVME": "AAAAAAAAAAA=", "SHA256": "x/y+z="}, "GLACIER"),
    row("tricky\r\nline", 1_790_000_001.0004),
    row("spaced", 1_790_000_002.0, {"CRC32C": "yZRlqg=="}, separators=(", ", ": ")),
    row("mpu", 1_790_000_003.0, {"SHA256": "x/y+z=-3"}, kind="COMPOSITE"),
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
    # S3 sends an owner's ID alone since 21 November 2025 (the API reference's Owner).
    assert (b"<Owner><ID>" in generic) == owner and b"DisplayName" not in generic


def version_row(key: str, version: str, latest: bool, marker: bool, **kw) -> tuple:
    base = row(key, 1_790_000_000.25, **kw)
    return (base[0], version, int(latest), int(marker), *base[4:])


VERSION_ROWS = [
    version_row("a & <b>", "v3", True, False, checksums={"CRC32": "SNfwYw=="}),
    version_row("a & <b>", "v2", False, True),
    version_row("a & <b>", "v1", False, False, klass="GLACIER"),
    version_row("ключ +plus", "null", True, True),
    version_row("z", "v9", True, False),
    version_row("z", "v8", False, False, checksums={"SHA1": "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=-2"}),
    version_row("z", "v7", False, False, checksums={"CRC32C": "yZRlqg=="}, separators=(", ", ": ")),
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


@pytest.mark.parametrize("separators", [COMPACT, (", ", ": ")])
def test_checksum_elements_follow_the_etag_whichever_json_spelling(separators):
    checksums = {"CRC32C": "yZRlqg==", "SHA256": "x/y+z="}
    r = row("k", 1_790_000_000.0, checksums, separators=separators)
    elements = (
        "</ETag><ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
        "<ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
        "<Size>"
    )
    assert elements in _render_contents([r], None, False)
    assert elements in _render_versions([r], None)
    assert _content(r, None, False)["ChecksumAlgorithm"] == ["CRC32C", "SHA256"]
    assert _version_entry(r, None)["ChecksumType"] == "FULL_OBJECT"
    bare = row("k", 1_790_000_000.0)
    assert "Checksum" not in _render_contents([bare], None, False)
    assert "Checksum" not in _render_versions([bare], None)
