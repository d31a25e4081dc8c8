"""Enhanced monitoring: EnableEnhancedMonitoring and DisableEnhancedMonitoring.

Why: shard-level metrics (dimensions ``StreamName`` and ``ShardId``) are how people find
a hot shard, so a stream with them turned on publishes them with its stream-level ones
(``metrics.py`` counts only the ones turned on). The set is part of the stream's document,
so it survives restarts, and DescribeStream(Summary) shows it as ``EnhancedMonitoring``.

As on AWS: the stream must be ACTIVE (else ResourceInUseException), and a change makes it
UPDATING for a moment, as Terraform waits for after either call; ``ALL`` stands for every
metric; the answer's ``CurrentShardLevelMetrics`` is the set before the call and
``DesiredShardLevelMetrics`` the set after it, both in the order the AWS CLI's example
answers show (``IncomingBytes, OutgoingRecords, IteratorAgeMilliseconds, ...``). A name
outside the enum is a ValidationException, worded as Kinesis's input validation words
list members.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.streams import StreamOps

Result = dict[str, Any]
SHARD_METRICS = (
    "IncomingBytes",
    "OutgoingRecords",
    "IteratorAgeMilliseconds",
    "IncomingRecords",
    "ReadProvisionedThroughputExceeded",
    "WriteProvisionedThroughputExceeded",
    "OutgoingBytes",
)
"""Every shard-level metric, in the order AWS answers them."""
_ENUM = (
    "IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords,"
    " WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded,"
    " IteratorAgeMilliseconds, ALL"
)
MAX_NAMES = 7


def requested(names: list[str]) -> set[str]:
    """The metrics ``ShardLevelMetrics`` names, ``ALL`` expanded; a ValidationException
    for a name outside the enum or a list of the wrong length."""
    shown = f"[{', '.join(names)}]"
    if not 1 <= len(names) <= MAX_NAMES:
        bound = "greater than or equal to 1" if not names else "less than or equal to 7"
        raise errors.validation(
            f"1 validation error detected: Value '{shown}' at 'shardLevelMetrics' failed to"
            f" satisfy constraint: Member must have length {bound}"
        )
    if any(n != "ALL" and n not in SHARD_METRICS for n in names):
        raise errors.validation(
            f"1 validation error detected: Value '{shown}' at 'shardLevelMetrics' failed to"
            " satisfy constraint: Member must satisfy constraint: [Member must satisfy enum"
            f" value set: [{_ENUM}]]"
        )
    return set(SHARD_METRICS) if "ALL" in names else set(names)


class MonitoringOps(StreamOps):
    """The enhanced monitoring operations (mixed into ``KinesisService``)."""

    def enable_enhanced_monitoring(self, ctx: Any, params: Result) -> Result:
        return self._monitoring(ctx, params, enable=True)

    def disable_enhanced_monitoring(self, ctx: Any, params: Result) -> Result:
        return self._monitoring(ctx, params, enable=False)

    def _monitoring(self, ctx: Any, params: Result, *, enable: bool) -> Result:
        names = requested(list(params.get("ShardLevelMetrics") or []))
        stream = self._active(ctx, params)
        current = list(stream.shard_metrics)
        wanted = set(current) | names if enable else set(current) - names
        desired = [m for m in SHARD_METRICS if m in wanted]
        if desired != current:
            stream.shard_metrics = desired
            self._changed(stream)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardLevelMetrics": current,
            "DesiredShardLevelMetrics": desired,
        }
