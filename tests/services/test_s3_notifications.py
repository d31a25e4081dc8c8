"""S3 event notifications delivered to a real SQS queue, with real boto3 clients."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.lambda_helpers import forwarding_function
from tests.services.s3_helpers import NO_RETRIES, bname, error, md5_hex, post_form


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture
def queue(sqs):
    url = sqs.create_queue(QueueName=bname("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _drain(sqs, url: str, want: int, timeout: float = 5.0) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def _configure(s3, bucket: str, arn: str, events: list[str], rules=None) -> None:
    config: dict = {"Id": "to-queue", "QueueArn": arn, "Events": events}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [config]}
    )


def test_configuration_and_test_event(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*"], [{"Name": "prefix", "Value": "in/"}])
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got[0]["QueueArn"] == arn and got[0]["Events"] == ["s3:ObjectCreated:*"]
    assert got[0]["Id"] == "to-queue"
    [test] = _drain(sqs, url, 1)
    assert test["Event"] == "s3:TestEvent" and test["Bucket"] == bucket
    assert test["Service"] == "Amazon S3"

    missing = arn.rsplit(":", 1)[0] + ":" + bname("nope")
    with pytest.raises(ClientError) as exc:
        _configure(s3, bucket, missing, ["s3:ObjectCreated:*"])
    assert error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        _configure(s3, bucket, arn, ["s3:NotAnEvent"])
    assert error(exc) == ("InvalidArgument", 400)


def test_object_events_reach_the_queue(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(
        s3,
        bucket,
        arn,
        ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
        [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}],
    )
    _drain(sqs, url, 1)  # the test event
    put = s3.put_object(Bucket=bucket, Key="in/my file.csv", Body=b"a,b\n")
    s3.put_object(Bucket=bucket, Key="out/skip.csv", Body=b"x")  # filtered out
    s3.put_object(Bucket=bucket, Key="in/skip.txt", Body=b"x")  # filtered out
    s3.copy_object(
        Bucket=bucket, Key="in/copy.csv", CopySource={"Bucket": bucket, "Key": "in/my file.csv"}
    )
    s3.delete_object(Bucket=bucket, Key="in/copy.csv")
    events = _drain(sqs, url, 3)
    records = [e["Records"][0] for e in events]
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put",
        "ObjectCreated:Copy",
        "ObjectRemoved:Delete",
    ]
    first = records[0]
    assert first["eventVersion"] == "2.1" and first["eventSource"] == "aws:s3"
    assert first["awsRegion"] == "us-east-1"
    assert first["eventTime"].endswith("Z")
    assert first["s3"]["bucket"]["name"] == bucket
    assert first["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert first["s3"]["configurationId"] == "to-queue"
    obj = first["s3"]["object"]
    assert obj["key"] == "in/my+file.csv"
    assert obj["size"] == 4 and obj["eTag"] == put["ETag"].strip('"')
    assert records[0]["s3"]["object"]["sequencer"] < records[1]["s3"]["object"]["sequencer"]
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_versioned_and_multipart_events(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    _configure(s3, bucket, arn, ["s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*"])
    _drain(sqs, url, 1)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"z" * 7)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    marker = s3.delete_object(Bucket=bucket, Key="mp")["VersionId"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "mp", "VersionId": marker}]})
    records = [e["Records"][0] for e in _drain(sqs, url, 3)]
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectRemoved:Delete",
    ]
    assert records[0]["s3"]["object"]["versionId"] == done["VersionId"]
    assert records[0]["s3"]["object"]["size"] == 7
    assert records[1]["s3"]["object"]["versionId"] == marker


@pytest.mark.parametrize("events", [["s3:ObjectCreated:Post"], ["s3:ObjectCreated:*"]])
def test_post_upload_emits_object_created_post(s3, sqs, queue, events):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, events)
    _drain(sqs, url, 1)  # the test event
    post = s3.generate_presigned_post(bucket, "forms/${filename}")
    data = b"uploaded from a browser form"
    status, headers, body = post_form(post["url"], post["fields"], data, filename="my file.txt")
    assert status == 204, body
    [event] = _drain(sqs, url, 1)
    [record] = event["Records"]
    assert record["eventName"] == "ObjectCreated:Post"
    assert record["eventSource"] == "aws:s3" and record["s3"]["bucket"]["name"] == bucket
    obj = record["s3"]["object"]
    assert obj["key"] == "forms/my+file.txt"
    assert obj["size"] == len(data)
    assert obj["eTag"] == md5_hex(data) == headers["etag"].strip('"')
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_post_upload_in_a_versioned_bucket_names_its_version(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    _configure(s3, bucket, arn, ["s3:ObjectCreated:Post"])
    _drain(sqs, url, 1)
    post = s3.generate_presigned_post(bucket, "v.txt")
    status, headers, body = post_form(post["url"], post["fields"], b"v1")
    assert status == 204, body
    [event] = _drain(sqs, url, 1)
    assert event["Records"][0]["s3"]["object"]["versionId"] == headers["x-amz-version-id"]


def test_put_only_configuration_does_not_receive_post_uploads(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:Put"])
    _drain(sqs, url, 1)
    post = s3.generate_presigned_post(bucket, "posted")
    assert post_form(post["url"], post["fields"], b"not for this queue")[0] == 204
    assert _drain(sqs, url, 1, timeout=1.5) == []
    s3.put_object(Bucket=bucket, Key="put", Body=b"for this queue")
    [event] = _drain(sqs, url, 1)
    assert event["Records"][0]["eventName"] == "ObjectCreated:Put"


def test_upload_notifies_a_topic_that_fans_out_to_a_queue(s3, sqs, queue, aws_client):
    sns = aws_client("sns")
    url, arn = queue
    topic = sns.create_topic(Name=bname("s3topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["TopicConfigurations"]
    assert got[0]["TopicArn"] == topic and got[0]["Id"] == "to-topic"
    s3.put_object(Bucket=bucket, Key="docs/a.txt", Body=b"hello")
    notes = _drain(sqs, url, 2)
    assert [n["Subject"] for n in notes] == ["Amazon S3 Notification"] * 2
    test, created = (json.loads(n["Message"]) for n in notes)
    assert test["Event"] == "s3:TestEvent" and test["Bucket"] == bucket
    [record] = created["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "docs/a.txt" and record["s3"]["object"]["size"] == 5
    assert record["s3"]["configurationId"] == "to-topic"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "TopicConfigurations": [
                    {"TopicArn": topic + "-gone", "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    assert error(exc) == ("InvalidArgument", 400)


def test_lambda_configuration_is_stored_and_invokes(s3, sqs, queue, aws_client):
    from cloudlet.services.registry import IMPLEMENTED

    bucket = bname("tolambda")
    s3.create_bucket(Bucket=bucket)
    fn = "arn:aws:lambda:us-east-1:000000000000:function:" + bname("fn")
    config = {"Id": "to-fn", "LambdaFunctionArn": fn, "Events": ["s3:ObjectRemoved:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"LambdaFunctionConfigurations": [config]},
        SkipDestinationValidation=True,
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == fn
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k")  # no function: logged as failed, never an error
    if "lambda" not in IMPLEMENTED:
        return
    with pytest.raises(ClientError) as exc:  # the function does not exist
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"LambdaFunctionConfigurations": [config]},
        )
    assert error(exc) == ("InvalidArgument", 400)
    url, _ = queue
    real = forwarding_function(aws_client("lambda"), bname("s3fn"), url)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "to-fn", "LambdaFunctionArn": real, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg")
    [event] = _drain(sqs, url, 1, timeout=30)
    [record] = event["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "photo.jpg"
