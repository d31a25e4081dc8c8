"""DynamoDB requests a fuzzing pass found answered with a 500 or left state corrupt.

Each test drives the real server (boto3, or raw JSON POSTs where boto3 would refuse
the value or serialize it differently) and checks that the request gets AWS's 400
error and that nothing changed. One test per finding; the expected messages are
AWS's own where known (see test_dynamodb_errors.py for the sources).
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.services.dynamodb.streams import decode_iterator, encode_iterator
from tests.services.dynamodb_helpers import (
    ENVELOPE,
    OVERFLOW,
    UNDERFLOW,
    N,
    S,
    client,
    index,
    make_table,
    tname,
    wait_import,
)
from tests.services.s3_helpers import bname

VALIDATION = "ValidationException"
INVALID = "One or more parameter values were invalid: "
INDEX_KEY_MISMATCH = "The provided key element does not match the schema"
HASH_TOO_BIG = INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes"
RANGE_TOO_BIG = (
    INVALID + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
)
TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
    "beyond supported limit"
)


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def loose(cloudlet_server):
    """A client that lets values botocore would refuse (Limit=0, []) reach the server."""
    return client(cloudlet_server, validate=False)


@pytest.fixture(scope="module")
def streams(cloudlet_server):
    return cloudlet_server.client(
        "dynamodbstreams",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def raw(cloudlet_server):
    """``raw(op, body, prefix=...)`` -> (HTTP status, parsed JSON): a POST as any client could
    send it, for values no SDK would serialize (ISO times, crafted tokens)."""

    def call(op: str, body: Any, prefix: str = "DynamoDB_20120810") -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        service = "dynamodb" if prefix.startswith("DynamoDB_") else "streams.dynamodb"
        cred = f"test/20260101/us-east-1/{service}/aws4_request"
        req = urllib.request.Request(
            cloudlet_server.endpoint + "/",
            data=data,
            method="POST",
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"{prefix}.{op}",
                "Authorization": (
                    f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00"
                ),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    return call


def error(exc) -> tuple[str, str]:
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    return response["Error"]["Code"], response["Error"]["Message"]


def raw_error(result: tuple[int, dict]) -> tuple[str, str]:
    status, body = result
    assert status == 400, result
    return body["__type"].split("#")[-1], body.get("message") or body.get("Message")


def constraint(value: str | None, member: str, rule: str) -> str:
    shown = "Value" if value is None else f"Value '{value}'"
    return f"{ENVELOPE}{shown} at '{member}' failed to satisfy constraint: {rule}"


def enum(value: str, member: str, allowed: str) -> str:
    return constraint(value, member, f"Member must satisfy enum value set: [{allowed}]")


# --------------------------------------------------------------------------- 1


def test_update_table_changes_nothing_when_it_fails(ddb, loose):
    """UpdateTable checks everything before changing anything: a refused request leaves the
    table as it was (billing, indexes, stream), and the refused index can be made later."""
    name = make_table(ddb, tname("ut-atomic"))
    before = ddb.describe_table(TableName=name)["Table"]

    with pytest.raises(ClientError) as exc:
        ddb.update_table(TableName=name, BillingMode="PROVISIONED")
    # [ack] DDB-TABLE-152: UpdateTable's text (CreateTable's is "ReadCapacityUnits and ...")
    assert error(exc) == (
        VALIDATION,
        INVALID + "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
    )
    with pytest.raises(ClientError) as exc:
        loose.update_table(TableName=name, BillingMode="JUNK")
    assert error(exc) == (
        VALIDATION,
        enum("JUNK", "billingMode", "PROVISIONED, PAY_PER_REQUEST"),
    )
    gsi = {
        "Create": {
            "IndexName": "gsi1",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    }
    # The index is made on the copy, then the update of a missing index refuses the lot.
    # [ack] DDB-TABLE-375 (text), DDB-TABLE-380 (valid members of the call not applied)
    with pytest.raises(ClientError) as exc:
        ddb.update_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[
                gsi,
                {"Update": {"IndexName": "nope", "OnDemandThroughput": {"MaxReadRequestUnits": 5}}},
            ],
        )
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Index nope for table {name}",
    )

    after = ddb.describe_table(TableName=name)["Table"]
    assert after["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert after["ProvisionedThroughput"] == before["ProvisionedThroughput"]
    assert "GlobalSecondaryIndexes" not in after
    assert after["AttributeDefinitions"] == before["AttributeDefinitions"]

    # Nothing was left behind: the same index can be made now, and it gets ACTIVE.
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[gsi],
    )
    deadline = time.monotonic() + 10
    while True:
        table = ddb.describe_table(TableName=name)["Table"]
        status = table["GlobalSecondaryIndexes"][0]["IndexStatus"]
        if status == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


# --------------------------------------------------------------------------- 2


def test_update_table_creates_or_deletes_one_index_at_a_time(ddb):
    name = make_table(ddb, tname("ut-one-gsi"))
    defs = [{"AttributeName": a, "AttributeType": "S"} for a in ("g", "h")]

    def create(index_name: str, attr: str) -> dict[str, Any]:
        keys = [{"AttributeName": attr, "KeyType": "HASH"}]
        projection = {"ProjectionType": "ALL"}
        return {"Create": {"IndexName": index_name, "KeySchema": keys, "Projection": projection}}

    for updates in (
        [create("gsi1", "g"), create("hsi1", "h")],
        [create("gsi1", "g"), {"Delete": {"IndexName": "gsi1"}}],
    ):
        with pytest.raises(ClientError) as exc:
            ddb.update_table(
                TableName=name, AttributeDefinitions=defs, GlobalSecondaryIndexUpdates=updates
            )
        assert error(exc) == (
            "LimitExceededException",
            "Subscriber limit exceeded: Only 1 online index can be created or deleted "
            "simultaneously per table",
        )
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=name)["Table"]


def test_numbers_out_of_range_or_malformed(ddb, loose, raw):
    """Exponents no decimal context holds are overflow/underflow errors, not 500s and not
    a silent 0; texts Java's BigDecimal would not read are not numbers."""
    table = make_table(ddb, tname("num"))
    ntable = make_table(ddb, tname("num-n"), hash=("pk", "N"))
    for text, message in (
        ("1e999999999999", OVERFLOW),
        ("-1e999999999999", OVERFLOW),
        ("1e-999999999999", UNDERFLOW),
        # An exponent past a 64-bit integer is not a number at all (paritysuite numberExponent).
        (
            "1e" + "9" * 5000,
            "The parameter cannot be converted to a numeric value: 1e" + "9" * 5000,
        ),
    ):
        with pytest.raises(ClientError) as exc:
            ddb.put_item(TableName=table, Item={"pk": S("a"), "n": N(text)})
        assert error(exc) == (VALIDATION, ENVELOPE + message)
        with pytest.raises(ClientError) as exc:
            ddb.get_item(TableName=ntable, Key={"pk": N(text)})
        assert error(exc) == (VALIDATION, message)
        with pytest.raises(ClientError) as exc:
            ddb.scan(
                TableName=table,
                FilterExpression="n = :v",
                ExpressionAttributeValues={":v": N(text)},
            )
        assert error(exc) == (VALIDATION, message)
    with pytest.raises(ClientError) as exc:
        ddb.execute_statement(
            Statement=f"SELECT * FROM \"{table}\" WHERE pk = 'a' AND n = 1e999999999999"
        )
    assert error(exc) == (VALIDATION, OVERFLOW)

    for text in ("1_000", "\u0661\u0662", " 1", "1 ", "NaN", "Infinity"):
        with pytest.raises(ClientError) as exc:
            ddb.put_item(TableName=table, Item={"pk": S("a"), "n": N(text)})
        assert error(exc) == (
            VALIDATION,
            ENVELOPE + f"The parameter cannot be converted to a numeric value: {text}",
        )
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": S("a")})

    # What Java's BigDecimal reads stays accepted, in canonical form.
    for text, stored in (("+5", "5"), ("1.", "1"), (".5", "0.5"), ("1E+2", "100")):
        ddb.put_item(TableName=table, Item={"pk": S(text), "n": N(text)})
        got = ddb.get_item(TableName=table, Key={"pk": S(text)})["Item"]["n"]
        assert got == N(stored)


