"""Resource policies of streams and consumers: Put/Get/DeleteResourcePolicy, and the
document strict mode evaluates for each request.

Why: a stream's or consumer's policy is how Kinesis shares it (with another account's
Lambda function or KCL consumer, with a role the caller's identity policies do not
cover). A policy is kept, as given, in its stream's or consumer's document, so it is as
durable as they are and goes with them (DeleteStream, DeregisterStreamConsumer).

The rules (the API reference's PutResourcePolicy, and our reading where it is silent):

- ``ResourceARN`` names a stream, or a registered consumer (which must be ACTIVE,
  ResourceInUseException otherwise, as Kinesis answers CloudFormation); an unknown one
  is ResourceNotFoundException. Only the resource owner's account may manage its policy
  (the reference: the caller must "belong to the owner's account"): another account gets
  AccessDeniedException.
- The document is an IAM resource policy: JSON, IAM's grammar (``cloudlet.auth.policy``),
  a principal in every statement, at most ``MAX_BYTES`` (20 KiB, the size AWS's other
  resource policies allow); refused with InvalidArgumentException.
- GetResourcePolicy of a resource without a policy answers ``{"Policy": "{}"}``;
  DeleteResourcePolicy of one is ResourceNotFoundException.

Strict mode: ``policy_resource`` names what a request acts on, with its policy. A
consumer's operations (DescribeStreamConsumer, SubscribeToShard, DeregisterStreamConsumer,
the ARN tag and policy operations on a consumer) act on the consumer's ARN under the
consumer's policy; every other operation naming a stream (by name, ARN, shard iterator
or ListShards token) acts on the stream's ARN under the stream's policy, as the Service
Authorization Reference lists the resource types. The authorizer combines it with the
caller's identity policies.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from cloudlet.auth import policy
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.kinesis import errors
from cloudlet.services.kinesis.model import Consumer, Stream, stream_arn
from cloudlet.services.kinesis.store import KinesisStore

Result = dict[str, Any]
MAX_BYTES = 20 * 1024
EMPTY = "{}"
_CONSUMER_OPS = frozenset({"DescribeStreamConsumer", "DeregisterStreamConsumer"})


class PolicyOps:
    """The resource policy operations and strict mode's hook (mixed into
    ``KinesisService``)."""

    store: KinesisStore

    _stream: Callable[..., Stream]

    _consumer: Callable[[Any, Result], Consumer]

    def _policy_target(self, ctx: Any, arn: str) -> Stream | Consumer:
        """The stream or consumer ``arn`` names, when the caller may manage its policy."""
        target: Stream | Consumer
        if "/consumer/" in arn:
            target = self._consumer(ctx, {"ConsumerARN": arn})
            if target.status(clock.time()) != "ACTIVE":
                stream = target.stream_name
                raise errors.in_use(
                    f"Consumer {target.name} with creation timestamp {int(target.created)}"
                    f" under stream {stream} and account {target.account} is not in ACTIVE"
                    " status."
                )
        else:
            target = self._stream(ctx, {"StreamARN": arn})
        if target.account != ctx.account_id:
            raise ServiceError(
                "AccessDeniedException",
                f"Account {ctx.account_id} does not own {arn}: only the owner's account may"
                " manage its resource policy.",
                400,
            )
        return target

    def _save_target(self, target: Stream | Consumer) -> None:
        if isinstance(target, Consumer):
            self.store.save_consumer(target)
        else:
            self.store.save(target)

    def put_resource_policy(self, ctx: Any, params: Result) -> Result:
        target = self._policy_target(ctx, params["ResourceARN"])
        text = params["Policy"]
        check_document(text)
        target.policy = text
        self._save_target(target)
        return {}

    def get_resource_policy(self, ctx: Any, params: Result) -> Result:
        target = self._policy_target(ctx, params["ResourceARN"])
        return {"Policy": target.policy or EMPTY}

    def delete_resource_policy(self, ctx: Any, params: Result) -> Result:
        arn = params["ResourceARN"]
        target = self._policy_target(ctx, arn)
        if target.policy is None:
            raise ServiceError(
                "ResourceNotFoundException", f"No resource policy found for resource {arn}.", 400
            )
        target.policy = None
        self._save_target(target)
        return {}

    # -- strict mode -----------------------------------------------------------------

    def policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Strict mode: the ARN of the stream or consumer the request acts on and that
        resource's policy (None without one); ``"*"`` for requests naming neither."""
        arn = self._acted_on(ctx, operation, params)
        if arn is None:
            return "*", None
        if "/consumer/" in arn:
            found: Stream | Consumer | None = self.store.consumers.get(arn)
        else:
            found = self.store.streams.get(arn)
        return arn, found.policy if found is not None else None

    def _acted_on(self, ctx: Any, operation: str, params: dict[str, Any]) -> str | None:
        for key in ("ConsumerARN", "ResourceARN"):
            if isinstance(params.get(key), str) and params[key]:
                return params[key]
        arn = params.get("StreamARN")
        name = params.get("ConsumerName")
        if operation in _CONSUMER_OPS and isinstance(arn, str) and name:
            for consumer in self.store.consumers_of(arn):
                if consumer.name == name and consumer.status(clock.time()) is not None:
                    return consumer.arn
            return f"{arn}/consumer/{name}"
        if isinstance(arn, str) and arn:
            return arn
        if isinstance(params.get("StreamName"), str) and params["StreamName"]:
            return stream_arn(ctx.region, ctx.account_id, params["StreamName"])
        token = params.get("ShardIterator") if operation == "GetRecords" else None
        if operation == "ListShards":
            token = params.get("NextToken")
        return _arn_in(token) if isinstance(token, str) else None


def check_document(text: str) -> None:
    """Refuse a resource policy document Kinesis would not attach."""
    if len(text.encode()) > MAX_BYTES:
        raise errors.invalid(f"Policy size exceeds the maximum allowed size of {MAX_BYTES} bytes.")
    try:
        json.loads(text)
    except ValueError:
        raise errors.invalid("Policy is not a valid JSON document.") from None
    try:
        policy.parse(text, "resource")
    except policy.MalformedPolicy as exc:
        raise errors.invalid(f"Invalid policy document: {exc}") from None


def _arn_in(token: str) -> str | None:
    """The stream ARN inside a shard iterator or ListShards token (None if it holds none):
    both are base64 of text starting with it."""
    try:
        text = base64.b64decode(token.replace("-", "+").replace("_", "/") + "==").decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if text.startswith("["):
        try:
            first = json.loads(text)[0]
        except (ValueError, IndexError, KeyError, TypeError):
            return None
        return first if isinstance(first, str) and first.startswith("arn:") else None
    arn = text.partition("|")[0]
    return arn if arn.startswith("arn:") else None
