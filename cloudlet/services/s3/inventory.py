"""S3 Inventory: bucket inventory configurations that publish inventory reports.

Why: an inventory report is how people audit a bucket (what is there, its encryption,
its replication and lock state) without listing it themselves, and tools (Athena,
S3 Batch Operations) read its manifest. A configuration (PutBucketInventoryConfiguration,
Id-keyed as metrics configurations are: ``idconfigs.py``) names a destination bucket,
a format, a schedule, which versions and which optional fields. Every
``CLOUDLET_S3_INVENTORY_INTERVAL`` seconds (default a day) the enabled configurations
that are due publish a report into their destination, written through S3's own
PutObject (owned by the destination's account, as S3 writes them), laid out as the
"Locating your inventory list" page of the S3 User Guide says:

- ``<prefix>/<source>/<id>/data/<uuid>.csv.gz`` (gzip CSV, no header, every field
  quoted; keys URL-encoded), ``.parquet`` or ``.orc``; at most ``ROWS_PER_FILE`` rows a
  file;
- ``<prefix>/<source>/<id>/<YYYY-MM-DDTHH-MMZ>/manifest.json`` and
  ``manifest.checksum`` (the manifest's MD5, hex);
- ``<prefix>/<source>/<id>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt`` (the data files'
  ``s3://`` URLs).

A Daily configuration reports every interval, a Weekly one every seven; the first
report comes at the first tick after the configuration was put (when each last
reported is the ``inventory-runs`` document). Rows are the source's objects under the
filter's prefix, current versions or all of them (delete markers too), columns
Bucket, Key, [VersionId, IsLatest, IsDeleteMarker], then the optional fields in S3's
fixed order; the bucket is read a page at a time. Fields cloudlet does not keep are
empty, as S3 leaves a field it has no value for: ObjectAccessControlList and
LifecycleExpirationDate always, a null version's VersionId. Parquet and ORC are written
when pyarrow is importable (refused at Put with 501 without it), with the column names
and types of S3's own files (its manifests' ``fileSchema``).
A destination that does not exist when a report is due gets nothing (S3 does not
check it at Put either).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.ids import fast_uuid
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, canonical_user_id
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.idconfigs import IdConfigs, check_id
from cloudlet.services.s3.storage_metrics import DAY
from cloudlet.services.s3.store import (
    NULL_VERSION,
    ROW_ID,
    ROW_KEY,
    ROW_VERSION_ID,
    ObjectVersion,
    successor,
)
from cloudlet.services.s3.tiering import inventory_tier

log = logging.getLogger(__name__)

KIND = "inventory"
RUNS = "inventory-runs"
"""When each configuration of a bucket last reported (epoch seconds, by Id)."""
INTERVAL_ENV = "CLOUDLET_S3_INVENTORY_INTERVAL"
ROWS_PER_FILE = 100_000
PAGE_ROWS = 1000
ARN_PREFIX = "arn:aws:s3:::"
MANIFEST_VERSION = "2016-11-30"
OPTIONAL_FIELDS = (
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "IsMultipartUploaded",
    "ReplicationStatus",
    "EncryptionStatus",
    "ObjectLockRetainUntilDate",
    "ObjectLockMode",
    "ObjectLockLegalHoldStatus",
    "IntelligentTieringAccessTier",
    "BucketKeyStatus",
    "ChecksumAlgorithm",
    "ObjectAccessControlList",
    "ObjectOwner",
    "LifecycleExpirationDate",
)
"""The model's ``InventoryOptionalField`` values, in the order S3 writes the columns (the
manifest ``fileSchema`` of the S3 User Guide; LifecycleExpirationDate, newer, last)."""
_VERSION_FIELDS = ("VersionId", "IsLatest", "IsDeleteMarker")
_ARN = re.compile(r"arn:aws:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
_BOOLEANS = frozenset(("IsLatest", "IsDeleteMarker", "IsMultipartUploaded"))
_DATES = frozenset(("LastModifiedDate", "ObjectLockRetainUntilDate", "LifecycleExpirationDate"))
_SSE_STATUS = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS", "SSE-C": "SSE-C"}


def interval_from_env() -> float:
    """``CLOUDLET_S3_INVENTORY_INTERVAL`` seconds, at least 0.2 (default a day)."""
    return seconds_setting(INTERVAL_ENV, DAY, low=0.2)


def parquet_available() -> bool:
    return _importable("pyarrow.parquet")


def _importable(module: str) -> bool:
    """Whether pyarrow's writer for a format is there (some builds lack ORC)."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# -- the configuration -------------------------------------------------------------------


