"""Invoking functions with boto3: warm reuse, errors, timeouts, logs, aliases, async."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services import lambda_helpers
from tests.services.lambda_helpers import (
    invoke_json,
    python_function,
    wait_for,
    worker_pids,
)

# The module's private server and its Lambda client (fixtures).
lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

COUNTER = """
import os, time
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("invocation", COUNT)
    if event.get("fail"):
        raise ValueError("boom: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "count": COUNT,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "version": context.function_version,
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_EXECUTION_ENV", "_HANDLER", "TZ",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_ENDPOINT_URL", "MY_VAR")},
    }
"""


def _name() -> str:
    return f"fn-{uuid.uuid4().hex[:10]}"


def test_module_state_survives_warm_invocations(lam):
    name = _name()
    python_function(lam, name, COUNTER, Environment={"Variables": {"MY_VAR": "x"}})
    outs = [invoke_json(lam, name)[1] for _ in range(4)]
    assert [o["count"] for o in outs] == [1, 2, 3, 4]
    assert len({o["pid"] for o in outs}) == 1
    first = outs[0]
    assert first["arn"].endswith(f":function:{name}")
    assert first["version"] == "$LATEST" and first["memory"] == "128"
    assert 0 < first["remaining"] <= 3000
    env = first["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12" and env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC" and env["MY_VAR"] == "x"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_unhandled_error_shape(lam):
    name = _name()
    python_function(lam, name, COUNTER)
    resp, body = invoke_json(lam, name, {"fail": "x"})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom: x"
    assert (
        body["requestId"]
        == resp["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid", body["requestId"])
        or body["requestId"]
    )
    assert any("app.py" in line for line in body["stackTrace"])
    # The worker survives a handled exception: module state carries on.
    assert invoke_json(lam, name)[1]["count"] == 2


def test_timeout_kills_the_worker_with_aws_message(lam):
    name = _name()
    python_function(lam, name, COUNTER, Timeout=1)
    first = invoke_json(lam, name)[1]
    started = time.monotonic()
    resp, body = invoke_json(lam, name, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert resp["FunctionError"] == "Unhandled"
    message = body["errorMessage"]
    assert message.endswith("Task timed out after 1.00 seconds"), message
    timestamp, request_id = message.split(" ")[:2]
    assert timestamp.endswith("Z") and len(request_id) == 36
    # The next invocation runs on a fresh worker (module state reset).
    after = invoke_json(lam, name)[1]
    assert after["count"] == 1 and after["pid"] != first["pid"]


def test_log_tail(lam):
    name = _name()
    python_function(lam, name, COUNTER)
    resp, _ = invoke_json(lam, name, LogType="Tail")
    log = base64.b64decode(resp["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert "invocation 1" in lines
    assert any(line.startswith("END RequestId: ") for line in lines)
    report = next(line for line in lines if line.startswith("REPORT RequestId: "))
    for part in (
        "Duration: ",
        "Billed Duration: ",
        "Memory Size: 128 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ):
        assert part in report
    warm = base64.b64decode(invoke_json(lam, name, LogType="Tail")[0]["LogResult"]).decode()
    assert "Init Duration" not in warm


def test_dry_run_and_not_found(lam):
    name = _name()
    python_function(lam, name, COUNTER)
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function"
        in str(err.value)
    )


def test_payload_limits(lam):
    name = _name()
    python_function(lam, name, COUNTER)
    # An Event payload may be 1 MB (Invoke's API reference; it was 256 KB).
    fits = json.dumps({"x": "a" * (1024 * 1024 - 20)}).encode()
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=fits)["StatusCode"] == 202
    big = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=big)
    assert err.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert err.value.response["Error"]["Message"] == (
        f"{len(big)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=b"not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_versions_and_weighted_alias(lam):
    name = _name()
    source = "def handler(event, context):\n    return {'v': %d, 'fv': context.function_version}\n"
    python_function(lam, name, source % 1)
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=_zip(source % 2))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    v2 = lam.publish_version(FunctionName=name)["Version"]
    assert (v1, v2) == ("1", "2")
    assert invoke_json(lam, name, Qualifier="1")[1] == {"v": 1, "fv": "1"}
    assert invoke_json(lam, name)[1] == {"v": 2, "fv": "$LATEST"}
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    seen = {"1": 0, "2": 0}
    for _ in range(40):
        resp, body = invoke_json(lam, name, Qualifier="live")
        assert resp["ExecutedVersion"] == body["fv"]
        seen[body["fv"]] += 1
    assert 6 <= seen["1"] <= 34 and 6 <= seen["2"] <= 34, seen


def test_update_retires_old_workers(lam):
    name = _name()
    python_function(lam, name, "def handler(e, c):\n    return 'old'\n")
    assert invoke_json(lam, name)[1] == "old"
    lam.update_function_code(
        FunctionName=name, ZipFile=_zip("def handler(e, c):\n    return 'new'\n")
    )
    assert invoke_json(lam, name)[1] == "new"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"A": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert invoke_json(lam, name)[1] == "new"


def test_reserved_concurrency_throttles(lambda_server):
    # No client retries: botocore retries throttling errors by itself.
    lam = lambda_server.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    name = _name()
    python_function(lam, name, COUNTER, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 1
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 2}).encode())
    time.sleep(0.5)

    def throttled():
        try:
            lam.invoke(FunctionName=name, Payload=b"{}")
        except ClientError as err:
            return err
        return None

    err = wait_for(throttled, timeout=5)
    assert err.response["Error"]["Code"] == "TooManyRequestsException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000


def test_provisioned_concurrency_ready_with_warm_workers(lam, lambda_server):
    name = _name()
    python_function(lam, name, COUNTER)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion=version)
    with pytest.raises(ClientError) as err:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    before = set(worker_pids(lambda_server))
    out = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="prod", ProvisionedConcurrentExecutions=2
    )
    assert out["Status"] in ("IN_PROGRESS", "READY")

    def ready():
        cfg = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="prod")
        return cfg if cfg["Status"] == "READY" else None

    cfg = wait_for(ready)
    assert cfg["AllocatedProvisionedConcurrentExecutions"] == 2
    assert cfg["AvailableProvisionedConcurrentExecutions"] == 2
    assert len(set(worker_pids(lambda_server)) - before) >= 2
    # A warm (pre-initialised) worker answers: no Init Duration in its report.
    resp, body = invoke_json(lam, name, Qualifier="prod", LogType="Tail")
    assert body["count"] == 1
    assert "Init Duration" not in base64.b64decode(resp["LogResult"]).decode()
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert len(listed["ProvisionedConcurrencyConfigs"]) == 1
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="prod")


def test_async_failure_reaches_on_failure_destination(lam, lambda_server):
    sqs = lambda_server.client("sqs")
    queue = sqs.create_queue(QueueName=f"dest-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ok_queue = sqs.create_queue(QueueName=f"ok-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    ok_arn = sqs.get_queue_attributes(QueueUrl=ok_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = _name()
    python_function(lam, name, COUNTER)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={
            "OnFailure": {"Destination": queue_arn},
            "OnSuccess": {"Destination": ok_arn},
        },
    )
    resp = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": "async"}).encode()
    )
    assert resp["StatusCode"] == 202

    def received(url):
        return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")

    record = json.loads(wait_for(lambda: received(queue), timeout=20)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"fail": "async"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "boom: async"
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"k": 1}')
    record = json.loads(wait_for(lambda: received(ok_queue), timeout=20)[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"]["count"] >= 1
    # An EventBridge bus as destination: AWS's "Lambda Function Invocation Result" event.
    events = lambda_server.client("events")
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"
    rule = f"results-{uuid.uuid4().hex[:8]}"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]}
        ),
    )
    bus_queue = sqs.create_queue(QueueName=f"bus-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bus_queue_arn = sqs.get_queue_attributes(QueueUrl=bus_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": bus_queue_arn}])
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": bus}}
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"k": 2}')
    event = json.loads(wait_for(lambda: received(bus_queue), timeout=20)[0]["Body"])
    assert event["source"] == "lambda"
    assert event["resources"][0] == bus and event["resources"][1].endswith(
        f":function:{name}:$LATEST"
    )
    assert event["detail"]["requestPayload"] == {"k": 2}
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(
            FunctionName=name,
            DestinationConfig={
                "OnFailure": {"Destination": "arn:aws:events:us-east-1:000000000000:rule/r"}
            },
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_async_failure_without_destination_goes_to_dead_letter_queue(lam, lambda_server):
    sqs = lambda_server.client("sqs")
    queue = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = _name()
    python_function(lam, name, COUNTER, DeadLetterConfig={"TargetArn": queue_arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": "dlq"}).encode()
    )
    msgs = wait_for(
        lambda: sqs.receive_message(
            QueueUrl=queue, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages"),
        timeout=20,
    )
    assert json.loads(msgs[0]["Body"]) == {"fail": "dlq"}
    assert msgs[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "boom: dlq"


def test_function_calls_dynamodb_with_boto3(lam, lambda_server):
    table = f"t-{uuid.uuid4().hex[:8]}"
    ddb = lambda_server.client("dynamodb")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = lambda_server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_name = f"fn-role-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    source = (
        "import os, boto3\n"
        "table = boto3.resource('dynamodb').Table(os.environ['TABLE'])\n"
        "def handler(event, context):\n"
        "    table.put_item(Item={'id': event['id'], 'by': context.function_name})\n"
        "    who = boto3.client('sts').get_caller_identity()['Arn']\n"
        "    return dict(table.get_item(Key={'id': event['id']})['Item'], who=who)\n"
    )
    name = _name()
    python_function(
        lam,
        name,
        source,
        Role=role,
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"TABLE": table}},
    )
    resp, body = invoke_json(lam, name, {"id": "a1"})
    assert "FunctionError" not in resp, body
    # The execution role's session (STS AssumeRole), not the caller's keys.
    assert body.pop("who") == f"arn:aws:sts::000000000000:assumed-role/{role_name}/{name}"
    assert body == {"id": "a1", "by": name}
    item = ddb.get_item(TableName=table, Key={"id": {"S": "a1"}})["Item"]
    assert item["by"] == {"S": name}


def test_invocations_are_logged_to_cloudwatch_logs(lam, lambda_server):
    logs = lambda_server.client("logs")
    name = _name()
    python_function(lam, name, COUNTER)
    resp, _ = invoke_json(lam, name)
    request_id = resp["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{name}"

    def streams():
        try:
            return logs.describe_log_streams(logGroupName=group)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return None

    stream = wait_for(streams)[0]["logStreamName"]
    assert stream.endswith(tuple("0123456789abcdef")) and "/[$LATEST]" in stream
    assert len(stream.split("]")[1]) == 32

    def messages():
        events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        found = [e["message"] for e in events]
        return found if any(m.startswith("REPORT") for m in found) else None

    found = wait_for(messages)
    assert found[0].startswith("START RequestId: ") and "invocation 1" in found
    assert any(m.startswith("END RequestId: ") for m in found)
    assert request_id


def test_idle_workers_are_reclaimed(lam, lambda_server):
    name = _name()
    python_function(lam, name, COUNTER)
    pid = invoke_json(lam, name)[1]["pid"]
    assert pid in worker_pids(lambda_server)
    wait_for(lambda: pid not in worker_pids(lambda_server), timeout=15)
    assert invoke_json(lam, name)[1]["count"] == 1


def _zip(source: str) -> bytes:
    from tests.services.lambda_helpers import zip_of

    return zip_of({"app.py": source})


def test_async_invocations_wait_for_reserved_concurrency(lam, tmp_path):
    out = tmp_path / "runs.txt"
    source = (
        "import os, time\n"
        "def handler(event, context):\n"
        "    start = time.time()\n"
        "    time.sleep(0.2)\n"
        "    with open(os.environ['OUT'], 'a') as f:\n"
        "        f.write(f'{start} {time.time()}\\n')\n"
    )
    name = _name()
    python_function(lam, name, source, Environment={"Variables": {"OUT": str(out)}})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    for i in range(4):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"i": i}).encode())

    def runs():
        lines = out.read_text().splitlines() if out.exists() else []
        return [tuple(map(float, line.split())) for line in lines] if len(lines) == 4 else None

    spans = sorted(wait_for(runs, timeout=20))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.01, spans


def test_on_success_destination_sns(lam, lambda_server):
    sns, sqs = lambda_server.client("sns"), lambda_server.client("sqs")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"sub-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    name = _name()
    python_function(lam, name, COUNTER)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic}}
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"via": "sns"}')
    msgs = wait_for(
        lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"), timeout=20
    )
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"via": "sns"}


def test_output_past_one_put_log_events_call_is_all_logged(lam, lambda_server):
    """1.5 MB of output in one invocation: more than PutLogEvents takes in one call."""
    logs = lambda_server.client("logs")
    name = _name()
    source = "def handler(event, context):\n    for i in range(3000):\n        print(f'{i:04d}' + 'x' * 496)\n"
    python_function(lam, name, source)
    invoke_json(lam, name)
    group = f"/aws/lambda/{name}"

    def everything():
        try:
            stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
        except (logs.exceptions.ResourceNotFoundException, IndexError):
            return None
        found, token = [], None
        while True:
            kwargs = {"nextToken": token} if token else {}
            page = logs.get_log_events(
                logGroupName=group,
                logStreamName=stream["logStreamName"],
                startFromHead=True,
                **kwargs,
            )
            found += [e["message"] for e in page["events"]]
            if not page["events"]:
                break
            token = page["nextForwardToken"]
        return found if any(m.startswith("REPORT") for m in found) else None

    found = wait_for(everything, timeout=20)
    lines = [m for m in found if m.endswith("x" * 496)]
    assert len(lines) == 3000 and lines[-1].startswith("2999")


def test_queued_async_events_survive_a_restart(tmp_path):
    """An event waiting for its retry when the server stops runs after the restart."""
    tries, out, gate = tmp_path / "tries", tmp_path / "out", tmp_path / "gate"
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    with open(os.environ['TRIES'], 'a') as f:\n"
        "        f.write('x')\n"
        "    if not os.path.exists(os.environ['GATE']):\n"
        "        raise RuntimeError('not yet')\n"
        "    with open(os.environ['OUT'], 'a') as f:\n"
        "        f.write(str(event['i']))\n"
    )
    env = {**lambda_helpers.LAMBDA_ENV, "CLOUDLET_LAMBDA_RETRY_SECONDS": "1.5"}
    data, name = tmp_path / "data", _name()
    variables = {"TRIES": str(tries), "OUT": str(out), "GATE": str(gate)}
    server = lambda_helpers.CloudletServer.start(data_dir=data, env=env)
    try:
        lam = server.client("lambda")
        python_function(lam, name, source, Environment={"Variables": variables})
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"i": 7}')
        wait_for(lambda: tries.exists(), timeout=20)  # failed once, now waiting to retry
    finally:
        pids = worker_pids(server)
        server.stop()
        assert lambda_helpers.leftover_workers(pids) == []
    gate.touch()
    server = lambda_helpers.CloudletServer.start(data_dir=data, env=env)
    try:
        assert wait_for(lambda: out.exists() and out.read_text(), timeout=20) == "7"
        time.sleep(0.5)
        assert out.read_text() == "7"  # once: the finished event is gone from the queue
    finally:
        pids = worker_pids(server)
        server.stop()
        assert lambda_helpers.leftover_workers(pids) == []
