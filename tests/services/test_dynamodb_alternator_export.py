"""What ScyllaDB Alternator's test_warm_throughput.py, test_export.py and test_import.py
(written and run against DynamoDB) found cloudlet answering differently, with real boto3.

WarmThroughput: CreateTable echoes a configured one, a table may not start below its
floor nor be lowered later. Exports: the members AWS refuses, DescribeExport's ARN
checks, AWS's conflict and time texts, ExportType only when sent, newest first.
Imports: the CloudWatch log group AWS always reports. Texts are AWS's as captured by
the ack-api-quirks lab (finding ids in the code) unless a test says otherwise.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import (
    client,
    index,
    make_table,
    tname,
    wait_export,
    wait_import,
)
from tests.services.s3_helpers import bname

ON_DEMAND_INITIAL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "on-demand-capacity-mode.html#on-demand-capacity-mode-initial"
)
INVALID = "One or more parameter values were invalid: "


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def loose(cloudlet_server):
    """A client that lets values botocore would refuse (short ARNs) reach the server."""
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


def error(exc) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def key_only(name: str, **kw) -> dict:
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
        **kw,
    }


# --------------------------------------------------------------------------- WarmThroughput


def test_create_table_echoes_a_configured_warm_throughput(ddb):
    """test_create_table_warm_throughput_response: the configured units with a Status
    (UPDATING on DynamoDB while it pre-warms); a GSI's likewise, the unconfigured unit at
    its baseline; nothing for what nobody configured."""
    name = tname("warm-c")
    created = ddb.create_table(
        **key_only(
            name,
            BillingMode="PAY_PER_REQUEST",
            WarmThroughput={"ReadUnitsPerSecond": 12240, "WriteUnitsPerSecond": 4080},
        ),
    )["TableDescription"]
    assert created["WarmThroughput"] == {
        "ReadUnitsPerSecond": 12240,
        "WriteUnitsPerSecond": 4080,
        "Status": "UPDATING",
    }
    described = ddb.describe_table(TableName=name)["Table"]["WarmThroughput"]
    assert described == {**created["WarmThroughput"], "Status": "ACTIVE"}

    name = tname("warm-g")
    spec = {
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    created = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "h", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {"IndexName": "warm", **spec, "WarmThroughput": {"ReadUnitsPerSecond": 13000}},
            {**spec, "IndexName": "cold", "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}]},
        ],
    )["TableDescription"]
    assert "WarmThroughput" not in created
    gsis = {ix["IndexName"]: ix for ix in created["GlobalSecondaryIndexes"]}
    assert gsis["warm"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000,
        "WriteUnitsPerSecond": 4000,
        "Status": "UPDATING",
    }
    assert "WarmThroughput" not in gsis["cold"]


@pytest.mark.parametrize(
    ("read", "write", "low"),
    [(11999, 4000, "ReadUnitsPerSecond"), (12000, 3999, "WriteUnitsPerSecond")],
)
def test_on_demand_warm_throughput_starts_at_the_baseline(ddb, read, write, low):
    """test_create_table_warm_throughput_below_minimum; AWS's text: DDB-TABLE-039."""
    name = tname("warm-low")
    warm = {"ReadUnitsPerSecond": read, "WriteUnitsPerSecond": write}
    with pytest.raises(ClientError) as exc:
        ddb.create_table(**key_only(name, BillingMode="PAY_PER_REQUEST", WarmThroughput=warm))
    assert error(exc) == (
        "ValidationException",
        f"{INVALID}Requested {low} for WarmThroughput for table is lower than initial "
        f"throughput for OnDemand. See: {ON_DEMAND_INITIAL}",
    )
    assert name not in ddb.list_tables()["TableNames"]


def test_provisioned_warm_throughput_starts_at_the_capacity(ddb):
    """DDB-TABLE-039: PROVISIONED 10/10 refuses 5/5; below the on-demand baseline but not
    below the capacity is accepted (terraform-provider-aws#49894)."""
    tp = {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10}
    with pytest.raises(ClientError) as exc:
        ddb.create_table(
            **key_only(
                tname("warm-p"),
                ProvisionedThroughput=tp,
                WarmThroughput={"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 5},
            )
        )
    assert error(exc) == (
        "ValidationException",
        f"{INVALID}Requested ReadUnitsPerSecond for WarmThroughput for table is lower than "
        "ReadCapacityUnits of ProvisionedThroughput",
    )
    name = tname("warm-p")
    warm = {"ReadUnitsPerSecond": 5000, "WriteUnitsPerSecond": 2000}
    ddb.create_table(**key_only(name, ProvisionedThroughput=tp, WarmThroughput=warm))
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"] == {
        **warm,
        "Status": "ACTIVE",
    }
    # The floor of a provisioned table is its capacity: raising from there is no decrease.
    plain = tname("warm-p")
    ddb.create_table(**key_only(plain, ProvisionedThroughput=tp))
    ddb.update_table(
        TableName=plain, WarmThroughput={"ReadUnitsPerSecond": 50, "WriteUnitsPerSecond": 50}
    )


