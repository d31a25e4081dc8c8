"""ImportTable's readers: one S3 object's bytes to the items it holds.

Why this module exists:

- **The three formats AWS reads**, decoded the way ``export.py`` encodes them so
  an export's data folder imports back unchanged:

  - DynamoDB JSON: ``{"Item": {...}}`` records in the wire form, binaries in
    base64. Records are read as a JSON stream (AWS also takes several on one
    line); a record that does not parse costs one error and the reader goes on
    at the next line.
  - Ion text: ``$ion_1_0 {Item:{...}}`` with AWS's DynamoDB-to-Ion mapping
    (decimals and ints are numbers, blobs binaries, lists annotated
    ``$dynamodb_SS``/``NS``/``BS`` sets). ``export.py`` hand-writes Ion, so
    this is the small hand-written reader of the same subset (plus comments,
    long strings, symbols, ints and floats). Binary Ion is not read.
  - CSV: a header (``HeaderList``, or the first row of each object), the
    ``Delimiter``; every column is a string except the attributes named in the
    table's AttributeDefinitions (the keys of the table and its indexes), which
    take their declared type. Empty cells are left out, so an empty index key
    leaves the item out of that (sparse) index instead of failing it.
- **Per-record errors.** Decoding runs in a worker thread and gives back rows
  ready for ``Engine.write`` (key, validated item, size) plus an error count:
  a record that is not an item (bad syntax, no ``Item``, a missing or mistyped
  key, an empty attribute name, an oversized item) is counted and skipped.
  Blank lines are neither items nor errors. An object that does not
  decompress or decode as UTF-8 counts as one error.
- **Compression.** GZIP, ZSTD and NONE, one table from the type to a
  decompressor, so every compression fails the same way: an object that does
  not decompress is one error. ZSTD is read frame after frame, as the zstd CLI,
  pzstd (skippable frames) and streaming writers make files, and an object
  that ends inside a frame is an error, as a cut gzip member is, not a
  silently shorter import.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zstandard

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb.engine import Key
from cloudlet.services.dynamodb.key_values import check_index_types
from cloudlet.services.dynamodb.tables import Table
from cloudlet.services.dynamodb.values import AV, MAX_ITEM_SIZE, Item, item_size, validate_item

Row = tuple[Key, Item, int]
RECORD_ERRORS = (ServiceError, ValueError, TypeError, RecursionError)
"""What a bad record raises on its way to a row (binascii and Unicode errors are ValueErrors)."""


@dataclass(slots=True)
class ImportFormat:
    """The request's InputFormat, InputCompressionType and CSV options."""

    format: str
    compression: str = "NONE"
    delimiter: str = ","
    header: list[str] | None = None


@dataclass(slots=True)
class Decoded:
    rows: list[Row] = field(default_factory=list)
    errors: int = 0
    size: int = 0
    """Uncompressed bytes read (what AWS reports as ProcessedSizeBytes)."""
    first_error: str | None = None

    def error(self, exc: BaseException | str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- compression


def _zstd(body: bytes) -> bytes:
    """Every zstd frame of ``body``, uncompressed (skippable frames skipped); EOFError if
    the object ends inside a frame, as a cut gzip member raises."""
    dctx = zstandard.ZstdDecompressor()
    out, rest = [], body
    while rest:
        frame = dctx.decompressobj()
        out.append(frame.decompress(rest))
        if not frame.eof:
            raise EOFError("the object ends inside a zstd frame")
        rest = frame.unused_data
    return b"".join(out)


DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "NONE": lambda body: body,
    "GZIP": gzip.decompress,
    "ZSTD": _zstd,
}
"""InputCompressionType to an object's uncompressed bytes."""
DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)
"""What an object that does not decompress raises (BadGzipFile is an OSError)."""


def decode_object(body: bytes, spec: ImportFormat, table: Table) -> Decoded:
    """The rows of one S3 object, checked against ``table`` (run in a worker thread)."""
    out = Decoded()
    try:
        raw = DECOMPRESSORS[spec.compression](body)
    except DECOMPRESS_ERRORS as exc:
        out.error(f"the object does not decompress as {spec.compression}: {exc}")
        return out
    out.size = len(raw)
    for record in _records(raw, spec, table):
        if isinstance(record, BaseException):
            out.error(record)
            continue
        try:
            out.rows.append(prepare(table, record))
        except RECORD_ERRORS as exc:
            out.error(exc)
    return out


