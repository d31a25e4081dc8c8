"""Shared pieces of the metric stream tests: a server that sends each minute as soon as
it is over (``CLOUDLET_CLOUDWATCH_METRIC_STREAM_DELAY_SECONDS=0``) with Firehose flushing
its 60 s buffers in 1.2 s, a delivery stream into a new bucket, and the JSON objects
delivered there."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.services.firehose_helpers import FAST, bucket, keys, s3_stream

ENV = {
    **FAST,
    "CLOUDLET_CLOUDWATCH_METRIC_STREAM_DELAY_SECONDS": "0",
    "CLOUDLET_CLOUDWATCH_METRIC_STREAM_RETRY_SECONDS": "0.2",
}
ACCOUNT = "000000000000"
HINTS = {"BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1}}


def new_hose(fh: Any, s3: Any, name: str | None = None) -> tuple[str, str]:
    """A Firehose stream into a new bucket: (bucket, delivery stream ARN)."""
    name_b, arn_b = bucket(s3)
    name = s3_stream(fh, arn_b, name=name, **HINTS)
    return name_b, hose_arn(name)


def hose_arn(name: str) -> str:
    return f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"


def objects(s3: Any, bucket_name: str) -> list[bytes]:
    return [s3.get_object(Bucket=bucket_name, Key=k)["Body"].read() for k in keys(s3, bucket_name)]


def lines(
    s3: Any, bucket_name: str, want: Callable[[list[dict]], bool], timeout: float = 15
) -> list[dict]:
    """The JSON objects delivered to the bucket (each line of each object) once
    ``want(them)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        raw = b"".join(objects(s3, bucket_name))
        assert not raw or raw.endswith(b"\n")
        docs = [json.loads(line) for line in raw.splitlines()]
        if want(docs):
            return docs
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered within {timeout}s: {docs}")
        time.sleep(0.2)


def previous_minute() -> tuple[float, int]:
    """A timestamp in the minute before this one, and that minute's start in ms."""
    ts = time.time() - 60
    return ts, int(ts // 60 * 60) * 1000


def error_of(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]
