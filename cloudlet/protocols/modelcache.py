"""Values derived from botocore model objects, kept on the objects themselves.

Codecs build plans (readers, writers, routers) per operation, shape or service
model and look them up on every request (seven lookups for an S3 GetObject). A
``WeakKeyDictionary`` frees them with the model, but its ``get`` is Python code
that makes a weak reference on every call. Storing the plan in the model
object's own ``__dict__``, under a name per cache, frees it with the model just
the same for the price of a dict lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

_names = itertools.count()
_MISSING = object()


class PlanCache:
    """Plans built by ``build(obj)``, cached per model object and freed with it."""

    __slots__ = ("_build", "_name")

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._name = f"_cloudlet_plan_{next(_names)}"

    def get(self, obj: Any) -> Any:
        slot = obj.__dict__
        plan = slot.get(self._name, _MISSING)
        if plan is _MISSING:
            plan = slot[self._name] = self._build(obj)
        return plan
