"""Lifecycle rules that really delete, with real boto3 against a server whose
lifecycle loop runs every 0.2 s and two days ahead (``CLOUDLET_S3_LIFECYCLE_*``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error

TWO_DAYS = str(2 * 86400)


@pytest.fixture(scope="module")
def server():
    env = {"CLOUDLET_S3_LIFECYCLE_INTERVAL": "0.2", "CLOUDLET_S3_LIFECYCLE_SHIFT": TWO_DAYS}
    with CloudletServer.start(env=env) as srv:
        yield srv


@pytest.fixture
def s3(server):
    return server.client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("lc")
    s3.create_bucket(Bucket=name)
    return name


def _eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            return result
        time.sleep(0.1)


def _keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _rule(rule_id: str, **fields) -> dict:
    return {"ID": rule_id, "Status": "Enabled", **fields}


def test_configuration_round_trip_and_errors(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        _rule("logs", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule(
            "mpu",
            Filter={"Prefix": ""},
            AbortIncompleteMultipartUpload={"DaysAfterInitiation": 7},
        ),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "mpu"]
    assert got[0]["Expiration"] == {"Days": 30}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [_rule("x", Filter={}, Expiration={"Days": 0})]},
        )
    assert error(exc) == ("InvalidArgument", 400)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc)[0] == "NoSuchLifecycleConfiguration"


def test_rule_schema_and_assigned_ids(s3, bucket):
    """A rule has exactly one of Filter and Prefix, and a Filter at most one condition
    (AWS's LifecycleRule reference; real MalformedXML answers in
    hashicorp/terraform-provider-aws#41399 and aws/aws-sdk-net#784). S3 names a rule
    sent without an ID (aws-controllers-k8s/community#1540)."""
    days = {"Expiration": {"Days": 30}}
    for rule in (
        {"Status": "Enabled", **days},
        {
            "Status": "Enabled",
            "Filter": {"Prefix": "a/", "Tag": {"Key": "k", "Value": "v"}},
            **days,
        },
        {"Status": "Enabled", "Filter": {"Prefix": "a/", "ObjectSizeGreaterThan": 5}, **days},
    ):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}
            )
        assert error(exc) == ("MalformedXML", 400), rule
    rules = [
        {"Status": "Enabled", "Filter": {}, **days},
        {"Status": "Enabled", "Prefix": "old-style/", **days},
        _rule("named", Filter={"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 5}}, **days),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got[2]["ID"] == "named"
    assert got[0]["ID"] and got[1]["ID"] and got[0]["ID"] != got[1]["ID"]
    assert got[1]["Prefix"] == "old-style/"


def test_expiration_header_names_the_rule_that_expires_first(s3, bucket):
    """S3 tells when the current version expires in ``x-amz-expiration`` on PUT, GET, HEAD,
    CopyObject and CompleteMultipartUpload: the day after creation plus ``Days``, rounded
    up to midnight UTC, or the rule's ``Date`` (AWS's PutObject/GetObject/HeadObject
    references; real ``aws s3api`` outputs show ``expiry-date="...", rule-id="..."``)."""
    rules = [
        _rule("far", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule("sooner", Filter={"Prefix": "logs/"}, Expiration={"Days": 10}),
        {**_rule("off", Filter={"Prefix": "logs/"}, Expiration={"Days": 3}), "Status": "Disabled"},
        _rule("tagged", Filter={"Tag": {"Key": "k", "Value": "v"}}, Expiration={"Days": 5}),
        _rule("dated", Filter={"Prefix": "dated/"}, Expiration={"Date": datetime(2099, 1, 1)}),
        _rule(
            "markers", Filter={"Prefix": "plain"}, Expiration={"ExpiredObjectDeleteMarker": True}
        ),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def expected(last_modified: datetime, days: int, rule: str) -> str:
        due = last_modified.astimezone(UTC) + timedelta(days=days)
        midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
        if midnight != due:
            midnight += timedelta(days=1)
        return f'expiry-date="{format_datetime(midnight, usegmt=True)}", rule-id="{rule}"'

    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    want = expected(head["LastModified"], 10, "sooner")
    assert put["Expiration"] == head["Expiration"] == want
    assert s3.get_object(Bucket=bucket, Key="logs/a")["Expiration"] == want
    copied = s3.copy_object(Bucket=bucket, Key="logs/b", CopySource=f"{bucket}/logs/a")
    lm = copied["CopyObjectResult"]["LastModified"]
    assert copied["Expiration"] == expected(lm, 10, "sooner")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="logs/c")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="logs/c", UploadId=upload, PartNumber=1, Body=b"y")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="logs/c",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    lm = s3.head_object(Bucket=bucket, Key="logs/c")["LastModified"]
    assert done["Expiration"] == expected(lm, 10, "sooner")
    tagged = s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="k=v")
    lm = s3.head_object(Bucket=bucket, Key="t")["LastModified"]
    assert tagged["Expiration"] == expected(lm, 5, "tagged")
    dated = s3.put_object(Bucket=bucket, Key="dated/x", Body=b"x")
    assert dated["Expiration"] == 'expiry-date="Thu, 01 Jan 2099 00:00:00 GMT", rule-id="dated"'
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "Expiration" not in plain
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="plain")


def test_expiration_by_date_prefix_and_size(s3, bucket):
    for key, body in (("tmp/a", b"x"), ("tmp/big", b"x" * 100), ("keep/b", b"y")):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    past = datetime(2020, 1, 1, tzinfo=UTC)
    rule = _rule(
        "old",
        Filter={"And": {"Prefix": "tmp/", "ObjectSizeLessThan": 50}},
        Expiration={"Date": past},
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})

    def gone():
        assert _keys(s3, bucket) == ["keep/b", "tmp/big"]

    _eventually(gone)


