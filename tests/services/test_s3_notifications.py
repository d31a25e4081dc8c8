"""S3 event notifications delivered to a real SQS queue, with real boto3 clients."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.services.lambda_helpers import forwarding_function
from tests.services.s3_helpers import NO_RETRIES, bname, error, md5_hex, open_bucket, post_form


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
    # LocalStack's AWS-recorded lambda-does-not-exist: named ", null", and worded as a
    # function S3 may not invoke.
    err = exc.value.response["Error"]
    assert err["ArgumentName1"] == f"{fn}, null"
    assert err["ArgumentValue1"] == f"Not authorized to invoke function [{fn}]"
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


def test_fifo_destinations_are_refused(s3, sqs, aws_client):
    """S3 notifies standard queues and topics only (the S3 user guide's destinations;
    aws/aws-cdk#19665): a FIFO one is refused when configured, not dropped at delivery."""
    bucket = bname("fifo")
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(
        QueueName=bname("events") + ".fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = aws_client("sns").create_topic(
        Name=bname("events") + ".fifo", Attributes={"FifoTopic": "true"}
    )["TopicArn"]
    for kind, key, arn in (
        ("QueueConfigurations", "QueueArn", queue_arn),
        ("TopicConfigurations", "TopicArn", topic_arn),
    ):
        config = {kind: [{key: arn, "Events": ["s3:ObjectCreated:*"]}]}
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=config
            )
        assert error(exc) == ("InvalidArgument", 400)
        assert exc.value.response["Error"]["ArgumentName1"] == arn
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_eventbridge_configuration_is_stored_with_the_others(s3, sqs, queue):
    # The empty element is how EventBridge delivery is switched on (AWS's
    # NotificationConfiguration API doc). It is stored and returned with the queue
    # configuration, which keeps delivering (test_s3_eventbridge.py follows the events
    # to EventBridge).
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    queues = [{"Id": "to-queue", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": queues, "EventBridgeConfiguration": {}},
    )
    [test] = _drain(sqs, url, 1)
    assert test["Event"] == "s3:TestEvent"
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["EventBridgeConfiguration"] == {}
    assert [(c["Id"], c["QueueArn"]) for c in got["QueueConfigurations"]] == [("to-queue", arn)]
    s3.put_object(Bucket=bucket, Key="still.txt", Body=b"x")
    [event] = _drain(sqs, url, 1)
    assert event["Records"][0]["s3"]["object"]["key"] == "still.txt"
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["EventBridgeConfiguration"] == {} and "QueueConfigurations" not in got


# The examples of the S3 user guide's "Configuring event notifications using object
# key name filtering" (notification-how-to-filtering), with the region and account
# they use (so on a bucket in that region: S3 refuses a destination in another one).
# Its Lambda ARNs are the retired CloudFunction form; here in today's.
_ACCOUNT = "arn:aws:{}:us-west-2:444455556666:"


@pytest.fixture
def west(aws_client):
    return aws_client("s3", region_name="us-west-2", config=NO_RETRIES)


def _west_bucket(west) -> str:
    bucket = bname("notify")
    west.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return bucket


def _rule(name: str, value: str) -> dict:
    return {"Name": name, "Value": value}


def _to(kind: str, name: str, events: list[str], *rules: dict) -> tuple[str, dict]:
    service, key, kinds = {
        "queue": ("sqs", "QueueArn", "QueueConfigurations"),
        "topic": ("sns", "TopicArn", "TopicConfigurations"),
        "lambda": ("lambda", "LambdaFunctionArn", "LambdaFunctionConfigurations"),
    }[kind]
    arn = _ACCOUNT.format(service) + ("function:" if kind == "lambda" else "") + name
    config: dict = {key: arn, "Events": events}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": list(rules)}}
    return kinds, config


def _put(s3, bucket: str, *targets: tuple[str, dict]) -> None:
    document: dict = {}
    for kind, config in targets:
        document.setdefault(kind, []).append(config)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=document, SkipDestinationValidation=True
    )


