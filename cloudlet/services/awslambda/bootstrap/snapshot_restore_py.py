"""Runtime hooks for Lambda SnapStart, as AWS's Python runtimes provide them.

AWS's managed Python runtimes ship the ``snapshot-restore-py`` library: a function
registers callables to run before its version's snapshot is taken and after each
execution environment is restored from it, by decorator or by call. This is the same
public interface (``register_before_snapshot``, ``register_after_restore``) and the two
getters the runtime client reads (``get_before_snapshot``, ``get_after_restore``). Our
runtime client imports it before the function's code, so a function that bundles the
library registers its hooks here all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["register_after_restore", "register_before_snapshot"]

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` before the snapshot (hooks run last registered first)."""
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` in each restored environment (in registration order)."""
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    """The before-snapshot hooks, in registration order (the runtime reverses them)."""
    return _before_snapshot


def get_after_restore() -> list[Hook]:
    """The after-restore hooks, in registration order."""
    return _after_restore
