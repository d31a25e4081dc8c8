"""Delivery: a published message to every subscription that wants it.

Publish returns at once; ``Deliverer.dispatch`` starts a task per matching
subscription (for FIFO topics the tasks take a per-subscription lock in
publish order, so a FIFO queue receives each group in order). Targets:

- ``sqs``: SQS's own ``SendMessage`` through ``ServiceEnv.call``; the SNS
  envelope JSON, or the bare message with its attributes as SQS message
  attributes under ``RawMessageDelivery``; group and deduplication ids for FIFO.
- ``http``/``https``: a signed POST with AWS's ``x-amz-sns-*`` headers,
  retried with the backoff of the effective delivery policy.
- ``lambda``: Lambda's ``Invoke`` (InvocationType Event) with the SNS event.
- ``firehose``: Firehose's ``PutRecordBatch``, one record a message, as the
  subscription's role (``firehose_target``).
- ``email``/``email-json``: SMTP when the server has ``--smtp-host``, else kept
  in memory and listed at ``/_cloudlet/sns/emails``.

A delivery that still fails goes to the subscription's ``RedrivePolicy``
dead-letter queue when it has one, else it is logged and dropped. Before any of that,
``outbound`` (the topic's data protection policy, ``data_protection``) may mask or
redact the text a subscription gets, or refuse it the message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.sns import firehose_target, transport
from cloudlet.services.sns.delivery_policy import DEFAULT_HTTP_POLICY, retry_delays
from cloudlet.services.sns.signing import CERT_PATH, Signer
from cloudlet.services.sns.store import Doc, SnsStore

log = logging.getLogger(__name__)

KEPT_EMAILS = 1000
SENDER = "no-reply@sns.amazonaws.com"


def iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _permitted(
    env: Any,
    service: str,
    operation: str,
    params: dict[str, Any],
    account: str,
    region: str,
    topic_arn: str,
) -> None:
    """Strict mode: refuse a delivery the endpoint's policy does not grant to
    ``sns.amazonaws.com`` for this topic (raised like any failed delivery)."""
    if not env.service_may(
        service,
        operation,
        params,
        account=account,
        region=region,
        principal="sns.amazonaws.com",
        source_arn=topic_arn,
    ):
        noun = "queue" if service == "sqs" else "function"
        raise ServiceError(
            "AccessDenied", f"the {noun}'s policy does not allow SNS to deliver from {topic_arn}"
        )


def attribute_map(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Publish's ``MessageAttributes`` as the envelope's ``{name: {Type, Value}}``."""
    out = {}
    for name, attr in attributes.items():
        if "BinaryValue" in attr:
            value = attr["BinaryValue"]
            if isinstance(value, bytes | bytearray):
                value = base64.b64encode(value).decode()
        else:
            value = attr.get("StringValue", "")
        out[name] = {"Type": attr["DataType"], "Value": value}
    return out


