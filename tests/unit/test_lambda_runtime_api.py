"""The Runtime API server and our runtime client's HTTP code, without a cloudlet server."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import socket
import zipfile
from pathlib import Path

import pytest

from cloudlet.services.awslambda import workers
from cloudlet.services.awslambda.runtime_api import RuntimeApi
from cloudlet.services.awslambda.store import _extract_all


class FakeHost:
    def __init__(self) -> None:
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.responses: list[tuple[str, bytes]] = []
        self.errors: list[tuple[str, bytes, str | None]] = []
        self.init_errors: list[tuple[bytes, str | None]] = []

    def next_invocation(self, deliver) -> None:  # noqa: ANN001 - runtime_api.Deliver
        assert deliver(*self.events.pop(0))

    def invocation_response(self, request_id: str, body: bytes) -> bool:
        self.responses.append((request_id, body))
        return request_id != "unknown"

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        self.errors.append((request_id, body, error_type))
        return True

    def init_error(self, body: bytes, error_type: str | None) -> None:
        self.init_errors.append((body, error_type))


def _client(port: int, monkeypatch: pytest.MonkeyPatch):
    """Our bootstrap's ``Api`` class, loaded as the worker would (a script, env-configured)."""
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{port}")
    spec = importlib.util.spec_from_file_location("lambda_bootstrap", workers.BOOTSTRAP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Api()


def test_runtime_api_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        host = FakeHost()
        api = RuntimeApi(host)
        port = await api.start()
        client = _client(port, monkeypatch)
        host.events.append(({"Lambda-Runtime-Aws-Request-Id": "r1"}, b'{"a": 1}'))
        status, headers, body = await asyncio.to_thread(client.request, "GET", "/invocation/next")
        assert status == 200 and body == b'{"a": 1}'
        assert headers["lambda-runtime-aws-request-id"] == "r1"
        status, _, _ = await asyncio.to_thread(
            client.request, "POST", "/invocation/r1/response", b'"ok"'
        )
        assert status == 202 and host.responses == [("r1", b'"ok"')]
        status, _, _ = await asyncio.to_thread(
            client.request, "POST", "/invocation/unknown/response", b"1"
        )
        assert status == 400
        await asyncio.to_thread(
            client.request,
            "POST",
            "/invocation/r2/error",
            b'{"errorType": "X"}',
            {"Lambda-Runtime-Function-Error-Type": "X"},
        )
        assert host.errors == [("r2", b'{"errorType": "X"}', "X")]
        await asyncio.to_thread(client.request, "POST", "/init/error", b"{}")
        assert host.init_errors == [(b"{}", None)]
        status, _, _ = await asyncio.to_thread(client.request, "GET", "/nope")
        assert status == 404
        client.close()
        await api.close()

    asyncio.run(main())


def test_private_socket_pair_and_pipelined_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our bootstrap's channel: its end of a socket pair (taken out of the environment the
    function sees); a result sent with the next ``/next`` gets its 202 with the next event."""

    async def main() -> None:
        host = FakeHost()
        api = RuntimeApi(host)
        port = await api.start()
        ours, theirs = socket.socketpair()
        await api.adopt(ours)
        monkeypatch.setenv("_CLOUDLET_RUNTIME_FD", str(theirs.fileno()))
        client = _client(port, monkeypatch)
        assert "_CLOUDLET_RUNTIME_FD" not in os.environ
        host.events.append(({"Lambda-Runtime-Aws-Request-Id": "r1"}, b"1"))
        host.events.append(({"Lambda-Runtime-Aws-Request-Id": "r2"}, b"2"))
        _, headers, body = await asyncio.to_thread(client.request, "GET", "/invocation/next")
        assert headers["lambda-runtime-aws-request-id"] == "r1" and body == b"1"
        assert client.sock.family == socket.AF_UNIX
        status, headers, body = await asyncio.to_thread(
            client.post_then_next, "/invocation/r1/response", b'"one"'
        )
        assert (status, body) == (200, b"2") and host.responses == [("r1", b'"one"')]
        client.close()
        await api.close()

    asyncio.run(main())


def test_extraction_keeps_executable_bits(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("lib/data.txt", "x")
    with zipfile.ZipFile(buf) as zf:
        _extract_all(zf, tmp_path)
    assert os.access(tmp_path / "bootstrap", os.X_OK)
    assert (tmp_path / "lib" / "data.txt").read_text() == "x"
