"""ExportTableToPointInTime: a table as it was at a moment, written to S3 as AWS lays it out.

Why this module exists:

- **Reading the past.** An export (and RestoreTableToPointInTime, which uses the
  same reads) wants the table *as of* a time inside the PITR window. While PITR
  is on, ``Engine.write`` logs every change with its old image in ``changes``,
  so the state at ``T`` is today's items with every change after ``T`` undone:
  ``undo_after`` gives, per key, the image before its first change after ``T``
  (None: the item did not exist). ``window_changes`` gives, per key, the first
  old and last new image between two times (incremental exports).
- **The files.** AWS's documented layout under
  ``<prefix>/AWSDynamoDB/<ExportId>/``: an empty ``_started`` marker first (it
  proves the bucket is writable), gzipped JSON-lines (or Ion text) data files,
  ``manifest-files.json`` (one line per data file), ``manifest-summary.json``
  and a ``.checksum`` beside each manifest. Incremental exports put their data
  files in the shared ``<prefix>/AWSDynamoDB/data/`` folder, as AWS does.
- **Asynchrony.** The handler validates, takes the snapshot (one synchronous
  read, so no later write can leak in) and answers ``IN_PROGRESS``; an asyncio
  task encodes and gzips in a worker thread and uploads, then the export reads
  ``COMPLETED`` (or ``FAILED`` with an ``S3<ErrorCode>`` failure code, as AWS
  reports a missing bucket). Exports are rows of the DynamoDB database; one
  still in progress when the server stopped is run again at start-up.

S3 writes go through ``ServiceEnv.call("s3", "PutObject", ...)``: S3's own
validation and notifications, as for any client.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudlet.core import ids
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.dynamodb.engine import Engine, Key
from cloudlet.services.dynamodb.jobs import JobRecords
from cloudlet.services.dynamodb.store import dump, load
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import AV, Item, item_size

log = logging.getLogger(__name__)


FILE_BYTES = 64 * 1024 * 1024
"""Start a new data file once this many uncompressed bytes are written to one."""
MAX_INCREMENTAL = 24 * 3600


def export_not_found(arn: str) -> ServiceError:
    return ServiceError("ExportNotFoundException", f"Export not found: {arn}", 400)


def export_conflict() -> ServiceError:
    """A ClientToken reused with other parameters (AWS's text: ack-api-quirks DDB-EXPORT-009)."""
    return ServiceError(
        "ExportConflictException",
        "Export conflict: Duplicate request detected with conflicting parameters",
        400,
    )


def invalid_export_time(message: str) -> ServiceError:
    return ServiceError("InvalidExportTimeException", message, 400)


# --------------------------------------------------------------------------- the past


def _changes(engine: Engine, table: Table, after: float, until: float | None) -> Iterable[Any]:
    conn = engine.store.conn
    if until is None:
        return conn.execute(
            "SELECT at, record FROM changes WHERE tid = ? AND at > ? ORDER BY seq",
            (table.tid, after),
        )
    return conn.execute(
        "SELECT at, record FROM changes WHERE tid = ? AND at > ? AND at <= ? ORDER BY seq",
        (table.tid, after, until),
    )


def undo_after(engine: Engine, table: Table, when: float) -> dict[Key, Item | None]:
    """Per key changed after ``when``: its image just before the first such change.

    Applying these over the current items gives the table as it was at ``when``
    (the same as undoing every later change in reverse order, one write per key).
    """
    out: dict[Key, Item | None] = {}
    for _at, blob in _changes(engine, table, when, None):
        record = load(blob)
        key = table.key_of(record["keys"], is_key=True, sizes=False)
        if key not in out:
            out[key] = record["old"]
    return out


@dataclass(slots=True)
class Change:
    """An item's net change over an incremental export's window."""

    keys: Item
    old: Item | None
    new: Item | None
    at: float


def window_changes(engine: Engine, table: Table, start: float, end: float) -> list[Change]:
    """Per key changed in ``[start, end)``: the image before and after the window.

    Keys whose item did not exist at either end (put then deleted) are left out,
    as AWS's incremental export compacts them away.
    """
    out: dict[Key, Change] = {}
    # ``_changes`` takes (after, until]; an inclusive start is "after start - epsilon".
    for at, blob in _changes(engine, table, _before(start), _before(end)):
        record = load(blob)
        key = table.key_of(record["keys"], is_key=True, sizes=False)
        change = out.get(key)
        if change is None:
            out[key] = Change(record["keys"], record["old"], record["new"], at)
        else:
            change.new = record["new"]
            change.at = at
    return [c for c in out.values() if c.old is not None or c.new is not None]


def _before(t: float) -> float:
    """The largest float below ``t``: turns a ``> t`` bound into ``>= t``."""
    return math.nextafter(t, -math.inf)


def snapshot(engine: Engine, table: Table, when: float) -> list[tuple[int, bytes]]:
    """``(size, stored body)`` of the table's items as they were at ``when``, in scan order."""
    rows = engine.store.conn.execute(
        "SELECT h, hk, rk, size, body FROM items WHERE tid = ? ORDER BY h, hk, rk", (table.tid,)
    ).fetchall()
    undo = undo_after(engine, table, when)
    if not undo:
        return [(size, body) for _h, _hk, _rk, size, body in rows]
    current = {(h, hk, rk): (size, body) for h, hk, rk, size, body in rows}
    for key, old in undo.items():
        if old is None:
            current.pop(key, None)
        else:
            current[key] = (item_size(old), dump(old))
    return [current[k] for k in sorted(current)]


# --------------------------------------------------------------------------- encodings


def _b64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_line(record: dict[str, Any]) -> bytes:
    """One DynamoDB JSON line: the wire form, binary values base64 as the API sends them."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=_b64).encode() + (
        b"\n"
    )


_ION_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_ION_KEYWORDS = frozenset(("null", "true", "false", "nan"))


def _ion_name(name: str) -> str:
    if _ION_BARE.match(name) and name not in _ION_KEYWORDS:
        return name
    return "'" + json.dumps(name, ensure_ascii=False)[1:-1].replace("'", "\\'") + "'"


def _ion_number(text: str) -> str:
    """A DynamoDB number as an Ion decimal (``103.``, ``1.5``): never an Ion int or float."""
    return text if "." in text else text + "."


def _ion_blob(value: bytes) -> str:
    return "{{" + base64.b64encode(value).decode() + "}}"


def ion_value(value: AV) -> str:
    """AWS's DynamoDB-to-Ion mapping; sets are lists annotated ``$dynamodb_SS`` (NS, BS)."""
    for t, v in value.items():
        if t == "S":
            return json.dumps(v, ensure_ascii=False)
        if t == "N":
            return _ion_number(v)
        if t == "B":
            return _ion_blob(v)
        if t == "BOOL":
            return "true" if v else "false"
        if t == "NULL":
            return "null"
        if t == "M":
            return ion_struct(v)
        if t == "L":
            return "[" + ",".join(ion_value(x) for x in v) + "]"
        if t == "SS":
            return "$dynamodb_SS::[" + ",".join(json.dumps(x, ensure_ascii=False) for x in v) + "]"
        if t == "NS":
            return "$dynamodb_NS::[" + ",".join(_ion_number(x) for x in v) + "]"
        if t == "BS":
            return "$dynamodb_BS::[" + ",".join(_ion_blob(x) for x in v) + "]"
    raise ValueError(f"not an attribute value: {value!r}")


def ion_struct(item: Item) -> str:
    return "{" + ",".join(f"{_ion_name(k)}:{ion_value(v)}" for k, v in item.items()) + "}"


def ion_line(record: dict[str, Any]) -> bytes:
    """One Ion export line: a version marker, then the record as a struct of items."""
    fields = []
    for name, value in record.items():
        if name == "Metadata":
            micros = value["WriteTimestampMicros"]["N"]
            fields.append(f"Metadata:{{WriteTimestampMicros:{_ion_number(micros)}}}")
        else:
            fields.append(f"{name}:{ion_struct(value)}")
    return ("$ion_1_0 {" + ",".join(fields) + "}\n").encode()


@dataclass(slots=True)
class DataFile:
    name: str
    body: bytes
    items: int


def _file_name() -> str:
    """A data file's name: 26 random base32 characters, like AWS's."""
    raw = ids.random_bits(130).to_bytes(17, "big")
    return base64.b32encode(raw).decode().lower()[:26]


def encode_files(records: Iterable[dict[str, Any]], fmt: str) -> list[DataFile]:
    """Gzipped data files of one record per line, split at ``FILE_BYTES``; at least one file."""
    line_of = ion_line if fmt == "ION" else json_line
    files: list[DataFile] = []
    chunk: list[bytes] = []
    size = 0

    def flush() -> None:
        body = gzip.compress(b"".join(chunk), compresslevel=6, mtime=0)
        files.append(DataFile(_file_name(), body, len(chunk)))

    for record in records:
        line = line_of(record)
        chunk.append(line)
        size += len(line)
        if size >= FILE_BYTES:
            flush()
            chunk, size = [], 0
    if chunk or not files:
        flush()
    return files


def full_records(rows: list[tuple[int, bytes]]) -> Iterable[dict[str, Any]]:
    for _size, body in rows:
        yield {"Item": load(body)}


def incremental_records(changes: list[Change], view: str) -> Iterable[dict[str, Any]]:
    for c in changes:
        record: dict[str, Any] = {
            "Metadata": {"WriteTimestampMicros": {"N": str(int(c.at * 1_000_000))}},
            "Keys": c.keys,
        }
        if c.new is not None:
            record["NewImage"] = c.new
        if c.old is not None and view == "NEW_AND_OLD_IMAGES":
            record["OldImage"] = c.old
        yield record


# --------------------------------------------------------------------------- S3


async def put_object(
    env: ServiceEnv, account: str, region: str, bucket: str, key: str, body: bytes
) -> dict[str, Any]:
    """PutObject into our S3 through the internal client (S3's own validation and events)."""
    return await env.call(
        "s3",
        "PutObject",
        {"Bucket": bucket, "Key": key, "Body": body, "ContentLength": len(body)},
        account=account,
        region=region,
    )


# --------------------------------------------------------------------------- the exports


def iso_ms(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def describe_export(data: dict[str, Any]) -> dict[str, Any]:
    """ExportDescription from a stored export (times are epoch seconds in storage)."""
    out: dict[str, Any] = {
        "ExportArn": data["arn"],
        "ExportStatus": data["status"],
        "StartTime": _dt(data["start"]),
        "TableArn": data["table_arn"],
        "TableId": data["table_id"],
        "S3Bucket": data["bucket"],
        "ExportFormat": data["format"],
    }
    if data.get("type_sent", True):  # AWS echoes ExportType only when the request sent it
        out["ExportType"] = data["type"]
    optional = {
        "EndTime": _dt(data.get("end")),
        "ExportManifest": data.get("manifest"),
        "ExportTime": _dt(data.get("time")),
        "ClientToken": data.get("token"),
        "S3BucketOwner": data.get("owner"),
        "S3Prefix": data.get("prefix"),
        "S3SseAlgorithm": data.get("sse"),
        "S3SseKmsKeyId": data.get("kms"),
        "FailureCode": data.get("failure_code"),
        "FailureMessage": data.get("failure_message"),
        "ItemCount": data.get("items"),
        "BilledSizeBytes": data.get("billed"),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if data["type"] == "INCREMENTAL_EXPORT":
        out["IncrementalExportSpecification"] = {
            "ExportFromTime": _dt(data["from"]),
            "ExportToTime": _dt(data["to"]),
            "ExportViewType": data["view"],
        }
    return out


class Exports(JobRecords):
    """The export records (rows of ``exports``) and the tasks that write them to S3."""

    table = "exports"
    not_found = staticmethod(export_not_found)
    _last_ms = 0
    """The millisecond of the last export id: ids of one server rise, so their ARNs sort
    as ListExports lists them even for exports started within one millisecond."""

    def list(self, account: str, region: str, table_arn: str | None) -> list[tuple[str, str, str]]:
        """(arn, status, type) of the account's exports, newest first as AWS lists them
        (ack-api-quirks DDB-EXPORT-017's ListExports order)."""
        found = self._all(account, region, table_arn)
        return [(d["arn"], d["status"], d["type"]) for d in reversed(found)]

    # ---- running

    def start(
        self, account: str, region: str, table: Table, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a new export (``data`` holds the validated request) and start writing it."""
        now = self.engine.clock()
        self._last_ms = max(int(now * 1000), self._last_ms + 1)
        export_id = f"{self._last_ms:014d}-{ids.token_hex(4)}"
        data.update(
            arn=f"{table.arn}/export/{export_id}",
            id=export_id,
            status="IN_PROGRESS",
            start=now,
            table_arn=table.arn,
            table_id=table.table_id,
            account=account,
            region=region,
        )
        if data["type"] == "FULL_EXPORT" and data.get("time") is None:
            data["time"] = now
        records = self._read(table, data)
        self._save(data)
        self._spawn(data, records)
        return data

    def resume(self) -> None:
        """Run again the exports a stopped server left IN_PROGRESS (their time is fixed)."""
        for data in self._in_progress():
            table = self.engine.by_id.get(data.get("tid", -1))
            if table is None or table.arn != data["table_arn"]:
                self._fail(data, "TableNotFound", "The table was deleted before the export ran")
                continue
            self._spawn(data, self._read(table, data))

    def _read(self, table: Table, data: dict[str, Any]) -> list[Any]:
        """The export's content, read now in one go (the snapshot it is consistent with)."""
        data["tid"] = table.tid
        if data["type"] == "INCREMENTAL_EXPORT":
            changes = window_changes(self.engine, table, data["from"], data["to"])
            data["billed"] = sum(item_size(c.new or {}) + item_size(c.old or {}) for c in changes)
            return list(incremental_records(changes, data["view"]))
        rows = snapshot(self.engine, table, data["time"])
        data["billed"] = sum(size for size, _body in rows)
        return rows

    def _spawn(self, data: dict[str, Any], content: list[Any]) -> None:
        self._track(self._run(data, content), f"dynamodb export {data['id']}")

    def _fail(self, data: dict[str, Any], code: str, message: str) -> None:
        data.update(
            status="FAILED", end=self.engine.clock(), failure_code=code, failure_message=message
        )
        self._save(data)

    async def _run(self, data: dict[str, Any], content: list[Any]) -> None:
        try:
            await self._write(data, content)
        except ServiceError as err:
            self._fail(data, f"S3{err.code}", err.message or err.code)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - an export fails; the server stays up
            log.exception("DynamoDB export %s failed", data["arn"])
            self._fail(data, "InternalError", str(err))

    async def _write(self, data: dict[str, Any], content: list[Any]) -> None:
        account, region = data.get("owner") or data["account"], data["region"]
        bucket = data["bucket"]
        prefix = (data.get("prefix") or "").rstrip("/")
        base = f"{prefix}/AWSDynamoDB" if prefix else "AWSDynamoDB"
        folder = f"{base}/{data['id']}"

        async def put(key: str, body: bytes) -> dict[str, Any]:
            return await put_object(self.env, account, region, bucket, key, body)

        await put(f"{folder}/_started", b"")
        records = content if data["type"] == "INCREMENTAL_EXPORT" else full_records(content)
        files = await asyncio.to_thread(encode_files, records, data["format"])
        ext = "ion.gz" if data["format"] == "ION" else "json.gz"
        data_folder = f"{base}/data" if data["type"] == "INCREMENTAL_EXPORT" else f"{folder}/data"
        lines = []
        for f in files:
            key = f"{data_folder}/{f.name}.{ext}"
            result = await put(key, f.body)
            entry = {
                "itemCount": f.items,
                "md5Checksum": base64.b64encode(hashlib.md5(f.body).digest()).decode(),
                "etag": (result.get("ETag") or "").strip('"'),
                "dataFileS3Key": key,
            }
            lines.append(json.dumps(entry, separators=(",", ":")) + "\n")
        files_key = f"{folder}/manifest-files.json"
        manifest_files = "".join(lines).encode()
        await put(files_key, manifest_files)
        await put(f"{folder}/manifest-files.checksum", _checksum(manifest_files))
        data.update(
            status="COMPLETED",
            end=self.engine.clock(),
            items=sum(f.items for f in files),
            manifest=f"{folder}/manifest-summary.json",
        )
        summary = json.dumps(_summary(data, files_key), indent=3).encode()
        await put(f"{folder}/manifest-summary.json", summary)
        await put(f"{folder}/manifest-summary.checksum", _checksum(summary))
        self._save(data)


def _checksum(body: bytes) -> bytes:
    return hashlib.md5(body).hexdigest().encode()


def _summary(data: dict[str, Any], files_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": "2020-06-30",
        "exportArn": data["arn"],
        "startTime": iso_ms(data["start"]),
        "endTime": iso_ms(data["end"]),
        "tableArn": data["table_arn"],
        "tableId": data["table_id"],
    }
    if data["type"] == "INCREMENTAL_EXPORT":
        out["exportFromTime"] = iso_ms(data["from"])
        out["exportToTime"] = iso_ms(data["to"])
    else:
        out["exportTime"] = iso_ms(data["time"])
    out.update(
        {
            "s3Bucket": data["bucket"],
            "s3Prefix": data.get("prefix"),
            "s3SseAlgorithm": data.get("sse"),
            "s3SseKmsKeyId": data.get("kms"),
            "manifestFilesS3Key": files_key,
            "billedSizeBytes": data.get("billed", 0),
            "itemCount": data.get("items", 0),
            "outputFormat": data["format"],
        }
    )
    if data["type"] == "INCREMENTAL_EXPORT":
        out["outputView"] = data["view"]
        out["exportType"] = "INCREMENTAL_EXPORT"
    return out
