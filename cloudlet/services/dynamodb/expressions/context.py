"""A request's ExpressionAttributeNames/Values, and the checks every expression kind shares.

One ``ExpressionContext`` serves all expressions of one request (an UpdateItem
has an update and a condition expression) because DynamoDB's "unused" check
spans them: a ``:v`` used only by the condition is still used.

The rest is what the per-kind checkers have in common: resolving ``#name`` and
``:value`` placeholders, refusing reserved words, path depth, and DynamoDB's
overlap/conflict rule for the paths of an update or projection. Checkers
collect at most one message per error category (``Errors``) and report the
highest-ranked category, which is how DynamoDB chooses among several faults.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Protocol

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.expressions.parser import Path, Value
from cloudlet.services.dynamodb.expressions.reserved import is_reserved
from cloudlet.services.dynamodb.expressions.tokens import ATTR, NUMBER, invalid
from cloudlet.services.dynamodb.values import AV, MAX_DEPTH, check_name, validate_value

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")
MAX_EXPRESSION_BYTES = 4096
MAX_LIST_INDEX = 2**31 - 1


class ExpressionContext:
    """Holds ExpressionAttributeNames / ExpressionAttributeValues of one request and
    records which are used.

    An invalid value is reported as ``ExpressionAttributeValues contains invalid value:
    <why> for key <key>`` (dynalite's deleteItem.js, checked against DynamoDB), except a
    number or name error, and an UpdateItem's (``update``) empty set, which AWS reports
    as it is: "One or more parameter values were invalid: An string set  may not be
    empty" (moto's AWS-verified test_update_item_add_empty_set and
    test_update_item_unused_attributes; ministack issue #1038, AWS CLI v2.35, 2026).
    """

    def __init__(
        self,
        names: dict[str, str] | None,
        values: dict[str, AV] | None,
        *,
        update: bool = False,
    ) -> None:
        if names is not None:
            if not names:
                raise errors.validation("ExpressionAttributeNames must not be empty")
            for key in names:
                if not _NAME_KEY.fullmatch(key):
                    raise errors.validation(
                        f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                    )
            for name in names.values():
                check_name(name)
        checked: dict[str, AV] = {}
        if values is not None:
            if not values:
                raise errors.validation("ExpressionAttributeValues must not be empty")
            for key in values:
                if not _VALUE_KEY.fullmatch(key):
                    raise errors.validation(
                        f"ExpressionAttributeValues contains invalid key: Syntax error; "
                        f'key: "{key}"'
                    )
            for key, value in values.items():
                try:
                    checked[key] = validate_value(value)
                except ServiceError as exc:
                    if getattr(exc, "family", None) in ("number", "name"):
                        raise  # AWS reports number and name errors of a value as they are
                    if update and _is_empty_set(value):
                        raise
                    raise errors.validation(
                        f"ExpressionAttributeValues contains invalid value: {exc.message} "
                        f"for key {key}"
                    ) from None
        self.names: dict[str, str] = names or {}
        self.values: dict[str, AV] = checked
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def name(self, key: str) -> str | None:
        found = self.names.get(key)
        if found is not None:
            self.used_names.add(key)
        return found

    def value(self, key: str) -> AV | None:
        found = self.values.get(key)
        if found is not None:
            self.used_values.add(key)
        return found

    def check_unused(self) -> None:
        """Call after every expression of the request was compiled."""
        unused = [k for k in self.names if k not in self.used_names]
        if unused:
            raise errors.validation(
                "Value provided in ExpressionAttributeNames unused in expressions: "
                f"keys: {{{', '.join(unused)}}}"
            )
        unused = [k for k in self.values if k not in self.used_values]
        if unused:
            raise errors.validation(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused)}}}"
            )


def _is_empty_set(value: Any) -> bool:
    """An ``{"SS": []}`` (NS, BS): a set AttributeValue with no members."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("SS", "NS", "BS")
        and not next(iter(value.values()))
    )


class Sink(Protocol):
    def add(self, category: str, message: str) -> None: ...


