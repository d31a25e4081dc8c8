"""ProvisionedThroughput bookkeeping (``throughput.py``): NumberOfDecreasesToday counts the
decreases of the current UTC day and starts again at 0 on the next one."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudlet.services.dynamodb.throughput import (
    decreases_today,
    describe_throughput,
    record_change,
)

DAY = 86400.0
NOON = datetime(2026, 10, 9, 12, tzinfo=UTC).timestamp()


def pt(read: int, write: int) -> dict[str, int]:
    return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}


def test_decreases_count_per_utc_day():
    log = record_change(None, pt(5, 5), pt(4, 4), NOON)
    log = record_change(log, pt(4, 4), pt(3, 3), NOON + 60)
    assert decreases_today(log, NOON + 120) == 2
    midnight = NOON + DAY / 2
    assert decreases_today(log, midnight - 0.001) == 2
    assert decreases_today(log, midnight) == 0  # a new UTC day, nothing recorded in it
    log = record_change(log, pt(3, 3), pt(2, 2), midnight + 1)
    assert decreases_today(log, midnight + 2) == 1


def test_increase_and_mixed_change():
    log = record_change(None, pt(5, 5), pt(6, 6), NOON)
    assert log == {"increased": NOON}
    log = record_change(log, pt(6, 6), pt(5, 7), NOON + 1)  # read down, write up
    assert log["increased"] == NOON + 1 and log["decreased"] == NOON + 1
    assert log["decreases"] == 1
    assert record_change(log, pt(5, 7), pt(5, 7), NOON + 2) is log  # no change, no record


def test_description_shape():
    fresh = describe_throughput(pt(1, 2), None, NOON)
    assert fresh == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 1, "WriteCapacityUnits": 2}
    log = record_change(None, pt(2, 2), pt(1, 2), NOON)
    out = describe_throughput(pt(1, 2), log, NOON)
    assert out["LastDecreaseDateTime"] == datetime.fromtimestamp(NOON, UTC)
    assert "LastIncreaseDateTime" not in out
    assert out["NumberOfDecreasesToday"] == 1
