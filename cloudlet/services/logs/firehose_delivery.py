"""Subscription filters (and cross-account destinations) whose destination is an Amazon
Data Firehose delivery stream: the ARN, the test message and the records.

Why its own module: Firehose differs from a Kinesis data stream only in these few
places; the queue, the batching, the retries and the role check are the stream sender's
(``kinesis_delivery``), shared by both. What AWS documents and this follows (the
PutSubscriptionFilter and PutDestination references, the user guide's "Subscription
filters with Amazon Data Firehose" and "Cross-account ... Firehose"):

- The stream belongs to the filter's account and Region (a destination's stream to the
  destination's account), and ``roleArn`` is required (``destinationArn for vendor
  firehose cannot be used without roleArn``).
- Creation writes a ``CONTROL_MESSAGE`` to the stream (``CWL CONTROL MESSAGE: Checking
  health of destination Firehose.``, the text users find in their buckets and filter out
  in their transformations), through Firehose's own PutRecordBatch; a stream that is
  missing, not ACTIVE or reads a Kinesis stream refuses it, and so does a role that may
  not write, answered with AWS's ``Could not deliver test message to specified Firehose
  stream. Check if the given Firehose stream is in ACTIVE state.`` (the words AWS uses
  for a role it cannot use as well).
- Each filter and batch gives one gzipped DATA_MESSAGE record, split when it would pass
  a Firehose record's 1,000 KiB; records go out with PutRecordBatch (500 records and
  4 MiB a call). Firehose concatenates them as they come, gzip members one after
  another, as on AWS (a ``Decompression`` processor or a reader of concatenated gzip
  gets the JSON back).
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.envelope import control_message, encode

log = logging.getLogger(__name__)
MAX_RECORD = 1_000 * 1024
BATCH_RECORDS = 500
BATCH_BYTES = 4 * 1024 * 1024
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Firehose."
Where = tuple[str, str, str]
"""(account, region, delivery stream ARN)."""


def hose_where(arn: str) -> Where | None:
    """Account, Region and ARN of a delivery stream ARN
    (``arn:aws:firehose:<region>:<account>:deliverystream/<name>``), None when ``arn`` is
    not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "firehose" or not parts[5].startswith("deliverystream/"):
        return None
    if not parts[5][len("deliverystream/") :]:
        return None
    return parts[4], parts[3], arn


def stream_name(arn: str) -> str:
    return arn.split("/", 1)[1]


def unreachable() -> ServiceError:
    """PutSubscriptionFilter's (and PutDestination's) answer when the delivery stream
    cannot take the test message: AWS's words."""
    return errors.invalid(
        "Could not deliver test message to specified Firehose stream. Check if the given "
        "Firehose stream is in ACTIVE state."
    )


async def put_hose(env: Any, where: Where, datas: list[bytes]) -> list[str | None]:
    """PutRecordBatch of ``datas`` (one call's worth) as the stream's account: each
    record's error code, None for those the stream took. A refused call (no such stream,
    not ACTIVE, Firehose not running) refuses them all with its code."""
    account, region, arn = where
    params = {"DeliveryStreamName": stream_name(arn), "Records": [{"Data": d} for d in datas]}
    try:
        out = await env.call("firehose", "PutRecordBatch", params, account=account, region=region)
    except ServiceError as err:  # NotImplementedOperation too: Firehose is not running
        log.debug("PutRecordBatch to %s: %s", arn, err.message)
        return [err.code] * len(datas)
    answers = out.get("RequestResponses") or [{}] * len(datas)
    return [a.get("ErrorCode") for a in answers]


async def write_control(env: Any, where: Where, now_ms: int) -> None:
    """Write AWS's CONTROL_MESSAGE to the delivery stream, or refuse as AWS does."""
    message = control_message(now_ms)
    message["logEvents"] = [{**message["logEvents"][0], "message": CONTROL_TEXT}]
    refused = await put_hose(env, where, [encode(message)])
    if any(refused):
        raise unreachable()


async def hose_active(env: Any, where: Where) -> None:
    """PutDestination's check of a delivery stream: it exists and is ACTIVE."""
    account, region, arn = where
    try:
        out = await env.call(
            "firehose",
            "DescribeDeliveryStream",
            {"DeliveryStreamName": stream_name(arn)},
            account=account,
            region=region,
        )
    except ServiceError:  # NotImplementedOperation too
        raise unreachable() from None
    if out["DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
        raise unreachable()
