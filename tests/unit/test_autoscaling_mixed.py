"""Mixed instances policies' arithmetic without a server: launch choices in priority or
price-per-unit order, and InstanceRequirements matched against EC2's own catalogue."""

from __future__ import annotations

import pytest

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.services.autoscaling import mixed
from cloudlet.services.ec2 import catalog

BASE = {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "base", "Version": "$Default"}
CATALOGUE = [catalog.instance_type_info(n) for n in catalog.INSTANCE_TYPES]


def _types(overrides: list[dict], strategy: str, capacity_type: str = "units") -> list[tuple]:
    matched = [
        mixed.matching(o["InstanceRequirements"], CATALOGUE)
        if o.get("InstanceRequirements")
        else []
        for o in overrides
    ]
    found = mixed.choices(
        overrides, BASE, [None] * len(overrides), matched, strategy, capacity_type
    )
    return [(c["type"], c["weight"]) for c in found]


def test_prioritized_keeps_the_order_and_lowest_price_ranks_per_unit():
    overrides = [
        {"InstanceType": "m5.large", "WeightedCapacity": "4"},
        {"InstanceType": "t3.micro", "WeightedCapacity": "1"},
        {"InstanceType": "c5.large", "WeightedCapacity": "2"},
    ]
    assert _types(overrides, "prioritized") == [("m5.large", 4), ("t3.micro", 1), ("c5.large", 2)]
    # per unit: t3.micro 0.0104, m5.large 0.024, c5.large 0.0425
    assert _types(overrides, "lowest-price") == [("t3.micro", 1), ("m5.large", 4), ("c5.large", 2)]
    assert _types([], "prioritized") == [(None, 1)]


def test_instance_requirements_select_from_the_catalogue():
    two_by_four = {"VCpuCount": {"Min": 2, "Max": 2}, "MemoryMiB": {"Min": 4096, "Max": 4096}}
    override = [{"InstanceRequirements": two_by_four}]
    assert _types(override, "lowest-price", "vcpu") == [("c5.large", 2)]
    burstable = {**two_by_four, "BurstablePerformance": "included"}
    got = _types([{"InstanceRequirements": burstable}], "lowest-price", "memory-mib")
    assert got == [("t3.medium", 4096), ("t2.medium", 4096), ("c5.large", 4096)]
    previous = {
        "VCpuCount": {"Min": 1},
        "MemoryMiB": {"Min": 0},
        "InstanceGenerations": ["previous"],
    }
    names = {t for t, _ in _types([{"InstanceRequirements": previous}], "lowest-price")}
    assert names == {"t1.micro", "m1.small", "m4.large"}
    with pytest.raises(NotImplementedOperation):
        mixed.matching({**two_by_four, "CpuManufacturers": ["intel"]}, CATALOGUE)
    with pytest.raises(ServiceError):
        mixed.matching({"VCpuCount": {"Min": 4, "Max": 2}, "MemoryMiB": {"Min": 0}}, CATALOGUE)


def test_distribution_defaults_and_spot():
    assert mixed.distribution(None, False)["OnDemandAllocationStrategy"] == "prioritized"
    assert mixed.distribution({}, True)["OnDemandAllocationStrategy"] == "lowest-price"
    with pytest.raises(NotImplementedOperation):
        mixed.distribution({"OnDemandPercentageAboveBaseCapacity": 0}, False)
    with pytest.raises(ServiceError):
        mixed.distribution({"OnDemandAllocationStrategy": "prioritized"}, True)
