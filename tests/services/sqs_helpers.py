"""Small helpers shared by the SQS end-to-end tests."""

from __future__ import annotations

import itertools
import time

_n = itertools.count()


def qname(prefix: str = "q", fifo: bool = False) -> str:
    """A queue name unique within the test session (tests share one server)."""
    name = f"{prefix}-{time.monotonic_ns() % 10**9}-{next(_n)}"
    return name + ".fifo" if fifo else name


def drain(sqs, url: str, *, wait: int = 0, attempts: int = 5, **kw) -> list[dict]:
    """Receive (and delete) until the queue gives nothing back."""
    out: list[dict] = []
    misses = 0
    while misses < attempts:
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, **kw
        ).get("Messages", [])
        if not msgs:
            misses += 1
            continue
        out += msgs
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )
    return out
