"""SNS deliveries through boto3 against a real server: fan-out to SQS (envelope
and raw, with a filter policy dropping a message for one subscriber), an HTTP
endpoint (confirmation handshake via SubscribeURL, AWS's headers, signatures
verified with the served certificate, retries, dead-letter queue), FIFO
ordering and deduplication into a FIFO queue, MessageStructure, PublishBatch,
email-json kept mail, and Lambda when it is built."""

from __future__ import annotations

import base64
import email
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from cloudlet.services.registry import IMPLEMENTED
from tests.services import sns_helpers
from tests.services.lambda_helpers import forwarding_function
from tests.services.names import unique

# Fixtures shared by the SNS modules.
sns = sns_helpers.sns
sqs = sns_helpers.sqs


def make_queue(sqs, name: str, **attributes: str) -> tuple[str, str]:
    if name.endswith(".fifo"):
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def receive(sqs, url: str, want: int, timeout: float = 8.0, **kw) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kw)
        for m in got.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def verify_signature(message: dict) -> None:
    """AWS's recipe: fetch SigningCertURL, rebuild the canonical string, check RSA."""
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
    with urllib.request.urlopen(message["SigningCertURL"]) as r:
        cert = x509.load_pem_x509_certificate(r.read())
    digest = hashes.SHA256() if message["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(
        base64.b64decode(message["Signature"]), text.encode(), padding.PKCS1v15(), digest
    )


def test_fan_out_to_sqs_envelope_raw_and_filtered(sns, sqs):
    topic = sns.create_topic(Name=unique("fan"))["TopicArn"]
    env_url, env_arn = make_queue(sqs, unique("env"))
    raw_url, raw_arn = make_queue(sqs, unique("raw"))
    flt_url, flt_arn = make_queue(sqs, unique("flt"))
    env_sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)["SubscriptionArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=raw_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=flt_arn,
        Attributes={
            "FilterPolicy": json.dumps({"color": ["red"], "size": [{"numeric": [">", 3]}]})
        },
    )
    attrs = {
        "color": {"DataType": "String", "StringValue": "red"},
        "size": {"DataType": "Number", "StringValue": "5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    first = sns.publish(
        TopicArn=topic, Message="hello", Subject="Greeting", MessageAttributes=attrs
    )
    sns.publish(
        TopicArn=topic,
        Message="ignored by the filter",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )
    [m1, m2] = sorted(
        (json.loads(m["Body"]) for m in receive(sqs, env_url, 2)), key=lambda b: b["Message"]
    )
    assert m1["Message"] == "hello" and m2["Message"] == "ignored by the filter"
    assert m1["Type"] == "Notification" and m1["MessageId"] == first["MessageId"]
    assert m1["TopicArn"] == topic and m1["Subject"] == "Greeting"
    assert m1["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "5"},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }
    assert m1["SignatureVersion"] == "1" and m1["UnsubscribeURL"].endswith(
        env_sub.replace(":", "%3A")
    )
    verify_signature(m1)
    verify_signature(m2)
    raw = receive(sqs, raw_url, 2, MessageAttributeNames=["All"])
    by_body = {m["Body"]: m for m in raw}
    assert set(by_body) == {"hello", "ignored by the filter"}
    assert by_body["hello"]["MessageAttributes"]["color"] == {
        "StringValue": "red",
        "DataType": "String",
    }
    assert by_body["hello"]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    filtered = receive(sqs, flt_url, 2, timeout=3)
    assert [json.loads(m["Body"])["Message"] for m in filtered] == ["hello"]


def test_message_structure_json_and_body_filter(sns, sqs):
    topic = sns.create_topic(Name=unique("struct"))["TopicArn"]
    url, arn = make_queue(sqs, unique("struct"))
    body_url, body_arn = make_queue(sqs, unique("body"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=body_arn,
        Attributes={
            "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">=", 100]}]}}),
            "FilterPolicyScope": "MessageBody",
            "RawMessageDelivery": "true",
        },
    )
    sns.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "for everyone", "sqs": "for queues"}),
    )
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"total": 150}}))
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"total": 50}}))
    got = sorted(json.loads(m["Body"])["Message"] for m in receive(sqs, url, 3))
    assert "for queues" in got and "for everyone" not in got
    assert [m["Body"] for m in receive(sqs, body_url, 1, timeout=3)] == [
        json.dumps({"order": {"total": 150}})
    ]
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, MessageStructure="json", Message='{"sqs": "x"}')
    assert exc.value.response["Error"]["Message"] == (
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    )


