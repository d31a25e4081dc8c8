"""DynamoDB benchmark: cloudlet vs the canned-response floor vs moto, in one run.

    python -m bench.dynamodb [--only small,depth,query,wrk]   (pip install -e '.[bench]')

1. ``small``: PutItem and GetItem of a small item, one sequential boto3 client
   per server, rounds alternating between servers; rates are medians over
   rounds and each ratio the median of the per-round ratios (as bench/sqs.py).
2. ``depth``: GetItem latency (median over random keys) on a 1,000,000-item
   table vs a 1,000-item table. The big table is loaded before the server
   starts, through cloudlet's own engine in-process (the API would take
   minutes to fill it); the server then opens that data dir.
3. ``query``: a Query returning 1,000 items of 1 KB, timed as a replayed
   signed HTTP request (the server's share: no client-side parsing), in MB/s
   of item data.
4. ``wrk``: concurrent replays of one signed PutItem and one GetItem request
   (wrk with a Lua script), cloudlet vs the floor (the raw ASGI app on the same
   HTTP stack) and moto: the servers' own costs, which the sequential boto3
   client of part 1 hides (its own cost bounds every ratio to moto there).

cloudlet runs durable (``--data-dir`` in a temp dir).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from bench.floor import DDB_ITEM
from bench.sqs import moto_ceiling, start_cloudlet, start_floor, start_moto

TARGET = "DynamoDB_20120810."
KEYS = [{"AttributeName": "pk", "AttributeType": "S"}]
SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}]


def ddb_client(endpoint: str):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def create(c, name: str, range_key: bool = False) -> None:
    defs = list(KEYS)
    schema = list(SCHEMA)
    if range_key:
        defs.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    c.create_table(
        TableName=name, AttributeDefinitions=defs, KeySchema=schema, BillingMode="PAY_PER_REQUEST"
    )


def rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def paired(rates: dict[str, list[float]], other: str) -> float:
    return statistics.median(c / o for c, o in zip(rates["cloudlet"], rates[other], strict=True))


# -- 1. PutItem / GetItem -------------------------------------------------------------------


def small_items(clients: dict, rounds: int, n: int, moto_n: int) -> None:
    for c in clients.values():
        create(c, "bench")

    def put(c):
        return lambda i: c.put_item(TableName="bench", Item={**DDB_ITEM, "pk": {"S": f"k{i}"}})

    def get(c):
        return lambda i: c.get_item(TableName="bench", Key={"pk": {"S": f"k{i % 20}"}})

    for c in clients.values():  # warm connections and code paths
        rate(put(c), 20)
        rate(get(c), 20)
    puts: dict[str, list[float]] = {k: [] for k in clients}
    gets: dict[str, list[float]] = {k: [] for k in clients}
    names = list(clients)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c = clients[name]
            count = moto_n if name == "moto" else n
            puts[name].append(rate(put(c), count))
            gets[name].append(rate(get(c), count))
    print(f"== DynamoDB, boto3 sequential, ops/s (median of {rounds} rounds) ==")
    for name in clients:
        print(
            f"{name:9s} PutItem {statistics.median(puts[name]):8.0f}   "
            f"GetItem {statistics.median(gets[name]):8.0f}"
        )
    print("ratios: median over rounds of cloudlet's rate / the other's in the same round")
    print(f"PutItem   cloudlet/floor = {paired(puts, 'floor'):.2f}")
    print(f"GetItem   cloudlet/floor = {paired(gets, 'floor'):.2f}")
    if "moto" in clients:
        print(f"PutItem   cloudlet/moto  = {paired(puts, 'moto'):.2f}")
        print(f"GetItem   cloudlet/moto  = {paired(gets, 'moto'):.2f}")
        print(moto_ceiling(puts, gets, "PutItem", "GetItem"))
    else:
        print("moto not installed: pip install -e '.[bench]'")


# -- 2. GetItem at depth -----------------------------------------------------------------------


def fill_in_process(data_dir: str, name: str, count: int) -> float:
    """Load ``count`` items through cloudlet's engine, before any server opens the dir."""
    from cloudlet.services.dynamodb.engine import Engine
    from cloudlet.services.dynamodb.tables import parse_create
    from cloudlet.state.db import open_database

    t0 = time.perf_counter()
    engine = Engine(open_database(Path(data_dir), "dynamodb"))
    params = {"TableName": name, "AttributeDefinitions": KEYS, "KeySchema": SCHEMA}
    params["BillingMode"] = "PAY_PER_REQUEST"
    table = engine.add_table(parse_create(params, "000000000000", "us-east-1", time.time()))
    batch = 20_000
    for start in range(0, count, batch):
        with engine.store.transaction():
            for i in range(start, min(count, start + batch)):
                item = {**DDB_ITEM, "pk": {"S": f"k{i:07d}"}}
                engine.write(table, table.key_of(item), None, item)
    engine.store.conn.close()
    return time.perf_counter() - t0


