"""One HTTP/1.1 request and its whole response, without blocking the event loop: what
EventBridge's API destinations send their events with, its OAuth connections fetch
tokens with, and SNS posts to HTTP(S) subscriptions with.

Why this and not a client library: the project depends on no HTTP client, and uvicorn
(which serves cloudlet) brings h11, a complete HTTP/1.1 state machine (chunked bodies,
content lengths, HEAD responses without bodies); over asyncio streams that is all one
request needs. One connection per request with ``Connection: close``, as EventBridge
and SNS send (the user guide's "Headers included in requests to API destinations").
The whole exchange (connect, send, read) has one deadline, ``TIMEOUT`` unless the
caller gives its own.

Errors: a request that gets no complete HTTP response raises ``HttpError`` (a refused or
dropped connection, TLS failure, the deadline, a malformed response), with
``retryable`` False only when the request itself cannot be sent (a header h11 refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

TIMEOUT = 5.0
"""Seconds EventBridge waits for an API destination's answer (the user guide)."""
MAX_BODY = 1024 * 1024
"""The most of a response that is read: EventBridge asks for ``bytes=0-1048575``."""
_READ = 65536


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface (``localhost``,
    ``*.localhost``, 127.0.0.0/8, ``::1``): where cloudlet lets its callers use plain
    ``http://`` for what AWS requires HTTPS of (API destinations, OIDC issuers), as the
    servers they test against run there."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpError(Exception):
    """No HTTP response was had: why, and whether another try may do better."""

    def __init__(self, message: str, retryable: bool = True, timeout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.timeout = timeout


@dataclass
class Response:
    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes = b""


async def request(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    timeout: float = TIMEOUT,
) -> Response:
    """Send ``method url`` with ``headers`` and ``body``; the response (its body cut at
    ``MAX_BODY``). ``Host``, ``Content-Length`` and ``Connection: close`` are added."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or "localhost"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        raise HttpError(f"bad port in {url}", retryable=False) from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    sent = [("Host", shown if parts.port is None else f"{shown}:{port}"), *headers]
    sent += [("Content-Length", str(len(body))), ("Connection", "close")]
    client = h11.Connection(h11.CLIENT)
    try:
        wire = client.send(h11.Request(method=method, target=target, headers=sent))
        if body:
            wire += client.send(h11.Data(data=body))
        wire += client.send(h11.EndOfMessage())
    except h11.LocalProtocolError as err:
        raise HttpError(f"cannot send the request: {err}", retryable=False) from None
    try:
        return await asyncio.wait_for(_exchange(client, host, port, https, wire or b""), timeout)
    except TimeoutError:
        raise HttpError(
            f"no response from {url} within {timeout:g} seconds", timeout=True
        ) from None
    except (OSError, ssl.SSLError) as err:
        raise HttpError(f"cannot reach {url}: {err.strerror or err}") from None
    except h11.RemoteProtocolError as err:
        raise HttpError(f"bad HTTP response from {url}: {err}") from None


async def _exchange(
    client: h11.Connection, host: str, port: int, https: bool, wire: bytes
) -> Response:
    context = ssl.create_default_context() if https else None
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        writer.write(wire)
        await writer.drain()
        response: Response | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                client.receive_data(await reader.read(_READ))
            elif isinstance(event, h11.Response):
                response = Response(
                    event.status_code,
                    event.reason.decode("latin-1"),
                    {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers},
                )
            elif isinstance(event, h11.Data):
                if size < MAX_BODY:
                    chunks.append(event.data[: MAX_BODY - size])
                    size += len(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
            # an InformationalResponse (100 Continue) is skipped
        if response is None:
            raise h11.RemoteProtocolError("the connection closed before a response")
        response.body = b"".join(chunks)
        return response
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
