"""Run a real cloudlet server from your own tests.

As a pytest plugin (registered automatically when cloudlet is installed)::

    def test_queue(aws_client):
        sqs = aws_client("sqs")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]

Fixtures:

- ``cloudlet_server`` (session): a ``CloudletServer`` started on a free
  loopback port with ``--ephemeral``; stopped (and its processes reaped) at
  the end of the session. ``.endpoint`` is its URL.
- ``aws_client`` (function): a factory ``aws_client(service, **kwargs)``
  returning a boto3 client pointed at that server (region ``us-east-1``,
  credentials ``test``/``test`` unless given).

Without pytest: ``with CloudletServer.start() as server: ...``.

``CloudletServer.client`` makes clients reach the server's prefixed host names
(``awscli_plugin`` says why): S3 Control's without its account prefix
(``account_host_as_endpoint``), S3 access points' ARNs with their name in the Host
header (``prefixed_hosts_as_header``), CloudWatch Logs' StartLiveTail without its
``stream-`` prefix (``awscli_plugin.drop_host_prefix``). Each helper works on any boto3
client.

Each server gets a private ``TMPDIR`` (its log is there too), removed when it is
stopped or killed: what a killed ephemeral server could not clean up goes with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

READY_PREFIX = "cloudlet ready on "


class CloudletServer:
    """A ``cloudlet serve`` child process."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.endpoint = ""
        # The child's own temp dir (its TMPDIR), removed once it has stopped: an
        # ephemeral server's files, and whatever a killed one could not clean up.
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="cloudlet-server-"))
        self.log_path = self.tmp_dir / "server.log"

    @classmethod
    def start(
        cls,
        *,
        data_dir: str | Path | None = None,
        auth: str = "open",
        port: int = 0,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> CloudletServer:
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--auth", auth]
        args += ["--data-dir", str(data_dir)] if data_dir is not None else ["--ephemeral"]
        server = cls([*args, *extra_args], env)
        server._launch(timeout)
        return server

    def _launch(self, timeout: float) -> None:
        env = {
            **os.environ,
            "TMPDIR": str(self.tmp_dir),
            **(self.env or {}),
            "CLOUDLET_EXIT_WITH_PARENT": "1",
        }
        log = open(self.log_path, "a")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloudlet", *self.args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(READY_PREFIX):
                self.endpoint = line[len(READY_PREFIX) :].strip()
                break
        if not self.endpoint:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            log_text = self.log_path.read_text()
            self._remove_tmp()
            raise RuntimeError(f"cloudlet did not start: {line!r}\n{log_text}")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            for _ in proc.stdout:
                pass

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3

        kwargs.setdefault("region_name", "us-east-1")
        kwargs.setdefault("aws_access_key_id", "test")
        kwargs.setdefault("aws_secret_access_key", "test")
        client = boto3.client(service, endpoint_url=self.endpoint, **kwargs)
        if service == "s3control":
            account_host_as_endpoint(client)
        elif service == "s3":
            prefixed_hosts_as_header(client)
        elif service == "logs":
            from cloudlet.awscli_plugin import drop_host_prefix

            client.meta.events.register("before-sign.logs", drop_host_prefix)
        return client

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait: a clean stop."""
        if self.proc is None:
            self._remove_tmp()
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._remove_tmp()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: the crash that durability must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> CloudletServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def cloudlet_server() -> Iterator[CloudletServer]:
    server = CloudletServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_client(cloudlet_server: CloudletServer) -> Callable[..., Any]:
    return cloudlet_server.client


def account_host_as_endpoint(client: Any) -> Any:
    """Send an S3 Control client's requests to its endpoint as given (``awscli_plugin``
    says why; it does the same for the AWS CLI)."""
    from cloudlet.awscli_plugin import drop_account_host

    client.meta.events.register("before-sign.s3-control", drop_account_host)
    return client


def prefixed_hosts_as_header(client: Any) -> Any:
    """Send an S3 client's requests to ``<name>.<IPv4 or localhost>`` (an access point's
    ARN as the ``Bucket``: ``myap-123456789012.127.0.0.1``) to the bare endpoint, the
    full name in the ``Host`` header (``awscli_plugin`` says why; it does the same for
    the AWS CLI). Requests to any other host are left as they are."""
    from cloudlet.awscli_plugin import prefixed_host_as_header

    client.meta.events.register("before-sign.s3", prefixed_host_as_header)
    return client
