"""ImportTable, DescribeImport and ListImports: a new table loaded from objects in our S3.

Why it is built this way:

- **A new table, created up front.** The handler validates the request, builds
  the table from ``TableCreationParameters`` with CreateTable's own rules
  (``parse_create``: keys, billing, GSIs, SSE) and registers it ``CREATING``,
  so its name is taken (ResourceInUseException for the next ImportTable or
  CreateTable) and its TableId is final. It answers ``IN_PROGRESS``.
- **The load.** An asyncio task lists every current object under
  ``S3BucketSource`` (ListObjectVersions: ListObjectsV2 hands its entries back
  pre-rendered as XML, fit for the wire but not for a caller), reads each with
  GetObject, all through ``ServiceEnv.call``: S3's own operations and errors.
  Each object is decoded in a worker thread (``import_formats.py``) and its
  items written through ``Engine.write`` in transactions of ``BATCH`` items,
  yielding to the event loop between batches: indexes and counts stay right
  and clients are served while a large import runs. Then the table goes
  ``ACTIVE``.
- **What AWS reports** (as measured against DynamoDB by public conformance
  suites): the counters read 0 until the import ends; ProcessedItemCount is
  ImportedItemCount (writes, so duplicate keys count each time) plus
  ErrorCount; ProcessedSizeBytes counts uncompressed bytes. Any skipped record
  ends the import ``FAILED`` with ``ItemValidationError`` but keeps the table
  and everything that passed. A source that cannot be read (no such bucket)
  fails with ``S3<ErrorCode>`` and deletes the table, as does a table deleted
  under the import (``TableNotFound``). A prefix with no objects completes
  with an empty table.
- **CloudWatch Logs.** AWS reports every import's log group, always
  ``/aws-dynamodb/imports`` of the account and region (``CloudWatchLogGroupArn``
  in DescribeImport and ListImports; Alternator's test_import.py and lab captures
  of DynamoDB), and logs each bad record there. Cloudlet creates that group in
  its own CloudWatch Logs when an import starts, but writes no events (AWS's
  event format is not documented): the first bad record's reason goes in the
  FailureMessage instead. A bad record skips just that
  record (AWS may abandon the rest of its object), and an object that does
  not decompress (GZIP or ZSTD) counts as one bad record. ``S3BucketOwner`` is
  recorded and used as the account of the S3 calls, as exports do; it is not
  checked against the bucket.
- **ClientToken.** As documented: for 8 hours the same token gives back the
  same import, and with any other parameter changed, ImportConflictException.
  (DynamoDB has been seen to answer ResourceInUseException instead once the
  import has finished; the documented rule is kinder to retries.)
- **Durable, and re-run after a restart.** Imports are rows of ``imports`` in
  the DynamoDB database, beside the table they create. One still
  ``IN_PROGRESS`` when the server stopped is run again from the first object
  at start-up: the load is idempotent (an item rewritten over itself changes
  nothing, and the counters are only written at the end), so the table and
  the counts come out as one uninterrupted run would make them, where failing
  it would throw away a table the client asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from cloudlet.core import ids
from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.backup_checks import check_client_token, job_resource
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.import_formats import Decoded, ImportFormat, Row, decode_object
from cloudlet.services.dynamodb.jobs import JobRecords
from cloudlet.services.dynamodb.tables import Table, parse_create

log = logging.getLogger(__name__)
Result = dict[str, Any]


BATCH = 1000
"""Items written per transaction before the event loop gets a turn."""
PAGE_MAX = 25
FORMATS = ("DYNAMODB_JSON", "ION", "CSV")
COMPRESSIONS = ("GZIP", "ZSTD", "NONE")
_BUCKET = re.compile(r"[a-z0-9A-Z]+[.\-\w]*[a-z0-9A-Z]+\Z", re.ASCII)
_DELIMITER = re.compile(r"[,;:|\t ]\Z")
_IMPORT_ARN = re.compile(rf"arn:aws[a-z-]*:dynamodb:[^:]+:[^:]+:{job_resource('import').pattern}\Z")
LOG_GROUP = "/aws-dynamodb/imports"


# --------------------------------------------------------------------------- errors


def import_not_found(arn: str) -> ServiceError:
    return ServiceError("ImportNotFoundException", f"Import not found: {arn}", 400)


def import_conflict() -> ServiceError:
    return ServiceError(
        "ImportConflictException",
        "Duplicate request detected with conflicting parameters: an import with the same "
        "ClientToken but different parameters exists",
        400,
    )


def _constraint(value: Any, member: str, constraint: str) -> ServiceError:
    return errors.constraint(value, member, f"Member must {constraint}")


def log_group_arn(account: str, region: str) -> str:
    """The CloudWatchLogGroupArn AWS reports for every import of an account and region."""
    return f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}:*"


class _TableGone(Exception):
    """The table being loaded was deleted under the import."""


# --------------------------------------------------------------------------- the request


def check_request(params: dict[str, Any]) -> ImportFormat:
    """AWS's up-front checks of an ImportTable request; the format it asks for."""
    token = params.get("ClientToken")
    if token is None:
        raise errors.validation(
            "1 validation error detected: Value null at 'clientToken' failed to satisfy "
            "constraint: Member must not be null"
        )
    check_client_token(token)
    source = params["S3BucketSource"]
    bucket = source["S3Bucket"]
    if len(bucket) > 255:
        raise _constraint(
            bucket, "s3BucketSource.s3Bucket", "have length less than or equal to 255"
        )
    if not _BUCKET.match(bucket):
        raise _constraint(
            bucket,
            "s3BucketSource.s3Bucket",
            r"satisfy regular expression pattern: ^[a-z0-9A-Z]+[\.\-\w]*[a-z0-9A-Z]+$",
        )
    prefix = source.get("S3KeyPrefix") or ""
    if len(prefix) > 1024:
        raise _constraint(
            prefix, "s3BucketSource.s3KeyPrefix", "have length less than or equal to 1024"
        )
    fmt = params["InputFormat"]
    if fmt not in FORMATS:
        raise _constraint(fmt, "inputFormat", f"satisfy enum value set: [{', '.join(FORMATS)}]")
    compression = params.get("InputCompressionType") or "NONE"
    if compression not in COMPRESSIONS:
        raise _constraint(
            compression,
            "inputCompressionType",
            f"satisfy enum value set: [{', '.join(COMPRESSIONS)}]",
        )
    spec = ImportFormat(fmt, compression)
    csv_options = (params.get("InputFormatOptions") or {}).get("Csv")
    if csv_options is not None:
        if fmt != "CSV":
            raise errors.validation(
                f"InputFormatOptions.Csv is only valid when InputFormat is CSV, not {fmt}"
            )
        delimiter = csv_options.get("Delimiter")
        if delimiter is not None:
            if not _DELIMITER.match(delimiter):
                raise _constraint(
                    delimiter,
                    "inputFormatOptions.csv.delimiter",
                    r"satisfy regular expression pattern: [,;:|\t ]",
                )
            spec.delimiter = delimiter
        header = csv_options.get("HeaderList")
        if header is not None:
            if not 1 <= len(header) <= 255:
                raise _constraint(
                    header, "inputFormatOptions.csv.headerList", "have length between 1 and 255"
                )
            spec.header = list(header)
    return spec


