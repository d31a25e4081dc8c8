"""Data protection: Put/Get/DeleteDataProtectionPolicy, masking at ingestion, audit findings.

A mixin of ``LogsService``. Why it works this way (the PutDataProtectionPolicy reference
and the user guide's "Help protect sensitive log data with masking"):

- **Masked when ingested.** A group's own policy and the account's
  ``DATA_PROTECTION_POLICY`` (``account_policies``) are cumulative: what either names is
  masked. Events ingested before a policy existed stay as they were. The masked text is
  what every reader sees (GetLogEvents, FilterLogEvents, Insights, metric and
  subscription filters, exports, Live Tail); the event as ingested is kept beside it
  (``events.raw``) for GetLogEvents and FilterLogEvents with ``unmask=true``, which strict
  mode lets through only with ``logs:Unmask`` (``LogsService.dependent_actions``).
- **Audit findings.** Each event with findings gives one report, AWS's shape
  (``auditTimestamp``, ``resourceArn``, ``dataIdentifiers`` with ``count`` and character
  ``detections``), sent after PutLogEvents answers to each of the policy's
  ``FindingsDestination``s that exists: a log group (as PutLogEvents into a stream named
  after the audited group, cloudlet's choice), an S3 bucket (one object of JSON lines per
  batch under ``AWSLogs/<account>/DataProtection/<region>/<group>/``, cloudlet's layout)
  or a Firehose stream (PutRecord), all through the services' own operations.
  Destinations must exist when the policy is put, as the reference requires. A group
  never receives the findings of its own events (no feedback loop).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.data_identifiers import Finding, find, mask
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import group_arn, now_ms
from cloudlet.services.logs.protection_policy import ProtectionPolicy, parse
from cloudlet.services.logs.store import Row, Store

log = logging.getLogger(__name__)
Result = dict[str, Any]
KIND = "data_protection"


def _now() -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


@lru_cache(maxsize=256)
def compiled(text: str) -> ProtectionPolicy:
    """A stored (so already checked) policy document, parsed once."""
    return parse(text)


class Protection:
    """The policies that apply to one group: masks with all of them, audits with each."""

    def __init__(self, policies: list[ProtectionPolicy]) -> None:
        self.policies = policies
        self._managed = tuple(dict.fromkeys(n for p in policies for n in p.managed))
        self._custom = {n: rx for p in policies for n, rx in p.custom.items()}

    def findings(self, text: str) -> list[Finding]:
        return find(text, self._managed, self._custom)

    def mask(self, text: str) -> str:
        return self.apply(text)[0]

    def apply(self, text: str) -> tuple[str, list[Finding]]:
        """``text`` masked, and what was found in it."""
        found = self.findings(text)
        return (mask(text, found) if found else text), found


def _report(arn: str, findings: list[Finding], policy: ProtectionPolicy) -> Result | None:
    names = set(policy.managed) | set(policy.custom)
    by_name: dict[str, list[Finding]] = {}
    for f in findings:
        if f.name in names:
            by_name.setdefault(f.name, []).append(f)
    if not by_name:
        return None
    return {
        "auditTimestamp": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resourceArn": arn + ":*",
        "dataIdentifiers": [
            {
                "name": name,
                "count": len(found),
                "detections": [{"start": f.start, "end": f.end} for f in found],
            }
            for name, found in by_name.items()
        ],
    }


class DataProtectionMixin:
    """Needs ``_group`` (GroupsMixin), ``store``, ``env``, ``_deliveries`` and
    ``_account_documents`` (AccountPoliciesMixin)."""

    store: Store
    env: Any
    _deliveries: Background

    _group: Callable[[Any, dict[str, Any]], Row]
    _account_documents: Callable[[str, str, str], list[Row]]

    # --- operations ------------------------------------------------------------------

    async def put_data_protection_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        text = params["policyDocument"]
        await self._check_destinations(ctx, parse(text))
        doc = {"policyDocument": text, "lastUpdatedTime": now_ms()}
        self.store.put_group_doc(group["id"], KIND, doc)
        return {"logGroupIdentifier": params["logGroupIdentifier"], **doc}

    def get_data_protection_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        doc = self.store.group_doc(group["id"], KIND) or {}
        return {"logGroupIdentifier": params["logGroupIdentifier"], **doc}

    def delete_data_protection_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        if not self.store.delete_group_doc(group["id"], KIND):
            raise errors.not_found(
                f"No data protection policy is associated with the log group {group['name']}."
            )
        return {}

    async def _check_destinations(self, ctx: Any, policy: ProtectionPolicy) -> None:
        """The reference: destinations named in FindingsDestination must already exist."""
        where = policy.destinations
        if "CloudWatchLogs" in where and (
            self.store.group(ctx.account_id, ctx.region, where["CloudWatchLogs"]) is None
        ):
            raise errors.invalid(
                f"The findings destination log group {where['CloudWatchLogs']} does not exist."
            )
        checks = (
            ("S3", "s3", "HeadBucket", "Bucket", "bucket"),
            ("Firehose", "firehose", "DescribeDeliveryStream", "DeliveryStreamName", "stream"),
        )
        for kind, service, operation, key, what in checks:
            if kind not in where:
                continue
            try:
                await self.env.call(
                    service,
                    operation,
                    {key: where[kind]},
                    account=ctx.account_id,
                    region=ctx.region,
                )
            except ServiceError:  # NotImplementedOperation too: the service is not running
                raise errors.invalid(
                    f"The findings destination {kind} {what} {where[kind]} does not exist."
                ) from None

    # --- ingestion ---------------------------------------------------------------------

    def _protection(self, ctx: Any, group: Row) -> Protection | None:
        """The group's own policy and the account's, or None when neither exists."""
        account = self._account_documents(ctx.account_id, ctx.region, "DATA_PROTECTION_POLICY")
        texts = [d["policyDocument"] for d in account]
        own = self.store.group_doc(group["id"], KIND)
        if own is not None:
            texts.append(own["policyDocument"])
        if not texts:
            return None
        return Protection([compiled(t) for t in texts])

    def _audit(
        self, ctx: Any, group: Row, protection: Protection, found: list[list[Finding]]
    ) -> None:
        """Send the findings of a batch (``found``: each event's) to each policy's
        destinations, in the background."""
        arn = group_arn(ctx, group["name"])
        for policy in protection.policies:
            if not policy.destinations:
                continue
            reports = []
            for findings in found:
                report = _report(arn, findings, policy) if findings else None
                if report is not None:
                    reports.append(report)
            if reports:
                self._deliveries.spawn(
                    self._deliver_findings(ctx.account_id, ctx.region, group, policy, reports)
                )

    async def _deliver_findings(
        self, account: str, region: str, group: Row, policy: ProtectionPolicy, reports: list
    ) -> None:
        lines = [json.dumps(r, separators=(",", ":")) for r in reports]
        for service, operation, params in _finding_calls(account, region, group, policy, lines):
            try:
                await self.env.call(service, operation, params, account=account, region=region)
            except ServiceError as err:
                if err.code != "ResourceAlreadyExistsException":
                    log.warning(
                        "audit findings of %s to %s: %s", group["name"], service, err.message
                    )


def _finding_calls(
    account: str, region: str, group: Row, policy: ProtectionPolicy, lines: list[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The operations that deliver a batch's reports to the policy's destinations."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    where = policy.destinations
    target = where.get("CloudWatchLogs")
    if target and target != group["name"]:
        stream = {"logGroupName": target, "logStreamName": group["name"]}
        events = [{"timestamp": now_ms(), "message": line} for line in lines]
        calls.append(("logs", "CreateLogStream", stream))
        calls.append(("logs", "PutLogEvents", {**stream, "logEvents": events}))
    if "S3" in where:
        body = ("\n".join(lines) + "\n").encode()
        hour = _now().strftime("%Y/%m/%d/%H")
        key = (
            f"AWSLogs/{account}/DataProtection/{region}/{group['name'].strip('/')}/"
            f"{hour}/{new_uuid()}.json"
        )
        put = {"Bucket": where["S3"], "Key": key, "Body": body, "ContentLength": len(body)}
        calls.append(("s3", "PutObject", put))
    for line in lines if "Firehose" in where else []:
        record = {"DeliveryStreamName": where["Firehose"], "Record": {"Data": line.encode()}}
        calls.append(("firehose", "PutRecord", record))
    return calls
