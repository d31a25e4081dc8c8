"""OTLP ``ExportMetricsServiceRequest`` messages in protobuf's wire format, for the
metric streams' ``opentelemetry0.7`` and ``opentelemetry1.0`` output formats.

Why hand-written: cloudlet depends on neither ``protobuf`` nor ``opentelemetry-proto``,
and a metric stream needs only a handful of messages, all made of four wire elements:
varints, length-delimited fields (strings, nested messages), ``fixed64`` integers and
``double``s. Encoding follows proto3 as the official serializers do: fields in number
order, scalars left out when they hold their default (zero, empty), nested messages
always written.

The messages, with their field numbers from the OpenTelemetry protos of each release
(the user guide quotes them):

- both: ``ExportMetricsServiceRequest{resource_metrics=1}``,
  ``ResourceMetrics{resource=1, <scope>=2}``, ``Resource{attributes=1}``,
  ``KeyValue{key=1, value=2}``, ``AnyValue{string_value=1, kvlist_value=6}``,
  ``KeyValueList{values=1}``, ``Metric{name=1, description=2, unit=3, <summary>=11}``,
  ``<Summary>{data_points=1}``, ``ValueAtQuantile{quantile=1, value=2}``.
- 0.7.0: ``InstrumentationLibraryMetrics{metrics=2}``, ``DoubleSummary``,
  ``DoubleSummaryDataPoint{labels=1 (StringKeyValue{key=1, value=2}),
  start_time_unix_nano=2, time_unix_nano=3, count=4, sum=5, quantile_values=6}``.
- 1.0.0: ``ScopeMetrics{metrics=2}``, ``Summary``, ``SummaryDataPoint{attributes=7
  (KeyValue), start_time_unix_nano=2, time_unix_nano=3, count=4, sum=5,
  quantile_values=6}``; the dimensions are one ``Dimensions`` attribute holding a
  ``KeyValueList``.

Each message goes into a Firehose record behind its length as a varint, as CloudWatch
writes them ("a header with an UnsignedVarInt32 indicating the record length").
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

V07, V10 = "opentelemetry0.7", "opentelemetry1.0"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def message(number: int, payload: bytes) -> bytes:
    """A nested message (or bytes) field; written even when empty."""
    return _key(number, 2) + varint(len(payload)) + payload


def string(number: int, value: str) -> bytes:
    return message(number, value.encode()) if value else b""


def fixed64(number: int, value: int) -> bytes:
    return _key(number, 1) + struct.pack("<Q", value) if value else b""


def double(number: int, value: float) -> bytes:
    packed = struct.pack("<d", value)
    return _key(number, 1) + packed if packed != b"\0" * 8 else b""


def delimited(payload: bytes) -> bytes:
    """A message behind its length: how each one sits in a record."""
    return varint(len(payload)) + payload


# --- OTLP --------------------------------------------------------------------------------


@dataclass(slots=True)
class Point:
    """One metric's one minute, as a summary data point."""

    namespace: str
    name: str
    dimensions: list[tuple[str, str]]
    unit: str
    start_ns: int
    end_ns: int
    count: float
    sum: float
    quantiles: list[tuple[float, float]]
    """(quantile, value), strictly increasing: 0.0 the minimum, 1.0 the maximum."""


def _attribute(key: str, value: str) -> bytes:
    """A ``KeyValue`` holding a string."""
    return string(1, key) + message(2, string(1, value))


def resource(attributes: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(message(1, _attribute(k, v)) for k, v in attributes)


def _point(p: Point, version: str) -> bytes:
    body = fixed64(2, p.start_ns) + fixed64(3, p.end_ns)
    body += fixed64(4, round(p.count)) + double(5, p.sum)
    body += b"".join(message(6, double(1, q) + double(2, v)) for q, v in p.quantiles)
    if version == V07:
        labels = [("Namespace", p.namespace), ("MetricName", p.name), *p.dimensions]
        return b"".join(message(1, string(1, k) + string(2, v)) for k, v in labels) + body
    dims = b"".join(message(1, _attribute(k, v)) for k, v in p.dimensions)
    attributes = (
        message(7, _attribute("Namespace", p.namespace))
        + message(7, _attribute("MetricName", p.name))
        + message(7, string(1, "Dimensions") + message(2, message(6, dims)))
    )
    return body + attributes


def export_request(resource_attributes: bytes, points: list[Point], version: str) -> bytes:
    """One ``ExportMetricsServiceRequest``: a metric per (namespace, name, unit) of
    ``points``, in the order they first appear, each holding its data points."""
    metrics: dict[tuple[str, str, str], list[bytes]] = {}
    for p in points:
        metrics.setdefault((p.namespace, p.name, p.unit), []).append(_point(p, version))
    encoded = b""
    for (namespace, name, unit), data in metrics.items():
        summary = b"".join(message(1, d) for d in data)
        encoded += message(
            2,
            string(1, f"amazonaws.com/{namespace}/{name}") + string(3, unit) + message(11, summary),
        )
    resource_metrics = message(1, resource_attributes) + message(2, encoded)
    return message(1, resource_metrics)


_UCUM = {
    "Second": "s",
    "Seconds": "s",
    "Microseconds": "us",
    "Milliseconds": "ms",
    "Bytes": "By",
    "Kilobytes": "kBy",
    "Megabytes": "MBy",
    "Gigabytes": "GBy",
    "Terabytes": "TBy",
    "Bits": "bit",
    "Kilobits": "kbit",
    "Megabits": "MBit",
    "Gigabits": "GBit",
    "Terabits": "Tbit",
    "Percent": "%",
    "Count": "{Count}",
    "None": "1",
}


def ucum(unit: str) -> str:
    """A CloudWatch unit in the user guide's case-sensitive UCUM: ``Bytes/Second`` is
    ``By/s``, each side translated."""
    return "/".join(_UCUM.get(part, part) for part in unit.split("/"))
