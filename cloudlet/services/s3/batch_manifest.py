"""A Batch Operations job's task list: read from its manifest, or generated from a bucket.

Why it is built this way:

- **The manifest is read through S3's own GetObject**, as the job's account, so what the
  job may read and what a missing object answers are S3's; a manifest that cannot be
  read, or is not what its format says, fails the job (``ManifestError``: the job's
  FailureCode and FailureReason) before any task runs.
- **Two formats, as S3 Batch Operations takes them.** ``S3BatchOperations_CSV_20180820``:
  a CSV object whose columns the job's ``Fields`` name (Bucket, Key, optional VersionId,
  Ignore), keys URL-encoded. ``S3InventoryReport_CSV_20161130``: an S3 Inventory
  ``manifest.json``, whose CSV data files (gzip, keys URL-encoded) are read for their
  Bucket, Key and, when listed, VersionId columns (per its ``fileSchema``); delete
  markers of an all-versions inventory are left out, as no operation acts on them. The
  manifest's ``ETag`` must be the object's (a manifest changed since is refused).
- **A generated manifest** (``S3JobManifestGenerator``) lists the source bucket's current
  object versions, a page at a time (``inventory.py``'s reader), that pass every given
  filter; ``EligibleForReplication`` asks the bucket's replication rules
  (``replication.py``). With ``EnableManifestOutput`` the list is written as S3 writes it,
  ``S3InventoryReport_CSV_20211130``: inventory-style gzip CSV files and a
  ``manifest.json`` under ``<ManifestPrefix>/job-<id>/``, through ``inventory.py``'s writer.
- Entries come in batches of ``BATCH`` with a yield to the event loop between them, so a
  manifest of millions of rows never holds up requests.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3.batch_checks import CSV_MANIFEST, GENERATED_MANIFEST, bucket_of, object_of
from cloudlet.services.s3.batch_jobs import Job
from cloudlet.services.s3.inventory import ROWS_PER_FILE, CsvFile, row
from cloudlet.services.s3.store import NULL_VERSION, ObjectVersion

BATCH = 1000
Entry = tuple[str, str, str | None]
"""(bucket, key, version id or None): one object a task acts on."""
_GENERATED_VERSION = "2021-11-30"
_GENERATED_COLUMNS = ["Bucket", "Key", "VersionId"]


class ManifestError(Exception):
    """The manifest could not be read or generated: the job fails with these."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:256]


def _invalid(reason: str) -> ManifestError:
    return ManifestError("InvalidManifest", reason)


async def read_object(
    env: Any, account: str, region: str, bucket: str, key: str, version_id: str | None = None
) -> tuple[bytes, str]:
    """An object's bytes and ETag, read with S3's GetObject as ``account``."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    try:
        out = await env.call("s3", "GetObject", params, account=account, region=region)
    except ServiceError as exc:
        raise ManifestError(exc.code, f"Reading the manifest failed: {exc.message}") from None
    body = out.get("Body")
    if isinstance(body, bytes | bytearray):
        data = bytes(body)
    else:
        chunks = [chunk async for chunk in body]
        data = b"".join(chunks)
    return data, str(out.get("ETag") or "")


# -- manifests given ------------------------------------------------------------------------


async def manifest_entries(env: Any, job: Job) -> AsyncIterator[list[Entry]]:
    """The entries of the job's ``Manifest``, in its order, ``BATCH`` at a time."""
    manifest = job.request["Manifest"]
    location = manifest["Location"]
    bucket, key = object_of(location["ObjectArn"])
    data, etag = await read_object(
        env, job.account, job.region, bucket, key, location.get("ObjectVersionId")
    )
    wanted = (location.get("ETag") or "").strip('"')
    if wanted and wanted != etag.strip('"'):
        raise ManifestError(
            "ManifestETagMismatch",
            f"The ETag of the manifest object ({etag.strip(chr(34))}) is not the job's ({wanted})",
        )
    spec = manifest["Spec"]
    if spec["Format"] == CSV_MANIFEST:
        async for batch in _batches(_csv_entries(data, spec["Fields"])):
            yield batch
        return
    async for batch in _inventory_entries(env, job, data):
        yield batch


async def _batches(entries: Iterator[Entry]) -> AsyncIterator[list[Entry]]:
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= BATCH:
            yield batch
            batch = []
            await asyncio.sleep(0)
    if batch:
        yield batch


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid(f"The {what} is not UTF-8 text") from None