PUT = ["s3:ObjectCreated:Put"]
VALID = {
    "prefix and suffix": [
        _to("queue", "s3notificationqueue", PUT, _rule("prefix", "images/"), _rule("suffix", "jpg"))
    ],
    "different prefixes": [
        _to("queue", "sqs-queue-A", PUT, _rule("prefix", "images/")),
        _to("queue", "sqs-queue-B", PUT, _rule("prefix", "logs/")),
    ],
    "different suffixes": [
        _to("lambda", "cloud-function-A", PUT, _rule("suffix", ".jpg")),
        _to("lambda", "cloud-function-B", PUT, _rule("suffix", ".png")),
    ],
    "same prefix, different suffixes": [
        _to("lambda", "cloud-function-A", PUT, _rule("prefix", "images"), _rule("suffix", ".jpg")),
        _to("lambda", "cloud-function-B", PUT, _rule("prefix", "images"), _rule("suffix", ".png")),
    ],
    "same prefix, different event types": [
        _to("topic", "sns-topic-one", PUT, _rule("prefix", "image/")),
        _to("topic", "sns-topic-two", ["s3:ObjectRemoved:*"], _rule("prefix", "image/")),
    ],
}


@pytest.mark.parametrize("targets", VALID.values(), ids=VALID.keys())
def test_user_guide_valid_filter_examples_are_accepted(west, targets):
    bucket = _west_bucket(west)
    _put(west, bucket, *targets)
    got = west.get_bucket_notification_configuration(Bucket=bucket)
    kinds = {kind for kind, _ in targets}
    assert sum(len(got[kind]) for kind in kinds) == len(targets)


CREATED = ["s3:ObjectCreated:*"]
AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules "
    "if the prefixes are overlapping for the same event type."
)
OVERLAPPING = {
    # The user guide's three invalid examples.
    "root prefix": [
        _to("topic", "sns-notification-one", CREATED),
        _to("topic", "sns-notification-two", CREATED, _rule("prefix", "images")),
    ],
    "suffixes jpg and pg": [
        _to("topic", "sns-topic-one", CREATED, _rule("suffix", "jpg")),
        _to("topic", "sns-topic-two", PUT, _rule("suffix", "pg")),
    ],
    "prefix and suffix": [
        _to("topic", "sns-topic-one", CREATED, _rule("prefix", "images"), _rule("suffix", "jpg")),
        _to("topic", "sns-topic-two", PUT, _rule("suffix", "jpg")),
    ],
    # Across target kinds, with nested prefixes (the probe's case).
    "queue and lambda": [
        _to("queue", "q", CREATED, _rule("prefix", "a/")),
        _to("lambda", "f", ["s3:ObjectCreated:Put"], _rule("prefix", "a/b")),
    ],
}


@pytest.mark.parametrize("targets", OVERLAPPING.values(), ids=OVERLAPPING.keys())
def test_user_guide_overlapping_filters_are_refused(west, targets):
    # Message: AWS's, as PutBucketNotificationConfiguration answered users
    # (aws-solutions/aws-waf-security-automations#49) and AWS's knowledge-center
    # article "lambda-s3-event-configuration-error" quotes it.
    bucket = _west_bucket(west)
    kept = _to("queue", "kept", ["s3:ObjectRestore:*"])
    _put(west, bucket, kept)
    with pytest.raises(ClientError) as exc:
        _put(west, bucket, *targets)
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["Message"] == AMBIGUOUS
    got = west.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["QueueArn"] for c in got["QueueConfigurations"]] == [kept[1]["QueueArn"]]
    assert "TopicConfigurations" not in got and "LambdaFunctionConfigurations" not in got


def test_unfiltered_configurations_sharing_an_event_overlap(west):
    # AWS's answer to two unfiltered configurations for one event, recorded in
    # minio/minio#2472: "Configurations overlap", ArgumentName Event and the two events.
    bucket = _west_bucket(west)
    with pytest.raises(ClientError) as exc:
        _put(
            west,
            bucket,
            _to("queue", "one", ["s3:ObjectRemoved:*"]),
            _to("topic", "two", ["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"]),
        )
    assert error(exc) == ("InvalidArgument", 400)
    err = exc.value.response["Error"]
    assert err["Message"] == (
        "Configurations overlap. Configurations on the same bucket cannot share a common "
        "event type."
    )
    assert (err["ArgumentName"], err["ArgumentValue"]) == (
        "Event",
        "s3:ObjectRemoved:*, s3:ObjectRemoved:Delete",
    )
    # Unfiltered but for different events: no overlap.
    _put(
        west,
        bucket,
        _to("queue", "one", ["s3:ObjectRemoved:*"]),
        _to("topic", "two", ["s3:ObjectCreated:*", "s3:ObjectRestore:Post"]),
    )


