"""SQS's errors, each with the code of its botocore shape and AWS's legacy query code.

SQS moved from the query protocol to JSON, so every error has two names: the
shape name (``QueueDoesNotExist``) that JSON clients see in ``__type``, and the
query code (``AWS.SimpleQueueService.NonExistentQueue``) that query clients
see and that botocore also reads from ``x-amzn-query-error`` to keep old
``except`` clauses working. This module is the one place that knows both, and
the wording AWS uses, so handlers and the engine raise by meaning, not by
string.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError

_Q = "AWS.SimpleQueueService."


def _err(code: str, message: str, query_code: str | None = None, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, query_code=query_code or code)


def queue_does_not_exist(query_protocol: bool = False) -> ServiceError:
    message = (
        "The specified queue does not exist for this wsdl version."
        if query_protocol
        else "The specified queue does not exist."
    )
    return _err("QueueDoesNotExist", message, _Q + "NonExistentQueue")


def queue_name_exists(attribute: str) -> ServiceError:
    return _err(
        "QueueNameExists",
        f"A queue already exists with the same name and a different value for attribute {attribute}",
        "QueueAlreadyExists",
    )


def queue_deleted_recently() -> ServiceError:
    return _err(
        "QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create "
        "another with the same name.",
        _Q + "QueueDeletedRecently",
    )


def purge_in_progress(queue_name: str) -> ServiceError:
    return _err(
        "PurgeQueueInProgress",
        f"Only one PurgeQueue operation on {queue_name} is allowed every 60 seconds.",
        _Q + "PurgeQueueInProgress",
        status=403,
    )


def invalid_parameter(message: str) -> ServiceError:
    return _err("InvalidParameterValue", message)


def invalid_value(value: object, parameter: str, reason: str) -> ServiceError:
    """AWS's usual shape: ``Value X for parameter P is invalid. Reason: R``."""
    return invalid_parameter(
        f"Value {value} for parameter {parameter} is invalid. Reason: {reason}"
    )


def missing_parameter(parameter: str) -> ServiceError:
    return _err("MissingParameter", f"The request must contain the parameter {parameter}.")


def invalid_attribute_name(message: str) -> ServiceError:
    return _err("InvalidAttributeName", message)


def unknown_attribute(name: str) -> ServiceError:
    return invalid_attribute_name(f"Unknown Attribute {name}.")


def invalid_attribute_value(name: str, value: object, reason: str | None = None) -> ServiceError:
    if reason is None:
        return _err("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
    return _err(
        "InvalidAttributeValue", f"Value {value} for parameter {name} is invalid. Reason: {reason}"
    )


def invalid_message_contents() -> ServiceError:
    return _err(
        "InvalidMessageContents",
        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
        "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    )


def message_too_long(limit: int) -> ServiceError:
    return invalid_parameter(
        f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
    )


def receipt_handle_invalid(handle: str) -> ServiceError:
    return _err(
        "ReceiptHandleIsInvalid",
        f'The input receipt handle "{handle}" is not a valid receipt handle.',
    )


def message_not_inflight() -> ServiceError:
    return _err(
        "MessageNotInflight", "The message referred to isn't in flight.", _Q + "MessageNotInflight"
    )


def empty_batch(action: str) -> ServiceError:
    return _err(
        "EmptyBatchRequest",
        f"There should be at least one {action}BatchRequestEntry in the request.",
        _Q + "EmptyBatchRequest",
    )


def too_many_entries(count: int, limit: int = 10) -> ServiceError:
    return _err(
        "TooManyEntriesInBatchRequest",
        f"Maximum number of entries per request are {limit}. You have sent {count}.",
        _Q + "TooManyEntriesInBatchRequest",
    )


def batch_ids_not_distinct(entry_id: str) -> ServiceError:
    return _err(
        "BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.", _Q + "BatchEntryIdsNotDistinct"
    )


def invalid_batch_entry_id() -> ServiceError:
    return _err(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long.",
        _Q + "InvalidBatchEntryId",
    )


def batch_too_long(limit: int, size: int) -> ServiceError:
    return _err(
        "BatchRequestTooLong",
        f"Batch requests cannot be longer than {limit} bytes. You have sent {size} bytes.",
        _Q + "BatchRequestTooLong",
    )


def over_limit(message: str) -> ServiceError:
    return _err("OverLimit", message, status=403)


def unsupported_operation(message: str) -> ServiceError:
    return _err("UnsupportedOperation", message, _Q + "UnsupportedOperation")


def resource_not_found(message: str) -> ServiceError:
    return _err("ResourceNotFoundException", message, status=404)
