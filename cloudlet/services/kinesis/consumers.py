"""Enhanced fan-out consumers: register, describe, list and deregister them.

A consumer is registered with one stream (which must be ACTIVE) and is CREATING for
``CONSUMER_DELAY`` seconds, then ACTIVE, the way streams go CREATING to ACTIVE here: a
``ready_at`` time read on every look, so code that polls DescribeStreamConsumer sees
the same sequence as on AWS. Deregistering makes it DELETING for as long, then it is
gone. Kinesis's limits hold: 20 consumers a stream, five CREATING at once in an account
and region, names of 1-128 ``[a-zA-Z0-9_.-]``. ListStreamConsumers pages 100 at most,
and its tokens expire after 300 seconds, as documented.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.core.environ import seconds_setting
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Consumer, consumer_arn
from cloudlet.services.kinesis.streams import StreamOps
from cloudlet.services.kinesis.tags import merged_tags

Result = dict[str, Any]
CONSUMER_DELAY = seconds_setting("CLOUDLET_KINESIS_CONSUMER_DELAY", 0.5, high=60)
CONSUMERS_PER_STREAM = 20
CREATING_AT_ONCE = 5
LIST_LIMIT = 100
TOKEN_SECONDS = 300.0
_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_ARN_PATTERN = (
    r"^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+"
)
_ARN = re.compile(_ARN_PATTERN)


def consumer_out(consumer: Consumer, now: float, *, with_stream: bool = False) -> Result:
    out: Result = {
        "ConsumerName": consumer.name,
        "ConsumerARN": consumer.arn,
        "ConsumerStatus": consumer.status(now),
        "ConsumerCreationTimestamp": utc_datetime(consumer.created),
    }
    if with_stream:
        out["StreamARN"] = consumer.stream_arn
    return out


class ConsumerOps(StreamOps):
    """The consumer operations (mixed into ``KinesisService``)."""

    def _consumer(self, ctx: Any, params: Result) -> Consumer:
        """The consumer ``ConsumerARN`` names, or ``ConsumerName`` of ``StreamARN``."""
        arn, name, stream_arn = (
            params.get(k) for k in ("ConsumerARN", "ConsumerName", "StreamARN")
        )
        now = clock.time()
        if arn:
            if not _ARN.match(arn):
                raise errors.validation(
                    f"1 validation error detected: Value '{arn}' at 'consumerARN' failed to"
                    f" satisfy constraint: Member must satisfy regular expression pattern:"
                    f" {_ARN_PATTERN}"
                )
            owner, _, rest = arn.partition("/consumer/")
            own_name = rest.rsplit(":", 1)[0]
            if (name and name != own_name) or (stream_arn and stream_arn != owner):
                raise errors.invalid(
                    "ConsumerARN does not name the consumer StreamARN and ConsumerName name."
                )
            found = self.store.consumers.get(arn)
            if found is not None and found.status(now) is None:
                self.store.drop_consumer(found)
                found = None
            if found is None:
                raise errors.consumer_not_found(
                    own_name, owner.split(":stream/", 1)[-1], arn.split(":")[4]
                )
            return found
        if not (name and stream_arn):
            raise errors.invalid(
                "Either ConsumerARN, or both StreamARN and ConsumerName, must be specified."
            )
        stream = self._stream(ctx, {"StreamARN": stream_arn})
        for consumer in self.store.live_consumers(stream.arn, now):
            if consumer.name == name:
                return consumer
        raise errors.consumer_not_found(name, stream.name, stream.account)

    def register_stream_consumer(self, ctx: Any, params: Result) -> Result:
        name = params["ConsumerName"]
        _check_name(name)
        stream = self._active(ctx, {"StreamARN": params["StreamARN"]})
        now = clock.time()
        consumers = self.store.live_consumers(stream.arn, now)
        if any(c.name == name for c in consumers):
            raise errors.in_use(
                f"Consumer {name} under stream {stream.name} under account {stream.account}"
                " already exists."
            )
        if len(consumers) >= CONSUMERS_PER_STREAM:
            raise errors.limit(
                f"Stream {stream.name} under account {stream.account} already has"
                f" {CONSUMERS_PER_STREAM} registered consumers, the most it can have."
            )
        creating = sum(
            c.status(now) == "CREATING"
            for c in self.store.consumers.values()
            if c.stream_arn.split(":")[3:5] == [stream.region, stream.account]
        )
        if creating >= CREATING_AT_ONCE:
            raise errors.limit(
                f"Account {stream.account} already has {CREATING_AT_ONCE} consumers in"
                f" CREATING status in {stream.region}, the most it can create at once."
            )
        tags = merged_tags(
            "consumer", name, stream.account, {}, params.get("Tags") or {}, per_call=None
        )
        created = float(int(now))
        consumer = Consumer(
            name, consumer_arn(stream.arn, name, created), stream.arn, created, now + CONSUMER_DELAY
        )
        consumer.tags = tags
        self.store.save_consumer(consumer)
        return {"Consumer": consumer_out(consumer, now)}

    def describe_stream_consumer(self, ctx: Any, params: Result) -> Result:
        consumer = self._consumer(ctx, params)
        return {"ConsumerDescription": consumer_out(consumer, clock.time(), with_stream=True)}

    def list_stream_consumers(self, ctx: Any, params: Result) -> Result:
        stream = self._stream(ctx, {"StreamARN": params["StreamARN"]})
        when = params.get("StreamCreationTimestamp")
        if when is not None:
            seconds = when.timestamp() if hasattr(when, "timestamp") else float(when)
            if int(seconds) != int(stream.created):
                raise errors.not_found(stream.name, stream.account)
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= int(limit) <= 10000:
            raise errors.validation(
                f"1 validation error detected: Value '{limit}' at 'maxResults' failed to"
                " satisfy constraint: Member must have value between 1 and 10000"
            )
        limit = min(int(limit or LIST_LIMIT), LIST_LIMIT)
        now = clock.time()
        after = ""
        if token := params.get("NextToken"):
            arn, after, issued = _decode_token(token)
            if now - issued > TOKEN_SECONDS:
                raise errors.expired_token(f"The NextToken {token} has expired.")
            if arn != stream.arn:
                raise errors.invalid(f"NextToken {token} was not issued for stream {stream.name}.")
        consumers = sorted(
            (c for c in self.store.live_consumers(stream.arn, now) if c.name > after),
            key=lambda c: c.name,
        )
        page = consumers[:limit]
        out: Result = {"Consumers": [consumer_out(c, now) for c in page]}
        if len(consumers) > limit:
            out["NextToken"] = _encode_token(stream.arn, page[-1].name, now)
        return out

    def deregister_stream_consumer(self, ctx: Any, params: Result) -> Result:
        consumer = self._consumer(ctx, params)
        now = clock.time()
        if consumer.status(now) != "DELETING":
            consumer.busy, consumer.ready_at = "DELETING", now + CONSUMER_DELAY
            self.store.save_consumer(consumer)
            self.subscriptions.wake(consumer.stream_arn)  # its subscriptions end
        return {}


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 128:
        bound = "less than or equal to 128" if name else "greater than or equal to 1"
        raise errors.validation(
            f"1 validation error detected: Value '{name}' at 'consumerName' failed to satisfy"
            f" constraint: Member must have length {bound}"
        )
    if not _NAME.fullmatch(name):
        raise errors.validation(
            f"1 validation error detected: Value '{name}' at 'consumerName' failed to satisfy"
            " constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )


def _encode_token(stream_arn: str, after: str, issued: float) -> str:
    text = json.dumps([stream_arn, after, issued])
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_token(token: str) -> tuple[str, str, float]:
    try:
        arn, after, issued = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(arn), str(after), float(issued)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise errors.invalid(f"Invalid NextToken: {token}") from None
