"""Runtimes and execution environment: awslambdaric, custom bootstraps, layers, memory, URLs."""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
import uuid

from tests.services import lambda_helpers
from tests.services.lambda_helpers import (
    ROLE,
    invoke_json,
    python_function,
    zip_of,
)

# The module's private server and its Lambda client (fixtures).
lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam


def _name() -> str:
    return f"rt-{uuid.uuid4().hex[:10]}"


def test_awslambdaric_as_the_runtime_client(lam):
    name = _name()
    bootstrap = f"#!/bin/sh\nexec {sys.executable} -m awslambdaric handler.fn\n"
    handler = (
        "STATE = {'n': 0}\n"
        "def fn(event, context):\n"
        "    STATE['n'] += 1\n"
        "    print('ric says hi')\n"
        "    return {'n': STATE['n'], 'echo': event, 'fn': context.function_name}\n"
    )
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="handler.fn",
        Code={"ZipFile": zip_of({"bootstrap": bootstrap, "handler.py": handler})},
        Timeout=30,
        MemorySize=512,
    )
    resp, body = invoke_json(lam, name, {"a": 1}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body == {"n": 1, "echo": {"a": 1}, "fn": name}
    assert "ric says hi" in base64.b64decode(resp["LogResult"]).decode()
    assert invoke_json(lam, name, {"a": 2})[1]["n"] == 2


def test_shell_bootstrap_speaking_the_runtime_api(lam):
    name = _name()
    bootstrap = """#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "got $EVENT"
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"shell\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}" >/dev/null
done
"""
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2",
        Role=ROLE,
        Handler="whatever",
        Code={"ZipFile": zip_of({"bootstrap": bootstrap})},
    )
    for i in range(2):
        resp, body = invoke_json(lam, name, {"i": i}, LogType="Tail")
        assert body == {"shell": {"i": i}, "handler": "whatever"}, body
    assert "got {" in base64.b64decode(resp["LogResult"]).decode()


def test_missing_bootstrap_and_bad_handler_are_init_errors(lam):
    name = _name()
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="x",
        Code={"ZipFile": zip_of({"readme.txt": "no bootstrap"})},
    )
    resp, body = invoke_json(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    other = _name()
    python_function(lam, other, "x = 1\n", handler="nomodule.handler")
    resp, body = invoke_json(lam, other)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'nomodule'")


def test_layers_are_importable_and_visible_as_opt(lam):
    layer = lam.publish_layer_version(
        LayerName=f"lib-{uuid.uuid4().hex[:6]}",
        Content={
            "ZipFile": zip_of(
                {
                    "python/shared_lib.py": "GREETING = 'from layer'\n",
                    "python/lib/python3.12/site-packages/deep_lib.py": "VALUE = 42\n",
                    "data/config.json": '{"k": "v"}',
                }
            )
        },
        CompatibleRuntimes=["python3.12"],
    )
    assert layer["Version"] == 1 and layer["Content"]["CodeSize"] > 0
    source = (
        "import json, os, shared_lib\n"
        "def handler(event, context):\n"
        "    opt = os.environ['CLOUDLET_LAMBDA_OPT']\n"
        "    with open(os.path.join(opt, 'data', 'config.json')) as f:\n"
        "        cfg = json.load(f)\n"
        "    try:\n"
        "        import deep_lib\n"
        "        deep = deep_lib.VALUE\n"
        "    except ImportError:\n"
        "        deep = None\n"
        "    return {'greeting': shared_lib.GREETING, 'cfg': cfg, 'deep': deep}\n"
    )
    name = _name()
    python_function(lam, name, source, Layers=[layer["LayerVersionArn"]])
    body = invoke_json(lam, name)[1]
    assert body["greeting"] == "from layer" and body["cfg"] == {"k": "v"}
    assert body["deep"] == 42
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    versions = lam.list_layer_versions(LayerName=layer["LayerArn"])["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert any(lyr["LayerArn"] == layer["LayerArn"] for lyr in lam.list_layers()["Layers"])
    got = lam.get_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)
    with urllib.request.urlopen(got["Content"]["Location"]) as r:
        assert r.read()[:2] == b"PK"


def test_memory_limit_is_enforced(lam):
    name = _name()
    source = (
        "def handler(event, context):\n"
        "    if event.get('hog'):\n"
        "        block = bytearray(400 * 1024 * 1024)\n"
        "        return len(block)\n"
        "    return 'fine'\n"
    )
    python_function(lam, name, source, MemorySize=128)
    assert invoke_json(lam, name)[1] == "fine"
    resp, body = invoke_json(lam, name, {"hog": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] in ("MemoryError", "Runtime.ExitError"), body
    # The worker is replaced: the function keeps answering.
    assert invoke_json(lam, name)[1] == "fine"


def test_function_url_answers_http(lam, lambda_server):
    name = _name()
    source = (
        "import json\n"
        "def handler(event, context):\n"
        "    if event['rawPath'] == '/plain':\n"
        "        return ['not', 'a', 'dict']\n"
        "    return {\n"
        "        'statusCode': 201,\n"
        "        'headers': {'x-echo': event['requestContext']['http']['method']},\n"
        "        'cookies': ['a=1'],\n"
        "        'body': json.dumps({'path': event['rawPath'], 'q': event.get('queryStringParameters'),\n"
        "                            'body': event.get('body'), 'version': event['version'],\n"
        "                            'route': event['routeKey']}),\n"
        "    }\n"
    )
    python_function(lam, name, source)
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", Cors={"AllowOrigins": ["*"]}
    )["FunctionUrl"]
    assert ".lambda-url.us-east-1.localhost:" in url
    host = url.split("//", 1)[1].rstrip("/")
    port = lambda_server.port
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/hello/world?x=1&y=2",
        data=b'{"in": true}',
        method="POST",
        headers={"Host": host, "Content-Type": "application/json", "Origin": "http://example.com"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201
        assert resp.headers["x-echo"] == "POST"
        assert resp.headers["Set-Cookie"] == "a=1"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        doc = json.loads(resp.read())
    assert doc == {
        "path": "/hello/world",
        "q": {"x": "1", "y": "2"},
        "body": '{"in": true}',
        "version": "2.0",
        "route": "$default",
    }
    req = urllib.request.Request(f"http://127.0.0.1:{port}/plain", headers={"Host": host})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == ["not", "a", "dict"]
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
    assert len(lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]) == 1
    lam.delete_function_url_config(FunctionName=name)
    try:
        urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
        )
        raise AssertionError("deleted URL still answers")
    except urllib.error.HTTPError as err:
        assert err.code == 404


def test_aws_iam_function_url_fails_closed_in_strict_mode():
    from cloudlet.testing import CloudletServer

    with CloudletServer.start(auth="strict", env=lambda_helpers.LAMBDA_ENV) as server:
        lam = server.client("lambda")
        name = _name()
        python_function(lam, name, "def handler(e, c):\n    return 'secret'\n")
        url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/", headers={"Host": url.split("//", 1)[1].rstrip("/")}
        )
        try:
            urllib.request.urlopen(req)
            raise AssertionError("an AWS_IAM URL answered an unsigned request")
        except urllib.error.HTTPError as err:
            assert err.code == 403
