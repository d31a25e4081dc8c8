"""The syntax of the table operations' requests, checked before any table is looked up.

Why a module of its own: AWS checks a request's syntax (names, enums, lengths, capacity
values, key types) before its meaning and before it looks the table up, so a bad
request naming a missing table is a ValidationException (dynalite's suite and moto's
AWS-verified tests). These checks need no ``Table``: CreateTable, UpdateTable, the TTL,
tag, backup and item operations run them first; ``tables.py`` keeps what needs the
schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudlet.services.dynamodb import errors

_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")
TABLE_CLASSES = ("STANDARD", "STANDARD_INFREQUENT_ACCESS")
STREAM_VIEWS = ("OLD_IMAGE", "KEYS_ONLY", "NEW_AND_OLD_IMAGES", "NEW_IMAGE")


def check_table_name(name: str, member: str = "tableName") -> None:
    """A table (index, backup) name: 3 to 255 characters of ``[a-zA-Z0-9_.-]``. A name
    breaking both rules gets both, the length first, as AWS words it for 'x!' (moto's
    AWS-verified test_update_item_with_invalid_table_name) and for '' (ack-api-quirks
    capture describe_table_empty_name)."""
    broken = _name_rules(name)
    if broken:
        raise errors.constraints([(name, member, rule) for rule in broken])


def valid_table_name(name: str) -> bool:
    """Whether ``name`` keeps the rules ``check_table_name`` enforces."""
    return not _name_rules(name)


def _name_rules(name: str) -> list[str]:
    """The name rules ``name`` breaks, as AWS words them, the length first."""
    broken = []
    if not 3 <= len(name) <= 255:
        bound = "greater than or equal to 3" if len(name) < 3 else "less than or equal to 255"
        broken.append(f"Member must have length {bound}")
    if not _NAME.fullmatch(name):
        broken.append("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    return broken


def check_table_reference(name: str) -> None:
    """The TableName of an operation on an existing table, which takes the table's name or
    its ARN (botocore's ``TableArn`` shape). An ARN is looked up as it is (an unknown one
    finds nothing); anything else must be a valid table name, refused before any lookup:
    AWS answers 'non!existent!table' with a ValidationException, not a
    ResourceNotFoundException (Alternator's test_item.py::
    test_item_operations_improper_named_table, scylladb PR #12608)."""
    if not name.startswith("arn:"):
        check_table_name(name)


def check_item_table_reference(name: str) -> None:
    """The TableName of an item operation (GetItem, PutItem, UpdateItem, DeleteItem,
    Query, Scan). Its shape, botocore's ``TableArn``, is at least 1 character long, and
    AWS's request validation now checks that first and stops there: '' is one error,
    ``Value '' at 'tableName' ... greater than or equal to 1`` (nubo-db/dynamodb-
    conformance's four-region capture of 2026-06 for PutItem, paritysuite's of 2026-10-09
    for UpdateItem), where the table operations still report the name rules' two
    (``check_table_name``; ack-api-quirks DDB-TABLE-457, DescribeTable, 2026-10-09). Any
    other name is a table reference as ``check_table_reference`` takes it: a 256-character
    name still breaks the 255 limit (the same PutItem captures)."""
    if not name:
        raise errors.constraint(
            name, "tableName", "Member must have length greater than or equal to 1"
        )
    check_table_reference(name)


def require_table_name(body: bytes) -> None:
    """A CreateTable request's body names its table. AWS's CreateTable says so in words of
    its own, ``The parameter 'TableName' is required but was not present in the request``
    (nubo-db/dynamodb-conformance, tier3 createTable), where the other operations answer
    the generic ``Value null at 'tableName' ... must not be null`` the JSON codec gives
    every service; so this runs before the codec. A body that is not a JSON object is left
    for the codec to refuse, as is an empty one (DynamoDB's SerializationException)."""
    try:
        document = json.loads(body)
    except ValueError:
        return
    if isinstance(document, dict) and document.get("TableName") is None:
        raise errors.validation(
            "The parameter 'TableName' is required but was not present in the request"
        )


MAX_CAPACITY_UNITS = 1_000_000_000_000
"""The largest ReadCapacityUnits / WriteCapacityUnits AWS takes as a value ("Given value
1000000000001 for ReadCapacityUnits is out of bounds": dynalite's createTable.js and
updateTable.js, checked against DynamoDB). The account's 40,000 per-table quota is another
matter, not enforced here."""
_UNITS = (("WriteCapacityUnits", "writeCapacityUnits"), ("ReadCapacityUnits", "readCapacityUnits"))
"""The two units with their member names, in the order AWS reports values under 1."""


def check_capacity_units(
    throughput: dict[str, Any] | None, where: str = "provisionedThroughput", index: str = ""
) -> None:
    """A ProvisionedThroughput's values, which need no table to check (UpdateTable checks
    them before it looks the table up): at least 1, both reported at once, write first;
    then at most ``MAX_CAPACITY_UNITS``, read first. ``where`` is the member path, ``index``
    the GSI's name, which the bound's text names."""
    if not throughput:
        return
    low = [
        (value, f"{where}.{member}", "Member must have value greater than or equal to 1")
        for unit, member in _UNITS
        if (value := throughput.get(unit)) is not None and value < 1
    ]
    if low:
        raise errors.constraints(low)
    for unit, _ in reversed(_UNITS):
        value = throughput.get(unit)
        if value is not None and value > MAX_CAPACITY_UNITS:
            suffix = f" for index {index}" if index else ""
            raise errors.validation(f"Given value {value} for {unit} is out of bounds{suffix}")


def check_table_enums(params: dict[str, Any]) -> None:
    """The enum members CreateTable and UpdateTable share, checked before anything else
    (AWS checks a request's syntax before its meaning)."""
    errors.check_enum(params.get("BillingMode"), "billingMode", BILLING_MODES)
    table_class = params.get("TableClass")
    if table_class is not None and table_class not in TABLE_CLASSES:
        # AWS's own text, not the enum constraint's (quoted in Alternator's
        # test_tableclass.py::test_tableclass_create_table_bad_tableclass)
        raise errors.validation(
            "Invalid table-class parameter provided. Please try again with a valid "
            f"table-class value: [{', '.join(TABLE_CLASSES)}]."
        )
    stream = params.get("StreamSpecification") or {}
    errors.check_enum(
        stream.get("StreamViewType"), "streamSpecification.streamViewType", STREAM_VIEWS
    )
    mode = params.get("GlobalTableSettingsReplicationMode")
    errors.check_enum(mode, "globalTableSettingsReplicationMode", SETTINGS_MODES)
    if mode == "ENABLED_WITH_OVERRIDES":
        # What DynamoDB sets on a same-account global table, never a caller's (lab
        # capture DDB-TABLE-048, whose text is captured up to "replication a").
        raise errors.validation(
            "Value 'ENABLED_WITH_OVERRIDES' at 'GlobalTableSettingsReplicationMode' failed to "
            "satisfy constraint: Only ENABLED and DISABLED settings replication are allowed"
        )


SETTINGS_MODES = ("ENABLED", "DISABLED", "ENABLED_WITH_OVERRIDES")


MAX_KEY_NAME = 255
"""The longest key attribute name: the table's and its indexes' keys, AttributeDefinitions,
and an index's projected NonKeyAttributes (botocore's KeySchemaAttributeName and
NonKeyAttributeName; Alternator's test_limits.py, validated against AWS)."""
Broken = list[tuple[Any, str, str]]
"""Broken constraints, (value, member, rule) each, for ``errors.constraints``."""
_NON_KEY_RULE = (
    "Member must satisfy constraint: [Member must have length less than or equal to "
    f"{MAX_KEY_NAME}, Member must have length greater than or equal to 1]"
)


def check_schema_syntax(params: dict[str, Any]) -> None:
    """The syntax of a CreateTable's or UpdateTable's key schemas and projections: key
    attribute names of at most ``MAX_KEY_NAME`` characters, KeyType HASH or RANGE,
    ProjectionType one of AWS's, index KeySchema and NonKeyAttributes lists not empty. AWS checks
    syntax before meaning and reports every broken rule at once (Alternator's
    test_limits.py ``*_incoherent_names``; moto's AWS-verified
    test_create_table__specify_non_key_column: an unknown KeyType beats undefined attributes;
    dynalite's createTable.js for the index members)."""
    broken: Broken = []
    for i, d in enumerate(params.get("AttributeDefinitions") or [], 1):
        _check_name_length(d.get("AttributeName"), f"attributeDefinitions.{i}.member", broken)
    _check_schema_members(params.get("KeySchema"), "keySchema", broken)
    for member in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        for j, spec in enumerate(params.get(member) or [], 1):
            _check_index_syntax(spec, f"{member[0].lower()}{member[1:]}.{j}.member", broken)
    for j, upd in enumerate(params.get("GlobalSecondaryIndexUpdates") or [], 1):
        if upd.get("Create"):
            _check_index_syntax(
                upd["Create"], f"globalSecondaryIndexUpdates.{j}.member.create", broken
            )
    if broken:
        raise errors.constraints(broken)


PROJECTIONS = ("ALL", "INCLUDE", "KEYS_ONLY")
"""The projection types, in the order AWS's enum message lists them."""


def _enum_rule(allowed: tuple[str, ...]) -> str:
    return f"Member must satisfy enum value set: [{', '.join(allowed)}]"


def _check_index_syntax(spec: dict[str, Any], where: str, broken: Broken) -> None:
    schema = spec.get("KeySchema")
    if schema == []:
        broken.append(
            ("[]", f"{where}.keySchema", "Member must have length greater than or equal to 1")
        )
    _check_schema_members(schema, f"{where}.keySchema", broken)
    projection = spec.get("Projection") or {}
    ptype = projection.get("ProjectionType")
    if ptype is not None and ptype not in PROJECTIONS:
        broken.append((ptype, f"{where}.projection.projectionType", _enum_rule(PROJECTIONS)))
    non_key = projection.get("NonKeyAttributes")
    if non_key == []:
        broken.append(
            (
                "[]",
                f"{where}.projection.nonKeyAttributes",
                "Member must have length greater than or equal to 1",
            )
        )
    elif any(len(name) > MAX_KEY_NAME for name in non_key or []):
        broken.append(
            (f"[{', '.join(non_key)}]", f"{where}.projection.nonKeyAttributes", _NON_KEY_RULE)
        )


def _check_schema_members(schema: list[dict[str, str]] | None, where: str, broken: Broken) -> None:
    for i, element in enumerate(schema or [], 1):
        _check_name_length(element.get("AttributeName"), f"{where}.{i}.member", broken)
        kind = element.get("KeyType")
        if kind is not None and kind not in _KEY_TYPES:
            broken.append((kind, f"{where}.{i}.member.keyType", _enum_rule(_KEY_TYPES)))


_KEY_TYPES = ("HASH", "RANGE")


def _check_name_length(name: str | None, where: str, broken: Broken) -> None:
    if name is not None and len(name) > MAX_KEY_NAME:
        broken.append(
            (
                name,
                f"{where}.attributeName",
                f"Member must have length less than or equal to {MAX_KEY_NAME}",
            )
        )
