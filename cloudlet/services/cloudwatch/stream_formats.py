"""What a metric stream puts in its Firehose records: one minute's aggregates in the
stream's output format, packed into records.

- ``json``: one object per metric, unit and minute, on a line of its own ("each Firehose
  record contains multiple JSON objects separated by a newline character"), with the
  user guide's fields: ``metric_stream_name``, ``account_id``, ``region``,
  ``namespace``, ``metric_name``, ``dimensions`` (name to value), ``timestamp`` (the
  minute's start in epoch milliseconds), ``value`` (``count``, ``sum``, ``max``,
  ``min`` and each additional statistic by the name it was configured with: ``p99``,
  ``p99.9``, ``tm99``, ``TM(10%:90%)``, ``wm90``, ``tc90``, ``ts90``, ``PR(:300)``,
  ``IQM``, computed as ``statistics`` computes them) and ``unit``.
  Every line ends with ``\\n``, so records concatenated in an S3 object stay one object
  per line.
- ``opentelemetry0.7`` / ``opentelemetry1.0``: length-delimited
  ``ExportMetricsServiceRequest`` messages (``otlp``), one summary data point per
  metric, unit and minute: start and end of the minute, ``count``, ``sum``, and quantile
  0.0 (minimum), each additional percentile (p95 as 0.95), 1.0 (maximum); the resource
  names the provider, account, region and stream ARN.

A percentile (or trimmed or winsorized statistic, percentile rank, IQM) over a minute
that holds only statistic sets has no value (CloudWatch keeps no distribution for them)
and is left out, as GetMetricStatistics leaves it out. Records hold at most ``RECORD_BYTES``: the user guide says records hold several objects without
saying how many; a quarter of Firehose's 1,000 KiB record limit keeps a Lambda
transformation's batches small.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cloudlet.services.cloudwatch import otlp
from cloudlet.services.cloudwatch.statistics import Aggregate, percentile_of
from cloudlet.services.cloudwatch.stream_config import MetricStream

RECORD_BYTES = 256 * 1024


@dataclass(slots=True)
class Update:
    """One metric's aggregate over one minute, in one unit."""

    namespace: str
    name: str
    dimensions: list[tuple[str, str]]
    unit: str
    minute: float
    agg: Aggregate


def records(stream: MetricStream, updates: list[Update]) -> list[bytes]:
    """The Firehose records carrying ``updates`` in ``stream``'s format."""
    if stream.output_format == "json":
        return _pack([_json_line(stream, u) for u in updates])
    return _otlp_records(stream, updates)


def _extra(stream: MetricStream, u: Update) -> list[tuple[str, float]]:
    """(statistic, value) of each additional statistic the minute has a value for."""
    out = []
    for stat in stream.extra_statistics(u.namespace, u.name):
        value = u.agg.stat(stat)
        if value is not None:
            out.append((stat, value))
    return out


def _json_line(stream: MetricStream, u: Update) -> bytes:
    value = {"count": u.agg.count, "sum": u.agg.sum, "max": u.agg.max, "min": u.agg.min}
    value.update(_extra(stream, u))
    doc = {
        "metric_stream_name": stream.name,
        "account_id": stream.account,
        "region": stream.region,
        "namespace": u.namespace,
        "metric_name": u.name,
        "dimensions": dict(u.dimensions),
        "timestamp": int(u.minute * 1000),
        "value": value,
        "unit": u.unit,
    }
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def _pack(pieces: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    current = b""
    for piece in pieces:
        if current and len(current) + len(piece) > RECORD_BYTES:
            out.append(current)
            current = b""
        current += piece
    if current:
        out.append(current)
    return out


def _otlp_records(stream: MetricStream, updates: list[Update]) -> list[bytes]:
    attributes = otlp.resource(
        [
            ("cloud.provider", "aws"),
            ("cloud.account.id", stream.account),
            ("cloud.region", stream.region),
            ("aws.exporter.arn", stream.arn),
        ]
    )
    points = [_point(stream, u) for u in updates]
    out: list[bytes] = []
    chunk: list[otlp.Point] = []
    size = 0
    for point, u in zip(points, updates, strict=True):
        weight = (
            128 + len(u.namespace) + len(u.name) + sum(len(k) + len(v) for k, v in u.dimensions)
        )
        if chunk and size + weight > RECORD_BYTES:
            out.append(otlp.delimited(otlp.export_request(attributes, chunk, stream.output_format)))
            chunk, size = [], 0
        chunk.append(point)
        size += weight + 20 * len(point.quantiles)
    if chunk:
        out.append(otlp.delimited(otlp.export_request(attributes, chunk, stream.output_format)))
    return out


def _point(stream: MetricStream, u: Update) -> otlp.Point:
    quantiles = [(0.0, u.agg.min)]
    for stat, value in sorted(_extra(stream, u), key=lambda sv: percentile_of(sv[0]) or 0.0):
        p = percentile_of(stat)
        if p is not None and 0 < p < 100 and p / 100 > quantiles[-1][0]:
            quantiles.append((round(p / 100, 12), value))
    quantiles.append((1.0, u.agg.max))
    start_ns = int(u.minute) * 1_000_000_000
    return otlp.Point(
        namespace=u.namespace,
        name=u.name,
        dimensions=u.dimensions,
        unit=otlp.ucum(u.unit),
        start_ns=start_ns,
        end_ns=start_ns + 60_000_000_000,
        count=u.agg.count,
        sum=u.agg.sum,
        quantiles=quantiles,
    )
