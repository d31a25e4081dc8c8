"""Publish and PublishBatch: validate as AWS does, answer at once, deliver after.

Validation covers the message (non-empty, 256 KB with its attributes),
``Subject`` (printable ASCII under 100 characters), ``MessageStructure=json``
(an object with a ``default`` string), message attributes (names and the
types String, String.Array, Number, Binary with optional custom suffixes) and
FIFO topics' ``MessageGroupId`` and deduplication (explicit id, or content-based,
remembered for 5 minutes: a duplicate gets the first message's id and is not
delivered again). A valid message then meets the topic's Inbound data protection
statements (``data_protection``), which may refuse, mask or redact it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.sns import errors
from cloudlet.services.sns.delivery import Deliverer, iso
from cloudlet.services.sns.store import Doc, SnsStore

Result = dict[str, Any]

MAX_BYTES = 256 * 1024
DEDUP_WINDOW = 300.0
_ATTR_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_GROUP_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def _check_attributes(attributes: dict[str, dict[str, Any]]) -> int:
    """Validate message attributes; their size in bytes (names, types, values)."""
    size = 0
    for name, attr in attributes.items():
        if (
            not _ATTR_NAME.match(name)
            or name.startswith((".", "AWS.", "Amazon."))
            or name.endswith(".")
            or ".." in name
        ):
            raise errors.invalid_parameter(
                f"MessageAttributes: The message attribute name '{name}' is invalid"
            )
        kind = attr.get("DataType") or ""
        base = "String.Array" if kind == "String.Array" else kind.split(".")[0]
        if base not in ("String", "String.Array", "Number", "Binary"):
            raise errors.invalid_parameter(
                f"MessageAttributes: The message attribute '{name}' has an invalid message "
                "attribute type, the set of supported type prefixes is Binary, Number, and String."
            )
        if base == "Binary":
            value = attr.get("BinaryValue")
            if value is None or value == b"":
                raise errors.invalid_parameter(
                    f"MessageAttributes: The message attribute '{name}' must contain non-empty "
                    f"message attribute value for message attribute type '{kind}'."
                )
            size += len(value)
        else:
            value = attr.get("StringValue")
            if value is None or value == "":
                raise errors.invalid_parameter(
                    f"MessageAttributes: The message attribute '{name}' must contain non-empty "
                    f"message attribute value for message attribute type '{kind}'."
                )
            if base == "Number":
                try:
                    float(value)
                except ValueError:
                    raise errors.invalid_parameter(
                        f"MessageAttributes: Could not cast message attribute '{name}' value "
                        "to number."
                    ) from None
            if base == "String.Array":
                try:
                    items = json.loads(value)
                except ValueError:
                    items = None
                if not isinstance(items, list):
                    raise errors.invalid_parameter(
                        f"MessageAttributes: The message attribute '{name}' with type "
                        "'String.Array' has an invalid value"
                    )
            size += len(value.encode())
        size += len(name.encode()) + len(kind.encode())
    return size


def _structured(message: str) -> dict[str, str]:
    try:
        doc = json.loads(message)
    except ValueError:
        raise errors.invalid_parameter(
            "Message Structure - JSON message body failed to parse"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("default"), str):
        raise errors.invalid_parameter("Message Structure - No default entry in JSON message body")
    return {k: v for k, v in doc.items() if isinstance(v, str)}


class PublishHandlers:
    store: SnsStore
    delivery: Deliverer
    _dedup: dict[str, dict[str, tuple[float, str, str]]]

    _topic: Callable[[str | None], Doc]
    """Provided by ``TopicHandlers``."""
    _protect_inbound: Callable[[Any, Doc, Doc, str], None]
    """Provided by ``DataProtectionHandlers``."""

    def publish(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("PhoneNumber"):
            raise errors.not_supported("sms")
        arn = params.get("TopicArn") or params.get("TargetArn")
        if not arn:
            raise errors.invalid_parameter(
                "TopicArn or TargetArn Reason: no value for required parameter"
            )
        if ":endpoint/" in arn:
            raise errors.not_supported("application")
        if params.get("TopicArn") and params.get("TargetArn"):
            raise errors.invalid_parameter(
                "TopicArn Reason: Only one of TopicArn, TargetArn or PhoneNumber can be set"
            )
        topic = self._topic(arn)
        message = self._prepare(topic, params)
        self._protect_inbound(ctx, topic, message, params["Message"])
        message["Trace"] = _trace_header(ctx)
        return self._accept(topic, message)

    def publish_batch(self, ctx: Any, params: dict[str, Any]) -> Result:
        topic = self._topic(params["TopicArn"])
        entries = params.get("PublishBatchRequestEntries") or []
        if not entries:
            raise errors.empty_batch()
        if len(entries) > 10:
            raise errors.too_many_entries()
        ids = [e.get("Id", "") for e in entries]
        if len(set(ids)) != len(ids):
            raise errors.distinct_ids()
        if any(not _BATCH_ID.match(i) for i in ids):
            raise errors.invalid_batch_id()
        total = sum(
            len(e.get("Message", "").encode()) + _safe_size(e.get("MessageAttributes"))
            for e in entries
        )
        if total > MAX_BYTES:
            raise errors.batch_too_long()
        ok: list[Result] = []
        failed: list[Result] = []
        for entry in entries:
            try:
                message = self._prepare(topic, entry)
                self._protect_inbound(ctx, topic, message, entry["Message"])
                message["Trace"] = _trace_header(ctx)
                ok.append({"Id": entry["Id"], **self._accept(topic, message)})
            except ServiceError as exc:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "Code": exc.code,
                        "Message": exc.message,
                        "SenderFault": exc.sender_fault,
                    }
                )
        return {"Successful": ok, "Failed": failed}

    def _prepare(self, topic: Doc, params: dict[str, Any]) -> Doc:
        text = params.get("Message")
        if not text:
            raise errors.invalid_parameter("Empty message")
        subject = params.get("Subject")
        if subject is not None and (
            not subject or len(subject) > 100 or not all(32 <= ord(c) < 127 for c in subject)
        ):
            raise errors.invalid_parameter("Subject")
        attributes = params.get("MessageAttributes") or {}
        size = len(text.encode()) + _check_attributes(attributes)
        if size > MAX_BYTES:
            raise errors.invalid_parameter("Message too long")
        messages: dict[str, str] = {}
        structure = params.get("MessageStructure")
        if structure is not None:
            if structure != "json":
                raise errors.invalid_parameter("MessageStructure")
            messages = _structured(text)
            text = messages["default"]
        group = params.get("MessageGroupId")
        dedup = params.get("MessageDeduplicationId")
        if topic["Fifo"]:
            if not group:
                raise errors.invalid_parameter(
                    "The MessageGroupId parameter is required for FIFO topics"
                )
            if not _GROUP_ID.match(group):
                raise errors.invalid_parameter("MessageGroupId")
            if not dedup:
                if topic["Attributes"].get("ContentBasedDeduplication", "false") != "true":
                    raise errors.invalid_parameter(
                        "The topic should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                dedup = hashlib.sha256(text.encode()).hexdigest()
            elif not _GROUP_ID.match(dedup):
                raise errors.invalid_parameter("MessageDeduplicationId")
        elif dedup:
            raise errors.invalid_parameter(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                "parameter that is not valid for this topic type"
            )
        return {
            "MessageId": fast_uuid(),
            "Message": text,
            "Messages": messages,
            "Subject": subject,
            "MessageAttributes": attributes,
            "Timestamp": iso(clock.time()),
            "MessageGroupId": group,
            "MessageDeduplicationId": dedup,
        }

    def _accept(self, topic: Doc, message: Doc) -> Result:
        if not topic["Fifo"]:
            self.delivery.dispatch(topic, message)
            return {"MessageId": message["MessageId"]}
        now = clock.time()
        seen = self._dedup.setdefault(topic["TopicArn"], {})
        for key in [k for k, (at, _, _) in seen.items() if now - at > DEDUP_WINDOW]:
            del seen[key]
        previous = seen.get(message["MessageDeduplicationId"])
        if previous is not None:
            return {"MessageId": previous[1], "SequenceNumber": previous[2]}
        topic["Sequence"] = topic.get("Sequence", 0) + 1
        self.store.save_topic(topic)
        sequence = f"{topic['Sequence']:020d}"
        message["SequenceNumber"] = sequence
        seen[message["MessageDeduplicationId"]] = (now, message["MessageId"], sequence)
        self.delivery.dispatch(topic, message)
        return {"MessageId": message["MessageId"], "SequenceNumber": sequence}


def _trace_header(ctx: Any) -> str | None:
    """The publisher's ``X-Amzn-Trace-Id``, passed on with what SNS delivers."""
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    return headers.get("x-amzn-trace-id") if headers else None


def _safe_size(attributes: dict[str, Any] | None) -> int:
    size = 0
    for name, attr in (attributes or {}).items():
        value = attr.get("BinaryValue") or attr.get("StringValue") or ""
        size += len(name) + len(value if isinstance(value, bytes) else value.encode())
    return size
