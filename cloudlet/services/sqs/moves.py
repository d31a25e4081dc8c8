"""Message move tasks: redrive a dead-letter queue back to its sources.

StartMessageMoveTask starts an asyncio task that moves visible messages out of
the dead-letter queue in small transactions (each back to the queue it was
dead-lettered from, or to one destination), at ``MaxNumberOfMessagesPerSecond``
when given, until none is left or the task is cancelled. Tasks and their
progress are rows in ``move_tasks``, so ListMessageMoveTasks survives a
restart and a task that was running resumes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import sqlite3
from dataclasses import dataclass, field

from cloudlet.core import clock as _clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import new_uuid
from cloudlet.services.sqs import errors
from cloudlet.services.sqs.messages import MessageStore
from cloudlet.services.sqs.queues import QueueRegistry

log = logging.getLogger(__name__)

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = (
    "RUNNING",
    "COMPLETED",
    "CANCELLING",
    "CANCELLED",
    "FAILED",
)
UNLIMITED_BATCH = 100


@dataclass
class MoveTask:
    task_id: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    status: str
    moved: int = 0
    to_move: int | None = None
    started_ms: int = 0
    failure: str | None = None
    runner: asyncio.Task | None = field(default=None, repr=False)
    wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def handle(self) -> str:
        doc = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn})
        return base64.b64encode(doc.encode()).decode()

    def to_entry(self) -> dict:
        """The ``ListMessageMoveTasksResultEntry`` structure."""
        entry: dict = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == RUNNING:
            entry["TaskHandle"] = self.handle
        if self.destination_arn:
            entry["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.to_move is not None:
            entry["ApproximateNumberOfMessagesToMove"] = self.to_move
        if self.failure:
            entry["FailureReason"] = self.failure
        return entry


class MoveTasks:
    def __init__(self, conn: sqlite3.Connection, registry: QueueRegistry, ms: MessageStore):
        self.conn = conn
        self.registry = registry
        self.ms = ms
        self.tasks: dict[str, MoveTask] = {}
        for row in conn.execute(
            "SELECT task_id, source_arn, destination_arn, rate, status, moved, to_move, "
            "started_ms, failure FROM move_tasks"
        ):
            task = MoveTask(*row)
            if task.status == CANCELLING:
                task.status = CANCELLED
            self.tasks[task.task_id] = task

    def resume(self) -> None:
        """Restart the runners of tasks that were running when the server stopped."""
        for task in self.tasks.values():
            if task.status == RUNNING and task.runner is None:
                self._launch(task)

    async def stop(self) -> None:
        runners = [t.runner for t in self.tasks.values() if t.runner is not None]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    # --- operations ---------------------------------------------------------------------

    def start(self, source_arn: str, destination_arn: str | None, rate: int | None) -> MoveTask:
        source = self.registry.by_arn(source_arn)
        if source is None:
            raise errors.resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        if not self.registry.dead_letter_sources(source):
            raise errors.invalid_parameter(
                "Source queue must be configured as a Dead Letter Queue."
            )
        if destination_arn and self.registry.by_arn(destination_arn) is None:
            raise errors.resource_not_found(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
            )
        if rate is not None and not 1 <= rate <= 500:
            raise errors.invalid_value(
                rate, "MaxNumberOfMessagesPerSecond", "Must be between 1 and 500."
            )
        if any(
            t.source_arn == source_arn and t.status in (RUNNING, CANCELLING)
            for t in self.tasks.values()
        ):
            raise errors.invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        task = MoveTask(
            task_id=new_uuid(),
            source_arn=source_arn,
            destination_arn=destination_arn or None,
            rate=rate,
            status=RUNNING,
            to_move=self.ms.visible_count(source),
            started_ms=int(_clock.clock.time() * 1000),
        )
        self.tasks[task.task_id] = task
        self.conn.execute(
            "INSERT INTO move_tasks (task_id, source_arn, destination_arn, rate, status, moved, "
            "to_move, started_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (
                task.task_id,
                source_arn,
                task.destination_arn,
                rate,
                RUNNING,
                task.to_move,
                task.started_ms,
            ),
        )
        self._launch(task)
        return task

    def cancel(self, handle: str) -> MoveTask:
        task = self.tasks.get(_task_id(handle) or "")
        if task is None:
            raise errors.resource_not_found("Task does not exist.")
        if task.status != RUNNING:
            raise errors.invalid_parameter("Only active tasks can be cancelled.")
        task.status = CANCELLING
        self._save(task)
        task.wake.set()
        return task

    def list(self, source_arn: str, max_results: int | None) -> list[MoveTask]:
        if self.registry.by_arn(source_arn) is None:
            raise errors.resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        if max_results is not None and not 1 <= max_results <= 10:
            raise errors.invalid_value(max_results, "MaxResults", "Must be between 1 and 10.")
        found = [t for t in self.tasks.values() if t.source_arn == source_arn]
        found.sort(key=lambda t: t.started_ms, reverse=True)
        return found[: max_results or 1]

    # --- the runner ---------------------------------------------------------------------

    def _launch(self, task: MoveTask) -> None:
        loop = asyncio.get_running_loop()
        task.runner = loop.create_task(self._run(task), name=f"sqs-move-{task.task_id}")

    async def _run(self, task: MoveTask) -> None:
        batch = min(task.rate, 10) if task.rate else UNLIMITED_BATCH
        try:
            while task.status == RUNNING:
                source = self.registry.by_arn(task.source_arn)
                if source is None:
                    raise errors.queue_does_not_exist()
                moved, examined = self.ms.move_batch(source, batch, task.destination_arn)
                if examined == 0:
                    task.status = COMPLETED
                    break
                task.moved += moved
                self._save(task)
                delay = moved / task.rate if task.rate else 0.0
                try:
                    await asyncio.wait_for(task.wake.wait(), delay or 0.001)
                except TimeoutError:
                    pass
            if task.status == CANCELLING:
                task.status = CANCELLED
        except ServiceError as exc:
            task.status = FAILED
            task.failure = exc.message if exc.code == "ResourceNotFoundException" else exc.code
        except asyncio.CancelledError:
            self._save(task)
            raise
        except Exception as exc:  # noqa: BLE001 - a failed task reports, never crashes the loop
            log.exception("move task %s failed", task.task_id)
            task.status = FAILED
            task.failure = type(exc).__name__
        task.runner = None
        self._save(task)

    def _save(self, task: MoveTask) -> None:
        self.conn.execute(
            "UPDATE move_tasks SET status = ?, moved = ?, failure = ? WHERE task_id = ?",
            (task.status, task.moved, task.failure, task.task_id),
        )


def _task_id(handle: str) -> str | None:
    try:
        doc = json.loads(base64.b64decode(handle, validate=True))
    except (binascii.Error, ValueError):
        return None
    return doc.get("taskId") if isinstance(doc, dict) else None
