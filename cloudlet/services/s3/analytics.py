"""S3 analytics (Storage Class Analysis): configurations that observe and export.

Why: a storage class analysis (PutBucketAnalyticsConfiguration, Id-keyed as metrics and
inventory configurations are: ``idconfigs.py``) is how people learn how much of a
bucket's data is still read as it ages, before writing a lifecycle rule that moves it to
STANDARD_IA; Terraform's ``aws_s3_bucket_analytics_configuration`` and CloudFormation's
``AnalyticsConfigurations`` make them. What S3 does with one (the S3 User Guide, "Amazon
S3 analytics – Storage Class Analysis" and its "Exported file layout"), cloudlet does:

- it observes the objects the filter selects (a prefix, tags, or both: ``metrics.Selector``)
  by age group since upload (``GROUPS``: 000-014 days ... 730+; only objects of 128 KiB
  or more are in an age group, every object is in ``ALL``), per storage class: what is
  stored (a walk of the current objects with ``inventory.py``'s walker at each export),
  what successful GetObject requests retrieved (count and bytes) and what PutObject
  uploaded (multipart uploads are not counted, as S3's export says). Requests are counted
  as their answer goes out (``Service.observe``, after ``metrics.py``'s request metrics);
  a bucket without analytics configurations pays one dict lookup;
- when the configuration has a ``DataExport``, every ``CLOUDLET_S3_ANALYTICS_INTERVAL``
  seconds (default a day) the day's rows are added to one CSV file in the destination,
  ``<prefix>/<source bucket>/<Id>.csv``, written through S3's own PutObject as the
  destination's owner (``inventory._deliver_object``): a header row, then the rows
  "sorted by date within object age group", ``ALL`` last. The first export comes at the
  first tick after the configuration was put. A destination that is gone, in another
  region, or not owned by ``BucketAccountId`` when that is given, gets nothing.

Judgement calls, where the docs say no more: the file's key (S3's docs name only the
destination prefix); ``Filter`` is left empty; a megabyte is 1,048,576 bytes, six
decimals; ``CumulativeAccessRatio`` is the bytes retrieved over the bytes stored, of the
age group and every older one (``ALL``: of everything), empty when nothing is stored.
``ObjectAgeForSIATransition`` and ``RecommendedObjectAgeForSIATransition`` come from a
model S3 runs after 30 days of observation and does not publish: cloudlet leaves them
empty, as an export is before then. The day's request counts live in memory until the
export (a restart loses them); the rows already exported are kept with the bucket's
configuration documents, so the file keeps its history.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.protocols.rest import HTTP_STATUS
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.idconfigs import IdConfigs, check_filter, check_id
from cloudlet.services.s3.inventory import ARN_PREFIX, InventoryHandlers, check_destination_arn
from cloudlet.services.s3.metrics import MetricsHandlers, Selector, _length
from cloudlet.services.s3.storage_metrics import DAY
from cloudlet.services.s3.store import ObjectVersion
from cloudlet.services.s3.tiering import tiering_clock

log = logging.getLogger(__name__)

KIND = "analytics"
HISTORY = "analytics-export/"
"""Kind prefix of the document holding one configuration's exported rows."""
INTERVAL_ENV = "CLOUDLET_S3_ANALYTICS_INTERVAL"
HEADER = (
    "Date",
    "ConfigId",
    "Filter",
    "StorageClass",
    "ObjectAge",
    "ObjectCount",
    "DataUploaded_MB",
    "Storage_MB",
    "DataRetrieved_MB",
    "GetRequestCount",
    "CumulativeAccessRatio",
    "ObjectAgeForSIATransition",
    "RecommendedObjectAgeForSIATransition",
)
GROUPS = (
    (0, "000-014"),
    (15, "015-029"),
    (30, "030-044"),
    (45, "045-059"),
    (60, "060-074"),
    (75, "075-089"),
    (90, "090-119"),
    (120, "120-149"),
    (150, "150-179"),
    (180, "180-364"),
    (365, "365-729"),
    (730, "730+"),
)
"""The age groups: each one's first day, and its name in the export."""
ALL = len(GROUPS)
"""The index of the ``ALL`` rows (every object, small ones too)."""
_ORDER = {name: i for i, (_, name) in enumerate(GROUPS)} | {"ALL": ALL}
MIN_AGED = 128 * 1024
"""Smaller objects count only in ``ALL``."""
MB = 1024 * 1024
STANDARD = "STANDARD"
_COUNTED = frozenset(("GetObject", "PutObject"))
_FILTER_KINDS = ("Prefix", "Tag", "And")


