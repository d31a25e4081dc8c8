"""S3 Select's input and output formats: bytes to records, result rows to bytes.

Why a module of its own: SelectObjectContent reads an object as CSV, JSON or Parquet,
optionally GZIP- or BZIP2-compressed, and writes its result as CSV or JSON, each with
S3's own options (the API reference's ``CSVInput``, ``JSONInput``, ``CSVOutput``,
``JSONOutput`` and ``ScanRange``). The SQL between the two is ``select_sql.py``'s;
the request, the event stream and the threads are ``select.py``'s. Everything here
is synchronous and streaming: records are produced from an iterator of byte chunks,
so memory holds a chunk and a record (at most 1 MiB, S3's ``maxCharsPerRecord``),
never the object.

What S3 documents and this follows:

- CSV: ``FileHeaderInfo`` (NONE, IGNORE, USE), ``Comments`` (default ``#``: a record
  starting with it is skipped), ``QuoteCharacter`` and ``QuoteEscapeCharacter``
  (default ``"``), ``FieldDelimiter`` (``,``), ``RecordDelimiter`` (``\\n``) and
  ``AllowQuotedRecordDelimiter`` (a delimiter inside quotes belongs to the field).
- JSON: ``LINES`` (a value a line) or ``DOCUMENT`` (whitespace-separated values, each
  a record, however many lines it spans). Numbers with a fraction or exponent are
  decimals, as S3 Select's Ion values are, so ``1.10`` comes back as ``1.10``.
- Parquet through pyarrow when it is importable (the object is read by ranges, as
  pyarrow asks for them).
- ``ScanRange``: a record is processed when its first byte is in the range; only
  ``End`` means the last ``End`` bytes. Uncompressed CSV (without quoted record
  delimiters) and JSON LINES only.

Judgement calls, where the documentation is silent: empty records are skipped (as
common CSV readers do); with the default ``\\n`` delimiter a record's trailing ``\\r``
is dropped, so Windows files read as their authors expect; a UTF-8 byte order mark
at the start is dropped; nested values in CSV output are written as JSON text.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring as _quoted  # JSON string, UTF-8 kept
from typing import Any

from cloudlet.services.s3.select_errors import MISSING, SelectError, fail

MAX_RECORD = 1 << 20
"""S3's ``maxCharsPerRecord``: 1 MB."""
RECORDS_PAYLOAD = (128 << 10) - 256
"""Bytes of result a Records event carries at most: what AWS's Java SDK buffers."""
BOM = b"\xef\xbb\xbf"


def not_compressed_as(kind: str) -> SelectError:
    return SelectError(
        "InvalidCompressionFormat",
        f"{kind} is not applicable to the queried object. Please correct the request and try "
        "again.",
    )


# -- counting and decompression ----------------------------------------------------------


@dataclass
class Progress:
    """What the Stats and Progress events report."""

    scanned: int = 0  # bytes read from the object (compressed)
    processed: int = 0  # bytes after decompression
    returned: int = 0  # bytes of Records payload sent


def counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.scanned += len(chunk)
        yield chunk


def decompressed(chunks: Iterable[bytes], compression: str, progress: Progress) -> Iterator[bytes]:
    """The object's bytes with its ``CompressionType`` undone (concatenated gzip members
    and bzip2 streams included), counted as processed."""
    if compression == "NONE":
        for chunk in chunks:
            progress.processed += len(chunk)
            yield chunk
        return
    make: Callable[[], Any]
    if compression == "GZIP":
        make = lambda: zlib.decompressobj(wbits=31)  # noqa: E731 - one line each
    else:
        make = bz2.BZ2Decompressor
    decoder, started = make(), False
    for chunk in chunks:
        while chunk:
            try:
                out = decoder.decompress(chunk)
            except (zlib.error, OSError, EOFError):
                raise (
                    fail("TruncatedInput") if started else not_compressed_as(compression)
                ) from None
            started = True
            if out:
                progress.processed += len(out)
                yield out
            chunk = decoder.unused_data if decoder.eof else b""
            if chunk:
                decoder = make()  # the next member or stream
    if started and not decoder.eof:
        raise fail("TruncatedInput")


# -- records -----------------------------------------------------------------------------


