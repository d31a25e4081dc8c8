"""An AWS CLI (v1) plugin for cloudlet: S3 Control requests go to the endpoint as given.

botocore puts the account id in front of S3 Control's host (``000000000000.127.0.0.1``),
which no resolver finds for an IP address and few for ``localhost``; cloudlet reads the
account from the ``x-amz-account-id`` header instead, so the prefix is dropped before the
request is signed. Enable it in ``~/.aws/config``::

    [plugins]
    cloudlet = cloudlet.awscli_plugin

boto3 clients get the same from ``cloudlet.testing.account_host_as_endpoint``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


def drop_account_host(request: Any, **_: Any) -> None:
    """botocore's ``before-sign`` hook: ``<12 digits>.<host>`` becomes ``<host>``."""
    parts = urlsplit(request.url)
    head, _dot, rest = parts.netloc.partition(".")
    if head.isdigit() and len(head) == 12 and rest:
        request.url = urlunsplit(parts._replace(netloc=rest))


def awscli_initialize(cli: Any) -> None:
    """The AWS CLI's plugin entry point."""
    cli.register("before-sign.s3-control", drop_account_host)
