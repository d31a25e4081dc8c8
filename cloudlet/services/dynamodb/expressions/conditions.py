"""Condition and filter expressions: checking them as DynamoDB does, then closures.

A compiled ``Condition`` is a tree of closures over the item dict, built once;
a Scan filter then costs a few function calls per item, never a parse. A
top-level attribute compared with a literal (``#s = :v``) gets its own closure.

DynamoDB's choice among several faults, reproduced by ``_Checker``: redundant
parentheses first, then an unknown function (or an update-only one), a function
used where a value belongs (or ``size`` where a condition belongs), a reserved
word, a path over 32 levels; and last the first fault met walking the
comparisons in source order, operands before their operator, each operator
checking its operand count, operand types (``<`` and BETWEEN take S, N, B;
``begins_with`` S, B; ``size`` no N, BOOL, NULL), a repeated operand path, then
its own rules - the order DynamoDB Local's validator follows.

Missing attributes and type mismatches make a comparison false (``<>`` true);
no error is raised while evaluating.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.dynamodb.expressions.context import (
    Errors,
    ExpressionContext,
    av_text,
    check_size,
    path_text,
    resolve_path,
    resolve_value,
)
from cloudlet.services.dynamodb.expressions.document import path_getter
from cloudlet.services.dynamodb.expressions.ordering import (
    begins_with,
    compare,
    contains,
    equals,
    key_of,
    size,
    type_of,
)
from cloudlet.services.dynamodb.expressions.parser import (
    Between,
    Compare,
    Func,
    In,
    Logic,
    Node,
    Paren,
    Path,
    Value,
    parse_condition,
    unwrap,
)
from cloudlet.services.dynamodb.expressions.tokens import check_operators
from cloudlet.services.dynamodb.values import AV, TYPES

Predicate = Callable[[dict], bool]
_EMPTY: dict = {}

ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
}
_BOOLEAN_FUNCTIONS = frozenset(ARITY) - {"size"}
UPDATE_FUNCTIONS = frozenset(("if_not_exists", "list_append"))
_STRING_BINARY = ("S", "B")
_SIZED = ("S", "B", "SS", "NS", "BS", "L", "M")
_ORDER = ("parens", "unknown", "misused", "reserved", "depth", "condition")
MAX_IN_OPERANDS = 100


class Condition:
    """A compiled condition: ``condition(item)`` is True when the item satisfies it.

    ``item`` None means no item (``attribute_not_exists`` holds, comparisons fail).
    """

    __slots__ = ("_test", "paths")

    def __init__(self, test: Predicate, paths: list[tuple] | None = None) -> None:
        self._test = test
        self.paths: list[tuple] = paths or []
        """The document paths the condition reads (Query refuses key attributes in filters)."""

    def __call__(self, item: dict | None) -> bool:
        return self._test(_EMPTY if item is None else item)


def compile_condition(
    text: str, ctx: ExpressionContext, kind: str = "ConditionExpression"
) -> Condition:
    node = check_condition(text, ctx, kind)
    return Condition(compile_predicate(node), node_paths(node))


def node_paths(node: Node) -> list[tuple]:
    """The resolved document paths under ``node`` (a condition or an update value)."""
    out: list[tuple] = []
    stack: list[Any] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Path):
            if n.path:
                out.append(n.path)
            continue
        for cls in type(n).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                v = getattr(n, slot, None)
                if isinstance(v, Node):
                    stack.append(v)
                elif isinstance(v, list):
                    stack.extend(x for x in v if isinstance(x, Node))
    return out


def check_condition(text: str, ctx: ExpressionContext, kind: str) -> Node:
    """Parse and check; returns the tree with every path and value resolved."""
    check_size(text, kind)
    node = parse_condition(text, kind)
    check_operators(_count_operators(node), kind)
    errs = Errors(kind)
    _Checker(ctx, errs).condition(node)
    errs.raise_first(_ORDER)
    return node


def _count_operators(node: Node) -> int:
    t = type(node)
    if t is Paren:
        return _count_operators(node.inner)
    if t is Logic:
        return 1 + _count_operators(node.left) + (_count_operators(node.right) if node.right else 0)
    if t is Compare:
        return 1 + _count_operators(node.left) + _count_operators(node.right)
    if t is Between:
        return 1 + sum(_count_operators(n) for n in (node.operand, node.low, node.high))
    if t is In:
        return 1 + sum(_count_operators(n) for n in [node.operand, *node.options])
    if t is Func:
        return 1 + sum(_count_operators(n) for n in node.args)
    return 0


# --------------------------------------------------------------------------- checking


def static_type(node: Node) -> str | None:
    """The type an operand is known to have before any item is seen."""
    node = unwrap(node)
    if type(node) is Value:
        return type_of(node.av) if node.av is not None else None
    if type(node) is Func:
        name = node.name.text
        if name == "size":
            return "N"
        if name in _BOOLEAN_FUNCTIONS:
            return "BOOL"
    return None


def _repeated_path(first: Node, rest: tuple) -> tuple | None:
    """The first operand's path when a later operand repeats it (``a = a``)."""
    first = unwrap(first)
    if type(first) is not Path or first.path is None:
        return None
    for node in rest:
        node = unwrap(node)
        if type(node) is Path and node.path == first.path:
            return first.path
    return None


