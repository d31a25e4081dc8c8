"""What a pipe reads, in AWS's Pipes shapes, and how filters and templates see it.

Why: a pipe's events are what Lambda's event source mappings hand a function, one JSON
object per record (the user guide's sample events per source), and every later step
(filters, input templates, dynamic target parameters) reads them through AWS's
"implicit body data parsing": an SQS ``body`` that is JSON and a Kinesis ``data`` whose
base64-decoded bytes are JSON are seen as that JSON, so ``<$.body.key>`` and
``{"data": {"City": ["Seattle"]}}`` reach inside; a Kinesis ``data`` that is not JSON
stays base64, an SQS body that is not JSON stays its text. DynamoDB stream records are
seen as they are.

- SQS: ``messageId``, ``receiptHandle``, ``body``, ``attributes``,
  ``messageAttributes``, ``md5OfBody``, ``eventSource`` ``aws:sqs``,
  ``eventSourceARN``, ``awsRegion``.
- Kinesis: the record's fields at the top level (not under ``kinesis`` as Lambda has
  them): ``kinesisSchemaVersion``, ``partitionKey``, ``sequenceNumber``, ``data``,
  ``approximateArrivalTimestamp``, then ``eventSource`` ``aws:kinesis``,
  ``eventVersion``, ``eventID`` (``<shard>:<sequence number>``), ``eventName``,
  ``invokeIdentityArn`` (the pipe's role), ``awsRegion``, ``eventSourceARN``.
- DynamoDB: GetRecords' record (``eventID``, ``eventName``, ``dynamodb`` ...) with the
  stream's ``eventSourceARN``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cloudlet.core.source_records import jsonable, kinesis_data, kinesis_envelope

Doc = dict[str, Any]

POLLER_FIELDS = {
    "aws:sqs": frozenset(("eventSource", "eventSourceARN", "awsRegion")),
    "aws:kinesis": frozenset(
        (
            "awsRegion",
            "eventSource",
            "eventSourceARN",
            "eventVersion",
            "eventID",
            "eventName",
            "invokeIdentityArn",
        )
    ),
    "aws:dynamodb": frozenset(("eventSourceARN",)),
}
"""Fields the poller adds to each source's records, which event patterns cannot match
(the filtering guide lists them; a DynamoDB record's ``eventName``, ``eventID`` ... come
from GetRecords itself, so they can)."""


def kinesis_record(raw: Doc, shard: str, arn: str, role: str) -> Doc:
    """A Kinesis record as a pipe passes it on: its fields at the top level."""
    return {**kinesis_data(raw), **kinesis_envelope(raw, shard, arn, role)}


def dynamodb_record(raw: Doc, arn: str) -> Doc:
    return {**jsonable(raw), "eventSourceARN": arn}


def sequence_of(record: Doc) -> str:
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    return record["sequenceNumber"]


def arrival_of(record: Doc) -> float | None:
    """When a stream record arrived (epoch seconds), if it says."""
    if "approximateArrivalTimestamp" in record:
        return float(record["approximateArrivalTimestamp"])
    when = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    return float(when) if when else None


def view(event: Any) -> Any:
    """An event as filters, templates and dynamic parameters see it: an SQS body or a
    Kinesis data that is JSON, parsed."""
    if not isinstance(event, dict):
        return event
    source = event.get("eventSource")
    if source == "aws:sqs" and isinstance(event.get("body"), str):
        try:
            return {**event, "body": json.loads(event["body"])}
        except ValueError:
            return event
    if source == "aws:kinesis" and isinstance(event.get("data"), str):
        try:
            return {**event, "data": json.loads(base64.b64decode(event["data"]).decode())}
        except (ValueError, UnicodeDecodeError):
            return event
    return event


def payload_json(text: str) -> Any:
    """A rendered payload as JSON when it is JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text
