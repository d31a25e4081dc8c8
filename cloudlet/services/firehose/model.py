"""A delivery stream as cloudlet keeps it, and as DescribeDeliveryStream shows it.

Why a dataclass with ``to_doc``/``from_doc``: streams are few and read on every record
put, so they live in memory and are written through to the service's database on every
change (``store.py``). The destination is kept in its description's shape
(``ExtendedS3DestinationDescription`` / ``HttpEndpointDestinationDescription`` /
``SplunkDestinationDescription``, defaults filled in by ``config.py``) plus what a description never shows (an HTTP endpoint's
access key), so describing a stream is mostly copying.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from cloudlet.core.clock import utc_datetime
from cloudlet.core.ids import arn

Doc = dict[str, Any]
DESTINATION_ID = "destinationId-000000000001"


def stream_arn(region: str, account: str, name: str) -> str:
    return arn("firehose", region, account, f"deliverystream/{name}")


@dataclass
class DeliveryStream:
    name: str
    arn: str
    account: str
    region: str
    type: str
    """DirectPut or KinesisStreamAsSource."""
    destination: Doc
    """{"kind": "ExtendedS3" | "HttpEndpoint" | "Splunk", "config": the description's
    shape}."""
    created: float
    status: str = "CREATING"
    version: int = 1
    updated: float | None = None
    settle_at: float = 0.0
    source: Doc | None = None
    """KinesisStreamSourceDescription (with DeliveryStartTimestamp as epoch seconds) or
    DirectPutSourceDescription, by key; None for a DirectPut stream made without one."""
    encryption: Doc = field(default_factory=lambda: {"Status": "DISABLED"})
    encryption_settle_at: float = 0.0
    encryption_calls: list[float] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    position: Doc = field(default_factory=dict)
    """The Kinesis source's place in each shard (shard id -> checkpoint, finished)."""

    @property
    def kind(self) -> str:
        return self.destination["kind"]

    @property
    def config(self) -> Doc:
        return self.destination["config"]

    @property
    def s3(self) -> Doc:
        """Where objects go: the S3 destination itself, or an HTTP endpoint's or Splunk's
        bucket."""
        if self.kind in ("HttpEndpoint", "Splunk"):
            return self.config["S3Configuration"]
        return self.config

    @property
    def encrypted(self) -> bool:
        return self.encryption.get("Status") == "ENABLED"

    def to_doc(self) -> Doc:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Doc) -> DeliveryStream:
        return cls(**doc)


def legacy_s3(config: Doc) -> Doc:
    """The S3DestinationDescription AWS shows beside an extended one."""
    keys = (
        "RoleARN",
        "BucketARN",
        "Prefix",
        "ErrorOutputPrefix",
        "BufferingHints",
        "CompressionFormat",
        "EncryptionConfiguration",
        "CloudWatchLoggingOptions",
    )
    return {k: copy.deepcopy(config[k]) for k in keys if k in config}


def destination(stream: DeliveryStream) -> Doc:
    out: Doc = {"DestinationId": DESTINATION_ID}
    if stream.kind == "ExtendedS3":
        out["ExtendedS3DestinationDescription"] = copy.deepcopy(stream.config)
        out["S3DestinationDescription"] = legacy_s3(stream.config)
        return out
    config = copy.deepcopy(stream.config)
    if stream.kind == "Splunk":
        config["S3DestinationDescription"] = legacy_s3(config.pop("S3Configuration"))
        out["SplunkDestinationDescription"] = config
        return out
    endpoint = config.pop("EndpointConfiguration")
    config["EndpointConfiguration"] = {
        k: endpoint[k] for k in ("Url", "Name") if endpoint.get(k) is not None
    }
    config["S3DestinationDescription"] = legacy_s3(config.pop("S3Configuration"))
    out["HttpEndpointDestinationDescription"] = config
    return out


def describe(stream: DeliveryStream, limit: int | None, start_after: str | None) -> Doc:
    """DescribeDeliveryStream's ``DeliveryStreamDescription``."""
    destinations = [destination(stream)]
    if start_after is not None:
        destinations = [d for d in destinations if d["DestinationId"] > start_after]
    shown = destinations[: limit or len(destinations)]
    out: Doc = {
        "DeliveryStreamName": stream.name,
        "DeliveryStreamARN": stream.arn,
        "DeliveryStreamStatus": stream.status,
        "DeliveryStreamEncryptionConfiguration": dict(stream.encryption),
        "DeliveryStreamType": stream.type,
        "VersionId": str(stream.version),
        "CreateTimestamp": utc_datetime(stream.created),
        "Destinations": shown,
        "HasMoreDestinations": len(shown) < len(destinations),
    }
    if stream.updated is not None:
        out["LastUpdateTimestamp"] = utc_datetime(stream.updated)
    if stream.source is not None:
        source = copy.deepcopy(stream.source)
        kinesis = source.get("KinesisStreamSourceDescription")
        if kinesis is not None:
            kinesis["DeliveryStartTimestamp"] = utc_datetime(kinesis["DeliveryStartTimestamp"])
        out["Source"] = source
    return out
