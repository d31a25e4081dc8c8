"""Every implemented service's handlers are named after operations of its model,
and every operation of a complete service has a handler."""

from __future__ import annotations

import importlib
import inspect

import pytest
from botocore import xform_name

from cloudlet.gateway.catalog import load_model
from cloudlet.services.base import Service
from cloudlet.services.registry import IMPLEMENTED

COMPLETE = {"sqs"}
FRAMEWORK = {name for name, _ in inspect.getmembers(Service, inspect.isfunction)}


def _service_class(target: str) -> type[Service]:
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("name", sorted(IMPLEMENTED))
def test_handlers_match_the_model(name: str) -> None:
    cls = _service_class(IMPLEMENTED[name])
    ops = {xform_name(op): op for op in load_model(name).operation_names}
    handlers = {
        n
        for n, fn in inspect.getmembers(cls, inspect.isfunction)
        if not n.startswith("_") and n not in FRAMEWORK
    }
    assert handlers <= ops.keys(), f"not operations of {name}: {sorted(handlers - ops.keys())}"
    if name in COMPLETE:
        assert ops.keys() <= handlers, f"{name} lacks {sorted(ops.keys() - handlers)}"
