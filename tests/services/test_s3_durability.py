"""What the client saw acknowledged survives kill -9; no partial object is ever visible.

Several threads PUT objects (some large enough to be mid-flight at any
moment) while the server is SIGKILLed. After a restart every acknowledged
object is intact (bytes and metadata); an object the server committed but
never acknowledged may exist, but only whole; and the blob directory holds
neither temp files nor orphans.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES


def _body(thread: int, seq: int) -> bytes:
    rng = random.Random(thread * 100_003 + seq)
    size = rng.choice([0, 1, 1000, 64 * 1024, 700 * 1024, 3 * 1024 * 1024])
    return rng.randbytes(size)


def _blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "s3" / "blobs"
    return [p for p in root.rglob("*") if p.is_file()]


def test_acknowledged_objects_survive_kill_9(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    acked: dict[str, bytes] = {}
    attempted: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()
    config = Config(retries={"max_attempts": 0}, max_pool_connections=20)
    try:
        s3 = server.client("s3", config=NO_RETRIES)
        s3.create_bucket(Bucket="durable")
        s3.put_bucket_versioning(Bucket="durable", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="durable", Key="before", Body=b"old")

        def writer(thread: int) -> None:
            client = server.client("s3", config=config)
            seq = 0
            while not stop.is_set():
                key = f"t{thread}/obj-{seq:04d}"
                body = _body(thread, seq)
                with lock:
                    attempted[key] = body
                try:
                    client.put_object(
                        Bucket="durable", Key=key, Body=body, Metadata={"seq": str(seq)}
                    )
                except Exception:  # noqa: BLE001 - the server died under us
                    return
                with lock:
                    acked[key] = body
                seq += 1

        # A client that is certainly mid-upload when the server dies.
        slow = http.client.HTTPConnection("127.0.0.1", server.port)
        slow.putrequest("PUT", "/durable/slow-upload")
        slow.putheader("Content-Length", str(10 * 1024 * 1024))
        slow.endheaders()
        slow.send(b"x" * (1024 * 1024))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15
        while len(acked) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # SIGKILL: no chance to flush anything
        stop.set()
        for t in threads:
            t.join(30)
        slow.close()
        assert len(acked) >= 60
        # The crash really did interrupt uploads: their temp files are on disk.
        assert [f for f in _blob_files(tmp_path) if f.name.startswith(".tmp-")]
    finally:
        server.kill()

    server = CloudletServer.start(data_dir=tmp_path)
    try:
        s3 = server.client("s3", config=NO_RETRIES)
        for key, body in acked.items():
            got = s3.get_object(Bucket="durable", Key=key)
            data = got["Body"].read()
            assert data == body, key
            assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', key
            assert got["Metadata"] == {"seq": str(int(key.rsplit("-", 1)[1]))}, key
        assert s3.get_object(Bucket="durable", Key="before")["Body"].read() == b"old"
        listed = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="durable"):
            listed.update({o["Key"]: o for o in page.get("Contents", [])})
        assert "slow-upload" not in listed
        assert set(acked) <= set(listed)
        for key, entry in listed.items():
            if key == "before":
                continue
            # Committed but unacknowledged (the response was lost) is fine, partial is not.
            body = attempted[key]
            assert entry["Size"] == len(body), key
            assert entry["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', key
        # The sweep at start-up left exactly one blob per stored version.
        versions = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket="durable"):
            versions += page.get("Versions", [])
    finally:
        server.stop()
    files = _blob_files(tmp_path)
    assert not [f for f in files if f.name.startswith(".tmp-")]
    assert len(files) + len(_small_blobs(tmp_path)) == len(versions)


def _small_blobs(data_dir: Path) -> list[str]:
    """Ids of the blobs kept as database rows (bodies up to 64 KiB; the server is stopped)."""
    with closing(sqlite3.connect(data_dir / "s3.sqlite3")) as db:
        return [f"{n}-in" for (n,) in db.execute("SELECT n FROM inline_blobs")]


def test_restart_sees_everything_and_sweeps_debris(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3 = server.client("s3", config=NO_RETRIES)
        s3.create_bucket(Bucket="kept")
        s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
        v1 = s3.put_object(Bucket="kept", Key="k", Body=b"one", ContentType="text/x")["VersionId"]
        s3.put_object(Bucket="kept", Key="k", Body=b"two")
        s3.delete_object(Bucket="kept", Key="gone")
    shard = tmp_path / "s3" / "blobs" / "ab"
    (shard / ".tmp-abandoned").write_bytes(b"half an upload")
    (shard / "ab0123456789abcdef0123456789abcd").write_bytes(b"published, never committed")
    kept = _small_blobs(tmp_path)
    assert len(kept) == 2  # "one" and "two": small bodies are rows, not files
    with closing(sqlite3.connect(tmp_path / "s3.sqlite3")) as db, db:
        db.execute("INSERT INTO inline_blobs VALUES (1000, x'00')")
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3 = server.client("s3", config=NO_RETRIES)
        assert s3.get_bucket_versioning(Bucket="kept")["Status"] == "Enabled"
        assert s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"two"
        old = s3.get_object(Bucket="kept", Key="k", VersionId=v1)
        assert old["Body"].read() == b"one" and old["ContentType"] == "text/x"
        assert len(s3.list_object_versions(Bucket="kept")["DeleteMarkers"]) == 1
    assert sorted(os.listdir(shard)) == []
    assert sorted(_small_blobs(tmp_path)) == sorted(kept)


def test_a_lost_database_does_not_take_the_object_files(tmp_path):
    """With no metadata naming any object file (its database deleted, or copied without
    its WAL), debris cannot be told from data: the sweep keeps the files."""
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3 = server.client("s3", config=NO_RETRIES)
        s3.create_bucket(Bucket="lost")
        for i in range(3):
            s3.put_object(Bucket="lost", Key=f"big{i}", Body=os.urandom(200 * 1024))
    files = _blob_files(tmp_path)
    assert len(files) == 3
    for name in ("s3.sqlite3", "s3.sqlite3-wal", "s3.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3 = server.client("s3", config=NO_RETRIES)
        assert s3.list_buckets()["Buckets"] == []
    assert sorted(_blob_files(tmp_path)) == sorted(files)


def test_a_cut_short_object_file_is_an_error_not_a_short_body(tmp_path):
    """A damaged data directory (an object file cut short behind the server's back): the
    GET answers 500 InternalError before any header, rather than a 200 whose body
    stops short of its Content-Length; a range the file still holds is served."""
    with CloudletServer.start(data_dir=tmp_path) as server:
        s3 = server.client("s3", config=NO_RETRIES)
        s3.create_bucket(Bucket="cut")
        body = os.urandom(200 * 1024)
        s3.put_object(Bucket="cut", Key="big", Body=body)
        (path,) = _blob_files(tmp_path)
        os.truncate(path, 1000)
        try:
            s3.get_object(Bucket="cut", Key="big")
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert exc.response["Error"]["Code"] == "InternalError"
        else:
            raise AssertionError("a GET of a damaged object succeeded")
        part = s3.get_object(Bucket="cut", Key="big", Range="bytes=0-499")["Body"].read()
        assert part == body[:500]
        assert s3.head_object(Bucket="cut", Key="big")["ContentLength"] == len(body)


def test_ephemeral_blobs_live_in_a_private_temp_dir(tmp_path):
    with CloudletServer.start() as server:
        s3 = server.client("s3", config=NO_RETRIES)
        s3.create_bucket(Bucket="temp")
        s3.put_object(Bucket="temp", Key="k", Body=b"x")
        import json
        import urllib.request

        with urllib.request.urlopen(server.endpoint + "/_cloudlet/health") as r:
            root = Path(json.load(r)["services"]["s3"]["blobs"])
        assert root.is_dir() and any(root.rglob("*"))
    assert not root.exists()
    with CloudletServer.start() as server:
        assert server.client("s3").list_buckets()["Buckets"] == []
