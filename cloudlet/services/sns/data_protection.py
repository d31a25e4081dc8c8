"""Message data protection: Put/GetDataProtectionPolicy, and the policy acting on messages.

A mixin of ``SnsService``. Why it works this way (the developer guide's "Message data
protection" chapter; the grammar is ``protection_policy``'s, the findings ``audit``'s):

- **One policy a topic**, kept with the topic (durable). PutDataProtectionPolicy with an
  empty string deletes it, as the guide's "Deleting data protection policies" says;
  CreateTopic takes one too (its ``DataProtectionPolicy`` parameter). Only standard
  topics take one: the guide creates them "together with a standard Amazon SNS topic"
  (the refusal's wording is cloudlet's). GetTopicAttributes does not show it:
  GetDataProtectionPolicy does.
- **Inbound**, on Publish and each PublishBatch entry, for the statements covering the
  publisher: the audit statement samples the message as published; a ``Deny`` that finds
  something refuses the publish with ``AuthorizationError`` (403), as the guide says;
  then each ``Deidentify`` masks (one ``MaskWithCharacter`` a character) or redacts (the
  characters removed) what it finds, in the document's order, in the message and in each
  protocol's message of a ``MessageStructure=json`` publish, before anything is
  delivered. A message redacted to nothing is refused with ``AuthorizationError`` too.
- **Outbound**, at each delivery, for the statements covering the subscription's
  principal: a ``Deny`` that finds something in the text that subscription would get
  keeps it from that subscription (logged with AWS's delivery-status wording; the others
  still get it), a ``Deidentify`` masks or redacts that subscription's copy. The guide
  (2023) lists de-identify for inbound messages only; cloudlet also applies an Outbound
  one, to the subscriptions it covers.
- **Only the message body** is scanned: the guide speaks of the payload; the subject and
  message attributes pass as they are.
- **Principals.** Inbound: the caller of Publish. Outbound: the subscription principal,
  the caller of Subscribe (``SubscriptionPrincipal``, as the guide explains). In strict
  mode that is the signed caller's ARN (a user, a role session ``arn:aws:sts::...:
  assumed-role/<role>/<session>``, a root); another service publishing in-process has
  none and only ``*`` covers it. In open mode, which authenticates no one, the caller is
  the root of the request's account (``arn:aws:iam::<account>:root``), so ``*``, that
  account's id and its root ARN cover it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.sns import audit, errors
from cloudlet.services.sns.delivery import Deliverer
from cloudlet.services.sns.protection_policy import ProtectionPolicy, parse
from cloudlet.services.sns.store import Doc, SnsStore

log = logging.getLogger(__name__)
Result = dict[str, Any]
KEY = "DataProtectionPolicy"


@lru_cache(maxsize=256)
def compiled(text: str) -> ProtectionPolicy:
    """A stored (so already checked) policy document, parsed once."""
    return parse(text)


def denied(topic_arn: str) -> ServiceError:
    return errors.authorization(
        f"The topic's data protection policy prohibits this message from being published "
        f"to {topic_arn}"
    )


class DataProtectionHandlers:
    store: SnsStore
    delivery: Deliverer
    env: Any

    _topic: Callable[[str | None], Doc]
    """Provided by ``TopicHandlers``."""

    # -- operations ----------------------------------------------------------------------

    async def put_data_protection_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["ResourceArn"])
        text = params.get("DataProtectionPolicy") or ""
        if text:
            await self._check_protection(topic["Account"], topic["Region"], topic["Fifo"], text)
            topic[KEY] = text
        else:
            topic.pop(KEY, None)
        self.store.save_topic(topic)
        return {}

    def get_data_protection_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["ResourceArn"])
        text = topic.get(KEY)
        return {"DataProtectionPolicy": text} if text else {}

    async def _check_protection(self, account: str, region: str, fifo: bool, text: str) -> None:
        """A policy document fit for a topic: its grammar, and its audit destinations."""
        if fifo:
            raise errors.invalid_parameter(
                "DataProtectionPolicy Reason: Data protection policies are supported only on "
                "standard topics"
            )
        policy = parse(text)
        if policy.audit is not None:
            await audit.check_destinations(self.env, account, region, policy.audit)

    # -- the policy acting on messages -----------------------------------------------------

    def _caller(self, ctx: Any) -> str | None:
        """The principal a statement is matched against for a request (module docstring)."""
        if not getattr(self.env.credentials, "strict", False):
            return f"arn:aws:iam::{ctx.account_id}:root"
        principal = getattr(ctx, "principal", None)
        arn = getattr(principal, "arn", None)
        return arn if arn and arn.startswith("arn:") else None

    def _protect_inbound(self, ctx: Any, topic: Doc, message: Doc, published: str) -> None:
        """Apply the topic's Inbound statements to a prepared message (``published``: its
        body as published); raises ``AuthorizationError`` when they refuse it."""
        text = topic.get(KEY)
        if not text:
            return
        policy = compiled(text)
        caller = self._caller(ctx)
        check = policy.audit
        if check is not None and check.covers(caller) and audit.sampled(check.sample_rate):
            report = audit.finding(
                message["MessageId"], caller, topic["TopicArn"], check.find(published)
            )
            self.delivery.spawn(audit.deliver(self.env, topic, check, report))
        acting = policy.acting(True, caller)
        texts = [message["Message"], *message["Messages"].values()]
        if any(s.action == "Deny" and any(s.find(t) for t in texts) for s in acting):
            raise denied(topic["TopicArn"])
        for statement in acting:
            if statement.action == "Deny":
                continue
            message["Message"] = statement.deidentify(message["Message"])
            message["Messages"] = {
                k: statement.deidentify(v) for k, v in message["Messages"].items()
            }
        if not message["Message"]:
            raise denied(topic["TopicArn"])

    def _protect_outbound(self, topic: Doc, sub: Doc, text: str) -> str | None:
        """The text ``sub`` gets under the topic's Outbound statements; None when a Deny
        keeps the message from it (``Deliverer.outbound``)."""
        document = topic.get(KEY)
        if not document:
            return text
        principal = sub.get("Principal") or f"arn:aws:iam::{sub['Owner']}:root"
        acting = compiled(document).acting(False, principal)
        if any(s.action == "Deny" and s.find(text) for s in acting):
            log.info(
                "The topic's data protection policy prohibits this message from being "
                "delivered to %s",
                sub["SubscriptionArn"],
            )
            return None
        for statement in acting:
            if statement.action != "Deny":
                text = statement.deidentify(text)
        return text
