"""Lambda SnapStart: the ``SnapStart`` setting, a snapshot per published version, states.

A function with ``SnapStart.ApplyOn = PublishedVersions`` (Python 3.12 and later here:
AWS also takes Java and .NET, which cloudlet does not run) gets a snapshot of every
version it publishes. The version is ``Pending`` (``Creating``) while its template
(``snapshots.Template``) runs Init and the before-snapshot hooks, then ``Active`` with
``OptimizationStatus: On``, or ``Failed`` (``FunctionError``) when Init fails; its
Init's output and ``INIT_REPORT`` go to the function's log group. Each new execution
environment of the version is forked from the template (``snapshots.RestoredWorker``):
its first REPORT has ``Restore Duration`` and ``Billed Restore Duration`` instead of
``Init Duration``. ``$LATEST`` is never snapshotted (``OptimizationStatus: Off``).

A snapshot is a process, not a file: it is killed with its version or function and at
stop, and made again at start (the version's Init runs again; the version stays
``Active`` meanwhile and its first invocations wait for it). One that dies is made
again by the next environment that needs it; an Init that fails then leaves the
version ``Failed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.snapshots import RestoredWorker, Template
from cloudlet.services.awslambda.workers import Spec, Worker

log = logging.getLogger(__name__)
Doc = dict[str, Any]
Key = tuple[str, str, str, str]
"""(account, Region, function, version)"""

RUNTIMES = frozenset({"python3.12", "python3.13", "python3.14"})
"""The runtimes cloudlet snapshots (AWS: Python 3.12+, Java 11+, .NET 8+)."""
INIT_TIMEOUT = 130.0
"""A snapshot's Init may run 130 s, or the function's timeout if that is longer."""
_CREATING = "The function is being created."
_INIT_FAILED = "An error occurred during function initialization."
_STATE_KEYS = (
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
)


def snap_started(config: Doc) -> bool:
    """Whether ``config`` (a published version's) is restored from a snapshot."""
    return (config.get("SnapStart") or {}).get("OptimizationStatus") == "On"


class SnapStartMixin:
    """SnapStart's part of ``LambdaService``."""

    store: Any
    logs: Any
    snapshots: dict[Key, asyncio.Task[Template]]
    _spec: Callable[..., Spec]
    _worker_env: Callable[..., Awaitable[dict[str, str]]]
    _await_endpoint: Callable[[], Awaitable[None]]
    """Provided by ``InvokeMixin`` and ``AsyncInvokeMixin``."""

    # -- the setting ------------------------------------------------------------

    def _snap_start_setting(self, params: Doc, current: Doc | None = None) -> Doc:
        """``$LATEST``'s ``SnapStart`` after a create or update with ``params``, checked
        against the runtime and ephemeral storage it will have."""
        current = current or {}
        if "SnapStart" in params:
            wanted = params.get("SnapStart") or {}
        else:
            wanted = current.get("SnapStart") or {}
        apply_on = wanted.get("ApplyOn") or "None"
        if apply_on not in ("PublishedVersions", "None"):
            raise errors.validation(
                f"1 validation error detected: Value '{apply_on}' at 'snapStart.applyOn' failed to "
                "satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]"
            )
        if apply_on == "PublishedVersions":
            runtime = params.get("Runtime") or current.get("Runtime")
            if runtime not in RUNTIMES:
                raise errors.invalid(f"{runtime} is not supported for SnapStart enabled functions.")
            storage = params.get("EphemeralStorage") or current.get("EphemeralStorage") or {}
            if storage.get("Size", 512) > 512:
                raise errors.invalid(
                    "SnapStart is not supported for functions with ephemeral storage greater "
                    "than 512 MB."
                )
        return {"ApplyOn": apply_on, "OptimizationStatus": "Off"}

    def _refuse_provisioned_snap_start(self, config: Doc) -> None:
        if snap_started(config):
            raise errors.invalid(
                "Provisioned Concurrency is not supported for SnapStart enabled functions."
            )

    # -- publishing -------------------------------------------------------------

    def _snap_publish(self, doc: Doc, config: Doc) -> None:
        """A version just published (``config``): with SnapStart, it is Pending until its
        snapshot is made."""
        if (doc["latest"].get("SnapStart") or {}).get("ApplyOn") != "PublishedVersions":
            return
        config["SnapStart"] = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
        config.update(
            State="Pending",
            StateReason=_CREATING,
            StateReasonCode="Creating",
            LastUpdateStatus="InProgress",
            LastUpdateStatusReason=_CREATING,
            LastUpdateStatusReasonCode="Creating",
        )
        self._begin_snapshot(doc, config["Version"])

    def _begin_snapshot(self, doc: Doc, version: str) -> asyncio.Task[Template]:
        key = (doc["account"], doc["region"], doc["name"], version)
        task = asyncio.get_running_loop().create_task(self._make_snapshot(doc, version))
        self.snapshots[key] = task
        return task

    async def _make_snapshot(self, doc: Doc, version: str) -> Template:
        """Start the version's template and wait for its Init; the version's state follows."""
        await self._await_endpoint()  # the function may call back to the server in Init
        entry = doc["versions"][version]
        config = entry["config"]
        spec = self._spec(doc, config, entry["code"], version)
        template = Template(spec, Path())
        template.dir = self.store.worker_dir(template.id)
        template.log_path = template.dir / "output.log"
        try:
            env = await self._worker_env(spec, config["Role"], snap_start=True)
            await template.start(env)
            limit = max(INIT_TIMEOUT, float(spec.timeout))
            try:
                await asyncio.wait_for(asyncio.shield(template.ready), limit)
            except TimeoutError:
                message = f"Init did not complete within {limit:.0f} seconds"
                doc = f'{{"errorMessage":"{message}","errorType":"Runtime.InitTimeout"}}'
                template.init_error(doc.encode(), "Runtime.InitTimeout")
        except BaseException:
            await template.kill()
            raise
        self._snapshot_made(doc, version, template)
        if template.init_error_type is not None:
            await template.kill()
        return template

    def _snapshot_made(self, doc: Doc, version: str, template: Template) -> None:
        """Log the snapshot's Init and settle the version's state."""
        spec = template.spec
        text = template.read_log()
        if text and not text.endswith("\n"):
            text += "\n"
        error = template.init_error_type
        if error is None:
            text += f"INIT_REPORT Init Duration: {template.init_ms or 0:.2f} ms\n"
        else:
            text += (
                f"INIT_REPORT Init Duration: {template.init_ms or 0:.2f} ms\tPhase: init\t"
                f"Status: error\tError Type: {error}\n"
            )
        self.logs.add(spec.account, spec.region, spec.log_group, template.stream, text)
        current = self.store.functions.get((doc["account"], doc["region"], doc["name"]))
        entry = current["versions"].get(version) if current is doc else None
        if entry is None:
            return  # deleted meanwhile
        config = entry["config"]
        if error is None:
            if config.get("State") != "Active":
                config.update(State="Active", LastUpdateStatus="Successful")
                for key in _STATE_KEYS:
                    config.pop(key, None)
                self.store.save_function(doc)
            return
        log.warning("the snapshot of %s failed: %s", spec.key, error)
        config.update(
            State="Failed",
            StateReason=_INIT_FAILED,
            StateReasonCode="FunctionError",
            LastUpdateStatus="Failed",
            LastUpdateStatusReason=_INIT_FAILED,
            LastUpdateStatusReasonCode="FunctionError",
        )
        self.store.save_function(doc)

    # -- restoring --------------------------------------------------------------

    async def _snapshot_for(self, spec: Spec) -> Template:
        """The live template of ``spec``'s version (``WorkerPool``'s restorer): made again if
        it died; ``Failed`` versions are refused."""
        key = (spec.account, spec.region, spec.name, spec.version)
        arn = f"arn:aws:lambda:{spec.region}:{spec.account}:function:{spec.name}:{spec.version}"
        task = self.snapshots.get(key)
        if task is not None and task.done():
            if task.cancelled() or task.exception() is not None or task.result().dead:
                task = None
        if task is None:
            doc = self.store.functions.get(key[:3])
            if doc is None or spec.version not in doc["versions"]:
                raise errors.function_not_found(arn)
            task = self._begin_snapshot(doc, spec.version)
        await asyncio.wait({task})
        if task.cancelled():  # its version or function was deleted meanwhile
            raise errors.function_not_found(arn)
        template = task.result()
        if template.init_error_type is not None:
            raise errors.not_active("Failed")
        return template

    async def _snap_ready(self, doc: Doc, version: str, config: Doc, wait: bool) -> None:
        """Refuse to invoke a SnapStart version (``config``) whose snapshot is not made, or
        failed; an invocation that may wait (an asynchronous one) waits for it instead."""
        key = (doc["account"], doc["region"], doc["name"], version)
        task = self.snapshots.get(key)
        if wait and config.get("State") == "Pending" and task is not None:
            await asyncio.wait({task})
        state = config.get("State")
        if state == "Pending":
            raise errors.snap_start_not_ready()
        if state == "Failed":
            raise errors.not_active("Failed")

    def _restore_failed(self, worker: Worker) -> None:
        """A restored environment whose restore failed: its log, then SnapStart's error
        (an after-restore hook that raised, or a restore past its time)."""
        if not isinstance(worker, RestoredWorker):
            return
        spec = worker.spec
        text = worker.read_log()
        if text and not text.endswith("\n"):
            text += "\n"
        text += (
            f"RESTORE_REPORT Restore Duration: {worker.restore_ms or 0:.2f} ms\tStatus: error\t"
            f"Error Type: {worker.init_error_type}\n"
        )
        self.logs.add(spec.account, spec.region, spec.log_group, worker.stream, text)
        if worker.init_error_type == "Runtime.InitTimeout":
            raise errors.snap_start_timeout()
        raise errors.snap_start_failed()

    # -- lifecycle --------------------------------------------------------------

    def _resume_snapshots(self) -> None:
        """At start: make again the snapshot of every SnapStart version that had one (or
        was making one when the server stopped)."""
        for doc in list(self.store.functions.values()):
            for number, entry in doc["versions"].items():
                config = entry["config"]
                if snap_started(config) and config.get("State") in ("Active", "Pending"):
                    self._begin_snapshot(doc, number)

    async def _drop_snapshots(self, doc: Doc | None = None, version: str | None = None) -> None:
        """Kill the templates of a function's version, of all its versions, or (no
        ``doc``) every one; their environments are the worker pool's to retire."""
        victims = [
            key
            for key in self.snapshots
            if doc is None
            or (
                key[:3] == (doc["account"], doc["region"], doc["name"])
                and version in (None, key[3])
            )
        ]
        tasks = [self.snapshots.pop(key) for key in victims]
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        templates = [t for t in results if isinstance(t, Template)]
        await asyncio.gather(*(t.kill() for t in templates), return_exceptions=True)
