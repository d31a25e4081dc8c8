"""Lambda benchmark: warm invokes vs the floor, cold starts vs bare Python, async fan-out, RSS.

    python -m bench.lambda_ [--rounds 9] [--n 200]

1. ``warm``: sequential boto3 ``Invoke`` of a function returning a small dict,
   on a warm worker, vs the same boto3 call against the floor server
   (bench/floor.py: the function's result, canned, with Lambda's headers: the
   cost of the HTTP round trip and of the client parsing the same answer).
   Rounds alternate between servers; the ratio is the median of the per-round
   ratios. Target >= 0.7x.
2. ``cold``: the first invoke of a new function (worker process start, Runtime
   API handshake, handler import) vs starting the same Python and importing the
   same handler module alone (``python -c 'import app'``). Medians. Target <= 2x.
3. ``async``: 100 ``Event`` invocations of a 50 ms function with reserved
   concurrency 5: the time until all have run, and the peak overlap the
   functions themselves recorded (must be <= 5).
4. ``rss``: each idle warm worker's resident memory. Target <= 25 MiB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path

import boto3
import psutil
from botocore.config import Config

from bench.sqs import start_cloudlet, start_floor

ROLE = "arn:aws:iam::000000000000:role/bench"
HANDLER = (
    "import json\ndef handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"
)
RECORDER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    start = time.time()\n"
    "    time.sleep(0.05)\n"
    "    with open(os.environ['OUT'], 'a') as f:\n"
    "        f.write(f'{start} {time.time()}\\n')\n"
    "    return None\n"
)


def client(endpoint: str):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def zip_of(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def create(lam, name: str, source: str, **kwargs) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of(source)},
        **kwargs,
    )


EVENT = json.dumps({"n": 1}).encode()
"""The warm benchmark's event; the floor's canned answer is the function's result for it."""


def invoke_rate(lam, name: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        lam.invoke(FunctionName=name, Payload=EVENT)["Payload"].read()
    return n / (time.perf_counter() - t0)


def warm(cloudlet: str, floor: str, rounds: int, n: int) -> None:
    lam, fl = client(cloudlet), client(floor)
    create(lam, "warm", HANDLER)
    # The floor answers what the function answers, so the client's work is the same.
    answer = lam.invoke(FunctionName="warm", Payload=EVENT)["Payload"].read()
    assert answer == fl.invoke(FunctionName="warm", Payload=EVENT)["Payload"].read(), answer
    invoke_rate(lam, "warm", 20)
    invoke_rate(fl, "warm", 20)
    ratios, ours, theirs = [], [], []
    for _ in range(rounds):
        a = invoke_rate(lam, "warm", n)
        b = invoke_rate(fl, "warm", n)
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    print(
        f"warm invoke: cloudlet {statistics.median(ours):7.0f}/s  floor {statistics.median(theirs):7.0f}/s"
        f"  ratio {statistics.median(ratios):.2f}x (target >= 0.7x)"
    )


def cold(cloudlet: str, count: int) -> None:
    lam = client(cloudlet)
    firsts = []
    for i in range(count):
        name = f"cold-{i}"
        create(lam, name, HANDLER)
        t0 = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        firsts.append(time.perf_counter() - t0)
    warm_calls = []
    for _ in range(20):
        t0 = time.perf_counter()
        lam.invoke(FunctionName="cold-0", Payload=b"{}")["Payload"].read()
        warm_calls.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text(HANDLER)
        bare = []
        for _ in range(count):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import app"], cwd=tmp, check=True)
            bare.append(time.perf_counter() - t0)
    c, b, w = statistics.median(firsts), statistics.median(bare), statistics.median(warm_calls)
    print(
        f"cold start: first invoke {c * 1000:6.1f} ms (warm invoke {w * 1000:.1f} ms)  python+import "
        f"{b * 1000:6.1f} ms  ratio {c / b:.2f}x (target <= 2x)"
    )


def fan_out(cloudlet: str, count: int = 100, reserved: int = 5) -> None:
    lam = client(cloudlet)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs.txt"
        create(lam, "fan", RECORDER, Environment={"Variables": {"OUT": str(out)}}, Timeout=30)
        lam.put_function_concurrency(FunctionName="fan", ReservedConcurrentExecutions=reserved)
        t0 = time.perf_counter()
        for i in range(count):
            lam.invoke(
                FunctionName="fan", InvocationType="Event", Payload=json.dumps({"i": i}).encode()
            )
        queued = time.perf_counter() - t0
        deadline = time.monotonic() + 120
        runs: list[tuple[float, float]] = []
        while time.monotonic() < deadline:
            if out.exists():
                runs = [tuple(map(float, line.split())) for line in out.read_text().splitlines()]
                if len(runs) >= count:
                    break
            time.sleep(0.05)
        total = time.perf_counter() - t0
    events = sorted([(s, 1) for s, _ in runs] + [(e, -1) for _, e in runs])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    print(
        f"async fan-out: {len(runs)}/{count} ran in {total:.2f} s (queued in {queued:.2f} s), "
        f"peak concurrency {peak} (reserved {reserved}: {'honoured' if peak <= reserved else 'EXCEEDED'})"
    )


def rss(proc: subprocess.Popen) -> None:
    workers = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "AWS_LAMBDA_RUNTIME_API" in child.environ():
                workers.append(child.memory_info().rss / (1024 * 1024))
        except psutil.Error:
            continue
    if not workers:
        print("idle worker RSS: no workers found")
        return
    print(
        f"idle worker RSS: {len(workers)} workers, median {statistics.median(workers):.1f} MiB, "
        f"max {max(workers):.1f} MiB (target <= 25 MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--cold", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("CLOUDLET_LAMBDA_IDLE_SECONDS", "600")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as data:
        cloudlet, proc, _ = start_cloudlet(stack, data)
        floor = start_floor(stack)
        warm(cloudlet, floor, args.rounds, args.n)
        cold(cloudlet, args.cold)
        fan_out(cloudlet)
        rss(proc)


if __name__ == "__main__":
    main()
