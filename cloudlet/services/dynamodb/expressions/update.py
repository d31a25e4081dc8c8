"""Update expressions: SET, REMOVE, ADD and DELETE, checked and compiled once.

Semantics follow DynamoDB:

* every operand is read from the item as it was before the update (``SET a = b,
  b = a`` swaps), and all SET values are computed before anything is written;
* list indexes refer to the original list: ``REMOVE l[0], l[2]`` removes those
  two elements, and a SET past the end appends (several such appends land in
  index order);
* an operand path that is missing is an error, even ``if_not_exists``'s fallback
  when the first path exists (DynamoDB reads both);
* a missing parent of the written path is an error, a missing final attribute
  is not (REMOVE of an absent attribute does nothing, ADD creates it, DELETE
  ignores it); a set emptied by DELETE is removed.

``apply`` never mutates its input: containers on written paths are copied
once per call (copy on write), everything else is shared with the old item.

Compile-time errors are ranked as DynamoDB ranks them: a reserved word, an
unknown function, a repeated section, an undefined ``#name``, an undefined
``:value``, overlapping paths, conflicting paths, a wrong ADD/DELETE operand,
and last a function's operand count or type.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.conditions import ARITY as CONDITION_FUNCTIONS
from cloudlet.services.dynamodb.expressions.conditions import node_paths
from cloudlet.services.dynamodb.expressions.context import (
    TYPE_WORDS,
    Errors,
    ExpressionContext,
    check_overlaps,
    check_size,
    path_text,
    resolve_path,
    resolve_value,
)
from cloudlet.services.dynamodb.expressions.document import path_getter
from cloudlet.services.dynamodb.expressions.ordering import type_of
from cloudlet.services.dynamodb.expressions.parser import (
    Arith,
    Func,
    Node,
    Paren,
    Path,
    Value,
    parse_update,
    unwrap,
)
from cloudlet.services.dynamodb.expressions.tokens import check_operators
from cloudlet.services.dynamodb.values import AV, MAX_DIGITS, number_text

_ORDER = (
    "reserved",
    "depth",
    "unknown",
    "section",
    "names",
    "values",
    "overlap",
    "conflict",
    "operand",
    "function",
)
_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
_SETS = frozenset(("SS", "NS", "BS"))
_REMOVALS = frozenset(("REMOVE", "DELETE", "LEGACY_DELETE"))
_EXACT = decimal.Context(prec=400, Emax=999999, Emin=-999999)

Evaluator = Callable[[dict], AV]


def _missing() -> Exception:
    return errors.validation(
        "The provided expression refers to an attribute that does not exist in the item"
    )


def _bad_type() -> Exception:
    return errors.validation("An operand in the update expression has an incorrect data type")


def _bad_path() -> Exception:
    return errors.validation(
        "The document path provided in the update expression is invalid for update"
    )


class Update:
    """A compiled update. ``paths`` are the document paths it writes, in order; ``reads``
    the paths its SET values read (``SET a = b.c`` reads ``b.c``)."""

    __slots__ = ("paths", "reads", "_steps")

    def __init__(self, paths: list[tuple], steps: list, reads: list[tuple] | None = None) -> None:
        self.paths = paths
        self.reads: list[tuple] = reads or []
        self._steps = steps

    @property
    def only_removes(self) -> bool:
        """Whether every action takes away (REMOVE, DELETE, AttributeUpdates' DELETE):
        such an update of a missing item writes nothing, not even the key."""
        return bool(self._steps) and all(section in _REMOVALS for section, _, _ in self._steps)

    def apply(self, item: dict) -> dict:
        """The new item; ``item`` (possibly ``{}``) is left untouched."""
        values = [value(item) if value is not None else None for _, _, value in self._steps]
        root = dict(item)
        writer = _Writer(root)
        for (section, path, _), value in zip(self._steps, values, strict=True):
            if section == "SET" or section == "PUT":
                writer.set(path, value)
            elif section == "REMOVE":
                writer.remove(path)
            elif section == "ADD":
                writer.add(path, value, legacy=False)
            elif section == "DELETE":
                writer.delete(path, value, legacy=False)
            elif section == "LEGACY_ADD":
                writer.add(path, value, legacy=True)
            else:  # LEGACY_DELETE
                writer.delete(path, value, legacy=True)
        writer.finish()
        return root


def compile_update(text: str, ctx: ExpressionContext) -> Update:
    kind = "UpdateExpression"
    check_size(text, kind)
    actions = parse_update(text)
    check_operators(sum(_count(a.value) for a in actions), kind)
    errs = Errors(kind)
    seen: set[str] = set()
    paths: list[tuple] = []
    for action in actions:
        if action.opens:
            if action.section in seen:
                errs.add(
                    "section",
                    f'The "{action.section}" section can only be used once in an update '
                    "expression;",
                )
            seen.add(action.section)
        path = resolve_path(action.path, ctx, errs)
        if path is not None:
            paths.append(path)
        if action.section == "SET":
            _check_value(action.value, ctx, errs)
        elif action.value is not None:
            av = resolve_value(action.value, ctx, errs, "values")
            if av is not None:
                _check_add_delete(action.section, av, errs)
    check_overlaps(paths, errs)
    errs.raise_first(_ORDER)
    steps = [
        (a.section, a.path.path, _compile_value(a.value) if a.value is not None else None)
        for a in actions
    ]
    reads = [p for a in actions if a.section == "SET" for p in node_paths(a.value)]
    return Update([a.path.path for a in actions], steps, reads)


def _count(node: Node | None) -> int:
    node = unwrap(node) if node is not None else None
    if type(node) is Func:
        return 1 + sum(_count(a) for a in node.args)
    if type(node) is Arith:
        return 1 + _count(node.left) + _count(node.right)
    return 0


def _check_add_delete(section: str, av: AV, errs: Errors) -> None:
    t = type_of(av)
    if t in _SETS or (section == "ADD" and t == "N"):
        return
    errs.add(
        "operand",
        "Incorrect operand type for operator or function; "
        f"operator: {section}, operand type: {TYPE_WORDS[t]}, "
        f"typeSet: ALLOWED_FOR_{section}_OPERAND",
    )


def _check_value(node: Node, ctx: ExpressionContext, errs: Errors) -> None:
    t = type(node)
    if t is Paren:
        _check_value(node.inner, ctx, errs)
    elif t is Path:
        resolve_path(node, ctx, errs)
    elif t is Value:
        resolve_value(node, ctx, errs, "values")
    elif t is Arith:
        _check_value(node.left, ctx, errs)
        _check_value(node.right, ctx, errs)
        for operand in (node.left, node.right):
            _literal_type(operand, node.op, "N", errs)
    else:
        for arg in node.args:
            _check_value(arg, ctx, errs)
        name = node.name.text
        arity = _FUNCTIONS.get(name)
        if arity is None:
            if name in CONDITION_FUNCTIONS:
                errs.add(
                    "unknown",
                    f"The function is not allowed in an update expression; function: {name}",
                )
            else:
                errs.add("unknown", f"Invalid function name; function: {name}")
        elif len(node.args) != arity:
            errs.add(
                "function",
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(node.args)}",
            )
        elif name == "if_not_exists":
            first, fallback = unwrap(node.args[0]), unwrap(node.args[1])
            if type(first) is Path and type(fallback) is Path and first.path == fallback.path:
                errs.add(
                    "function",
                    "The first operand must be distinct from the remaining operands for this "
                    f"operator or function; operator: {name}, first operand: "
                    f"{path_text(first.path)}",
                )
            if type(first) is not Path:
                errs.add(
                    "function",
                    f"Operator or function requires a document path; operator or function: {name}",
                )
        else:
            for arg in node.args:
                _literal_type(arg, name, "L", errs)
                inner = unwrap(arg)
                if type(inner) is Func and inner.name.text == "list_append":
                    # AWS refuses list_append(list_append(..), ..), though it parses
                    errs.add(
                        "function",
                        "The function is not allowed to be used this way in an expression; "
                        "function: list_append",
                    )


def _literal_type(node: Node, operator: str, wanted: str, errs: Errors) -> None:
    """A literal (or list_append's list) where another type is required."""
    node = unwrap(node)
    t = None
    if type(node) is Value and node.av is not None:
        t = type_of(node.av)
    elif type(node) is Func and node.name.text == "list_append":
        t = "L"
    if t is not None and t != wanted:
        errs.add(
            "function",
            "Incorrect operand type for operator or function; "
            f"operator or function: {operator}, operand type: {t}",
        )


# --------------------------------------------------------------------------- evaluation


def _compile_value(node: Node) -> Evaluator:
    node = unwrap(node)
    t = type(node)
    if t is Value:
        av = node.av
        return lambda item: av
    if t is Path:
        get = path_getter(node.path)

        def read(item: dict) -> AV:
            v = get(item)
            if v is None:
                raise _missing()
            return v

        return read
    if t is Arith:
        left, right = _compile_value(node.left), _compile_value(node.right)
        subtract = node.op == "-"

        def arith(item: dict) -> AV:
            a = left(item)
            if "N" not in a:
                raise _bad_type()
            b = right(item)
            if "N" not in b:
                raise _bad_type()
            return add_numbers(a["N"], b["N"], subtract)

        return arith
    second = _compile_value(node.args[1])
    if node.name.text == "if_not_exists":
        get = path_getter(unwrap(node.args[0]).path)

        def if_not_exists(item: dict) -> AV:
            fallback = second(item)  # DynamoDB reads it, and fails if it is missing, either way
            v = get(item)
            return v if v is not None else fallback

        return if_not_exists

    first = _compile_value(node.args[0])

    def list_append(item: dict) -> AV:
        a = first(item)
        if "L" not in a:
            raise _bad_type()
        b = second(item)
        if "L" not in b:
            raise _bad_type()
        return {"L": a["L"] + b["L"]}

    return list_append


def add_numbers(a: str, b: str, subtract: bool = False) -> AV:
    """Exact sum (or difference), then DynamoDB's checks: range first (9.9E125 + 1E125 is
    an overflow), then 38 digits. AWS words a result it cannot hold in 38 digits as an
    overflow too, not as the 38-digit error of a client's number (``1e50 - 1``: ScyllaDB
    Alternator's test_update_expression_plus_imprecise quotes DynamoDB's answer)."""
    x, y = Decimal(a), Decimal(b)
    result = _EXACT.subtract(x, y) if subtract else _EXACT.add(x, y)
    if not result:
        return {"N": "0"}
    magnitude = result.adjusted()
    if magnitude > 125 or len(result.normalize(_EXACT).as_tuple().digits) > MAX_DIGITS:
        raise errors.validation(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if magnitude < -130:
        raise errors.validation(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    return {"N": number_text(result)}


class _Writer:
    """Applies writes to a fresh top-level dict, copying containers on the way down."""

    def __init__(self, root: dict) -> None:
        self.root = root
        self.fresh: set[int] = set()
        self.appends: list[tuple[list, int, AV]] = []
        self.removals: list[tuple[list, int]] = []

    def _container(self, path: tuple) -> dict | list:
        """The (copied) map or list that holds the last step of ``path``."""
        cur: dict | list = self.root
        for step in path[:-1]:
            if type(step) is int:
                if type(cur) is not list or step >= len(cur):
                    raise _bad_path()
                child = cur[step]
            else:
                if type(cur) is not dict:
                    raise _bad_path()
                child = cur.get(step)
                if child is None:
                    raise _bad_path()
            if "M" in child:
                inner = child["M"]
                if id(inner) not in self.fresh:
                    inner = dict(inner)
                    self.fresh.add(id(inner))
                    cur[step] = {"M": inner}
            elif "L" in child:
                inner = child["L"]
                if id(inner) not in self.fresh:
                    inner = list(inner)
                    self.fresh.add(id(inner))
                    cur[step] = {"L": inner}
            else:
                raise _bad_path()
            cur = inner
        last = path[-1]
        if (type(last) is int) != (type(cur) is list):
            raise _bad_path()
        return cur

    def _get(self, container: dict | list, key: str | int) -> AV | None:
        if type(container) is list:
            return container[key] if key < len(container) else None
        return container.get(key)

    def _put(self, container: dict | list, key: str | int, value: AV) -> None:
        if type(container) is list and key >= len(container):
            self.appends.append((container, key, value))
        else:
            container[key] = value

    def _drop(self, container: dict | list, key: str | int) -> None:
        if type(container) is list:
            if key < len(container):
                self.removals.append((container, key))
        else:
            container.pop(key, None)

    def set(self, path: tuple, value: AV) -> None:
        container = self._container(path)
        self._put(container, path[-1], value)

    def remove(self, path: tuple) -> None:
        self._drop(self._container(path), path[-1])

    def add(self, path: tuple, value: AV, legacy: bool) -> None:
        container = self._container(path)
        key = path[-1]
        existing = self._get(container, key)
        if existing is None:
            self._put(container, key, value)
            return
        t = type_of(value)
        if t not in existing:
            raise _mismatch(legacy)
        if t == "N":
            self._put(container, key, add_numbers(existing["N"], value["N"]))
        elif t == "L":
            self._put(container, key, {"L": existing["L"] + value["L"]})
        else:
            have = existing[t]
            present = set(have)
            self._put(container, key, {t: have + [v for v in value[t] if v not in present]})

    def delete(self, path: tuple, value: AV, legacy: bool) -> None:
        container = self._container(path)
        key = path[-1]
        existing = self._get(container, key)
        if existing is None:
            return
        t = type_of(value)
        if t not in existing:
            raise _mismatch(legacy)
        gone = set(value[t])
        kept = [v for v in existing[t] if v not in gone]
        if kept:
            self._put(container, key, {t: kept})
        else:
            self._drop(container, key)

    def finish(self) -> None:
        for container, _, value in sorted(self.appends, key=lambda a: a[1]):
            container.append(value)
        for container, index in sorted(self.removals, key=lambda r: r[1], reverse=True):
            del container[index]


def _mismatch(legacy: bool) -> Exception:
    if legacy:
        return errors.validation("Type mismatch for attribute to update")
    return _bad_type()
