"""S3 metadata without HTTP: versioning rules, key order, listing walks, conditions."""

from __future__ import annotations

import datetime

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.s3.conditions import check_copy_source, check_read, parse_range
from cloudlet.services.s3.listing import resume_point, walk
from cloudlet.services.s3.store import (
    _MARKER_CACHE,
    ROW_KEY,
    ROW_VERSION_ID,
    Bucket,
    ObjectVersion,
    S3Store,
    key_bytes,
    successor,
)
from cloudlet.state.db import open_database

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def store(tmp_path):
    s = S3Store(open_database(tmp_path, "s3"))
    s.insert_bucket(Bucket("bkt", "000000000000", "us-east-1", NOW))
    return s


def put(store, key, version_id="null", blob=None, marker=False):
    v = ObjectVersion(
        bucket="bkt",
        key=key,
        version_id=version_id,
        last_modified=NOW,
        owner="000000000000",
        delete_marker=marker,
        blob_id=blob,
        etag=None if marker else '"e"',
    )
    return store.put_version(v)


def test_null_version_replaces_null_and_reports_blob(store):
    put(store, "k", blob="b1")
    stored, dropped = put(store, "k", blob="b2")
    assert dropped == ["b1"]
    assert store.latest("bkt", "k").blob_id == "b2"
    assert store.referenced_blob_ids() == {"b2"}


def test_versions_stack_and_delete_promotes(store):
    put(store, "k", "v1", "b1")
    put(store, "k", "v2", "b2")
    assert store.latest("bkt", "k").version_id == "v2"
    assert store.version("bkt", "k", "v1").is_latest is False
    gone, dropped = store.delete_version("bkt", "k", "v2")
    assert gone.version_id == "v2" and dropped == ["b2"]
    assert store.latest("bkt", "k").version_id == "v1"
    assert store.latest("bkt", "k").is_latest
    assert store.delete_version("bkt", "k", "nope") == (None, [])


def test_the_cached_current_version_follows_every_change_and_no_rolled_back_one(store):
    assert store.latest("bkt", "k") is None  # an absent key is remembered too
    put(store, "k", blob="b1")
    assert store.latest("bkt", "k").blob_id == "b1"
    store.update_version(store.latest("bkt", "k"), storage_class="GLACIER")
    assert store.latest("bkt", "k").storage_class == "GLACIER"
    put(store, "k", "v2", "b2")
    assert store.latest("bkt", "k").version_id == "v2"
    store.delete_version("bkt", "k", "v2")
    assert store.latest("bkt", "k").blob_id == "b1"
    with pytest.raises(RuntimeError), store.transaction():
        put(store, "k", "v3", "b3")
        assert store.latest("bkt", "k").version_id == "v3"  # this transaction's view
        raise RuntimeError("rolled back")
    assert store.latest("bkt", "k").blob_id == "b1"


def test_bucket_empty_counts_delete_markers(store):
    assert store.bucket_is_empty("bkt")
    put(store, "k", "m1", marker=True)
    assert not store.bucket_is_empty("bkt")


def test_keys_sort_by_utf8_bytes(store):
    keys = ["é", "z", "a", "Z", "~", "a/b", "a-b", "😀", "\u00ff"]
    for k in keys:
        put(store, k)
    rows = list(store.scan_current("bkt", b"", True, None))
    assert [r[ROW_KEY].decode() for r in rows] == sorted(keys, key=lambda k: k.encode())


def test_successor():
    assert successor(b"a/") == b"a0"
    assert successor(b"ab\xff\xff") == b"ac"
    assert successor(b"\xff") is None
    assert successor(b"") is None


def test_walk_rolls_up_common_prefixes_with_one_seek_each(store):
    for i in range(50):
        put(store, f"logs/{i:03d}")
    put(store, "a")
    put(store, "z")
    opened = []

    def open_scan(start, inclusive):
        opened.append(start)
        return store.scan_current("bkt", start, inclusive, None)

    items = walk(open_scan, b"", b"/", b"", True, 10)
    assert [i if isinstance(i, bytes) else i[ROW_KEY] for i in items] == [b"a", b"logs/", b"z"]
    assert len(opened) == 2  # the start, and one jump past logs/


