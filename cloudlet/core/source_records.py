"""The records AWS hands to consumers of queues and streams, built once.

Lambda's event source mappings and EventBridge Pipes read the same sources (SQS queues,
DynamoDB streams, Kinesis streams) through the sources' own APIs and pass on the same
record shapes (the Lambda developer guide's event samples; the Pipes user guide's, where
a Kinesis record's fields sit at the top level instead of under ``kinesis``). The
shapes live here so the two cannot drift apart.
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

Doc = dict[str, Any]


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
