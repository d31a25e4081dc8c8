"""The AutoScaling service: launch configurations, groups kept at their desired
capacity by a reconcile loop, and scaling policies CloudWatch alarms execute.

Operations live in mixins split by group (``groups``: launch configurations
and groups; ``mixed_ops``: mixed instances policies; ``members``: instances,
activities, processes, tags, attached load balancers; ``standby``: Enter/
ExitStandby; ``warm_ops``: warm pools; ``policies``: scaling policies;
``scheduled``: scheduled actions; ``hooks``: lifecycle hooks and actions;
``refresh_ops``: instance refresh); this class wires them to the engine
(``engine``: state and the loop) and starts the loop. Operations not built
here answer 501.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.autoscaling.engine import Engine
from cloudlet.services.autoscaling.groups import GroupOps
from cloudlet.services.autoscaling.hooks import HookOps
from cloudlet.services.autoscaling.members import MemberOps
from cloudlet.services.autoscaling.mixed_ops import MixedOps
from cloudlet.services.autoscaling.policies import PolicyOps
from cloudlet.services.autoscaling.refresh_ops import RefreshOps
from cloudlet.services.autoscaling.scheduled import ScheduleOps
from cloudlet.services.autoscaling.standby import StandbyOps
from cloudlet.services.autoscaling.store import Store
from cloudlet.services.autoscaling.warm_ops import WarmPoolOps
from cloudlet.services.base import Service, ServiceEnv

RECONCILE_SECONDS = 1.0


class AutoScalingService(
    GroupOps,
    MixedOps,
    MemberOps,
    StandbyOps,
    WarmPoolOps,
    PolicyOps,
    ScheduleOps,
    HookOps,
    RefreshOps,
    Service,
):
    name = "autoscaling"

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("autoscaling"))
        self.engine = Engine(self.store, env)

    async def start(self) -> None:
        self.env.every(RECONCILE_SECONDS, self.engine.tick, "autoscaling-reconcile")

    async def stop(self) -> None:
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": "running",
            "groups": len(self.engine.groups),
            "instances": sum(len(g["instances"]) for g in self.engine.groups.values()),
            "warm_instances": sum(len(g.get("warm") or []) for g in self.engine.groups.values()),
        }
