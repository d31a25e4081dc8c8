"""The PartiQL syntax tree: what a statement says, before any table is consulted.

The parser builds these; ``plan.py`` turns them into DynamoDB requests once it
knows the table's key schema and the statement's parameters. Values stay
unevaluated (``Param`` is a position, a list literal a ``ListLit`` of nodes) so
one parsed statement can be bound to different ``Parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AV = dict[str, Any]


class Node:
    """Any expression."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Path(Node):
    """An attribute or document path: a name, then names (map keys) and list indexes."""

    steps: tuple[str | int, ...]

    @property
    def name(self) -> str:
        return str(self.steps[0])

    def label(self) -> str:
        """The name a SELECT gives this path's value: its last name and any indexes after it.

        ``a.b[1]`` comes back as ``b[1]``, ``a`` as ``a``.
        """
        last = max(i for i, s in enumerate(self.steps) if isinstance(s, str))
        return str(self.steps[last]) + "".join(f"[{s}]" for s in self.steps[last + 1 :])

    def __str__(self) -> str:
        out = str(self.steps[0])
        for s in self.steps[1:]:
            out += f"[{s}]" if isinstance(s, int) else f".{s}"
        return out


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: AV


@dataclass(frozen=True, slots=True)
class Missing(Node):
    """The literal ``MISSING``."""


@dataclass(frozen=True, slots=True)
class Param(Node):
    index: int


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class BagLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # "=", "<>", "<", "<=", ">", ">="
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # "+", "-"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    item: Node


@dataclass(frozen=True, slots=True)
class Between(Node):
    value: Node
    low: Node
    high: Node
    negated: bool = False


@dataclass(frozen=True, slots=True)
class In(Node):
    value: Node
    items: tuple[Node, ...] | Param
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Is(Node):
    value: Node
    type: str  # upper case: "MISSING", "NULL", "STRING", ...
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str  # lower case
    args: tuple[Node, ...]


# --------------------------------------------------------------------------- statements


class Statement:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class OrderItem:
    expr: Node
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Select(Statement):
    projection: tuple[Path, ...] | None  # None is ``*``
    table: str
    index: str | None
    where: Node | None
    order_by: tuple[OrderItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Insert(Statement):
    table: str
    item: Node


@dataclass(frozen=True, slots=True)
class SetAction:
    path: Path
    value: Node


@dataclass(frozen=True, slots=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True, slots=True)
class Update(Statement):
    table: str
    actions: tuple[SetAction | RemoveAction, ...]
    where: Node | None
    returning: str | None = None  # "ALL OLD", "MODIFIED OLD", "ALL NEW", "MODIFIED NEW"


@dataclass(frozen=True, slots=True)
class Delete(Statement):
    table: str
    where: Node | None
    returning: str | None = None


@dataclass(frozen=True, slots=True)
class Exists(Statement):
    """``EXISTS(SELECT ...)``: a condition check, only in a transaction of writes."""

    select: Select


@dataclass(frozen=True, slots=True)
class Parsed:
    statement: Statement
    params: int
    """How many ``?`` the statement holds."""
