"""DynamoDB control plane with real boto3: UpdateTable's rules per member (streams, no-op
re-sends, throughput, indexes, encryption), index limits, capacity bookkeeping and the
RestoreSummary of restored tables.

Every expected text is AWS's own, from lab captures of live DynamoDB, cited per case:

- [ack] ack-api-quirks ``services/dynamodb`` (verified 2026-10-08/09 against live
  DynamoDB in us-west-2 and us-east-1): finding ids DDB-TABLE-nnn; DDB-TABLE-442 is its
  ValidationException message catalogue (with live captures such as
  ``val_stream_disable_none``).
- [dynalite] architect/dynalite validations, written against real DynamoDB.

Where a text is only partly captured the case says what is inferred.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import assert_error, case, client, index, make_table, tname

INVALID = "One or more parameter values were invalid: "
VALIDATION = "ValidationException"
NOTHING_TO_CHANGE = (
    "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
    "GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, "
    "ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, "
    "OnDemandThroughput, WarmThroughput or TableClass is required"
)
KEY_ARN = re.compile(
    r"arn:aws:kms:us-east-1:000000000000:key/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
CMK = "arn:aws:kms:us-east-1:000000000000:key/8963cda5-0fac-4af1-8635-0af67d16fe14"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


def pt(read: int, write: int) -> dict:
    return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}


def provisioned_table(ddb, name: str, table_pt: dict, gsi_pt: dict) -> str:
    """A PROVISIONED table (pk S) with one GSI ``gsi1`` on ``g``."""
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput=table_pt,
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": gsi_pt,
            }
        ],
    )
    return name


def gsi_create(name: str, attr: str, **extra) -> dict:
    return {
        "Create": {
            "IndexName": name,
            "KeySchema": [{"AttributeName": attr, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            **extra,
        }
    }


@pytest.fixture(scope="module")
def t(ddb):
    ns = SimpleNamespace(
        h=make_table(ddb, tname("cp-h")),
        s=make_table(
            ddb,
            tname("cp-s"),
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        ),
        p=provisioned_table(ddb, tname("cp-p"), pt(2, 2), pt(2, 2)),
        g20=make_table(
            ddb, tname("cp-g20"), gsis=[index(f"gsi{i}", (f"a{i}", "S")) for i in range(20)]
        ),
        missing=tname("cp-missing"),
    )
    return ns


def _create(d, name: str, **kw):
    return d.create_table(
        TableName=name,
        AttributeDefinitions=kw.pop(
            "AttributeDefinitions", [{"AttributeName": "pk", "AttributeType": "S"}]
        ),
        KeySchema=kw.pop("KeySchema", [{"AttributeName": "pk", "KeyType": "HASH"}]),
        BillingMode="PAY_PER_REQUEST",
        **kw,
    )


def _lsis(n: int) -> list[dict]:
    return [index(f"lsi{i}", ("pk", "S"), (f"r{i}", "S")) for i in range(n)]


CASES = [
    # -- nothing to change ----------------------------------------------------------------
    # [ack] DDB-TABLE-015; DDB-TABLE-442 live val_update_only_name (us-east-1 and us-west-2)
    case(
        "update-only-table-name",
        lambda d, t: d.update_table(TableName=t.h),
        VALIDATION,
        NOTHING_TO_CHANGE,
    ),
    # [ack] DDB-TABLE-015: an empty GlobalSecondaryIndexUpdates counts as absent
    case(
        "update-empty-gsi-updates-only",
        lambda d, t: d.update_table(TableName=t.h, GlobalSecondaryIndexUpdates=[]),
        VALIDATION,
        NOTHING_TO_CHANGE,
    ),
    # [ack] DDB-TABLE-015: "On a missing table UpdateTable(TableName) -> ValidationException"
    case(
        "update-only-table-name-missing-table",
        lambda d, t: d.update_table(TableName=t.missing),
        VALIDATION,
        NOTHING_TO_CHANGE,
    ),
    # [ack] DDB-TABLE-162, DDB-TABLE-442 live val_update_attrdefs_only
    case(
        "update-attribute-definitions-only",
        lambda d, t: d.update_table(
            TableName=t.h, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]
        ),
        VALIDATION,
        NOTHING_TO_CHANGE,
    ),
    # [ack] DDB-TABLE-359 (canonical), DDB-TABLE-160: the empty list next to a change
    case(
        "update-empty-gsi-updates-with-a-change",
        lambda d, t: d.update_table(
            TableName=t.h, GlobalSecondaryIndexUpdates=[], DeletionProtectionEnabled=True
        ),
        VALIDATION,
        INVALID + "List of GlobalSecondaryIndexUpdates is empty",
    ),
    # -- streams ----------------------------------------------------------------------------
    # [ack] DDB-TABLE-050 (re-send of the same spec), DDB-TABLE-018 stream_resend_identical
    case(
        "stream-enable-when-enabled-same-view",
        lambda d, t: d.update_table(
            TableName=t.s,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        ),
        VALIDATION,
        lambda t: f"Table already has an enabled stream: TableName: {t.s}",
    ),
    # [ack] DDB-TABLE-050, DDB-TABLE-018 stream_change_viewtype_while_enabled
    case(
        "stream-enable-when-enabled-other-view",
        lambda d, t: d.update_table(
            TableName=t.s,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        ),
        VALIDATION,
        lambda t: f"Table already has an enabled stream: TableName: {t.s}",
    ),
    # [ack] DDB-TABLE-018 stream_disabled_resend_when_no_stream; DDB-TABLE-442 live
    # val_stream_disable_none
    case(
        "stream-disable-without-stream",
        lambda d, t: d.update_table(TableName=t.h, StreamSpecification={"StreamEnabled": False}),
        VALIDATION,
        lambda t: f"Table has no stream to disable: TableName: {t.h}",
    ),
    # [ack] DDB-TABLE-050: Disable with {false,KEYS_ONLY} (on an enabled stream)
    case(
        "stream-disable-with-view-type",
        lambda d, t: d.update_table(
            TableName=t.s,
            StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
        ),
        VALIDATION,
        INVALID + "If stream is being disabled, then UpdateViewType must not be specified",
    ),
    # [ack] DDB-TABLE-050 (asked while the stream was enabled: checked first)
    case(
        "stream-enable-without-view-type-when-enabled",
        lambda d, t: d.update_table(TableName=t.s, StreamSpecification={"StreamEnabled": True}),
        VALIDATION,
        INVALID + "If stream is being enabled then UpdateViewType is required",
    ),
    # [ack] DDB-TABLE-018 stream_enabled_true_without_viewtype
    case(
        "stream-enable-without-view-type",
        lambda d, t: d.update_table(TableName=t.h, StreamSpecification={"StreamEnabled": True}),
        VALIDATION,
        INVALID + "If stream is being enabled then UpdateViewType is required",
    ),
    # [ack] DDB-TABLE-442 (ops: CreateTable)
    case(
        "createtable-stream-enabled-without-view-type",
        lambda d, t: _create(d, tname("cp-ct"), StreamSpecification={"StreamEnabled": True}),
        VALIDATION,
        INVALID + "Table is being created with a stream enabled, UpdateViewType is required",
    ),
    case(
        "createtable-stream-disabled-with-view-type",
        lambda d, t: _create(
            d,
            tname("cp-ct"),
            StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
        ),
        VALIDATION,
        INVALID + "Table is being created with a stream disabled, UpdateViewType should not "
        "be specified",
    ),
    # -- throughput -------------------------------------------------------------------------
    # [ack] DDB-TABLE-164: BillingMode=PROVISIONED alone on a PROVISIONED table
    case(
        "billing-provisioned-without-throughput",
        lambda d, t: d.update_table(TableName=t.p, BillingMode="PROVISIONED"),
        VALIDATION,
        INVALID + "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
    ),
    # [ack] DDB-TABLE-442 catalogue (full text), DDB-TABLE-164; [dynalite] updateTable.js
    case(
        "table-throughput-unchanged",
        lambda d, t: d.update_table(TableName=t.p, ProvisionedThroughput=pt(2, 2)),
        VALIDATION,
        "The provisioned throughput for the table will not change. The requested value equals "
        "the current value. Current ReadCapacityUnits provisioned for the table: 2. Requested "
        "ReadCapacityUnits: 2. Current WriteCapacityUnits provisioned for the table: 2. "
        "Requested WriteCapacityUnits: 2. Refer to the Amazon DynamoDB Developer Guide for "
        "current limits and how to request higher limits.",
    ),
    # [ack] DDB-TABLE-164: BillingMode=PROVISIONED + identical throughput -> 'will not change'
    case(
        "billing-provisioned-with-unchanged-throughput",
        lambda d, t: d.update_table(
            TableName=t.p, BillingMode="PROVISIONED", ProvisionedThroughput=pt(2, 2)
        ),
        VALIDATION,
        "The provisioned throughput for the table will not change. The requested value equals "
        "the current value. Current ReadCapacityUnits provisioned for the table: 2. Requested "
        "ReadCapacityUnits: 2. Current WriteCapacityUnits provisioned for the table: 2. "
        "Requested WriteCapacityUnits: 2. Refer to the Amazon DynamoDB Developer Guide for "
        "current limits and how to request higher limits.",
    ),
    # [ack] DDB-TABLE-164 captures the index text up to "Current WriteCapacityUnits ...";
    # the rest follows the table's text (inferred, not captured)
    case(
        "gsi-throughput-unchanged",
        lambda d, t: d.update_table(
            TableName=t.p,
            GlobalSecondaryIndexUpdates=[
                {"Update": {"IndexName": "gsi1", "ProvisionedThroughput": pt(2, 2)}}
            ],
        ),
        VALIDATION,
        "The provisioned throughput for the index gsi1 will not change. The requested value "
        "equals the current value. Current ReadCapacityUnits provisioned for index gsi1: 2. "
        "Requested ReadCapacityUnits: 2. Current WriteCapacityUnits provisioned for index "
        "gsi1: 2. Requested WriteCapacityUnits: 2. Refer to the Amazon DynamoDB Developer "
        "Guide for current limits and how to request higher limits.",
    ),
    # -- index limits and names -----------------------------------------------------------------
    # [ack] DDB-TABLE-169, DDB-TABLE-129: ValidationException at CreateTable
    case(
        "createtable-21-gsis",
        lambda d, t: make_table(
            d, tname("cp-ct"), gsis=[index(f"gsi{i}", (f"a{i}", "S")) for i in range(21)]
        ),
        VALIDATION,
        INVALID + "GlobalSecondaryIndex count exceeds the per-table limit of 20",
    ),
    # [ack] DDB-TABLE-129, DDB-TABLE-442; [dynalite] validations/createTable.js
    case(
        "createtable-6-lsis",
        lambda d, t: make_table(d, tname("cp-ct"), range=("sk", "S"), lsis=_lsis(6)),
        VALIDATION,
        INVALID + "Number of LocalSecondaryIndexes exceeds per-table limit of 5",
    ),
    # [ack] DDB-TABLE-169: LimitExceededException via UpdateTable
    case(
        "updatetable-21st-gsi",
        lambda d, t: d.update_table(
            TableName=t.g20,
            AttributeDefinitions=[{"AttributeName": "a20", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[gsi_create("gsi20", "a20")],
        ),
        "LimitExceededException",
        "Subscriber limit exceeded: Number of global secondary indexes exceeds per-table "
        "limit of 20",
    ),
    # [ack] DDB-TABLE-442 (ops: UpdateTable)
    case(
        "gsi-create-existing-name",
        lambda d, t: d.update_table(
            TableName=t.p,
            AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[gsi_create("gsi1", "x", ProvisionedThroughput=pt(1, 1))],
        ),
        VALIDATION,
        "Attempting to create an index which already exists",
    ),
    # The name is checked before the index's definition (an undefined key attribute and no
    # throughput here). An AWS-parity emulator's probe against DynamoDB: "Existing-index
    # check beats schema validation"
    case(
        "gsi-create-existing-name-before-schema",
        lambda d, t: d.update_table(
            TableName=t.p, GlobalSecondaryIndexUpdates=[gsi_create("gsi1", "undefined")]
        ),
        VALIDATION,
        "Attempting to create an index which already exists",
    ),
    # [ack] DDB-TABLE-375: "Requested resource not found: Index gsi1 for table <table>"
    case(
        "gsi-update-missing-index",
        lambda d, t: d.update_table(
            TableName=t.p,
            GlobalSecondaryIndexUpdates=[
                {"Update": {"IndexName": "nope", "ProvisionedThroughput": pt(3, 3)}}
            ],
        ),
        "ResourceNotFoundException",
        lambda t: f"Requested resource not found: Index nope for table {t.p}",
    ),
    # -- encryption ----------------------------------------------------------------------------
    # [ack] DDB-TABLE-018 sse_enabled_false_resend, DDB-TABLE-079
    case(
        "sse-disable-on-default-encryption",
        lambda d, t: d.update_table(TableName=t.h, SSESpecification={"Enabled": False}),
        VALIDATION,
        INVALID + "Table is already encrypted by default",
    ),
    # [ack] DDB-TABLE-442: "NO-OP re-send (SSESpecification {} / Enabled:false on AWS-owned key)"
    case(
        "sse-empty-spec-on-default-encryption",
        lambda d, t: d.update_table(TableName=t.h, SSESpecification={}),
        VALIDATION,
        INVALID + "Table is already encrypted by default",
    ),
    # [ack] DDB-TABLE-442 (ops: CreateTable, UpdateTable) and its 'also' variants
    case(
        "sse-type-with-enabled-false",
        lambda d, t: d.update_table(
            TableName=t.h, SSESpecification={"Enabled": False, "SSEType": "KMS"}
        ),
        VALIDATION,
        INVALID + "SSEType can not be specified if Enabled is false",
    ),
    case(
        "sse-key-without-sse-type",
        lambda d, t: d.update_table(
            TableName=t.h, SSESpecification={"Enabled": True, "KMSMasterKeyId": CMK}
        ),
        VALIDATION,
        INVALID + "SSEType KMS is required if KMSMasterKeyId is specified",
    ),
    case(
        "createtable-sse-aes256",
        lambda d, t: _create(
            d, tname("cp-ct"), SSESpecification={"Enabled": True, "SSEType": "AES256"}
        ),
        VALIDATION,
        INVALID + "SSEType AES256 is not supported",
    ),
]


@pytest.mark.parametrize(("call", "code", "message"), CASES)
def test_error(ddb, t, call, code, message):
    with pytest.raises(ClientError) as exc:
        call(ddb, t)
    assert_error(exc, code, message(t) if callable(message) else message)


# --------------------------------------------------------------------------- no-op re-sends


def test_refused_updates_change_nothing(ddb):
    """A refused UpdateTable applies none of its members ([ack] DDB-TABLE-359: "the carrier
    change is NOT applied"; DDB-TABLE-380: rejected multi-member calls are atomic)."""
    name = make_table(
        ddb,
        tname("cp-atomic"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    for kw in (
        {"GlobalSecondaryIndexUpdates": [], "DeletionProtectionEnabled": True},
        {
            "DeletionProtectionEnabled": True,
            "StreamSpecification": {"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
        },
        {"TableClass": "STANDARD_INFREQUENT_ACCESS", "SSESpecification": {"Enabled": False}},
    ):
        with pytest.raises(ClientError):
            ddb.update_table(TableName=name, **kw)
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["DeletionProtectionEnabled"] is False
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert "TableClassSummary" not in table


def test_global_table_members_change_nothing_when_refused(ddb):
    """A witness or a multi-region consistency beside a change of the table is refused, and
    so is a multi-account replica of a table of the caller's own account. Nothing else in
    any of these requests is applied (replicas themselves are
    test_dynamodb_global_tables.py's, MRSC groups test_dynamodb_mrsc.py's, multi-account
    ones test_dynamodb_multi_account_global_tables.py's)."""
    name = make_table(
        ddb,
        tname("cp-global"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for member, value in (
        ("GlobalTableWitnessUpdates", [{"Create": {"RegionName": "us-west-2"}}]),
        ("MultiRegionConsistency", "STRONG"),
    ):
        with pytest.raises(ClientError) as exc:
            ddb.update_table(TableName=name, DeletionProtectionEnabled=True, **{member: value})
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert exc.value.response["Error"]["Code"] == "ValidationException"
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["DeletionProtectionEnabled"] is False and "Replicas" not in table
    replica = tname("cp-global-src")
    with pytest.raises(ClientError) as exc:
        make_table(
            ddb,
            replica,
            GlobalTableSourceArn=table["TableArn"],
            GlobalTableSettingsReplicationMode="ENABLED",
        )
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert replica not in ddb.list_tables()["TableNames"]


def test_update_table_changes_one_concern_at_a_time(ddb):
    """[ack] DDB-TABLE-382 (the pairwise matrix on idle tables), DDB-TABLE-174 (an index
    Create beside each member) and DDB-TABLE-156 (BillingMode beside deletion protection):
    the refused pairs get AWS's texts and change nothing; the pairs AWS takes are applied."""
    provisioned = tname("cp-pair")
    ddb.create_table(
        TableName=provisioned,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gi1",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
    )
    ppr = make_table(ddb, tname("cp-pair"))
    pt = {"ProvisionedThroughput": {"ReadCapacityUnits": 11, "WriteCapacityUnits": 11}}
    stream = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}
    dp = {"DeletionProtectionEnabled": True}
    sse = {"SSESpecification": {"Enabled": True, "SSEType": "KMS"}}
    tc = {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    warm = {"WarmThroughput": {"ReadUnitsPerSecond": 20000}}
    odt = {"OnDemandThroughput": {"MaxReadRequestUnits": 100}}
    create = {
        "AttributeDefinitions": [{"AttributeName": "h", "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [
            {
                "Create": {
                    "IndexName": "gi2",
                    "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                }
            }
        ],
    }
    delete = {"GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "gi1"}}]}
    alone = "modification must be the only operation in the request"
    for table, pair, text in (
        (provisioned, {**dp, "BillingMode": "PROVISIONED", **pt}, f"DeletionProtection {alone}"),
        (provisioned, {**dp, **stream}, f"DeletionProtection {alone}"),
        (provisioned, {**sse, **pt}, f"Server-Side Encryption {alone}"),
        (provisioned, {**tc, **stream}, f"TableClass {alone}"),
        (ppr, {**odt, **stream}, "OnDemandThroughput can only be combined with BillingMode"),
        (ppr, {**warm, **stream}, "WarmThroughput must be the only operation in the request"),
        (ppr, {**warm, **create}, "Create global secondary index cannot be specified when"),
        (
            provisioned,
            {**pt, **stream},
            "You cannot modify stream status while updating table IOPS",
        ),
        (
            provisioned,
            {**pt, **delete},
            "You cannot create or delete index while updating table IOPS",
        ),
        (
            provisioned,
            {**pt, **create},
            "You cannot create or delete index while updating table IOPS",
        ),
        (
            ppr,
            {**stream, **create},
            "You cannot create or delete index while changing stream status",
        ),
    ):
        before = ddb.describe_table(TableName=table)["Table"]
        with pytest.raises(ClientError) as exc:
            ddb.update_table(TableName=table, **pair)
        error = exc.value.response["Error"]
        assert error["Code"] == "ValidationException", pair
        assert error["Message"].startswith(f"One or more parameter values were invalid: {text}"), (
            pair,
            error["Message"],
        )
        after = ddb.describe_table(TableName=table)["Table"]
        assert after.get("StreamSpecification") == before.get("StreamSpecification")
        assert after["DeletionProtectionEnabled"] is False
    # Accepted: a switch to PAY_PER_REQUEST with a stream change, and with
    # OnDemandThroughput; an index Create with a GSI Update.
    ddb.update_table(
        TableName=provisioned,
        AttributeDefinitions=create["AttributeDefinitions"],
        GlobalSecondaryIndexUpdates=[
            *create["GlobalSecondaryIndexUpdates"],
            {
                "Update": {
                    "IndexName": "gi1",
                    "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
                }
            },
        ],
    )
    indexes = ddb.describe_table(TableName=provisioned)["Table"]["GlobalSecondaryIndexes"]
    assert sorted(ix["IndexName"] for ix in indexes) == ["gi1", "gi2"]
    ddb.get_waiter("table_exists").wait(TableName=provisioned)
    for _ in range(100):
        indexes = ddb.describe_table(TableName=provisioned)["Table"]["GlobalSecondaryIndexes"]
        if all(ix["IndexStatus"] == "ACTIVE" for ix in indexes):
            break
        time.sleep(0.05)
    ddb.update_table(TableName=provisioned, BillingMode="PAY_PER_REQUEST", **stream)
    table = ddb.describe_table(TableName=provisioned)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"]["StreamEnabled"] is True
    ddb.update_table(TableName=ppr, BillingMode="PAY_PER_REQUEST", **odt)
    assert (
        ddb.describe_table(TableName=ppr)["Table"]["OnDemandThroughput"]["MaxReadRequestUnits"]
        == 100
    )


def test_billing_and_protection_resends_are_accepted(ddb):
    """[ack] DDB-TABLE-018: billing_ppr_resend and dp_true_resend are 200; the re-sent
    BillingMode does not move BillingModeSummary (nothing in the captures says it does)."""
    name = make_table(ddb, tname("cp-resend"))
    before = ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"]
    time.sleep(0.05)
    out = ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert out["TableStatus"] == "ACTIVE"
    assert out["BillingModeSummary"] == before
    assert ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"] == before
    for _ in range(2):
        ddb.update_table(TableName=name, DeletionProtectionEnabled=True)
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)


def test_stream_disable_then_disable_again(ddb):
    """[ack] DDB-TABLE-050: enable, disable, disable again (refused), re-enable (new ARN)."""
    name = make_table(ddb, tname("cp-stream"))
    first = ddb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )["TableDescription"]["LatestStreamArn"]
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert_error(exc, VALIDATION, f"Table has no stream to disable: TableName: {name}")
    table = ddb.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table and table["LatestStreamArn"] == first
    again = ddb.update_table(
        TableName=name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    assert again["LatestStreamArn"] != first


def test_partial_throughput_change_is_accepted(ddb):
    """[ack] DDB-TABLE-164: changing only WriteCapacityUnits (2/2 -> 2/3) is accepted, for
    the table and for a GSI."""
    name = provisioned_table(ddb, tname("cp-partial"), pt(2, 2), pt(2, 2))
    ddb.update_table(TableName=name, ProvisionedThroughput=pt(2, 3))
    ddb.update_table(
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "gsi1", "ProvisionedThroughput": pt(2, 3)}}
        ],
    )
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"] == 3


# --------------------------------------------------------------------------- encryption


def test_sse_disable_answers_the_old_key_and_drops_the_description(ddb):
    """[ack] DDB-TABLE-079, DDB-TABLE-140: Enabled:false on a KMS table answers the old key
    with Status UPDATING (also LocalStack's AWS-recorded update-table-disable-sse-spec; AWS
    takes ~22 s, cloudlet applies at once), after which DescribeTable has no
    SSEDescription and a second Enabled:false is refused."""
    name = tname("cp-sse")
    created = _create(
        ddb, name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": CMK}
    )["TableDescription"]
    assert created["SSEDescription"] == {
        "Status": "ENABLED",
        "SSEType": "KMS",
        "KMSMasterKeyArn": CMK,
    }
    out = ddb.update_table(TableName=name, SSESpecification={"Enabled": False})
    assert out["TableDescription"]["SSEDescription"] == {
        "Status": "UPDATING",
        "SSEType": "KMS",
        "KMSMasterKeyArn": CMK,
    }
    assert "SSEDescription" not in ddb.describe_table(TableName=name)["Table"]
    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, SSESpecification={"Enabled": False})
    assert_error(exc, VALIDATION, INVALID + "Table is already encrypted by default")


def test_sse_managed_key_is_a_key_arn_and_exact_resend_is_refused(ddb):
    """[ack] DDB-TABLE-141: Enabled:true uses the account's aws/dynamodb key, reported by a
    key ARN (key/<uuid>); re-sending {Enabled:true} is accepted, re-sending that exact ARN
    is refused (DDB-TABLE-082); from a CMK, Enabled:true moves to the managed key
    (DDB-TABLE-140)."""
    one = _create(ddb, tname("cp-sse-m"), SSESpecification={"Enabled": True})
    managed = one["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"]
    assert KEY_ARN.fullmatch(managed)
    name = tname("cp-sse-m")
    _create(ddb, name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": CMK})
    moved = ddb.update_table(TableName=name, SSESpecification={"Enabled": True})
    assert moved["TableDescription"]["SSEDescription"] == {
        "Status": "ENABLED",
        "SSEType": "KMS",
        "KMSMasterKeyArn": managed,  # one key per account and region
    }
    ddb.update_table(TableName=name, SSESpecification={"Enabled": True, "SSEType": "KMS"})
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=name,
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": managed},
        )
    assert_error(
        exc,
        VALIDATION,
        INVALID + "Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId "
        "parameter if you want to change Master Key",
    )
    by_alias = ddb.update_table(
        TableName=name,
        SSESpecification={
            "Enabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": "alias/aws/dynamodb",
        },
    )
    assert by_alias["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"] == managed


# --------------------------------------------------------------------------- capacity bookkeeping


def _capacity(ddb, name: str) -> tuple[dict, dict]:
    table = ddb.describe_table(TableName=name)["Table"]
    return table["ProvisionedThroughput"], table["GlobalSecondaryIndexes"][0][
        "ProvisionedThroughput"
    ]


def change_capacity(ddb, name: str) -> None:
    """Table 5/5 -> 4/4 (decrease) -> 6/6 (increase) -> 5/7 (both); GSI 5/5 -> 3/3."""
    for r, w in ((4, 4), (6, 6), (5, 7)):
        ddb.update_table(TableName=name, ProvisionedThroughput=pt(r, w))
    ddb.update_table(
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "gsi1", "ProvisionedThroughput": pt(3, 3)}}
        ],
    )


def check_capacity(ddb, name: str) -> None:
    table, gsi = _capacity(ddb, name)
    assert table["NumberOfDecreasesToday"] == 2
    assert table["LastDecreaseDateTime"] >= table["LastIncreaseDateTime"]
    assert (table["ReadCapacityUnits"], table["WriteCapacityUnits"]) == (5, 7)
    assert gsi["NumberOfDecreasesToday"] == 1
    assert "LastIncreaseDateTime" not in gsi
    assert isinstance(gsi["LastDecreaseDateTime"], datetime)


def test_throughput_changes_are_recorded(ddb):
    """A decrease counts in NumberOfDecreasesToday and sets LastDecreaseDateTime, an increase
    sets LastIncreaseDateTime; a read-down/write-up change is both and one decrease
    ([ack] DDB-TABLE-157, DDB-TABLE-138); the table and each GSI count apart (DDB-TABLE-157)."""
    name = provisioned_table(ddb, tname("cp-cap"), pt(5, 5), pt(5, 5))
    table, gsi = _capacity(ddb, name)
    assert table["NumberOfDecreasesToday"] == 0 and "LastDecreaseDateTime" not in table
    start = time.time()
    ddb.update_table(TableName=name, ProvisionedThroughput=pt(4, 4))
    table, _ = _capacity(ddb, name)
    assert table["NumberOfDecreasesToday"] == 1 and "LastIncreaseDateTime" not in table
    assert table["LastDecreaseDateTime"].timestamp() >= start - 1
    ddb.update_table(TableName=name, ProvisionedThroughput=pt(6, 6))
    table, _ = _capacity(ddb, name)
    assert table["NumberOfDecreasesToday"] == 1 and "LastIncreaseDateTime" in table
    ddb.update_table(TableName=name, ProvisionedThroughput=pt(5, 7))
    ddb.update_table(
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "gsi1", "ProvisionedThroughput": pt(3, 3)}}
        ],
    )
    check_capacity(ddb, name)


