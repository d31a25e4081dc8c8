"""HTTP preconditions and byte ranges, with the precedence rules S3 applies.

Pure functions of an object's ETag/Last-Modified/size and the request's
headers, so the rules (which are subtle, and unit-tested) live apart from the
handlers that use them.

Reads (GetObject/HeadObject), RFC 7232 as S3 applies it:

1. ``If-Match`` false → 412. If it is true, ``If-Unmodified-Since`` is not
   consulted; without ``If-Match``, ``If-Unmodified-Since`` false → 412.
2. ``If-None-Match`` false (the ETag matches) → 304. If it is true,
   ``If-Modified-Since`` is not consulted; without ``If-None-Match``,
   ``If-Modified-Since`` false (not modified) → 304.

An ``If-Modified-Since`` later than now is ignored, by reads and copies alike
(LocalStack's AWS-recorded ``obj-ignore-future-modified-since`` and
``copy-ignore-future-modified-since``): no object can be unmodified since a time
that has not come.

Copies (``x-amz-copy-source-if-*``) follow the same pairing, but every
failure is 412. Writes (``If-Match``/``If-None-Match: *`` on PutObject) are
checked when the upload completes, against the then-current object; S3 takes
only ``*`` as ``If-None-Match``, never ``*`` as a write's ``If-Match``, and never
both headers on one write (501 ``NotImplemented`` each, naming the header).

Directory buckets add two (``directory_objects.py``, ``rename.py``): a DeleteObject
may hold only if the object's Last-Modified and size are the ones named
(``x-amz-if-match-last-modified-time``, ``x-amz-if-match-size``; an object that is
not there is deleted, as the reference says), and RenameObject takes a copy
source's four conditions on its source (``x-amz-rename-source-if-*``) and four on
the key it replaces (``check_rename_destination``); every failure of a rename is
412, named by the plain header, as S3 names a source's failed ``If-Match`` (AWS's
client tests run against S3 Express: awslabs/mountpoint-s3's ``rename_object.rs``).

Ranges: ``bytes=a-b``, ``bytes=a-``, ``bytes=-n``. A header S3 cannot parse
(or a list of ranges) is ignored and the whole object is sent, as S3 does; a
well-formed range that starts past the end is 416 ``InvalidRange``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from cloudlet.core.clock import clock
from cloudlet.services.s3 import errors

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


def unquote_etag(etag: str) -> str:
    """The bare ETag: S3 takes it quoted, unquoted, or with one of its quotes left off
    (moto's AWS-verified ``test_put_object_if_match``)."""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.removeprefix('"').removesuffix('"')


def etag_matches(header: str, etag: str | None) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``etag`` (or is ``*``)."""
    if etag is None:
        return False
    bare = unquote_etag(etag)
    for item in header.split(","):
        item = item.strip()
        if item == "*" or unquote_etag(item) == bare:
            return True
    return False


def seconds(value: datetime) -> int:
    """HTTP dates have whole seconds: compare times at that precision."""
    return int(value.timestamp())


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int
    """Exclusive."""
    size: int
    """The whole object's size."""

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range a ``Range`` header asks of an object of ``size`` bytes.

    None means "send the whole object" (no header, or one S3 ignores);
    ``InvalidRange`` (416) when it cannot be satisfied.
    """
    if not header:
        return None
    m = _RANGE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise errors.invalid_range(header, size)
        return ByteRange(max(0, size - suffix), size, size)
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first: syntactically invalid, ignored
    if start >= size:
        raise errors.invalid_range(header, size)
    return ByteRange(start, min(end, size), size)


def check_read(
    etag: str | None,
    last_modified: datetime,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
) -> None:
    """Raise 412 ``PreconditionFailed`` or 304 ``NotModified`` as S3 would for a read."""
    _check(
        etag,
        last_modified,
        "",
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
        copy=False,
    )


def check_copy_source(
    etag: str | None,
    last_modified: datetime,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
) -> None:
    """The ``x-amz-copy-source-if-*`` rules: like a read, but every failure is 412."""
    _check(
        etag,
        last_modified,
        "x-amz-copy-source-",
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
        copy=True,
    )


def _check(
    etag: str | None,
    last_modified: datetime,
    prefix: str,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: datetime | None,
    if_unmodified_since: datetime | None,
    *,
    copy: bool,
) -> None:
    # S3's precedence: If-Match beats If-Unmodified-Since, If-None-Match beats
    # If-Modified-Since. A read answers 304 where a copy source answers 412.
    modified = seconds(last_modified)
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise errors.precondition_failed(f"{prefix}If-Match")
    elif if_unmodified_since is not None and modified > seconds(if_unmodified_since):
        raise errors.precondition_failed(f"{prefix}If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            if copy:
                raise errors.precondition_failed(f"{prefix}If-None-Match")
            raise _not_modified(etag, last_modified)
    elif if_modified_since is not None and _not_modified_since(modified, if_modified_since):
        if copy:
            raise errors.precondition_failed(f"{prefix}If-Modified-Since")
        raise _not_modified(etag, last_modified)


def _not_modified_since(modified: int, since: datetime) -> bool:
    """Whether ``If-Modified-Since`` fails: not modified since a time that is not in
    the future (a future one is ignored, as S3 ignores it). "Now" is on the scale of
    the stored times, which are rounded up to the second (``now`` in ``common.py``):
    the current second's end, so a Last-Modified (or a second after it, once that
    second has begun: ceph/s3-tests' ``get_object_ifmodifiedsince_failed``) is no
    future time."""
    limit = seconds(since)
    return modified <= limit <= math.ceil(clock.time())


def check_rename_source(
    etag: str | None,
    last_modified: datetime,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
) -> None:
    """RenameObject's ``x-amz-rename-source-if-*``: a copy source's rules (``*`` as
    ``If-None-Match`` always fails), each failure named by its plain header."""
    _check(
        etag,
        last_modified,
        "",
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
        copy=True,
    )


def check_rename_destination(
    current: tuple[str | None, datetime] | None,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
) -> None:
    """RenameObject's ``If-*`` against the object it would replace, ``current`` (its ETag
    and Last-Modified, None when there is none). ``If-Match`` first (S3 names it when
    ``If-None-Match: *`` fails too); ``If-Match`` and ``If-Modified-Since`` need an
    object to hold ("if the destination exists"); each pairs with its partner as a
    read's does."""
    etag, modified = current if current is not None else (None, None)
    if if_match is not None and (current is None or not etag_matches(if_match, etag)):
        raise errors.precondition_failed("If-Match")
    if if_none_match is not None and current is not None:
        if if_none_match.strip() == "*" or etag_matches(if_none_match, etag):
            raise errors.precondition_failed("If-None-Match")
    if if_match is None and if_unmodified_since is not None and modified is not None:
        if seconds(modified) > seconds(if_unmodified_since):
            raise errors.precondition_failed("If-Unmodified-Since")
    if if_none_match is None and if_modified_since is not None:
        if modified is None or _not_modified_since(seconds(modified), if_modified_since):
            raise errors.precondition_failed("If-Modified-Since")


