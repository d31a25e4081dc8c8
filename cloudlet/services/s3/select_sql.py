"""The SQL engine behind S3 Select (SelectObjectContent), with no knowledge of HTTP or storage.

``compile_query`` parses and checks an expression once, raising S3's error codes for what
S3 refuses before reading data; ``Query.run`` filters and projects records lazily and
stops pulling input at LIMIT. The wire side reads CSV/JSON/Parquet into records and
writes the rows this yields. Parsing lives in ``select_parse``, evaluation in
``select_eval`` (the closures, paths, aggregates), ``select_values`` (operators, CAST,
LIKE), ``select_funcs`` (functions) and ``select_time`` (timestamps); errors in
``select_errors``.

Output names are what S3 uses as JSON keys: ``SELECT *`` gives the CSV header (or
``_1``, ``_2``, ...) or the JSON record's own keys (``_1`` for a record that is not an
object); a path gives its last name, ``AS x`` gives ``x``, anything else ``_N`` for its
1-based place in the select list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cloudlet.services.s3.select_errors import MISSING, SelectError
from cloudlet.services.s3.select_eval import Binder, expander
from cloudlet.services.s3.select_parse import Node, SelectItem, Statement, parse

__all__ = ["MISSING", "Query", "SelectError", "compile_query"]

Row = list[tuple[str, Any]]
_FORMATS = {"csv": "CSV", "json": "JSON", "parquet": "Parquet"}


def compile_query(expression: str, input_format: str, header: bool = False) -> Query:
    """Parse and check a SELECT. input_format is "CSV", "JSON" or "Parquet". header=True
    means the CSV input has FileHeaderInfo=USE (columns may be referenced by name).
    Raises SelectError (Parse* codes etc.) for anything S3 refuses before reading data."""
    fmt = _FORMATS.get(input_format.lower())
    if fmt is None:
        raise SelectError(
            "InvalidDataSource",
            "The data source type is not valid. Only CSV, JSON, and Parquet are supported.",
        )
    stmt = parse(expression)
    if stmt.from_steps and fmt != "JSON":
        raise SelectError("InvalidKeyPath")
    query = Query(stmt, fmt, header and fmt == "CSV")
    query.bind(None)  # every check that needs no header names
    return query


class Query:
    """A compiled SELECT; ``run`` may be called once per object read."""

    def __init__(self, stmt: Statement, fmt: str, header: bool) -> None:
        self._stmt, self._fmt, self._header = stmt, fmt, header
        self.limit: int | None = stmt.limit
        self.is_aggregate: bool = any(_has_aggregate(it.expr) for it in stmt.items)

    def run(self, records: Iterable[Any], columns: list[str] | None = None) -> Iterator[Row]:
        """Lazily yield one output row per selected record (a single row for an aggregate
        query), as (output name, value) pairs in select-list order. Stops pulling records
        once LIMIT is reached. Raises SelectError for evaluation failures (CastFailed, ...)."""
        plan = self.bind(columns if self._header else None)
        return plan.rows(records)

    def bind(self, columns: list[str] | None) -> _Plan:
        binder = Binder(self._stmt, self._fmt, self._header, columns)
        where = None if self._stmt.where is None else binder.expr(self._stmt.where)
        binder.agg_allowed = self.is_aggregate
        project = _projector(binder, self._stmt.items, self._fmt == "CSV", columns)
        expand = expander(self._stmt.from_steps) if self._stmt.from_steps else None
        return _Plan(where, project, expand, self.limit, binder if self.is_aggregate else None)


class _Plan:
    def __init__(
        self,
        where: Callable[[Any], Any] | None,
        project: Callable[[Any], Row],
        expand: Callable[[Any], Iterable[Any]] | None,
        limit: int | None,
        aggregate: Binder | None,
    ) -> None:
        self.where, self.project, self.expand = where, project, expand
        self.limit, self.aggregate = limit, aggregate

    def rows(self, records: Iterable[Any]) -> Iterator[Row]:
        if self.expand is not None:
            records = (row for record in records for row in self.expand(record))
        if self.aggregate is not None:
            return self._aggregate(records)
        return self._scan(records)

    def _scan(self, records: Iterable[Any]) -> Iterator[Row]:
        limit = self.limit
        if limit == 0:
            return
        where, project = self.where, self.project
        n = 0
        for row in records:
            if where is None or where(row) is True:
                yield project(row)
                n += 1
                if n == limit:
                    return

    def _aggregate(self, records: Iterable[Any]) -> Iterator[Row]:
        binder = self.aggregate
        assert binder is not None
        aggs, where = binder.aggs, self.where
        for row in records:
            if where is None or where(row) is True:
                for agg in aggs:
                    agg.feed(row)
        binder.results[:] = [agg.result() for agg in aggs]
        if self.limit != 0:
            yield self.project(None)


def _has_aggregate(node: Any) -> bool:
    if isinstance(node, Node):
        return node.kind == "agg" or any(_has_aggregate(a) for a in node.args)
    if isinstance(node, tuple | list):
        return any(_has_aggregate(a) for a in node)
    return False


def _projector(
    binder: Binder, items: list[SelectItem], csv: bool, columns: list[str] | None
) -> Callable[[Any], Row]:
    if len(items) == 1 and items[0].expr is None and items[0].star_path is None:
        return _csv_star(columns) if csv else _json_star
    named: list[tuple[str, Callable[[Any], Any]]] = []
    stars: dict[int, Callable[[Any], Row]] = {}
    for position, item in enumerate(items, 1):
        if item.star_path is not None:
            if binder.agg_allowed:
                raise SelectError("UnsupportedSqlStructure")
            stars[len(named)] = _star_of(binder.path(item.star_path), csv, columns)
            named.append(("", _no_value))
            continue
        assert item.expr is not None
        name = item.alias if item.alias is not None else _output_name(binder, item.expr, position)
        named.append((name, binder.expr(item.expr)))
    if not stars:
        return lambda r: [(name, fn(r)) for name, fn in named]

    def mixed(r: Any) -> Row:
        out: Row = []
        for i, (name, fn) in enumerate(named):
            if i in stars:
                out.extend(stars[i](r))
            else:
                out.append((name, fn(r)))
        return out

    return mixed


def _no_value(_r: Any) -> Any:
    return MISSING


def _output_name(binder: Binder, expr: Node, position: int) -> str:
    if expr.kind == "path":
        root, steps = expr.args
        if steps and steps[-1].kind == "name":
            return steps[-1].value
        if not steps and (not binder.is_alias(root) or binder.alias_from_path):
            return root.value
    return f"_{position}"


def _csv_star(columns: list[str] | None) -> Callable[[Any], Row]:
    names = list(columns) if columns else []

    def star(r: Any) -> Row:
        if len(r) > len(names):
            names.extend(f"_{i}" for i in range(len(names) + 1, len(r) + 1))
        return list(zip(names, r, strict=False))

    return star


def _json_star(r: Any) -> Row:
    if isinstance(r, dict):
        return list(r.items())
    if r is MISSING:
        return []
    return [("_1", r)]


def _star_of(
    get: Callable[[Any], Any], csv: bool, columns: list[str] | None
) -> Callable[[Any], Row]:
    star = _csv_star(columns) if csv else _json_star

    def f(r: Any) -> Row:
        v = get(r)
        if csv and type(v) is list:
            return star(v)
        return _json_star(v)

    return f
