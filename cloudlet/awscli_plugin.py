"""An AWS CLI (v1) plugin for cloudlet: requests to prefixed hosts reach the endpoint.

botocore puts names in front of the endpoint's host that no resolver finds for an IP
address, and few for ``localhost``:

- S3 Control's account id (``000000000000.127.0.0.1``): cloudlet reads the account
  from the ``x-amz-account-id`` header instead, so the prefix is dropped before the
  request is signed (``drop_account_host``);
- an S3 access point's ``<name>-<account>`` when its ARN is the ``Bucket``
  (``myap-123456789012.127.0.0.1:4566``): the server needs that name, so the request
  goes to the bare endpoint with the full name in its ``Host`` header, set before
  signing so the signature covers it (``prefixed_host_as_header``). Presigned URLs are
  left alone: whoever fetches one sends no such header;
- an operation's own host prefix (CloudWatch Logs' StartLiveTail: ``stream-127.0.0.1``),
  which the server does not need: dropped before signing (``drop_host_prefix``). The
  environment's ``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` does the same for any client.

Enable it in ``~/.aws/config``::

    [plugins]
    cloudlet = cloudlet.awscli_plugin

boto3 clients get the same from ``cloudlet.testing.account_host_as_endpoint`` and
``cloudlet.testing.prefixed_hosts_as_header`` (``CloudletServer.client`` applies them).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def drop_account_host(request: Any, **_: Any) -> None:
    """botocore's ``before-sign`` hook: ``<12 digits>.<host>`` becomes ``<host>``."""
    parts = urlsplit(request.url)
    head, _dot, rest = parts.netloc.partition(".")
    if head.isdigit() and len(head) == 12 and rest:
        request.url = urlunsplit(parts._replace(netloc=rest))


def drop_host_prefix(request: Any, **_: Any) -> None:
    """botocore's ``before-sign`` hook: ``<prefix>-<IPv4 or localhost>`` (an operation's
    ``hostPrefix`` in front of an IP endpoint) becomes the bare address."""
    parts = urlsplit(request.url)
    _head, dash, rest = (parts.hostname or "").partition("-")
    if not dash or (rest != "localhost" and not _is_ipv4(rest)):
        return
    port = f":{parts.port}" if parts.port is not None else ""
    request.url = urlunsplit(parts._replace(netloc=rest + port))


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _bare_host(host: str) -> str | None:
    """The IPv4 address or ``localhost`` under a prefixed ``host`` (None: no prefix)."""
    labels = host.rstrip(".").split(".")
    if len(labels) >= 2 and labels[-1] == "localhost":
        return "localhost"
    if len(labels) >= 5 and _is_ipv4(address := ".".join(labels[-4:])):
        return address
    return None


def prefixed_host_as_header(request: Any, signature_version: Any = None, **_: Any) -> None:
    """botocore's ``before-sign`` hook: a request to ``<labels>.<IPv4 or localhost>``
    goes to the bare address, its ``Host`` header naming the full host (urllib3 sends a
    ``Host`` header it is given instead of its own)."""
    if isinstance(signature_version, str) and (
        "query" in signature_version or "presign" in signature_version
    ):
        return  # a presigned URL: its fetcher sends no Host header of ours
    parts = urlsplit(request.url)
    bare = _bare_host(parts.hostname or "")
    if bare is None:
        return
    netloc = parts.netloc.rpartition("@")[2]
    port = f":{parts.port}" if parts.port is not None else ""
    if "Host" in request.headers:
        del request.headers["Host"]
    request.headers["Host"] = netloc
    request.url = urlunsplit(parts._replace(netloc=bare + port))


def awscli_initialize(cli: Any) -> None:
    """The AWS CLI's plugin entry point."""
    cli.register("before-sign.s3-control", drop_account_host)
    cli.register("before-sign.s3", prefixed_host_as_header)
    cli.register("before-sign.logs", drop_host_prefix)
