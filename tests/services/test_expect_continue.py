"""``Expect: 100-continue`` end to end, on raw sockets against a real server.

boto3 sends it with every PutObject. A small body is asked for as soon as the
request's head is in (``cloudlet.http_batching``), so an early error must keep the
connection usable; a large one is asked for only by a handler that reads it, so
an early error closes the connection rather than read an unsent body.
"""

from __future__ import annotations

import socket

import pytest

AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20261122/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def put_head(path: str, length: int) -> bytes:
    return (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
        f"Content-Length: {length}\r\nx-amz-date: 20261122T000000Z\r\n"
        f"x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: {AUTH}\r\n\r\n"
    ).encode()


class Wire:
    """One keep-alive connection, read a response at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def head(self) -> bytes:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def response(self) -> tuple[bytes, bytes]:
        head = self.head()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:length], self.buf[length:]
        return head, body

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(cloudlet_server):
    w = Wire(cloudlet_server.port)
    yield w
    w.close()


def test_an_early_error_to_a_small_body_keeps_the_connection(wire):
    wire.sock.sendall(put_head("/no-such-bucket-expect/key", 5))
    assert wire.head() == b"HTTP/1.1 100 Continue"
    wire.sock.sendall(b"hello")
    head, body = wire.response()
    assert head.startswith(b"HTTP/1.1 404") and b"<Code>NoSuchBucket</Code>" in body
    assert b"connection: close" not in head.lower()
    wire.sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + AUTH.encode())
    wire.sock.sendall(b"\r\nx-amz-date: 20261122T000000Z\r\n\r\n")
    head, body = wire.response()
    assert head.startswith(b"HTTP/1.1 200") and b"ListAllMyBucketsResult" in body


def test_a_small_body_is_stored_as_sent(wire, aws_client):
    aws_client("s3").create_bucket(Bucket="expect-small")
    wire.sock.sendall(put_head("/expect-small/key", 5))
    assert wire.head() == b"HTTP/1.1 100 Continue"
    wire.sock.sendall(b"hello")
    head, _ = wire.response()
    assert head.startswith(b"HTTP/1.1 200")
    got = aws_client("s3").get_object(Bucket="expect-small", Key="key")["Body"].read()
    assert got == b"hello"


def test_an_early_error_to_a_large_body_closes_without_asking_for_it(wire):
    wire.sock.sendall(put_head("/no-such-bucket-expect/key", 1 << 20))
    head, body = wire.response()  # no 100 Continue first
    assert head.startswith(b"HTTP/1.1 404") and b"<Code>NoSuchBucket</Code>" in body
    assert b"connection: close" in head.lower()
    assert wire.sock.recv(1) == b""
