"""Lambda response streaming with boto3 and plain HTTP against a real server.

The streaming function is a ``provided.al2023`` custom runtime whose ``bootstrap`` is a
small Python script (the host's interpreter, no SDK) speaking the Runtime API: it POSTs
its response with ``Lambda-Runtime-Function-Response-Mode: streaming`` and a chunked
body, one chunk per piece with a pause between them, and reports a mid-stream error in
the body's trailers, as AWS's Runtime API documents.
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
import time
import uuid
from typing import Any

from botocore.config import Config

from tests.services import lambda_helpers
from tests.services.lambda_helpers import ROLE, python_function, zip_of

lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

BOOTSTRAP = f"""#!{sys.executable}
import base64, json, os, socket, time

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
BASE = "/2018-06-01/runtime/invocation/"


def call(head, body=b""):
    sock = socket.create_connection((HOST, int(PORT)))
    sock.sendall(head.encode() + body)
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\\r\\n\\r\\n")
    length = 0
    request_id = ""
    for line in head.decode().split("\\r\\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        if name.lower() == "lambda-runtime-aws-request-id":
            request_id = value.strip()
    while len(rest) < length:
        rest += sock.recv(65536)
    sock.close()
    return request_id, rest


def stream(request_id, event):
    sock = socket.create_connection((HOST, int(PORT)))
    content_type = event.get("content_type", "text/plain")
    sock.sendall(
        (
            f"POST {{BASE}}{{request_id}}/response HTTP/1.1\\r\\n"
            "Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
            "Transfer-Encoding: chunked\\r\\n"
            f"Content-Type: {{content_type}}\\r\\n"
            "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\\r\\n"
            "\\r\\n"
        ).encode()
    )
    pieces = [p.encode() for p in event.get("chunks", [])]
    pieces += [b"y" * event.get("size", 0)] * event.get("count", 0)
    if "prelude" in event:
        pieces.insert(0, json.dumps(event["prelude"]).encode() + b"\\0" * 8)
    for i, piece in enumerate(pieces):
        if i and event.get("delay") and not pieces[i - 1].endswith(b"\\0" * 8):
            time.sleep(event["delay"])
        sock.sendall(b"%x\\r\\n%s\\r\\n" % (len(piece), piece))
        print("sent", piece[:20], flush=True)
    if event.get("hang"):
        time.sleep(60)
    trailers = b""
    if event.get("error"):
        doc = json.dumps({{"errorType": "Boom", "errorMessage": event["error"]}}).encode()
        trailers = (
            b"Lambda-Runtime-Function-Error-Type: Function.Boom\\r\\n"
            b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc) + b"\\r\\n"
        )
    sock.sendall(b"0\\r\\n" + trailers + b"\\r\\n")
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += sock.recv(65536)
    sock.close()
    print("answered", data.split(b"\\r\\n", 1)[0].decode(), flush=True)


