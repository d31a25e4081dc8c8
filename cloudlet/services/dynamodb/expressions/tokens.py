"""The tokenizer every expression kind shares, and DynamoDB's syntax-error message.

DynamoDB reports a syntax error as ``Syntax error; token: "<tok>", near: "<src>"``
where ``near`` is the source text from the token before the offending one to the
token after it (``a-b`` gives token ``-`` near ``a-b``; a missing operand gives
token ``<EOF>`` near the last token and the trailing space). So tokens keep their
source offsets, and a character that starts no token (``_``, ``!``, ``-`` in a
condition...) becomes a one-character ``BAD`` token that the parser then trips on,
exactly where DynamoDB does.

Names start with a letter (``_x`` is a syntax error at ``_``, as in DynamoDB);
``#name`` and ``:value`` placeholders take letters, digits and underscores.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudlet.services.dynamodb import errors

NAME = "NAME"  # an identifier: attribute name, function name or keyword
ATTR = "ATTR"  # #placeholder
VALUE = "VALUE"  # :placeholder
NUMBER = "NUMBER"  # digits, only valid as a list index
PUNCT = "PUNCT"  # ( ) [ ] . , = <> < <= > >= + -
BAD = "BAD"  # a character no token starts with
EOF = "EOF"

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_LETTER = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGIT = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n")
_SINGLE = frozenset("()[].,=+-")
COMPARATORS = frozenset(("=", "<>", "<", "<=", ">", ">="))


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    def is_punct(self, text: str) -> bool:
        return self.kind == PUNCT and self.text == text

    def is_keyword(self, word: str) -> bool:
        """Keywords (AND, SET, BETWEEN...) are case-insensitive."""
        return self.kind == NAME and self.text.upper() == word


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, always ending with an ``EOF`` token."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
            continue
        start = i
        if c in _LETTER:
            i += 1
            while i < n and text[i] in _WORD:
                i += 1
            out.append(Token(NAME, text[start:i], start, i))
        elif c == "#" or c == ":":
            i += 1
            while i < n and text[i] in _WORD:
                i += 1
            if i == start + 1:
                out.append(Token(BAD, c, start, i))
            else:
                out.append(Token(ATTR if c == "#" else VALUE, text[start:i], start, i))
        elif c in _DIGIT:
            i += 1
            while i < n and text[i] in _DIGIT:
                i += 1
            out.append(Token(NUMBER, text[start:i], start, i))
        elif c == "<" or c == ">":
            i += 1
            if i < n and (text[i] == "=" or (c == "<" and text[i] == ">")):
                i += 1
            out.append(Token(PUNCT, text[start:i], start, i))
        elif c in _SINGLE:
            i += 1
            out.append(Token(PUNCT, c, start, i))
        else:
            i += 1
            out.append(Token(BAD, c, start, i))
    out.append(Token(EOF, "<EOF>", n, n))
    return out


def syntax_error(kind: str, text: str, tokens: list[Token], index: int) -> Exception:
    """DynamoDB's message for a syntax error at ``tokens[index]``."""
    tok = tokens[index]
    start = tokens[index - 1].start if index > 0 else tok.start
    end = tok.end
    if tok.kind != EOF and tokens[index + 1].kind != EOF:
        end = tokens[index + 1].end
    near = text[start:end]
    return errors.validation(f'Invalid {kind}: Syntax error; token: "{tok.text}", near: "{near}"')


def invalid(kind: str, detail: str) -> Exception:
    """``Invalid <Kind>Expression: <detail>``, the frame of every compile-time error."""
    return errors.validation(f"Invalid {kind}: {detail}")


MAX_OPERATORS = 300


def check_operators(count: int, kind: str) -> None:
    """DynamoDB counts operators and functions as it checks them and stops at the first
    one past the limit, so the count it reports is always the limit plus one."""
    if count > MAX_OPERATORS:
        raise invalid(
            kind, f"The expression contains too many operators; operator count: {MAX_OPERATORS + 1}"
        )


DEEP = 100
"""Nesting (parentheses, or NOTs in a row) past which an expression is judged from its
tokens before it is parsed: the parser recurses once a level, and an expression of under
4 KiB can nest a thousand deep."""
_OPERATOR_WORDS = frozenset(("AND", "OR", "NOT", "BETWEEN", "IN"))


def refuse_deep(kind: str, text: str, tokens: list[Token]) -> None:
    """An expression nested past ``DEEP`` gets the answer DynamoDB gives it (Alternator's
    test_limits.py::test_deeply_nested_expression_*, run against DynamoDB): too many
    operators when it has more than 300, else a syntax error when its parentheses do not
    close, else redundant parentheses when it has fewer operators than levels of
    parentheses (so some pair wraps nothing new). Others are left to the parser."""
    if text.count("(") <= DEEP and text.lower().count("not") <= DEEP:
        return  # nothing can nest that deep: the common case, at C speed
    depth = deepest = nots = most_nots = operators = 0
    previous: Token | None = None
    for tok in tokens:
        if tok.kind == PUNCT:
            if tok.text == "(":
                depth += 1
                deepest = max(deepest, depth)
                if (
                    previous is not None
                    and previous.kind == NAME
                    and previous.text.upper() not in _OPERATOR_WORDS
                ):
                    operators += 1  # a function call
            elif tok.text == ")":
                depth -= 1
            elif tok.text in COMPARATORS:
                operators += 1
        word = tok.text.upper() if tok.kind == NAME else ""
        if word in _OPERATOR_WORDS:
            operators += 1
        nots = nots + 1 if word == "NOT" else 0
        most_nots = max(most_nots, nots)
        previous = tok
    if max(deepest, most_nots) <= DEEP:
        return
    check_operators(operators, kind)
    if depth != 0:
        raise syntax_error(kind, text, tokens, len(tokens) - 1)
    if operators < deepest:
        raise invalid(kind, "The expression has redundant parentheses;")