def test_import_counts_a_bad_number_as_an_item_error(ddb, aws_client):
    """One record with an unstorable number is one skipped item, not a failed import."""
    s3 = aws_client("s3")
    bucket = bname("ddb-imp-num")
    s3.create_bucket(Bucket=bucket)
    lines = [
        {"Item": {"pk": S("ok1")}},
        {"Item": {"pk": S("bad"), "n": N("1e999999999999")}},
        {"Item": {"pk": S("bad2"), "n": N("1_000")}},
        {"Item": {"pk": S("ok2")}},
    ]
    body = gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    s3.put_object(Bucket=bucket, Key="in/data.json.gz", Body=body)
    name = tname("imp-num")
    desc = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "in/"},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )["ImportTableDescription"]
    done = wait_import(ddb, desc["ImportArn"])
    # cloudlet reports skipped items as AWS does: the import "fails" with ItemValidationError
    # but loads every valid item (an InternalError would have loaded nothing).
    assert done["ImportStatus"] == "FAILED", done
    assert done["FailureCode"] == "ItemValidationError"
    assert done["ErrorCount"] == 2
    assert done["ImportedItemCount"] == 2
    keys = sorted(i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"])
    assert keys == ["ok1", "ok2"]


# --------------------------------------------------------------------------- 3


def test_exclusive_start_key_with_wrong_index_key_types(ddb):
    """An ExclusiveStartKey whose index key attribute is not of the index's type (a BOOL,
    a map, another scalar type) is an invalid starting key, on a GSI and on an LSI: AWS's
    plain schema text (dynalite's query.js and scan.js "...does not match schema for
    local/global index", checked against DynamoDB)."""
    name = make_table(
        ddb,
        tname("esk"),
        range=("sk", "N"),
        gsis=[index("gsi", ("g", "S"), ("gs", "N"))],
        lsis=[index("lsi", ("pk", "S"), ("ls", "B"))],
    )
    for i in range(3):
        ddb.put_item(
            TableName=name,
            Item={
                "pk": S("h"),
                "sk": N(str(i)),
                "g": S("G"),
                "gs": N(str(i)),
                "ls": {"B": bytes([i + 1])},
            },
        )
    base = {"pk": S("h"), "sk": N("0")}
    gsi_keys = [
        {**base, "g": {"BOOL": True}, "gs": N("0")},
        {**base, "g": S("G"), "gs": {"L": [N("1")]}},
        {**base, "g": N("1"), "gs": N("0")},
        {**base, "g": S("G"), "gs": S("0")},
    ]
    for esk in gsi_keys:
        with pytest.raises(ClientError) as exc:
            ddb.query(
                TableName=name,
                IndexName="gsi",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": S("G")},
                ExclusiveStartKey=esk,
            )
        assert error(exc) == (VALIDATION, INDEX_KEY_MISMATCH)
        with pytest.raises(ClientError) as exc:
            ddb.scan(TableName=name, IndexName="gsi", ExclusiveStartKey=esk)
        assert error(exc) == (VALIDATION, INDEX_KEY_MISMATCH)
    for bad in ({"M": {"x": S("y")}}, {"BOOL": False}, S("x")):
        with pytest.raises(ClientError) as exc:
            ddb.query(
                TableName=name,
                IndexName="lsi",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S("h")},
                ExclusiveStartKey={**base, "ls": bad},
            )
        assert error(exc) == (VALIDATION, INDEX_KEY_MISMATCH)
    # A well-typed start key still pages.
    page = ddb.query(
        TableName=name,
        IndexName="gsi",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": S("G")},
        ExclusiveStartKey={**base, "g": S("G"), "gs": N("0")},
    )
    assert [i["gs"]["N"] for i in page["Items"]] == ["1", "2"]


