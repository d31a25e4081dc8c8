"""AutoScaling's arithmetic without a server: capacity adjustments with AWS's
rounding, step selection relative to the breach threshold, and which instance
each termination policy picks."""

from __future__ import annotations

import pytest

from cloudlet.services.autoscaling.engine import Engine
from cloudlet.services.autoscaling.policies import new_capacity, pick_step
from cloudlet.services.autoscaling.store import Store
from cloudlet.state.db import open_database


@pytest.mark.parametrize(
    ("kind", "desired", "amount", "magnitude", "expected"),
    [
        ("ChangeInCapacity", 2, 3, None, 5),
        ("ChangeInCapacity", 2, -1, None, 1),
        ("ExactCapacity", 2, 7, None, 7),
        ("PercentChangeInCapacity", 10, 25, None, 12),  # 2.5 rounds towards zero
        ("PercentChangeInCapacity", 2, 10, None, 3),  # 0.2 rounds away from zero
        ("PercentChangeInCapacity", 2, -10, None, 1),
        ("PercentChangeInCapacity", 4, 25, 3, 7),  # 1 raised to the minimum magnitude
        ("PercentChangeInCapacity", 0, 50, 2, 2),
    ],
)
def test_new_capacity(kind, desired, amount, magnitude, expected):
    assert new_capacity(desired, kind, amount, magnitude) == expected


def test_pick_step_bounds_are_lower_inclusive_upper_exclusive():
    steps = [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1},
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
    ]
    assert pick_step(steps, -5)["ScalingAdjustment"] == -1
    assert pick_step(steps, 0)["ScalingAdjustment"] == 1
    assert pick_step(steps, 10)["ScalingAdjustment"] == 3
    assert pick_step(steps[1:], -1) is None


def _engine() -> Engine:
    return Engine(Store(open_database(None, "autoscaling")), env=None)


def _group(policy: str, instances: list[tuple[str, str, float, str]]) -> dict:
    return {
        "termination": [policy],
        "lc": "new",
        "lt": None,
        "instances": [
            {
                "InstanceId": iid,
                "AvailabilityZone": zone,
                "launched": launched,
                "LaunchConfigurationName": lc,
                "LaunchTemplate": None,
            }
            for iid, zone, launched, lc in instances
        ],
    }


def test_termination_policies_pick_as_aws_does():
    insts = [("i-a", "z1", 1.0, "new"), ("i-b", "z1", 2.0, "new"), ("i-c", "z2", 3.0, "new")]
    engine = _engine()
    assert [i["InstanceId"] for i in engine.victims(_group("OldestInstance", insts), 1)] == ["i-a"]
    assert [i["InstanceId"] for i in engine.victims(_group("NewestInstance", insts), 2)] == [
        "i-c",
        "i-b",
    ]
    # Default: the crowded zone first (z1), then the oldest there.
    assert [i["InstanceId"] for i in engine.victims(_group("Default", insts), 1)] == ["i-a"]
    stale = [*insts[:2], ("i-c", "z2", 3.0, "old")]
    chosen = engine.victims(_group("OldestLaunchConfiguration", stale), 1)
    assert [i["InstanceId"] for i in chosen] == ["i-c"]
