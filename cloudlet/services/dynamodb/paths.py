"""Which attributes a request may name: key attributes are scalars, a GSI holds only its
projection.

Two checks DynamoDB makes on the document paths of a request before it reads anything:

- A key attribute (the table's or an index's) is always a string, number or binary, so
  a path into one (``pk.x``, ``g[0]``) can never match and AWS refuses it, in
  projections, filters, conditions and updates: ``Key attributes must be scalars; list
  random access '[]' and map lookup '.' are not allowed: Key: pk`` (``IndexKey: g`` for
  an index key; the table's keys are checked first).
- A global secondary index cannot fetch from its table, so a Query or Scan on one that
  asks for (ProjectionExpression, AttributesToGet) or filters on an attribute the index
  does not project is refused. A local secondary index can: DynamoDB reads the item
  from the table instead (``needs_table``), and charges that read to the table.
  PartiQL's SELECT on an index follows the same split for what it asks for (a GSI
  refuses, an LSI reads the table), but its filter is held to the projection only when
  the read is keyed on the index partition key; unkeyed, it filters the index's rows,
  which lack the attribute (paritysuite/dynamodb-conformance, indexQualifier.test.ts,
  captured on AWS in 2026).

Both only look at paths a request already compiled, and the first returns at once for
the common request whose paths are all top-level names.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.tables import Index, Table

_SCALARS = (
    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: "
)


def check_key_paths(table: Table, paths: Iterable[tuple]) -> None:
    """Refuse a document path that reaches inside a key attribute."""
    nested = [p for p in paths if len(p) > 1]
    if not nested:
        return
    heads = {p[0] for p in nested}
    for name in table.key_names:
        if name in heads:
            raise errors.validation(f"{_SCALARS}Key: {name}")
    for ix in table.indexes:
        for name in ix.key_names():
            if name in heads:
                raise errors.validation(f"{_SCALARS}IndexKey: {name}")


def projected(table: Table, ix: Index) -> set[str] | None:
    """The attributes index ``ix`` holds (None: all of them)."""
    if ix.projection == "ALL":
        return None
    names = set(table.key_names) | set(ix.key_names())
    if ix.projection == "INCLUDE":
        names.update(ix.non_key)
    return names


def unprojected(table: Table, ix: Index, names: Iterable[str]) -> list[str]:
    """The names of ``names`` index ``ix`` does not hold, each once, in order."""
    have = projected(table, ix)
    if have is None:
        return []
    out: list[str] = []
    for name in names:
        if name not in have and name not in out:
            out.append(name)
    return out


def check_index_reads(
    table: Table, ix: Index, asked: Iterable[str] | None, filtered: Iterable[str] | None
) -> None:
    """A read of index ``ix`` may ask for (``asked``) and filter on (``filtered``)
    projected attributes only; None leaves that side unchecked (a Query or Scan on a GSI
    checks both, a PartiQL SELECT only what its index cannot serve)."""
    missing = unprojected(table, ix, asked or ())
    if missing:
        kind = "Global" if ix.kind == "GSI" else "Local"
        raise errors.invalid_parameter(
            f"{kind} secondary index {ix.name} does not project [{', '.join(missing)}]"
        )
    missing = unprojected(table, ix, filtered or ())
    if missing:
        raise errors.invalid_parameter(
            f"Secondary index {ix.name} does not project one or more filter attributes: "
            f"[{', '.join(missing)}]"
        )


def needs_table(table: Table, ix: Index, names: Iterable[str]) -> bool:
    """True when a read of LSI ``ix`` names an attribute the index does not hold: DynamoDB
    then reads the item from the table."""
    return bool(unprojected(table, ix, names))
