"""Logs Insights: parse a query once, then stream a group's events through it.

Plain Python (no HTTP, no SQLite): ``parse_query`` turns the query string into
a ``Query`` or raises ``MalformedQueryException``; ``Query.run`` consumes
records (dicts of fields: ``@timestamp``, ``@message``, ``@logStream``, ``@log``,
``@ingestionTime`` and, for JSON messages, their flattened fields) and returns
result rows. Commands run in order: per-record ``parse``/``fields``/``filter``
until the first ``stats``, which aggregates; ``sort``, ``limit``, ``display``
and later ``filter``s then apply to whatever rows remain.

Supported: ``fields``, ``display``, ``filter`` (comparisons, arithmetic,
``like``/``=~`` with /regex/ or "substring", ``in [...]``, ``and/or/not``,
``ispresent`` and friends), ``stats`` with count/count_distinct/sum/avg/min/max/
earliest/latest/stddev/pct ``by`` fields or ``bin(5m)``, ``sort ... asc|desc``,
``limit``, ``parse`` (glob with ``*`` or /regex/ with named groups), ``dedup``;
``unmask(field)`` shows a field of the event as ingested where data protection masked
it (the query then needs ``logs:Unmask``); ``filterIndex`` is a ``filter`` that keeps to
what field indexes hold (``index_plan`` says which conditions an index can answer).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.logs import errors
from cloudlet.services.logs.index_plan import Condition, Plan, conditions, plan
from cloudlet.services.logs.query_language import (
    UNMASKED,
    Expr,
    Parser,
    Record,
    Stamp,
    flatten,
    num,
    regex,
    show,
    split_commands,
)

__all__ = ["Query", "Runner", "Stamp", "flatten", "parse_query", "record", "show"]


# --- aggregation ---------------------------------------------------------------------


def _aggregate(name: str, args: list[Expr], records: list[Record]) -> Any:
    if name == "count":
        if not args or args[0].text == "*":
            return len(records)
        return sum(1 for r in records if args[0].fn(r) is not None)
    values = [args[0].fn(r) for r in records] if args else []
    present = [v for v in values if v is not None]
    if name == "count_distinct":
        return len({show(v) for v in present})
    if name in ("earliest", "latest"):
        pairs = [(r.get("@timestamp") or 0, args[0].fn(r)) for r in records]
        pairs = [p for p in pairs if p[1] is not None]
        if not pairs:
            return None
        pick = min if name == "earliest" else max
        return pick(pairs, key=lambda p: p[0])[1]
    nums = [n for n in (num(v) for v in present) if n is not None]
    if not nums:
        return None
    if name == "sum":
        return sum(nums)
    if name == "avg":
        return sum(nums) / len(nums)
    if name == "min":
        return min(nums)
    if name == "max":
        return max(nums)
    if name == "stddev":
        return statistics.pstdev(nums) if len(nums) > 1 else 0.0
    # pct(field, 95)
    q = num(args[1].fn({})) if len(args) > 1 else 50.0
    ordered = sorted(nums)
    k = max(0, min(len(ordered) - 1, math.ceil((q or 0) / 100 * len(ordered)) - 1))
    return ordered[k]


# --- commands ------------------------------------------------------------------------


@dataclass
class Stage:
    kind: str
    exprs: list[tuple[Expr, str]] = field(default_factory=list)
    by: list[tuple[Expr, str]] = field(default_factory=list)
    pred: Expr | None = None
    keys: list[tuple[Expr, bool]] = field(default_factory=list)
    n: int = 0
    source: Expr | None = None
    rx: re.Pattern | None = None
    names: list[str] = field(default_factory=list)
    unmasks: bool = False
    conds: list[Condition] = field(default_factory=list)
    index_only: bool = False


def _globregex(glob: str) -> re.Pattern:
    parts = glob.split("*")
    body = ""
    for i, part in enumerate(parts):
        body += re.escape(part)
        if i < len(parts) - 1:
            body += "(.*)" if i == len(parts) - 2 and parts[-1] == "" else "(.*?)"
    return re.compile(body, re.S)


def _stage(text: str) -> Stage:
    p = Parser(text)
    st = _command(p)
    st.unmasks = p.unmasks
    if st.kind == "filter":
        st.index_only = p.toks[0].text.lower() == "filterindex"
        st.conds, whole = conditions(text[p.toks[0].end :])
        if st.index_only and not (st.conds and whole):
            raise errors.malformed_query(
                "filterIndex takes field = value or field IN [value, ...] conditions, "
                "joined by and."
            )
    return st


def _command(p: Parser) -> Stage:
    head = p.take()
    cmd = head.text.lower()
    if cmd in ("fields", "display"):
        if p.done():
            raise errors.malformed_query(f"{cmd} needs at least one field")
        st = Stage(cmd)
        while not p.done():
            e = p.expr()
            st.exprs.append((e, p.alias(e)))
            if p.op(","):
                p.take()
            elif not p.done():
                raise errors.malformed_query(f"unexpected symbol found {p.peek().text!r}")
        return st
    if cmd in ("filter", "filterindex"):
        st = Stage("filter", pred=p.expr())
    elif cmd == "stats":
        st = Stage("stats")
        while True:
            e = p.expr()
            if e.agg is None:
                raise errors.malformed_query(f"stats needs an aggregate function: {e.text}")
            st.exprs.append((e, p.alias(e)))
            if not p.op(","):
                break
            p.take()
        if p.word("by"):
            p.take()
            while True:
                e = p.expr()
                st.by.append((e, p.alias(e)))
                if not p.op(","):
                    break
                p.take()
    elif cmd == "sort":
        st = Stage("sort")
        while True:
            e = p.expr()
            desc = False
            if p.word("asc", "desc"):
                desc = p.take().text.lower() == "desc"
            st.keys.append((e, desc))
            if not p.op(","):
                break
            p.take()
    elif cmd in ("limit", "head"):
        t = p.take()
        if t.kind != "num" or "." in t.text or int(t.text) < 1:
            raise errors.malformed_query(f"limit takes a positive integer, not {t.text!r}")
        st = Stage("limit", n=min(int(t.text), 10000))
    elif cmd == "parse":
        source = p.expr() if not (p.peek() and p.peek().kind in ("str", "re")) else None
        t = p.take()
        if t.kind == "re":
            rx = regex(t)
            names = list(rx.groupindex)
            if not names:
                raise errors.malformed_query("a parse regex needs named groups (?<name>...)")
        elif t.kind == "str":
            rx = _globregex(t.text[1:-1])
            if not p.word("as"):
                raise errors.malformed_query("parse with a glob needs 'as' and field names")
            p.take()
            names = []
            while not p.done():
                names.append(p.take().text.strip("`"))
                if p.op(","):
                    p.take()
            if len(names) != rx.groups:
                raise errors.malformed_query(
                    "the number of fields does not match the number of * in the parse pattern"
                )
        else:
            raise errors.malformed_query('parse needs a "glob" or /regex/')
        src = source or Expr(lambda r: r.get("@message"), "@message")
        st = Stage("parse", source=src, rx=rx, names=names)
    elif cmd == "dedup":
        st = Stage("dedup")
        while not p.done():
            e = p.expr()
            st.exprs.append((e, e.text))
            if p.op(","):
                p.take()
    else:
        raise errors.malformed_query(f"unexpected symbol found {head.text!r}: unknown command")
    if not p.done():
        raise errors.malformed_query(f"unexpected symbol found {p.peek().text!r}")
    return st


@dataclass
class Query:
    stages: list[Stage]
    plan: Plan = field(default_factory=Plan)

    @property
    def unmasks(self) -> bool:
        """Whether the query calls ``unmask``: it then needs ``logs:Unmask`` and the
        events as ingested beside the masked ones (``record(..., raw=...)``)."""
        return any(s.unmasks for s in self.stages)

    def run(self, records: Iterable[Record], limit: int, stats: dict[str, int]) -> list[Record]:
        """All result rows (each a dict of field -> value, absent fields left out)."""
        runner = Runner(self, limit, stats)
        runner.feed(records)
        return runner.finish()

    def _project(self, rows: list[Record]) -> list[Record]:
        display = [s for s in self.stages if s.kind == "display"]
        stats = [s for s in self.stages if s.kind == "stats"]
        if display:
            names = [alias for _, alias in display[-1].exprs]
        elif stats:
            st = stats[-1]
            names = [a for _, a in st.by] + [a for _, a in st.exprs]
        else:
            names = []
            for s in self.stages:
                if s.kind == "fields":
                    names += [a for _, a in s.exprs if a not in names]
            if not names:
                names = ["@timestamp", "@message"]
            names.append("@ptr")
        return [{n: row[n] for n in names if row.get(n) is not None} for row in rows]


class Runner:
    """One execution of a query, fed records in chunks (so a long scan can yield
    to the event loop between chunks), finished once."""

    def __init__(self, query: Query, limit: int, stats: dict[str, int]) -> None:
        self.query = query
        self.limit = limit
        self.stats = stats
        stages = query.stages
        self.split = next((i for i, s in enumerate(stages) if s.kind == "stats"), None)
        self.per_record = stages if self.split is None else stages[: self.split]
        self.streaming = all(s.kind in ("fields", "filter", "parse") for s in self.per_record)
        self.early = self.split is None and not _needs_all(stages)
        self.kept: list[Record] = []
        self.full = False

    def feed(self, records: Iterable[Record]) -> bool:
        """Consume records; False once no more are needed."""
        for rec in records:
            if self.full:
                return False
            self.stats["recordsScanned"] += 1
            self.stats["bytesScanned"] += len(str(rec.get("@message", "")).encode())
            if self.streaming:
                out = _per_record(self.per_record, rec)
                if out is None:
                    continue
                self.stats["recordsMatched"] += 1
                self.kept.append(out)
                self.full = self.early and len(self.kept) >= self.limit
            else:
                self.kept.append(rec)
        return not self.full

    def finish(self) -> list[Record]:
        rows = self.kept
        if not self.streaming:
            rows = _table(self.per_record, rows)
            self.stats["recordsMatched"] = len(rows)
        if self.split is not None:
            rows = _stats(self.query.stages[self.split], rows)
            rows = _table(self.query.stages[self.split + 1 :], rows)
        return [r for r in self.query._project(rows) if r][: self.limit]


def _needs_all(stages: list[Stage]) -> bool:
    return any(s.kind in ("sort", "stats", "dedup") for s in stages)


def _per_record(stages: list[Stage], rec: Record) -> Record | None:
    for s in stages:
        if s.kind == "filter":
            if not s.pred or not s.pred.fn(rec):
                return None
        elif s.kind == "fields":
            rec = dict(rec)
            for e, alias in s.exprs:
                v = e.fn(rec)
                if v is not None:
                    rec[alias] = v
        elif s.kind == "parse" and s.rx is not None and s.source is not None:
            value = s.source.fn(rec)
            m = s.rx.search(show(value)) if value is not None else None
            if m is not None:
                rec = dict(rec)
                if s.rx.groupindex:
                    rec.update({k: v for k, v in m.groupdict().items() if v is not None})
                else:
                    rec.update(zip(s.names, m.groups(), strict=False))
    return rec


def _table(stages: list[Stage], rows: list[Record]) -> list[Record]:
    """Stages that need the whole table (sort, limit, dedup) mixed with per-row ones."""
    for s in stages:
        if s.kind in ("filter", "fields", "parse"):
            rows = [r for r in (_per_record([s], r) for r in rows) if r is not None]
        elif s.kind == "sort":
            for e, desc in reversed(s.keys):
                rows.sort(key=lambda r, e=e: _sort_key(r.get(e.text, e.fn(r))), reverse=desc)
        elif s.kind == "limit":
            rows = rows[: s.n]
        elif s.kind == "dedup":
            seen, kept = set(), []
            for r in rows:
                key = tuple(show(e.fn(r)) for e, _ in s.exprs)
                if key not in seen:
                    seen.add(key)
                    kept.append(r)
            rows = kept
    return rows


def _sort_key(v: Any) -> tuple:
    if v is None:
        return (0, 0, "")
    n = num(v)
    return (1, n, "") if n is not None else (2, 0, show(v))


def _stats(st: Stage, rows: list[Record]) -> list[Record]:
    groups: dict[tuple, list[Record]] = {}
    keys: dict[tuple, list[Any]] = {}
    for r in rows:
        vals = [e.fn(r) for e, _ in st.by]
        key = tuple(show(v) if v is not None else None for v in vals)
        groups.setdefault(key, []).append(r)
        keys.setdefault(key, vals)
    order = list(groups)
    if any(e.text.lower().startswith("bin(") for e, _ in st.by):
        order.sort(key=lambda k: [_sort_key(v) for v in keys[k]])
    out = []
    for key in order:
        row: Record = {alias: v for (_, alias), v in zip(st.by, keys[key], strict=True)}
        for e, alias in st.exprs:
            assert e.agg is not None
            row[alias] = _aggregate(e.agg[0], e.agg[1], groups[key])
        out.append(row)
    return out


def parse_query(text: str) -> Query:
    commands = split_commands(text or "")
    if not commands:
        raise errors.malformed_query("The query string is empty.")
    stages = [_stage(c) for c in commands]
    return Query(stages, plan(stages))


_LAMBDA_LINES = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")
_REPORT_FIELDS = {
    "Duration": ("@duration", 1.0),
    "Billed Duration": ("@billedDuration", 1.0),
    "Memory Size": ("@memorySize", 1_000_000.0),
    "Max Memory Used": ("@maxMemoryUsed", 1_000_000.0),
    "Init Duration": ("@initDuration", 1.0),
}


def lambda_fields(message: str) -> Record:
    """The fields Insights discovers in Lambda's START/END/REPORT lines (memory in
    bytes, durations in ms, as AWS reports them)."""
    kind, _, rest = message.partition(" RequestId: ")
    parts = rest.split("\t")
    out: Record = {"@type": kind, "@requestId": parts[0].split()[0] if parts[0] else ""}
    for part in parts[1:]:
        key, _, value = part.partition(": ")
        if key in _REPORT_FIELDS and value:
            name, scale = _REPORT_FIELDS[key]
            number = num(value.split()[0])
            if number is not None:
                out[name] = number * scale
    return out


def record(
    ts: int, ingest: int, message: str, stream: str, log: str, ptr: str, raw: str | None = None
) -> Record:
    """One event as Insights sees it, JSON fields discovered; ``raw``: the event as
    ingested, when data protection masked it (what ``unmask`` shows)."""
    rec: Record = {}
    if raw is not None:
        rec[UNMASKED] = record(ts, ingest, raw, stream, log, ptr)
    if message.startswith(_LAMBDA_LINES):
        rec.update(lambda_fields(message))
    elif message.startswith("{"):
        try:
            doc = json.loads(message)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            rec.update(flatten(doc))
    rec.update(
        {
            "@timestamp": Stamp(ts),
            "@ingestionTime": Stamp(ingest),
            "@message": message,
            "@logStream": stream,
            "@log": log,
            "@ptr": ptr,
        }
    )
    return rec
