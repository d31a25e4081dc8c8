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
