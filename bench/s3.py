"""S3 benchmark: cloudlet vs the canned-response floor vs moto, in one run.

    python -m bench.s3            (needs the bench extra: pip install -e '.[bench]')

1. PutObject and GetObject of a 1 KiB object, one sequential boto3 client per
   server, rounds alternating between servers; rates are medians over rounds and
   each ratio is the median of the per-round ratios (as bench/sqs.py).
2. A 1 GiB ``upload_file``/``download_file`` (boto3's default TransferConfig:
   8 MiB parts, 10 threads) against ``shutil.copyfile`` of the same file, with
   cloudlet's peak RSS while it moves; then the same against the floor, which
   stores nothing: the most the client itself can move.
3. ListObjectsV2, a page of 1,000, from a 100,000-key bucket (first page and a
   page from the middle) vs from a 10-key bucket. The big bucket is filled with
   raw pipelined HTTP PUTs over many connections (cloudlet's open mode accepts
   unsigned requests), the fastest way in through the API. The same client on
   the floor's canned pages of 1,000 and 10 keys gives the ratio of the client's
   parsing alone: no server can show less.
4. If ``wrk`` is installed: concurrent GETs and PUTs of presigned URLs of the
   1 KiB object, cloudlet vs the floor (the raw ASGI app on the same HTTP stack)
   and moto: the servers' own costs, which the sequential boto3 client of part
   1 hides (its own cost bounds every ratio to moto there: the "ceiling" line).

cloudlet runs durable (``--data-dir`` in a temp dir: every PUT is fsynced).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from bench.floor import OBJECT
from bench.sqs import moto_ceiling, rate, rss_tree, start_cloudlet, start_floor, start_moto

MiB = 1024 * 1024
GiB = 1024 * MiB


def s3_client(endpoint: str, pool: int = 10):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"max_attempts": 0},
            max_pool_connections=pool,
            s3={"addressing_style": "path"},
        ),
    )


def paired(rates: dict[str, list[float]], other: str) -> float:
    return statistics.median(c / o for c, o in zip(rates["cloudlet"], rates[other], strict=True))


# -- 1. PutObject / GetObject 1 KiB -------------------------------------------------------


def bench_object(clients: dict) -> None:
    """The bucket ``bench`` holding the 1 KiB ``obj`` on every target (idempotent)."""
    for c in clients.values():
        c.create_bucket(Bucket="bench")
        c.put_object(Bucket="bench", Key="obj", Body=OBJECT)


def small_objects(clients: dict, rounds: int, n: int, moto_n: int) -> None:
    bench_object(clients)

    def put(c) -> None:
        c.put_object(Bucket="bench", Key="obj", Body=OBJECT)

    def get(c) -> None:
        c.get_object(Bucket="bench", Key="obj")["Body"].read()

    for c in clients.values():  # warm connections and code paths
        rate(lambda c=c: put(c), 20)
        rate(lambda c=c: get(c), 20)
    puts: dict[str, list[float]] = {k: [] for k in clients}
    gets: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(rounds):
        for name, c in clients.items():
            count = moto_n if name == "moto" else n
            puts[name].append(rate(lambda c=c: put(c), count))
            gets[name].append(rate(lambda c=c: get(c), count))
    print(f"== S3 1 KiB objects, boto3 sequential, ops/s (median of {rounds} rounds) ==")
    for name in clients:
        print(
            f"{name:9s} PutObject {statistics.median(puts[name]):8.0f}   "
            f"GetObject {statistics.median(gets[name]):8.0f}"
        )
    print("ratios: median over rounds of cloudlet's rate / the other's in the same round")
    for other in [k for k in clients if k != "cloudlet"]:
        print(f"PutObject   cloudlet/{other:5s} = {paired(puts, other):.2f}")
        print(f"GetObject   cloudlet/{other:5s} = {paired(gets, other):.2f}")
    if "moto" in clients:
        print(moto_ceiling(puts, gets, "PutObject", "GetObject"))


# -- 2. 1 GiB transfer ----------------------------------------------------------------------


class PeakRss:
    """Samples a process tree's RSS every 50 ms in a thread; ``peak`` in bytes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.peak, self._stop = proc, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_tree(self.proc))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def big_transfer(s3, proc: subprocess.Popen, work: str, size: int, floor=None) -> None:  # noqa: ANN001
    src, dst = os.path.join(work, "src.bin"), os.path.join(work, "dst.bin")
    block = os.urandom(MiB)
    with open(src, "wb") as f:
        for _ in range(size // MiB):
            f.write(block)
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    copy_s = time.perf_counter() - t0
    os.unlink(dst)
    s3.create_bucket(Bucket="big")
    with PeakRss(proc) as up_rss:
        t0 = time.perf_counter()
        s3.upload_file(src, "big", "big.bin")
        up_s = time.perf_counter() - t0
    with PeakRss(proc) as down_rss:
        t0 = time.perf_counter()
        s3.download_file("big", "big.bin", dst)
        down_s = time.perf_counter() - t0
    assert os.path.getsize(dst) == size
    os.unlink(dst)
    s3.delete_object(Bucket="big", Key="big.bin")
    floor_up = floor_down = None
    if floor is not None:
        # The same transfers against the floor, which stores nothing and sends zeros:
        # what the client alone can reach.
        t0 = time.perf_counter()
        floor.upload_file(src, "big", "big.bin")
        floor_up = time.perf_counter() - t0
        t0 = time.perf_counter()
        floor.download_file("big", "big.bin", dst)
        floor_down = time.perf_counter() - t0
        assert os.path.getsize(dst) == size
        os.unlink(dst)
    os.unlink(src)
    mib = size / MiB
    print(f"== {size // GiB} GiB transfer (boto3 default TransferConfig) ==")
    print(f"local shutil.copyfile  {mib / copy_s:8.0f} MiB/s")
    print(
        f"upload_file            {mib / up_s:8.0f} MiB/s = {copy_s / up_s:.2f}x local copy"
        f"   (cloudlet peak RSS {up_rss.peak / MiB:.0f} MiB)"
    )
    print(
        f"download_file          {mib / down_s:8.0f} MiB/s = {copy_s / down_s:.2f}x local copy"
        f"   (cloudlet peak RSS {down_rss.peak / MiB:.0f} MiB)"
    )
    if floor_up is not None and floor_down is not None:
        print(
            f"floor (stores nothing): upload {mib / floor_up:.0f} MiB/s = "
            f"{copy_s / floor_up:.2f}x, download {mib / floor_down:.0f} MiB/s = "
            f"{copy_s / floor_down:.2f}x local copy (the client's own ceiling)"
        )


# -- 3. ListObjectsV2 at 100,000 keys ----------------------------------------------------


async def _fill(endpoint: str, bucket: str, keys: list[str], conns: int, window: int) -> None:
    """Unsigned empty PUTs, ``window`` pipelined per connection, ``conns`` connections."""
    parts = urlsplit(endpoint)
    host, port = parts.hostname, parts.port
    pending = iter(keys)
    length = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while batch := [k for _, k in zip(range(window), pending, strict=False)]:
                writer.write(
                    b"".join(
                        f"PUT /{bucket}/{k} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        "Content-Length: 0\r\n\r\n".encode()
                        for k in batch
                    )
                )
                for _ in batch:
                    head = await reader.readuntil(b"\r\n\r\n")
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError(head.decode(errors="replace"))
                    m = length.search(head)
                    if m and int(m.group(1)):
                        await reader.readexactly(int(m.group(1)))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))


