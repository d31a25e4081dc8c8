"""Recursive-descent parsers for the three expression grammars, producing a small AST.

Parsing is purely syntactic: names, values, reserved words and types are
checked afterwards by each kind's checker, which walks the finished tree in
source order. DynamoDB ranks its errors by category (a reserved word beats an
undefined ``#name`` wherever each appears), so checking needs the whole tree
before it may choose which error to report.

Grammars (keywords are case-insensitive, function names are not)::

    condition := or ;  or := and (OR and)* ;  and := not (AND not)*
    not       := NOT not | primary
    primary   := '(' or ')' | operand (comparator operand
                 | BETWEEN operand AND operand | IN '(' operand (',' operand)* ')')
                 | function
    operand   := '(' operand ')' | :value | function | path
    function  := name '(' operand (',' operand)* ')'
    path      := (name | #name) ('.' (name | #name) | '[' digits ']')*

    update    := (SET set (',' set)* | REMOVE path (',' path)*
                 | ADD path :value (',' ...)* | DELETE path :value (',' ...)*)+
    set       := path '=' value ;  value := '(' value ')' | term (('+' | '-') term)?
    term      := '(' term ')' | :value | name '(' term (',' term)* ')' | path

    projection := path (',' path)*

A ``(`` where a condition may start is read as a parenthesised operand when the
token after its matching ``)`` is a comparator, BETWEEN or IN, else as a
parenthesised condition: one look at a precomputed bracket map, no backtracking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cloudlet.services.dynamodb.expressions.tokens import (
    ATTR,
    COMPARATORS,
    EOF,
    NAME,
    NUMBER,
    VALUE,
    Token,
    refuse_deep,
    syntax_error,
    tokenize,
)

T = TypeVar("T")

CONDITION_KEYWORDS = frozenset(("AND", "OR", "NOT", "BETWEEN", "IN"))
UPDATE_KEYWORDS = frozenset(("SET", "REMOVE", "ADD", "DELETE"))


# --------------------------------------------------------------------------- nodes


class Node:
    __slots__ = ()


class Path(Node):
    """A document path; ``parts`` are NAME/ATTR tokens and NUMBER tokens (list indexes)."""

    __slots__ = ("parts", "path")

    def __init__(self, parts: list[Token]) -> None:
        self.parts = parts
        self.path: tuple | None = None  # resolved by a checker: str names, int indexes


class Value(Node):
    __slots__ = ("token", "av")

    def __init__(self, token: Token) -> None:
        self.token = token
        self.av: dict | None = None  # resolved by a checker


class Func(Node):
    __slots__ = ("name", "args")

    def __init__(self, name: Token, args: list[Node]) -> None:
        self.name = name
        self.args = args


class Paren(Node):
    __slots__ = ("inner",)

    def __init__(self, inner: Node) -> None:
        self.inner = inner


class Arith(Node):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Node, right: Node) -> None:
        self.op, self.left, self.right = op, left, right


class Compare(Node):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Node, right: Node) -> None:
        self.op, self.left, self.right = op, left, right


class Between(Node):
    __slots__ = ("operand", "low", "high")

    def __init__(self, operand: Node, low: Node, high: Node) -> None:
        self.operand, self.low, self.high = operand, low, high


class In(Node):
    __slots__ = ("operand", "options")

    def __init__(self, operand: Node, options: list[Node]) -> None:
        self.operand, self.options = operand, options


class Logic(Node):
    """AND / OR over two conditions, NOT over one (``right`` is None)."""

    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Node, right: Node | None = None) -> None:
        self.op, self.left, self.right = op, left, right


class Action(Node):
    """One clause of an update: SET path = value, REMOVE path, ADD/DELETE path :value."""

    __slots__ = ("section", "path", "value", "opens")

    def __init__(self, section: str, path: Path, value: Node | None) -> None:
        self.section, self.path, self.value = section, path, value
        self.opens = False  # the first clause after its section keyword


def unwrap(node: Node) -> Node:
    while type(node) is Paren:
        node = node.inner
    return node


# --------------------------------------------------------------------------- parser


class _Fail(Exception):
    pass


class Parser:
    def __init__(self, text: str, kind: str, keywords: frozenset[str]) -> None:
        self.text = text
        self.kind = kind
        self.keywords = keywords
        self.tokens = tokenize(text)
        refuse_deep(kind, text, self.tokens)
        self.pos = 0
        self.match = _bracket_map(self.tokens)

    # -- plumbing

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != EOF:
            self.pos += 1
        return tok

    def expect(self, punct: str) -> Token:
        if not self.peek().is_punct(punct):
            raise _Fail
        return self.advance()

    def is_keyword(self, tok: Token) -> bool:
        return tok.kind == NAME and tok.text.upper() in self.keywords

    def run(self, rule: Callable[[], T]) -> T:
        try:
            node = rule()
            if self.peek().kind != EOF:
                raise _Fail
            return node
        except _Fail:
            raise syntax_error(self.kind, self.text, self.tokens, self.pos) from None

    # -- shared pieces

    def path(self) -> Path:
        head = self.peek()
        if not (head.kind == ATTR or (head.kind == NAME and not self.is_keyword(head))):
            raise _Fail
        parts = [self.advance()]
        while True:
            tok = self.peek()
            if tok.is_punct("."):
                self.advance()
                part = self.peek()
                if not (part.kind == ATTR or (part.kind == NAME and not self.is_keyword(part))):
                    raise _Fail
                parts.append(self.advance())
            elif tok.is_punct("["):
                self.advance()
                if self.peek().kind != NUMBER:
                    raise _Fail
                parts.append(self.advance())
                self.expect("]")
            else:
                return Path(parts)

    def _starts_call(self) -> bool:
        tok = self.peek()
        return tok.kind == NAME and not self.is_keyword(tok) and self.peek(1).is_punct("(")

    def _call(self, arg: Callable[[], Node]) -> Func:
        name = self.advance()
        self.expect("(")
        args = [arg()]
        while self.peek().is_punct(","):
            self.advance()
            args.append(arg())
        self.expect(")")
        return Func(name, args)

    # -- conditions

    def condition(self) -> Node:
        node = self._and()
        while self.peek().is_keyword("OR"):
            self.advance()
            node = Logic("OR", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._not()
        while self.peek().is_keyword("AND"):
            self.advance()
            node = Logic("AND", node, self._not())
        return node

    def _not(self) -> Node:
        if self.peek().is_keyword("NOT"):
            self.advance()
            return Logic("NOT", self._not())
        return self._primary()

    def _primary(self) -> Node:
        tok = self.peek()
        if tok.is_punct("("):
            close = self.match.get(self.pos)
            after = self.tokens[close + 1] if close is not None else None
            if after is None or not _continues_operand(after):
                self.advance()
                inner = self.condition()
                self.expect(")")
                return Paren(inner)
        left = self.operand()
        tok = self.peek()
        if tok.kind == "PUNCT" and tok.text in COMPARATORS:
            self.advance()
            return Compare(tok.text, left, self.operand())
        if tok.is_keyword("BETWEEN"):
            self.advance()
            low = self.operand()
            if not self.peek().is_keyword("AND"):
                raise _Fail
            self.advance()
            return Between(left, low, self.operand())
        if tok.is_keyword("IN"):
            self.advance()
            self.expect("(")
            options = [self.operand()]
            while self.peek().is_punct(","):
                self.advance()
                options.append(self.operand())
            self.expect(")")
            return In(left, options)
        if type(left) is Func:
            return left
        raise _Fail

    def operand(self) -> Node:
        tok = self.peek()
        if tok.is_punct("("):
            self.advance()
            inner = self.operand()
            self.expect(")")
            return Paren(inner)
        if tok.kind == VALUE:
            return Value(self.advance())
        if self._starts_call():
            return self._call(self.operand)
        return self.path()

    # -- updates

    def update(self) -> list[Action]:
        actions: list[Action] = []
        if not self._at_section():
            raise _Fail
        while self._at_section():
            section = self.advance().text.upper()
            first = len(actions)
            while True:
                actions.append(self._action(section))
                if not self.peek().is_punct(","):
                    break
                self.advance()
            actions[first].opens = True
        return actions

    def _at_section(self) -> bool:
        tok = self.peek()
        return tok.kind == NAME and tok.text.upper() in UPDATE_KEYWORDS

    def _action(self, section: str) -> Action:
        path = self.path()
        if section == "SET":
            self.expect("=")
            return Action(section, path, self._set_value())
        if section == "REMOVE":
            return Action(section, path, None)
        if self.peek().kind != VALUE:
            raise _Fail
        return Action(section, path, Value(self.advance()))

    def _set_value(self) -> Node:
        if self.peek().is_punct("("):
            close = self.match.get(self.pos)
            after = self.tokens[close + 1] if close is not None else None
            if after is None or not (after.is_punct("+") or after.is_punct("-")):
                self.advance()
                inner = self._set_value()
                self.expect(")")
                return Paren(inner)
        left = self._term()
        tok = self.peek()
        if tok.is_punct("+") or tok.is_punct("-"):
            self.advance()
            return Arith(tok.text, left, self._term())
        return left

    def _term(self) -> Node:
        tok = self.peek()
        if tok.is_punct("("):
            self.advance()
            inner = self._term()
            self.expect(")")
            return Paren(inner)
        if tok.kind == VALUE:
            return Value(self.advance())
        if self._starts_call():
            return self._call(self._term)
        return self.path()

    # -- projections

    def projection(self) -> list[Path]:
        paths = [self.path()]
        while self.peek().is_punct(","):
            self.advance()
            paths.append(self.path())
        return paths


def _continues_operand(tok: Token) -> bool:
    if tok.kind == "PUNCT":
        return tok.text in COMPARATORS
    return tok.is_keyword("BETWEEN") or tok.is_keyword("IN")


def _bracket_map(tokens: list[Token]) -> dict[int, int]:
    """Index of each ``(`` to the index of its matching ``)``."""
    out: dict[int, int] = {}
    stack: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.is_punct("("):
            stack.append(i)
        elif tok.is_punct(")") and stack:
            out[stack.pop()] = i
    return out


def parse_condition(text: str, kind: str) -> Node:
    parser = Parser(text, kind, CONDITION_KEYWORDS)
    return parser.run(parser.condition)


def parse_update(text: str) -> list[Action]:
    parser = Parser(text, "UpdateExpression", UPDATE_KEYWORDS)
    return parser.run(parser.update)


def parse_projection(text: str) -> list[Path]:
    parser = Parser(text, "ProjectionExpression", frozenset())
    return parser.run(parser.projection)
