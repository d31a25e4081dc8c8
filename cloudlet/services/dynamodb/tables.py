"""Table definitions: what CreateTable accepts, what DescribeTable answers.

A ``Table`` is the parsed, validated definition (key schema, attribute
definitions, secondary indexes, billing, warm and on-demand throughput, streams,
TTL, tags, ...) kept in memory for every request and saved as JSON in
``tables.meta``. CreateTable's
checks and messages are DynamoDB's (the request syntax checked before any lookup is
``table_syntax``'s); item-level rules that depend on the key
schema (``key_of``) live here too because they are the schema's (what a key value
may hold, and an item's place in an index, are ``key_values``'). A GSI's key may
have several HASH and RANGE attributes (``Index.more_hash``/``more_range``; the
rules and the key bytes are ``multikey``'s).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.dynamodb import encryption, errors, multikey
from cloudlet.services.dynamodb.expressions.ordering import type_of
from cloudlet.services.dynamodb.key_values import (
    check_key_size,
    check_not_empty,
    number_partition,
)
from cloudlet.services.dynamodb.store import hash_of
from cloudlet.services.dynamodb.table_syntax import (
    PROJECTIONS,
    check_capacity_units,
    check_schema_syntax,
    check_table_enums,
    check_table_name,
)
from cloudlet.services.dynamodb.tags import check_tags
from cloudlet.services.dynamodb.values import AV, Item, key_bytes
from cloudlet.services.dynamodb.warm import WARM_UNITS, check_warm_minimum

"""Table and index names, matched whole (``fullmatch``: ``$`` would let a final newline by)."""
MAX_GSI = 20
MAX_LSI = 5
"""The enums in the order AWS's validation messages list them."""
_TYPE_WORDS = {"S": "S", "N": "N", "B": "B"}


@dataclass
class Index:
    name: str
    iid: int
    kind: str  # "GSI" | "LSI"
    hash: tuple[str, str]
    range: tuple[str, str] | None
    projection: str = "ALL"
    non_key: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    throughput: dict[str, int] | None = None
    warm: dict[str, int] | None = None
    """WarmThroughput as configured (None: AWS's baseline)."""
    on_demand: dict[str, int] | None = None
    """OnDemandThroughput as configured (None: no maximum)."""
    throughput_log: dict[str, Any] | None = None
    """Capacity changes (``throughput.record_change``): last increase/decrease, count."""
    more_hash: list[tuple[str, str]] = field(default_factory=list)
    """A multi-attribute GSI key's HASH attributes after ``hash``, in KeySchema order
    (``multikey``); empty for every other index."""
    more_range: list[tuple[str, str]] = field(default_factory=list)
    """A multi-attribute GSI key's RANGE attributes after ``range``, in KeySchema order."""

    @property
    def multi(self) -> bool:
        """Whether the key has more than one HASH or more than one RANGE attribute."""
        return bool(self.more_hash or self.more_range)

    def hash_keys(self) -> list[tuple[str, str]]:
        """Every HASH attribute (name, type), in KeySchema order."""
        return [self.hash, *self.more_hash]

    def range_keys(self) -> list[tuple[str, str]]:
        """Every RANGE attribute (name, type), in KeySchema order; none for a hash-only key."""
        return ([self.range] if self.range is not None else []) + self.more_range

    def key_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.hash_keys() + self.range_keys())


