"""Target operations: PutTargets, RemoveTargets, ListTargetsByRule.

A rule has at most 5 targets. What a request gets wrong as a whole (an Id or ARN out of
form, two input settings, a FIFO queue without ``SqsParameters``) refuses the whole
call with EventBridge's ValidationException (an API destination target without a
``RoleArn`` too: AWS invokes API destinations through the target's role); per-target
outcomes go in ``FailedEntries``, as AWS reports them: a target of a kind cloudlet does
not deliver to (only SQS queues, SNS topics, Lambda functions, event buses and API
destinations) is refused there with ``NotImplemented``, so nothing is stored that would
never be delivered, and removing an Id the rule lacks is reported there too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.services.events import errors
from cloudlet.services.events.common import API_DESTINATION_ARN, BUS_ARN, page
from cloudlet.services.events.store import Doc, EventsStore
from cloudlet.services.events.transform import check_target_input

Result = dict[str, Any]
MAX_TARGETS = 5
TARGET_ID = re.compile(r"[\.\-_A-Za-z0-9]+")
ARN = re.compile(r"arn:aws[\w-]*:([a-z0-9-]+):([a-z0-9-]*):([0-9]{12})?:(.+)")
DELIVERED = ("sqs", "sns", "lambda", "events")
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
    if API_DESTINATION_ARN.fullmatch(arn) and not target.get("RoleArn"):
        raise errors.validation(f"RoleArn is required for target {arn}.")
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
    return service in DELIVERED


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
                        "ErrorMessage": f"cloudlet does not deliver to {target['Arn']} yet; "
                        "SQS queues, SNS topics, Lambda functions, event buses and API "
                        "destinations it does",
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