# --------------------------------------------------------------------------- 4


def test_scan_segment_must_not_be_negative(ddb, loose):
    name = make_table(ddb, tname("seg"))
    for segment in (-1, -(2**62)):
        with pytest.raises(ClientError) as exc:
            loose.scan(TableName=name, Segment=segment, TotalSegments=2)
        assert error(exc) == (
            VALIDATION,
            constraint(
                str(segment), "segment", "Member must have value greater than or equal to 0"
            ),
        )
    with pytest.raises(ClientError) as exc:
        loose.scan(TableName=name, Segment=1000000, TotalSegments=2)
    assert error(exc) == (
        VALIDATION,
        constraint("1000000", "segment", "Member must have value less than or equal to 999999"),
    )


# --------------------------------------------------------------------------- 5


def test_list_tags_of_resource_junk_next_token(ddb):
    name = make_table(ddb, tname("tags"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    for token in ("junk", "-1", "\u0661", "9" * 5000):
        with pytest.raises(ClientError) as exc:
            ddb.list_tags_of_resource(ResourceArn=arn, NextToken=token)
        assert error(exc) == (VALIDATION, f"Invalid NextToken: {token}")
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]


# --------------------------------------------------------------------------- 6


def test_list_exports_max_results_range(loose):
    for value, rule in (
        (-5, "greater than or equal to 1"),
        (0, "greater than or equal to 1"),
        (26, "less than or equal to 25"),
    ):
        with pytest.raises(ClientError) as exc:
            loose.list_exports(MaxResults=value)
        assert error(exc) == (
            VALIDATION,
            constraint(str(value), "maxResults", f"Member must have value {rule}"),
        )
    assert "ExportSummaries" in loose.list_exports(MaxResults=25)


# --------------------------------------------------------------------------- 7


def test_point_in_time_far_outside_datetime_range(ddb, raw):
    """Times that UTC cannot even hold are refused with a 400 (the JSON protocol now answers
    SerializationException for them before DynamoDB sees them; DynamoDB's own messages
    render any time it is given), and times outside the window answer the Invalid*Time
    errors with the time as given."""
    name = make_table(ddb, tname("pitr"))
    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    target = tname("pitr-r")
    outside = {"InvalidRestoreTimeException", "InvalidExportTimeException"}
    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        restore = {"SourceTableName": name, "TargetTableName": target, "RestoreDateTime": when}
        code, _ = raw_error(raw("RestoreTableToPointInTime", restore))
        assert code in outside | {"SerializationException"}
        export = {"TableArn": arn, "S3Bucket": bname("never"), "ExportTime": when}
        code, _ = raw_error(raw("ExportTableToPointInTime", export))
        assert code in outside | {"SerializationException"}
        incremental = {
            "TableArn": arn,
            "S3Bucket": bname("never"),
            "ExportType": "INCREMENTAL_EXPORT",
            "IncrementalExportSpecification": {"ExportFromTime": when, "ExportToTime": when},
        }
        code, _ = raw_error(raw("ExportTableToPointInTime", incremental))
        assert code in outside | {"SerializationException", VALIDATION}

    early = "1970-01-01T00:00:00+14:00"
    code, message = raw_error(
        raw(
            "RestoreTableToPointInTime",
            {"SourceTableName": name, "TargetTableName": target, "RestoreDateTime": early},
        )
    )
    assert code == "InvalidRestoreTimeException"
    assert message.startswith("RestoreDateTime '1969-12-31T10:00:00Z' must be within ")
    code, message = raw_error(
        raw(
            "ExportTableToPointInTime",
            {"TableArn": arn, "S3Bucket": bname("never"), "ExportTime": early},
        )
    )
    assert (code, message) == ("InvalidExportTimeException", "Export Time is invalid")
    assert target not in ddb.list_tables()["TableNames"]


# --------------------------------------------------------------------------- 8


def test_partiql_crafted_next_tokens(ddb):
    name = make_table(ddb, tname("pq-tok"))
    statement = f'SELECT * FROM "{name}"'

    def token(doc: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()

    for bad in (
        token([]),
        token({"f": "x", "i": 1e400, "k": None}),
        token({"f": "x", "i": 10**30, "k": None}),
        token({"f": "x", "i": -1, "k": None}),
        token({"f": "x", "i": 0, "k": [1]}),
        token({"f": "x", "i": 0, "k": {"pk": "S"}}),
        token({"f": "x", "i": 0, "k": {"pk": ["B", "!!"]}}),
        base64.urlsafe_b64encode(b"[" * 100000).decode(),
        "not base64 at all",
    ):
        with pytest.raises(ClientError) as exc:
            ddb.execute_statement(Statement=statement, NextToken=bad)
        assert error(exc) == (VALIDATION, "Invalid NextToken")


# --------------------------------------------------------------------------- 9


def test_list_index_digits(ddb):
    """A list index of thousands of digits, or of non-ASCII digits, is a client error in
    PartiQL and in expressions."""
    name = make_table(ddb, tname("pq-idx"))
    ddb.put_item(TableName=name, Item={"pk": S("k"), "a": {"L": [S("x")]}})
    huge = "9" * 5000
    with pytest.raises(ClientError) as exc:
        ddb.execute_statement(Statement=f"SELECT a[{huge}] FROM \"{name}\" WHERE pk = 'k'")
    assert error(exc) == (
        VALIDATION,
        f"List index is not within the allowable range; index: [{huge}]",
    )
    for digit in ("\u00b2", "\u0661"):
        with pytest.raises(ClientError) as exc:
            ddb.execute_statement(Statement=f"SELECT a[{digit}] FROM \"{name}\" WHERE pk = 'k'")
        code, message = error(exc)
        assert code == VALIDATION
        assert message.startswith("Statement wasn't well formed")
    res = ddb.execute_statement(Statement=f"SELECT a[0] FROM \"{name}\" WHERE pk = 'k'")
    assert res["Items"] == [{"a[0]": S("x")}]
    big = "4" * 11
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=name, Key={"pk": S("k")}, ProjectionExpression=f"a[{big}]")
    assert error(exc) == (
        VALIDATION,
        f"Invalid ProjectionExpression: List index is not within the allowable range; "
        f"index: [{big}]",
    )


# --------------------------------------------------------------------------- 10


def test_stream_sequence_numbers_and_forged_iterators(ddb, streams):
    name = make_table(
        ddb,
        tname("strm"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    ddb.put_item(TableName=name, Item={"pk": S("a")})
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    huge = "9" * 5000
    for kind in ("AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER"):
        with pytest.raises(ClientError) as exc:
            streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType=kind, SequenceNumber=huge
            )
        assert error(exc) == (
            VALIDATION,
            constraint(huge, "sequenceNumber", "Member must have length less than or equal to 40"),
        )
    good = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    it_arn, it_shard, _pos, _issued = decode_iterator(good)
    now = time.time()
    forged = [
        encode_iterator(it_arn, it_shard, 2**63, now),
        encode_iterator(it_arn, it_shard, 10**30, now),
        encode_iterator(it_arn, it_shard, 0, 10**397),  # issued at 10**400 ms
    ]
    for it in forged:
        with pytest.raises(ClientError) as exc:
            streams.get_records(ShardIterator=it)
        assert error(exc) == (VALIDATION, "Invalid ShardIterator")
    assert len(streams.get_records(ShardIterator=good)["Records"]) == 1


# --------------------------------------------------------------------------- 11


def test_names_with_a_trailing_newline(ddb):
    pattern = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    name = tname("nl") + "\n"
    with pytest.raises(ClientError) as exc:
        make_table(ddb, name)
    assert error(exc) == (VALIDATION, constraint(name, "tableName", pattern))
    with pytest.raises(ClientError) as exc:
        make_table(ddb, tname("nl"), gsis=[index("gsi\n", ("g", "S"))])
    assert error(exc) == (VALIDATION, constraint("gsi\n", "indexName", pattern))
    table = make_table(ddb, tname("nl"))
    with pytest.raises(ClientError) as exc:
        ddb.create_backup(TableName=table, BackupName="bk-nl\n")
    assert error(exc) == (VALIDATION, constraint("bk-nl\n", "backupName", pattern))
    assert not [n for n in ddb.list_tables()["TableNames"] if "\n" in n]


# --------------------------------------------------------------------------- 12


def test_key_size_limits(ddb):
    table = make_table(ddb, tname("ksz"), range=("sk", "S"))
    btable = make_table(ddb, tname("ksz-b"), hash=("pk", "B"))
    gtable = make_table(ddb, tname("ksz-g"), gsis=[index("gsi", ("g", "S"), ("gr", "B"))])
    # At the limits: stored.
    ddb.put_item(TableName=table, Item={"pk": S("h" * 2048), "sk": S("r" * 1024)})
    ddb.put_item(TableName=btable, Item={"pk": {"B": b"\x01" * 2048}})
    ddb.put_item(
        TableName=gtable, Item={"pk": S("a"), "g": S("g" * 2048), "gr": {"B": b"r" * 1024}}
    )
    too_big = [
        (table, {"pk": S("h" * 2049), "sk": S("r")}, HASH_TOO_BIG),
        (table, {"pk": S("\u00e9" * 1025), "sk": S("r")}, HASH_TOO_BIG),  # 2050 UTF-8 bytes
        (table, {"pk": S("h"), "sk": S("r" * 1025)}, RANGE_TOO_BIG),
        (btable, {"pk": {"B": b"\x01" * 2049}}, HASH_TOO_BIG),
        (gtable, {"pk": S("b"), "g": S("g" * 2049)}, HASH_TOO_BIG),
        (gtable, {"pk": S("b"), "g": S("g"), "gr": {"B": b"r" * 1025}}, RANGE_TOO_BIG),
    ]
    for name, item, message in too_big:
        with pytest.raises(ClientError) as exc:
            ddb.put_item(TableName=name, Item=item)
        assert error(exc) == (VALIDATION, message)
        with pytest.raises(ClientError) as exc:
            ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": item}}]})
        assert error(exc) == (VALIDATION, message)
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=table, Key={"pk": S("h" * 2049), "sk": S("r")})
    assert error(exc) == (VALIDATION, HASH_TOO_BIG)
    with pytest.raises(ClientError) as exc:
        ddb.update_item(
            TableName=gtable,
            Key={"pk": S("a")},
            UpdateExpression="SET g = :g",
            ExpressionAttributeValues={":g": S("g" * 2049)},
        )
    assert error(exc) == (VALIDATION, HASH_TOO_BIG)
    assert ddb.scan(TableName=table)["Count"] == 1
    assert ddb.scan(TableName=gtable)["Count"] == 1


# --------------------------------------------------------------------------- 13


def test_update_cannot_nest_deeper_than_put_can(ddb):
    name = make_table(ddb, tname("deep"))

    def nest(levels: int) -> dict:
        value: dict = S("leaf")
        for _ in range(levels):
            value = {"M": {"m": value}}
        return value

    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=name, Item={"pk": S("p"), "a": nest(33)})
    put_error = error(exc)
    assert put_error == (VALIDATION, TOO_DEEP)

    ddb.put_item(TableName=name, Item={"pk": S("k"), "a": nest(30)})
    path = "a" + ".m" * 29  # a map 30 levels down
    for update, values in (
        (f"SET {path}.x = :v", {":v": nest(5)}),
        (f"SET {path}.x = list_append(:e, :l)", {":e": {"L": []}, ":l": {"L": [nest(5)]}}),
    ):
        with pytest.raises(ClientError) as exc:
            ddb.update_item(
                TableName=name,
                Key={"pk": S("k")},
                UpdateExpression=update,
                ExpressionAttributeValues=values,
            )
        assert error(exc) == put_error
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": S("k")},
                        "UpdateExpression": f"SET {path}.x = :v",
                        "ExpressionAttributeValues": {":v": nest(5)},
                    }
                }
            ]
        )
    reasons = exc.value.response["CancellationReasons"]
    assert reasons == [{"Code": "ValidationError", "Message": TOO_DEEP}]
    item = ddb.get_item(TableName=name, Key={"pk": S("k")})["Item"]
    assert item["a"] == nest(30)
    # Up to the limit is fine.
    ddb.update_item(
        TableName=name,
        Key={"pk": S("k")},
        UpdateExpression=f"SET {path}.x = :v",
        ExpressionAttributeValues={":v": nest(1)},
    )


