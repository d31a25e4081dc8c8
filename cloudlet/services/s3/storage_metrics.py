"""S3's daily storage metrics in CloudWatch: how big each bucket is, and how many objects.

Why: S3 publishes these for every bucket, with no configuration and at no charge, once
a day; dashboards of bucket growth and alarms on a bucket's size read them. Cloudlet
publishes them every ``CLOUDLET_S3_STORAGE_METRICS_INTERVAL`` seconds (default a day,
S3's period) to namespace ``AWS/S3``, with S3's names and dimensions:

- ``BucketSizeBytes`` (Bytes), dimensions ``BucketName`` and ``StorageType``: the bytes
  stored in each storage class (``StandardStorage``, ``StandardIAStorage``,
  ``GlacierStorage`` ...), current and noncurrent versions and the parts of incomplete
  multipart uploads alike;
- ``NumberOfObjects`` (Count), dimensions ``BucketName`` and ``StorageType`` =
  ``AllStorageTypes``: every version, delete markers included, and every part of an
  incomplete multipart upload.

Each datum is stamped with the day's midnight (UTC), as S3's daily figures are. Buckets
holding nothing are published too (zero objects). The figures come from two grouped
reads of the metadata, on the event loop: a full scan, which is why it runs daily.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

STORAGE_ENV = "CLOUDLET_S3_STORAGE_METRICS_INTERVAL"
DAY = 86400.0
STORAGE_TYPES = {
    "STANDARD": "StandardStorage",
    "REDUCED_REDUNDANCY": "ReducedRedundancyStorage",
    "STANDARD_IA": "StandardIAStorage",
    "ONEZONE_IA": "OneZoneIAStorage",
    "INTELLIGENT_TIERING": "IntelligentTieringFAStorage",
    "GLACIER_IR": "GlacierInstantRetrievalStorage",
    "GLACIER": "GlacierStorage",
    "DEEP_ARCHIVE": "DeepArchiveStorage",
    "EXPRESS_ONEZONE": "ExpressOneZone",
}
"""Storage class -> the ``StorageType`` S3 reports its bytes under."""

_VERSIONS = """
SELECT bucket, storage_class, SUM(CASE WHEN delete_marker THEN 0 ELSE size END), COUNT(*)
FROM objects GROUP BY bucket, storage_class
"""
_PARTS = """
SELECT u.bucket, u.storage_class, SUM(p.size), COUNT(*)
FROM mpu_parts p JOIN mpu_uploads u ON u.seq = p.upload_seq
GROUP BY u.bucket, u.storage_class
"""


def storage_batches(conn: sqlite3.Connection, at: float) -> dict[tuple[str, str], list[dict]]:
    """Every bucket's daily figures as MetricData, by the (account, region) it is in."""
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    counts: Counter[str] = Counter()
    for query in (_VERSIONS, _PARTS):
        for bucket, klass, size, number in conn.execute(query):
            sizes[bucket][klass] += size or 0
            counts[bucket] += number
    batches: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for name, account, region in conn.execute("SELECT name, account, region FROM buckets"):
        batches[(account, region)].extend(storage_datums(name, dict(sizes[name]), counts[name], at))
    return batches


def storage_datums(
    bucket: str, sizes: dict[str, int], count: int, at: float
) -> list[dict[str, Any]]:
    """One bucket's daily figures as MetricData, stamped with ``at``'s midnight (UTC)."""
    day = datetime.fromtimestamp(at - at % DAY, UTC)
    out = [
        {
            "MetricName": "NumberOfObjects",
            "Dimensions": [
                {"Name": "BucketName", "Value": bucket},
                {"Name": "StorageType", "Value": "AllStorageTypes"},
            ],
            "Timestamp": day,
            "Value": float(count),
            "Unit": "Count",
        }
    ]
    for klass, size in sorted(sizes.items()):
        storage_type = STORAGE_TYPES.get(klass)
        if storage_type is None:
            continue
        out.append(
            {
                "MetricName": "BucketSizeBytes",
                "Dimensions": [
                    {"Name": "BucketName", "Value": bucket},
                    {"Name": "StorageType", "Value": storage_type},
                ],
                "Timestamp": day,
                "Value": float(size),
                "Unit": "Bytes",
            }
        )
    return out
