"""Metric streams: the streams themselves (create, update, start, stop, delete) and the
background loop that sends every matching metric's per-minute aggregates to each running
stream's Firehose delivery stream.

How sending works, and why:

- Each stream keeps a *cursor*, the start of the first minute it has not sent. Once a
  minute is over and ``CLOUDLET_CLOUDWATCH_METRIC_STREAM_DELAY_SECONDS`` more have
  passed (default 30: the user guide says "data is sent every minute" and, with
  Firehose's smallest buffers, arrives "within 3 minutes"; the delay gives a minute's
  stragglers time to land), the loop (every second) reads the minute's datapoints of the
  stream's account and region from the store, aggregates each metric and unit the
  filters let through (``stream_config``), encodes them (``stream_formats``) and hands
  them to Firehose's PutRecordBatch in-process. A new stream starts with the minute
  before the one it was created in, so its first aggregates go out within about a minute
  and a half.
- Datapoints that arrive for a minute the stream has already sent (a timestamp in the
  past) are streamed too ("data might arrive at the final destination out of order. All
  specified metrics ... are sent ..., except metrics with a timestamp that is more than
  two days old"): each stream also keeps the rowid of the newest datapoint it has
  accounted for (``seen``), and every second sends the aggregates of what was put since
  then for minutes behind its cursor and less than two days old, one object per metric,
  unit and minute, as an update for that minute's timestamp. Datapoints put before the
  stream was created (or while it was stopped) are not: a stream streams what arrives
  while it runs.
- PutMetricData does no extra work for streams: the loop reads what it stored (a range
  of the datapoints' own key for the new arrivals, an index range per metric for a
  minute).
- Only when Firehose has taken every record of a delivery do ``cursor`` and ``seen``
  move on, and they are written with the stream as they do: after a restart nothing
  goes out twice and nothing is skipped (minutes that ended while the server was down
  go out, oldest first, ten a second, back to two days).
- A Firehose stream that is missing, not ACTIVE, refuses records, or (strict mode) that
  the stream's role may not ``firehose:PutRecord``/``PutRecordBatch`` into, fails the
  delivery: the stream stays ``running`` and retries the same delivery, waiting
  ``CLOUDLET_CLOUDWATCH_METRIC_STREAM_RETRY_SECONDS`` (default 5), doubling up to 12
  times that, for as long as it takes (minutes more than two days old are not streamed,
  so the cursor never waits behind that). Records Firehose took before a failure are not
  sent again. Each failure counts one ``PublishErrorRate``.
- Each delivery publishes the stream's own metrics in ``AWS/CloudWatch/MetricStreams``
  (``MetricUpdate``; ``TotalMetricUpdate``, one more per five additional statistics of
  an update), with a ``MetricStreamName`` dimension and without, as the user guide
  lists them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.cloudwatch import errors
from cloudlet.services.cloudwatch.metrics import Metrics
from cloudlet.services.cloudwatch.statistics import Aggregate
from cloudlet.services.cloudwatch.store import Row, Store
from cloudlet.services.cloudwatch.stream_config import RUNNING, MetricStream, configure, tag_list
from cloudlet.services.cloudwatch.stream_formats import Update, records
from cloudlet.state.db import Transaction

log = logging.getLogger(__name__)
Key = tuple[str, str, str]
Arrival = tuple[int, str, str, str, str, str, Row]
DELAY_ENV = "CLOUDLET_CLOUDWATCH_METRIC_STREAM_DELAY_SECONDS"
RETRY_ENV = "CLOUDLET_CLOUDWATCH_METRIC_STREAM_RETRY_SECONDS"
MINUTES_PER_TICK = 10
ARRIVALS_PER_TICK = 100_000
"""Datapoints read for late updates in one tick: a stream far behind catches up in steps."""
BATCH_RECORDS = 500
BATCH_BYTES = 4 * 1024 * 1024
OWN_NAMESPACE = "AWS/CloudWatch/MetricStreams"
ROLE_SESSION = "MetricStreams"
MAX_AGE = 2 * 86400
"""The user guide: metrics "with a timestamp that is more than two days old" are not sent."""


@dataclass
class Delivery:
    """Records for one stream, what the stream becomes once Firehose has taken them all
    (its ``cursor`` and ``seen``), and its own figures to publish then."""

    records: list[bytes]
    cursor: float
    seen: int
    figures: list[tuple[str, float]]


def _minute(t: float) -> float:
    return math.floor(t / 60) * 60.0


class MetricStreams:
    def __init__(self, store: Store, metrics: Metrics, clock: Any, env: Any) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.env = env
        self.delay = seconds_setting(DELAY_ENV, 30.0)
        self.retry = seconds_setting(RETRY_ENV, 5.0, low=0.05)
        self.streams: dict[Key, MetricStream] = {}
        self.pending: dict[Key, Delivery] = {}
        """Per stream: a delivery Firehose has not taken all of, for the retry."""
        self.failures: dict[Key, int] = {}
        self.retry_at: dict[Key, float] = {}
        for account, region, doc in store.metric_streams():
            stream = MetricStream.load(account, region, doc)
            self.streams[(account, region, stream.name)] = stream

    # --- the streams -----------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> MetricStream:
        stream = self.streams.get((account, region, name))
        if stream is None:
            raise errors.resource_not_found(f"The metric stream {name} does not exist.")
        return stream

    def by_arn(self, account: str, region: str, arn: str) -> MetricStream | None:
        prefix = f"arn:aws:cloudwatch:{region}:{account}:metric-stream/"
        if not arn.startswith(prefix):
            return None
        return self.streams.get((account, region, arn[len(prefix) :]))

    def list(self, account: str, region: str) -> list[MetricStream]:
        return sorted(
            (s for (a, r, _), s in self.streams.items() if (a, r) == (account, region)),
            key=lambda s: s.name,
        )

    def put(self, account: str, region: str, params: dict[str, Any]) -> MetricStream:
        """PutMetricStream: a new stream starts ``running``; an update keeps its state,
        creation date and tags (the API reference: Tags are for a new stream only)."""
        config = configure(params, account)
        now = self.clock.time()
        key = (account, region, params["Name"])
        stream = self.streams.get(key)
        if stream is None:
            stream = MetricStream(
                name=params["Name"],
                account=account,
                region=region,
                created=now,
                cursor=_minute(now) - 60,
                seen=self.store.last_arrival(),
                tags=tag_list(params.get("Tags") or []),
                **config,
            )
        else:
            for attr, value in config.items():
                setattr(stream, attr, value)
            self.pending.pop(key, None)  # made anew in the new format, through new filters
        stream.updated = now
        self._save(stream)
        self.streams[key] = stream
        return stream

    def delete(self, account: str, region: str, name: str) -> None:
        key = (account, region, name)
        with Transaction(self.store.conn):
            self.store.delete_metric_stream(account, region, name)
        for held in (self.streams, self.pending, self.failures, self.retry_at):
            held.pop(key, None)

    def set_state(self, account: str, region: str, names: list[str], state: str) -> None:
        """StartMetricStreams / StopMetricStreams on the streams named (unknown names are
        passed over: the operations model no not-found error). A started stream resumes
        with the minute before this one and what arrives from now on."""
        now = self.clock.time()
        changed = []
        for name in dict.fromkeys(names):
            key = (account, region, name)
            stream = self.streams.get(key)
            if stream is None or stream.state == state:
                continue
            stream.state = state
            stream.updated = now
            if state == RUNNING:
                stream.cursor = max(stream.cursor, _minute(now) - 60)
                stream.seen = self.store.last_arrival()
            for held in (self.pending, self.failures, self.retry_at):
                held.pop(key, None)
            changed.append(stream)
        with Transaction(self.store.conn):
            for stream in changed:
                self.store.save_metric_stream(account, region, stream.document())

    def set_tags(self, stream: MetricStream, tags: list[dict[str, str]]) -> None:
        stream.tags = tag_list(tags)
        self._save(stream)

    def _save(self, stream: MetricStream) -> None:
        with Transaction(self.store.conn):
            self.store.save_metric_stream(stream.account, stream.region, stream.document())

    # --- the loop --------------------------------------------------------------------

    async def tick(self) -> None:
        """Deliver what each running stream has due: a delivery left to retry, then
        updates for minutes already sent, then the minutes now complete, oldest first."""
        if not self.streams:
            return
        now = self.clock.time()
        newest = self.store.last_arrival()
        running = [
            (key, s)
            for key, s in self.streams.items()
            if s.state == RUNNING and self.retry_at.get(key, 0.0) <= now
        ]
        for _, stream in running:
            stream.seen = min(stream.seen, newest)  # the table emptied and started over
        after = min((s.seen for _, s in running), default=newest)
        upto = min(newest, after + ARRIVALS_PER_TICK)
        arrivals = self.store.arrived(after, upto) if after < upto else []
        windows: dict[tuple[str, str, float, int], list] = {}
        for key, stream in running:
            try:
                await self._run(key, stream, now, upto, arrivals, windows)
            except Exception:  # noqa: BLE001 - one stream's trouble must not stop the others
                log.exception("metric stream %s: delivery failed", stream.arn)

    async def _run(
        self,
        key: Key,
        stream: MetricStream,
        now: float,
        upto: int,
        arrivals: list[Arrival],
        windows: dict,
    ) -> None:
        held = self.pending.get(key)
        if held is not None and not await self._deliver(key, stream, held):
            return
        if stream.seen < upto:
            if not await self._deliver(key, stream, self._late(stream, arrivals, upto)):
                return
        last = _minute(now - self.delay - 60)
        stream.cursor = max(stream.cursor, _minute(now - MAX_AGE))
        for _ in range(MINUTES_PER_TICK):
            if stream.cursor > last or self.streams.get(key) is not stream:
                return
            if not await self._deliver(key, stream, self._window(stream, windows)):
                return

    def _late(self, stream: MetricStream, arrivals: list[Arrival], upto: int) -> Delivery:
        """What arrived since ``seen`` (up to rowid ``upto``) for minutes behind the
        cursor."""
        oldest = self.clock.time() - MAX_AGE
        groups: dict[tuple[float, str, str, str, str], Aggregate] = {}
        for rid, account, region, namespace, name, dims, row in arrivals:
            if rid <= stream.seen or (account, region) != (stream.account, stream.region):
                continue
            if not oldest <= row.ts < stream.cursor or not stream.wants(namespace, name):
                continue
            _fold(groups, (_minute(row.ts), namespace, name, dims, row.unit), row)
        updates = [
            Update(ns, name, _pairs(dims), unit, minute, agg)
            for (minute, ns, name, dims, unit), agg in sorted(groups.items(), key=_by_key)
        ]
        return self._delivery(stream, updates, stream.cursor, upto)

    def _window(self, stream: MetricStream, windows: dict) -> Delivery:
        """The minute at the cursor: every datapoint of it put up to ``seen`` (those put
        later go out as updates, so none is counted twice)."""
        minute = stream.cursor
        where = (stream.account, stream.region, minute, stream.seen)
        rows = windows.get(where)
        if rows is None:
            rows = windows[where] = self.store.window_rows(
                stream.account, stream.region, minute, minute + 60, stream.seen
            )
        groups: dict[tuple[str, str, str, str], Aggregate] = {}
        for namespace, name, dims, row in rows:
            if stream.wants(namespace, name):
                _fold(groups, (namespace, name, dims, row.unit), row)
        updates = [
            Update(ns, name, _pairs(dims), unit, minute, agg)
            for (ns, name, dims, unit), agg in sorted(groups.items(), key=_by_key)
        ]
        return self._delivery(stream, updates, minute + 60, stream.seen)

    def _delivery(
        self, stream: MetricStream, updates: list[Update], cursor: float, seen: int
    ) -> Delivery:
        figures: list[tuple[str, float]] = []
        if updates:
            extra = sum(
                math.ceil(len(stream.extra_statistics(u.namespace, u.name)) / 5) for u in updates
            )
            count = float(len(updates))
            figures = [("MetricUpdate", count), ("TotalMetricUpdate", count + extra)]
        return Delivery(records(stream, updates), cursor, seen, figures)

    async def _deliver(self, key: Key, stream: MetricStream, delivery: Delivery) -> bool:
        """Hand a delivery to Firehose; on success move the stream on and keep it."""
        if delivery.records and not await self._put(key, stream, delivery):
            if self.streams.get(key) is not stream or stream.state != RUNNING:
                return False  # deleted or stopped meanwhile
            self.pending[key] = delivery
            failures = self.failures[key] = self.failures.get(key, 0) + 1
            wait = min(self.retry * 2 ** (failures - 1), self.retry * 12)
            self.retry_at[key] = self.clock.time() + wait
            self._publish(stream, [("PublishErrorRate", 1.0)])
            return False
        for held in (self.pending, self.failures, self.retry_at):
            held.pop(key, None)
        if self.streams.get(key) is not stream:
            return False  # deleted meanwhile
        stream.cursor, stream.seen = delivery.cursor, delivery.seen
        self._save(stream)
        self._publish(stream, delivery.figures)
        return stream.state == RUNNING

    async def _put(self, key: Key, stream: MetricStream, delivery: Delivery) -> bool:
        """PutRecordBatch the delivery's records, taking from it those Firehose took."""
        firehose = stream.firehose_arn
        _, _, _, region, account, resource = firehose.split(":", 5)
        if not self._role_may(stream.role_arn, firehose):
            why = f"the role may not firehose:PutRecordBatch on {firehose}"
            return self._failed(key, stream, "AccessDenied", why)
        name = resource.split("/", 1)[1]
        while delivery.records:
            batch = _batch(delivery.records)
            try:
                out = await self.env.call(
                    "firehose",
                    "PutRecordBatch",
                    {"DeliveryStreamName": name, "Records": [{"Data": r} for r in batch]},
                    account=account,
                    region=region,
                )
            except (ServiceError, NotImplementedOperation) as err:
                return self._failed(key, stream, err.code, err.message)
            results = out.get("RequestResponses") or [{}] * len(batch)
            refused = [r for r, res in zip(batch, results, strict=False) if res.get("ErrorCode")]
            delivery.records = refused + delivery.records[len(batch) :]
            if refused:
                why = f"{len(refused)} of {len(batch)} records refused"
                return self._failed(key, stream, "FailedPut", why)
        return True

    def _failed(self, key: Key, stream: MetricStream, code: str, why: str) -> bool:
        level = logging.DEBUG if self.failures.get(key) else logging.WARNING
        log.log(
            level,
            "metric stream %s: delivering to %s failed (%s: %s); retrying",
            stream.arn,
            stream.firehose_arn,
            code,
            why,
        )
        return False

    def _role_may(self, role_arn: str, firehose_arn: str) -> bool:
        """Strict mode: whether the stream's role's policies allow putting records into the
        delivery stream (CloudWatch writes as the role on AWS); open mode allows all, and
        a role IAM does not know is not governed."""
        return all(
            self.env.role_may(role_arn, (action,), firehose_arn, session=ROLE_SESSION)
            for action in ("firehose:PutRecord", "firehose:PutRecordBatch")
        )

    def _publish(self, stream: MetricStream, figures: list[tuple[str, float]]) -> None:
        if not figures:
            return
        dims = [{"Name": "MetricStreamName", "Value": stream.name}]
        data = [
            {"MetricName": name, "Value": value, "Unit": "None", **extra}
            for name, value in figures
            for extra in ({"Dimensions": dims}, {})
        ]
        self.metrics.put(stream.account, stream.region, OWN_NAMESPACE, data, internal=True)


def _fold(groups: dict, key: tuple, row: Row) -> None:
    agg = groups.get(key)
    if agg is None:
        agg = groups[key] = Aggregate()
    agg.add(row)


def _by_key(item: tuple[tuple, Aggregate]) -> tuple:
    return item[0]


def _pairs(dims: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in json.loads(dims)]


def _batch(todo: list[bytes]) -> list[bytes]:
    """The first PutRecordBatch's worth of ``todo``: 500 records and 4 MiB at most."""
    size = 0
    for i, record in enumerate(todo):
        size += len(record)
        if i == BATCH_RECORDS or (i and size > BATCH_BYTES):
            return todo[:i]
    return todo
