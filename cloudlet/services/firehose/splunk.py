"""Splunk destinations: a buffer as one request to an HTTP Event Collector, acknowledged.

Why here: the developer guide's Splunk delivery is a contract with HEC, and each part
of it shows. Records are concatenated as they are (the guide: "Firehose concatenates
the bytes that you send"; ``AppendDelimiterToRecord`` adds a delimiter) and POSTed to
``<HECEndpoint>/services/collector/raw`` (``HECEndpointType`` Raw) or
``/services/collector/event`` (Event: the records are HEC events, ``{"event": ...}``
objects one after another), with ``Authorization: Splunk <HECToken>`` and the
stream's data channel in ``X-Splunk-Request-Channel`` (one GUID per delivery stream, as
indexer acknowledgement reads acknowledgements per channel).

Firehose delivers only with indexer acknowledgement: HEC's answer must carry an
``ackId``, which is then polled at ``/services/collector/ack`` (``{"acks": [id]}``,
same token and channel) until HEC reports it indexed or
``HECAcknowledgmentTimeoutInSeconds`` has passed since the request was sent. Failures
come back as ``DeliveryError`` with the guide's codes ("Splunk Data Delivery Errors"),
chosen by HEC's own status codes: ``Splunk.InvalidToken``, ``Splunk.DisabledToken``,
``Splunk.InvalidDataFormat``, ``Splunk.InvalidIndex``, ``Splunk.ServerError``,
``Splunk.DisabledAck``, ``Splunk.AckTimeout``, ``Splunk.ConnectionTimeout`` and
``Splunk.InvalidEndpoint``; the worker retries them for ``RetryOptions`` and then backs
the records up to S3 as ``splunk-failed``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from cloudlet.core import http_client
from cloudlet.core.clock import clock
from cloudlet.services.firehose.objects import DeliveryError

PATHS = {"Raw": "/services/collector/raw", "Event": "/services/collector/event"}
ACK_PATH = "/services/collector/ack"
MESSAGES = {
    "Splunk.DisabledToken": "The HEC token is disabled. Enable the token to allow data "
    "delivery to Splunk.",
    "Splunk.InvalidToken": "The HEC token is invalid. Update Firehose with a valid HEC token.",
    "Splunk.InvalidDataFormat": "The data is not formatted correctly. To see how to properly "
    "format data for Raw or Event HEC endpoints, see Splunk Event Data.",
    "Splunk.InvalidIndex": "The HEC token or input is configured with an invalid index. Check "
    "your index configuration and try again.",
    "Splunk.ServerError": "Data delivery to Splunk failed due to a server error from the HEC "
    "node. Firehose will retry sending the data if the retry duration in your Firehose is "
    "greater than 0. If all the retries fail, Firehose backs up the data to Amazon S3.",
    "Splunk.DisabledAck": "Indexer acknowledgement is disabled for the HEC token. Enable "
    "indexer acknowledgement and try again.",
    "Splunk.AckTimeout": "Did not receive an acknowledgement from HEC before the HEC "
    "acknowledgement timeout expired. Despite the acknowledgement timeout, it's possible the "
    "data was indexed successfully in Splunk. Firehose backs up in Amazon S3 data for which "
    "the acknowledgement timeout expired.",
    "Splunk.ConnectionTimeout": "The connection to Splunk timed out. This might be a "
    "transient error and the request will be retried. Firehose backs up the data to Amazon "
    "S3 if all retries fail.",
    "Splunk.InvalidEndpoint": "Could not connect to the HEC endpoint. Make sure that the HEC "
    "endpoint URL is valid and reachable from Firehose.",
}
HEC_CODES = {
    1: "Splunk.DisabledToken",
    2: "Splunk.InvalidToken",
    3: "Splunk.InvalidToken",
    4: "Splunk.InvalidToken",
    5: "Splunk.InvalidDataFormat",
    6: "Splunk.InvalidDataFormat",
    7: "Splunk.InvalidIndex",
    12: "Splunk.InvalidDataFormat",
    13: "Splunk.InvalidDataFormat",
    14: "Splunk.DisabledAck",
}
"""HEC's status codes (its "Troubleshoot HTTP Event Collector" table) by their meaning."""


def channel(stream_arn: str) -> str:
    """The stream's HEC data channel: a GUID that stays the same across restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, stream_arn))


def _failure(code: str, detail: str = "") -> DeliveryError:
    message = MESSAGES[code] + (f" ({detail})" if detail else "")
    return DeliveryError(code, message)


def _answer(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _refused(status: int, answer: dict[str, Any]) -> DeliveryError:
    detail = f"HEC answered {status}: {answer.get('text') or 'no reason given'}"
    code = HEC_CODES.get(answer.get("code")) if isinstance(answer.get("code"), int) else None
    if code is None:
        if status in (401, 403):
            code = "Splunk.InvalidToken"
        elif status == 400:
            code = "Splunk.InvalidDataFormat"
        else:
            code = "Splunk.ServerError"
    return _failure(code, detail)


async def _post(url: str, headers: list[tuple[str, str]], body: bytes, timeout: float) -> Any:
    try:
        return await http_client.request("POST", url, headers, body, timeout=max(timeout, 1.0))
    except http_client.HttpError as err:
        code = "Splunk.ConnectionTimeout" if err.timeout else "Splunk.InvalidEndpoint"
        raise _failure(code, err.message) from None


async def deliver(
    stream: Any, records: list[bytes], delimiter: bytes | None, ack_timeout: float, poll: float
) -> float:
    """Send ``records`` to the stream's HEC and wait for their acknowledgement; the
    seconds the acknowledgement took. Raises ``DeliveryError``."""
    config = stream.config
    base = config["HECEndpoint"].rstrip("/")
    kind = config["HECEndpointType"]
    headers = [
        ("Authorization", f"Splunk {config['HECToken']}"),
        ("X-Splunk-Request-Channel", channel(stream.arn)),
        ("User-Agent", "Amazon Kinesis Data Firehose Agent/1.0"),
    ]
    content = "application/json" if kind == "Event" else "text/plain; charset=utf-8"
    body = b"".join(r + delimiter for r in records) if delimiter else b"".join(records)
    sent = clock.monotonic()
    deadline = sent + ack_timeout
    response = await _post(
        base + PATHS[kind], [*headers, ("Content-Type", content)], body, ack_timeout
    )
    answer = _answer(response.body)
    if response.status != 200 or answer.get("code", 0) != 0:
        raise _refused(response.status, answer)
    ack = answer.get("ackId")
    if not isinstance(ack, int):
        raise _failure("Splunk.DisabledAck", "HEC's answer carries no ackId")
    request = json.dumps({"acks": [ack]}).encode()
    ack_headers = [*headers, ("Content-Type", "application/json")]
    while True:
        left = deadline - clock.monotonic()
        if left <= 0:
            raise _failure("Splunk.AckTimeout")
        response = await _post(base + ACK_PATH, ack_headers, request, left)
        answer = _answer(response.body)
        if response.status != 200:
            raise _refused(response.status, answer)
        if (answer.get("acks") or {}).get(str(ack)) is True:
            return clock.monotonic() - sent
        await asyncio.sleep(min(poll, max(deadline - clock.monotonic(), 0.0)))
