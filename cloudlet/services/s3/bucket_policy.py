"""Bucket policy documents: the shape S3 checks before it stores one.

PutBucketPolicy refuses, with 400 ``MalformedPolicy`` and S3's wording, a document
that is not a JSON object (empty included: ``document_checks.py`` answers for an
empty body, which the codec would call a missing parameter), has no ``Statement`` (or an empty one), names a version
other than ``2012-10-17``/``2008-10-17``, or has a statement without an ``Effect``
of ``Allow``/``Deny``, a ``Principal`` (or ``NotPrincipal``), an ``Action`` (or
``NotAction``) and a ``Resource`` (or ``NotResource``) of the right types. What
passes must then compile as an IAM resource policy (``cloudlet.auth.policy``),
which is what strict mode evaluates: a stored document it could not compile would
be silently ignored, its ``Deny`` statements with it.
"""

from __future__ import annotations

import json
from typing import Any

from cloudlet.auth import policy as iam_policy
from cloudlet.core.errors import ServiceError
from cloudlet.services.s3 import errors

VERSIONS = frozenset(("2012-10-17", "2008-10-17"))
NOT_AN_OBJECT = "Policies must be valid JSON and the first byte must be '{'"
EFFECTS = frozenset(("Allow", "Deny"))
# (element, its Not- form, what a bad value of either is called)
_REQUIRED = (
    ("Principal", "NotPrincipal", "Invalid principal in policy"),
    ("Action", "NotAction", "Policy has invalid action"),
    ("Resource", "NotResource", "Policy has invalid resource"),
)


def malformed_policy(message: str) -> ServiceError:
    return errors.s3_error("MalformedPolicy", message, 400)


def parse_bucket_policy(text: str) -> dict[str, Any]:
    """The policy document of a PutBucketPolicy, checked; ``MalformedPolicy`` if S3
    would refuse it. Text that does not open an object (empty, ``invalid json``, a
    list) is told so; an object that does not parse is "invalid Json"."""
    if not text.lstrip().startswith("{"):
        raise malformed_policy(NOT_AN_OBJECT)
    try:
        doc = json.loads(text)
    except ValueError:
        raise malformed_policy("This policy contains invalid Json") from None
    statements = _statements(doc)
    if doc.get("Version", "2008-10-17") not in VERSIONS:
        raise malformed_policy("The policy must contain a valid version string")
    for statement in statements:
        _check_statement(statement)
    try:
        iam_policy.parse(doc, "resource")
    except iam_policy.MalformedPolicy as exc:
        raise malformed_policy(str(exc)) from None
    return doc


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    raw = doc.get("Statement")
    if raw is None:
        raise malformed_policy("Missing required field Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise malformed_policy("This policy contains invalid Json")
    if not statements:
        raise malformed_policy("Could not parse the policy: Statement is empty!")
    return statements


def _check_statement(statement: dict[str, Any]) -> None:
    effect = statement.get("Effect")
    if effect is None:
        raise malformed_policy("Missing required field Effect")
    if effect not in EFFECTS:
        raise malformed_policy(f"Invalid effect: {effect}")
    for name, negated, invalid in _REQUIRED:
        values = [statement[k] for k in (name, negated) if k in statement]
        if not values:
            raise malformed_policy(f"Missing required field {name}")
        check = _principal_ok if name == "Principal" else _strings_ok
        if not all(check(v) for v in values):
            raise malformed_policy(invalid)


def _strings_ok(value: Any) -> bool:
    """An Action or Resource: a string or a non-empty list of strings, none empty."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, str) and v for v in items)


def _principal_ok(value: Any) -> bool:
    """``"*"``, or an object mapping principal types (``AWS``, ``Service``...) to ids."""
    if value == "*":
        return True
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and _strings_ok(v) for k, v in value.items())
    )
