"""Delivering matched events to targets, after the response, never on the request's
time.

Each (event, target) is a task: the target's input is shaped (``transform.py``), then
sent through the target service's own operation (``ServiceEnv.call``: SQS
``SendMessage``, SNS ``Publish``, Lambda ``Invoke`` with InvocationType Event, Kinesis
``PutRecord`` keyed by ``KinesisParameters.PartitionKeyPath`` or the event's id, Firehose
``PutRecordBatch`` with the input as the one record's data, as it is (Firehose adds no
delimiter), and CloudWatch Logs ``CreateLogStream`` then ``PutLogEvents``
(``log_target.py``); no import of their internals); an event bus target gets the event
as it is, matched against that bus's rules (another account's bus only as far as its
policy lets the rule's account or the target's role put events there, in every mode:
``permissions.py``; else ``NO_PERMISSIONS``); an API destination target gets an HTTP
request (``http_target.py``, which decides what its endpoint's answers mean). In strict
mode a target whose resource policy does not let ``events.amazonaws.com`` send on behalf
of the rule is not sent to, as on AWS; a Kinesis or Firehose stream's policy is not
asked, EventBridge writing there as the target's role, whose identity policies must
allow ``kinesis:PutRecord`` (``firehose:PutRecord`` or ``firehose:PutRecordBatch``) on
the stream (``ServiceEnv.role_may``; the trust policy is not consulted); a log group
needs the Logs resource policies (PutResourcePolicy, the account's and the group's) to
grant ``logs:CreateLogStream`` and ``logs:PutLogEvents``, as AWS's do.

Failures follow the target's ``RetryPolicy`` (AWS's defaults: 185 retries within 24
hours): a target that is gone or refuses (a 4xx: the queue, function, stream or log
group does not exist, no permission) is not retried, as EventBridge does not retry
those; throttling (a Kinesis shard's ``ProvisionedThroughputExceededException``, a
Firehose record's ``ServiceUnavailableException`` too) and other failures are retried
with backoff (1 s, 2 s, 4 s ... at most a minute apart, or longer when an API
destination's ``Retry-After`` asks for more). An event that is not delivered goes to the
target's ``DeadLetterConfig`` queue, with AWS's message attributes (``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION``,
``RETRY_ATTEMPTS``), else it is dropped and logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.events.common import API_DESTINATION_ARN
from cloudlet.services.events.log_target import log_group_name, log_record
from cloudlet.services.events.transform import partition_key, target_input

log = logging.getLogger(__name__)
Doc = dict[str, Any]
PRINCIPAL = "events.amazonaws.com"
SESSION = "EventBridgeTarget"
ROLE_WRITES = {
    "kinesis": ("kinesis:PutRecord",),
    "firehose": ("firehose:PutRecord", "firehose:PutRecordBatch"),
}
"""Targets EventBridge writes to as the target's role, and the actions (any one) the
role's policies must allow on the stream."""
DEFAULT_RETRIES = 185
DEFAULT_AGE = 86400
MAX_DELAY = 60.0
MAX_HOPS = 5
"""Bus-to-bus forwards one event may take: a loop of buses ends here."""
Forward = Callable[[Doc, Doc, Doc, int], None]
"""(rule, target, event, hops) -> None: put the event on the target's bus (raises
ServiceError: AccessDeniedException when another account's bus policy refuses it)."""
InvokeApi = Callable[[Doc, Doc, Doc], Awaitable[None]]
"""(rule, target, event) -> None: one try of an API destination target (raises
``Undelivered``)."""


_BUSY = ("Throttl", "TooMany", "ThroughputExceeded", "ServiceUnavailable")
"""Words of the error codes that mean "not now" (retried): throttling, a Kinesis shard's
write budget."""


