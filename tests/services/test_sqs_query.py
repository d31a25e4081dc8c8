"""SQS over the query protocol: the legacy wire names AWS documents, queue URLs
as request targets, and botocore's own query serializer/parser as a client."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore.session
import pytest
from botocore.exceptions import ClientError

from cloudlet.protocols.compat import query_compat_document
from cloudlet.services.sqs.query_names import QUERY_NAMES
from tests.services.sqs_helpers import qname

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


def post(endpoint: str, path: str, **form: str) -> tuple[int, ET.Element]:
    body = urllib.parse.urlencode({"Version": "2012-11-05", **form}).encode()
    req = urllib.request.Request(
        endpoint + path,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def strip(tag: str) -> str:
    return tag.split("}", 1)[-1]


def test_legacy_wire_names_and_queue_url_as_target(cloudlet_server):
    ep = cloudlet_server.endpoint
    name = qname("query")
    status, doc = post(
        ep,
        "/",
        Action="CreateQueue",
        QueueName=name,
        **{"Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "45"},
    )
    assert status == 200, ET.tostring(doc)
    assert strip(doc.tag) == "CreateQueueResponse"
    url = doc.find(f"{NS}CreateQueueResult/{NS}QueueUrl").text
    path = urllib.parse.urlsplit(url).path
    # The queue URL is the target; no QueueUrl parameter, as boto 2 sends it.
    status, doc = post(
        ep,
        path,
        Action="SendMessage",
        MessageBody="via query",
        **{
            "MessageAttribute.1.Name": "k",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "v",
        },
    )
    assert status == 200, ET.tostring(doc)
    assert doc.find(f"{NS}SendMessageResult/{NS}MD5OfMessageBody").text
    status, doc = post(
        ep,
        path,
        Action="ReceiveMessage",
        **{"AttributeName.1": "All", "MessageAttributeName.1": "All"},
    )
    assert status == 200
    msg = doc.find(f"{NS}ReceiveMessageResult/{NS}Message")
    assert msg.find(f"{NS}Body").text == "via query"
    attrs = {
        a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in msg.findall(f"{NS}Attribute")
    }
    assert "SentTimestamp" in attrs and attrs["ApproximateReceiveCount"] == "1"
    mattr = msg.find(f"{NS}MessageAttribute")
    assert mattr.find(f"{NS}Name").text == "k"
    assert mattr.find(f"{NS}Value/{NS}StringValue").text == "v"
    assert doc.find(f"{NS}ResponseMetadata/{NS}RequestId").text
    status, doc = post(
        ep,
        "/",
        Action="GetQueueAttributes",
        QueueUrl=url,
        **{"AttributeName.1": "VisibilityTimeout"},
    )
    got = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in doc.iter(f"{NS}Attribute")}
    assert got == {"VisibilityTimeout": "45"}
    status, doc = post(ep, "/", Action="ListQueues", QueueNamePrefix=name)
    assert [e.text for e in doc.iter(f"{NS}QueueUrl")] == [url]


def test_query_errors_use_legacy_codes(cloudlet_server):
    status, doc = post(
        cloudlet_server.endpoint, "/", Action="GetQueueUrl", QueueName="no-such-queue-here"
    )
    assert status == 400
    assert strip(doc.tag) == "ErrorResponse"
    err = doc.find(f"{NS}Error") if doc.find(f"{NS}Error") is not None else doc.find("Error")
    fields = {strip(e.tag): e.text for e in err}
    assert fields["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert fields["Type"] == "Sender"


@pytest.fixture(scope="module")
def query_sqs(cloudlet_server, tmp_path_factory):
    """botocore's real query client for SQS (its JSON model rebuilt for query)."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    raw = loader.load_service_model("sqs", "service-2")
    root = tmp_path_factory.mktemp("models")
    target = root / "sqs" / raw["metadata"]["apiVersion"]
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(query_compat_document(raw, QUERY_NAMES)))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(root))
    client = session.create_client(
        "sqs",
        endpoint_url=cloudlet_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert client.meta.service_model.protocol == "query"
    return client


def test_botocore_query_client_roundtrip(query_sqs):
    sqs = query_sqs
    url = sqs.create_queue(
        QueueName=qname("qc"), Attributes={"DelaySeconds": "0"}, tags={"a": "b"}
    )["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="q1",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "3"}},
    )
    resp = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "q2"}, {"Id": "2", "MessageBody": "q3"}]
    )
    assert sorted(e["Id"] for e in resp["Successful"]) == ["1", "2"]
    msgs = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["q1", "q2", "q3"]
    resp = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
    )
    assert len(resp["Successful"]) == 3
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "b"}
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["DelaySeconds"] == "0"
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_url(QueueName="missing-" + qname())
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