def test_resume_point():
    assert resume_point(b"photos/", b"", b"/") == (b"photos0", True)
    # A key under a common prefix resumes after the whole prefix (AWS-recorded
    # list-objects-manual-first-file); without the delimiter, after the key.
    assert resume_point(b"photos/x", b"", b"/") == (b"photos0", True)
    assert resume_point(b"photos/x", b"photos/", b"/") == (b"photos/x", False)
    assert resume_point(b"photos/", b"", None) == (b"photos/", False)


def test_key_bytes_round_trip():
    assert key_bytes("ü") == "ü".encode()


def test_parse_range():
    assert parse_range(None, 10) is None
    r = parse_range("bytes=2-4", 10)
    assert (r.start, r.end, r.content_range) == (2, 5, "bytes 2-4/10")
    assert parse_range("bytes=-3", 10).start == 7
    assert parse_range("bytes=8-", 10).end == 10
    assert parse_range("bytes=4-2", 10) is None
    assert parse_range("bytes=0-1,3-4", 10) is None
    for bad in ("bytes=10-", "bytes=-0"):
        with pytest.raises(ServiceError) as exc:
            parse_range(bad, 10)
        assert exc.value.status == 416
    with pytest.raises(ServiceError):
        parse_range("bytes=0-", 0)


def test_read_preconditions_precedence():
    lm = NOW
    earlier, later = lm - datetime.timedelta(days=1), lm + datetime.timedelta(days=1)
    check_read('"e"', lm, if_match='"e"', if_unmodified_since=earlier)
    check_read('"e"', lm, if_none_match='"x"', if_modified_since=later)
    for kwargs, status in (
        ({"if_match": '"x"'}, 412),
        ({"if_unmodified_since": earlier}, 412),
        ({"if_none_match": '"e"'}, 304),
        ({"if_modified_since": later}, 304),
        ({"if_modified_since": lm}, 304),
        ({"if_match": '"x"', "if_none_match": '"e"'}, 412),
    ):
        with pytest.raises(ServiceError) as exc:
            check_read('"e"', lm, **kwargs)
        assert exc.value.status == status, kwargs
    with pytest.raises(ServiceError) as exc:
        check_copy_source('"e"', lm, if_none_match='"e"')
    assert exc.value.status == 412


def test_expires_is_kept_as_text_and_old_epoch_rows_read_as_dates(store):
    """``Expires`` is stored as the bytes sent (a number-like ``0`` too, which the REAL
    column would otherwise turn into a number); a row written when it was kept as
    epoch seconds reads back as the HTTP date it was answered with then."""
    for key, text in (("zero", "0"), ("soon", "soon"), ("date", "Wed, 02 Jan 2030 03:04:05 GMT")):
        store.put_version(
            ObjectVersion(
                bucket="bkt",
                key=key,
                version_id="null",
                last_modified=NOW,
                owner="000000000000",
                expires=text,
            )
        )
    store.conn.execute("UPDATE objects SET expires = ? WHERE key = ?", (1893553445.0, b"date"))
    fresh = S3Store(store.conn)  # no cached versions
    assert fresh.latest("bkt", "zero").expires == "0"
    assert fresh.latest("bkt", "soon").expires == "soon"
    assert fresh.latest("bkt", "date").expires == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_a_page_end_keeps_its_place_once_its_version_is_deleted(store):
    """Version ids are random: where a deleted version stood is known only from the listing
    page that ended on it, and the key's older versions are those below its row id."""
    for v in ("v1", "v2", "v3", "v4"):
        put(store, "k", v)
    v3 = store.version_row_id("bkt", "k", "v3")
    assert v3 is not None and store.version_row_id("bkt", "k", "never") is None
    store.remember_page_end("bkt", b"k", "v3", v3)
    store.delete_version("bkt", "k", "v3")
    assert store.version_row_id("bkt", "k", "v3") == v3
    assert store.version_row_id("other", "k", "v3") is None
    older = store.scan_older_versions("bkt", b"k", v3)
    assert [r[ROW_VERSION_ID] for r in older] == ["v2", "v1"]


def test_page_ends_are_bounded(store):
    for i in range(_MARKER_CACHE + 1):
        store.remember_page_end("bkt", b"k", f"v{i}", i + 1)
    assert store.version_row_id("bkt", "k", "v0") is None  # the oldest note went first
    assert store.version_row_id("bkt", "k", f"v{_MARKER_CACHE}") == _MARKER_CACHE + 1
