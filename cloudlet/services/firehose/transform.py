"""Data transformation with Lambda: one buffered batch through the function.

Why here: the developer guide's "Data Transformation and Status Model" is a contract
with the user's function, and every part of it shows: the event (``invocationId``,
``deliveryStreamArn``, ``region``, ``records`` of ``recordId``,
``approximateArrivalTimestamp`` in milliseconds and base64 ``data``; a Kinesis source
adds ``sourceKinesisStreamArn`` and each record's ``kinesisRecordMetadata``), and the
answer: every record back with its ``recordId`` and a ``result`` of ``Ok`` (its
``data`` goes on, with ``metadata.partitionKeys`` for dynamic partitioning),
``Dropped`` (gone) or ``ProcessingFailed`` (to the error prefix as
``processing-failed``).

The function is invoked in-process through Lambda's own Invoke, as the processor's
role (strict mode asks IAM whether it may ``lambda:InvokeFunction``). An invocation
that fails (no such function, a function error, an answer that is not JSON, a record
missing, repeated or with a bad result) is retried ``NumberOfRetries`` times; then
every record of the batch is failed with the guide's code (``Lambda.FunctionError``,
``Lambda.MissingRecordId`` ...), as AWS skips a batch it could not transform.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import uuid
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.firehose import partitioning
from cloudlet.services.firehose.access import role_may
from cloudlet.services.firehose.processing import Plan
from cloudlet.services.firehose.store import Buffered, Row

log = logging.getLogger(__name__)
RESULTS = ("Ok", "Dropped", "ProcessingFailed")


class Failed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def event(stream: Any, batch: list[Buffered]) -> dict[str, Any]:
    records = []
    for row in batch:
        record: dict[str, Any] = {
            "recordId": row.record_id,
            "approximateArrivalTimestamp": int(row.arrival * 1000),
            "data": base64.b64encode(row.data).decode(),
        }
        kinesis = (row.meta or {}).get("kinesis")
        if kinesis is not None:
            record["kinesisRecordMetadata"] = kinesis
        records.append(record)
    out: dict[str, Any] = {"invocationId": str(uuid.uuid4())}
    source = (stream.source or {}).get("KinesisStreamSourceDescription")
    if source is not None:
        out["sourceKinesisStreamArn"] = source["KinesisStreamARN"]
    out.update({"deliveryStreamArn": stream.arn, "region": stream.region, "records": records})
    return out


async def _invoke(env: Any, stream: Any, plan: Plan, payload: dict[str, Any]) -> Any:
    arn = plan.lambda_arn or ""
    if not role_may(env, plan.lambda_role, "lambda:InvokeFunction", arn):
        raise Failed(
            "Lambda.InvokeAccessDenied",
            "Access was denied. Ensure that the access policy allows access to the Lambda "
            "function.",
        )
    params = {
        "FunctionName": arn,
        "InvocationType": "RequestResponse",
        "Payload": json.dumps(payload).encode(),
    }
    try:
        out = await env.call(
            "lambda", "Invoke", params, account=stream.account, region=stream.region
        )
    except ServiceError as err:
        if err.code == "ResourceNotFoundException":
            raise Failed(
                "Lambda.ResourceNotFound",
                "The specified Lambda function does not exist. Use a different function that "
                "does exist.",
            ) from None
        raise Failed(f"Lambda.{err.code}", err.message) from None
    except NotImplementedOperation as err:
        raise Failed("Lambda.ServiceUnavailable", err.message) from None
    answer = out.get("Payload") or b""
    if hasattr(answer, "read"):
        answer = answer.read()
    if out.get("FunctionError"):
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        raise Failed(
            "Lambda.FunctionError",
            f"The Lambda function was successfully invoked "
            f"but it returned an error result: {text[:1024]}",
        )
    try:
        return json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        raise Failed(
            "Lambda.JsonProcessingException",
            "There was an error parsing returned records from the Lambda function.",
        ) from None


def _answers(answer: Any, batch: list[Buffered]) -> dict[str, dict[str, Any]]:
    """The answer's records by id, checked against the status model."""
    records = answer.get("records") if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise Failed(
            "Lambda.JsonProcessingException",
            "There was an error parsing returned records from the Lambda function: no "
            "records array.",
        )
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        rid = record.get("recordId") if isinstance(record, dict) else None
        if not isinstance(rid, str):
            raise Failed("Lambda.MissingRecordId", "A returned record has no recordId.")
        if rid in found:
            raise Failed(
                "Lambda.DuplicatedRecordId",
                "Multiple records were returned with the same record ID.",
            )
        if record.get("result") not in RESULTS:
            raise Failed(
                "Lambda.JsonProcessingException",
                f"Record {rid} has result {record.get('result')!r}; expected Ok, Dropped or "
                "ProcessingFailed.",
            )
        found[rid] = record
    missing = [row.record_id for row in batch if row.record_id not in found]
    if missing or len(found) != len(batch):
        raise Failed(
            "Lambda.MissingRecordId",
            "One or more record IDs were not returned. Ensure that the Lambda function "
            "returns all received record IDs.",
        )
    return found


def _failed_row(row: Buffered, code: str, message: str, attempts: int, arn: str) -> Row:
    meta = {
        "attemptsMade": attempts,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": int(clock.time() * 1000),
        "lambdaArn": arn,
    }
    return Row("failed", "processing-failed", row.record_id, row.arrival, row.data, meta)


async def transform(
    env: Any, stream: Any, plan: Plan, batch: list[Buffered], keys: list[str], retry: float
) -> list[Row]:
    """The rows ``batch`` becomes: ``out`` rows for Ok records (``part`` their partition
    keys when ``keys`` are read), ``failed`` rows for the others."""
    arn = plan.lambda_arn or ""
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = await _invoke(env, stream, plan, event(stream, batch))
            found = _answers(answer, batch)
            return _rows(found, batch, keys, attempts, arn)
        except Failed as failure:
            log.info("firehose %s: transformation failed: %s", stream.name, failure.code)
            if attempts > plan.retries:
                return [_failed_row(r, failure.code, failure.message, attempts, arn) for r in batch]
            await asyncio.sleep(retry)


def _rows(
    found: dict[str, dict[str, Any]],
    batch: list[Buffered],
    keys: list[str],
    attempts: int,
    arn: str,
) -> list[Row]:
    out: list[Row] = []
    for row in batch:
        record = found[row.record_id]
        result = record["result"]
        if result == "Dropped":
            continue
        if result == "ProcessingFailed":
            out.append(
                _failed_row(
                    row,
                    "Lambda.ProcessingFailedStatus",
                    "ProcessingFailed status set for record",
                    attempts,
                    arn,
                )
            )
            continue
        try:
            data = base64.b64decode(record.get("data") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise Failed(
                "Lambda.JsonProcessingException",
                f"Record {row.record_id} has data that is not base64.",
            ) from None
        part = ""
        if keys:
            given = ((record.get("metadata") or {}).get("partitionKeys")) or {}
            if not isinstance(given, dict) or any(not isinstance(given.get(k), str) for k in keys):
                out.append(
                    _failed_row(
                        row,
                        "DynamicPartitioning.MetadataExtractionFailed",
                        f"The record's metadata.partitionKeys lack one of {', '.join(keys)}.",
                        attempts,
                        arn,
                    )
                )
                continue
            part = partitioning.part(partitioning.lambda_keys({k: given[k] for k in keys}))
        out.append(Row("out", part, row.record_id, row.arrival, data))
    return out
