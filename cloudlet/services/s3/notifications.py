"""Event notifications: the configuration, and S3 event records delivered to
SQS queues, SNS topics and Lambda functions.

``PutBucketNotificationConfiguration`` checks each configuration before
storing any (a refused document leaves the earlier one in place): its events,
its ARN (S3's "The ARN could not be parsed", naming the target kind as S3 does:
``Queue``, ``Topic``, ``CloudFunction``) and that the ARN is in the bucket's region
(S3 delivers to no other), its key filter (at most one prefix and
one suffix rule, names in any case, stored as ``Prefix``/``Suffix`` as S3 returns
them), that no two configurations share an ``Id``, then that each target queue,
topic or function exists (as S3 validates destinations, naming every missing one in
one error), that no two overlap (one event on one key matching two of them, as S3
does), and sends queues and topics the ``s3:TestEvent``. Afterwards every
object created or removed (Put, Post from a browser form (``post.py``), Copy,
CompleteMultipartUpload, Delete, delete markers, lifecycle expirations),
restored (``restore.py``: ``ObjectRestore:Post`` and ``:Completed``), tagged
(``ObjectTagging:Put``/``:Delete``) or given a different ACL (``ObjectAcl:Put``,
these two as S3's version 2.3 records of key and ETag) whose
event name and key match a configuration's ``Events`` (``s3:ObjectCreated:*``
wildcards) and prefix/suffix filter rules is sent as S3's event JSON to the
target. A record names the request that caused it as that request's response does
(``x-amz-request-id``, ``x-amz-id-2``), and a message to a queue carries the
request's ``X-Amzn-Trace-Id`` as its ``AWSTraceHeader``, as S3 passes it on.

Delivery goes through ``ServiceEnv.call`` (SQS's own ``SendMessage``, SNS's
``Publish`` with Subject "Amazon S3 Notification", Lambda's ``Invoke`` with
InvocationType Event; no import of their internals), in a task after the
response, as S3 delivers asynchronously.

An ``EventBridgeConfiguration`` (the empty element switches it on) is stored with
the rest of the document and returned by GetBucketNotificationConfiguration; while it
is there every event above also goes to EventBridge's default bus, alongside the
queues, topics and functions (``eventbridge.py``).
"""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, canonical_user_id
from cloudlet.services.s3.config import ConfigHandlers, canned_acl, without_display_names
from cloudlet.services.s3.eventbridge import EventBridgeNotifications
from cloudlet.services.s3.store import NULL_VERSION, Bucket, ObjectVersion

log = logging.getLogger(__name__)

EVENTS = frozenset(
    (
        "s3:ReducedRedundancyLostObject",
        "s3:ObjectCreated:*",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*",
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post",
        "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete",
        "s3:Replication:*",
        # Sent for replication rules with metrics or Replication Time Control
        # (replication_metrics.py).
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
        "s3:ObjectTagging:*",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
    )
)
_sequence = itertools.count(1)
EVENTBRIDGE = "EventBridgeConfiguration"


def _event_matches(wanted: list[str], event: str) -> bool:
    for pattern in wanted:
        if pattern == event or (pattern.endswith(":*") and event.startswith(pattern[:-1])):
            return True
    return False


def _filter_matches(config: dict[str, Any], key: str) -> bool:
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    for rule in rules:
        name, value = rule.get("Name", "").lower(), rule.get("Value", "")
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def _key_filter(config: dict[str, Any]) -> tuple[str, str]:
    """A configuration's (prefix, suffix); an absent rule is "", which every key matches."""
    prefix = suffix = ""
    for rule in ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name = rule.get("Name", "").lower()
        if name == "prefix":
            prefix = rule.get("Value", "")
        elif name == "suffix":
            suffix = rule.get("Value", "")
    return prefix, suffix


def _shared_event(first: list[str], second: list[str]) -> tuple[str, str] | None:
    """A pair of events, one from each list, that some event matches both of
    (``s3:ObjectCreated:*`` and ``s3:ObjectCreated:Put`` do)."""
    for a in first:
        for b in second:
            if _event_matches([a], b) or _event_matches([b], a):
                return a, b
    return None


