"""Firehose subscriptions: a topic's messages as records of an Amazon Data Firehose
delivery stream.

Why its own module: it is the one SNS target written *as a role* rather than under the
target's resource policy, and its record shape is its own. What the SNS developer
guide documents and this follows ("Fanout to Firehose delivery streams", its
prerequisites, "Amazon SNS raw message delivery" and "Formatting Amazon SNS
notifications for storage in Amazon S3 destinations"):

- A subscription names the stream's ARN as ``Endpoint`` and the role SNS assumes as
  ``SubscriptionRoleArn`` (required); only standard topics take one.
- Each message is one record, through Firehose's own PutRecordBatch (``ServiceEnv.call``)
  as the stream's account: without raw delivery the JSON SNS adds (``Type``,
  ``MessageId``, ``TopicArn``, ``Subject`` when there is one, ``Message``,
  ``Timestamp``, ``UnsubscribeURL``, ``MessageAttributes`` when there are some; the
  guide's examples carry no signature), with raw delivery the message body alone
  (message attributes are not sent). Each record ends with a newline, so a stream's
  objects hold one message a line, as the guide's S3 example shows.
- In strict mode the role's identity policies must allow ``firehose:PutRecord`` or
  ``firehose:PutRecordBatch`` on the stream (``ServiceEnv.role_may``; the guide's
  policy grants both); otherwise, like a stream that is missing or not ACTIVE, the
  delivery fails and the message goes to the subscription's dead-letter queue.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.sns.store import Doc

STREAM_ARN = re.compile(r"arn:aws[\w-]*:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/[\w.-]{1,64}")
ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
WRITES = ("firehose:PutRecord", "firehose:PutRecordBatch")
SESSION = "SNSFirehoseSubscription"
FIELDS = (
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "UnsubscribeURL",
    "MessageAttributes",
)


def record(envelope: Doc, text: str, raw: bool) -> bytes:
    """The record a message makes: the body under raw delivery, else SNS's JSON."""
    if raw:
        return (text + "\n").encode()
    shown = {k: envelope[k] for k in FIELDS if k in envelope}
    return (json.dumps(shown, ensure_ascii=False) + "\n").encode()


async def deliver(env: Any, sub: Doc, data: bytes) -> None:
    """Put ``data`` in the subscription's delivery stream as its role (raises
    ``ServiceError`` when the role, the stream or Firehose refuses)."""
    arn = sub["Endpoint"]
    role = sub["Attributes"].get("SubscriptionRoleArn")
    if not env.role_may(role, WRITES, arn, session=SESSION):
        raise ServiceError(
            "AccessDenied", f"the subscription role {role} may not put records in {arn}"
        )
    parts = arn.split(":", 5)
    params = {"DeliveryStreamName": parts[5].split("/", 1)[1], "Records": [{"Data": data}]}
    out = await env.call("firehose", "PutRecordBatch", params, account=parts[4], region=parts[3])
    for answer in out.get("RequestResponses") or []:
        if answer.get("ErrorCode"):
            raise ServiceError(answer["ErrorCode"], answer.get("ErrorMessage") or "")
