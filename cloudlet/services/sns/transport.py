"""The wire work of deliveries that leave the process: HTTP(S) POSTs and SMTP.

HTTP is ``core/http_client.py``'s (h11 over asyncio streams: a POST never blocks
the event loop), one connection per request with ``Connection: close``, as SNS
does. SMTP uses ``smtplib`` in a worker thread.
"""

from __future__ import annotations

import asyncio
import smtplib
from email import policy
from email.message import EmailMessage

from cloudlet.core import http_client

TIMEOUT = 15.0


async def http_post(
    url: str, headers: dict[str, str], body: bytes, timeout: float = TIMEOUT
) -> int:
    """POST ``body`` to ``url``; the response status (an OSError when unreachable)."""
    try:
        response = await http_client.request("POST", url, list(headers.items()), body, timeout)
    except http_client.HttpError as err:
        raise OSError(err.message) from None
    return response.status


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
