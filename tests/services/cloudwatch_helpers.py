"""Helpers for the CloudWatch service tests: calls in a chosen wire
protocol through botocore's own serializer and parser (boto3 itself speaks json to
CloudWatch; cbor and query are what other SDKs and boto 2 send)."""

from __future__ import annotations

import gzip as gzip_module
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session

_MODEL = botocore.session.get_session().get_service_model("cloudwatch")
_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/monitoring/"
    "aws4_request, SignedHeaders=host, Signature=00"
}


def call(
    endpoint: str, protocol: str, operation: str, params: dict[str, Any], *, gzip: bool = False
) -> dict[str, Any]:
    """One CloudWatch operation over ``protocol`` (its body gzipped if ``gzip``, as
    botocore sends a large one); returns botocore's parsed response (an ``Error`` key
    on failure) plus ``_status``."""
    op = _MODEL.operation_model(operation)
    req = botocore.serialize.create_serializer(protocol).serialize_to_request(params, op)
    body = req["body"]
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body).encode()
    headers = {**req["headers"], **_AUTH}
    if gzip:
        body = gzip_module.compress(body)
        headers["Content-Encoding"] = "gzip"
    url = endpoint + req["url_path"]
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, resp_headers, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, resp_headers, raw = e.code, dict(e.headers), e.read()
    parser = botocore.parsers.create_parser(protocol)
    parsed = parser.parse(
        {"status_code": status, "headers": resp_headers, "body": raw}, op.output_shape
    )
    parsed["_status"] = status
    return parsed
