"""What a delivery stream may be: its source and destination, checked and completed.

Why one module: CreateDeliveryStream and UpdateDestination take the same destination
configurations, and both must end with the same stored shape (the description's, every
default filled in: 5 MB / 300 s buffering, ``UNCOMPRESSED``, ``NoEncryption``, logging
off, ``S3BackupMode`` Disabled) after the same checks. UpdateDestination merges an
update into the stored configuration when the destination keeps its type (members left
out keep their values) and takes it whole when the type changes, as the API reference
says; the merged result is checked again as a new configuration would be.

Cloudlet delivers to S3 (``ExtendedS3DestinationConfiguration`` and the legacy
``S3DestinationConfiguration``, stored as extended, as AWS does), to HTTP endpoints and
to Splunk (``splunk``: 60 s / 5 MB buffering, a 180 s acknowledgement timeout, an hour
of retries and ``FailedEventsOnly`` backup unless given; the HEC endpoint HTTPS, or
plain HTTP to a loopback host, as for HTTP endpoints); every other destination, MSK and
database sources, format conversion and Secrets Manager credentials answer 501 naming
what cloudlet does. A ``MetadataExtraction`` processor is taken only where dynamic
partitioning is on (an S3 destination's).
"""

from __future__ import annotations

import copy
import zoneinfo
from typing import Any
from urllib.parse import urlsplit

from cloudlet.services.firehose import errors, prefixes
from cloudlet.services.firehose.processing import Plan, plan
from cloudlet.services.firehose.validation import local_http

Doc = dict[str, Any]
OTHER_DESTINATIONS = {
    "RedshiftDestinationConfiguration": "Amazon Redshift",
    "ElasticsearchDestinationConfiguration": "Amazon Elasticsearch Service",
    "AmazonopensearchserviceDestinationConfiguration": "Amazon OpenSearch Service",
    "AmazonOpenSearchServerlessDestinationConfiguration": "OpenSearch Serverless",
    "SnowflakeDestinationConfiguration": "Snowflake",
    "IcebergDestinationConfiguration": "Apache Iceberg tables",
}
DESTINATIONS = (
    "S3DestinationConfiguration",
    "ExtendedS3DestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "SplunkDestinationConfiguration",
    *OTHER_DESTINATIONS,
)
S3_DEFAULTS = {"SizeInMBs": 5, "IntervalInSeconds": 300}
SPLUNK_DEFAULTS = {"SizeInMBs": 5, "IntervalInSeconds": 60}
SPLUNK_ACK_SECONDS = 180
SPLUNK_RETRY_SECONDS = 3600
PARTITIONED_MIN_MB = 64


def _not_delivered(what: str) -> Exception:
    return errors.not_built(f"delivery to {what} ({errors.DELIVERS})")


def s3(cfg: Doc, *, extended: bool, backup: bool = False) -> Doc:
    """An S3 destination (or backup) configuration as its description, checked. A
    backup's ``ErrorOutputPrefix`` is ignored (the guide's prefix rules), so only its
    ``Prefix`` must be well formed."""
    hints = {**S3_DEFAULTS, **(cfg.get("BufferingHints") or {})}
    encryption = cfg.get("EncryptionConfiguration") or {"NoEncryptionConfig": "NoEncryption"}
    if "NoEncryptionConfig" in encryption and "KMSEncryptionConfig" in encryption:
        raise errors.invalid(
            "EncryptionConfiguration can have NoEncryptionConfig or KMSEncryptionConfig, not both."
        )
    out: Doc = {
        "RoleARN": cfg["RoleARN"],
        "BucketARN": cfg["BucketARN"],
        "Prefix": cfg.get("Prefix") or "",
        "BufferingHints": hints,
        "CompressionFormat": cfg.get("CompressionFormat") or "UNCOMPRESSED",
        "EncryptionConfiguration": encryption,
        "CloudWatchLoggingOptions": cfg.get("CloudWatchLoggingOptions") or {"Enabled": False},
    }
    if cfg.get("ErrorOutputPrefix"):
        out["ErrorOutputPrefix"] = cfg["ErrorOutputPrefix"]
    if backup:
        prefixes.check_backup(out["Prefix"])
        return out
    if not extended:
        prefixes.check(out, partitioning=False, lambda_keys=False)
        return out
    return _extended(cfg, out)


