"""The gateway seen from outside: CLI, health, detection, protocols, NotImplemented."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer


def test_health(cloudlet_server):
    with urllib.request.urlopen(cloudlet_server.endpoint + "/_cloudlet/health") as r:
        assert r.status == 200
        body = json.load(r)
    assert body["version"]
    assert body["services"]["sqs"]["state"] == "running"


def test_serve_prints_ready_line_and_stops_cleanly_on_sigterm_and_sigint(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cloudlet", "serve", "--port", "0", "--ephemeral"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            assert line.startswith("cloudlet ready on http://127.0.0.1:")
            endpoint = line.split()[-1]
            with urllib.request.urlopen(endpoint + "/_cloudlet/health") as r:
                assert r.status == 200
            proc.send_signal(sig)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_default_data_dir_follows_xdg(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path)}
    server = CloudletServer(["serve", "--port", "0"], env=env)
    server._launch(30)
    try:
        server.client("sqs").create_queue(QueueName="xdg")
    finally:
        server.stop()
    assert any((tmp_path / "cloudlet").iterdir())


NOT_BUILT = [
    # (service, operation call, protocol it speaks)
    ("kinesisanalytics", lambda c: c.list_applications(), "json"),
    ("ec2", lambda c: c.describe_nat_gateways(), "ec2"),
    ("sns", lambda c: c.list_platform_applications(), "query"),
    ("lambda", lambda c: c.list_code_signing_configs(), "rest-json"),
    ("route53", lambda c: c.list_hosted_zones(), "rest-xml"),
    # Snowball's model offers CBOR first in botocore 1.43 and 1.44 alike (translate's
    # only from 1.44), so the client speaks CBOR whichever of them is installed.
    ("snowball", lambda c: c.list_clusters(), "smithy-rpc-v2-cbor"),
    # Services that share their signing name with another unbuilt one (apigateway,
    # appconfig, es, bedrock): the one whose routes match answers, not a 404.
    ("apigatewayv2", lambda c: c.get_apis(), "rest-json"),
    ("opensearch", lambda c: c.list_domain_names(), "rest-json"),
    (
        "appconfigdata",
        lambda c: c.start_configuration_session(
            ApplicationIdentifier="a", EnvironmentIdentifier="e", ConfigurationProfileIdentifier="c"
        ),
        "rest-json",
    ),
    ("bedrock-runtime", lambda c: c.invoke_model(modelId="m", body=b"{}"), "rest-json"),
]


@pytest.mark.parametrize("service,call,protocol", NOT_BUILT, ids=[n[0] for n in NOT_BUILT])
def test_unbuilt_operation_answers_501_not_implemented(aws_client, service, call, protocol):
    client = aws_client(service, config=Config(retries={"max_attempts": 0}))
    assert client.meta.service_model.protocol == protocol or protocol in (
        client.meta.service_model.metadata.get("protocols") or []
    )
    with pytest.raises(ClientError) as exc:
        call(client)
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert "not implemented" in err["Error"]["Message"]


def _post(endpoint: str, body: bytes, headers: dict[str, str], path: str = "/"):
    req = urllib.request.Request(endpoint + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_unknown_operation_json(cloudlet_server):
    status, _, body = _post(
        cloudlet_server.endpoint,
        b"{}",
        {"X-Amz-Target": "AmazonSQS.NoSuchThing", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert status == 400
    assert json.loads(body)["__type"].endswith("UnknownOperationException")


def test_unknown_operation_query(cloudlet_server):
    status, _, body = _post(
        cloudlet_server.endpoint,
        b"Action=NoSuchThing&Version=2012-11-05",
        {"Content-Type": "application/x-www-form-urlencoded"},
        path="/000000000000/whatever",
    )
    assert status == 400
    assert b"<Code>InvalidAction</Code>" in body


def test_region_from_credential_scope_and_account_from_access_key(cloudlet_server):
    sqs = boto3.client(
        "sqs",
        endpoint_url=cloudlet_server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="x",
    )
    url = sqs.create_queue(QueueName="regional")["QueueUrl"]
    assert "/123456789012/regional" in url
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert arn["QueueArn"] == "arn:aws:sqs:eu-west-1:123456789012:regional"
    other = boto3.client(
        "sqs",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-west-2",
        aws_access_key_id="123456789012",
        aws_secret_access_key="x",
    )
    assert "QueueUrls" not in other.list_queues(QueueNamePrefix="regional")


def test_status_command(cloudlet_server):
    out = subprocess.run(
        [sys.executable, "-m", "cloudlet", "status", "--endpoint", cloudlet_server.endpoint],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["services"]["sqs"]


def test_ci_runs_the_readme_commands():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    for line in ci.splitlines():
        if line.startswith("python3 -m"):
            assert line in readme, f"{line!r} is in .ci/run but not in the README"


def test_no_server_env_leak():
    assert "CLOUDLET_EXIT_WITH_PARENT" not in os.environ
