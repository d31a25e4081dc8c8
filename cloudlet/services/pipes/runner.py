"""What makes pipes run: their state changes, one poller task per running pipe, and the
way a batch goes through enrichment to the target.

Why states settle in the background: on AWS, creating, starting, stopping, updating and
deleting a pipe are asynchronous: the call answers CREATING, STARTING ... and the pipe
reaches RUNNING or STOPPED a little later, or CREATE_FAILED / START_FAILED /
UPDATE_FAILED with a ``StateReason`` when its source cannot be read. Here each change
settles ``CHANGE_SECONDS`` after it was asked for (``CLOUDLET_PIPES_CHANGE_SECONDS``,
default 0.5), and a pipe that settles RUNNING gets its poller: ``queues.read_queue`` or
``streams.StreamReader``. Stopping, updating or deleting a pipe cancels its poller at
once, so a stopped pipe reads nothing. State and positions are written with the pipe,
so after a restart a running pipe polls again from where it was, and a change that was
settling settles.

Each batch is one execution: its steps are recorded as the pipe's ``LogConfiguration``
asks (``execlog.Execution``), from the calls the deliverer made (``targets.CALLS``), and
handed to the log shipper when the execution is over.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cloudlet.core.background import cancelled
from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.event_patterns import Node
from cloudlet.services.pipes.execlog import Execution, call_error, exchange, failure
from cloudlet.services.pipes.filters import compile_filters
from cloudlet.services.pipes.logship import Shipper
from cloudlet.services.pipes.model import Pipe, queue_url, where
from cloudlet.services.pipes.queues import read_queue
from cloudlet.services.pipes.store import PipeStore
from cloudlet.services.pipes.streams import RETRY_SECONDS, StreamReader
from cloudlet.services.pipes.targets import (
    BATCH_LIMITS,
    CALLS,
    Call,
    Deliverer,
    rendered,
    target_kind,
)

log = logging.getLogger(__name__)
Doc = dict[str, Any]
CHANGE_SECONDS = seconds_setting("CLOUDLET_PIPES_CHANGE_SECONDS", 0.5, high=60)
SETTLES = {"CREATING": "CREATE_FAILED", "STARTING": "START_FAILED", "UPDATING": "UPDATE_FAILED"}


class Runner:
    def __init__(self, env: Any, store: PipeStore) -> None:
        self.env = env
        self.store = store
        self.deliverer = Deliverer(env)
        self.shipper = Shipper(env)
        self.pollers: dict[str, asyncio.Task] = {}
        self.settlers: dict[str, asyncio.Task] = {}
        self._patterns: dict[str, tuple[str, list[Node] | None]] = {}

    # -- the server's start and stop ---------------------------------------------------

    def resume(self) -> None:
        """At start: poll again for every running pipe, settle what was settling."""
        self.shipper.start()
        for pipe in list(self.store.pipes.values()):
            if pipe.state == "RUNNING":
                self._run(pipe)
            elif pipe.state in SETTLES or pipe.state in ("STOPPING", "DELETING"):
                self.settle(pipe)

    async def close(self) -> None:
        await cancelled([*self.pollers.values(), *self.settlers.values()])
        self.pollers.clear()
        self.settlers.clear()
        try:
            await self.shipper.close()
        except Exception:  # noqa: BLE001 - stopping goes on without the last logs
            log.exception("pipes: the last execution logs were not written")

    # -- state changes -------------------------------------------------------------------

    def change(self, pipe: Pipe, state: str) -> None:
        """Put ``pipe`` in the transitional ``state``; it settles after CHANGE_SECONDS."""
        pipe.state = state
        pipe.reason = None
        pipe.settle_at = clock.time() + CHANGE_SECONDS
        self.store.save(pipe)
        self.settle(pipe)

    def settle(self, pipe: Pipe) -> None:
        old = self.settlers.pop(pipe.arn, None)
        if old is not None:
            old.cancel()
        self.settlers[pipe.arn] = asyncio.get_running_loop().create_task(
            self._settle(pipe.arn), name=f"pipes-settle-{pipe.name}"
        )

    async def _settle(self, arn: str) -> None:
        pipe = self.store.get(arn)
        if pipe is None:
            return
        await asyncio.sleep(max(0.0, pipe.settle_at - clock.time()))
        self.settlers.pop(arn, None)
        pipe = self.store.get(arn)
        if pipe is None:
            return
        if pipe.state == "DELETING":
            self.store.drop(pipe)
            self._patterns.pop(arn, None)
            return
        if pipe.state == "STOPPING":
            pipe.state = "STOPPED"
        elif pipe.state in SETTLES:
            reason = None
            if pipe.state == "CREATING" or pipe.desired == "RUNNING":
                reason = await self._source_missing(pipe)
            if reason:
                pipe.state, pipe.reason = SETTLES[pipe.state], reason
            else:
                pipe.state, pipe.reason = pipe.desired, None
        self.store.save(pipe)
        if pipe.state == "RUNNING":
            self._run(pipe)

    async def _source_missing(self, pipe: Pipe) -> str | None:
        """Why the pipe's source cannot be read (it does not exist), or None."""
        account, region = where(pipe.source)
        kind = pipe.kind
        if kind == "sqs":
            service, op, params = "sqs", "GetQueueAttributes", {"QueueUrl": queue_url(pipe.source)}
        elif kind == "kinesis":
            service, op, params = "kinesis", "DescribeStreamSummary", {"StreamARN": pipe.source}
        else:
            service, op, params = "dynamodbstreams", "DescribeStream", {"StreamArn": pipe.source}
        try:
            await self.env.call(service, op, params, account=account, region=region)
        except (ServiceError, NotImplementedOperation):
            what = "Queue" if kind == "sqs" else "Stream"
            return f"{what} not found. To resume processing please delete the pipe and create a new one."
        return None

    # -- pollers ---------------------------------------------------------------------

    def _run(self, pipe: Pipe) -> None:
        if pipe.arn in self.pollers:
            return
        self.pollers[pipe.arn] = asyncio.get_running_loop().create_task(
            self._guarded(pipe.arn), name=f"pipes-poll-{pipe.name}"
        )

    async def halt(self, arn: str) -> None:
        """Stop the pipe's poller now (a stopped pipe reads nothing)."""
        task = self.pollers.pop(arn, None)
        if task is not None:
            await cancelled([task])

    async def _guarded(self, arn: str) -> None:
        while (pipe := self.store.get(arn)) is not None and pipe.state == "RUNNING":
            try:
                if pipe.kind == "sqs":
                    await read_queue(self, arn)
                else:
                    await StreamReader(self, pipe).run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a poller must outlive a bad batch
                log.exception("pipe %s failed; polling on", pipe.name)
                await asyncio.sleep(RETRY_SECONDS)

    def patterns(self, pipe: Pipe) -> list[Node] | None:
        """The pipe's compiled filters, compiled again only when they change."""
        criteria = pipe.source_parameters.get("FilterCriteria")
        key = json.dumps(criteria, sort_keys=True)
        cached = self._patterns.get(pipe.arn)
        if cached is None or cached[0] != key:
            cached = (key, compile_filters(criteria))
            self._patterns[pipe.arn] = cached
        return cached[1]

    # -- one batch through the pipe -----------------------------------------------------

    async def process(self, pipe: Pipe, records: list[Any]) -> set[int]:
        """Send ``records`` through the enrichment to the target: the indexes of the
        records that failed (all of them when a failure cannot be told apart). The
        execution's log records are shipped once it is over (``execlog.py``)."""
        run = Execution(pipe.arn, pipe.log_configuration)
        try:
            return await self._execute(pipe, records, run)
        finally:
            if run.records:
                self.shipper.ship(pipe.name, pipe.region, pipe.log_configuration, run.records)

    async def _execute(self, pipe: Pipe, records: list[Any], run: Execution) -> set[int]:
        everything = set(range(len(records)))
        run.step("ExecutionStarted", payload=records)
        run.step("PollingStageSucceeded")
        if not pipe.enrichment:
            failed, error = await self._target(pipe, records, run)
            _ended(run, failed, len(records), error)
            return failed
        events, error = await self._enrich(pipe, records, run)
        if events is None:
            run.step("ExecutionFailed", error=error)
            return everything
        if not events:
            run.step("TargetStageSkipped")
            run.step("ExecutionSucceeded")
            return set()
        limit = BATCH_LIMITS.get(target_kind(pipe.target) or "")
        if limit is not None and len(events) > limit:
            log.info(
                "pipe %s: enrichment answered %d events, over the target's %d",
                pipe.name,
                len(events),
                limit,
            )
            message = f"The enrichment answered {len(events)} events; the target takes {limit}"
            run.step("ExecutionFailed", error=failure("pipes", message))
            return everything
        failed, error = await self._target(pipe, events, run)
        _ended(run, failed, len(events), error)
        return everything if failed else set()

    async def _enrich(
        self, pipe: Pipe, records: list[Any], run: Execution
    ) -> tuple[list[Any] | None, Doc | None]:
        run.step("EnrichmentStageEntered")
        if (pipe.enrichment_parameters or {}).get("InputTemplate"):
            run.step("EnrichmentTransformationStarted")
            run.step("EnrichmentTransformationSucceeded")
        run.step("EnrichmentInvocationStarted")
        calls: list[Call] = []
        token = CALLS.set(calls)
        try:
            events = await self.deliverer.enrich(pipe, records)
        finally:
            CALLS.reset(token)
        data = exchange(calls)
        if events is None:
            error = call_error(calls, "lambda", "Enrichment invocation failed")
            run.step("EnrichmentInvocationFailed", error=error, **data)
            run.step("EnrichmentStageFailed", error=error)
            return None, error
        run.step("EnrichmentInvocationSucceeded", **data)
        run.step("EnrichmentStageSucceeded", payload=events)
        return events, None

    async def _target(
        self, pipe: Pipe, events: list[Any], run: Execution
    ) -> tuple[set[int], Doc | None]:
        run.step("TargetStageEntered")
        if (pipe.target_parameters or {}).get("InputTemplate"):
            run.step("TargetTransformationStarted")
            texts = rendered(pipe, events) if run.enabled and run.data else None
            run.step("TargetTransformationSucceeded", payload=texts)
        run.step("TargetInvocationStarted")
        calls: list[Call] = []
        token = CALLS.set(calls)
        try:
            failed = await self.deliverer.deliver(pipe, events)
        finally:
            CALLS.reset(token)
        data = exchange(calls)
        if not failed:
            run.step("TargetInvocationSucceeded", **data)
            run.step("TargetStageSucceeded")
            return failed, None
        service = (pipe.target.split(":") + ["", "", ""])[2]
        if len(failed) < len(events):
            error = call_error(calls, service, f"{len(failed)} of {len(events)} events failed")
            run.step("TargetInvocationPartiallyFailed", error=error, **data)
            run.step("TargetStagePartiallyFailed", error=error)
        else:
            error = call_error(calls, service, "Target invocation failed")
            run.step("TargetInvocationFailed", error=error, **data)
            run.step("TargetStageFailed", error=error)
        return failed, error


def _ended(run: Execution, failed: set[int], count: int, error: Doc | None) -> None:
    if not failed:
        run.step("ExecutionSucceeded")
    elif len(failed) < count:
        run.step("ExecutionPartiallyFailed", error=error)
    else:
        run.step("ExecutionFailed", error=error)