@dataclass
class Table:
    tid: int
    account: str
    region: str
    name: str
    hash: tuple[str, str]
    range: tuple[str, str] | None
    attributes: dict[str, str]
    created: float
    table_id: str = ""
    billing: str = "PROVISIONED"
    throughput: dict[str, int] = field(default_factory=dict)
    indexes: list[Index] = field(default_factory=list)
    stream: dict[str, Any] | None = None
    """Current stream: {"arn", "label", "view", "enabled"}; kept when disabled (readable 24 h)."""
    ttl: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    deletion_protection: bool = False
    sse: dict[str, Any] | None = None
    table_class: str = "STANDARD"
    table_class_set: bool = False
    """Whether a request named the class: DescribeTable shows a STANDARD class only then
    (Alternator's test_tableclass.py, validated against AWS)."""
    table_class_updated: float | None = None
    """When UpdateTable last changed the class (TableClassSummary's LastUpdateDateTime)."""
    pitr: dict[str, Any] | None = None
    status: str = "ACTIVE"
    warm: dict[str, int] | None = None
    """WarmThroughput as configured (None: AWS's baseline)."""
    on_demand: dict[str, int] | None = None
    """OnDemandThroughput as configured (None: no maximum)."""
    on_demand_since: float | None = None
    """When PAY_PER_REQUEST was last set (BillingModeSummary); None: never."""
    throughput_log: dict[str, Any] | None = None
    """Capacity changes (``throughput.record_change``): last increase/decrease, count."""
    restore: dict[str, Any] | None = None
    """Where a restored table came from: {"SourceBackupArn"?, "SourceTableArn", "RestoreDateTime"
    (epoch seconds)}; DescribeTable's RestoreSummary. None: not restored."""
    restoring: dict[str, Any] | None = None
    """The restore still running (``restores.py``): {"backup": bid} or {"table": source
    tid, "when": epoch seconds}, with "copied" once every item is in. None: none."""
    replicas: list[str] = field(default_factory=list)
    """Global table (version 2019.11.21): the regions of its replicas, this one's too,
    sorted; empty for a table in one region (``replicas.py``)."""
    sourced: dict[str, float] = field(default_factory=dict)
    """The regions of the replicas this table was copied to, with when (it may not leave
    the group for a day while they exist: ``replicas.check_may_leave``)."""
    insights: dict[str, dict[str, Any]] = field(default_factory=dict)
    """CloudWatch Contributor Insights of the table ("") and of its GSIs (by name):
    ``insights.py``'s entries. Empty: never configured."""
    consistency: str | None = None
    """A global table's MultiRegionConsistency: "STRONG" for MRSC (``strong.py``), None for
    the default, eventual."""
    witness: str | None = None
    """The region of an MRSC global table's witness (no table there); None when none."""
    remote: dict[str, str] = field(default_factory=dict)
    """A multi-account global table's other members, by region: their table ARNs
    (``multiaccount.py``). Empty for a table whose replicas (if any) are its account's."""
    kinesis: list[dict[str, Any]] = field(default_factory=list)
    """Kinesis streaming destinations ({"arn", "status", "precision", "description"}):
    ``kinesis_dest.py``. Empty: the table never streamed to Kinesis."""
    settings: str | None = None
    """GlobalTableSettingsReplicationMode as CreateTable or UpdateTable set it ("ENABLED",
    "DISABLED"; "ENABLED" on every member of a multi-account global table). None: never
    set (a same-account global table shows ENABLED_WITH_OVERRIDES)."""
    replicating: dict[str, Any] | None = None
    """The copy that makes this table a new replica (``replicas.py``): {"source": tid,
    "after": the last key copied (h, hk hex, rk hex) or None}. None: no copy running."""
    item_count: int | None = None
    size_bytes: int | None = None
    index_counts: dict[int, list[int]] | None = None
    """[items, bytes] of each index by iid, kept current like ``item_count`` (None: count
    them again)."""

    # ---- persistence

    def to_meta(self) -> str:
        data = asdict(self)
        data.pop("item_count")
        data.pop("size_bytes")
        data.pop("index_counts")
        for ix in data["indexes"]:
            # Single-attribute indexes keep the definition they were always saved with.
            for extra in ("more_hash", "more_range"):
                if not ix[extra]:
                    del ix[extra]
        return json.dumps(data)

    @classmethod
    def from_meta(cls, tid: int, meta: str) -> Table:
        data = json.loads(meta)
        data["tid"] = tid
        data["hash"] = tuple(data["hash"])
        data["range"] = tuple(data["range"]) if data["range"] else None
        indexes = []
        for ix in data.pop("indexes"):
            ix["hash"] = tuple(ix["hash"])
            ix["range"] = tuple(ix["range"]) if ix["range"] else None
            for extra in ("more_hash", "more_range"):
                ix[extra] = [tuple(attr) for attr in ix.get(extra, ())]
            indexes.append(Index(**ix))
        return cls(indexes=indexes, **data)

    # ---- names

    @property
    def arn(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.name}"

    def member_key(self, region: str) -> tuple[str, str, str]:
        """(account, region, name) of the member of this table's global table in
        ``region``: another account's table named by ``remote``, or this account's table
        of the same name."""
        arn = self.remote.get(region)
        if arn is None:
            return (self.account, region, self.name)
        fields = arn.split(":", 5)
        return (fields[4], fields[3], fields[5][len("table/") :])

    def index(self, name: str) -> Index:
        for ix in self.indexes:
            if ix.name == name:
                return ix
        raise errors.validation(f"The table does not have the specified index: {name}")

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash[0],) if self.range is None else (self.hash[0], self.range[0])

    # ---- keys

    def key_of(
        self, item: Item, *, is_key: bool = False, sizes: bool = True, batch: bool = False
    ) -> tuple[int, bytes, bytes]:
        """``(h, hk, rk)`` of an item (or of a Key parameter when ``is_key``), with AWS's checks.

        ``sizes=False`` skips the key size limits, for keys read back from storage (logged
        before the limits were enforced, they must still be found). ``batch``: an item of
        BatchWriteItem, whose missing or mistyped key AWS answers with the key-parameter
        text, not PutItem's naming the attribute (AWS-recorded LocalStack snapshot
        ``test_batch_write_not_matching_schema``).
        """
        hname, htype = self.hash
        hv = item.get(hname)
        if self.range is not None:
            rname, rtype = self.range
            rv = item.get(rname)
        else:
            rname = rtype = ""
            rv = None
        if batch and (
            hv is None
            or htype not in hv
            or (self.range is not None and (rv is None or rtype not in rv))
        ):
            raise errors.key_schema_mismatch()
        if is_key:
            if (
                hv is None
                or (self.range is not None and rv is None)
                or len(item) != (1 if self.range is None else 2)
            ):
                raise errors.key_schema_mismatch()
            if htype not in hv or (rv is not None and rtype not in rv):
                raise errors.key_schema_mismatch()
        else:
            if hv is None:
                raise errors.per_item(
                    errors.invalid_parameter(f"Missing the key {hname} in the item")
                )
            if htype not in hv:
                raise errors.per_item(
                    errors.invalid_parameter(
                        f"Type mismatch for key {hname} expected: {htype} actual: {type_of(hv)}"
                    )
                )
            if self.range is not None:
                if rv is None:
                    raise errors.per_item(
                        errors.invalid_parameter(f"Missing the key {rname} in the item")
                    )
                if rtype not in rv:
                    raise errors.per_item(
                        errors.invalid_parameter(
                            f"Type mismatch for key {rname} expected: {rtype} actual: {type_of(rv)}"
                        )
                    )
        hk = _key_part(hname, hv, True if sizes else None)
        rk = _key_part(rname, rv, False if sizes else None) if rv is not None else b""
        return hash_of(hk, number_partition([self.hash])), hk, rk

    def key_item(self, item: Item) -> Item:
        """Just the primary key attributes of an item."""
        if self.range is None:
            return {self.hash[0]: item[self.hash[0]]}
        return {self.hash[0]: item[self.hash[0]], self.range[0]: item[self.range[0]]}


