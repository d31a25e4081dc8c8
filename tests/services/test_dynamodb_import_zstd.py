"""DynamoDB ImportTable of ZSTD-compressed objects, with real boto3.

ZSTD must import exactly as GZIP and plain objects do: every format (DynamoDB
JSON, Ion text, CSV) gives the same items and counts, a file of several frames
(as the zstd CLI, pzstd and streaming writers make them) reads whole, and an
object that is not zstd, is cut short or is corrupt counts as one error, as a
bad GZIP object does, while the rest of the import goes on.
"""

from __future__ import annotations

import base64
import gzip
import struct

import pytest
import zstandard

from tests.services.dynamodb_helpers import scan_all, tname, wait_import
from tests.services.s3_helpers import bname
from tests.services.test_dynamodb_import import by_pk, creation, json_lines, start_import


def json_item(i: int) -> dict:
    """An item in DynamoDB JSON's wire form (binaries in base64)."""
    return {
        "pk": {"S": f"k{i}"},
        "n": {"N": str(i * 1.5)},
        "bin": {"B": base64.b64encode(bytes([i, 0, 255])).decode()},
        "ss": {"SS": ["a", "ü", "quote\"'"]},
        "m": {"M": {"nested": {"L": [{"BOOL": True}, {"NULL": True}, {"S": "é\n"}]}}},
    }


ION = (
    "$ion_1_0\n"
    '{ Item: { pk: "a", price: 12.50, blob: {{aGk=}}, tags: $dynamodb_SS::["x", "y"] } }\n'
    '{Item:{pk:"b", ok:true, none:null, m:{inner:[1, "two"]}}}\n'
)
CSV = 'id,name,city\n1,Ann,Oslo\n2,Bob,\n3,"comma, and ""quotes""",Rome\n'
SOURCES = {
    "DYNAMODB_JSON": (json_lines([json_item(i) for i in range(20)]), ("pk", "S")),
    "ION": (ION.encode(), ("pk", "S")),
    "CSV": (CSV.encode(), ("id", "N")),
}
COMPRESS = {
    "NONE": lambda raw: raw,
    "GZIP": gzip.compress,
    "ZSTD": lambda raw: zstandard.ZstdCompressor(write_checksum=True).compress(raw),
}
COUNTS = ("ImportStatus", "ProcessedItemCount", "ImportedItemCount", "ErrorCount")


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


def imported(ddb, bucket: str, prefix: str, fmt: str, compression: str, hash=("pk", "S")):
    """Import ``prefix`` into a new table: (the finished description, its items by key)."""
    table = tname("zst")
    arn = start_import(
        ddb, bucket, prefix, creation(table, hash=hash), fmt, InputCompressionType=compression
    )["ImportArn"]
    return wait_import(ddb, arn), by_pk(scan_all(ddb, table), hash[0])


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_zstd_imports_every_format_as_gzip_and_plain_do(ddb, s3, fmt):
    raw, hash = SOURCES[fmt]
    bucket = bname("ddbzst")
    s3.create_bucket(Bucket=bucket)
    results = {}
    for compression, compress in COMPRESS.items():
        s3.put_object(Bucket=bucket, Key=f"{compression}/part-0", Body=compress(raw))
        results[compression] = imported(ddb, bucket, f"{compression}/", fmt, compression, hash)

    done, items = results["ZSTD"]
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["InputCompressionType"] == "ZSTD"
    assert done["ProcessedSizeBytes"] == len(raw)  # uncompressed bytes, as AWS counts them
    assert done["ImportedItemCount"] == done["ProcessedItemCount"] == len(items) > 0
    for other in ("NONE", "GZIP"):
        twin, twin_items = results[other]
        assert [done[k] for k in COUNTS] == [twin[k] for k in COUNTS]
        assert done["ProcessedSizeBytes"] == twin["ProcessedSizeBytes"]
        assert items == twin_items
    if fmt == "DYNAMODB_JSON":
        assert items["k3"]["bin"] == {"B": bytes([3, 0, 255])}
        assert items["k3"]["ss"] == {"SS": ["a", "ü", "quote\"'"]}
    elif fmt == "ION":
        assert items["a"]["blob"] == {"B": b"hi"} and items["a"]["price"] == {"N": "12.5"}
        assert items["b"]["m"] == {"M": {"inner": {"L": [{"N": "1"}, {"S": "two"}]}}}
    else:
        assert items["3"] == {
            "id": {"N": "3"},
            "name": {"S": 'comma, and "quotes"'},
            "city": {"S": "Rome"},
        }
        assert items["2"] == {"id": {"N": "2"}, "name": {"S": "Bob"}}


