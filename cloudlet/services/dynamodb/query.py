"""Query and Scan: key ranges in DynamoDB order, pages, filters, projections.

A Query is one index range scan over ``(tid|iid, h, hk)`` with the sort-key
condition turned into a range of key bytes (``begins_with`` is a prefix
range), in ``rk`` order or reversed; on a secondary index, entries of equal
index key come in their table key's hash order (``store.base_hash``), as
DynamoDB's do. A GSI with a multi-attribute key has key conditions and a key
range of its own (``multiquery``). A Scan walks ``h``
order; a parallel scan segment is a contiguous range of ``h``. Pages stop at ``Limit`` items
read or 1 MB read, whichever comes first, and carry ``LastEvaluatedKey``;
filters apply after the read as in DynamoDB (``ScannedCount`` counts reads).

``check_query`` and ``check_scan`` hold what needs no table (expressions, their
names and values, the legacy parameters, ExclusiveStartKey's values): AWS checks it
before it looks the table up, so a bad request to a missing table is a
ValidationException (dynalite's query.js and scan.js, moto's AWS-verified tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import eq, ge, gt, le, lt
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors, multikey, multiquery, paths
from cloudlet.services.dynamodb.capacity import consumed, read_units
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    Projection,
    compile_condition,
    legacy_filter,
)
from cloudlet.services.dynamodb.expressions.conditions import check_condition
from cloudlet.services.dynamodb.expressions.keys import (
    Conditions,
    KeyCondition,
    legacy_key_conditions,
    parse_key_conditions,
    reduce_key_condition,
)
from cloudlet.services.dynamodb.expressions.multikeys import (
    MultiKeyCondition,
    reduce_multi_key_condition,
)
from cloudlet.services.dynamodb.items import (
    NO_EXPRESSIONS,
    check_expression_style,
    projection_of,
)
from cloudlet.services.dynamodb.key_values import check_not_empty, index_base, number_partition
from cloudlet.services.dynamodb.store import hash_of, load
from cloudlet.services.dynamodb.tables import Index, Table
from cloudlet.services.dynamodb.values import Item, key_bytes, validate_item

Result = dict[str, Any]
PAGE_BYTES = 1024 * 1024
_FETCH = 256
MAX_SEGMENT = 999999
_SELECTS = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")


class _Target:
    """Where a Query or Scan reads: the table or one of its indexes."""

    def __init__(self, table: Table, index: Index | None) -> None:
        self.table = table
        self.index = index
        if index is None:
            self.sql_from = "items"
            self.id_col = "tid"
            self.id = table.tid
            self.cols = "size, body, h, hk, rk"
            self.order = ("h", "hk", "rk")
            self.hash, self.range = table.hash, table.range
            self.hashes = [table.hash]
            self.ranges = [table.range] if table.range is not None else []
        else:
            self.sql_from = "index_items"
            self.id_col = "iid"
            self.id = index.iid
            self.cols = "size, body, h, hk, rk, bhk, brk"
            self.order = ("h", "hk", "rk", "bh", "bhk", "brk")
            self.hash, self.range = index.hash, index.range
            self.hashes, self.ranges = index.hash_keys(), index.range_keys()
        self.multi = index is not None and index.multi
        """A multi-attribute key (``multikey``): key conditions and key bytes of its own."""

    def index_key_names(self) -> list[str]:
        """The key attributes of what is read (the table's or the index's)."""
        return [name for name, _ in self.hashes + self.ranges]

    def key_names(self) -> list[str]:
        names = self.index_key_names()
        for n in self.table.key_names:
            if n not in names:
                names.append(n)
        return names

    def check_start_count(self, esk: Item, is_query: bool) -> None:
        """AWS's first check of an ExclusiveStartKey: as many attributes as the table's and
        the index's keys have together (a Scan of the table words it as a bad key element)."""
        if len(esk) != len(self.key_names()):
            raise _bad_start_key() if self.index is None and not is_query else _invalid_start_key()

    def check_start_attr(self, esk: Item, name: str) -> None:
        """One key attribute of what is read, in ExclusiveStartKey: missing, the key is
        invalid; of another type, the element "does not match the schema", a text without
        the starting-key prefix (dynalite's query.js and scan.js, against DynamoDB)."""
        value = esk.get(name)
        if value is None:
            raise _invalid_start_key()
        if dict(self.hashes + self.ranges)[name] not in value:
            raise errors.key_schema_mismatch()

    def start_after(self, esk: Item) -> tuple[Any, ...]:
        """The position of ExclusiveStartKey (its values validated: ``_Checked``) in this
        target's order.

        Every key attribute (the table's and the index's) must be there with its
        schema type: a start key is the client's to make, so a BOOL where the index
        wants an S is the client's error, not a position to compute.
        """
        names = self.key_names()
        if set(esk) != set(names):
            raise _bad_start_key()
        try:
            table_key = self.table.key_of(esk, is_key=False)
        except Exception:
            raise _bad_start_key() from None
        if self.index is None:
            return table_key
        hk, rk = (
            multikey.join(self._start_parts(esk, attrs)) for attrs in (self.hashes, self.ranges)
        )
        index_key = (hash_of(hk, number_partition(self.hashes)), hk, rk)
        return (*index_key, *index_base(self.table, table_key))

    @staticmethod
    def _start_parts(esk: Item, attrs: list[tuple[str, str]]) -> list[bytes]:
        parts = []
        for name, want in attrs:
            value = esk[name]
            if want not in value:
                raise _bad_start_key()
            parts.append(key_bytes(value))
        return parts

    def last_key(self, item: Item) -> Item:
        return {n: item[n] for n in self.key_names() if n in item}