def interval_from_env() -> float:
    """``CLOUDLET_S3_ANALYTICS_INTERVAL`` seconds, at least 0.2 (default a day)."""
    return seconds_setting(INTERVAL_ENV, DAY, low=0.2)


# -- the configuration -------------------------------------------------------------------


def _malformed_unless(ok: bool) -> None:
    if not ok:
        raise errors.malformed_xml()


def destination(config: dict[str, Any]) -> dict[str, Any] | None:
    """A configuration's ``S3BucketDestination`` (None: it does not export)."""
    export = (config.get("StorageClassAnalysis") or {}).get("DataExport")
    if not export:
        return None
    return (export.get("Destination") or {}).get("S3BucketDestination")


def check_configuration(params: dict[str, Any]) -> dict[str, Any]:
    """PutBucketAnalyticsConfiguration's document, checked: the schema (a
    ``StorageClassAnalysis``, a filter of one kind, an export of schema ``V_1`` to a CSV
    destination: ``MalformedXML``), its Id as the query's (``MalformedXML``, as
    LocalStack's ``validate_bucket_analytics_configuration`` answers), then the
    destination as a bucket ARN (``InvalidS3DestinationBucket``, as inventory's)."""
    config = params.get("AnalyticsConfiguration") or {}
    config_id = params.get("Id") or ""
    check_id(config_id)
    analysis = config.get("StorageClassAnalysis")
    _malformed_unless(isinstance(analysis, dict))
    check_filter(config.get("Filter"), _FILTER_KINDS)
    export = analysis.get("DataExport")
    target: dict[str, Any] = {}
    if export is not None:
        _malformed_unless(export.get("OutputSchemaVersion") == "V_1")
        target = (export.get("Destination") or {}).get("S3BucketDestination") or {}
        _malformed_unless(target.get("Format") == "CSV" and bool(target.get("Bucket")))
    _malformed_unless(config.get("Id") == config_id)
    if target:
        check_destination_arn(target["Bucket"])
    return config


# -- the figures --------------------------------------------------------------------------


def age_group(age_days: float, size: int) -> int | None:
    """The index of the age group of an object ``age_days`` old (None under 128 KiB)."""
    if size < MIN_AGED:
        return None
    return sum(1 for first, _ in GROUPS[1:] if age_days >= first)


@dataclass(slots=True)
class Figures:
    """One age group's figures (or ``ALL``'s) for one storage class."""

    objects: int = 0
    stored: int = 0
    uploaded: int = 0
    retrieved: int = 0
    gets: int = 0


Tally = dict[str, dict[int, Figures]]
"""Storage class -> age group index (``ALL`` too) -> figures."""


def _tally() -> Tally:
    return defaultdict(lambda: defaultdict(Figures))


def _add(tally: Tally, storage_class: str, group: int | None, **amounts: int) -> None:
    """Add to ``ALL`` and, for an aged object, to its group."""
    groups = tally[storage_class]
    for index in (ALL,) if group is None else (group, ALL):
        figures = groups[index]
        for name, amount in amounts.items():
            setattr(figures, name, getattr(figures, name) + amount)


def _mb(count: int) -> str:
    return f"{count / MB:.6f}"


