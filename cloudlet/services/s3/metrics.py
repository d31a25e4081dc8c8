"""S3 request metrics in CloudWatch: bucket metrics configurations that do their job.

Why: alarms on a bucket's error rate or request count, and dashboards of its traffic,
are how people watch S3. A metrics configuration (PutBucketMetricsConfiguration: an
``Id`` and an optional filter by prefix, object tags or access point; at most 1,000 a
bucket) turns on request metrics for the requests it selects. Cloudlet counts each
request as its answer goes out (``Service.observe``) and, every minute
(``CLOUDLET_S3_METRICS_INTERVAL`` seconds, S3's period), publishes what the selected
requests did to CloudWatch in namespace ``AWS/S3`` with dimensions ``BucketName`` and
``FilterId``, under S3's names:

- ``AllRequests``, ``GetRequests``, ``PutRequests``, ``DeleteRequests``,
  ``HeadRequests``, ``PostRequests``, ``ListRequests``, ``SelectRequests`` (Count);
- ``BytesDownloaded`` and ``BytesUploaded`` (Bytes), for requests with a body;
- ``SelectBytesScanned`` and ``SelectBytesReturned`` (Bytes), for S3 Select requests
  (``select.py`` leaves each one's figures for the count, by request id);
- ``4xxErrors`` and ``5xxErrors`` (Count; each request counts 0 or 1, so the
  Average is the error rate);
- ``FirstByteLatency`` (until the answer was ready) and ``TotalRequestLatency``
  (until its last byte was sent), in Milliseconds.

Each is a statistic set per interval (SampleCount, Sum, Minimum, Maximum), published
only for intervals with requests, as S3 does. Get, Put and Delete count requests on
objects (DeleteObjects is a delete), Head and Post requests to the bucket or its objects
(bar DeleteObjects and S3 Select's), List requests the listings of a bucket's objects,
versions, uploads and parts. A configuration without a filter selects every request to the
bucket; one with a filter selects the requests naming an object key it matches: the
prefix, and the tags (the object's, or for a write the ones it sets). No request
matches an access point filter: cloudlet has no access points.

The daily storage metrics every bucket has without configuration (``BucketSizeBytes``,
``NumberOfObjects``) are ``storage_metrics.py``'s; this class schedules both.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.statistic_sets import StatisticSet
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.idconfigs import IdConfigs, check_filter, check_id
from cloudlet.services.s3.storage_metrics import DAY, STORAGE_ENV, storage_batches

log = logging.getLogger(__name__)

KIND = "metrics"
NAMESPACE = "AWS/S3"
INTERVAL_ENV = "CLOUDLET_S3_METRICS_INTERVAL"
DEFAULT_INTERVAL = 60.0
_LISTS = frozenset(
    ("ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads", "ListParts")
)
_BY_METHOD = {"GET": "GetRequests", "PUT": "PutRequests", "DELETE": "DeleteRequests"}
_FILTER_KINDS = ("Prefix", "Tag", "AccessPointArn", "And")


def interval_from_env() -> float:
    """``CLOUDLET_S3_METRICS_INTERVAL`` seconds, at least 0.2 (default 60)."""
    return seconds_setting(INTERVAL_ENV, DEFAULT_INTERVAL, low=0.2)


@dataclass(slots=True)
class Tally:
    """What the requests one configuration selects did in an interval."""

    stats: dict[str, StatisticSet] = field(default_factory=lambda: defaultdict(StatisticSet))

    def datums(self, dims: list[dict[str, str]], at: datetime) -> list[dict[str, Any]]:
        out = []
        for name, stat in sorted(self.stats.items()):
            unit = (
                "Bytes"
                if name.startswith(("Bytes", "SelectBytes"))
                else "Milliseconds"
                if name.endswith("Latency")
                else "Count"
            )
            values = stat.values()
            out.append(
                {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Timestamp": at,
                    "StatisticValues": values,
                    "Unit": unit,
                }
            )
        return out


@dataclass(frozen=True, slots=True)
class Selector:
    """A metrics configuration's filter, ready to match requests."""

    id: str
    filtered: bool = False
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    access_point: bool = False

    @classmethod
    def of(cls, config: dict[str, Any]) -> Selector:
        flt = config.get("Filter")
        if not flt:
            return cls(config["Id"])
        both = flt.get("And") or {}
        tags = [flt["Tag"]] if flt.get("Tag") else list(both.get("Tags") or [])
        return cls(
            config["Id"],
            filtered=True,
            prefix=flt.get("Prefix", both.get("Prefix")) or "",
            tags=tuple((t["Key"], t.get("Value", "")) for t in tags),
            access_point=bool(flt.get("AccessPointArn") or both.get("AccessPointArn")),
        )

    def selects(self, key: str | None, tags: Any) -> bool:
        """Whether a request naming ``key`` (None: no object) is selected; ``tags`` is a
        function giving the object's tags, asked only when the filter names tags."""
        if not self.filtered:
            return True
        if key is None or self.access_point or not key.startswith(self.prefix):
            return False
        if not self.tags:
            return True
        have = tags()
        return all(have.get(k) == v for k, v in self.tags)