def _malformed_unless(ok: bool) -> None:
    if not ok:
        raise errors.malformed_xml()


def check_configuration(params: dict[str, Any]) -> dict[str, Any]:
    """PutBucketInventoryConfiguration's document, checked in S3's order (LocalStack's
    ``validate_inventory_configuration``, after AWS): the document's schema and enums
    (``MalformedXML``), then its Id against the query's (``IdMismatch``), then the
    destination as a bucket ARN (``InvalidS3DestinationBucket``); then what cloudlet
    cannot write (501)."""
    config = params.get("InventoryConfiguration") or {}
    config_id = params.get("Id") or ""
    check_id(config_id)
    destination = (config.get("Destination") or {}).get("S3BucketDestination") or {}
    _malformed_unless(isinstance(config.get("IsEnabled"), bool))
    _malformed_unless(bool(destination.get("Bucket")))
    _malformed_unless(destination.get("Format") in ("CSV", "ORC", "Parquet"))
    _malformed_unless((config.get("Schedule") or {}).get("Frequency") in ("Daily", "Weekly"))
    _malformed_unless(config.get("IncludedObjectVersions") in ("All", "Current"))
    _malformed_unless(all(f in OPTIONAL_FIELDS for f in config.get("OptionalFields") or []))
    if config.get("Id") != config_id:
        raise errors.s3_error(
            "IdMismatch", "Document ID does not match the specified configuration ID."
        )
    check_destination_arn(destination["Bucket"])
    fmt = destination["Format"]
    if fmt != "CSV" and not _importable(f"pyarrow.{fmt.lower()}"):
        raise errors.s3_error(
            "NotImplemented",
            f"Inventory reports in {fmt} format need pyarrow's {fmt} writer, which is not "
            "installed; CSV reports are written without it",
            501,
        )
    return config


def check_destination_arn(arn: str) -> None:
    """A report destination as S3 takes it: a bucket's ARN (``InvalidS3DestinationBucket``
    otherwise); inventory and analytics exports share it."""
    if not _ARN.fullmatch(arn):
        raise errors.s3_error("InvalidS3DestinationBucket", "Invalid bucket ARN.")


def _due(config: dict[str, Any], last: float | None, now: float, interval: float) -> bool:
    """Whether a configuration reports at this tick: never reported since it was put,
    or a day (Daily) or a week (Weekly) of intervals since it last did."""
    if not config.get("IsEnabled"):
        return False
    if last is None:
        return True
    weeks = 7 if config["Schedule"]["Frequency"] == "Weekly" else 1
    return now - last >= weeks * interval - interval / 2


# -- the rows -----------------------------------------------------------------------------


def columns(config: dict[str, Any]) -> list[str]:
    """A report's columns, in S3's order."""
    wanted = set(config.get("OptionalFields") or [])
    head = ["Bucket", "Key"]
    if config["IncludedObjectVersions"] == "All":
        head += _VERSION_FIELDS
    return head + [f for f in OPTIONAL_FIELDS if f in wanted]