class Errors:
    """The first message of each category; ``raise_first`` reports by rank."""

    __slots__ = ("kind", "found")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.found: dict[str, str] = {}

    def add(self, category: str, message: str) -> None:
        self.found.setdefault(category, message)

    def raise_first(self, order: tuple[str, ...]) -> None:
        for category in order:
            message = self.found.get(category)
            if message is not None:
                raise invalid(self.kind, message)


def check_size(text: str, kind: str) -> None:
    if not text:
        raise invalid(kind, "The expression can not be empty;")
    size = len(text.encode("utf-8")) if not text.isascii() else len(text)
    if size > MAX_EXPRESSION_BYTES:
        raise invalid(
            kind, f"Expression size has exceeded the maximum allowed size; expression size: {size}"
        )


def resolve_path(
    node: Path, ctx: ExpressionContext, errs: Errors, sink: Sink | None = None
) -> tuple | None:
    """The path as a tuple of str/int (None if a ``#name`` is undefined).

    Reserved words and depth go to ``errs``; an undefined ``#name`` goes to ``sink``
    (a condition's per-comparison errors) or else ``errs``, as category ``names``.
    """
    parts: list[Any] = []
    ok = True
    for tok in node.parts:
        if tok.kind == NUMBER:
            # Checked before int(): thousands of digits are more than int() converts.
            if len(tok.text.lstrip("0")) > 10 or int(tok.text) > MAX_LIST_INDEX:
                raise invalid(
                    errs.kind, f"List index is not within the allowable range; index: [{tok.text}]"
                )
            parts.append(int(tok.text))
        elif tok.kind == ATTR:
            name = ctx.name(tok.text)
            if name is None:
                (sink or errs).add(
                    "names",
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {tok.text}",
                )
                ok = False
            parts.append(name)
        else:
            if is_reserved(tok.text):
                errs.add(
                    "reserved",
                    f"Attribute name is a reserved keyword; reserved keyword: {tok.text}",
                )
            parts.append(tok.text)
    if len(parts) > MAX_DEPTH:
        errs.add(
            "depth",
            f"The document path has too many nesting levels; nesting levels: {len(parts)}",
        )
    node.path = tuple(parts) if ok else None
    return node.path


def resolve_value(node: Value, ctx: ExpressionContext, sink: Sink, category: str) -> AV | None:
    av = ctx.value(node.token.text)
    if av is None:
        sink.add(
            category,
            "An expression attribute value used in expression is not defined; "
            f"attribute value: {node.token.text}",
        )
    node.av = av
    return av


def path_text(path: tuple) -> str:
    """DynamoDB's rendering of a path in messages: ``[a, b, [2]]``."""
    return "[" + ", ".join(f"[{p}]" if type(p) is int else str(p) for p in path) + "]"


def check_overlaps(paths: list[tuple], errs: Errors) -> None:
    """Two paths overlap when one is a prefix of (or equal to) the other; they conflict
    when, before they part, one indexes a list where the other names a map key."""
    seen: list[tuple] = []
    for path in paths:
        for earlier in seen:
            for a, b in zip(earlier, path, strict=False):
                if (type(a) is int) != (type(b) is int):
                    errs.add(
                        "conflict",
                        "Two document paths conflict with each other; must remove or rewrite one "
                        f"of these paths; path one: {path_text(earlier)}, "
                        f"path two: {path_text(path)}",
                    )
                    break
                if a != b:
                    break
            else:
                errs.add(
                    "overlap",
                    "Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {path_text(earlier)}, path two: {path_text(path)}",
                )
                return
        seen.append(path)


TYPE_WORDS = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "NULL": "NULL",
    "BOOL": "BOOLEAN",
    "L": "LIST",
    "M": "MAP",
}


def av_text(av: AV) -> str:
    """``{N:1}``: how DynamoDB shows a literal operand in BETWEEN messages."""
    for t, v in av.items():
        if t == "B":
            v = base64.b64encode(v).decode()
        return f"{{{t}:{v}}}"
    return "{}"
