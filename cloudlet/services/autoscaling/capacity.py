"""What counts towards a group's capacity, in one place.

Why: several parts of the loop ask the same questions (is this instance on its
way out? on standby? in the warm pool? how many capacity units is it?) and must
answer them alike, or the group launches for an instance another part thinks
is leaving. AWS's rules:

- instances in ``Terminating*`` (and a warm pool's ``Warmed:Terminating*``) are
  leaving and count for nothing;
- instances in ``EnteringStandby``/``Standby`` stay in the group but are not
  counted (the group launches replacements unless DesiredCapacity was
  decremented), are not health-checked and are never picked for scale in;
- warm pool instances live in ``group["warm"]``, never in ``group["instances"]``;
- with a mixed instances policy that has weights (or a vCPU / memory
  ``DesiredCapacityType``), an instance counts its weight; otherwise one.
"""

from __future__ import annotations

from typing import Any

STANDBY = ("EnteringStandby", "Standby")


def leaving(inst: dict[str, Any]) -> bool:
    """Whether ``inst`` is on its way out (no longer counts towards capacity)."""
    return inst.get("LifecycleState", "").startswith(("Terminating", "Warmed:Terminating"))


def on_standby(inst: dict[str, Any]) -> bool:
    return inst.get("LifecycleState", "") in STANDBY


def counted(inst: dict[str, Any]) -> bool:
    """Whether ``inst`` counts towards the group's desired capacity."""
    return not leaving(inst) and not on_standby(inst)


def weight(inst: dict[str, Any]) -> int:
    """The capacity units ``inst`` provides (1 unless its group weighs instances)."""
    return int(inst.get("weight") or 1)


def current(group: dict[str, Any]) -> int:
    """The group's capacity in units: what its counted instances provide."""
    return sum(weight(i) for i in group["instances"] if counted(i))


def matches(inst: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether ``inst`` was launched from ``config`` (a ``{"lc", "lt", "mixed"}`` source)."""
    if config.get("mixed"):
        return inst.get("mixed_id") == config["mixed"].get("id")
    if config.get("lt"):
        return inst.get("LaunchTemplate") == config["lt"]
    return bool(config.get("lc")) and inst.get("LaunchConfigurationName") == config["lc"]
