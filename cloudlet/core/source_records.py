"""The records AWS hands to consumers of queues and streams, built once.

Lambda's event source mappings and EventBridge Pipes read the same sources (SQS queues,
DynamoDB streams, Kinesis streams) through the sources' own APIs and pass on the same
record shapes (the Lambda developer guide's event samples; the Pipes user guide's, where
a Kinesis record's fields sit at the top level instead of under ``kinesis``). The
shapes, and the way a batch is gathered from a queue, live here so the two cannot
drift apart.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

Doc = dict[str, Any]
LONG_POLL = 20
"""ReceiveMessage's longest wait, which pollers of queues use while nothing has come."""


def jsonable(value: Any) -> Any:
    """An internal API result as the JSON a consumer receives (bytes base64, times epoch
    seconds, whole decimals as integers)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


async def receive_batch(
    sqs: Callable[[str, Doc], Awaitable[Doc]], url: str, size: int, window: float
) -> list[Doc]:
    """Up to ``size`` messages of queue ``url``, as an SQS poller gathers a batch: long
    polls until the first arrives, then more until the batch is full or ``window``
    seconds (the batching window) have passed since. ``sqs`` calls SQS's operations."""
    batch: list[Doc] = []
    deadline = None
    while len(batch) < size:
        if deadline is None:
            wait = LONG_POLL
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = min(LONG_POLL, math.ceil(left)) if left >= 1 else 0
        res = await sqs(
            "ReceiveMessage",
            {
                "QueueUrl": url,
                "MaxNumberOfMessages": min(10, size - len(batch)),
                "WaitTimeSeconds": wait,
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        )
        got = res.get("Messages") or []
        batch += got
        if batch and deadline is None:
            if window <= 0:
                break
            deadline = time.monotonic() + window
        if not got and wait == 0:
            await asyncio.sleep(0.05)
    return batch


def sqs_record(msg: Doc, arn: str) -> Doc:
    """A ReceiveMessage message as an ``aws:sqs`` record of queue ``arn``."""
    attributes = {}
    for name, attr in (msg.get("MessageAttributes") or {}).items():
        entry: Doc = {"stringListValues": [], "binaryListValues": [], "dataType": attr["DataType"]}
        if "StringValue" in attr:
            entry["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            entry["binaryValue"] = jsonable(attr["BinaryValue"])
        attributes[name] = entry
    record: Doc = {
        "messageId": msg["MessageId"],
        "receiptHandle": msg["ReceiptHandle"],
        "body": msg["Body"],
        "attributes": msg.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": msg["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in msg:
        record["md5OfMessageAttributes"] = msg["MD5OfMessageAttributes"]
    return record


def kinesis_data(raw: Doc) -> Doc:
    """A GetRecords record's own fields, as consumers receive them."""
    arrival = raw["ApproximateArrivalTimestamp"]
    seconds = arrival.timestamp() if hasattr(arrival, "timestamp") else float(arrival)
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": raw["PartitionKey"],
        "sequenceNumber": raw["SequenceNumber"],
        "data": base64.b64encode(raw["Data"]).decode(),
        "approximateArrivalTimestamp": round(seconds, 3),
    }


def kinesis_envelope(raw: Doc, shard: str, stream_arn: str, role: str) -> Doc:
    """The fields around a Kinesis record: its event id, name, source and role."""
    return {
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{raw['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }


def ready_shards(shards: list[Doc], state: dict[str, Doc]) -> list[tuple[str, Doc]]:
    """(shard id, its saved position) of the shards a stream reader may read now: known
    to the reader, not read to their end, and with every parent (a reshard's) finished,
    so a key's records are read in order across a split or merge."""
    ready = []
    for shard in shards:
        sid = shard["ShardId"]
        mine = state.get(sid)
        if mine is None or mine.get("finished"):
            continue
        parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
        if any(p in state and not state[p].get("finished") for p in parents if p):
            continue
        ready.append((sid, mine))
    return ready


async def list_shards(call: Callable[[str, Doc], Awaitable[Doc]], arn: str) -> list[Doc]:
    """Every shard of the Kinesis stream ``arn``, through ``call`` (ListShards, paged)."""
    shards: list[Doc] = []
    params: Doc = {"StreamARN": arn}
    while True:
        res = await call("ListShards", params)
        shards += res.get("Shards") or []
        if not res.get("NextToken"):
            return shards
        params = {"NextToken": res["NextToken"]}


def note_shards(position: Doc, shards: list[Doc], starting: str) -> bool:
    """Remember in ``position["shards"]`` the shards seen for the first time: at the
    reader's start they begin at its ``starting`` position (closed ones passed over for
    LATEST); later ones (children of a reshard) from their start. Whether anything
    changed (the reader saves its position then)."""
    first = "shards" not in position
    state = position.setdefault("shards", {})
    changed = first
    for shard in shards:
        sid = shard["ShardId"]
        if sid in state:
            continue
        closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
        start = starting if first else "TRIM_HORIZON"
        state[sid] = {"start": start, "finished": first and closed and start == "LATEST"}
        changed = True
    return changed