def fingerprint(params: dict[str, Any]) -> str:
    """An ImportTable request without its ClientToken, comparable across calls."""
    rest = {k: v for k, v in params.items() if k != "ClientToken"}
    rest.setdefault("InputCompressionType", "NONE")
    return json.dumps(rest, sort_keys=True, default=str)


# --------------------------------------------------------------------------- descriptions


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def describe_import(data: dict[str, Any]) -> Result:
    """ImportTableDescription from a stored import (times are epoch seconds in storage)."""
    out: Result = {
        "ImportArn": data["arn"],
        "ImportStatus": data["status"],
        "TableArn": data["table_arn"],
        "TableId": data["table_id"],
        "ClientToken": data["token"],
        "S3BucketSource": data["source"],
        "InputFormat": data["format"],
        "InputCompressionType": data["compression"],
        "TableCreationParameters": data["creation"],
        "StartTime": _dt(data["start"]),
        "ProcessedItemCount": data.get("processed", 0),
        "ImportedItemCount": data.get("imported", 0),
        "ErrorCount": data.get("errors", 0),
        "CloudWatchLogGroupArn": log_group_arn(data["account"], data["region"]),
    }
    if data.get("options") is not None:
        out["InputFormatOptions"] = data["options"]
    optional = {
        "EndTime": _dt(data["end"]) if data.get("end") is not None else None,
        "ProcessedSizeBytes": data.get("size"),
        "FailureCode": data.get("failure_code"),
        "FailureMessage": data.get("failure_message"),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def import_summary(data: dict[str, Any]) -> Result:
    out: Result = {
        "ImportArn": data["arn"],
        "ImportStatus": data["status"],
        "TableArn": data["table_arn"],
        "S3BucketSource": data["source"],
        "InputFormat": data["format"],
        "StartTime": _dt(data["start"]),
        "CloudWatchLogGroupArn": log_group_arn(data["account"], data["region"]),
    }
    if data.get("end") is not None:
        out["EndTime"] = _dt(data["end"])
    return out


def page_token(arn: str) -> str:
    """A NextToken for ListImports: the last ARN in hex, padded to the model's 112 digits."""
    raw = arn.encode().hex()
    return raw.ljust(max(112, -(-len(raw) // 16) * 16), "0")


def token_arn(token: str) -> str:
    try:
        return bytes.fromhex(token).rstrip(b"\x00").decode()
    except ValueError:
        raise errors.validation(f"Invalid NextToken: {token}") from None


# --------------------------------------------------------------------------- the imports


class Imports(JobRecords):
    """The import records (rows of ``imports``) and the tasks that load their tables."""

    table = "imports"
    not_found = staticmethod(import_not_found)

    def list(self, account: str, region: str, table_arn: str | None) -> list[dict[str, Any]]:
        """The account's imports, oldest first."""
        return self._all(account, region, table_arn)

    # ---- running

    def start(self, table: Table, data: dict[str, Any]) -> dict[str, Any]:
        """Create ``table`` (CREATING), record the import (``data`` holds the request) and
        start loading it."""
        table.status = "CREATING"
        import_id = f"{int(data['start'] * 1000):014d}-{ids.token_hex(4)}"
        with self.engine.store.transaction():
            self.engine.add_table(table)
            data.update(
                arn=f"{table.arn}/import/{import_id}",
                status="IN_PROGRESS",
                table_arn=table.arn,
                table_id=table.table_id,
                tid=table.tid,
                account=table.account,
                region=table.region,
            )
            self._save(data)
        self._spawn(data, table)
        return data

    def resume(self) -> None:
        """Run again, from the start, the imports a stopped server left IN_PROGRESS."""
        for data in self._in_progress():
            table = self.engine.by_id.get(data["tid"])
            if table is None or table.table_id != data["table_id"]:
                self._fail(data, None, "TableNotFound", "The table was deleted during the import")
            else:
                self._spawn(data, table)

    def _spawn(self, data: dict[str, Any], table: Table) -> None:
        self._track(self._run(data, table), f"dynamodb import {data['arn']}")

    def _fail(self, data: dict[str, Any], table: Table | None, code: str, message: str) -> None:
        """End the import FAILED and delete its table (nothing of it is kept)."""
        with self.engine.store.transaction():
            if table is not None and self.engine.by_id.get(table.tid) is table:
                self.engine.drop(table)
            data.update(
                status="FAILED",
                end=self.engine.clock(),
                failure_code=code,
                failure_message=message,
            )
            self._save(data)

    async def _log_group(self, data: dict[str, Any]) -> None:
        """Create the account's import log group in our CloudWatch Logs, once."""
        try:
            await self.env.call(
                "logs",
                "CreateLogGroup",
                {"logGroupName": LOG_GROUP},
                account=data["account"],
                region=data["region"],
            )
        except ServiceError as err:
            if err.code != "ResourceAlreadyExistsException":
                log.warning("DynamoDB import %s: no log group: %s", data["arn"], err)

    async def _run(self, data: dict[str, Any], table: Table) -> None:
        await self._log_group(data)
        try:
            await self._load(data, table)
        except ServiceError as err:  # S3's answer: the source cannot be read
            self._fail(data, table, f"S3{err.code}", err.message or err.code)
        except _TableGone:
            self._fail(data, None, "TableNotFound", "The table was deleted during the import")
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - an import fails; the server stays up
            log.exception("DynamoDB import %s failed", data["arn"])
            self._fail(data, table, "InternalError", str(err) or type(err).__name__)

    async def _s3(self, data: dict[str, Any], operation: str, params: Result) -> Result:
        account = data["source"].get("S3BucketOwner") or data["account"]
        return await self.env.call("s3", operation, params, account=account, region=data["region"])

    async def _objects(self, data: dict[str, Any]) -> list[str]:
        """The keys of the current, non-empty objects under the source prefix, in key order."""
        source = data["source"]
        params: Result = {"Bucket": source["S3Bucket"], "Prefix": source.get("S3KeyPrefix") or ""}
        keys = []
        while True:
            page = await self._s3(data, "ListObjectVersions", params)
            for version in page.get("Versions") or []:
                if version.get("IsLatest") and version.get("Size"):
                    keys.append(version["Key"])
            if not page.get("IsTruncated"):
                return keys
            params["KeyMarker"] = page.get("NextKeyMarker")
            params["VersionIdMarker"] = page.get("NextVersionIdMarker")

    async def _read(self, data: dict[str, Any], key: str) -> bytes:
        out = await self._s3(data, "GetObject", {"Bucket": data["source"]["S3Bucket"], "Key": key})
        body = out.get("Body", b"")
        if isinstance(body, bytes | bytearray):
            return bytes(body)
        return b"".join([chunk async for chunk in body])

    async def _load(self, data: dict[str, Any], table: Table) -> None:
        spec = ImportFormat(
            data["format"],
            data["compression"],
            data.get("delimiter") or ",",
            data.get("header"),
        )
        total = Decoded()  # its rows stay empty: each object's are written, then dropped
        imported = 0
        for key in await self._objects(data):
            body = await self._read(data, key)
            decoded = await asyncio.to_thread(decode_object, body, spec, table)
            if decoded.first_error is not None and total.first_error is None:
                bucket = data["source"]["S3Bucket"]
                total.first_error = f"s3://{bucket}/{key}: {decoded.first_error}"
            total.errors += decoded.errors
            total.size += decoded.size
            await self._write(table, decoded.rows)
            imported += len(decoded.rows)
        self._finish(data, table, total, imported)

    async def _write(self, table: Table, rows: list[Row]) -> None:
        engine = self.engine
        for start in range(0, len(rows), BATCH):
            if engine.by_id.get(table.tid) is not table:
                raise _TableGone
            with engine.store.transaction():
                for key, item, size in rows[start : start + BATCH]:
                    engine.write(table, key, engine.read(table, key), item, size=size)
            await asyncio.sleep(0)

    def _finish(self, data: dict[str, Any], table: Table, total: Decoded, imported: int) -> None:
        engine = self.engine
        if engine.by_id.get(table.tid) is not table:
            raise _TableGone
        data.update(
            status="COMPLETED",
            end=engine.clock(),
            processed=imported + total.errors,
            imported=imported,
            errors=total.errors,
            size=total.size,
        )
        if total.errors:
            data.update(
                status="FAILED",
                failure_code="ItemValidationError",
                failure_message=(
                    f"Some of the items failed validation checks and were not imported "
                    f"({total.errors} skipped; cloudlet writes no CloudWatch log, the first "
                    f"was {total.first_error})"
                ),
            )
        table.status = "ACTIVE"
        with engine.store.transaction():
            engine.save(table)
            self._save(data)


# --------------------------------------------------------------------------- handlers


class ImportHandlers:
    """ImportTable, DescribeImport and ListImports, mixed into ``DynamoDBService``.

    ``_start_imports`` (on the event loop) resumes imports a stopped server
    left running; ``_stop_imports`` cancels running ones before the database
    closes.
    """

    engine: Engine
    env: Any

    def _import_store(self) -> Imports:
        store = self.__dict__.get("_imports")
        if store is None:
            store = self.__dict__["_imports"] = Imports(self.engine, self.env)
        return store

    def _start_imports(self) -> None:
        self._import_store().resume()

    def _stop_imports(self) -> None:
        imports = self.__dict__.get("_imports")
        if imports is not None:
            imports.stop()

    def import_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        spec = check_request(params)
        imports = self._import_store()
        now = self.engine.clock()
        request = fingerprint(params)
        prior = imports.by_token(ctx.account_id, ctx.region, params["ClientToken"], now)
        if prior is not None:
            if prior["request"] != request:
                raise import_conflict()
            return {"ImportTableDescription": describe_import(prior)}
        creation = params["TableCreationParameters"]
        table = parse_create(creation, ctx.account_id, ctx.region, now)
        data: dict[str, Any] = {
            "request": request,
            "token": params["ClientToken"],
            "source": params["S3BucketSource"],
            "format": spec.format,
            "compression": spec.compression,
            "options": params.get("InputFormatOptions"),
            "delimiter": spec.delimiter,
            "header": spec.header,
            "creation": creation,
            "start": now,
        }
        data = imports.start(table, data)
        return {"ImportTableDescription": describe_import(data)}

    def describe_import(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ImportArn"]
        if not _IMPORT_ARN.match(arn):
            raise errors.validation(f"Invalid Import ARN: {arn}")
        data = self._import_store().get(ctx.account_id, ctx.region, arn)
        return {"ImportTableDescription": describe_import(data)}

    def list_imports(self, ctx: Any, params: dict[str, Any]) -> Result:
        size = params.get("PageSize")
        if size is not None and not 1 <= size <= PAGE_MAX:
            bound = (
                "greater than or equal to 1" if size < 1 else f"less than or equal to {PAGE_MAX}"
            )
            raise _constraint(size, "pageSize", f"have value {bound}")
        size = size or PAGE_MAX
        found = self._import_store().list(ctx.account_id, ctx.region, params.get("TableArn"))
        token = params.get("NextToken")
        if token is not None:
            arns = [data["arn"] for data in found]
            after = token_arn(token)
            if after not in arns:
                raise errors.validation(f"Invalid NextToken: {token}")
            found = found[arns.index(after) + 1 :]
        page = found[:size]
        out: Result = {"ImportSummaryList": [import_summary(data) for data in page]}
        if len(found) > size:
            out["NextToken"] = page_token(page[-1]["arn"])
        return out
