"""Shared helpers for the EC2 tests: free ports, polling, waiters."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any

FAST = {"Delay": 1, "MaxAttempts": 30}
IMAGE = "ami-0123456789abcdef0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Call ``fn`` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()


def wait(ec2: Any, waiter: str, ids: list[str]) -> None:
    ec2.get_waiter(waiter).wait(InstanceIds=ids, WaiterConfig=FAST)


def state(ec2: Any, instance_id: str) -> str:
    res = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return res[0]["Instances"][0]["State"]["Name"]


def console(ec2: Any, instance_id: str) -> str:
    return ec2.get_console_output(InstanceId=instance_id).get("Output", "")


def launch(ec2: Any, user_data: str | None = None, count: int = 1, **kwargs: Any) -> list[str]:
    if user_data is not None:
        kwargs["UserData"] = user_data
    res = ec2.run_instances(
        ImageId=IMAGE, MinCount=count, MaxCount=count, InstanceType="t2.micro", **kwargs
    )
    return [i["InstanceId"] for i in res["Instances"]]
