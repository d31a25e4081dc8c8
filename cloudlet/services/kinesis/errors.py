"""Kinesis's errors in AWS's words, raised by meaning so handlers never spell texts.

Every Kinesis client error is a 400 whose code is its botocore shape name; the texts
follow what Kinesis answers (``Stream s under account 123 not found.``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cloudlet.core.errors import ServiceError


def not_found(name: str, account: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException", f"Stream {name} under account {account} not found.", 400
    )


def shard_not_found(shard: str, name: str, account: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"Shard {shard} in stream {name} under account {account} does not exist",
        400,
    )


def shard_missing(shard: str, name: str, account: str) -> ServiceError:
    """A shard SplitShard or MergeShards names that the stream does not have."""
    return ServiceError(
        "ResourceNotFoundException",
        f"Could not find shard {shard} in stream {name} under account {account}.",
        400,
    )


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 400)


def not_active(name: str, account: str, status: str) -> ServiceError:
    return in_use(f"Stream {name} under account {account} not ACTIVE, instead in state {status}")


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def limit(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def _java_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def expired_iterator(issued: float, now: float, lifetime: float) -> ServiceError:
    return ServiceError(
        "ExpiredIteratorException",
        f"Iterator expired. The iterator was created at time {_java_time(issued)} while right"
        f" now it is {_java_time(now)} which is further in the future than the tolerated delay"
        f" of {int(lifetime * 1000)} milliseconds.",
        400,
    )


def throttled(shard: str, name: str, account: str) -> ServiceError:
    return ServiceError(
        "ProvisionedThroughputExceededException",
        f"Rate exceeded for shard {shard} in stream {name} under account {account}.",
        400,
    )


# -- enhanced fan-out consumers ---------------------------------------------------------


def consumer_not_found(name: str, stream: str, account: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"Consumer {name} under stream {stream} under account {account} not found.",
        400,
    )


def consumer_not_active(name: str, created: float, stream: str, account: str) -> ServiceError:
    """What SubscribeToShard answers for a consumer still CREATING, or DELETING."""
    return in_use(
        f"Consumer {name} with creation timestamp {int(created)} under stream: {stream} ,"
        f" account {account} is not in ACTIVE status."
    )


def consumers_exist(stream: str, account: str) -> ServiceError:
    """DeleteStream of a stream with consumers, without EnforceConsumerDeletion."""
    return in_use(
        f"DeleteStream can\u2019t delete {account}:{stream} because there are consumers"
        f" associated with this data stream. To delete {stream} anyway, set the"
        " EnforceConsumerDeletion parameter to true to force the deletion of all the"
        " consumers that are associated with it."
    )


def subscription_in_use() -> ServiceError:
    return in_use("Another active subscription exists for this consumer")


def expired_token(message: str) -> ServiceError:
    return ServiceError("ExpiredNextTokenException", message, 400)
