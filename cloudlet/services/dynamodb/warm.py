"""DynamoDB warm throughput: what a table or GSI reports, and the bounds on setting it.

Why: warm throughput (AWS developer guide, "DynamoDB warm throughput") is what a table
can serve at once; CreateTable and UpdateTable take a ``WarmThroughput`` that may not be
below the table's floor nor, once set, lowered. Kept apart from ``tables.py``, which
parses the rest of a table's definition.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import errors

WARM_UNITS = ("ReadUnitsPerSecond", "WriteUnitsPerSecond")
WARM_BASELINE = {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000}
"""The warm throughput every new table and GSI has (AWS developer guide, "DynamoDB warm
throughput"): what DescribeTable reports for a unit nobody configured."""


def warm_description(
    warm: dict[str, int] | None, throughput: dict[str, int] | None, status: str = "ACTIVE"
) -> dict:
    """WarmThroughput as DescribeTable shows it: the configured units, else the baseline
    (raised to the provisioned capacity, which a table can always serve at once).
    CreateTable echoes a configured one as ``UPDATING``: AWS is still pre-warming then
    (Alternator's test_warm_throughput.py, run against DynamoDB)."""
    warm = warm or {}
    tp = throughput or {}
    return {
        "ReadUnitsPerSecond": warm.get("ReadUnitsPerSecond")
        or max(WARM_BASELINE["ReadUnitsPerSecond"], tp.get("ReadCapacityUnits", 0)),
        "WriteUnitsPerSecond": warm.get("WriteUnitsPerSecond")
        or max(WARM_BASELINE["WriteUnitsPerSecond"], tp.get("WriteCapacityUnits", 0)),
        "Status": status,
    }


_CAPACITY_OF = {
    "ReadUnitsPerSecond": "ReadCapacityUnits",
    "WriteUnitsPerSecond": "WriteCapacityUnits",
}
ON_DEMAND_INITIAL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "on-demand-capacity-mode.html#on-demand-capacity-mode-initial"
)


def warm_floor(billing: str, throughput: dict[str, int] | None) -> dict[str, int]:
    """The least warm throughput a table or GSI may ask for: on demand the baseline every
    table starts with; provisioned its capacity (ack-api-quirks DDB-TABLE-039: a
    PROVISIONED 10/10 table refuses 5/5; terraform-provider-aws#49894: 5000/2000 on a 5/5
    table is accepted)."""
    if billing == "PAY_PER_REQUEST":
        return dict(WARM_BASELINE)
    tp = throughput or {}
    return {unit: tp.get(capacity, 0) for unit, capacity in _CAPACITY_OF.items()}


def check_warm_minimum(
    billing: str, throughput: dict[str, int], warm: dict[str, int] | None
) -> None:
    """CreateTable's WarmThroughput is at least ``warm_floor``, in AWS's words
    (DDB-TABLE-039 and the DDB-TABLE-442 catalogue; the unit named is the low one)."""
    floor = warm_floor(billing, throughput)
    for unit, value in (warm or {}).items():
        if value >= floor[unit]:
            continue
        below = (
            f"initial throughput for OnDemand. See: {ON_DEMAND_INITIAL}"
            if billing == "PAY_PER_REQUEST"
            else f"{_CAPACITY_OF[unit]} of ProvisionedThroughput"
        )
        raise errors.invalid_parameter(
            f"Requested {unit} for WarmThroughput for table is lower than {below}"
        )


def check_warm_increase(
    current: dict[str, int] | None,
    floor: dict[str, int],
    spec: dict[str, Any] | None,
    holder: str,
) -> None:
    """UpdateTable's WarmThroughput may only raise what the table (``holder``: "table") or
    GSI ("index <name>") has: its configured units, else ``floor``; an equal value is
    accepted (DDB-TABLE-059, DDB-TABLE-155, DDB-TABLE-179)."""
    for unit in WARM_UNITS:
        value = (spec or {}).get(unit)
        if value is not None and value < (current or {}).get(unit, floor[unit]):
            raise errors.invalid_parameter(
                f"Requested {unit} for WarmThroughput for {holder} is lower than current "
                "WarmThroughput, decreasing WarmThroughput is not supported"
            )
