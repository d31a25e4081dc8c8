"""Small helpers shared by the DynamoDB end-to-end tests."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

_n = itertools.count()

# "1 validation error detected: " -- since the 2026 validation-framework rollout
# DynamoDB (us-east-1 among others) wraps PutItem/UpdateItem/DeleteItem request
# validation errors in this envelope, while GetItem/BatchGetItem/Query answer bare and
# BatchWriteItem/Transact*/Scan keep the older bare wording (captured 2026-10-09 in
# eu-west-2, us-east-1, eu-west-1, us-west-2 by the paritysuite/dynamodb-conformance
# suite, tests/tier3/error-messages/valueLayers.test.ts). The tests target us-east-1.
ENVELOPE = "1 validation error detected: "
OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)


def client(server: Any, *, validate: bool = True) -> Any:
    """A DynamoDB client of ``server`` that does not retry; ``validate=False`` lets values
    botocore would refuse (``Limit=0``, ``""`` tokens, empty keys) reach the server."""
    from botocore.config import Config

    config = Config(parameter_validation=validate, retries={"total_max_attempts": 1})
    return server.client("dynamodb", config=config)


def S(v: str) -> dict:
    """A string AttributeValue."""
    return {"S": v}


def N(v: str) -> dict:
    """A number AttributeValue."""
    return {"N": v}


def tname(prefix: str = "t") -> str:
    """A table name unique within the test session (tests share one server)."""
    return f"{prefix}-{time.monotonic_ns() % 10**9}-{next(_n)}"


def index(
    name: str,
    hash: tuple[str, str],
    range: tuple[str, str] | None = None,
    projection: str = "ALL",
    non_key: list[str] | None = None,
) -> dict[str, Any]:
    """A GSI/LSI spec for ``make_table(gsis=[...])`` / ``make_table(lsis=[...])``
    (``non_key``: the NonKeyAttributes of an INCLUDE projection)."""
    spec = {"name": name, "hash": hash, "range": range, "projection": projection}
    if non_key is not None:
        spec["non_key"] = non_key
    return spec


def _key_schema(hash: tuple[str, str], range: tuple[str, str] | None) -> list[dict]:
    schema = [{"AttributeName": hash[0], "KeyType": "HASH"}]
    if range is not None:
        schema.append({"AttributeName": range[0], "KeyType": "RANGE"})
    return schema


def make_table(
    ddb,
    name: str,
    hash: tuple[str, str] = ("pk", "S"),
    range: tuple[str, str] | None = None,
    *,
    gsis: list[dict[str, Any]] | None = None,
    lsis: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> str:
    """Create a PAY_PER_REQUEST table (low-level client) and return its name.

    ``gsis``/``lsis`` take specs from :func:`index`; their key attributes are added to
    AttributeDefinitions. Any other keyword goes to CreateTable as is (for example
    ``DeletionProtectionEnabled=True``).
    """
    types: dict[str, str] = {}
    for attr in (hash, range):
        if attr is not None:
            types[attr[0]] = attr[1]
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": _key_schema(hash, range),
        "BillingMode": "PAY_PER_REQUEST",
    }
    for param, specs in (("GlobalSecondaryIndexes", gsis), ("LocalSecondaryIndexes", lsis)):
        if not specs:
            continue
        params[param] = []
        for spec in specs:
            for attr in (spec["hash"], spec["range"]):
                if attr is not None:
                    types[attr[0]] = attr[1]
            params[param].append(
                {
                    "IndexName": spec["name"],
                    "KeySchema": _key_schema(spec["hash"], spec["range"]),
                    "Projection": {"ProjectionType": spec["projection"]}
                    | ({"NonKeyAttributes": spec["non_key"]} if "non_key" in spec else {}),
                }
            )
    params["AttributeDefinitions"] = [
        {"AttributeName": attr, "AttributeType": typ} for attr, typ in types.items()
    ]
    params.update(kw)
    ddb.create_table(**params)
    return name


def scan_all(ddb, table: str, **kw: Any) -> list[dict]:
    """Every item of ``table``, page after page (``kw`` goes to each Scan)."""
    items, start = [], None
    while True:
        page = ddb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}), **kw)
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _settled(describe: Any, status: str, timeout: float) -> dict:
    """``describe()`` once its ``status`` field has left IN_PROGRESS (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        desc = describe()
        if desc[status] != "IN_PROGRESS" or time.monotonic() > deadline:
            return desc
        time.sleep(0.05)


def wait_export(ddb, arn: str, timeout: float = 30.0) -> dict:
    """The ExportDescription of a finished (or timed-out) export."""
    return _settled(
        lambda: ddb.describe_export(ExportArn=arn)["ExportDescription"], "ExportStatus", timeout
    )


def wait_import(ddb, arn: str, timeout: float = 30.0) -> dict:
    """The ImportTableDescription of a finished (or timed-out) import."""
    return _settled(
        lambda: ddb.describe_import(ImportArn=arn)["ImportTableDescription"],
        "ImportStatus",
        timeout,
    )


def assert_error(exc, code: str, message: str, status: int = 400) -> None:
    """A ClientError's exact code, message and HTTP status."""
    response = exc.value.response
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"] == message
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status


def case(id_: str, call, code: str, message):
    """One row of an error table: ``call`` expected to fail with ``code`` and ``message``."""
    return pytest.param(call, code, message, id=id_)
