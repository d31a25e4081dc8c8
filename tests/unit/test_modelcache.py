"""``PlanCache`` keeps a plan per model object, on the object, and frees it with it."""

from __future__ import annotations

import gc
import weakref

import botocore.session

from cloudlet.protocols.modelcache import PlanCache


class _Model:
    pass


def test_one_build_per_object_and_per_cache() -> None:
    calls: list[object] = []
    first = PlanCache(lambda obj: calls.append(obj) or len(calls))
    second = PlanCache(lambda obj: "other")
    a, b = _Model(), _Model()
    assert first.get(a) == 1 and first.get(a) == 1
    assert first.get(b) == 2
    assert second.get(a) == "other" and first.get(a) == 1
    assert calls == [a, b]


def test_a_plan_of_none_is_kept() -> None:
    calls: list[object] = []
    cache = PlanCache(lambda obj: calls.append(obj))
    model = _Model()
    assert cache.get(model) is None and cache.get(model) is None
    assert len(calls) == 1


def test_plans_go_with_their_model() -> None:
    cache = PlanCache(lambda obj: {"model": obj})  # a plan that refers back to its model
    model = _Model()
    cache.get(model)
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None


def test_botocore_models_take_plans() -> None:
    service = botocore.session.get_session().get_service_model("s3")
    operation = service.operation_model("GetObject")
    cache = PlanCache(lambda obj: type(obj).__name__)
    assert cache.get(service) == "ServiceModel"
    assert cache.get(operation) == "OperationModel"
    assert cache.get(operation.output_shape) == "StructureShape"
