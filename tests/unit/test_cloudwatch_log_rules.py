"""Contributor Insights rules over log groups (``cloudwatch/log_rules.py``): what each
filter operator, path and format makes of an event."""

from __future__ import annotations

import json

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.cloudwatch.log_rules import compile_rule

SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}


def rule(filters=(), keys=("$.k",), value_of=None, **extra):
    doc = {
        "Schema": SCHEMA,
        "LogGroupNames": ["g", "pre*"],
        "LogFormat": "JSON",
        "Contribution": {"Keys": list(keys), "Filters": list(filters)},
        "AggregateOn": "Sum" if value_of else "Count",
        **extra,
    }
    if value_of:
        doc["Contribution"]["ValueOf"] = value_of
    return compile_rule(doc, "000000000000", "us-east-1")


def contributes(r, event) -> bool:
    return r.contribution(json.dumps(event)) is not None


@pytest.mark.parametrize(
    ("spec", "event", "expected"),
    [
        ({"In": ["a", "b"]}, {"f": "b"}, True),
        ({"In": ["a"]}, {"f": "c"}, False),
        ({"NotIn": ["a"]}, {"f": "c"}, True),
        ({"NotIn": ["a"]}, {}, True),
        ({"StartsWith": ["ec2", "ecs"]}, {"f": "ecs.amazonaws.com"}, True),
        ({"GreaterThan": 10}, {"f": 11}, True),
        ({"GreaterThan": 10}, {"f": "11"}, True),
        ({"LessThan": 10}, {"f": 10}, False),
        ({"EqualTo": 200}, {"f": 200.0}, True),
        ({"NotEqualTo": 200}, {"f": 404}, True),
        ({"NotEqualTo": 200}, {"f": "x"}, True),
        ({"IsPresent": True}, {"f": None}, True),
        ({"IsPresent": False}, {"g": 1}, True),
        ({"IsPresent": True}, {"g": 1}, False),
    ],
)
def test_filter_operators(spec, event, expected):
    r = rule([{"Match": "$.f", **spec}])
    assert contributes(r, {"k": "key", **event}) is expected


def test_paths_keys_and_values():
    r = rule(keys=("$.users[1].name", "$.n"), value_of="$.size.bytes")
    event = {"users": [{"name": "a"}, {"name": "b"}], "n": 3, "size": {"bytes": "12.5"}}
    assert r.contribution(json.dumps(event)) == (["b", "3"], 12.5)
    assert r.contribution(json.dumps({**event, "users": [{}]})) is None  # a key missing
    assert r.contribution(json.dumps({**event, "size": {"bytes": "lots"}})) is None
    assert r.contribution("[1, 2]") is None and r.contribution("plain text") is None


def test_groups_by_name_prefix_and_arn():
    r = rule()
    assert r.watches("g") and r.watches("prefix-x") and not r.watches("gg")
    by_arn = compile_rule(
        {
            "Schema": SCHEMA,
            "LogGroupARNs": [
                "arn:aws:logs:us-east-1:000000000000:log-group:mine:*",
                "arn:aws:logs:us-east-1:111122223333:log-group:theirs",
            ],
            "LogFormat": "JSON",
            "Contribution": {"Keys": ["$.k"]},
            "AggregateOn": "Count",
        },
        "000000000000",
        "us-east-1",
    )
    assert by_arn.watches("mine") and not by_arn.watches("theirs")


def test_clf_positions_and_aliases():
    r = compile_rule(
        {
            "Schema": SCHEMA,
            "LogGroupNames": ["g"],
            "LogFormat": "CLF",
            "Fields": {"4": "When"},
            "Contribution": {"Keys": ["1", "When"], "ValueOf": "7"},
            "AggregateOn": "Sum",
        },
        "000000000000",
        "us-east-1",
    )
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326'
    assert r.contribution(line) == (["127.0.0.1", "10/Oct/2000:13:55:36 -0700"], 2326.0)


@pytest.mark.parametrize(
    "contribution",
    [
        {"Keys": []},
        {"Keys": ["$."]},
        {"Keys": ["$.a"], "Filters": [{"Match": "$.a"}]},
        {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "In": []}]},
        {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "IsPresent": "yes"}]},
        {"Keys": ["$.a"], "Filters": [{"Match": "$.a", "In": ["x"], "NotIn": ["y"]}]},
    ],
)
def test_bad_contributions_are_refused(contribution):
    doc = {
        "Schema": SCHEMA,
        "LogGroupNames": ["g"],
        "LogFormat": "JSON",
        "Contribution": contribution,
        "AggregateOn": "Count",
    }
    with pytest.raises(ServiceError) as exc:
        compile_rule(doc, "000000000000", "us-east-1")
    assert exc.value.code == "InvalidParameterValueException"
