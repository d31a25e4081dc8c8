"""Amazon Data Firehose: delivery streams that really deliver.

A delivery stream takes records from PutRecord/PutRecordBatch (``ingest.py``) or reads
a Kinesis data stream (``kinesis_source.py``), keeps every acknowledged record in the
service's database (``store.py``), may pass it through a Lambda transformation
(``transform.py``), unpack it (``processing.py``: CloudWatch Logs decompression and
message extraction, de-aggregation), key it for dynamic partitioning (Lambda metadata
or a jq query, ``partitioning.py``) and delivers it, buffered by size and interval, as
S3 objects named, prefixed and compressed as AWS names them (``worker.py``,
``objects.py``, ``prefixes.py``, ``timeformat.py``), as POSTs to an HTTP endpoint
(``http_endpoint.py``) or to a Splunk HTTP Event Collector (``splunk.py``). States settle
in the background (``lifecycle.py``); configurations are checked and completed by
``config.py`` and ``processing.py``; AWS/Firehose metrics go to CloudWatch
(``metrics.py``); strict mode authorizes ``firehose:*`` actions on the stream's ARN and
delivers only as far as the stream's roles may (``access.py``).

The operations read like the API reference: check the input against the model
(``validation.py``), find the stream, hand the change on, shape the answer
(``model.py``). Not built (501, naming what cloudlet delivers): destinations other than
S3, HTTP endpoints and Splunk, MSK and database sources, record format conversion and
Secrets Manager credentials.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.firehose import config, errors, validation
from cloudlet.services.firehose.ingest import IngestOps
from cloudlet.services.firehose.lifecycle import CHANGE_SECONDS, Lifecycle
from cloudlet.services.firehose.metrics import INTERVAL, Meter
from cloudlet.services.firehose.model import DESTINATION_ID, DeliveryStream, describe, stream_arn
from cloudlet.services.firehose.store import FirehoseStore
from cloudlet.services.firehose.worker import Deliveries

Result = dict[str, Any]
LIST_DEFAULT = 10
MAX_TAGS = 50
ENCRYPTION_CALLS = 25
DAY = 86400.0
BIG_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def stream_quota(region: str) -> int:
    """Delivery streams an account may have in ``region`` (the quotas page)."""
    return 5000 if region in BIG_REGIONS else 2000


class FirehoseService(IngestOps, Lifecycle, Service):
    name = "firehose"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = FirehoseStore(env.database("firehose"))
        self.meter = Meter(env)
        self.deliveries = Deliveries(env, self.store, self.meter)
        self.readers: dict[str, asyncio.Task] = {}
        self.settlers: dict[str, asyncio.Task] = {}

    async def start(self) -> None:
        self._resume()
        self.env.every(INTERVAL, self.meter.publish, "firehose-metrics")

    async def stop(self) -> None:
        await self._close_tasks()
        self.store.close()

    # -- finding a stream ---------------------------------------------------------------

    def _stream(self, ctx: Any, name: str) -> DeliveryStream:
        stream = self.store.streams.get(stream_arn(ctx.region, ctx.account_id, name))
        if stream is None:
            raise errors.not_found(name, ctx.account_id)
        return stream

    def _mine(self, ctx: Any) -> list[DeliveryStream]:
        return sorted(
            (
                s
                for s in self.store.streams.values()
                if s.account == ctx.account_id and s.region == ctx.region
            ),
            key=lambda s: s.name,
        )

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the stream's ARN (Firehose streams have no resource policy)."""
        name = params.get("DeliveryStreamName")
        if isinstance(name, str) and name:
            return stream_arn(ctx.region, ctx.account_id, name), None
        return "*", None

    # -- create, describe, list, delete -------------------------------------------------

    async def _check_source(self, source: dict[str, Any] | None) -> None:
        """A Kinesis source must exist when the delivery stream is created."""
        kinesis = (source or {}).get("KinesisStreamSourceDescription")
        if kinesis is None:
            return
        arn = kinesis["KinesisStreamARN"]
        parts = arn.split(":")
        try:
            await self.env.call(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": arn},
                account=parts[4],
                region=parts[3],
            )
        except ServiceError as err:
            raise errors.invalid(
                f"The Kinesis stream {arn} cannot be read: {err.message}"
            ) from None

    async def create_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("CreateDeliveryStream", params)
        name = params["DeliveryStreamName"]
        arn = stream_arn(ctx.region, ctx.account_id, name)
        if arn in self.store.streams:
            raise errors.exists(name, ctx.account_id)
        quota = stream_quota(ctx.region)
        if len(self._mine(ctx)) >= quota:
            raise errors.limit(f"You have already consumed your firehose quota of {quota} hoses.")
        now = clock.time()
        kind, source = config.source(params, now)
        destination = config.destination(params)
        await self._check_source(source)
        encryption = config.encryption(
            params.get("DeliveryStreamEncryptionConfigurationInput"), kind
        )
        tags = _tags(params.get("Tags") or [], {})
        stream = DeliveryStream(
            name=name,
            arn=arn,
            account=ctx.account_id,
            region=ctx.region,
            type=kind,
            destination=destination,
            created=now,
            settle_at=now + CHANGE_SECONDS,
            source=source,
            tags=tags,
        )
        if "KeyType" in encryption:
            stream.encryption = {**encryption, "Status": "ENABLING"}
            stream.encryption_settle_at = stream.settle_at
        self.store.save(stream)
        self._schedule(stream)
        return {"DeliveryStreamARN": arn}

    def describe_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("DescribeDeliveryStream", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        shown = describe(stream, params.get("Limit"), params.get("ExclusiveStartDestinationId"))
        return {"DeliveryStreamDescription": shown}

    def list_delivery_streams(self, ctx: Any, params: Result) -> Result:
        validation.check("ListDeliveryStreams", params)
        streams = self._mine(ctx)
        if params.get("DeliveryStreamType"):
            streams = [s for s in streams if s.type == params["DeliveryStreamType"]]
        after = params.get("ExclusiveStartDeliveryStreamName")
        if after:
            streams = [s for s in streams if s.name > after]
        limit = params.get("Limit") or LIST_DEFAULT
        return {
            "DeliveryStreamNames": [s.name for s in streams[:limit]],
            "HasMoreDeliveryStreams": len(streams) > limit,
        }

    async def delete_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("DeleteDeliveryStream", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        if stream.status == "CREATING":
            raise errors.in_use(
                f"Firehose {stream.name} under account {ctx.account_id} is in CREATING state "
                "and cannot be deleted until it is ACTIVE."
            )
        if stream.status == "DELETING":
            return {}
        await self._halt(stream.arn)
        stream.status = "DELETING"
        stream.settle_at = clock.time() + CHANGE_SECONDS
        self.store.save(stream)
        self._schedule(stream)
        return {}

    # -- update ------------------------------------------------------------------------

    def update_destination(self, ctx: Any, params: Result) -> Result:
        validation.check("UpdateDestination", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        if stream.status != "ACTIVE":
            raise errors.not_active(stream.name, ctx.account_id, stream.status)
        if params["DestinationId"] != DESTINATION_ID:
            raise errors.invalid(
                f"Destination {params['DestinationId']} was not found in delivery stream "
                f"{stream.name}; its destination is {DESTINATION_ID}."
            )
        if params["CurrentDeliveryStreamVersionId"] != str(stream.version):
            raise errors.concurrent(
                f"Current delivery stream version id {params['CurrentDeliveryStreamVersionId']} "
                f"does not match the delivery stream's version id {stream.version}."
            )
        stream.destination = config.updated(stream.destination, params)
        stream.version += 1
        stream.updated = clock.time()
        self.store.save(stream)
        self.deliveries.wake(stream.arn)
        return {}

    # -- encryption --------------------------------------------------------------------

    def _encryption_call(self, stream: DeliveryStream) -> None:
        now = clock.time()
        stream.encryption_calls = [t for t in stream.encryption_calls if now - t < DAY]
        if len(stream.encryption_calls) >= ENCRYPTION_CALLS:
            raise errors.limit(
                "StartDeliveryStreamEncryption and StopDeliveryStreamEncryption have a "
                f"combined limit of {ENCRYPTION_CALLS} calls per delivery stream per 24 hours."
            )
        stream.encryption_calls.append(now)

    def _settled_encryption(self, ctx: Any, name: str) -> DeliveryStream:
        stream = self._stream(ctx, name)
        if stream.status != "ACTIVE":
            raise errors.not_active(stream.name, ctx.account_id, stream.status)
        if stream.encryption.get("Status") in ("ENABLING", "DISABLING"):
            raise errors.in_use(
                f"Firehose {stream.name} under account {ctx.account_id} has encryption "
                f"{stream.encryption['Status']}; try again when it has settled."
            )
        return stream

    def start_delivery_stream_encryption(self, ctx: Any, params: Result) -> Result:
        validation.check("StartDeliveryStreamEncryption", params)
        stream = self._settled_encryption(ctx, params["DeliveryStreamName"])
        given = params.get("DeliveryStreamEncryptionConfigurationInput") or {
            "KeyType": "AWS_OWNED_CMK"
        }
        wanted = config.encryption(given, stream.type)
        self._encryption_call(stream)
        stream.encryption = {**wanted, "Status": "ENABLING"}
        stream.encryption_settle_at = clock.time() + CHANGE_SECONDS
        self.store.save(stream)
        self._schedule(stream)
        return {}

    def stop_delivery_stream_encryption(self, ctx: Any, params: Result) -> Result:
        validation.check("StopDeliveryStreamEncryption", params)
        stream = self._settled_encryption(ctx, params["DeliveryStreamName"])
        if stream.type != "DirectPut":
            raise errors.invalid(
                "Server-side encryption applies only to delivery streams whose source is DirectPut."
            )
        self._encryption_call(stream)
        if stream.encryption.get("Status") == "DISABLED":
            self.store.save(stream)
            return {}
        stream.encryption = {**stream.encryption, "Status": "DISABLING"}
        stream.encryption_settle_at = clock.time() + CHANGE_SECONDS
        self.store.save(stream)
        self._schedule(stream)
        return {}

    # -- tags --------------------------------------------------------------------------

    def tag_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("TagDeliveryStream", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        stream.tags = _tags(params["Tags"], stream.tags)
        self.store.save(stream)
        return {}

    def untag_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("UntagDeliveryStream", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        for key in params["TagKeys"]:
            stream.tags.pop(key, None)
        self.store.save(stream)
        return {}

    def list_tags_for_delivery_stream(self, ctx: Any, params: Result) -> Result:
        validation.check("ListTagsForDeliveryStream", params)
        stream = self._stream(ctx, params["DeliveryStreamName"])
        keys = sorted(stream.tags)
        after = params.get("ExclusiveStartTagKey")
        if after:
            keys = [k for k in keys if k > after]
        limit = params.get("Limit") or MAX_TAGS
        return {
            "Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]],
            "HasMoreTags": len(keys) > limit,
        }


def _tags(given: list[dict[str, str]], current: dict[str, str]) -> dict[str, str]:
    tags = dict(current)
    for tag in given:
        tags[tag["Key"]] = tag.get("Value", "")
    if len(tags) > MAX_TAGS:
        raise errors.limit(
            f"A delivery stream can have at most {MAX_TAGS} tags; this request would give "
            f"it {len(tags)}."
        )
    return tags