class Deliverer:
    def __init__(self, env: ServiceEnv, store: SnsStore, signer: Signer) -> None:
        self.env = env
        self.store = store
        self.signer = signer
        self.emails: deque[dict[str, Any]] = deque(maxlen=KEPT_EMAILS)
        self._tasks = Background()
        self._locks: dict[str, asyncio.Lock] = {}
        self.outbound: Callable[[Doc, Doc, str], str | None] | None = None
        """(topic, subscription, text) to the text that subscription gets, None when it
        gets nothing: the topic's Outbound data protection statements."""

    # -- URLs ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.env.endpoint or "http://localhost:4566"

    def cert_url(self) -> str:
        return self.endpoint + CERT_PATH

    def unsubscribe_url(self, sub_arn: str) -> str:
        return (
            f"{self.endpoint}/_cloudlet/sns/unsubscribe?SubscriptionArn={quote(sub_arn, safe='')}"
        )

    def subscribe_url(self, topic_arn: str, token: str) -> str:
        return (
            f"{self.endpoint}/_cloudlet/sns/confirm?Action=ConfirmSubscription"
            f"&TopicArn={quote(topic_arn, safe='')}&Token={token}"
        )

    # -- scheduling ---------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    async def stop(self) -> None:
        await self._tasks.stop()

    def dispatch(self, topic: Doc, message: Doc) -> None:
        """Start delivering ``message`` to every confirmed subscription whose filter matches."""
        attrs = attribute_map(message.get("MessageAttributes") or {})
        for sub in self.store.of_topic(topic["TopicArn"]):
            if not sub["Confirmed"]:
                continue
            policy = self.store.filters.get(sub["SubscriptionArn"])
            if policy is not None:
                body = message["Messages"].get(sub["Protocol"], message["Message"])
                if not policy.matches(attrs, body):
                    continue
            self.spawn(self._deliver(topic, sub, message, attrs))

    async def _deliver(self, topic: Doc, sub: Doc, message: Doc, attrs: dict) -> None:
        if topic["Fifo"]:
            lock = self._locks.setdefault(sub["SubscriptionArn"], asyncio.Lock())
            async with lock:
                await self._deliver_one(topic, sub, message, attrs)
        else:
            await self._deliver_one(topic, sub, message, attrs)

    async def _deliver_one(self, topic: Doc, sub: Doc, message: Doc, attrs: dict) -> None:
        protocol = sub["Protocol"]
        text = message["Messages"].get(protocol, message["Message"])
        if self.outbound is not None:
            shown = self.outbound(topic, sub, text)
            if shown is None:
                return
            text = shown
        envelope = self.notification(topic, sub, message, text, attrs)
        try:
            if protocol == "sqs":
                await self._to_sqs(topic, sub, message, text, envelope)
            elif protocol in ("http", "https"):
                await self._to_http(topic, sub, text, envelope)
            elif protocol == "lambda":
                await self._to_lambda(sub, envelope, message.get("Trace"))
            elif protocol == "firehose":
                data = firehose_target.record(envelope, text, self.raw(sub))
                await firehose_target.deliver(self.env, sub, data)
            elif protocol in ("email", "email-json"):
                await self._to_email(topic, sub, text, envelope)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed delivery is logged, never raised
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            log.warning("SNS delivery to %s failed: %s", sub["Endpoint"], reason)
        await self._dead_letter(topic, sub, message, text, envelope)

    # -- messages ------------------------------------------------------------------------

    def notification(self, topic: Doc, sub: Doc, message: Doc, text: str, attrs: dict) -> Doc:
        env: Doc = {
            "Type": "Notification",
            "MessageId": message["MessageId"],
            "TopicArn": topic["TopicArn"],
        }
        if message.get("Subject") is not None:
            env["Subject"] = message["Subject"]
        env["Message"] = text
        env["Timestamp"] = message["Timestamp"]
        if message.get("SequenceNumber"):
            env["SequenceNumber"] = message["SequenceNumber"]
        version = topic["Attributes"].get("SignatureVersion", "1")
        env["SignatureVersion"] = version
        # The signature does not cover the subscription: sign once per text, not per subscriber.
        signatures = message.setdefault("Signatures", {})
        if (text, version) not in signatures:
            signatures[(text, version)] = self.signer.sign(env, version)
        env["Signature"] = signatures[(text, version)]
        env["SigningCertURL"] = self.cert_url()
        env["UnsubscribeURL"] = self.unsubscribe_url(sub["SubscriptionArn"])
        if attrs:
            env["MessageAttributes"] = attrs
        return env

    def confirmation(self, topic: Doc, token: str, message_id: str) -> Doc:
        arn = topic["TopicArn"]
        env: Doc = {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": token,
            "TopicArn": arn,
            "Message": (
                f"You have chosen to subscribe to the topic {arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": self.subscribe_url(arn, token),
            "Timestamp": iso(clock.time()),
        }
        version = topic["Attributes"].get("SignatureVersion", "1")
        env["SignatureVersion"] = version
        env["Signature"] = self.signer.sign(env, version)
        env["SigningCertURL"] = self.cert_url()
        return env

    def raw(self, sub: Doc) -> bool:
        return sub["Attributes"].get("RawMessageDelivery", "false").lower() == "true"

    # -- targets -------------------------------------------------------------------------

    async def _send_sqs(
        self, queue_arn: str, body: str, extra: dict[str, Any], topic_arn: str
    ) -> None:
        """Send to the queue, if (strict mode) its policy lets SNS send from ``topic_arn``:
        AWS requires that of subscribed queues and dead-letter queues alike, and treats a
        refusal as a client error (the message goes to the dead-letter queue)."""
        parts = queue_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise RuntimeError(f"not an SQS queue ARN: {queue_arn}")
        region, account, name = parts[3], parts[4], parts[5]
        params = {"QueueUrl": f"http://localhost/{account}/{name}", "MessageBody": body, **extra}
        if name.endswith(".fifo"):
            params.setdefault("MessageGroupId", "sns")
            if "MessageDeduplicationId" not in params:
                import hashlib

                params["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()
        else:
            params.pop("MessageGroupId", None)
            params.pop("MessageDeduplicationId", None)
        _permitted(self.env, "sqs", "SendMessage", params, account, region, topic_arn)
        await self.env.call("sqs", "SendMessage", params, account=account, region=region)

    async def _to_sqs(self, topic: Doc, sub: Doc, message: Doc, text: str, envelope: Doc) -> None:
        extra: dict[str, Any] = {}
        if message.get("MessageGroupId"):
            extra["MessageGroupId"] = message["MessageGroupId"]
        if message.get("MessageDeduplicationId"):
            extra["MessageDeduplicationId"] = message["MessageDeduplicationId"]
        if message.get("Trace"):  # the publisher's X-Amzn-Trace-Id goes on with the message
            extra["MessageSystemAttributes"] = {
                "AWSTraceHeader": {"DataType": "String", "StringValue": message["Trace"]}
            }
        if self.raw(sub):
            if message.get("MessageAttributes"):
                extra["MessageAttributes"] = message["MessageAttributes"]
            await self._send_sqs(sub["Endpoint"], text, extra, topic["TopicArn"])
        else:
            await self._send_sqs(sub["Endpoint"], json.dumps(envelope), extra, topic["TopicArn"])

    def _http_policy(self, topic: Doc, sub: Doc) -> dict[str, Any]:
        policy = dict(DEFAULT_HTTP_POLICY)
        topic_policy = topic["Attributes"].get("DeliveryPolicy")
        if topic_policy:
            policy.update(json.loads(topic_policy).get("http") or {})
        sub_policy = sub["Attributes"].get("DeliveryPolicy")
        if sub_policy and not policy.get("disableSubscriptionOverrides"):
            doc = json.loads(sub_policy)
            if doc.get("healthyRetryPolicy"):
                policy["defaultHealthyRetryPolicy"] = doc["healthyRetryPolicy"]
            if doc.get("requestPolicy"):
                policy["defaultRequestPolicy"] = doc["requestPolicy"]
        return policy

    async def _to_http(self, topic: Doc, sub: Doc, text: str, envelope: Doc) -> None:
        policy = self._http_policy(topic, sub)
        content_type = (policy.get("defaultRequestPolicy") or {}).get(
            "headerContentType", "text/plain; charset=UTF-8"
        )
        headers = {
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": topic["TopicArn"],
            "x-amz-sns-subscription-arn": sub["SubscriptionArn"],
            "Content-Type": content_type,
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        if self.raw(sub):
            headers["x-amz-sns-rawdelivery"] = "true"
            body = text.encode()
        else:
            body = json.dumps(envelope).encode()
        delays = retry_delays(policy.get("defaultHealthyRetryPolicy") or {})
        await self._post_with_retries(sub["Endpoint"], headers, body, delays)

    async def _post_with_retries(
        self, url: str, headers: dict[str, str], body: bytes, delays: list[float]
    ) -> None:
        last = ""
        for attempt, delay in enumerate([0.0, *delays]):
            if delay:
                await asyncio.sleep(delay)
            try:
                status = await transport.http_post(url, headers, body)
                if 200 <= status < 300:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = str(exc) or type(exc).__name__
            log.info("SNS POST to %s attempt %d failed: %s", url, attempt + 1, last)
        raise RuntimeError(f"delivery to {url} failed after {len(delays) + 1} attempts: {last}")

    async def _to_lambda(self, sub: Doc, envelope: Doc, trace: str | None = None) -> None:
        sns = {
            k: envelope[k]
            for k in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")
            if k in envelope
        }
        sns.setdefault("Subject", None)
        sns.update(
            SignatureVersion=envelope["SignatureVersion"],
            Signature=envelope["Signature"],
            SigningCertUrl=envelope["SigningCertURL"],
            UnsubscribeUrl=envelope["UnsubscribeURL"],
            MessageAttributes=envelope.get("MessageAttributes") or {},
        )
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": sub["SubscriptionArn"],
                    "Sns": sns,
                }
            ]
        }
        parts = sub["Endpoint"].split(":")
        call = {
            "FunctionName": sub["Endpoint"],
            "InvocationType": "Event",
            "Payload": json.dumps(event).encode(),
        }
        if trace:  # the publisher's X-Amzn-Trace-Id, which SNS invokes with (loop detection)
            call["X-Amzn-Trace-Id"] = trace
        _permitted(self.env, "lambda", "Invoke", call, parts[4], parts[3], sub["TopicArn"])
        await self.env.call("lambda", "Invoke", call, account=parts[4], region=parts[3])

    async def _to_email(self, topic: Doc, sub: Doc, text: str, envelope: Doc) -> None:
        if sub["Protocol"] == "email-json":
            body = json.dumps(envelope)
        else:
            body = (
                f"{text}\n\n--\nIf you wish to stop receiving notifications from this topic, "
                f"please click or visit the link below to unsubscribe:\n{envelope['UnsubscribeURL']}"
            )
        subject = envelope.get("Subject") or "AWS Notification Message"
        await self.mail(topic, sub, subject, body, "Notification")

    async def mail(self, topic: Doc, sub: Doc, subject: str, body: str, kind: str) -> None:
        display = topic["Attributes"].get("DisplayName") or "AWS Notifications"
        sender = f"{display} <{SENDER}>"
        if self.env.smtp is not None:
            await transport.send_mail(self.env.smtp, sender, sub["Endpoint"], subject, body)
            return
        self.emails.append(
            {
                "Type": kind,
                "From": sender,
                "To": sub["Endpoint"],
                "Subject": subject,
                "Body": body,
                "Protocol": sub["Protocol"],
                "TopicArn": topic["TopicArn"],
                "SubscriptionArn": sub["SubscriptionArn"],
                "Timestamp": iso(clock.time()),
            }
        )

    async def _dead_letter(
        self, topic: Doc, sub: Doc, message: Doc, text: str, envelope: Doc
    ) -> None:
        redrive = sub["Attributes"].get("RedrivePolicy")
        if not redrive:
            return
        dlq = json.loads(redrive).get("deadLetterTargetArn", "")
        extra: dict[str, Any] = {}
        if message.get("MessageGroupId"):
            extra["MessageGroupId"] = message["MessageGroupId"]
        if self.raw(sub):
            if message.get("MessageAttributes"):
                extra["MessageAttributes"] = message["MessageAttributes"]
            body = text
        else:
            body = json.dumps(envelope)
        try:
            await self._send_sqs(dlq, body, extra, topic["TopicArn"])
        except (ServiceError, RuntimeError) as exc:
            log.warning("SNS dead-letter queue %s refused a message: %s", dlq, exc)

    # -- confirmations -------------------------------------------------------------------

    async def send_confirmation(self, topic: Doc, sub: Doc, message_id: str) -> None:
        envelope = self.confirmation(topic, sub["Token"], message_id)
        try:
            if sub["Protocol"] in ("http", "https"):
                headers = {
                    "x-amz-sns-message-type": "SubscriptionConfirmation",
                    "x-amz-sns-message-id": message_id,
                    "x-amz-sns-topic-arn": topic["TopicArn"],
                    "Content-Type": "text/plain; charset=UTF-8",
                    "User-Agent": "Amazon Simple Notification Service Agent",
                }
                policy = self._http_policy(topic, sub)
                delays = retry_delays(policy.get("defaultHealthyRetryPolicy") or {})
                await self._post_with_retries(
                    sub["Endpoint"], headers, json.dumps(envelope).encode(), delays
                )
            elif sub["Protocol"] == "email-json":
                await self.mail(
                    topic,
                    sub,
                    "AWS Notification - Subscription Confirmation",
                    json.dumps(envelope),
                    "SubscriptionConfirmation",
                )
            else:
                body = (
                    f"You have chosen to subscribe to the topic:\n{topic['TopicArn']}\n\n"
                    "To confirm this subscription, click or visit the link below "
                    "(If this was in error no action is necessary):\n"
                    f"Confirm subscription: {envelope['SubscribeURL']}"
                )
                await self.mail(
                    topic,
                    sub,
                    "AWS Notification - Subscription Confirmation",
                    body,
                    "SubscriptionConfirmation",
                )
        except Exception as exc:  # noqa: BLE001 - the subscription stays pending
            log.warning("SNS confirmation to %s failed: %s", sub["Endpoint"], exc)
