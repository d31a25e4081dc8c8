"""Filter patterns compiled to predicates, without HTTP: each syntax family,
the values metric filters read from a match, and AWS's errors for bad patterns."""

from __future__ import annotations

import json

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.logs.patterns import compile_pattern, split_fields

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),
        ("ERROR Exception", "ERROR: Exception raised", True),
        ("ERROR Exception", "ERROR only", False),
        ('"ERROR Exception"', "ERROR: Exception", False),
        ('"ERROR: Exception"', "x ERROR: Exception y", True),
        ("?ERROR ?WARN", "WARN disk", True),
        ("?ERROR ?WARN", "INFO disk", False),
        ("ERROR -timeout", "ERROR timeout", False),
        ("ERROR -timeout", "ERROR crash", True),
        ("%ERR(OR)?%", "ERR x", True),
        ("{ $.a = 1 }", '{"a": 1}', True),
        ("{ $.a = 1 }", '{"a": "1"}', True),
        ("{ $.a = 1 }", "not json", False),
        ("{ $.a = 1 }", 'INFO {"a": 1}', False),
        ('{ $.a.b = "x*" }', '{"a": {"b": "xyz"}}', True),
        ('{ $.a.b = "x*" }', '{"a": {"b": "yx"}}', False),
        ("{ $.a != 2 }", '{"a": 1}', True),
        ("{ $.a != 2 }", '{"b": 1}', False),
        ("{ $.n > 1.5 && $.n <= 3 }", '{"n": 3}', True),
        ("{ $.n > 1.5 && $.n <= 3 }", '{"n": 1}', False),
        ("{ ($.a = 1 || $.b = 2) && $.c IS TRUE }", '{"b": 2, "c": true}', True),
        ("{ $.c IS FALSE }", '{"c": true}', False),
        ("{ $.x IS NULL }", '{"x": null}', True),
        ("{ $.x IS NULL }", "{}", False),
        ("{ $.x NOT EXISTS }", "{}", True),
        ('{ $.arr[1] = "b" }', '{"arr": ["a", "b"]}', True),
        ('{ $.arr[5] = "b" }', '{"arr": ["a", "b"]}', False),
        ("{ $.items[*].id = 7 }", '{"items": [{"id": 1}, {"id": 7}]}', True),
        ("{ $.msg = %fail(ed|ure)% }", '{"msg": "a failure"}', True),
        ("[ip, id, user, ts, req, status = 200, size]", APACHE, True),
        ("[ip, id, user, ts, req, status = 404, size]", APACHE, False),
        ("[ip, ..., status = 2*, size > 1000]", APACHE, True),
        ("[ip, ..., status = 2*, size > 9000]", APACHE, False),
        ("[..., size]", APACHE, True),
        ("[a, b]", APACHE, False),
        ("[ip = 127.*, ..., status = 404 || status = 200, size]", APACHE, True),
        ("[ip, ..., status = 200 && size < 100, size]", APACHE, False),
    ],
)
def test_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


def test_values_for_metric_filters() -> None:
    p = compile_pattern("[ip, ..., status, size]")
    b = p.match(APACHE)
    assert b is not None and p.value(b, "$size") == "2326" and p.value(b, "$status") == "200"
    j = compile_pattern("{ $.latency > 0 }")
    b = j.match(json.dumps({"latency": 12.5, "user": {"id": "u"}}))
    assert b is not None and p.value(b, "$.latency") == 12.5
    assert j.value(b, "$.user.id") == "u" and j.value(b, "$.missing") is None


def test_fields_keep_quotes_and_brackets_whole() -> None:
    assert split_fields(APACHE) == [
        "127.0.0.1",
        "-",
        "frank",
        "10/Oct/2000:13:55:36 -0700",
        "GET /apache_pb.gif HTTP/1.0",
        "200",
        "2326",
    ]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'"),
        ("[a, b", "If a filter pattern starts with '[' it must end with ']'"),
        ("user@example.com", "Invalid character(s) in term 'user@example.com'"),
        ("{ $.a ~ 1 }", "Invalid filter pattern"),
        ('{ $.a > "x" }', "Invalid filter pattern"),
        ('""', "Invalid character(s) in term '\"\"'"),
    ],
)
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ServiceError) as exc:
        compile_pattern(pattern)
    assert (exc.value.code, exc.value.message) == ("InvalidParameterException", message)
