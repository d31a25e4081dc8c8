"""Firehose's CloudWatch metrics (``AWS/Firehose``), counted from what the service did.

Why: ``IncomingRecords``, ``DeliveryToS3.Success`` and ``DeliveryToS3.DataFreshness``
are how people watch a delivery stream (and alarm when it falls behind), so they are
the real figures. Names, units and the ``DeliveryStreamName`` dimension are the
developer guide's ("Monitoring Amazon Data Firehose with CloudWatch metrics"): data
ingestion (``IncomingBytes``, ``IncomingRecords``, ``IncomingPutRequests``,
``PutRecord.*``, ``PutRecordBatch.*``, ``DataReadFromKinesisStream.*``), delivery
(``DeliveryToS3.Bytes|Records|Success|DataFreshness``, ``DeliveryToHttpEndpoint.*``,
``DeliveryToSplunk.*`` with ``DataAckLatency``, ``BackupToS3.*``), transformation
(``ExecuteProcessing.Duration|Success``, ``SucceedProcessing.Records|Bytes``) and
dynamic partitioning (``JQProcessing.Duration``).

Each event adds one sample; samples gather into statistic sets per minute (or
``CLOUDLET_FIREHOSE_METRICS_INTERVAL`` seconds when shorter, for tests) and closed
windows go to CloudWatch as the stream's account and region, as Kinesis's do. Windows
without activity publish nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.statistic_sets import StatisticSet

NAMESPACE = "AWS/Firehose"
INTERVAL = seconds_setting("CLOUDLET_FIREHOSE_METRICS_INTERVAL", 60.0, low=0.2)
Key = tuple[int, str, str, str]
"""(window, account, region, stream name)."""


def unit(name: str) -> str:
    if name.endswith("Bytes"):
        return "Bytes"
    if name.endswith(("DataFreshness", "DataAckLatency")):
        return "Seconds"
    if name.endswith(("Duration", "Latency")):
        return "Milliseconds"
    return "Count"


class Meter:
    def __init__(self, env: Any) -> None:
        self.env = env
        self.window = min(INTERVAL, 60.0)
        self.tallies: dict[Key, defaultdict[str, StatisticSet]] = {}

    def add(self, stream: Any, **values: float) -> None:
        """One sample of each metric in ``values`` (names with ``_`` for ``.``)."""
        key = (int(clock.time() // self.window), stream.account, stream.region, stream.name)
        stats = self.tallies.get(key)
        if stats is None:
            stats = self.tallies[key] = defaultdict(StatisticSet)
        for name, value in values.items():
            stats[name.replace("_", ".")].add(value)

    async def publish(self) -> None:
        """Send the windows that have closed."""
        current = int(clock.time() // self.window)
        closed = [k for k in self.tallies if k[0] < current]
        batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for key in closed:
            window, account, region, name = key
            stamp = datetime.fromtimestamp(window * self.window, UTC)
            for metric, stat in self.tallies.pop(key).items():
                batches[(account, region)].append(
                    {
                        "MetricName": metric,
                        "Dimensions": [{"Name": "DeliveryStreamName", "Value": name}],
                        "Timestamp": stamp,
                        "Unit": unit(metric),
                        "StatisticValues": stat.values(),
                    }
                )
        for (account, region), data in batches.items():
            await self.env.put_metric_data(NAMESPACE, data, account=account, region=region)
