"""A CloudWatch statistic set gathered from what a service did, one value at a time.

Why one class: services that publish their own metrics (S3 request metrics, Kinesis,
Firehose) count each call as it happens and send an interval's figures as one
``StatisticValues`` datapoint (PutMetricData's statistic set), which is what CloudWatch
keeps for AWS's own namespaces too; counting must cost next to nothing per call.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StatisticSet:
    """SampleCount, Sum, Minimum and Maximum of the values added so far."""

    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def values(self) -> dict[str, float]:
        """PutMetricData's ``StatisticValues``."""
        return {
            "SampleCount": float(self.count),
            "Sum": float(self.total),
            "Minimum": float(self.low),
            "Maximum": float(self.high),
        }
