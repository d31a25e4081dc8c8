"""Delivery policies: the retry and request rules of HTTP/HTTPS deliveries.

Why a module of its own: a topic's ``DeliveryPolicy`` (SetTopicAttributes), a
subscription's (SetSubscriptionAttributes) and the deliverer all read the same rules,
and they are plain data and arithmetic, testable without a server. They follow the
developer guide's "Amazon SNS message delivery retries" (the default healthy retry
policy: three retries 20 seconds apart; its four phases, immediate, minimum delay,
backoff and maximum delay, in that order; linear, arithmetic, geometric and
exponential backoff).
"""

from __future__ import annotations

import json
from typing import Any

from cloudlet.services.sns import errors

DEFAULT_HTTP_POLICY: dict[str, Any] = {
    "defaultHealthyRetryPolicy": {
        "minDelayTarget": 20,
        "maxDelayTarget": 20,
        "numRetries": 3,
        "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 0,
        "backoffFunction": "linear",
    },
    "disableSubscriptionOverrides": False,
    "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
}
_BACKOFF = ("linear", "arithmetic", "geometric", "exponential")


def check_delivery_policy(text: str) -> dict[str, Any]:
    """Validate a topic's or subscription's ``DeliveryPolicy`` as AWS does."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise errors.invalid_parameter("DeliveryPolicy: failed to parse JSON") from None
    if not isinstance(doc, dict):
        raise errors.invalid_parameter("DeliveryPolicy: must be a JSON object")
    retry = (doc.get("http") or {}).get("defaultHealthyRetryPolicy") or doc.get(
        "healthyRetryPolicy"
    )
    if retry:
        _check_retry(retry)
    return doc


def _check_retry(retry: dict[str, Any]) -> None:
    def num(name: str, default: int, low: int, high: int) -> int:
        value = retry.get(name, default)
        if not isinstance(value, int) or not low <= value <= high:
            raise errors.invalid_parameter(
                f"DeliveryPolicy: healthyRetryPolicy.{name} must be between {low} and {high}"
            )
        return value

    low = num("minDelayTarget", 20, 1, 3600)
    high = num("maxDelayTarget", 20, 1, 3600)
    if low > high:
        raise errors.invalid_parameter(
            "DeliveryPolicy: healthyRetryPolicy.minDelayTarget must be less than or equal to "
            "maxDelayTarget"
        )
    total = num("numRetries", 3, 0, 100)
    parts = sum(
        num(n, 0, 0, 100) for n in ("numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries")
    )
    if parts > total:
        raise errors.invalid_parameter(
            "DeliveryPolicy: healthyRetryPolicy.numRetries must be greater than or equal to the "
            "sum of numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries"
        )
    if retry.get("backoffFunction", "linear") not in _BACKOFF:
        raise errors.invalid_parameter("DeliveryPolicy: healthyRetryPolicy.backoffFunction")


def retry_delays(retry: dict[str, Any]) -> list[float]:
    """The waits before each retry: immediate, minimum, backoff, maximum phases (AWS's order)."""
    low = float(retry.get("minDelayTarget", 20))
    high = float(retry.get("maxDelayTarget", 20))
    total = int(retry.get("numRetries", 3))
    none = int(retry.get("numNoDelayRetries", 0))
    mins = int(retry.get("numMinDelayRetries", 0))
    maxs = int(retry.get("numMaxDelayRetries", 0))
    backoff = max(0, total - none - mins - maxs)
    kind = retry.get("backoffFunction", "linear")
    steps = []
    for i in range(1, backoff + 1):
        frac = i / (backoff + 1)
        if kind == "geometric":
            frac = frac**2
        elif kind == "exponential":
            frac = (2 ** (frac * 4) - 1) / 15
        steps.append(low + (high - low) * frac)
    return [0.0] * none + [low] * mins + steps + [high] * maxs
