"""Topic operations: create (idempotent), delete, list, attributes, tags.

A topic is a document: its ARN, name, owner, the attributes a user set (the
computed ones, subscription counts and the effective delivery policy, are
derived when asked for), its tags and its data protection policy (CreateTopic's
``DataProtectionPolicy``; see ``data_protection``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from cloudlet.services.sns import errors
from cloudlet.services.sns.delivery_policy import DEFAULT_HTTP_POLICY, check_delivery_policy
from cloudlet.services.sns.store import Doc, SnsStore

Result = dict[str, Any]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FIFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
PAGE = 100
SETTABLE = frozenset(
    {
        "Policy",
        "DisplayName",
        "DeliveryPolicy",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
        "ContentBasedDeduplication",
        "ArchivePolicy",
        "FifoThroughputScope",
        *(
            f"{proto}{kind}"
            for proto in ("Application", "HTTP", "Lambda", "SQS", "Firehose")
            for kind in (
                "SuccessFeedbackRoleArn",
                "SuccessFeedbackSampleRate",
                "FailureFeedbackRoleArn",
            )
        ),
    }
)
CREATE_ONLY = frozenset({"FifoTopic"})


def default_policy(arn: str, account: str) -> str:
    """The policy AWS gives every new topic: its owner may do everything."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        },
        separators=(",", ":"),
    )


def page(items: list[str], token: str | None) -> tuple[list[str], str | None]:
    start = 0
    if token:
        try:
            start = int(base64.b64decode(token, validate=True).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise errors.invalid_parameter("NextToken") from None
    end = start + PAGE
    nxt = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], nxt


def _bool_attr(value: str | None) -> bool:
    return (value or "false").lower() == "true"


def _check_attribute(name: str, value: str, fifo: bool) -> None:
    if name == "DeliveryPolicy":
        check_delivery_policy(value)
    elif name == "Policy":
        try:
            doc = json.loads(value)
        except ValueError:
            raise errors.invalid_parameter("Policy Error: null") from None
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise errors.invalid_parameter("Policy statement action out of service scope!")
    elif name == "ContentBasedDeduplication":
        if not fifo and _bool_attr(value):
            raise errors.invalid_parameter(
                "ContentBasedDeduplication Reason: Content based deduplication can only be "
                "set for FIFO topics"
            )
        if value.lower() not in ("true", "false"):
            raise errors.invalid_parameter("ContentBasedDeduplication")
    elif name == "SignatureVersion" and value not in ("1", "2"):
        raise errors.invalid_parameter(
            "SignatureVersion Reason: The SignatureVersion must be either 1 or 2"
        )


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", "")
        if not 1 <= len(key) <= 128 or len(tag.get("Value", "")) > 256:
            raise errors.invalid_parameter("Tags")
        out[key] = tag.get("Value", "")
    return out