# --------------------------------------------------------------------------- 14


def test_empty_collections(ddb, loose):
    name = make_table(ddb, tname("empty"))
    cases = [
        (  # paritysuite/dynamodb-conformance batchGetItem (2026-09-02 on)
            lambda: loose.batch_get_item(RequestItems={}),
            constraint(None, "RequestItems", "Member must have length greater than or equal to 1"),
        ),
        (
            lambda: loose.batch_get_item(RequestItems={name: {"Keys": []}}),
            constraint(
                None,
                f"RequestItems.{name}.member.Keys",
                "Member must have length greater than or equal to 1",
            ),
        ),
        (  # paritysuite captures/2026-10-07-batch-empty-request-items.json (us-east-1)
            lambda: loose.batch_write_item(RequestItems={}),
            "The requestItems parameter is required for BatchWriteItem",
        ),
        (
            lambda: loose.batch_write_item(RequestItems={name: []}),
            constraint(
                "{" + name + "=[]}",
                "requestItems",
                "Map value must satisfy constraint: [Member must have length less than or "
                "equal to 25, Member must have length greater than or equal to 1]",
            ),
        ),
        (
            lambda: loose.transact_get_items(TransactItems=[]),
            constraint("[]", "transactItems", "Member must have length greater than or equal to 1"),
        ),
        (
            lambda: loose.transact_write_items(TransactItems=[]),
            constraint("[]", "transactItems", "Member must have length greater than or equal to 1"),
        ),
        (
            lambda: loose.batch_execute_statement(Statements=[]),
            constraint("[]", "statements", "Member must have length greater than or equal to 1"),
        ),
        (
            lambda: loose.execute_transaction(TransactStatements=[]),
            constraint(
                "[]", "transactStatements", "Member must have length greater than or equal to 1"
            ),
        ),
    ]
    for call, message in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == (VALIDATION, message)