def split_records(
    chunks: Iterable[bytes], delimiter: bytes, quote: bytes | None = None, escape: bytes = b""
) -> Iterator[bytes]:
    """Records of at most ``MAX_RECORD`` bytes, split on ``delimiter``; with ``quote``,
    a delimiter between quotes (escaped quotes not counted) is part of its record."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk if rest else chunk
        if quote is None:
            parts = data.split(delimiter)
            rest = parts.pop()
            yield from parts
        else:
            rest = yield from _quoted_split(data, delimiter, quote, escape)
        if len(rest) > MAX_RECORD:
            raise fail("OverMaxRecordSize")
    if rest:
        yield rest


def _quoted_split(data: bytes, delimiter: bytes, quote: bytes, escape: bytes) -> Iterator[bytes]:
    """Yield the complete records of ``data``; return what is left."""
    start = search = 0
    while True:
        at = data.find(delimiter, search)
        if at < 0:
            return data[start:]
        piece = data[start:at]
        quotes = piece.count(quote) - (piece.count(escape + quote) if escape else 0)
        if quotes % 2:  # inside quotes: the delimiter is data
            search = at + len(delimiter)
            continue
        yield piece
        start = search = at + len(delimiter)


def ranged_records(
    chunks: Iterable[bytes], begin: int, first: int, last: int, delimiter: bytes
) -> Iterator[bytes]:
    """The records that start in ``[first, last]`` (byte offsets in the object) of the
    bytes read from ``begin``, which is ``len(delimiter)`` before ``first`` (or 0): a
    record starts at 0 or right after a delimiter."""
    records = split_records(chunks, delimiter)
    at = begin
    if first > 0:  # up to the first delimiter: the end of a record begun before the range
        skipped = next(records, None)
        if skipped is None:
            return
        at += len(skipped) + len(delimiter)
    for record in records:
        if at > last:
            return
        yield record
        at += len(record) + len(delimiter)


def text(record: bytes) -> str:
    try:
        return record.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("InvalidTextEncoding") from None


@dataclass(frozen=True)
class CsvInput:
    """``InputSerialization.CSV``, checked."""

    header: str = "NONE"
    comments: str = "#"
    quote: str = '"'
    escape: str = '"'
    field: str = ","
    record: str = "\n"
    quoted_records: bool = False

    @classmethod
    def of(cls, spec: dict[str, Any]) -> CsvInput:
        header = spec.get("FileHeaderInfo") or "NONE"
        if header.upper() not in ("NONE", "IGNORE", "USE"):
            raise fail("InvalidFileHeaderInfo")
        return cls(
            header=header.upper(),
            comments=_char(spec.get("Comments"), "#", allow_empty=True),
            quote=_char(spec.get("QuoteCharacter"), '"'),
            escape=_char(spec.get("QuoteEscapeCharacter"), '"'),
            field=_char(spec.get("FieldDelimiter"), ","),
            record=_delimiter(spec.get("RecordDelimiter")),
            quoted_records=bool(spec.get("AllowQuotedRecordDelimiter")),
        )

    def fields(self) -> Callable[[str], list[str]]:
        """The function that splits one record into its fields."""
        quote, field = self.quote, self.field
        escape = None if self.escape == quote else self.escape
        options = {"delimiter": field, "quotechar": quote, "escapechar": escape}
        crlf = self.record == "\n"

        def split(line: str) -> list[str]:
            if crlf and line.endswith("\r"):
                line = line[:-1]
            if quote not in line and (escape is None or escape not in line):
                return line.split(field)
            try:
                return next(csv.reader((line,), **options))
            except (csv.Error, StopIteration):
                raise fail("CSVParsingError") from None

        return split


def _char(value: str | None, default: str, *, allow_empty: bool = False) -> str:
    if value is None:
        return default
    if len(value) == 1 or (allow_empty and value == ""):
        return value
    raise fail("InvalidRequestParameter")


def _delimiter(value: str | None) -> str:
    if value is None:
        return "\n"
    if 1 <= len(value) <= 2:  # "\r\n" is a delimiter of two
        return value
    raise fail("InvalidRequestParameter")


def csv_records(
    lines: Iterator[bytes], spec: CsvInput, header_line: bytes | None = None
) -> tuple[list[str] | None, Iterator[list[str]]]:
    """The header names (USE) and the records of CSV ``lines`` (split records).

    ``header_line``: the object's first record when a scan range starts past it.
    """
    split = spec.fields()
    comment = spec.comments.encode("utf-8") if spec.comments else None

    def data(source: Iterator[bytes]) -> Iterator[bytes]:
        for line in source:
            if line and not (comment and line.startswith(comment)) and line != b"\r":
                yield line

    rows = data(lines)
    columns = None
    if spec.header != "NONE":
        first = header_line if header_line is not None else next(rows, None)
        if first is not None and spec.header == "USE":
            columns = split(text(first.removeprefix(BOM)))
    return columns, (split(text(line)) for line in rows)


def json_lines(lines: Iterator[bytes]) -> Iterator[Any]:
    decode = json.JSONDecoder(parse_float=Decimal).decode
    for line in lines:
        if line.strip():
            try:
                yield decode(text(line))
            except json.JSONDecodeError:
                raise fail("JSONParsingError") from None


def json_document(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Each whitespace-separated JSON value of a DOCUMENT, read as the bytes arrive."""
    decode = json.JSONDecoder(parse_float=Decimal).raw_decode
    decoder = _Utf8()
    buffer, at, ended = "", 0, False
    source = iter(chunks)
    while True:
        while at < len(buffer) and buffer[at] in " \t\r\n":
            at += 1
        if at >= len(buffer) and ended:
            return
        try:
            if at >= len(buffer):
                raise json.JSONDecodeError("more", buffer, at)
            value, end = decode(buffer, at)
        except json.JSONDecodeError:
            if ended:
                raise fail("JSONParsingError") from None
            if len(buffer) - at > MAX_RECORD:
                raise fail("OverMaxRecordSize") from None
            chunk = next(source, None)
            ended = chunk is None
            buffer = buffer[at:] + decoder.decode(chunk or b"", final=ended)
            at = 0
            continue
        yield value
        at = end


