"""S3 GetObjectTorrent with boto3 and the AWS CLI: the ``.torrent`` file describes the
object piece by piece (SHA-1 of each 256 KiB), its web seed serves those pieces to an
unsigned ranged GET, and what S3 refuses is refused."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

PIECE = 256 * 1024


def bdecode(data: bytes) -> Any:
    """BEP 3's decoding (the test's own, to read what the server wrote)."""

    def parse(i: int) -> tuple[Any, int]:
        c = data[i : i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1 : end]), end + 1
        if c == b"l":
            out, i = [], i + 1
            while data[i : i + 1] != b"e":
                value, i = parse(i)
                out.append(value)
            return out, i + 1
        if c == b"d":
            d, i = {}, i + 1
            while data[i : i + 1] != b"e":
                key, i = parse(i)
                d[key], i = parse(i)
            return d, i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1 : colon + 1 + n], colon + 1 + n

    value, end = parse(0)
    assert end == len(data)
    return value


@pytest.fixture(scope="module")
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


def test_the_torrent_describes_the_object_and_its_web_seed_serves_it(s3, cloudlet_server):
    s3.create_bucket(Bucket="torrents-east")
    body = os.urandom(PIECE * 2 + 1000)
    key = "music/my song+1.bin"
    s3.put_object(Bucket="torrents-east", Key=key, Body=body)
    out = s3.get_object_torrent(Bucket="torrents-east", Key=key)
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/x-bittorrent"
    assert headers["content-disposition"] == 'attachment; filename="my song+1.bin.torrent"'
    torrent = bdecode(out["Body"].read())
    info = torrent[b"info"]
    assert info[b"length"] == len(body)
    assert info[b"name"] == b"my song+1.bin"
    assert info[b"piece length"] == PIECE
    assert info[b"x-amz-bucket"] == b"torrents-east" and info[b"x-amz-key"] == key.encode()
    hashes = [info[b"pieces"][i : i + 20] for i in range(0, len(info[b"pieces"]), 20)]
    assert hashes == [
        hashlib.sha1(body[i : i + PIECE]).digest() for i in range(0, len(body), PIECE)
    ]
    # The web seed (BEP 19): an unsigned ranged GET of the URL gets each piece.
    (seed,) = torrent[b"url-list"]
    assert seed.decode().startswith(cloudlet_server.endpoint)
    request = urllib.request.Request(
        seed.decode(), headers={"Range": f"bytes={PIECE}-{2 * PIECE - 1}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206
        assert hashlib.sha1(response.read()).digest() == hashes[1]


def test_what_s3_has_no_torrent_for(s3, cloudlet_server):
    ohio = cloudlet_server.client("s3", region_name="us-east-2")
    ohio.create_bucket(
        Bucket="torrents-ohio", CreateBucketConfiguration={"LocationConstraint": "us-east-2"}
    )
    ohio.put_object(Bucket="torrents-ohio", Key="k", Body=b"data")
    with pytest.raises(ClientError) as exc:
        ohio.get_object_torrent(Bucket="torrents-ohio", Key="k")
    assert exc.value.response["Error"]["Code"] == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    s3.create_bucket(Bucket="torrents-refused")
    rule = {  # new buckets block SSE-C
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
    }
    s3.put_bucket_encryption(
        Bucket="torrents-refused", ServerSideEncryptionConfiguration={"Rules": [rule]}
    )
    customer_key = os.urandom(32)
    s3.put_object(
        Bucket="torrents-refused",
        Key="secret",
        Body=b"data",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=customer_key,
    )
    with pytest.raises(ClientError) as exc:
        s3.get_object_torrent(Bucket="torrents-refused", Key="secret")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.get_object_torrent(Bucket="torrents-refused", Key="missing")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"


def test_the_cli_saves_the_torrent(s3, aws, tmp_path):
    s3.create_bucket(Bucket="torrents-cli")
    s3.put_object(Bucket="torrents-cli", Key="small.txt", Body=b"hello torrent")
    aws(
        "s3api", "get-object-torrent", "--bucket", "torrents-cli", "--key", "small.txt", "t.torrent"
    )
    info = bdecode((tmp_path / "t.torrent").read_bytes())[b"info"]
    assert info[b"length"] == 13
    assert info[b"pieces"] == hashlib.sha1(b"hello torrent").digest()