def prepare(table: Table, item: Item) -> Row:
    """An item as PutItem would store it: numbers canonical, keys and size checked."""
    if "" in item:
        raise ValueError("an attribute name must not be empty")
    item = validate_item(item)
    key = table.key_of(item)
    if table.indexes:
        check_index_types(table, item)
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise ValueError("Item size has exceeded the maximum allowed size")
    return key, item, size


def _records(raw: bytes, spec: ImportFormat, table: Table) -> Iterator[Item | BaseException]:
    if spec.format == "DYNAMODB_JSON":
        yield from json_records(raw)
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield exc
        return
    if spec.format == "ION":
        if raw.startswith(b"\xe0\x01\x00\xea"):
            yield ValueError("binary Ion is not supported: import Ion text")
            return
        yield from ion_records(text)
    else:
        yield from csv_records(text, spec.delimiter, spec.header, table)


# --------------------------------------------------------------------------- DynamoDB JSON


_JSON_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")


def json_records(raw: bytes) -> Iterator[Item | BaseException]:
    for line in raw.split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield exc
            continue
        pos = _SPACE.match(text).end()  # type: ignore[union-attr]
        while pos < len(text):
            try:
                record, pos = _JSON_DECODER.raw_decode(text, pos)
            except ValueError as exc:
                yield exc
                break  # the rest of the line is unreadable: go on with the next one
            try:
                yield json_item(record)
            except RECORD_ERRORS as exc:
                yield exc
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]


def json_item(record: Any) -> Item:
    """The item of one ``{"Item": {...}}`` record, binaries decoded from base64."""
    if not isinstance(record, dict) or not isinstance(record.get("Item"), dict):
        raise ValueError('a DynamoDB JSON record must be an object with an "Item" object')
    return {name: _from_json(value) for name, value in record["Item"].items()}


def _strings(value: Any, t: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{t} must be a list of strings")
    return value


def _from_json(value: Any) -> AV:
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("an attribute value must be an object with exactly one type")
    ((t, v),) = value.items()
    if t in ("S", "N"):
        if not isinstance(v, str):
            raise ValueError(f"{t} must be a string")
        return value
    if t == "B":
        if not isinstance(v, str):
            raise ValueError("B must be a base64 string")
        return {"B": base64.b64decode(v, validate=True)}
    if t == "BOOL":
        if not isinstance(v, bool):
            raise ValueError("BOOL must be true or false")
        return value
    if t == "NULL":
        if v is not True:
            raise ValueError("NULL must be true")
        return value
    if t in ("SS", "NS"):
        return {t: _strings(v, t)}
    if t == "BS":
        return {"BS": [base64.b64decode(x, validate=True) for x in _strings(v, t)]}
    if t == "M":
        if not isinstance(v, dict):
            raise ValueError("M must be an object")
        return {"M": {k: _from_json(x) for k, x in v.items()}}
    if t == "L":
        if not isinstance(v, list):
            raise ValueError("L must be a list")
        return {"L": [_from_json(x) for x in v]}
    raise ValueError(f"unknown attribute type {t!r}")


# --------------------------------------------------------------------------- CSV


def csv_records(
    text: str, delimiter: str, header: list[str] | None, table: Table
) -> Iterator[Item | BaseException]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    types = table.attributes
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = row
            continue
        if len(row) != len(header):
            yield ValueError(f"the row has {len(row)} columns where the header has {len(header)}")
            continue
        try:
            yield {
                name: _csv_value(types.get(name), cell)
                for name, cell in zip(header, row, strict=True)
                if cell != ""
            }
        except RECORD_ERRORS as exc:
            yield exc


def _csv_value(declared: str | None, cell: str) -> AV:
    if declared == "N":
        return {"N": cell.strip()}
    if declared == "B":
        return {"B": base64.b64decode(cell, validate=True)}
    return {"S": cell}


# --------------------------------------------------------------------------- Ion text


class IonError(ValueError):
    pass


_ION_SKIP = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SHORT_STRING = re.compile(r'"((?:[^"\\\n]|\\[\s\S])*)"')
_LONG_STRING = re.compile(r"'''((?:[^'\\]|\\[\s\S]|'(?!''))*)'''")
_QUOTED_SYMBOL = re.compile(r"'((?:[^'\\\n]|\\[\s\S])*)'")
_NUMBER_TOKEN = re.compile(r"[-+]?[0-9][0-9A-Za-z_.:+-]*")
_INT = re.compile(r"-?[0-9][0-9_]*\Z")
_RADIX_INT = re.compile(r"-?0(?:[xX][0-9a-fA-F_]+|[bB][01_]+)\Z")
_DECIMAL = re.compile(r"-?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[dDeE][+-]?[0-9]+)?\Z")
_NULL_TYPE = re.compile(r"\.[a-z]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|\r\n|[\s\S])")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "v": "\v",
    "?": "?",
    "0": "\0",
    "'": "'",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "\n": "",
    "\r\n": "",
}
_SETS = {"$dynamodb_SS": ("SS", "S"), "$dynamodb_NS": ("NS", "N"), "$dynamodb_BS": ("BS", "B")}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if len(e) > 1 and e[0] in "xuU":
            return chr(int(e[1:], 16))
        if e in _ESCAPES:
            return _ESCAPES[e]
        raise IonError(f"invalid escape \\{e}")

    out = _ESCAPE.sub(one, text)
    if any("\ud800" <= c <= "\udfff" for c in out):
        # \uD83D\uDE00 pairs; a lone surrogate raises UnicodeDecodeError (a ValueError).
        out = out.encode("utf-16", "surrogatepass").decode("utf-16")
    return out


