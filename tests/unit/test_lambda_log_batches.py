"""Lambda's log lines go to CloudWatch Logs in calls PutLogEvents accepts."""

from __future__ import annotations

from cloudlet.services.awslambda.logs import batches


def _events(*messages: str) -> list[dict]:
    return [{"timestamp": 1, "message": m} for m in messages]


def test_batches_respect_the_event_count_and_byte_quotas() -> None:
    many = list(batches(_events(*["a"] * 10_001)))
    assert [len(b) for b in many] == [10_000, 1]
    big = "b" * 300_000
    sized = list(batches(_events(big, big, big, big)))
    assert [len(b) for b in sized] == [3, 1]
    for batch in sized:
        assert sum(len(e["message"].encode()) + 26 for e in batch) <= 1_048_576


def test_a_line_longer_than_a_call_is_cut_to_fit() -> None:
    line = "é" * 600_000  # 1.2 MB of UTF-8: cut on a character boundary
    (batch,) = list(batches(_events("before", line, "after")))[1:2]
    assert len(batch) == 1
    message = batch[0]["message"]
    assert len(message.encode()) + 26 <= 1_048_576 and set(message) == {"é"}