def _invalid_start_key() -> Exception:
    return errors.validation("The provided starting key is invalid")


def _bad_start_key() -> Exception:
    return errors.validation(
        "The provided starting key is invalid: The provided key element does not match the schema"
    )


@dataclass(slots=True)
class _Checked:
    """What ``check_query`` / ``check_scan`` found before the table was looked up."""

    filt: Condition | None
    projection: Projection | None
    esk: Item | None
    """ExclusiveStartKey with its values validated."""
    keys: Conditions | None = None
    """A Query's key conditions, not yet reduced against the key schema."""
    legacy_keys: bool = False
    """``keys`` came from KeyConditions (whose messages differ)."""


_PLAIN_START_ERRORS = (
    "contains duplicates",
    "number set",
    "numeric value",
    "significant digits",
    "number with magnitude",
)
"""The faults of a start key's values AWS reports as they are; the others it prefixes
with "The provided starting key is invalid: " (dynalite's query.js and scan.js, checked
against DynamoDB: "For some reason this message is only added to some messages")."""


def _start_key(params: dict[str, Any]) -> Item | None:
    esk = params.get("ExclusiveStartKey")
    if esk is None:
        return None
    try:
        return validate_item(esk)
    except ServiceError as exc:
        if exc.code != "ValidationException" or any(p in exc.message for p in _PLAIN_START_ERRORS):
            raise
        raise errors.validation(f"The provided starting key is invalid: {exc.message}") from None


def _context(params: dict[str, Any], uses_expressions: bool) -> ExpressionContext:
    """The request's names and values, once the parameters before them are checked."""
    if not uses_expressions:
        return NO_EXPRESSIONS
    return ExpressionContext(
        params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues")
    )


def _attributes_to_get(params: dict[str, Any], uses_expressions: bool) -> Projection | None:
    """AttributesToGet, checked with the other legacy parameters (its duplicates before
    the start key: dynalite's query.js and scan.js)."""
    return None if uses_expressions else projection_of(params, NO_EXPRESSIONS)


def _resolve(engine: Engine, table: Table, params: dict[str, Any]) -> _Target:
    name = params.get("IndexName")
    if name is None:
        return _Target(table, None)
    ix = table.index(name)
    if ix.kind == "GSI" and params.get("ConsistentRead"):
        raise errors.validation("Consistent reads are not supported on global secondary indexes")
    if ix.status == "CREATING":
        raise errors.validation(f"Cannot read from backfilling global secondary index: {name}")
    return _Target(table, ix)


