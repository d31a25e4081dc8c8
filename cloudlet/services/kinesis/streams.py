"""Stream operations: create, describe, list, delete, retention, encryption.

A new or changed stream is CREATING or UPDATING for a moment (``CHANGE_SECONDS``)
and then ACTIVE, as on AWS, so the ``stream_exists`` waiter and code that polls the
status see the same sequence. Resharding is ``reshard.py``'s. A stream with registered
consumers is deleted only with ``EnforceConsumerDeletion``, which deletes them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.core.environ import seconds_setting
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Shard, Stream, sequence_number, stream_arn
from cloudlet.services.kinesis.store import KinesisStore

if TYPE_CHECKING:
    from cloudlet.services.kinesis.subscribe import Subscriptions

Result = dict[str, Any]
CHANGE_SECONDS = seconds_setting("CLOUDLET_KINESIS_CHANGE_SECONDS", 0.5, high=60)
SHARD_LIMIT = 500
ON_DEMAND_SHARDS = 4
MIN_RETENTION, MAX_RETENTION = 24, 8760
DESCRIBE_LIMIT = 100


def shard_out(stream: Stream, shard: Shard) -> Result:
    out: Result = {
        "ShardId": shard.shard_id,
        "HashKeyRange": {
            "StartingHashKey": str(shard.start_key),
            "EndingHashKey": str(shard.end_key),
        },
        "SequenceNumberRange": {
            "StartingSequenceNumber": sequence_number(shard, shard.start_counter)
        },
    }
    if shard.end_counter is not None:
        out["SequenceNumberRange"]["EndingSequenceNumber"] = sequence_number(
            shard, shard.end_counter
        )
    if shard.parent:
        out["ParentShardId"] = shard.parent
    if shard.adjacent_parent:
        out["AdjacentParentShardId"] = shard.adjacent_parent
    return out


def _page(items: list[Any], start: int, limit: int) -> tuple[list[Any], bool]:
    return items[start : start + limit], start + limit < len(items)


class StreamOps:
    """The stream control plane (mixed into ``KinesisService``)."""

    store: KinesisStore
    subscriptions: Subscriptions

    # -- finding a stream ---------------------------------------------------------

    def _stream(self, ctx: Any, params: Result, *, arn_key: str = "StreamARN") -> Stream:
        arn = params.get(arn_key)
        name = params.get("StreamName")
        if arn:
            parts = arn.split(":", 5)
            if len(parts) != 6 or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
                raise errors.invalid(f"Invalid StreamARN: {arn}")
            if name and parts[5] != f"stream/{name}":
                raise errors.invalid("StreamARN and StreamName do not name the same stream.")
            name = parts[5][len("stream/") :]
            found = self.store.streams.get(arn)
            account = parts[4]
        elif name:
            found = self.store.streams.get(stream_arn(ctx.region, ctx.account_id, name))
            account = ctx.account_id
        else:
            raise errors.validation("Either StreamName or StreamARN should be provided.")
        if found is None:
            raise errors.not_found(name, account)
        return found

    def _active(self, ctx: Any, params: Result) -> Stream:
        stream = self._stream(ctx, params)
        status = stream.status(clock.time())
        if status != "ACTIVE":
            raise errors.not_active(stream.name, stream.account, status)
        return stream

    # -- create, describe, list, delete -----------------------------------------------

    def create_stream(self, ctx: Any, params: Result) -> Result:
        name = params["StreamName"]
        arn = stream_arn(ctx.region, ctx.account_id, name)
        mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        if arn in self.store.streams:
            raise errors.in_use(f"Stream {name} under account {ctx.account_id} already exists.")
        if mode == "ON_DEMAND":
            count = ON_DEMAND_SHARDS
        elif params.get("ShardCount") is None:
            raise errors.invalid("ShardCount is required for a stream in PROVISIONED mode.")
        else:
            count = int(params["ShardCount"])
        if count < 1:
            raise errors.invalid("ShardCount must be at least 1.")
        self._check_shard_limit(ctx, count)
        now = clock.time()
        stream = Stream(name, arn, ctx.account_id, ctx.region, now, now + CHANGE_SECONDS)
        stream.mode = mode
        stream.tags = dict(params.get("Tags") or {})
        stream.add_shards(count, self.store.next_counter())
        self.store.save(stream)
        return {}

    def _check_shard_limit(self, ctx: Any, more: int) -> None:
        current = sum(
            len(s.open_shards())
            for s in self.store.streams.values()
            if s.account == ctx.account_id and s.region == ctx.region
        )
        if current + more > SHARD_LIMIT:
            raise errors.limit(
                f"This request would exceed the shard limit for the account {ctx.account_id}"
                f" in {ctx.region}. Current shard count for the account: {current}. Limit:"
                f" {SHARD_LIMIT}. Number of additional shards that would have resulted from"
                f" this request: {more}."
            )

    def _summary(self, stream: Stream) -> Result:
        out: Result = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status(clock.time()),
            "StreamModeDetails": {"StreamMode": stream.mode},
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": utc_datetime(stream.created),
            "EnhancedMonitoring": [{"ShardLevelMetrics": list(stream.shard_metrics)}],
            "EncryptionType": stream.encryption,
        }
        if stream.key_id:
            out["KeyId"] = stream.key_id
        return out

    def describe_stream(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params)
        shards = stream.shards
        if after := params.get("ExclusiveStartShardId"):
            shards = [s for s in shards if s.index > int(after.rsplit("-", 1)[-1] or 0)]
        page, more = _page(shards, 0, int(params.get("Limit") or DESCRIBE_LIMIT))
        out = self._summary(stream)
        out["Shards"] = [shard_out(stream, s) for s in page]
        out["HasMoreShards"] = more
        return {"StreamDescription": out}

    def describe_stream_summary(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params)
        out = self._summary(stream)
        out["OpenShardCount"] = len(stream.open_shards())
        out["ConsumerCount"] = len(self.store.live_consumers(stream.arn, clock.time()))
        return {"StreamDescriptionSummary": out}

    def list_streams(self, ctx: Any, params: Result) -> Result:
        streams = sorted(
            (
                s
                for s in self.store.streams.values()
                if s.account == ctx.account_id and s.region == ctx.region
            ),
            key=lambda s: s.name,
        )
        after = params.get("ExclusiveStartStreamName")
        if token := params.get("NextToken"):
            after = _decode_token(token)
        if after:
            streams = [s for s in streams if s.name > after]
        page, more = _page(streams, 0, int(params.get("Limit") or 100))
        out: Result = {
            "StreamNames": [s.name for s in page],
            "HasMoreStreams": more,
            "StreamSummaries": [
                {
                    "StreamName": s.name,
                    "StreamARN": s.arn,
                    "StreamStatus": s.status(clock.time()),
                    "StreamModeDetails": {"StreamMode": s.mode},
                    "StreamCreationTimestamp": utc_datetime(s.created),
                }
                for s in page
            ],
        }
        if more:
            out["NextToken"] = _encode_token(page[-1].name)
        return out

    def delete_stream(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params)
        consumers = self.store.live_consumers(stream.arn, clock.time())
        if consumers and not params.get("EnforceConsumerDeletion"):
            raise errors.consumers_exist(stream.name, stream.account)
        self.store.drop(stream)
        self.subscriptions.wake(stream.arn)
        return {}

    def list_shards(self, ctx: Any, params: Result) -> Result:
        token = params.get("NextToken")
        if token and (params.get("StreamName") or params.get("StreamARN")):
            raise errors.invalid("NextToken and StreamName cannot be provided together.")
        after = params.get("ExclusiveStartShardId")
        if token:
            arn, _, after = _decode_token(token).partition("|")
            params = {"StreamARN": arn}
        stream = self._stream(ctx, params)
        shards = stream.shards
        kind = (params.get("ShardFilter") or {}).get("Type")
        if kind == "AT_LATEST":
            shards = stream.open_shards()
        if after:
            shards = [s for s in shards if s.shard_id > after]
        page, more = _page(shards, 0, int(params.get("MaxResults") or 1000))
        out: Result = {"Shards": [shard_out(stream, s) for s in page]}
        if more:
            out["NextToken"] = _encode_token(f"{stream.arn}|{page[-1].shard_id}")
        return out

    # -- retention, encryption, resharding ---------------------------------------------

    def increase_stream_retention_period(self, ctx: Any, params: Result) -> Result:
        return self._retention(ctx, params, increase=True)

    def decrease_stream_retention_period(self, ctx: Any, params: Result) -> Result:
        return self._retention(ctx, params, increase=False)

    def _retention(self, ctx: Any, params: Result, *, increase: bool) -> Result:
        stream = self._active(ctx, params)
        hours = int(params["RetentionPeriodHours"])
        if not MIN_RETENTION <= hours <= MAX_RETENTION:
            bound = "maximum" if hours > MAX_RETENTION else "minimum"
            value = MAX_RETENTION if hours > MAX_RETENTION else MIN_RETENTION
            raise errors.invalid(
                f"Minimum allowed retention period is {MIN_RETENTION} hours. Maximum allowed"
                f" retention period is {MAX_RETENTION} hours. Requested retention period"
                f" ({hours} hours) is beyond the {bound} of {value} hours."
            )
        if increase and hours < stream.retention_hours:
            raise errors.invalid(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not"
                f" be shorter than existing retention period ({stream.retention_hours} hours)."
                " Use DecreaseRetentionPeriod API."
            )
        if not increase and hours > stream.retention_hours:
            raise errors.invalid(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not"
                f" be longer than existing retention period ({stream.retention_hours} hours)."
                " Use IncreaseRetentionPeriod API."
            )
        stream.retention_hours = hours
        self.store.save(stream)
        return {}

    def start_stream_encryption(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        if params["EncryptionType"] != "KMS":
            raise errors.invalid("EncryptionType must be KMS to start encryption.")
        stream.encryption, stream.key_id = "KMS", params["KeyId"]
        self._changed(stream)
        return {}

    def stop_stream_encryption(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        stream.encryption, stream.key_id = "NONE", None
        self._changed(stream)
        return {}

    def _changed(self, stream: Stream) -> None:
        stream.busy, stream.ready_at = "UPDATING", clock.time() + CHANGE_SECONDS
        self.store.save(stream)
        self.subscriptions.wake(stream.arn)  # a reshard closes shards being read

    def describe_limits(self, ctx: Any, params: Result) -> Result:
        mine = [
            s
            for s in self.store.streams.values()
            if s.account == ctx.account_id and s.region == ctx.region
        ]
        return {
            "ShardLimit": SHARD_LIMIT,
            "OpenShardCount": sum(len(s.open_shards()) for s in mine),
            "OnDemandStreamCount": sum(s.mode == "ON_DEMAND" for s in mine),
            "OnDemandStreamCountLimit": 50,
        }


def _encode_token(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_token(token: str) -> str:
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.invalid(f"Invalid NextToken: {token}") from None
