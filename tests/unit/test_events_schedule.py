"""EventBridge schedule expressions: which AWS accepts, when each fires next, and the
schedule book firing due rules, all without waiting for the clock."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime

import pytest

from cloudlet.services.events.schedule import Cron, Rate, ScheduleError, parse_schedule
from cloudlet.services.events.scheduler import ScheduleBook
from cloudlet.services.events.store import EventsStore
from tests.services.test_events import ENVELOPE_KEYS


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


# Expressions AWS refuses with "Parameter ScheduleExpression is not valid." (LocalStack's
# AWS-validated test_put_rule_with_invalid_schedule_rate), and some crons.
INVALID = [
    "rate(10 seconds)",
    "rate(10 years)",
    "rate(1 minutes)",
    "rate(1 hours)",
    "rate(1 days)",
    "rate(10 minute)",
    "rate(10 hour)",
    "rate(10 day)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(0 minutes)",
    "rate(-10 minutes)",
    "rate(10 MINUTES)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "cron(0 10 * * * *)",  # both day fields given
    "cron(0 10 ? * ? *)",  # neither
    "cron(0 10 * * ?)",  # five fields
    "cron(60 10 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 ? * MON#6 *)",
    "cron(0 0 1 13 ? *)",
    "cron(0 0 1 * ? 1969)",
    "cron(5-1 0 * * ? *)",
    "every(5 minutes)",
]


@pytest.mark.parametrize("text", INVALID)
def test_expressions_aws_refuses(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
    ],
)
def test_rates_count_from_their_anchor(text: str, seconds: int) -> None:
    rate = parse_schedule(text)
    assert rate == Rate(seconds)
    anchor = ts("2024-03-01 12:00:30")
    assert rate.next_after(anchor, anchor) == anchor + seconds
    assert rate.next_after(anchor + seconds - 1, anchor) == anchor + seconds
    # exactly due: the next one is a period later
    assert rate.next_after(anchor + seconds, anchor) == anchor + 2 * seconds
    # a restart long after keeps the cadence and makes up nothing
    later = anchor + 10.5 * seconds
    assert rate.next_after(later, anchor) == anchor + 11 * seconds


# (expression, after, next firings) in UTC; 2024-03-01 is a Friday.
CASES = [
    ("cron(0 10 * * ? *)", "2024-03-01 09:30", ["2024-03-01 10:00", "2024-03-02 10:00"]),
    ("cron(15 12 * * ? *)", "2024-03-01 12:15", ["2024-03-02 12:15"]),
    (
        "cron(0 18 ? * MON-FRI *)",
        "2024-03-01 18:30",
        ["2024-03-04 18:00", "2024-03-05 18:00"],
    ),
    ("cron(0 8 1 * ? *)", "2024-03-01 08:00", ["2024-04-01 08:00", "2024-05-01 08:00"]),
    (
        "cron(0/15 * * * ? *)",
        "2024-03-01 23:50",
        ["2024-03-02 00:00", "2024-03-02 00:15", "2024-03-02 00:30"],
    ),
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2024-03-01 17:56",
        ["2024-03-04 08:00", "2024-03-04 08:05"],
    ),
    ("cron(0,30 9 * JAN,MAR ? *)", "2024-03-31 09:30", ["2025-01-01 09:00"]),
    ("cron(0 0 L * ? *)", "2024-02-01 00:00", ["2024-02-29 00:00", "2024-03-31 00:00"]),
    # 2024-06-30 is a Sunday: the last weekday is Friday the 28th
    ("cron(0 0 LW * ? *)", "2024-06-01 00:00", ["2024-06-28 00:00"]),
    # 2024-06-15 is a Saturday: nearest weekday Friday the 14th; 2024-09-01 a Sunday
    ("cron(0 0 15W * ? *)", "2024-06-01 00:00", ["2024-06-14 00:00", "2024-07-15 00:00"]),
    ("cron(0 0 1W * ? *)", "2024-08-31 00:00", ["2024-09-02 00:00"]),
    ("cron(0 12 ? * 6L *)", "2024-03-01 00:00", ["2024-03-29 12:00", "2024-04-26 12:00"]),
    ("cron(0 12 ? * 3#2 *)", "2024-03-01 00:00", ["2024-03-12 12:00", "2024-04-09 12:00"]),
    ("cron(0 12 ? * L *)", "2024-03-01 00:00", ["2024-03-02 12:00", "2024-03-09 12:00"]),
    ("cron(30 6 29 2 ? *)", "2024-03-01 00:00", ["2028-02-29 06:30"]),
    ("cron(0 0 1 1 ? 2030-2031)", "2024-03-01 00:00", ["2030-01-01 00:00", "2031-01-01 00:00"]),
]


@pytest.mark.parametrize(("text", "after", "expected"), CASES)
def test_cron_next_firings(text: str, after: str, expected: list[str]) -> None:
    cron = parse_schedule(text)
    assert isinstance(cron, Cron)
    got: list[str] = []
    at = ts(after)
    for _ in expected:
        at = cron.next_after(at)
        got.append(iso(at))
    assert got == expected


def test_a_cron_with_nothing_left_never_fires() -> None:
    assert math.isinf(parse_schedule("cron(0 0 1 1 ? 2020)").next_after(ts("2024-01-01 00:00")))


def _rule(**fields) -> dict:
    rule = {
        "Name": "every-minute",
        "Arn": "arn:aws:events:us-east-1:000000000000:rule/every-minute",
        "EventBusName": "default",
        "BusArn": "arn:aws:events:us-east-1:000000000000:event-bus/default",
        "Account": "000000000000",
        "Region": "us-east-1",
        "State": "ENABLED",
        "Targets": [{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:000000000000:q"}],
        "Tags": {},
        "ScheduleExpression": "rate(1 minute)",
        "ScheduleAnchor": ts("2024-03-01 12:00:00"),
    }
    rule.update(fields)
    return rule


def test_the_schedule_book_fires_due_rules_with_the_scheduled_event() -> None:
    store = EventsStore(sqlite3.connect(":memory:", isolation_level=None))
    sent: list[tuple[dict, dict, dict]] = []
    book = ScheduleBook(store, lambda rule, target, event: sent.append((rule, target, event)))
    rule = _rule()
    store.save_rule(rule)
    start = ts("2024-03-01 12:00:00")
    book.update(rule, now=start)
    assert book.due[rule["Arn"]] == start + 60
    assert book.fire_due(start + 59) == 0 and not sent
    assert book.fire_due(start + 61) == 1
    [(fired_rule, target, event)] = sent
    assert fired_rule["Name"] == "every-minute" and target["Id"] == "t"
    assert list(event) == ENVELOPE_KEYS
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2024-03-01T12:01:00Z"  # when it was due, not when checked
    assert event["resources"] == [rule["Arn"]] and event["detail"] == {}
    assert book.due[rule["Arn"]] == start + 120

    # A disabled rule no longer fires; enabled again it picks up its cadence.
    rule["State"] = "DISABLED"
    book.update(rule, now=start + 61)
    assert rule["Arn"] not in book.due
    assert book.fire_due(start + 600) == 0
    rule["State"] = "ENABLED"
    book.update(rule, now=start + 600)
    assert book.due[rule["Arn"]] == start + 660

    # A deleted rule is dropped when it comes due.
    store.delete_rule(rule)
    assert book.fire_due(start + 700) == 0
    assert rule["Arn"] not in book.due
    assert len(sent) == 1


def test_the_schedule_book_loads_stored_rules() -> None:
    store = EventsStore(sqlite3.connect(":memory:", isolation_level=None))
    store.save_rule(_rule())
    store.save_rule(_rule(Name="pattern-only", Arn="arn:x", ScheduleExpression=None))
    store.save_rule(_rule(Name="nightly", Arn="arn:y", ScheduleExpression="cron(0 3 * * ? *)"))
    book = ScheduleBook(store, lambda *_: None)
    book.load()
    assert sorted(book.due) == ["arn:aws:events:us-east-1:000000000000:rule/every-minute", "arn:y"]
