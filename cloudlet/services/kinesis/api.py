"""The Kinesis Data Streams service: one class composed of one mixin per operation group.

Streams, their enhanced fan-out consumers and records are durable in the service's own
database (``store.py``), with each stream's enhanced monitoring settings and each
stream's and consumer's resource policy in its document. A periodic sweep drops records
older than their stream's retention period, as Kinesis does (reads already skip them
before the sweep comes round), and consumers whose deregistration has finished.
SubscribeToShard's subscriptions live in memory only (``subscribe.py``) and end when the
server stops. What the data plane does is counted as it happens and published to
CloudWatch as ``AWS/Kinesis`` metrics every ``CLOUDLET_KINESIS_METRICS_INTERVAL`` seconds
(``metrics.py``). Warm throughput is not built: UpdateStreamMode with it answers 501.
"""

from __future__ import annotations

import logging

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.kinesis import metrics
from cloudlet.services.kinesis.monitoring import MonitoringOps
from cloudlet.services.kinesis.policies import PolicyOps
from cloudlet.services.kinesis.records import HOUR_SECONDS
from cloudlet.services.kinesis.reshard import ReshardOps
from cloudlet.services.kinesis.store import KinesisStore
from cloudlet.services.kinesis.subscribe import SubscribeOps, Subscriptions
from cloudlet.services.kinesis.tags import TagOps

log = logging.getLogger(__name__)
SWEEP_SECONDS = seconds_setting("CLOUDLET_KINESIS_SWEEP_SECONDS", 60.0, low=0.05)


class KinesisService(SubscribeOps, ReshardOps, MonitoringOps, PolicyOps, TagOps, Service):
    name = "kinesis"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = KinesisStore(env.database("kinesis"))
        self.subscriptions = Subscriptions()
        self._usage = {}
        self.metrics_interval = metrics.interval_from_env()
        self.meter = metrics.Meter(self.metrics_interval)

    async def start(self) -> None:
        self.env.every(SWEEP_SECONDS, self._sweep, "kinesis-retention")
        self.env.every(self.metrics_interval, self._publish_metrics, "kinesis-metrics")

    async def stop(self) -> None:
        self.subscriptions.end_all()
        self.store.close()

    def _sweep(self) -> None:
        """Drop every stream's records that are past its retention period, and the
        consumers whose deregistration has finished."""
        now = clock.time()
        for stream in list(self.store.streams.values()):
            gone = self.store.sweep(stream, now - stream.retention_hours * HOUR_SECONDS)
            if gone:
                log.debug("kinesis: %d records of %s past retention", gone, stream.name)
            self.store.live_consumers(stream.arn, now)
        self._usage = {k: v for k, v in self._usage.items() if v[0] >= int(now)}

    async def _publish_metrics(self) -> None:
        """The closed windows' ``AWS/Kinesis`` statistic sets, to CloudWatch."""
        for (account, region), data in self.meter.take(clock.time()).items():
            await self.env.put_metric_data(metrics.NAMESPACE, data, account=account, region=region)