def rows(config_id: str, tally: Tally, day: str) -> list[list[str]]:
    """One export's rows: for STANDARD and every other class with figures, each age
    group then ``ALL``."""
    classes = [STANDARD] + sorted(c for c in tally if c != STANDARD)
    out = []
    for storage_class in classes:
        groups = tally.get(storage_class) or {}
        for index in range(ALL + 1):
            figures = groups.get(index) or Figures()
            older = [groups[i] for i in range(index, ALL) if i in groups]
            if index == ALL:
                older = [figures]
            stored = sum(f.stored for f in older)
            ratio = f"{sum(f.retrieved for f in older) / stored:.6f}" if stored else ""
            name = "ALL" if index == ALL else GROUPS[index][1]
            out.append(
                [
                    day,
                    config_id,
                    "",
                    storage_class,
                    name,
                    str(figures.objects),
                    _mb(figures.uploaded),
                    _mb(figures.stored),
                    _mb(figures.retrieved),
                    str(figures.gets),
                    ratio,
                    "",
                    "",
                ]
            )
    return out


def csv_body(history: list[list[str]]) -> bytes:
    """The export file: the header, then the rows by age group (``ALL`` last), each
    group's by date (the order they were added)."""
    ordered = sorted(history, key=lambda r: _ORDER.get(r[4], ALL))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(ordered)
    return out.getvalue().encode()


def _age_days(modified: datetime | None, now: float) -> float:
    return 0.0 if modified is None else (now - modified.timestamp()) / DAY


def _object_size(response: Any) -> int:
    """The whole object's size from a GetObject answer (a range's Content-Range total)."""
    ranged = response.header("content-range")
    if ranged and "/" in ranged:
        total = ranged.rpartition("/")[2]
        if total.isdigit():
            return int(total)
    length = response.header("content-length")
    return int(length) if length and length.isdigit() else 0


def _last_modified(response: Any) -> datetime | None:
    text = response.header("last-modified")
    try:
        return parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None


# -- the handlers ---------------------------------------------------------------------------