def test_expiration_by_days_and_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="class=scratch")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x", Tagging="class=keep")
    s3.put_object(Bucket=bucket, Key="c", Body=b"x")
    rule = _rule(
        "scratch", Filter={"Tag": {"Key": "class", "Value": "scratch"}}, Expiration={"Days": 1}
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    _eventually(lambda: _check(_keys(s3, bucket) == ["b", "c"]))
    # Disabled rules do nothing.
    off = {**_rule("all", Filter={}, Expiration={"Days": 1}), "Status": "Disabled"}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [off]})
    time.sleep(0.6)
    assert _keys(s3, bucket) == ["b", "c"]


def _check(ok: bool) -> None:
    assert ok


def test_versioned_expiration_and_noncurrent(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    rules = [
        _rule("cur", Filter={"Prefix": "k"}, Expiration={"Days": 1}),
        _rule("old", Filter={"Prefix": "k"}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def expired():
        listing = s3.list_object_versions(Bucket=bucket)
        # The current object got a delete marker; both old versions went for good.
        assert [m["IsLatest"] for m in listing.get("DeleteMarkers", [])] == [True]
        assert listing.get("Versions", []) == []

    _eventually(expired)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)

    # ExpiredObjectDeleteMarker removes the lone marker.
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [_rule("markers", Filter={}, Expiration={"ExpiredObjectDeleteMarker": True})]
        },
    )
    _eventually(lambda: _check("DeleteMarkers" not in s3.list_object_versions(Bucket=bucket)))


def test_abort_incomplete_multipart(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)
    kept = s3.create_multipart_upload(Bucket=bucket, Key="other/x")["UploadId"]
    rule = _rule(
        "mpu", Filter={"Prefix": "big"}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})

    def aborted():
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [u["UploadId"] for u in uploads] == [kept]

    _eventually(aborted)


BIG = 130 * 1024  # over the 128 KiB below which objects do not transition by default


def _class(s3, bucket: str, key: str, **kw) -> str:
    return s3.head_object(Bucket=bucket, Key=key, **kw).get("StorageClass", "STANDARD")


