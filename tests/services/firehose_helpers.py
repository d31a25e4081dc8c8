"""Shared pieces of the Firehose tests: a fast server, a stream to S3, polling S3."""

from __future__ import annotations

import gzip
import time
from typing import Any

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import LAMBDA_ENV
from tests.services.names import unique

ROLE = "arn:aws:iam::000000000000:role/firehose-role"
FAST = {
    **LAMBDA_ENV,
    "CLOUDLET_FIREHOSE_CHANGE_SECONDS": "0.2",
    "CLOUDLET_FIREHOSE_INTERVAL_SCALE": "0.02",
    "CLOUDLET_FIREHOSE_RETRY_SECONDS": "0.2",
    "CLOUDLET_FIREHOSE_METRICS_INTERVAL": "1",
    "CLOUDLET_KINESIS_CHANGE_SECONDS": "0.2",
}
"""Settings of the test servers: a 60 s buffering interval flushes after 1.2 s."""


def start(**kwargs: Any) -> CloudletServer:
    return CloudletServer.start(env=FAST, **kwargs)


def wait_status(fh: Any, name: str, status: str = "ACTIVE", timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if desc["DeliveryStreamStatus"] == status:
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {desc['DeliveryStreamStatus']}, not {status}")
        time.sleep(0.1)


def bucket(s3: Any) -> tuple[str, str]:
    name = unique("fh")
    s3.create_bucket(Bucket=name)
    return name, f"arn:aws:s3:::{name}"


def s3_stream(fh: Any, bucket_arn: str, *, name: str | None = None, **config: Any) -> str:
    """An ACTIVE DirectPut stream to ``bucket_arn`` (``config``: more of the
    ExtendedS3DestinationConfiguration); its name."""
    name = name or unique("hose")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": bucket_arn, **config},
    )
    wait_status(fh, name)
    return name


def keys(s3: Any, bucket_name: str, prefix: str = "") -> list[str]:
    out = s3.list_objects_v2(Bucket=bucket_name, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in out)


def objects(
    s3: Any, bucket_name: str, count: int, prefix: str = "", timeout: float = 15
) -> dict[str, bytes]:
    """At least ``count`` objects under ``prefix`` (key -> bytes), within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = keys(s3, bucket_name, prefix)
        if len(found) >= count:
            return {k: s3.get_object(Bucket=bucket_name, Key=k)["Body"].read() for k in found}
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} objects within {timeout}s: {found}")
        time.sleep(0.1)


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