def _key_part(name: str, value: AV, is_hash: bool | None) -> bytes:
    """A key attribute's bytes; ``is_hash`` picks the size limit (None: no limit)."""
    check_not_empty(name, value)
    if is_hash is not None:
        check_key_size(value, is_hash)
    return key_bytes(value)


# --------------------------------------------------------------------------- CreateTable


def parse_key_schema(
    schema: list[dict[str, str]], defs: dict[str, str], where: str = "", *, table: bool = False
) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """A table's or an LSI's key: one HASH attribute and at most one RANGE attribute.

    ``table``: the table's own KeySchema, whose attributes AWS first counts against the
    definitions ("Some index key attribute have no definition": dynalite's createTable.js,
    checked against DynamoDB, and moto's test_create_table_with_missing_attributes).
    """
    _check_schema_length(schema, 2)
    if table and len(schema) > len(defs):
        raise errors.validation("Invalid KeySchema: Some index key attribute have no definition")
    _check_defined(schema, defs)
    _check_pair_schema(schema, where)
    hashes, ranges = _key_attributes(schema, defs)
    return hashes[0], (ranges[0] if ranges else None)


def parse_gsi_key_schema(
    schema: list[dict[str, str]], defs: dict[str, str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A GSI's key: its HASH and its RANGE attributes, up to four of each (``multikey``)."""
    _check_schema_length(schema, None)
    _check_defined(schema, defs)
    if multikey.is_multi_schema(schema):
        multikey.check_gsi_key_schema(schema)
    else:
        _check_pair_schema(schema, "")
    return _key_attributes(schema, defs)


def _check_schema_length(schema: list[dict[str, str]], most: int | None) -> None:
    """At least one element, at most ``most`` (None: a GSI's, whose limits ``multikey``
    checks). Too many are echoed as AWS's Java ``toString`` of the list,
    ``[KeySchemaElement(attributeName=pk, keyType=HASH), ...]`` (nubo-db/dynamodb-
    conformance, tier3 createTable), each element's fields in the class's order."""
    if not schema:
        raise errors.constraint(
            "[]", "keySchema", "Member must have length greater than or equal to 1"
        )
    if most is not None and len(schema) > most:
        elements = [
            {"AttributeName": e.get("AttributeName"), "KeyType": e.get("KeyType")} for e in schema
        ]
        raise errors.list_too_long("keySchema", elements, "KeySchemaElement", most)


def _check_pair_schema(schema: list[dict[str, str]], where: str) -> None:
    """A one- or two-element KeySchema: the names differ, then HASH first and RANGE second
    (dynalite's createTable.js, checked against DynamoDB: the same-name text wins)."""
    if len(schema) == 2 and schema[0]["AttributeName"] == schema[1]["AttributeName"]:
        raise errors.validation(
            f"Both the Hash Key and the Range Key element in the KeySchema{where} have the "
            "same name"
        )
    types = [e.get("KeyType") for e in schema]
    if types[0] != "HASH":
        raise errors.validation(
            f"Invalid KeySchema{where}: The first KeySchemaElement is not a HASH key type"
        )
    if len(schema) == 2 and types[1] != "RANGE":
        raise errors.validation(
            f"Invalid KeySchema{where}: The second KeySchemaElement is not a RANGE key type"
        )


def _check_defined(schema: list[dict[str, str]], defs: dict[str, str]) -> None:
    """Every key attribute has a definition, checked before the schema's shape. AWS's text
    lists all the schema's keys, defined or not ("Keys: [a, c]" for an undefined c:
    dynalite's createTable.js, checked against DynamoDB)."""
    keys = [e["AttributeName"] for e in schema]
    if any(name not in defs for name in keys):
        raise errors.invalid_parameter(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(keys)}], AttributeDefinitions: [{', '.join(defs)}]"
        )


