"""Target operations: PutTargets, RemoveTargets, ListTargetsByRule.

A rule has at most 5 targets. What a request gets wrong as a whole (an Id or ARN out of
form, two input settings, a FIFO queue without ``SqsParameters``) refuses the whole
call with EventBridge's ValidationException, and so does an API destination, Kinesis
stream or Firehose delivery stream target without a ``RoleArn`` (AWS writes to those as
the target's role: the PutTargets reference; ``RoleArn is required for target <arn>.``,
as AWS words it), a ``KinesisParameters.PartitionKeyPath`` that is no JSON path, and a
log group target whose ``InputTransformer`` makes no log record (``log_target.py``).
Per-target outcomes go in ``FailedEntries``, as AWS reports them: a target of a kind
cloudlet does not deliver to is refused there with ``NotImplemented``, naming the kinds
it delivers to (SQS queues, SNS topics, Lambda functions, Kinesis data streams, Firehose
delivery streams, CloudWatch Logs log groups, event buses and API destinations), so
nothing is stored that would never be delivered; removing an Id the rule lacks is
reported there too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.services.events import errors
from cloudlet.services.events.common import API_DESTINATION_ARN, BUS_ARN, page
from cloudlet.services.events.log_target import LOG_GROUP_ARN, check_log_target
from cloudlet.services.events.store import Doc, EventsStore
from cloudlet.services.events.transform import check_partition_key_path, check_target_input

Result = dict[str, Any]
MAX_TARGETS = 5
TARGET_ID = re.compile(r"[\.\-_A-Za-z0-9]+")
ARN = re.compile(r"arn:aws[\w-]*:([a-z0-9-]+):([a-z0-9-]*):([0-9]{12})?:(.+)")
DELIVERED = ("sqs", "sns", "lambda", "events", "kinesis", "firehose", "logs")
KINESIS_STREAM_ARN = re.compile(r"arn:aws[\w-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[\w.-]+")
FIREHOSE_STREAM_ARN = re.compile(
    r"arn:aws[\w-]*:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/[a-zA-Z0-9_.-]{1,64}"
)
DELIVERS_TO = (
    "SQS queues, SNS topics, Lambda functions, Kinesis data streams, Firehose delivery "
    "streams, CloudWatch Logs log groups, event buses and API destinations"
)
ABSENT_KINDS = {
    "states": "Step Functions state machines",
    "ecs": "ECS tasks",
    "batch": "Batch job queues",
    "codebuild": "CodeBuild projects",
    "codepipeline": "CodePipeline pipelines",
    "redshift": "Redshift clusters",
    "redshift-serverless": "Redshift Serverless workgroups",
    "sagemaker": "SageMaker pipelines",
    "ssm": "Systems Manager Run Command, Automation and OpsItems",
    "inspector": "Inspector assessment templates",
    "execute-api": "API Gateway APIs",
    "appsync": "AppSync APIs",
}
"""Target services EventBridge delivers to that cloudlet has no counterpart of."""
_HEADER_KEY = re.compile(r"[!#$%&'*+-.^_`|~0-9a-zA-Z]+")


def target_service(arn: str) -> str | None:
    """The service an ARN names (``sqs`` ...), or None when it is no ARN."""
    m = ARN.fullmatch(arn)
    return m.group(1) if m is not None else None


def _bad_arn(arn: str) -> Exception:
    return errors.validation(
        f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
    )


def _check_target(n: int, target: dict[str, Any]) -> None:
    """The whole-request checks of the ``n``th target (1-based, as AWS numbers them)."""
    tid, arn = target["Id"], target["Arn"]
    if len(tid) > 64:
        raise errors.constraint(
            tid, f"targets.{n}.member.id", "Member must have length less than or equal to 64"
        )
    if not TARGET_ID.fullmatch(tid):
        raise errors.constraint(
            tid,
            f"targets.{n}.member.id",
            r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
        )
    if target_service(arn) is None:
        raise _bad_arn(arn)
    check_target_input(target)
    needs_role = (
        API_DESTINATION_ARN.fullmatch(arn)
        or KINESIS_STREAM_ARN.fullmatch(arn)
        or FIREHOSE_STREAM_ARN.fullmatch(arn)
    )
    if needs_role and not target.get("RoleArn"):
        raise errors.validation(f"RoleArn is required for target {arn}.")
    check_partition_key_path(target)
    if LOG_GROUP_ARN.fullmatch(arn):
        check_log_target(target)
    _check_http_parameters(n, target.get("HttpParameters") or {})
    if arn.startswith("arn:aws:sqs:") and arn.endswith(".fifo"):
        if not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise errors.validation(
                f"Parameter(s) SqsParameters must be specified for target: {tid}."
            )
    retry = target.get("RetryPolicy") or {}
    attempts = retry.get("MaximumRetryAttempts")
    if attempts is not None and not 0 <= attempts <= 185:
        raise errors.constraint(
            attempts,
            f"targets.{n}.member.retryPolicy.maximumRetryAttempts",
            "Member must have value between 0 and 185",
        )
    age = retry.get("MaximumEventAgeInSeconds")
    if age is not None and not 60 <= age <= 86400:
        raise errors.constraint(
            age,
            f"targets.{n}.member.retryPolicy.maximumEventAgeInSeconds",
            "Member must have value between 60 and 86400",
        )
    dead = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead is not None and target_service(dead) != "sqs":
        raise errors.validation(
            f"Parameter DeadLetterConfig.Arn is not valid. Reason: {dead} is not an SQS queue ARN."
        )


def _check_http_parameters(n: int, http: dict[str, Any]) -> None:
    where = f"targets.{n}.member.httpParameters"
    for value in http.get("PathParameterValues") or []:
        if not value.strip():
            raise errors.constraint(
                value,
                f"{where}.pathParameterValues",
                r"Member must satisfy regular expression pattern: ^(?!\s*$).+",
            )
    for key, value in (http.get("HeaderParameters") or {}).items():
        if not _HEADER_KEY.fullmatch(key) or len(key) > 512 or len(value) > 512:
            raise errors.validation(
                f"Parameter HttpParameters.HeaderParameters is not valid. Reason: {key} is "
                "not a valid header."
            )


def _delivered(arn: str) -> bool:
    """Whether cloudlet delivers to the target ``arn`` names."""
    service = target_service(arn)
    if service == "events":
        return bool(BUS_ARN.fullmatch(arn) or API_DESTINATION_ARN.fullmatch(arn))
    if service == "kinesis":
        return bool(KINESIS_STREAM_ARN.fullmatch(arn))
    if service == "firehose":
        return bool(FIREHOSE_STREAM_ARN.fullmatch(arn))
    if service == "logs":
        return bool(LOG_GROUP_ARN.fullmatch(arn))
    return service in DELIVERED


def _refusal(arn: str) -> str:
    """The ``FailedEntries`` message for a target cloudlet does not deliver to."""
    kind = ABSENT_KINDS.get(target_service(arn) or "")
    why = f" ({kind} are not in cloudlet)" if kind else ""
    return f"cloudlet does not deliver to {arn}{why}; it delivers to {DELIVERS_TO}"


class TargetHandlers:
    store: EventsStore
    _rule: Callable[..., Doc]
    """``RuleHandlers._rule``: the rule a request names, or AWS's not-found error."""

    def put_targets(self, ctx: Any, params: dict[str, Any]) -> Result:
        rule = self._rule(ctx, params["Rule"], params.get("EventBusName"), "rule")
        targets = params["Targets"]
        if not 1 <= len(targets) <= 100:
            raise errors.constraint(
                "[...]", "targets", "Member must have length less than or equal to 100"
            )
        for n, target in enumerate(targets, 1):
            _check_target(n, target)
        kept = {t["Id"]: t for t in rule["Targets"]}
        failed: list[Result] = []
        for target in targets:
            if not _delivered(target["Arn"]):
                failed.append(
                    {
                        "TargetId": target["Id"],
                        "ErrorCode": "NotImplemented",
                        "ErrorMessage": _refusal(target["Arn"]),
                    }
                )
                continue
            kept[target["Id"]] = {k: v for k, v in target.items() if v is not None}
        if len(kept) > MAX_TARGETS:
            raise errors.limit_exceeded()
        rule["Targets"] = list(kept.values())
        self.store.save_rule(rule)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def remove_targets(self, ctx: Any, params: dict[str, Any]) -> Result:
        rule = self._rule(ctx, params["Rule"], params.get("EventBusName"), "rule")
        ids = params["Ids"]
        present = {t["Id"] for t in rule["Targets"]}
        failed = [
            {
                "TargetId": tid,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": f"Rule '{rule['Name']}' does not have a target with the Id '{tid}'.",
            }
            for tid in ids
            if tid not in present
        ]
        gone = set(ids)
        rule["Targets"] = [t for t in rule["Targets"] if t["Id"] not in gone]
        self.store.save_rule(rule)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, ctx: Any, params: dict[str, Any]) -> Result:
        rule = self._rule(ctx, params["Rule"], params.get("EventBusName"), "rule")
        shown, token = page(rule["Targets"], params)
        out: Result = {"Targets": shown}
        if token:
            out["NextToken"] = token
        return out
