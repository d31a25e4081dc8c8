"""Load balancer benchmark: req/s and added latency through an ALB and a classic ELB.

    python -m bench.elb

Starts one cloudlet server (durable, in a temporary data dir) as a child
process, launches one EC2 instance whose user data runs a small keep-alive
HTTP/1.1 server (stdlib asyncio, ``TCP_NODELAY``, a fixed 20-byte body) on
``0.0.0.0:8080`` (so on the instance's address), puts an application load
balancer (elbv2, ``instance`` target) and a classic ELB (HTTP listener) in
front of it, and prints (``--backend http.server`` runs a stdlib
``ThreadingHTTPServer`` with HTTP/1.1 and ``TCP_NODELAY`` instead):

- req/s with ``wrk`` (``-t2 -c16 -d5s``) through each balancer and to the
  instance directly, in alternating rounds (direct, ALB, classic, 3 rounds);
  each ratio is the median over rounds of balancer/direct measured back to
  back in that round (target >= 0.6x);
- added p50 latency: 500 sequential keep-alive requests on one ``http.client``
  connection per round through each balancer and directly; the median through
  the balancer minus the median direct, over all rounds (target <= 1 ms).

The load balancers are deleted, the instance terminated (and seen
``terminated``), the server stopped and its data dir removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

from botocore.config import Config

from cloudlet.testing import CloudletServer

IMAGE = "ami-0123456789abcdef0"
PORT = 8080  # the instance's server; each load balancer listens on its own address
LB_PORT = 80 if os.geteuid() == 0 else 8080
ROUNDS = 3
SEQUENTIAL = 500
WRK = ["wrk", "-t2", "-c16", "-d5s"]

SERVER = r"""
import asyncio
import socket

BODY = b"hello from cloudlet\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if not n:
            return
        heads, self.buf = self.buf.rsplit(b"\r\n\r\n", 1)
        self.transport.write(RESP * n)
        if b"connection: close" in heads.lower():
            self.transport.close()


