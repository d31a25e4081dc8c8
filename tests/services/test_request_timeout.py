"""Requests that stop arriving are dropped (``cloudlet.http_batching``), on raw sockets.

A stalled body is answered ``400 RequestTimeout`` in its service's format, as S3
does after about 20 s; a stalled head or a connection that never sends a byte is
closed. Slow-but-steady bodies, idle keep-alive connections and handlers that take
longer than the timeout (a long poll) are not timed out. The server here waits 1 s.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from cloudlet.testing import CloudletServer

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudletServer]:
    data = tmp_path_factory.mktemp("timeout")
    with CloudletServer.start(data_dir=data, extra_args=["--request-timeout", str(TIMEOUT)]) as srv:
        srv.client("s3").create_bucket(Bucket="stalls")
        yield srv


def connect(server: CloudletServer) -> socket.socket:
    host, port = server.endpoint.rsplit("/", 1)[1].split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_all(sock: socket.socket) -> tuple[bytes, float]:
    """Everything until the server closes, and how long that took."""
    start = time.monotonic()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - start


def test_a_silent_connection_is_closed(server: CloudletServer) -> None:
    data, waited = read_all(connect(server))
    assert data == b""
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + 3


def test_a_stalled_head_is_closed(server: CloudletServer) -> None:
    sock = connect(server)
    sock.sendall(b"GET /stalls HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    data, waited = read_all(sock)
    assert data == b""
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + 3


def test_a_stalled_s3_body_answers_request_timeout_and_stores_nothing(
    server: CloudletServer,
) -> None:
    sock = connect(server)
    sock.sendall(
        b"PUT /stalls/partial HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    data, waited = read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in head.lower()
    assert b"<Code>RequestTimeout</Code>" in body
    assert b"Idle connections will be closed." in body
    assert waited < TIMEOUT + 3
    s3 = server.client("s3")
    assert "Contents" not in s3.list_objects_v2(Bucket="stalls", Prefix="partial")


def test_a_stalled_json_body_answers_in_json(server: CloudletServer) -> None:
    sock = connect(server)
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{"
    )
    data, _ = read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b'#RequestTimeout"' in body


def test_a_slow_but_steady_body_is_taken(server: CloudletServer) -> None:
    sock = connect(server)
    sock.sendall(b"PUT /stalls/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n")
    for _ in range(4):  # 2 s in all, each gap under the timeout
        time.sleep(TIMEOUT / 2)
        sock.sendall(b"0123456789")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    sock.close()
    got = server.client("s3").get_object(Bucket="stalls", Key="slow")
    assert got["Body"].read() == b"0123456789" * 4


def test_idle_keep_alive_and_slow_handlers_are_not_timed_out(server: CloudletServer) -> None:
    sock = connect(server)
    sock.sendall(b"GET /stalls HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    time.sleep(TIMEOUT * 2)  # between requests: uvicorn's keep-alive timeout applies
    sock.sendall(b"GET /stalls HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    sock.close()
    # A long poll outlasts the timeout: its request had fully arrived.
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="stalls")["QueueUrl"]
    start = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert time.monotonic() - start >= 1.9
