"""Kinesis Data Streams for DynamoDB: a table's item changes streamed to a Kinesis stream.

Why it is built this way:

- **A destination has AWS's lifecycle.** EnableKinesisStreamingDestination answers
  ENABLING; a pass every ``INTERVAL`` seconds checks the stream with Kinesis's own
  DescribeStreamSummary and settles ACTIVE, or ENABLE_FAILED with the reason when the
  stream does not exist. DISABLING becomes DISABLED and UPDATING (a new timestamp
  precision) ACTIVE on the next pass. The entries live in the table's definition
  (``Table.kinesis``), so a restart carries on; DescribeKinesisStreamingDestination
  lists every stream the table ever used, as AWS does.
- **Records are the change log's.** While a destination is ACTIVE the table's changes
  are logged (``Engine._logging``) and this module's change hook turns each into the
  record AWS writes (``awsRegion``, ``eventID``, ``eventName``, ``userIdentity``,
  ``recordFormat`` ``application/json``, ``tableName``, ``dynamodb`` with
  ``ApproximateCreationDateTime`` in the destination's precision, ``Keys``, ``NewImage``
  and ``OldImage`` always (Kinesis destinations carry both), ``SizeBytes`` and
  ``ApproximateCreationDateTimePrecision``, and ``eventSource`` ``aws:dynamodb``), with
  the MD5 of the item's key as partition key, so one item's records stay in order.
- **Sent with Kinesis's PutRecords** (``ServiceEnv.call``), on the same pass, 500 records
  a call; a record Kinesis refuses is tried again on the next passes (at least once, as
  AWS delivers), and records still buffered are lost on a crash (never a write).

The refusals' texts are the lab's catalogue (DDB-TABLE-442) where it has them; the
others are cloudlet's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.table_syntax import check_table_reference
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import item_size

log = logging.getLogger(__name__)
Result = dict[str, Any]
INTERVAL = seconds_setting("CLOUDLET_DYNAMODB_KINESIS_INTERVAL", 0.5, low=0.05)
PRECISIONS = ("MILLISECOND", "MICROSECOND")
DEFAULT_PRECISION = "MICROSECOND"
"""The default timestamp precision (the CDK's ApproximateCreationDateTimePrecision)."""
LIVE = ("ACTIVE", "UPDATING")
BATCH = 500
MAX_TRIES = 10
MAX_BUFFERED = 100_000
_STATE = "Table is not in a valid state to enable Kinesis Streaming Destination: "


def streaming(table: Table) -> bool:
    """Whether the table's changes go to a Kinesis stream now."""
    return any(d["status"] in LIVE for d in table.kinesis)


def _entry(table: Table, arn: str) -> dict[str, Any] | None:
    for d in table.kinesis:
        if d["arn"] == arn:
            return d
    return None


def _check_arn(arn: Any) -> str:
    if not isinstance(arn, str) or not arn.startswith("arn:aws:kinesis:") or ":stream/" not in arn:
        raise errors.validation(f"{_INVALID}Invalid StreamArn: {arn}")
    return arn


_INVALID = "One or more parameter values were invalid: "


def _precision(spec: Any) -> str | None:
    value = (spec or {}).get("ApproximateCreationDateTimePrecision")
    errors.check_enum(value, "approximateCreationDateTimePrecision", PRECISIONS)
    return value


class KinesisDestinations:
    """The four operations and the pass, mixed into ``DynamoDBService`` (``engine``, ``env``)."""

    engine: Engine
    env: Any

    def _start_kinesis(self) -> None:
        self._kinesis_buffer: dict[tuple[str, str, str], list[list[Any]]] = defaultdict(list)
        self._kinesis_buffered = 0
        self.engine.change_hooks.append(self._kinesis_change)
        self.env.every(INTERVAL, self._kinesis_tick, "dynamodb-kinesis-destinations")

    def _kinesis_table(self, ctx: Any, params: dict[str, Any]) -> Table:
        check_table_reference(params["TableName"])
        table = self.engine.find(ctx.account_id, ctx.region, params["TableName"])
        if table is None:
            raise errors.table_not_found(params["TableName"])
        return table

    # ---- operations

    def enable_kinesis_streaming_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        precision = _precision(params.get("EnableKinesisStreamingConfiguration"))
        arn = _check_arn(params["StreamArn"])
        table = self._kinesis_table(ctx, params)
        if table.status != "ACTIVE":
            raise errors.resource_in_use(f"Table is being updated: {table.name}")
        entry = _entry(table, arn)
        if entry is not None and entry["status"] not in ("DISABLED", "ENABLE_FAILED"):
            raise errors.validation(
                f"{_STATE}EnableKinesisStreamingDestination must be DISABLED or ENABLE_FAILED "
                "to perform ENABLE operation."
            )
        others = [
            d for d in table.kinesis if d["arn"] != arn and d["status"] in (*LIVE, "ENABLING")
        ]
        if others:
            raise errors.limit_exceeded(
                f"Table {table.name} already streams to Kinesis stream {others[0]['arn']}: "
                "disable it first"
            )
        precision = precision or DEFAULT_PRECISION
        if entry is None:
            entry = {"arn": arn}
            table.kinesis.append(entry)
        entry.update(status="ENABLING", precision=precision, description=None)
        self.engine.save(table)
        return _answer(table, entry, "EnableKinesisStreamingConfiguration")

    def disable_kinesis_streaming_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        _precision(params.get("EnableKinesisStreamingConfiguration"))
        arn = _check_arn(params["StreamArn"])
        table = self._kinesis_table(ctx, params)
        entry = _entry(table, arn)
        if entry is None or entry["status"] != "ACTIVE":
            raise errors.validation(
                f"{_STATE}KinesisStreamingDestination must be ACTIVE to perform DISABLE operation."
            )
        entry["status"] = "DISABLING"
        self.engine.save(table)
        return _answer(table, entry, "EnableKinesisStreamingConfiguration")

    def update_kinesis_streaming_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        precision = _precision(params.get("UpdateKinesisStreamingConfiguration"))
        arn = _check_arn(params["StreamArn"])
        table = self._kinesis_table(ctx, params)
        entry = _entry(table, arn)
        if entry is None or entry["status"] != "ACTIVE":
            raise errors.validation(
                f"{_STATE}Kinesis streaming is not in ACTIVE state. Updates are only allowed in "
                f"ACTIVE state. TableName: {table.name}, kdsArn: {arn}"
            )
        if precision is None:
            raise errors.validation(
                f"{_INVALID}UpdateKinesisStreamingConfiguration must set "
                "ApproximateCreationDateTimePrecision"
            )
        if precision == entry["precision"]:
            raise errors.validation(
                f"Invalid Request: Precision is already set to the desired value of {precision} "
                f"for tableId: {table.table_id}, kdsArn: {arn}"
            )
        entry.update(status="UPDATING", precision=precision)
        self.engine.save(table)
        return _answer(table, entry, "UpdateKinesisStreamingConfiguration")

    def describe_kinesis_streaming_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        table = self._kinesis_table(ctx, params)
        out = []
        for d in table.kinesis:
            shown: Result = {
                "StreamArn": d["arn"],
                "DestinationStatus": d["status"],
                "ApproximateCreationDateTimePrecision": d["precision"],
            }
            if d.get("description"):
                shown["DestinationStatusDescription"] = d["description"]
            out.append(shown)
        return {"TableName": table.name, "KinesisDataStreamDestinations": out}

    # ---- records

    def _kinesis_change(self, table: Table, change: dict[str, Any]) -> None:
        """The change hook: a Kinesis record for each live destination of ``table``."""
        if not table.kinesis or self._kinesis_buffered >= MAX_BUFFERED:
            return
        for d in table.kinesis:
            if d["status"] not in LIVE:
                continue
            record = _record(table, change, d["precision"])
            key = json.dumps(change["keys"], sort_keys=True, separators=(",", ":"))
            partition = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest().upper()
            data = json.dumps(record, separators=(",", ":")).encode()
            self._kinesis_buffer[(table.account, table.region, d["arn"])].append(
                [partition, data, 0]
            )
            self._kinesis_buffered += 1

    async def _kinesis_tick(self) -> None:
        await self._settle_destinations()
        await self._send_records()

    async def _settle_destinations(self) -> None:
        for table in list(self.engine.by_id.values()):
            changed = False
            for d in table.kinesis:
                if d["status"] == "ENABLING":
                    reason = await self._stream_missing(table, d["arn"])
                    d["status"] = "ENABLE_FAILED" if reason else "ACTIVE"
                    d["description"] = reason
                    changed = True
                elif d["status"] in ("DISABLING", "UPDATING"):
                    d["status"] = "DISABLED" if d["status"] == "DISABLING" else "ACTIVE"
                    changed = True
            if changed and self.engine.by_id.get(table.tid) is table:
                self.engine.save(table)

    async def _stream_missing(self, table: Table, arn: str) -> str | None:
        """Why the stream cannot take records (None: it can)."""
        fields = arn.split(":")
        region, account = fields[3], fields[4]
        if (account, region) != (table.account, table.region):
            return f"Kinesis stream {arn} is not in the table's account and Region"
        try:
            await self.env.call(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": arn},
                account=account,
                region=region,
            )
        except NotImplementedOperation:
            return "Kinesis Data Streams is not running"
        except ServiceError as err:
            return f"Kinesis stream {arn} is not available: {err.message}"
        return None

    async def _send_records(self) -> None:
        buffer, self._kinesis_buffer = self._kinesis_buffer, defaultdict(list)
        self._kinesis_buffered = 0
        for (account, region, arn), records in buffer.items():
            retry: list[list[Any]] = []
            for start in range(0, len(records), BATCH):
                chunk = records[start : start + BATCH]
                entries = [{"PartitionKey": p, "Data": data} for p, data, _ in chunk]
                refused = await self.env.put_records(arn, entries, account=account, region=region)
                for record, code in zip(chunk, refused, strict=False):
                    if code and record[2] + 1 < MAX_TRIES:
                        retry.append([record[0], record[1], record[2] + 1])
            if retry:
                self._kinesis_buffer[(account, region, arn)][:0] = retry
                self._kinesis_buffered += len(retry)


def _answer(table: Table, entry: dict[str, Any], member: str) -> Result:
    """Enable's, Disable's or Update's answer (``member``: its configuration's name)."""
    return {
        "TableName": table.name,
        "StreamArn": entry["arn"],
        "DestinationStatus": entry["status"],
        member: {"ApproximateCreationDateTimePrecision": entry["precision"]},
    }


def _record(table: Table, change: dict[str, Any], precision: str) -> dict[str, Any]:
    """AWS's Kinesis record of one change."""
    at = change["at"]
    stamp = int(at * 1_000_000) if precision == "MICROSECOND" else int(at * 1000)
    body: dict[str, Any] = {"ApproximateCreationDateTime": stamp, "Keys": change["keys"]}
    if change.get("new") is not None:
        body["NewImage"] = change["new"]
    if change.get("old") is not None:
        body["OldImage"] = change["old"]
    sized = change.get("new") if change.get("new") is not None else change.get("old")
    body["SizeBytes"] = item_size(sized or change["keys"])
    body["ApproximateCreationDateTimePrecision"] = precision
    return {
        "awsRegion": table.region,
        "eventID": str(uuid.uuid4()),
        "eventName": change["op"],
        "userIdentity": _identity(change.get("user")),
        "recordFormat": "application/json",
        "tableName": table.name,
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


def _identity(user: dict[str, str] | None) -> dict[str, str] | None:
    """A TTL deletion's service identity, as Kinesis records spell it (``type``,
    ``principalId``; DynamoDB Streams records capitalize them)."""
    if user is None:
        return None
    return {k[:1].lower() + k[1:]: v for k, v in user.items()}
