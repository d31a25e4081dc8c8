"""AWS's tag alphabet, one rule for every service that takes resource tags.

AWS documents the same characters for tag keys and values across services (S3 object
and bucket tags, DynamoDB table tags...): letters, digits and spaces of any script,
and ``+ - = . _ : / @``. Each service keeps its own lengths, limits and error texts.
"""

from __future__ import annotations

import unicodedata

_PUNCTUATION = frozenset("+-=._:/@")


def tag_text_ok(text: str) -> bool:
    """Whether every character of ``text`` is in AWS's tag alphabet (an empty text is)."""
    return all(c.isalnum() or c in _PUNCTUATION or unicodedata.category(c) == "Zs" for c in text)
