"""Lambda SnapStart with boto3: a snapshot per published version (a forked, initialised
template process), restored environments, runtime hooks, states, errors, restarts."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.services import lambda_helpers
from tests.services.lambda_helpers import (
    LAMBDA_ENV,
    ROLE,
    invoke_json,
    leftover_workers,
    wait_for,
    worker_pids,
    zip_of,
)

lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

SNAPSHOTTED = """
import os, random, time
import boto3
from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT_PID = os.getpid()
VALUE = random.random()
RESTORES = 0
BEFORE = []
# A connection made in Init: every restored environment must reconnect, not share it.
STS = boto3.client("sts")
ACCOUNT = STS.get_caller_identity()["Account"]


@register_before_snapshot
def before():
    BEFORE.append(os.getpid())


register_before_snapshot(BEFORE.append, "registered last, run first")


def after(step):
    global RESTORES
    RESTORES += step


register_after_restore(after, 1)
register_after_restore(after, step=10)


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "pid": os.getpid(),
        "init_pid": INIT_PID,
        "value": VALUE,
        "draw": random.random(),
        "restores": RESTORES,
        "before": BEFORE,
        "account": STS.get_caller_identity()["Account"] == ACCOUNT,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""

SLEEPER = """
import os, random, time
VALUE = random.random()
INIT_PID = os.getpid()
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "init_pid": INIT_PID, "value": VALUE}
"""


def _name() -> str:
    return f"snap-{uuid.uuid4().hex[:10]}"


def _create(lam: Any, name: str, source: str, **kwargs: Any) -> dict:
    kwargs.setdefault("Runtime", "python3.12")
    kwargs.setdefault("SnapStart", {"ApplyOn": "PublishedVersions"})
    out = lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": source})},
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return out


def _publish(lam: Any, name: str) -> dict:
    version = lam.publish_version(FunctionName=name)
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version["Version"], WaiterConfig={"Delay": 1}
    )
    return version


def _concurrently(server: Any, name: str, *events: dict, **kwargs: Any) -> list[tuple[dict, Any]]:
    """Invoke version 1 once per event, all at once: (response, result) each."""

    def one(event: dict) -> tuple[dict, Any]:
        return invoke_json(server.client("lambda"), name, event, Qualifier="1", **kwargs)

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(one, events))


def _tail(resp: dict) -> str:
    return base64.b64decode(resp["LogResult"]).decode()


def _error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    err = caught.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_environments_are_restored_from_the_versions_snapshot(lam, lambda_server):
    name = _name()
    created = _create(lam, name, SNAPSHOTTED, Timeout=10)
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    published = lam.publish_version(FunctionName=name)
    assert published["State"] == "Pending" and published["StateReasonCode"] == "Creating"
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig={"Delay": 1}
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="1")
    config = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["State"] == "Active" and config["LastUpdateStatus"] == "Successful"
    assert "StateReasonCode" not in config
    latest = lam.get_function(FunctionName=name)["Configuration"]["SnapStart"]
    assert latest == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}

    # Two at once need two environments: both forked from the one initialised template.
    (resp1, first), (resp2, second) = _concurrently(
        lambda_server, name, {"sleep": 1}, {"sleep": 1}, LogType="Tail"
    )
    assert first["pid"] != second["pid"]
    assert first["init_pid"] == second["init_pid"] not in (first["pid"], second["pid"])
    assert first["value"] == second["value"]  # the snapshot's state, in each
    assert first["draw"] == second["draw"]  # and its random generator's, as on AWS
    assert first["restores"] == second["restores"] == 11  # after-restore: once each
    assert first["before"] == second["before"] == ["registered last, run first", first["init_pid"]]
    assert first["account"] and second["account"]  # Init's connection was re-made
    assert first["init_type"] == "snap-start" and first["stream"] is None
    for resp in (resp1, resp2):
        report = next(line for line in _tail(resp).splitlines() if line.startswith("REPORT"))
        assert "Restore Duration: " in report and "Billed Restore Duration: " in report
        assert "Init Duration" not in report
    server_pid = lambda_server.proc.pid
    for pid in (first["pid"], second["pid"]):
        env = psutil.Process(pid)
        assert env.ppid() == server_pid  # reaped by the server
        assert env.rlimit(psutil.RLIMIT_DATA) == (128 * 1024 * 1024,) * 2  # the memory size
    assert _alive(first["init_pid"])

    resp, again = invoke_json(lam, name, Qualifier="1", LogType="Tail")
    assert again["restores"] == 11 and again["pid"] in (first["pid"], second["pid"])
    assert "Restore Duration" not in _tail(resp) and "Init Duration" not in _tail(resp)

    # $LATEST is never restored: a cold start with its own Init.
    resp, cold = invoke_json(lam, name, LogType="Tail")
    assert cold["init_pid"] == cold["pid"] and cold["restores"] == 0 and cold["before"] == []
    assert cold["init_type"] == "on-demand"
    assert "Init Duration: " in _tail(resp) and "Restore Duration" not in _tail(resp)

    code, status, message = _error(
        lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    )
    assert (code, status) == ("InvalidParameterValueException", 400), message

    logs = lambda_server.client("logs")

    def init_report() -> list[str]:
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern='"INIT_REPORT"'
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in events]

    assert wait_for(init_report)[0].startswith("INIT_REPORT Init Duration: ")


