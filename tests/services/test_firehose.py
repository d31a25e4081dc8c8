"""Amazon Data Firehose's control plane against a real server with boto3: a stream's
life (CREATING, ACTIVE, DELETING, gone), the full description, listing with its filters
and paging, UpdateDestination's version check and merge, tags, server-side encryption's
transitions and limits, and AWS's errors for bad input and what cloudlet does not
deliver."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.services.firehose_helpers import ROLE, bucket, s3_stream, start, wait_status
from tests.services.names import unique


@pytest.fixture(scope="module")
def server():
    with start() as srv:
        yield srv


@pytest.fixture(scope="module")
def fh(server):
    return server.client("firehose")


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_a_stream_is_created_described_listed_and_deleted(fh, s3):
    _, bucket_arn = bucket(s3)
    name = unique("life")
    out = fh.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": bucket_arn, "Prefix": "p/"},
        Tags=[{"Key": "team", "Value": "data"}],
    )
    assert out["DeliveryStreamARN"] == (
        f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"
    )
    first = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert first["DeliveryStreamStatus"] == "CREATING"
    desc = wait_status(fh, name)
    assert desc["VersionId"] == "1" and desc["DeliveryStreamType"] == "DirectPut"
    assert desc["DeliveryStreamEncryptionConfiguration"] == {"Status": "DISABLED"}
    assert desc["HasMoreDestinations"] is False and "LastUpdateTimestamp" not in desc
    (dest,) = desc["Destinations"]
    assert dest["DestinationId"] == "destinationId-000000000001"
    extended = dest["ExtendedS3DestinationDescription"]
    assert extended == {
        "RoleARN": ROLE,
        "BucketARN": bucket_arn,
        "Prefix": "p/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
        "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": False},
        "S3BackupMode": "Disabled",
    }
    assert dest["S3DestinationDescription"]["BucketARN"] == bucket_arn
    after = fh.describe_delivery_stream(
        DeliveryStreamName=name, ExclusiveStartDestinationId="destinationId-000000000001"
    )["DeliveryStreamDescription"]
    assert after["Destinations"] == []

    with pytest.raises(ClientError) as exc:  # the same name again
        fh.create_delivery_stream(
            DeliveryStreamName=name,
            S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": bucket_arn},
        )
    assert _error(exc) == (
        "ResourceInUseException",
        f"Firehose {name} under accountId 000000000000 already exists",
        400,
    )

    fh.delete_delivery_stream(DeliveryStreamName=name)
    assert wait_status(fh, name, "DELETING")["DeliveryStreamStatus"] == "DELETING"
    with pytest.raises(ClientError) as exc:
        for _ in range(100):
            fh.describe_delivery_stream(DeliveryStreamName=name)
            time.sleep(0.05)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"Firehose {name} under account 000000000000 not found.",
        400,
    )


def test_listing_filters_by_type_and_pages_by_name(fh, s3, server):
    kin = server.client("kinesis")
    _, bucket_arn = bucket(s3)
    stem = unique("ls")
    names = [s3_stream(fh, bucket_arn, name=f"{stem}-{i}") for i in range(3)]
    kin.create_stream(StreamName=stem, ShardCount=1)
    kin.get_waiter("stream_exists").wait(StreamName=stem, WaiterConfig={"Delay": 1})
    source = kin.describe_stream_summary(StreamName=stem)["StreamDescriptionSummary"]["StreamARN"]
    fh.create_delivery_stream(
        DeliveryStreamName=f"{stem}-k",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": source, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": bucket_arn},
    )
    desc = wait_status(fh, f"{stem}-k")
    kinesis = desc["Source"]["KinesisStreamSourceDescription"]
    assert kinesis["KinesisStreamARN"] == source and kinesis["RoleARN"] == ROLE
    assert "DeliveryStartTimestamp" in kinesis

    page = fh.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName=f"{stem}-0")
    assert page["DeliveryStreamNames"] == names[1:]
    assert page["HasMoreDeliveryStreams"] is True
    all_mine = [
        n for n in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"] if stem in n
    ]
    assert all_mine == [*names, f"{stem}-k"]
    direct = fh.list_delivery_streams(Limit=10000, DeliveryStreamType="DirectPut")
    assert f"{stem}-k" not in direct["DeliveryStreamNames"]
    assert names[0] in direct["DeliveryStreamNames"]
    kin_only = fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
    assert f"{stem}-k" in kin_only["DeliveryStreamNames"]

    with pytest.raises(ClientError) as exc:  # Kinesis-sourced streams take no PutRecord
        fh.put_record(DeliveryStreamName=f"{stem}-k", Record={"Data": b"x"})
    assert _error(exc) == (
        "InvalidArgumentException",
        "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        fh.put_record_batch(DeliveryStreamName=f"{stem}-k", Records=[{"Data": b"x"}])
    assert _error(exc)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as exc:  # no SSE for a Kinesis source
        fh.start_delivery_stream_encryption(DeliveryStreamName=f"{stem}-k")
    assert _error(exc)[0] == "InvalidArgumentException"


def test_update_destination_checks_the_version_and_merges(fh, s3):
    _, bucket_arn = bucket(s3)
    _, other_arn = bucket(s3)
    name = s3_stream(fh, bucket_arn, Prefix="a/", BufferingHints={"SizeInMBs": 2})
    with pytest.raises(ClientError) as exc:
        fh.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="7",
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={"Prefix": "b/"},
        )
    assert _error(exc)[0] == "ConcurrentModificationException"
    with pytest.raises(ClientError) as exc:
        fh.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000009",
            ExtendedS3DestinationUpdate={"Prefix": "b/"},
        )
    assert _error(exc)[0] == "InvalidArgumentException"
    fh.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={
            "BucketARN": other_arn,
            "BufferingHints": {"IntervalInSeconds": 120},
            "CompressionFormat": "GZIP",
        },
    )
    desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["VersionId"] == "2" and "LastUpdateTimestamp" in desc
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == other_arn and dest["Prefix"] == "a/"  # kept
    assert dest["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 120}
    assert dest["CompressionFormat"] == "GZIP"
    with pytest.raises(ClientError) as exc:  # dynamic partitioning only at creation
        fh.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="2",
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={"DynamicPartitioningConfiguration": {"Enabled": True}},
        )
    assert _error(exc)[0] == "InvalidArgumentException"


def test_tags_and_encryption(fh, s3):
    _, bucket_arn = bucket(s3)
    name = s3_stream(fh, bucket_arn)
    fh.tag_delivery_stream(
        DeliveryStreamName=name,
        Tags=[{"Key": f"k{i:02d}", "Value": str(i)} for i in range(5)],
    )
    page = fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2)
    assert page["Tags"] == [{"Key": "k00", "Value": "0"}, {"Key": "k01", "Value": "1"}]
    assert page["HasMoreTags"] is True
    rest = fh.list_tags_for_delivery_stream(DeliveryStreamName=name, ExclusiveStartTagKey="k02")
    assert [t["Key"] for t in rest["Tags"]] == ["k03", "k04"] and rest["HasMoreTags"] is False
    fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["k00", "k01", "nope"])
    assert len(fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]) == 3
    with pytest.raises(ClientError) as exc:
        fh.tag_delivery_stream(
            DeliveryStreamName=name, Tags=[{"Key": f"x{i}", "Value": ""} for i in range(48)]
        )
    assert _error(exc)[0] == "LimitExceededException"
    with pytest.raises(ClientError) as exc:
        fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "aws:x", "Value": "v"}])
    assert _error(exc)[0] == "ValidationException"

    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is False
    with pytest.raises(ClientError) as exc:
        fh.start_delivery_stream_encryption(
            DeliveryStreamName=name,
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK"},
        )
    assert _error(exc)[0] == "InvalidArgumentException"
    fh.start_delivery_stream_encryption(
        DeliveryStreamName=name,
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
    )
    status = wait_status(fh, name)["DeliveryStreamEncryptionConfiguration"]
    assert status["Status"] in ("ENABLING", "ENABLED") and status["KeyType"] == "AWS_OWNED_CMK"
    if status["Status"] == "ENABLING":  # a change still settling refuses another
        with pytest.raises(ClientError) as exc:
            fh.stop_delivery_stream_encryption(DeliveryStreamName=name)
        assert _error(exc)[0] == "ResourceInUseException"
    deadline = time.monotonic() + 10
    while status["Status"] != "ENABLED" and time.monotonic() < deadline:
        time.sleep(0.05)
        desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        status = desc["DeliveryStreamEncryptionConfiguration"]
    assert status["Status"] == "ENABLED"
    assert fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"] is True
    fh.stop_delivery_stream_encryption(DeliveryStreamName=name)
    desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLING"


def test_bad_input_gets_aws_errors(fh, s3):
    _, bucket_arn = bucket(s3)
    dest = {"RoleARN": ROLE, "BucketARN": bucket_arn}

    def refused(**params) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            fh.create_delivery_stream(**params)
        return _error(exc)

    code, message, status = refused(
        DeliveryStreamName="bad name", ExtendedS3DestinationConfiguration=dest
    )
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value 'bad name' at 'deliveryStreamName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    code, message, _ = refused(
        DeliveryStreamName=unique("b"),
        ExtendedS3DestinationConfiguration={**dest, "BufferingHints": {"SizeInMBs": 129}},
    )
    assert code == "ValidationException" and "extendedS3DestinationConfiguration." in message
    assert refused(DeliveryStreamName=unique("b"))[0] == "InvalidArgumentException"
    assert (
        refused(
            DeliveryStreamName=unique("b"),
            ExtendedS3DestinationConfiguration=dest,
            S3DestinationConfiguration=dest,
        )[0]
        == "InvalidArgumentException"
    )
    # prefix rules (the developer guide's semantic rules)
    for config in (
        {"Prefix": "x/!{timestamp:yyyy}/"},  # expressions need an error prefix
        {"Prefix": "!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/"},
        {"Prefix": "a/", "ErrorOutputPrefix": "e/!{timestamp:yyyy}/"},  # no error-output-type
        {"Prefix": "!{nope:x}/", "ErrorOutputPrefix": "e/"},
        {"Prefix": "a/!{timestamp:yyyy/", "ErrorOutputPrefix": "e/"},
        {"Prefix": "!{timestamp:bb}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}"},
        {"Prefix": "!{partitionKeyFromLambda:id}/", "ErrorOutputPrefix": "e/"},
    ):
        code, message, _ = refused(
            DeliveryStreamName=unique("p"), ExtendedS3DestinationConfiguration={**dest, **config}
        )
        assert code == "InvalidArgumentException", (config, message)
    # what cloudlet does not deliver is a 501 naming what it does
    code, message, status = refused(
        DeliveryStreamName=unique("r"),
        RedshiftDestinationConfiguration={
            "RoleARN": ROLE,
            "ClusterJDBCURL": "jdbc:redshift://c.abc.us-east-1.redshift.amazonaws.com:5439/db",
            "CopyCommand": {"DataTableName": "t"},
            "Username": "u",
            "Password": "password1",
            "S3Configuration": dest,
        },
    )
    assert (code, status) == ("NotImplemented", 501) and "Amazon S3" in message
    assert (
        refused(
            DeliveryStreamName=unique("f"),
            ExtendedS3DestinationConfiguration={
                **dest,
                "DataFormatConversionConfiguration": {"Enabled": True},
            },
        )[2]
        == 501
    )

    code, message, _ = refused(
        DeliveryStreamName=unique("k"),
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={
            "KinesisStreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/none",
            "RoleARN": ROLE,
        },
        ExtendedS3DestinationConfiguration=dest,
    )
    assert code == "InvalidArgumentException" and "stream/none" in message
    with pytest.raises(ClientError) as exc:
        fh.describe_delivery_stream(DeliveryStreamName="missing-stream")
    assert _error(exc)[0] == "ResourceNotFoundException"
    name = s3_stream(fh, bucket_arn)
    with pytest.raises(ClientError) as exc:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"x" * 1024001})
    code, message, _ = _error(exc)
    assert code == "ValidationException"
    assert "'record.data'" in message and "1024000" in message
    with pytest.raises(ClientError) as exc:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    assert _error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert _error(exc)[0] == "InvalidArgumentException"
