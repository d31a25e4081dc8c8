"""SNS's errors, with the codes, statuses and wording AWS answers.

SNS speaks only the query protocol; its error codes are the botocore shape
names without the ``Exception`` suffix (``NotFound``, ``InvalidParameter``).
Handlers raise by meaning through these helpers, never by string.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameter", f"Invalid parameter: {message}", 400)


def invalid_parameter_value(message: str) -> ServiceError:
    return ServiceError("ParameterValueInvalid", message, 400)


def authorization(message: str) -> ServiceError:
    return ServiceError("AuthorizationError", message, 403)


def not_found(message: str) -> ServiceError:
    return ServiceError("NotFound", message, 404)


def topic_not_found() -> ServiceError:
    return not_found("Topic does not exist")


def subscription_not_found() -> ServiceError:
    return not_found("Subscription does not exist")


def resource_not_found() -> ServiceError:
    return ServiceError("ResourceNotFound", "Resource does not exist", 404)


def tag_policy(message: str) -> ServiceError:
    return ServiceError("TagPolicy", message, 400)


def too_many_entries() -> ServiceError:
    return ServiceError(
        "TooManyEntriesInBatchRequest",
        "The batch request contains more entries than permissible.",
        400,
    )


def empty_batch() -> ServiceError:
    return ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.", 400)


def distinct_ids() -> ServiceError:
    return ServiceError(
        "BatchEntryIdsNotDistinct",
        "Two or more batch entries in the request have the same Id.",
        400,
    )


def invalid_batch_id() -> ServiceError:
    return ServiceError(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long.",
        400,
    )


def batch_too_long() -> ServiceError:
    return ServiceError(
        "BatchRequestTooLong",
        "The length of all the messages put together is more than the limit.",
        400,
    )


def not_supported(protocol: str) -> ServiceError:
    return invalid_parameter(
        f"Amazon SNS protocol {protocol} is not supported by cloudlet "
        "(sqs, http, https, lambda, email, email-json and firehose are)"
    )


def tag_limit() -> ServiceError:
    return ServiceError(
        "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded", 400
    )
