"""Runtime versions and runtime management configs; and the deprecated InvokeAsync.

A runtime version here is the host's build of a runtime (its interpreter and runtime
client for Python), so its ARN is the same for every function of a runtime and a
``Manual`` pin accepts only that ARN.
"""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services import lambda_helpers
from tests.services.lambda_helpers import invoke_json, python_function, wait_for, zip_of
from tests.services.names import unique

lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

VERSION_ARN = re.compile(r"^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$")
HELLO = "def handler(event, context):\n    return 'hello'\n"


def _error(exc) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def _version_arn(lam, name: str, **kw) -> str:
    config = lam.get_function_configuration(FunctionName=name, **kw)
    return config["RuntimeVersionConfig"]["RuntimeVersionArn"]


def test_every_function_shows_the_runtime_version_it_runs_on(lam):
    first, second, custom = unique("rv"), unique("rv"), unique("rv")
    made = python_function(lam, first, HELLO)
    python_function(lam, second, HELLO)
    lam.create_function(
        FunctionName=custom,
        Runtime="provided.al2023",
        Role=lambda_helpers.ROLE,
        Handler="x",
        Code={"ZipFile": zip_of({"bootstrap": "#!/bin/sh\nexit 0\n"})},
    )
    arn = _version_arn(lam, first)
    assert VERSION_ARN.match(arn) and made["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    assert _version_arn(lam, second) == arn
    assert VERSION_ARN.match(_version_arn(lam, custom)) and _version_arn(lam, custom) != arn
    got = lam.get_runtime_management_config(FunctionName=first)
    assert got["UpdateRuntimeOn"] == "Auto" and "RuntimeVersionArn" not in got
    assert got["FunctionArn"] == made["FunctionArn"]
    listed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert listed[first]["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn


def test_modes_and_their_errors(lam):
    name = unique("modes")
    python_function(lam, name, HELLO)
    arn = _version_arn(lam, name)
    put = lam.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="FunctionUpdate")
    assert put["UpdateRuntimeOn"] == "FunctionUpdate" and "RuntimeVersionArn" not in put
    assert lam.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == (
        "FunctionUpdate"
    )
    other = "arn:aws:lambda:us-east-1::runtime:" + "0" * 64
    cases = [
        ({"UpdateRuntimeOn": "Sometimes"}, "ValidationException", 400),
        ({"UpdateRuntimeOn": "Manual"}, "InvalidParameterValueException", 400),
        (
            {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": other},
            "InvalidParameterValueException",
            400,
        ),
        (
            {"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": arn},
            "InvalidParameterValueException",
            400,
        ),
    ]
    for params, code, status in cases:
        with pytest.raises(ClientError) as exc:
            lam.put_runtime_management_config(FunctionName=name, **params)
        assert _error(exc)[:2] == (code, status)
    with pytest.raises(ClientError) as exc:
        lam.put_runtime_management_config(
            FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=other
        )
    assert arn in _error(exc)[2]  # names the version the host has
    pinned = lam.put_runtime_management_config(
        FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=arn
    )
    assert (pinned["UpdateRuntimeOn"], pinned["RuntimeVersionArn"]) == ("Manual", arn)
    # A published version takes $LATEST's config, then has its own.
    version = lam.publish_version(FunctionName=name)["Version"]
    got = lam.get_runtime_management_config(FunctionName=name, Qualifier=version)
    assert (got["UpdateRuntimeOn"], got["RuntimeVersionArn"]) == ("Manual", arn)
    assert got["FunctionArn"].endswith(f":{name}:{version}")
    lam.put_runtime_management_config(FunctionName=name, Qualifier=version, UpdateRuntimeOn="Auto")
    assert (
        lam.get_runtime_management_config(FunctionName=name, Qualifier=version)["UpdateRuntimeOn"]
        == "Auto"
    )
    assert lam.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "Manual"
    for call in (
        lambda: lam.get_runtime_management_config(FunctionName=name, Qualifier="99"),
        lambda: lam.get_runtime_management_config(FunctionName=unique("missing")),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[:2] == ("ResourceNotFoundException", 404)


def test_a_function_pinned_to_a_version_the_host_lacks_does_not_run(lam):
    name = unique("pinned")
    python_function(lam, name, HELLO)
    arn = _version_arn(lam, name)
    lam.put_runtime_management_config(
        FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=arn
    )
    assert invoke_json(lam, name)[1] == "hello"
    # Another runtime is another series of versions: the pin no longer exists here.
    lam.update_function_configuration(FunctionName=name, Runtime="python3.13")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert _version_arn(lam, name) == arn  # still pinned
    with pytest.raises(ClientError) as exc:
        invoke_json(lam, name)
    code, status, message = _error(exc)
    assert (code, status) == ("InvalidRuntimeException", 502) and arn in message
    lam.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="Auto")
    assert _version_arn(lam, name) != arn
    assert invoke_json(lam, name)[1] == "hello"


def test_the_config_survives_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path, env=lambda_helpers.LAMBDA_ENV)
    name = unique("kept")
    try:
        client = server.client("lambda")
        python_function(client, name, HELLO)
        arn = _version_arn(client, name)
        client.put_runtime_management_config(
            FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=arn
        )
        client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path, env=lambda_helpers.LAMBDA_ENV)
    try:
        client = server.client("lambda")
        got = client.get_runtime_management_config(FunctionName=name)
        assert (got["UpdateRuntimeOn"], got["RuntimeVersionArn"]) == ("Manual", arn)
        assert _version_arn(client, name) == arn
        assert client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
        assert invoke_json(client, name)[1] == "hello"
    finally:
        server.stop()


def test_invoke_async_queues_an_event(lam, tmp_path):
    name, out = unique("old-async"), tmp_path / "events.jsonl"
    source = (
        "import json, os\n"
        "def handler(event, context):\n"
        "    with open(os.environ['OUT'], 'a') as f:\n"
        "        f.write(json.dumps(event) + '\\n')\n"
    )
    python_function(lam, name, source, Environment={"Variables": {"OUT": str(out)}})
    got = lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"old": "api"}).encode())
    assert got["Status"] == 202
    wait_for(lambda: out.exists() and out.read_text().strip(), timeout=15)
    assert json.loads(out.read_text().splitlines()[0]) == {"old": "api"}
    with pytest.raises(ClientError) as exc:
        lam.invoke_async(FunctionName=unique("missing"), InvokeArgs=b"{}")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
