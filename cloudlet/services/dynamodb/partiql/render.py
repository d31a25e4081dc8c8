"""PartiQL conditions and assignments as DynamoDB expression text.

A WHERE clause becomes a ConditionExpression / FilterExpression, an UPDATE's
SET and REMOVE an UpdateExpression, all over generated placeholders (``#n0``,
``:v0``) so that the one expression engine evaluates them, with DynamoDB's own
checks. Every PartiQL form with an expression equivalent maps onto it:

- ``x IS MISSING`` / ``IS NOT MISSING``: ``attribute_not_exists`` / ``attribute_exists``
- ``x IS NULL|STRING|NUMERIC|BOOLEAN|BLOB|LIST|STRUCT|TUPLE``: ``attribute_type``
- ``!=``: ``<>``; ``IN [..]``: ``IN (..)``; ``NOT IN``/``NOT BETWEEN``: ``NOT (..)``
- ``begins_with``, ``contains``, ``attribute_type``, ``attribute_exists``,
  ``attribute_not_exists`` and ``size`` as themselves
- ``SET s = set_add(s, <<..>>)`` / ``set_delete``: ``ADD`` / ``DELETE``
- constant arithmetic (``1 + 2``) folded; ``a + 1`` in SET kept

Anything else is refused with the message AWS gives. Parentheses are emitted
only where precedence needs them: DynamoDB refuses redundant ones.
"""

from __future__ import annotations

from decimal import Decimal

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.partiql.bind import Binder, is_value
from cloudlet.services.dynamodb.partiql.nodes import (
    AV,
    And,
    Arith,
    Between,
    Call,
    Compare,
    In,
    Is,
    Literal,
    Missing,
    Node,
    Not,
    Or,
    Param,
    Path,
    RemoveAction,
    SetAction,
)
from cloudlet.services.dynamodb.values import CONTEXT, number_text, to_decimal

IS_TYPES = {
    "NULL": "NULL",
    "BOOLEAN": "BOOL",
    "BOOL": "BOOL",
    "STRING": "S",
    "NUMERIC": "N",
    "BLOB": "B",
    "LIST": "L",
    "STRUCT": "M",
    "TUPLE": "M",
}
_CONDITION_FUNCTIONS = {
    "begins_with": 2,
    "contains": 2,
    "attribute_type": 2,
    "attribute_exists": 1,
    "attribute_not_exists": 1,
}
_PATH_FIRST = (
    "begins_with",
    "contains",
    "attribute_type",
    "attribute_exists",
    "attribute_not_exists",
)


def check_ordered(binder: Binder, op: str, *operands: Node) -> None:
    """A value that cannot be ordered (not N, S or B) compared with ``<`` and the like:
    PartiQL's own text, without the "Invalid FilterExpression:" an expression's check
    would add (nubo-db dynamodb-conformance partiql.test.ts, real DynamoDB)."""
    for operand in operands:
        if is_value(operand):
            kind = next(iter(binder.value(operand)))
            if kind not in ("N", "S", "B"):
                raise errors.validation(
                    "Incorrect operand type for operator or function; operator or "
                    f"function: {op}, operand type: {kind}"
                )


def check_operand_types(where: Node | None, binder: Binder) -> None:
    """``check_ordered`` over a WHERE clause's comparisons, before its table is looked up,
    as AWS checks them (nubo-db dynamodb-conformance validation-ordering partiql.test.ts:
    "the operand-type check fires ahead of table resolution")."""
    if isinstance(where, And | Or):
        for item in where.items:
            check_operand_types(item, binder)
    elif isinstance(where, Not):
        check_operand_types(where.item, binder)
    elif isinstance(where, Compare) and where.op not in ("=", "<>"):
        if not isinstance(where.left, Missing) and not isinstance(where.right, Missing):
            check_ordered(binder, where.op, where.left, where.right)
    elif isinstance(where, Between):
        check_ordered(binder, "BETWEEN", where.value, where.low, where.high)


