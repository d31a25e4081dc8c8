"""DynamoDB's errors, one constructor per AWS error code.

Messages are AWS's own text (DynamoDB clients and tests compare them), so they
are written once here and the engine only picks the constructor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudlet.core.errors import ServiceError

ENVELOPE = "1 validation error detected: "

_CORAL_MISSING = (
    "MissingAuthenticationTokenException",
    400,
    "Request is missing Authentication Token",
)
CORAL_AUTH_ERRORS: Mapping[str, tuple[str, int, str | None]] = {
    "InvalidClientTokenId": ("UnrecognizedClientException", 400, None),
    "invalid-session-token": (
        "UnrecognizedClientException",
        400,
        "The security token included in the request is invalid",
    ),
    "SignatureDoesNotMatch": ("InvalidSignatureException", 400, None),
    "RequestExpired": ("InvalidSignatureException", 400, None),
    "both-signatures": (
        "InvalidSignatureException",
        400,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    ),
    "MissingAuthenticationToken": _CORAL_MISSING,
    "no-signature": _CORAL_MISSING,
    "IncompleteSignature": ("IncompleteSignatureException", 400, None),
    "ExpiredToken": ("ExpiredTokenException", 400, None),
}
"""How the Coral front end of DynamoDB and DynamoDB Streams answers authentication
failures (their ``Service.auth_errors``): all 400, ``...Exception`` codes. The message is
the auth layer's (None) where AWS words it the same, else AWS's own: the session-token
failure without the final period and the missing signature as DynamoDB says them
(dynalite's index.js and test/connection.js, recorded against DynamoDB; the raw body in
baopham/laravel-dynamodb#228)."""


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def request_validation(message: str, kind: str = "request") -> ServiceError:
    """A ValidationException of the request-validation family.

    DynamoDB (2026) answers these on PutItem, UpdateItem and DeleteItem inside a
    ``1 validation error detected: `` envelope (``enveloped``) and bare elsewhere;
    key, shape, size and evaluation errors stay bare everywhere. ``kind`` tells
    number errors apart: an ExpressionAttributeValues entry reports them as they
    are, where other invalid values are wrapped.
    """
    exc = validation(message)
    exc.family = kind  # type: ignore[attr-defined]
    return exc


def is_request_validation(exc: ServiceError) -> bool:
    return getattr(exc, "family", None) is not None


def tag(exc: ServiceError) -> ServiceError:
    """Mark an error as request validation (expression compile errors, parameter rules)."""
    if exc.code == "ValidationException" and getattr(exc, "family", None) is None:
        exc.family = "request"  # type: ignore[attr-defined]
    return exc


def enveloped(exc: ServiceError) -> ServiceError:
    if is_request_validation(exc) and not exc.message.startswith(ENVELOPE):
        exc.message = ENVELOPE + exc.message
        exc.args = (exc.message,)
    return exc


def per_item(exc: ServiceError) -> ServiceError:
    """Mark an error AWS finds while running one action of a transaction (a key of the
    wrong type, say): TransactWriteItems and TransactGetItems cancel with it as that
    action's ``ValidationError`` reason instead of failing the request. Single-item
    operations and batches report it as it is."""
    exc.per_item = True  # type: ignore[attr-defined]
    return exc


def is_per_item(exc: ServiceError) -> bool:
    return getattr(exc, "per_item", False)


def whole_request(exc: ServiceError) -> ServiceError:
    """Mark an error found while running one action of a transaction that AWS answers as
    the whole request's error, not as that action's cancellation reason (an update that
    empties an index key)."""
    exc.whole_request = True  # type: ignore[attr-defined]
    return exc


def is_whole_request(exc: BaseException) -> bool:
    return getattr(exc, "whole_request", False)


def invalid_parameter(detail: str) -> ServiceError:
    """``One or more parameter values were invalid: <detail>``."""
    return validation(f"One or more parameter values were invalid: {detail}")


def resource_not_found(message: str = "Requested resource not found") -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 400)


def access_denied() -> ServiceError:
    """Another account's resource named (an export, a backup, a table's ARN)."""
    return ServiceError("AccessDeniedException", "Access is denied", 400)


def table_not_found(name: str) -> ServiceError:
    return resource_not_found(f"Requested resource not found: Table: {name} not found")


def resource_in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 400)


def conditional_check_failed(item: dict[str, Any] | None = None) -> ServiceError:
    """``item`` is the old item when ReturnValuesOnConditionCheckFailure=ALL_OLD."""
    fields = {"Item": item} if item is not None else None
    return ServiceError(
        "ConditionalCheckFailedException", "The conditional request failed", 400, fields=fields
    )


def transaction_canceled(reasons: list[dict[str, Any]]) -> ServiceError:
    codes = ", ".join(r.get("Code", "None") for r in reasons)
    return ServiceError(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        400,
        fields={"CancellationReasons": reasons},
    )


def idempotent_mismatch() -> ServiceError:
    return ServiceError(
        "IdempotentParameterMismatchException",
        "Request parameters do not match the request parameters of a previous request "
        "with the same idempotency token.",
        400,
    )


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message, 400)


def key_schema_mismatch() -> ServiceError:
    return per_item(validation("The provided key element does not match the schema"))


def between_bounds(low: dict[str, Any], high: dict[str, Any]) -> ServiceError:
    """A Query's key condition ``BETWEEN low AND high`` with ``low`` above ``high``."""
    return validation(
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound "
        "to be greater than or equal to lower bound; lower bound operand: "
        f"AttributeValue: {_show(low)}, upper bound operand: AttributeValue: {_show(high)}"
    )