def check_delete_match(
    last_modified: datetime,
    size: int,
    *,
    if_match_last_modified_time: datetime | None = None,
    if_match_size: int | None = None,
) -> None:
    """A directory bucket's DeleteObject conditions on the object there: its
    Last-Modified (to the second) and its size must be the ones named, else 412."""
    if if_match_last_modified_time is not None:
        if seconds(last_modified) != seconds(if_match_last_modified_time):
            raise errors.precondition_failed("x-amz-if-match-last-modified-time")
    if if_match_size is not None and size != if_match_size:
        raise errors.precondition_failed("x-amz-if-match-size")


def check_write(
    current_etag: str | None,
    *,
    exists: bool,
    key: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
    write: bool = True,
) -> None:
    """Conditional writes: ``If-None-Match: *`` and ``If-Match: <etag>``.

    ``exists`` says whether the key has a current object (a delete marker
    does not count). ``write``: the values S3 refuses on a write are refused
    (a delete's ``If-Match`` may be ``*``).
    """
    if write:
        check_write_headers(if_match, if_none_match)
    if if_none_match is not None and exists:
        raise errors.precondition_failed("If-None-Match")
    if if_match is not None:
        if not exists:
            raise errors.no_such_key(key)
        if not etag_matches(if_match, current_etag):
            raise errors.precondition_failed("If-Match")


def check_write_headers(if_match: str | None, if_none_match: str | None) -> None:
    """The conditional-write values S3 does not implement (AWS-recorded LocalStack
    snapshots ``put-obj-both-precondition``, ``put-obj-if-none-match-bad-value`` and
    ``put-obj-if-match-star-value``): 501 naming the header."""
    if if_match is not None and if_none_match is not None:
        raise errors.header_not_implemented(
            "If-Match,If-None-Match", "Multiple conditional request headers present in the request"
        )
    if if_none_match is not None and if_none_match.strip() != "*":
        raise errors.header_not_implemented("If-None-Match", _unaccepted("If-None-Match"))
    if if_match is not None and if_match.strip() == "*":
        raise errors.header_not_implemented("If-Match", _unaccepted("If-Match"))


def _unaccepted(header: str) -> str:
    return f"We don't accept the provided value of {header} header for this API"


def _not_modified(etag: str | None, last_modified: datetime) -> Exception:
    err = errors.not_modified()
    if etag:
        err.headers["ETag"] = etag
    err.headers["Last-Modified"] = last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return err
