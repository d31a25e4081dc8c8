"""HTTP endpoint destinations: a buffer as one POST in Firehose's request format.

Why here: the developer guide's "HTTP Endpoint Delivery Request and Response
Specifications" is the contract an endpoint is written against. The request: a JSON
body ``{"requestId", "timestamp", "records": [{"data": base64}]}``, headers
``X-Amz-Firehose-Protocol-Version: 1.0``, ``X-Amz-Firehose-Request-Id`` (the same on
every retry of a batch), ``X-Amz-Firehose-Source-Arn``, ``X-Amz-Firehose-Access-Key``
when an access key is configured, ``X-Amz-Firehose-Common-Attributes`` when common
attributes are, ``Content-Type: application/json`` and ``Content-Encoding: gzip``
with GZIP content encoding. The answer: only a 200 whose JSON body carries the same
``requestId`` delivers; a 413 fails for good (and, as the guide says, is not backed
up); anything else, a timeout (3 minutes) or a refused connection is retried until
``RetryOptions.DurationInSeconds`` has passed since the first attempt, then backed up
to S3 (``worker.py``).
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from cloudlet.core import http_client
from cloudlet.core.clock import clock
from cloudlet.services.firehose.objects import DeliveryError

RESPONSE_SECONDS = 180.0


async def post(stream: Any, records: list[bytes], request_id: str, delimiter: bytes | None) -> None:
    """Deliver ``records`` to the stream's endpoint; raises ``DeliveryError``."""
    config = stream.config
    endpoint = config["EndpointConfiguration"]
    request = config.get("RequestConfiguration") or {}
    payload = {
        "requestId": request_id,
        "timestamp": int(clock.time() * 1000),
        "records": [
            {"data": base64.b64encode(r + delimiter if delimiter else r).decode()} for r in records
        ],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Amz-Firehose-Protocol-Version", "1.0"),
        ("X-Amz-Firehose-Request-Id", request_id),
        ("X-Amz-Firehose-Source-Arn", stream.arn),
        ("User-Agent", "Amazon Kinesis Data Firehose Agent/1.0"),
    ]
    if endpoint.get("AccessKey"):
        headers.append(("X-Amz-Firehose-Access-Key", endpoint["AccessKey"]))
    attributes = request.get("CommonAttributes") or []
    if attributes:
        common = {a["AttributeName"]: a["AttributeValue"] for a in attributes}
        headers.append(
            ("X-Amz-Firehose-Common-Attributes", json.dumps({"commonAttributes": common}))
        )
    if request.get("ContentEncoding") == "GZIP":
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    try:
        response = await http_client.request(
            "POST", endpoint["Url"], headers, body, timeout=RESPONSE_SECONDS
        )
    except http_client.HttpError as err:
        code = "HttpEndpoint.ResponseTimeout" if err.timeout else "HttpEndpoint.ConnectionFailed"
        raise DeliveryError(code, err.message) from None
    answer = _json(response.body)
    if response.status == 413:
        raise DeliveryError(
            "HttpEndpoint.PayloadTooLarge",
            "The endpoint answered 413: the request is too large.",
            permanent=True,
        )
    if response.status != 200:
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        raise DeliveryError(
            "HttpEndpoint.DestinationException",
            "Received the following response from the endpoint destination. "
            f"{response.status}: {message or response.body[:512].decode(errors='replace')}",
        )
    if not isinstance(answer, dict) or answer.get("requestId") != request_id:
        raise DeliveryError(
            "HttpEndpoint.InvalidResponseFromDestination",
            "The response received from the specified endpoint is invalid: its requestId "
            "does not match the request's.",
        )


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
