"""Resharding: UpdateShardCount, SplitShard, MergeShards, and capacity mode changes.

Every reshard closes its parents at once (a parent's ``EndingSequenceNumber`` is the last
counter it could hold, so a record is never in a parent and a child) and opens the
children from the next counter, naming their parents; the stream is UPDATING for
``CHANGE_SECONDS``, as on AWS, and readers finish a parent (whose last page lists the
children) before its children. A split's children are the shard's range cut at
``NewStartingHashKey`` with the shard as their parent; a merge's child is the union of two
adjacent ranges, with ``ShardToMerge`` as its parent and ``AdjacentShardToMerge`` as its
adjacent parent. Texts follow Kinesis's (``... is not both greater than one plus the
shard's StartingHashKey ...``). UpdateStreamMode switches PROVISIONED and ON_DEMAND in
place, keeping the shards, at most twice in 24 hours, as the developer guide allows;
on-demand streams refuse the shard operations, whose capacity Kinesis manages.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Shard, Stream, shard_id
from cloudlet.services.kinesis.streams import StreamOps

Result = dict[str, Any]
MODES = ("PROVISIONED", "ON_DEMAND")
MODE_CHANGES_PER_DAY = 2
DAY = 86400.0


class ReshardOps(StreamOps):
    """The stream control plane with its resharding operations."""

    def update_shard_count(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        if params.get("ScalingType") != "UNIFORM_SCALING":
            raise errors.validation(
                "1 validation error detected: Value at 'scalingType' failed to satisfy"
                " constraint: Member must satisfy enum value set: [UNIFORM_SCALING]"
            )
        _provisioned(stream)
        target, current = int(params["TargetShardCount"]), len(stream.open_shards())
        if target > 2 * current:
            raise errors.invalid(
                "UpdateShardCount cannot scale up over double your current open shard count."
                f" Current open shard count: {current} Target shard count: {target}"
            )
        if target * 2 < current:
            raise errors.invalid(
                "UpdateShardCount cannot scale down below half your current open shard count."
                f" Current open shard count: {current} Target shard count: {target}"
            )
        if target > current:
            self._check_shard_limit(ctx, target - current)
        parents = stream.open_shards()
        stream.add_shards(target, self._close(parents), parents)
        self._changed(stream)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardCount": current,
            "TargetShardCount": target,
        }

    def split_shard(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        _provisioned(stream)
        shard = _open_shard(stream, params["ShardToSplit"], "splitting")
        text = params["NewStartingHashKey"]
        key = int(text) if text.isdigit() else -1
        if not shard.start_key + 1 < key < shard.end_key:
            raise errors.invalid(
                f"NewStartingHashKey {text} used in SplitShard() on shard {shard.shard_id} in"
                f" stream {stream.name} under account {stream.account} is not both greater than"
                f" one plus the shard's StartingHashKey {shard.start_key} and less than the"
                f" shard's EndingHashKey {shard.end_key}."
            )
        self._check_shard_limit(ctx, 1)
        start = self._close([shard])
        for low, high in ((shard.start_key, key - 1), (key, shard.end_key)):
            _child(stream, low, high, start, shard.shard_id)
        self._changed(stream)
        return {}

    def merge_shards(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        _provisioned(stream)
        first = _open_shard(stream, params["ShardToMerge"], "merging")
        second = _open_shard(stream, params["AdjacentShardToMerge"], "merging")
        low, high = sorted((first, second), key=lambda s: s.start_key)
        if first is second or low.end_key + 1 != high.start_key:
            raise errors.invalid(
                f"Shards {first.shard_id} and {second.shard_id} in stream {stream.name} under"
                f" account {stream.account} are not an adjacent pair of shards eligible for"
                " merging"
            )
        start = self._close([first, second])
        _child(stream, low.start_key, high.end_key, start, first.shard_id, second.shard_id)
        self._changed(stream)
        return {}

    def update_stream_mode(self, ctx: Any, params: Result) -> Result:
        stream = self._active(ctx, params)
        if params.get("WarmThroughputMiBps") is not None:
            raise NotImplementedOperation("kinesis", "UpdateStreamMode with WarmThroughputMiBps")
        mode = params["StreamModeDetails"]["StreamMode"]
        if mode not in MODES:
            raise errors.validation(
                "1 validation error detected: Value at 'streamModeDetails.streamMode' failed to"
                " satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]"
            )
        if mode == stream.mode:
            raise errors.invalid(
                f"Stream {stream.name} under account {stream.account} is already in {mode} mode."
            )
        now = clock.time()
        recent = [t for t in stream.mode_changes if t > now - DAY]
        if len(recent) >= MODE_CHANGES_PER_DAY:
            raise errors.limit(
                f"Stream {stream.name} under account {stream.account} has switched capacity"
                f" mode {MODE_CHANGES_PER_DAY} times in the last 24 hours, the most allowed."
            )
        stream.mode, stream.mode_changes = mode, [*recent, now]
        self._changed(stream)
        return {}

    def _close(self, parents: list[Shard]) -> int:
        """Close ``parents`` at the last counter so far; the children's first counter."""
        last = self.store.next_counter()
        for shard in parents:
            shard.end_counter = last
        self.store.last_counter = last + 1
        return last + 1


def _provisioned(stream: Stream) -> None:
    if stream.mode == "ON_DEMAND":
        raise errors.validation(
            f"Stream {stream.name} under account {stream.account} is in On-Demand mode."
        )


def _open_shard(stream: Stream, wanted: str, verb: str) -> Shard:
    shard = stream.shard(wanted)
    if shard is None:
        raise errors.shard_missing(wanted, stream.name, stream.account)
    if not shard.is_open:
        raise errors.invalid(
            f"Shard {shard.shard_id} in stream {stream.name} under account {stream.account}"
            f" has already been merged or split, and thus is not eligible for {verb}."
        )
    return shard


def _child(
    stream: Stream, low: int, high: int, start: int, parent: str, adjacent: str | None = None
) -> None:
    stream.shards.append(
        Shard(shard_id(stream.next_index), low, high, start, None, parent, adjacent)
    )
    stream.next_index += 1
