"""S3 prefixes with ``!{namespace:value}`` expressions: their rules and their evaluation.

Why one module: the same expressions are checked when a delivery stream is created or
updated (the developer guide's "Custom Prefixes for Amazon S3 Objects", semantic rules)
and evaluated for every object delivered, and the two must agree.

The rules enforced (``InvalidArgumentException``): ``!{`` only opens an expression;
namespaces are ``timestamp`` (a Java pattern), ``firehose`` (``random-string``,
``error-output-type``), ``partitionKeyFromLambda`` (needs a Lambda processor) and
``partitionKeyFromQuery`` (needs a ``MetadataExtraction`` processor), both only in
``Prefix`` and only with dynamic partitioning, whose ``Prefix`` must use at least one;
``Prefix`` cannot hold ``error-output-type``; an ``ErrorOutputPrefix`` with expressions
must hold it; an ``ErrorOutputPrefix`` may be left out only while ``Prefix`` has no
expressions.

Evaluation: a ``Prefix`` without a timestamp expression gets ``yyyy/MM/dd/HH/``
appended (not with dynamic partitioning); every ``timestamp`` of one prefix is the same
instant, the arrival of the oldest record in the object, in ``CustomTimeZone`` (UTC by
default); each ``random-string`` is 11 new characters; a partition key is the value the
record's lane was keyed by (``partitioning.py``). An error prefix left out is
``<Prefix><error-output-type>/yyyy/MM/dd/HH/``, and one without expressions gets
``<error-output-type>/yyyy/MM/dd/HH/`` appended.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cloudlet.services.firehose import errors
from cloudlet.services.firehose.timeformat import compile_pattern, render

_EXPRESSION = re.compile(r"!\{([^}:]*):([^}]*)\}")
NAMESPACES = ("timestamp", "firehose", "partitionKeyFromLambda", "partitionKeyFromQuery")
DEFAULT_TIME = "yyyy/MM/dd/HH/"
MAX_EVALUATED = 512


class MissingKey(Exception):
    """A record's keys lack a partition key the prefix reads (the prefix or the query
    changed after the record was keyed)."""


@dataclass(frozen=True)
class Expression:
    namespace: str
    value: str


Piece = str | Expression


@cache
def parse(text: str) -> tuple[Piece, ...]:
    """``text`` as literal strings and expressions; raises for a malformed one."""
    pieces: list[Piece] = []
    at = 0
    while True:
        start = text.find("!{", at)
        if start < 0:
            if text[at:]:
                pieces.append(text[at:])
            return tuple(pieces)
        if start > at:
            pieces.append(text[at:start])
        match = _EXPRESSION.match(text, start)
        if match is None:
            raise errors.invalid(
                f"The prefix '{text}' is not valid: '!{{' may only start an expression of "
                "the form !{namespace:value}."
            )
        namespace, value = match.group(1), match.group(2)
        if namespace not in NAMESPACES:
            raise errors.invalid(
                f"The expression '{match.group(0)}' has an unknown namespace '{namespace}'; "
                f"use one of {', '.join(NAMESPACES)}."
            )
        if namespace == "firehose" and value not in ("random-string", "error-output-type"):
            raise errors.invalid(
                f"The expression '{match.group(0)}' is not valid: the firehose namespace "
                "takes random-string or error-output-type."
            )
        if namespace == "timestamp":
            compiled_time(value)
        if namespace.startswith("partitionKey") and not value:
            raise errors.invalid(f"The expression '{match.group(0)}' names no partition key.")
        pieces.append(Expression(namespace, value))
        at = match.end()


@cache
def compiled_time(pattern: str) -> list[tuple[str, int | str]]:
    if not pattern:
        raise errors.invalid("A timestamp expression needs a pattern: !{timestamp:yyyy}.")
    return compile_pattern(pattern)


def _has(pieces: tuple[Piece, ...], namespace: str, value: str | None = None) -> bool:
    return any(
        isinstance(p, Expression) and p.namespace == namespace and value in (None, p.value)
        for p in pieces
    )


def _expressions(pieces: tuple[Piece, ...]) -> bool:
    return any(isinstance(p, Expression) for p in pieces)


def check(
    config: dict[str, Any],
    *,
    partitioning: bool,
    lambda_keys: bool,
    query_keys: bool = False,
) -> None:
    """The semantic rules for a destination's ``Prefix`` and ``ErrorOutputPrefix``.
    ``partitioning``: dynamic partitioning is on; ``lambda_keys``: a Lambda processor
    can return partition keys; ``query_keys``: a MetadataExtraction processor reads them."""
    prefix = parse(config.get("Prefix") or "")
    error_text = config.get("ErrorOutputPrefix")
    error = parse(error_text or "")
    if _has(prefix, "firehose", "error-output-type"):
        raise errors.invalid(
            "The expression !{firehose:error-output-type} can only be used in ErrorOutputPrefix."
        )
    if _expressions(error) and not _has(error, "firehose", "error-output-type"):
        raise errors.invalid(
            "ErrorOutputPrefix must contain at least one !{firehose:error-output-type} "
            "expression when it contains expressions."
        )
    if _expressions(prefix) and not error_text:
        raise errors.invalid(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions."
        )
    if _has(error, "partitionKeyFromLambda") or _has(error, "partitionKeyFromQuery"):
        raise errors.invalid(
            "ErrorOutputPrefix cannot contain partition key expressions: records that "
            "failed have no partition keys."
        )
    keyed = _has(prefix, "partitionKeyFromLambda") or _has(prefix, "partitionKeyFromQuery")
    if keyed and not partitioning:
        raise errors.invalid(
            "Partition key expressions (!{partitionKeyFromLambda:...} and "
            "!{partitionKeyFromQuery:...}) need dynamic partitioning to be enabled."
        )
    if _has(prefix, "partitionKeyFromQuery") and not query_keys:
        raise errors.invalid(
            "!{partitionKeyFromQuery:...} expressions need a MetadataExtraction processor "
            "in the ProcessingConfiguration."
        )
    if _has(prefix, "partitionKeyFromLambda") and not lambda_keys:
        raise errors.invalid(
            "!{partitionKeyFromLambda:...} expressions need a Lambda processor in the "
            "ProcessingConfiguration."
        )
    if partitioning:
        if not keyed:
            raise errors.invalid(
                "When dynamic partitioning is enabled, Prefix must contain at least one "
                "partition key expression (!{partitionKeyFromQuery:...} or "
                "!{partitionKeyFromLambda:...})."
            )
        if not error_text:
            raise errors.invalid(
                "ErrorOutputPrefix is required when dynamic partitioning is enabled."
            )


def check_backup(text: str) -> None:
    """A source record backup's ``Prefix``: well formed, with no error output type or
    partition keys (backups have neither)."""
    pieces = parse(text)
    if any(
        isinstance(p, Expression)
        and (p.namespace.startswith("partitionKey") or p.value == "error-output-type")
        for p in pieces
    ):
        raise errors.invalid(
            "The S3 backup Prefix may only use !{timestamp:...} and "
            "!{firehose:random-string} expressions."
        )


def partition_keys_used(config: dict[str, Any], namespace: str) -> list[str]:
    """The partition key names of ``namespace`` (``partitionKeyFromLambda`` or
    ``partitionKeyFromQuery``) that ``Prefix`` reads."""
    return list(
        dict.fromkeys(
            p.value
            for p in parse(config.get("Prefix") or "")
            if isinstance(p, Expression) and p.namespace == namespace
        )
    )


def random_string() -> str:
    """11 random characters, as ``!{firehose:random-string}`` gives (``5abf82daaa5``)."""
    return secrets.token_hex(6)[:11]


def _evaluate(
    pieces: tuple[Piece, ...], when: datetime, error_type: str, keys: dict[str, str]
) -> str:
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif piece.namespace == "timestamp":
            out.append(render(compiled_time(piece.value), when))
        elif piece.namespace == "firehose":
            out.append(error_type if piece.value == "error-output-type" else random_string())
        else:  # keys stored before namespaces were kept are a Lambda function's, by name
            name = f"{piece.namespace}:{piece.value}"
            value = keys.get(name, keys.get(piece.value))
            if value is None:
                raise MissingKey(name)
            out.append(value)
    return "".join(out)


def object_prefix(
    config: dict[str, Any], when: datetime, keys: dict[str, str], *, partitioning: bool
) -> str:
    """The evaluated ``Prefix`` of an object whose oldest record arrived ``when``
    (``MissingKey`` when ``keys`` lack a partition key the prefix reads)."""
    text = config.get("Prefix") or ""
    pieces = parse(text)
    if not partitioning and not _has(pieces, "timestamp"):
        pieces = (*pieces, Expression("timestamp", DEFAULT_TIME))
    return _evaluate(pieces, when, "", keys)


def error_prefix(config: dict[str, Any], when: datetime, error_type: str) -> str:
    """The evaluated error prefix for records that failed with ``error_type``."""
    text = config.get("ErrorOutputPrefix")
    if not text:
        base = parse(config.get("Prefix") or "")
        tail = (error_type + "/", Expression("timestamp", DEFAULT_TIME))
        return _evaluate((*base, *tail), when, error_type, {})
    pieces = parse(text)
    if not _expressions(pieces):
        pieces = (*pieces, error_type + "/", Expression("timestamp", DEFAULT_TIME))
    return _evaluate(pieces, when, error_type, {})
