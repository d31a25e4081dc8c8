"""Literal nodes and ``?`` parameters to DynamoDB attribute values.

PartiQL writes DynamoDB's types as ``'s'`` (S), numbers (N), ``TRUE``/``FALSE``
(BOOL), ``NULL``, ``[..]`` (L), ``{'k': ..}`` (M) and ``<<..>>`` (SS or NS);
binaries and binary sets only arrive as parameters. Parameters are bound by
position and checked like any attribute value; a statement with more ``?``
than ``Parameters`` is refused, one with fewer is not (as on AWS).
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.partiql.nodes import (
    AV,
    BagLit,
    ListLit,
    Literal,
    MapLit,
    Missing,
    Node,
    Param,
)
from cloudlet.services.dynamodb.values import validate_value

_BAG_TYPES = {"S": "SS", "N": "NS", "B": "BS"}


def check_count(needed: int, params: list[Any] | None) -> list[AV]:
    """The statement's parameters, refusing too few."""
    params = list(params or [])
    if len(params) < needed:
        raise errors.validation("Number of parameters in request and statement don't match.")
    return params


def is_value(node: Node) -> bool:
    """Whether ``node`` is a constant (a literal, a parameter or a collection of them)."""
    return isinstance(node, Literal | Param | ListLit | MapLit | BagLit)


class Binder:
    """Turns value nodes into attribute values against one request's parameters."""

    def __init__(self, params: list[AV]) -> None:
        self.params = params

    def value(self, node: Node, where: str = "root") -> AV:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Param):
            return validate_value(self.params[node.index])
        if isinstance(node, ListLit):
            return {"L": [self.value(n, f"{where}[{i}]") for i, n in enumerate(node.items)]}
        if isinstance(node, MapLit):
            return {"M": self.map(node, where)}
        if isinstance(node, BagLit):
            return self.bag(node)
        if isinstance(node, Missing):
            raise errors.validation(f"Unsupported data type: MISSING under key {where}")
        raise errors.validation(f"Unsupported data type: {type(node).__name__} under key {where}")

    def map(self, node: MapLit, where: str = "root") -> dict[str, AV]:
        out: dict[str, AV] = {}
        for key_node, value_node in node.pairs:
            key = self.value(key_node, where)
            if "S" not in key:
                kind = next(iter(key))
                raise errors.validation(
                    f"Tuple keys must be of type String. Actual type: {kind} under {where}"
                )
            name = key["S"]
            if name in out:
                raise errors.validation(f"Duplicate keys in tuple. Key: {name} under {where}")
            if isinstance(value_node, Missing):
                continue  # a MISSING member is no member, as in PartiQL
            out[name] = self.value(value_node, f"{where}.{name}")
        return out

    def bag(self, node: BagLit) -> AV:
        if not node.items:
            raise errors.validation("Empty bags are not supported")
        kinds = set()
        members = []
        for item in node.items:
            if not isinstance(item, Literal):
                raise _bag_type()
            kind = next(iter(item.value))
            if kind not in _BAG_TYPES:
                raise _bag_type()
            kinds.add(kind)
            members.append(item.value[kind])
        if len(kinds) > 1:
            raise _bag_type()
        return validate_value({_BAG_TYPES[kinds.pop()]: members})

    def item(self, node: Node) -> dict[str, AV]:
        """An INSERT's item: a map literal, or a parameter holding a map."""
        if isinstance(node, MapLit):
            return self.map(node)
        if isinstance(node, Param):
            value = self.value(node)
            if "M" in value:
                return value["M"]
        raise errors.validation(
            "Unsupported format in item expression. Please use struct format {...} to express "
            "item values for insert statement."
        )


def _bag_type() -> Exception:
    return errors.validation(
        "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags"
    )
