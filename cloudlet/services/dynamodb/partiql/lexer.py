"""PartiQL tokens: the words, quotes, numbers and punctuation of a statement.

DynamoDB's PartiQL is the PartiQL reference grammar cut down to single-item
DML and keyed SELECTs, so the lexer follows PartiQL: ``'strings'`` with ``''``
for a quote, ``"identifiers"`` (case-sensitive, any character) with ``""``,
bare identifiers, numbers with optional fraction and exponent, ``?``
parameters, ``<<``/``>>`` bag brackets, ``--`` and ``/* */`` comments. Ion
literals in backticks are recognised only to refuse them as AWS does.

Bare words that PartiQL reserves (SQL-92's reserved words plus PartiQL's own)
cannot name an attribute without double quotes; ``WHERE pad = 'x'`` is a
syntax error on AWS and here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudlet.services.dynamodb import errors

RESERVED = frozenset(
    """
    absolute action add all allocate alter and any are as asc assertion at authorization avg
    begin between bit bit_length both by cascade cascaded case cast catalog char character
    character_length char_length check close coalesce collate collation column commit connect
    connection constraint constraints continue convert corresponding count create cross current
    current_date current_time current_timestamp current_user cursor date day deallocate dec
    decimal declare default deferrable deferred delete desc describe descriptor diagnostics
    disconnect distinct domain double drop else end escape except exception exec
    execute exists external extract false fetch first float for foreign found from full get
    global go goto grant group having hour identity immediate in indicator initially inner
    input insensitive insert int integer intersect interval into is isolation join key language
    last leading left level like local lower match max min minute module month names national
    natural nchar next no not null nullif numeric octet_length of on only open option or order
    outer output overlaps pad partial position precision prepare preserve primary prior
    privileges procedure public read real references relative restrict revoke right rollback
    rows schema scroll second section select session session_user set size smallint some space
    sql sqlcode sqlerror sqlstate substring sum system_user table temporary then time timestamp
    timezone_hour timezone_minute to trailing transaction translate translation trim true union
    unique unknown update upper usage user using value values varchar varying view when
    whenever where with work write year zone
    missing pivot unpivot limit offset remove returning let conflict
    bag blob bool boolean clob list sexp string struct symbol tuple
    """.split()
)
"""Words a bare identifier may not be (case-insensitive)."""

_PUNCT = ("<<", ">>", "<=", ">=", "<>", "!=", "||")
_SINGLE = "()[]{},.:;*?=<>+-/%"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """``word``, ``quoted``, ``string``, ``number``, ``param``, ``op`` or ``eof``."""
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops

    def show(self) -> str:
        if self.kind == "eof":
            return "end of statement"
        if self.kind == "string":
            return f"'{self.text}'"
        if self.kind == "quoted":
            return f'"{self.text}"'
        return self.text


def malformed(detail: str) -> Exception:
    """AWS's message for a statement its parser cannot read."""
    return errors.validation(f"Statement wasn't well formed, can't be processed: {detail}")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``eof`` token."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise malformed("Unterminated comment")
            i = end + 2
        elif c == "'" or c == '"':
            body, i2 = _quoted(text, i, c)
            out.append(Token("string" if c == "'" else "quoted", body, i))
            i = i2
        elif c == "`":
            raise errors.validation("Ion Literals are not supported")
        elif _digit(c) or (c == "." and i + 1 < n and _digit(text[i + 1])):
            j = _number_end(text, i)
            out.append(Token("number", text[i:j], i))
            i = j
        elif c.isalpha() or c == "_" or c == "$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            out.append(Token("word", text[i:j], i))
            i = j
        elif c == "?":
            out.append(Token("param", "?", i))
            i += 1
        else:
            two = text[i : i + 2]
            if two in _PUNCT:
                out.append(Token("op", two, i))
                i += 2
            elif c in _SINGLE:
                out.append(Token("op", c, i))
                i += 1
            else:
                raise malformed(f"Unexpected character '{c}'")
    out.append(Token("eof", "", n))
    return out


def location(text: str, tok: Token) -> str:
    """Where ``tok`` sits in ``text`` as AWS reports a source location: ``line:column:length``,
    1-based, the length as written (a quoted name's quotes and doubled quotes count)."""
    before = text[: tok.pos]
    line = before.count("\n") + 1
    column = tok.pos - (before.rfind("\n") + 1) + 1
    if tok.kind in ("quoted", "string"):
        length = _quoted(text, tok.pos, text[tok.pos])[1] - tok.pos
    else:
        length = len(tok.text)
    return f"{line}:{column}:{length}"


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    parts = []
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            kind = "string literal" if quote == "'" else "quoted identifier"
            raise malformed(f"Unterminated {kind}")
        parts.append(text[i:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            i = end + 2
            continue
        return "".join(parts), end + 1


def _digit(c: str) -> bool:
    """An ASCII digit: ``str.isdigit`` also takes "²" and other scripts' digits."""
    return "0" <= c <= "9"


def _number_end(text: str, i: int) -> int:
    n = len(text)
    while i < n and _digit(text[i]):
        i += 1
    if i < n and text[i] == "." and not (i + 1 < n and text[i + 1] == "."):
        i += 1
        while i < n and _digit(text[i]):
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and _digit(text[j]):
            while j < n and _digit(text[j]):
                j += 1
            i = j
    return i