class Undelivered(Exception):
    """A delivery that failed: AWS's dead-letter ``ERROR_CODE`` and the reason."""

    def __init__(self, code: str, message: str, retryable: bool, wait: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.wait = wait
        """Seconds the target asked to be left alone before the next try."""


class _Exists(Exception):
    """CreateLogStream found the event's stream there already (a retry, another rule)."""


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    return parts[2], parts[3], parts[4], parts[5]


def target_call(target: Doc, body: str, event: Doc) -> tuple[str, str, dict[str, Any], str, str]:
    """(service, operation, params, account, region) delivering ``body`` to ``target``."""
    arn = target["Arn"]
    service, region, account, resource = _arn_parts(arn)
    if service == "sqs":
        params: dict[str, Any] = {
            "QueueUrl": f"http://localhost/{account}/{resource}",
            "MessageBody": body,
        }
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if resource.endswith(".fifo"):
            params["MessageGroupId"] = group or "events"
            params["MessageDeduplicationId"] = event["id"]
        return "sqs", "SendMessage", params, account, region
    if service == "sns":
        return "sns", "Publish", {"TopicArn": arn, "Message": body}, account, region
    if service == "kinesis":
        params = {
            "StreamARN": arn,
            "PartitionKey": partition_key(target, event),
            "Data": body.encode(),
        }
        return "kinesis", "PutRecord", params, account, region
    if service == "firehose":
        params = {
            "DeliveryStreamName": resource.split("/", 1)[1],
            "Records": [{"Data": body.encode()}],
        }
        return "firehose", "PutRecordBatch", params, account, region
    params = {"FunctionName": arn, "InvocationType": "Event", "Payload": body.encode()}
    return "lambda", "Invoke", params, account, region


def _why(err: ServiceError) -> Undelivered:
    """A target service's refusal in AWS's dead-letter words."""
    code = err.code
    if "NotFound" in code or "NonExistent" in code or "DoesNotExist" in code:
        return Undelivered("RESOURCE_NOT_FOUND", err.message, False)
    if "AccessDenied" in code or "Authoriz" in code:
        return Undelivered("NO_PERMISSIONS", err.message, False)
    if err.status >= 500 or any(word in code for word in _BUSY):
        return Undelivered("SDK_CLIENT_ERROR", err.message, True)
    return Undelivered("SDK_CLIENT_ERROR", err.message, False)


class Deliverer:
    def __init__(self, env: ServiceEnv, forward: Forward, invoke_api: InvokeApi) -> None:
        self.env = env
        self.forward = forward
        self.invoke_api = invoke_api
        self._tasks = Background()

    def send(self, rule: Doc, target: Doc, event: Doc, hops: int = 0) -> None:
        """Start delivering ``event``, which ``rule`` matched, to ``target``."""
        self._tasks.spawn(self._deliver(dict(rule), dict(target), event, hops))

    async def stop(self) -> None:
        await self._tasks.stop()

    async def _deliver(self, rule: Doc, target: Doc, event: Doc, hops: int) -> None:
        retry = target.get("RetryPolicy") or {}
        most = retry.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        age = retry.get("MaximumEventAgeInSeconds", DEFAULT_AGE)
        started = clock.monotonic()
        attempt = 0
        while True:
            try:
                await self._attempt(rule, target, event, hops)
                return
            except Undelivered as failure:
                if not failure.retryable:
                    return await self._dead_letter(rule, target, event, failure, None, attempt)
                if attempt >= most:
                    exhausted = "MaximumRetryAttempts"
                else:
                    delay = max(min(MAX_DELAY, 2.0**attempt), failure.wait)
                    if clock.monotonic() + delay - started > age:
                        exhausted = "MaximumEventAgeInSeconds"
                    else:
                        attempt += 1
                        await asyncio.sleep(delay)
                        continue
                return await self._dead_letter(rule, target, event, failure, exhausted, attempt)

    async def _attempt(self, rule: Doc, target: Doc, event: Doc, hops: int) -> None:
        """One try; raises ``Undelivered``."""
        if API_DESTINATION_ARN.fullmatch(target["Arn"]):
            return await self.invoke_api(rule, target, event)
        if target["Arn"].split(":")[2] == "events":
            if hops >= MAX_HOPS:
                raise Undelivered("SDK_CLIENT_ERROR", "the event passed too many buses", False)
            try:
                self.forward(rule, target, event, hops + 1)
            except ServiceError as err:
                raise _why(err) from None
            return
        body = target_input(target, event, rule)
        if target["Arn"].split(":")[2] == "logs":
            return await self._log(rule, target, body, event)
        service, operation, params, account, region = target_call(target, body, event)
        self._check_policy(target, service, operation, params, account, region, rule["Arn"])
        out = await self._call(service, operation, params, account, region)
        for answer in out.get("RequestResponses") or []:  # a Firehose record refused
            if answer.get("ErrorCode"):
                raise _why(ServiceError(answer["ErrorCode"], answer.get("ErrorMessage") or ""))

    async def _log(self, rule: Doc, target: Doc, body: str, event: Doc) -> None:
        """One try of a log group target: the event's stream (made once), then the event."""
        _, region, account, _ = _arn_parts(target["Arn"])
        group = log_group_name(target["Arn"])
        stream = {"logGroupName": group, "logStreamName": event["id"]}
        timestamp, message = log_record(body, event)
        put = {**stream, "logEvents": [{"timestamp": timestamp, "message": message}]}
        for operation, params in (("CreateLogStream", stream), ("PutLogEvents", put)):
            self._check_policy(target, "logs", operation, params, account, region, rule["Arn"])
            try:
                await self._call("logs", operation, params, account, region)
            except _Exists:
                pass

    def _check_policy(
        self,
        target: Doc,
        service: str,
        operation: str,
        params: dict[str, Any],
        account: str,
        region: str,
        source_arn: str,
    ) -> None:
        """Strict mode: raise ``Undelivered`` unless the target's resource policy lets
        EventBridge send, or for a stream (which EventBridge writes to as the target's
        role) unless the role's policies do."""
        if service in ROLE_WRITES:
            if not self.env.role_may(
                target.get("RoleArn"), ROLE_WRITES[service], target["Arn"], session=SESSION
            ):
                raise Undelivered(
                    "NO_PERMISSIONS",
                    f"the role {target.get('RoleArn')} may not {ROLE_WRITES[service][0]} on "
                    f"{target['Arn']}",
                    False,
                )
            return
        if not self._permitted(service, operation, params, account, region, source_arn):
            raise Undelivered(
                "NO_PERMISSIONS",
                f"the resource policy of {target['Arn']} does not allow {PRINCIPAL}",
                False,
            )

    async def _call(
        self, service: str, operation: str, params: dict[str, Any], account: str, region: str
    ) -> dict[str, Any]:
        """One operation of the target's service: its answer; its refusal as
        ``Undelivered`` (an existing log stream as ``_Exists``)."""
        try:
            return await self.env.call(service, operation, params, account=account, region=region)
        except asyncio.CancelledError:
            raise
        except NotImplementedOperation as err:
            raise Undelivered("SDK_CLIENT_ERROR", err.message, False) from None
        except ServiceError as err:
            if err.code == "ResourceAlreadyExistsException" and operation == "CreateLogStream":
                raise _Exists from None
            raise _why(err) from None
        except Exception as err:  # noqa: BLE001 - a target's failure is reported, not raised
            raise Undelivered("SDK_CLIENT_ERROR", str(err) or type(err).__name__, True) from None

    def _permitted(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        account: str,
        region: str,
        source_arn: str,
    ) -> bool:
        return self.env.service_may(
            service,
            operation,
            params,
            account=account,
            region=region,
            principal=PRINCIPAL,
            source_arn=source_arn,
        )

    async def _dead_letter(
        self,
        rule: Doc,
        target: Doc,
        event: Doc,
        failure: Undelivered,
        exhausted: str | None,
        attempts: int,
    ) -> None:
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        log.warning(
            "EventBridge event %s for %s not delivered: %s",
            event.get("id"),
            target["Arn"],
            failure.message,
        )
        if not dlq:
            return
        attributes = {
            "RULE_ARN": rule["Arn"],
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": failure.message[:1000],
            "RETRY_ATTEMPTS": str(attempts),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        service, operation, params, account, region = target_call(
            {"Arn": dlq, "SqsParameters": {}}, body, event
        )
        params["MessageAttributes"] = {
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v
        }
        if not self._permitted(service, operation, params, account, region, rule["Arn"]):
            log.warning("EventBridge dead-letter queue %s does not allow %s", dlq, PRINCIPAL)
            return
        try:
            await self.env.call(service, operation, params, account=account, region=region)
        except ServiceError as err:
            log.warning("EventBridge dead-letter queue %s refused an event: %s", dlq, err.message)
