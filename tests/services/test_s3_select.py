"""S3 Select (SelectObjectContent) end to end, with real boto3 and the AWS CLI.

The event stream as boto3 reads it (Records, Progress, Stats, End; an error met after
the response began arrives as an error message, which boto3 raises as
``EventStreamError``), the input formats and their options (CSV with headers,
comments, quotes and delimiters; JSON LINES and DOCUMENT; Parquet; GZIP and BZIP2),
the output options, ScanRange, and S3's errors. The SQL itself is tested in
``tests/unit/test_s3_select_sql.py``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json

import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.services.s3_helpers import NO_RETRIES, bname

PEOPLE = b'name,city,age\nann,Paris,31\n# a comment line\nbob,"Lyon, FR",45\ncy,Paris,27\n'


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("sel")
    s3.create_bucket(Bucket=name)
    return name


def select(s3, bucket, key, sql, inp=None, out=None, **extra):
    """The events of a select, as a list of (name, value)."""
    response = s3.select_object_content(
        Bucket=bucket,
        Key=key,
        Expression=sql,
        ExpressionType="SQL",
        InputSerialization=inp if inp is not None else {"CSV": {"FileHeaderInfo": "USE"}},
        OutputSerialization=out if out is not None else {"CSV": {}},
        **extra,
    )
    return [next(iter(event.items())) for event in response["Payload"]]


def records(events) -> bytes:
    return b"".join(value["Payload"] for name, value in events if name == "Records")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_csv_where_with_header_names_and_stats(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    events = select(
        s3, bucket, "people.csv", "SELECT s.name, s.age FROM S3Object s WHERE s.city = 'Paris'"
    )
    assert records(events) == b"ann,31\ncy,27\n"
    names = [name for name, _ in events]
    assert names[-2:] == ["Stats", "End"] and "Progress" not in names
    stats = dict(events)["Stats"]["Details"]
    assert stats == {
        "BytesScanned": len(PEOPLE),
        "BytesProcessed": len(PEOPLE),
        "BytesReturned": 13,
    }


def test_quoted_fields_positions_and_json_output(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    events = select(
        s3,
        bucket,
        "people.csv",
        "SELECT s._1, s._2 FROM S3Object s",
        inp={"CSV": {"FileHeaderInfo": "IGNORE"}},
        out={"JSON": {}},
    )
    lines = records(events).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"_1": "ann", "_2": "Paris"},
        {"_1": "bob", "_2": "Lyon, FR"},
        {"_1": "cy", "_2": "Paris"},
    ]


def test_csv_options_in_and_out(s3, bucket):
    # Not "\r": an XML body's parser reads a bare carriage return as a newline.
    body = b"a;'x;y';1~%skip~b;'it''s';2~"
    s3.put_object(Bucket=bucket, Key="odd.csv", Body=body)
    inp = {
        "CSV": {
            "FieldDelimiter": ";",
            "RecordDelimiter": "~",
            "QuoteCharacter": "'",
            "QuoteEscapeCharacter": "'",
            "Comments": "%",
        }
    }
    out = {"CSV": {"QuoteFields": "ALWAYS", "FieldDelimiter": "|", "RecordDelimiter": "!"}}
    events = select(s3, bucket, "odd.csv", "SELECT * FROM S3Object", inp=inp, out=out)
    assert records(events) == b'"a"|"x;y"|"1"!"b"|"it\'s"|"2"!'


def test_quoted_record_delimiters(s3, bucket):
    s3.put_object(Bucket=bucket, Key="multi.csv", Body=b'1,"line one\nline two"\n2,plain\n')
    inp = {"CSV": {"AllowQuotedRecordDelimiter": True}}
    events = select(
        s3, bucket, "multi.csv", "SELECT s._2 FROM S3Object s", inp=inp, out={"JSON": {}}
    )
    assert records(events) == b'{"_2":"line one\\nline two"}\n{"_2":"plain"}\n'


def test_json_lines_keep_decimals(s3, bucket):
    body = b'{"id": 1, "price": 1.10, "tags": ["a"]}\n\n{"id": 2, "price": 20}\n'
    s3.put_object(Bucket=bucket, Key="rows.json", Body=body)
    events = select(
        s3,
        bucket,
        "rows.json",
        "SELECT * FROM S3Object s",
        inp={"JSON": {"Type": "LINES"}},
        out={"JSON": {"RecordDelimiter": ","}},
    )
    assert records(events) == b'{"id":1,"price":1.10,"tags":["a"]},{"id":2,"price":20},'


def test_json_document_values_span_lines(s3, bucket):
    body = b'{\n  "person": {"name": "ann"},\n  "n": 1\n}\n{"person": {"name": "bob"}, "n": 2}'
    s3.put_object(Bucket=bucket, Key="doc.json", Body=body)
    events = select(
        s3,
        bucket,
        "doc.json",
        "SELECT s.person.name FROM S3Object s",
        inp={"JSON": {"Type": "DOCUMENT"}},
        out={"CSV": {}},
    )
    assert records(events) == b"ann\nbob\n"


@pytest.mark.parametrize("compression", ["GZIP", "BZIP2"])
def test_compressed_input(s3, bucket, compression):
    pack = gzip.compress if compression == "GZIP" else bz2.compress
    half = len(PEOPLE) // 2
    body = pack(PEOPLE[:half]) + pack(PEOPLE[half:])  # two members (streams), as S3 reads them
    s3.put_object(Bucket=bucket, Key="people.csv.z", Body=body)
    inp = {"CSV": {"FileHeaderInfo": "USE"}, "CompressionType": compression}
    events = select(s3, bucket, "people.csv.z", "SELECT s.name FROM S3Object s", inp=inp)
    assert records(events) == b"ann\nbob\ncy\n"
    stats = dict(events)["Stats"]["Details"]
    assert stats["BytesScanned"] == len(body) and stats["BytesProcessed"] == len(PEOPLE)


def test_parquet_input(s3, bucket):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"name": ["ann", "bob", "cy"], "age": [31, 45, 27]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=bucket, Key="people.parquet", Body=sink.getvalue())
    events = select(
        s3,
        bucket,
        "people.parquet",
        "SELECT s.name FROM S3Object s WHERE s.age > 30",
        inp={"Parquet": {}},
        out={"JSON": {}},
    )
    assert records(events) == b'{"name":"ann"}\n{"name":"bob"}\n'


def test_scan_range_takes_records_that_start_in_it(s3, bucket):
    body = b"".join(b"row%02d,x\n" % i for i in range(20))  # 8 bytes a record
    s3.put_object(Bucket=bucket, Key="rows.csv", Body=body)
    inp = {"CSV": {}}
    sql = "SELECT s._1 FROM S3Object s"

    def ranged(**scan):
        return records(select(s3, bucket, "rows.csv", sql, inp=inp, ScanRange=scan))

    assert ranged(Start=17, End=32) == b"row03\nrow04\n"  # starts 24 and 32
    assert ranged(Start=16, End=16) == b"row02\n"
    assert ranged(Start=150) == b"row19\n"
    assert ranged(End=9) == b"row19\n"  # the last 9 bytes: row19 starts in them


def test_scan_range_keeps_the_header_past_the_start(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    start = PEOPLE.index(b"cy,")
    events = select(
        s3, bucket, "people.csv", "SELECT s.city FROM S3Object s", ScanRange={"Start": start}
    )
    assert records(events) == b"Paris\n"


def test_progress_events_when_asked(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    events = select(
        s3, bucket, "people.csv", "SELECT * FROM S3Object", RequestProgress={"Enabled": True}
    )
    progress = [value for name, value in events if name == "Progress"]
    assert progress and progress[-1]["Details"]["BytesScanned"] == len(PEOPLE)


def test_limit_stops_reading_a_large_object(s3, bucket):
    body = b"".join(b"%d,%s\n" % (i, b"v" * 90) for i in range(60000))  # ~5.6 MB
    s3.put_object(Bucket=bucket, Key="big.csv", Body=body)
    events = select(s3, bucket, "big.csv", "SELECT s._1 FROM S3Object s LIMIT 3", inp={"CSV": {}})
    assert records(events) == b"0\n1\n2\n"
    assert dict(events)["Stats"]["Details"]["BytesScanned"] < len(body)


def test_large_result_streams_in_records_events(s3, bucket):
    body = b"".join(b"%d,%s\n" % (i, b"v" * 90) for i in range(30000))  # ~2.8 MB
    s3.put_object(Bucket=bucket, Key="big.csv", Body=body)
    events = select(s3, bucket, "big.csv", "SELECT * FROM S3Object", inp={"CSV": {}})
    payloads = [value["Payload"] for name, value in events if name == "Records"]
    assert b"".join(payloads) == body
    assert len(payloads) > 10 and max(map(len, payloads)) <= 128 * 1024 - 256


def test_failure_after_the_first_records_ends_the_stream_with_an_error(s3, bucket):
    good = b"".join(b"%d\n" % i for i in range(100000))  # results before the bad record
    s3.put_object(Bucket=bucket, Key="late.csv", Body=good + b"not-a-number\n")
    response = s3.select_object_content(
        Bucket=bucket,
        Key="late.csv",
        Expression="SELECT CAST(s._1 AS INT) FROM S3Object s",
        ExpressionType="SQL",
        InputSerialization={"CSV": {}},
        OutputSerialization={"CSV": {}},
    )
    seen = []
    with pytest.raises(EventStreamError) as excinfo:
        for event in response["Payload"]:
            seen.append(event)
    assert code(excinfo) == "CastFailed"
    assert seen and "Records" in seen[0]


def test_errors_before_the_stream(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)

    def refused(**kw):
        params = {
            "Bucket": bucket,
            "Key": "people.csv",
            "Expression": "SELECT * FROM S3Object",
            "ExpressionType": "SQL",
            "InputSerialization": {"CSV": {}},
            "OutputSerialization": {"CSV": {}},
            **kw,
        }
        with pytest.raises(ClientError) as excinfo:
            s3.select_object_content(**params)
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return code(excinfo)

    assert refused(Expression="SELECT FROM WHERE").startswith("Parse")
    assert refused(ExpressionType="XPATH") == "InvalidExpressionType"
    assert refused(InputSerialization={"CSV": {}, "JSON": {}}) == "ObjectSerializationConflict"
    assert refused(OutputSerialization={"CSV": {}, "JSON": {}}) == "ObjectSerializationConflict"
    assert refused(InputSerialization={"JSON": {"Type": "XML"}}) == "InvalidJsonType"
    assert refused(InputSerialization={"CSV": {"FileHeaderInfo": "X"}}) == "InvalidFileHeaderInfo"
    assert refused(OutputSerialization={"CSV": {"QuoteFields": "NEVER"}}) == "InvalidQuoteFields"
    assert refused(InputSerialization={"CSV": {}, "CompressionType": "ZIP"}) == (
        "InvalidCompressionFormat"
    )
    gzip_in = {"CSV": {}, "CompressionType": "GZIP"}
    assert refused(InputSerialization=gzip_in) == "InvalidCompressionFormat"  # not gzip
    assert refused(InputSerialization=gzip_in, ScanRange={"Start": 1}) == (
        "UnsupportedScanRangeInput"
    )
    assert refused(InputSerialization={"CSV": {"FieldDelimiter": ",,"}}) == (
        "InvalidRequestParameter"
    )
    assert refused(ScanRange={"Start": 9, "End": 3}) == "InvalidRequestParameter"


def test_bad_bytes_and_missing_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="latin1.csv", Body="café,1\n".encode("latin-1"))
    with pytest.raises(ClientError) as excinfo:
        select(s3, bucket, "latin1.csv", "SELECT * FROM S3Object", inp={"CSV": {}})
    assert code(excinfo) == "InvalidTextEncoding"
    s3.put_object(Bucket=bucket, Key="bad.json", Body=b'{"a": 1}\n{"a": \n')
    with pytest.raises(ClientError) as excinfo:
        select(s3, bucket, "bad.json", "SELECT * FROM S3Object", inp={"JSON": {"Type": "LINES"}})
    assert code(excinfo) == "JSONParsingError"
    with pytest.raises(ClientError) as excinfo:
        select(s3, bucket, "absent.csv", "SELECT * FROM S3Object")
    assert code(excinfo) == "NoSuchKey"
    s3.put_object(Bucket=bucket, Key="cold.csv", Body=PEOPLE, StorageClass="GLACIER")
    with pytest.raises(ClientError) as excinfo:
        select(s3, bucket, "cold.csv", "SELECT * FROM S3Object")
    assert code(excinfo) == "InvalidObjectState"


def test_anonymous_callers_are_refused(cloudlet_server, s3, bucket):
    from botocore import UNSIGNED
    from botocore.config import Config

    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    anonymous = cloudlet_server.client("s3", config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as excinfo:
        select(anonymous, bucket, "people.csv", "SELECT * FROM S3Object")
    assert code(excinfo) == "AccessDenied"


def test_aws_cli_writes_the_records_to_its_outfile(s3, bucket, aws, tmp_path):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE)
    aws(
        "s3api",
        "select-object-content",
        "--bucket",
        bucket,
        "--key",
        "people.csv",
        "--expression",
        "SELECT s.name FROM S3Object s WHERE s.city = 'Paris'",
        "--expression-type",
        "SQL",
        "--input-serialization",
        '{"CSV": {"FileHeaderInfo": "USE"}}',
        "--output-serialization",
        '{"CSV": {}}',
        "out.csv",
    )
    assert (tmp_path / "out.csv").read_bytes() == b"ann\ncy\n"
