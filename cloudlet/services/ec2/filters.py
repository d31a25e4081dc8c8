"""EC2's ``Filter.N.Name``/``Value.N`` matching and ``MaxResults``/``NextToken`` paging.

A filter matches when any of its values matches (values may use ``*`` and
``?`` wildcards); all filters must match. ``tag:<key>``, ``tag-key`` and
``tag-value`` work on every resource that has tags.
"""

from __future__ import annotations

import base64
import binascii
import copy
import fnmatch
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from cloudlet.core.errors import ServiceError
from cloudlet.services.ec2 import errors

T = TypeVar("T")
Getter = Callable[[Any], "str | Iterable[str] | None"]


def _values(raw: str | Iterable[str] | None) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    return [str(v) for v in raw]


def _match(candidates: list[str], patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)


def apply(
    items: Iterable[T],
    filters: list[dict[str, Any]] | None,
    getters: dict[str, Getter],
    tags: Callable[[T], dict[str, str]] | None = None,
) -> list[T]:
    wanted = []
    for f in filters or []:
        name = f.get("Name") or ""
        values = [str(v) for v in f.get("Values") or []]
        if name.startswith("tag:") or name in ("tag-key", "tag-value"):
            if tags is None:
                raise ServiceError("InvalidParameterValue", f"The filter '{name}' is invalid")
        elif name not in getters:
            raise ServiceError("InvalidParameterValue", f"The filter '{name}' is invalid")
        wanted.append((name, values))
    out = []
    for item in items:
        ok = True
        for name, patterns in wanted:
            if name.startswith("tag:"):
                value = tags(item).get(name[4:]) if tags else None
                candidates = [] if value is None else [value]
            elif name == "tag-key":
                candidates = list(tags(item)) if tags else []
            elif name == "tag-value":
                candidates = list(tags(item).values()) if tags else []
            else:
                candidates = _values(getters[name](item))
            if not _match(candidates, patterns):
                ok = False
                break
        if ok:
            out.append(item)
    return out


def page(
    items: list[T], max_results: int | None, token: str | None, lo: int = 5, hi: int = 1000
) -> tuple[list[T], str | None]:
    """One page of ``items``; the token is the index of the next item."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise errors.next_token_invalid(token) from None
    if max_results is None:
        return items[start:], None
    if not lo <= max_results <= hi:
        raise errors.invalid_value(
            "MaxResults", max_results, f"Expecting a value between {lo} and {hi}."
        )
    end = start + max_results
    nxt = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], nxt


def listing(
    items: list[dict[str, Any]],
    key: str,
    wanted: list[str] | None,
    missing: Callable[[str], ServiceError],
    params: dict[str, Any],
    getters: dict[str, Getter],
    tags: Callable[[dict[str, Any]], dict[str, str]],
    hi: int = 1000,
    lo: int = 5,
) -> tuple[list[dict[str, Any]], str | None]:
    """A Describe call's page: ``items`` named by ``wanted`` ids (an unknown one fails with
    ``missing``), then ``Filters``, then ``MaxResults``/``NextToken``."""
    if wanted:
        by_key = {item[key]: item for item in items}
        for one in wanted:
            if one not in by_key:
                raise missing(one)
        items = [by_key[w] for w in dict.fromkeys(wanted)]
    items = apply(items, params.get("Filters"), getters, tags)
    return page(items, params.get("MaxResults"), params.get("NextToken"), lo, hi)


def public(doc: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """A stored document as Describe shows it: private (``_``) fields out, tags in."""
    out = {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}
    if tags:
        out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return out