def _select(params: dict[str, Any], target: _Target, projection: Any, is_query: bool) -> str:
    """The Select in effect, with AWS's messages for one that contradicts the projection
    (Query's carry the ``1 validation error detected: `` envelope, Scan's do not)."""
    select = params.get("Select")
    if select is None:
        if projection is not None:
            return "SPECIFIC_ATTRIBUTES"
        return "ALL_PROJECTED_ATTRIBUTES" if target.index is not None else "ALL_ATTRIBUTES"
    if select not in _SELECTS:
        raise errors.validation(
            f"1 validation error detected: Value '{select}' at 'select' failed to satisfy "
            "constraint: Member must satisfy enum value set: "
            "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
        )
    prefix = errors.ENVELOPE if is_query else ""
    if projection is not None and select != "SPECIFIC_ATTRIBUTES":
        member = (
            "ProjectionExpression"
            if params.get("ProjectionExpression") is not None
            else "AttributesToGet"
        )
        what = "only the Count" if select == "COUNT" else select
        raise errors.validation(f"{prefix}Cannot specify the {member} when choosing to get {what}")
    if projection is None and select == "SPECIFIC_ATTRIBUTES":
        raise errors.validation(
            f"{prefix}Must specify the AttributesToGet or ProjectionExpression when choosing "
            "to get SPECIFIC_ATTRIBUTES"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and target.index is None:
        raise errors.validation(
            f"{prefix}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    if (
        select == "ALL_ATTRIBUTES"
        and target.index is not None
        and target.index.kind == "GSI"
        and target.index.projection != "ALL"
    ):
        raise errors.invalid_parameter(
            f"Select type ALL_ATTRIBUTES is not supported for global secondary index "
            f"{target.index.name} because its projection type is not ALL"
        )
    return select


def _check_reads(
    target: _Target, params: dict[str, Any], projection: Any, filt: Condition | None, legacy: str
) -> bool:
    """The path checks of a Query or Scan (see ``paths``); True when it reads a local
    secondary index for attributes the index does not hold, which come from the table."""
    table = target.table
    if projection is not None:
        paths.check_key_paths(table, projection.paths)
    if filt is not None:
        paths.check_key_paths(table, filt.paths)
    ix = target.index
    if ix is None or ix.projection == "ALL":
        return False
    asked = [p[0] for p in projection.paths] if projection is not None else []
    if filt is not None and filt.paths:
        filtered = [p[0] for p in filt.paths]
    else:
        filtered = list(params.get(legacy) or ())  # QueryFilter / ScanFilter names
    if ix.kind == "GSI":
        paths.check_index_reads(table, ix, asked, filtered)
        return False
    return paths.needs_table(table, ix, asked + filtered)


def _limit(params: dict[str, Any], query: bool) -> int | None:
    limit = params.get("Limit")
    if limit is not None and limit < 1:
        # AWS words the two differently (captured 2026).
        where = "Value at 'Limit'" if query else f"Value '{limit}' at 'limit'"
        raise errors.validation(
            f"1 validation error detected: {where} failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return limit


def _run(
    engine: Engine,
    target: _Target,
    where: str,
    args: list[Any],
    descending: bool,
    params: dict[str, Any],
    filt: Condition | None,
    projection: Any,
    select: str,
    is_query: bool,
    needs_table: bool = False,
) -> Result:
    limit = _limit(params, is_query)
    order = ", ".join(f"{c} DESC" if descending else c for c in target.order)
    sql = (
        f"SELECT {target.cols} FROM {target.sql_from} WHERE {target.id_col} = ? {where} "
        f"ORDER BY {order}"
    )
    cur = engine.store.conn.execute(sql, [target.id, *args])
    items: list[Item] = []
    scanned = 0
    count = 0
    read_bytes = 0
    fetched = 0.0  # the read units of the table's items an LSI read fetched
    consistent = bool(params.get("ConsistentRead"))
    last: Item | None = None
    fetch_base = needs_table or (
        select == "ALL_ATTRIBUTES"
        and target.index is not None
        and target.index.kind == "LSI"
        and target.index.projection != "ALL"
    )
    stop = False
    while not stop:
        rows = cur.fetchmany(_FETCH)
        if not rows:
            break
        for row in rows:
            size = row[0]
            if scanned and read_bytes + size > PAGE_BYTES:
                stop = True
                break
            item = load(row[1])
            scanned += 1
            read_bytes += size
            last = target.last_key(item)
            shown = item
            if fetch_base:
                number = number_partition([target.table.hash])
                full = engine.read(target.table, (hash_of(row[5], number), row[5], row[6]))
                if full is not None:
                    fetched += read_units(full.size, consistent)
                    item = full.item
                    if projection is not None or select == "ALL_ATTRIBUTES":
                        shown = item  # else the table's item only served the filter
            if filt is None or filt(item):
                count += 1
                if select != "COUNT":
                    items.append(projection.apply(shown) if projection is not None else shown)
            if limit is not None and scanned >= limit:
                stop = True
                break
    more = stop
    cur.close()
    out: Result = {"Count": count, "ScannedCount": scanned}
    if select != "COUNT":
        out["Items"] = items
    if more and last is not None:
        out["LastEvaluatedKey"] = last
    capacity = _consumed(target, params, read_units(read_bytes, consistent), fetched)
    if capacity is not None:
        out["ConsumedCapacity"] = capacity
    return out


def _consumed(
    target: _Target, params: dict[str, Any], units: float, fetched: float
) -> dict[str, Any] | None:
    """ConsumedCapacity of a read of ``units`` from the table or index (None: not asked
    for); ``fetched`` is what an LSI read's fetches from the table cost, which AWS counts
    as the table's (dynalite's query.js "should return all attributes when specified for
    secondary indexes")."""
    mode = params.get("ReturnConsumedCapacity")
    if target.index is None:
        return consumed(mode, params["TableName"], units, kind="read")
    return consumed(
        mode,
        params["TableName"],
        fetched,
        kind="read",
        indexes={target.index.name: units},
        index_kinds={target.index.name: target.index.kind},
    )


def _after(target: _Target, position: tuple[Any, ...], descending: bool) -> tuple[str, list[Any]]:
    cols = ", ".join(target.order)
    marks = ", ".join("?" for _ in target.order)
    op = "<" if descending else ">"
    return f" AND ({cols}) {op} ({marks})", list(position)


# --------------------------------------------------------------------------- Query


def check_query(params: dict[str, Any]) -> _Checked:
    """A Query's checks that need no table, in AWS's order: the mix of parameter styles,
    the legacy filter and AttributesToGet, the start key's values, a key condition at all,
    then the expressions (dynalite's query.js, checked against DynamoDB)."""
    errors.check_return_options(params)
    # KeyConditions is a non-expression parameter only next to a KeyConditionExpression:
    # AWS serves it with a FilterExpression or ProjectionExpression (the order of both
    # lists is the order AWS names them in).
    legacy = ["AttributesToGet", "QueryFilter", "ConditionalOperator"]
    if params.get("KeyConditionExpression") is not None:
        legacy.append("KeyConditions")
    uses = check_expression_style(
        params, ["ProjectionExpression", "FilterExpression", "KeyConditionExpression"], legacy
    )
    # Before the key condition: AWS refuses a lone ConditionalOperator first (extenddb's
    # tests against DynamoDB). Mixing rules out a QueryFilter next to a FilterExpression.
    filt = _legacy_filter(params, "QueryFilter")
    projection = _attributes_to_get(params, uses)
    esk = _start_key(params)
    text = params.get("KeyConditionExpression")
    key_conditions = params.get("KeyConditions")
    if text is None and key_conditions is None:
        raise errors.validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in "
            "the request."
        )
    ctx = _context(params, uses)
    if text is not None:
        node = check_condition(text, ctx, "KeyConditionExpression")
    else:
        keys = legacy_key_conditions(key_conditions)
        if not keys:  # KeyConditions: {} (dynalite's query.js)
            raise errors.validation("Conditions can be of length 1 or 2 only")
    if params.get("FilterExpression") is not None:
        filt = compile_condition(params["FilterExpression"], ctx, "FilterExpression")
    if uses:
        projection = projection_of(params, ctx)
    ctx.check_unused()
    if text is not None:
        keys = parse_key_conditions(node)  # after check_unused: AWS's order (``keys``)
    return _Checked(filt, projection, esk, keys, legacy_keys=text is None)


def query(
    engine: Engine, table: Table, params: dict[str, Any], checked: _Checked | None = None
) -> Result:
    if checked is None:
        checked = check_query(params)
    filt, projection = checked.filt, checked.projection
    target = _resolve(engine, table, params)
    esk = checked.esk
    if esk is not None:
        target.check_start_count(esk, True)
    kc = _key_condition(target, checked)
    if isinstance(kc, MultiKeyCondition):
        hk, where, args = multiquery.key_range(target.hashes, target.ranges, kc)
    else:
        hk, where, args = _key_range(target, kc)
    descending = params.get("ScanIndexForward") is False
    if esk is not None:
        position = target.start_after(esk)
        _check_start_in_range(target, kc, esk, position[1] == hk)
        extra, more = _after(target, position, descending)
        where += extra
        args += more
    if params.get("FilterExpression") is not None:
        assert filt is not None
        _refuse_key_filter([p[0] for p in filt.paths if p], target, "Filter Expression")
    else:
        _refuse_key_filter(list(params.get("QueryFilter") or ()), target, "QueryFilter")
    select = _select(params, target, projection, True)
    needs_table = _check_reads(target, params, projection, filt, "QueryFilter")
    return _run(
        engine, target, where, args, descending, params, filt, projection, select, True, needs_table
    )


def _refuse_key_filter(names: list[str], target: _Target, what: str) -> None:
    """A Query may not filter on the key attributes of what it reads."""
    keys = set(target.index_key_names())
    for name in names:
        if name in keys:
            raise errors.validation(
                f"{what} can only contain non-primary key attributes: Primary key attribute: {name}"
            )


def _legacy_filter(params: dict[str, Any], parameter: str) -> Condition | None:
    """The QueryFilter or ScanFilter condition, None when there is none; a ConditionalOperator
    needs two or more conditions to join (``legacy_filter`` refuses it otherwise)."""
    filters = params.get(parameter)
    operator = params.get("ConditionalOperator")
    if not filters and operator is None:
        return None
    member = parameter[0].lower() + parameter[1:]
    return legacy_filter(filters or {}, operator, parameter=member)


def _key_condition(target: _Target, checked: _Checked) -> KeyCondition | MultiKeyCondition:
    """The key conditions ``check_query`` parsed, against what the Query reads, with
    ExclusiveStartKey's attributes checked key attribute by key attribute in between
    (AWS's order: dynalite's query.js)."""
    assert checked.keys is not None
    esk = checked.esk
    if target.multi:
        for name in target.index_key_names() if esk is not None else ():
            target.check_start_attr(esk, name)
        hash_names = [name for name, _ in target.hashes]
        range_names = [name for name, _ in target.ranges]
        return reduce_multi_key_condition(
            checked.keys, hash_names, range_names, legacy=checked.legacy_keys
        )
    rname = target.range[0] if target.range else None
    return reduce_key_condition(
        checked.keys,
        target.hash[0],
        rname,
        legacy=checked.legacy_keys,
        types=dict(target.hashes + target.ranges),
        before=None if esk is None else lambda name: target.check_start_attr(esk, name),
    )


def _key_range(target: _Target, kc: KeyCondition) -> tuple[bytes, str, list[Any]]:
    """``(hk, where, args)`` of a single-attribute key: the partition's key bytes and the
    SQL range of the sort key condition (the values' types are ``reduce_key_condition``'s
    to check)."""
    check_not_empty(target.hash[0], kc.hash_value)
    hk = key_bytes(kc.hash_value)
    where = " AND h = ? AND hk = ?"
    args: list[Any] = [hash_of(hk, number_partition([target.hash])), hk]
    for op, bound in _sort_range(target, kc):
        where += f" AND rk {op} ?"
        args.append(bound)
    return hk, where, args


_COMPARE = {"=": eq, "<": lt, "<=": le, ">": gt, ">=": ge}


def _sort_range(target: _Target, kc: KeyCondition) -> list[tuple[str, bytes]]:
    """The sort key condition as comparisons of the sort key's bytes, ``(op, bound)``
    with an ``op`` of ``_COMPARE``: what the Query reads and what its ExclusiveStartKey
    must satisfy."""
    if kc.range_op is None:
        return []
    assert target.range is not None
    for v in kc.range_values:
        check_not_empty(target.range[0], v)
    bounds = [key_bytes(v) for v in kc.range_values]
    op = kc.range_op
    if op == "BETWEEN":
        if bounds[0] > bounds[1]:
            raise errors.between_bounds(kc.range_values[0], kc.range_values[1])
        return [(">=", bounds[0]), ("<=", bounds[1])]
    if op == "begins_with":
        upper = multikey.successor(bounds[0])
        return [(">=", bounds[0])] + ([("<", upper)] if upper is not None else [])
    return [(op, bounds[0])]


def _check_start_in_range(
    target: _Target, kc: KeyCondition | MultiKeyCondition, esk: Item, same_partition: bool
) -> None:
    """ExclusiveStartKey against the key condition, with AWS's texts (dynalite's query.js,
    against DynamoDB): without a sort key condition, a start key in another partition is
    outside the query's boundaries; with one, a sort key outside it "does not match the
    range key predicate", checked first, and then a start key in another partition gets
    DynamoDB's INVALID_START_KEY_EQUALITY text (a sort key condition of any operator, as
    AWS answered dynalite's ``b < :b``). A multi-attribute key checks the partition only."""
    if isinstance(kc, MultiKeyCondition) or kc.range_op is None:
        if not same_partition:
            raise errors.validation(
                "The provided starting key is outside query boundaries based on provided conditions"
            )
        return
    assert target.range is not None
    value = key_bytes(esk[target.range[0]])
    if not all(_COMPARE[op](value, bound) for op, bound in _sort_range(target, kc)):
        raise errors.validation("The provided starting key does not match the range key predicate")
    if not same_partition:
        raise errors.validation("The query can return at most one row and cannot be restarted")


# --------------------------------------------------------------------------- Scan


def check_scan(params: dict[str, Any]) -> _Checked:
    """A Scan's checks that need no table, in AWS's order."""
    errors.check_return_options(params)
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if segment is not None and not 0 <= segment <= MAX_SEGMENT:
        # Before anything uses it: a negative segment would scan a negative hash range
        # (and one past SQLite's integers would fail there).
        bound = (
            "greater than or equal to 0" if segment < 0 else f"less than or equal to {MAX_SEGMENT}"
        )
        raise errors.constraint(segment, "segment", f"Member must have value {bound}")
    if total is not None and not 1 <= total <= 1000000:
        raise errors.constraint(
            total,
            "totalSegments",
            "Member must have value "
            + ("greater than or equal to 1" if total < 1 else "less than or equal to 1000000"),
        )
    uses = check_expression_style(
        params,
        ["ProjectionExpression", "FilterExpression"],
        ["AttributesToGet", "ScanFilter", "ConditionalOperator"],
    )
    # dynalite's scan.js: AttributesToGet before the filter (Query's is the other way).
    projection = _attributes_to_get(params, uses)
    filt = _legacy_filter(params, "ScanFilter")
    esk = _start_key(params)
    _check_segments(segment, total)
    ctx = _context(params, uses)
    if params.get("FilterExpression") is not None:
        filt = compile_condition(params["FilterExpression"], ctx, "FilterExpression")
    if uses:
        projection = projection_of(params, ctx)
    ctx.check_unused()
    return _Checked(filt, projection, esk)


def _check_segments(segment: int | None, total: int | None) -> None:
    """Segment and TotalSegments go together, the segment under the total. Checked with
    the request, before the table is looked up, after the legacy filter and the start key's
    values and before the expressions (dynalite's scan.js, checked against DynamoDB)."""
    if total is None and segment is None:
        return
    if total is None:
        raise errors.validation(
            "The TotalSegments parameter is required but was not present in the request "
            "when Segment parameter is present"
        )
    if segment is None:
        raise errors.validation(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if segment >= total:
        raise errors.validation(
            "The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )


def scan(
    engine: Engine, table: Table, params: dict[str, Any], checked: _Checked | None = None
) -> Result:
    if checked is None:
        checked = check_scan(params)
    filt, projection = checked.filt, checked.projection
    target = _resolve(engine, table, params)
    esk = checked.esk
    if esk is not None:  # an empty one too: it names no key of the schema
        target.check_start_count(esk, False)
        for name in target.index_key_names() if target.index is not None else ():
            target.check_start_attr(esk, name)
    select = _select(params, target, projection, False)
    where = ""
    args: list[Any] = []
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if total is not None and segment is not None:  # both or neither: ``_check_segments``
        lo = segment * 2**32 // total
        hi = (segment + 1) * 2**32 // total
        where += " AND h >= ? AND h < ?"
        args += [lo, hi]
    if esk is not None:
        position = target.start_after(esk)
        if total is not None and total > 1 and not lo <= position[0] < hi:
            raise errors.validation(
                "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
                f"ExclusiveStartKey with correct Segment. TotalSegments: {total} "
                f"Segment: {segment}"
            )
        extra, more = _after(target, position, False)
        where += extra
        args += more
    # After the start key: AWS refuses a bad one before a key path in the expressions
    # (dynalite's scan.js, with ``attribute_exists(a.b.c)``).
    needs_table = _check_reads(target, params, projection, filt, "ScanFilter")
    return _run(
        engine, target, where, args, False, params, filt, projection, select, False, needs_table
    )
