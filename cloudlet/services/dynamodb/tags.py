"""DynamoDB's tag rules, as AWS checks CreateTable's Tags, TagResource and UntagResource.

Why its own module: three operations share them, with texts of their own (lab captures of
live DynamoDB, DDB-TABLE-105/106/107/108/110/457): the alphabet (``cloudlet.core.tags``),
no ``aws:`` keys, 50 tags after the merge, duplicate keys; all ValidationException.
"""

from __future__ import annotations

from cloudlet.core.tags import tag_text_ok
from cloudlet.services.dynamodb import errors

TAG_LIMIT = 50
TOO_MANY_TAGS = "Number of Tags exceed the current limit for the provided ResourceArn"


def check_tag_key(key: str | None, member: str | None = None) -> None:
    """One tag key as DynamoDB checks it. ``member`` (``tags.N.member.key``) keeps the
    request-syntax length message TagResource and CreateTable give keys over 128."""
    if key is None:
        raise errors.validation("The Tag Key provided is invalid, Key: null")
    if member is not None and len(key) > 128:
        raise errors.constraint(key, member, "Member must have length less than or equal to 128")
    if not key or len(key) > 128 or not tag_text_ok(key):
        raise errors.validation(f"The Tag Key provided is invalid, Key: {key}")
    if key[:4].lower() == "aws:":
        raise errors.validation(f"Tag Key cannot be prefixed with aws:, Key: {key}")


def check_tags(tags: list[dict[str, str]], present: dict[str, str] | None = None) -> dict[str, str]:
    """``present`` (a table's tags, none for CreateTable) with ``tags`` merged in, as
    DynamoDB validates them: at most 50 after the merge (counted first), then each tag's
    key and value in order, then duplicate keys; all ValidationException."""
    merged = dict(present or {})
    merged.update({t.get("Key"): t.get("Value") for t in tags})  # type: ignore[misc]
    if len(merged) > TAG_LIMIT:
        raise errors.validation(TOO_MANY_TAGS)
    seen: set[str] = set()
    for i, tag in enumerate(tags, 1):
        key, value = tag.get("Key"), tag.get("Value")
        check_tag_key(key, f"tags.{i}.member.key")
        if value is None:
            raise errors.validation("The Tag Value provided is invalid, Value: null")
        if len(value) > 256:
            raise errors.constraint(
                value,
                f"tags.{i}.member.value",
                "Member must have length less than or equal to 256",
            )
        if not tag_text_ok(value):
            raise errors.validation(f"The Tag Value provided is invalid, Value: {value}")
    for tag in tags:
        if tag["Key"] in seen:
            raise errors.validation(
                f"Duplicate Tag Keys provided as input: Duplicate Tag Key found {tag['Key']}"
            )
        seen.add(tag["Key"])
    return merged
