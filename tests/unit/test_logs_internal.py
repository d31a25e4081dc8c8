"""Logs operations called in-process through ``ServiceEnv.call`` (how Lambda writes
``/aws/lambda/<function>``): handlers work without an HTTP request."""

from __future__ import annotations

import asyncio
import time

from cloudlet.services.base import ServiceEnv
from cloudlet.services.logs.api import LogsService


def test_internal_calls_create_put_and_read() -> None:
    async def scenario() -> dict:
        env = ServiceEnv(data_dir=None)
        env.services["logs"] = LogsService(env)
        where = {"account": "111111111111", "region": "eu-west-1"}
        group = {"logGroupName": "/aws/lambda/fn"}
        await env.call("logs", "CreateLogGroup", group, **where)
        await env.call("logs", "CreateLogStream", {**group, "logStreamName": "s"}, **where)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": "START RequestId: 1 Version: $LATEST"}]
        await env.call(
            "logs", "PutLogEvents", {**group, "logStreamName": "s", "logEvents": events}, **where
        )
        return await env.call("logs", "GetLogEvents", {**group, "logStreamName": "s"}, **where)

    got = asyncio.run(scenario())
    assert [e["message"] for e in got["events"]] == ["START RequestId: 1 Version: $LATEST"]
