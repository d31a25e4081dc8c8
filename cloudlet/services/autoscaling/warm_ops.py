"""Warm pool operations: PutWarmPool, DescribeWarmPool and DeleteWarmPool.

Mixed into ``AutoScalingService``; the pool itself (filling, stopping, handing
instances to the group and taking them back) is ``warm.WarmPool`` on the
engine. As AWS documents: PutWarmPool creates or updates the pool (a field
left out keeps its value; MaxGroupPreparedCapacity -1 removes it), is refused
for a group with a mixed instances policy and while an instance refresh runs;
DescribeWarmPool pages the pool's instances 50 at a time; DeleteWarmPool marks
the pool ``PendingDelete`` and the loop terminates its instances (through their
termination hooks) before the pool goes, while ForceDelete terminates them at
once, lifecycle actions and all.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.autoscaling import activities as act
from cloudlet.services.autoscaling import errors, shapes
from cloudlet.services.autoscaling.warm import SETTLING

Result = dict[str, Any]
POOL_STATES = ("Stopped", "Running", "Hibernated")
MAX_RECORDS = 50


class WarmPoolOps:
    """Needs ``_group`` from ``GroupOps``."""

    engine: Any
    _group: Any

    def put_warm_pool(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        if group.get("mixed"):
            raise errors.validation(
                "You can't add a warm pool to an Auto Scaling group that has a mixed instances "
                "policy or a launch template or launch configuration that requests Spot "
                "Instances."
            )
        if self.engine.refresh.active(group) is not None:
            raise ServiceError(
                "InstanceRefreshInProgress",
                "An Instance Refresh is already in progress and blocks the execution of this "
                "operation.",
            )
        old = group.get("warm_pool") or {}
        if old.get("Status") == "PendingDelete":
            raise errors.validation(
                f"The warm pool of Auto Scaling group {group['name']} is being deleted. Wait "
                "until the deletion completes before you put a warm pool."
            )
        pool = {
            "MinSize": old.get("MinSize", 0),
            "PoolState": old.get("PoolState", "Stopped"),
            "MaxGroupPreparedCapacity": old.get("MaxGroupPreparedCapacity"),
            "InstanceReusePolicy": dict(old.get("InstanceReusePolicy") or {}),
        }
        for field in ("MinSize", "PoolState", "MaxGroupPreparedCapacity"):
            if params.get(field) is not None:
                pool[field] = params[field]
        if params.get("InstanceReusePolicy") is not None:
            reuse = params["InstanceReusePolicy"].get("ReuseOnScaleIn")
            pool["InstanceReusePolicy"] = {"ReuseOnScaleIn": bool(reuse)}
        if pool["MaxGroupPreparedCapacity"] == -1:
            pool["MaxGroupPreparedCapacity"] = None
        prepared = pool["MaxGroupPreparedCapacity"]
        if pool["PoolState"] not in POOL_STATES:
            raise errors.validation(
                f"Invalid PoolState: {pool['PoolState']}. Valid values are Stopped, Running and "
                "Hibernated."
            )
        if pool["MinSize"] < 0:
            raise errors.validation("MinSize must be greater than or equal to 0.")
        if prepared is not None and prepared < 0:
            raise errors.validation("MaxGroupPreparedCapacity must be -1 or greater.")
        if prepared is not None and pool["MinSize"] > prepared:
            raise errors.validation(
                f"MinSize ({pool['MinSize']}) cannot be greater than MaxGroupPreparedCapacity "
                f"({prepared})."
            )
        group["warm_pool"] = pool
        group.setdefault("warm", [])
        self.engine.save_group(group)
        return {}

    def describe_warm_pool(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        size = MAX_RECORDS if params.get("MaxRecords") is None else params["MaxRecords"]
        if not 1 <= size <= MAX_RECORDS:
            raise errors.validation(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        token = str(params.get("NextToken") or "0")
        warm = group.get("warm") or []
        if not token.isdigit() or int(token) > len(warm):
            raise ServiceError("InvalidNextToken", "The token provided is not valid.")
        start = int(token)
        out: Result = {
            "Instances": [shapes.instance(group, i, False) for i in warm[start : start + size]]
        }
        if pool := shapes.warm_pool(group):
            out["WarmPoolConfiguration"] = pool
        if start + size < len(warm):
            out["NextToken"] = str(start + size)
        return out

    async def delete_warm_pool(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params["AutoScalingGroupName"])
        pool = group.get("warm_pool")
        if not pool:
            raise errors.validation(f"No warm pool found for Auto Scaling group {group['name']}.")
        warm = group.setdefault("warm", [])
        if not params.get("ForceDelete"):
            busy = [i for i in warm if i["LifecycleState"] in SETTLING or i.get("waits")]
            if busy:
                raise errors.activity_in_progress(
                    "You cannot delete a warm pool while there are scaling activities in "
                    "progress for it. Use ForceDelete to delete it with its instances."
                )
            pool["Status"] = "PendingDelete"
            self.engine.save_group(group)
            return {}
        pool["Status"] = "PendingDelete"
        cause = f"At {act.stamp()} a user request force deleted the warm pool."
        for inst in list(warm):
            await self.engine.terminate(group, inst, cause, hooks=False)
        group.pop("warm_pool", None)
        self.engine.save_group(group)
        return {}