def _refused(s3, bucket: str, *targets: tuple[str, dict], skip: bool = True) -> dict:
    """The error of a refused PUT (``skip``: SkipDestinationValidation)."""
    document: dict = {}
    for kind, config in targets:
        document.setdefault(kind, []).append(config)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=document, SkipDestinationValidation=skip
        )
    assert error(exc) == ("InvalidArgument", 400)
    return exc.value.response["Error"]


def test_filter_rule_names_any_case_are_stored_capitalised_and_match(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    rules = [{"Name": "PREFIX", "Value": "in/"}, {"Name": "sUfFiX", "Value": ".csv"}]
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*"], rules)
    [config] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert config["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "in/"},
        {"Name": "Suffix", "Value": ".csv"},
    ]
    _drain(sqs, url, 1)  # the test event
    s3.put_object(Bucket=bucket, Key="out/skip.csv", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/skip.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/take.csv", Body=b"x")
    [event] = _drain(sqs, url, 1)
    assert event["Records"][0]["s3"]["object"]["key"] == "in/take.csv"
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_bad_filter_rules_are_refused_and_keep_the_earlier_configuration(west):
    bucket = _west_bucket(west)
    kept = _to("queue", "kept", CREATED, _rule("prefix", "a/"))
    _put(west, bucket, kept)
    before = west.get_bucket_notification_configuration(Bucket=bucket)
    err = _refused(west, bucket, _to("topic", "t", PUT, _rule("Middle", "x")))
    assert err["Message"] == "filter rule name must be either prefix or suffix"
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("FilterRule.Name", "Middle")
    for name in ("prefix", "suffix"):
        twice = _to("topic", "t", PUT, _rule(name, "a"), _rule(name.upper(), "b"))
        err = _refused(west, bucket, twice)
        assert err["Message"] == f"Cannot specify more than one {name} rule in a filter."
    got = west.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"] == before["QueueConfigurations"]
    assert "TopicConfigurations" not in got


@pytest.mark.parametrize(
    ("kind", "arn", "argument"),
    [
        ("QueueConfigurations", "not-an-arn", "Queue"),
        ("TopicConfigurations", "arn:aws:sqs:us-east-1:000000000000:q", "Topic"),
        ("LambdaFunctionConfigurations", "arn:aws:lambda:nowhere", "CloudFunction"),
    ],
)
def test_unparseable_arn_names_the_target_kind(west, kind, arn, argument):
    bucket = _west_bucket(west)
    kept = _to("queue", "kept", CREATED)
    _put(west, bucket, kept)
    key = {"QueueConfigurations": "QueueArn", "TopicConfigurations": "TopicArn"}.get(
        kind, "LambdaFunctionArn"
    )
    for skip in (True, False):
        err = _refused(west, bucket, (kind, {key: arn, "Events": PUT}), skip=skip)
        assert err["Message"] == "The ARN could not be parsed"
        assert (err["ArgumentName"], err["ArgumentValue"]) == (argument, arn)
    got = west.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["QueueArn"] for c in got["QueueConfigurations"]] == [kept[1]["QueueArn"]]


def test_missing_destination_queue_is_numbered_in_the_error(s3, sqs, queue):
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*"])
    before = s3.get_bucket_notification_configuration(Bucket=bucket)
    missing = arn.rsplit(":", 1)[0] + ":" + bname("nope")
    err = _refused(
        s3, bucket, ("QueueConfigurations", {"QueueArn": missing, "Events": PUT}), skip=False
    )
    assert err["Message"] == "Unable to validate the following destination configurations"
    assert err["ArgumentName1"] == missing
    assert err["ArgumentValue1"] == "The destination queue does not exist"
    assert "ArgumentName" not in err and "ArgumentValue" not in err
    after = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert after["QueueConfigurations"] == before["QueueConfigurations"]


def _tagging_record(sqs, url: str) -> dict:
    [event] = _drain(sqs, url, 1)
    [record] = event["Records"]
    return record


def test_object_tagging_put_event_is_a_version_2_3_record(s3, sqs, queue):
    """LocalStack's AWS-recorded ``test_object_tagging_put_event``: the object's key
    and ETag only (no size, no sequencer), event version 2.3; a plain PUT sends nothing."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectTagging:Put"])
    _drain(sqs, url, 1)  # the test event
    put = s3.put_object(Bucket=bucket, Key="key-dest", Body=b"FooBarBlitz")
    assert _drain(sqs, url, 1, timeout=1.5) == []
    tags = {"TagSet": [{"Key": "swallow_type", "Value": "african"}]}
    s3.put_object_tagging(Bucket=bucket, Key="key-dest", Tagging=tags)
    record = _tagging_record(sqs, url)
    assert record["eventName"] == "ObjectTagging:Put" and record["eventVersion"] == "2.3"
    assert record["eventSource"] == "aws:s3"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["configurationId"] == "to-queue"
    assert record["s3"]["object"] == {"key": "key-dest", "eTag": put["ETag"].strip('"')}
    s3.delete_object_tagging(Bucket=bucket, Key="key-dest")  # not configured
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_object_tagging_delete_event_is_a_version_2_3_record(s3, sqs, queue):
    """LocalStack's AWS-recorded ``test_object_tagging_delete_event``: only the delete
    of a ``s3:ObjectTagging:Delete`` configuration's events reaches the queue."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectTagging:Delete"])
    _drain(sqs, url, 1)
    put = s3.put_object(Bucket=bucket, Key="key-dest", Body=b"FooBarBlitz")
    tags = {"TagSet": [{"Key": "swallow_type", "Value": "african"}]}
    s3.put_object_tagging(Bucket=bucket, Key="key-dest", Tagging=tags)
    s3.delete_object_tagging(Bucket=bucket, Key="key-dest")
    record = _tagging_record(sqs, url)
    assert record["eventName"] == "ObjectTagging:Delete" and record["eventVersion"] == "2.3"
    assert record["s3"]["object"] == {"key": "key-dest", "eTag": put["ETag"].strip('"')}
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_object_tagging_wildcard_names_the_version_in_a_versioned_bucket(s3, sqs, queue):
    """``s3:ObjectTagging:*`` (accepted in ``test_notifications_with_filter``) takes
    both events; a versioned bucket's records name the version tagged."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    _configure(s3, bucket, arn, ["s3:ObjectTagging:*"])
    _drain(sqs, url, 1)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    tags = {"TagSet": [{"Key": "a", "Value": "b"}]}
    s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=first, Tagging=tags)
    s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=first)
    records = [e["Records"][0] for e in _drain(sqs, url, 2)]
    assert [r["eventName"] for r in records] == ["ObjectTagging:Put", "ObjectTagging:Delete"]
    assert [r["s3"]["object"]["versionId"] for r in records] == [first, first]
    assert records[0]["s3"]["object"]["eTag"] == md5_hex(b"one")


def test_object_acl_put_event_only_when_the_acl_changes(s3, sqs, queue):
    """LocalStack's AWS-recorded ``test_object_put_acl``: ``private`` on an object that
    is already private sends nothing; a canned ACL, a grant header and a policy
    document that each change it send one 2.3 record apiece."""
    url, arn = queue
    bucket = open_bucket(s3, "notify")
    _configure(s3, bucket, arn, ["s3:ObjectAcl:Put"])
    _drain(sqs, url, 1)
    put = s3.put_object(Bucket=bucket, Key="my_key_acl", Body=b"something")
    owner = s3.list_buckets()["Owner"]
    s3.put_object_acl(Bucket=bucket, Key="my_key_acl", ACL="private")
    assert _drain(sqs, url, 1, timeout=1.5) == []
    s3.put_object_acl(Bucket=bucket, Key="my_key_acl", ACL="public-read")
    log_delivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
    s3.put_object_acl(Bucket=bucket, Key="my_key_acl", GrantRead=f'uri="{log_delivery}"')
    acp = {
        "Owner": owner,
        "Grants": [
            {"Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"URI": log_delivery, "Type": "Group"}, "Permission": "WRITE"},
        ],
    }
    s3.put_object_acl(Bucket=bucket, Key="my_key_acl", AccessControlPolicy=acp)
    records = [e["Records"][0] for e in _drain(sqs, url, 3)]
    assert [r["eventName"] for r in records] == ["ObjectAcl:Put"] * 3
    assert {r["eventVersion"] for r in records} == {"2.3"}
    for record in records:
        assert record["s3"]["object"] == {"key": "my_key_acl", "eTag": put["ETag"].strip('"')}
    assert _drain(sqs, url, 1, timeout=1.5) == []


def test_arns_are_parsed_before_destinations_are_validated(s3, sqs, queue):
    """LocalStack's AWS-recorded ``test_multiple_invalid_sqs_arns``: two bad ARNs name
    the first (``two-queue-arns-invalid``); a missing queue before a bad ARN still
    gets the ARN's error (``one-queue-invalid-one-not-existent``)."""
    _, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    missing = arn.rsplit(":", 1)[0] + ":" + bname("my-queue")
    created = ["s3:ObjectCreated:*"]
    removed = ["s3:ObjectRemoved:*"]
    err = _refused(
        s3,
        bucket,
        ("QueueConfigurations", {"Id": "id1", "Events": created, "QueueArn": "invalid_arn"}),
        ("QueueConfigurations", {"Id": "id2", "Events": removed, "QueueArn": "invalid_arn_2"}),
        skip=False,
    )
    assert err["Message"] == "The ARN could not be parsed"
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("Queue", "invalid_arn")
    err = _refused(
        s3,
        bucket,
        ("QueueConfigurations", {"Id": "id1", "Events": created, "QueueArn": missing}),
        ("QueueConfigurations", {"Id": "id2", "Events": removed, "QueueArn": "invalid_arn_2"}),
        skip=False,
    )
    assert err["Message"] == "The ARN could not be parsed"
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("Queue", "invalid_arn_2")
    assert "ArgumentName1" not in err


def test_every_missing_destination_is_named_in_one_error(s3, sqs, queue):
    """LocalStack's AWS-recorded ``multiple-queues-do-not-exist``: ArgumentName1/
    ArgumentValue1, ArgumentName2/ArgumentValue2, in the document's order; an existing
    queue between them is not named."""
    _, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    one = arn.rsplit(":", 1)[0] + ":" + bname("my-queue")
    two = arn.rsplit(":", 1)[0] + ":" + bname("my-queue-2")
    err = _refused(
        s3,
        bucket,
        ("QueueConfigurations", {"Id": "id1", "Events": ["s3:ObjectCreated:*"], "QueueArn": one}),
        ("QueueConfigurations", {"Id": "id0", "Events": ["s3:ObjectRestore:*"], "QueueArn": arn}),
        ("QueueConfigurations", {"Id": "id2", "Events": ["s3:ObjectRemoved:*"], "QueueArn": two}),
        skip=False,
    )
    assert err["Message"] == "Unable to validate the following destination configurations"
    assert (err["ArgumentName1"], err["ArgumentName2"]) == (one, two)
    assert err["ArgumentValue1"] == err["ArgumentValue2"] == "The destination queue does not exist"
    assert "ArgumentName3" not in err and "ArgumentName" not in err
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


REPLICATION_EVENTS = [
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
]


def test_replication_event_types_are_accepted(s3, sqs, queue):
    """botocore's ``Event`` enum and the user guide's replication-metrics-events list
    these four; S3 sends them only for rules with replication metrics or Replication
    Time Control (tests/services/test_s3_replication_metrics.py), so a bucket without
    replication gets nothing."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, REPLICATION_EVENTS)
    [config] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert config["Events"] == REPLICATION_EVENTS
    [test] = _drain(sqs, url, 1)
    assert test["Event"] == "s3:TestEvent"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _drain(sqs, url, 1, timeout=1.5) == []


TRACE = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"


def test_trace_header_reaches_the_queue_as_aws_trace_header(aws_client, sqs, queue):
    """LocalStack's AWS-recorded ``test_xray_header``: the message of a PutObject sent
    with ``X-Amzn-Trace-Id`` has it as its ``AWSTraceHeader``, unchanged."""
    s3 = aws_client("s3", config=NO_RETRIES)
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*"])
    _drain(sqs, url, 1)  # the test event
    s3.put_object(Bucket=bucket, Key="untraced", Body=b"x")

    def add_trace(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = TRACE

    s3.meta.events.register("before-send.s3.*", add_trace)
    s3.put_object(Bucket=bucket, Key="test-data", Body=b"something")
    got: list[dict] = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        out = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["AWSTraceHeader"],
        )
        got += out.get("Messages", [])
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in got]
    assert keys == ["untraced", "test-data"]
    assert "AWSTraceHeader" not in got[0].get("Attributes", {})
    assert got[1]["Attributes"] == {"AWSTraceHeader": TRACE}


@pytest.mark.parametrize(
    ("kind", "arn"),
    [
        ("QueueConfigurations", "arn:aws:sqs:us-west-2:000000000000:elsewhere"),
        ("TopicConfigurations", "arn:aws:sns:eu-west-1:000000000000:elsewhere"),
        (
            "LambdaFunctionConfigurations",
            "arn:aws:lambda:us-east-2:000000000000:function:elsewhere",
        ),
    ],
)
def test_destination_in_another_region_is_refused(s3, sqs, queue, kind, arn):
    """S3's answer to a destination outside the bucket's region, as users got it
    (cloud-custodian/cloud-custodian#1720); whether or not destinations are validated."""
    _, kept = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, kept, ["s3:ObjectCreated:*"])
    key = {"QueueConfigurations": "QueueArn", "TopicConfigurations": "TopicArn"}.get(
        kind, "LambdaFunctionArn"
    )
    for skip in (True, False):
        err = _refused(s3, bucket, (kind, {key: arn, "Events": PUT}), skip=skip)
        assert err["Message"] == (
            "The notification destination service region is not valid for the bucket "
            "location constraint"
        )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["QueueArn"] for c in got["QueueConfigurations"]] == [kept]