# --------------------------------------------------------------------------- restores


def test_restored_tables_describe_their_restore(ddb):
    """DescribeTable of a restored table has the RestoreSummary the restore answered
    (API reference, TableDescription.RestoreSummary)."""
    source = make_table(ddb, tname("cp-src"))
    ddb.update_continuous_backups(
        TableName=source, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    backup = ddb.create_backup(TableName=source, BackupName="bk1")["BackupDetails"]
    restored = tname("cp-rb")
    answered = ddb.restore_table_from_backup(
        TargetTableName=restored, BackupArn=backup["BackupArn"]
    )["TableDescription"]["RestoreSummary"]
    described = ddb.describe_table(TableName=restored)["Table"]["RestoreSummary"]
    assert described == answered
    assert described["SourceBackupArn"] == backup["BackupArn"]
    assert described["SourceTableArn"].endswith(f":table/{source}")
    assert described["RestoreDateTime"] == backup["BackupCreationDateTime"]
    assert described["RestoreInProgress"] is False

    pitr = tname("cp-rp")
    answered = ddb.restore_table_to_point_in_time(
        SourceTableName=source, TargetTableName=pitr, UseLatestRestorableTime=True
    )["TableDescription"]["RestoreSummary"]
    described = ddb.describe_table(TableName=pitr)["Table"]["RestoreSummary"]
    assert described == answered
    assert "SourceBackupArn" not in described
    assert described["SourceTableArn"].endswith(f":table/{source}")
    assert described["RestoreInProgress"] is False
    assert "RestoreSummary" not in ddb.describe_table(TableName=source)["Table"]


# --------------------------------------------------------------------------- restarts


def test_capacity_history_and_restore_summary_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = client(server)
        provisioned_table(ddb, "cap", pt(5, 5), pt(5, 5))
        change_capacity(ddb, "cap")
        backup = ddb.create_backup(TableName="cap", BackupName="bk1")["BackupDetails"]["BackupArn"]
        ddb.restore_table_from_backup(TargetTableName="cap-restored", BackupArn=backup)
        before = ddb.describe_table(TableName="cap-restored")["Table"]["RestoreSummary"]
        capacity = _capacity(ddb, "cap")
    finally:
        server.kill()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = client(server)
        check_capacity(ddb, "cap")
        assert _capacity(ddb, "cap") == capacity
        assert ddb.describe_table(TableName="cap-restored")["Table"]["RestoreSummary"] == before
        # A restored table starts its own capacity history.
        restored, _ = _capacity(ddb, "cap-restored")
        assert restored["NumberOfDecreasesToday"] == 0 and "LastDecreaseDateTime" not in restored
    finally:
        server.stop()
