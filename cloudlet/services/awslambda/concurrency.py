"""Reserved and provisioned concurrency, and the account's limits.

Reserved concurrency caps a function's in-flight invocations (``invoke.py``
counts them): a synchronous invoke past it is throttled (429), an
asynchronous one waits its turn. Provisioned concurrency starts that many
workers of a version (or of an alias's version) ahead of time; they are never
reclaimed as idle, and the config is ``IN_PROGRESS`` until all of them have
initialised, then ``READY``; SnapStart versions cannot have it, as on AWS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, page
from cloudlet.services.awslambda.invoke import ACCOUNT_CONCURRENCY

log = logging.getLogger(__name__)
Result = dict[str, Any]
UNRESERVED_MINIMUM = 100


def _lm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class ConcurrencyMixin:
    def put_function_concurrency(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        value = params["ReservedConcurrentExecutions"]
        others = self.store.reserved_total(doc["account"], doc["region"]) - (doc["reserved"] or 0)
        if ACCOUNT_CONCURRENCY - others - value < UNRESERVED_MINIMUM:
            raise errors.invalid(
                f"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        doc["reserved"] = value
        self.store.save_function(doc)
        return {"ReservedConcurrentExecutions": value}

    def get_function_concurrency(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        if doc["reserved"] is None:
            return {}
        return {"ReservedConcurrentExecutions": doc["reserved"]}

    def delete_function_concurrency(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        doc["reserved"] = None
        self.store.save_function(doc)
        return {}

    def get_account_settings(self, ctx: Any, params: dict[str, Any]) -> Result:
        mine = [
            d
            for d in self.store.functions.values()
            if d["account"] == ctx.account_id and d["region"] == ctx.region
        ]
        reserved = self.store.reserved_total(ctx.account_id, ctx.region)
        code = sum(d["latest"]["CodeSize"] for d in mine)
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved,
            },
            "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(mine)},
        }

    # -- provisioned concurrency --------------------------------------------------

    def _provisioned_target(self, ctx: Any, doc: dict[str, Any], qualifier: str | None) -> str:
        if not qualifier or qualifier == "$LATEST":
            raise errors.invalid(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        if qualifier in doc["versions"]:
            return qualifier
        alias = doc["aliases"].get(qualifier)
        if alias is None:
            raise errors.function_not_found(function_arn(ctx, doc["name"], qualifier))
        if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            raise errors.invalid("Alias with weights can not be used with Provisioned Concurrency")
        if alias["FunctionVersion"] == "$LATEST":
            raise errors.invalid(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        return alias["FunctionVersion"]

    async def put_provisioned_concurrency_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = params["Qualifier"]
        version = self._provisioned_target(ctx, doc, qualifier)
        self._refuse_provisioned_snap_start(doc["versions"][version]["config"])
        wanted = params["ProvisionedConcurrentExecutions"]
        if doc["reserved"] is not None and wanted > doc["reserved"]:
            raise errors.invalid(
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
            )
        cfg = {
            "RequestedProvisionedConcurrentExecutions": wanted,
            "AvailableProvisionedConcurrentExecutions": 0,
            "AllocatedProvisionedConcurrentExecutions": 0,
            "Status": "IN_PROGRESS",
            "LastModified": _lm(time.time()),
            "version": version,
        }
        doc["provisioned"][qualifier] = cfg
        self.store.save_function(doc)
        self._start_provisioning(ctx, doc, qualifier)
        return _public(cfg)

    def _start_provisioning(self, ctx: Any, doc: dict[str, Any], qualifier: str) -> None:
        task = asyncio.get_running_loop().create_task(self._provision(ctx, doc, qualifier))
        self.event_tasks.add(task)
        task.add_done_callback(self.event_tasks.discard)

    async def _provision(self, ctx: Any, doc: dict[str, Any], qualifier: str) -> None:
        await self._await_endpoint()
        cfg = doc["provisioned"].get(qualifier)
        if cfg is None:
            return
        config, code, version = self._config(ctx, doc, cfg["version"])
        spec = self._spec(doc, config, code, version)
        existing = [w for w in self.pool.workers.get(spec.key, []) if w.provisioned and not w.dead]
        for extra in existing[cfg["RequestedProvisionedConcurrentExecutions"] :]:
            extra.provisioned = False
        missing = cfg["RequestedProvisionedConcurrentExecutions"] - len(existing)

        async def make_env(s: Any) -> dict[str, str]:
            return await self._worker_env(s, config["Role"], provisioned=True)

        results = await asyncio.gather(
            *(self.pool.spawn(spec, make_env, provisioned=True) for _ in range(max(0, missing))),
            return_exceptions=True,
        )
        failed = [
            r for r in results if isinstance(r, BaseException) or r.init_error_type is not None
        ]
        if doc["provisioned"].get(qualifier) is not cfg:
            return
        ready = cfg["RequestedProvisionedConcurrentExecutions"] - len(failed)
        cfg["AvailableProvisionedConcurrentExecutions"] = ready
        cfg["AllocatedProvisionedConcurrentExecutions"] = ready
        if failed:
            cfg["Status"] = "FAILED"
            cfg["StatusReason"] = "FUNCTION_ERROR_INIT_FAILURE"
        else:
            cfg["Status"] = "READY"
        cfg["LastModified"] = _lm(time.time())
        self.store.save_function(doc)

    def get_provisioned_concurrency_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        cfg = doc["provisioned"].get(params["Qualifier"])
        if cfg is None:
            raise errors.provisioned_not_found()
        return _public(cfg)

    async def delete_provisioned_concurrency_config(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        cfg = doc["provisioned"].pop(params["Qualifier"], None)
        if cfg is None:
            raise errors.provisioned_not_found()
        self.store.save_function(doc)
        for worker in self.pool.all():
            if worker.spec.name == doc["name"] and worker.spec.version == cfg["version"]:
                worker.provisioned = False
        return {}

    def list_provisioned_concurrency_configs(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        configs = [
            dict(_public(c), FunctionArn=function_arn(ctx, doc["name"], q))
            for q, c in sorted(doc["provisioned"].items())
        ]
        return page(
            configs, "ProvisionedConcurrencyConfigs", params.get("Marker"), params.get("MaxItems")
        )


def _public(cfg: dict[str, Any]) -> Result:
    return {k: v for k, v in cfg.items() if k != "version"}
