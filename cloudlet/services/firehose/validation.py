"""The constraints of Firehose's botocore model (lengths, ranges, patterns, enums),
checked before an operation looks at its input.

Why here: Firehose answers every broken constraint as one ``ValidationException`` ("2
validation errors detected: Value 'a b' at 'deliveryStreamName' failed to satisfy
constraint: ..."); the walk of the model is ``core.model_constraints``'s, shared with
Pipes. One departure, deliberate: an HTTP endpoint URL may be ``http://`` to a loopback
host (AWS takes only HTTPS; local test servers do not have certificates), as cloudlet's
EventBridge API destinations allow.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.model import Shape

from cloudlet.core.http_client import is_loopback
from cloudlet.core.model_constraints import violations
from cloudlet.services.firehose import errors

MAX_REPORTED = 10


def check(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException for every constraint of ``operation``'s input that
    ``params`` breaks."""
    broken = [text for _path, text in violations("firehose", operation, params, _exempt)]
    if broken:
        count = len(broken)
        noun = "error" if count == 1 else "errors"
        shown = "; ".join(broken[:MAX_REPORTED])
        raise errors.validation(f"{count} validation {noun} detected: {shown}")


def local_http(url: str) -> bool:
    """Whether ``url`` is plain HTTP to this machine (cloudlet's allowance)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def _exempt(shape: Shape, value: str) -> bool:
    return shape.name == "HttpEndpointUrl" and local_http(value)
