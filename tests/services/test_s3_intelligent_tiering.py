"""S3 Intelligent-Tiering archive configurations, with real boto3.

Two servers sweep every 0.2 s on a lifecycle clock run 100 and 200 days ahead
(``CLOUDLET_S3_LIFECYCLE_SHIFT``): an object written now and never read looks 100 (200)
days unaccessed there, one read now looks fresh. Configurations are put after the
objects are written and read, so no sweep sees them earlier; tests poll with deadlines.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error

DAY = 86400
BIG = b"t" * (128 * 1024)  # smaller objects are not monitored
IT = "INTELLIGENT_TIERING"
TIER_REFUSED = "The action is not valid for the object's access tier"


def _server(days: int):
    env = {
        "CLOUDLET_S3_LIFECYCLE_INTERVAL": "0.2",
        "CLOUDLET_S3_LIFECYCLE_SHIFT": str(days * DAY),
        "CLOUDLET_S3_INVENTORY_INTERVAL": "0.5",
    }
    with CloudletServer.start(env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def server100():
    yield from _server(100)


@pytest.fixture(scope="module")
def server200():
    yield from _server(200)


@pytest.fixture
def s3(server100):
    return server100.client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("it")
    s3.create_bucket(Bucket=name)
    return name


def document(
    config_id: str = "archive",
    *,
    tierings: list[dict[str, Any]] | None = None,
    status: str = "Enabled",
    flt: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": config_id,
        "Status": status,
        "Tierings": tierings
        if tierings is not None
        else [
            {"AccessTier": "ARCHIVE_ACCESS", "Days": 90},
            {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 180},
        ],
    }
    if flt is not None:
        out["Filter"] = flt
    return out


def put(s3, bucket: str, config: dict[str, Any], config_id: str | None = None):
    return s3.put_bucket_intelligent_tiering_configuration(
        Bucket=bucket, Id=config_id or config["Id"], IntelligentTieringConfiguration=config
    )


def tier_of(s3, bucket: str, key: str) -> str | None:
    return s3.head_object(Bucket=bucket, Key=key).get("ArchiveStatus")


def wait_tier(s3, bucket: str, key: str, tier: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while tier_of(s3, bucket, key) != tier:
        assert time.monotonic() < deadline, f"{key} never reached {tier}"
        time.sleep(0.1)


def refused_get(s3, bucket: str, key: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key=key)
    assert error(exc) == ("InvalidObjectState", 403)
    return exc.value.response


# -- the configurations --------------------------------------------------------------------


def test_configuration_crud(s3, bucket):
    assert "IntelligentTieringConfigurationList" not in (
        s3.list_bucket_intelligent_tiering_configurations(Bucket=bucket)
    )
    first = document("a", flt={"Prefix": "logs/"})
    second = document(
        "b",
        tierings=[{"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 365}],
        status="Disabled",
        flt={"And": {"Prefix": "x/", "Tags": [{"Key": "k", "Value": "v"}]}},
    )
    put(s3, bucket, first)
    put(s3, bucket, second)
    got = s3.get_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="a")
    assert got["IntelligentTieringConfiguration"] == first
    listed = s3.list_bucket_intelligent_tiering_configurations(Bucket=bucket)
    assert listed["IntelligentTieringConfigurationList"] == [first, second]
    assert listed["IsTruncated"] is False
    s3.delete_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="a")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="a")
    assert error(exc) == ("NoSuchConfiguration", 404)
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="a")
    assert error(exc) == ("NoSuchConfiguration", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_intelligent_tiering_configuration(Bucket=bname("none"), Id="a")
    assert error(exc) == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    ("tierings", "message"),
    [
        (
            [{"AccessTier": "ARCHIVE_ACCESS", "Days": 89}],
            "Days specified in ARCHIVE_ACCESS tier should not be less than 90.",
        ),
        (
            [{"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 179}],
            "Days specified in DEEP_ARCHIVE_ACCESS tier should not be less than 180.",
        ),
        (
            [{"AccessTier": "ARCHIVE_ACCESS", "Days": 731}],
            "Days specified in ARCHIVE_ACCESS tier should not be more than 730.",
        ),
        (
            [{"AccessTier": "ARCHIVE_ACCESS", "Days": 90}] * 2,
            "Multiple tierings specified for the ARCHIVE_ACCESS tier",
        ),
    ],
)
def test_tierings_refused(s3, bucket, tierings, message):
    with pytest.raises(ClientError) as exc:
        put(s3, bucket, document(tierings=tierings))
    assert error(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["Message"] == message


@pytest.mark.parametrize(
    "config",
    [
        document(tierings=[]),  # at least one tiering
        document(status="On"),
        document(tierings=[{"AccessTier": "GLACIER", "Days": 90}]),
        document(flt={"Prefix": "a/", "Tag": {"Key": "k", "Value": "v"}}),  # one kind
        document(flt={"And": {"Prefix": "a/"}}),  # And joins two predicates
    ],
)
def test_malformed_documents(s3, bucket, config):
    with pytest.raises(ClientError) as exc:
        put(s3, bucket, config)
    assert error(exc) == ("MalformedXML", 400)


def test_id_must_match(s3, bucket):
    with pytest.raises(ClientError) as exc:
        put(s3, bucket, document("one"), config_id="other")
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:
        put(s3, bucket, document("bad id!"))
    assert error(exc) == ("InvalidArgument", 400)


# -- what they do --------------------------------------------------------------------------


def test_unread_objects_are_archived_and_restored(s3, bucket):
    for key in ("logs/unread", "logs/read", "other/unread"):
        s3.put_object(Bucket=bucket, Key=key, Body=BIG, StorageClass=IT)
    s3.put_object(Bucket=bucket, Key="logs/standard", Body=BIG)
    s3.put_object(Bucket=bucket, Key="logs/small", Body=b"tiny", StorageClass=IT)
    s3.get_object(Bucket=bucket, Key="logs/read")["Body"].read()  # an access, 100 days on
    put(s3, bucket, document(flt={"Prefix": "logs/"}))

    wait_tier(s3, bucket, "logs/unread", "ARCHIVE_ACCESS")
    head = s3.head_object(Bucket=bucket, Key="logs/unread")
    assert head["StorageClass"] == IT
    answer = refused_get(s3, bucket, "logs/unread")
    assert answer["Error"]["Message"] == TIER_REFUSED
    assert answer["StorageClass"] == IT
    assert answer["AccessTier"] == "ARCHIVE_ACCESS"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "logs/unread"}
        )
    assert error(exc) == ("InvalidObjectState", 403)
    # The same sweeps left the rest alone: read lately, outside the prefix, another
    # class, too small.
    for key in ("logs/read", "other/unread", "logs/standard", "logs/small"):
        assert tier_of(s3, bucket, key) is None
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    with pytest.raises(ClientError) as exc:  # Intelligent-Tiering restores take no Days
        s3.restore_object(Bucket=bucket, Key="logs/unread", RestoreRequest={"Days": 1})
    assert error(exc) == ("InvalidArgument", 400)
    restored = s3.restore_object(Bucket=bucket, Key="logs/unread", RestoreRequest={})
    assert restored["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.get_object(Bucket=bucket, Key="logs/unread")["Body"].read() == BIG
    time.sleep(0.8)  # a few sweeps: the restore was an access, it stays in Frequent
    assert tier_of(s3, bucket, "logs/unread") is None
    with pytest.raises(ClientError) as exc:
        s3.restore_object(Bucket=bucket, Key="logs/unread", RestoreRequest={})
    assert error(exc) == ("ObjectAlreadyInActiveTierError", 403)


def test_tag_filter(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=BIG, StorageClass=IT, Tagging="cold=yes")
    s3.put_object(Bucket=bucket, Key="untagged", Body=BIG, StorageClass=IT)
    put(s3, bucket, document(flt={"Tag": {"Key": "cold", "Value": "yes"}}))
    wait_tier(s3, bucket, "tagged", "ARCHIVE_ACCESS")
    assert tier_of(s3, bucket, "untagged") is None


def test_disabled_configuration_does_nothing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=BIG, StorageClass=IT)
    put(s3, bucket, document(status="Disabled"))
    time.sleep(0.8)
    assert tier_of(s3, bucket, "cold") is None
    assert s3.get_object(Bucket=bucket, Key="cold")["Body"].read() == BIG


def test_deep_archive_after_its_days(server200):
    s3 = server200.client("s3", config=NO_RETRIES)
    bucket, reports = bname("it-deep"), bname("it-inv")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=reports)
    s3.put_object(Bucket=bucket, Key="deep", Body=BIG, StorageClass=IT)
    s3.put_object(Bucket=bucket, Key="warm", Body=BIG, StorageClass=IT)
    s3.get_object(Bucket=bucket, Key="warm")["Body"].read()
    put(s3, bucket, document())
    wait_tier(s3, bucket, "deep", "DEEP_ARCHIVE_ACCESS")
    assert refused_get(s3, bucket, "deep")["AccessTier"] == "DEEP_ARCHIVE_ACCESS"
    assert tier_of(s3, bucket, "warm") is None

    inventory = {
        "Id": "tiers",
        "IsEnabled": True,
        "Destination": {
            "S3BucketDestination": {"Bucket": f"arn:aws:s3:::{reports}", "Format": "CSV"}
        },
        "IncludedObjectVersions": "Current",
        "Schedule": {"Frequency": "Daily"},
        "OptionalFields": ["IntelligentTieringAccessTier"],
    }
    s3.put_bucket_inventory_configuration(
        Bucket=bucket, Id="tiers", InventoryConfiguration=inventory
    )
    assert _inventory_rows(s3, reports) == {"deep": "DEEP_ARCHIVE", "warm": "FREQUENT"}


def _inventory_rows(s3, reports: str) -> dict[str, str]:
    """Key -> access tier of the first report published into ``reports``."""
    deadline = time.monotonic() + 10
    while True:
        found = s3.list_objects_v2(Bucket=reports).get("Contents") or []
        manifests = [o["Key"] for o in found if o["Key"].endswith("manifest.json")]
        if manifests:
            break
        assert time.monotonic() < deadline, "no inventory report"
        time.sleep(0.2)
    manifest = json.loads(s3.get_object(Bucket=reports, Key=manifests[0])["Body"].read())
    rows: dict[str, str] = {}
    for entry in manifest["files"]:
        data = gzip.decompress(s3.get_object(Bucket=reports, Key=entry["key"])["Body"].read())
        for _bucket, key, tier in csv.reader(io.StringIO(data.decode())):
            rows[key] = tier
    return rows


def test_archiving_notifies_the_queue_and_eventbridge(s3, server100):
    """``s3:IntelligentTiering`` with its ``intelligentTieringEventData``, and EventBridge's
    "Object Access Tier Changed" with its ``destination-access-tier``."""
    import json

    sqs, events = server100.client("sqs"), server100.client("events")
    bucket = bname("it-notify")
    s3.create_bucket(Bucket=bucket)
    queues = {}
    for name in ("direct", "bus"):
        url = sqs.create_queue(QueueName=bname(f"it-{name}"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        queues[name] = (url, arn["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queues["direct"][1], "Events": ["s3:IntelligentTiering"]}
            ],
            "EventBridgeConfiguration": {},
        },
    )
    rule = bname("it-rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.s3"], "detail-type": ["Object Access Tier Changed"]}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queues["bus"][1]}])
    s3.put_object(Bucket=bucket, Key="cold", Body=BIG, StorageClass=IT)
    put(s3, bucket, document())
    wait_tier(s3, bucket, "cold", "ARCHIVE_ACCESS")

    def first(url: str) -> dict:
        """The first message that is not S3's test event."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(message["Body"])
                if body.get("Event") != "s3:TestEvent":
                    return body
        raise AssertionError("nothing arrived")

    (record,) = first(queues["direct"][0])["Records"]
    assert record["eventName"] == "IntelligentTiering"
    assert record["intelligentTieringEventData"] == {"destinationAccessTier": "ARCHIVE_ACCESS"}
    assert record["s3"]["object"]["key"] == "cold"
    event = first(queues["bus"][0])
    assert event["detail"]["destination-access-tier"] == "ARCHIVE_ACCESS"
    assert event["detail"]["object"]["key"] == "cold"
