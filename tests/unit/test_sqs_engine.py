"""SQS engine and handlers, driven directly (no HTTP), on ephemeral and file databases.

One contract suite runs against both stores. Time is moved with
``cloudlet.core.clock.clock.advance`` (restored after each test); long polls run
on a real event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import time
from types import SimpleNamespace

import botocore.session
import pytest
from botocore import xform_name

from cloudlet.core import clock as clockmod
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import ServiceEnv
from cloudlet.services.sqs.api import SqsService

ACCOUNT = "000000000000"
CTX = SimpleNamespace(account_id=ACCOUNT, region="us-east-1", host="localhost:4566")


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def restore_clock():
    offset = clockmod.clock.offset
    yield
    clockmod.clock.offset = offset


@pytest.fixture(params=["memory", "file"])
def backend(request, tmp_path):
    return None if request.param == "memory" else tmp_path / "data"


@pytest.fixture
def open_service(backend):
    opened: list[SqsService] = []

    def make() -> SqsService:
        svc = SqsService(ServiceEnv(backend))
        opened.append(svc)
        return svc

    yield make
    for svc in opened:
        try:
            svc.engine.conn.close()
        except Exception:  # noqa: BLE001 - already closed by the test
            pass


@pytest.fixture
def sqs(open_service):
    return open_service()


def call(svc: SqsService, op: str, **params):
    result = getattr(svc, op)(CTX, params)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result


def err(svc: SqsService, op: str, **params) -> ServiceError:
    with pytest.raises(ServiceError) as exc:
        call(svc, op, **params)
    return exc.value


def new_queue(svc: SqsService, name: str = "q", **attributes: str) -> str:
    return call(svc, "create_queue", QueueName=name, Attributes=attributes)["QueueUrl"]


def receive(svc: SqsService, url: str, n: int = 10, **params) -> list[dict]:
    return call(
        svc, "receive_message", QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=0, **params
    ).get("Messages", [])


def counters(svc: SqsService, url: str) -> tuple[int, int, int]:
    attrs = call(svc, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        int(attrs["ApproximateNumberOfMessagesDelayed"]),
    )


def advance(seconds: float) -> None:
    clockmod.clock.advance(seconds)


def arn_of(svc: SqsService, url: str) -> str:
    attrs = call(svc, "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


# --- the handler contract ----------------------------------------------------------------


def test_every_model_operation_has_a_handler(sqs):
    model = botocore.session.get_session().get_service_model("sqs")
    for operation in model.operation_names:
        assert callable(getattr(sqs, xform_name(operation), None)), operation
    assert asyncio.iscoroutinefunction(sqs.receive_message)


# --- queues ------------------------------------------------------------------------------


def test_create_is_idempotent_and_conflicts_on_different_attributes(sqs):
    url = new_queue(sqs, "orders", VisibilityTimeout="40")
    assert url == f"http://localhost:4566/{ACCOUNT}/orders"
    assert new_queue(sqs, "orders", VisibilityTimeout="40") == url
    assert new_queue(sqs, "orders") == url
    e = err(sqs, "create_queue", QueueName="orders", Attributes={"VisibilityTimeout": "41"})
    assert (e.code, e.query_code) == ("QueueNameExists", "QueueAlreadyExists")
    assert "VisibilityTimeout" in e.message


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        ("has space", {}),
        ("x" * 81, {}),
        ("bad!", {}),
        ("notfifo.fifo", {}),
        ("fifo-without-suffix", {"FifoQueue": "true"}),
        ("", {}),
    ],
)
def test_queue_name_rules(sqs, name, attributes):
    e = err(sqs, "create_queue", QueueName=name, Attributes=attributes)
    assert e.code == "InvalidParameterValue" and e.status == 400


def test_delete_then_recreate_within_60_seconds(sqs):
    url = new_queue(sqs, "gone")
    call(sqs, "delete_queue", QueueUrl=url)
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="x")
    assert e.code == "QueueDoesNotExist"
    assert e.query_code == "AWS.SimpleQueueService.NonExistentQueue"
    assert e.message == "The specified queue does not exist."
    e = err(sqs, "create_queue", QueueName="gone")
    assert (e.code, e.query_code) == (
        "QueueDeletedRecently",
        "AWS.SimpleQueueService.QueueDeletedRecently",
    )
    advance(61)
    assert new_queue(sqs, "gone") == url


def test_get_queue_url_and_urls_from_other_hosts(sqs):
    url = new_queue(sqs, "where")
    assert call(sqs, "get_queue_url", QueueName="where") == {"QueueUrl": url}
    assert call(sqs, "get_queue_url", QueueName="where", QueueOwnerAWSAccountId=ACCOUNT)
    e = err(sqs, "get_queue_url", QueueName="where", QueueOwnerAWSAccountId="111122223333")
    assert e.code == "QueueDoesNotExist"
    other = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/where"
    call(sqs, "send_message", QueueUrl=other, MessageBody="via another host")
    assert receive(sqs, url)[0]["Body"] == "via another host"
    assert err(sqs, "purge_queue", QueueUrl="nonsense").code == "QueueDoesNotExist"
    query_ctx = SimpleNamespace(**vars(CTX), protocol="query")
    with pytest.raises(ServiceError) as exc:
        sqs.get_queue_url(query_ctx, {"QueueName": "nope"})
    assert exc.value.message == "The specified queue does not exist for this wsdl version."


def test_list_queues_prefix_and_pagination(sqs):
    for i in range(7):
        new_queue(sqs, f"list-{i}")
    new_queue(sqs, "other")
    urls = call(sqs, "list_queues", QueueNamePrefix="list-")["QueueUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == [f"list-{i}" for i in range(7)]
    assert "NextToken" not in call(sqs, "list_queues", QueueNamePrefix="list-")
    seen, token = [], None
    while True:
        page = call(
            sqs,
            "list_queues",
            QueueNamePrefix="list-",
            MaxResults=3,
            **({"NextToken": token} if token else {}),
        )
        assert len(page["QueueUrls"]) <= 3
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == urls
    assert call(sqs, "list_queues", QueueNamePrefix="zzz") == {}
    assert err(sqs, "list_queues", MaxResults=0).code == "InvalidParameterValue"


def test_queue_attributes_defaults_validation_and_errors(sqs):
    url = new_queue(sqs, "attrs")
    attrs = call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:attrs"
    assert attrs["SqsManagedSseEnabled"] == "true"
    assert "FifoQueue" not in attrs and "Policy" not in attrs
    assert int(attrs["CreatedTimestamp"]) == pytest.approx(clockmod.clock.time(), abs=5)
    assert call(sqs, "get_queue_attributes", QueueUrl=url) == {}

    advance(10)
    call(sqs, "set_queue_attributes", QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    got = call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got == {"Attributes": {"VisibilityTimeout": "5"}}
    stamps = call(
        sqs,
        "get_queue_attributes",
        QueueUrl=url,
        AttributeNames=["CreatedTimestamp", "LastModifiedTimestamp"],
    )["Attributes"]
    assert int(stamps["LastModifiedTimestamp"]) >= int(stamps["CreatedTimestamp"]) + 9

    e = err(sqs, "set_queue_attributes", QueueUrl=url, Attributes={"MessageRetentionPeriod": "10"})
    assert e.code == "InvalidAttributeValue"
    assert e.message == (
        "Value 10 for parameter MessageRetentionPeriod is invalid. "
        "Reason: Must be between 60 and 1209600."
    )
    for bad in ({"NoSuchAttribute": "1"}, {"QueueArn": "x"}, {"ContentBasedDeduplication": "true"}):
        e = err(sqs, "set_queue_attributes", QueueUrl=url, Attributes=bad)
        assert e.code == "InvalidAttributeName", bad
    e = err(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["Bogus"])
    assert (e.code, e.message) == ("InvalidAttributeName", "Unknown Attribute Bogus.")
    e = err(sqs, "set_queue_attributes", QueueUrl=url, Attributes={"Policy": "{not json"})
    assert e.code == "InvalidAttributeValue"

    call(sqs, "set_queue_attributes", QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    kms = call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert kms["KmsMasterKeyId"] == "alias/aws/sqs"
    assert kms["KmsDataKeyReusePeriodSeconds"] == "300"
    assert kms["SqsManagedSseEnabled"] == "false"


def test_fifo_attributes(sqs):
    url = new_queue(
        sqs,
        "f.fifo",
        FifoQueue="true",
        DeduplicationScope="messageGroup",
        FifoThroughputLimit="perMessageGroupId",
    )
    attrs = call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert attrs["DeduplicationScope"] == "messageGroup"
    assert attrs["FifoThroughputLimit"] == "perMessageGroupId"
    e = err(sqs, "set_queue_attributes", QueueUrl=url, Attributes={"DeduplicationScope": "queue"})
    assert e.code == "InvalidAttributeValue"
    e = err(sqs, "create_queue", QueueName="std", Attributes={"DeduplicationScope": "queue"})
    assert e.code == "InvalidAttributeName"


# --- send / receive / delete ---------------------------------------------------------------


def test_send_receive_delete(sqs):
    url = new_queue(sqs)
    sent = call(sqs, "send_message", QueueUrl=url, MessageBody="héllo")
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    assert set(sent) == {"MD5OfMessageBody", "MessageId"}
    (msg,) = receive(sqs, url, AttributeNames=["All"])
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Body"] == "héllo" and msg["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    assert msg["Attributes"]["SenderId"] == ACCOUNT
    assert int(msg["Attributes"]["SentTimestamp"]) <= int(
        msg["Attributes"]["ApproximateFirstReceiveTimestamp"]
    )
    assert "SequenceNumber" not in msg["Attributes"]
    assert receive(sqs, url) == []
    assert call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"]) == {}
    advance(31)
    assert receive(sqs, url) == []
    assert counters(sqs, url) == (0, 0, 0)


def test_visibility_timeout_and_change_visibility(sqs):
    url = new_queue(sqs, VisibilityTimeout="10")
    call(sqs, "send_message", QueueUrl=url, MessageBody="m")
    (first,) = receive(sqs, url)
    assert counters(sqs, url) == (0, 1, 0)
    advance(9)
    assert receive(sqs, url) == []
    advance(2)
    (second,) = receive(sqs, url, VisibilityTimeout=100, AttributeNames=["ApproximateReceiveCount"])
    assert second["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # The first handle no longer changes visibility: the message was received again.
    e = err(
        sqs,
        "change_message_visibility",
        QueueUrl=url,
        ReceiptHandle=first["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    assert e.code == "InvalidParameterValue"
    call(
        sqs,
        "change_message_visibility",
        QueueUrl=url,
        ReceiptHandle=second["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    (third,) = receive(sqs, url, VisibilityTimeout=5)
    advance(6)
    e = err(
        sqs,
        "change_message_visibility",
        QueueUrl=url,
        ReceiptHandle=third["ReceiptHandle"],
        VisibilityTimeout=10,
    )
    assert (e.code, e.query_code) == (
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
    )
    e = err(
        sqs,
        "change_message_visibility",
        QueueUrl=url,
        ReceiptHandle=third["ReceiptHandle"],
        VisibilityTimeout=43201,
    )
    assert e.code == "InvalidParameterValue"
    (fourth,) = receive(sqs, url)
    res = call(
        sqs,
        "change_message_visibility_batch",
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "ReceiptHandle": fourth["ReceiptHandle"], "VisibilityTimeout": 60},
            {"Id": "stale", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 60},
            {"Id": "junk", "ReceiptHandle": "garbage", "VisibilityTimeout": 60},
        ],
    )
    assert res["Successful"] == [{"Id": "ok"}]
    assert {f["Id"]: f["Code"] for f in res["Failed"]} == {
        "stale": "InvalidParameterValue",
        "junk": "ReceiptHandleIsInvalid",
    }
    assert all(f["SenderFault"] is True and f["Message"] for f in res["Failed"])
    advance(59)
    assert receive(sqs, url) == []


def test_receipt_handles_stale_gone_and_garbage(sqs):
    url = new_queue(sqs, VisibilityTimeout="1")
    other = new_queue(sqs, "other")
    call(sqs, "send_message", QueueUrl=url, MessageBody="m")
    (old,) = receive(sqs, url)
    advance(2)
    (new,) = receive(sqs, url, VisibilityTimeout=30)
    # A stale handle answers success but does not delete the message received since.
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
    assert counters(sqs, url) == (0, 1, 0)
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])  # gone: fine
    assert counters(sqs, url) == (0, 0, 0)
    for junk in ("garbage", "", new["ReceiptHandle"][:-4] + "AAAA"):
        e = err(sqs, "delete_message", QueueUrl=url, ReceiptHandle=junk)
        assert (e.code, e.query_code) == ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid")
    e = err(sqs, "delete_message", QueueUrl=other, ReceiptHandle=new["ReceiptHandle"])
    assert e.code == "ReceiptHandleIsInvalid"


def test_delays_on_queue_and_message(sqs):
    url = new_queue(sqs, DelaySeconds="5")
    call(sqs, "send_message", QueueUrl=url, MessageBody="queue delay")
    call(sqs, "send_message", QueueUrl=url, MessageBody="own delay", DelaySeconds=20)
    call(sqs, "send_message", QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    assert [m["Body"] for m in receive(sqs, url)] == ["no delay"]
    assert counters(sqs, url) == (0, 1, 2)
    advance(6)
    assert [m["Body"] for m in receive(sqs, url)] == ["queue delay"]
    advance(15)
    assert [m["Body"] for m in receive(sqs, url)] == ["own delay"]
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert (
        e.message
        == "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
    )


def test_counters(sqs):
    url = new_queue(sqs)
    for i in range(3):
        call(sqs, "send_message", QueueUrl=url, MessageBody=f"m{i}")
    call(sqs, "send_message", QueueUrl=url, MessageBody="later", DelaySeconds=60)
    receive(sqs, url, n=1)
    assert counters(sqs, url) == (2, 1, 1)


def test_receive_parameter_ranges(sqs):
    url = new_queue(sqs)
    for bad in (
        {"MaxNumberOfMessages": 0},
        {"MaxNumberOfMessages": 11},
        {"WaitTimeSeconds": 21},
        {"VisibilityTimeout": -1},
    ):
        e = err(sqs, "receive_message", QueueUrl=url, **bad)
        assert e.code == "InvalidParameterValue", bad
    e = err(sqs, "receive_message", QueueUrl=url, MaxNumberOfMessages=11)
    assert (
        e.message
        == "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    )
    for i in range(15):
        call(sqs, "send_message", QueueUrl=url, MessageBody=str(i))
    assert len(receive(sqs, url, n=10)) == 10
    assert len(receive(sqs, url, n=10)) == 5


def test_retention_expiry(sqs):
    url = new_queue(sqs, MessageRetentionPeriod="60")
    call(sqs, "send_message", QueueUrl=url, MessageBody="old")
    call(sqs, "send_message", QueueUrl=url, MessageBody="in flight", DelaySeconds=0)
    receive(sqs, url, n=1, VisibilityTimeout=120)
    advance(30)
    call(sqs, "send_message", QueueUrl=url, MessageBody="young")
    advance(31)
    # Expired messages are never returned, even before the sweep has run.
    assert [m["Body"] for m in receive(sqs, url, VisibilityTimeout=0)] == ["young"]
    assert sqs.engine.sweep() >= 1
    assert counters(sqs, url) == (1, 0, 0)
    advance(30)
    sqs.engine.sweep()
    assert counters(sqs, url) == (0, 0, 0)


def test_message_body_rules(sqs):
    url = new_queue(sqs)
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="")
    assert (e.code, e.message) == (
        "MissingParameter",
        "The request must contain the parameter MessageBody.",
    )
    for bad in ("\x00", "a\x08b", "\ufffe", "\ud800"):
        e = err(sqs, "send_message", QueueUrl=url, MessageBody=bad)
        assert e.code == "InvalidMessageContents", repr(bad)
    call(sqs, "send_message", QueueUrl=url, MessageBody="tab\tnl\ncr\r \U0001f600 \ue000")
    call(sqs, "send_message", QueueUrl=url, MessageBody="x" * 1_048_576)
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="x" * 1_048_577)
    assert e.code == "InvalidParameterValue"
    assert "Message must be shorter than 1048576 bytes" in e.message
    e = err(
        sqs,
        "send_message",
        QueueUrl=url,
        MessageBody="x" * 1_048_572,
        MessageAttributes={"a": {"DataType": "String", "StringValue": "x"}},
    )
    assert e.code == "InvalidParameterValue"
    small = new_queue(sqs, "small", MaximumMessageSize="1024")
    assert (
        err(sqs, "send_message", QueueUrl=small, MessageBody="é" * 513).code
        == "InvalidParameterValue"
    )


def test_batch_errors(sqs):
    url = new_queue(sqs)
    cases = [
        ([], "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": str(i), "MessageBody": "x"} for i in range(11)],
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        (
            [{"Id": "no spaces", "MessageBody": "x"}],
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
        ),
        (
            [{"Id": "x" * 81, "MessageBody": "x"}],
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
        ),
        (
            [{"Id": str(i), "MessageBody": "x" * 120_000} for i in range(9)],
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
        ),
    ]
    for entries, code, query_code in cases:
        e = err(sqs, "send_message_batch", QueueUrl=url, Entries=entries)
        assert (e.code, e.query_code) == (code, query_code), code
    assert counters(sqs, url) == (0, 0, 0)
    for op in ("delete_message_batch", "change_message_visibility_batch"):
        assert err(sqs, op, QueueUrl=url, Entries=[]).code == "EmptyBatchRequest"
    res = call(
        sqs,
        "send_message_batch",
        QueueUrl=url,
        Entries=[
            {"Id": "ok-1", "MessageBody": "one"},
            {"Id": "bad_body", "MessageBody": "\x00"},
            {"Id": "too-slow", "MessageBody": "x", "DelaySeconds": 1000},
            {"Id": "ok-2", "MessageBody": "two", "DelaySeconds": 0},
        ],
    )
    assert [s["Id"] for s in res["Successful"]] == ["ok-1", "ok-2"]
    assert all(set(s) >= {"Id", "MessageId", "MD5OfMessageBody"} for s in res["Successful"])
    assert {f["Id"]: f["Code"] for f in res["Failed"]} == {
        "bad_body": "InvalidMessageContents",
        "too-slow": "InvalidParameterValue",
    }
    msgs = receive(sqs, url)
    assert sorted(m["Body"] for m in msgs) == ["one", "two"]
    res = call(
        sqs,
        "delete_message_batch",
        QueueUrl=url,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        + [{"Id": "junk", "ReceiptHandle": "junk"}],
    )
    assert [s["Id"] for s in res["Successful"]] == ["d0", "d1"]
    assert res["Failed"][0]["Id"] == "junk" and res["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"


# --- message attributes and digests --------------------------------------------------------


def reference_md5(attributes: dict) -> str:
    """AWS's documented encoding, written independently of the implementation."""
    buf = b""
    for name in sorted(attributes):
        value = attributes[name]
        buf += struct.pack("!I", len(name.encode())) + name.encode()
        buf += struct.pack("!I", len(value["DataType"].encode())) + value["DataType"].encode()
        if "StringValue" in value:
            data = value["StringValue"].encode()
            buf += b"\x01" + struct.pack("!I", len(data)) + data
        else:
            buf += b"\x02" + struct.pack("!I", len(value["BinaryValue"])) + value["BinaryValue"]
    return hashlib.md5(buf).hexdigest()


