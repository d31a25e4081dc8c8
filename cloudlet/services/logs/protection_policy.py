"""The grammar of a data protection policy document, and what a checked one means.

Why a module of its own: PutDataProtectionPolicy and PutAccountPolicy
(``DATA_PROTECTION_POLICY``) take the same document, and ingestion needs the parsed form
of both. The rules are the API reference's (PutDataProtectionPolicy, PutAccountPolicy)
and the user guide's ("Understanding data protection policies", "Custom data
identifiers"):

- at most 30,720 characters; ``Name`` of letters, digits, ``-`` and ``_`` (AWS's own
  message when it is not); ``Version`` ``2021-06-01``; optional ``Description`` and
  ``Configuration.CustomDataIdentifier`` (at most 10, each a ``Name`` and a ``Regex`` of
  at most 200 characters);
- exactly two statements: one whose ``Operation`` is ``Audit`` with a
  ``FindingsDestination`` (``CloudWatchLogs.LogGroup``, ``S3.Bucket``,
  ``Firehose.DeliveryStream``, each optional) and one whose ``Operation`` is
  ``Deidentify`` with an empty ``MaskConfig``, both naming the same ``DataIdentifier``s:
  managed identifiers by ARN (``arn:aws:dataprotection::aws:data-identifier/EmailAddress``)
  or custom ones by name.

A managed identifier AWS has but cloudlet does not detect is refused, naming the ones it
does (``core.data_identifiers.MANAGED``), rather than accepted and never masked. Texts the
reference does not give are cloudlet's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.data_identifiers import named_identifiers, policy_document
from cloudlet.core.errors import ServiceError
from cloudlet.services.logs import errors

_STATEMENT_KEYS = {"Sid", "DataIdentifier", "Operation"}
_DESTINATIONS = {"CloudWatchLogs": "LogGroup", "S3": "Bucket", "Firehose": "DeliveryStream"}


@dataclass(frozen=True)
class ProtectionPolicy:
    """A checked policy: what it looks for and where its audit findings go."""

    name: str
    managed: tuple[str, ...]
    custom: dict[str, re.Pattern[str]] = field(default_factory=dict)
    destinations: dict[str, str] = field(default_factory=dict)
    """``CloudWatchLogs``/``S3``/``Firehose`` to the log group, bucket or stream name."""


def _bad(message: str) -> ServiceError:
    return errors.invalid(f"Invalid data protection policy: {message}")


def _destinations(audit: Any) -> dict[str, str]:
    if not isinstance(audit, dict) or "FindingsDestination" not in audit:
        raise _bad("The Audit operation must contain a FindingsDestination.")
    dest = audit["FindingsDestination"]
    if not isinstance(dest, dict) or set(dest) - set(_DESTINATIONS):
        raise _bad("FindingsDestination may contain CloudWatchLogs, S3 and Firehose.")
    out = {}
    for kind, key in _DESTINATIONS.items():
        if kind not in dest:
            continue
        value = dest[kind]
        if not isinstance(value, dict) or set(value) != {key} or not isinstance(value[key], str):
            raise _bad(f"FindingsDestination.{kind} must contain exactly {key}.")
        out[kind] = value[key]
    return out


def parse(text: str) -> ProtectionPolicy:
    """Check a policy document; ``InvalidParameterException`` says what is wrong."""
    doc, custom = policy_document(text, _bad, errors.invalid)
    name = doc["Name"]
    statements = doc.get("Statement")
    if not isinstance(statements, list) or len(statements) != 2:
        raise _bad("The policy must contain exactly two statements: Audit and Deidentify.")
    by_operation: dict[str, tuple[tuple[str, ...], Any]] = {}
    for st in statements:
        if not isinstance(st, dict) or set(st) - _STATEMENT_KEYS:
            raise _bad("A statement may contain Sid, DataIdentifier and Operation.")
        op = st.get("Operation")
        if (
            not isinstance(op, dict)
            or len(op) != 1
            or next(iter(op))
            not in (
                "Audit",
                "Deidentify",
            )
        ):
            raise _bad("Each statement's Operation must be exactly one of Audit or Deidentify.")
        ((kind, body),) = op.items()
        if kind in by_operation:
            raise _bad(f"The policy can contain only one {kind} statement.")
        by_operation[kind] = (
            named_identifiers(st.get("DataIdentifier"), custom, _bad, errors.invalid),
            body,
        )
    audited, audit = by_operation["Audit"]
    masked, deidentify = by_operation["Deidentify"]
    if deidentify != {"MaskConfig": {}}:
        raise _bad('The Deidentify operation must contain exactly "MaskConfig": {}.')
    if set(audited) != set(masked):
        raise _bad("The DataIdentifier arrays of the two statements must match exactly.")
    used = {n: rx for n, rx in custom.items() if n in masked}
    return ProtectionPolicy(
        name=name,
        managed=tuple(n for n in masked if n not in custom),
        custom=used,
        destinations=_destinations(audit),
    )
