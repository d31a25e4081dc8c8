"""SQS benchmark: cloudlet vs a canned-response floor vs moto, in one run.

    python -m bench.sqs            (needs the bench extra: pip install -e '.[bench]')

Starts all three servers as child processes on free loopback ports, drives each
with one sequential boto3 client, and prints ops/s and the ratios
cloudlet/floor and cloudlet/moto, then cloudlet's start-to-ready time, idle
RSS, and its SendMessage rate with 100,000 messages queued vs an empty queue.
Rounds alternate between servers so machine noise hits them alike; rates are
medians over rounds, and each ratio is the median over rounds of the two rates
measured back to back in that round (robust to the machine's drift). Every child is stopped and reaped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack

import boto3
import psutil
from botocore.config import Config

from bench.floor import BODY

READY = "cloudlet ready on "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_cloudlet(stack: ExitStack, data_dir: str) -> tuple[str, subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudlet", "serve", "--port", "0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLOUDLET_EXIT_WITH_PARENT": "1"},
    )
    stack.callback(stop, proc)
    line = proc.stdout.readline()
    ready = time.perf_counter() - t0
    if not line.startswith(READY):
        raise RuntimeError(f"cloudlet did not start: {line!r}")
    return line[len(READY) :].strip(), proc, ready


def start_floor(stack: ExitStack) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", str(port)], stdout=subprocess.DEVNULL
    )
    stack.callback(stop, proc)
    wait_port(port)
    return f"http://127.0.0.1:{port}"


def start_moto(stack: ExitStack) -> str | None:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(stop, proc)
    wait_port(port)
    return f"http://127.0.0.1:{port}"


def client(endpoint: str):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def rate(fn: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def moto_ceiling(puts: dict[str, list[float]], gets: dict[str, list[float]], *ops: str) -> str:
    """The floor's rate over moto's, per round, median: the client's own cost bounds every
    server at the floor's rate, so no server can be more times faster than moto than this."""
    bounds = [
        statistics.median(f / m for f, m in zip(r["floor"], r["moto"], strict=True))
        for r in (puts, gets)
    ]
    return "ceiling   floor/moto     = " + ", ".join(
        f"{b:.2f} ({op})" for b, op in zip(bounds, ops, strict=True)
    )


def send_rate(sqs, url: str, n: int) -> float:
    return rate(lambda: sqs.send_message(QueueUrl=url, MessageBody=BODY), n)


def recv_delete_rate(sqs, url: str, n: int) -> float:
    def once() -> None:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return rate(once, n)


def rss_tree(proc: subprocess.Popen) -> int:
    p = psutil.Process(proc.pid)
    return p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000, help="operations per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--moto-n", type=int, default=150, help="operations per round on moto")
    ap.add_argument("--depth", type=int, default=100_000)
    args = ap.parse_args()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as data_dir:
        endpoint, proc, ready_s = start_cloudlet(stack, data_dir)
        time.sleep(1.0)
        idle_rss = rss_tree(proc)
        targets = {"cloudlet": endpoint, "floor": start_floor(stack)}
        moto = start_moto(stack)
        if moto:
            targets["moto"] = moto

        clients = {name: client(ep) for name, ep in targets.items()}
        urls = {name: c.create_queue(QueueName="bench")["QueueUrl"] for name, c in clients.items()}
        for name, c in clients.items():  # warm connections and code paths
            send_rate(c, urls[name], 20)
            recv_delete_rate(c, urls[name], 20)

        sends: dict[str, list[float]] = {k: [] for k in targets}
        recvs: dict[str, list[float]] = {k: [] for k in targets}
        names = list(clients)
        for i in range(args.rounds):
            # Rotate the order each round: no server always runs right after the
            # same other one (moto's heavy rounds otherwise always preceded ours).
            for name in names[i % len(names) :] + names[: i % len(names)]:
                c = clients[name]
                n = args.moto_n if name == "moto" else args.n
                sends[name].append(send_rate(c, urls[name], n))
                recvs[name].append(recv_delete_rate(c, urls[name], n))

        med = {k: statistics.median(v) for k, v in sends.items()}
        medr = {k: statistics.median(v) for k, v in recvs.items()}
        print(f"== SQS, boto3 sequential, ops/s (median of {args.rounds} rounds) ==")
        for name in targets:
            print(f"{name:9s} SendMessage {med[name]:8.0f}   Receive+Delete {medr[name]:8.0f}")
        for name in targets:
            rounds = " ".join(
                f"{s:.0f}/{r:.0f}" for s, r in zip(sends[name], recvs[name], strict=True)
            )
            print(f"  rounds {name:9s} send/recv: {rounds}")

        def paired(rates: dict[str, list[float]], other: str) -> float:
            # Each round's cloudlet rate over the other server's rate in the same
            # round (measured back to back), then the median over rounds.
            return statistics.median(
                c / o for c, o in zip(rates["cloudlet"], rates[other], strict=True)
            )

        print("ratios: median over rounds of cloudlet's rate / the other's in the same round")
        print(f"SendMessage      cloudlet/floor = {paired(sends, 'floor'):.2f}")
        print(f"Receive+Delete   cloudlet/floor = {paired(recvs, 'floor'):.2f}")
        if "moto" in targets:
            print(f"SendMessage      cloudlet/moto  = {paired(sends, 'moto'):.2f}")
            print(f"Receive+Delete   cloudlet/moto  = {paired(recvs, 'moto'):.2f}")
        else:
            print("moto not installed: pip install -e '.[bench]'")
        print(f"start to ready   {ready_s:.2f} s")
        print(f"idle RSS         {idle_rss / 2**20:.1f} MiB")

        sqs = clients["cloudlet"]
        deep = sqs.create_queue(QueueName="deep")["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
        for _ in range(args.depth // 10):
            sqs.send_message_batch(QueueUrl=deep, Entries=entries)
        at_depth, at_empty = [], []
        for i in range(args.rounds):
            empty = sqs.create_queue(QueueName=f"empty-{i}")["QueueUrl"]
            at_empty.append(send_rate(sqs, empty, args.n))
            at_depth.append(send_rate(sqs, deep, args.n))
        e, d = statistics.median(at_empty), statistics.median(at_depth)
        print(f"SendMessage at {args.depth} queued {d:8.0f}/s vs empty {e:8.0f}/s = {d / e:.2f}")


if __name__ == "__main__":
    main()
