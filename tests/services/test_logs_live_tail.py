"""CloudWatch Logs Live Tail with boto3 against a real server: the event stream's
``sessionStart`` and the ``sessionUpdate``s carrying the events put while it is open
(filtered by stream prefix and filter pattern), AWS's refusals, the session limit, and a
session timing out with ``SessionTimeoutException`` (shortened by environment)."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from cloudlet.testing import CloudletServer

ACCOUNT = "000000000000"
# StartLiveTail's host prefix (``stream-``) names no host for an IP endpoint: the test
# client drops it (``awscli_plugin.drop_host_prefix``); invalid requests reach the server.
UNCHECKED = Config(parameter_validation=False)


@pytest.fixture(scope="module")
def server():
    env = {"CLOUDLET_LOGS_LIVE_TAIL_SECONDS": "2.5", "CLOUDLET_LOGS_LIVE_TAIL_SESSION_LIMIT": "2"}
    with CloudletServer.start(env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs", config=UNCHECKED)


def _group(logs, *streams: str) -> tuple[str, str]:
    name = f"/tail/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name)
    for s in streams:
        logs.create_log_stream(logGroupName=name, logStreamName=s)
    return name, f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"


def _put(logs, group: str, stream: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": m} for m in messages],
    )


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_live_tail_streams_the_events_put_while_it_is_open(server, logs):
    group, arn = _group(logs, "app-1", "app-2", "other")
    writer = server.client("logs")
    out = logs.start_live_tail(
        logGroupIdentifiers=[arn],
        logStreamNamePrefixes=["app-"],
        logEventFilterPattern="ERROR",
    )
    stream = iter(out["responseStream"])
    start = next(stream)["sessionStart"]
    assert start["logGroupIdentifiers"] == [arn]
    assert start["logStreamNamePrefixes"] == ["app-"]
    assert start["logEventFilterPattern"] == "ERROR"
    assert start["sessionId"] and start["requestId"]
    _put(writer, group, "app-1", "ERROR one", "INFO skipped")
    _put(writer, group, "other", "ERROR from a stream the session does not watch")
    _put(writer, group, "app-2", "ERROR two")
    seen: list[dict] = []
    deadline = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < deadline:
        update = next(stream)["sessionUpdate"]
        assert update["sessionMetadata"] == {"sampled": False}
        seen += update["sessionResults"]
    out["responseStream"].close()
    assert sorted((e["logStreamName"], e["message"]) for e in seen) == [
        ("app-1", "ERROR one"),
        ("app-2", "ERROR two"),
    ]
    assert {e["logGroupIdentifier"] for e in seen} == {f"{ACCOUNT}:{group}"}
    assert all(e["ingestionTime"] >= e["timestamp"] for e in seen)


def test_live_tail_refusals(logs):
    group, arn = _group(logs, "s")
    other, _ = _group(logs)
    cases = [
        ({"logGroupIdentifiers": []}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [arn] * 11}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [arn + ":*"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [arn + "-missing"]}, "ResourceNotFoundException"),
        (
            {"logGroupIdentifiers": [arn], "logStreamNames": ["s"], "logStreamNamePrefixes": ["s"]},
            "InvalidParameterException",
        ),
        (
            {"logGroupIdentifiers": [arn, other], "logStreamNames": ["s"]},
            "InvalidParameterException",
        ),
        (
            {"logGroupIdentifiers": [arn], "logEventFilterPattern": "{ $.a = "},
            "InvalidParameterException",
        ),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as exc:
            logs.start_live_tail(**params)
        assert _error(exc)[0] == code, params
    # A name works as well as an ARN.
    out = logs.start_live_tail(logGroupIdentifiers=[group])
    assert next(iter(out["responseStream"]))["sessionStart"]["logGroupIdentifiers"] == [group]
    out["responseStream"].close()


def test_sessions_are_limited_and_time_out(server, logs):
    _, arn = _group(logs)
    deadline = time.monotonic() + 10
    while True:  # sessions other tests closed may take a moment to end
        try:
            first = logs.start_live_tail(logGroupIdentifiers=[arn])
            second = logs.start_live_tail(logGroupIdentifiers=[arn])
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with pytest.raises(ClientError) as exc:
        logs.start_live_tail(logGroupIdentifiers=[arn])
    assert _error(exc)[0] == "LimitExceededException"
    second["responseStream"].close()
    updates = 0
    with pytest.raises(EventStreamError) as timeout:
        for event in first["responseStream"]:
            updates += "sessionUpdate" in event
    assert timeout.value.response["Error"]["Code"] == "SessionTimeoutException"
    assert 1 <= updates <= 3
    deadline = time.monotonic() + 10
    while True:  # both slots come back once the sessions have ended
        try:
            again = [logs.start_live_tail(logGroupIdentifiers=[arn]) for _ in range(2)]
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    for out in again:
        out["responseStream"].close()
