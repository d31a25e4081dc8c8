"""DynamoDB's answers to requests its JSON reader cannot bind, word for word.

DynamoDB's front end binds the request to Java classes with Jackson, and a value
of the wrong type is a ``SerializationException`` in Jackson's words, keyed
``Message`` (cloudlet/protocols/coral.py). The texts and positions are those of
dynalite's ``assertType`` table (``architect/dynalite`` test/helpers.js, checked
against DynamoDB); the framework's bare answers and their CRC-32s are its
test/connection.js. Requests are raw POSTs: boto3 refuses such values itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest

from tests.services.dynamodb_helpers import S, client, make_table, tname

SERIALIZATION = "com.amazon.coral.service#SerializationException"
PKG = "com.amazonaws.dynamodb.v20120810"
START = "Start of structure or map found where not expected"
FIELD = "Unexpected field type"
ELEMENT = "Unexpected value type in payload"
CAST = (
    "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to "
    "class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and "
    "java.lang.Class are in module java.base of loader 'bootstrap')"
)
ITEM_MAP = f"Unrecognized collection type java.util.Map<java.lang.String, {PKG}.AttributeValue>"


def _post(server: Any, target: str, data: bytes | None) -> tuple[int, dict[str, str], bytes]:
    cred = "test/20260101/us-east-1/dynamodb/aws4_request"
    req = urllib.request.Request(
        server.endpoint + "/",
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": target,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def call(cloudlet_server):
    def send(op: str, body: Any) -> tuple[int, dict]:
        status, _, raw = _post(
            cloudlet_server, f"DynamoDB_20120810.{op}", json.dumps(body).encode()
        )
        return status, json.loads(raw)

    return send


def _at(path: str, value: Any, base: dict | None = None) -> dict:
    """``base`` (a fresh dict) with ``value`` at the dotted ``path`` (``0`` = a list)."""
    doc: dict = dict(base or {})
    node: Any = doc
    parts = path.split(".")
    for here, nxt in zip(parts, parts[1:], strict=False):
        child: Any = [] if nxt == "0" else {}
        if isinstance(node, list):
            node.append(child)
        else:
            node[here] = child
        node = child
    if isinstance(node, list):
        node.append(value)
    else:
        node[parts[-1]] = value
    return doc


STRING = [
    (True, "TRUE_VALUE cannot be converted to String"),
    (False, "FALSE_VALUE cannot be converted to String"),
    (23, "NUMBER_VALUE cannot be converted to String"),
    (34.56, "DECIMAL_VALUE cannot be converted to String"),
    ([], "Unrecognized collection type class java.lang.String"),
    ({}, START),
]
BOOLEAN = [
    ("23", "Unexpected token received from parser"),
    (23, "NUMBER_VALUE cannot be converted to Boolean"),
    (34.56, "DECIMAL_VALUE cannot be converted to Boolean"),
    ([], "Unrecognized collection type class java.lang.Boolean"),
    ({}, START),
]
BLOB = [
    (True, "only base-64-encoded strings are convertible to bytes"),
    (23, "only base-64-encoded strings are convertible to bytes"),
    ([], "Unrecognized collection type class java.nio.ByteBuffer"),
    ({}, START),
    ("23456", "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
    ("=+/=", "Invalid last non-pad Base64 character dectected"),
    ("+/+=", "Invalid last non-pad Base64 character dectected"),
]


def _whole(java: str) -> list[tuple[Any, str]]:
    return [
        ("23", f"STRING_VALUE cannot be converted to {java}"),
        (True, f"TRUE_VALUE cannot be converted to {java}"),
        (False, f"FALSE_VALUE cannot be converted to {java}"),
        ([], f"Unrecognized collection type class java.lang.{java}"),
        ({}, START),
    ]


def _scalars_elsewhere(bad: list[tuple[Any, str]], where: str) -> list[tuple[Any, str]]:
    """A list field (``where`` = "field") or a list/map inside a list or map ("element")."""
    text = FIELD if where == "field" else CAST
    return [("23", text), (True, text), (23, text), (34.56, text)] + bad


def _struct(name: str, where: str) -> list[tuple[Any, str]]:
    text = FIELD if where == "field" else ELEMENT
    return [(v, text) for v in ("23", True, 23, 34.56)] + [
        ([], f"Unrecognized collection type class {PKG}.{name}")
    ]


ATTR = "Item.a"  # an AttributeValue as a map value
CASES: list[tuple[str, str, list[tuple[Any, str]]]] = [
    ("GetItem", "TableName", STRING),
    ("GetItem", "ConsistentRead", BOOLEAN),
    ("Scan", "Limit", _whole("Integer")),
    ("Scan", "Segment", _whole("Integer")),
    ("CreateTable", "ProvisionedThroughput.ReadCapacityUnits", _whole("Long")),
    ("CreateTable", "ProvisionedThroughput", _struct("ProvisionedThroughput", "field")),
    ("CreateTable", "KeySchema.0", _struct("KeySchemaElement", "element")),
    ("Scan", "AttributesToGet", _scalars_elsewhere([({}, START)], "field")),
    ("Scan", "AttributesToGet.0", STRING),
    ("GetItem", "Key", _scalars_elsewhere([([], ITEM_MAP)], "field")),
    ("PutItem", ATTR, _struct("AttributeValue", "element")),
    ("PutItem", f"{ATTR}.S", STRING),
    ("PutItem", f"{ATTR}.N", STRING),
    ("PutItem", f"{ATTR}.B", BLOB),
    ("PutItem", f"{ATTR}.BOOL", BOOLEAN),
    ("PutItem", f"{ATTR}.NULL", BOOLEAN),
    ("PutItem", f"{ATTR}.SS", _scalars_elsewhere([({}, START)], "field")),
    ("PutItem", f"{ATTR}.BS.0", BLOB),
    ("PutItem", f"{ATTR}.L.0", _struct("AttributeValue", "element")),
    ("PutItem", f"{ATTR}.L.0.BS.0", BLOB),
    ("PutItem", f"{ATTR}.M", _scalars_elsewhere([([], ITEM_MAP)], "field")),
    ("PutItem", f"{ATTR}.M.b", _struct("AttributeValue", "element")),
    ("PutItem", f"{ATTR}.M.b.BS.0", BLOB),
    (
        "Query",
        "ExpressionAttributeNames",
        _scalars_elsewhere(
            [
                (
                    [],
                    "Unrecognized collection type java.util.Map<java.lang.String, java.lang.String>",
                )
            ],
            "field",
        ),
    ),
    (
        "BatchWriteItem",
        "RequestItems",
        _scalars_elsewhere(
            [
                (
                    [],
                    "Unrecognized collection type java.util.Map<java.lang.String, "
                    f"java.util.List<{PKG}.WriteRequest>>",
                )
            ],
            "field",
        ),
    ),
    ("BatchWriteItem", "RequestItems.t", _scalars_elsewhere([({}, START)], "element")),
    ("BatchWriteItem", "RequestItems.t.0", _struct("WriteRequest", "element")),
    ("BatchWriteItem", "RequestItems.t.0.PutRequest", _struct("PutRequest", "field")),
    ("BatchGetItem", "RequestItems.t.Keys.0", _scalars_elsewhere([([], ITEM_MAP)], "element")),
    ("TransactWriteItems", "TransactItems.0.Put", _struct("Put", "field")),
    ("UpdateTimeToLive", "TimeToLiveSpecification", _struct("TimeToLiveSpecification", "field")),
]


@pytest.mark.parametrize(
    ("op", "path", "pairs"), CASES, ids=[f"{op}-{path}" for op, path, _ in CASES]
)
def test_wrong_types_get_jacksons_words(call, op, path, pairs):
    for value, text in pairs:
        status, body = call(
            op, _at(path, value, {"TableName": "abc"} if path != "TableName" else {})
        )
        assert (status, body) == (400, {"__type": SERIALIZATION, "Message": text}), (path, value)


def test_lenient_booleans_and_whole_numbers_are_taken(cloudlet_server, call):
    ddb = client(cloudlet_server)
    table = tname("ser")
    make_table(ddb, table, ("pk", "S"))
    for i in range(3):
        ddb.put_item(TableName=table, Item={"pk": S(str(i))})
    for word, expected in [("true", True), ("YES", True), ("1", True), ("No", False), ("0", False)]:
        status, body = call(
            "PutItem", {"TableName": table, "Item": {"pk": S(word), "b": {"BOOL": word}}}
        )
        assert status == 200, body
        stored = ddb.get_item(TableName=table, Key={"pk": S(word)})["Item"]
        assert stored["b"] == {"BOOL": expected}
    status, body = call(
        "GetItem", {"TableName": table, "Key": {"pk": S("0")}, "ConsistentRead": "yes"}
    )
    assert (status, body["Item"]) == (200, {"pk": S("0"), "b": {"BOOL": False}})
    status, body = call("Scan", {"TableName": table, "Limit": 1.9})  # Java rounds down: 1
    assert (status, body["Count"]) == (200, 1)


def test_the_frameworks_own_answers_name_nothing(cloudlet_server):
    """Byte for byte what dynalite's connection.js recorded, CRC-32 included."""
    expected = {
        b"hi": (b'{"__type":"com.amazon.coral.service#SerializationException"}', 3948637019),
        None: (b'{"__type":"com.amazon.coral.service#SerializationException"}', 3948637019),
    }
    for data, (body, crc) in expected.items():
        status, headers, raw = _post(cloudlet_server, "DynamoDB_20120810.ListTables", data)
        assert (status, raw) == (400, body)
        assert int(headers["x-amz-crc32"]) == crc == zlib.crc32(body)
    status, headers, raw = _post(cloudlet_server, "DynamoDB_20120810.ListTable", b"{}")
    assert (status, raw) == (
        400,
        b'{"__type":"com.amazon.coral.service#UnknownOperationException"}',
    )
    assert headers["x-amz-crc32"] == "1368724161"


def test_other_json_services_keep_their_wording(cloudlet_server):
    """Only DynamoDB's front end is Jackson's: CloudWatch Logs words a wrong type its way."""
    req = urllib.request.Request(
        cloudlet_server.endpoint + "/",
        data=json.dumps({"limit": "x"}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/"
            "aws4_request, SignedHeaders=host, Signature=00",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=30)
    body = json.loads(exc.value.read())
    assert body["__type"].endswith("#SerializationException")
    assert "must be of type" in body["message"]
