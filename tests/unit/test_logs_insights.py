"""Logs Insights queries parsed and run over records in plain Python: each
command, aggregation, JSON field discovery, and MalformedQueryException."""

from __future__ import annotations

import json

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.logs.insights import flatten, parse_query, record, show

BASE = 1_700_000_400_000  # a 10-minute boundary


def _records() -> list[dict]:
    out = []
    for i in range(12):
        doc = {"status": 500 if i % 4 == 0 else 200, "ms": i, "user": {"id": f"u{i % 3}"}}
        out.append(record(BASE + i * 60_000, BASE, json.dumps(doc), f"s{i % 2}", "0:g", f"p{i}"))
    out.append(record(BASE + 12 * 60_000, BASE, "user=zed op=login", "s0", "0:g", "p12"))
    return out


def _run(query: str, limit: int = 1000) -> tuple[list[dict], dict]:
    stats = {"recordsScanned": 0, "bytesScanned": 0, "recordsMatched": 0}
    rows = parse_query(query).run(_records(), limit, stats)
    return [{k: show(v) for k, v in r.items()} for r in rows], stats


def test_default_fields_and_filter() -> None:
    rows, stats = _run("filter status = 500")
    assert [r["@ptr"] for r in rows] == ["p0", "p4", "p8"]
    assert set(rows[0]) == {"@timestamp", "@message", "@ptr"}
    assert rows[0]["@timestamp"] == "2023-11-14 22:20:00.000"
    assert stats["recordsMatched"] == 3 and stats["recordsScanned"] == 13


def test_stats_by_field_sort_limit() -> None:
    rows, _ = _run("stats count(*) as n, sum(ms) as total by user.id | sort total desc | limit 2")
    assert rows == [
        {"user.id": "u2", "n": "4", "total": "26"},
        {"user.id": "u1", "n": "4", "total": "22"},
    ]


def test_stats_by_bin_and_aggregates() -> None:
    rows, _ = _run(
        "filter ispresent(ms) | stats avg(ms), min(ms), max(ms), count_distinct(user.id) by bin(5m)"
    )
    assert [r["bin(5m)"] for r in rows] == [
        "2023-11-14 22:20:00.000",
        "2023-11-14 22:25:00.000",
        "2023-11-14 22:30:00.000",
    ]
    assert rows[0]["avg(ms)"] == "2" and rows[0]["min(ms)"] == "0" and rows[2]["max(ms)"] == "11"
    assert rows[0]["count_distinct(user.id)"] == "3"


def test_expressions_like_regex_in_not() -> None:
    assert len(_run("filter @message like /u1/")[0]) == 4
    assert len(_run('filter @message like "zed"')[0]) == 1
    assert len(_run("filter @message =~ /^user=/")[0]) == 1
    assert len(_run("filter user.id in ['u0', 'u1'] and not status = 500")[0]) == 6
    assert len(_run("filter ms * 2 >= 20 or ms < 1")[0]) == 3
    assert len(_run("filter @message not like /u0/ and ispresent(ms)")[0]) == 8


def test_parse_glob_and_regex_and_display() -> None:
    assert _run('parse @message "user=* op=*" as who, op | filter ispresent(op) | display who, op')[
        0
    ] == [{"who": "zed", "op": "login"}]
    rows, _ = _run(r'parse @message /"ms": (?<n>\d+)/ | filter n > 9 | display n')
    assert rows == [{"n": "10"}, {"n": "11"}]


def test_fields_expressions_and_dedup() -> None:
    rows, _ = _run("fields ms + 1 as next, toupper(user.id) as u | sort next desc | limit 1")
    assert rows == [{"next": "12", "u": "U2", "@ptr": "p11"}]
    rows, _ = _run("filter ispresent(user.id) | dedup user.id | display user.id")
    assert rows == [{"user.id": "u0"}, {"user.id": "u1"}, {"user.id": "u2"}]


def test_limit_param_caps_rows() -> None:
    assert len(_run("fields @message", limit=5)[0]) == 5


def test_flatten_discovers_nested_fields() -> None:
    assert flatten({"a": {"b": 1}, "l": [1, {"c": 2}]}) == {"a.b": 1, "l.0": 1, "l.1.c": 2}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "stats",
        "stats ms",
        "bogus",
        "fields",
        "limit -1",
        "limit x",
        "filter (a = 1",
        "sort",
        'parse @message "a*b*" as x',
        "filter a like 3",
        "stats nope(x)",
    ],
)
def test_malformed(query: str) -> None:
    with pytest.raises(ServiceError) as exc:
        parse_query(query)
    assert exc.value.code == "MalformedQueryException"


def test_lambda_report_fields() -> None:
    line = (
        "REPORT RequestId: 11e1a345-edf0\tDuration: 0.93 ms\tBilled Duration: 1 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 68.99 ms\t"
    )
    recs = [
        record(BASE, BASE, "START RequestId: 11e1a345-edf0 Version: $LATEST", "s", "g", "p0"),
        record(BASE + 1, BASE, line, "s", "g", "p1"),
    ]
    assert recs[0]["@type"] == "START" and recs[0]["@requestId"] == "11e1a345-edf0"
    stats = {"recordsScanned": 0, "bytesScanned": 0, "recordsMatched": 0}
    q = "filter @type = 'REPORT' | stats max(@maxMemoryUsed / 1000 / 1000) as mb, sum(@duration) as d"
    assert parse_query(q).run(recs, 10, stats) == [{"mb": 20.0, "d": 0.93}]
    assert parse_query("filter @type = 'nope' | stats count(*)").run(recs, 10, stats) == []