async def main():
    server = await asyncio.get_running_loop().create_server(Http, "0.0.0.0", 8080, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
"""
# ``--backend http.server``: the stdlib threading server most user data runs
THREADING_SERVER = r"""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"hello from cloudlet\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""
BACKENDS = {"asyncio": SERVER, "http.server": THREADING_SERVER}


def user_data(backend: str) -> str:
    return f"#!/bin/bash\ncat > serve.py <<'EOF'\n{BACKENDS[backend]}EOF\nexec python3 serve.py\n"


HEALTH = {
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
}


def wait_until(fn, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not reached in {timeout:.0f} s")


def get(host: str, port: int) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read()
        return body if resp.status == 200 else b""
    finally:
        conn.close()


def wrk(host: str, port: int) -> float:
    out = subprocess.run(
        [*WRK, f"http://{host}:{port}/"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors against {host}:{port}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no rate in wrk output:\n{out}")
    return float(match.group(1))


def sequential(host: str, port: int, count: int = SEQUENTIAL) -> list[float]:
    """Seconds per request for ``count`` requests on one keep-alive connection."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    times = []
    try:
        for _ in range(count + 20):
            t0 = time.perf_counter()
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"{host}:{port} answered {resp.status}")
    finally:
        conn.close()
    return times[20:]  # the first ones open the connection and warm the pools


def main() -> None:
    parser = argparse.ArgumentParser(description="ELB/ALB throughput and latency")
    parser.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default="asyncio",
        help="the instance's server (default: a minimal asyncio one, the fastest)",
    )
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="cloudlet-bench-elb-")
    server = CloudletServer.start(data_dir=data_dir)
    cfg = Config(retries={"max_attempts": 0})
    ec2 = server.client("ec2", config=cfg)
    elb = server.client("elb", config=cfg)
    elbv2 = server.client("elbv2", config=cfg)
    iid = ""
    alb_arn = tg_arn = clb_name = ""
    try:
        iid = ec2.run_instances(
            ImageId=IMAGE,
            MinCount=1,
            MaxCount=1,
            InstanceType="t2.micro",
            UserData=user_data(args.backend),
        )["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_running").wait(
            InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        ip = inst["PrivateIpAddress"]
        wait_until(lambda: get(ip, PORT), 30, "the instance's server answering")

        tg_arn = elbv2.create_target_group(
            Name=f"bench-{uuid.uuid4().hex[:8]}",
            Protocol="HTTP",
            Port=PORT,
            VpcId="vpc-1",
            TargetType="instance",
            HealthCheckPath="/",
            **HEALTH,
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": iid, "Port": PORT}])
        alb = elbv2.create_load_balancer(Name=f"bench-{uuid.uuid4().hex[:8]}", Subnets=[])
        alb = alb["LoadBalancers"][0]
        alb_arn = alb["LoadBalancerArn"]
        elbv2.create_listener(
            LoadBalancerArn=alb_arn,
            Protocol="HTTP",
            Port=LB_PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )

        clb_name = f"bench-{uuid.uuid4().hex[:8]}"
        clb_dns = elb.create_load_balancer(
            LoadBalancerName=clb_name,
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": LB_PORT, "InstancePort": PORT}],
            AvailabilityZones=["us-east-1a"],
        )["DNSName"]
        elb.configure_health_check(
            LoadBalancerName=clb_name,
            HealthCheck={
                "Target": f"HTTP:{PORT}/",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        elb.register_instances_with_load_balancer(
            LoadBalancerName=clb_name, Instances=[{"InstanceId": iid}]
        )

        def alb_healthy() -> bool:
            res = elbv2.describe_target_health(TargetGroupArn=tg_arn)
            return [d["TargetHealth"]["State"] for d in res["TargetHealthDescriptions"]] == [
                "healthy"
            ]

        def clb_healthy() -> bool:
            res = elb.describe_instance_health(LoadBalancerName=clb_name)["InstanceStates"]
            return [s["State"] for s in res] == ["InService"]

        wait_until(alb_healthy, 30, "the ALB target healthy")
        wait_until(clb_healthy, 30, "the classic ELB instance InService")
        targets = {"direct": (ip, PORT), "ALB": (alb["DNSName"], LB_PORT)}
        targets["classic ELB"] = (clb_dns, LB_PORT)
        for host, port in targets.values():
            assert get(host, port) == b"hello from cloudlet\n", (host, port)
            sequential(host, port, 200)  # warm-up

        rates: dict[str, list[float]] = {name: [] for name in targets}
        lat: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(ROUNDS):
            for name, (host, port) in targets.items():
                rates[name].append(wrk(host, port))
            for name, (host, port) in targets.items():
                lat[name] += sequential(host, port)

        direct_rate = statistics.median(rates["direct"])
        direct_p50 = statistics.median(lat["direct"])
        print(
            f"direct to the instance's {args.backend} server (wrk -t2 -c16 -d5s, {ROUNDS} rounds): "
            f"{direct_rate:,.0f} req/s median; "
            f"p50 {direct_p50 * 1000:.3f} ms ({len(lat['direct'])} sequential keep-alive requests)"
        )
        for name in ("ALB", "classic ELB"):
            ratios = [lb / d for lb, d in zip(rates[name], rates["direct"], strict=True) if d > 0]
            p50 = statistics.median(lat[name])
            print(
                f"through the {name}: {statistics.median(rates[name]):,.0f} req/s median, "
                f"{statistics.median(ratios):.2f}x direct "
                f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.6x)"
            )
            print(
                f"through the {name}: p50 {p50 * 1000:.3f} ms, added p50 "
                f"{(p50 - direct_p50) * 1000:.3f} ms over direct (target <= 1 ms)"
            )
    finally:
        try:
            if alb_arn:
                elbv2.delete_load_balancer(LoadBalancerArn=alb_arn)
            if tg_arn:
                elbv2.delete_target_group(TargetGroupArn=tg_arn)
            if clb_name:
                elb.delete_load_balancer(LoadBalancerName=clb_name)
            if iid:
                ec2.terminate_instances(InstanceIds=[iid])
                ec2.get_waiter("instance_terminated").wait(
                    InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
