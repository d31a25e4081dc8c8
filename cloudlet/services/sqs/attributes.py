"""Queue attributes and message attributes: AWS's names, limits and checks.

Queue attributes arrive and leave as strings (``"30"``, ``"true"``, JSON text);
inside cloudlet a queue's settings are a typed ``QueueConfig`` parsed once, so
the send/receive hot path never parses text. Each check raises the error AWS
raises for it, worded as AWS words it. Checks that need other queues (the
dead-letter target of a ``RedrivePolicy``) live with the queue registry.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, fields
from typing import Any

from cloudlet.services.sqs import errors

MAX_MESSAGE_SIZE = 1_048_576
"""The most bytes of a message, and of a batch, and the default MaximumMessageSize:
1 MiB since August 2025 (the API reference; it was 256 KiB)."""
MAX_MESSAGE_ATTRIBUTES = 10
DEDUP_WINDOW = 300.0

INT_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
BOOL_ATTRIBUTES = frozenset({"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"})
ENUM_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
JSON_ATTRIBUTES = frozenset({"Policy", "RedrivePolicy", "RedriveAllowPolicy"})
TEXT_ATTRIBUTES = frozenset({"KmsMasterKeyId"})
FIFO_ONLY = frozenset({"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})
COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
READ_ONLY = frozenset({*COUNTERS, "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"})
SETTABLE = frozenset(
    {*INT_RANGES, *BOOL_ATTRIBUTES, *ENUM_ATTRIBUTES, *JSON_ATTRIBUTES, *TEXT_ATTRIBUTES}
)
ALL_QUEUE_ATTRIBUTES = (
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
)

SYSTEM_ATTRIBUTE_NAMES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_ID = re.compile(r"[!-~]{1,128}")  # alphanumeric and punctuation
_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "deadLetterTargetArn": self.dead_letter_target_arn,
                "maxReceiveCount": self.max_receive_count,
            },
            separators=(",", ":"),
        )


@dataclass(slots=True)
class QueueConfig:
    """A queue's settable attributes, typed. Defaults are AWS's."""

    fifo: bool = False
    visibility_timeout: int = 30
    delay_seconds: int = 0
    maximum_message_size: int = MAX_MESSAGE_SIZE
    message_retention_period: int = 345_600
    receive_message_wait_time_seconds: int = 0
    policy: str | None = None
    redrive_policy: RedrivePolicy | None = None
    redrive_allow_policy: str | None = None
    kms_master_key_id: str | None = None
    kms_data_key_reuse_period_seconds: int = 300
    sqs_managed_sse_enabled: bool = True
    content_based_deduplication: bool = False
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"

    def to_wire(self) -> dict[str, str]:
        """The settable attributes as AWS shows them (only those that apply)."""
        out = {
            "VisibilityTimeout": str(self.visibility_timeout),
            "DelaySeconds": str(self.delay_seconds),
            "MaximumMessageSize": str(self.maximum_message_size),
            "MessageRetentionPeriod": str(self.message_retention_period),
            "ReceiveMessageWaitTimeSeconds": str(self.receive_message_wait_time_seconds),
            "SqsManagedSseEnabled": _bool(self.sqs_managed_sse_enabled),
        }
        if self.policy is not None:
            out["Policy"] = self.policy
        if self.redrive_policy is not None:
            out["RedrivePolicy"] = self.redrive_policy.to_json()
        if self.redrive_allow_policy is not None:
            out["RedriveAllowPolicy"] = self.redrive_allow_policy
        if self.kms_master_key_id is not None:
            out["KmsMasterKeyId"] = self.kms_master_key_id
            out["KmsDataKeyReusePeriodSeconds"] = str(self.kms_data_key_reuse_period_seconds)
        if self.fifo:
            out["FifoQueue"] = "true"
            out["ContentBasedDeduplication"] = _bool(self.content_based_deduplication)
            out["DeduplicationScope"] = self.deduplication_scope
            out["FifoThroughputLimit"] = self.fifo_throughput_limit
        return out

    def copy(self) -> QueueConfig:
        return QueueConfig(**{f.name: getattr(self, f.name) for f in fields(self)})


def _bool(value: bool) -> str:
    return "true" if value else "false"


def check_queue_name(name: str, fifo: bool) -> None:
    base = name[:-5] if name.endswith(".fifo") else name
    if fifo:
        if not name.endswith(".fifo") or not _QUEUE_NAME.fullmatch(base) or len(name) > 80:
            raise errors.invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not _QUEUE_NAME.fullmatch(name):
        raise errors.invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def is_fifo_request(attributes: dict[str, str]) -> bool:
    value = attributes.get("FifoQueue")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise errors.invalid_attribute_value("FifoQueue", value)
    return value.lower() == "true"


def normalize(name: str, value: str, fifo: bool, *, creating: bool) -> Any:
    """Check one attribute for a queue of this type; return its typed value.

    Returns ``None`` for the JSON/text attributes when ``value`` is empty (which
    clears them). ``RedrivePolicy`` comes back parsed but not yet checked
    against the registry.
    """
    if name in READ_ONLY or name not in SETTABLE:
        raise errors.unknown_attribute(name)
    if name == "FifoQueue":
        if not creating:
            raise errors.invalid_attribute_name(f"Invalid attribute name {name}")
        return is_fifo_request({name: value})
    if name in FIFO_ONLY and not fifo:
        if name in ("DeduplicationScope", "FifoThroughputLimit"):
            raise errors.invalid_attribute_name(
                f"You can specify the {name} only when FifoQueue is set to true."
            )
        raise errors.unknown_attribute(name)
    if name in INT_RANGES:
        lo, hi = INT_RANGES[name]
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            raise errors.invalid_attribute_value(name, value, f"Must be between {lo} and {hi}.")
        return number
    if name in BOOL_ATTRIBUTES:
        if value.lower() not in ("true", "false"):
            raise errors.invalid_attribute_value(name, value, "Must be true or false.")
        return value.lower() == "true"
    if name in ENUM_ATTRIBUTES:
        allowed = ENUM_ATTRIBUTES[name]
        if value not in allowed:
            raise errors.invalid_attribute_value(
                name, value, f"Must be one of: {', '.join(allowed)}."
            )
        return value
    if value == "":
        return None
    if name == "Policy":
        return _json_object(name, value)
    if name == "RedrivePolicy":
        return parse_redrive_policy(value)
    if name == "RedriveAllowPolicy":
        return _redrive_allow_policy(value)
    if name == "KmsMasterKeyId":
        return value
    raise errors.unknown_attribute(name)  # pragma: no cover - SETTABLE is exhaustive


def _json_object(name: str, value: str) -> str:
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise errors.invalid_attribute_value(name, value)
    return value


def parse_redrive_policy(value: str) -> RedrivePolicy:
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise errors.invalid_value(
            value, "RedrivePolicy", "Redrive policy is not a valid JSON map."
        )
    extra = set(doc) - {"deadLetterTargetArn", "maxReceiveCount"}
    if extra:
        raise errors.invalid_value(
            value,
            "RedrivePolicy",
            "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].",
        )
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in doc:
            raise errors.invalid_value(
                value,
                "RedrivePolicy",
                f"Redrive policy does not contain mandatory attribute: {key}.",
            )
    count = doc["maxReceiveCount"]
    try:
        count = int(count) if not isinstance(count, bool) else None
    except (TypeError, ValueError):
        count = None
    if count is None or not 1 <= count <= 1000:
        raise errors.invalid_value(
            value,
            "RedrivePolicy",
            f"Invalid value for maxReceiveCount: {doc['maxReceiveCount']}, valid values are "
            "from 1 to 1000 both inclusive.",
        )
    arn = doc["deadLetterTargetArn"]
    if not isinstance(arn, str) or not arn.startswith("arn:") or arn.count(":") < 5:
        raise errors.invalid_value(value, "RedrivePolicy", "Invalid value for deadLetterTargetArn.")
    return RedrivePolicy(arn, count)


def _redrive_allow_policy(value: str) -> str:
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise errors.invalid_value(
            value, "RedriveAllowPolicy", "Redrive allow policy is not a valid JSON map."
        )
    permission = doc.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise errors.invalid_value(
            value,
            "RedriveAllowPolicy",
            "Invalid value for redrivePermission. Valid values are allowAll, denyAll, byQueue.",
        )
    sources = doc.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not 1 <= len(sources) <= 10:
            raise errors.invalid_value(
                value,
                "RedriveAllowPolicy",
                "Amazon SQS can't create the redrive allow policy, as it's in an unsupported "
                "format. sourceQueueArns must contain between 1 and 10 queue ARNs when "
                "redrivePermission is byQueue.",
            )
    elif sources is not None:
        raise errors.invalid_value(
            value,
            "RedriveAllowPolicy",
            "sourceQueueArns can be specified only when redrivePermission is byQueue.",
        )
    return value


def redrive_allowed(allow_policy: str | None, source_arn: str) -> bool:
    """Whether a dead-letter queue with ``allow_policy`` accepts ``source_arn``."""
    if allow_policy is None:
        return True
    doc = json.loads(allow_policy)
    permission = doc.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in doc.get("sourceQueueArns", [])
    return True


# Queue attribute name -> QueueConfig field, for the attributes set as given.
_FIELDS = {
    "FifoQueue": "fifo",
    "VisibilityTimeout": "visibility_timeout",
    "DelaySeconds": "delay_seconds",
    "MaximumMessageSize": "maximum_message_size",
    "MessageRetentionPeriod": "message_retention_period",
    "ReceiveMessageWaitTimeSeconds": "receive_message_wait_time_seconds",
    "Policy": "policy",
    "RedrivePolicy": "redrive_policy",
    "RedriveAllowPolicy": "redrive_allow_policy",
    "KmsMasterKeyId": "kms_master_key_id",
    "KmsDataKeyReusePeriodSeconds": "kms_data_key_reuse_period_seconds",
    "SqsManagedSseEnabled": "sqs_managed_sse_enabled",
    "ContentBasedDeduplication": "content_based_deduplication",
    "DeduplicationScope": "deduplication_scope",
    "FifoThroughputLimit": "fifo_throughput_limit",
}


def apply(config: QueueConfig, values: dict[str, Any]) -> None:
    """Set checked, typed values (from ``normalize``) on ``config``."""
    for name, value in values.items():
        field = _FIELDS.get(name)
        if field is not None:
            setattr(config, field, value)
    # SSE-KMS and SQS-managed SSE exclude each other: setting one clears the other.
    if values.get("KmsMasterKeyId") is not None and "SqsManagedSseEnabled" not in values:
        config.sqs_managed_sse_enabled = False
    if values.get("SqsManagedSseEnabled") and "KmsMasterKeyId" not in values:
        config.kms_master_key_id = None
    if (
        config.fifo_throughput_limit == "perMessageGroupId"
        and config.deduplication_scope != "messageGroup"
    ):
        raise errors.invalid_attribute_value(
            "FifoThroughputLimit",
            config.fifo_throughput_limit,
            "The perMessageGroupId value is allowed only when the value for "
            "DeduplicationScope is messageGroup.",
        )
    if config.kms_master_key_id is not None and config.sqs_managed_sse_enabled:
        raise errors.invalid_attribute_name(
            "You can use one type of server-side encryption (SSE) at one time. You can either "
            "enable KMS SSE or SQS SSE."
        )


def config_from_wire(attributes: dict[str, str]) -> QueueConfig:
    """Rebuild a config from stored (already checked) wire values."""
    fifo = attributes.get("FifoQueue") == "true"
    config = QueueConfig(fifo=fifo)
    typed = {}
    for name, value in attributes.items():
        if name == "RedrivePolicy":
            typed[name] = parse_redrive_policy(value)
        elif name in INT_RANGES:
            typed[name] = int(value)
        elif name in BOOL_ATTRIBUTES:
            typed[name] = value == "true"
        else:
            typed[name] = value
    apply(config, typed)
    return config


# --- message attributes -------------------------------------------------------------


def check_body(body: str) -> None:
    if body == "":
        raise errors.missing_parameter("MessageBody")
    if _BAD_CHARS.search(body) is not None:
        raise errors.invalid_message_contents()


def check_fifo_id(value: str, parameter: str) -> None:
    if not _FIFO_ID.fullmatch(value):
        raise errors.invalid_value(
            value,
            parameter,
            f"{parameter} can only include alphanumeric and punctuation characters. "
            "1 to 128 in length.",
        )


def check_message_attributes(attributes: dict[str, dict[str, Any]]) -> int:
    """Check user message attributes; return the bytes they count towards the size limit."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise errors.invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    size = 0
    for name, value in attributes.items():
        if not _ATTR_NAME.fullmatch(name) or ".." in name:
            raise errors.invalid_parameter(
                f"The message attribute name '{name}' is invalid. Attribute name can contain "
                "A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."
            )
        lowered = name.lower()
        if lowered.startswith(("aws.", "amazon.")) or name.startswith(".") or name.endswith("."):
            raise errors.invalid_parameter(
                f"The message attribute name '{name}' is invalid. You can't use message "
                "attribute names beginning with 'AWS.' or 'Amazon.'. These strings are reserved "
                "for internal use. Additionally, they cannot start or end with '.'."
            )
        size += len(name.encode("utf-8")) + _check_value(name, value, "message attribute")
    return size