def _keys_meet(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Whether some key matches both filters: each prefix starts the other or is
    started by it, and likewise for the suffixes (``jpg`` and ``pg``)."""
    (p1, s1), (p2, s2) = one, other
    return (p1.startswith(p2) or p2.startswith(p1)) and (s1.endswith(s2) or s2.endswith(s1))


def _check_overlaps(stored: dict[str, list[dict[str, Any]]]) -> None:
    """S3 refuses two configurations (of any target kind) that one event on one key
    would both match, so no event has two destinations. Unfiltered pairs get
    "Configurations overlap" naming the two events (as S3 answered, recorded in
    minio/minio#2472); filtered ones the "ambiguously defined" message that AWS's
    knowledge-center article and users' PutBucketNotificationConfiguration errors quote.
    """
    configs = [(c, _key_filter(c)) for kind, _, _ in TARGETS for c in stored.get(kind, [])]
    for i, (one, keys) in enumerate(configs):
        for other, other_keys in configs[i + 1 :]:
            shared = _shared_event(one["Events"], other["Events"])
            if shared is None or not _keys_meet(keys, other_keys):
                continue
            if keys == other_keys == ("", ""):
                raise errors.invalid_argument(
                    "Configurations overlap. Configurations on the same bucket cannot "
                    "share a common event type.",
                    "Event",
                    ", ".join(shared),
                )
            raise errors.invalid_argument(
                "Configuration is ambiguously defined. Cannot have overlapping suffixes in "
                "two rules if the prefixes are overlapping for the same event type."
            )


def _user(event: str, account: str, owner: str, ctx: Any) -> str:
    """A record's ``userIdentity.principalId``: ``AWS:`` and the caller's unique id, an IAM
    user's or role session's (the event structure's "unique ID of the IAM resource that
    caused the event"), else the account's. A completed (or expiring) restore is S3's own
    doing on the owner's behalf: ``AmazonCustomer:`` and the bucket owner's id, the one its
    ``ownerIdentity`` names (LocalStack's AWS-recorded ``test_restore_object``)."""
    if event in ("s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete"):
        return f"AmazonCustomer:{owner}"
    principal = getattr(ctx, "principal", None)
    if principal is not None and principal.kind in ("user", "assumed-role"):
        return f"AWS:{principal.user_id}"
    return f"AWS:{account}"


def _replication_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What a replication event's record has instead: S3's own doing, version 2.2, and
    its ``replicationEventData`` (the user guide's OperationFailedReplication example)."""
    return {
        "eventVersion": "2.2",
        "userIdentity": {"principalId": "s3.amazonaws.com"},
        "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"},
        "replicationEventData": data,
    }


def _source_ip(ctx: Any) -> str:
    request = getattr(ctx, "request", None)
    return getattr(request, "client", None) or "127.0.0.1"


def time_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


TARGETS = (
    ("QueueConfigurations", "QueueArn", "sqs"),
    ("TopicConfigurations", "TopicArn", "sns"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
)
_NOUN = {"sqs": "queue", "sns": "topic", "lambda": "function"}
# The ArgumentName S3 gives an ARN it cannot parse (Lambda's is its old name).
_ARGUMENT = {"sqs": "Queue", "sns": "Topic", "lambda": "CloudFunction"}


def _queue_parts(queue_arn: str, service: str = "sqs") -> tuple[str, str, str] | None:
    """``arn:aws:<service>:<region>:<account>:<name>`` -> (region, account, name)."""
    parts = queue_arn.split(":")
    if service == "lambda" and len(parts) in (7, 8) and parts[:3] == ["arn", "aws", "lambda"]:
        return parts[3], parts[4], parts[6]
    if len(parts) != 6 or parts[:3] != ["arn", "aws", service]:
        return None
    return parts[3], parts[4], parts[5]


def _unvalidated(missing: list[tuple[str, str]]) -> ServiceError:
    """S3 numbers the destinations it could not validate: ``ArgumentName<n>`` is an
    ARN, ``ArgumentValue<n>`` why (not the plain ArgumentName/ArgumentValue pair)."""
    fields: dict[str, str] = {}
    for n, (arn, why) in enumerate(missing, 1):
        fields[f"ArgumentName{n}"] = arn
        fields[f"ArgumentValue{n}"] = why
    return errors.s3_error(
        "InvalidArgument",
        "Unable to validate the following destination configurations",
        400,
        **fields,
    )


_GONE = "The destination {} does not exist"
_FIFO = "The destination {0} is a FIFO {0}: S3 event notifications go to standard ones only"
_NOT_PERMITTED = {
    "sqs": "Permissions on the destination queue do not allow S3 to publish notifications "
    "from this bucket",
    "sns": "Permissions on the destination topic do not allow S3 to publish notifications "
    "from this bucket",
    "lambda": "Not authorized to invoke function [{arn}]",
}
"""S3's reasons when a destination's policy does not let it deliver (strict mode)."""


def _delivery(
    arn: str, body: str, trace: str | None = None
) -> tuple[str, str, dict[str, Any], str, str] | None:
    """The call that delivers ``body`` to the queue, topic or function ``arn``:
    (service, operation, params, account, region); None for an ARN of none of them.
    ``trace``: the causing request's ``X-Amzn-Trace-Id``, a queue message's
    ``AWSTraceHeader`` (LocalStack's AWS-recorded ``test_xray_header``)."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    parts = _queue_parts(arn, service) if service in _NOUN else None
    if parts is None:
        return None
    region, account, name = parts
    if service == "sqs":
        params: dict[str, Any] = {
            "QueueUrl": f"http://localhost/{account}/{name}",
            "MessageBody": body,
        }
        if trace:
            params["MessageSystemAttributes"] = {
                "AWSTraceHeader": {"DataType": "String", "StringValue": trace}
            }
        return service, "SendMessage", params, account, region
    if service == "sns":
        params = {"TopicArn": arn, "Subject": "Amazon S3 Notification", "Message": body}
        return service, "Publish", params, account, region
    params = {"FunctionName": arn, "InvocationType": "Event", "Payload": body.encode()}
    if trace:  # the header S3 invokes with (Lambda's recursive loop detection reads it)
        params["X-Amzn-Trace-Id"] = trace
    return service, "Invoke", params, account, region


def _checked_config(
    config: dict[str, Any], arn: str, service: str, bucket: Bucket
) -> dict[str, Any]:
    """``config`` as stored (filter rule names normalised), once its form is one S3
    accepts: events, then the ARN and its region, then the key filter."""
    events = config.get("Events") or []
    if not events:
        raise errors.malformed_xml()
    for event in events:
        if event not in EVENTS:
            raise errors.invalid_argument(
                "The event is not supported for notifications", "Event", event
            )
    parts = _queue_parts(arn, service)
    if parts is None:
        raise errors.invalid_argument("The ARN could not be parsed", _ARGUMENT[service], arn)
    if parts[0] != bucket.region:
        # S3's answer (cloud-custodian/cloud-custodian#1720); the user guide: a topic or
        # queue "must be in the same Region as your Amazon S3 bucket". Checked even with
        # SkipDestinationValidation, like the ARN's form: no delivery could ever happen.
        raise errors.invalid_argument(
            "The notification destination service region is not valid for the bucket "
            "location constraint"
        )
    return _checked_filter(config)


def _check_ids(stored: dict[str, list[dict[str, Any]]]) -> None:
    """S3 refuses one ``Id`` on two configurations, of any kind: InvalidArgument "Same
    ID used for multiple configurations. IDs must be unique." (the code and message
    users' PutBucketNotificationConfiguration calls got and match on)."""
    seen: set[str] = set()
    for kind, _, _ in TARGETS:
        for config in stored.get(kind) or []:
            if config["Id"] in seen:
                raise errors.invalid_argument(
                    "Same ID used for multiple configurations. IDs must be unique."
                )
            seen.add(config["Id"])


def _response_elements(ctx: Any) -> dict[str, str]:
    """A record's ``responseElements``: the ids of the response to the request that
    caused the event (cloudlet's S3 sends its request id as both headers,
    ``protocols/restxml.py``); new ones for an event no client request caused (a
    lifecycle action, a restore completing)."""
    if ctx is None or getattr(ctx, "request", None) is None:
        return {"x-amz-request-id": fast_uuid(), "x-amz-id-2": fast_uuid()}
    return {"x-amz-request-id": ctx.request_id, "x-amz-id-2": ctx.request_id}


def _trace_header(ctx: Any) -> str | None:
    """The ``X-Amzn-Trace-Id`` of the request that caused an event, if it sent one."""
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    return headers.get("x-amzn-trace-id") if headers else None


def _checked_filter(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its key filter rules named ``Prefix``/``Suffix`` (S3 takes any
    case and returns these), or S3's InvalidArgument for a rule it refuses."""
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules")
    if not rules:
        return config
    named: list[dict[str, Any]] = []
    for rule in rules:
        name = str(rule.get("Name", ""))
        kind = name.lower()
        if kind not in ("prefix", "suffix"):
            raise errors.invalid_argument(
                "filter rule name must be either prefix or suffix", "FilterRule.Name", name
            )
        if any(r["Name"].lower() == kind for r in named):
            raise errors.invalid_argument(f"Cannot specify more than one {kind} rule in a filter.")
        named.append({**rule, "Name": kind.capitalize()})
    flt = config["Filter"]
    return {**config, "Filter": {**flt, "Key": {**flt["Key"], "FilterRules": named}}}


class NotificationHandlers(EventBridgeNotifications, ConfigHandlers):
    """Put/GetBucketNotificationConfiguration, and event delivery on writes and deletes."""

    _deliveries: Background

    async def put_bucket_notification_configuration(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = dict(params.get("NotificationConfiguration") or {})
        stored: dict[str, Any] = {}
        # Every configuration's own form first (events, ARN, filter), then the
        # destinations, all of them: S3's ``one-queue-invalid-one-not-existent`` names
        # the unparseable ARN although an earlier queue does not exist.
        for kind, key, service in TARGETS:
            for config in document.get(kind) or []:
                config = _checked_config(config, config.get(key, ""), service, bucket)
                stored.setdefault(kind, []).append(
                    {**config, "Id": config.get("Id") or fast_uuid()}
                )
        _check_ids(stored)
        if not params.get("SkipDestinationValidation"):
            await self._check_destinations(stored, bucket)
        _check_overlaps(stored)
        if document.get(EVENTBRIDGE) is not None:  # present, even empty, switches it on
            stored[EVENTBRIDGE] = {}
        if stored:
            self.configs.put(bucket.name, "notification", stored)
        else:
            self.configs.delete(bucket.name, "notification")
        test = {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": time_text(clock.time()),
            "Bucket": bucket.name,
            "RequestId": ctx.request_id,
            "HostId": ctx.request_id,
        }
        targets = [c["QueueArn"] for c in stored.get("QueueConfigurations", [])]
        targets += [c["TopicArn"] for c in stored.get("TopicConfigurations", [])]
        for arn in dict.fromkeys(targets):
            await self._deliver(arn, json.dumps(test), bucket)
        return {}

    async def _check_destinations(
        self, stored: dict[str, list[dict[str, Any]]], bucket: Bucket
    ) -> None:
        """S3's one InvalidArgument naming every target that does not exist, numbered
        ``ArgumentName1``/``ArgumentValue1``, ``2``... (``multiple-queues-do-not-exist``),
        or (strict mode) whose policy does not let S3 deliver from this bucket."""
        missing: list[tuple[str, str]] = []
        for kind, key, service in TARGETS:
            for config in stored.get(kind) or []:
                arn = config[key]
                # S3 names a function ", null" (LocalStack's AWS-recorded
                # lambda-does-not-exist), and tells a missing one from a closed one no more.
                named = f"{arn}, null" if service == "lambda" else arn
                refused = _NOT_PERMITTED[service].format(arn=arn)
                if not await self._destination_exists(arn, service):
                    missing.append(
                        (named, refused if service == "lambda" else _GONE.format(_NOUN[service]))
                    )
                elif service != "lambda" and arn.endswith(".fifo"):
                    # Standard queues and topics only (the S3 user guide's destinations).
                    missing.append((named, _FIFO.format(_NOUN[service])))
                elif not self._may_deliver(_delivery(arn, ""), bucket):
                    missing.append((named, refused))
        if missing:
            raise _unvalidated(missing)

    def _may_deliver(
        self, delivery: tuple[str, str, dict[str, Any], str, str] | None, bucket: Bucket
    ) -> bool:
        """Strict mode: whether the policy of the queue, topic or function ``delivery``
        (``_delivery``) goes to lets ``s3.amazonaws.com`` deliver from ``bucket`` (AWS
        sends nothing otherwise)."""
        if delivery is None:
            return True
        service, operation, params, account, region = delivery
        return self.env.service_may(  # type: ignore[attr-defined]
            service,
            operation,
            params,
            account=account,
            region=region,
            principal="s3.amazonaws.com",
            source_arn=f"arn:aws:s3:::{bucket.name}",
            source_account=bucket.account,
        )

    async def _destination_exists(self, arn: str, service: str) -> bool:
        region, account, name = _queue_parts(arn, service) or ("", "", "")
        check = {
            "sqs": ("GetQueueUrl", {"QueueName": name, "QueueOwnerAWSAccountId": account}),
            "sns": ("GetTopicAttributes", {"TopicArn": arn}),
            "lambda": ("GetFunction", {"FunctionName": arn}),
        }[service]
        try:
            await self.env.call(  # type: ignore[attr-defined]
                service, check[0], check[1], account=account, region=region
            )
        except NotImplementedOperation:
            log.info("cannot validate %s: %s is not running", arn, service)
        except ServiceError:
            return False
        return True

    def get_bucket_notification_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        return self.configs.get(bucket.name, "notification") or {}

    # -- the writes and deletes that notify ---------------------------------------------

    async def put_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().put_object(ctx, params)  # type: ignore[misc]
        self._notify_created(ctx, params["Bucket"], params["Key"], out, "Put")
        return out

    async def copy_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().copy_object(ctx, params)  # type: ignore[misc]
        self._notify_created(ctx, params["Bucket"], params["Key"], out, "Copy")
        return out

    async def complete_multipart_upload(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = await super().complete_multipart_upload(ctx, params)  # type: ignore[misc]
        self._notify_created(ctx, params["Bucket"], params["Key"], out, "CompleteMultipartUpload")
        return out

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_object(ctx, params)  # type: ignore[misc]
        bucket = self._notifying(params["Bucket"])
        if bucket is not None:
            by_version = params.get("VersionId") is not None
            self._notify_removed(ctx, bucket, params["Key"], out, by_version)
        return out

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_objects(ctx, params)  # type: ignore[misc]
        bucket = self._notifying(params["Bucket"])
        if bucket is not None:
            entries = out.get("Deleted")
            if entries is None and (params.get("Delete") or {}).get("Quiet"):
                failed = {e["Key"] for e in out.get("Errors") or []}
                entries = [
                    {"Key": o["Key"], "VersionId": o.get("VersionId")}
                    for o in params["Delete"].get("Objects") or []
                    if o.get("Key") not in failed
                ]
            for entry in entries or []:
                by_version = entry.get("VersionId") is not None
                self._notify_removed(ctx, bucket, entry["Key"], entry, by_version)
        return out

    def put_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().put_object_tagging(ctx, params)
        self._notify_changed(ctx, params, "s3:ObjectTagging:Put")
        return out

    def delete_object_tagging(self, ctx: Any, params: dict[str, Any]) -> Result:
        out = super().delete_object_tagging(ctx, params)
        self._notify_changed(ctx, params, "s3:ObjectTagging:Delete")
        return out

    def put_object_acl(self, ctx: Any, params: dict[str, Any]) -> Result:
        """``s3:ObjectAcl:Put`` only when the ACL changes: S3 sends nothing for
        ``private`` on an object that already has it (``test_object_put_acl``)."""
        bucket = self._notifying(params["Bucket"])
        before = self._acl_now(bucket, params) if bucket is not None else None
        out = super().put_object_acl(ctx, params)
        if bucket is not None and self._acl_now(bucket, params) != before:
            self._notify_changed(ctx, params, "s3:ObjectAcl:Put")
        return out

    def _version_now(self, bucket: Bucket, params: dict[str, Any]) -> ObjectVersion | None:
        try:
            return self._find(bucket, params["Key"], params.get("VersionId"), "GET")
        except ServiceError:
            return None

    def _acl_now(self, bucket: Bucket, params: dict[str, Any]) -> dict[str, Any] | None:
        version = self._version_now(bucket, params)
        if version is None:
            return None
        return without_display_names(
            version.extra.get("acl") or canned_acl("private", version.owner)
        )

    def _notify_changed(self, ctx: Any, params: dict[str, Any], event: str) -> None:
        """A tagging or ACL event for the version a request changed: S3's event
        version 2.3, the object's key and ETag (``test_object_tagging_put_event``,
        ``test_object_tagging_delete_event``, ``test_object_put_acl``)."""
        bucket = self._notifying(params["Bucket"])
        if bucket is None:
            return
        version = self._version_now(bucket, params)
        if version is None:
            return
        version_id = version.version_id if bucket.versioning is not None else None
        self._notify(
            bucket, event, params["Key"], etag=version.etag, version_id=version_id, ctx=ctx
        )

    def _notifying(self, name: str) -> Bucket | None:
        """The bucket, when it has a notification configuration (a cached lookup)."""
        if not self.configs.get(name, "notification"):
            return None
        return self.store.get_bucket(name)

    def _notify_created(self, ctx: Any, name: str, key: str, out: Result, how: str) -> None:
        """``s3:ObjectCreated:<how>`` for the version a write answered (``out``'s VersionId).

        Also the hook of POST uploads (``post.py``), which are not an operation
        of this class: the gateway hands the form to ``post_object``.
        """
        bucket = self._notifying(name)
        if bucket is None:
            return
        version_id = out.get("VersionId")
        version = self.store.version(name, key, version_id or NULL_VERSION)
        self._notify(
            bucket,
            f"s3:ObjectCreated:{how}",
            key,
            size=version.size if version is not None else None,
            etag=version.etag if version is not None else out.get("ETag"),
            version_id=version_id,
            ctx=ctx,
        )

    def _notify_removed(
        self, ctx: Any, bucket: Bucket, key: str, entry: Result, by_version: bool
    ) -> None:
        """A delete without a version id in a versioning bucket only adds a marker."""
        if entry.get("DeleteMarker") and not by_version:
            event = "s3:ObjectRemoved:DeleteMarkerCreated"
            version_id = entry.get("DeleteMarkerVersionId") or entry.get("VersionId")
        else:
            event = "s3:ObjectRemoved:Delete"
            version_id = entry.get("VersionId")
        self._notify(bucket, event, key, version_id=version_id, ctx=ctx)

    # -- building and delivering records -------------------------------------------------

    def _notify(
        self,
        bucket: Bucket,
        event: str,
        key: str,
        *,
        size: int | None = None,
        etag: str | None = None,
        version_id: str | None = None,
        glacier: dict[str, Any] | None = None,
        replication: dict[str, Any] | None = None,
        tiering: dict[str, Any] | None = None,
        ctx: Any = None,
    ) -> None:
        """Send ``event`` to every matching queue, topic and function, and to EventBridge
        when the bucket sends there; ``glacier``: a restore's
        ``glacierEventData``; ``tiering``: an Intelligent-Tiering move's
        ``intelligentTieringEventData`` (``tiering.py``); ``replication``: a replication event's
        ``replicationEventData`` (``replication_metrics.py``); ``ctx``: the request that
        caused it (None: no request did, or the caller does not say: restore.py's and
        lifecycle.py's hooks)."""
        document = self.configs.get(bucket.name, "notification") or {}
        ids, trace = _response_elements(ctx), _trace_header(ctx)
        for kind, arn_key, _ in TARGETS:
            for config in document.get(kind) or []:
                if not _event_matches(config.get("Events") or [], event) or not _filter_matches(
                    config, key
                ):
                    continue
                record = self._record(
                    bucket, event, key, config["Id"], size, etag, version_id, ids, ctx
                )
                if glacier is not None:
                    record["glacierEventData"] = glacier
                if tiering is not None:
                    record["intelligentTieringEventData"] = tiering
                if replication is not None:
                    record.update(_replication_fields(replication))
                body = json.dumps({"Records": [record]})
                self._schedule(config[arn_key], body, bucket, trace)
        if EVENTBRIDGE in document:
            self._to_eventbridge(
                bucket,
                event,
                key,
                size=size,
                etag=etag,
                version_id=version_id,
                glacier=glacier,
                ctx=ctx,
                tiering=tiering,
            )

    def _record(
        self,
        bucket: Bucket,
        event: str,
        key: str,
        config_id: str,
        size: int | None,
        etag: str | None,
        version_id: str | None,
        ids: dict[str, str],
        ctx: Any,
    ) -> dict[str, Any]:
        principal = canonical_user_id(bucket.account)
        obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
        if size is not None:
            obj["size"] = size
        if etag:
            obj["eTag"] = etag.strip('"')
        if version_id and version_id != NULL_VERSION:
            obj["versionId"] = version_id
        # Tagging and ACL events are S3's version 2.3 records: no size, no sequencer.
        changed = event.startswith(("s3:ObjectTagging:", "s3:ObjectAcl:"))
        if not changed:
            obj["sequencer"] = f"{int(clock.time() * 1000):012X}{next(_sequence):08X}"
        return {
            "eventVersion": "2.3" if changed else "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": time_text(clock.time()),
            "eventName": event.removeprefix("s3:"),
            "userIdentity": {"principalId": _user(event, bucket.account, principal, ctx)},
            "requestParameters": {"sourceIPAddress": _source_ip(ctx)},
            "responseElements": ids,
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": config_id,
                "bucket": {
                    "name": bucket.name,
                    "ownerIdentity": {"principalId": principal},
                    "arn": f"arn:aws:s3:::{bucket.name}",
                },
                "object": obj,
            },
        }

    def _schedule(
        self, queue_arn: str, body: str, bucket: Bucket, trace: str | None = None
    ) -> None:
        """Deliver after the response (S3 delivers asynchronously), in order."""
        if not hasattr(self, "_deliveries"):
            self._deliveries = Background()
        self._deliveries.spawn(self._deliver(queue_arn, body, bucket, trace))

    async def _deliver(self, arn: str, body: str, bucket: Bucket, trace: str | None = None) -> None:
        """Send ``body`` to the queue, topic or function ``arn`` names (in strict mode,
        only where its policy lets S3 deliver from ``bucket``); ``trace``: ``_delivery``'s."""
        delivery = _delivery(arn, body, trace)
        if delivery is None:
            return
        service, operation, call, account, region = delivery
        if not self._may_deliver(delivery, bucket):
            log.warning("S3 notification to %s not delivered: its policy does not allow S3", arn)
            return
        try:
            await self.env.call(  # type: ignore[attr-defined]
                service, operation, call, account=account, region=region
            )
        except ServiceError as err:
            log.warning("S3 notification to %s not delivered: %s", arn, err.message)