def test_publish_validation(sns):
    topic = sns.create_topic(Name=unique("valid"))["TopicArn"]
    cases = [
        ({"Message": ""}, "Invalid parameter: Empty message"),
        ({"Message": "x" * (256 * 1024 + 1)}, "Invalid parameter: Message too long"),
        ({"Message": "x", "Subject": "line\nbreak"}, "Invalid parameter: Subject"),
        (
            {
                "Message": "x",
                "MessageAttributes": {"a": {"DataType": "Float", "StringValue": "1"}},
            },
            "the set of supported type prefixes is Binary, Number, and String",
        ),
        (
            {
                "Message": "x",
                "MessageAttributes": {"a": {"DataType": "Number", "StringValue": "one"}},
            },
            "Could not cast message attribute 'a' value to number.",
        ),
        (
            {
                "Message": "x",
                "MessageAttributes": {"AWS.x": {"DataType": "String", "StringValue": "1"}},
            },
            "The message attribute name 'AWS.x' is invalid",
        ),
        ({"Message": "x", "MessageDeduplicationId": "d"}, "MessageDeduplicationId"),
    ]
    for params, message in cases:
        with pytest.raises(ClientError) as exc:
            sns.publish(TopicArn=topic, **params)
        err = exc.value.response["Error"]
        assert err["Code"] == "InvalidParameter" and message in err["Message"], params
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic + "-gone", Message="x")
    assert exc.value.response["Error"]["Code"] == "NotFound"
    with pytest.raises(ClientError) as exc:
        sns.publish(PhoneNumber="+15555550100", Message="x")
    assert "not supported" in exc.value.response["Error"]["Message"]
    assert sns.publish(TargetArn=topic, Message="by target")["MessageId"]


def test_fifo_topic_orders_and_deduplicates_into_a_fifo_queue(sns, sqs):
    topic = sns.create_topic(Name=unique("order") + ".fifo", Attributes={"FifoTopic": "true"})[
        "TopicArn"
    ]
    url, arn = make_queue(sqs, unique("order") + ".fifo")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x", MessageDeduplicationId="d")
    assert "MessageGroupId parameter is required" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x", MessageGroupId="g")
    assert "ContentBasedDeduplication" in exc.value.response["Error"]["Message"]
    sequences = []
    for i in range(12):
        out = sns.publish(
            TopicArn=topic,
            Message=f"m{i}",
            MessageGroupId=f"g{i % 2}",
            MessageDeduplicationId=f"d{i}",
        )
        sequences.append(int(out["SequenceNumber"]))
    assert sequences == sorted(sequences) and len(set(sequences)) == 12
    again = sns.publish(
        TopicArn=topic, Message="m0", MessageGroupId="g0", MessageDeduplicationId="d0"
    )
    got = receive(sqs, url, 12, AttributeNames=["MessageGroupId"])
    bodies = [m["Body"] for m in got]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(12))  # the duplicate is not delivered
    for group in ("0", "1"):
        mine = [
            b
            for b, m in zip(bodies, got, strict=True)
            if m["Attributes"]["MessageGroupId"] == f"g{group}"
        ]
        assert mine == [f"m{i}" for i in range(12) if str(i % 2) == group]
    assert again["SequenceNumber"] == f"{sequences[0]:020d}"
    assert not receive(sqs, url, 1, timeout=1.5)


def test_fifo_envelope_carries_the_sequence_number(sns, sqs):
    topic = sns.create_topic(
        Name=unique("cbd") + ".fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url, arn = make_queue(sqs, unique("cbd") + ".fifo")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    out = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    dup = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    assert dup["MessageId"] == out["MessageId"]
    [m] = receive(sqs, url, 1)
    body = json.loads(m["Body"])
    assert body["SequenceNumber"] == out["SequenceNumber"] and body["Message"] == "same"
    with pytest.raises(ClientError) as exc:
        sns.subscribe(
            TopicArn=sns.create_topic(Name=unique("std"))["TopicArn"], Protocol="sqs", Endpoint=arn
        )
    assert (
        "FIFO SQS Queues can not be subscribed to standard SNS topics"
        in (exc.value.response["Error"]["Message"])
    )


def test_publish_batch(sns, sqs):
    topic = sns.create_topic(Name=unique("batch"))["TopicArn"]
    url, arn = make_queue(sqs, unique("batch"))
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    out = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {"Id": "b", "Message": "two", "Subject": "s"},
            {
                "Id": "c",
                "Message": "three",
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}},
            },
        ],
    )
    assert [s["Id"] for s in out["Successful"]] == ["a", "b"]
    assert all(s["MessageId"] for s in out["Successful"])
    [failed] = out["Failed"]
    assert failed["Id"] == "c" and failed["Code"] == "InvalidParameter" and failed["SenderFault"]
    assert sorted(m["Body"] for m in receive(sqs, url, 2)) == ["one", "two"]
    errors = [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(i), "Message": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "Message": "x"}, {"Id": "a", "Message": "y"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "Message": "x"}], "InvalidBatchEntryId"),
        (
            [{"Id": str(i), "Message": "x" * 30000} for i in range(10)],
            "BatchRequestTooLong",
        ),
    ]
    for entries, code in errors:
        with pytest.raises(ClientError) as exc:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert exc.value.response["Error"]["Code"] == code


