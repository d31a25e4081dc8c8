"""Metric filters and subscription filters: their operations, and what every
accepted PutLogEvents batch sets off through them.

A metric filter turns matching events into CloudWatch datapoints (one
PutMetricData per namespace per batch, through the internal client); a
subscription filter sends matching events, in AWS's envelope (``envelope``), to a
Lambda function (``awslogs`` of base64 of the gzip), a Kinesis data stream or a Firehose
delivery stream of the same account (``kinesis_delivery``, ``firehose_delivery``) or
another account's destination (``destinations``), asynchronously as AWS does. Other
destination services are refused with AWS's words. Compiled patterns are cached per
group and dropped when a filter changes.
An account's subscription filter policy (``account_policies``) delivers as one more
filter of every group it selects. Filters see events as ingested (masked by any data
protection policy) unless put with ``applyOnTransformedLogs``, which gives them the
transformer's output (``transformers``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.envelope import data_message, encode, log_events
from cloudlet.services.logs.groups import now_ms, page
from cloudlet.services.logs.kinesis_delivery import KinesisDeliveryMixin, Target
from cloudlet.services.logs.patterns import Pattern, compile_pattern, split_fields
from cloudlet.services.logs.store import Row, Store

log = logging.getLogger(__name__)
Result = dict[str, Any]
MAX_METRIC_FILTERS = 100
MAX_SUBSCRIPTION_FILTERS = 2
_FILTER_NAME = re.compile(r"^[^:*]{1,512}$")


def _compile(text: str | None) -> Pattern:
    try:
        return compile_pattern(text)
    except ServiceError as exc:
        raise errors.invalid(exc.message) from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _metric_value(pattern: Pattern, bindings: dict, ref: str) -> float | None:
    if ref.startswith("$"):
        return _number(pattern.value(bindings, ref))
    return _number(ref)


class FiltersMixin(KinesisDeliveryMixin):
    """Needs ``_group`` (GroupsMixin), ``store``, ``env``, ``_check_destination_filter``
    (DestinationsMixin) and ``_account_subscription`` (AccountPoliciesMixin)."""

    store: Store
    env: Any
    _compiled: dict[tuple[int, str], list[tuple[Row, Pattern]]]
    _deliveries: Background

    _check_destination_filter: Callable[[Any, str, str | None], Target]
    _account_subscription: Callable[[str, str, str], tuple[Row, Pattern] | None]

    def _forget_filters(self) -> None:
        self._compiled.clear()

    def _active(self, gid: int, kind: str) -> list[tuple[Row, Pattern]]:
        key = (gid, kind)
        if key not in self._compiled:
            self._compiled[key] = [
                (doc, compile_pattern(doc.get("filterPattern")))
                for doc in self.store.filters(gid, kind)
            ]
        return self._compiled[key]

    # --- metric filters --------------------------------------------------------------

    def put_metric_filter(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        name = params["filterName"]
        if not _FILTER_NAME.match(name):
            raise errors.constraint(
                name, "filterName", "Member must satisfy regular expression pattern: [^:*]*"
            )
        pattern = _compile(params.get("filterPattern"))
        transforms = params.get("metricTransformations") or []
        if len(transforms) != 1:
            raise errors.constraint(
                "[...]", "metricTransformations", "Member must have length less than or equal to 1"
            )
        for t in transforms:
            if t.get("dimensions") and pattern.kind not in ("json", "space"):
                raise errors.invalid("The specified filter pattern does not support dimensions")
            if t.get("dimensions") and t.get("defaultValue") is not None:
                raise errors.invalid("Metric filters with dimensions cannot have a default value.")
            if len(t.get("dimensions") or {}) > 3:
                raise errors.invalid("A metric filter can have at most 3 dimensions.")
            value = t["metricValue"]
            if not value.startswith("$") and _number(value) is None:
                raise errors.invalid(f"Invalid metric value: {value}")
        existing = {f["filterName"] for f in self.store.filters(group["id"], "metric")}
        if name not in existing and len(existing) >= MAX_METRIC_FILTERS:
            raise errors.limit_exceeded()
        doc = {
            "filterName": name,
            "filterPattern": params.get("filterPattern") or "",
            "metricTransformations": transforms,
            "creationTime": now_ms(),
            "logGroupName": group["name"],
        }
        if params.get("applyOnTransformedLogs") is not None:
            doc["applyOnTransformedLogs"] = bool(params["applyOnTransformedLogs"])
        self.store.put_filter(group["id"], "metric", name, doc["creationTime"], doc)
        self._forget_filters()
        return {}

    def describe_metric_filters(self, ctx: Any, params: dict[str, Any]) -> Result:
        metric, namespace = params.get("metricName"), params.get("metricNamespace")
        if bool(metric) != bool(namespace):
            raise errors.invalid("metricName and metricNamespace must be specified together.")
        if params.get("logGroupName"):
            groups = [self._group(ctx, params)]
        else:
            if params.get("filterNamePrefix"):
                raise errors.invalid("logGroupName is required when filterNamePrefix is specified.")
            groups = self.store.groups(ctx.account_id, ctx.region)
        prefix = params.get("filterNamePrefix") or ""
        found = []
        for g in groups:
            for doc in self.store.filters(g["id"], "metric"):
                if not doc["filterName"].startswith(prefix):
                    continue
                if metric and not any(
                    t["metricName"] == metric and t["metricNamespace"] == namespace
                    for t in doc["metricTransformations"]
                ):
                    continue
                found.append(doc)
        chunk, token = page(found, params.get("nextToken"), int(params.get("limit") or 50))
        out: Result = {"metricFilters": chunk}
        if token:
            out["nextToken"] = token
        return out

    def delete_metric_filter(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        if not self.store.delete_filter(group["id"], "metric", params["filterName"]):
            raise errors.not_found("The specified metric filter does not exist.")
        self._forget_filters()
        return {}

    def test_metric_filter(self, ctx: Any, params: dict[str, Any]) -> Result:
        pattern = _compile(params.get("filterPattern"))
        matches = []
        for n, message in enumerate(params.get("logEventMessages") or [], 1):
            bound = pattern.match(message)
            if bound is None:
                continue
            if pattern.kind == "space":
                values = {f"${k}": v for k, v in bound.items()}
            elif pattern.kind == "terms":
                values = {f"${i}": f for i, f in enumerate(split_fields(message), 1)}
            else:
                values = {}
            matches.append({"eventNumber": n, "eventMessage": message, "extractedValues": values})
        return {"matches": matches}

    # --- subscription filters --------------------------------------------------------

    async def put_subscription_filter(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        name = params["filterName"]
        if not _FILTER_NAME.match(name):
            raise errors.constraint(
                name, "filterName", "Member must satisfy regular expression pattern: [^:*]*"
            )
        _compile(params.get("filterPattern"))
        distribution = params.get("distribution") or "ByLogStream"
        if distribution not in ("Random", "ByLogStream"):
            raise errors.constraint(
                distribution,
                "distribution",
                "Member must satisfy enum value set: [Random, ByLogStream]",
            )
        arn, role = params["destinationArn"], params.get("roleArn")
        self._destination_vendor(arn, role)
        existing = {f["filterName"] for f in self.store.filters(group["id"], "subscription")}
        if name not in existing and len(existing) >= MAX_SUBSCRIPTION_FILTERS:
            raise errors.limit_exceeded()
        await self._check_subscription_destination(ctx, arn, role)
        doc: Row = {
            "filterName": name,
            "logGroupName": group["name"],
            "filterPattern": params.get("filterPattern") or "",
            "destinationArn": arn,
            "distribution": distribution,
            "creationTime": now_ms(),
        }
        if role:
            doc["roleArn"] = role
        if params.get("applyOnTransformedLogs") is not None:
            doc["applyOnTransformedLogs"] = bool(params["applyOnTransformedLogs"])
        self.store.put_filter(group["id"], "subscription", name, doc["creationTime"], doc)
        self._forget_filters()
        return {}

    @staticmethod
    def _destination_vendor(arn: str, role: str | None) -> str:
        """The service a subscription's destination ARN names, refusing what cloudlet
        does not deliver to."""
        vendor = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if vendor in ("kinesis", "firehose") and not role:
            raise errors.invalid(
                f"destinationArn for vendor {vendor} cannot be used without roleArn"
            )
        if vendor not in ("lambda", "kinesis", "firehose", "logs"):
            raise errors.invalid(
                "PutSubscriptionFilter operation cannot work with destinationArn for vendor "
                f"{vendor or arn}"
            )
        return vendor

    async def _check_subscription_destination(self, ctx: Any, arn: str, role: str | None) -> None:
        """A subscription's destination checks (a subscription filter's, an account
        subscription filter policy's): Kinesis and Firehose streams and destinations get
        the test message."""
        vendor = self._destination_vendor(arn, role)
        if vendor in ("kinesis", "firehose"):
            await self._check_stream_filter(ctx, arn, role)
        elif vendor == "logs":
            await self._test_stream(self._check_destination_filter(ctx, arn, role))

    def describe_subscription_filters(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        prefix = params.get("filterNamePrefix") or ""
        found = [
            f
            for f in self.store.filters(group["id"], "subscription")
            if f["filterName"].startswith(prefix)
        ]
        chunk, token = page(found, params.get("nextToken"), int(params.get("limit") or 50))
        out: Result = {"subscriptionFilters": chunk}
        if token:
            out["nextToken"] = token
        return out

    def delete_subscription_filter(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        if not self.store.delete_filter(group["id"], "subscription", params["filterName"]):
            raise errors.not_found("The specified subscription filter does not exist.")
        self._forget_filters()
        return {}

    # --- what a batch sets off -------------------------------------------------------

    async def _after_put(
        self,
        ctx: Any,
        group: Row,
        stream: Row,
        events: list[tuple[int, int, str]],
        ingested: list[tuple[int, int, str]] | None = None,
    ) -> None:
        """``events`` as stored; ``ingested``: as ingested (masked), when a transformer
        changed them, for the filters not put with ``applyOnTransformedLogs``."""
        original = events if ingested is None else ingested
        await self._publish_metrics(ctx, group, events, original)
        await self._contributor_insights(ctx, group, original)
        subscriptions = list(self._active(group["id"], "subscription"))
        account = self._account_subscription(ctx.account_id, ctx.region, group["name"])
        if account is not None:
            subscriptions.append(account)
        for doc, pattern in subscriptions:
            seen = events if doc.get("applyOnTransformedLogs") else original
            matched = log_events(pattern, seen)
            if not matched:
                continue
            message = data_message(
                ctx.account_id, group["name"], stream["name"], doc["filterName"], matched
            )
            arn = doc["destinationArn"]
            if arn.startswith("arn:aws:lambda:"):
                self._deliveries.spawn(self._deliver(ctx.account_id, ctx.region, arn, message))
            else:
                self._to_stream(doc, stream["name"], message)

    async def _contributor_insights(
        self, ctx: Any, group: Row, events: list[tuple[int, int, str]]
    ) -> None:
        """Hand the new events to CloudWatch, whose Contributor Insights rules that
        watch this group count them (a rule lives in CloudWatch, as on AWS)."""
        try:
            await self.env.call(
                "cloudwatch",
                "RecordLogEvents",
                {"LogGroupName": group["name"], "Events": [(ts, m) for _rid, ts, m in events]},
                account=ctx.account_id,
                region=ctx.region,
            )
        except NotImplementedOperation:  # CloudWatch is not running
            return
        except ServiceError as err:  # a rule's failure never fails the write it counts
            log.warning("contributor insights of %s: %s", group["name"], err)

    async def _publish_metrics(
        self,
        ctx: Any,
        group: Row,
        transformed: list[tuple[int, int, str]],
        original: list[tuple[int, int, str]],
    ) -> None:
        by_namespace: dict[str, list[dict]] = {}
        for doc, pattern in self._active(group["id"], "metric"):
            events = transformed if doc.get("applyOnTransformedLogs") else original
            for t in doc["metricTransformations"]:
                data = by_namespace.setdefault(t["metricNamespace"], [])
                hits = 0
                for _rid, ts, message in events:
                    bound = pattern.match(message)
                    if bound is None:
                        continue
                    value = _metric_value(pattern, bound, t["metricValue"])
                    dims = []
                    for dname, ref in (t.get("dimensions") or {}).items():
                        got = pattern.value(bound, ref)
                        if got is not None:
                            dims.append({"Name": dname, "Value": str(got)})
                    if value is None or len(dims) != len(t.get("dimensions") or {}):
                        continue
                    hits += 1
                    data.append(self._datum(t, value, ts / 1000, dims))
                if not hits and t.get("defaultValue") is not None:
                    data.append(self._datum(t, float(t["defaultValue"]), now_ms() / 1000, []))
        for namespace, data in by_namespace.items():
            await self.env.put_metric_data(
                namespace, data, account=ctx.account_id, region=ctx.region
            )

    @staticmethod
    def _datum(t: dict, value: float, when: float, dims: list[dict]) -> dict:
        datum: dict = {"MetricName": t["metricName"], "Value": value, "Timestamp": when}
        if dims:
            datum["Dimensions"] = dims
        if t.get("unit"):
            datum["Unit"] = t["unit"]
        return datum

    async def _deliver(self, account: str, region: str, arn: str, payload: dict) -> None:
        data = base64.b64encode(encode(payload)).decode()
        body = json.dumps({"awslogs": {"data": data}}).encode()
        try:
            await self.env.call(
                "lambda",
                "Invoke",
                {"FunctionName": arn, "InvocationType": "Event", "Payload": body},
                account=account,
                region=region,
            )
        except NotImplementedOperation:
            log.debug("subscription delivery to %s dropped: lambda is not available", arn)
        except Exception:  # noqa: BLE001 - a failed delivery must not break PutLogEvents
            log.debug("subscription delivery to %s failed", arn, exc_info=True)