def test_transitions_move_objects_down_the_waterfall(server, s3, bucket):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=bname("moves"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["QueueArn"], "Events": ["s3:LifecycleTransition"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="arch/big", Body=b"b" * BIG)
    s3.put_object(Bucket=bucket, Key="arch/small", Body=b"s")
    s3.put_object(Bucket=bucket, Key="arch/deep", Body=b"d" * BIG, StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="ir/small", Body=b"i")
    rules = [
        # Both dates are past: the object goes to the lowest class due.
        _rule(
            "archive",
            Filter={"Prefix": "arch/"},
            Transitions=[
                {"Date": datetime(2020, 1, 1, tzinfo=UTC), "StorageClass": "STANDARD_IA"},
                {"Date": datetime(2021, 1, 1, tzinfo=UTC), "StorageClass": "GLACIER"},
            ],
        ),
        # A size in the filter lets small objects move too.
        _rule(
            "instant",
            Filter={"And": {"Prefix": "ir/", "ObjectSizeGreaterThan": 0}},
            Transitions=[{"Days": 1, "StorageClass": "GLACIER_IR"}],
        ),
    ]
    out = s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    _eventually(lambda: _check(_class(s3, bucket, "arch/big") == "GLACIER"))
    _eventually(lambda: _check(_class(s3, bucket, "ir/small") == "GLACIER_IR"))
    assert _class(s3, bucket, "arch/small") == "STANDARD"  # under 128 KiB
    assert _class(s3, bucket, "arch/deep") == "DEEP_ARCHIVE"  # never back up
    listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["arch/big"] == "GLACIER" and listed["ir/small"] == "GLACIER_IR"
    # Archived now: the bytes need a restore; Instant Retrieval reads at once.
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="arch/big")
    assert error(exc) == ("InvalidObjectState", 403)
    assert s3.get_object(Bucket=bucket, Key="ir/small")["Body"].read() == b"i"
    # (Restored copies expire on the lifecycle clock, two days ahead here.)
    s3.restore_object(Bucket=bucket, Key="arch/big", RestoreRequest={"Days": 5})
    assert s3.get_object(Bucket=bucket, Key="arch/big")["Body"].read() == b"b" * BIG
    # Each move was announced once (after the configuration's test event).
    events: list[tuple[str, str]] = []

    def announced():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for record in json.loads(m["Body"]).get("Records", []):
                events.append((record["eventName"], record["s3"]["object"]["key"]))
        assert sorted(events) == [
            ("LifecycleTransition", "arch/big"),
            ("LifecycleTransition", "ir/small"),
        ]

    _eventually(announced)


