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

What the statements name is checked too, as S3 checks it (AWS's answers quoted in
versity/versitygw#645, noobaa-core#10058, aws-samples/aws-serverless-appsync-app#4):
every resource must be this bucket or objects in it ("Policy has invalid
resource"); actions must be S3's ("Policy has invalid action"); an ``AWS``
principal must be ``*``, an account id or an IAM/STS ARN ("Invalid principal in
policy"); and an action S3 knows must apply to one of the statement's resources,
bucket actions to the bucket and object actions to objects ("Action does not apply
to any resource(s) in statement"). Which actions are object actions comes from
botocore's S3 model (operations that take a ``Key``) and ``auth.actions``; an S3
action name not known there is taken as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from cloudlet.auth import policy as iam_policy
from cloudlet.auth.actions import S3_ACTIONS
from cloudlet.core.errors import ServiceError
from cloudlet.core.models import load_model
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


def parse_bucket_policy(text: str, bucket: str, directory_arn: str | None = None) -> dict[str, Any]:
    """The policy document of ``bucket``'s PutBucketPolicy, checked; ``MalformedPolicy``
    if S3 would refuse it. A directory bucket's policy (``directory_arn``, the bucket's
    ``arn:aws:s3express:...``) names that ARN and ``s3express:`` actions."""

    def names(statement: dict[str, Any]) -> None:
        if directory_arn is None:
            _check_names(statement, bucket)
        else:
            _check_directory_names(statement, directory_arn)

    return checked_policy(text, names)


def checked_policy(text: str, check_names: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A resource policy S3 checks (a bucket's, an access point's), ``MalformedPolicy`` if
    S3 would refuse it: text that does not open an object (empty, ``invalid json``, a
    list) is told so; an object that does not parse is "invalid Json"; each statement's
    names (resources, actions, principals) are the caller's ``check_names``'."""
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
    for statement in statements:
        check_names(statement)
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


# --------------------------------------------------------------------------- names

BUCKET_ARN = "arn:aws:s3:::"
AWS_PRINCIPAL = re.compile(
    r"\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|(user|role|group)/.+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:(assumed-role|federated-user)/.+"
    r"|arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity .+"
    r"|A[A-Z]{3}[A-Z0-9]{12,}"  # a deleted principal's unique id, as GetBucketPolicy shows it
)
_OBJECT_ACTIONS = (  # object actions no operation is named after (Service Authorization Ref.)
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "DeleteObjectVersion",
    "DeleteObjectVersionTagging",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "ObjectOwnerOverrideToBucketOwner",
    "PutObjectVersionAcl",
    "PutObjectVersionTagging",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateTags",
)


@cache
def action_kinds() -> dict[str, str]:
    """``s3:<action>`` (lower case) -> "object" or "bucket", for the actions S3's
    operations need: an operation that takes a ``Key`` needs an object action."""
    model = load_model("s3")
    kinds: dict[str, str] = {}
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        kind = "object" if shape is not None and "Key" in shape.members else "bucket"
        action = f"s3:{S3_ACTIONS.get(name, name)}".lower()
        if kinds.get(action) != "object":
            kinds[action] = kind
    for action in _OBJECT_ACTIONS:
        kinds[f"s3:{action}".lower()] = "object"
    return kinds


def _check_names(statement: dict[str, Any], bucket: str) -> None:
    resources = statement.get("Resource", statement.get("NotResource"))
    kinds = set()
    for resource in _listed(resources):
        kind = _resource_kind(resource, bucket)
        if kind is None:
            raise malformed_policy("Policy has invalid resource")
        kinds |= kind
    actions = _listed(statement.get("Action", statement.get("NotAction")))
    for action in actions:
        if action != "*" and not action.lower().startswith("s3:"):
            raise malformed_policy("Policy has invalid action")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if isinstance(principal, dict) and not all(
        value == "*" or AWS_PRINCIPAL.fullmatch(value)
        for value in _listed(principal.get("AWS", []))
    ):
        raise malformed_policy("Invalid principal in policy")
    if "Action" in statement and "Resource" in statement:
        known = action_kinds()
        for action in actions:
            kind = known.get(action.lower())
            if kind is not None and kind not in kinds:
                raise malformed_policy("Action does not apply to any resource(s) in statement")


def _check_directory_names(statement: dict[str, Any], arn: str) -> None:
    for resource in _listed(statement.get("Resource", statement.get("NotResource"))):
        if not iam_policy.wildcard(resource).fullmatch(arn):
            raise malformed_policy("Policy has invalid resource")
    for action in _listed(statement.get("Action", statement.get("NotAction"))):
        if action != "*" and not action.lower().startswith("s3express:"):
            raise malformed_policy("Policy has invalid action")


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _resource_kind(resource: str, bucket: str) -> set[str] | None:
    """What ``resource`` can name of ``bucket``: {"bucket"}, {"object"}, both (a
    pattern such as ``arn:aws:s3:::name*``), or None when it names nothing in it."""
    if not resource.startswith(BUCKET_ARN):
        return None
    rest = resource[len(BUCKET_ARN) :]
    name, slash, _key = rest.partition("/")
    pattern = iam_policy.wildcard(name)
    if slash:
        return {"object"} if pattern.fullmatch(bucket) else None
    if pattern.fullmatch(bucket):
        return {"bucket", "object"} if "*" in name else {"bucket"}
    # "*.txt" names no bucket but objects of any: its last star can take in "<bucket>/".
    tail = name[name.rfind("*") + 1 :].replace("?", "x")
    if "*" in name and pattern.fullmatch(f"{bucket}/{tail}"):
        return {"object"}
    return None