def _csv_entries(data: bytes, fields: list[str]) -> Iterator[Entry]:
    """The rows of a Batch Operations CSV manifest."""
    at = {name: fields.index(name) for name in ("Bucket", "Key", "VersionId") if name in fields}
    reader = csv.reader(io.StringIO(_text(data, "manifest")))
    try:
        for line, values in enumerate(reader, 1):
            if not values or values == [""]:
                continue
            yield _entry(values, at, line, "manifest")
    except csv.Error as exc:
        raise _invalid(f"The manifest is not valid CSV: {exc}") from None


def _entry(values: list[str], at: dict[str, int], line: int, what: str) -> Entry:
    if max(at["Bucket"], at["Key"]) >= len(values):
        raise _invalid(f"Line {line} of the {what} has too few fields")
    bucket, key = values[at["Bucket"]].strip(), unquote_plus(values[at["Key"]])
    if not bucket or not key:
        raise _invalid(f"Line {line} of the {what} has no bucket or no key")
    column = at.get("VersionId")
    version = values[column].strip() if column is not None and column < len(values) else ""
    return bucket, key, version or None


async def _inventory_entries(env: Any, job: Job, data: bytes) -> AsyncIterator[list[Entry]]:
    """The rows of the data files an S3 Inventory ``manifest.json`` lists."""
    try:
        manifest = json.loads(_text(data, "inventory manifest"))
        fmt, schema = manifest["fileFormat"], manifest["fileSchema"]
        files = manifest["files"]
        location = bucket_of(manifest["destinationBucket"], "inventory destination bucket")
    except (ValueError, KeyError, TypeError, ServiceError):
        raise _invalid("The inventory manifest.json is not an S3 Inventory manifest") from None
    if fmt != "CSV":
        raise _invalid(f"Inventory reports in {fmt} format are not supported: only CSV")
    columns = [name.strip() for name in str(schema).split(",")]
    if "Bucket" not in columns or "Key" not in columns:
        raise _invalid("The inventory fileSchema has no Bucket or no Key")
    at = {name: columns.index(name) for name in ("Bucket", "Key", "VersionId") if name in columns}
    marker = columns.index("IsDeleteMarker") if "IsDeleteMarker" in columns else None
    for file in files:
        body, _ = await read_object(env, job.account, job.region, location, file["key"])
        try:
            text = gzip.decompress(body).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError):
            raise _invalid(f"The inventory file {file['key']} is not gzip CSV") from None
        rows = csv.reader(io.StringIO(text))
        kept = (
            values
            for values in rows
            if values and (marker is None or marker >= len(values) or values[marker] != "true")
        )
        async for batch in _batches(
            _entry(values, at, line, "inventory file") for line, values in enumerate(kept, 1)
        ):
            yield batch


# -- manifests generated --------------------------------------------------------------------


def _matches_encryption(version: ObjectVersion, wanted: list[dict[str, Any]]) -> bool:
    sse = version.extra.get("sse") or {}
    alg = sse.get("alg")
    for choice in wanted:
        if "SSES3" in choice and alg in (None, "AES256"):
            return True
        if "SSEC" in choice and alg == "SSE-C":
            return True
        for kind, name in (("SSEKMS", "aws:kms"), ("DSSEKMS", "aws:kms:dsse")):
            if kind in choice and alg == name:
                arn = (choice[kind] or {}).get("KmsKeyArn")
                if not arn or arn == sse.get("kms") or str(sse.get("kms", "")).endswith(arn):
                    return True
    return False  # NOTSSE: every object S3 keeps now is encrypted


