"""Subscription operations: subscribe (with confirmation where AWS asks for it),
confirm, unsubscribe, list, attributes.

``sqs``, ``lambda`` and ``firehose`` subscriptions are confirmed at once; ``http``,
``https``, ``email`` and ``email-json`` wait for the endpoint to confirm
(GET of the SubscribeURL, or ConfirmSubscription with the token). A ``firehose``
subscription needs a delivery stream ARN as its endpoint and a ``SubscriptionRoleArn``
(the role SNS writes as: required, as the Subscribe reference says) and, like every
protocol but ``sqs``, a standard topic. Protocols cloudlet does not deliver (``sms``,
``application``) are refused with ``InvalidParameter``, never accepted silently.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from cloudlet.core.ids import fast_uuid
from cloudlet.services.sns import errors
from cloudlet.services.sns.delivery import Deliverer
from cloudlet.services.sns.delivery_policy import DEFAULT_HTTP_POLICY, check_delivery_policy
from cloudlet.services.sns.filterpolicy import compile_policy
from cloudlet.services.sns.firehose_target import ROLE_ARN, STREAM_ARN
from cloudlet.services.sns.store import Doc, SnsStore
from cloudlet.services.sns.topics import page

Result = dict[str, Any]

DELIVERED = ("sqs", "http", "https", "lambda", "email", "email-json", "firehose")
UNSUPPORTED = ("sms", "application")
NEEDS_CONFIRMATION = ("http", "https", "email", "email-json")
RAW_CAPABLE = ("sqs", "http", "https", "firehose")
SETTABLE = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)


def _check_endpoint(protocol: str, endpoint: str) -> None:
    ok = {
        "sqs": endpoint.startswith("arn:aws:sqs:") and len(endpoint.split(":")) == 6,
        "lambda": endpoint.startswith("arn:aws:lambda:") and len(endpoint.split(":")) >= 7,
        "http": endpoint.lower().startswith("http://"),
        "https": endpoint.lower().startswith("https://"),
        "email": "@" in endpoint,
        "email-json": "@" in endpoint,
        "firehose": STREAM_ARN.fullmatch(endpoint) is not None,
    }[protocol]
    if not ok:
        if protocol in ("sqs", "lambda", "firehose"):
            raise errors.invalid_parameter(f"{protocol.upper()} endpoint ARN")
        raise errors.invalid_parameter("Endpoint must match the specified protocol")


def _check_attribute(sub_protocol: str, name: str, value: str) -> str:
    if name not in SETTABLE:
        raise errors.invalid_parameter("AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise errors.invalid_parameter("Attributes Reason: RawMessageDelivery: Invalid value")
        if sub_protocol not in RAW_CAPABLE:
            raise errors.invalid_parameter(
                f"Delivery protocol [{sub_protocol}] does not support raw message delivery."
            )
        return value.lower()
    if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise errors.invalid_parameter(
            "Attributes Reason: FilterPolicyScope: Invalid filter policy scope, please specify "
            "either MessageAttributes or MessageBody"
        )
    if name == "SubscriptionRoleArn":
        if sub_protocol == "firehose" and not value:
            raise errors.invalid_parameter(
                "Attributes Reason: SubscriptionRoleArn is required for the firehose protocol"
            )
        if value and not ROLE_ARN.fullmatch(value):
            raise errors.invalid_parameter("Attributes Reason: SubscriptionRoleArn: Invalid ARN")
    if name == "DeliveryPolicy" and value:
        check_delivery_policy(value)
    if name == "RedrivePolicy" and value:
        try:
            doc = json.loads(value)
        except ValueError:
            raise errors.invalid_parameter("RedrivePolicy: failed to parse JSON.") from None
        arn = doc.get("deadLetterTargetArn") if isinstance(doc, dict) else None
        if not isinstance(arn, str) or not arn.startswith("arn:aws:sqs:") or arn.count(":") != 5:
            raise errors.invalid_parameter("RedrivePolicy: deadLetterTargetArn is an invalid arn")
    return value


class SubscriptionHandlers:
    store: SnsStore
    delivery: Deliverer

    _topic: Callable[[str | None], Doc]
    """Provided by ``TopicHandlers``."""
    _caller: Callable[[Any], str | None]
    """Provided by ``DataProtectionHandlers``."""

    def _subscription(self, arn: str) -> Doc:
        sub = self.store.subscriptions.get(arn)
        if sub is None:
            raise errors.subscription_not_found()
        return sub

    def subscribe(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        protocol = params["Protocol"]
        endpoint = params.get("Endpoint") or ""
        if protocol in UNSUPPORTED:
            raise errors.not_supported(protocol)
        if protocol not in DELIVERED:
            raise errors.invalid_parameter(
                f"Amazon SNS does not support this protocol string: {protocol}"
            )
        if topic["Fifo"] and protocol != "sqs":
            raise errors.invalid_parameter(f"Invalid protocol type: {protocol}")
        _check_endpoint(protocol, endpoint)
        if protocol == "sqs" and endpoint.endswith(".fifo") and not topic["Fifo"]:
            raise errors.invalid_parameter(
                "Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"
            )
        attributes: dict[str, str] = {}
        for name, value in (params.get("Attributes") or {}).items():
            attributes[name] = _check_attribute(protocol, name, value)
        if protocol == "firehose" and not attributes.get("SubscriptionRoleArn"):
            _check_attribute(protocol, "SubscriptionRoleArn", "")
        if attributes.get("FilterPolicy"):
            compile_policy(
                attributes["FilterPolicy"],
                attributes.get("FilterPolicyScope") or "MessageAttributes",
            )
        for sub in self.store.of_topic(topic["TopicArn"]):
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                if attributes and any(
                    sub["Attributes"].get(k, "") != v for k, v in attributes.items()
                ):
                    raise errors.invalid_parameter(
                        "Attributes Reason: Subscription already exists with different attributes"
                    )
                return self._subscribed(sub, params)
        confirmed = protocol not in NEEDS_CONFIRMATION
        if attributes.get("FilterPolicy"):
            attributes.setdefault("FilterPolicyScope", "MessageAttributes")
        sub = {
            "SubscriptionArn": f"{topic['TopicArn']}:{fast_uuid()}",
            "TopicArn": topic["TopicArn"],
            "Protocol": protocol,
            "Endpoint": endpoint,
            "Owner": ctx.account_id,
            "Principal": self._caller(ctx),
            "Confirmed": confirmed,
            "Authenticated": False,
            "Token": None if confirmed else secrets.token_hex(64),
            "Attributes": attributes,
        }
        self.store.save_subscription(sub)
        if not confirmed:
            self.delivery.spawn(self.delivery.send_confirmation(topic, sub, fast_uuid()))
        return self._subscribed(sub, params)

    def _subscribed(self, sub: Doc, params: dict[str, Any]) -> Result:
        if sub["Confirmed"] or params.get("ReturnSubscriptionArn"):
            return {"SubscriptionArn": sub["SubscriptionArn"]}
        return {"SubscriptionArn": "pending confirmation"}

    def confirm_subscription(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        sub = self.store.by_token(params["Token"])
        if sub is None or sub["TopicArn"] != topic["TopicArn"]:
            raise errors.invalid_parameter("Token")
        return {"SubscriptionArn": self._confirm(sub, params.get("AuthenticateOnUnsubscribe"))}

    def _confirm(self, sub: Doc, authenticate: Any = None) -> str:
        if not sub["Confirmed"]:
            sub["Confirmed"] = True
            sub["Authenticated"] = str(authenticate).lower() == "true"
            self.store.save_subscription(sub)
        return sub["SubscriptionArn"]

    def unsubscribe(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["SubscriptionArn"]
        sub = self.store.subscriptions.get(arn)
        if sub is None:
            if arn.count(":") != 6:
                raise errors.invalid_parameter("SubscriptionArn Reason: An ARN must have 7 parts")
            raise errors.subscription_not_found()
        self._remove_subscription(sub)
        return {}

    def _remove_subscription(self, sub: Doc) -> None:
        self.store.delete_subscription(sub["SubscriptionArn"])
        topic = self.store.topics.get(sub["TopicArn"])
        if topic is not None:
            topic["Deleted"] = topic.get("Deleted", 0) + 1
            self.store.save_topic(topic)

    def list_subscriptions(self, ctx: Any, params: dict[str, Any]) -> Result:
        subs = [
            s
            for s in self.store.subscriptions.values()
            if s["SubscriptionArn"].split(":")[3:5] == [ctx.region, ctx.account_id]
        ]
        return self._listing(subs, params.get("NextToken"))

    def list_subscriptions_by_topic(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        return self._listing(self.store.of_topic(topic["TopicArn"]), params.get("NextToken"))

    def _listing(self, subs: list[Doc], token: str | None) -> Result:
        by_arn = {s["SubscriptionArn"]: s for s in subs}
        arns, nxt = page(list(by_arn), token)
        out: Result = {
            "Subscriptions": [
                {
                    "SubscriptionArn": arn if by_arn[arn]["Confirmed"] else "PendingConfirmation",
                    "Owner": by_arn[arn]["Owner"],
                    "Protocol": by_arn[arn]["Protocol"],
                    "Endpoint": by_arn[arn]["Endpoint"],
                    "TopicArn": by_arn[arn]["TopicArn"],
                }
                for arn in arns
            ]
        }
        if nxt:
            out["NextToken"] = nxt
        return out

    def get_subscription_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        sub = self._subscription(params["SubscriptionArn"])
        attrs = {
            "SubscriptionArn": sub["SubscriptionArn"],
            "TopicArn": sub["TopicArn"],
            "Owner": sub["Owner"],
            "Protocol": sub["Protocol"],
            "Endpoint": sub["Endpoint"],
            "ConfirmationWasAuthenticated": "true" if sub["Authenticated"] else "false",
            "PendingConfirmation": "false" if sub["Confirmed"] else "true",
            "RawMessageDelivery": "false",
            "SubscriptionPrincipal": sub.get("Principal") or f"arn:aws:iam::{sub['Owner']}:root",
            **sub["Attributes"],
        }
        if sub["Protocol"] in ("http", "https"):
            topic = self.store.topics.get(sub["TopicArn"])
            policy = self.delivery._http_policy(topic, sub) if topic else DEFAULT_HTTP_POLICY
            attrs["EffectiveDeliveryPolicy"] = json.dumps(
                {
                    "healthyRetryPolicy": policy["defaultHealthyRetryPolicy"],
                    "requestPolicy": policy.get("defaultRequestPolicy"),
                }
            )
        return {"Attributes": attrs}

    def set_subscription_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        sub = self._subscription(params["SubscriptionArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        value = _check_attribute(sub["Protocol"], name, value)
        attrs = dict(sub["Attributes"])
        if value == "" and name != "RawMessageDelivery":
            attrs.pop(name, None)
            if name == "FilterPolicy":
                attrs.pop("FilterPolicyScope", None)
        else:
            attrs[name] = value
        if attrs.get("FilterPolicy"):
            attrs.setdefault("FilterPolicyScope", "MessageAttributes")
            compile_policy(attrs["FilterPolicy"], attrs["FilterPolicyScope"])
        sub["Attributes"] = attrs
        self.store.save_subscription(sub)
        return {}