def decrease(unit: str, holder: str = "table") -> tuple[str, str]:
    return (
        "ValidationException",
        f"{INVALID}Requested {unit} for WarmThroughput for {holder} is lower than current "
        "WarmThroughput, decreasing WarmThroughput is not supported",
    )


def test_warm_throughput_cannot_decrease(ddb):
    """test_update_table_warm_throughput_cannot_decrease_after_create / _after_increase;
    the same value again is accepted, and an UpdateTable with only WarmThroughput (what
    Terraform sends) still raises it (DDB-TABLE-059, DDB-TABLE-179)."""
    name = tname("warm-d")
    warm = {"ReadUnitsPerSecond": 12240, "WriteUnitsPerSecond": 4080}
    ddb.create_table(**key_only(name, BillingMode="PAY_PER_REQUEST", WarmThroughput=warm))
    lower = {"ReadUnitsPerSecond": 12120, "WriteUnitsPerSecond": 4040}
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, WarmThroughput=lower)
    assert error(exc) == decrease("ReadUnitsPerSecond")
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, WarmThroughput={"WriteUnitsPerSecond": 4000})
    assert error(exc) == decrease("WriteUnitsPerSecond")
    ddb.update_table(TableName=name, WarmThroughput=warm)  # equal: accepted

    raised = {"ReadUnitsPerSecond": 12360, "WriteUnitsPerSecond": 4120}
    desc = ddb.update_table(TableName=name, WarmThroughput=raised)["TableDescription"]
    assert desc["WarmThroughput"] == {**raised, "Status": "ACTIVE"}
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, WarmThroughput=warm)
    assert error(exc) == decrease("ReadUnitsPerSecond")
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"] == {
        **raised,
        "Status": "ACTIVE",
    }

    # A table nobody warmed has the baseline, which is its current value.
    plain = make_table(ddb, tname("warm-d"))
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=plain, WarmThroughput={"ReadUnitsPerSecond": 6000})
    assert error(exc) == decrease("ReadUnitsPerSecond")


def test_gsi_warm_throughput_cannot_decrease(ddb):
    """DDB-TABLE-155: the index variant of the text."""
    name = make_table(ddb, tname("warm-i"), gsis=[index("by-g", ("g", "S"))])
    update = {"IndexName": "by-g", "WarmThroughput": {"ReadUnitsPerSecond": 100}}
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Update": update}])
    assert error(exc) == decrease("ReadUnitsPerSecond", "index by-g")


# --------------------------------------------------------------------------- exports


@pytest.fixture(scope="module")
def pitr_table(ddb) -> str:
    """The ARN of a table with point-in-time recovery on."""
    name = make_table(ddb, tname("alt-exp"))
    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def constraint(value: str, member: str, rule: str) -> tuple[str, str]:
    return (
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}",
    )


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (
            {"ClientToken": ""},
            constraint(
                "", "clientToken", r"Member must satisfy regular expression pattern: ^[^\$]+$"
            ),
        ),
        (
            {"ClientToken": "a$b"},
            constraint(
                "a$b", "clientToken", r"Member must satisfy regular expression pattern: ^[^\$]+$"
            ),
        ),
        (
            {"S3Prefix": ""},
            constraint("", "s3Prefix", "Member must have length greater than or equal to 1"),
        ),
        (
            {"S3SseAlgorithm": "KMS", "S3SseKmsKeyId": ""},
            constraint("", "s3SseKmsKeyId", "Member must have length greater than or equal to 1"),
        ),
        (
            {"S3SseAlgorithm": "AES256", "S3SseKmsKeyId": "alias/aws/s3"},
            (
                "ValidationException",
                "Invalid Request: KMS Key Id is not supported for this encryption type",
            ),
        ),
        (
            {"TableArn": "QWERTY"},
            ("ValidationException", f"{INVALID}tableArn is not a valid ARN"),
        ),
        (
            {"TableArn": "\t"},
            ("ValidationException", f"{INVALID}tableArn is not a valid ARN"),
        ),
    ],
)
def test_export_refuses_weird_member_values(loose, pitr_table, members, expected):
    """test_export_setting_fields_to_weird_values_or_skipping_fail (+ _for_S3SseKmsKeyId);
    the texts: the model's rules, DDB-EXPORT-001 and DDB-EXPORT-005."""
    params = {"TableArn": pitr_table, "S3Bucket": bname("never"), **members}
    with pytest.raises(ClientError) as exc:
        loose.export_table_to_point_in_time(**params)
    assert error(exc) == expected


def test_export_time_outside_the_window(ddb, pitr_table):
    """test_export_setting_fields...[ExportTime -1] wants 'Export ?Time'; AWS's text is
    DDB-EXPORT-001's."""
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(
            TableArn=pitr_table, S3Bucket=bname("never"), ExportTime=-1
        )
    assert error(exc) == ("InvalidExportTimeException", "Export Time is invalid")