class _Leaf:
    """The faults of one comparison, in the order DynamoDB meets them: operands first
    (depth first), then per operator its operand count, operand types, a repeated
    operand, and last the operator's own rules."""

    __slots__ = ("faults",)

    def __init__(self) -> None:
        self.faults: list[str] = []

    def add(self, category: str, message: str) -> None:
        self.faults.append(message)


class _Checker:
    def __init__(self, ctx: ExpressionContext, errs: Errors) -> None:
        self.ctx = ctx
        self.errs = errs

    def condition(self, node: Node) -> None:
        inner = unwrap(node)
        if type(inner) is Func and inner.name.text == "size":
            self.errs.add("misused", _misused("size"))
        self._condition(node)

    def _condition(self, node: Node) -> None:
        t = type(node)
        if t is Paren:
            if type(node.inner) is Paren:
                self.errs.add("parens", "The expression has redundant parentheses;")
            self._condition(node.inner)
            return
        if t is Logic:
            self.condition(node.left)
            if node.right is not None:
                self.condition(node.right)
            return
        leaf = _Leaf()
        if t is Compare:
            self._operands((node.left, node.right), leaf)
            if node.op not in ("=", "<>"):
                self._ordered((node.left, node.right), node.op, leaf)
            self._distinct(node.op, node.left, (node.right,), leaf)
        elif t is Between:
            self._operands((node.operand, node.low, node.high), leaf)
            self._ordered((node.operand, node.low, node.high), "BETWEEN", leaf)
            self._distinct("BETWEEN", node.operand, (node.low, node.high), leaf)
            self._between_bounds(node, leaf)
        elif t is In:
            self._operands((node.operand, *node.options), leaf)
            self._distinct("IN", node.operand, tuple(node.options), leaf)
            if len(node.options) > MAX_IN_OPERANDS:
                leaf.add(
                    "function",
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(node.options)}",
                )
        else:  # a function used as a condition
            self._function(node, leaf)
        if leaf.faults:
            self.errs.add("condition", leaf.faults[0])

    def _operands(self, nodes: tuple, leaf: _Leaf) -> None:
        for node in nodes:
            self._operand(node, leaf)
        for node in nodes:
            inner = unwrap(node)
            if type(inner) is Func and inner.name.text != "size":
                self.errs.add("misused", _misused(inner.name.text))

    def _operand(self, node: Node, leaf: _Leaf) -> None:
        t = type(node)
        if t is Paren:
            if type(node.inner) is Paren:
                self.errs.add("parens", "The expression has redundant parentheses;")
            self._operand(node.inner, leaf)
        elif t is Path:
            resolve_path(node, self.ctx, self.errs, leaf)
        elif t is Value:
            resolve_value(node, self.ctx, leaf, "names")
        elif t is Func:
            self._function(node, leaf)

    def _ordered(self, nodes: tuple, operator: str, leaf: _Leaf) -> None:
        """<, <=, >, >= and BETWEEN take strings, numbers and binaries only."""
        for node in nodes:
            t = static_type(node)
            if t is not None and t not in ("S", "N", "B"):
                leaf.add("types", _operand_type(operator, t))
                return

    def _distinct(self, operator: str, first: Node, rest: tuple, leaf: _Leaf) -> None:
        path = _repeated_path(first, rest)
        if path is not None:
            leaf.add("distinct", _distinct(operator, path))

    def _function(self, node: Func, leaf: _Leaf) -> None:
        self._operands(tuple(node.args), leaf)
        name = node.name.text
        arity = ARITY.get(name)
        if arity is None:
            if name in UPDATE_FUNCTIONS:
                self.errs.add(
                    "unknown",
                    f"The function is not allowed in a condition expression; function: {name}",
                )
            else:
                self.errs.add("unknown", f"Invalid function name; function: {name}")
            return
        args = node.args
        if len(args) != arity:
            leaf.add(
                "operand",
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(args)}",
            )
            return
        if name == "begins_with" or name == "size":
            allowed = _STRING_BINARY if name == "begins_with" else _SIZED
            for arg in args:
                t = static_type(arg)
                if t is not None and t not in allowed:
                    leaf.add("types", _operand_type(name, t))
                    break
        if arity == 2:
            self._distinct(name, args[0], (args[1],), leaf)
        if name == "attribute_exists" or name == "attribute_not_exists":
            if type(unwrap(args[0])) is not Path:
                leaf.add("function", _requires_path(name))
        elif name == "attribute_type":
            t = static_type(args[1])
            if type(unwrap(args[1])) is not Value or t != "S":
                leaf.add("function", _operand_type(name, t or "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"))
            else:
                wanted = unwrap(args[1]).av["S"]
                if wanted not in TYPES:
                    leaf.add(
                        "function",
                        f"Invalid attribute type name found; type: {wanted}, "
                        "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                    )

    def _between_bounds(self, node: Between, leaf: _Leaf) -> None:
        low, high = unwrap(node.low), unwrap(node.high)
        if type(low) is not Value or type(high) is not Value or low.av is None or high.av is None:
            return
        bounds = (
            f"lower bound operand: AttributeValue: {av_text(low.av)}, "
            f"upper bound operand: AttributeValue: {av_text(high.av)}"
        )
        if type_of(low.av) != type_of(high.av):
            leaf.add(
                "function",
                "The BETWEEN operator requires same data type for lower and upper bounds; "
                + bounds,
            )
        elif (compare(low.av, high.av) or 0) > 0:
            leaf.add(
                "function",
                "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                f"bound; {bounds}",
            )


def _misused(name: str) -> str:
    return f"The function is not allowed to be used this way in an expression; function: {name}"


def _distinct(operator: str, path: tuple) -> str:
    return (
        "The first operand must be distinct from the remaining operands for this operator or "
        f"function; operator: {operator}, first operand: {path_text(path)}"
    )


def _requires_path(name: str) -> str:
    return f"Operator or function requires a document path; operator or function: {name}"


def _operand_type(name: str, t: str) -> str:
    return (
        "Incorrect operand type for operator or function; "
        f"operator or function: {name}, operand type: {t}"
    )


# --------------------------------------------------------------------------- compiling


def compile_operand(node: Node) -> Callable[[dict], AV | None]:
    node = unwrap(node)
    t = type(node)
    if t is Value:
        av = node.av

        def const(item: dict) -> AV | None:
            return av

        return const
    if t is Path:
        return path_getter(node.path)
    inner = compile_operand(node.args[0])  # size(), the only function that is an operand

    def sized(item: dict) -> AV | None:
        return size(inner(item))

    return sized


def compile_predicate(node: Node) -> Predicate:
    node = unwrap(node)
    t = type(node)
    if t is Logic:
        left = compile_predicate(node.left)
        if node.op == "NOT":
            return lambda item: not left(item)
        right = compile_predicate(node.right)
        if node.op == "AND":
            return lambda item: left(item) and right(item)
        return lambda item: left(item) or right(item)
    if t is Compare:
        return _compare(node)
    if t is Between:
        get, low, high = (compile_operand(n) for n in (node.operand, node.low, node.high))

        def between(item: dict) -> bool:
            v, lo, hi = get(item), low(item), high(item)
            if v is None or lo is None or hi is None:
                return False
            a, b = compare(v, lo), compare(v, hi)
            return a is not None and b is not None and a >= 0 and b <= 0

        return between
    if t is In:
        return _in(node)
    return _function(node)


def _compare(node: Compare) -> Predicate:
    op = node.op
    left, right = unwrap(node.left), unwrap(node.right)
    if (
        op == "="
        and type(left) is Path
        and len(left.path) == 1
        and type(right) is Value
        and type_of(right.av) in ("S", "N")
    ):
        name, av = left.path[0], right.av
        if "S" in av:
            s = av["S"]
            return lambda item: (v := item.get(name)) is not None and v.get("S") == s
        return lambda item: (v := item.get(name)) is not None and "N" in v and equals(v, av)
    get_l, get_r = compile_operand(left), compile_operand(right)
    if op == "=":
        return lambda item: (
            (a := get_l(item)) is not None and (b := get_r(item)) is not None and equals(a, b)
        )
    if op == "<>":
        return lambda item: (
            not ((a := get_l(item)) is not None and (b := get_r(item)) is not None and equals(a, b))
        )
    accept = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}[op]

    def ordered(item: dict) -> bool:
        a, b = get_l(item), get_r(item)
        return a is not None and b is not None and compare(a, b) in accept

    return ordered


def _in(node: In) -> Predicate:
    get = compile_operand(node.operand)
    options = [unwrap(o) for o in node.options]
    if all(type(o) is Value for o in options):
        keys = [key_of(o.av) for o in options]
        if all(k is not None for k in keys):
            wanted = frozenset(keys)
            return lambda item: (v := get(item)) is not None and key_of(v) in wanted
    getters = [compile_operand(o) for o in options]

    def any_of(item: dict) -> bool:
        v = get(item)
        if v is None:
            return False
        for g in getters:
            o = g(item)
            if o is not None and equals(v, o):
                return True
        return False

    return any_of


def _function(node: Func) -> Predicate:
    name = node.name.text
    first = compile_operand(node.args[0])
    if name == "attribute_exists":
        return lambda item: first(item) is not None
    if name == "attribute_not_exists":
        return lambda item: first(item) is None
    if name == "attribute_type":
        wanted = unwrap(node.args[1]).av["S"]
        return lambda item: (v := first(item)) is not None and wanted in v
    second = compile_operand(node.args[1])
    test = begins_with if name == "begins_with" else contains

    def call(item: dict) -> bool:
        a = first(item)
        if a is None:
            return False
        b = second(item)
        return b is not None and test(a, b)

    return call