def test_one_id_on_two_configurations_is_refused(s3, sqs, queue):
    """InvalidArgument "Same ID used for multiple configurations. IDs must be unique.",
    the error users' PutBucketNotificationConfiguration calls got; across target kinds too."""
    _, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*"])
    topic = "arn:aws:sns:us-east-1:000000000000:t"
    for second in (
        ("QueueConfigurations", {"Id": "same", "QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]}),
        ("TopicConfigurations", {"Id": "same", "TopicArn": topic, "Events": PUT}),
    ):
        err = _refused(
            s3,
            bucket,
            (
                "QueueConfigurations",
                {"Id": "same", "QueueArn": arn, "Events": ["s3:ObjectRestore:*"]},
            ),
            second,
        )
        assert err["Message"] == "Same ID used for multiple configurations. IDs must be unique."
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in got["QueueConfigurations"]] == ["to-queue"]
    assert "TopicConfigurations" not in got


def test_record_names_the_request_that_caused_it(s3, sqs, queue):
    """``responseElements`` are the ``x-amz-request-id``/``x-amz-id-2`` of the response
    to the request that caused the event (the user guide's event message structure)."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    _drain(sqs, url, 1)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ResponseMetadata"]["HTTPHeaders"]
    gone = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}, {"Key": "j"}]})
    gone = gone["ResponseMetadata"]["HTTPHeaders"]
    records = [e["Records"][0] for e in _drain(sqs, url, 3)]
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put"] + ["ObjectRemoved:Delete"] * 2
    for record, headers in zip(records, (put, gone, gone), strict=True):
        assert record["responseElements"] == {
            "x-amz-request-id": headers["x-amz-request-id"],
            "x-amz-id-2": headers["x-amz-id-2"],
        }
    assert put["x-amz-request-id"] != gone["x-amz-request-id"]


def test_completed_restore_is_done_for_the_bucket_owner(s3, sqs, queue):
    """LocalStack's AWS-recorded ``test_restore_object``: ``ObjectRestore:Completed``'s
    ``userIdentity.principalId`` is ``AmazonCustomer:`` and the id the bucket's
    ``ownerIdentity`` names; ``ObjectRestore:Post``'s is the caller's."""
    url, arn = queue
    bucket = bname("notify")
    s3.create_bucket(Bucket=bucket)
    _configure(s3, bucket, arn, ["s3:ObjectRestore:*"])
    _drain(sqs, url, 1)
    s3.put_object(Bucket=bucket, Key="my_key_restore", Body=b"something", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="my_key_restore", RestoreRequest={"Days": 1})
    post, done = (e["Records"][0] for e in _drain(sqs, url, 2))
    assert (post["eventName"], done["eventName"]) == (
        "ObjectRestore:Post",
        "ObjectRestore:Completed",
    )
    owner = done["s3"]["bucket"]["ownerIdentity"]["principalId"]
    assert done["userIdentity"] == {"principalId": f"AmazonCustomer:{owner}"}
    assert not post["userIdentity"]["principalId"].startswith("AmazonCustomer:")
