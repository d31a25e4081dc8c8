"""Concurrency pools: a reservation is a function's own pool; every unreserved function
of an account and Region shares the rest of the Regional limit.

Driven below the API: exhausting the real limit (1,000) would take 1,000 worker
processes. The throttling itself, through boto3, is in test_lambda_invoke.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cloudlet.core.errors import ServiceError
from cloudlet.services.awslambda import invoke
from cloudlet.services.awslambda.invoke import InvokeMixin
from cloudlet.services.awslambda.store import LambdaStore


class Functions:
    """The part of ``LambdaStore`` the pools read: functions and their reservations."""

    reserved_total = LambdaStore.reserved_total

    def __init__(self, docs: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.functions = docs
        self._reserved: dict[tuple[str, str], int] = {}

    def save_function(self, doc: dict[str, Any]) -> None:
        self._reserved.clear()


class Pools(InvokeMixin):
    def __init__(self, *docs: dict[str, Any]) -> None:
        self.store = Functions({self._key(d): d for d in docs})
        self.inflight: dict[tuple[str, ...], int] = {}
        self.slots = asyncio.Condition()
        self.slot_waiters = 0


def _fn(name: str, reserved: int | None = None, region: str = "us-east-1") -> dict[str, Any]:
    return {"account": "000000000000", "region": region, "name": name, "reserved": reserved}


def _reason(pools: Pools, doc: dict[str, Any]) -> str:
    with pytest.raises(ServiceError) as caught:
        asyncio.run(pools._enter(doc, wait=False))
    assert caught.value.code == "TooManyRequestsException"
    return caught.value.fields["Reason"]


def test_unreserved_functions_share_what_reservations_leave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(invoke, "ACCOUNT_CONCURRENCY", 3)
    a, b, c = _fn("a", reserved=1), _fn("b"), _fn("c")
    elsewhere = _fn("d", region="eu-west-1")
    pools = Pools(a, b, c, elsewhere)

    async def enter(doc: dict[str, Any]) -> tuple[str, ...]:
        return await pools._enter(doc, wait=False)

    shared = asyncio.run(enter(b))
    asyncio.run(enter(c))
    # 3 - 1 reserved = 2 shared slots, both taken: by b and by c, not by b alone.
    assert _reason(pools, b) == "ConcurrentInvocationLimitExceeded"
    assert _reason(pools, c) == "ConcurrentInvocationLimitExceeded"
    asyncio.run(enter(a))
    assert _reason(pools, a) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # Another Region has its own limit.
    for _ in range(3):
        asyncio.run(enter(elsewhere))
    asyncio.run(pools._leave(shared))
    asyncio.run(enter(c))


def test_a_slot_goes_back_to_the_pool_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "ACCOUNT_CONCURRENCY", 3)
    b = _fn("b")
    pools = Pools(b, _fn("c"))
    taken = asyncio.run(pools._enter(b, wait=False))
    b["reserved"] = 1  # reserved while the invocation runs
    pools.store.save_function(b)
    asyncio.run(pools._enter(b, wait=False))
    asyncio.run(pools._leave(taken))
    assert pools.inflight[taken] == 0
    assert _reason(pools, b) == "ReservedFunctionConcurrentInvocationLimitExceeded"
