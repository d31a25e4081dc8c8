"""The Logs store without HTTP: a PutLogEvents batch is one transaction, group
scans page by cursor in time order, and retention fixes the streams' figures."""

from __future__ import annotations

from pathlib import Path

from cloudlet.services.logs.store import Store
from cloudlet.state.db import open_database


def _store(tmp_path: Path) -> tuple[Store, dict]:
    store = Store(open_database(tmp_path, "logs"))
    store.create_group("000000000000", "us-east-1", "/g", 0)
    group = store.group("000000000000", "us-east-1", "/g")
    assert group is not None
    store.create_stream(group["id"], "s", 0)
    stream = store.stream(group["id"], "s")
    assert stream is not None
    return store, stream


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    store, stream = _store(tmp_path)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    ids = store.append(stream, [(i, f"m{i}", None) for i in range(1000)], 5)
    store.conn.set_trace_callback(None)
    assert len(ids) == 1000
    assert [s for s in statements if s in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    after = store.stream(stream["gid"], "s")
    assert after is not None
    assert (after["first_ts"], after["last_ts"], after["last_ingest"]) == (0, 999, 5)
    assert after["bytes"] == sum(len(f"m{i}") for i in range(1000))


def test_scan_pages_by_cursor_in_time_order(tmp_path: Path) -> None:
    store, stream = _store(tmp_path)
    store.append(stream, [(5, "b", None), (5, "c", None), (9, "d", None)], 1)
    store.append(stream, [(1, "a", None)], 1)
    rows = list(store.scan(stream["gid"], None, None, None, None, chunk=2))
    assert [r[4] for r in rows] == ["a", "b", "c", "d"]
    cursor = (rows[1][2], rows[1][0])
    assert [r[4] for r in store.scan(stream["gid"], None, cursor, None, 5, chunk=1)] == ["c"]
    page = store.stream_page(stream["id"], None, (9, rows[3][0]), None, None, 2, True)
    assert [r[3] for r in page] == ["b", "c"]


def test_expire_deletes_old_events_and_fixes_streams(tmp_path: Path) -> None:
    store, stream = _store(tmp_path)
    store.append(stream, [(1, "old", None), (2, "older?", None), (10, "new", None)], 1)
    assert store.expire(stream["gid"], 5) == 2
    after = store.stream(stream["gid"], "s")
    assert after is not None and (after["first_ts"], after["bytes"]) == (10, 3)
    assert store.group_bytes(stream["gid"]) == 3