def moto_md5(attributes: dict) -> str:
    """moto's implementation of the same digest: a second, external oracle."""
    models = pytest.importorskip("moto.sqs.models")
    message = models.Message("id", "body")
    message.message_attributes = attributes
    return message.attribute_md5


ATTRIBUTES = {
    "str": {"DataType": "String", "StringValue": "héllo wörld"},
    "num": {"DataType": "Number", "StringValue": "-12.5e3"},
    "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xffbinary"},
    "custom": {"DataType": "String.uuid", "StringValue": "a-b-c"},
    "custom.bin": {"DataType": "Binary.gzip", "BinaryValue": b"\x1f\x8b"},
    "app.trace": {"DataType": "Number.int", "StringValue": "42"},
}


def test_message_attribute_digests_match_oracles(sqs):
    url = new_queue(sqs)
    sent = call(sqs, "send_message", QueueUrl=url, MessageBody="b", MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageAttributes"] == reference_md5(ATTRIBUTES) == moto_md5(ATTRIBUTES)
    (msg,) = receive(sqs, url, MessageAttributeNames=["All"], VisibilityTimeout=0)
    assert msg["MessageAttributes"] == ATTRIBUTES
    assert isinstance(msg["MessageAttributes"]["bin"]["BinaryValue"], bytes)
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    # A filtered receive carries the digest of what it returns (what SDKs check).
    (msg,) = receive(sqs, url, MessageAttributeNames=["app.*", "str"], VisibilityTimeout=0)
    chosen = {k: ATTRIBUTES[k] for k in ("app.trace", "str")}
    assert msg["MessageAttributes"] == chosen
    assert msg["MD5OfMessageAttributes"] == reference_md5(chosen) == moto_md5(chosen)
    (msg,) = receive(sqs, url, MessageAttributeNames=[".*"], VisibilityTimeout=0)
    assert len(msg["MessageAttributes"]) == len(ATTRIBUTES)
    (msg,) = receive(sqs, url, MessageAttributeNames=["nothing"], VisibilityTimeout=0)
    assert "MessageAttributes" not in msg and "MD5OfMessageAttributes" not in msg
    (msg,) = receive(sqs, url, VisibilityTimeout=0)
    assert "MessageAttributes" not in msg
    batch = call(
        sqs,
        "send_message_batch",
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": "b", "MessageAttributes": ATTRIBUTES}],
    )
    assert batch["Successful"][0]["MD5OfMessageAttributes"] == reference_md5(ATTRIBUTES)


@pytest.mark.parametrize(
    "attributes",
    [
        {"AWS.reserved": {"DataType": "String", "StringValue": "x"}},
        {"amazon.x": {"DataType": "String", "StringValue": "x"}},
        {".lead": {"DataType": "String", "StringValue": "x"}},
        {"a..b": {"DataType": "String", "StringValue": "x"}},
        {"spa ce": {"DataType": "String", "StringValue": "x"}},
        {"n": {"DataType": "Integer", "StringValue": "1"}},
        {"n": {"DataType": "Number", "StringValue": "one"}},
        {"s": {"DataType": "String", "StringValue": ""}},
        {"b": {"DataType": "Binary", "StringValue": "not binary"}},
        {f"k{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)},
    ],
)
def test_message_attribute_validation(sqs, attributes):
    url = new_queue(sqs)
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="b", MessageAttributes=attributes)
    assert e.code == "InvalidParameterValue"


def test_system_attributes(sqs):
    url = new_queue(sqs)
    system = {
        "AWSTraceHeader": {
            "DataType": "String",
            "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793",
        }
    }
    sent = call(sqs, "send_message", QueueUrl=url, MessageBody="b", MessageSystemAttributes=system)
    assert sent["MD5OfMessageSystemAttributes"] == reference_md5(system)
    (msg,) = receive(sqs, url, MessageSystemAttributeNames=["AWSTraceHeader", "SenderId"])
    assert msg["Attributes"] == {
        "AWSTraceHeader": system["AWSTraceHeader"]["StringValue"],
        "SenderId": ACCOUNT,
    }
    bad = {"AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}}
    assert (
        err(sqs, "send_message", QueueUrl=url, MessageBody="b", MessageSystemAttributes=bad).code
        == "InvalidParameterValue"
    )


# --- FIFO --------------------------------------------------------------------------------


def fifo_queue(sqs, name="f.fifo", **attributes):
    return new_queue(sqs, name, FifoQueue="true", **attributes)


def send_fifo(sqs, url, body, group="g", dedup=None):
    return call(
        sqs,
        "send_message",
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup or body,
    )


def test_fifo_ordering_and_group_locking(sqs):
    url = fifo_queue(sqs, VisibilityTimeout="30")
    for i in range(5):
        send_fifo(sqs, url, f"a{i}", "A")
    for i in range(3):
        send_fifo(sqs, url, f"b{i}", "B")
    first = receive(sqs, url, n=2)
    assert [m["Body"] for m in first] == ["a0", "a1"]
    # Group A is locked while a0/a1 are in flight: only B is delivered.
    second = receive(sqs, url, n=10)
    assert [m["Body"] for m in second] == ["b0", "b1", "b2"]
    assert receive(sqs, url) == []
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert receive(sqs, url) == []  # a1 is still in flight
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url, n=1)] == ["a2"]
    # Visibility timeout expiry unlocks the group and redelivers in order.
    advance(31)
    again = receive(sqs, url, n=10, AttributeNames=["All"])
    # Order holds within each group (groups themselves come in any order).
    assert sorted((m["Body"] for m in again), key=lambda b: b[0]) == [
        "a2",
        "a3",
        "a4",
        "b0",
        "b1",
        "b2",
    ]
    again = [m for m in again if m["Body"].startswith("a")]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["Attributes"]["MessageGroupId"] == "A"
    seqs = [int(m["Attributes"]["SequenceNumber"]) for m in again[:3]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    # Making one message visible again does not unlock a group with others in flight.
    call(
        sqs,
        "change_message_visibility",
        QueueUrl=url,
        ReceiptHandle=again[0]["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    assert receive(sqs, url) == []  # a3/a4 in flight, b0-b2 in flight
    for m in again[1:3]:
        call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a2"]


def test_fifo_deduplication(sqs):
    url = fifo_queue(sqs)
    first = send_fifo(sqs, url, "one", dedup="d1")
    dup = send_fifo(sqs, url, "one again", dedup="d1")
    assert dup["MessageId"] == first["MessageId"]
    assert dup["SequenceNumber"] == first["SequenceNumber"]
    assert dup["MD5OfMessageBody"] == hashlib.md5(b"one again").hexdigest()
    (msg,) = receive(sqs, url)
    call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    # Still deduplicated after the delete, until five minutes have passed.
    assert send_fifo(sqs, url, "one", dedup="d1")["MessageId"] == first["MessageId"]
    assert receive(sqs, url) == []
    advance(301)
    assert send_fifo(sqs, url, "one", dedup="d1")["MessageId"] != first["MessageId"]
    assert len(receive(sqs, url)) == 1


def test_fifo_content_based_and_group_scoped_deduplication(sqs):
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    a = call(sqs, "send_message", QueueUrl=url, MessageBody="same", MessageGroupId="g")
    b = call(sqs, "send_message", QueueUrl=url, MessageBody="same", MessageGroupId="h")
    c = call(sqs, "send_message", QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    (msg,) = receive(sqs, url, n=1, AttributeNames=["MessageDeduplicationId"])
    assert msg["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()

    scoped = fifo_queue(
        sqs, "scoped.fifo", ContentBasedDeduplication="true", DeduplicationScope="messageGroup"
    )
    a = call(sqs, "send_message", QueueUrl=scoped, MessageBody="same", MessageGroupId="g")
    b = call(sqs, "send_message", QueueUrl=scoped, MessageBody="same", MessageGroupId="h")
    assert a["MessageId"] != b["MessageId"]


def test_fifo_send_rules(sqs):
    url = fifo_queue(sqs)
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert (e.code, e.message) == (
        "MissingParameter",
        "The request must contain the parameter MessageGroupId.",
    )
    e = err(sqs, "send_message", QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert e.code == "InvalidParameterValue" and "ContentBasedDeduplication" in e.message
    e = err(
        sqs,
        "send_message",
        QueueUrl=url,
        MessageBody="x",
        MessageGroupId="g",
        MessageDeduplicationId="d",
        DelaySeconds=5,
    )
    assert e.code == "InvalidParameterValue"
    e = err(
        sqs,
        "send_message",
        QueueUrl=url,
        MessageBody="x",
        MessageGroupId="g" * 129,
        MessageDeduplicationId="d",
    )
    assert e.code == "InvalidParameterValue"
    sent = call(
        sqs,
        "send_message",
        QueueUrl=url,
        MessageBody="x",
        MessageGroupId="g",
        MessageDeduplicationId="d",
        DelaySeconds=0,
    )
    assert len(sent["SequenceNumber"]) == 20 and sent["SequenceNumber"].isdigit()
    std = new_queue(sqs, "std")
    e = err(sqs, "send_message", QueueUrl=std, MessageBody="x", MessageDeduplicationId="d")
    assert e.code == "InvalidParameterValue"


def test_fifo_queue_delay_orders_and_counts(sqs):
    url = fifo_queue(sqs, DelaySeconds="10")
    send_fifo(sqs, url, "first")
    advance(5)
    send_fifo(sqs, url, "second")
    assert receive(sqs, url) == []
    assert counters(sqs, url) == (0, 0, 2)
    advance(6)
    assert [m["Body"] for m in receive(sqs, url)] == ["first"]


def test_fifo_receive_request_attempt_id(sqs):
    url = fifo_queue(sqs)
    for i in range(3):
        send_fifo(sqs, url, f"m{i}")
    first = receive(sqs, url, n=2, ReceiveRequestAttemptId="attempt-1")
    retry = receive(sqs, url, n=2, ReceiveRequestAttemptId="attempt-1")
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    assert [m["Body"] for m in retry] == ["m0", "m1"]
    assert receive(sqs, url, n=2, ReceiveRequestAttemptId="attempt-2") == []
    for m in first:
        call(sqs, "delete_message", QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url, ReceiveRequestAttemptId="attempt-1")] == ["m2"]


def test_fifo_batch_send(sqs):
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    res = call(
        sqs,
        "send_message_batch",
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "a", "MessageGroupId": "g"},
            {"Id": "2", "MessageBody": "b", "MessageGroupId": "g"},
            {"Id": "3", "MessageBody": "a", "MessageGroupId": "g"},
            {"Id": "4", "MessageBody": "c"},
        ],
    )
    ok = {s["Id"]: s for s in res["Successful"]}
    assert set(ok) == {"1", "2", "3"} and ok["3"]["MessageId"] == ok["1"]["MessageId"]
    assert int(ok["1"]["SequenceNumber"]) < int(ok["2"]["SequenceNumber"])
    assert res["Failed"][0]["Id"] == "4" and res["Failed"][0]["Code"] == "MissingParameter"
    assert [m["Body"] for m in receive(sqs, url)] == ["a", "b"]


# --- dead-letter queues and move tasks ---------------------------------------------------------


def redrive(sqs, source: str, dlq: str, count: int = 2) -> None:
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": count})
    call(sqs, "set_queue_attributes", QueueUrl=source, Attributes={"RedrivePolicy": policy})


def test_redrive_to_dead_letter_queue(sqs):
    dlq = new_queue(sqs, "dlq")
    src = new_queue(sqs, "src", VisibilityTimeout="5")
    redrive(sqs, src, dlq, count=2)
    policy = call(sqs, "get_queue_attributes", QueueUrl=src, AttributeNames=["RedrivePolicy"])
    assert json.loads(policy["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": arn_of(sqs, dlq),
        "maxReceiveCount": 2,
    }
    sent = call(
        sqs, "send_message", QueueUrl=src, MessageBody="poison", MessageAttributes=ATTRIBUTES
    )
    for _ in range(2):
        assert len(receive(sqs, src)) == 1
        advance(6)
    # The third receive would exceed maxReceiveCount: the message moves instead.
    assert receive(sqs, src) == []
    assert counters(sqs, src) == (0, 0, 0)
    (dead,) = receive(sqs, dlq, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert dead["MessageId"] == sent["MessageId"] and dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, src)
    assert dead["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert call(sqs, "list_dead_letter_source_queues", QueueUrl=dlq) == {"queueUrls": [src]}
    assert call(sqs, "list_dead_letter_source_queues", QueueUrl=src) == {"queueUrls": []}
    call(sqs, "set_queue_attributes", QueueUrl=src, Attributes={"RedrivePolicy": ""})
    assert call(sqs, "get_queue_attributes", QueueUrl=src, AttributeNames=["RedrivePolicy"]) == {}


def test_fifo_redrive(sqs):
    dlq = fifo_queue(sqs, "dlq.fifo")
    src = fifo_queue(sqs, "src.fifo", VisibilityTimeout="5")
    redrive(sqs, src, dlq, count=1)
    send_fifo(sqs, src, "poison", "g")
    send_fifo(sqs, src, "fine", "g")
    assert [m["Body"] for m in receive(sqs, src, n=1)] == ["poison"]
    advance(6)
    (msg,) = receive(sqs, src, n=1, AttributeNames=["MessageGroupId"])
    assert msg["Body"] == "fine"
    (dead,) = receive(sqs, dlq, AttributeNames=["All"])
    assert dead["Body"] == "poison" and dead["Attributes"]["MessageGroupId"] == "g"


def test_redrive_policy_validation(sqs):
    src = new_queue(sqs, "src")
    dlq = new_queue(sqs, "dlq")
    fifo_dlq = fifo_queue(sqs, "dlq.fifo")
    missing = json.dumps(
        {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:nope", "maxReceiveCount": 3}
    )
    bad_values = [
        missing,
        json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 0}),
        json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq)}),
        json.dumps({"deadLetterTargetArn": arn_of(sqs, fifo_dlq), "maxReceiveCount": 3}),
        "not json",
    ]
    for value in bad_values:
        e = err(sqs, "set_queue_attributes", QueueUrl=src, Attributes={"RedrivePolicy": value})
        assert e.code == "InvalidParameterValue", value
    deny = json.dumps({"redrivePermission": "denyAll"})
    call(sqs, "set_queue_attributes", QueueUrl=dlq, Attributes={"RedriveAllowPolicy": deny})
    e = err(
        sqs,
        "set_queue_attributes",
        QueueUrl=src,
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": "3"}
            )
        },
    )
    assert e.code == "InvalidParameterValue"
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(sqs, src)]})
    call(sqs, "set_queue_attributes", QueueUrl=dlq, Attributes={"RedriveAllowPolicy": allow})
    redrive(sqs, src, dlq, count=3)


