"""Real S3 clients end to end: boto3's resource API and transfer manager, the AWS CLI's
high-level commands, boto 2 (SigV2, ``OrdinaryCallingFormat``) and s3fs under pandas."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from tests.services.s3_helpers import bname, pattern_bytes

MiB = 1024 * 1024


@pytest.fixture
def resource(cloudlet_server):
    return boto3.resource(
        "s3",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


# -- boto3 resource API and transfer manager --------------------------------------------


def test_resource_api_put_get_filter(resource):
    bucket = resource.create_bucket(Bucket=bname("res"))
    for key in ("a/1.txt", "a/2.txt", "b/3.txt"):
        resource.Object(bucket.name, key).put(Body=key.encode(), Metadata={"k": key})
    assert sorted(o.key for o in bucket.objects.filter(Prefix="a/")) == ["a/1.txt", "a/2.txt"]
    assert len(list(bucket.objects.all())) == 3
    obj = resource.Object(bucket.name, "b/3.txt")
    assert obj.get()["Body"].read() == b"b/3.txt"
    assert obj.metadata == {"k": "b/3.txt"} and obj.content_length == 7
    bucket.objects.filter(Prefix="a/").delete()
    assert [o.key for o in bucket.objects.all()] == ["b/3.txt"]
    bucket.objects.all().delete()
    bucket.delete()


def test_upload_and_download_file_multipart_threads_callback(resource, tmp_path):
    bucket = resource.create_bucket(Bucket=bname("xfer"))
    data = pattern_bytes(0, 23 * MiB + 5)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    config = TransferConfig(
        multipart_threshold=5 * MiB,
        multipart_chunksize=5 * MiB,
        max_concurrency=8,
        use_threads=True,
    )
    seen: list[int] = []
    lock = threading.Lock()

    def progress(n: int) -> None:
        with lock:
            seen.append(n)

    bucket.upload_file(str(src), "big.bin", Config=config, Callback=progress)
    assert sum(seen) == len(data) and len(seen) > 1
    obj = resource.Object(bucket.name, "big.bin")
    assert obj.content_length == len(data)
    assert obj.e_tag.strip('"').endswith("-5")  # 5 parts: a multipart ETag

    seen.clear()
    dst = tmp_path / "dst.bin"
    bucket.download_file("big.bin", str(dst), Config=config, Callback=progress)
    assert sum(seen) == len(data)
    assert hashlib.md5(dst.read_bytes()).digest() == hashlib.md5(data).digest()

    # Many files at once from threads, each with the transfer manager.
    def one(i: int) -> None:
        path = tmp_path / f"t{i}.bin"
        path.write_bytes(pattern_bytes(i, 6 * MiB + i))
        bucket.upload_file(str(path), f"t/{i}", Config=config)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sizes = {o.key: o.size for o in bucket.objects.filter(Prefix="t/")}
    assert sizes == {f"t/{i}": 6 * MiB + i for i in range(4)}


# -- the AWS CLI's high-level commands ---------------------------------------------------


@pytest.fixture
def aws(cloudlet_server, tmp_path):
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "--endpoint-url", cloudlet_server.endpoint, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run


def _tree(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_cli_sync_both_ways_cp_recursive_rm_recursive_mb_rb(aws, tmp_path, resource):
    name = bname("clisync")
    assert f"make_bucket: {name}" in aws("s3", "mb", f"s3://{name}")
    src = tmp_path / "src"
    (src / "deep" / "er").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "deep" / "b.bin").write_bytes(os.urandom(1000))
    (src / "deep" / "er" / "c.bin").write_bytes(pattern_bytes(0, 9 * MiB))  # multipart
    (src / "space name.txt").write_text("spaced")

    aws("s3", "sync", str(src), f"s3://{name}/data")
    listing = aws("s3", "ls", f"s3://{name}", "--recursive")
    for key in ("data/a.txt", "data/deep/b.bin", "data/deep/er/c.bin", "data/space name.txt"):
        assert key in listing
    # A second sync of an unchanged tree uploads nothing.
    assert aws("s3", "sync", str(src), f"s3://{name}/data").strip() == ""
    (src / "a.txt").write_text("alpha, changed")
    assert "data/a.txt" in aws("s3", "sync", str(src), f"s3://{name}/data")

    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{name}/data", str(down))
    assert _tree(down) == _tree(src)

    again = tmp_path / "again"
    aws("s3", "cp", "--recursive", f"s3://{name}/data/deep", str(again))
    assert _tree(again) == _tree(src / "deep")
    aws("s3", "cp", "--recursive", str(again), f"s3://{name}/copy/")
    assert "copy/er/c.bin" in aws("s3", "ls", f"s3://{name}/copy/", "--recursive")

    aws("s3", "rm", "--recursive", f"s3://{name}/data/deep")
    keys = sorted(o.key for o in resource.Bucket(name).objects.all())
    assert keys == ["copy/b.bin", "copy/er/c.bin", "data/a.txt", "data/space name.txt"]

    # rb refuses a non-empty bucket without --force; with it, empties and removes it.
    assert f"remove_bucket: {name}" in aws("s3", "rb", f"s3://{name}", "--force")
    assert name not in aws("s3", "ls")


# -- boto 2 ---------------------------------------------------------------------------


def test_boto2_sigv2_ordinary_calling_format(cloudlet_server, tmp_path):
    pytest.importorskip("boto", reason="boto 2 is not installed")
    from boto.s3.connection import OrdinaryCallingFormat, S3Connection
    from boto.s3.key import Key

    conn = S3Connection(
        "test",
        "test",
        host="127.0.0.1",
        port=cloudlet_server.port,
        is_secure=False,
        calling_format=OrdinaryCallingFormat(),
    )
    name = bname("boto2")
    bucket = conn.create_bucket(name)
    data = os.urandom(300_000)
    path = tmp_path / "up.bin"
    path.write_bytes(data)
    calls: list[tuple[int, int]] = []
    key = Key(bucket, "dir/up.bin")
    key.set_metadata("color", "green")
    key.set_contents_from_filename(
        str(path), cb=lambda n, total: calls.append((n, total)), num_cb=10
    )
    assert 2 <= len(calls) <= 11 and calls[-1] == (len(data), len(data))

    got = bucket.get_key("dir/up.bin")
    assert got.size == len(data) and got.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert got.get_metadata("color") == "green"
    assert got.get_contents_as_string() == data
    dst = tmp_path / "down.bin"
    got.get_contents_to_filename(str(dst))
    assert dst.read_bytes() == data
    assert [k.name for k in bucket.list(prefix="dir/")] == ["dir/up.bin"]
    assert name in [b.name for b in conn.get_all_buckets()]
    url = got.generate_url(60)  # a SigV2 query-string URL
    import urllib.request

    with urllib.request.urlopen(url) as resp:
        assert resp.read() == data
    bucket.delete_key("dir/up.bin")
    conn.delete_bucket(name)
    assert name not in [b.name for b in conn.get_all_buckets()]


# -- s3fs under pandas ----------------------------------------------------------------


def test_pandas_read_and_write_csv_through_s3fs(cloudlet_server, resource):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("s3fs")
    name = bname("pandas")
    resource.create_bucket(Bucket=name)
    resource.Object(name, "in/x.csv").put(Body=b"a,b\n1,x\n2,y\n3,z\n")
    options = {
        "client_kwargs": {"endpoint_url": cloudlet_server.endpoint, "region_name": "us-east-1"},
        "key": "test",
        "secret": "test",
    }
    frame = pd.read_csv(f"s3://{name}/in/x.csv", storage_options=options)
    assert list(frame.columns) == ["a", "b"] and frame["a"].sum() == 6
    frame["c"] = frame["a"] * 10
    frame.to_csv(f"s3://{name}/out/y.csv", index=False, storage_options=options)
    body = resource.Object(name, "out/y.csv").get()["Body"].read().decode()
    assert body.splitlines() == ["a,b,c", "1,x,10", "2,y,20", "3,z,30"]
    again = pd.read_csv(f"s3://{name}/out/y.csv", storage_options=options)
    assert again.equals(frame)