class TopicHandlers:
    store: SnsStore

    _check_protection: Callable[[str, str, bool, str], Awaitable[None]]
    """Provided by ``DataProtectionHandlers``."""

    def _topic(self, arn: str | None) -> Doc:
        topic = self.store.topics.get(arn or "")
        if topic is None:
            raise errors.topic_not_found()
        return topic

    async def create_topic(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["Name"]
        attributes = dict(params.get("Attributes") or {})
        fifo = _bool_attr(attributes.get("FifoTopic"))
        if fifo and not _FIFO_NAME.match(name) or not fifo and not _NAME.match(name):
            if name.endswith(".fifo") and not fifo:
                raise errors.invalid_parameter(
                    "Topic Name: Non-FIFO topic names must be made up of only uppercase and "
                    "lowercase ASCII letters, numbers, underscores, and hyphens, and must be "
                    "between 1 and 256 characters long."
                )
            raise errors.invalid_parameter(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase "
                "and lowercase ASCII letters, numbers, underscores, and hyphens, and must be "
                "between 1 and 256 characters long."
                if fifo
                else "Topic Name"
            )
        for key, value in attributes.items():
            if key not in SETTABLE | CREATE_ONLY:
                raise errors.invalid_parameter("Attributes Reason: Unknown attribute " + key)
            _check_attribute(key, value, fifo)
        if "FifoTopic" in attributes:
            attributes["FifoTopic"] = "true" if fifo else "false"
        tags = tags_dict(params.get("Tags"))
        protection = params.get("DataProtectionPolicy") or ""
        if protection:
            await self._check_protection(ctx.account_id, ctx.region, fifo, protection)
        arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}"
        existing = self.store.topics.get(arn)
        if existing is not None:
            for key, value in attributes.items():
                if existing["Attributes"].get(key, _default(existing, key)) != value:
                    raise errors.invalid_parameter(
                        "Attributes Reason: Topic already exists with different attributes"
                    )
            if protection and existing.get("DataProtectionPolicy") != protection:
                raise errors.invalid_parameter(
                    "Attributes Reason: Topic already exists with different attributes"
                )
            if tags and any(existing["Tags"].get(k) != v for k, v in tags.items()):
                raise errors.invalid_parameter(
                    "Tags Reason: Topic already exists with different tags"
                )
            return {"TopicArn": arn}
        attributes.setdefault("Policy", default_policy(arn, ctx.account_id))
        if fifo:
            attributes.setdefault("ContentBasedDeduplication", "false")
        topic = {
            "TopicArn": arn,
            "Name": name,
            "Account": ctx.account_id,
            "Region": ctx.region,
            "Fifo": fifo,
            "Attributes": attributes,
            "Tags": tags,
            "Deleted": 0,
            "Sequence": 0,
        }
        if protection:
            topic["DataProtectionPolicy"] = protection
        self.store.save_topic(topic)
        return {"TopicArn": arn}

    def delete_topic(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["TopicArn"]
        if arn in self.store.topics:
            self.store.delete_topic(arn)
        return {}

    def list_topics(self, ctx: Any, params: dict[str, Any]) -> Result:
        arns = [
            t["TopicArn"]
            for t in self.store.topics.values()
            if t["Account"] == ctx.account_id and t["Region"] == ctx.region
        ]
        items, nxt = page(arns, params.get("NextToken"))
        out: Result = {"Topics": [{"TopicArn": a} for a in items]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def get_topic_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        subs = self.store.of_topic(topic["TopicArn"])
        attrs = {
            "TopicArn": topic["TopicArn"],
            "Owner": topic["Account"],
            "DisplayName": "",
            "SubscriptionsConfirmed": str(sum(1 for s in subs if s["Confirmed"])),
            "SubscriptionsPending": str(sum(1 for s in subs if not s["Confirmed"])),
            "SubscriptionsDeleted": str(topic.get("Deleted", 0)),
            "EffectiveDeliveryPolicy": json.dumps(_effective(topic)),
            **topic["Attributes"],
        }
        if topic["Fifo"]:
            attrs.setdefault("FifoTopic", "true")
        return {"Attributes": attrs}

    def set_topic_attributes(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        if name not in SETTABLE:
            raise errors.invalid_parameter("AttributeName")
        _check_attribute(name, value, topic["Fifo"])
        if name == "Policy" and not value:
            value = default_policy(topic["TopicArn"], topic["Account"])
        if value == "" and name != "DisplayName":
            topic["Attributes"].pop(name, None)
        else:
            topic["Attributes"][name] = value
        self.store.save_topic(topic)
        return {}

    # -- tags ----------------------------------------------------------------------------

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._tagged(params["ResourceArn"])
        merged = {**topic["Tags"], **tags_dict(params["Tags"])}
        if len(merged) > 50:
            raise errors.tag_limit()
        topic["Tags"] = merged
        self.store.save_topic(topic)
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._tagged(params["ResourceArn"])
        for key in params["TagKeys"]:
            topic["Tags"].pop(key, None)
        self.store.save_topic(topic)
        return {}

    def list_tags_for_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._tagged(params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in topic["Tags"].items()]}

    def _tagged(self, arn: str) -> Doc:
        topic = self.store.topics.get(arn)
        if topic is None:
            raise errors.resource_not_found()
        return topic


def _default(topic: Doc, key: str) -> str | None:
    if key == "FifoTopic":
        return "true" if topic["Fifo"] else "false"
    if key == "ContentBasedDeduplication":
        return "false"
    return None


def _effective(topic: Doc) -> dict[str, Any]:
    policy = topic["Attributes"].get("DeliveryPolicy")
    if policy:
        doc = json.loads(policy)
        http = {**DEFAULT_HTTP_POLICY, **(doc.get("http") or {})}
        return {**doc, "http": http}
    return {"http": DEFAULT_HTTP_POLICY}