def dead_letter(sqs, src: str, dlq: str, bodies: list[str]) -> None:
    """Send ``bodies`` to ``src`` and let them be dead-lettered into ``dlq``."""
    redrive(sqs, src, dlq, count=1)
    for body in bodies:
        call(sqs, "send_message", QueueUrl=src, MessageBody=body)
    while receive(sqs, src, VisibilityTimeout=0):
        pass
    assert counters(sqs, dlq)[0] == len(bodies)


def test_message_move_task_redrives_to_source(sqs):
    src = new_queue(sqs, "src")
    dlq = new_queue(sqs, "dlq")
    dead_letter(sqs, src, dlq, [f"m{i}" for i in range(25)])

    async def scenario():
        handle = sqs.start_message_move_task(CTX, {"SourceArn": arn_of(sqs, dlq)})["TaskHandle"]
        e = None
        try:
            sqs.start_message_move_task(CTX, {"SourceArn": arn_of(sqs, dlq)})
        except ServiceError as exc:
            e = exc
        assert e is not None and e.code == "InvalidParameterValue"
        for _ in range(200):
            tasks = sqs.list_message_move_tasks(CTX, {"SourceArn": arn_of(sqs, dlq)})["Results"]
            if tasks[0]["Status"] == "COMPLETED":
                break
            await asyncio.sleep(0.01)
        return handle, tasks[0]

    handle, task = asyncio.run(scenario())
    assert handle
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 25
    assert task["ApproximateNumberOfMessagesToMove"] == 25
    assert task["SourceArn"] == arn_of(sqs, dlq)
    assert "TaskHandle" not in task
    assert counters(sqs, dlq) == (0, 0, 0)
    moved = receive(sqs, src, AttributeNames=["All"])
    assert len(moved) == 10 and "DeadLetterQueueSourceArn" not in moved[0]["Attributes"]


