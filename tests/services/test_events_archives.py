"""EventBridge archives and replays through boto3 against a real server: archives
keeping the events their pattern matches, replays re-sending them through the bus's
rules (all, or the FilterArns ones) with ``replay-name``, not archiving them again,
cancelling, AWS's errors, the retention sweep, and archives, their events and replays
surviving a restart."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique
from tests.services.test_events import entry, error, make_queue, quiet
from tests.services.test_sns_delivery import receive

NO_RETRIES = Config(retries={"max_attempts": 0})


@pytest.fixture
def events(cloudlet_server):
    return cloudlet_server.client("events", config=NO_RETRIES)


@pytest.fixture
def sqs(cloudlet_server):
    return cloudlet_server.client("sqs")


@pytest.fixture(scope="module")
def slow():
    """A server whose replays wait a second in STARTING and whose retention sweep runs
    five times a second."""
    env = {"CLOUDLET_EVENTS_REPLAY_DELAY": "1", "CLOUDLET_EVENTS_ARCHIVE_SWEEP_SECONDS": "0.2"}
    with CloudletServer.start(env=env) as srv:
        yield srv


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def bus_with_archive(events, **archive) -> tuple[str, str, str]:
    """A new bus and an archive of it: (bus name, bus ARN, archive name)."""
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    name = unique("arch")
    events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, **archive)
    return bus, bus_arn, name


def put(events, bus: str, source: str, n: int, when: datetime) -> None:
    entries = [entry(source, {"n": i}, EventBusName=bus, Time=when) for i in range(n)]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


def rule_to_queue(events, sqs, bus: str, source: str) -> tuple[str, str]:
    """A rule on ``bus`` for ``source`` sending to a new queue: (rule ARN, queue URL)."""
    url, queue_arn = make_queue(sqs)
    name = unique("rule")
    arn = events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [source]})
    )["RuleArn"]
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    return arn, url


def replay(events, name: str, archive: str, bus_arn: str, **destination) -> dict:
    arn = events.describe_archive(ArchiveName=archive)["ArchiveArn"]
    return events.start_replay(
        ReplayName=name,
        EventSourceArn=arn,
        EventStartTime=ago(600),
        EventEndTime=ago(5),
        Destination={"Arn": bus_arn, **destination},
    )


def settled(events, name: str, timeout: float = 5.0) -> dict:
    """The replay once it has ended."""
    deadline = time.monotonic() + timeout
    while True:
        got = events.describe_replay(ReplayName=name)
        if got["State"] in ("COMPLETED", "CANCELLED", "FAILED") or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_an_archive_keeps_the_events_its_pattern_matches(events):
    pattern = json.dumps({"source": ["app.keep"]})
    bus, bus_arn, name = bus_with_archive(
        events, EventPattern=pattern, Description="kept", RetentionDays=7
    )
    put(events, bus, "app.keep", 2, ago(60))
    put(events, bus, "app.other", 1, ago(60))
    got = events.describe_archive(ArchiveName=name)
    assert got["ArchiveArn"] == f"arn:aws:events:us-east-1:000000000000:archive/{name}"
    assert (got["EventSourceArn"], got["State"], got["EventCount"]) == (bus_arn, "ENABLED", 2)
    assert (got["EventPattern"], got["Description"], got["RetentionDays"]) == (pattern, "kept", 7)
    assert got["SizeBytes"] > 200
    listed = events.list_archives(NamePrefix=name)["Archives"]
    assert [(a["ArchiveName"], a["EventCount"]) for a in listed] == [(name, 2)]
    assert [a["ArchiveName"] for a in events.list_archives(EventSourceArn=bus_arn)["Archives"]] == [
        name
    ]
    events.update_archive(ArchiveName=name, Description="changed", RetentionDays=0)
    got = events.describe_archive(ArchiveName=name)
    assert (got["Description"], got["RetentionDays"]) == ("changed", 0)
    events.delete_archive(ArchiveName=name)
    assert events.list_archives(NamePrefix=name)["Archives"] == []


def test_a_replay_resends_archived_events_with_replay_name(events, sqs):
    bus, bus_arn, archive = bus_with_archive(events)
    put(events, bus, "app.r", 3, ago(60))
    _, url = rule_to_queue(events, sqs, bus, "app.r")
    name = unique("replay")
    started = replay(events, name, archive, bus_arn)
    assert started["State"] == "STARTING"
    assert started["ReplayArn"] == f"arn:aws:events:us-east-1:000000000000:replay/{name}"
    done = settled(events, name)
    assert done["State"] == "COMPLETED"
    assert done["ReplayEndTime"] >= done["ReplayStartTime"]
    assert done["EventLastReplayedTime"] <= done["EventEndTime"]
    got = [json.loads(m["Body"]) for m in receive(sqs, url, 3, timeout=5)]
    assert sorted(e["detail"]["n"] for e in got) == [0, 1, 2]
    assert {e["replay-name"] for e in got} == {name}
    assert list(got[0])[-1] == "replay-name"
    # Replayed events are not archived again.
    assert events.describe_archive(ArchiveName=archive)["EventCount"] == 3
    listed = events.list_replays(NamePrefix=name)["Replays"]
    assert [(r["ReplayName"], r["State"]) for r in listed] == [(name, "COMPLETED")]
    with pytest.raises(ClientError) as exc:
        events.cancel_replay(ReplayName=name)
    assert error(exc) == (
        "IllegalStatusException",
        f"Replay {name} is not in a valid state for this operation.",
        400,
    )


def test_filter_arns_limit_the_rules_a_replay_reaches(events, sqs):
    bus, bus_arn, archive = bus_with_archive(events)
    put(events, bus, "app.f", 2, ago(60))
    chosen, url_chosen = rule_to_queue(events, sqs, bus, "app.f")
    _, url_other = rule_to_queue(events, sqs, bus, "app.f")
    elsewhere = unique("bus")
    events.create_event_bus(Name=elsewhere)
    _, url_elsewhere = rule_to_queue(events, sqs, elsewhere, "app.f")
    name = unique("replay")
    replay(events, name, archive, bus_arn, FilterArns=[chosen])
    assert settled(events, name)["State"] == "COMPLETED"
    assert len(receive(sqs, url_chosen, 2, timeout=5)) == 2
    assert quiet(sqs, url_other, 1.0) and quiet(sqs, url_elsewhere, 0.5)


def test_archive_and_replay_errors(events):
    bus, bus_arn, archive = bus_with_archive(events)
    with pytest.raises(ClientError) as exc:
        events.create_archive(ArchiveName=archive, EventSourceArn=bus_arn)
    assert error(exc) == (
        "ResourceAlreadyExistsException",
        f"Archive {archive} already exists.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        events.describe_archive(ArchiveName="nope")
    assert error(exc) == ("ResourceNotFoundException", "Archive nope does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        events.delete_archive(ArchiveName="nope")
    assert error(exc)[0] == "ResourceNotFoundException"
    missing = bus_arn.replace(bus, "missing-bus")
    with pytest.raises(ClientError) as exc:
        events.create_archive(ArchiveName=unique("a"), EventSourceArn=missing)
    assert error(exc) == ("ResourceNotFoundException", "Event bus missing-bus does not exist.", 400)
    with pytest.raises(ClientError) as exc:
        events.create_archive(ArchiveName="bad name", EventSourceArn=bus_arn)
    assert error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        events.create_archive(ArchiveName=unique("a"), EventSourceArn=bus_arn, EventPattern="[1]")
    assert error(exc)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as exc:
        events.list_archives(NamePrefix="a", State="ENABLED")
    assert "At most one filter" in error(exc)[1]

    arn = events.describe_archive(ArchiveName=archive)["ArchiveArn"]
    window = {"EventSourceArn": arn, "Destination": {"Arn": bus_arn}}
    with pytest.raises(ClientError) as exc:
        events.start_replay(
            ReplayName=unique("r"), EventStartTime=ago(10), EventEndTime=ago(20), **window
        )
    assert error(exc) == (
        "ValidationException",
        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        events.start_replay(
            ReplayName=unique("r"), EventStartTime=ago(10), EventEndTime=ago(-3600), **window
        )
    assert error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        events.start_replay(
            ReplayName=unique("r"),
            EventSourceArn=arn.replace(archive, "gone"),
            EventStartTime=ago(20),
            EventEndTime=ago(10),
            Destination={"Arn": bus_arn},
        )
    assert error(exc) == (
        "ValidationException",
        "Parameter EventSourceArn is not valid. Reason: Archive gone does not exist.",
        400,
    )
    other = events.create_event_bus(Name=unique("bus"))["EventBusArn"]
    with pytest.raises(ClientError) as exc:
        events.start_replay(
            ReplayName=unique("r"),
            EventSourceArn=arn,
            EventStartTime=ago(20),
            EventEndTime=ago(10),
            Destination={"Arn": other},
        )
    assert "Cross event bus replay is not permitted." in error(exc)[1]
    name = unique("r")
    events.start_replay(ReplayName=name, EventStartTime=ago(20), EventEndTime=ago(10), **window)
    with pytest.raises(ClientError) as exc:
        events.start_replay(ReplayName=name, EventStartTime=ago(20), EventEndTime=ago(10), **window)
    assert error(exc) == ("ResourceAlreadyExistsException", f"Replay {name} already exists.", 400)
    with pytest.raises(ClientError) as exc:
        events.describe_replay(ReplayName="nope")
    assert error(exc) == ("ResourceNotFoundException", "Replay nope does not exist.", 400)


def test_a_replay_is_cancelled(slow):
    events = slow.client("events", config=NO_RETRIES)
    bus, bus_arn, archive = bus_with_archive(events)
    put(events, bus, "app.c", 1, ago(60))
    name = unique("replay")
    replay(events, name, archive, bus_arn)
    assert events.cancel_replay(ReplayName=name)["State"] == "CANCELLING"
    assert events.describe_replay(ReplayName=name)["State"] == "CANCELLING"
    done = settled(events, name)
    assert done["State"] == "CANCELLED" and "EventLastReplayedTime" not in done
    assert [r["ReplayName"] for r in events.list_replays(State="CANCELLED")["Replays"]] == [name]


def test_retention_deletes_events_older_than_its_days(slow):
    events = slow.client("events", config=NO_RETRIES)
    bus, _, archive = bus_with_archive(events, RetentionDays=1)
    put(events, bus, "app.old", 2, ago(2 * 86400))
    put(events, bus, "app.new", 1, ago(60))
    deadline = time.monotonic() + 3
    while events.describe_archive(ArchiveName=archive)["EventCount"] != 1:
        assert time.monotonic() < deadline, "the sweep did not run"
        time.sleep(0.1)


def test_archives_and_their_events_survive_a_restart(tmp_path):
    env = {"CLOUDLET_EVENTS_REPLAY_DELAY": "30"}
    with CloudletServer.start(data_dir=tmp_path, env=env) as srv:
        events = srv.client("events", config=NO_RETRIES)
        bus, bus_arn, archive = bus_with_archive(events)
        put(events, bus, "app.d", 2, ago(60))
        replay(events, "cut-short", archive, bus_arn)
    with CloudletServer.start(data_dir=tmp_path) as srv:
        events, sqs = srv.client("events", config=NO_RETRIES), srv.client("sqs")
        assert events.describe_archive(ArchiveName=archive)["EventCount"] == 2
        cut = events.describe_replay(ReplayName="cut-short")
        assert cut["State"] == "FAILED" and "restart" in cut["StateReason"]
        _, url = rule_to_queue(events, sqs, bus, "app.d")
        replay(events, "after", archive, bus_arn)
        assert settled(events, "after")["State"] == "COMPLETED"
        assert len(receive(sqs, url, 2, timeout=5)) == 2