class AnalyticsHandlers(InventoryHandlers, MetricsHandlers):
    """Bucket analytics configurations, the requests they observe, and their exports
    (written with inventory's walker and writer; counted beside the request metrics)."""

    _analytics_tallies: dict[tuple[str, str], Tally]

    @property
    def _analytics(self) -> IdConfigs:
        return IdConfigs(self.configs, KIND, "AnalyticsConfigurationList")

    def _start_analytics(self) -> None:
        self._analytics_tallies = {}
        self.env.every(interval_from_env(), self._export_analytics, "s3-analytics")

    # -- the operations ----------------------------------------------------------------

    def put_bucket_analytics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._analytics.put(bucket.name, check_configuration(params))
        return {}

    def get_bucket_analytics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return {"AnalyticsConfiguration": self._analytics.get(bucket.name, params["Id"])}

    def delete_bucket_analytics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._analytics.delete(bucket.name, params["Id"])
        self._analytics_tallies.pop((bucket.name, params["Id"]), None)
        self.configs.delete(bucket.name, HISTORY + params["Id"])
        return {HTTP_STATUS: 204}

    def list_bucket_analytics_configurations(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self._analytics.page(bucket.name, params.get("ContinuationToken"))

    # -- counting -----------------------------------------------------------------------

    def observe(self, ctx: Any, response: Any, started: float, answered: float) -> None:
        """Count a GetObject or PutObject against the bucket's analytics configurations
        (one dict lookup for a bucket without any), then the request metrics."""
        operation = ctx.operation
        if operation is not None and operation.name in _COUNTED and ctx.params:
            bucket = ctx.params.get("Bucket")
            configs = self.configs.get(bucket, KIND) if bucket else None
            if configs and 200 <= response.status < 300:
                try:
                    self._count_analytics(ctx, response, bucket, configs)
                except Exception:  # noqa: BLE001 - counting never fails a request
                    log.exception("counting an S3 request for analytics failed")
        super().observe(ctx, response, started, answered)

    def _count_analytics(
        self, ctx: Any, response: Any, bucket: str, configs: dict[str, dict[str, Any]]
    ) -> None:
        params = ctx.params
        key = params.get("Key")
        looked: list[dict[str, str]] = []

        def tags() -> dict[str, str]:  # looked up once, if a filter names tags
            if not looked:
                looked.append(self._object_tags(bucket, key, params))
            return looked[0]

        chosen = [c["Id"] for c in configs.values() if Selector.of(c).selects(key, tags)]
        if not chosen:
            return
        if ctx.operation.name == "GetObject":
            size = _object_size(response)
            group = age_group(_age_days(_last_modified(response), tiering_clock()), size)
            storage_class = response.header("x-amz-storage-class") or STANDARD
            amounts = {"gets": 1, "retrieved": _length(response.header("content-length"))}
        else:
            size = _length(ctx.request.headers.get("x-amz-decoded-content-length")) or _length(
                ctx.request.headers.get("content-length")
            )
            group = age_group(0, size)
            storage_class = params.get("StorageClass") or STANDARD
            amounts = {"uploaded": size}
        for config_id in chosen:
            tally = self._analytics_tallies.get((bucket, config_id))
            if tally is None:
                tally = self._analytics_tallies[(bucket, config_id)] = _tally()
            _add(tally, storage_class, group, **amounts)

    # -- the exports ----------------------------------------------------------------------

    async def _export_analytics(self) -> None:
        """Close the day of every configuration: its counts are taken, and those with a
        ``DataExport`` add the day's rows to their file."""
        now = tiering_clock()
        day = datetime.fromtimestamp(now, UTC).strftime("%m-%d-%Y")
        taken, self._analytics_tallies = self._analytics_tallies, {}
        for name, configs in self.configs.all_of(KIND):
            for config in configs.values():
                if destination(config) is None:
                    continue
                tally = taken.get((name, config["Id"])) or _tally()
                try:
                    await self._export(name, config, tally, now, day)
                except Exception:  # noqa: BLE001 - one export's failure must not stop the rest
                    log.exception("analytics export %s of bucket %s failed", config["Id"], name)

    async def _export(
        self, source: str, config: dict[str, Any], tally: Tally, now: float, day: str
    ) -> None:
        target = self._export_target(source, config)
        if target is None:
            return
        await self._measure_storage(source, config, tally, now)
        # Not when the configuration went or changed while the bucket was read.
        if self._analytics.all(source).get(config["Id"]) != config:
            return
        kind = HISTORY + config["Id"]
        history = list(self.configs.get(source, kind) or [])
        history.extend(rows(config["Id"], tally, day))
        self.configs.put(source, kind, history)
        prefix = (destination(config) or {}).get("Prefix") or ""
        key = "/".join(p for p in (prefix.rstrip("/"), source, f"{config['Id']}.csv") if p)
        await self._deliver_object(
            target.name,
            target.account,
            target.region,
            key,
            csv_body(history),
            ContentType="text/csv",
        )

    def _export_target(self, source: str, config: dict[str, Any]) -> Any | None:
        """The destination bucket, if S3 would write there: it exists, in the source's
        region, owned by ``BucketAccountId`` when that is given."""
        where = destination(config) or {}
        target = self.store.get_bucket(where["Bucket"].removeprefix(ARN_PREFIX))
        bucket = self.store.get_bucket(source)
        owner = where.get("BucketAccountId")
        if target is None or bucket is None or target.region != bucket.region:
            log.warning("analytics %s of %s: no destination bucket there", config["Id"], source)
            return None
        if owner and owner != target.account:
            log.warning(
                "analytics %s of %s: destination not owned by %s", config["Id"], source, owner
            )
            return None
        return target

    async def _measure_storage(
        self, bucket: str, config: dict[str, Any], tally: Tally, now: float
    ) -> None:
        """Add the filtered current objects' count and bytes, by class and age group."""
        selector = Selector.of(config)
        for page in self._object_pages(bucket, selector.prefix, False):
            for version in page:
                if version.delete_marker or not selector.selects(
                    version.key, lambda v=version: _tags(v)
                ):
                    continue
                group = age_group(_age_days(version.last_modified, now), version.size)
                _add(
                    tally, version.storage_class or STANDARD, group, objects=1, stored=version.size
                )
            await asyncio.sleep(0)  # a big bucket does not hold up requests


def _tags(version: ObjectVersion) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in version.extra.get("tags") or []}