def test_small_objects_and_noncurrent_versions(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=b"%d" % i)["VersionId"] for i in range(3)]
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"t")
    rules = [
        _rule(
            "old",
            Filter={"Prefix": "k"},
            NoncurrentVersionTransitions=[
                {"NoncurrentDays": 1, "StorageClass": "GLACIER", "NewerNoncurrentVersions": 1}
            ],
        ),
        _rule(
            "tiny",
            Filter={"Prefix": "tiny"},
            Transitions=[
                {"Days": 0, "StorageClass": "INTELLIGENT_TIERING"},
                {"Days": 1, "StorageClass": "DEEP_ARCHIVE"},
            ],
        ),
    ]
    out = s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": rules},
        TransitionDefaultMinimumObjectSize="varies_by_storage_class",
    )
    assert out["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    # Small objects may go to the Glacier classes only, under this setting.
    _eventually(lambda: _check(_class(s3, bucket, "tiny") == "DEEP_ARCHIVE"))

    def versions() -> dict[str, str]:
        listing = s3.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
        return {v["VersionId"]: v["StorageClass"] for v in listing}

    # The oldest noncurrent version moves; the newest noncurrent one and the
    # current one stay (these are small too: the filter names no size).
    _eventually(lambda: _check(versions()[ids[0]] == "GLACIER"))
    assert versions() == {ids[0]: "GLACIER", ids[1]: "STANDARD", ids[2]: "STANDARD"}
    assert _class(s3, bucket, "k", VersionId=ids[0]) == "GLACIER"


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        (
            {"Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
            "InvalidArgument",
            "'Days' in Transition action must be greater than or equal to 30 for "
            "storageClass 'STANDARD_IA'",
        ),
        (
            {"NoncurrentVersionTransitions": [{"NoncurrentDays": 5, "StorageClass": "ONEZONE_IA"}]},
            "InvalidArgument",
            "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or "
            "equal to 30 for storageClass 'ONEZONE_IA'",
        ),
        (
            {
                "Transitions": [
                    {"Days": 1, "StorageClass": "GLACIER"},
                    {"Days": 5, "StorageClass": "GLACIER"},
                ]
            },
            "InvalidRequest",
            "'StorageClass' must be different for 'Transition' actions in same 'Rule' with "
            "filter '(prefix=logs/)'",
        ),
        (
            {
                "Transitions": [{"Days": 40, "StorageClass": "GLACIER"}],
                "Expiration": {"Days": 40},
            },
            "InvalidArgument",
            "'Days' in the Expiration action for filter '(prefix=logs/)' must be greater than "
            "'Days' in the Transition action",
        ),
        (
            {
                "Transitions": [{"Date": datetime(2030, 1, 1), "StorageClass": "GLACIER"}],
                "Expiration": {"Days": 40},
            },
            "InvalidRequest",
            "Found mixed 'Date' and 'Days' based Expiration and Transition actions in "
            "lifecycle rule for filter '(prefix=logs/)'",
        ),
        (
            {
                "Transitions": [
                    {"Days": 10, "StorageClass": "GLACIER"},
                    {"Days": 60, "StorageClass": "STANDARD_IA"},
                ]
            },
            "InvalidArgument",
            "'Days' in the 'Transition' action for StorageClass 'GLACIER' for filter "
            "'(prefix=logs/)' must be greater than 'Days' in the 'Transition' action for "
            "StorageClass 'STANDARD_IA' for filter '(prefix=logs/)'",
        ),
        (
            {
                "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}],
                "NoncurrentVersionExpiration": {"NoncurrentDays": 20},
            },
            "InvalidArgument",
            "'NoncurrentDays' in the NoncurrentVersionExpiration action for filter "
            "'(prefix=logs/)' must be greater than 'NoncurrentDays' in the "
            "NoncurrentVersionTransition action",
        ),
    ],
)
def test_transition_configuration_errors(s3, bucket, rule, code, message):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [_rule("r", Filter={"Prefix": "logs/"}, **rule)]},
        )
    assert error(exc) == (code, 400)
    assert exc.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError):  # nothing was stored
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_rules_with_days_past_the_calendar_never_stop_other_buckets(s3):
    """Days past what a date holds are accepted (AWS takes any positive integer) and
    are simply never due; the sweep goes on to every other bucket's rules."""
    huge = bname("lc-huge")
    s3.create_bucket(Bucket=huge)
    s3.put_bucket_lifecycle_configuration(
        Bucket=huge,
        LifecycleConfiguration={
            "Rules": [
                _rule(
                    "far",
                    Filter={"Prefix": ""},
                    Expiration={"Days": 2_000_000_000},
                    AbortIncompleteMultipartUpload={"DaysAfterInitiation": 2_000_000_000},
                )
            ]
        },
    )
    s3.put_object(Bucket=huge, Key="stays", Body=b"x")
    s3.create_multipart_upload(Bucket=huge, Key="pending")
    other = bname("lc-other")
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="goes", Body=b"x")
    s3.put_bucket_lifecycle_configuration(
        Bucket=other,
        LifecycleConfiguration={
            "Rules": [_rule("soon", Filter={"Prefix": ""}, Expiration={"Days": 1})]
        },
    )

    def expired():
        assert _keys(s3, other) == []

    _eventually(expired)
    assert _keys(s3, huge) == ["stays"]
    assert len(s3.list_multipart_uploads(Bucket=huge).get("Uploads", [])) == 1


SIZE_MAX = 1099511627776000
NONCURRENT_DAYS = (
    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
)
MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
_TAG = {"Key": "k", "Value": "v"}
_DAYS = {"Expiration": {"Days": 1}}
_ABORT = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}


