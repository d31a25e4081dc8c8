"""ExecuteStatement: run one planned statement through the item and query operations.

A SELECT page is one Scan, or Queries over its partition-key values in turn;
``Limit`` counts items read (as on AWS), and a page that stops early carries a
``NextToken``: the position (which value, ``LastEvaluatedKey``) and a
fingerprint of the statement and parameters, base64-encoded, so a token only
continues the statement that made it. Projections are applied here: a path's
value comes back under its last name (``a.b[1]`` as ``b[1]``), as on AWS.

Writes answer ``{"Items": []}``, or the RETURNING item; INSERT's clash is
``DuplicateItemException``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors, items, query
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.expressions import ExpressionContext, compile_condition
from cloudlet.services.dynamodb.partiql.bind import Binder, check_count
from cloudlet.services.dynamodb.partiql.nodes import (
    AV,
    Delete,
    Exists,
    Insert,
    Parsed,
    Path,
    Select,
    Update,
)
from cloudlet.services.dynamodb.partiql.parser import parse
from cloudlet.services.dynamodb.partiql.plan import ReadPlan, WritePlan, plan_select, plan_write
from cloudlet.services.dynamodb.partiql.render import check_operand_types
from cloudlet.services.dynamodb.tables import Table

Result = dict[str, Any]
Lookup = Callable[[str], Table]
Item = dict[str, AV]
MAX_STATEMENT = 8192
_WRITERS = {"Put": items.put_item, "Update": items.update_item, "Delete": items.delete_item}


def duplicate_item() -> ServiceError:
    return ServiceError("DuplicateItemException", "Duplicate primary key exists in table", 400)


def parse_statement(text: str, parameters: list[AV] | None) -> tuple[Parsed, Binder]:
    """Parse a request's statement and bind its parameters."""
    if len(text) > MAX_STATEMENT:
        raise errors.validation(
            "1 validation error detected: Value at 'statement' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_STATEMENT}"
        )
    parsed = parse(text)
    return parsed, Binder(check_count(parsed.params, parameters))


def execute_statement(engine: Engine, lookup: Lookup, params: dict[str, Any]) -> Result:
    errors.check_return_options(params)
    parsed, binder = parse_statement(params["Statement"], params.get("Parameters"))
    stmt = parsed.statement
    if isinstance(stmt, Exists):
        raise errors.validation("EXISTS can only be used in ExecuteTransaction write requests.")
    check_operand_types(getattr(stmt, "where", None), binder)  # before the table
    if isinstance(stmt, Select):
        plan = plan_select(stmt, lookup(stmt.table), binder)
        return select_page(engine, plan, params, fingerprint(params))
    assert isinstance(stmt, Insert | Update | Delete)
    return run_write(engine, plan_write(stmt, lookup(stmt.table), binder), params)


# --------------------------------------------------------------------------- writes


def run_write(engine: Engine, plan: WritePlan, params: dict[str, Any]) -> Result:
    """Run an INSERT/UPDATE/DELETE plan; ``params`` supplies the request-wide options."""
    req = dict(plan.request)
    for option in ("ReturnConsumedCapacity", "ReturnValuesOnConditionCheckFailure"):
        if params.get(option) is not None:
            req[option] = params[option]
    try:
        res = _WRITERS[plan.kind](engine, plan.table, req)
    except ServiceError as exc:
        if plan.kind == "Put" and exc.code == "ConditionalCheckFailedException":
            raise duplicate_item() from None
        raise
    out: Result = {"Items": [res["Attributes"]] if res.get("Attributes") else []}
    if "ConsumedCapacity" in res:
        out["ConsumedCapacity"] = res["ConsumedCapacity"]
    return out


# --------------------------------------------------------------------------- reads


def get_path(item: Item, path: Path) -> AV | None:
    value: AV | None = item.get(path.name)
    for step in path.steps[1:]:
        if value is None:
            return None
        if isinstance(step, int):
            seq = value.get("L")
            value = seq[step] if seq is not None and step < len(seq) else None
        else:
            value = (value.get("M") or {}).get(step)
    return value


def project(item: Item, paths: tuple[Path, ...] | None) -> Item:
    if paths is None:
        return item
    out = {}
    for path in paths:
        value = get_path(item, path)
        if value is not None:
            out[path.label()] = value
    return out


def fingerprint(params: dict[str, Any]) -> str:
    """What a NextToken must have been made by: the statement and its parameters."""

    def default(v: Any) -> Any:
        return v.hex() if isinstance(v, bytes | bytearray) else str(v)

    doc = json.dumps([params["Statement"], params.get("Parameters")], default=default)
    return hashlib.sha256(doc.encode()).hexdigest()[:24]


