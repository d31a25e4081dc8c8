"""SNS state: topics and subscriptions, in memory and written through to SQLite.

A few hundred documents read on every Publish and rarely written: the
``DocumentStore`` pattern EC2 and AutoScaling use. Compiled filter policies
live next to the subscriptions (compiled once, when set or loaded).
Messages themselves are not stored: SNS hands them on and forgets them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cloudlet.services.sns.filterpolicy import FilterPolicy, compile_policy
from cloudlet.state.documents import DocumentStore

Doc = dict[str, Any]


class SnsStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.docs = DocumentStore(conn, "sns_resources")
        self.topics: dict[str, Doc] = {d["TopicArn"]: d for d in self.docs.load("topic")}
        self.subscriptions: dict[str, Doc] = {
            d["SubscriptionArn"]: d for d in self.docs.load("subscription")
        }
        self.filters: dict[str, FilterPolicy] = {}
        for sub in self.subscriptions.values():
            self._compile(sub)

    def close(self) -> None:
        self.docs.close()

    # -- topics --------------------------------------------------------------------------

    def save_topic(self, topic: Doc) -> None:
        self.topics[topic["TopicArn"]] = topic
        self.docs.put("topic", topic["TopicArn"], topic)

    def delete_topic(self, arn: str) -> None:
        self.topics.pop(arn, None)
        self.docs.delete("topic", arn)
        for sub in [s for s in self.subscriptions.values() if s["TopicArn"] == arn]:
            self.delete_subscription(sub["SubscriptionArn"])

    # -- subscriptions -------------------------------------------------------------------

    def save_subscription(self, sub: Doc) -> None:
        self.subscriptions[sub["SubscriptionArn"]] = sub
        self.docs.put("subscription", sub["SubscriptionArn"], sub)
        self._compile(sub)

    def delete_subscription(self, arn: str) -> None:
        self.subscriptions.pop(arn, None)
        self.filters.pop(arn, None)
        self.docs.delete("subscription", arn)

    def of_topic(self, topic_arn: str) -> list[Doc]:
        return [s for s in self.subscriptions.values() if s["TopicArn"] == topic_arn]

    def by_token(self, token: str) -> Doc | None:
        for sub in self.subscriptions.values():
            if sub.get("Token") == token:
                return sub
        return None

    def _compile(self, sub: Doc) -> None:
        text = sub["Attributes"].get("FilterPolicy")
        arn = sub["SubscriptionArn"]
        if text:
            scope = sub["Attributes"].get("FilterPolicyScope") or "MessageAttributes"
            self.filters[arn] = compile_policy(text, scope)
        else:
            self.filters.pop(arn, None)
