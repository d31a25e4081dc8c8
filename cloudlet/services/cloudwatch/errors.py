"""CloudWatch's errors, each with its botocore shape name and its query code.

CloudWatch is ``awsQueryCompatible``: cbor and json clients see the shape name
(``InvalidParameterValueException``) while botocore maps the query code
(``InvalidParameterValue``, sent in ``x-amzn-query-error``) back into
``Error.Code``, so every client sees the same code. This module is the one place
that knows both names and AWS's wording.
"""

from __future__ import annotations

from cloudlet.core.errors import ServiceError


def _err(shape: str, code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(shape, message, status, query_code=code)


def invalid_value(message: str) -> ServiceError:
    return _err("InvalidParameterValueException", "InvalidParameterValue", message)


def bad_value(value: object, parameter: str) -> ServiceError:
    return invalid_value(f"The value {value} for parameter {parameter} is invalid.")


def missing(message: str) -> ServiceError:
    return _err("MissingRequiredParameterException", "MissingParameter", message)


def combination(message: str) -> ServiceError:
    return _err("InvalidParameterCombinationException", "InvalidParameterCombination", message)


def validation(message: str) -> ServiceError:
    return _err("ValidationException", "ValidationError", message)


def invalid_next_token() -> ServiceError:
    return _err("InvalidNextToken", "InvalidNextToken", "The service cannot process the token.")


def alarm_not_found(name: str) -> ServiceError:
    return _err("ResourceNotFound", "ResourceNotFound", f"Alarm {name} does not exist", 404)


def dashboard_not_found(message: str) -> ServiceError:
    return _err("DashboardNotFoundError", "ResourceNotFound", message, 404)


def dashboard_invalid(message: str, messages: list[dict] | None = None) -> ServiceError:
    err = _err("DashboardInvalidInputError", "InvalidParameterInput", message)
    if messages:
        err.fields["dashboardValidationMessages"] = messages
    return err


def resource_not_found(message: str) -> ServiceError:
    return _err("ResourceNotFoundException", "ResourceNotFoundException", message, 404)


def invalid_format(message: str) -> ServiceError:
    return _err("InvalidFormatFault", "InvalidFormat", message)


def insight_rule_not_found(name: str) -> ServiceError:
    err = resource_not_found(f"Rule {name} does not exist.")
    err.fields.update(ResourceType="InsightRule", ResourceId=name)
    return err


def limit_exceeded(message: str) -> ServiceError:
    return _err("LimitExceededException", "LimitExceededException", message)
