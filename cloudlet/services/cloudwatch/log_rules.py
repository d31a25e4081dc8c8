"""Contributor Insights rules over log groups: a rule definition, checked and compiled.

A user's rule (PutInsightRule) names log groups and says how each of their log events
contributes: which fields are its keys, what it is worth, which events count at all.
CloudWatch Logs hands every accepted event of a group to CloudWatch (``insights.py``),
which runs them through the rules that name the group. Why it is built this way:

- **The syntax is the user guide's** ("Contributor Insights rule syntax"): Schema
  ``CloudWatchLogRule`` version 1, ``LogGroupNames`` (a trailing ``*`` is a prefix) or
  ``LogGroupARNs``, ``LogFormat`` JSON or CLF (with ``Fields`` naming CLF positions),
  up to four ``Keys``, an optional ``ValueOf`` for ``Sum``, up to four ``Filters``
  (``In``/``NotIn``/``StartsWith`` with up to ten strings, ``GreaterThan``/
  ``LessThan``/``EqualTo``/``NotEqualTo`` with a number, ``IsPresent`` with a
  boolean), ANDed. Field names and values match case-sensitively.
- **Paths are compiled once** (``$.a.b[0].c`` into steps), so an event costs one JSON
  parse and a few dictionary lookups per rule.
- An event whose keys are not all present, whose value is not a number, or that is
  not of the rule's format contributes nothing, as on AWS.
- The refusals' texts are cloudlet's: AWS's are not on record.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.cloudwatch import errors

SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}
FORMATS = ("JSON", "CLF")
MAX_KEYS = MAX_FILTERS = 4
MAX_FILTER_VALUES = 10
STRING_OPERATORS = ("In", "NotIn", "StartsWith")
NUMBER_OPERATORS = ("GreaterThan", "LessThan", "EqualTo", "NotEqualTo")
OPERATORS = (*STRING_OPERATORS, *NUMBER_OPERATORS, "IsPresent")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_CLF_TOKEN = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_MISSING = object()

Path = tuple[str | int, ...]


def _invalid(detail: str) -> ServiceError:
    return errors.invalid_value(f"The rule definition is invalid: {detail}")


def _path(text: Any, where: str, clf: bool, aliases: dict[str, str]) -> Path:
    """A JSON property path (``$.a[0].b``), or for CLF a field position or its alias."""
    if not isinstance(text, str) or not text:
        raise _invalid(f"{where} must be a log field.")
    if clf and not text.startswith("$"):
        position = aliases.get(text, text)
        if not position.isdigit() or int(position) < 1:
            raise _invalid(f"{where} {text} is neither a CLF field position nor a Fields alias.")
        return (int(position),)
    if not text.startswith("$"):
        raise _invalid(f"{where} {text} must use JSON property format ($.name).")
    steps: list[str | int] = []
    at = 1
    for m in _STEP.finditer(text, 1):
        if m.start() != at:
            break
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        at = m.end()
    if at != len(text) or not steps:
        raise _invalid(f"{where} {text} is not a valid JSON property path.")
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class _Filter:
    path: Path
    operator: str
    operand: Any

    def holds(self, value: Any) -> bool:
        op = self.operator
        if op == "IsPresent":
            return (value is not _MISSING) == self.operand
        if value is _MISSING or value is None:
            return op in ("NotIn", "NotEqualTo")
        if op in STRING_OPERATORS:
            text = _text(value)
            if op == "In":
                return text in self.operand
            if op == "NotIn":
                return text not in self.operand
            return any(text.startswith(prefix) for prefix in self.operand)
        number = _number(value)
        if number is None:
            return op == "NotEqualTo"
        if op == "GreaterThan":
            return number > self.operand
        if op == "LessThan":
            return number < self.operand
        if op == "EqualTo":
            return number == self.operand
        return number != self.operand


@dataclass(frozen=True, slots=True)
class LogRule:
    """A compiled rule over log groups."""

    groups: tuple[str, ...]
    clf: bool
    keys: tuple[Path, ...]
    value_of: Path | None
    filters: tuple[_Filter, ...]
    by_sum: bool

    def watches(self, group: str) -> bool:
        for pattern in self.groups:
            if pattern.endswith("*"):
                if group.startswith(pattern[:-1]):
                    return True
            elif group == pattern:
                return True
        return False

    def contribution(self, message: str) -> tuple[list[str], float] | None:
        """The keys and value ``message`` contributes, or None when it contributes nothing."""
        event = _clf_fields(message) if self.clf else _json_object(message)
        if event is None:
            return None
        for f in self.filters:
            if not f.holds(_lookup(event, f.path)):
                return None
        keys = []
        for path in self.keys:
            value = _lookup(event, path)
            if value is _MISSING or value is None or isinstance(value, (dict, list)):
                return None
            keys.append(_text(value))
        if not self.by_sum:
            return keys, 1.0
        assert self.value_of is not None
        number = _number(_lookup(event, self.value_of))
        if number is None or not math.isfinite(number):
            return None
        return keys, number


def compile_rule(doc: dict[str, Any], account: str, region: str) -> LogRule:
    """Check a rule definition (parsed JSON) and compile it."""
    if doc.get("Schema") != SCHEMA:
        raise _invalid('Schema must be {"Name": "CloudWatchLogRule", "Version": 1}.')
    names, arns = doc.get("LogGroupNames"), doc.get("LogGroupARNs")
    if (names is None) == (arns is None):
        raise _invalid("give LogGroupNames or LogGroupARNs, not both.")
    groups = _groups(names, arns, account, region)
    fmt = doc.get("LogFormat")
    if fmt not in FORMATS:
        raise _invalid("LogFormat must be JSON or CLF.")
    clf = fmt == "CLF"
    aliases = _aliases(doc.get("Fields"), clf)
    contribution = doc.get("Contribution")
    if not isinstance(contribution, dict):
        raise _invalid("Contribution must be an object with Keys.")
    keys = contribution.get("Keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS:
        raise _invalid(f"Contribution.Keys must list 1 to {MAX_KEYS} log fields.")
    aggregate = doc.get("AggregateOn")
    if aggregate not in ("Count", "Sum"):
        raise _invalid("AggregateOn must be Count or Sum.")
    value_of = contribution.get("ValueOf")
    if aggregate == "Sum" and value_of is None:
        raise _invalid("Contribution.ValueOf is required when AggregateOn is Sum.")
    if aggregate == "Count" and value_of is not None:
        raise _invalid("Contribution.ValueOf is only for AggregateOn Sum.")
    filters = contribution.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise _invalid(f"Contribution.Filters may hold at most {MAX_FILTERS} filters.")
    return LogRule(
        groups=groups,
        clf=clf,
        keys=tuple(_path(k, "Contribution.Keys member", clf, aliases) for k in keys),
        value_of=_path(value_of, "Contribution.ValueOf", clf, aliases) if value_of else None,
        filters=tuple(_filter(f, i, clf, aliases) for i, f in enumerate(filters, 1)),
        by_sum=aggregate == "Sum",
    )


def _groups(names: Any, arns: Any, account: str, region: str) -> tuple[str, ...]:
    """The log group names (or ``prefix*`` patterns) a rule watches. An ARN of another
    account or Region names groups this one cannot hold (cross-account observability
    is not built): it watches nothing."""
    given = names if names is not None else arns
    if not isinstance(given, list) or not given or not all(isinstance(g, str) for g in given):
        raise _invalid("LogGroupNames (or LogGroupARNs) must be a non-empty list of strings.")
    if names is not None:
        return tuple(given)
    out = []
    for arn in given:
        fields = arn.split(":", 6)
        if len(fields) < 7 or fields[2] != "logs" or fields[5] != "log-group":
            raise _invalid(f"{arn} is not a log group ARN.")
        if fields[3] == region and fields[4] in (account, "*"):
            out.append(fields[6].removesuffix(":*"))
    return tuple(out)


def _aliases(fields: Any, clf: bool) -> dict[str, str]:
    if fields is None:
        return {}
    if not clf or not isinstance(fields, dict):
        raise _invalid("Fields names CLF field positions, for LogFormat CLF only.")
    out = {}
    for position, alias in fields.items():
        if not str(position).isdigit() or not isinstance(alias, str) or not alias:
            raise _invalid("Fields maps CLF field positions (1, 2, ...) to names.")
        out[alias] = str(position)
    return out


def _filter(spec: Any, i: int, clf: bool, aliases: dict[str, str]) -> _Filter:
    where = f"Contribution.Filters member {i}"
    if not isinstance(spec, dict) or "Match" not in spec:
        raise _invalid(f"{where} must have Match and one operator.")
    ops = [k for k in spec if k != "Match"]
    if len(ops) != 1 or ops[0] not in OPERATORS:
        raise _invalid(f"{where} must have one operator of {', '.join(OPERATORS)}.")
    op, operand = ops[0], spec[ops[0]]
    path = _path(spec["Match"], f"{where} Match", clf, aliases)
    if op in STRING_OPERATORS:
        if (
            not isinstance(operand, list)
            or not 1 <= len(operand) <= MAX_FILTER_VALUES
            or not all(isinstance(v, str) for v in operand)
        ):
            raise _invalid(f"{where} {op} takes 1 to {MAX_FILTER_VALUES} strings.")
        return _Filter(path, op, tuple(operand))
    if op == "IsPresent":
        if not isinstance(operand, bool):
            raise _invalid(f"{where} IsPresent takes true or false.")
        return _Filter(path, op, operand)
    if isinstance(operand, bool) or not isinstance(operand, (int, float)):
        raise _invalid(f"{where} {op} takes a number.")
    return _Filter(path, op, float(operand))


# ---- events


def _json_object(message: str) -> Any:
    if not message.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _clf_fields(message: str) -> dict[int, str] | None:
    """A CLF line's fields by position from 1; a quoted or bracketed field is one."""
    fields = {}
    for n, m in enumerate(_CLF_TOKEN.finditer(message), 1):
        fields[n] = next(g for g in m.groups() if g is not None)
    return fields or None


def _lookup(event: Any, path: Path) -> Any:
    value = event
    for step in path:
        if isinstance(step, int) and isinstance(value, list):
            if step >= len(value):
                return _MISSING
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is _MISSING or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