# --------------------------------------------------------------------------- 15


def test_enums_and_zero_limits(ddb, loose, streams):
    name = make_table(
        ddb,
        tname("enum"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    stream = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    key = {"pk": S("k")}
    capacity = "INDEXES, TOTAL, NONE"
    cases = [
        (
            lambda: loose.get_item(TableName=name, Key=key, ReturnConsumedCapacity="JUNK"),
            enum("JUNK", "returnConsumedCapacity", capacity),
        ),
        (
            lambda: loose.scan(TableName=name, ReturnConsumedCapacity="JUNK"),
            enum("JUNK", "returnConsumedCapacity", capacity),
        ),
        (
            lambda: loose.put_item(TableName=name, Item=key, ReturnItemCollectionMetrics="JUNK"),
            enum("JUNK", "returnItemCollectionMetrics", "SIZE, NONE"),
        ),
        (
            lambda: loose.delete_item(
                TableName=name, Key=key, ReturnValuesOnConditionCheckFailure="JUNK"
            ),
            enum("JUNK", "returnValuesOnConditionCheckFailure", "ALL_OLD, NONE"),
        ),
        (
            lambda: loose.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": name,
                            "Item": key,
                            "ReturnValuesOnConditionCheckFailure": "JUNK",
                        }
                    }
                ]
            ),
            enum(
                "JUNK",
                "transactItems.1.member.put.returnValuesOnConditionCheckFailure",
                "ALL_OLD, NONE",
            ),
        ),
        (
            lambda: loose.batch_write_item(
                RequestItems={name: [{"PutRequest": {"Item": key}}]},
                ReturnConsumedCapacity="JUNK",
            ),
            enum("JUNK", "returnConsumedCapacity", capacity),
        ),
        (
            lambda: loose.create_table(
                TableName=tname("enum-c"),
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "JUNK"},
            ),
            enum(
                "JUNK",
                "streamSpecification.streamViewType",
                "OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE",
            ),
        ),
        (
            lambda: loose.update_table(TableName=name, TableClass="JUNK"),
            # AWS's own text, not the enum's (Alternator's test_tableclass.py)
            "Invalid table-class parameter provided. Please try again with a valid "
            "table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
        ),
        (
            lambda: loose.create_table(
                TableName=tname("enum-c"),
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "pk", "AttributeType": "N"},
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            ),
            "Attribute Name is duplicated: pk",  # AWS's (scylladb issue #13870)
        ),
        (
            lambda: loose.list_backups(BackupType="JUNK"),
            enum("JUNK", "backupType", "USER, SYSTEM, AWS_BACKUP, ALL"),
        ),
        (
            lambda: loose.scan(TableName=name, Limit=0),
            constraint("0", "limit", "Member must have value greater than or equal to 1"),
        ),
        (
            lambda: loose.list_backups(Limit=0),
            constraint("0", "limit", "Member must have value greater than or equal to 1"),
        ),
        (
            lambda: loose.export_table_to_point_in_time(
                TableArn=arn, S3Bucket=bname("never"), ExportFormat="CSV"
            ),
            enum("CSV", "exportFormat", "ION, DYNAMODB_JSON"),
        ),
        (
            lambda: loose.export_table_to_point_in_time(
                TableArn=arn, S3Bucket=bname("never"), ExportType="PARTIAL"
            ),
            enum("PARTIAL", "exportType", "FULL_EXPORT, INCREMENTAL_EXPORT"),
        ),
        (
            lambda: streams.describe_stream(StreamArn=stream, Limit=0),
            constraint("0", "limit", "Member must have value greater than or equal to 1"),
        ),
    ]
    for call, message in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == (VALIDATION, message)
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(
        StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for limit, rule in ((0, "greater than or equal to 1"), (1001, "less than or equal to 1000")):
        with pytest.raises(ClientError) as exc:
            streams.get_records(ShardIterator=it, Limit=limit)
        assert error(exc) == (
            VALIDATION,
            constraint(str(limit), "limit", f"Member must have value {rule}"),
        )
    # Nothing was written or changed by the refused requests.
    assert ddb.scan(TableName=name)["Count"] == 0
    assert "TableClassSummary" not in ddb.describe_table(TableName=name)["Table"]


def test_error_types_carry_dynamodb_namespaces(raw):
    """The raw ``__type`` as real DynamoDB writes it (SDKs keep only what follows ``#``;
    code comparing the whole string sees AWS's): the service's own errors under
    ``com.amazonaws.dynamodb.v20120810`` (architect/dynalite ``db/index.js``), validation
    under ``com.amazon.coral.validate`` (real answers quoted in HENNGE/aiodynamo#2), and
    the framework's own errors under ``com.amazon.coral.service``."""
    status, body = raw("DescribeTable", {"TableName": tname("missing")})
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    status, body = raw("ListTables", {"Limit": 0})
    assert status == 400
    assert body["__type"] == "com.amazon.coral.validate#ValidationException"
    status, body = raw("DescribeTables", {})
    assert status == 400
    assert body["__type"] == "com.amazon.coral.service#UnknownOperationException"