def _check_configuration(params: dict[str, Any]) -> dict[str, Any]:
    """PutBucketMetricsConfiguration's document, checked: its Id as the query's, and a
    filter of one kind (an ``And`` of two predicates or more)."""
    config = params.get("MetricsConfiguration") or {}
    config_id = params.get("Id") or ""
    check_id(config_id)
    if config.get("Id") != config_id:
        raise errors.invalid_argument(
            "The Id in the configuration does not match the Id in the request", "id", config_id
        )
    check_filter(config.get("Filter"), _FILTER_KINDS)
    return config


def _kind(method: str, operation: str, key: str | None) -> str | None:
    """Which per-type count a request adds to (besides AllRequests)."""
    if operation in _LISTS:
        return "ListRequests"
    if operation == "DeleteObjects":
        return "DeleteRequests"
    if method == "HEAD":
        return "HeadRequests"
    if method == "POST":
        return "SelectRequests" if operation == "SelectObjectContent" else "PostRequests"
    return _BY_METHOD.get(method) if key is not None else None


class MetricsHandlers(ConfigHandlers):
    """Bucket metrics configurations, and the request metrics they publish."""

    _metric_tallies: dict[tuple[str, str], Tally]
    _select_figures: dict[str, Any]
    """An S3 Select request's ``select_io.Progress`` by request id, until it is counted."""

    def _start_request_metrics(self) -> None:
        self._metric_tallies = {}
        self._select_figures = {}
        self.env.every(interval_from_env(), self._publish_request_metrics, "s3-request-metrics")
        every = seconds_setting(STORAGE_ENV, DAY, low=0.2)
        self.env.every(every, self._publish_storage_metrics, "s3-storage-metrics")

    async def _publish_storage_metrics(self) -> None:
        """The daily storage figures of every bucket (``storage_metrics.py``)."""
        batches = storage_batches(self.store.conn, clock.time())
        for (account, region), data in batches.items():
            await self.env.put_metric_data(NAMESPACE, data, account=account, region=region)

    @property
    def _metrics(self) -> IdConfigs:
        return IdConfigs(self.configs, KIND, "MetricsConfigurationList")

    def _metric_configs(self, bucket: str) -> dict[str, dict[str, Any]]:
        return self._metrics.all(bucket)

    # -- the operations ----------------------------------------------------------------

    def put_bucket_metrics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._metrics.put(bucket.name, _check_configuration(params))
        return {}

    def get_bucket_metrics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return {"MetricsConfiguration": self._metrics.get(bucket.name, params["Id"])}

    def delete_bucket_metrics_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        self._metrics.delete(bucket.name, params["Id"])
        return {}

    def list_bucket_metrics_configurations(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self._metrics.page(bucket.name, params.get("ContinuationToken"))

    # -- counting -----------------------------------------------------------------------

    def observe(self, ctx: Any, response: Any, started: float, answered: float) -> None:
        """Count one request against the configurations of its bucket that select it."""
        operation = ctx.operation
        params = ctx.params or {}
        bucket = params.get("Bucket")
        if operation is None or not bucket:
            return
        select = (
            self._select_figures.pop(ctx.request_id, None)
            if operation.name == "SelectObjectContent"
            else None
        )
        configs = self._metric_configs(bucket)
        if not configs:
            return
        try:
            self._count(ctx, response, started, answered, bucket, configs, select)
        except Exception:  # noqa: BLE001 - counting never fails a request
            log.exception("counting an S3 request for metrics failed")

    def _count(
        self,
        ctx: Any,
        response: Any,
        started: float,
        answered: float,
        bucket: str,
        configs: dict[str, dict[str, Any]],
        select: Any = None,
    ) -> None:
        params = ctx.params
        key = params.get("Key")
        looked: list[dict[str, str]] = []

        def tags() -> dict[str, str]:  # looked up once, if a filter names tags
            if not looked:
                looked.append(self._object_tags(bucket, key, params))
            return looked[0]

        selectors = [Selector.of(c) for c in configs.values()]
        chosen = [s.id for s in selectors if s.selects(key, tags)]
        if not chosen:
            return
        finished = time.perf_counter()
        req = ctx.request
        status = response.status
        kind = _kind(req.method, ctx.operation.name, key)
        uploaded = _length(req.headers.get("x-amz-decoded-content-length")) or _length(
            req.headers.get("content-length")
        )
        body = response.body
        downloaded = (
            0
            if req.method == "HEAD"
            else len(body)
            if isinstance(body, bytes | bytearray)
            else _length(response.header("content-length"))
        )
        for config_id in chosen:
            tally = self._metric_tallies.get((bucket, config_id))
            if tally is None:
                tally = self._metric_tallies[(bucket, config_id)] = Tally()
            stats = tally.stats
            stats["AllRequests"].add(1)
            if kind is not None:
                stats[kind].add(1)
            stats["4xxErrors"].add(1 if 400 <= status < 500 else 0)
            stats["5xxErrors"].add(1 if status >= 500 else 0)
            if uploaded:
                stats["BytesUploaded"].add(uploaded)
            if downloaded:
                stats["BytesDownloaded"].add(downloaded)
            if select is not None:
                stats["SelectBytesScanned"].add(select.scanned)
                stats["SelectBytesReturned"].add(select.returned)
            stats["FirstByteLatency"].add((answered - started) * 1000)
            stats["TotalRequestLatency"].add((finished - started) * 1000)

    def _object_tags(self, bucket: str, key: str | None, params: dict[str, Any]) -> dict[str, str]:
        """The tags a request's object has, or for a write the ones it sets."""
        if key is None:
            return {}
        given = params.get("Tagging")
        if isinstance(given, str):  # x-amz-tagging on a write
            return dict(parse_qsl(given, keep_blank_values=True))
        if isinstance(given, dict):  # PutObjectTagging
            return {t["Key"]: t.get("Value", "") for t in given.get("TagSet") or []}
        found = self.store.latest(bucket, key)
        if found is None or found.delete_marker:
            return {}
        return {t["Key"]: t["Value"] for t in found.extra.get("tags") or []}

    async def _publish_request_metrics(self) -> None:
        taken, self._metric_tallies = self._metric_tallies, {}
        at = datetime.now(UTC)
        batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for (name, config_id), tally in taken.items():
            bucket = self.store.get_bucket(name)
            if bucket is None:
                continue
            dims = [{"Name": "BucketName", "Value": name}, {"Name": "FilterId", "Value": config_id}]
            batches[(bucket.account, bucket.region)].extend(tally.datums(dims, at))
        for (account, region), data in batches.items():
            await self.env.put_metric_data(NAMESPACE, data, account=account, region=region)


def _length(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0
