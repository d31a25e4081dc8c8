"""The grammar of an SNS message data protection policy, and what a checked one means.

Why a module of its own: PutDataProtectionPolicy and CreateTopic's
``DataProtectionPolicy`` take the same document, and Publish and every delivery act on
its parsed form. The rules are the developer guide's ("Understanding data protection
policies", "Data protection policy operations", "Data protection policy examples",
"Custom data identifiers") and the API reference's:

- at most 30,720 characters; ``Name`` (letters, digits, ``-``, ``_``), optional
  ``Description``, ``Version`` ``2021-06-01``, one or more ``Statement``s, optional
  ``Configuration.CustomDataIdentifier`` (at most 10, each a ``Name`` of at most 128
  characters that is no managed identifier's and a ``Regex`` of at most 200);
- a statement: optional ``Sid``, ``DataDirection`` ``Inbound`` (Publish) or
  ``Outbound`` (deliveries), ``Principal`` (``*``, account ids, or IAM ARNs of account
  roots, users and roles), ``DataIdentifier`` (managed identifiers by ARN, custom ones
  by name) and an ``Operation`` of exactly one of:
  - ``Audit`` (one per policy; inbound, as the guide says it samples inbound
    messages): ``SampleRate`` 0 to 99 (a string or a number; 99 when absent, cloudlet's
    choice) and a ``FindingsDestination`` and/or ``NoFindingsDestination`` of
    ``CloudWatchLogs.LogGroup`` (named ``/aws/vendedlogs/...``), ``Firehose.DeliveryStream``
    and ``S3.Bucket``;
  - ``Deidentify``: ``MaskConfig`` (``MaskWithCharacter``, one printable ASCII character,
    ``*`` when absent) or ``RedactConfig`` (``{}``);
  - ``Deny``: ``{}``.

A managed identifier AWS has but cloudlet does not detect is refused, naming the ones
it does (``core.data_identifiers.MANAGED``), rather than accepted and never found. Where
the guide gives no wording, the refusal texts are cloudlet's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloudlet.core.data_identifiers import (
    Finding,
    find,
    mask,
    named_identifiers,
    policy_document,
    redact,
)
from cloudlet.core.errors import ServiceError
from cloudlet.services.sns import errors

MAX_SAMPLE_RATE = 99
LOG_GROUP_PREFIX = "/aws/vendedlogs/"
_STATEMENT_KEYS = {"Sid", "DataDirection", "Principal", "DataIdentifier", "Operation"}
_DESTINATIONS = {"CloudWatchLogs": "LogGroup", "Firehose": "DeliveryStream", "S3": "Bucket"}
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(root|(?:user|role)/[\w+=,.@/-]+)$")


@dataclass(frozen=True)
class Statement:
    """One checked statement: whom and which direction it covers, what it looks for,
    and what it does when it finds it."""

    sid: str | None
    inbound: bool
    principals: tuple[str, ...]
    managed: tuple[str, ...]
    custom: dict[str, re.Pattern[str]]
    action: str
    """``Audit``, ``Deny``, ``Mask`` or ``Redact``."""
    mask_character: str = "*"
    sample_rate: int = 0
    findings_destination: dict[str, str] = field(default_factory=dict)
    no_findings_destination: dict[str, str] = field(default_factory=dict)
    """``CloudWatchLogs``/``Firehose``/``S3`` to the log group, stream or bucket name."""

    def find(self, text: str) -> list[Finding]:
        return find(text, self.managed, self.custom)

    def covers(self, principal: str | None) -> bool:
        return any(principal_matches(p, principal) for p in self.principals)

    def deidentify(self, text: str) -> str:
        """``text`` masked or redacted where this statement finds something."""
        found = self.find(text)
        if not found:
            return text
        if self.action == "Redact":
            return redact(text, found)
        return mask(text, found, self.mask_character)


@dataclass(frozen=True)
class ProtectionPolicy:
    name: str
    statements: tuple[Statement, ...]

    @property
    def audit(self) -> Statement | None:
        return next((s for s in self.statements if s.action == "Audit"), None)

    def acting(self, inbound: bool, principal: str | None) -> list[Statement]:
        """The Deny and Deidentify statements of one direction that cover ``principal``,
        in the document's order."""
        return [
            s
            for s in self.statements
            if s.inbound == inbound and s.action != "Audit" and s.covers(principal)
        ]


def principal_matches(pattern: str, principal: str | None) -> bool:
    """Whether a statement's ``Principal`` entry names ``principal`` (an ARN, None when
    the caller is no IAM identity): ``*`` everyone; an account id or its ``root`` ARN
    every identity of that account; a user ARN that user; a role ARN the role and its
    sessions (``arn:aws:sts::<account>:assumed-role/<role>/<session>``)."""
    if pattern == "*":
        return True
    if principal is None:
        return False
    parts = principal.split(":", 5)
    if len(parts) < 6:
        return False
    account, resource = parts[4], parts[5]
    if _ACCOUNT.match(pattern):
        return account == pattern
    m = _IAM_ARN.match(pattern)
    if m is None or m.group(1) != account:
        return False
    wanted = m.group(2)
    if wanted == "root":
        return True
    kind, name = wanted.split("/", 1)[0], wanted.rsplit("/", 1)[1]
    if kind == "role" and parts[2] == "sts" and resource.startswith("assumed-role/"):
        return resource.split("/")[1] == name
    return resource.split("/", 1)[0] == kind and resource.rsplit("/", 1)[1] == name


def _bad(message: str) -> ServiceError:
    return errors.invalid_parameter(f"DataProtectionPolicy Reason: {message}")


