"""Which parts of an Insights query a field index can answer.

Why a module of its own: the parser turns a ``filter`` into a closure, which says whether
a record matches but not why. An index can only answer equality: ``field = value``,
``value = field`` and ``field in [values]``, alone or joined by ``and`` at the top level
(any of those conjuncts narrows the events; an ``or`` at the top level, ``not``, or a
function call leaves the filter to the scan). ``conditions`` reads those from the
filter's tokens; ``Plan`` collects them from the query's leading per-record commands,
where skipping an event the filter would drop anyway cannot change a result. A field a
``fields ... as`` or ``parse`` redefines there is no longer the event's own, so the index
says nothing about it.

``filterIndex`` (AWS's command) is a filter that returns indexed data only: its
conditions are required, so log groups and events the index does not hold are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudlet.services.logs import errors
from cloudlet.services.logs.query_language import Parser, Tok

Condition = tuple[str, list[Any]]
"""A field and the values it must equal one of."""

_PREFIX_KINDS = ("fields", "display", "filter", "parse")


def _literal(tok: Tok) -> tuple[bool, Any]:
    if tok.kind not in ("str", "num"):
        return False, None
    return True, Parser(tok.text).primary().fn({})


def _field(tok: Tok) -> str | None:
    return tok.text.strip("`") if tok.kind == "name" else None


def _conjunct(toks: list[Tok]) -> Condition | None:
    while len(toks) >= 2 and toks[0].text == "(" and toks[-1].text == ")":
        depth, closes = 0, 0
        for i, t in enumerate(toks):
            if t.kind == "op" and t.text in ("(", ")"):
                depth += 1 if t.text == "(" else -1
            if depth == 0:
                closes = i
                break
        if closes != len(toks) - 1:
            break  # "(a) = (b)": the parentheses are not around the whole conjunct
        toks = toks[1:-1]
    if len(toks) == 3 and toks[1].kind == "op" and toks[1].text in ("=", "=="):
        for name_tok, value_tok in ((toks[0], toks[2]), (toks[2], toks[0])):
            ok, value = _literal(value_tok)
            name = _field(name_tok)
            if ok and name and name.lower() not in ("true", "false"):
                return name, [value]
        return None
    if (
        len(toks) >= 5
        and _field(toks[0])
        and toks[1].kind == "name"
        and toks[1].text.lower() == "in"
        and toks[2].text == "["
        and toks[-1].text == "]"
    ):
        values = []
        for i, t in enumerate(toks[3:-1]):
            if i % 2:
                if t.text != ",":
                    return None
                continue
            ok, value = _literal(t)
            if not ok:
                return None
            values.append(value)
        return (_field(toks[0]) or "", values) if values else None
    return None


def conditions(text: str) -> tuple[list[Condition], bool]:
    """The index-answerable conditions of a filter expression, and whether they are all
    of it (every conjunct answerable)."""
    toks = Parser(text).toks
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text in ("(", "["):
            depth += 1
        elif t.kind == "op" and t.text in (")", "]"):
            depth -= 1
        if depth == 0 and t.kind == "name" and t.text.lower() == "or":
            return [], False
        if depth == 0 and t.kind == "name" and t.text.lower() == "and":
            parts.append([])
        else:
            parts[-1].append(t)
    found = [_conjunct(p) for p in parts]
    return [c for c in found if c is not None], all(c is not None for c in found)


@dataclass
class Plan:
    """The conditions an index may narrow a scan with: ``required`` ones (filterIndex)
    keep only indexed events, ``optional`` ones (filter) skip covered events only."""

    required: list[Condition] = field(default_factory=list)
    optional: list[Condition] = field(default_factory=list)


def plan(stages: list[Any]) -> Plan:
    """The plan of a parsed query's stages (``insights.Stage``)."""
    out = Plan()
    redefined: set[str] = set()
    leading = True
    for st in stages:
        if st.kind not in _PREFIX_KINDS:
            leading = False
        if st.index_only and not leading:
            raise errors.malformed_query(
                "filterIndex must come before stats, sort, limit and dedup commands."
            )
        if not leading:
            continue
        if st.kind == "fields":
            redefined |= {alias for e, alias in st.exprs if alias != e.text}
        elif st.kind == "parse":
            redefined |= set(st.names) or set(st.rx.groupindex if st.rx else ())
        elif st.kind == "filter":
            usable = [c for c in st.conds if c[0] not in redefined]
            (out.required if st.index_only else out.optional).extend(usable)
    return out
