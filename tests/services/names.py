"""Unique resource names, so tests sharing one server never collide."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    """``<prefix>-<10 hex digits>``."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
