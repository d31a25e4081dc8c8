"""Pipes' errors in AWS's shapes, raised by meaning so handlers never spell codes.

Pipes speaks rest-json: ``ValidationException`` (400) carries a ``fieldList`` naming
each member at fault, ``NotFoundException`` is a 404 and ``ConflictException`` (409)
names the resource it is about. The texts of the framework's constraint messages are
AWS's ("1 validation error detected: ..."); the others are judgement calls, each naming
what is wrong.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def invalid(message: str, fields: list[tuple[str, str]] | None = None) -> ServiceError:
    """A ValidationException; ``fields``: (member path, message) pairs for ``fieldList``."""
    extra = {}
    if fields:
        extra["fieldList"] = [{"name": n, "message": m} for n, m in fields]
    return ServiceError("ValidationException", message, 400, fields=extra)


def invalid_field(field: str, message: str) -> ServiceError:
    return invalid(message, [(field, message)])


def constraints(broken: list[tuple[str, str]]) -> ServiceError:
    """The framework's message for members breaking their model: (path, text) pairs,
    each text already "Value ... at '...' failed to satisfy constraint: ..."."""
    count = len(broken)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(t for _, t in broken)
    return invalid(message, broken)


def not_found(name: str) -> ServiceError:
    return ServiceError("NotFoundException", f"Pipe {name} does not exist.", 404)


def not_found_arn(arn: str) -> ServiceError:
    return ServiceError("NotFoundException", f"Resource {arn} does not exist.", 404)


def conflict(message: str, name: str) -> ServiceError:
    return ServiceError(
        "ConflictException",
        message,
        409,
        fields={"resourceId": name, "resourceType": "pipe"},
    )


def in_state(name: str, state: str, action: str) -> ServiceError:
    return conflict(f"Pipe {name} cannot be {action} while it is in state {state}.", name)
