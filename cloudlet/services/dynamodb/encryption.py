"""Server-side encryption settings: SSESpecification's rules and the SSEDescription.

Why it is its own module: CreateTable, UpdateTable and the restores all turn an
SSESpecification into a table's encryption, and AWS answers each the same way
(lab captures of live DynamoDB, ack-api-quirks table-streams-encryption-class.md):

- A table is always encrypted. With the AWS-owned key (the default, or after
  ``Enabled: false``) DescribeTable has no SSEDescription at all, never
  ``{Status: DISABLED}`` (DDB-TABLE-079, DDB-TABLE-140).
- ``Enabled: true`` without a key means the account's AWS-managed key
  ``alias/aws/dynamodb``, reported by its key ARN
  (``arn:aws:kms:<region>:<account>:key/<uuid>``, DDB-TABLE-141). Cloudlet has no
  KMS keys to look up, so that uuid is derived from the account and region: stable
  across calls and restarts, different per account and region, as on AWS.
- Re-sends that would change nothing are refused with AWS's texts: ``Enabled: false``
  on a default-encrypted table, and the exact key ARN the table already uses
  (DDB-TABLE-018, DDB-TABLE-082; error catalogue DDB-TABLE-442).

AWS turns a change around in ~22 s with ``Status: UPDATING``; cloudlet applies it at
once (no transitional statuses by design), so a table reads ENABLED or has no
SSEDescription straight away; only UpdateTable's own answer to turning it off says
UPDATING, as AWS's does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from cloudlet.services.dynamodb import errors

_MANAGED_KEYS = uuid.UUID("5b0f6f1e-2c1d-4f8e-9a57-d1d4e0b3c2a9")
"""Namespace of the derived ids of each account's ``aws/dynamodb`` key."""
MANAGED_ALIAS = "alias/aws/dynamodb"
_KEY_ID = re.compile(
    r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def managed_key_arn(account: str, region: str) -> str:
    """The ARN of the account's AWS-managed DynamoDB key in ``region``."""
    managed = uuid.uuid5(_MANAGED_KEYS, f"{account}:{region}")
    return f"arn:aws:kms:{region}:{account}:key/{managed}"


def key_arn(account: str, region: str, key_id: str | None) -> str:
    """The KMSMasterKeyArn for a KMSMasterKeyId (None: the AWS-managed key).

    ARNs are kept as given and bare key ids become key ARNs; other aliases than the
    managed key's are kept as given (there is no KMS here to resolve them).
    """
    if key_id is None or key_id in (
        MANAGED_ALIAS,
        f"arn:aws:kms:{region}:{account}:{MANAGED_ALIAS}",
    ):
        return managed_key_arn(account, region)
    if _KEY_ID.fullmatch(key_id):
        return f"arn:aws:kms:{region}:{account}:key/{key_id}"
    return key_id


def check_spec(spec: dict[str, Any]) -> bool:
    """Whether an SSESpecification asks for KMS encryption, after AWS's checks of its
    members (texts: error catalogue DDB-TABLE-442, CreateTable and UpdateTable)."""
    enabled = spec.get("Enabled")
    sse_type = spec.get("SSEType")
    key = spec.get("KMSMasterKeyId")
    if enabled is False and sse_type is not None:
        raise errors.invalid_parameter("SSEType can not be specified if Enabled is false")
    if enabled is False and key is not None:
        raise errors.invalid_parameter("KMSMasterKeyId can not be specified if Enabled is false")
    if sse_type == "AES256":
        raise errors.invalid_parameter("SSEType AES256 is not supported")
    if key is not None and sse_type != "KMS":
        raise errors.invalid_parameter("SSEType KMS is required if KMSMasterKeyId is specified")
    # {} is "no SSE", {SSEType: KMS} alone asks for KMS (table-streams-encryption-class.md,
    # overview: "SSE shape").
    return bool(enabled) if enabled is not None else sse_type == "KMS"


def description(account: str, region: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The SSEDescription a table gets for ``spec`` (None: the AWS-owned key)."""
    if not check_spec(spec):
        return None
    arn = key_arn(account, region, spec.get("KMSMasterKeyId"))
    return {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn}


def updated(
    account: str, region: str, current: dict[str, Any] | None, spec: dict[str, Any]
) -> dict[str, Any] | None:
    """UpdateTable's new SSEDescription for ``spec`` on a table encrypted as ``current``
    says (None: back to the AWS-owned key), refusing AWS's no-op re-sends."""
    if not check_spec(spec):
        if current is None:
            raise errors.invalid_parameter("Table is already encrypted by default")
        return None
    key = spec.get("KMSMasterKeyId")
    if current is not None and key is not None and key == current.get("KMSMasterKeyArn"):
        raise errors.invalid_parameter(
            "Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId "
            "parameter if you want to change Master Key"
        )
    return description(account, region, spec)


def disabled_answer(previous: dict[str, Any]) -> dict[str, Any]:
    """The SSEDescription UpdateTable answers when it turns KMS encryption off.

    AWS answers the old key with ``Status: UPDATING`` and drops the SSEDescription
    ~22 s later (DDB-TABLE-079, DDB-TABLE-140; LocalStack's AWS-recorded
    ``update-table-disable-sse-spec``). Cloudlet has dropped it already (DescribeTable
    shows none), but answers as AWS does: a client written against AWS waits for the
    description to go, which it already has.
    """
    return {**previous, "Status": "UPDATING"}
