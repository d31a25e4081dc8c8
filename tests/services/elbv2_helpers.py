"""Helpers for the load balancer tests: small HTTP backends and a raw HTTP client.

Backends are ``ThreadingHTTPServer``s on free 127.0.0.1 ports that answer
with their own name and echo the request headers they received as JSON, so
tests can see which target served a request and what the proxy added.
``/slow`` sleeps before answering (for 504s).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTH = {
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
}


class Backend:
    """A named HTTP server on 127.0.0.1 (HTTPS with ``tls``); ``stop`` closes its port.

    Its JSON answers say ``"tls": true`` when the request came over TLS."""

    def __init__(self, name: str, delay: float = 3.0, tls: ssl.SSLContext | None = None) -> None:
        outer = self
        self.name = name
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/slow"):
                    time.sleep(delay)
                if self.path != "/health":
                    outer.hits += 1
                body = json.dumps(
                    {
                        "name": outer.name,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "tls": isinstance(self.connection, ssl.SSLSocket),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def request(
    host: str,
    port: int,
    path: str = "/",
    method: str = "GET",
    headers: dict | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def served_by(host: str, port: int, path: str = "/", **kwargs: Any) -> str:
    status, _, body = request(host, port, path, **kwargs)
    assert status == 200, (status, body)
    return json.loads(body)["name"]


def states(elbv2: Any, tg_arn: str) -> dict[str, str]:
    res = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    return {f"{d['Target']['Id']}:{d['Target']['Port']}": d["TargetHealth"]["State"] for d in res}


def nlb_sum(cw: Any, name: str, lb_dim: str) -> float:
    """The Sum of a network load balancer's ``AWS/NetworkELB`` metric over the last ten minutes."""
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/NetworkELB",
        MetricName=name,
        Dimensions=[{"Name": "LoadBalancer", "Value": lb_dim}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)
