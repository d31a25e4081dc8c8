"""Account policies: Put/Describe/DeleteAccountPolicy, and what each kind does to log groups.

A mixin of ``LogsService``. Why it works this way (the PutAccountPolicy reference):

- ``DATA_PROTECTION_POLICY``: one per account and Region, the same document as
  PutDataProtectionPolicy's (``protection_policy``); it masks in every log group, on top of
  the group's own (``data_protection``).
- ``SUBSCRIPTION_FILTER_POLICY``: one per account and Region; a document of
  ``DestinationArn`` (a Lambda function, a Kinesis data stream or Firehose delivery
  stream with ``RoleArn``, or another account's destination), ``FilterPattern``
  and ``Distribution``, checked and tested as a subscription filter is. It delivers the
  matching events of every log group the ``selectionCriteria`` ``LogGroupName NOT IN
  [...]`` does not exclude, in AWS's envelope naming the policy as the filter, besides
  the group's own two filters (``filters``).
- ``TRANSFORMER_POLICY``: a document ``{"transformerConfig": [...]}`` (the rules of
  ``processors``); one for every group, or up to 20 scoped by ``LogGroupNamePrefix IN
  [...]`` whose prefixes may not overlap. A group's own transformer wins.
- ``FIELD_INDEX_POLICY``: a document ``{"Fields": [...]}`` (``field_indexes``); one for
  every group, or up to 20 by ``LogGroupNamePrefix IN [...]`` without overlaps. A
  group's own index policy wins. Data-source selection (``DataSourceName``) answers 501.
- ``METRIC_EXTRACTION_POLICY`` answers 501: cloudlet builds no embedded-metric-format
  extraction for it to govern.
- ``selectionCriteria`` is accepted only where the reference allows it, 25 KB at most;
  names may not start with ``aws/``; a second policy of a one-per-account kind under
  another name is ``LimitExceededException``. Durable (``policies`` documents).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import now_ms, page
from cloudlet.services.logs.patterns import Pattern, compile_pattern
from cloudlet.services.logs.processors import check_config
from cloudlet.services.logs.protection_policy import parse as parse_protection
from cloudlet.state.documents import DocumentStore

Result = dict[str, Any]
TYPES = (
    "DATA_PROTECTION_POLICY",
    "SUBSCRIPTION_FILTER_POLICY",
    "FIELD_INDEX_POLICY",
    "TRANSFORMER_POLICY",
    "METRIC_EXTRACTION_POLICY",
)
ONE_PER_ACCOUNT = ("DATA_PROTECTION_POLICY", "SUBSCRIPTION_FILTER_POLICY")
MAX_TRANSFORMER_POLICIES = 20
MAX_CRITERIA_BYTES = 25 * 1024
_CRITERIA = re.compile(
    r"^\s*(LogGroupNamePrefix|LogGroupName)\s+(NOT\s+IN|IN)\s+(\[.*\])\s*$", re.S
)
_ALLOWED = {
    "SUBSCRIPTION_FILTER_POLICY": ("LogGroupName", "NOT IN"),
    "TRANSFORMER_POLICY": ("LogGroupNamePrefix", "IN"),
    "FIELD_INDEX_POLICY": ("LogGroupNamePrefix", "IN"),
}


def parse_criteria(policy_type: str, text: str) -> tuple[str, bool, list[str]]:
    """``(field, negated, values)`` of a selection criteria string."""
    if len(text.encode()) > MAX_CRITERIA_BYTES:
        raise errors.invalid("selectionCriteria can be at most 25 KB.")
    m = _CRITERIA.match(text)
    values = None
    if m is not None:
        try:
            values = json.loads(m.group(3))
        except ValueError:
            values = None
    if m is None or not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise errors.invalid(f"Invalid selectionCriteria: {text}")
    field, operator = m.group(1), " ".join(m.group(2).split())
    if (field, operator) != _ALLOWED[policy_type]:
        want = " ".join(_ALLOWED[policy_type])
        raise errors.invalid(
            f"The only selectionCriteria supported for {policy_type} is {want} [...]."
        )
    return field, operator == "NOT IN", values


def _shape(doc: Result) -> Result:
    return {k: v for k, v in doc.items() if k != "region"}


class AccountPoliciesMixin:
    """Needs ``store`` (through ``_policy_docs``, made by ResourcePoliciesMixin) and,
    for subscription policies, ``_check_subscription_destination`` (FiltersMixin) and, for
    data protection ones, ``_check_destinations`` (DataProtectionMixin), for field index
    ones ``_check_field_index_account_policy`` (FieldIndexesMixin)."""

    _policy_docs: DocumentStore
    _check_subscription_destination: Callable[[Any, str, str | None], Awaitable[None]]
    _check_destinations: Callable[[Any, Any], Awaitable[None]]
    _check_field_index_account_policy: Callable[
        [str, tuple[str, bool, list[str]] | None, list[Result]], None
    ]

    def _start_account_policies(self) -> None:
        self._account_policies: dict[tuple[str, str, str, str], Result] = {
            (d["accountId"], d["region"], d["policyType"], d["policyName"]): d
            for d in self._policy_docs.load("account")
        }
        self._account_patterns: dict[str, Pattern] = {}

    def _account_documents(self, account: str, region: str, policy_type: str) -> list[Result]:
        return [
            d
            for (a, r, t, _), d in sorted(self._account_policies.items())
            if (a, r, t) == (account, region, policy_type)
        ]

    # --- operations ------------------------------------------------------------------

    async def put_account_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, kind, text = params["policyName"], params["policyType"], params["policyDocument"]
        if kind == "METRIC_EXTRACTION_POLICY":
            raise NotImplementedOperation("logs", f"PutAccountPolicy of a {kind}")
        if name.startswith("aws/"):
            raise errors.invalid("policyName cannot start with aws/.")
        if (params.get("scope") or "ALL") != "ALL":
            raise errors.constraint(
                params["scope"], "scope", "Member must satisfy enum value set: [ALL]"
            )
        criteria = params.get("selectionCriteria")
        if criteria and kind not in _ALLOWED:
            raise errors.invalid(
                "selectionCriteria is valid only for SUBSCRIPTION_FILTER_POLICY, "
                "FIELD_INDEX_POLICY and TRANSFORMER_POLICY."
            )
        if criteria and kind == "FIELD_INDEX_POLICY" and "DataSourceName" in criteria:
            raise NotImplementedOperation(
                "logs", "field index policies selected by DataSourceName and DataSourceType"
            )
        parsed = parse_criteria(kind, criteria) if criteria else None
        mine = self._account_documents(ctx.account_id, ctx.region, kind)
        others = [d for d in mine if d["policyName"] != name]
        if kind in ONE_PER_ACCOUNT and others:
            raise errors.limit_exceeded(
                f"The account already has a {kind} ({others[0]['policyName']}); an account "
                "can have one."
            )
        if kind == "DATA_PROTECTION_POLICY":
            await self._check_destinations(ctx, parse_protection(text))
        elif kind == "SUBSCRIPTION_FILTER_POLICY":
            await self._check_subscription_policy(ctx, text)
        elif kind == "FIELD_INDEX_POLICY":
            self._check_field_index_account_policy(text, parsed, others)
        else:
            self._check_transformer_policy(text, parsed, others)
        doc: Result = {
            "policyName": name,
            "policyDocument": text,
            "lastUpdatedTime": now_ms(),
            "policyType": kind,
            "scope": "ALL",
            "accountId": ctx.account_id,
            "region": ctx.region,
        }
        if criteria:
            doc["selectionCriteria"] = criteria
        key = (ctx.account_id, ctx.region, kind, name)
        self._account_policies[key] = doc
        self._policy_docs.put("account", "|".join(key), doc)
        return {"accountPolicy": _shape(doc)}

    async def _check_subscription_policy(self, ctx: Any, text: str) -> None:
        try:
            doc = json.loads(text)
        except ValueError:
            raise errors.invalid("The subscription filter policy is not valid JSON.") from None
        allowed = {"DestinationArn", "RoleArn", "FilterPattern", "Distribution"}
        if not isinstance(doc, dict) or set(doc) - allowed or not doc.get("DestinationArn"):
            raise errors.invalid(
                "A subscription filter policy is a JSON object with DestinationArn and "
                "optionally RoleArn, FilterPattern and Distribution."
            )
        try:
            compile_pattern(doc.get("FilterPattern"))
        except ServiceError as exc:
            raise errors.invalid(exc.message) from None
        if (doc.get("Distribution") or "ByLogStream") not in ("Random", "ByLogStream"):
            raise errors.invalid("Distribution must be Random or ByLogStream.")
        await self._check_subscription_destination(ctx, doc["DestinationArn"], doc.get("RoleArn"))

    def _check_transformer_policy(
        self, text: str, criteria: tuple[str, bool, list[str]] | None, others: list[Result]
    ) -> None:
        try:
            doc = json.loads(text)
        except ValueError:
            raise errors.invalid("The transformer policy is not valid JSON.") from None
        if not isinstance(doc, dict) or set(doc) != {"transformerConfig"}:
            raise errors.invalid(
                'A transformer policy is a JSON object {"transformerConfig": [...]}.'
            )
        check_config(doc["transformerConfig"])
        if len(others) >= MAX_TRANSFORMER_POLICIES:
            raise errors.limit_exceeded()
        mine = criteria[2] if criteria else None
        for other in others:
            text_other = other.get("selectionCriteria")
            if (text_other is None) != (mine is None):
                continue
            if mine is None:
                raise errors.invalid(
                    "The account already has a TRANSFORMER_POLICY for all log groups "
                    f"({other['policyName']})."
                )
            theirs = parse_criteria("TRANSFORMER_POLICY", text_other)[2]
            for a in mine:
                for b in theirs:
                    if a.startswith(b) or b.startswith(a):
                        raise errors.invalid(
                            f"The log group name prefix {a} overlaps {b} of the transformer "
                            f"policy {other['policyName']}."
                        )

    def describe_account_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        accounts = params.get("accountIdentifiers")
        found = self._account_documents(ctx.account_id, ctx.region, params["policyType"])
        if accounts is not None and ctx.account_id not in accounts:
            found = []
        if params.get("policyName"):
            found = [d for d in found if d["policyName"] == params["policyName"]]
        chunk, token = page(found, params.get("nextToken"), 50)
        out: Result = {"accountPolicies": [_shape(d) for d in chunk]}
        if token:
            out["nextToken"] = token
        return out

    def delete_account_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        key = (ctx.account_id, ctx.region, params["policyType"], params["policyName"])
        if self._account_policies.pop(key, None) is None:
            raise errors.not_found(f"Policy with name [{params['policyName']}] does not exist")
        self._policy_docs.delete("account", "|".join(key))
        return {}

    # --- what the policies do ------------------------------------------------------------

    def _account_subscription(
        self, account: str, region: str, group_name: str
    ) -> tuple[Result, Pattern] | None:
        """The account's subscription filter policy as a subscription filter of
        ``group_name`` (its document and pattern), unless the selection excludes it."""
        docs = self._account_documents(account, region, "SUBSCRIPTION_FILTER_POLICY")
        if not docs:
            return None
        policy = docs[0]
        if policy.get("selectionCriteria"):
            _, _, excluded = parse_criteria(
                "SUBSCRIPTION_FILTER_POLICY", policy["selectionCriteria"]
            )
            if group_name in excluded:
                return None
        body = json.loads(policy["policyDocument"])
        doc = {
            "filterName": policy["policyName"],
            "filterPattern": body.get("FilterPattern") or "",
            "destinationArn": body["DestinationArn"],
            "distribution": body.get("Distribution") or "ByLogStream",
        }
        if body.get("RoleArn"):
            doc["roleArn"] = body["RoleArn"]
        pattern = self._account_patterns.get(doc["filterPattern"])
        if pattern is None:
            pattern = self._account_patterns[doc["filterPattern"]] = compile_pattern(
                doc["filterPattern"]
            )
        return doc, pattern

    def _account_transformer(self, account: str, region: str, group_name: str) -> list | None:
        """The transformer configuration the account's policies give ``group_name``."""
        fallback = None
        for policy in self._account_documents(account, region, "TRANSFORMER_POLICY"):
            config = json.loads(policy["policyDocument"])["transformerConfig"]
            if not policy.get("selectionCriteria"):
                fallback = config
                continue
            prefixes = parse_criteria("TRANSFORMER_POLICY", policy["selectionCriteria"])[2]
            if any(group_name.startswith(p) for p in prefixes):
                return config
        return fallback