@pytest.mark.parametrize(
    ("flt", "actions", "code", "message"),
    [
        (
            {"And": {"Prefix": "a/", "Tags": [_TAG, {"Key": "k", "Value": "w"}]}},
            _DAYS,
            "InvalidRequest",
            "Duplicate Tag Keys are not allowed.",
        ),
        ({}, {"NoncurrentVersionExpiration": {}}, "MalformedXML", MALFORMED),
        (
            {},
            {"NoncurrentVersionExpiration": {"NewerNoncurrentVersions": 3}},
            "InvalidArgument",
            NONCURRENT_DAYS,
        ),
        (
            {},
            {"NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 0}},
            "InvalidArgument",
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a "
            "positive integer",
        ),
        (
            {"Tag": _TAG},
            _ABORT,
            "InvalidRequest",
            "AbortIncompleteMultipartUpload cannot be specified with Tags.",
        ),
        (
            {"And": {"Prefix": "a/", "Tags": [_TAG]}},
            {**_ABORT, **_DAYS},
            "InvalidRequest",
            "AbortIncompleteMultipartUpload cannot be specified with Tags.",
        ),
        (
            {"ObjectSizeGreaterThan": 10},
            _ABORT,
            "InvalidRequest",
            "AbortIncompleteMultipartUpload cannot be specified with Object Size.",
        ),
        (
            {"ObjectSizeLessThan": 10},
            {"Expiration": {"ExpiredObjectDeleteMarker": True}},
            "InvalidRequest",
            "ExpiredObjectDeleteMarker cannot be specified with Object Size.",
        ),
        (
            {"ObjectSizeLessThan": 0},
            _DAYS,
            "InvalidRequest",
            f"'ObjectSizeLessThan' should be between 1 and {SIZE_MAX}.",
        ),
        (
            {"ObjectSizeLessThan": SIZE_MAX + 1},
            _DAYS,
            "InvalidRequest",
            f"'ObjectSizeLessThan' should be between 1 and {SIZE_MAX}.",
        ),
        (
            {"ObjectSizeGreaterThan": SIZE_MAX + 1},
            _DAYS,
            "InvalidRequest",
            f"'ObjectSizeGreaterThan' should be between 0 and {SIZE_MAX}.",
        ),
        (
            {"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 10}},
            _DAYS,
            "InvalidRequest",
            "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.",
        ),
    ],
)
def test_rule_content_errors(s3, bucket, flt, actions, code, message):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [_rule("r", Filter=flt, **actions)]}
        )
    assert error(exc) == (code, 400)
    assert exc.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError):  # nothing was stored
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.parametrize(
    "actions",
    [
        {"Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)}},
        # ceph/s3-tests' lifecycle_transition_set_invalid_date.
        {
            "Transitions": [
                {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC), "StorageClass": "GLACIER"}
            ]
        },
    ],
)
def test_date_not_at_midnight_names_the_date(s3, bucket, actions):
    rule = _rule("r", Filter={}, **actions)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}
        )
    assert error(exc) == ("InvalidArgument", 400)
    err = exc.value.response["Error"]
    assert err["Message"] == "'Date' must be at midnight GMT"
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("Date", "2030-01-01T12:00:00Z")


def test_rules_at_the_limits_are_accepted(s3, bucket):
    """No upper limit on NewerNoncurrentVersions; size bounds 0 and the maximum."""
    rules = [
        _rule(
            "keep",
            Filter={},
            NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 10**6},
        ),
        _rule(
            "sized",
            Filter={"And": {"ObjectSizeGreaterThan": 0, "ObjectSizeLessThan": SIZE_MAX}},
            **_DAYS,
        ),
        _rule("tagged", Filter={"And": {"Prefix": "a/", "Tags": [_TAG]}}, **_DAYS),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got[0]["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] == 10**6
    assert got[1]["Filter"]["And"]["ObjectSizeLessThan"] == SIZE_MAX
