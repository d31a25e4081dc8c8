"""The Lambda service: one class composed of one mixin per operation group.

Functions and code (``functions.py``), versions and aliases (``versions.py``),
layers, invoke (``invoke.py``) with its async queue and destinations
(``asynchronous.py``), response streaming (``streaming.py``), event source
mappings (``mappings.py``), concurrency, permissions and function URLs each live
in their own module; the worker pool (``pool.py``, ``workers.py``) and the
Runtime API (``runtime_api.py``) are the engine underneath, plain asyncio with no
gateway imports. Layer permissions (``layer_policy.py``), recursive loop detection
(``recursion.py``) and runtime versions (``runtime_versions.py``) have theirs too.
SnapStart (``snapstart.py``) keeps a snapshot of each SnapStart version, a forked
template process (``snapshots.py``), from which the pool restores that version's
workers; the server is made a child subreaper so that it reaps them.
Operations not built (code signing, durable executions, capacity providers and the
scaling configs of their functions) have no method and answer 501.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

from cloudlet.runtime.processes import become_subreaper
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.asynchronous import AsyncInvokeMixin
from cloudlet.services.awslambda.concurrency import ConcurrencyMixin
from cloudlet.services.awslambda.functions import FunctionsMixin, parse_name
from cloudlet.services.awslambda.invoke import InvokeMixin
from cloudlet.services.awslambda.layer_policy import LayerPermissionsMixin
from cloudlet.services.awslambda.layers import LayersMixin
from cloudlet.services.awslambda.logs import LogWriter
from cloudlet.services.awslambda.mappings import EventSourceMappingOps
from cloudlet.services.awslambda.permissions import PermissionsMixin
from cloudlet.services.awslambda.pool import WorkerPool
from cloudlet.services.awslambda.recursion import RecursionMixin
from cloudlet.services.awslambda.runtime_versions import RuntimeManagementMixin
from cloudlet.services.awslambda.snapstart import SnapStartMixin
from cloudlet.services.awslambda.store import LambdaStore
from cloudlet.services.awslambda.streaming import StreamingMixin
from cloudlet.services.awslambda.urls import UrlsMixin
from cloudlet.services.awslambda.versions import VersionsMixin
from cloudlet.services.base import Service, ServiceEnv

Result = dict[str, Any]
DEFAULT_IDLE_SECONDS = 300.0


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class LambdaService(
    FunctionsMixin,
    VersionsMixin,
    LayersMixin,
    LayerPermissionsMixin,
    InvokeMixin,
    AsyncInvokeMixin,
    StreamingMixin,
    ConcurrencyMixin,
    PermissionsMixin,
    UrlsMixin,
    RecursionMixin,
    RuntimeManagementMixin,
    SnapStartMixin,
    EventSourceMappingOps,
    Service,
):
    name = "lambda"
    internal_error = ("ServiceException", "The Lambda service encountered an internal error.")

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = LambdaStore(env)
        self.idle_seconds = _env_float("CLOUDLET_LAMBDA_IDLE_SECONDS", DEFAULT_IDLE_SECONDS)
        self.retry_seconds = _env_float("CLOUDLET_LAMBDA_RETRY_SECONDS", 60.0)
        self.snapshots = {}
        """SnapStart templates by (account, Region, function, version): their making."""
        self.pool = WorkerPool(self.store.worker_dir, self.idle_seconds, self._snapshot_for)
        self.logs = LogWriter(env)
        self.inflight: dict[tuple[str, ...], int] = {}
        """Invocations running, by concurrency pool (``InvokeMixin._pool``)."""
        self.specs: dict[str, Any] = {}
        """Worker specs by key (function, version, revision): built once, not per invoke."""
        self.event_tasks: set[asyncio.Task[Any]] = set()
        self.slots: asyncio.Condition | None = None
        self.slot_waiters = 0
        self._url_secret = secrets.token_bytes(32)
        self._index_urls()
        self._init_mappings()

    async def start(self) -> None:
        # SnapStart environments are forked from a template, then orphaned: they re-parent
        # to the server, which watches and reaps them as it does the workers it spawns.
        become_subreaper()
        self.slots = asyncio.Condition()
        self.env.every(
            min(5.0, max(0.2, self.idle_seconds / 4)), self.pool.reclaim_idle, "lambda-idle-workers"
        )
        self.env.every(0.5, self.logs.flush, "lambda-logs")
        for doc in list(self.store.functions.values()):
            self._stamp_runtime(doc)  # the host's runtime versions may have changed
            for qualifier, cfg in doc["provisioned"].items():
                cfg["Status"] = "IN_PROGRESS"
                self._start_provisioning_internal(doc, qualifier)
        self._resume_events()
        self._resume_snapshots()
        await self._start_mappings()

    def _start_provisioning_internal(self, doc: dict[str, Any], qualifier: str) -> None:
        from cloudlet.services.base import InternalContext

        ctx = InternalContext(
            account_id=doc["account"], region=doc["region"], service_name="lambda"
        )
        self._start_provisioning(ctx, doc, qualifier)

    async def stop(self) -> None:
        await self._stop_mappings()
        for task in list(self.event_tasks):
            task.cancel()
        await asyncio.gather(*self.event_tasks, return_exceptions=True)
        await self._drop_snapshots()
        await self.pool.stop()
        try:
            await self.logs.flush()
        except Exception:  # noqa: BLE001 - the Logs service may be stopped already
            pass
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {"state": "running", "snapshots": len(self.snapshots), **self.pool.stats()}

    async def _retire(self, doc: dict[str, Any], version: str | None) -> None:
        account, region, name = doc["account"], doc["region"], doc["name"]
        await self.pool.retire(
            lambda s: (
                s.account == account
                and s.region == region
                and s.name == name
                and (version is None or s.version == version)
            )
        )

    # -- tags -------------------------------------------------------------------

    def _tagged(self, ctx: Any, arn: str) -> dict[str, Any]:
        name, qualifier = parse_name(arn)
        if qualifier:
            raise errors.invalid(
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            )
        return self._function(ctx, name)

    def tag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged(ctx, params["Resource"])
        doc["tags"].update(params.get("Tags") or {})
        self.store.save_function(doc)
        return {}

    def untag_resource(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged(ctx, params["Resource"])
        for key in params.get("TagKeys") or []:
            doc["tags"].pop(key, None)
        self.store.save_function(doc)
        return {}

    def list_tags(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._tagged(ctx, params["Resource"])
        return {"Tags": dict(doc["tags"])}