while True:
    request_id, body = call(f"GET {{BASE}}next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    event = json.loads(body)
    if "rawPath" in event:  # a function URL's event: the instructions are its body
        event = json.loads(event.get("body") or "{{}}")
    stream(request_id, event)
"""


def _name() -> str:
    return f"stream-{uuid.uuid4().hex[:8]}"


def _streaming_function(lam: Any, timeout: int = 10) -> str:
    name = _name()
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="unused",
        Code={"ZipFile": zip_of({"bootstrap": BOOTSTRAP})},
        Timeout=timeout,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def _events(lam: Any, name: str, event: dict, **kwargs: Any) -> tuple[dict, list]:
    """The response and its events, each with the time it arrived."""
    resp = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    return resp, [(time.monotonic(), e) for e in resp["EventStream"]]


def test_chunks_arrive_as_the_function_writes_them(lam):
    name = _streaming_function(lam)
    _events(lam, name, {"chunks": ["warm"]})  # the cold start is not what is measured
    started = time.monotonic()
    resp, events = _events(lam, name, {"chunks": ["one ", "two ", "three"], "delay": 0.6})
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    chunks = [(t - started, e["PayloadChunk"]["Payload"]) for t, e in events[:-1]]
    assert b"".join(c for _, c in chunks) == b"one two three"
    assert [c for _, c in chunks] == [b"one ", b"two ", b"three"]
    # Each piece arrives when it is written, not when the function ends (~1.2 s in).
    assert chunks[0][0] < 0.45, chunks
    assert 0.45 < chunks[1][0] < 1.05, chunks
    assert chunks[2][0] > 1.05, chunks
    assert events[-1][1] == {"InvokeComplete": {}}


def test_an_error_in_the_trailers_ends_the_stream(lam):
    name = _streaming_function(lam)
    _, events = _events(lam, name, {"chunks": ["partial"], "error": "it broke"})
    assert events[0][1] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.Boom"
    assert json.loads(complete["ErrorDetails"]) == {"errorType": "Boom", "errorMessage": "it broke"}


def test_plain_invoke_of_a_streaming_function_is_buffered(lam):
    name = _streaming_function(lam)
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"chunks": ["a", "b", "c"]}))
    assert "FunctionError" not in resp
    assert resp["Payload"].read() == b"abc"
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"chunks": ["a"], "error": "late"}))
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorMessage"] == "late"


def test_python_function_answers_in_one_chunk(lam):
    name = _name()
    source = (
        "def handler(event, context):\n"
        "    print('python says hi')\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('no good')\n"
        "    return {'echo': event, 'custom': context.client_context.custom}\n"
    )
    python_function(lam, name, source)
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    resp, events = _events(lam, name, {"x": 1}, LogType="Tail", ClientContext=context)
    assert resp["StatusCode"] == 200
    whole = json.dumps({"echo": {"x": 1}, "custom": {"k": "v"}}).encode()
    assert [e for _, e in events[:-1]] == [{"PayloadChunk": {"Payload": whole}}]
    complete = events[-1][1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    logs = base64.b64decode(complete["LogResult"]).decode()
    assert "python says hi" in logs and "REPORT RequestId:" in logs
    _, events = _events(lam, name, {"fail": True})
    assert len(events) == 1
    complete = events[0][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "ValueError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "no good"


def test_versions_aliases_dry_run_and_errors(lam):
    name = _streaming_function(lam)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    resp, events = _events(lam, name, {"chunks": ["v"]}, Qualifier="live")
    assert resp["ExecutedVersion"] == version
    assert events[0][1] == {"PayloadChunk": {"Payload": b"v"}}
    dry = lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    try:
        lam.invoke_with_response_stream(FunctionName=name + "-missing", Payload=b"{}")
        raise AssertionError("a missing function answered")
    except lam.exceptions.ResourceNotFoundException:
        pass
    try:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"not json")
        raise AssertionError("a payload that is not JSON was accepted")
    except lam.exceptions.InvalidRequestContentException:
        pass


def _no_retries(server: Any) -> Any:
    """A Lambda client that does not retry throttles by itself (botocore does)."""
    return server.client("lambda", config=Config(retries={"total_max_attempts": 1}))


def test_reserved_concurrency_throttles(lambda_server):
    lam = _no_retries(lambda_server)
    name = _streaming_function(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    try:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
        raise AssertionError("a function with no concurrency ran")
    except lam.exceptions.TooManyRequestsException as err:
        assert err.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_timeout_ends_the_stream_with_aws_message(lam):
    name = _streaming_function(lam, timeout=1)
    _, events = _events(lam, name, {"chunks": ["before"], "hang": True})
    assert events[0][1] == {"PayloadChunk": {"Payload": b"before"}}
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    message = json.loads(complete["ErrorDetails"])["errorMessage"]
    assert message.endswith("Task timed out after 1.00 seconds"), message
    # The worker was replaced: the function streams again.
    _, events = _events(lam, name, {"chunks": ["after"]})
    assert events[0][1] == {"PayloadChunk": {"Payload": b"after"}}


def _url(lam: Any, name: str, mode: str) -> str:
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode=mode)
    assert url["InvokeMode"] == mode
    return url["FunctionUrl"].split("//", 1)[1].rstrip("/")


def _post(port: int, host: str, event: dict) -> tuple[http.client.HTTPResponse, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host, "Content-Type": "application/json"}
    conn.request("POST", "/", body=json.dumps(event), headers=headers)
    return conn.getresponse(), conn


def test_function_url_streams_with_the_prelude(lam, lambda_server):
    name = _streaming_function(lam)
    host = _url(lam, name, "RESPONSE_STREAM")
    prelude = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/event-stream", "X-Custom": "yes"},
        "cookies": ["a=1", "b=2"],
    }
    event = {
        "content_type": "application/vnd.awslambda.http-integration-response",
        "prelude": prelude,
        "chunks": ["data: 1\n\n", "data: 2\n\n"],
        "delay": 0.6,
    }
    _post(lambda_server.port, host, {**event, "delay": 0})[0].read()  # warm
    started = time.monotonic()
    resp, conn = _post(lambda_server.port, host, event)
    try:
        assert resp.status == 201
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.headers["X-Custom"] == "yes"
        assert resp.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
        first = resp.read1()
        first_at = time.monotonic() - started
        assert first == b"data: 1\n\n"
        assert first_at < 0.45, first_at
        assert resp.read() == b"data: 2\n\n"
        assert time.monotonic() - started > 0.55
    finally:
        conn.close()


def test_function_url_stream_without_prelude_and_buffered_mode(lam, lambda_server):
    name = _streaming_function(lam)
    host = _url(lam, name, "RESPONSE_STREAM")
    resp, conn = _post(lambda_server.port, host, {"chunks": ["plain ", "text"]})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.read() == b"plain text"
    conn.close()
    # A Python function behind a BUFFERED URL answers as it always did.
    other = _name()
    python_function(
        lam,
        other,
        "def handler(event, context):\n"
        "    return {'statusCode': 202, 'headers': {'x-mode': 'buffered'}, 'body': 'whole'}\n",
    )
    host = _url(lam, other, "BUFFERED")
    resp, conn = _post(lambda_server.port, host, {})
    assert resp.status == 202 and resp.headers["x-mode"] == "buffered"
    assert resp.read() == b"whole"
    conn.close()


def test_function_url_stream_that_fails_before_writing_is_a_502(lam, lambda_server):
    name = _streaming_function(lam, timeout=1)
    host = _url(lam, name, "RESPONSE_STREAM")
    resp, conn = _post(lambda_server.port, host, {"hang": True})
    assert resp.status == 502
    conn.close()


def test_a_caller_that_leaves_lets_the_invocation_finish(lambda_server):
    lam = _no_retries(lambda_server)
    name = _streaming_function(lam, timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    # 4 MB after the first piece: more than the service queues for a caller.
    event = {"chunks": ["first"], "size": 100_000, "count": 40, "delay": 0.05}
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event).encode())
    stream = resp["EventStream"]
    assert next(iter(stream)) == {"PayloadChunk": {"Payload": b"first"}}
    left = time.monotonic()
    stream.close()
    # The function writes the rest to no one and ends: its one slot frees up long
    # before its 10 s timeout.
    while True:
        try:
            _, events = _events(lam, name, {"chunks": ["next"]})
            break
        except lam.exceptions.TooManyRequestsException:
            assert time.monotonic() - left < 6, "the abandoned invocation held its slot"
            time.sleep(0.1)
    assert events[0][1] == {"PayloadChunk": {"Payload": b"next"}}


def test_past_six_mb_the_stream_goes_at_two_mb_a_second(lam):
    name = _streaming_function(lam)
    _events(lam, name, {"chunks": ["warm"]})
    started = time.monotonic()
    # 7 MB: the last 1 MB is paced at 2 MBps.
    _, events = _events(lam, name, {"size": 262_144, "count": 28})
    elapsed = time.monotonic() - started
    size = sum(len(e["PayloadChunk"]["Payload"]) for _, e in events[:-1])
    assert size == 28 * 262_144
    assert elapsed >= 0.45, elapsed


def test_streamed_invocations_write_their_logs(lam, lambda_server):
    name = _streaming_function(lam)
    _, events = _events(lam, name, {"chunks": ["logged"]}, LogType="Tail")
    tail = base64.b64decode(events[-1][1]["InvokeComplete"]["LogResult"]).decode()
    assert "sent b'logged'" in tail and "REPORT RequestId:" in tail
    logs = lambda_server.client("logs")

    def written() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return any("REPORT RequestId:" in e["message"] for e in found)

    lambda_helpers.wait_for(written, timeout=10)


# -- the engine, without a server ------------------------------------------------------


def test_chunked_body_decodes_any_split_with_trailers():
    from cloudlet.services.awslambda.chunked import ChunkedBody

    wire = (
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
        b"Lambda-Runtime-Function-Error-Type: X.Y\r\nLambda-Runtime-Function-Error-Body: e30=\r\n"
        b"\r\nGET /next"
    )
    for step in (1, 2, 3, 7, len(wire)):
        body, buf, data = ChunkedBody(), bytearray(), b""
        for at in range(0, len(wire), step):
            buf += wire[at : at + step]
            data += b"".join(body.feed(buf))
            if body.done:
                buf += wire[at + step :]
                break
        assert body.done and data == b"hello world", step
        assert body.trailers["lambda-runtime-function-error-type"] == "X.Y"
        assert bytes(buf) == b"GET /next"  # the next request is left for the connection


def test_response_stream_limits_and_back_pressure():
    import asyncio

    from cloudlet.services.awslambda import stream as streams

    class Transport:
        paused = False

        def pause_reading(self) -> None:
            self.paused = True

        def resume_reading(self) -> None:
            self.paused = False

    async def scenario() -> None:
        reader = Transport()
        live = streams.ResponseStream()
        live.begin("text/plain", reader)
        assert live.write(b"a" * (streams.HIGH_WATER + 1)) and reader.paused
        assert await live.read() == b"a" * (streams.HIGH_WATER + 1)
        assert not reader.paused
        live.write(b"b" * 10)
        live.write(b"c" * (streams.HIGH_WATER + 1))
        assert reader.paused
        live.detach()  # the caller left: the runtime is read again, the rest dropped
        assert not reader.paused and await live.read() is None
        buffered = streams.ResponseStream(forward=False)
        assert buffered.write(b"z" * streams.BUFFERED_LIMIT)
        assert not buffered.write(b"z") and buffered.too_large
        doc = json.loads(buffered.too_large_error())
        assert doc["errorType"] == "Function.ResponseSizeTooLarge"
        assert "(6291556 bytes)" in doc["errorMessage"]

    asyncio.run(scenario())