def test_publish_batch_fifo(sns, sqs):
    topic = sns.create_topic(
        Name=unique("bf") + ".fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url, arn = make_queue(sqs, unique("bf") + ".fifo")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    out = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": str(i), "Message": f"m{i}", "MessageGroupId": "g"} for i in range(5)
        ],
    )
    assert [int(s["SequenceNumber"]) for s in out["Successful"]] == sorted(
        int(s["SequenceNumber"]) for s in out["Successful"]
    )
    assert [m["Body"] for m in receive(sqs, url, 5)] == [f"m{i}" for i in range(5)]


# -- HTTP endpoints --------------------------------------------------------------------


class Endpoint:
    """A small HTTP server on 127.0.0.1 that records what SNS posts to it."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    failing = outer.always_fail or outer.fail_first > 0
                    outer.fail_first -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[dict, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    break
            time.sleep(0.05)
        with self.lock:
            return [(h, json.loads(b) if b.startswith(b"{") else b.decode()) for h, b in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def test_http_confirmation_notifications_and_filter(sns, endpoint):
    topic = sns.create_topic(Name=unique("http"))["TopicArn"]
    out = sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=endpoint.url,
        Attributes={"FilterPolicy": json.dumps({"level": ["error"]})},
    )
    assert out["SubscriptionArn"] == "pending confirmation"
    [(headers, confirm)] = endpoint.wait(1)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-message-id"] == confirm["MessageId"]
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert confirm["Type"] == "SubscriptionConfirmation" and confirm["TopicArn"] == topic
    assert confirm["Token"] and confirm["Message"].startswith("You have chosen to subscribe")
    verify_signature(confirm)
    sns.publish(TopicArn=topic, Message="before confirmation")
    with urllib.request.urlopen(confirm["SubscribeURL"]) as r:
        answer = r.read().decode()
    assert "<ConfirmSubscriptionResult><SubscriptionArn>" in answer
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic + ":")
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3
    level = lambda v: {"level": {"DataType": "String", "StringValue": v}}  # noqa: E731
    sns.publish(TopicArn=topic, Message="dropped", MessageAttributes=level("info"))
    sns.publish(TopicArn=topic, Message="kept", Subject="Oops", MessageAttributes=level("error"))
    posts = endpoint.wait(2)
    time.sleep(0.3)  # nothing else arrives
    posts = endpoint.wait(2)
    assert len(posts) == 2
    headers, note = posts[1]
    assert note["Type"] == "Notification" and note["Message"] == "kept"
    assert note["Subject"] == "Oops"
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    assert headers["x-amz-sns-message-id"] == note["MessageId"]
    verify_signature(note)
    # SignatureVersion 2 signs with SHA256
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="v2", MessageAttributes=level("error"))
    _, v2 = endpoint.wait(3)[2]
    assert v2["SignatureVersion"] == "2"
    verify_signature(v2)
    # the UnsubscribeURL ends the subscription
    with urllib.request.urlopen(note["UnsubscribeURL"]) as r:
        assert r.status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def _confirmed_http(sns, topic: str, ep: Endpoint, **attributes: str) -> str:
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, Attributes=attributes)
    confirm = ep.wait(1)[0][1]
    return sns.confirm_subscription(TopicArn=topic, Token=confirm["Token"])["SubscriptionArn"]


def test_http_retries_raw_delivery_and_dead_letter_queue(sns, sqs):
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 3,
            "numNoDelayRetries": 2,
            "minDelayTarget": 1,
            "maxDelayTarget": 1,
        }
    }
    flaky = Endpoint()
    broken = Endpoint()
    try:
        topic = sns.create_topic(Name=unique("retry"))["TopicArn"]
        _confirmed_http(
            sns,
            topic,
            flaky,
            DeliveryPolicy=json.dumps(policy),
            RawMessageDelivery="true",
        )
        dlq_url, dlq_arn = make_queue(sqs, unique("dlq"))
        _confirmed_http(
            sns,
            topic,
            broken,
            DeliveryPolicy=json.dumps(policy),
            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn}),
        )
        with flaky.lock:
            flaky.fail_first = 2
        broken.always_fail = True
        sns.publish(TopicArn=topic, Message="persist")
        posts = flaky.wait(4)
        assert [body for _, body in posts[1:]] == ["persist"] * 3  # two failures, then success
        assert posts[3][0]["x-amz-sns-rawdelivery"] == "true"
        [dead] = receive(sqs, dlq_url, 1, timeout=10)
        assert json.loads(dead["Body"])["Message"] == "persist"
        assert len(broken.wait(5)) == 5  # confirmation + 1 try + 3 retries
    finally:
        flaky.close()
        broken.close()


def test_email_json_notifications_are_kept(sns, cloudlet_server):
    topic = sns.create_topic(Name=unique("mailjson"), Attributes={"DisplayName": "Ops"})["TopicArn"]
    address = f"{unique('dev')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=address)

    def mails() -> list[dict]:
        with urllib.request.urlopen(cloudlet_server.endpoint + "/_cloudlet/sns/emails") as r:
            return [m for m in json.load(r) if m["To"] == address]

    deadline = time.monotonic() + 5
    while not mails() and time.monotonic() < deadline:
        time.sleep(0.05)
    confirm = json.loads(mails()[0]["Body"])
    assert confirm["Type"] == "SubscriptionConfirmation"
    assert mails()[0]["From"] == "Ops <no-reply@sns.amazonaws.com>"
    with urllib.request.urlopen(confirm["SubscribeURL"]):
        pass
    sns.publish(TopicArn=topic, Message="mail me", Subject="Hi")
    deadline = time.monotonic() + 5
    while len(mails()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    note = mails()[1]
    assert note["Subject"] == "Hi" and json.loads(note["Body"])["Message"] == "mail me"


@pytest.mark.skipif("lambda" not in IMPLEMENTED, reason="Lambda is not built yet")
def test_lambda_subscription_receives_the_sns_event(sns, sqs, aws_client):
    url, _ = make_queue(sqs, unique("fromlambda"))
    lam = aws_client("lambda")
    name = unique("snsfn")
    fn = forwarding_function(lam, name, url)
    topic = sns.create_topic(Name=unique("tolambda"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)["SubscriptionArn"]
    sns.publish(
        TopicArn=topic,
        Message="to lambda",
        Subject="S",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    [m] = receive(sqs, url, 1, timeout=30)
    [record] = json.loads(m["Body"])["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == sub
    assert record["Sns"]["Message"] == "to lambda" and record["Sns"]["Subject"] == "S"
    assert record["Sns"]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert record["Sns"]["SigningCertUrl"].endswith("SimpleNotificationService.pem")


class SmtpSink:
    """Just enough SMTP (one thread, one connection at a time) to receive mail."""

    def __init__(self) -> None:
        import socket

        self.messages: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn, conn.makefile("rwb") as f:
                f.write(b"220 sink ESMTP\r\n")
                f.flush()
                while line := f.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        f.write(b"354 go ahead\r\n")
                        f.flush()
                        data = []
                        while (row := f.readline()) not in (b".\r\n", b""):
                            data.append(row.decode())
                        self.messages.append("".join(data))
                        f.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        f.write(b"221 bye\r\n")
                        f.flush()
                        break
                    else:
                        f.write(b"250 ok\r\n")
                    f.flush()

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def test_email_goes_through_smtp_when_configured():
    from cloudlet.testing import CloudletServer

    sink = SmtpSink()
    try:
        extra = ["--smtp-host", "127.0.0.1", "--smtp-port", str(sink.port)]
        with CloudletServer.start(extra_args=extra) as server:
            sns = server.client("sns")
            topic = sns.create_topic(Name="mail")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
            deadline = time.monotonic() + 10
            while not sink.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            [confirm] = [email.message_from_string(m) for m in sink.messages]
            assert confirm["To"] == "ops@example.com"
            assert confirm["Subject"] == "AWS Notification - Subscription Confirmation"
            text = confirm.get_payload(decode=True).decode()
            url = next(w for w in text.split() if "/_cloudlet/sns/confirm?" in w)
            with pytest.raises(urllib.error.HTTPError) as exc:
                urllib.request.urlopen(url.replace("Token=", "Token=x"))
            assert exc.value.code == 400 and b"<Code>InvalidParameter</Code>" in exc.value.read()
            with urllib.request.urlopen(url):
                pass
            sns.publish(TopicArn=topic, Message="disk is full", Subject="Alert")
            while len(sink.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            note = email.message_from_string(sink.messages[1])
            assert note["Subject"] == "Alert"
            assert note.get_payload(decode=True).decode().startswith("disk is full")
    finally:
        sink.close()
