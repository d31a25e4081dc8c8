"""Projection expressions (``a, b.c, d[1]``) and their legacy form, AttributesToGet.

A projection keeps the named paths with the structure around them; see
``document.project``. Errors, in DynamoDB's order: a reserved word, an
undefined ``#name``, overlapping paths (``a, a.b``; also a repeated path), then
conflicting ones (``a[0], a.b``).
"""

from __future__ import annotations

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.context import (
    Errors,
    ExpressionContext,
    check_overlaps,
    check_size,
    resolve_path,
)
from cloudlet.services.dynamodb.expressions.document import project
from cloudlet.services.dynamodb.expressions.parser import parse_projection
from cloudlet.services.dynamodb.values import check_name

_ORDER = ("reserved", "depth", "names", "overlap", "conflict")


class Projection:
    __slots__ = ("paths", "_names")

    def __init__(self, paths: list[tuple]) -> None:
        self.paths = paths
        # only top-level names: a plain dict comprehension does it
        self._names = [p[0] for p in paths] if all(len(p) == 1 for p in paths) else None

    def apply(self, item: dict) -> dict:
        names = self._names
        if names is not None:
            return {n: item[n] for n in names if n in item}
        return project(item, self.paths)


def compile_projection(text: str, ctx: ExpressionContext) -> Projection:
    kind = "ProjectionExpression"
    check_size(text, kind)
    nodes = parse_projection(text)
    errs = Errors(kind)
    paths = [resolve_path(node, ctx, errs) for node in nodes]
    check_overlaps([p for p in paths if p is not None], errs)
    errs.raise_first(_ORDER)
    return Projection(paths)


def legacy_projection(attributes_to_get: list[str]) -> Projection:
    """``AttributesToGet``: top-level names taken literally (``a.b`` is one name)."""
    seen: set[str] = set()
    for name in attributes_to_get:
        check_name(name)
        if name in seen:
            raise errors.invalid_parameter(f"Duplicate value in attribute name: {name}")
        seen.add(name)
    return Projection([(name,) for name in attributes_to_get])
