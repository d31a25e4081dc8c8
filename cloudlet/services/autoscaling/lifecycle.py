"""Lifecycle actions: instances held in ``Pending:Wait`` / ``Terminating:Wait`` by hooks.

Why: a lifecycle hook pauses an instance on its way in (before it is registered
with load balancers and counted InService) or out (after deregistration,
before EC2 terminates it) until someone calls CompleteLifecycleAction, or the
hook's heartbeat timeout applies its DefaultResult. AWS tells the world in
three ways and so do we: a JSON message to the hook's SQS queue or SNS topic
(through that service's own API), and an ``EC2 Instance-launch/terminate
Lifecycle Action`` event on the account's default EventBridge bus.

Warm pool instances wait too (``Warmed:Pending:Wait`` on their way into the
pool or back to it, ``Warmed:Terminating:Wait`` on their way out), with the
warm pool as Origin or Destination of the notifications (``where``).

The waits live on the instance record (``inst["waits"]``: one per hook, with
its token and its deadline in wall-clock epoch seconds), which the engine
saves with the group, so a restarted server keeps waiting instances waiting
and times them out when they are due. An instance proceeds when every hook
has answered; an ABANDON on launch terminates it (the loop then launches a
replacement), on termination either answer lets termination continue.

``CLOUDLET_AUTOSCALING_HEARTBEAT_SCALE`` (default 1) multiplies the real
length of a heartbeat timeout, for tests: at 0.1 a hook of AWS's minimum 30
seconds times out after 3; the API still shows 30.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.ids import request_id
from cloudlet.services.autoscaling import activities as act

log = logging.getLogger(__name__)

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
HEARTBEAT_SCALE = float(os.environ.get("CLOUDLET_AUTOSCALING_HEARTBEAT_SCALE", "1"))
MAX_GLOBAL_TIMEOUT = 172800
"""AWS: an instance waits at most 100 heartbeat timeouts or 48 hours, whichever is less."""
DETAIL_TYPES = {
    LAUNCHING: "EC2 Instance-launch Lifecycle Action",
    TERMINATING: "EC2 Instance-terminate Lifecycle Action",
}


def iso_millis(seconds: float | None = None) -> str:
    """AWS's notification time: ``2022-12-10T12:52:08.814Z``."""
    when = datetime.fromtimestamp(clock.time() if seconds is None else seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def global_timeout(heartbeat: int) -> int:
    return min(100 * heartbeat, MAX_GLOBAL_TIMEOUT)


def abandoned(token: str, why: str) -> str:
    """The status message of a launch a lifecycle action abandoned."""
    return (
        "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token "
        f"{token} was abandoned: {why}"
    )


def where(inst: dict[str, Any], transition: str) -> tuple[str, str, str]:
    """(wait state, Origin, Destination) of a lifecycle action on ``inst``: warm pool
    instances wait in ``Warmed:*`` states, and AWS names the warm pool as where an
    instance comes from or goes to."""
    if inst.get("warm"):
        if transition == LAUNCHING:
            return "Warmed:Pending:Wait", "EC2", "WarmPool"
        if inst.get("returning"):
            return "Warmed:Pending:Wait", "AutoScalingGroup", "WarmPool"
        return "Warmed:Terminating:Wait", "WarmPool", "EC2"
    if transition == LAUNCHING:
        origin = "WarmPool" if inst.get("from_warm") else "EC2"
        return "Pending:Wait", origin, "AutoScalingGroup"
    return "Terminating:Wait", "AutoScalingGroup", "EC2"


class Lifecycle:
    """The engine's half of lifecycle hooks: starting waits, notifying, timing out."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def hooks_of(self, group: dict[str, Any], transition: str) -> list[dict[str, Any]]:
        key = f"{group['account']}/{group['region']}/{group['name']}"
        return [
            h
            for h in self.engine.hooks.values()
            if h["group_key"] == key and h["LifecycleTransition"] == transition
        ]

    # -- entering a wait ---------------------------------------------------------

    async def begin(self, group: dict[str, Any], inst: dict[str, Any], transition: str) -> bool:
        """Put ``inst`` in the wait state of ``transition`` if the group has hooks for it;
        whether it waits."""
        hooks = self.hooks_of(group, transition)
        if not hooks:
            return False
        now = clock.time()
        state, origin, destination = where(inst, transition)
        inst["LifecycleState"] = state
        inst["waits"] = [
            {
                "hook": h["LifecycleHookName"],
                "token": str(uuid.uuid4()),
                "transition": transition,
                "origin": origin,
                "destination": destination,
                "deadline": now + h["HeartbeatTimeout"] * HEARTBEAT_SCALE,
                "global": now + h["GlobalTimeout"] * HEARTBEAT_SCALE,
                "result": None,
            }
            for h in hooks
        ]
        self.engine.save_group(group)
        for hook, wait in zip(hooks, inst["waits"], strict=True):
            await self.announce(group, inst, hook, wait)
        return True

    async def announce(
        self, group: dict[str, Any], inst: dict[str, Any], hook: dict[str, Any], wait: dict
    ) -> None:
        transition = wait["transition"]
        origin, destination = (
            ("EC2", "AutoScalingGroup") if transition == LAUNCHING else ("AutoScalingGroup", "EC2")
        )
        origin, destination = wait.get("origin", origin), wait.get("destination", destination)
        message: dict[str, Any] = {
            "Origin": origin,
            "LifecycleHookName": hook["LifecycleHookName"],
            "Destination": destination,
            "AccountId": group["account"],
            "RequestId": request_id(),
            "LifecycleTransition": transition,
            "AutoScalingGroupName": group["name"],
            "Service": "AWS Auto Scaling",
            "Time": iso_millis(),
            "EC2InstanceId": inst["InstanceId"],
            "LifecycleActionToken": wait["token"],
        }
        if hook.get("NotificationMetadata"):
            message["NotificationMetadata"] = hook["NotificationMetadata"]
        if hook.get("NotificationTargetARN"):
            try:
                await self.notify(group, hook["NotificationTargetARN"], json.dumps(message))
            except Exception:  # noqa: BLE001 - a lost notification must not stop the group
                log.warning("lifecycle notification to %s failed", hook["NotificationTargetARN"])
        detail = {
            "LifecycleActionToken": wait["token"],
            "AutoScalingGroupName": group["name"],
            "LifecycleHookName": hook["LifecycleHookName"],
            "EC2InstanceId": inst["InstanceId"],
            "LifecycleTransition": transition,
        }
        if hook.get("NotificationMetadata"):
            detail["NotificationMetadata"] = hook["NotificationMetadata"]
        detail.update(Origin=origin, Destination=destination)
        entry = {
            "source": "aws.autoscaling",
            "detail-type": DETAIL_TYPES[transition],
            "detail": detail,
            "resources": [group["arn"]],
        }
        try:
            await self.engine.call(group, "events", "PutServiceEvents", {"Entries": [entry]})
        except Exception:  # noqa: BLE001 - no EventBridge, no event
            log.debug("autoscaling: lifecycle event not sent", exc_info=True)

    async def notify(self, group: dict[str, Any], target: str, body: str) -> None:
        """Send ``body`` to an SQS queue or SNS topic ARN through that service's API."""
        parts = target.split(":")
        if len(parts) < 6:
            raise ValueError(f"not an ARN: {target}")
        service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
        if service == "sqs":
            url = await self.engine.env.call(
                "sqs",
                "GetQueueUrl",
                {"QueueName": resource, "QueueOwnerAWSAccountId": account},
                account=account,
                region=region,
            )
            params: dict[str, Any] = {"QueueUrl": url["QueueUrl"], "MessageBody": body}
            if resource.endswith(".fifo"):
                params["MessageGroupId"] = group["name"]
                params["MessageDeduplicationId"] = str(uuid.uuid4())
            await self.engine.env.call("sqs", "SendMessage", params, account=account, region=region)
        elif service == "sns":
            await self.engine.env.call(
                "sns",
                "Publish",
                {"TopicArn": target, "Message": body},
                account=account,
                region=region,
            )
        else:
            raise ValueError(f"not an SQS queue or SNS topic: {target}")

    async def test_notification(self, group: dict[str, Any], target: str) -> None:
        """AWS's ``autoscaling:TEST_NOTIFICATION`` to a hook's new target (raises if it
        cannot be delivered)."""
        message = {
            "AccountId": group["account"],
            "RequestId": request_id(),
            "AutoScalingGroupARN": group["arn"],
            "AutoScalingGroupName": group["name"],
            "Service": "AWS Auto Scaling",
            "Event": "autoscaling:TEST_NOTIFICATION",
            "Time": iso_millis(),
        }
        await self.notify(group, target, json.dumps(message))

    # -- answers and timeouts ------------------------------------------------------

    def find(
        self, group: dict[str, Any], hook: str, token: str | None, instance_id: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The waiting instance and its open wait for ``hook`` by token or instance id."""
        for inst in [*group["instances"], *(group.get("warm") or [])]:
            if instance_id and inst["InstanceId"] != instance_id:
                continue
            for wait in inst.get("waits") or []:
                if wait["hook"] != hook or wait["result"] is not None:
                    continue
                if token and wait["token"] != token:
                    continue
                return inst, wait
        return None

    def heartbeat(self, wait: dict[str, Any], hook: dict[str, Any]) -> None:
        wait["deadline"] = min(
            clock.time() + hook["HeartbeatTimeout"] * HEARTBEAT_SCALE, wait["global"]
        )

    async def answer(
        self,
        group: dict[str, Any],
        inst: dict[str, Any],
        wait: dict[str, Any],
        result: str,
        why: str,
    ) -> None:
        """Record ``result`` for one hook; act once every hook of the instance has answered."""
        wait["result"] = result
        wait["why"] = why
        self.engine.save_group(group)
        waits = inst.get("waits") or []
        if any(w["result"] is None for w in waits):
            return
        inst.pop("waits", None)
        warm = "Warmed:" if inst.get("warm") else ""
        if wait["transition"] == TERMINATING:
            if inst.get("returning"):  # back to the warm pool: the pool stops it
                inst["LifecycleState"] = "Warmed:Pending:Proceed"
                self.engine.save_group(group)
                return
            inst["LifecycleState"] = f"{warm}Terminating:Proceed"
            await self.engine.finish_terminate(group, inst)
            return
        gave_up = next((w for w in waits if w["result"] == "ABANDON"), None)
        if gave_up is None:
            inst["LifecycleState"] = f"{warm}Pending:Proceed"
            self.engine.save_group(group)
            if not warm:
                await self.engine.check_health(group)
            return
        message = abandoned(gave_up["token"], gave_up["why"])
        launch = self.engine.activities.get(inst.get("activity") or "")
        if launch is not None and launch["StatusCode"] not in ("Successful", "Failed"):
            launch["Description"] = (
                f"Launching a new EC2 instance: {inst['InstanceId']}.  Status Reason: {message}"
            )
            launch.update(StatusCode="Cancelled", Progress=100, EndTime=clock.time())
            launch["StatusMessage"] = message
            self.engine.record(launch)
        inst["HealthStatus"] = "Unhealthy"
        cause = f"At {act.stamp()} an instance was taken out of service: {message}"
        await self.engine.terminate(group, inst, cause, hooks=False)

    async def expire(self, group: dict[str, Any]) -> None:
        """Apply each overdue hook's DefaultResult."""
        now = clock.time()
        for inst in [*group["instances"], *(group.get("warm") or [])]:
            for wait in list(inst.get("waits") or []):
                if wait["result"] is None and now >= min(wait["deadline"], wait["global"]):
                    key = f"{group['account']}/{group['region']}/{group['name']}/{wait['hook']}"
                    hook = self.engine.hooks.get(key) or {}
                    result = hook.get("DefaultResult") or "ABANDON"
                    await self.answer(group, inst, wait, result, "Heartbeat Timeout")
                    if "waits" not in inst:
                        break