def _show(value: dict[str, Any]) -> str:
    for t, v in value.items():
        return f"{{{t}:{v},}}"
    return "{}"


def backup_not_found(arn: str) -> ServiceError:
    return ServiceError("BackupNotFoundException", f"Backup not found: {arn}", 400)


def table_already_exists(name: str) -> ServiceError:
    return ServiceError("TableAlreadyExistsException", f"Table already exists: {name}", 400)


def constraint(value: Any, member: str, rule: str) -> ServiceError:
    """AWS's request-syntax message: ``1 validation error detected: Value '<v>' at '<member>'
    failed to satisfy constraint: <rule>`` (``value`` None leaves the value out, as AWS does
    for lists it does not echo)."""
    return constraints([(value, member, rule)])


def constraints(broken: list[tuple[Any, str, str]]) -> ServiceError:
    """Several broken constraints (``(value, member, rule)`` each, as ``constraint`` takes
    them) in one message, as AWS reports them: ``2 validation errors detected: Value ...
    failed to satisfy constraint: ...; Value ...``."""
    count = "1 validation error" if len(broken) == 1 else f"{len(broken)} validation errors"
    return validation(
        f"{count} detected: "
        + "; ".join(
            f"{_shown(value)} at '{member}' failed to satisfy constraint: {rule}"
            for value, member, rule in broken
        )
    )


def _shown(value: Any) -> str:
    return "Value" if value is None else f"Value '{value}'"


def java_text(value: Any) -> str:
    """``value`` as a Java ``toString`` shows it (``{pk={S=a}}``), for the request values
    AWS echoes in its validation messages."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    return str(value)


def list_too_long(
    member: str, entries: list[dict[str, Any]], kind: str, limit: int
) -> ServiceError:
    """A list over its length limit, echoed as AWS's Java ``toString`` of it
    (``[TransactWriteItem(put=Put(...), ...), ...]``: nubo-db/dynamodb-conformance pins
    ``Value '[...]' at 'transactItems'`` (a regex) against real DynamoDB; the rendering of each
    entry is approximate, as BatchWriteItem's is)."""

    def entry(e: dict[str, Any]) -> str:
        fields = ", ".join(f"{k[:1].lower()}{k[1:]}={java_text(v)}" for k, v in e.items())
        return f"{kind}({fields})"

    dump = "[" + ", ".join(entry(e) for e in entries) + "]"
    return constraint(dump, member, f"Member must have length less than or equal to {limit}")


def check_enum(value: Any, member: str, allowed: tuple[str, ...]) -> Any:
    """``value`` (None when absent) if it is one of ``allowed``; AWS's enum message otherwise.

    ``allowed`` is in the order AWS lists it in the message.
    """
    broken = enum_broken(value, member, allowed)
    if broken:
        raise constraints(broken)
    return value


def enum_broken(value: Any, member: str, allowed: tuple[str, ...]) -> list[tuple[Any, str, str]]:
    """``check_enum``'s constraint as a ``constraints`` entry (none when ``value`` is absent
    or allowed), for a message that reports it beside other members' errors."""
    if value is None or value in allowed:
        return []
    return [(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")]


RETURN_CAPACITY = ("INDEXES", "TOTAL", "NONE")
RETURN_METRICS = ("SIZE", "NONE")
RETURN_ON_FAILURE = ("ALL_OLD", "NONE")


RETURN_VALUES = ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW")
"""ReturnValues' enum, in the order AWS lists it."""


def check_return_options(
    params: dict[str, Any],
    where: str = "",
    before: list[tuple[Any, str, str]] | None = None,
    *,
    together: bool = True,
) -> None:
    """ReturnConsumedCapacity, ReturnItemCollectionMetrics and
    ReturnValuesOnConditionCheckFailure, where present, are among AWS's values (``where``
    prefixes the member path, e.g. ``transactItems.1.member.put.``). Every broken one,
    after the caller's own broken members (``before``), is reported in one message, as
    AWS reports them (dynamodb-conformance's validation-ordering tests, 2026-10-09:
    ``2 validation errors detected: ...returnConsumedCapacity...;
    ...returnItemCollectionMetrics...``); UpdateItem reports the first alone (``together``
    False: the same suite's updateItem ordering test)."""
    broken = [
        *(before or []),
        *enum_broken(
            params.get("ReturnConsumedCapacity"), where + "returnConsumedCapacity", RETURN_CAPACITY
        ),
        *enum_broken(
            params.get("ReturnItemCollectionMetrics"),
            where + "returnItemCollectionMetrics",
            RETURN_METRICS,
        ),
        *enum_broken(
            params.get("ReturnValuesOnConditionCheckFailure"),
            where + "returnValuesOnConditionCheckFailure",
            RETURN_ON_FAILURE,
        ),
    ]
    if broken:
        raise constraints(broken if together else broken[:1])


def check_not_empty(collection: Any, member: str, shown: str | None) -> None:
    """A list or map member AWS requires at least one entry in (``shown``: how AWS echoes
    the empty value, ``{}`` or ``[]``; None when it does not)."""
    if not collection:
        raise constraint(shown, member, "Member must have length greater than or equal to 1")


def check_limit(limit: int | None, most: int, member: str = "limit") -> int:
    """A list operation's page size (default ``most``), within 1..``most``."""
    if limit is None:
        return most
    if not 1 <= limit <= most:
        bound = "greater than or equal to 1" if limit < 1 else f"less than or equal to {most}"
        raise constraint(limit, member, f"Member must have value {bound}")
    return limit
