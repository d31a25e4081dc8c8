"""Stream tags, by stream name (the old operations) or by ARN (TagResource & co.).

Kinesis allows 50 tags per stream and 10 per AddTagsToStream call; keys are 1-128
characters and values up to 256 of AWS's tag alphabet.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.tags import tag_text_ok
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Stream
from cloudlet.services.kinesis.store import KinesisStore

Result = dict[str, Any]
MAX_TAGS = 50
MAX_PER_CALL = 10


class TagOps:
    store: KinesisStore

    def _stream(self, ctx: Any, params: Result, *, arn_key: str = "StreamARN") -> Stream:
        raise NotImplementedError

    def _add_tags(self, stream: Stream, tags: dict[str, str]) -> None:
        if len(tags) > MAX_PER_CALL:
            raise errors.invalid(
                f"Failed to add tags to stream {stream.name} under account {stream.account}"
                f" because a given request cannot have more than {MAX_PER_CALL} tags associated"
                " with it."
            )
        for key, value in tags.items():
            if not key or len(key) > 128 or len(value) > 256 or not tag_text_ok(key + value):
                raise errors.invalid(f"Invalid tag: {key}={value}")
        merged = {**stream.tags, **tags}
        if len(merged) > MAX_TAGS:
            raise errors.invalid(
                f"Failed to add tags to stream {stream.name} under account {stream.account}"
                f" because a given stream cannot have more than {MAX_TAGS} tags associated with it."
            )
        stream.tags = merged
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

    def tag_resource(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params, arn_key="ResourceARN")
        self._add_tags(stream, params["Tags"])
        return {}

    def untag_resource(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params, arn_key="ResourceARN")
        for key in params["TagKeys"]:
            stream.tags.pop(key, None)
        self.store.save(stream)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, params, arn_key="ResourceARN")
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(stream.tags.items())]}
