"""Tags of streams, by stream name (the old operations) or by ARN (TagResource & co.),
and of enhanced fan-out consumers, by their ARN or when they are registered.

Kinesis allows 50 tags per stream or consumer and 10 per AddTagsToStream call; keys are
1-128 characters and values up to 256 of AWS's tag alphabet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.tags import tag_text_ok
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Consumer, Stream
from cloudlet.services.kinesis.store import KinesisStore

Result = dict[str, Any]
MAX_TAGS = 50
MAX_PER_CALL = 10


def merged_tags(
    kind: str,
    name: str,
    account: str,
    current: dict[str, str],
    tags: dict[str, str],
    *,
    per_call: int | None = MAX_PER_CALL,
) -> dict[str, str]:
    """``current`` with ``tags`` added, for the ``kind`` (stream, consumer) ``name``;
    refused past Kinesis's limits or outside its tag alphabet."""
    if per_call is not None and len(tags) > per_call:
        raise errors.invalid(
            f"Failed to add tags to {kind} {name} under account {account} because a given"
            f" request cannot have more than {per_call} tags associated with it."
        )
    for key, value in tags.items():
        if not key or len(key) > 128 or len(value) > 256 or not tag_text_ok(key + value):
            raise errors.invalid(f"Invalid tag: {key}={value}")
    merged = {**current, **tags}
    if len(merged) > MAX_TAGS:
        raise errors.invalid(
            f"Failed to add tags to {kind} {name} under account {account} because a given"
            f" {kind} cannot have more than {MAX_TAGS} tags associated with it."
        )
    return merged


class TagOps:
    store: KinesisStore

    _stream: Callable[..., Stream]

    _consumer: Callable[[Any, Result], Consumer]

    def _add_tags(self, stream: Stream, tags: dict[str, str]) -> None:
        stream.tags = merged_tags("stream", stream.name, stream.account, stream.tags, tags)
        self.store.save(stream)

    def add_tags_to_stream(self, ctx: Any, params: Result) -> Result:
        self._add_tags(self._stream(ctx, params), params["Tags"])
        return {}

    def remove_tags_from_stream(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params)
        for key in params["TagKeys"]:
            stream.tags.pop(key, None)
        self.store.save(stream)
        return {}

    def list_tags_for_stream(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params)
        keys = sorted(stream.tags)
        if after := params.get("ExclusiveStartTagKey"):
            keys = [k for k in keys if k > after]
        limit = int(params.get("Limit") or 50)
        return {
            "Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]],
            "HasMoreTags": len(keys) > limit,
        }

    # -- by ARN: a stream's or a consumer's ---------------------------------------------

    def _tagged(self, ctx: Any, params: Result) -> Stream | Consumer:
        arn = params.get("ResourceARN") or ""
        if "/consumer/" in arn:
            return self._consumer(ctx, {"ConsumerARN": arn})
        return self._stream(ctx, params, arn_key="ResourceARN")

    def _save_tagged(self, target: Stream | Consumer) -> None:
        if isinstance(target, Consumer):
            self.store.save_consumer(target)
        else:
            self.store.save(target)

    def tag_resource(self, ctx: Any, params: Result) -> Result:
        target = self._tagged(ctx, params)
        if isinstance(target, Consumer):
            target.tags = merged_tags(
                "consumer", target.name, target.account, target.tags, params["Tags"]
            )
            self.store.save_consumer(target)
        else:
            self._add_tags(target, params["Tags"])
        return {}

    def untag_resource(self, ctx: Any, params: Result) -> Result:
        target = self._tagged(ctx, params)
        for key in params["TagKeys"]:
            target.tags.pop(key, None)
        self._save_tagged(target)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: Result) -> Result:
        target = self._tagged(ctx, params)
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(target.tags.items())]}