class Builder:
    """Expression placeholders for one request: ``#<p>N`` names and ``:<p>N`` values."""

    def __init__(self, binder: Binder, prefix: str = "") -> None:
        self.binder = binder
        self.name_prefix = "#" + (prefix or "n")
        self.value_prefix = ":" + (prefix or "v")
        self.names: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self.values: dict[str, AV] = {}

    def name(self, name: str) -> str:
        ph = self._by_name.get(name)
        if ph is None:
            ph = f"{self.name_prefix}{len(self._by_name)}"
            self._by_name[name] = ph
            self.names[ph] = name
        return ph

    def value(self, av: AV) -> str:
        ph = f"{self.value_prefix}{len(self.values)}"
        self.values[ph] = av
        return ph

    def path(self, path: Path) -> str:
        out = self.name(path.name)
        for step in path.steps[1:]:
            out += f"[{step}]" if isinstance(step, int) else "." + self.name(step)
        return out

    def into(self, request: dict) -> dict:
        """Add this builder's names and values to ``request`` (merging with any there)."""
        if self.names:
            request.setdefault("ExpressionAttributeNames", {}).update(self.names)
        if self.values:
            request.setdefault("ExpressionAttributeValues", {}).update(self.values)
        return request

    # ---- conditions

    def condition(self, node: Node, ctx: str = "top") -> str:
        """``node`` as condition text; ``ctx`` is the enclosing operator, for parentheses."""
        if isinstance(node, Or):
            text = " OR ".join(self.condition(n, "or") for n in node.items)
            return f"({text})" if ctx in ("and", "not") else text
        if isinstance(node, And):
            text = " AND ".join(self.condition(n, "and") for n in node.items)
            return f"({text})" if ctx == "not" else text
        if isinstance(node, Not):
            return "NOT " + self.condition(node.item, "not")
        if isinstance(node, Compare):
            if isinstance(node.left, Missing) or isinstance(node.right, Missing):
                raise errors.validation("MISSING must be compared using IS operator")
            if node.op not in ("=", "<>"):
                check_ordered(self.binder, node.op, node.left, node.right)
            return f"{self.operand(node.left)} {node.op} {self.operand(node.right)}"
        if isinstance(node, Between):
            check_ordered(self.binder, "BETWEEN", node.value, node.low, node.high)
            text = (
                f"{self.operand(node.value)} BETWEEN {self.operand(node.low)} AND "
                f"{self.operand(node.high)}"
            )
            return self._negate(text) if node.negated else text
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Is):
            return self._is(node)
        if isinstance(node, Call):
            return self._call(node)
        raise errors.validation(
            "WHERE clause must contain an expression that resolves to a boolean"
        )

    @staticmethod
    def _negate(text: str) -> str:
        return f"NOT ({text})"

    def _in(self, node: In) -> str:
        items: list[Node] | None
        if isinstance(node.items, Param):
            bound = self.binder.value(node.items)
            items = [Literal(v) for v in bound["L"]] if "L" in bound else None
        else:
            items = list(node.items)
        if not isinstance(node.value, Path) or not items:
            raise errors.validation(
                "IN operator must have a left hand argument of type Variable Reference and right "
                "hand argument of type Seq with at least one member"
            )
        text = f"{self.path(node.value)} IN ({', '.join(self.operand(n) for n in items)})"
        return self._negate(text) if node.negated else text

    def _is(self, node: Is) -> str:
        if not isinstance(node.value, Path):
            raise errors.validation(
                "The left hand side argument to IS must be a Variable Reference, Literal, or Path"
            )
        path = self.path(node.value)
        if node.type == "MISSING":
            fn = "attribute_exists" if node.negated else "attribute_not_exists"
            return f"{fn}({path})"
        kind = IS_TYPES.get(node.type)
        if kind is None:
            raise errors.validation(
                f"Unsupported data type for IS operator: {node.type}. Supported data types are "
                "[MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]"
            )
        text = f"attribute_type({path}, {self.value({'S': kind})})"
        return f"NOT {text}" if node.negated else text

    def _call(self, node: Call) -> str:
        arity = _CONDITION_FUNCTIONS.get(node.name)
        if arity is None:
            if node.name == "size":
                raise errors.validation(
                    "WHERE clause must contain an expression that resolves to a boolean"
                )
            raise errors.validation(f"Unrecognized function: {node.name}")
        if len(node.args) != arity:
            raise errors.validation(
                f"Incorrect number of operands for operator or function; operator or function: "
                f"{node.name}, number of operands: {len(node.args)}"
            )
        if node.name in _PATH_FIRST and not isinstance(node.args[0], Path):
            raise errors.validation(
                f"Invalid function argument; function: {node.name}; the first argument must "
                "be an attribute path"
            )
        return f"{node.name}({', '.join(self.operand(a) for a in node.args)})"

    def operand(self, node: Node) -> str:
        """A comparison operand: a path, a value or ``size(path)``."""
        if isinstance(node, Path):
            return self.path(node)
        if is_value(node):
            return self.value(self.binder.value(node))
        if isinstance(node, Arith):
            folded = self.fold(node)
            if folded is not None:
                return self.value(folded)
            raise errors.validation(
                f"Unsupported operator in Condition Expression. Operator: {node.op}"
            )
        if isinstance(node, Call) and node.name == "size":
            if len(node.args) != 1 or not isinstance(node.args[0], Path):
                raise errors.validation(
                    "Invalid function argument; function: size; the argument must be an "
                    "attribute path"
                )
            return f"size({self.path(node.args[0])})"
        if isinstance(node, Missing):
            raise errors.validation("MISSING must be compared using IS operator")
        if isinstance(node, Call):
            if node.name in _CONDITION_FUNCTIONS:
                raise errors.validation(
                    f"Unsupported operator in Condition Expression. Operator: {node.name}"
                )
            raise errors.validation(f"Unrecognized function: {node.name}")
        raise errors.validation(
            f"Unsupported operator in Condition Expression. Operator: {_op_name(node)}"
        )

    def fold(self, node: Node) -> AV | None:
        """The value of constant arithmetic (``1 + 2``), else None."""
        if isinstance(node, Arith):
            left, right = self.fold(node.left), self.fold(node.right)
            if left is None or right is None:
                return None
            for side in (left, right):
                if "N" not in side:
                    kind = next(iter(side))
                    raise errors.validation(
                        "Incorrect operand type for operator or function; operator or function: "
                        f"{node.op}, operand type: {kind}"
                    )
            a, b = to_decimal(left["N"]), to_decimal(right["N"])
            result = CONTEXT.add(a, b) if node.op == "+" else CONTEXT.subtract(a, b)
            return {"N": number_text(Decimal(result))}
        if is_value(node):
            return self.binder.value(node)
        return None

    # ---- updates

    def update(self, actions: tuple[SetAction | RemoveAction, ...]) -> str:
        """An UpdateExpression for an UPDATE's SET and REMOVE clauses."""
        sets: list[str] = []
        removes: list[str] = []
        adds: list[str] = []
        deletes: list[str] = []
        for action in actions:
            if isinstance(action, RemoveAction):
                removes.append(self.path(action.path))
                continue
            value = action.value
            if isinstance(value, Call) and value.name in ("set_add", "set_delete"):
                clause = self._set_op(action.path, value)
                (adds if value.name == "set_add" else deletes).append(clause)
            else:
                sets.append(f"{self.path(action.path)} = {self.update_value(value, True)}")
        parts = []
        for word, items in (("SET", sets), ("REMOVE", removes), ("ADD", adds), ("DELETE", deletes)):
            if items:
                parts.append(f"{word} {', '.join(items)}")
        return " ".join(parts)

    def _set_op(self, path: Path, call: Call) -> str:
        word = call.name[4:].upper()
        if len(call.args) != 2:
            raise errors.validation(f"SET_{word} must have exactly two arguments")
        target, operand = call.args
        if target != path:
            raise errors.validation(
                f"The first argument to SET_{word} must equal the assignment value"
            )
        value = self.binder.value(operand) if is_value(operand) else None
        if value is None or not ({"SS", "NS", "BS"} & set(value)):
            raise errors.validation(
                f"The second argument to SET_{word} must be a value with type SET"
            )
        return f"{self.path(path)} {self.value(value)}"

    def update_value(self, node: Node, top: bool = False) -> str:
        """A SET value: a path, a value, ``a + b``/``a - b``, ``list_append``, ``if_not_exists``."""
        if isinstance(node, Path):
            return self.path(node)
        if is_value(node):
            return self.value(self.binder.value(node))
        if isinstance(node, Arith):
            folded = self.fold(node)
            if folded is not None:
                return self.value(folded)
            if not top or isinstance(node.left, Arith) or isinstance(node.right, Arith):
                raise errors.validation(
                    f"Unsupported operator in Update Expression. Operator: {node.op}"
                )
            return f"{self.update_value(node.left)} {node.op} {self.update_value(node.right)}"
        if isinstance(node, Call):
            if node.name in ("list_append", "if_not_exists"):
                if len(node.args) != 2:
                    raise errors.validation(
                        "Incorrect number of operands for operator or function; operator or "
                        f"function: {node.name}, number of operands: {len(node.args)}"
                    )
                args = ", ".join(self.update_value(a) for a in node.args)
                return f"{node.name}({args})"
            if node.name in ("set_add", "set_delete"):
                raise errors.validation(
                    f"Unsupported operator in Update Expression. Operator: {node.name}"
                )
            raise errors.validation(f"Unrecognized function: {node.name}")
        if isinstance(node, Is):
            raise errors.validation("IS operator is not supported in update expressions")
        if isinstance(node, Missing):
            raise errors.validation("Unsupported data type: MISSING under key root")
        raise errors.validation(
            f"Unsupported operator in Update Expression. Operator: {_op_name(node)}"
        )


def _op_name(node: Node) -> str:
    if isinstance(node, Compare):
        return node.op
    if isinstance(node, And | Or | Not | Between | In):
        return type(node).__name__.upper()
    return type(node).__name__