def _utc(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def _fields(version: ObjectVersion) -> dict[str, Any]:
    """A version's optional fields as typed values (absent: empty). A delete marker
    has only its date and owner."""
    out: dict[str, Any] = {
        "LastModifiedDate": version.last_modified,
        "ObjectOwner": canonical_user_id(version.owner),
    }
    if version.delete_marker:
        return out
    extra = version.extra
    sse = extra.get("sse") or {}
    retention = extra.get("retention") or {}
    out.update(
        {
            "Size": version.size,
            "ETag": (version.etag or "").strip('"') or None,
            "StorageClass": version.storage_class,
            "IsMultipartUploaded": version.parts is not None,
            "ReplicationStatus": extra.get("replication"),
            "EncryptionStatus": _SSE_STATUS.get(sse.get("alg"), "SSE-S3"),
            "ObjectLockRetainUntilDate": _utc(retention.get("until")),
            "ObjectLockMode": retention.get("mode"),
            "ObjectLockLegalHoldStatus": extra.get("legal_hold"),
            "IntelligentTieringAccessTier": inventory_tier(version),  # tiering.py
            "BucketKeyStatus": "ENABLED" if sse.get("bk") else "DISABLED",
            "ChecksumAlgorithm": next(iter(version.checksums), None),
        }
    )
    return out


def row(config_columns: list[str], version: ObjectVersion) -> list[Any]:
    """One report row for ``version``, typed (the writers format it)."""
    values = _fields(version)
    values.update(
        Bucket=version.bucket,
        Key=version.key,
        VersionId=None if version.version_id == NULL_VERSION else version.version_id,
        IsLatest=version.is_latest,
        IsDeleteMarker=version.delete_marker,
    )
    return [values.get(name) for name in config_columns]


# -- the files ----------------------------------------------------------------------------


def _csv_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "Key":  # URL-encoded, as S3 writes keys in CSV reports
        return quote_plus(value.encode("utf-8", "surrogateescape"), safe="*")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return str(value)


class CsvFile:
    """A gzip CSV data file being written: no header, every field quoted."""

    extension = "csv.gz"

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.rows = 0
        self._buffer = io.BytesIO()
        self._gzip = gzip.GzipFile(fileobj=self._buffer, mode="wb", mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="")
        self._writer = csv.writer(self._text, quoting=csv.QUOTE_ALL, lineterminator="\n")

    def add(self, values: list[Any]) -> None:
        self._writer.writerow([_csv_text(n, v) for n, v in zip(self.names, values, strict=True)])
        self.rows += 1

    def finish(self) -> bytes:
        self._text.flush()
        self._text.detach()
        self._gzip.close()
        return self._buffer.getvalue()

    @staticmethod
    def schema(names: list[str]) -> str:
        return ", ".join(names)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _parquet_type(name: str) -> str:
    """A column's Parquet schema entry, as S3's manifest ``fileSchema`` spells it."""
    need = "required" if name in ("Bucket", "Key") else "optional"
    if name in _BOOLEANS:
        return f"{need} boolean {_snake(name)}"
    if name == "Size":
        return f"{need} int64 size"
    if name in _DATES:
        return f"{need} int64 {_snake(name)} (TIMESTAMP_MILLIS)"
    return f"{need} binary {_snake(name)} (UTF8)"


class ParquetFile:
    """A Parquet data file being written (pyarrow): the rows are held until it ends,
    at most ``ROWS_PER_FILE`` of them."""

    extension = "parquet"

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.rows = 0
        self._columns: list[list[Any]] = [[] for _ in names]

    def add(self, values: list[Any]) -> None:
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        self.rows += 1

    def finish(self) -> bytes:
        import pyarrow as pa

        arrays = {
            _snake(name): pa.array(column, type=self._column_type(pa, name))
            for name, column in zip(self.names, self._columns, strict=True)
        }
        out = io.BytesIO()
        self._write(pa.table(arrays), out)
        return out.getvalue()

    @staticmethod
    def _write(table: Any, out: io.BytesIO) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table, out)

    @staticmethod
    def _column_type(pa: Any, name: str) -> Any:
        if name in _BOOLEANS:
            return pa.bool_()
        if name == "Size":
            return pa.int64()
        if name in _DATES:
            return pa.timestamp("ms", tz="UTC")
        return pa.string()

    @staticmethod
    def schema(names: list[str]) -> str:
        return "message s3.inventory { " + " ".join(f"{_parquet_type(n)};" for n in names) + "}"


def _orc_type(name: str) -> str:
    """A column's ORC type, as S3's manifest ``fileSchema`` spells it."""
    if name in _BOOLEANS:
        return "boolean"
    if name == "Size":
        return "bigint"
    if name in _DATES:
        return "timestamp"
    return "string"


class OrcFile(ParquetFile):
    """An ORC data file (pyarrow), with the Parquet file's columns; ORC timestamps carry
    no zone, so dates are written as UTC."""

    extension = "orc"

    @staticmethod
    def _write(table: Any, out: io.BytesIO) -> None:
        import pyarrow.orc as orc

        orc.write_table(table, out)

    @staticmethod
    def _column_type(pa: Any, name: str) -> Any:
        return pa.timestamp("ms") if name in _DATES else ParquetFile._column_type(pa, name)

    @staticmethod
    def schema(names: list[str]) -> str:
        return "struct<" + ",".join(f"{_snake(n)}:{_orc_type(n)}" for n in names) + ">"


