"""Every implemented service's handlers are named after operations of its model,
and every operation of a complete service has a handler."""

from __future__ import annotations

import importlib
import inspect

import pytest
from botocore import xform_name

from cloudlet.core.models import load_model
from cloudlet.services.base import Service
from cloudlet.services.registry import IMPLEMENTED

COMPLETE = {"sqs"}
DOCUMENTED_ONLY = {("s3", "InternalError"), ("s3control", "InternalError")}
"""500s in a service's error list but not in its botocore model (S3 and S3 Control
model few)."""
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
    } - set(getattr(cls, "internal_operations", ()))
    assert handlers <= ops.keys(), f"not operations of {name}: {sorted(handlers - ops.keys())}"
    if name in COMPLETE:
        assert ops.keys() <= handlers, f"{name} lacks {sorted(ops.keys() - handlers)}"


@pytest.mark.parametrize("name", sorted(IMPLEMENTED))
def test_internal_error_is_one_the_client_knows(name: str) -> None:
    """A failure of ours answers AWS's common InternalFailure, or the service's own
    modelled server error (which botocore raises as that modelled exception)."""
    code, message = _service_class(IMPLEMENTED[name]).internal_error
    assert message
    if code == "InternalFailure" or (name, code) in DOCUMENTED_ONLY:
        return
    model = load_model(name)
    modelled = {
        shape.metadata.get("error", {}).get("code", shape.name): shape
        for shape in model.error_shapes
    }
    assert code in modelled, f"{name}: {code} is not an error of its model"
    status = modelled[code].metadata.get("error", {}).get("httpStatusCode")
    assert status in (None, 500), f"{name}: {code} is a {status}, not a server error"
