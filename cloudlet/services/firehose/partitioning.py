"""Dynamic partitioning's inline parsing: the ``MetadataExtraction`` processor's jq query.

Why here: the developer guide's "Creating partitioning keys with inline parsing" runs a
jq program (``JsonParsingEngine`` ``JQ-1.6``) over every JSON record, and its object
gives the values of the ``!{partitionKeyFromQuery:<key>}`` expressions of the S3
prefix, e.g. ``{customer_id: .customer_id, year: .ts | strftime("%Y")}``. The program is
the ``jq`` library's (jq itself, not a reimplementation), compiled once per query.

A record is partitioned only when it is JSON, the program answers an object, and that
object has a scalar value for every key the prefix reads (strings as they are, numbers
and booleans as jq prints them); anything else is the guide's extraction failure: the
record goes to the error prefix as ``processing-failed`` with
``DynamicPartitioning.MetadataExtractionFailed``. Records carry their keys as the
``part`` of their lane, one JSON object of ``<namespace>:<key>`` names, so keys from
the query and from a Lambda function (``partitionKeyFromLambda``) live side by side.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jq

from cloudlet.services.firehose import errors

ENGINE = "JQ-1.6"
FAILED = "DynamicPartitioning.MetadataExtractionFailed"
QUERY = "partitionKeyFromQuery"
LAMBDA = "partitionKeyFromLambda"


class ExtractionFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = FAILED
        self.message = message


@lru_cache(maxsize=256)
def program(query: str) -> Any:
    """The compiled jq program of ``query`` (a ``ValueError`` when it does not compile)."""
    return jq.compile(query)


def check(params: dict[str, str]) -> str:
    """The ``MetadataExtraction`` processor's parameters checked; its query."""
    query = params.get("MetadataExtractionQuery")
    if not query:
        raise errors.invalid(
            "The MetadataExtraction processor requires the MetadataExtractionQuery parameter."
        )
    engine = params.get("JsonParsingEngine")
    if engine != ENGINE:
        raise errors.invalid(
            f"JsonParsingEngine must be {ENGINE} for the MetadataExtraction processor"
            + (f", not '{engine}'." if engine else ".")
        )
    try:
        program(query)
    except ValueError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "it does not compile"
        raise errors.invalid(
            f"The MetadataExtractionQuery '{query}' is not a valid jq expression: {first}"
        ) from None
    return query


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def extract(query: str, data: bytes, names: list[str]) -> dict[str, str]:
    """The values of partition keys ``names`` the query finds in record ``data``."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ExtractionFailed("The record is not UTF-8 encoded JSON.") from None
    try:
        outputs = program(query).input_text(text).all()
    except ValueError as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "jq failed"
        raise ExtractionFailed(
            f"Failed to extract partition keys from the record with the query: {detail}"
        ) from None
    found = outputs[0] if outputs else None
    if not isinstance(found, dict):
        raise ExtractionFailed(
            "The MetadataExtractionQuery did not produce a JSON object of partition keys "
            "for the record."
        )
    keys: dict[str, str] = {}
    for name in names:
        value = _text(found.get(name))
        if value is None:
            raise ExtractionFailed(
                f"The partition key '{name}' is missing from the query's result or is not a "
                "string, number or boolean."
            )
        keys[f"{QUERY}:{name}"] = value
    return keys


def lambda_keys(given: dict[str, str]) -> dict[str, str]:
    """A Lambda function's ``metadata.partitionKeys`` under their namespace."""
    return {f"{LAMBDA}:{k}": v for k, v in given.items()}


def part(keys: dict[str, str]) -> str:
    """A record's keys as its lane's ``part``."""
    return json.dumps(keys, sort_keys=True) if keys else ""


def merged(current: str, more: dict[str, str]) -> str:
    """``current`` part with ``more`` keys added."""
    return part({**(json.loads(current) if current else {}), **more})