def _extended(cfg: Doc, out: Doc) -> Doc:
    conversion = cfg.get("DataFormatConversionConfiguration")
    if conversion is not None:
        if conversion.get("Enabled", True):
            raise errors.not_built(
                "DataFormatConversionConfiguration (record format conversion to Parquet or "
                "ORC through AWS Glue)"
            )
        out["DataFormatConversionConfiguration"] = conversion
    processing = cfg.get("ProcessingConfiguration")
    steps = plan(processing, out["RoleARN"])
    if processing is not None:
        out["ProcessingConfiguration"] = processing
    partitioning = cfg.get("DynamicPartitioningConfiguration")
    partitioned = bool(partitioning and partitioning.get("Enabled"))
    if partitioning is not None:
        retry = {"DurationInSeconds": 300, **(partitioning.get("RetryOptions") or {})}
        out["DynamicPartitioningConfiguration"] = {**partitioning, "RetryOptions": retry}
    if partitioned:
        given = (cfg.get("BufferingHints") or {}).get("SizeInMBs")
        out["BufferingHints"]["SizeInMBs"] = given or PARTITIONED_MIN_MB
        if out["BufferingHints"]["SizeInMBs"] < PARTITIONED_MIN_MB:
            raise errors.invalid(
                f"BufferingHints.SizeInMBs must be at least {PARTITIONED_MIN_MB} when "
                "dynamic partitioning is enabled."
            )
        if out["BufferingHints"]["IntervalInSeconds"] < 60:
            raise errors.invalid(
                "BufferingHints.IntervalInSeconds must be at least 60 when dynamic "
                "partitioning is enabled (zero buffering is not available with it)."
            )
    if steps.query is not None and not partitioned:
        raise errors.invalid(
            "The MetadataExtraction processor can only be used when dynamic partitioning "
            "is enabled."
        )
    prefixes.check(
        out,
        partitioning=partitioned,
        lambda_keys=steps.lambda_arn is not None,
        query_keys=steps.query is not None,
    )
    mode = cfg.get("S3BackupMode") or "Disabled"
    out["S3BackupMode"] = mode
    backup = cfg.get("S3BackupConfiguration")
    if mode == "Enabled" and backup is None:
        raise errors.invalid("S3BackupConfiguration is required when S3BackupMode is Enabled.")
    if backup is not None:
        out["S3BackupDescription"] = s3(backup, extended=False, backup=True)
    for key in ("FileExtension", "CustomTimeZone"):
        if cfg.get(key):
            out[key] = cfg[key]
    if out.get("CustomTimeZone"):
        try:
            zoneinfo.ZoneInfo(out["CustomTimeZone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise errors.invalid(
                f"CustomTimeZone {out['CustomTimeZone']} is not a supported time zone."
            ) from None
    return out


def http(cfg: Doc) -> Doc:
    """An HTTP endpoint destination configuration as its description (plus the access
    key, which descriptions never show), checked."""
    if (cfg.get("SecretsManagerConfiguration") or {}).get("Enabled"):
        raise errors.not_built(
            "SecretsManagerConfiguration for HTTP endpoints (give the AccessKey instead)"
        )
    request = {"ContentEncoding": "NONE", **(cfg.get("RequestConfiguration") or {})}
    out: Doc = {
        "EndpointConfiguration": dict(cfg["EndpointConfiguration"]),
        "BufferingHints": {**S3_DEFAULTS, **(cfg.get("BufferingHints") or {})},
        "CloudWatchLoggingOptions": cfg.get("CloudWatchLoggingOptions") or {"Enabled": False},
        "RequestConfiguration": request,
        "RetryOptions": {"DurationInSeconds": 300, **(cfg.get("RetryOptions") or {})},
        "S3BackupMode": cfg.get("S3BackupMode") or "FailedDataOnly",
        "S3Configuration": s3(cfg["S3Configuration"], extended=False),
    }
    role = cfg.get("RoleARN")
    if role:
        out["RoleARN"] = role
    processing = cfg.get("ProcessingConfiguration")
    if processing is not None:
        _unpartitioned(plan(processing, role or out["S3Configuration"]["RoleARN"]))
        out["ProcessingConfiguration"] = processing
    return out


def _unpartitioned(steps: Plan) -> None:
    if steps.query is not None:
        raise errors.invalid(
            "The MetadataExtraction processor needs dynamic partitioning, which only "
            "Amazon S3 destinations have."
        )


def _secure(url: str, member: str) -> None:
    """HTTPS, or plain HTTP to this machine (cloudlet's allowance for local servers)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise errors.invalid(f"{member} '{url}' is not a valid HTTPS URL.")
    if parts.scheme == "http" and not local_http(url):
        raise errors.invalid(
            f"{member} must use HTTPS (cloudlet also takes http:// to loopback hosts)."
        )


def splunk(cfg: Doc) -> Doc:
    """A Splunk destination configuration as its description, checked."""
    if (cfg.get("SecretsManagerConfiguration") or {}).get("Enabled"):
        raise errors.not_built("SecretsManagerConfiguration for Splunk (give the HECToken instead)")
    _secure(cfg["HECEndpoint"], "HECEndpoint")
    if not cfg.get("HECToken"):
        raise errors.invalid(
            "HECToken is required when SecretsManagerConfiguration is not enabled."
        )
    out: Doc = {
        "HECEndpoint": cfg["HECEndpoint"],
        "HECEndpointType": cfg["HECEndpointType"],
        "HECToken": cfg["HECToken"],
        "HECAcknowledgmentTimeoutInSeconds": cfg.get("HECAcknowledgmentTimeoutInSeconds")
        or SPLUNK_ACK_SECONDS,
        "RetryOptions": {
            "DurationInSeconds": SPLUNK_RETRY_SECONDS,
            **(cfg.get("RetryOptions") or {}),
        },
        "S3BackupMode": cfg.get("S3BackupMode") or "FailedEventsOnly",
        "S3Configuration": s3(cfg["S3Configuration"], extended=False),
        "BufferingHints": {**SPLUNK_DEFAULTS, **(cfg.get("BufferingHints") or {})},
        "CloudWatchLoggingOptions": cfg.get("CloudWatchLoggingOptions") or {"Enabled": False},
    }
    processing = cfg.get("ProcessingConfiguration")
    if processing is not None:
        _unpartitioned(plan(processing, out["S3Configuration"]["RoleARN"]))
        out["ProcessingConfiguration"] = processing
    return out


def destination(params: Doc) -> Doc:
    """CreateDeliveryStream's one destination as ``{"kind", "config"}``."""
    given = [key for key in DESTINATIONS if params.get(key) is not None]
    if not given:
        raise errors.invalid("A destination configuration must be specified.")
    if len(given) > 1:
        raise errors.invalid("Exactly one destination configuration is supported for a Firehose")
    key = given[0]
    if key in OTHER_DESTINATIONS:
        raise _not_delivered(OTHER_DESTINATIONS[key])
    if key == "HttpEndpointDestinationConfiguration":
        return {"kind": "HttpEndpoint", "config": http(params[key])}
    if key == "SplunkDestinationConfiguration":
        return {"kind": "Splunk", "config": splunk(params[key])}
    if key == "ExtendedS3DestinationConfiguration":
        return {"kind": "ExtendedS3", "config": s3(params[key], extended=True)}
    return {"kind": "ExtendedS3", "config": _extended({}, s3(params[key], extended=False))}


def source(params: Doc, created: float) -> tuple[str, Doc | None]:
    """The stream's type and source description."""
    kind = params.get("DeliveryStreamType") or "DirectPut"
    if kind in ("MSKAsSource", "DatabaseAsSource") or params.get("MSKSourceConfiguration"):
        raise errors.not_built(
            f"{kind} delivery streams (cloudlet reads DirectPut and Kinesis stream sources)"
        )
    if params.get("DatabaseSourceConfiguration"):
        raise errors.not_built(
            "DatabaseAsSource delivery streams (cloudlet reads DirectPut and Kinesis "
            "stream sources)"
        )
    kinesis = params.get("KinesisStreamSourceConfiguration")
    direct = params.get("DirectPutSourceConfiguration")
    if kind == "KinesisStreamAsSource":
        if kinesis is None:
            raise errors.invalid(
                "KinesisStreamSourceConfiguration is required for a delivery stream of type "
                "KinesisStreamAsSource."
            )
        if direct is not None:
            raise errors.invalid(
                "DirectPutSourceConfiguration is not allowed for KinesisStreamAsSource."
            )
        return kind, {
            "KinesisStreamSourceDescription": {**kinesis, "DeliveryStartTimestamp": created}
        }
    if kinesis is not None:
        raise errors.invalid(
            "KinesisStreamSourceConfiguration is only allowed when DeliveryStreamType is "
            "KinesisStreamAsSource."
        )
    if direct is not None:
        return kind, {"DirectPutSourceDescription": dict(direct)}
    return kind, None


def encryption(given: Doc | None, stream_type: str) -> Doc:
    """DeliveryStreamEncryptionConfigurationInput checked, as its configuration."""
    if given is None:
        return {"Status": "DISABLED"}
    if stream_type != "DirectPut":
        raise errors.invalid(
            "Server-side encryption can only be enabled for delivery streams whose source "
            "is DirectPut; a Kinesis stream source is encrypted by the stream itself."
        )
    key_type, key = given["KeyType"], given.get("KeyARN")
    if key_type == "CUSTOMER_MANAGED_CMK" and not key:
        raise errors.invalid("KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.")
    if key_type == "AWS_OWNED_CMK" and key:
        raise errors.invalid("KeyARN must not be specified when KeyType is AWS_OWNED_CMK.")
    out: Doc = {"KeyType": key_type}
    if key:
        out["KeyARN"] = key
    return out


UPDATES = {
    "S3DestinationUpdate": "ExtendedS3",
    "ExtendedS3DestinationUpdate": "ExtendedS3",
    "HttpEndpointDestinationUpdate": "HttpEndpoint",
    "SplunkDestinationUpdate": "Splunk",
}
OTHER_UPDATES = {
    "RedshiftDestinationUpdate": "Amazon Redshift",
    "ElasticsearchDestinationUpdate": "Amazon Elasticsearch Service",
    "AmazonopensearchserviceDestinationUpdate": "Amazon OpenSearch Service",
    "AmazonOpenSearchServerlessDestinationUpdate": "OpenSearch Serverless",
    "SnowflakeDestinationUpdate": "Snowflake",
    "IcebergDestinationUpdate": "Apache Iceberg tables",
}


def _as_input(config: Doc) -> Doc:
    """A stored description back in configuration form, for merging."""
    out = copy.deepcopy(config)
    if "S3BackupDescription" in out:
        out["S3BackupConfiguration"] = out.pop("S3BackupDescription")
    return out


def _merge(old: Doc, update: Doc) -> Doc:
    out = copy.deepcopy(old)
    for key, value in update.items():
        if key in ("BufferingHints", "RetryOptions") and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def updated(current: Doc, params: Doc) -> Doc:
    """The destination after UpdateDestination's one update, checked."""
    given = [k for k in (*UPDATES, *OTHER_UPDATES) if params.get(k) is not None]
    if len(given) != 1:
        raise errors.invalid("Exactly one destination update must be specified.")
    key = given[0]
    if key in OTHER_UPDATES:
        raise _not_delivered(OTHER_UPDATES[key])
    kind = UPDATES[key]
    update = copy.deepcopy(params[key])
    same = kind == current["kind"]
    old = _as_input(current["config"]) if same else {}
    if kind == "ExtendedS3":
        if "S3BackupUpdate" in update:
            backup = old.get("S3BackupConfiguration") or {}
            update["S3BackupConfiguration"] = _merge(backup, update.pop("S3BackupUpdate"))
        merged = _merge(old, update)
        _keep_once_on(old, merged, same)
        for member in ("RoleARN", "BucketARN"):
            if not merged.get(member):
                raise errors.invalid(
                    f"{member} is required when changing the destination to Amazon S3."
                )
        return {"kind": kind, "config": s3(merged, extended=True)}
    if "S3Update" in update:
        update["S3Configuration"] = _merge(old.get("S3Configuration") or {}, update.pop("S3Update"))
    merged = _merge(old, update)
    for member in ("RoleARN", "BucketARN"):
        if "S3Configuration" in merged and not merged["S3Configuration"].get(member):
            raise errors.invalid(f"S3Update.{member} is required for the destination's bucket.")
    if kind == "Splunk":
        if not all(merged.get(k) for k in ("HECEndpoint", "HECEndpointType", "S3Configuration")):
            raise errors.invalid(
                "HECEndpoint, HECEndpointType and S3Update are required when changing the "
                "destination to Splunk."
            )
        if old.get("S3BackupMode") == "AllEvents" and merged["S3BackupMode"] != "AllEvents":
            raise errors.invalid(
                "S3BackupMode can be updated from FailedEventsOnly to AllEvents, not from "
                "AllEvents to FailedEventsOnly."
            )
        return {"kind": kind, "config": splunk(merged)}
    if "EndpointConfiguration" not in merged or "S3Configuration" not in merged:
        raise errors.invalid(
            "EndpointConfiguration and S3Update are required when changing the destination "
            "to an HTTP endpoint."
        )
    return {"kind": kind, "config": http(merged)}


def _keep_once_on(old: Doc, merged: Doc, same: bool) -> None:
    """What cannot be turned off (source record backup, dynamic partitioning) or turned
    on after creation (dynamic partitioning)."""
    if not same:
        return
    was = bool((old.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
    now = bool((merged.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
    if now and not was:
        raise errors.invalid(
            "Dynamic partitioning can only be enabled when the delivery stream is created."
        )
    if was and not now:
        raise errors.invalid("Dynamic partitioning cannot be disabled once it is enabled.")
    if old.get("S3BackupMode") == "Enabled" and merged.get("S3BackupMode") == "Disabled":
        raise errors.invalid("Source record backup cannot be disabled once it is enabled.")