def listing(s3, endpoint: str, keys: int, calls: int, floor=None) -> None:  # noqa: ANN001
    s3.create_bucket(Bucket="many")
    s3.create_bucket(Bucket="few")
    t0 = time.perf_counter()
    asyncio.run(_fill(endpoint, "many", [f"k/{i:07d}" for i in range(keys)], 32, 16))
    fill_s = time.perf_counter() - t0
    asyncio.run(_fill(endpoint, "few", [f"k/{i:07d}" for i in range(10)], 1, 16))
    assert s3.list_objects_v2(Bucket="many", StartAfter=f"k/{keys - 2:07d}")["KeyCount"] == 1

    def timed(client=s3, **kw) -> float:  # noqa: ANN001
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            client.list_objects_v2(MaxKeys=1000, **kw)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    def raw(bucket: str) -> float:
        """The server's share: an unsigned GET of the page, the XML not parsed."""
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            with urllib.request.urlopen(f"{endpoint}/{bucket}?list-type=2&max-keys=1000") as r:
                r.read()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    for _ in range(3):  # warm
        timed(Bucket="few")
    few = timed(Bucket="few")
    first = timed(Bucket="many")
    middle = timed(Bucket="many", StartAfter=f"k/{keys // 2:07d}")
    few_again = timed(Bucket="few")
    few = min(few, few_again)
    raw_many, raw_few = raw("many"), raw("few")
    print(f"== ListObjectsV2, MaxKeys=1000 (median of {calls} calls) ==")
    print(f"filled {keys} keys in {fill_s:.1f} s ({keys / fill_s:.0f} PUT/s, pipelined raw HTTP)")
    print(f"{keys}-key bucket, first page   {first * 1000:7.2f} ms = {first / few:.2f}x")
    print(f"{keys}-key bucket, middle page  {middle * 1000:7.2f} ms = {middle / few:.2f}x")
    print(f"10-key bucket (10 keys)        {few * 1000:7.2f} ms")
    print(
        f"raw HTTP, no XML parsing: {keys}-key first page {raw_many * 1000:.2f} ms, "
        f"10-key {raw_few * 1000:.2f} ms = {raw_many / raw_few:.2f}x"
    )
    if floor is not None:
        # The same client on the floor's canned pages (1,000 keys, 10 keys): what parsing
        # the page costs the client alone, the least any server can show for this ratio.
        floor_few, floor_many = timed(floor, Bucket="few"), timed(floor, Bucket="many")
        print(
            f"floor, canned pages: 1000 keys {floor_many * 1000:.2f} ms, 10 keys "
            f"{floor_few * 1000:.2f} ms = {floor_many / floor_few:.2f}x (the client's own ratio)"
        )