def ion_records(text: str) -> Iterator[Item | BaseException]:
    """The items of an Ion text stream of ``{Item:{...}}`` records."""
    reader = _IonReader(text)
    while True:
        reader.skip()
        if reader.pos >= len(text):
            return
        start = reader.pos
        try:
            annotations, value = reader.annotated()
        except (IonError, ValueError, RecursionError) as exc:
            yield exc
            line_end = text.find("\n", start)
            reader.pos = len(text) if line_end < 0 else line_end + 1
            continue
        if (value == {"S": "$ion_1_0"} and reader.symbol == "$ion_1_0") or (
            "$ion_symbol_table" in annotations
        ):
            continue  # the version marker and symbol tables are not records
        record = value.get("M")
        item = record.get("Item") if record is not None else None
        if item is None or "M" not in item:
            yield IonError("an Ion record must be a struct with an Item struct")
            continue
        yield item["M"]


class _IonReader:
    """A recursive-descent reader of one Ion text, straight to DynamoDB attribute values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.symbol: str | None = None
        """The symbol the last value was, when it was a bare one (``$ion_1_0``)."""

    def skip(self) -> None:
        self.pos = _ION_SKIP.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def fail(self, what: str) -> IonError:
        return IonError(f"Ion syntax error at offset {self.pos}: {what}")

    def annotated(self) -> tuple[list[str], AV]:
        annotations = []
        while True:
            self.skip()
            mark = self.pos
            name = self._symbol_text()
            if name is not None:
                self.skip()
                if self.text.startswith("::", self.pos):
                    self.pos += 2
                    annotations.append(name)
                    continue
            self.pos = mark
            break
        value = self._value()
        for name in annotations:
            if name in _SETS:
                value = _as_set(name, value)
        return annotations, value

    def value(self) -> AV:
        return self.annotated()[1]

    def _symbol_text(self) -> str | None:
        text, pos = self.text, self.pos
        if text.startswith("'''", pos):
            return None
        m = _QUOTED_SYMBOL.match(text, pos) or _IDENT.match(text, pos)
        if m is None:
            return None
        self.pos = m.end()
        return _unescape(m.group(1)) if text[pos] == "'" else m.group(0)

    def _value(self) -> AV:
        text, pos = self.text, self.pos
        self.symbol = None
        if pos >= len(text):
            raise self.fail("a value is missing")
        c = text[pos]
        if c == "{":
            return self._lob() if text.startswith("{{", pos) else self._struct()
        if c == "[":
            return self._list()
        if c == '"' or text.startswith("'''", pos):
            return {"S": self._string()}
        if c == "'":
            return {"S": self._symbol_text() or ""}
        m = _IDENT.match(text, pos)
        if m is not None:
            return self._keyword(m)
        if c.isdigit() or (c in "-+" and text[pos + 1 : pos + 2].isdigit()):
            return self._number()
        raise self.fail(f"unexpected {c!r}")

    def _keyword(self, m: re.Match[str]) -> AV:
        word = m.group(0)
        self.pos = m.end()
        if word == "null":
            typed = _NULL_TYPE.match(self.text, self.pos)
            if typed is not None:
                self.pos = typed.end()
            return {"NULL": True}
        if word in ("true", "false"):
            return {"BOOL": word == "true"}
        if word == "nan":
            raise self.fail("nan is not a DynamoDB number")
        self.symbol = word
        return {"S": word}

    def _number(self) -> AV:
        m = _NUMBER_TOKEN.match(self.text, self.pos)
        assert m is not None
        token = m.group(0)
        self.pos = m.end()
        if _RADIX_INT.match(token):
            return {"N": str(int(token.replace("_", ""), 0))}
        if _INT.match(token) or _DECIMAL.match(token):
            return {"N": token.replace("_", "").replace("d", "e").replace("D", "e")}
        raise self.fail(f"{token!r} is not a number DynamoDB can hold (timestamps are not)")

    def _string(self) -> str:
        text = self.text
        m = _SHORT_STRING.match(text, self.pos)
        if m is not None:
            self.pos = m.end()
            return _unescape(m.group(1))
        parts = []
        while text.startswith("'''", self.pos):
            m = _LONG_STRING.match(text, self.pos)
            if m is None:
                raise self.fail("unterminated long string")
            parts.append(_unescape(m.group(1)))
            self.pos = m.end()
            mark = self.pos
            self.skip()
            if not text.startswith("'''", self.pos):
                self.pos = mark
        if not parts:
            raise self.fail("unterminated string")
        return "".join(parts)

    def _lob(self) -> AV:
        self.pos += 2
        self.skip()
        if self.text.startswith('"', self.pos) or self.text.startswith("'''", self.pos):
            data = self._string().encode("latin-1")  # a clob: its bytes as binary
        else:
            m = _BASE64.match(self.text, self.pos)
            assert m is not None
            self.pos = m.end()
            try:
                data = base64.b64decode("".join(m.group(0).split()), validate=True)
            except binascii.Error as exc:
                raise self.fail(f"bad blob: {exc}") from None
        self.skip()
        if not self.text.startswith("}}", self.pos):
            raise self.fail("a blob must end with }}")
        self.pos += 2
        return {"B": data}

    def _struct(self) -> AV:
        self.pos += 1
        fields: Item = {}
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return {"M": fields}
            if self.text.startswith('"', self.pos) or self.text.startswith("'''", self.pos):
                name = self._string()
            else:
                symbol = self._symbol_text()
                if symbol is None:
                    raise self.fail("a field name is missing")
                name = symbol
            self.skip()
            if not self.text.startswith(":", self.pos) or self.text.startswith("::", self.pos):
                raise self.fail("':' expected after a field name")
            self.pos += 1
            fields[name] = self.value()
            self._separator("}")

    def _list(self) -> AV:
        self.pos += 1
        values: list[AV] = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return {"L": values}
            values.append(self.value())
            self._separator("]")

    def _separator(self, close: str) -> None:
        self.skip()
        if self.text.startswith(",", self.pos):
            self.pos += 1
        elif not self.text.startswith(close, self.pos):
            raise self.fail(f"',' or '{close}' expected")


def _as_set(annotation: str, value: AV) -> AV:
    kind, member = _SETS[annotation]
    members = value.get("L")
    if members is None or not all(member in v for v in members):
        raise IonError(f"{annotation} must annotate a list of {member} values")
    return {kind: [v[member] for v in members]}