_undetected = _bad


def _principals(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
        raise _bad("Principal must be a non-empty list of principals.")
    for p in raw:
        if p != "*" and not _ACCOUNT.match(p) and not _IAM_ARN.match(p):
            raise _bad(
                f"Invalid principal: {p}. A principal is *, an AWS account id, or the ARN of "
                "an account root, an IAM user or an IAM role."
            )
    return tuple(raw)


def _destination(kind: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - set(_DESTINATIONS):
        raise _bad(f"{kind} may contain CloudWatchLogs, Firehose and S3.")
    out = {}
    for service, key in _DESTINATIONS.items():
        if service not in raw:
            continue
        value = raw[service]
        if not isinstance(value, dict) or set(value) != {key} or not isinstance(value[key], str):
            raise _bad(f"{kind}.{service} must contain exactly {key}.")
        out[service] = value[key]
    group = out.get("CloudWatchLogs")
    if group is not None and not group.startswith(LOG_GROUP_PREFIX):
        raise _bad(f"The log group {group} must have a name starting with {LOG_GROUP_PREFIX}")
    return out


def _sample_rate(raw: Any) -> int:
    if raw is None:
        return MAX_SAMPLE_RATE
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise _bad(f"SampleRate must be an integer from 0 to {MAX_SAMPLE_RATE}.")
    text = str(raw).strip()
    if not text.isdigit() or not 0 <= int(text) <= MAX_SAMPLE_RATE:
        raise _bad(f"SampleRate must be an integer from 0 to {MAX_SAMPLE_RATE}.")
    return int(text)


_ONE_OPERATION = "Each statement's Operation must be exactly one of Audit, Deidentify or Deny."
_ONE_CONFIG = "The Deidentify operation must contain exactly one of MaskConfig or RedactConfig."
_AUDIT_KEYS = {"SampleRate", "FindingsDestination", "NoFindingsDestination"}


def _deidentify(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise _bad(_ONE_CONFIG)
    ((config, settings),) = body.items()
    if config == "RedactConfig":
        if settings != {}:
            raise _bad('RedactConfig must be exactly "RedactConfig": {}.')
        return {"action": "Redact"}
    if config != "MaskConfig" or not isinstance(settings, dict):
        raise _bad(_ONE_CONFIG)
    if set(settings) - {"MaskWithCharacter"}:
        raise _bad("MaskConfig may only contain MaskWithCharacter.")
    char = settings.get("MaskWithCharacter", "*")
    if not isinstance(char, str) or len(char) != 1 or not 0x21 <= ord(char) <= 0x7E:
        raise _bad(f"MaskWithCharacter must be one printable ASCII character: {char}")
    return {"action": "Mask", "mask_character": char}


def _audit(body: Any, inbound: bool) -> dict[str, Any]:
    if not inbound:
        raise _bad(
            "The Audit operation samples inbound messages: its DataDirection must be Inbound."
        )
    if not isinstance(body, dict) or set(body) - _AUDIT_KEYS:
        raise _bad(f"The Audit operation may contain {', '.join(sorted(_AUDIT_KEYS))}.")
    findings, no_findings = body.get("FindingsDestination"), body.get("NoFindingsDestination")
    if findings is None and no_findings is None:
        raise _bad("The Audit operation requires a FindingsDestination or a NoFindingsDestination.")
    return {
        "action": "Audit",
        "sample_rate": _sample_rate(body.get("SampleRate")),
        "findings_destination": _destination("FindingsDestination", findings),
        "no_findings_destination": _destination("NoFindingsDestination", no_findings),
    }


def _operation(raw: Any, inbound: bool) -> dict[str, Any]:
    """The statement's action and its settings, as ``Statement`` fields."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _bad(_ONE_OPERATION)
    ((kind, body),) = raw.items()
    if kind == "Deny":
        if body != {}:
            raise _bad('The Deny operation must be exactly "Deny": {}.')
        return {"action": "Deny"}
    if kind == "Deidentify":
        return _deidentify(body)
    if kind == "Audit":
        return _audit(body, inbound)
    raise _bad(_ONE_OPERATION)


def _statement(raw: Any, custom: dict[str, re.Pattern[str]]) -> Statement:
    if not isinstance(raw, dict) or set(raw) - _STATEMENT_KEYS:
        raise _bad(
            "A statement may contain Sid, DataDirection, Principal, DataIdentifier and Operation."
        )
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _bad("Sid must be a string.")
    direction = raw.get("DataDirection")
    if direction not in ("Inbound", "Outbound"):
        raise _bad("DataDirection must be Inbound or Outbound.")
    inbound = direction == "Inbound"
    managed_and_custom = named_identifiers(raw.get("DataIdentifier"), custom, _bad, _undetected)
    return Statement(
        sid=sid,
        inbound=inbound,
        principals=_principals(raw.get("Principal")),
        managed=tuple(n for n in managed_and_custom if n not in custom),
        custom={n: custom[n] for n in managed_and_custom if n in custom},
        **_operation(raw.get("Operation"), inbound),
    )


def parse(text: str) -> ProtectionPolicy:
    """Check a policy document; ``InvalidParameter`` says what is wrong."""
    doc, custom = policy_document(text, _bad, _bad)
    name = doc["Name"]
    raw = doc.get("Statement")
    if not isinstance(raw, list) or not raw:
        raise _bad("The policy must contain at least one statement.")
    statements = tuple(_statement(st, custom) for st in raw)
    if sum(1 for s in statements if s.action == "Audit") > 1:
        raise _bad("A data protection policy can have only one audit statement.")
    return ProtectionPolicy(name=name, statements=statements)