def test_states_and_errors(lam):
    code, status, message = _error(lambda: _create(lam, _name(), SLEEPER, Runtime="python3.11"))
    assert (code, status, message) == (
        "InvalidParameterValueException",
        400,
        "python3.11 is not supported for SnapStart enabled functions.",
    )
    code, _, message = _error(lambda: _create(lam, _name(), SLEEPER, Runtime="provided.al2023"))
    assert message == "provided.al2023 is not supported for SnapStart enabled functions."

    # Turned on later; then the runtime cannot go where SnapStart is not.
    name = _name()
    _create(lam, name, SLEEPER, SnapStart={"ApplyOn": "None"})
    out = lam.update_function_configuration(
        FunctionName=name, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    assert out["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    code, _, message = _error(
        lambda: lam.update_function_configuration(FunctionName=name, Runtime="python3.10")
    )
    assert message == "python3.10 is not supported for SnapStart enabled functions."

    # While the snapshot is made the version is Pending and not invocable.
    slow = _name()
    _create(lam, slow, "import time\ntime.sleep(2)\n" + SLEEPER)
    lam.publish_version(FunctionName=slow)
    code, status, _ = _error(lambda: invoke_json(lam, slow, Qualifier="1"))
    assert (code, status) == ("SnapStartNotReadyException", 409)
    assert lam.get_function_configuration(FunctionName=slow, Qualifier="1")["State"] == "Pending"

    # An Init that fails at publish leaves the version Failed.
    broken = _name()
    _create(lam, broken, "raise RuntimeError('no config')\n")
    lam.publish_version(FunctionName=broken)
    with pytest.raises(WaiterError):
        lam.get_waiter("published_version_active").wait(
            FunctionName=broken, Qualifier="1", WaiterConfig={"Delay": 1}
        )
    config = lam.get_function_configuration(FunctionName=broken, Qualifier="1")
    assert config["State"] == "Failed" and config["StateReasonCode"] == "FunctionError"
    assert config["LastUpdateStatus"] == "Failed" and config["StateReason"]
    code, status, message = _error(lambda: invoke_json(lam, broken, Qualifier="1"))
    assert (code, status) == ("ResourceConflictException", 409) and "Failed" in message
    # $LATEST is not snapshotted: its cold start fails as any init does.
    resp, body = invoke_json(lam, broken)
    assert resp["FunctionError"] == "Unhandled" and body["errorType"] == "RuntimeError"

    hooked = _name()
    _create(
        lam,
        hooked,
        "from snapshot_restore_py import register_before_snapshot as b\n"
        "b(lambda: 1 / 0)\n" + SLEEPER,
    )
    lam.publish_version(FunctionName=hooked)
    assert wait_for(
        lambda: (
            lam.get_function_configuration(FunctionName=hooked, Qualifier="1")["State"] == "Failed"
        )
    )

    # An after-restore hook that fails: SnapStart's error for that invocation.
    restore_fails = _name()
    _create(
        lam,
        restore_fails,
        "from snapshot_restore_py import register_after_restore\n"
        "@register_after_restore\n"
        "def again():\n    raise ValueError('stale')\n" + SLEEPER,
    )
    _publish(lam, restore_fails)
    code, status, _ = _error(lambda: invoke_json(lam, restore_fails, Qualifier="1"))
    assert (code, status) == ("SnapStartException", 400)
    assert invoke_json(lam, restore_fails)[1]["value"]  # $LATEST runs no hook


def test_a_timeout_kills_only_its_environment_and_deletes_leave_nothing(lam, lambda_server):
    name = _name()
    _create(lam, name, SLEEPER, Timeout=1)
    _publish(lam, name)
    (_, one), (_, two) = _concurrently(lambda_server, name, {"sleep": 0.5}, {"sleep": 0.5})
    template = one["init_pid"]
    assert one["pid"] != two["pid"] and one["value"] == two["value"]

    # One times out while its sibling runs: only the one that timed out is killed.
    (_, late), (_, ok) = _concurrently(lambda_server, name, {"sleep": 5}, {"sleep": 0.9})
    assert late["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert ok["pid"] in (one["pid"], two["pid"]) and _alive(ok["pid"])
    gone = two["pid"] if ok["pid"] == one["pid"] else one["pid"]
    assert wait_for(lambda: not _alive(gone))
    assert _alive(template)

    # A new environment is restored in its place, from the same snapshot.
    (_, three), (_, four) = _concurrently(lambda_server, name, {"sleep": 0.5}, {"sleep": 0.5})
    assert {three["pid"], four["pid"]} - {one["pid"], two["pid"]}
    assert three["value"] == four["value"] == one["value"]
    assert three["init_pid"] == template

    # Deleting the version kills its snapshot and its environments; the function stays.
    pids = {template, one["pid"], two["pid"], three["pid"], four["pid"]}
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert wait_for(lambda: not [pid for pid in pids if _alive(pid)], timeout=10)
    cold = invoke_json(lam, name)[1]
    assert cold["pid"] == cold["init_pid"] and _alive(cold["pid"])
    lam.delete_function(FunctionName=name)
    assert wait_for(lambda: not _alive(cold["pid"]), timeout=10)


def test_the_snapshot_is_made_again_after_a_restart(tmp_path):
    data = tmp_path / "data"
    server = lambda_helpers.CloudletServer.start(data_dir=data, env=LAMBDA_ENV)
    try:
        lam = server.client("lambda")
        name = _name()
        _create(lam, name, SLEEPER)
        _publish(lam, name)
        before = invoke_json(lam, name, Qualifier="1")[1]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        pids = worker_pids(server)
    finally:
        server.stop()
    assert leftover_workers(pids) == [] and not _alive(before["init_pid"])

    server = lambda_helpers.CloudletServer.start(data_dir=data, env=LAMBDA_ENV)
    try:
        lam = server.client("lambda")
        config = lam.get_function_configuration(FunctionName=name, Qualifier="1")
        assert config["State"] == "Active" and config["SnapStart"]["OptimizationStatus"] == "On"
        resp, after = invoke_json(lam, name, Qualifier="live", LogType="Tail")
        assert "Restore Duration: " in _tail(resp)
        assert after["init_pid"] != before["init_pid"]  # Init ran again at start
        assert after["pid"] != after["init_pid"]
        pids = worker_pids(server)
    finally:
        server.stop()
    assert leftover_workers(pids) == []
    assert json.dumps(after)