# -- 4. wrk on presigned GET and PUT URLs ---------------------------------------------------


def wrk_rate(
    url: str, seconds: int, conns: int, script: str | None = None, *, strict: bool = True
) -> float | None:
    """wrk's req/s on ``url``. Any error answer fails the run (``strict``), except from
    moto, which now and then answers one of thousands of concurrent PUTs with an error:
    that is reported, not fatal."""
    extra = ["-s", script] if script else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", *extra, url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    m = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if errs and strict:
        raise RuntimeError(f"wrk saw errors: {out.stdout}")
    if errs:
        print(f"   (wrk saw {errs.group(1)} error answers from {url.split('/')[2]})")
    return float(m.group(1)) if m else None


def presigned_wrk(clients: dict, seconds: int, conns: int, rounds: int, work: str) -> None:
    """wrk on presigned GET and PUT URLs of the 1 KiB object (a PUT sends 1 KiB)."""
    if shutil.which("wrk") is None:
        print("== wrk not installed: presigned GET/PUT load test skipped (apt-get install wrk) ==")
        return
    names = [name for name in ("cloudlet", "floor", "moto") if name in clients]
    bench_object({name: clients[name] for name in names})
    put_script = os.path.join(work, "put.lua")
    with open(put_script, "w") as f:
        f.write('wrk.method = "PUT"\nwrk.body = string.rep("x", 1024)\n')
    print(f"== presigned URLs, 1 KiB, wrk -t2 -c{conns} -d{seconds}s (median of {rounds}) ==")
    for method, script in (("get_object", None), ("put_object", put_script)):
        urls = {
            name: clients[name].generate_presigned_url(
                method, Params={"Bucket": "bench", "Key": "obj"}, ExpiresIn=3600
            )
            for name in names
        }
        for name, url in urls.items():
            wrk_rate(url, 1, conns, script, strict=name != "moto")  # warm
        rates: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            for name, url in urls.items():
                rate = wrk_rate(url, seconds, conns, script, strict=name != "moto")
                rates[name].append(rate or 0.0)
        label = "GET" if script is None else "PUT"
        print("   ".join(f"{n} {statistics.median(r):8.0f}" for n, r in rates.items()), "req/s")
        print(f"{label} wrk cloudlet/floor = {paired(rates, 'floor'):.2f}")
        if "moto" in rates:  # the servers' own costs: no sequential client in the way
            print(f"{label} wrk cloudlet/moto  = {paired(rates, 'moto'):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=500, help="operations per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--moto-n", type=int, default=100, help="operations per round on moto")
    ap.add_argument("--big", type=int, default=1, help="GiB for the transfer test")
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--wrk-conns", type=int, default=32)
    ap.add_argument(
        "--only", default="small,wrk,big,list", help="comma-separated parts to run (default all)"
    )
    args = ap.parse_args()
    parts = set(args.only.split(","))

    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        endpoint, proc, _ = start_cloudlet(stack, data_dir)
        targets = {"cloudlet": endpoint, "floor": start_floor(stack)}
        moto = start_moto(stack)
        if moto:
            targets["moto"] = moto
        clients = {name: s3_client(ep) for name, ep in targets.items()}
        t0 = time.perf_counter()
        if "small" in parts:
            small_objects(clients, args.rounds, args.n, args.moto_n)
        if not moto:
            print("moto not installed: pip install -e '.[bench]'")
        if "wrk" in parts:
            presigned_wrk(clients, args.wrk_seconds, args.wrk_conns, 3, work)
        if "big" in parts:
            floor = s3_client(targets["floor"], pool=16)
            big_transfer(s3_client(endpoint, pool=16), proc, work, args.big * GiB, floor)
        if "list" in parts:
            listing(clients["cloudlet"], endpoint, args.keys, 30, clients["floor"])
        print(f"(bench took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
