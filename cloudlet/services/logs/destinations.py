"""Destinations: the cross-account side of subscription filters.

Why it is built this way (the API reference's PutDestination, PutDestinationPolicy and
PutSubscriptionFilter, the user guide's "Cross-account log data sharing with
subscriptions", and the refusals AWS users quote):

- **A destination wraps a Kinesis data stream or a Firehose delivery stream** of its
  own account (``targetArn``) with the role CloudWatch Logs assumes (``roleArn``), named
  ``arn:aws:logs:<region>:<account>:destination:<name>``. PutDestination checks that the
  stream exists and takes writes (a Kinesis stream ACTIVE or UPDATING, a delivery stream
  ACTIVE) and, in strict mode, that the role may write to it (else AWS's "Could not
  deliver test message to specified Kinesis stream..." or "... Firehose stream...");
  the test message itself goes at each subscription. It updates a destination of the
  same name in place (its policy, tags and creation time stay). Other targets are
  refused.
- **The access policy decides who may subscribe.** PutDestination sets none, and without
  one nobody may subscribe, not even the destination's own account (as AWS users
  report). PutDestinationPolicy stores an IAM resource policy (at most 5,120 bytes);
  PutSubscriptionFilter naming the destination is allowed when the policy allows
  ``logs:PutSubscriptionFilter`` on the destination's ARN to the subscribing account
  (``"Principal": {"AWS": "111122223333"}``, its root ARN, or ``"*"``), evaluated by
  the same engine as every other policy. A refusal is AWS's ``AccessDeniedException``
  ``User with accountId: <account> is not authorized to perform:
  logs:PutSubscriptionFilter on resource: <arn>``. Organization conditions
  (``aws:PrincipalOrgID``) never match: cloudlet has no Organizations.
- **No role on the subscriber's side**: ``destinationArn for vendor logs cannot be used
  with roleArn``. The log group and the destination must be in the same Region.
- **Delivery goes to the destination's stream as of delivery time** (``kinesis_delivery``),
  written as the destination's account and role; a deleted destination drops what
  would have gone to it. The subscription's DATA_MESSAGE keeps the sender's account as
  ``owner``.
- Destinations are documents in Logs' database (durable); tags go through
  TagResource/UntagResource/ListTagsForResource with the destination's ARN.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.auth import policy
from cloudlet.core.errors import ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.firehose_delivery import hose_active
from cloudlet.services.logs.groups import now_ms, page
from cloudlet.services.logs.kinesis_delivery import (
    WRITABLE,
    Target,
    role_may_write,
    stream_target,
    unreachable,
)
from cloudlet.services.logs.store import Store
from cloudlet.state.documents import DocumentStore

Result = dict[str, Any]
MAX_POLICY_BYTES = 5120
ACTION = "logs:PutSubscriptionFilter"
_NAME = re.compile(r"^[^:*]{1,512}$")


def destination_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:destination:{name}"


def parse_destination_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a destination ARN, None when ``arn`` is not one."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[2] != "logs" or parts[5] != "destination" or not parts[6]:
        return None
    return parts[3], parts[4], parts[6]


def _shape(doc: Result) -> Result:
    out = {
        k: doc[k]
        for k in ("destinationName", "targetArn", "roleArn", "accessPolicy", "arn", "creationTime")
        if doc.get(k) is not None
    }
    return out


def _allows(text: str | None, account: str, arn: str) -> bool:
    if not text:
        return False
    try:
        compiled = policy.parse(text, "resource")
    except policy.MalformedPolicy:
        return False
    caller = policy.Caller(f"arn:aws:iam::{account}:root", account, "root")
    context = {"aws:PrincipalAccount": account}
    return policy.evaluate(policy.Request(ACTION, arn, caller, context), (), compiled).allowed


def _names_organization(text: str | None) -> bool:
    return bool(text) and "aws:principalorgid" in (text or "").lower()


class DestinationsMixin:
    """The destination operations for ``LogsService`` (``env``, ``store``), and the
    subscription side: ``_check_destination_filter`` and ``_destination_target``."""

    env: Any
    store: Store

    def _start_destinations(self) -> None:
        self._destination_docs = DocumentStore(self.store.conn, "destinations")
        self._destinations: dict[str, Result] = {
            d["arn"]: d for d in self._destination_docs.load("destination")
        }

    def _destination(self, ctx: Any, name: str) -> Result:
        found = self._destinations.get(destination_arn(ctx.region, ctx.account_id, name))
        if found is None:
            raise errors.destination_not_found()
        return found

    def _save_destination(self, doc: Result) -> None:
        self._destinations[doc["arn"]] = doc
        self._destination_docs.put("destination", doc["arn"], doc)

    # --- operations ------------------------------------------------------------------

    async def put_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["destinationName"]
        if not _NAME.match(name):
            raise errors.constraint(
                name, "destinationName", "Member must satisfy regular expression pattern: [^:*]*"
            )
        target = stream_target(params["targetArn"], params["roleArn"])
        if target is None:
            raise errors.invalid(
                f"Invalid targetArn {params['targetArn']}: a destination delivers to a Kinesis "
                "data stream or a Firehose delivery stream."
            )
        if target.account != ctx.account_id:
            raise unreachable(target.kind)
        await self._stream_writable(target)
        if not role_may_write(self.env, target):
            raise unreachable(target.kind)
        arn = destination_arn(ctx.region, ctx.account_id, name)
        doc = self._destinations.get(arn) or {
            "destinationName": name,
            "arn": arn,
            "account": ctx.account_id,
            "region": ctx.region,
            "creationTime": now_ms(),
            "tags": {},
        }
        doc = {**doc, "targetArn": params["targetArn"], "roleArn": params["roleArn"]}
        if params.get("tags"):
            doc["tags"] = {**doc["tags"], **params["tags"]}
        self._save_destination(doc)
        return {"destination": _shape(doc)}

    async def _stream_writable(self, target: Target) -> None:
        account, region, arn = target.account, target.region, target.arn
        if target.kind == "firehose":
            return await hose_active(self.env, (account, region, arn))
        try:
            out = await self.env.call(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": arn},
                account=account,
                region=region,
            )
        except ServiceError:  # NotImplementedOperation too: Kinesis is not running
            raise errors.kinesis_unreachable() from None
        if out["StreamDescriptionSummary"]["StreamStatus"] not in WRITABLE:
            raise errors.kinesis_unreachable()

    def put_destination_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._destination(ctx, params["destinationName"])
        text = params["accessPolicy"]
        if len(text.encode()) > MAX_POLICY_BYTES:
            raise errors.invalid("The access policy can be at most 5120 bytes.")
        try:
            json.loads(text)
            policy.parse(text, "resource")
        except ValueError as exc:  # MalformedPolicy is a ValueError too
            raise errors.invalid(f"Invalid access policy: {exc}") from None
        self._save_destination({**doc, "accessPolicy": text})
        return {}

    def describe_destinations(self, ctx: Any, params: dict[str, Any]) -> Result:
        limit = params.get("limit")
        if limit is not None and not 1 <= int(limit) <= 50:
            raise errors.constraint(
                limit, "limit", "Member must have value less than or equal to 50"
            )
        prefix = params.get("DestinationNamePrefix") or ""
        mine = sorted(
            (
                d
                for d in self._destinations.values()
                if (d["account"], d["region"]) == (ctx.account_id, ctx.region)
                and d["destinationName"].startswith(prefix)
            ),
            key=lambda d: d["destinationName"],
        )
        chunk, token = page(mine, params.get("nextToken"), int(limit or 50))
        out: Result = {"destinations": [_shape(d) for d in chunk]}
        if token:
            out["nextToken"] = token
        return out

    def delete_destination(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._destination(ctx, params["destinationName"])
        del self._destinations[doc["arn"]]
        self._destination_docs.delete("destination", doc["arn"])
        return {}

    # --- tags on destination ARNs (log groups' are GroupsMixin's) ----------------------

    def _tagged_destination(self, ctx: Any, arn: str) -> Result | None:
        parsed = parse_destination_arn(arn)
        if parsed is None:
            return None
        if parsed[:2] != (ctx.region, ctx.account_id) or arn not in self._destinations:
            raise errors.not_found(f"The specified resource does not exist: {arn}")
        return self._destinations[arn]

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged_destination(ctx, params["resourceArn"])
        if doc is None:
            return super().tag_resource(ctx, params)  # type: ignore[misc]
        self._save_destination({**doc, "tags": {**doc["tags"], **params["tags"]}})
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged_destination(ctx, params["resourceArn"])
        if doc is None:
            return super().untag_resource(ctx, params)  # type: ignore[misc]
        tags = {k: v for k, v in doc["tags"].items() if k not in set(params["tagKeys"])}
        self._save_destination({**doc, "tags": tags})
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged_destination(ctx, params["resourceArn"])
        if doc is None:
            return super().list_tags_for_resource(ctx, params)  # type: ignore[misc]
        return {"tags": dict(doc["tags"])}

    # --- the subscribing account's side ----------------------------------------------

    def _check_destination_filter(self, ctx: Any, arn: str, role: str | None) -> Target:
        """PutSubscriptionFilter's checks of a destination ARN: the destination's target,
        when ``ctx.account_id`` may subscribe to it."""
        parsed = parse_destination_arn(arn)
        if parsed is None:
            raise errors.invalid(f"Invalid destinationArn: {arn}")
        if parsed[0] != ctx.region:
            raise errors.invalid(
                f"The destination {arn} must be in the log group's Region ({ctx.region})."
            )
        doc = self._destinations.get(arn)
        if doc is None:
            raise errors.destination_not_found()
        text = doc.get("accessPolicy")
        if role and not _names_organization(text):
            raise errors.invalid("destinationArn for vendor logs cannot be used with roleArn")
        if _names_organization(text) and not role:
            raise errors.invalid(
                "Role ARN is required when creating subscription filter against destination "
                "with Organization access policy"
            )
        if not _allows(text, ctx.account_id, arn):
            raise errors.access_denied(
                f"User with accountId: {ctx.account_id} is not authorized to perform: "
                f"{ACTION} on resource: {arn}"
            )
        target = stream_target(doc["targetArn"], doc["roleArn"])
        if target is None:  # never: PutDestination accepts stream ARNs only
            raise errors.kinesis_unreachable()
        return target

    def _destination_target(self, arn: str) -> Target | None:
        """Where a subscription to destination ``arn`` delivers now (None: it is gone)."""
        doc = self._destinations.get(arn)
        return stream_target(doc["targetArn"], doc["roleArn"]) if doc is not None else None