def _created(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def selected(s3: Any, version: ObjectVersion, flt: dict[str, Any]) -> bool:
    """Whether ``version`` passes a generator's ``Filter`` (every criterion given)."""
    made = version.last_modified.timestamp()
    after, before = _created(flt.get("CreatedAfter")), _created(flt.get("CreatedBefore"))
    if (after is not None and made <= after) or (before is not None and made >= before):
        return False
    names = flt.get("KeyNameConstraint") or {}
    key = version.key
    for member, test in (
        ("MatchAnyPrefix", key.startswith),
        ("MatchAnySuffix", key.endswith),
        ("MatchAnySubstring", key.__contains__),
    ):
        if names.get(member) and not any(test(text) for text in names[member]):
            return False
    bigger, smaller = flt.get("ObjectSizeGreaterThanBytes"), flt.get("ObjectSizeLessThanBytes")
    if (bigger is not None and version.size <= bigger) or (
        smaller is not None and version.size >= smaller
    ):
        return False
    classes = flt.get("MatchAnyStorageClass")
    if classes and version.storage_class not in classes:
        return False
    statuses = flt.get("ObjectReplicationStatuses")
    if statuses and (version.extra.get("replication") or "NONE") not in statuses:
        return False
    if flt.get("MatchAnyObjectEncryption") and not _matches_encryption(
        version, flt["MatchAnyObjectEncryption"]
    ):
        return False
    if flt.get("EligibleForReplication") and not s3._replication_targets(version):
        return False
    return True


class GeneratedManifest:
    """The generated manifest's files being written (``EnableManifestOutput``)."""

    def __init__(self, s3: Any, job: Job, output: dict[str, Any], source: str) -> None:
        self.s3, self.job, self.source = s3, job, source
        self.bucket = bucket_of(output["Bucket"], "manifest output bucket")
        prefix = (output.get("ManifestPrefix") or "").rstrip("/")
        self.base = "/".join(p for p in (prefix, f"job-{job.id}") if p)
        kms = (output.get("ManifestEncryption") or {}).get("SSEKMS")
        self.extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms["KeyId"]} if kms else {}
        self.files: list[dict[str, Any]] = []
        self.current = CsvFile(_GENERATED_COLUMNS)

    async def add(self, version: ObjectVersion) -> None:
        self.current.add(row(_GENERATED_COLUMNS, version))
        if self.current.rows >= ROWS_PER_FILE:
            await self._flush()

    async def _put(self, key: str, body: bytes) -> dict[str, Any]:
        params = {"Bucket": self.bucket, "Key": key, "Body": body, "ContentLength": len(body)}
        try:
            return await self.s3.env.call(
                "s3",
                "PutObject",
                {**params, **self.extra},
                account=self.job.account,
                region=self.job.region,
            )
        except ServiceError as exc:
            raise ManifestError(
                exc.code, f"Writing the generated manifest failed: {exc.message}"
            ) from None

    async def _flush(self) -> None:
        body = self.current.finish()
        key = f"{self.base}/data/{fast_uuid()}.csv.gz"
        await self._put(key, body)
        self.files.append(
            {"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()}
        )
        self.current = CsvFile(_GENERATED_COLUMNS)

    async def finish(self) -> dict[str, Any]:
        """Write the last data file and ``manifest.json``; the GeneratedManifestDescriptor."""
        if self.current.rows or not self.files:
            await self._flush()
        manifest = {
            "sourceBucket": self.source,
            "destinationBucket": f"arn:aws:s3:::{self.bucket}",
            "version": _GENERATED_VERSION,
            "creationTimestamp": str(int(clock.time() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": CsvFile.schema(_GENERATED_COLUMNS),
            "files": self.files,
        }
        key = f"{self.base}/manifest.json"
        out = await self._put(key, json.dumps(manifest, indent=2).encode())
        return {
            "Format": GENERATED_MANIFEST,
            "Location": {
                "ObjectArn": f"arn:aws:s3:::{self.bucket}/{key}",
                "ETag": str(out.get("ETag") or "").strip('"'),
            },
        }


async def generated_entries(s3: Any, job: Job) -> AsyncIterator[list[Entry]]:
    """The entries a ``ManifestGenerator`` selects from its source bucket's current
    versions, in key order; with ``EnableManifestOutput`` the manifest is written too
    (its descriptor lands in ``job.generated``)."""
    spec = job.request["ManifestGenerator"]["S3JobManifestGenerator"]
    source = bucket_of(spec["SourceBucket"], "source bucket")
    bucket = s3.store.get_bucket(source)
    if bucket is None or bucket.account != job.account:
        raise ManifestError("NoSuchBucket", f"The manifest source bucket {source} does not exist")
    flt = spec.get("Filter") or {}
    output = (
        GeneratedManifest(s3, job, spec["ManifestOutputLocation"], source)
        if spec["EnableManifestOutput"]
        else None
    )
    for page in s3._object_pages(source, "", False):
        batch: list[Entry] = []
        for version in page:
            if not selected(s3, version, flt):
                continue
            vid = None if version.version_id == NULL_VERSION else version.version_id
            batch.append((source, version.key, vid))
            if output is not None:
                await output.add(version)
        if batch:
            yield batch
        await asyncio.sleep(0)
    if output is not None:
        job.generated = await output.finish()
