"""The wire work of deliveries that leave the process: HTTP(S) POSTs and SMTP.

HTTP goes over asyncio streams (no client library; a POST never blocks the
event loop), one connection per request with ``Connection: close``, as SNS
does. SMTP uses ``smtplib`` in a worker thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from urllib.parse import urlsplit

TIMEOUT = 15.0


async def http_post(
    url: str, headers: dict[str, str], body: bytes, timeout: float = TIMEOUT
) -> int:
    """POST ``body`` to ``url``; the response status (an OSError when unreachable)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if https else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    context = ssl.create_default_context() if https else None

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            netloc = host if parts.port is None else f"{host}:{parts.port}"
            lines = [f"POST {target} HTTP/1.1", f"Host: {netloc}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1") + body)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.decode("latin-1").split()
            if len(fields) < 2 or not fields[1].isdigit():
                raise OSError(f"bad HTTP response from {url}: {status_line!r}")
            return int(fields[1])
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except TimeoutError:
        raise OSError(f"timed out posting to {url}") from None


def _send_mail(server: tuple[str, int], sender: str, to: str, subject: str, body: str) -> None:
    # 8bit with long lines: a SubscribeURL must stay one clickable line (no quoted-printable).
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body, cte="8bit")
    with smtplib.SMTP(server[0], server[1], timeout=TIMEOUT) as smtp:
        smtp.send_message(msg)


async def send_mail(server: tuple[str, int], sender: str, to: str, subject: str, body: str) -> None:
    await asyncio.to_thread(_send_mail, server, sender, to, subject, body)
