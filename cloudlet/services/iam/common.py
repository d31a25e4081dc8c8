"""What every IAM operation group shares: ids, paging, dates, tags, documents."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from cloudlet.auth import policy
from cloudlet.core.model_constraints import violations
from cloudlet.services.iam import errors

_UPPER = string.ascii_uppercase + string.digits
MAX_ITEMS = 100


def unique_id(prefix: str) -> str:
    """IAM's unique ids: a 4-letter kind prefix and 17 more characters (``AIDA...``)."""
    return prefix + "".join(secrets.choice(_UPPER) for _ in range(17))


def dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def encode(document: str) -> str:
    """Policy documents go back URL-encoded, as IAM sends them."""
    return quote(document, safe="")


def decode(document: str) -> str:
    return unquote(document)


def check_path(path: str | None) -> str:
    path = path or "/"
    if not (path.startswith("/") and path.endswith("/")):
        raise errors.validation(
            "The specified value for path is invalid. It must begin and end with / and "
            "contain only alphanumeric characters and/or / characters."
        )
    return path


def check_range(value: int | None, member: str, low: int, high: int) -> None:
    """AWS's ValidationError for an integer parameter outside ``low..high``."""
    if value is None or low <= value <= high:
        return
    bound = f"less than or equal to {high}" if value > high else f"greater than or equal to {low}"
    raise errors.validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


def check_constraints(operation: str, params: dict[str, Any]) -> None:
    """The model's lengths, patterns, ranges and enums for ``operation``'s input, broken
    ones answered as IAM's framework answers them (``ValidationError``, all listed)."""
    broken = [text for _path, text in violations("iam", operation, params)]
    if broken:
        noun = "error" if len(broken) == 1 else "errors"
        raise errors.validation(f"{len(broken)} validation {noun} detected: {'; '.join(broken)}")


def check_document(text: str, kind: policy.PolicyKind = "identity") -> str:
    """The document as given, if IAM would accept it (``MalformedPolicyDocument``)."""
    try:
        policy.parse(text, kind)
    except policy.MalformedPolicy as exc:
        raise errors.malformed(str(exc)) from None
    return text


def page(items: list[Any], params: dict[str, Any], out_key: str) -> dict[str, Any]:
    """IAM's paging: ``MaxItems`` (1..1000, default 100) and an opaque ``Marker``."""
    size = params.get("MaxItems") or MAX_ITEMS
    if not 1 <= size <= 1000:
        raise errors.validation(
            f"1 validation error detected: Value '{size}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value less than or equal to 1000"
        )
    start = 0
    marker = params.get("Marker")
    if marker:
        try:
            start = int(marker)
        except ValueError:
            raise errors.validation("Invalid Marker.") from None
    chunk = items[start : start + size]
    out: dict[str, Any] = {out_key: chunk, "IsTruncated": start + size < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


def with_prefix(docs: list[dict[str, Any]], prefix: str | None, name_key: str) -> list[dict]:
    prefix = prefix or "/"
    return sorted(
        (d for d in docs if d["Path"].startswith(prefix)), key=lambda d: d[name_key].lower()
    )


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def merge_tags(current: dict[str, str], tags: list[dict[str, str]] | None) -> None:
    for tag in tags or []:
        current[tag["Key"]] = tag.get("Value", "")
    if len(current) > 50:
        raise errors.limit_exceeded("The number of tags has reached the maximum limit.")


def tag_page(tags: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
    return page(tag_list(tags), params, "Tags")