def latency(c, name: str, count: int, calls: int) -> float:
    rng = random.Random(7)
    samples = []
    for _ in range(calls):
        key = {"pk": {"S": f"k{rng.randrange(count):07d}"}}
        t = time.perf_counter()
        out = c.get_item(TableName=name, Key=key)
        samples.append(time.perf_counter() - t)
        assert "Item" in out
    return statistics.median(samples)


def depth(stack: ExitStack, work: str, big: int, calls: int) -> None:
    data_dir = str(Path(work) / "depth")
    fill_s = fill_in_process(data_dir, "big", big)
    endpoint, _proc, ready = start_cloudlet(stack, data_dir)
    c = ddb_client(endpoint)
    create(c, "small")
    for i in range(1000):
        c.put_item(TableName="small", Item={**DDB_ITEM, "pk": {"S": f"k{i:07d}"}})
    latency(c, "small", 1000, 200)  # warm
    results = {"small": [], "big": []}
    for _ in range(3):
        results["small"].append(latency(c, "small", 1000, calls))
        results["big"].append(latency(c, "big", big, calls))
    small, large = min(results["small"]), min(results["big"])
    print(f"== GetItem latency at depth (median of {calls} random keys, best of 3) ==")
    print(f"loaded {big} items in {fill_s:.1f} s in-process; server ready in {ready:.2f} s")
    print(f"{big}-item table {large * 1e6:7.0f} us   1000-item table {small * 1e6:7.0f} us")
    print(f"GetItem {big} vs 1000 items = {large / small:.2f}x")


# -- 3. Query throughput ----------------------------------------------------------------------


def signed(endpoint: str, operation: str, body: dict) -> tuple[str, dict[str, str], bytes]:
    data = json.dumps(body).encode()
    req = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=data,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": TARGET + operation,
        },
    )
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(req)
    return endpoint, dict(req.headers.items()), data


