"""Large objects stream: server memory stays flat for a 1 GiB single PUT and GET.

The data is generated on the fly (``PatternFile``), never held in memory or
written to the repo. The size defaults to 1 GiB to keep CI fast; run the
5 GiB case (S3's single-PUT limit) with::

    CLOUDLET_S3_BIG_GIB=5 python3 -m pytest tests/services/test_s3_large.py -s

The server's RSS (its whole process tree, sampled every 50 ms by psutil)
must stay under 150 MiB throughout; ``-s`` prints the figures.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time

import psutil
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import PatternFile, pattern_bytes

RSS_LIMIT = 150 * 1024 * 1024


class RssSampler(threading.Thread):
    """Peak RSS of a process and its children, sampled in the background."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def sample(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(0.05)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


def test_large_object_streams_with_flat_memory(tmp_path):
    size = int(float(os.environ.get("CLOUDLET_S3_BIG_GIB", "1")) * 1024**3)
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        config = Config(retries={"max_attempts": 0}, read_timeout=300)
        s3 = server.client("s3", config=config)
        s3.create_bucket(Bucket="big")
        sampler = RssSampler(server.proc.pid)
        idle = sampler.sample()
        sampler.start()
        t0 = time.monotonic()
        put = s3.put_object(Bucket="big", Key="blob", Body=PatternFile(size))
        t1 = time.monotonic()
        # ChecksumMode makes botocore check the CRC32 it sent against the
        # download too; the MD5 below checks the bytes against the ETag.
        got = s3.get_object(Bucket="big", Key="blob", ChecksumMode="ENABLED")
        assert got["ContentLength"] == size
        md5 = hashlib.md5()
        first = b""
        for chunk in got["Body"].iter_chunks(1 << 20):
            if len(first) < 4096:
                first += chunk[:4096]
            md5.update(chunk)
        t2 = time.monotonic()
        peak = sampler.stop()
        assert put["ETag"] == f'"{md5.hexdigest()}"'
        assert first[:4096] == pattern_bytes(0, 4096)
        print(
            f"\n{size / 2**30:.1f} GiB: PUT {size / (t1 - t0) / 2**20:.0f} MiB/s, "
            f"GET {size / (t2 - t1) / 2**20:.0f} MiB/s, server RSS idle "
            f"{idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB"
        )
        assert peak < RSS_LIMIT, f"server RSS peaked at {peak / 2**20:.0f} MiB"
        # A ranged read deep inside the object.
        offset = size - 5_000_000
        tail = s3.get_object(Bucket="big", Key="blob", Range=f"bytes={offset}-{offset + 99}")
        assert tail["Body"].read() == pattern_bytes(offset, 100)
    finally:
        server.stop()
        shutil.rmtree(tmp_path / "s3", ignore_errors=True)  # pytest keeps old tmp dirs


def test_download_file_with_ranged_parts(cloudlet_server, tmp_path):
    """boto3's multipart *download* is parallel ranged GETs."""
    s3 = cloudlet_server.client("s3", config=Config(retries={"max_attempts": 0}))
    s3.create_bucket(Bucket="ranged-download")
    size = 20 * 1024 * 1024 + 12345
    s3.put_object(Bucket="ranged-download", Key="obj", Body=PatternFile(size))
    progress = []
    dest = tmp_path / "obj"
    s3.download_file(
        "ranged-download",
        "obj",
        str(dest),
        Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024,
            multipart_chunksize=5 * 1024 * 1024,
            max_concurrency=4,
        ),
        Callback=progress.append,
    )
    assert sum(progress) == size
    assert dest.stat().st_size == size
    with open(dest, "rb") as f:
        for offset in (0, 5 * 1024 * 1024 - 7, size - 100):
            f.seek(offset)
            assert f.read(100) == pattern_bytes(offset, min(100, size - offset))