def _check_value(name: str, value: dict[str, Any], what: str) -> int:
    data_type = value.get("DataType") or ""
    base = data_type.split(".", 1)[0]
    if (
        base not in ("String", "Number", "Binary")
        or len(data_type) > 256
        or data_type.endswith(".")
    ):
        raise errors.invalid_parameter(
            f"The {what} '{name}' has an invalid message attribute type, the set of supported "
            "type prefixes is Binary, Number, and String."
        )
    size = len(data_type.encode("utf-8"))
    if base == "Binary":
        data = value.get("BinaryValue")
        if not data:
            raise errors.invalid_parameter(
                f"The {what} '{name}' must contain non-empty message attribute value for "
                f"message attribute type '{base}'."
            )
        return size + len(data)
    text = value.get("StringValue")
    if not text:
        raise errors.invalid_parameter(
            f"The {what} '{name}' must contain non-empty message attribute value for message "
            f"attribute type '{base}'."
        )
    if _BAD_CHARS.search(text) is not None:
        raise errors.invalid_parameter(
            f"Invalid characters found in the {what} '{name}'. Valid unicode characters are "
            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
        )
    if base == "Number" and not _NUMBER.fullmatch(text.strip()):
        raise errors.invalid_parameter(f"Can't cast the value of {what} '{name}' to a number.")
    return size + len(text.encode("utf-8"))