def test_message_move_task_rate_destination_and_cancel(sqs):
    src = new_queue(sqs, "src")
    dlq = new_queue(sqs, "dlq")
    elsewhere = new_queue(sqs, "elsewhere")
    dead_letter(sqs, src, dlq, [f"m{i}" for i in range(5)])

    async def scenario():
        start = time.monotonic()
        sqs.start_message_move_task(
            CTX,
            {
                "SourceArn": arn_of(sqs, dlq),
                "DestinationArn": arn_of(sqs, elsewhere),
                "MaxNumberOfMessagesPerSecond": 20,
            },
        )
        while True:
            (task,) = sqs.list_message_move_tasks(CTX, {"SourceArn": arn_of(sqs, dlq)})["Results"]
            if task["Status"] != "RUNNING":
                break
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - start
        return task, elapsed

    task, elapsed = asyncio.run(scenario())
    assert task["Status"] == "COMPLETED" and task["MaxNumberOfMessagesPerSecond"] == 20
    assert task["DestinationArn"] == arn_of(sqs, elsewhere)
    assert elapsed >= 0.2  # 5 messages at 20 per second
    assert counters(sqs, elsewhere)[0] == 5 and counters(sqs, src)[0] == 0

    dead_letter(sqs, src, dlq, [f"n{i}" for i in range(5)])

    async def cancel():
        handle = sqs.start_message_move_task(
            CTX, {"SourceArn": arn_of(sqs, dlq), "MaxNumberOfMessagesPerSecond": 1}
        )["TaskHandle"]
        await asyncio.sleep(0.05)
        moved = sqs.cancel_message_move_task(CTX, {"TaskHandle": handle})
        await asyncio.sleep(0.05)
        tasks = sqs.list_message_move_tasks(CTX, {"SourceArn": arn_of(sqs, dlq), "MaxResults": 10})
        return moved, tasks["Results"]

    moved, tasks = asyncio.run(cancel())
    assert moved["ApproximateNumberOfMessagesMoved"] <= 1
    assert [t["Status"] for t in tasks] == ["CANCELLED", "COMPLETED"]
    assert counters(sqs, dlq)[0] >= 4
    e = err(sqs, "cancel_message_move_task", TaskHandle="bm90IGEgdGFzaw==")
    assert e.code == "ResourceNotFoundException"
    e = err(sqs, "start_message_move_task", SourceArn=arn_of(sqs, elsewhere))
    assert e.code == "InvalidParameterValue"  # not a dead-letter queue
    e = err(sqs, "list_message_move_tasks", SourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:nope")
    assert e.code == "ResourceNotFoundException"


# --- purge, tags, permissions --------------------------------------------------------------


def test_purge_and_purge_in_progress(sqs):
    url = new_queue(sqs)
    for i in range(5):
        call(sqs, "send_message", QueueUrl=url, MessageBody=str(i))
    receive(sqs, url, n=2)
    call(sqs, "purge_queue", QueueUrl=url)
    assert counters(sqs, url) == (0, 0, 0)
    e = err(sqs, "purge_queue", QueueUrl=url)
    assert (e.code, e.query_code, e.status) == (
        "PurgeQueueInProgress",
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        403,
    )
    call(sqs, "send_message", QueueUrl=url, MessageBody="after")
    assert len(receive(sqs, url)) == 1
    advance(61)
    call(sqs, "purge_queue", QueueUrl=url)


def test_tags(sqs):
    url = call(sqs, "create_queue", QueueName="tagged", tags={"team": "a"})["QueueUrl"]
    call(sqs, "tag_queue", QueueUrl=url, Tags={"env": "dev"})
    assert call(sqs, "list_queue_tags", QueueUrl=url) == {"Tags": {"team": "a", "env": "dev"}}
    call(sqs, "untag_queue", QueueUrl=url, TagKeys=["team", "absent"])
    assert call(sqs, "list_queue_tags", QueueUrl=url) == {"Tags": {"env": "dev"}}
    call(sqs, "untag_queue", QueueUrl=url, TagKeys=["env"])
    assert call(sqs, "list_queue_tags", QueueUrl=url) == {}
    e = err(sqs, "tag_queue", QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert e.code == "InvalidParameterValue"


def test_add_and_remove_permission(sqs):
    url = new_queue(sqs, "shared")
    call(
        sqs,
        "add_permission",
        QueueUrl=url,
        Label="l1",
        AWSAccountIds=["111122223333"],
        Actions=["SendMessage"],
    )
    call(
        sqs,
        "add_permission",
        QueueUrl=url,
        Label="l2",
        AWSAccountIds=["1", "2"],
        Actions=["ReceiveMessage", "DeleteMessage"],
    )
    policy = json.loads(
        call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    assert policy["Id"].endswith("/SQSDefaultPolicy")
    first, second = policy["Statement"]
    assert first == {
        "Sid": "l1",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "SQS:SendMessage",
        "Resource": arn_of(sqs, url),
    }
    assert second["Action"] == ["SQS:ReceiveMessage", "SQS:DeleteMessage"]
    assert second["Principal"] == {"AWS": ["arn:aws:iam::1:root", "arn:aws:iam::2:root"]}
    e = err(
        sqs,
        "add_permission",
        QueueUrl=url,
        Label="l1",
        AWSAccountIds=["1"],
        Actions=["SendMessage"],
    )
    assert e.code == "InvalidParameterValue"
    e = err(sqs, "add_permission", QueueUrl=url, Label="l3", AWSAccountIds=["1"], Actions=["Fly"])
    assert e.code == "InvalidParameterValue"
    e = err(
        sqs,
        "add_permission",
        QueueUrl=url,
        Label="l3",
        AWSAccountIds=["1"],
        Actions=["SendMessage"] * 8,
    )
    assert (e.code, e.status) == ("OverLimit", 403)
    call(sqs, "remove_permission", QueueUrl=url, Label="l1")
    call(sqs, "remove_permission", QueueUrl=url, Label="l2")
    assert call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["Policy"]) == {}
    assert err(sqs, "remove_permission", QueueUrl=url, Label="l1").code == "InvalidParameterValue"


# --- long polling ------------------------------------------------------------------------


def test_long_poll_wakes_within_100ms_of_a_send(sqs):
    url = new_queue(sqs)

    async def scenario():
        waiting = asyncio.ensure_future(
            sqs.receive_message(CTX, {"QueueUrl": url, "WaitTimeSeconds": 10})
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()
        sent_at = time.monotonic()
        sqs.send_message(CTX, {"QueueUrl": url, "MessageBody": "wake up"})
        result = await asyncio.wait_for(waiting, 2)
        return result, time.monotonic() - sent_at

    result, latency = asyncio.run(scenario())
    assert result["Messages"][0]["Body"] == "wake up"
    assert latency < 0.1


def test_long_poll_many_waiters_each_get_one(sqs):
    url = new_queue(sqs)

    async def scenario():
        waiters = [
            asyncio.ensure_future(sqs.receive_message(CTX, {"QueueUrl": url, "WaitTimeSeconds": 5}))
            for _ in range(3)
        ]
        await asyncio.sleep(0.05)
        for i in range(3):
            sqs.send_message(CTX, {"QueueUrl": url, "MessageBody": f"m{i}"})
            await asyncio.sleep(0)
        return await asyncio.wait_for(asyncio.gather(*waiters), 2)

    results = asyncio.run(scenario())
    assert sorted(r["Messages"][0]["Body"] for r in results) == ["m0", "m1", "m2"]


def test_long_poll_wakes_when_a_delayed_message_becomes_visible(sqs):
    url = new_queue(sqs)
    call(sqs, "send_message", QueueUrl=url, MessageBody="soon", DelaySeconds=1)

    async def scenario():
        start = time.monotonic()
        result = await sqs.receive_message(CTX, {"QueueUrl": url, "WaitTimeSeconds": 5})
        return result, time.monotonic() - start

    result, elapsed = asyncio.run(scenario())
    assert result["Messages"][0]["Body"] == "soon"
    assert 0.5 < elapsed < 2.5


def test_long_poll_times_out_and_uses_queue_wait_time(sqs):
    url = new_queue(sqs, ReceiveMessageWaitTimeSeconds="1")

    async def scenario():
        start = time.monotonic()
        result = await sqs.receive_message(CTX, {"QueueUrl": url})
        return result, time.monotonic() - start

    result, elapsed = asyncio.run(scenario())
    assert result == {} and 0.9 < elapsed < 2


def test_fifo_long_poll_wakes_when_group_unlocks(sqs):
    url = fifo_queue(sqs)
    send_fifo(sqs, url, "first")
    send_fifo(sqs, url, "second")
    (first,) = receive(sqs, url, n=1)

    async def scenario():
        waiting = asyncio.ensure_future(
            sqs.receive_message(CTX, {"QueueUrl": url, "WaitTimeSeconds": 5})
        )
        await asyncio.sleep(0.1)
        assert not waiting.done()
        sqs.delete_message(CTX, {"QueueUrl": url, "ReceiptHandle": first["ReceiptHandle"]})
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(scenario())["Messages"][0]["Body"] == "second"


def test_deleting_a_queue_ends_its_long_polls(sqs):
    url = new_queue(sqs)

    async def scenario():
        waiting = asyncio.ensure_future(
            sqs.receive_message(CTX, {"QueueUrl": url, "WaitTimeSeconds": 10})
        )
        await asyncio.sleep(0.05)
        sqs.delete_queue(CTX, {"QueueUrl": url})
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(scenario()) == {}


# --- durability --------------------------------------------------------------------------


def test_state_survives_reopen(open_service, backend):
    if backend is None:
        pytest.skip("an ephemeral database does not outlive its service")
    sqs = open_service()
    dlq = new_queue(sqs, "dlq")
    url = call(
        sqs,
        "create_queue",
        QueueName="durable",
        Attributes={"VisibilityTimeout": "20"},
        tags={"k": "v"},
    )["QueueUrl"]
    redrive(sqs, url, dlq, count=5)
    fifo = fifo_queue(sqs, "durable.fifo")
    for i in range(3):
        call(sqs, "send_message", QueueUrl=url, MessageBody=f"m{i}", MessageAttributes=ATTRIBUTES)
    first = send_fifo(sqs, fifo, "f0")
    send_fifo(sqs, fifo, "f1")
    (in_flight,) = receive(sqs, url, n=1)
    (fifo_in_flight,) = receive(sqs, fifo, n=1)
    sqs.engine.conn.close()

    again = open_service()
    assert call(again, "list_queue_tags", QueueUrl=url) == {"Tags": {"k": "v"}}
    attrs = call(again, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "20" and "RedrivePolicy" in attrs
    assert counters(again, url) == (2, 1, 0)
    assert receive(again, fifo) == []  # its group is still locked
    assert send_fifo(again, fifo, "f0")["MessageId"] == first["MessageId"]  # dedup kept
    advance(21)
    got = receive(
        again, url, AttributeNames=["ApproximateReceiveCount"], MessageAttributeNames=["All"]
    )
    assert sorted(m["Body"] for m in got) == ["m0", "m1", "m2"]
    redelivered = next(m for m in got if m["MessageId"] == in_flight["MessageId"])
    assert redelivered["Attributes"]["ApproximateReceiveCount"] == "2"
    assert redelivered["MessageAttributes"] == ATTRIBUTES
    # The old receipt handle no longer changes visibility; deleting with the new works.
    assert (
        err(
            again,
            "change_message_visibility",
            QueueUrl=url,
            ReceiptHandle=in_flight["ReceiptHandle"],
            VisibilityTimeout=5,
        ).code
        == "InvalidParameterValue"
    )
    call(again, "delete_message", QueueUrl=url, ReceiptHandle=redelivered["ReceiptHandle"])
    advance(10)  # the FIFO queue's own 30 s visibility timeout
    assert [m["Body"] for m in receive(again, fifo)] == ["f0", "f1"]
    seq = int(send_fifo(again, fifo, "f2")["SequenceNumber"])
    assert seq > int(first["SequenceNumber"])
    assert fifo_in_flight["Body"] == "f0"


# --- cost does not grow with depth -----------------------------------------------------------


class VmSteps:
    """Counts SQLite virtual-machine steps: a measure of work that ignores machine noise."""

    def __init__(self, conn):
        self.conn = conn
        self.steps = 0

    def __enter__(self):
        def tick():
            self.steps += 1
            return 0

        self.conn.set_progress_handler(tick, 1)
        return self

    def __exit__(self, *exc):
        self.conn.set_progress_handler(None, 0)


def cost_per_call(engine, queue, n: int = 200) -> tuple[float, float]:
    """Average SQLite VM steps of a send, and of a receive plus delete: the work a call
    does, counted, where wall time on a shared machine is only noise."""
    with VmSteps(engine.conn) as send_steps:
        for i in range(n):
            engine.send(queue, f"body {i}", sender_id=ACCOUNT)
    with VmSteps(engine.conn) as cycle_steps:
        for _ in range(n):
            (delivery,) = engine.receive_now(queue, 1, 30)
            engine.delete(queue, delivery.handle)
    return send_steps.steps / n, cycle_steps.steps / n


def test_send_and_receive_cost_do_not_grow_with_queue_depth(sqs):
    engine = sqs.engine
    empty = engine.create_queue(ACCOUNT, "us-east-1", "empty")
    deep = engine.create_queue(ACCOUNT, "us-east-1", "deep")
    entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
    for _ in range(10_000):
        engine.send_batch(deep, entries, sender_id=ACCOUNT)
    assert engine.messages.counters(deep)["ApproximateNumberOfMessages"] == 100_000

    send_0, cycle_0 = cost_per_call(engine, empty)
    send_deep, cycle_deep = cost_per_call(engine, deep)
    assert send_deep <= send_0 * 1.05 + 2
    assert cycle_deep <= cycle_0 * 1.05 + 2


def test_hot_statements_use_indexes_and_never_sort(sqs):
    from cloudlet.services.sqs import store

    hot = [
        "INSERT_MESSAGE",
        "SELECT_VISIBLE",
        "SELECT_BY_ID",
        "SELECT_GROUP_HEAD",
        "SELECT_GROUP_PREFIX",
        "MARK_RECEIVED",
        "SET_VISIBLE_AT",
        "DELETE_BY_RECEIPT",
        "DELETE_BY_ID",
        "NEXT_VISIBLE",
        "READY_GROUPS",
        "NEXT_READY_GROUP",
        "FIND_DEDUP",
        "COUNT_VISIBLE",
        "COUNT_IN_FLIGHT",
        "COUNT_DELAYED",
        "EXPIRED",
    ]
    for name in hot:
        sql = getattr(store, name)
        plan = sqs.engine.conn.execute("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?"))
        details = " ; ".join(row[3] for row in plan.fetchall())
        assert "SCAN" not in details and "TEMP B-TREE" not in details, (name, details)