class _Utf8:
    """An incremental UTF-8 decoder that answers S3's error for bad bytes."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._first = True

    def decode(self, data: bytes, final: bool = False) -> str:
        if self._first and data:
            data, self._first = data.removeprefix(BOM), False
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise fail("InvalidTextEncoding") from None


def parquet_records(source: Any) -> Iterator[dict[str, Any]]:
    """The rows of a Parquet object; ``source`` is a seekable binary file."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
    except Exception:  # noqa: BLE001 - pyarrow's errors for what is not Parquet vary
        raise fail("UnrecognizedFormatException") from None
    for batch in parquet.iter_batches(batch_size=1024):
        yield from batch.to_pylist()


# -- output ------------------------------------------------------------------------------


def _scalar_text(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (datetime, date)):
        return _timestamp(value)
    if isinstance(value, (dict, list)):
        return json_value(value)
    return str(value)


def _timestamp(value: date) -> str:
    if isinstance(value, datetime) and value.utcoffset() is not None and not value.utcoffset():
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def json_value(value: Any) -> str:
    """A value as JSON text: decimals as written, timestamps as strings."""
    if isinstance(value, str):
        return _quoted(value)
    if value is None or value is MISSING:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        finite = value == value and abs(value) != float("inf")
        return repr(value) if finite else _quoted(str(value))
    if isinstance(value, dict):
        inner = ",".join(
            f"{_quoted(str(k))}:{json_value(v)}" for k, v in value.items() if v is not MISSING
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_value(v) for v in value) + "]"
    if isinstance(value, (datetime, date)):
        return _quoted(_timestamp(value))
    return _quoted(str(value))


def csv_writer(spec: dict[str, Any]) -> Callable[[list[tuple[str, Any]]], str]:
    """``OutputSerialization.CSV``: one row to its text, delimiter included."""
    quote_fields = (spec.get("QuoteFields") or "ASNEEDED").upper()
    if quote_fields not in ("ALWAYS", "ASNEEDED"):
        raise fail("InvalidQuoteFields")
    quote = _char(spec.get("QuoteCharacter"), '"')
    escape = _char(spec.get("QuoteEscapeCharacter"), '"')
    field = _char(spec.get("FieldDelimiter"), ",")
    record = _delimiter(spec.get("RecordDelimiter"))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=field,
        quotechar=quote,
        escapechar=None if escape == quote else escape,
        doublequote=escape == quote,
        quoting=csv.QUOTE_ALL if quote_fields == "ALWAYS" else csv.QUOTE_MINIMAL,
        lineterminator=record,
    )

    def write(row: list[tuple[str, Any]]) -> str:
        writer.writerow([_scalar_text(value) for _, value in row])
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    return write


def json_writer(spec: dict[str, Any]) -> Callable[[list[tuple[str, Any]]], str]:
    """``OutputSerialization.JSON``: one row as an object, fields that are MISSING
    left out, then the ``RecordDelimiter`` (default a newline)."""
    delimiter = spec.get("RecordDelimiter")
    delimiter = "\n" if delimiter is None else _delimiter(delimiter)

    keys: dict[str, str] = {}  # each output name's '"name":', made once

    def key(name: str) -> str:
        made = keys.get(name)
        if made is None:
            made = keys[name] = _quoted(name) + ":"
        return made

    def write(row: list[tuple[str, Any]]) -> str:
        inner = ",".join(
            key(name) + json_value(value) for name, value in row if value is not MISSING
        )
        return "{" + inner + "}" + delimiter

    return write