def check_system_attributes(attributes: dict[str, dict[str, Any]]) -> str | None:
    """Check ``MessageSystemAttributes`` on a send; return the ``AWSTraceHeader`` value."""
    trace = None
    for name, value in attributes.items():
        if name != "AWSTraceHeader":
            raise errors.invalid_parameter(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String":
            raise errors.invalid_parameter(
                f"The message system attribute '{name}' must contain a DataType of String."
            )
        _check_value(name, value, "message system attribute")
        trace = value["StringValue"]
    return trace


def pack_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    """Message attributes to the compact text stored with a message."""
    packed = []
    for name, value in attributes.items():
        data_type = value["DataType"]
        if data_type.startswith("Binary"):
            packed.append(
                [name, data_type, 2, base64.b64encode(bytes(value["BinaryValue"])).decode()]
            )
        else:
            packed.append([name, data_type, 1, value["StringValue"]])
    return json.dumps(packed, separators=(",", ":"), ensure_ascii=False)


def unpack_attributes(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, data_type, kind, value in json.loads(text):
        if kind == 2:
            out[name] = {"DataType": data_type, "BinaryValue": base64.b64decode(value)}
        else:
            out[name] = {"DataType": data_type, "StringValue": value}
    return out


def select_attributes(
    attributes: dict[str, dict[str, Any]], wanted: list[str]
) -> dict[str, dict[str, Any]]:
    """Filter by ``MessageAttributeNames``: ``All``, ``.*``, ``prefix.*`` or exact names."""
    if not wanted:
        return {}
    if "All" in wanted or ".*" in wanted:
        return attributes
    out = {}
    prefixes = tuple(w[:-1] for w in wanted if w.endswith(".*"))
    exact = set(wanted)
    for name, value in attributes.items():
        if name in exact or (prefixes and name.startswith(prefixes)):
            out[name] = value
    return out
