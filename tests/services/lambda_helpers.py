"""Shared pieces of the Lambda tests: zips of function code, a private server, polling."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from cloudlet.testing import CloudletServer

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
LAMBDA_ENV = {"CLOUDLET_LAMBDA_IDLE_SECONDS": "2", "CLOUDLET_LAMBDA_RETRY_SECONDS": "0.2"}


def zip_of(files: dict[str, str | bytes], mode: int = 0o755) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, text)
    return buf.getvalue()


def python_function(
    lam: Any, name: str, source: str, *, handler: str = "app.handler", **kwargs: Any
) -> dict:
    kwargs.setdefault("Runtime", "python3.12")
    kwargs.setdefault("Role", ROLE)
    out = lam.create_function(
        FunctionName=name, Handler=handler, Code={"ZipFile": zip_of({"app.py": source})}, **kwargs
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return out


FORWARDER = (
    "import json, os, boto3\n"
    "def handler(event, context):\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['OUT'],"
    " MessageBody=json.dumps(event))\n"
)
"""A handler that sends every event it gets to the queue named by ``OUT``."""


def forwarding_function(lam: Any, name: str, queue_url: str) -> str:
    """A Python function forwarding its events to ``queue_url``; returns its ARN."""
    out = python_function(lam, name, FORWARDER, Environment={"Variables": {"OUT": queue_url}})
    return out["FunctionArn"]


def invoke_json(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict, Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    body = resp["Payload"].read()
    return resp, json.loads(body) if body else None


def wait_for(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def worker_pids(server: CloudletServer) -> list[int]:
    """Lambda worker processes started by ``server`` (its descendants running a runtime)."""
    assert server.proc is not None
    try:
        children = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.Error:
        return []
    return [c.pid for c in children if _is_worker(c)]


def _is_worker(proc: psutil.Process) -> bool:
    try:
        return "AWS_LAMBDA_RUNTIME_API" in proc.environ()
    except psutil.Error:
        return False


def leftover_workers(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            continue
    return alive


@pytest.fixture(scope="module")
def lambda_server() -> Iterator[CloudletServer]:
    server = CloudletServer.start(env=LAMBDA_ENV)
    try:
        yield server
    finally:
        pids = worker_pids(server)
        server.stop()
        assert leftover_workers(pids) == [], "Lambda workers outlived the server"


@pytest.fixture
def lam(lambda_server: CloudletServer) -> Any:
    return lambda_server.client("lambda")
