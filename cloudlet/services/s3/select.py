"""S3 Select (SelectObjectContent): SQL over one object's records, answered as it runs.

Why: S3 Select lets a client fetch the rows of a CSV, JSON or Parquet object that
match a ``WHERE`` instead of the whole object (pandas' and awswrangler's
``select_query``, Athena-less data lakes, log filtering). The answer is an event
stream (``Records`` events carrying result bytes, ``Progress`` when asked, a
``Cont`` each second nothing else is sent, then ``Stats`` and ``End``), so a query
over a large object answers while it reads.

How: the request is checked (``ExpressionType`` SQL, one input and one output
format, the CSV/JSON options, ``ScanRange``), the object found as GetObject finds
it (SSE-C keys, archived objects refused), and the SQL compiled (``select_sql.py``)
before anything is read. The reading, decompressing, parsing (``select_io.py``),
querying and writing are synchronous work, so they run in a thread of their own
that reads the object through the event loop and hands result chunks back through
a bounded queue: the loop stays free for other requests and memory holds a few
chunks whatever the object's size. A failure met in the first second answers as an
ordinary S3 error (400 and the code); one met later ends the stream with an error
message, as S3 does.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.protocols.eventstream import StreamError
from cloudlet.services.s3 import encryption, errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.inventory import parquet_available
from cloudlet.services.s3.restore import check_readable
from cloudlet.services.s3.select_errors import SelectError, fail
from cloudlet.services.s3.select_io import (
    MAX_RECORD,
    RECORDS_PAYLOAD,
    CsvInput,
    Progress,
    counted,
    csv_records,
    csv_writer,
    decompressed,
    json_document,
    json_lines,
    json_writer,
    parquet_records,
    ranged_records,
    split_records,
)
from cloudlet.services.s3.select_sql import compile_query
from cloudlet.services.s3.store import ObjectVersion
from cloudlet.services.s3.tiering import CLASS as INTELLIGENT_TIERING

log = logging.getLogger(__name__)

FIRST_WAIT = 1.0
"""Seconds a request waits for its first result before the response begins: a
failure before then is an ordinary error response."""
CONT_EVERY = 1.0
"""Seconds without a message after which a ``Cont`` (and, when asked, a ``Progress``)
is sent, keeping the connection alive as S3 does."""
FLUSH_EVERY = 0.5
"""Seconds a partial Records payload waits for more rows before it is sent."""
READ_CHUNK = 256 * 1024
"""Bytes read from the object at a time: a LIMIT or a scan range stops reading soon."""
_COMPRESSIONS = ("NONE", "GZIP", "BZIP2")


def _error(error: SelectError) -> ServiceError:
    return errors.s3_error(error.code, error.message, error.status)


def _one_format(spec: dict[str, Any], names: tuple[str, ...]) -> str:
    given = [name for name in names if spec.get(name) is not None]
    if not given:
        raise fail("MissingRequiredParameter")
    if len(given) > 1:
        raise fail("ObjectSerializationConflict")
    return given[0]


class SelectRequest:
    """A SelectObjectContent request, checked as S3 checks it."""

    def __init__(self, params: dict[str, Any]) -> None:
        expression = params.get("Expression")
        source = params.get("InputSerialization")
        target = params.get("OutputSerialization")
        if not expression or source is None or target is None:
            raise fail("MissingRequiredParameter")
        if (params.get("ExpressionType") or "").upper() != "SQL":
            raise fail("InvalidExpressionType")
        self.format = _one_format(source, ("CSV", "JSON", "Parquet"))
        self.compression = (source.get("CompressionType") or "NONE").upper()
        if self.compression not in _COMPRESSIONS:
            raise fail("InvalidCompressionFormat")
        self.csv = CsvInput.of(source["CSV"]) if self.format == "CSV" else None
        self.json_type = "DOCUMENT"
        if self.format == "JSON":
            self.json_type = (source["JSON"].get("Type") or "DOCUMENT").upper()
            if self.json_type not in ("DOCUMENT", "LINES"):
                raise fail("InvalidJsonType")
        if self.format == "Parquet":
            if not parquet_available():
                raise errors.s3_error(
                    "NotImplemented",
                    "Parquet input needs pyarrow, which this server cannot import.",
                    501,
                )
            if self.compression != "NONE":
                raise SelectError(
                    "InvalidCompressionFormat",
                    "The file is not in a supported compression format. Parquet objects are "
                    "compressed by column, not as a whole.",
                )
        output = _one_format(target, ("CSV", "JSON"))
        self.write: Callable[[list[tuple[str, Any]]], str] = (
            csv_writer(target["CSV"]) if output == "CSV" else json_writer(target["JSON"])
        )
        self.progress = bool((params.get("RequestProgress") or {}).get("Enabled"))
        self.scan = params.get("ScanRange")
        if self.scan is not None and not self._scannable():
            raise fail("UnsupportedScanRangeInput")
        header = self.csv is not None and self.csv.header == "USE"
        self.query = compile_query(expression, self.format, header=header)

    def _scannable(self) -> bool:
        if self.compression != "NONE":
            return False
        if self.csv is not None:
            return not self.csv.quoted_records
        return self.format == "JSON" and self.json_type == "LINES"

    def window(self, size: int) -> tuple[int, int] | None:
        """The scan range as first and last byte, inclusive (None: the whole object)."""
        if self.scan is None:
            return None
        start, end = self.scan.get("Start"), self.scan.get("End")
        if (start is not None and start < 0) or (end is not None and end < 0):
            raise fail("InvalidRequestParameter")
        if start is None and end is None:
            raise fail("InvalidRequestParameter")
        if start is None:  # the last ``End`` bytes
            return max(0, size - end), size - 1
        last = size - 1 if end is None else min(end, size - 1)
        if end is not None and start > end:
            raise fail("InvalidRequestParameter")
        return start, last

    @property
    def delimiter(self) -> bytes:
        return self.csv.record.encode("utf-8") if self.csv is not None else b"\n"


class SelectHandlers:
    """SelectObjectContent."""

    async def select_object_content(self, ctx: Any, params: dict[str, Any]) -> Result:
        principal = getattr(ctx, "principal", None)
        if principal is not None and principal.kind == "anonymous":
            # "Amazon S3 Select does not support anonymous access." (the API reference)
            raise errors.s3_error("AccessDenied", "Access Denied", 403)
        bucket = self._bucket(params["Bucket"])  # type: ignore[attr-defined]
        version: ObjectVersion = self._find(  # type: ignore[attr-defined]
            bucket, params["Key"], None, "GET"
        )
        encryption.check_read(version.extra.get("sse"), params)
        check_readable(version)
        try:
            request = SelectRequest(params)
            window = request.window(version.size)
        except SelectError as error:
            raise _error(error) from None
        if version.storage_class == INTELLIGENT_TIERING:  # a read is an access (tiering.py)
            self._note_access(version)  # type: ignore[attr-defined]
        run = _Run(self.blobs, version, request, window)  # type: ignore[attr-defined]
        first = await run.first()
        self._select_figures[ctx.request_id] = run.stats  # type: ignore[attr-defined]
        return {"Payload": run.events(first)}


class _Cancelled(Exception):
    """The response is gone: the query thread stops."""


class _Run:
    """One query: a thread doing the work, the loop sending its results."""

    def __init__(
        self, blobs: Any, version: ObjectVersion, request: SelectRequest, window: Any
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=4)
        self.cancelled = False
        self.blobs = blobs
        self.blob_id = version.blob_id or ""
        self.size = version.size
        self.request = request
        self.window = window
        self.stats = Progress()
        threading.Thread(target=self._work, name="s3-select", daemon=True).start()

    # -- the loop's side ----------------------------------------------------------------

    async def first(self) -> tuple[str, Any] | None:
        """The first result, or None when none came within ``FIRST_WAIT``; an early
        failure is raised as S3's error."""
        try:
            item = await asyncio.wait_for(self.queue.get(), FIRST_WAIT)
        except TimeoutError:
            return None
        if item[0] == "error":
            self.cancelled = True
            raise _error(item[1])
        return item

    async def events(self, item: tuple[str, Any] | None) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                if item is None:
                    yield {"Cont": {}}
                    if self.request.progress:
                        yield {"Progress": {"Details": self._details()}}
                else:
                    kind, value = item
                    if kind == "records":
                        self.stats.returned += len(value)
                        yield {"Records": {"Payload": value}}
                    elif kind == "error":
                        raise StreamError(value.code, value.message)
                    else:
                        if self.request.progress:
                            yield {"Progress": {"Details": self._details()}}
                        yield {"Stats": {"Details": self._details()}}
                        yield {"End": {}}
                        return
                try:
                    item = await asyncio.wait_for(self.queue.get(), CONT_EVERY)
                except TimeoutError:
                    item = None
        finally:
            self._cancel()

    def _details(self) -> dict[str, int]:
        return {
            "BytesScanned": self.stats.scanned,
            "BytesProcessed": self.stats.processed,
            "BytesReturned": self.stats.returned,
        }

    def _cancel(self) -> None:
        self.cancelled = True
        while not self.queue.empty():  # frees a thread blocked on a full queue
            self.queue.get_nowait()

    # -- the thread's side --------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coroutine`` on the loop and wait for it (from the thread)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        while True:
            try:
                return future.result(timeout=1.0)
            except TimeoutError:
                if self.cancelled or self.loop.is_closed():
                    future.cancel()
                    raise _Cancelled from None

    def _put(self, item: tuple[str, Any]) -> None:
        if self.cancelled:
            raise _Cancelled
        self._call(self.queue.put(item))

    def _chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        reader = self.blobs.reader(self.blob_id, start, end, chunk_size=READ_CHUNK)
        try:
            while True:
                try:
                    yield self._call(reader.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            reader.close()

    def _work(self) -> None:
        try:
            self._results()
            self._put(("end", None))
        except _Cancelled:
            pass
        except SelectError as error:
            self._fail(error)
        except Exception:  # noqa: BLE001 - the stream must end with an answer, never hang
            log.exception("s3 select failed")
            self._fail(SelectError("InternalError", "We encountered an internal error.", 500))

    def _fail(self, error: SelectError) -> None:
        try:
            self._put(("error", error))
        except _Cancelled:
            pass

    def _results(self) -> None:
        request, write = self.request, self.request.write
        pending = bytearray()
        flushed = time.monotonic()
        for row in request.query.run(*self._records()):
            line = write(row).encode("utf-8")
            if len(line) > MAX_RECORD:
                raise fail("OverMaxRecordSize")
            pending += line
            if len(pending) >= RECORDS_PAYLOAD or time.monotonic() - flushed > FLUSH_EVERY:
                while len(pending) >= RECORDS_PAYLOAD:
                    self._put(("records", bytes(pending[:RECORDS_PAYLOAD])))
                    del pending[:RECORDS_PAYLOAD]
                if pending:
                    self._put(("records", bytes(pending)))
                    pending.clear()
                flushed = time.monotonic()
        if pending:
            self._put(("records", bytes(pending)))

    def _records(self) -> tuple[Iterator[Any], list[str] | None]:
        """The records the query reads, and the CSV header names (USE)."""
        request, stats = self.request, self.stats
        if request.format == "Parquet":
            stats.scanned = stats.processed = self.size
            return parquet_records(_BlobFile(self, self.size)), None
        if self.window is not None:
            lines, header = self._ranged(*self.window)
        else:
            data = decompressed(counted(self._chunks(), stats), request.compression, stats)
            if request.format == "JSON" and request.json_type == "DOCUMENT":
                return json_document(data), None
            csv_spec = request.csv
            quote = None
            if csv_spec is not None and csv_spec.quoted_records:
                quote = csv_spec.quote.encode("utf-8")
                escape = b"" if csv_spec.escape == csv_spec.quote else csv_spec.escape.encode()
                lines = split_records(data, request.delimiter, quote, escape)
            else:
                lines = split_records(data, request.delimiter)
            header = None
        if request.csv is None:
            return json_lines(lines), None
        columns, records = csv_records(lines, request.csv, header)
        return records, columns

    def _ranged(self, first: int, last: int) -> tuple[Iterator[bytes], bytes | None]:
        """The records that start in ``[first, last]``, and the object's first record
        when the range starts past it (a CSV header)."""
        request = self.request
        delimiter = request.delimiter
        header = None
        if first > 0 and request.csv is not None and request.csv.header != "NONE":
            head = split_records(self._chunks(0, min(self.size, MAX_RECORD + 1)), delimiter)
            header = next(head, b"")
            head.close()
        begin = max(0, first - len(delimiter))
        # The record starting at ``last`` may run on for up to MAX_RECORD bytes.
        end = min(self.size, last + 1 + MAX_RECORD + len(delimiter))
        data = decompressed(counted(self._chunks(begin, end), self.stats), "NONE", self.stats)
        return ranged_records(data, begin, first, last, delimiter), header


class _BlobFile(io.RawIOBase):
    """A seekable file over the object, for pyarrow (reads go through the loop)."""

    def __init__(self, run: _Run, size: int) -> None:
        super().__init__()
        self._run = run
        self._size = size
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: Any) -> int:
        end = min(self._size, self._at + len(buffer))
        if end <= self._at:
            return 0
        data = self._run._call(self._run.blobs.read_all(self._run.blob_id, self._at, end))
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)
