"""Composite alarm rules: ``ALARM(x) AND NOT (OK("y") OR INSUFFICIENT_DATA(z))``.

Parsed once at PutCompositeAlarm into a small tree so the rule is validated
(and its child alarms known) before it is stored; evaluated against the
children's current states on every tick. NOT binds tightest, then AND, then OR.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

STATE_FUNCS = {"ALARM": "ALARM", "OK": "OK", "INSUFFICIENT_DATA": "INSUFFICIENT_DATA"}
_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|[^\s()"]+)')


class RuleError(Exception):
    pass


@dataclass
class Node:
    op: str  # AND OR NOT STATE CONST
    args: tuple = ()


def _tokens(rule: str) -> list[str]:
    out, pos, rule = [], 0, rule.strip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if not m:
            raise RuleError(f"Unexpected character at position {pos + 1}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse(rule: str) -> Node:
    toks = _tokens(rule)
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise RuleError("Unexpected end of rule")
        pos += 1
        return toks[pos - 1]

    def disj() -> Node:
        left = conj()
        while peek() is not None and peek().upper() == "OR":  # type: ignore[union-attr]
            take()
            left = Node("OR", (left, conj()))
        return left

    def conj() -> Node:
        left = neg()
        while peek() is not None and peek().upper() == "AND":  # type: ignore[union-attr]
            take()
            left = Node("AND", (left, neg()))
        return left

    def neg() -> Node:
        if peek() is not None and peek().upper() == "NOT":  # type: ignore[union-attr]
            take()
            return Node("NOT", (neg(),))
        return atom()

    def atom() -> Node:
        tok = take()
        if tok == "(":
            inner = disj()
            if take() != ")":
                raise RuleError("Expected ')'")
            return inner
        if tok.upper() in ("TRUE", "FALSE"):
            return Node("CONST", (tok.upper() == "TRUE",))
        if tok in STATE_FUNCS:
            if take() != "(":
                raise RuleError(f"Expected '(' after {tok}")
            name = take()
            if name == ")":
                raise RuleError(f"{tok}() needs an alarm name or ARN")
            if take() != ")":
                raise RuleError(f"Expected ')' after the alarm of {tok}")
            return Node("STATE", (STATE_FUNCS[tok], name.strip('"')))
        raise RuleError(f"Unexpected token '{tok}'")

    tree = disj()
    if peek() is not None:
        raise RuleError(f"Unexpected token '{peek()}'")
    return tree


def children(node: Node) -> list[str]:
    if node.op == "STATE":
        return [node.args[1]]
    if node.op == "CONST":
        return []
    return [c for arg in node.args for c in children(arg)]


def holds(node: Node, state_of: Callable[[str], str | None]) -> bool:
    if node.op == "CONST":
        return bool(node.args[0])
    if node.op == "STATE":
        return state_of(node.args[1]) == node.args[0]
    if node.op == "NOT":
        return not holds(node.args[0], state_of)
    if node.op == "AND":
        return holds(node.args[0], state_of) and holds(node.args[1], state_of)
    return holds(node.args[0], state_of) or holds(node.args[1], state_of)