_WRITERS: dict[str, type[CsvFile] | type[ParquetFile]] = {
    "CSV": CsvFile,
    "Parquet": ParquetFile,
    "ORC": OrcFile,
}


@dataclass(slots=True)
class Report:
    """One report being published: where it goes and the data files written so far."""

    source: str
    config: dict[str, Any]
    destination: str
    account: str
    region: str
    base: str
    started: datetime
    files: list[dict[str, Any]]

    @property
    def format(self) -> str:
        return self.config["Destination"]["S3BucketDestination"]["Format"]


# -- the handlers ---------------------------------------------------------------------------


class InventoryHandlers(ConfigHandlers):
    """Bucket inventory configurations, and the reports they publish."""

    _inventory_interval: float

    @property
    def _inventories(self) -> IdConfigs:
        return IdConfigs(self.configs, KIND, "InventoryConfigurationList")

    def _start_inventory(self) -> None:
        self._inventory_interval = interval_from_env()
        self.env.every(self._inventory_interval, self._publish_inventories, "s3-inventory")

    def put_bucket_inventory_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        config = check_configuration(params)
        self._inventories.put(bucket.name, config)
        self._set_run(bucket.name, config["Id"], None)  # reports at the next tick
        return {HTTP_STATUS: 204}

    def get_bucket_inventory_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return {"InventoryConfiguration": self._inventories.get(bucket.name, params["Id"])}

    def delete_bucket_inventory_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._inventories.delete(bucket.name, params["Id"])
        self._set_run(bucket.name, params["Id"], None)
        return {HTTP_STATUS: 204}

    def list_bucket_inventory_configurations(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self._inventories.page(bucket.name, params.get("ContinuationToken"))

    # -- the schedule ------------------------------------------------------------------

    def _set_run(self, bucket: str, config_id: str, when: float | None) -> None:
        runs = dict(self.configs.get(bucket, RUNS) or {})
        if when is None:
            runs.pop(config_id, None)
        else:
            runs[config_id] = when
        if runs:
            self.configs.put(bucket, RUNS, runs)
        else:
            self.configs.delete(bucket, RUNS)

    async def _publish_inventories(self) -> None:
        """Publish the report of every enabled configuration that is due."""
        now = clock.time()
        for name, configs in self.configs.all_of(KIND):
            runs = self.configs.get(name, RUNS) or {}
            for config in configs.values():
                if not _due(config, runs.get(config["Id"]), now, self._inventory_interval):
                    continue
                try:
                    await self._publish_report(name, config, now)
                except Exception:  # noqa: BLE001 - one report's failure must not stop the rest
                    log.exception("inventory %s of bucket %s failed", config["Id"], name)
                # Not when the configuration went or changed meanwhile (a new one reports
                # at the next tick).
                if self._inventories.all(name).get(config["Id"]) == config:
                    self._set_run(name, config["Id"], now)

    async def _publish_report(self, source: str, config: dict[str, Any], now: float) -> None:
        destination = config["Destination"]["S3BucketDestination"]
        target = self.store.get_bucket(destination["Bucket"].removeprefix(ARN_PREFIX))
        if target is None:
            log.warning("inventory %s of %s: no destination bucket", config["Id"], source)
            return
        prefix = (destination.get("Prefix") or "").rstrip("/")
        base = "/".join(p for p in (prefix, source, config["Id"]) if p)
        report = Report(
            source,
            config,
            target.name,
            target.account,
            target.region,
            base,
            datetime.fromtimestamp(now, UTC),
            [],
        )
        await self._write_data(report)
        await self._write_manifests(report)

    async def _write_data(self, report: Report) -> None:
        names = columns(report.config)
        writer = _WRITERS[report.format]
        current = writer(names)
        for page in self._inventory_pages(report.source, report.config):
            for version in page:
                current.add(row(names, version))
                if current.rows >= ROWS_PER_FILE:
                    await self._write_data_file(report, current)
                    current = writer(names)
            await asyncio.sleep(0)  # a big bucket does not hold up requests
        if current.rows or not report.files:
            await self._write_data_file(report, current)

    async def _write_data_file(self, report: Report, data: CsvFile | ParquetFile) -> None:
        body = data.finish()
        key = f"{report.base}/data/{fast_uuid()}.{data.extension}"
        await self._put_report_object(report, key, body)
        report.files.append(
            {"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()}
        )

    async def _write_manifests(self, report: Report) -> None:
        names = columns(report.config)
        manifest = {
            "sourceBucket": report.source,
            "destinationBucket": ARN_PREFIX + report.destination,
            "version": MANIFEST_VERSION,
            "creationTimestamp": str(int(report.started.timestamp() * 1000)),
            "fileFormat": report.format,
            "fileSchema": _WRITERS[report.format].schema(names),
            "files": report.files,
        }
        body = json.dumps(manifest, indent=2).encode()
        folder = f"{report.base}/{report.started.strftime('%Y-%m-%dT%H-%MZ')}"
        await self._put_report_object(report, f"{folder}/manifest.json", body)
        checksum = hashlib.md5(body).hexdigest().encode()
        await self._put_report_object(report, f"{folder}/manifest.checksum", checksum)
        links = "".join(f"s3://{report.destination}/{f['key']}\n" for f in report.files)
        hive = f"{report.base}/hive/dt={report.started.strftime('%Y-%m-%d-%H-%M')}"
        await self._put_report_object(report, f"{hive}/symlink.txt", links.encode())

    async def _put_report_object(self, report: Report, key: str, body: bytes) -> None:
        kms = (report.config["Destination"]["S3BucketDestination"].get("Encryption") or {}).get(
            "SSEKMS"
        )
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms["KeyId"]} if kms else {}
        await self._deliver_object(
            report.destination, report.account, report.region, key, body, **extra
        )

    async def _deliver_object(
        self, bucket: str, account: str, region: str, key: str, body: bytes, **params: Any
    ) -> None:
        """Write one delivered object (an inventory report's file, an analytics export)
        with S3's own PutObject, as the destination's owner: its default encryption,
        versioning, notifications and replication apply."""
        params.update(Bucket=bucket, Key=key, Body=body, ContentLength=len(body))
        await self.env.call("s3", "PutObject", params, account=account, region=region)

    # -- reading the source ------------------------------------------------------------

    def _inventory_pages(
        self, bucket: str, config: dict[str, Any]
    ) -> Iterator[list[ObjectVersion]]:
        """The versions a report lists, a page at a time: current objects (or every
        version, newest first per key) under the filter's prefix, in key order. Each page
        is read with its own cursor, so nothing stays open while a file is written."""
        prefix = (config.get("Filter") or {}).get("Prefix") or ""
        return self._object_pages(bucket, prefix, config["IncludedObjectVersions"] == "All")

    def _object_pages(
        self, bucket: str, key_prefix: str, every: bool
    ) -> Iterator[list[ObjectVersion]]:
        """The bucket's current objects (or every version, newest first per key) under
        ``key_prefix``, in key order, ``PAGE_ROWS`` at a time (inventory reports and
        analytics exports read a bucket through it)."""
        prefix = key_prefix.encode("utf-8", "surrogateescape")
        end = successor(prefix) if prefix else None
        after: tuple[bytes, int] | None = None
        while True:
            found = self._inventory_page(bucket, prefix, end, after, every)
            if not found:
                return
            after = found[-1][0].encode("utf-8", "surrogateescape"), found[-1][2]
            versions = [self.store.version(bucket, key, vid) for key, vid, _ in found]
            yield [v for v in versions if v is not None]

    def _inventory_page(
        self,
        bucket: str,
        prefix: bytes,
        end: bytes | None,
        after: tuple[bytes, int] | None,
        every: bool,
    ) -> list[tuple[str, str, int]]:
        """Up to ``PAGE_ROWS`` (key, version id, row id) after ``after`` (a key and, for
        all versions, the row id of the last version listed)."""
        scan = self.store.scan_versions if every else self.store.scan_current
        start, inclusive = (prefix, True) if after is None else (after[0], every)
        cursor = scan(bucket, start, inclusive, end)
        out: list[tuple[str, str, int]] = []
        try:
            for found in cursor:
                kb = bytes(found[ROW_KEY])
                if after is not None and kb == after[0] and found[ROW_ID] >= after[1]:
                    continue  # listed already (a key's versions come newest, highest id, first)
                key = kb.decode("utf-8", "surrogateescape")
                out.append((key, found[ROW_VERSION_ID], found[ROW_ID]))
                if len(out) >= PAGE_ROWS:
                    break
        finally:
            cursor.close()
        return out