def test_export_client_token_conflict_text(ddb, pitr_table):
    """test_export_client_token_* match 'Duplicate request detected'; DDB-EXPORT-009."""
    bucket = bname("never")
    ddb.export_table_to_point_in_time(TableArn=pitr_table, S3Bucket=bucket, ClientToken="alt-1")
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(
            TableArn=pitr_table, S3Bucket=bucket, ClientToken="alt-1", ExportFormat="ION"
        )
    assert error(exc) == (
        "ExportConflictException",
        "Export conflict: Duplicate request detected with conflicting parameters",
    )


def test_export_type_is_echoed_only_when_sent(ddb, s3, pitr_table):
    """test_export_basic / test_export_basic_with_export_type; DDB-EXPORT-017. ListExports
    names the type either way."""
    bucket = bname("alt-exp")
    s3.create_bucket(Bucket=bucket)
    bare = ddb.export_table_to_point_in_time(TableArn=pitr_table, S3Bucket=bucket)
    assert "ExportType" not in bare["ExportDescription"]
    final = wait_export(ddb, bare["ExportDescription"]["ExportArn"])
    assert final["ExportStatus"] == "COMPLETED"
    assert "ExportType" not in final
    typed = ddb.export_table_to_point_in_time(
        TableArn=pitr_table, S3Bucket=bucket, ExportType="FULL_EXPORT"
    )["ExportDescription"]
    assert typed["ExportType"] == "FULL_EXPORT"
    assert wait_export(ddb, typed["ExportArn"])["ExportType"] == "FULL_EXPORT"
    summaries = ddb.list_exports(TableArn=pitr_table)["ExportSummaries"]
    assert {s["ExportType"] for s in summaries} == {"FULL_EXPORT"}


def test_list_exports_newest_first(ddb):
    """test_list_exports_pagination; DDB-EXPORT-017's ListExports order."""
    name = make_table(ddb, tname("alt-ls"))
    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    started = [
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bname("never"))[
            "ExportDescription"
        ]["ExportArn"]
        for _ in range(3)
    ]
    seen, token = [], None
    while True:
        page = ddb.list_exports(
            TableArn=arn, MaxResults=2, **({"NextToken": token} if token else {})
        )
        seen += [s["ExportArn"] for s in page["ExportSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == started[::-1]
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("qwerty:aws:dynamodb:us-east-1:000000000000:table/nonexistent_table_xyz", "invalid"),
        ("arn:qwerty:dynamodb:us-east-1:000000000000:table/nonexistent_table_xyz", "denied"),
        ("arn:aws:qwerty:us-east-1:000000000000:table/nonexistent_table_xyz", "denied"),
        ("arn:aws:dynamodb:qwerty:000000000000:table/nonexistent_table_xyz", "denied"),
        ("arn:aws:dynamodb:us-east-1:qwerty:table/nonexistent_table_xyz", "denied"),
        ("arn:aws:dynamodb:us-east-1:000000000000:table/nonexistent_table_xyz", "invalid"),
        ("arn:aws:dynamodb:us-east-1:000000000000:table/abc/import/0123-ab", "invalid"),
        ("x" * 40, "invalid"),
        ("arn:aws:dynamodb:us-west-2:000000000000:table/abc/export/0123-ab", "elsewhere"),
        ("arn:aws:dynamodb:us-east-1:000000000000:table/abc/export/0123-ab", "missing"),
    ],
)
def test_describe_export_arn_checks(loose, arn, expected):
    """test_describe_export_nonexistent / _incorrect_arns; the texts: DDB-EXPORT-006."""
    with pytest.raises(ClientError) as exc:
        loose.describe_export(ExportArn=arn)
    answers = {
        "invalid": ("ValidationException", "Invalid Export ARN"),
        "denied": ("AccessDeniedException", "Access is denied"),
        "elsewhere": ("ExportNotFoundException", "Export not found: Invalid export arn"),
        "missing": ("ExportNotFoundException", f"Export not found: {arn}"),
    }
    assert error(exc) == answers[expected]


# --------------------------------------------------------------------------- imports


def test_imports_report_their_cloudwatch_log_group(ddb, s3, cloudlet_server):
    """test_import.py header point 14, test_import_table_description and
    test_list_imports_contents: CloudWatchLogGroupArn always, AWS's form; the group
    exists in our CloudWatch Logs."""
    bucket = bname("alt-imp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="in/0.json", Body=json.dumps({"Item": {"pk": {"S": "a"}}}).encode()
    )
    name = tname("alt-imp")
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "in/"},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters={
            "TableName": name,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )["ImportTableDescription"]
    account = started["TableArn"].split(":")[4]
    group = f"arn:aws:logs:us-east-1:{account}:log-group:/aws-dynamodb/imports:*"
    assert started["CloudWatchLogGroupArn"] == group
    final = wait_import(ddb, started["ImportArn"])
    assert final["ImportStatus"] == "COMPLETED"
    assert final["CloudWatchLogGroupArn"] == group
    (summary,) = [
        s
        for s in ddb.list_imports(TableArn=started["TableArn"])["ImportSummaryList"]
        if s["ImportArn"] == started["ImportArn"]
    ]
    assert summary["CloudWatchLogGroupArn"] == group
    logs = cloudlet_server.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws-dynamodb/imports")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws-dynamodb/imports"]
