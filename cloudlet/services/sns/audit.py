"""Audit findings of SNS message data protection: their shape, and where they go.

Why a module of its own: an audit statement writes to up to three other services, and
the finding's shape and the destinations' rules are their own concern, apart from
masking and denying. What the developer guide documents ("Data protection policy
operations": Audit) and this follows:

- The audit statement samples inbound messages: each published message the statement
  covers is audited with a chance of ``SampleRate`` percent (drawn per message).
- An audited message with findings goes to the ``FindingsDestination``, one without to
  the ``NoFindingsDestination``. A finding is the guide's "Audit destination log
  example": ``messageId`` (Publish's answer), ``auditTimestamp``, ``callerPrincipal``
  (the publisher), ``resourceArn`` (the topic) and ``dataIdentifiers``, each with its
  ``name``, ``count`` and character ``detections`` (``start``, ``end`` exclusive, as
  CloudWatch Logs' findings) in the message body as published; empty without findings.
- Each destination is written through its service's own operation after Publish answers:
  a log group (which must exist, ``/aws/vendedlogs/...``) by PutLogEvents in a stream
  named after the topic, created on first use (cloudlet's choice); an S3 bucket by
  PutObject, one object a finding under
  ``AWSLogs/<account>/DataProtection/<region>/<topic>/<YYYY/MM/DD/HH>/<uuid>.json``
  (cloudlet's layout, as Logs' findings); a Firehose stream (Direct PUT) by PutRecord.
  The destinations must exist when the policy is put (``check_destinations``).
- Every audited message counts in the topic owner's ``AWS/SNS`` ``MessagesWithFindings``
  or ``MessagesWithNoFindings`` (by ``TopicName``), as the guide says.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.data_identifiers import Finding
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid, random_bits
from cloudlet.services.sns import errors
from cloudlet.services.sns.protection_policy import Statement
from cloudlet.services.sns.store import Doc

log = logging.getLogger(__name__)


def sampled(rate: int) -> bool:
    """Whether to audit one message, at ``rate`` percent."""
    return random_bits(32) % 100 < rate


def finding(message_id: str, caller: str | None, topic_arn: str, found: list[Finding]) -> Doc:
    """The finding written for one audited message."""
    by_name: dict[str, list[Finding]] = {}
    for f in found:
        by_name.setdefault(f.name, []).append(f)
    now = datetime.fromtimestamp(clock.time(), UTC)
    return {
        "messageId": message_id,
        "auditTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "callerPrincipal": caller or "",
        "resourceArn": topic_arn,
        "dataIdentifiers": [
            {
                "name": name,
                "count": len(hits),
                "detections": [{"start": f.start, "end": f.end} for f in hits],
            }
            for name, hits in by_name.items()
        ],
    }


async def check_destinations(env: Any, account: str, region: str, statement: Statement) -> None:
    """The destinations of an audit statement exist (in the topic's account and region),
    and a Firehose stream takes Direct PUT; ``InvalidParameter`` otherwise."""
    for where in (statement.findings_destination, statement.no_findings_destination):
        for kind, name in where.items():
            try:
                ok = await _exists(env, kind, name, account, region)
            except ServiceError:  # NotImplementedOperation too: the service is not running
                ok = False
            if not ok:
                what = {"CloudWatchLogs": "log group", "Firehose": "delivery stream"}
                raise errors.invalid_parameter(
                    f"DataProtectionPolicy Reason: The audit destination "
                    f"{what.get(kind, 'bucket')} {name} does not exist"
                    + (" or is not a Direct PUT stream." if kind == "Firehose" else ".")
                )


async def _exists(env: Any, kind: str, name: str, account: str, region: str) -> bool:
    at = {"account": account, "region": region}
    if kind == "CloudWatchLogs":
        out = await env.call("logs", "DescribeLogGroups", {"logGroupNamePrefix": name}, **at)
        return any(g.get("logGroupName") == name for g in out.get("logGroups") or [])
    if kind == "Firehose":
        out = await env.call(
            "firehose", "DescribeDeliveryStream", {"DeliveryStreamName": name}, **at
        )
        described = out.get("DeliveryStreamDescription") or {}
        return described.get("DeliveryStreamType", "DirectPut") == "DirectPut"
    await env.call("s3", "HeadBucket", {"Bucket": name}, **at)
    return True


async def deliver(env: Any, topic: Doc, statement: Statement, report: Doc) -> None:
    """Write one finding to the statement's destinations, and count it."""
    account, region, name = topic["Account"], topic["Region"], topic["Name"]
    found = bool(report["dataIdentifiers"])
    where = statement.findings_destination if found else statement.no_findings_destination
    line = json.dumps(report, separators=(",", ":"))
    for service, operation, params in _calls(account, region, name, where, line):
        try:
            await env.call(service, operation, params, account=account, region=region)
        except ServiceError as err:
            if err.code != "ResourceAlreadyExistsException":
                log.warning("SNS audit finding of %s to %s: %s", name, service, err.message)
    metric = "MessagesWithFindings" if found else "MessagesWithNoFindings"
    datum = {
        "MetricName": metric,
        "Dimensions": [{"Name": "TopicName", "Value": name}],
        "Value": 1.0,
        "Unit": "Count",
    }
    await env.put_metric_data("AWS/SNS", [datum], account=account, region=region)


def _calls(
    account: str, region: str, topic: str, where: dict[str, str], line: str
) -> list[tuple[str, str, dict[str, Any]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    if "CloudWatchLogs" in where:
        stream = {"logGroupName": where["CloudWatchLogs"], "logStreamName": topic}
        event = {"timestamp": int(clock.time() * 1000), "message": line}
        calls.append(("logs", "CreateLogStream", stream))
        calls.append(("logs", "PutLogEvents", {**stream, "logEvents": [event]}))
    if "S3" in where:
        body = (line + "\n").encode()
        hour = datetime.fromtimestamp(clock.time(), UTC).strftime("%Y/%m/%d/%H")
        key = f"AWSLogs/{account}/DataProtection/{region}/{topic}/{hour}/{new_uuid()}.json"
        put = {"Bucket": where["S3"], "Key": key, "Body": body, "ContentLength": len(body)}
        calls.append(("s3", "PutObject", put))
    if "Firehose" in where:
        record = {"DeliveryStreamName": where["Firehose"], "Record": {"Data": line.encode()}}
        calls.append(("firehose", "PutRecord", record))
    return calls