def _encode_key(key: Item) -> dict[str, Any]:
    out = {}
    for name, value in key.items():
        kind, v = next(iter(value.items()))
        out[name] = [kind, base64.b64encode(v).decode() if kind == "B" else v]
    return out


def _decode_key(doc: Any) -> Item:
    """The key of a token; ValueError for anything ``_encode_key`` does not make."""
    if type(doc) is not dict:
        raise ValueError("not a key")
    out = {}
    for name, pair in doc.items():
        if type(pair) is not list or len(pair) != 2:
            raise ValueError("not a key value")
        kind, v = pair
        if kind not in ("S", "N", "B") or type(v) is not str:
            raise ValueError("not a key value")
        out[name] = {kind: base64.b64decode(v, validate=True) if kind == "B" else v}
    return out


def encode_token(print_: str, index: int, key: Item | None) -> str:
    doc = {"f": print_, "i": index, "k": _encode_key(key) if key else None}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_token(token: str, print_: str) -> tuple[int, Item | None]:
    """The position a NextToken names. A client may send anything: whatever is not a token
    this module made (wrong shapes, huge numbers) is an invalid token, never a server error."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        if type(doc) is not dict:
            raise ValueError("not a token")
        index = doc["i"]
        if type(index) is not int or not 0 <= index < 2**31:
            raise ValueError("not a position")
        key = _decode_key(doc["k"]) if doc["k"] else None
        made_by = doc["f"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise errors.validation("Invalid NextToken") from None
    if made_by != print_:
        raise errors.validation("NextToken does not match request")
    return index, key


def merge_capacity(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Two ConsumedCapacity members of one table, summed."""
    if a is None or b is None:
        return a if b is None else b
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict):
            out[k] = merge_capacity(out.get(k), v)
        elif isinstance(v, int | float) and isinstance(out.get(k), int | float):
            out[k] = out[k] + v
        else:
            out.setdefault(k, v)
    return out


def select_page(engine: Engine, plan: ReadPlan, params: dict[str, Any], print_: str) -> Result:
    limit = params.get("Limit")
    if limit is not None and limit < 1:
        raise errors.validation(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    consistent = bool(params.get("ConsistentRead"))
    if consistent and plan.index is not None and plan.index.kind == "GSI":
        raise errors.validation(
            "Strongly consistent read is not supported on Global Secondary Indexes"
        )
    start, esk = 0, None
    if params.get("NextToken"):
        start, esk = decode_token(params["NextToken"], print_)
    post = _compile_post_filter(plan)
    runs = len(plan.hash_values) if plan.hash_values is not None else 1
    found: list[Item] = []
    capacity = None
    read = 0
    resume: tuple[int, Item | None] | None = None
    for i in range(start, runs):
        req = plan.query(i)
        if esk:
            req["ExclusiveStartKey"] = esk
            esk = None
        if limit is not None:
            req["Limit"] = limit - read
        if consistent:
            req["ConsistentRead"] = True
        if params.get("ReturnConsumedCapacity") is not None:
            req["ReturnConsumedCapacity"] = params["ReturnConsumedCapacity"]
        if plan.hash_values is not None:
            res = query.query(engine, plan.table, req)
        else:
            res = query.scan(engine, plan.table, req)
        read += res["ScannedCount"]
        found += [project(it, plan.projection) for it in res["Items"] if post is None or post(it)]
        capacity = merge_capacity(capacity, res.get("ConsumedCapacity"))
        if res.get("LastEvaluatedKey"):
            resume = (i, res["LastEvaluatedKey"])
            break
        if limit is not None and read >= limit:
            if i + 1 < runs:
                resume = (i + 1, None)
            break
    out: Result = {"Items": found}
    if resume is not None:
        out["NextToken"] = encode_token(print_, *resume)
        if resume[1]:
            out["LastEvaluatedKey"] = resume[1]
    if capacity is not None:
        out["ConsumedCapacity"] = capacity
    return out


def _compile_post_filter(plan: ReadPlan) -> Callable[[Item], bool] | None:
    if plan.post_filter is None:
        return None
    text, names, values = plan.post_filter
    ctx = ExpressionContext(names or None, values or None)
    check = compile_condition(text, ctx, "FilterExpression")
    held = plan.held
    if held is None:
        return check
    return lambda item: check({k: v for k, v in item.items() if k in held})