def skippable_frame(data: bytes) -> bytes:
    """A zstd skippable frame (RFC 8878 3.1.2), as pzstd writes before each of its frames."""
    return struct.pack("<II", 0x184D2A50, len(data)) + data


def test_a_file_of_several_frames_reads_whole(ddb, s3):
    rows = [{"pk": {"S": f"k{i:05d}"}, "v": {"N": str(i)}} for i in range(3000)]
    parts = [json_lines(rows[i : i + 1000]) for i in range(0, 3000, 1000)]
    streamed = zstandard.ZstdCompressor().compressobj()  # no content size in its header
    body = (
        zstandard.ZstdCompressor(write_checksum=True).compress(parts[0])
        + skippable_frame(b"\x00" * 16)
        + streamed.compress(parts[1])
        + streamed.flush()
        + zstandard.ZstdCompressor(level=19, write_content_size=False).compress(parts[2])
    )
    bucket = bname("ddbzst")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="frames/data.json.zst", Body=body)
    done, items = imported(ddb, bucket, "frames/", "DYNAMODB_JSON", "ZSTD")
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["ImportedItemCount"] == done["ProcessedItemCount"] == 3000
    assert done["ProcessedSizeBytes"] == sum(map(len, parts))
    assert len(items) == 3000 and items["k02999"]["v"] == {"N": "2999"}


def _flip(body: bytes) -> bytes:
    """``body`` with a byte in its middle changed (its checksum no longer matches)."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]


BAD = {
    "not compressed": lambda compress, raw: raw,
    "cut in half": lambda compress, raw: (lambda b: b[: len(b) // 2])(compress(raw)),
    "cut one byte short": lambda compress, raw: compress(raw)[:-1],
    "corrupt": lambda compress, raw: _flip(compress(raw)),
}


@pytest.mark.parametrize("compression", ["GZIP", "ZSTD"])
@pytest.mark.parametrize("damage", sorted(BAD))
def test_a_bad_object_counts_one_error_as_for_gzip(ddb, s3, compression, damage):
    compress = COMPRESS[compression]
    good = json_lines([{"pk": {"S": f"good{i}"}} for i in range(5)])
    lost = json_lines(
        [{"pk": {"S": f"lost{i}"}, "pad": {"S": "x" * 40 + str(i)}} for i in range(40)]
    )
    bucket = bname("ddbzst")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a-good", Body=compress(good))
    s3.put_object(Bucket=bucket, Key="in/b-bad", Body=BAD[damage](compress, lost))
    done, items = imported(ddb, bucket, "in/", "DYNAMODB_JSON", compression)

    assert done["ImportStatus"] == "FAILED", done
    assert done["FailureCode"] == "ItemValidationError"
    assert f"/in/b-bad: the object does not decompress as {compression}" in done["FailureMessage"]
    assert (done["ErrorCount"], done["ImportedItemCount"], done["ProcessedItemCount"]) == (1, 5, 6)
    assert done["ProcessedSizeBytes"] == len(good)  # the bad object adds no bytes
    assert set(items) == {f"good{i}" for i in range(5)}  # the table keeps what passed