def query_throughput(endpoint: str, calls: int) -> None:
    c = ddb_client(endpoint)
    create(c, "qbench", range_key=True)
    blob = "x" * 1000
    for start in range(0, 1000, 25):
        c.batch_write_item(
            RequestItems={
                "qbench": [
                    {
                        "PutRequest": {
                            "Item": {"pk": {"S": "p"}, "sk": {"N": str(i)}, "d": {"S": blob}}
                        }
                    }
                    for i in range(start, start + 25)
                ]
            }
        )
    item_bytes = sum(len(k) + len(v) for k, v in (("pk", "p"), ("d", blob))) * 1000 + sum(
        2 + (len(str(i)) + 1) // 2 + 1 for i in range(1000)
    )
    body = {
        "TableName": "qbench",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p"}},
    }
    _, headers, data = signed(endpoint, "Query", body)
    host = urlsplit(endpoint)
    conn = http.client.HTTPConnection(host.hostname, host.port)
    samples = []
    size = 0
    for i in range(calls + 3):
        t = time.perf_counter()
        conn.request("POST", "/", body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        elapsed = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(payload[:300])
        if i >= 3:
            samples.append(elapsed)
        size = len(payload)
    conn.close()
    count = json.loads(payload)["Count"]
    med = statistics.median(samples)
    print(f"== Query returning {count} items of 1 KB, replayed signed request ({calls} calls) ==")
    print(
        f"{med * 1000:.1f} ms per Query = {item_bytes / med / 1e6:.1f} MB/s of items "
        f"({size / med / 1e6:.1f} MB/s on the wire)"
    )


# -- 4. wrk replaying signed PutItem and GetItem requests -----------------------------------


def wrk_rate(endpoint: str, script: str, seconds: int, conns: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s", script, endpoint + "/"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    import re

    if re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout):
        raise RuntimeError(f"wrk saw errors: {out.stdout}")
    m = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
    return float(m.group(1)) if m else 0.0


def wrk_items(endpoints: dict[str, str], work: str, seconds: int, conns: int) -> None:
    if shutil.which("wrk") is None:
        print(
            "== wrk not installed: concurrent PutItem/GetItem replay skipped (apt-get install wrk) =="
        )
        return
    requests = {
        "PutItem": {"TableName": "wrk", "Item": {**DDB_ITEM, "pk": {"S": "k1"}}},
        "GetItem": {"TableName": "wrk", "Key": {"pk": {"S": "k1"}}},
    }
    scripts: dict[tuple[str, str], str] = {}
    for name, endpoint in endpoints.items():
        c = ddb_client(endpoint)
        try:
            create(c, "wrk")
        except c.exceptions.ResourceInUseException:
            pass
        c.put_item(TableName="wrk", Item={**DDB_ITEM, "pk": {"S": "k1"}})
        for operation, body in requests.items():
            _, headers, data = signed(endpoint, operation, body)
            lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(data.decode())}"]
            for k, v in headers.items():
                lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
            path = Path(work) / f"{operation}-{name}.lua"
            path.write_text("\n".join(lines) + "\n")
            scripts[(operation, name)] = str(path)
    print(f"== signed requests replayed by wrk -t2 -c{conns} -d{seconds}s (median of 3) ==")
    for operation in requests:
        for name in endpoints:
            wrk_rate(endpoints[name], scripts[(operation, name)], 1, conns)  # warm
        rates: dict[str, list[float]] = {k: [] for k in endpoints}
        for _ in range(3):
            for name in endpoints:
                rates[name].append(
                    wrk_rate(endpoints[name], scripts[(operation, name)], seconds, conns)
                )
        print(
            "   ".join(f"{name} {statistics.median(r):8.0f}" for name, r in rates.items()), "req/s"
        )
        print(f"{operation} wrk cloudlet/floor = {paired(rates, 'floor'):.2f}")
        if "moto" in rates:  # the servers' own costs: no sequential client in the way
            print(f"{operation} wrk cloudlet/moto  = {paired(rates, 'moto'):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000, help="operations per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--moto-n", type=int, default=200, help="operations per round on moto")
    ap.add_argument("--depth", type=int, default=1_000_000, help="items in the big table")
    ap.add_argument("--depth-calls", type=int, default=2000)
    ap.add_argument("--query-calls", type=int, default=30)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--wrk-conns", type=int, default=32)
    ap.add_argument("--only", default="small,depth,query,wrk", help="comma-separated parts")
    args = ap.parse_args()
    parts = set(args.only.split(","))

    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        endpoint, _proc, _ready = start_cloudlet(stack, str(Path(work) / "main"))
        floor = start_floor(stack)
        if "small" in parts:
            clients = {"cloudlet": ddb_client(endpoint), "floor": ddb_client(floor)}
            moto = start_moto(stack)
            if moto:
                clients["moto"] = ddb_client(moto)
            small_items(clients, args.rounds, args.n, args.moto_n)
        if "query" in parts:
            query_throughput(endpoint, args.query_calls)
        if "wrk" in parts:
            targets = {"cloudlet": endpoint, "floor": floor}
            moto = start_moto(stack)
            if moto:
                targets["moto"] = moto
            wrk_items(targets, work, args.wrk_seconds, args.wrk_conns)
        if "depth" in parts:
            depth(stack, work, args.depth, args.depth_calls)


if __name__ == "__main__":
    sys.exit(main())
