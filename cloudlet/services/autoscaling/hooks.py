"""Lifecycle hook operations: define hooks, answer and extend lifecycle actions.

Mixed into ``AutoScalingService``; the waiting itself (notifications, events,
timeouts, what happens once every hook has answered) is ``lifecycle.Lifecycle``
on the engine. As on AWS: a hook's HeartbeatTimeout is 30-7200 seconds
(default 3600) and its GlobalTimeout 100 heartbeats or 48 hours; DefaultResult
is CONTINUE or ABANDON (default ABANDON); a group has at most 50 hooks; giving
a hook a notification target sends that target an ``autoscaling:TEST_NOTIFICATION``
and refuses the hook if it cannot be delivered; deleting a hook completes its
outstanding actions (ABANDON for launches, CONTINUE for terminations).
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.autoscaling import errors
from cloudlet.services.autoscaling.lifecycle import LAUNCHING, TERMINATING, global_timeout

Result = dict[str, Any]
TRANSITIONS = (LAUNCHING, TERMINATING)
RESULTS = ("CONTINUE", "ABANDON")
MAX_HOOKS = 50
_NAME = re.compile(r"[A-Za-z0-9\-_/]{1,255}")


def _shape(hook: dict[str, Any]) -> Result:
    keys = (
        "LifecycleHookName",
        "AutoScalingGroupName",
        "LifecycleTransition",
        "NotificationTargetARN",
        "RoleARN",
        "NotificationMetadata",
        "HeartbeatTimeout",
        "GlobalTimeout",
        "DefaultResult",
    )
    return {k: hook[k] for k in keys if hook.get(k) is not None}


class HookOps:
    """Needs ``_group`` from ``GroupOps``."""

    engine: Any
    _group: Any

    def _hook_key(self, group: dict[str, Any], name: str) -> str:
        return f"{group['account']}/{group['region']}/{group['name']}/{name}"

    def _check_hook(self, group: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        """The hook document ``spec`` (PutLifecycleHook's fields) makes, validated."""
        name = spec.get("LifecycleHookName") or ""
        if not _NAME.fullmatch(name):
            raise errors.validation(
                f"Lifecycle hook name {name!r} must be 1 to 255 letters, digits, -, _ or /."
            )
        key = self._hook_key(group, name)
        old = self.engine.hooks.get(key)
        if old is None:
            count = sum(1 for k in self.engine.hooks if k.startswith(key[: -len(name)]))
            if count >= MAX_HOOKS:
                raise ServiceError(
                    "LimitExceeded",
                    f"Maximum number of lifecycle hooks ({MAX_HOOKS}) reached for "
                    f"AutoScalingGroup {group['name']}.",
                )
        doc = (
            dict(old)
            if old
            else {
                "group_key": key[: -len(name) - 1],
                "LifecycleHookName": name,
                "AutoScalingGroupName": group["name"],
                "HeartbeatTimeout": 3600,
                "DefaultResult": "ABANDON",
            }
        )
        for field in (
            "LifecycleTransition",
            "RoleARN",
            "NotificationTargetARN",
            "NotificationMetadata",
            "HeartbeatTimeout",
            "DefaultResult",
        ):
            if spec.get(field) is not None:
                doc[field] = spec[field]
        if doc.get("NotificationTargetARN") == "":
            doc.pop("NotificationTargetARN")
        if doc.get("LifecycleTransition") not in TRANSITIONS:
            raise errors.validation(
                f"Invalid Lifecycle Transition: {doc.get('LifecycleTransition')}. Valid values "
                f"are {' and '.join(TRANSITIONS)}."
            )
        if not 30 <= doc["HeartbeatTimeout"] <= 7200:
            raise errors.validation(
                f"Heartbeat timeout {doc['HeartbeatTimeout']} must be between 30 and 7200 seconds."
            )
        if doc["DefaultResult"] not in RESULTS:
            raise errors.validation(
                f"Invalid default result: {doc['DefaultResult']}. Valid values are CONTINUE and "
                "ABANDON."
            )
        doc["GlobalTimeout"] = global_timeout(doc["HeartbeatTimeout"])
        return doc

    async def _save_hook(self, group: dict[str, Any], doc: dict[str, Any], old: Any) -> None:
        target = doc.get("NotificationTargetARN")
        if target and target != (old or {}).get("NotificationTargetARN"):
            try:
                await self.engine.lifecycle.test_notification(group, target)
            except Exception:  # noqa: BLE001 - AWS refuses a target it cannot reach
                raise errors.validation(
                    f"Unable to publish test message to notification target {target} using IAM "
                    f"role {doc.get('RoleARN')}. Please check your target and role configuration "
                    "and try to put lifecycle hook again."
                ) from None
        key = f"{doc['group_key']}/{doc['LifecycleHookName']}"
        self.engine.hooks[key] = doc
        self.engine.store.put("hook", key, doc)

    async def _create_group_hooks(self, group: dict[str, Any], specs: list[dict]) -> None:
        """CreateAutoScalingGroup's ``LifecycleHookSpecificationList``."""
        for spec in specs:
            doc = self._check_hook(group, spec)
            await self._save_hook(group, doc, None)

    def _waiting(
        self, ctx: Any, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(group, hook, instance, wait) the request names; AWS's error if none waits."""
        group = self._group(ctx, params["AutoScalingGroupName"])
        token, iid = params.get("LifecycleActionToken"), params.get("InstanceId")
        if not token and not iid:
            raise errors.validation("Either LifecycleActionToken or InstanceId must be specified.")
        hook = self.engine.hooks.get(self._hook_key(group, params["LifecycleHookName"]))
        found = hook and self.engine.lifecycle.find(group, params["LifecycleHookName"], token, iid)
        if not found:
            which = f"token {token}" if token else f"instance ID {iid}"
            raise errors.validation(f"No active Lifecycle Action found with {which}")
        inst, wait = found
        return group, hook, inst, wait

    # -- operations ------------------------------------------------------------------

    async def put_lifecycle_hook(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        old = self.engine.hooks.get(self._hook_key(group, params.get("LifecycleHookName") or ""))
        doc = self._check_hook(group, params)
        await self._save_hook(group, doc, old)
        return {}

    def describe_lifecycle_hooks(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        names = params.get("LifecycleHookNames") or []
        prefix = self._hook_key(group, "")
        return {
            "LifecycleHooks": [
                _shape(h)
                for k, h in self.engine.hooks.items()
                if k.startswith(prefix) and (not names or h["LifecycleHookName"] in names)
            ]
        }

    async def delete_lifecycle_hook(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        name = params["LifecycleHookName"]
        key = self._hook_key(group, name)
        if key not in self.engine.hooks:
            raise errors.validation(
                f"No Lifecycle Hook found with name {name} for AutoScalingGroup {group['name']}"
            )
        del self.engine.hooks[key]
        self.engine.store.delete("hook", key)
        for inst in [*group["instances"], *(group.get("warm") or [])]:
            for wait in list(inst.get("waits") or []):
                if wait["hook"] == name and wait["result"] is None:
                    result = "ABANDON" if wait["transition"] == LAUNCHING else "CONTINUE"
                    await self.engine.lifecycle.answer(
                        group, inst, wait, result, "Lifecycle Hook was deleted"
                    )
        return {}

    async def complete_lifecycle_action(self, ctx: Any, params: dict[str, Any]) -> Result:
        result = params["LifecycleActionResult"]
        if result not in RESULTS:
            raise errors.validation(
                f"Invalid lifecycle action result: {result}. Valid values are CONTINUE and ABANDON."
            )
        group, _hook, inst, wait = self._waiting(ctx, params)
        await self.engine.lifecycle.answer(
            group, inst, wait, result, f"Lifecycle Action Completed with {result} Result"
        )
        return {}

    def record_lifecycle_action_heartbeat(self, ctx: Any, params: dict[str, Any]) -> Result:
        group, hook, _inst, wait = self._waiting(ctx, params)
        self.engine.lifecycle.heartbeat(wait, hook)
        self.engine.save_group(group)
        return {}

    def describe_lifecycle_hook_types(self, ctx: Any, params: dict[str, Any]) -> Result:
        return {"LifecycleHookTypes": list(TRANSITIONS)}

    def _drop_group_hooks(self, group: dict[str, Any]) -> None:
        """Delete a deleted group's hooks, as AWS does."""
        prefix = self._hook_key(group, "")
        for key in [k for k in self.engine.hooks if k.startswith(prefix)]:
            del self.engine.hooks[key]
            self.engine.store.delete("hook", key)