def _key_attributes(
    schema: list[dict[str, str]], defs: dict[str, str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(HASH attributes, RANGE attributes) with their defined types, in KeySchema order."""
    typed = [(e["AttributeName"], defs[e["AttributeName"]], e["KeyType"]) for e in schema]
    hashes = [(name, t) for name, t, kind in typed if kind == "HASH"]
    ranges = [(name, t) for name, t, kind in typed if kind == "RANGE"]
    return hashes, ranges


def parse_projection(name: str, projection: dict[str, Any] | None) -> tuple[str, list[str]]:
    projection = projection or {}
    ptype = projection.get("ProjectionType")
    non_key = list(projection.get("NonKeyAttributes") or [])
    if ptype is None:
        raise errors.invalid_parameter("Unknown ProjectionType: null")
    if ptype not in PROJECTIONS:
        raise errors.invalid_parameter(f"Unknown ProjectionType: {ptype}")
    if ptype != "INCLUDE" and non_key:
        raise errors.invalid_parameter(
            f"ProjectionType is {ptype}, but NonKeyAttributes is specified"
        )
    if ptype == "INCLUDE" and not non_key:
        raise errors.invalid_parameter(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        )
    _check_distinct(non_key)
    return ptype, non_key


def _check_distinct(non_key: list[str]) -> None:
    """NonKeyAttributes names each attribute once (AWS's text: ack-api-quirks DDB-TABLE-126
    and the DDB-TABLE-442 catalogue)."""
    seen: set[str] = set()
    for name in non_key:
        if name in seen:
            raise errors.invalid_parameter(f"Duplicate element in NonKeyAttributes: {name}")
        seen.add(name)


def check_throughput(
    billing: str,
    throughput: dict[str, Any] | None,
    *,
    required: bool = True,
    where: str = "provisionedThroughput",
    index: str = "",
) -> dict[str, int]:
    """The capacity a table (or GSI: ``where``, ``index`` as ``check_capacity_units``
    takes them) gets under ``billing``, with AWS's errors."""
    if billing == "PAY_PER_REQUEST":
        if throughput:
            raise errors.invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
        return {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    if not throughput:
        if not required:
            return {}
        raise errors.invalid_parameter(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode "
            "is PROVISIONED"
        )
    check_capacity_units(throughput, where, index)
    return {
        "ReadCapacityUnits": int(throughput["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(throughput["WriteCapacityUnits"]),
    }


def parse_create(params: dict[str, Any], account: str, region: str, now: float) -> Table:
    """A validated ``Table`` (tid 0, index ids 0) from CreateTable's params."""
    name = params["TableName"]
    check_table_name(name)
    check_table_enums(params)
    check_schema_syntax(params)
    defs = parse_attribute_definitions(params.get("AttributeDefinitions"))
    # The capacity before the key schema: dynalite's createTable.js, checked against AWS.
    billing = params.get("BillingMode") or "PROVISIONED"
    throughput = check_throughput(billing, params.get("ProvisionedThroughput"))
    hash_key, range_key = parse_key_schema(params.get("KeySchema") or [], defs, table=True)
    table = Table(
        tid=0,
        account=account,
        region=region,
        name=name,
        hash=hash_key,
        range=range_key,
        attributes=defs,
        created=now,
        table_id=str(uuid.uuid4()),
        billing=billing,
        throughput=throughput,
        deletion_protection=bool(params.get("DeletionProtectionEnabled")),
        table_class=params.get("TableClass") or "STANDARD",
        table_class_set=params.get("TableClass") is not None,
        tags=check_tags(params.get("Tags") or []),
        settings=params.get("GlobalTableSettingsReplicationMode"),
        on_demand_since=now if billing == "PAY_PER_REQUEST" else None,
        warm=merge_units(None, params.get("WarmThroughput"), WARM_UNITS),
        on_demand=merge_units(None, params.get("OnDemandThroughput"), ON_DEMAND_UNITS),
    )
    check_warm_minimum(billing, throughput, table.warm)
    seen: set[str] = set()
    lsis = params.get("LocalSecondaryIndexes") or []
    gsis = params.get("GlobalSecondaryIndexes") or []
    if params.get("LocalSecondaryIndexes") is not None and not lsis:
        raise errors.validation(
            "One or more parameter values were invalid: List of LocalSecondaryIndexes is empty"
        )
    if params.get("GlobalSecondaryIndexes") is not None and not gsis:
        raise errors.validation(
            "One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty"
        )
    if lsis and range_key is None:
        raise errors.invalid_parameter(
            "Table KeySchema does not have a range key, which is required when specifying a "
            "LocalSecondaryIndex"
        )
    _check_index_counts(lsis, gsis)
    for spec in lsis:
        table.indexes.append(parse_index(spec, "LSI", defs, billing, seen, table_hash=hash_key[0]))
    for i, spec in enumerate(gsis, 1):
        table.indexes.append(
            parse_index(spec, "GSI", defs, billing, seen, where=f"globalSecondaryIndexes.{i}")
        )
    used = list(table.key_names)
    for ix in table.indexes:
        used += [n for n in ix.key_names() if n not in used]
    if set(defs) - set(used):
        if table.indexes:
            # AWS lists the definitions as sent and the key attributes the schemas use.
            raise errors.invalid_parameter(
                f"Some AttributeDefinitions are not used. AttributeDefinitions: "
                f"[{', '.join(defs)}], keys used: [{', '.join(used)}]"
            )
        raise errors.invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes "
            "defined in AttributeDefinitions"
        )
    view = _created_stream_view(params.get("StreamSpecification"))
    if view is not None:
        table.stream = new_stream(table, view, now)
    if params.get("SSESpecification") is not None:
        table.sse = sse_description(table, params["SSESpecification"])
    return table


def _check_index_counts(lsis: list[Any], gsis: list[Any]) -> None:
    """CreateTable's index limits: ValidationExceptions (UpdateTable's 21st GSI is a
    LimitExceededException instead). Texts: ack-api-quirks DDB-TABLE-129 and DDB-TABLE-169."""
    if len(lsis) > MAX_LSI:
        raise errors.invalid_parameter(
            f"Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSI}"
        )
    if len(gsis) > MAX_GSI:
        raise errors.invalid_parameter(
            f"GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSI}"
        )


def _created_stream_view(stream: dict[str, Any] | None) -> str | None:
    """The StreamViewType CreateTable's StreamSpecification turns on (None: no stream).

    CreateTable's own texts differ from UpdateTable's (error catalogue DDB-TABLE-442).
    """
    if not stream:
        return None
    view = stream.get("StreamViewType")
    if stream.get("StreamEnabled"):
        if view is None:
            raise errors.invalid_parameter(
                "Table is being created with a stream enabled, UpdateViewType is required"
            )
        return view
    if view is not None:
        raise errors.invalid_parameter(
            "Table is being created with a stream disabled, UpdateViewType should not be specified"
        )
    return None


def parse_attribute_definitions(specs: list[dict[str, str]] | None) -> dict[str, str]:
    """AttributeDefinitions as {name: type}: types S, N or B, each name once."""
    defs: dict[str, str] = {}
    for i, d in enumerate(specs or [], 1):
        errors.check_enum(
            d["AttributeType"], f"attributeDefinitions.{i}.member.attributeType", ("B", "N", "S")
        )
        if d["AttributeName"] in defs:
            # AWS's text (quoted in scylladb issue #13870; Alternator's test_table.py::
            # test_create_table_duplicate_attribute_name)
            raise errors.validation(f"Attribute Name is duplicated: {d['AttributeName']}")
        defs[d["AttributeName"]] = d["AttributeType"]
    return defs


def parse_index(
    spec: dict[str, Any],
    kind: str,
    defs: dict[str, str],
    billing: str,
    seen: set[str],
    *,
    table_hash: str | None = None,
    where: str = "globalSecondaryIndexes.1",
) -> Index:
    """An index of a CreateTable (UpdateTable's GSI Create, a restore's override), checked
    in AWS's order: name, key schema, an LSI's key against the table's (``table_hash``),
    projection, a GSI's capacity (``where``: the index's member path)."""
    name = spec["IndexName"]
    check_table_name(name, "indexName")
    if name in seen:
        raise errors.invalid_parameter(f"Duplicate index name: {name}")
    seen.add(name)
    if kind == "GSI":
        hashes, ranges = parse_gsi_key_schema(spec.get("KeySchema") or [], defs)
    else:
        h, r = parse_key_schema(spec.get("KeySchema") or [], defs)
        _check_lsi_key(name, h, r, table_hash)
        hashes, ranges = [h], [r] if r is not None else []
    ptype, non_key = parse_projection(name, spec.get("Projection"))
    throughput = None
    if kind == "GSI":
        tp = spec.get("ProvisionedThroughput")
        if billing == "PROVISIONED" and not tp:
            raise errors.invalid_parameter(
                f"ProvisionedThroughput must be specified for index: {name}"
            )
        if billing == "PAY_PER_REQUEST" and tp:
            raise errors.invalid_parameter(
                f"ProvisionedThroughput should not be specified for index: {name} when "
                "BillingMode is PAY_PER_REQUEST"
            )
        throughput = check_throughput(
            billing, tp, where=f"{where}.member.provisionedThroughput", index=name
        )
    return Index(
        name=name,
        iid=0,
        kind=kind,
        hash=hashes[0],
        range=ranges[0] if ranges else None,
        more_hash=hashes[1:],
        more_range=ranges[1:],
        projection=ptype,
        non_key=non_key,
        throughput=throughput,
        warm=merge_units(None, spec.get("WarmThroughput"), WARM_UNITS) if kind == "GSI" else None,
        on_demand=(
            merge_units(None, spec.get("OnDemandThroughput"), ON_DEMAND_UNITS)
            if kind == "GSI"
            else None
        ),
    )


def _check_lsi_key(
    name: str, hash_key: tuple[str, str], range_key: tuple[str, str] | None, table_hash: str | None
) -> None:
    """An LSI needs a range key, then the table's hash key, checked before its projection
    (dynalite's createTable.js, checked against DynamoDB)."""
    if table_hash is None:
        return
    if range_key is None:
        raise errors.invalid_parameter(
            f"Index KeySchema does not have a range key for index: {name}"
        )
    if hash_key[0] != table_hash:
        raise errors.invalid_parameter(
            "Index KeySchema does not have the same leading hash key as table KeySchema for "
            f"index: {name}. index hash key: {hash_key[0]}, table hash key: {table_hash}"
        )


ON_DEMAND_UNITS = ("MaxReadRequestUnits", "MaxWriteRequestUnits")


def merge_units(
    current: dict[str, int] | None, spec: dict[str, Any] | None, units: tuple[str, str]
) -> dict[str, int] | None:
    """A WarmThroughput / OnDemandThroughput setting: ``spec``'s units over ``current``'s
    (a request may configure one unit and keep the other)."""
    if not spec:
        return current
    merged = dict(current or {})
    for unit in units:
        if spec.get(unit) is not None:
            merged[unit] = int(spec[unit])
    return merged or current


def sse_description(table: Table, spec: dict[str, Any]) -> dict[str, Any] | None:
    """SSEDescription for an SSESpecification (None: the AWS-owned key, the default)."""
    return encryption.description(table.account, table.region, spec)


def new_stream(table: Table, view: str, now: float) -> dict[str, Any]:
    label = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return {
        "arn": f"{table.arn}/stream/{label}",
        "label": label,
        "view": view,
        "enabled": True,
        "created": now,
    }
