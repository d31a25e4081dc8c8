"""DynamoDB ImportTable, DescribeImport and ListImports with real boto3.

An import must create its table, load every object under the prefix from our
S3 (DynamoDB JSON, Ion, CSV; gzipped or plain) through the normal write path
(indexes answer queries), count what it read and skipped as AWS does, and
survive a server restart. The round trip through ExportTableToPointInTime is
the proof that the two speak the same files.
"""

from __future__ import annotations

import gzip
import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import scan_all, tname, wait_export, wait_import
from tests.services.s3_helpers import bname


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def by_pk(items: list[dict], name: str = "pk") -> dict:
    return {next(iter(i[name].values())): i for i in items}


def creation(name: str, hash=("pk", "S"), gsi: tuple[str, str, str] | None = None) -> dict:
    """TableCreationParameters: a PAY_PER_REQUEST table, with a GSI (name, attr, type)."""
    defs = {hash[0]: hash[1]}
    out: dict = {
        "TableName": name,
        "KeySchema": [{"AttributeName": hash[0], "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsi is not None:
        defs[gsi[1]] = gsi[2]
        out["GlobalSecondaryIndexes"] = [
            {
                "IndexName": gsi[0],
                "KeySchema": [{"AttributeName": gsi[1], "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    out["AttributeDefinitions"] = [
        {"AttributeName": k, "AttributeType": t} for k, t in defs.items()
    ]
    return out


def start_import(ddb, bucket: str, prefix: str, params: dict, fmt="DYNAMODB_JSON", **kw) -> dict:
    return ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix},
        InputFormat=fmt,
        TableCreationParameters=params,
        **kw,
    )["ImportTableDescription"]


def json_lines(items: list[dict]) -> bytes:
    return b"".join(json.dumps({"Item": i}).encode() + b"\n" for i in items)


def gsi_count(ddb, table: str, index: str, attr: str, value: dict) -> int:
    return ddb.query(
        TableName=table,
        IndexName=index,
        KeyConditionExpression="#a = :v",
        ExpressionAttributeNames={"#a": attr},
        ExpressionAttributeValues={":v": value},
        Select="COUNT",
    )["Count"]


def rich_item(i: int) -> dict:
    return {
        "pk": {"S": f"k{i}"},
        "g": {"S": "even" if i % 2 == 0 else "odd"},
        "n": {"N": str(i * 1.5)},
        "bin": {"B": bytes([i, 0, 255])},
        "bs": {"BS": [b"x", bytes([i + 1])]},
        "ns": {"NS": ["1", "2.5", str(-i - 3)]},
        "ss": {"SS": ["a", "ü", "quote\"'"]},
        "m": {"M": {"nested": {"L": [{"BOOL": True}, {"NULL": True}, {"S": "é\n"}]}}},
        "odd name": {"S": ""},
        "empty": {"L": []},
    }


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["DYNAMODB_JSON", "ION"])
def test_an_export_imports_into_a_new_table(ddb, s3, fmt):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    source = tname("src")
    ddb.create_table(**creation(source, gsi=("by-g", "g", "S")))
    ddb.update_continuous_backups(
        TableName=source, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    for i in range(30):
        ddb.put_item(TableName=source, Item=rich_item(i))
    source_arn = ddb.describe_table(TableName=source)["Table"]["TableArn"]
    export = wait_export(
        ddb,
        ddb.export_table_to_point_in_time(
            TableArn=source_arn, S3Bucket=bucket, S3Prefix="exports", ExportFormat=fmt
        )["ExportDescription"]["ExportArn"],
    )
    assert export["ExportStatus"] == "COMPLETED", export
    data = f"exports/AWSDynamoDB/{export['ExportArn'].rsplit('/', 1)[1]}/data/"
    raw_size = sum(
        len(gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=data)["Contents"]
    )

    target = tname("imp")
    params = creation(target, gsi=("by-g", "g", "S"))
    started = start_import(ddb, bucket, data, params, fmt, InputCompressionType="GZIP")
    assert started["ImportStatus"] == "IN_PROGRESS"
    assert started["ImportArn"].startswith(f"{started['TableArn']}/import/")
    assert started["TableArn"].endswith(f":table/{target}")
    assert started["ClientToken"]  # botocore fills in the idempotency token
    assert (started["ProcessedItemCount"], started["ImportedItemCount"]) == (0, 0)
    assert started["ErrorCount"] == 0
    assert "EndTime" not in started and "ProcessedSizeBytes" not in started
    assert ddb.describe_table(TableName=target)["Table"]["TableStatus"] in ("CREATING", "ACTIVE")

    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["ProcessedItemCount"] == done["ImportedItemCount"] == 30
    assert done["ErrorCount"] == 0
    assert done["ProcessedSizeBytes"] == raw_size
    assert done["EndTime"] >= done["StartTime"]
    for member in ("TableId", "ClientToken", "S3BucketSource", "TableCreationParameters"):
        assert done[member] == started[member]
    assert done["InputFormat"] == fmt and done["InputCompressionType"] == "GZIP"

    table = ddb.describe_table(TableName=target)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["TableId"] == started["TableId"]
    assert table["ItemCount"] == 30
    assert table["GlobalSecondaryIndexes"][0]["ItemCount"] == 30
    assert by_pk(scan_all(ddb, target)) == by_pk(scan_all(ddb, source))
    assert gsi_count(ddb, target, "by-g", "g", {"S": "even"}) == 15


def test_plain_json_lines_skip_and_count_bad_records(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    good = [{"pk": {"S": f"g{i}"}, "v": {"N": "1.50"}} for i in range(4)]
    body = (
        json.dumps({"Item": good[0]}) + json.dumps({"Item": good[1]})  # two on one line
        + "\n\n   \n"  # blank lines are neither items nor errors
        + json.dumps({"Item": good[2]}) + "\n"
        + '{"Item": \n'  # not JSON
        + '{"NotAnItem": {"pk": {"S": "x"}}}\n'
        + '{"Item": {"pk": {"N": "1"}}}\n'  # wrong key type
        + '{"Item": {"v": {"S": "no key"}}}\n'
        + json.dumps({"Item": good[3]}) + "\n"
        + json.dumps({"Item": {**good[0], "v": {"S": "again"}}}) + "\n"  # a duplicate key
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="in/part-1.json", Body=body.encode())
    s3.put_object(Bucket=bucket, Key="in/empty.json", Body=b"")
    s3.put_object(Bucket=bucket, Key="elsewhere.json", Body=json_lines([{"pk": {"S": "no"}}]))
    target = tname("imp")
    done = wait_import(ddb, start_import(ddb, bucket, "in/", creation(target))["ImportArn"])

    # Any skipped record fails the import, as on AWS; the table keeps what passed.
    assert done["ImportStatus"] == "FAILED"
    assert done["FailureCode"] == "ItemValidationError"
    assert "failed validation" in done["FailureMessage"]
    assert done["ErrorCount"] == 4
    assert done["ImportedItemCount"] == 5  # writes: the duplicate key counts twice
    assert done["ProcessedItemCount"] == 9
    assert done["ProcessedSizeBytes"] == len(body.encode())
    items = by_pk(scan_all(ddb, target))
    assert set(items) == {"g0", "g1", "g2", "g3"}
    assert items["g1"]["v"] == {"N": "1.5"}  # numbers stored as PutItem stores them
    assert items["g0"]["v"] == {"S": "again"}
    table = ddb.describe_table(TableName=target)["Table"]
    assert (table["TableStatus"], table["ItemCount"]) == ("ACTIVE", 4)


def test_csv_with_a_header_list_and_with_a_header_row(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="list/people.csv",
        Body=b"1;Ann;Oslo;42\n2;Bob;Rome;007\n3;Cy;;\n",
    )
    with_list = tname("csv")
    params = creation(with_list, hash=("id", "N"), gsi=("by-city", "city", "S"))
    done = wait_import(
        ddb,
        start_import(
            ddb,
            bucket,
            "list/",
            params,
            "CSV",
            InputFormatOptions={
                "Csv": {"Delimiter": ";", "HeaderList": ["id", "name", "city", "age"]}
            },
        )["ImportArn"],
    )
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["InputFormatOptions"]["Csv"]["HeaderList"] == ["id", "name", "city", "age"]
    assert done["ProcessedItemCount"] == done["ImportedItemCount"] == 3
    items = by_pk(scan_all(ddb, with_list), "id")
    assert items["1"] == {
        "id": {"N": "1"},
        "name": {"S": "Ann"},
        "city": {"S": "Oslo"},
        "age": {"S": "42"},  # not a key: a string, as AWS imports it
    }
    assert items["2"]["age"] == {"S": "007"}
    assert items["3"] == {"id": {"N": "3"}, "name": {"S": "Cy"}}  # empty cells left out
    assert gsi_count(ddb, with_list, "by-city", "city", {"S": "Rome"}) == 1

    header_row = 'sku,qty,note\nA-1,5,"comma, and ""quotes"""\nA-2,x,\nA-3\n'
    s3.put_object(Bucket=bucket, Key="rows/stock.csv.gz", Body=gzip.compress(header_row.encode()))
    with_row = tname("csv")
    done = wait_import(
        ddb,
        start_import(
            ddb,
            bucket,
            "rows/",
            creation(with_row, hash=("sku", "S"), gsi=("by-qty", "qty", "N")),
            "CSV",
            InputCompressionType="GZIP",
        )["ImportArn"],
    )
    # "A-2" has a qty that is no number (an index key declared N); "A-3" too few columns.
    assert (done["ImportedItemCount"], done["ErrorCount"]) == (1, 2)
    assert done["FailureCode"] == "ItemValidationError"
    (item,) = scan_all(ddb, with_row)
    assert item == {"sku": {"S": "A-1"}, "qty": {"N": "5"}, "note": {"S": 'comma, and "quotes"'}}
    assert gsi_count(ddb, with_row, "by-qty", "qty", {"N": "5"}) == 1


def test_ion_text_written_by_hand(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    ion = (
        "$ion_1_0\n"
        "// Ion as people write it: spread over lines, with comments\n"
        '{ Item: { pk: "a", price: 12.50, count: 3, big: 1_000, ratio: 2.5e-1, blob: {{aGk=}},\n'
        "  tags: $dynamodb_SS::[\"x\", \"y\"], ok: true, none: null, long: '''ab''' '''cd''' } }\n"
        '{Item:{pk:"b", when: 2024-01-01T}}\n'  # a timestamp has no DynamoDB type
    )
    s3.put_object(Bucket=bucket, Key="ion/data.ion", Body=ion.encode())
    target = tname("ion")
    done = wait_import(ddb, start_import(ddb, bucket, "ion/", creation(target), "ION")["ImportArn"])
    assert (done["ImportedItemCount"], done["ErrorCount"]) == (1, 1)
    (item,) = scan_all(ddb, target)
    assert item == {
        "pk": {"S": "a"},
        "price": {"N": "12.5"},
        "count": {"N": "3"},
        "big": {"N": "1000"},
        "ratio": {"N": "0.25"},
        "blob": {"B": b"hi"},
        "tags": {"SS": ["x", "y"]},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "long": {"S": "abcd"},
    }


# --------------------------------------------------------------------------- failures and errors


def test_a_missing_bucket_fails_the_import_and_removes_the_table(ddb):
    target = tname("imp")
    arn = start_import(ddb, bname("missing"), "", creation(target))["ImportArn"]
    done = wait_import(ddb, arn)
    assert done["ImportStatus"] == "FAILED"
    assert done["FailureCode"] == "S3NoSuchBucket"
    assert "does not exist" in done["FailureMessage"]
    assert (done["ProcessedItemCount"], done["ImportedItemCount"], done["ErrorCount"]) == (0, 0, 0)
    with pytest.raises(ClientError) as exc:
        ddb.describe_table(TableName=target)
    assert code(exc) == "ResourceNotFoundException"
    assert target not in ddb.list_tables()["TableNames"]


def test_an_empty_prefix_completes_with_an_empty_table(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    target = tname("imp")
    done = wait_import(ddb, start_import(ddb, bucket, "nothing/", creation(target))["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED"
    assert (done["ProcessedItemCount"], done["ProcessedSizeBytes"]) == (0, 0)
    assert ddb.describe_table(TableName=target)["Table"]["TableStatus"] == "ACTIVE"


def test_import_errors(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    existing = tname("old")
    ddb.create_table(**creation(existing))
    with pytest.raises(ClientError) as exc:
        start_import(ddb, bucket, "", creation(existing))
    assert code(exc) == "ResourceInUseException"

    target = tname("imp")
    with pytest.raises(ClientError) as exc:
        start_import(ddb, bucket, "", creation(target), InputCompressionType="LZ4")
    assert code(exc) == "ValidationException"
    assert "inputCompressionType" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        start_import(
            ddb, bucket, "", creation(target), InputFormatOptions={"Csv": {"Delimiter": ","}}
        )
    assert code(exc) == "ValidationException" and "InputFormatOptions" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        start_import(ddb, bucket, "", creation(target), "XML")
    assert code(exc) == "ValidationException" and "inputFormat" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        start_import(ddb, "-nope!", "", creation(target))
    assert code(exc) == "ValidationException" and "s3Bucket" in str(exc.value)
    bad_keys = {
        **creation(target),
        "AttributeDefinitions": [{"AttributeName": "x", "AttributeType": "S"}],
    }
    with pytest.raises(ClientError) as exc:
        start_import(ddb, bucket, "", bad_keys)
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        start_import(ddb, bucket, "", {**creation(target), "BillingMode": "PROVISIONED"})
    assert exc.value.response["Error"]["Message"] == (
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
        "must both be specified when BillingMode is PROVISIONED"
    )
    assert target not in ddb.list_tables()["TableNames"]  # no refused request made a table

    table_arn = ddb.describe_table(TableName=existing)["Table"]["TableArn"]
    with pytest.raises(ClientError) as exc:
        ddb.describe_import(ImportArn=f"{table_arn}/import/01658528578619-c4d4e311")
    assert code(exc) == "ImportNotFoundException"
    with pytest.raises(ClientError) as exc:
        ddb.describe_import(ImportArn="arn:aws:dynamodb:us-east-1:000000000000:table/x/import/1")
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ddb.list_imports(PageSize=26)
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ddb.list_imports(NextToken="0" * 112)
    assert code(exc) == "ValidationException"


def test_items_of_a_table_still_importing_are_not_found(ddb, s3):
    """AWS reads and writes only ACTIVE tables: while an import loads its table
    (CREATING), item operations answer ResourceNotFoundException."""
    bucket, table = bname("loading"), tname("loading")
    s3.create_bucket(Bucket=bucket)
    items = [{"pk": {"S": f"k{i:05d}"}} for i in range(20000)]
    s3.put_object(Bucket=bucket, Key="d/part.json.gz", Body=gzip.compress(json_lines(items)))
    arn = start_import(ddb, bucket, "d/", creation(table), InputCompressionType="GZIP")["ImportArn"]
    assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "CREATING"
    key = {"pk": {"S": "k00001"}}
    for call in (
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "mine"}}),
        lambda: ddb.get_item(TableName=table, Key=key),
        lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={":k": key["pk"]},
        ),
        lambda: ddb.execute_statement(Statement=f'SELECT * FROM "{table}"'),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "ResourceNotFoundException"
        assert exc.value.response["Error"]["Message"] == "Requested resource not found"
    for call in (
        lambda: ddb.delete_table(TableName=table),
        lambda: ddb.update_table(TableName=table, TableClass="STANDARD_INFREQUENT_ACCESS"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "ResourceInUseException"
        assert exc.value.response["Error"]["Message"] == (
            f"Attempt to change a resource which is still in use: Table is being created: {table}"
        )
    assert wait_import(ddb, arn)["ImportStatus"] == "COMPLETED"
    assert ddb.get_item(TableName=table, Key=key)["Item"] == key
    ddb.put_item(TableName=table, Item={"pk": {"S": "mine"}})
    assert ddb.describe_table(TableName=table)["Table"]["ItemCount"] == 20001


def test_client_token_makes_import_idempotent(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a.json", Body=json_lines([{"pk": {"S": "only"}}]))
    target, token = tname("tok"), tname("token")
    first = start_import(ddb, bucket, "in/", creation(target), ClientToken=token)
    again = start_import(ddb, bucket, "in/", creation(target), ClientToken=token)
    assert again["ImportArn"] == first["ImportArn"]
    assert again["TableId"] == first["TableId"]
    assert wait_import(ddb, first["ImportArn"])["ImportStatus"] == "COMPLETED"
    after = start_import(ddb, bucket, "in/", creation(target), ClientToken=token)
    assert after["ImportArn"] == first["ImportArn"] and after["ImportStatus"] == "COMPLETED"
    for changed in (
        {"prefix": "other/"},
        {"params": creation(tname("tok"))},
        {"fmt": "ION"},
    ):
        with pytest.raises(ClientError) as exc:
            start_import(
                ddb,
                bucket,
                changed.get("prefix", "in/"),
                changed.get("params", creation(target)),
                changed.get("fmt", "DYNAMODB_JSON"),
                ClientToken=token,
            )
        assert code(exc) == "ImportConflictException"
    with pytest.raises(ClientError) as exc:  # a new token: a new import, of a taken name
        start_import(ddb, bucket, "in/", creation(target), ClientToken=token + "-2")
    assert code(exc) == "ResourceInUseException"
    assert len(scan_all(ddb, target)) == 1


def test_list_imports_filters_by_table_and_pages(ddb, s3):
    bucket = bname("ddbimp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a.json", Body=json_lines([{"pk": {"S": "a"}}]))
    target = tname("lst")
    arns = []
    for _ in range(3):  # each fails and drops its table, so the name can be imported again
        arn = start_import(ddb, bname("missing"), "", creation(target))["ImportArn"]
        assert wait_import(ddb, arn)["ImportStatus"] == "FAILED"
        arns.append(arn)
    arns.append(start_import(ddb, bucket, "in/", creation(target))["ImportArn"])
    assert wait_import(ddb, arns[-1])["ImportStatus"] == "COMPLETED"
    other = start_import(ddb, bucket, "in/", creation(tname("lst")))["ImportArn"]
    table_arn = ddb.describe_table(TableName=target)["Table"]["TableArn"]

    seen, token, pages = [], None, 0
    while True:
        page = ddb.list_imports(
            TableArn=table_arn, PageSize=3, **({"NextToken": token} if token else {})
        )
        pages += 1
        seen += page["ImportSummaryList"]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 2
    assert [s["ImportArn"] for s in seen] == arns
    assert [s["ImportStatus"] for s in seen] == ["FAILED"] * 3 + ["COMPLETED"]
    assert set(seen[-1]) == {
        "ImportArn",
        "ImportStatus",
        "TableArn",
        "S3BucketSource",
        "InputFormat",
        "StartTime",
        "EndTime",
        "CloudWatchLogGroupArn",
    }
    assert other not in [s["ImportArn"] for s in seen]
    everything, token = [], None  # no filter: every import of the account, other included
    while True:
        page = ddb.list_imports(**({"NextToken": token} if token else {}))
        everything += [s["ImportArn"] for s in page["ImportSummaryList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(everything) == len(set(everything))
    assert set(arns) | {other} <= set(everything)


# --------------------------------------------------------------------------- restarts


def test_imports_survive_a_kill_and_a_running_one_completes(tmp_path):
    count = 20000
    body = gzip.compress(
        json_lines([{"pk": {"S": f"k{i:05d}"}, "g": {"S": f"g{i % 4}"}} for i in range(count)])
    )
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb, s3 = server.client("dynamodb"), server.client("s3")
        s3.create_bucket(Bucket="imports")
        s3.put_object(Bucket="imports", Key="small/a.json", Body=json_lines([{"pk": {"S": "a"}}]))
        s3.put_object(Bucket="imports", Key="big/part-0.json.gz", Body=body)
        small = start_import(ddb, "imports", "small/", creation("durable-small"))["ImportArn"]
        assert wait_import(ddb, small)["ImportStatus"] == "COMPLETED"
        big = start_import(
            ddb,
            "imports",
            "big/",
            creation("durable-big", gsi=("by-g", "g", "S")),
            InputCompressionType="GZIP",
        )["ImportArn"]
    finally:
        server.kill()  # most likely while the big import is still loading

    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = server.client("dynamodb")
        assert (
            ddb.describe_import(ImportArn=small)["ImportTableDescription"]["ImportedItemCount"] == 1
        )
        done = wait_import(ddb, big)
        assert done["ImportStatus"] == "COMPLETED", done
        assert done["ProcessedItemCount"] == done["ImportedItemCount"] == count
        table = ddb.describe_table(TableName="durable-big")["Table"]
        assert (table["TableStatus"], table["ItemCount"]) == ("ACTIVE", count)
        assert gsi_count(ddb, "durable-big", "by-g", "g", {"S": "g1"}) == count // 4
        assert [s["ImportArn"] for s in ddb.list_imports()["ImportSummaryList"]] == [small, big]
    finally:
        server.stop()
